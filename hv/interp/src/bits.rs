//! Shifts, rotates, double shifts, multiplication and division with the flags hardware
//! produces (SDM Vol. 2: SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD, MUL, IMUL, DIV, IDIV).
//! Flags the SDM leaves undefined get the values AMD hardware gives where cheap, otherwise
//! something deterministic; the differential test masks them.

use crate::alu::flags::*;
use crate::alu::{mask, sext, sign, szp};

/// The shift/rotate group (`/r` field of opcodes C0/C1/D0-D3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShiftOp {
    Rol,
    Ror,
    Rcl,
    Rcr,
    Shl,
    Shr,
    Sar,
}

/// `a op count` with incoming flags `fl`; `count` is the raw CL/imm8 value.
pub(crate) fn shift(op: ShiftOp, a: u64, count: u64, size: usize, fl: u64) -> (u64, u64) {
    let bits = (size * 8) as u32;
    let cmask = if size == 8 { 0x3f } else { 0x1f };
    let c = (count & cmask) as u32;
    let m = mask(size);
    let a = a & m;
    if c == 0 {
        return (a, fl);
    }
    let msb = |v: u64| v & sign(size) != 0;
    match op {
        ShiftOp::Shl => {
            let wide = u128::from(a) << c;
            let r = (wide as u64) & m;
            let cf = (wide >> bits) & 1 != 0;
            let mut f = (fl & !ARITH) | szp(r, size);
            if cf {
                f |= CF;
            }
            if msb(r) != cf {
                f |= OF;
            }
            (r, f)
        }
        ShiftOp::Shr => {
            let r = if c >= 64 { 0 } else { a >> c };
            let cf = if c > 64 { 0 } else { (a >> (c - 1)) & 1 };
            let mut f = (fl & !ARITH) | szp(r, size) | cf;
            if c == 1 && msb(a) {
                f |= OF;
            }
            (r, f)
        }
        ShiftOp::Sar => {
            let s = sext(a, size) as i64;
            let r = (s >> c.min(63)) as u64 & m;
            let cf = ((s >> (c - 1).min(63)) & 1) as u64;
            ((r), (fl & !ARITH) | szp(r, size) | cf)
        }
        ShiftOp::Rol | ShiftOp::Ror => {
            let n = c % bits;
            let r = if op == ShiftOp::Rol {
                ((a << n) | (a >> ((bits - n) % bits))) & m
            } else {
                ((a >> n) | (a << ((bits - n) % bits))) & m
            };
            let r = if n == 0 { a } else { r };
            let (cf, of) = if op == ShiftOp::Rol {
                let cf = r & 1 != 0;
                (cf, msb(r) != cf)
            } else {
                (msb(r), msb(r) != (r & (sign(size) >> 1) != 0))
            };
            let mut f = fl & !(CF | OF);
            if cf {
                f |= CF;
            }
            if of {
                f |= OF;
            }
            (r, f)
        }
        ShiftOp::Rcl | ShiftOp::Rcr => {
            let n = c % (bits + 1);
            let cin = fl & CF;
            if n == 0 {
                // The count is a multiple of size+1: nothing moves; OF is still defined for
                // a count of 1 only, which cannot reach here.
                return (a, fl);
            }
            // Rotate the (bits+1)-bit value CF:a.
            let w = bits + 1;
            let v = (u128::from(cin) << bits) | u128::from(a);
            let wm = (1u128 << w) - 1;
            let rv = if op == ShiftOp::Rcl {
                ((v << n) | (v >> (w - n))) & wm
            } else {
                ((v >> n) | (v << (w - n))) & wm
            };
            let r = (rv as u64) & m;
            let cf = (rv >> bits) & 1 != 0;
            let of = if op == ShiftOp::Rcl {
                msb(r) != cf
            } else {
                msb(r) != (r & (sign(size) >> 1) != 0)
            };
            let mut f = fl & !(CF | OF);
            if cf {
                f |= CF;
            }
            if of {
                f |= OF;
            }
            (r, f)
        }
    }
}

/// SHLD (`left`) / SHRD: `dst` shifted with bits coming in from `src`.
pub(crate) fn shiftd(
    left: bool,
    dst: u64,
    src: u64,
    count: u64,
    size: usize,
    fl: u64,
) -> (u64, u64) {
    let bits = (size * 8) as u32;
    let c = (count & if size == 8 { 0x3f } else { 0x1f }) as u32;
    let m = mask(size);
    let (dst, src) = (dst & m, src & m);
    if c == 0 {
        return (dst, fl);
    }
    // Work in 128 bits so counts above the operand width (16-bit forms) stay deterministic.
    let (r, cf) = if left {
        let v = (u128::from(dst) << bits) | u128::from(src);
        let v = if bits < 64 {
            v | (u128::from(dst) << (2 * bits))
        } else {
            v
        };
        let r = ((v << c) >> bits) as u64 & m;
        let cf = ((v << (c - 1)) >> (2 * bits - 1)) & 1 != 0;
        (r, cf)
    } else {
        let v = (u128::from(src) << bits) | u128::from(dst);
        let v = if bits < 64 {
            v | (u128::from(dst) << (2 * bits))
        } else {
            v
        };
        let r = (v >> c) as u64 & m;
        let cf = (v >> (c - 1)) & 1 != 0;
        (r, cf)
    };
    let mut f = (fl & !ARITH) | szp(r, size);
    if cf {
        f |= CF;
    }
    if (r ^ dst) & sign(size) != 0 {
        f |= OF;
    }
    (r, f)
}

/// Unsigned or signed widening multiply of `a` by `b`: (low, high) halves and flags
/// (CF = OF = the high half is significant; SF/ZF/PF from the low half).
pub(crate) fn mul(signed: bool, a: u64, b: u64, size: usize, fl: u64) -> (u64, u64, u64) {
    let m = mask(size);
    let bits = size * 8;
    let (lo, hi, big) = if signed {
        let p = i128::from(sext(a, size) as i64) * i128::from(sext(b, size) as i64);
        let lo = (p as u64) & m;
        let hi = ((p >> bits) as u64) & m;
        (lo, hi, p != i128::from(sext(lo, size) as i64))
    } else {
        let p = u128::from(a & m) * u128::from(b & m);
        let lo = (p as u64) & m;
        let hi = ((p >> bits) as u64) & m;
        (lo, hi, hi != 0)
    };
    let mut f = (fl & !ARITH) | szp(lo, size);
    if big {
        f |= CF | OF;
    }
    (lo, hi, f)
}

/// Divides `hi:lo` by `d`: `None` on a zero divisor or a quotient that does not fit (#DE).
pub(crate) fn div(signed: bool, hi: u64, lo: u64, d: u64, size: usize) -> Option<(u64, u64)> {
    let m = mask(size);
    let bits = size * 8;
    let d = d & m;
    if d == 0 {
        return None;
    }
    let n = (u128::from(hi & m) << bits) | u128::from(lo & m);
    if signed {
        let n = if bits == 64 {
            n as i128
        } else {
            let sh = 128 - 2 * bits;
            ((n << sh) as i128) >> sh
        };
        let d = i128::from(sext(d, size) as i64);
        let q = n.checked_div(d)?;
        let r = n.checked_rem(d)?;
        let qmax = (1i128 << (bits - 1)) - 1;
        let qmin = -(1i128 << (bits - 1));
        if q > qmax || q < qmin {
            return None;
        }
        Some(((q as u64) & m, (r as u64) & m))
    } else {
        let d = u128::from(d);
        let q = n / d;
        if q > u128::from(m) {
            return None;
        }
        Some((q as u64, (n % d) as u64))
    }
}
