//! Integer arithmetic with exact flags (SDM Vol. 1 3.4.3 and the per-instruction pages of
//! Vol. 2). Pure functions of operands, size (in bytes) and incoming flags, returning the
//! result and the new RFLAGS, so they are easy to test and share.

/// RFLAGS bits (SDM Vol. 1 3.4.3).
pub(crate) mod flags {
    pub const CF: u64 = 1 << 0;
    pub const RESERVED1: u64 = 1 << 1;
    pub const PF: u64 = 1 << 2;
    pub const AF: u64 = 1 << 4;
    pub const ZF: u64 = 1 << 6;
    pub const SF: u64 = 1 << 7;
    pub const TF: u64 = 1 << 8;
    pub const IF: u64 = 1 << 9;
    pub const DF: u64 = 1 << 10;
    pub const OF: u64 = 1 << 11;
    pub const IOPL: u64 = 3 << 12;
    pub const NT: u64 = 1 << 14;
    pub const RF: u64 = 1 << 16;
    pub const VM: u64 = 1 << 17;
    pub const AC: u64 = 1 << 18;
    pub const ID: u64 = 1 << 21;
    /// The six status flags.
    pub const ARITH: u64 = CF | PF | AF | ZF | SF | OF;
}

use flags::*;

/// All-ones for an operand of `size` bytes.
#[inline(always)]
pub(crate) fn mask(size: usize) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

/// The sign bit for an operand of `size` bytes.
#[inline(always)]
pub(crate) fn sign(size: usize) -> u64 {
    1u64 << (size.clamp(1, 8) * 8 - 1)
}

/// `v` of `size` bytes sign-extended to 64 bits.
#[inline(always)]
pub(crate) fn sext(v: u64, size: usize) -> u64 {
    let sh = 64 - size.clamp(1, 8) * 8;
    (((v << sh) as i64) >> sh) as u64
}

/// ZF, SF and PF of a result.
#[inline(always)]
pub(crate) fn szp(r: u64, size: usize) -> u64 {
    let r = r & mask(size);
    let mut f = 0;
    if r == 0 {
        f |= ZF;
    }
    if r & sign(size) != 0 {
        f |= SF;
    }
    // Parity of the low byte without a POPCNT instruction (baseline x86-64 lacks it).
    let b = (r ^ (r >> 4)) & 0xf;
    f | (((0x9669u64 >> b) & 1) << 2)
}

/// `a + b + carry`: result and the six status flags.
#[inline(always)]
pub(crate) fn add(a: u64, b: u64, carry: u64, size: usize) -> (u64, u64) {
    let m = mask(size);
    let (a, b) = (a & m, b & m);
    let full = a.wrapping_add(b).wrapping_add(carry);
    let r = full & m;
    let mut f = szp(r, size);
    let cf = if size >= 8 {
        full < a || (carry != 0 && full == a)
    } else {
        full > m
    };
    if cf {
        f |= CF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    if (a ^ r) & (b ^ r) & sign(size) != 0 {
        f |= OF;
    }
    (r, f)
}

/// `a - b - borrow`: result and the six status flags.
#[inline(always)]
pub(crate) fn sub(a: u64, b: u64, borrow: u64, size: usize) -> (u64, u64) {
    let m = mask(size);
    let (a, b) = (a & m, b & m);
    let r = a.wrapping_sub(b).wrapping_sub(borrow) & m;
    let mut f = szp(r, size);
    if a < b || (borrow != 0 && a == b) {
        f |= CF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    if (a ^ b) & (a ^ r) & sign(size) != 0 {
        f |= OF;
    }
    (r, f)
}

/// Flags of AND/OR/XOR/TEST: CF = OF = 0, AF cleared (undefined in the SDM; hardware clears
/// it).
#[inline(always)]
pub(crate) fn logic(r: u64, size: usize) -> u64 {
    szp(r, size)
}

/// The eight classic ALU operations (`op` field of opcodes 00-3F and 80-83).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AluOp {
    Add,
    Or,
    Adc,
    Sbb,
    And,
    Sub,
    Xor,
    Cmp,
}

/// `a op b` with incoming flags `fl`: the result and the new RFLAGS.
#[inline(always)]
pub(crate) fn alu(op: AluOp, a: u64, b: u64, size: usize, fl: u64) -> (u64, u64) {
    let cf = fl & CF;
    let (r, f) = match op {
        AluOp::Add => add(a, b, 0, size),
        AluOp::Adc => add(a, b, cf, size),
        AluOp::Sub | AluOp::Cmp => sub(a, b, 0, size),
        AluOp::Sbb => sub(a, b, cf, size),
        AluOp::And => {
            let r = a & b & mask(size);
            (r, logic(r, size))
        }
        AluOp::Or => {
            let r = (a | b) & mask(size);
            (r, logic(r, size))
        }
        AluOp::Xor => {
            let r = (a ^ b) & mask(size);
            (r, logic(r, size))
        }
    };
    (r, (fl & !ARITH) | f)
}

/// INC/DEC: like ADD/SUB 1 but CF is kept.
#[inline(always)]
pub(crate) fn incdec(a: u64, dec: bool, size: usize, fl: u64) -> (u64, u64) {
    let (r, f) = if dec {
        sub(a, 1, 0, size)
    } else {
        add(a, 1, 0, size)
    };
    (r, (fl & !(ARITH & !CF)) | (f & !CF))
}

/// Tests condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc opcodes) against `fl`.
#[inline(always)]
pub(crate) fn cond(cc: u8, fl: u64) -> bool {
    let c = fl & CF != 0;
    let z = fl & ZF != 0;
    let s = fl & SF != 0;
    let o = fl & OF != 0;
    let p = fl & PF != 0;
    let r = match cc >> 1 {
        0 => o,
        1 => c,
        2 => z,
        3 => c || z,
        4 => s,
        5 => p,
        6 => s != o,
        _ => z || (s != o),
    };
    r != (cc & 1 != 0)
}

/// DAA/DAS/AAA/AAS on AL (and AH): SDM Vol. 2 pseudocode. Returns (AX, flags).
pub(crate) fn bcd(op: u8, ax: u64, fl: u64) -> (u64, u64) {
    let al = ax & 0xff;
    let ah = (ax >> 8) & 0xff;
    let cf = fl & CF != 0;
    let af = fl & AF != 0;
    match op {
        // DAA / DAS
        0 | 1 => {
            let das = op == 1;
            let mut nal = al;
            let mut ncf = false;
            let mut naf = false;
            if (al & 0xf) > 9 || af {
                nal = if das {
                    al.wrapping_sub(6) & 0xff
                } else {
                    (al + 6) & 0xff
                };
                ncf = cf || if das { al < 6 } else { al + 6 > 0xff };
                naf = true;
            }
            if al > 0x99 || cf {
                nal = if das {
                    nal.wrapping_sub(0x60) & 0xff
                } else {
                    (nal + 0x60) & 0xff
                };
                ncf = true;
            }
            let mut f = (fl & !ARITH) | szp(nal, 1);
            if ncf {
                f |= CF;
            }
            if naf {
                f |= AF;
            }
            ((ax & !0xff) | nal, f)
        }
        // AAA / AAS
        _ => {
            let aas = op == 3;
            let (nal, nah, adj) = if (al & 0xf) > 9 || af {
                if aas {
                    let nax = ((ah << 8) | al).wrapping_sub(6);
                    (
                        (nax & 0xff) & 0xf,
                        ((nax >> 8).wrapping_sub(1)) & 0xff,
                        true,
                    )
                } else {
                    let nax = ((ah << 8) | al) + 0x106;
                    ((nax & 0xff) & 0xf, (nax >> 8) & 0xff, true)
                }
            } else {
                (al & 0xf, ah, false)
            };
            let mut f = (fl & !ARITH) | szp(nal, 1);
            if adj {
                f |= CF | AF;
            }
            ((ax & !0xffff) | (nah << 8) | nal, f)
        }
    }
}
