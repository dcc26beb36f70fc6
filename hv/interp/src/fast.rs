//! Pre-classified forms of the most frequent instructions (ALU, MOV, LEA, TEST, INC/DEC,
//! near branches, PUSH/POP, CALL/RET on general registers and simple memory operands).
//! The decode cache stores a [`Fast`] beside iced-x86's decode, so the hot loop runs these
//! without looking at operand kinds again; everything else takes the general path.

use crate::alu::flags::*;
use crate::alu::{AluOp, alu, cond, incdec, mask, sext, szp};
use crate::bits::{ShiftOp, shift};
use crate::state::Vcpu;
use crate::{GuestMemory, R};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

/// "No register" in a [`MemRef`].
const NONE: u8 = 16;

/// A memory operand: `seg:[base + index*scale + disp]` at address size `asz`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemRef {
    disp: u64,
    base: u8,
    index: u8,
    scale: u8,
    seg: u8,
    asz: u8,
}

/// A classified instruction. Register operands are GPR numbers (no AH..BH); sizes in bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fast {
    General,
    Nop,
    AluRR {
        op: AluOp,
        size: u8,
        d: u8,
        s: u8,
    },
    AluRI {
        op: AluOp,
        size: u8,
        d: u8,
        imm: u64,
    },
    AluRM {
        op: AluOp,
        size: u8,
        d: u8,
        m: MemRef,
    },
    AluMR {
        op: AluOp,
        size: u8,
        m: MemRef,
        s: u8,
    },
    AluMI {
        op: AluOp,
        size: u8,
        m: MemRef,
        imm: u64,
    },
    TestRR {
        size: u8,
        d: u8,
        s: u8,
    },
    TestRI {
        size: u8,
        d: u8,
        imm: u64,
    },
    MovRR {
        size: u8,
        d: u8,
        s: u8,
    },
    MovRI {
        size: u8,
        d: u8,
        imm: u64,
    },
    Load {
        size: u8,
        d: u8,
        m: MemRef,
    },
    Store {
        size: u8,
        m: MemRef,
        s: u8,
    },
    StoreI {
        size: u8,
        m: MemRef,
        imm: u64,
    },
    Lea {
        size: u8,
        d: u8,
        m: MemRef,
    },
    IncDec {
        dec: bool,
        size: u8,
        d: u8,
    },
    Jcc {
        cc: u8,
        target: u64,
    },
    Jmp {
        target: u64,
    },
    Push {
        size: u8,
        s: u8,
    },
    Pop {
        size: u8,
        d: u8,
    },
    Call {
        size: u8,
        target: u64,
    },
    Ret {
        size: u8,
    },
    TestMR {
        size: u8,
        m: MemRef,
        s: u8,
    },
    TestMI {
        size: u8,
        m: MemRef,
        imm: u64,
    },
    /// MOVZX/MOVSX/MOVSXD from a register (`m` unused) or memory.
    MovX {
        signed: bool,
        dsize: u8,
        ssize: u8,
        d: u8,
        s: u8,
        mem: bool,
        m: MemRef,
    },
    ShiftRI {
        op: ShiftOp,
        size: u8,
        d: u8,
        count: u8,
    },
    Setcc {
        cc: u8,
        d: u8,
    },
    CmovRR {
        cc: u8,
        size: u8,
        d: u8,
        s: u8,
    },
}

/// GPR number and size of `r`, unless it is not a GPR or is AH/CH/DH/BH.
fn gpr(r: Register) -> Option<(u8, u8)> {
    let n = r as u32;
    match n {
        1..=4 => Some((n as u8 - 1, 1)),
        9..=20 => Some((n as u8 - 5, 1)),
        21..=36 => Some((n as u8 - 21, 2)),
        37..=52 => Some((n as u8 - 37, 4)),
        53..=68 => Some((n as u8 - 53, 8)),
        _ => None,
    }
}

fn memref(ins: &Instruction, asz: usize) -> Option<MemRef> {
    let base = ins.memory_base();
    // RIP-relative operands were made absolute by the decoder.
    let b = if matches!(base, Register::RIP | Register::EIP | Register::None) {
        NONE
    } else {
        gpr(base)?.0
    };
    let disp = ins.memory_displacement64();
    let index = ins.memory_index();
    let i = if index == Register::None {
        NONE
    } else {
        gpr(index)?.0
    };
    Some(MemRef {
        disp,
        base: b,
        index: i,
        scale: ins.memory_index_scale() as u8,
        seg: Vcpu::mem_seg(ins) as u8,
        asz: asz as u8,
    })
}

/// A [`MemRef`] for forms whose operand is a register.
fn memref_none() -> MemRef {
    MemRef {
        disp: 0,
        base: NONE,
        index: NONE,
        scale: 0,
        seg: 0,
        asz: 8,
    }
}

fn m_mn(ins: &Instruction) -> Mnemonic {
    ins.mnemonic()
}

fn m_is_signed(m: Mnemonic) -> bool {
    m != Mnemonic::Movzx
}

fn alu_op(m: Mnemonic) -> Option<AluOp> {
    Some(match m {
        Mnemonic::Add => AluOp::Add,
        Mnemonic::Or => AluOp::Or,
        Mnemonic::Adc => AluOp::Adc,
        Mnemonic::Sbb => AluOp::Sbb,
        Mnemonic::And => AluOp::And,
        Mnemonic::Sub => AluOp::Sub,
        Mnemonic::Xor => AluOp::Xor,
        Mnemonic::Cmp => AluOp::Cmp,
        _ => return None,
    })
}

fn is_imm(k: OpKind) -> bool {
    matches!(
        k,
        OpKind::Immediate8
            | OpKind::Immediate16
            | OpKind::Immediate32
            | OpKind::Immediate64
            | OpKind::Immediate8to16
            | OpKind::Immediate8to32
            | OpKind::Immediate8to64
            | OpKind::Immediate32to64
    )
}

/// Classifies `ins` (decoded at address size `asz`).
pub(crate) fn classify(ins: &Instruction, asz: usize) -> Fast {
    classify_inner(ins, asz).unwrap_or(Fast::General)
}

fn classify_inner(ins: &Instruction, asz: usize) -> Option<Fast> {
    use Mnemonic as M;
    let m = ins.mnemonic();
    let k0 = if ins.op_count() > 0 {
        ins.op_kind(0)
    } else {
        OpKind::Register
    };
    let k1 = if ins.op_count() > 1 {
        ins.op_kind(1)
    } else {
        OpKind::Register
    };
    let two = ins.op_count() == 2;
    let msize = || Vcpu::op_size(ins, 0) as u8;
    if let Some(op) = alu_op(m).filter(|_| two) {
        return Some(match (k0, k1) {
            (OpKind::Register, OpKind::Register) => {
                let (d, size) = gpr(ins.op0_register())?;
                let (s, _) = gpr(ins.op1_register())?;
                Fast::AluRR { op, size, d, s }
            }
            (OpKind::Register, k) if is_imm(k) => {
                let (d, size) = gpr(ins.op0_register())?;
                Fast::AluRI {
                    op,
                    size,
                    d,
                    imm: ins.immediate(1),
                }
            }
            (OpKind::Register, OpKind::Memory) => {
                let (d, size) = gpr(ins.op0_register())?;
                Fast::AluRM {
                    op,
                    size,
                    d,
                    m: memref(ins, asz)?,
                }
            }
            (OpKind::Memory, OpKind::Register) => {
                let (s, size) = gpr(ins.op1_register())?;
                Fast::AluMR {
                    op,
                    size,
                    m: memref(ins, asz)?,
                    s,
                }
            }
            (OpKind::Memory, k) if is_imm(k) => Fast::AluMI {
                op,
                size: msize(),
                m: memref(ins, asz)?,
                imm: ins.immediate(1),
            },
            _ => return None,
        });
    }
    Some(match m {
        M::Nop => Fast::Nop,
        M::Test if two => match (k0, k1) {
            (OpKind::Register, OpKind::Register) => {
                let (d, size) = gpr(ins.op0_register())?;
                Fast::TestRR {
                    size,
                    d,
                    s: gpr(ins.op1_register())?.0,
                }
            }
            (OpKind::Register, k) if is_imm(k) => {
                let (d, size) = gpr(ins.op0_register())?;
                Fast::TestRI {
                    size,
                    d,
                    imm: ins.immediate(1),
                }
            }
            (OpKind::Memory, OpKind::Register) => {
                let (s, size) = gpr(ins.op1_register())?;
                Fast::TestMR {
                    size,
                    m: memref(ins, asz)?,
                    s,
                }
            }
            (OpKind::Memory, k) if is_imm(k) => Fast::TestMI {
                size: msize(),
                m: memref(ins, asz)?,
                imm: ins.immediate(1),
            },
            _ => return None,
        },
        M::Mov if two => match (k0, k1) {
            (OpKind::Register, OpKind::Register) => {
                let (d, size) = gpr(ins.op0_register())?;
                Fast::MovRR {
                    size,
                    d,
                    s: gpr(ins.op1_register())?.0,
                }
            }
            (OpKind::Register, k) if is_imm(k) => {
                let (d, size) = gpr(ins.op0_register())?;
                Fast::MovRI {
                    size,
                    d,
                    imm: ins.immediate(1),
                }
            }
            (OpKind::Register, OpKind::Memory) => {
                let (d, size) = gpr(ins.op0_register())?;
                Fast::Load {
                    size,
                    d,
                    m: memref(ins, asz)?,
                }
            }
            (OpKind::Memory, OpKind::Register) => {
                let (s, size) = gpr(ins.op1_register())?;
                Fast::Store {
                    size,
                    m: memref(ins, asz)?,
                    s,
                }
            }
            (OpKind::Memory, k) if is_imm(k) => Fast::StoreI {
                size: msize(),
                m: memref(ins, asz)?,
                imm: ins.immediate(1),
            },
            _ => return None,
        },
        M::Lea => {
            let (d, size) = gpr(ins.op0_register())?;
            Fast::Lea {
                size,
                d,
                m: memref(ins, asz)?,
            }
        }
        M::Inc | M::Dec if k0 == OpKind::Register => {
            let (d, size) = gpr(ins.op0_register())?;
            Fast::IncDec {
                dec: m == M::Dec,
                size,
                d,
            }
        }
        jcc!() => Fast::Jcc {
            cc: ins.condition_code() as u8 - 1,
            target: ins.near_branch_target(),
        },
        M::Jmp
            if matches!(
                k0,
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
            ) =>
        {
            Fast::Jmp {
                target: ins.near_branch_target(),
            }
        }
        M::Push if k0 == OpKind::Register => {
            let (s, size) = gpr(ins.op0_register())?;
            Fast::Push { size, s }
        }
        M::Pop if k0 == OpKind::Register => {
            let (d, size) = gpr(ins.op0_register())?;
            Fast::Pop { size, d }
        }
        M::Call
            if matches!(
                k0,
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64
            ) =>
        {
            Fast::Call {
                size: Vcpu::stack_op_size(ins) as u8,
                target: ins.near_branch_target(),
            }
        }
        M::Ret if ins.op_count() == 0 => Fast::Ret {
            size: Vcpu::stack_op_size(ins) as u8,
        },
        M::Movzx | M::Movsx | M::Movsxd if two => {
            let (d, dsize) = gpr(ins.op0_register())?;
            let ssize = Vcpu::op_size(ins, 1) as u8;
            let (s, mem, m) = match k1 {
                OpKind::Register => (gpr(ins.op1_register())?.0, false, memref_none()),
                OpKind::Memory => (0, true, memref(ins, asz)?),
                _ => return None,
            };
            if !matches!(ssize, 1 | 2 | 4) {
                return None;
            }
            Fast::MovX {
                signed: m_is_signed(m_mn(ins)),
                dsize,
                ssize,
                d,
                s,
                mem,
                m,
            }
        }
        M::Rol | M::Ror | M::Shl | M::Sal | M::Shr | M::Sar
            if two && k0 == OpKind::Register && is_imm(k1) =>
        {
            let (d, size) = gpr(ins.op0_register())?;
            let op = match m {
                M::Rol => ShiftOp::Rol,
                M::Ror => ShiftOp::Ror,
                M::Shr => ShiftOp::Shr,
                M::Sar => ShiftOp::Sar,
                _ => ShiftOp::Shl,
            };
            Fast::ShiftRI {
                op,
                size,
                d,
                count: ins.immediate(1) as u8,
            }
        }
        setcc!() if k0 == OpKind::Register => {
            let (d, _) = gpr(ins.op0_register())?;
            Fast::Setcc {
                cc: ins.condition_code() as u8 - 1,
                d,
            }
        }
        cmovcc!() if two && k1 == OpKind::Register => {
            let (d, size) = gpr(ins.op0_register())?;
            Fast::CmovRR {
                cc: ins.condition_code() as u8 - 1,
                size,
                d,
                s: gpr(ins.op1_register())?.0,
            }
        }
        _ => return None,
    })
}

impl Vcpu {
    /// GPR `i` at `size` bytes.
    #[inline(always)]
    fn rg(&self, i: u8, size: u8) -> u64 {
        self.gpr[usize::from(i & 15)] & mask(usize::from(size))
    }

    /// Writes GPR `i` at `size` bytes (merging below 32 bits, zero-extending at 32).
    #[inline(always)]
    fn wg(&mut self, i: u8, size: u8, v: u64) {
        let r = &mut self.gpr[usize::from(i & 15)];
        *r = match size {
            1 => (*r & !0xff) | (v & 0xff),
            2 => (*r & !0xffff) | (v & 0xffff),
            4 => v & 0xffff_ffff,
            _ => v,
        };
    }

    /// Offset of a [`MemRef`] in its segment.
    #[inline(always)]
    fn mref_ea(&self, m: &MemRef) -> u64 {
        let mut a = m.disp;
        if m.base != NONE {
            a = a.wrapping_add(self.gpr[usize::from(m.base & 15)]);
        }
        if m.index != NONE {
            a = a
                .wrapping_add(self.gpr[usize::from(m.index & 15)].wrapping_mul(u64::from(m.scale)));
        }
        a & mask(usize::from(m.asz))
    }

    #[inline(always)]
    fn mref_lin(&self, m: &MemRef, size: u8) -> R<u64> {
        self.seg_lin(usize::from(m.seg), self.mref_ea(m), usize::from(size))
    }

    /// [`Vcpu::mref_lin`] for an operand that will be written.
    #[inline(always)]
    fn mref_lin_w(&self, m: &MemRef, size: u8) -> R<u64> {
        let lin = self.mref_lin(m, size)?;
        self.writable(usize::from(m.seg))?;
        Ok(lin)
    }

    /// Executes a classified instruction (RIP already points past it).
    #[inline(always)]
    pub(crate) fn exec_fast(&mut self, mem: &mut dyn GuestMemory, f: Fast) -> R<()> {
        let user = self.user();
        match f {
            Fast::General | Fast::Nop => {}
            Fast::AluRR { op, size, d, s } => {
                let (r, fl) = alu(
                    op,
                    self.rg(d, size),
                    self.rg(s, size),
                    usize::from(size),
                    self.flags,
                );
                if op != AluOp::Cmp {
                    self.wg(d, size, r);
                }
                self.flags = fl;
            }
            Fast::AluRI { op, size, d, imm } => {
                let (r, fl) = alu(op, self.rg(d, size), imm, usize::from(size), self.flags);
                if op != AluOp::Cmp {
                    self.wg(d, size, r);
                }
                self.flags = fl;
            }
            Fast::AluRM { op, size, d, m } => {
                let lin = self.mref_lin(&m, size)?;
                let b = self.read_lin(mem, lin, usize::from(size), user)?;
                let (r, fl) = alu(op, self.rg(d, size), b, usize::from(size), self.flags);
                if op != AluOp::Cmp {
                    self.wg(d, size, r);
                }
                self.flags = fl;
            }
            Fast::AluMR { op, size, m, s } => {
                let lin = if op == AluOp::Cmp {
                    self.mref_lin(&m, size)?
                } else {
                    self.mref_lin_w(&m, size)?
                };
                let a = self.read_lin(mem, lin, usize::from(size), user)?;
                let (r, fl) = alu(op, a, self.rg(s, size), usize::from(size), self.flags);
                if op != AluOp::Cmp {
                    self.write_lin(mem, lin, usize::from(size), r, user)?;
                }
                self.flags = fl;
            }
            Fast::AluMI { op, size, m, imm } => {
                let lin = if op == AluOp::Cmp {
                    self.mref_lin(&m, size)?
                } else {
                    self.mref_lin_w(&m, size)?
                };
                let a = self.read_lin(mem, lin, usize::from(size), user)?;
                let (r, fl) = alu(op, a, imm, usize::from(size), self.flags);
                if op != AluOp::Cmp {
                    self.write_lin(mem, lin, usize::from(size), r, user)?;
                }
                self.flags = fl;
            }
            Fast::TestRR { size, d, s } => {
                self.flags = (self.flags & !ARITH)
                    | szp(self.rg(d, size) & self.rg(s, size), usize::from(size));
            }
            Fast::TestRI { size, d, imm } => {
                self.flags = (self.flags & !ARITH) | szp(self.rg(d, size) & imm, usize::from(size));
            }
            Fast::TestMR { size, m, s } => {
                let lin = self.mref_lin(&m, size)?;
                let a = self.read_lin(mem, lin, usize::from(size), user)?;
                self.flags = (self.flags & !ARITH) | szp(a & self.rg(s, size), usize::from(size));
            }
            Fast::TestMI { size, m, imm } => {
                let lin = self.mref_lin(&m, size)?;
                let a = self.read_lin(mem, lin, usize::from(size), user)?;
                self.flags = (self.flags & !ARITH) | szp(a & imm, usize::from(size));
            }
            Fast::MovRR { size, d, s } => {
                let v = self.rg(s, size);
                self.wg(d, size, v);
            }
            Fast::MovRI { size, d, imm } => self.wg(d, size, imm),
            Fast::Load { size, d, m } => {
                let lin = self.mref_lin(&m, size)?;
                let v = self.read_lin(mem, lin, usize::from(size), user)?;
                self.wg(d, size, v);
            }
            Fast::Store { size, m, s } => {
                let lin = self.mref_lin_w(&m, size)?;
                let v = self.rg(s, size);
                self.write_lin(mem, lin, usize::from(size), v, user)?;
            }
            Fast::StoreI { size, m, imm } => {
                let lin = self.mref_lin_w(&m, size)?;
                self.write_lin(mem, lin, usize::from(size), imm, user)?;
            }
            Fast::Lea { size, d, m } => {
                let v = self.mref_ea(&m);
                self.wg(d, size, v);
            }
            Fast::IncDec { dec, size, d } => {
                let (r, fl) = incdec(self.rg(d, size), dec, usize::from(size), self.flags);
                self.wg(d, size, r);
                self.flags = fl;
            }
            Fast::Jcc { cc, target } => {
                if cond(cc, self.flags) {
                    self.rip = target;
                }
            }
            Fast::Jmp { target } => self.rip = target,
            Fast::Push { size, s } => {
                let v = self.rg(s, size);
                self.push(mem, v, usize::from(size))?;
            }
            Fast::Pop { size, d } => {
                let v = self.peek(mem, 0, usize::from(size))?;
                self.add_sp(u64::from(size));
                self.wg(d, size, v);
            }
            Fast::Call { size, target } => {
                self.push(mem, self.rip, usize::from(size))?;
                self.rip = target;
            }
            Fast::Ret { size } => {
                let t = self.pop(mem, usize::from(size))?;
                self.rip = t;
            }
            Fast::MovX {
                signed,
                dsize,
                ssize,
                d,
                s,
                mem: from_mem,
                m,
            } => {
                let v = if from_mem {
                    let lin = self.mref_lin(&m, ssize)?;
                    self.read_lin(mem, lin, usize::from(ssize), user)?
                } else {
                    self.rg(s, ssize)
                };
                let v = if signed {
                    sext(v, usize::from(ssize))
                } else {
                    v
                };
                self.wg(d, dsize, v & mask(usize::from(dsize)));
            }
            Fast::ShiftRI { op, size, d, count } => {
                let (r, fl) = shift(
                    op,
                    self.rg(d, size),
                    u64::from(count),
                    usize::from(size),
                    self.flags,
                );
                self.wg(d, size, r);
                self.flags = fl;
            }
            Fast::Setcc { cc, d } => {
                let v = u64::from(cond(cc, self.flags));
                self.wg(d, 1, v);
            }
            Fast::CmovRR { cc, size, d, s } => {
                if cond(cc, self.flags) {
                    let v = self.rg(s, size);
                    self.wg(d, size, v);
                } else if size == 4 {
                    let v = self.rg(d, 4);
                    self.wg(d, 4, v);
                }
            }
        }
        Ok(())
    }
}
