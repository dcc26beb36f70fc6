//! Instruction forms for the differential test: each builds one instruction (or a short
//! sequence) with random operands through iced-x86's assembler, may adjust the starting
//! registers, and names the flags the SDM leaves undefined for it.

use crate::machine::{DATA, STACK};
use hv_interp::KvmRegs;
use iced_x86::IcedError;
use iced_x86::code_asm::*;

pub const CF: u64 = 1;
pub const PF: u64 = 4;
pub const AF: u64 = 0x10;
pub const ZF: u64 = 0x40;
pub const SF: u64 = 0x80;
pub const OF: u64 = 0x800;
pub const STATUS: u64 = CF | PF | AF | ZF | SF | OF;

/// The fuzzers' PRNG (xorshift64*), shared with `kvmfuzz` and `sysfuzz`.
pub use levitate_user::Rng;

/// A value biased towards the edges where flags get interesting.
pub fn edge(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => 0,
        1 => rng.below(4),
        2 => u64::MAX - rng.below(3),
        3 => 0x8000_0000_0000_0000 - rng.below(2),
        4 => [
            0x7f,
            0x80,
            0xff,
            0x7fff,
            0x8000,
            0xffff,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
        ][rng.below(9) as usize],
        5 => rng.below(256),
        6 => rng.next_u64() & 0xffff_ffff,
        _ => rng.next_u64(),
    }
}

/// The CPU mode a form runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Long,
    /// Long mode with a 32-bit code segment: runs the 32-bit protected-mode forms.
    Compat,
    Prot,
    Real,
    /// 16-bit protected mode: runs the real-mode forms with selectors.
    Prot16,
}

impl Mode {
    pub fn bit(self) -> u8 {
        match self {
            Mode::Long => L,
            Mode::Prot | Mode::Compat => P,
            Mode::Real | Mode::Prot16 => R,
        }
    }
}

pub const L: u8 = 1;
pub const P: u8 = 2;
pub const R: u8 = 4;
pub const ALL: u8 = 7;
pub const LEG: u8 = P | R;

/// A generated case.
pub struct Case {
    pub code: Vec<u8>,
    pub len: usize,
    pub regs: KvmRegs,
    pub undef: u64,
}

/// Builds one case.
pub struct Gen<'a> {
    pub rng: &'a mut Rng,
    pub a: CodeAssembler,
    pub regs: KvmRegs,
    pub mode: Mode,
    pub undef: u64,
}

const R64: [AsmRegister64; 14] = [
    rax, rcx, rdx, rbx, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14,
];
const R32L: [AsmRegister32; 14] = [
    eax, ecx, edx, ebx, ebp, esi, edi, r8d, r9d, r10d, r11d, r12d, r13d, r14d,
];
const R32: [AsmRegister32; 6] = [eax, ecx, edx, ebp, esi, edi];
const R16L: [AsmRegister16; 14] = [
    ax, cx, dx, bx, bp, si, di, r8w, r9w, r10w, r11w, r12w, r13w, r14w,
];
const R16: [AsmRegister16; 6] = [ax, cx, dx, bp, si, di];
const R8L: [AsmRegister8; 15] = [
    al, cl, dl, bl, bpl, sil, dil, r8b, r9b, r10b, r11b, r12b, r13b, r14b, ah,
];
const R8: [AsmRegister8; 6] = [al, cl, dl, ah, ch, dh];

impl<'a> Gen<'a> {
    pub fn new(rng: &'a mut Rng, mode: Mode) -> Gen<'a> {
        let bits = match mode {
            Mode::Long => 64,
            Mode::Prot | Mode::Compat => 32,
            Mode::Real | Mode::Prot16 => 16,
        };
        let mut g = Gen {
            a: CodeAssembler::new(bits).expect("bitness"),
            regs: KvmRegs::default(),
            mode,
            undef: 0,
            rng,
        };
        let r = &mut g.regs;
        for v in [
            &mut r.rax, &mut r.rcx, &mut r.rdx, &mut r.rbx, &mut r.rbp, &mut r.rsi, &mut r.rdi,
            &mut r.r8, &mut r.r9, &mut r.r10, &mut r.r11, &mut r.r12, &mut r.r13, &mut r.r14,
        ] {
            *v = edge(g.rng);
        }
        if mode != Mode::Long {
            for v in [
                &mut r.rax, &mut r.rcx, &mut r.rdx, &mut r.rbx, &mut r.rbp, &mut r.rsi, &mut r.rdi,
            ] {
                *v &= 0xffff_ffff;
            }
        }
        let off = g.rng.below(0x800);
        match mode {
            Mode::Long => {
                r.r15 = DATA + off;
                r.rsp = STACK + 0xf00;
            }
            Mode::Prot | Mode::Compat => {
                r.rbx = DATA + off;
                r.rsp = STACK + 0xf00;
            }
            Mode::Real | Mode::Prot16 => {
                r.rbx = off;
                r.rsp = 0xff00;
            }
        }
        r.rflags = 2 | (g.rng.next_u64() & STATUS);
        g
    }

    fn pick<T: Copy>(&mut self, l: &[T]) -> T {
        l[self.rng.below(l.len() as u64) as usize]
    }
    pub fn r64(&mut self) -> AsmRegister64 {
        self.pick(&R64)
    }
    pub fn r32(&mut self) -> AsmRegister32 {
        if self.mode == Mode::Long {
            self.pick(&R32L)
        } else {
            self.pick(&R32)
        }
    }
    pub fn r16(&mut self) -> AsmRegister16 {
        if self.mode == Mode::Long {
            self.pick(&R16L)
        } else {
            self.pick(&R16)
        }
    }
    pub fn r8(&mut self) -> AsmRegister8 {
        if self.mode == Mode::Long {
            self.pick(&R8L)
        } else {
            self.pick(&R8)
        }
    }
    /// A memory operand in the data area.
    pub fn m(&mut self) -> AsmMemoryOperand {
        let d = self.rng.below(0x800) as i32;
        match self.mode {
            Mode::Long => ptr(r15 + d),
            Mode::Prot | Mode::Compat => ptr(ebx + d),
            Mode::Real | Mode::Prot16 => ptr(bx + d),
        }
    }
    pub fn m8(&mut self) -> AsmMemoryOperand {
        let m = self.m();
        byte_ptr(m)
    }
    pub fn m16(&mut self) -> AsmMemoryOperand {
        let m = self.m();
        word_ptr(m)
    }
    pub fn m32(&mut self) -> AsmMemoryOperand {
        let m = self.m();
        dword_ptr(m)
    }
    pub fn m64(&mut self) -> AsmMemoryOperand {
        let m = self.m();
        qword_ptr(m)
    }
    /// An immediate that fits `bits` signed bits.
    pub fn imm(&mut self, bits: u32) -> i32 {
        let v = edge(self.rng);
        let sh = 64 - bits;
        (((v << sh) as i64) >> sh) as i32
    }
    /// A shift count, often small, sometimes above the operand width.
    pub fn count(&mut self) -> u32 {
        if self.rng.below(3) == 0 {
            self.rng.below(256) as u32
        } else {
            self.rng.below(34) as u32
        }
    }
    /// Sets CL to a shift count.
    pub fn set_cl(&mut self, max: u64) {
        let c = u64::from(self.count()) % (max + 1);
        self.regs.rcx = (self.regs.rcx & !0xff) | c;
    }

    /// Appends the final HLT and assembles at the mode's code address.
    pub fn finish(mut self, code: u64) -> Option<Case> {
        let ip = if matches!(self.mode, Mode::Real | Mode::Prot16) {
            0
        } else {
            code
        };
        let body = self.a.instructions().len();
        if body == 0 {
            return None;
        }
        self.a.hlt().ok()?;
        let bytes = self.a.assemble(ip).ok()?;
        self.regs.rip = ip;
        let len = bytes.len();
        Some(Case {
            code: bytes,
            len,
            regs: self.regs,
            undef: self.undef,
        })
    }
}

/// A form: a name, the modes it runs in, its undefined flags and its generator.
pub struct Form {
    pub name: String,
    pub modes: u8,
    pub undef: u64,
    pub make: fn(&mut Gen) -> Result<(), IcedError>,
}

pub fn form(
    v: &mut Vec<Form>,
    name: &str,
    modes: u8,
    undef: u64,
    make: fn(&mut Gen) -> Result<(), IcedError>,
) {
    v.push(Form {
        name: name.to_string(),
        modes,
        undef,
        make,
    });
}

macro_rules! binop {
    ($v:ident, $op:ident, $undef:expr) => {
        let n = stringify!($op);
        form(&mut $v, &format!("{n} r64,r64"), L, $undef, |g| {
            let (x, y) = (g.r64(), g.r64());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r32,r32"), ALL, $undef, |g| {
            let (x, y) = (g.r32(), g.r32());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r16,r16"), ALL, $undef, |g| {
            let (x, y) = (g.r16(), g.r16());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r8,r8"), ALL, $undef, |g| {
            let (x, y) = (g.r8(), g.r8());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r64,m64"), L, $undef, |g| {
            let (x, y) = (g.r64(), g.m64());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} m32,r32"), ALL, $undef, |g| {
            let (x, y) = (g.m32(), g.r32());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r16,m16"), ALL, $undef, |g| {
            let (x, y) = (g.r16(), g.m16());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} m8,r8"), ALL, $undef, |g| {
            let (x, y) = (g.m8(), g.r8());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r64,imm"), L, $undef, |g| {
            let (x, i) = (g.r64(), g.imm(32));
            g.a.$op(x, i)
        });
        form(&mut $v, &format!("{n} r32,imm"), ALL, $undef, |g| {
            let (x, i) = (g.r32(), g.imm(32));
            g.a.$op(x, i)
        });
        form(&mut $v, &format!("{n} r16,imm"), ALL, $undef, |g| {
            let (x, i) = (g.r16(), g.imm(16));
            g.a.$op(x, i)
        });
        form(&mut $v, &format!("{n} r8,imm"), ALL, $undef, |g| {
            let (x, i) = (g.r8(), g.imm(8));
            g.a.$op(x, i)
        });
        form(&mut $v, &format!("{n} m16,imm8"), ALL, $undef, |g| {
            let (x, i) = (g.m16(), g.imm(8));
            g.a.$op(x, i)
        });
        form(&mut $v, &format!("{n} m64,imm"), L, $undef, |g| {
            let (x, i) = (g.m64(), g.imm(32));
            g.a.$op(x, i)
        });
    };
}

macro_rules! unop {
    ($v:ident, $op:ident, $undef:expr) => {
        let n = stringify!($op);
        form(&mut $v, &format!("{n} r64"), L, $undef, |g| {
            let x = g.r64();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} r32"), ALL, $undef, |g| {
            let x = g.r32();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} r16"), ALL, $undef, |g| {
            let x = g.r16();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} r8"), ALL, $undef, |g| {
            let x = g.r8();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} m32"), ALL, $undef, |g| {
            let x = g.m32();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} m8"), ALL, $undef, |g| {
            let x = g.m8();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} m64"), L, $undef, |g| {
            let x = g.m64();
            g.a.$op(x)
        });
    };
}

macro_rules! shiftop {
    ($v:ident, $op:ident) => {
        let n = stringify!($op);
        form(&mut $v, &format!("{n} r64,1"), L, AF, |g| {
            let x = g.r64();
            g.a.$op(x, 1)
        });
        form(&mut $v, &format!("{n} r32,1"), ALL, AF, |g| {
            let x = g.r32();
            g.a.$op(x, 1)
        });
        form(&mut $v, &format!("{n} r8,1"), ALL, AF, |g| {
            let x = g.r8();
            g.a.$op(x, 1)
        });
        form(&mut $v, &format!("{n} r64,imm"), L, AF | OF, |g| {
            let (x, c) = (g.r64(), g.count());
            g.a.$op(x, c as i32)
        });
        form(&mut $v, &format!("{n} r32,imm"), ALL, AF | OF, |g| {
            let (x, c) = (g.r32(), g.count());
            g.a.$op(x, c as i32)
        });
        form(&mut $v, &format!("{n} r16,imm"), ALL, AF | OF, |g| {
            let (x, c) = (g.r16(), g.count());
            g.a.$op(x, c as i32)
        });
        form(&mut $v, &format!("{n} r8,imm"), ALL, AF | OF, |g| {
            let (x, c) = (g.r8(), g.count());
            g.a.$op(x, c as i32)
        });
        form(&mut $v, &format!("{n} m32,imm"), ALL, AF | OF, |g| {
            let (x, c) = (g.m32(), g.count());
            g.a.$op(x, c as i32)
        });
        form(&mut $v, &format!("{n} r64,cl"), L, AF | OF, |g| {
            g.set_cl(255);
            let x = g.r64();
            g.a.$op(x, cl)
        });
        form(&mut $v, &format!("{n} r32,cl"), ALL, AF | OF, |g| {
            g.set_cl(255);
            let x = g.r32();
            g.a.$op(x, cl)
        });
        form(&mut $v, &format!("{n} r16,cl"), ALL, AF | OF, |g| {
            g.set_cl(255);
            let x = g.r16();
            g.a.$op(x, cl)
        });
        form(&mut $v, &format!("{n} m8,cl"), ALL, AF | OF, |g| {
            g.set_cl(255);
            let x = g.m8();
            g.a.$op(x, cl)
        });
    };
}

macro_rules! muldiv {
    ($v:ident, $op:ident, $undef:expr, $div:expr) => {
        let n = stringify!($op);
        form(&mut $v, &format!("{n} r64"), L, $undef, |g| {
            if $div {
                g.small_rdx()
            }
            let x = g.r64();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} r32"), ALL, $undef, |g| {
            if $div {
                g.small_rdx()
            }
            let x = g.r32();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} r16"), ALL, $undef, |g| {
            if $div {
                g.small_rdx()
            }
            let x = g.r16();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} r8"), ALL, $undef, |g| {
            if $div {
                g.small_rdx()
            }
            let x = g.r8();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} m32"), ALL, $undef, |g| {
            if $div {
                g.small_rdx()
            }
            let x = g.m32();
            g.a.$op(x)
        });
        form(&mut $v, &format!("{n} m64"), L, $undef, |g| {
            if $div {
                g.small_rdx()
            }
            let x = g.m64();
            g.a.$op(x)
        });
    };
}

macro_rules! bitop {
    ($v:ident, $op:ident) => {
        let n = stringify!($op);
        let u = OF | SF | AF | PF;
        form(&mut $v, &format!("{n} r64,r64"), L, u, |g| {
            let (x, y) = (g.r64(), g.r64());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r32,r32"), ALL, u, |g| {
            let (x, y) = (g.r32(), g.r32());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r16,imm"), ALL, u, |g| {
            let (x, c) = (g.r16(), g.count());
            g.a.$op(x, c as i32)
        });
        form(&mut $v, &format!("{n} m32,imm"), ALL, u, |g| {
            let (x, c) = (g.m32(), g.count());
            g.a.$op(x, c as i32)
        });
        form(&mut $v, &format!("{n} m32,r32"), LEG, u, |g| {
            g.small_reg();
            let x = g.m32();
            g.a.$op(x, eax)
        });
        form(&mut $v, &format!("{n} m64,r64"), L, u, |g| {
            g.small_reg();
            let x = g.m64();
            g.a.$op(x, rax)
        });
        form(&mut $v, &format!("{n} m16,r16"), L, u, |g| {
            g.small_reg();
            let x = g.m16();
            g.a.$op(x, ax)
        });
    };
}

macro_rules! scan {
    ($v:ident, $op:ident, $undef:expr) => {
        let n = stringify!($op);
        form(&mut $v, &format!("{n} r64,r64"), L, $undef, |g| {
            let (x, y) = (g.r64(), g.r64());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r32,r32"), ALL, $undef, |g| {
            let (x, y) = (g.r32(), g.r32());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r16,m16"), ALL, $undef, |g| {
            let (x, y) = (g.r16(), g.m16());
            g.a.$op(x, y)
        });
        form(&mut $v, &format!("{n} r32,m32"), ALL, $undef, |g| {
            let (x, y) = (g.r32(), g.m32());
            g.a.$op(x, y)
        });
    };
}

impl Gen<'_> {
    /// Makes a division more likely to fit: rDX small (or the sign of rAX).
    pub fn small_rdx(&mut self) {
        match self.rng.below(3) {
            0 => self.regs.rdx = 0,
            1 => {
                self.regs.rdx = if (self.regs.rax as i64) < 0 {
                    u64::MAX
                } else {
                    0
                }
            }
            _ => {}
        }
    }
    /// RAX as a small signed bit offset for BT forms with memory operands.
    pub fn small_reg(&mut self) {
        self.regs.rax = (self.rng.below(2048) as i64 - 1024) as u64;
    }
    /// RSI/RDI in the data area, a small count, random DF.
    pub fn string_regs(&mut self) {
        let base = if matches!(self.mode, Mode::Real | Mode::Prot16) {
            0
        } else {
            DATA
        };
        self.regs.rsi = base + 0x400 + self.rng.below(0x800);
        self.regs.rdi = base + 0x400 + self.rng.below(0x800);
        self.regs.rcx = self.rng.below(20);
        if self.rng.below(2) == 0 {
            self.regs.rflags |= 0x400;
        }
        if self.rng.below(4) == 0 {
            self.regs.rax &= !0xff;
        }
    }
}

/// Every form.
pub fn all() -> Vec<Form> {
    let mut v = Vec::new();
    binop!(v, add, 0);
    binop!(v, or, AF);
    binop!(v, adc, 0);
    binop!(v, sbb, 0);
    binop!(v, and, AF);
    binop!(v, sub, 0);
    binop!(v, xor, AF);
    binop!(v, cmp, 0);
    form(&mut v, "test r64,r64", L, AF, |g| {
        let (x, y) = (g.r64(), g.r64());
        g.a.test(x, y)
    });
    form(&mut v, "test m32,r32", ALL, AF, |g| {
        let (x, y) = (g.m32(), g.r32());
        g.a.test(x, y)
    });
    form(&mut v, "test r8,imm", ALL, AF, |g| {
        let (x, i) = (g.r8(), g.imm(8));
        g.a.test(x, i)
    });
    form(&mut v, "test m8,imm", ALL, AF, |g| {
        let (x, i) = (g.m8(), g.imm(8));
        g.a.test(x, i)
    });
    form(&mut v, "test m64,imm", L, AF, |g| {
        let (x, i) = (g.m64(), g.imm(32));
        g.a.test(x, i)
    });
    unop!(v, inc, 0);
    unop!(v, dec, 0);
    unop!(v, neg, 0);
    unop!(v, not, 0);
    shiftop!(v, rol);
    shiftop!(v, ror);
    shiftop!(v, rcl);
    shiftop!(v, rcr);
    shiftop!(v, shl);
    shiftop!(v, shr);
    shiftop!(v, sar);
    form(&mut v, "shld r64,r64,imm", L, AF | OF, |g| {
        let (x, y, c) = (g.r64(), g.r64(), g.count());
        g.a.shld(x, y, c as i32)
    });
    form(&mut v, "shrd r64,r64,imm", L, AF | OF, |g| {
        let (x, y, c) = (g.r64(), g.r64(), g.count());
        g.a.shrd(x, y, c as i32)
    });
    form(&mut v, "shld r32,r32,cl", ALL, AF | OF, |g| {
        g.set_cl(255);
        let (x, y) = (g.r32(), g.r32());
        g.a.shld(x, y, cl)
    });
    form(&mut v, "shrd r32,r32,cl", ALL, AF | OF, |g| {
        g.set_cl(255);
        let (x, y) = (g.r32(), g.r32());
        g.a.shrd(x, y, cl)
    });
    form(&mut v, "shld r16,r16,imm", ALL, AF | OF, |g| {
        let (x, y, c) = (g.r16(), g.r16(), g.count() % 17);
        g.a.shld(x, y, c as i32)
    });
    form(&mut v, "shrd m16,r16,imm", ALL, AF | OF, |g| {
        let (x, y, c) = (g.m16(), g.r16(), g.count() % 17);
        g.a.shrd(x, y, c as i32)
    });
    form(&mut v, "shld m32,r32,imm", ALL, AF | OF, |g| {
        let (x, y, c) = (g.m32(), g.r32(), g.count());
        g.a.shld(x, y, c as i32)
    });
    muldiv!(v, mul, SF | ZF | AF | PF, false);
    muldiv!(v, imul, SF | ZF | AF | PF, false);
    muldiv!(v, div, STATUS, true);
    muldiv!(v, idiv, STATUS, true);
    let mu = SF | ZF | AF | PF;
    form(&mut v, "imul r64,r64", L, mu, |g| {
        let (x, y) = (g.r64(), g.r64());
        g.a.imul_2(x, y)
    });
    form(&mut v, "imul r32,m32", ALL, mu, |g| {
        let (x, y) = (g.r32(), g.m32());
        g.a.imul_2(x, y)
    });
    form(&mut v, "imul r16,r16", ALL, mu, |g| {
        let (x, y) = (g.r16(), g.r16());
        g.a.imul_2(x, y)
    });
    form(&mut v, "imul r64,r64,imm", L, mu, |g| {
        let (x, y, i) = (g.r64(), g.r64(), g.imm(32));
        g.a.imul_3(x, y, i)
    });
    form(&mut v, "imul r32,r32,imm8", ALL, mu, |g| {
        let (x, y, i) = (g.r32(), g.r32(), g.imm(8));
        g.a.imul_3(x, y, i)
    });
    form(&mut v, "imul r16,m16,imm", ALL, mu, |g| {
        let (x, y, i) = (g.r16(), g.m16(), g.imm(16));
        g.a.imul_3(x, y, i)
    });
    bitop!(v, bt);
    bitop!(v, bts);
    bitop!(v, btr);
    bitop!(v, btc);
    scan!(v, bsf, CF | OF | SF | AF | PF);
    scan!(v, bsr, CF | OF | SF | AF | PF);
    // Without BMI1/ABM in CPUID these run as BSF/BSR (so do this host's), whose flags but ZF
    // are undefined.
    scan!(v, tzcnt, CF | OF | SF | AF | PF);
    scan!(v, lzcnt, CF | OF | SF | AF | PF);
    scan!(v, popcnt, 0);
    crate::forms_more::data_forms(&mut v);
    form(&mut v, "cbw", ALL, 0, |g| g.a.cbw());
    form(&mut v, "cwde", ALL, 0, |g| g.a.cwde());
    form(&mut v, "cdqe", L, 0, |g| g.a.cdqe());
    form(&mut v, "cwd", ALL, 0, |g| g.a.cwd());
    form(&mut v, "cdq", ALL, 0, |g| g.a.cdq());
    form(&mut v, "cqo", L, 0, |g| g.a.cqo());
    crate::forms_more::cc_forms(&mut v);
    crate::forms_more::more(&mut v);
    v
}
