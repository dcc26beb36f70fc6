//! Data movement and the stack: MOV forms, MOVZX/MOVSX, LEA, XCHG/XADD/CMPXCHG, sign
//! extensions, PUSH/POP (with flags, segment registers and PUSHA/POPA), ENTER/LEAVE, far
//! pointer loads (SDM Vol. 2, per instruction).

use crate::alu::flags::*;
use crate::alu::{add, mask, sext, sub};
use crate::exec::reg_size;
use crate::state::{CS, SS, Vcpu};
use crate::{GuestMemory, R, exc};
use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

/// Segment register number of `r` when it is one.
pub(crate) fn sreg(r: Register) -> Option<usize> {
    let n = r as usize;
    (71..=76).contains(&n).then(|| n - 71)
}

impl Vcpu {
    /// Everything `exec` does not handle itself: data movement here, then control flow and
    /// system instructions.
    pub(crate) fn exec_more(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        m: Mnemonic,
    ) -> R<()> {
        use Mnemonic as M;
        match m {
            M::Mov => self.mov(mem, ins, asz),
            M::Movzx | M::Movsx | M::Movsxd => {
                let dsize = Self::op_size(ins, 0);
                let ssize = Self::op_size(ins, 1);
                let v = self.src(mem, ins, asz, 1, ssize)?;
                let v = if m == M::Movzx { v } else { sext(v, ssize) };
                self.set_reg(ins.op0_register(), v & mask(dsize));
                Ok(())
            }
            M::Lea => {
                let dsize = Self::op_size(ins, 0);
                let v = self.ea(ins, asz);
                self.set_reg(ins.op0_register(), v & mask(dsize));
                Ok(())
            }
            M::Xchg => {
                let size = Self::op_size(ins, 0);
                let a = self.loc(ins, asz, 0, size)?;
                let b = self.loc(ins, asz, 1, size)?;
                let va = self.rd(mem, a, size)?;
                let vb = self.rd(mem, b, size)?;
                // Memory first, so a fault leaves the register unchanged.
                if matches!(a, crate::exec::Loc::Mem(_)) {
                    self.wr(mem, a, size, vb)?;
                    self.wr(mem, b, size, va)
                } else {
                    self.wr(mem, b, size, va)?;
                    self.wr(mem, a, size, vb)
                }
            }
            M::Xadd => {
                let size = Self::op_size(ins, 0);
                let d = self.loc(ins, asz, 0, size)?;
                let dv = self.rd(mem, d, size)?;
                let sv = self.get_reg(ins.op1_register());
                let (r, f) = add(dv, sv, 0, size);
                self.set_reg(ins.op1_register(), dv);
                self.wr(mem, d, size, r)?;
                self.flags = (self.flags & !ARITH) | f;
                Ok(())
            }
            M::Cmpxchg => {
                let size = Self::op_size(ins, 0);
                let d = self.loc(ins, asz, 0, size)?;
                let dv = self.rd(mem, d, size)?;
                let acc = self.gpr[0] & mask(size);
                let (_, f) = sub(acc, dv, 0, size);
                if f & ZF != 0 {
                    let sv = self.get_reg(ins.op1_register());
                    self.wr(mem, d, size, sv)?;
                } else {
                    // The destination is written back even on a mismatch (a 32-bit register
                    // destination is thereby zero-extended).
                    self.wr(mem, d, size, dv)?;
                    let a = [Register::AL, Register::AX, Register::EAX, Register::RAX];
                    let acc = a.get(size.trailing_zeros() as usize).copied();
                    self.set_reg(acc.unwrap_or(Register::RAX), dv);
                }
                self.flags = (self.flags & !ARITH) | f;
                Ok(())
            }
            M::Cmpxchg8b | M::Cmpxchg16b => {
                let half = if m == M::Cmpxchg16b { 8 } else { 4 };
                if (half == 8 && !self.feature(1, 0, 2, 13))
                    || (half == 4 && !self.feature(1, 0, 3, 8))
                {
                    return Err(exc::ud());
                }
                let off = self.ea(ins, asz);
                if half == 8 && off & 15 != 0 {
                    return Err(exc::gp(0));
                }
                let lin = self.mem_lin(ins, asz, half * 2)?;
                self.writable(Self::mem_seg(ins))?;
                let user = self.user();
                let lo = self.read_lin(mem, lin, half, user)?;
                let hi = self.read_lin(mem, lin.wrapping_add(half as u64), half, user)?;
                let hm = mask(half);
                if lo == self.gpr[0] & hm && hi == self.gpr[2] & hm {
                    self.probe_write(mem, lin, half * 2, user)?;
                    self.write_lin(mem, lin, half, self.gpr[3], user)?;
                    self.write_lin(mem, lin.wrapping_add(half as u64), half, self.gpr[1], user)?;
                    self.flags |= ZF;
                } else {
                    self.probe_write(mem, lin, half * 2, user)?;
                    self.write_lin(mem, lin, half, lo, user)?;
                    self.write_lin(mem, lin.wrapping_add(half as u64), half, hi, user)?;
                    self.gpr[0] = lo;
                    self.gpr[2] = hi;
                    self.flags &= !ZF;
                }
                Ok(())
            }
            M::Cbw => self.ext_acc(1, 2, false),
            M::Cwde => self.ext_acc(2, 4, false),
            M::Cdqe => self.ext_acc(4, 8, false),
            M::Cwd => self.ext_acc(2, 2, true),
            M::Cdq => self.ext_acc(4, 4, true),
            M::Cqo => self.ext_acc(8, 8, true),
            M::Push => {
                let size = Self::stack_op_size(ins);
                let v = match ins.op_kind(0) {
                    OpKind::Register => self.get_reg(ins.op0_register()),
                    OpKind::Memory => self.src(mem, ins, asz, 0, size)?,
                    _ => ins.immediate(0),
                };
                self.push(mem, v, size)
            }
            M::Pop => self.pop_op(mem, ins, asz),
            M::Pushf | M::Pushfd | M::Pushfq => {
                let size = Self::stack_op_size(ins);
                self.push(mem, self.flags & !(VM | RF), size)
            }
            M::Popf | M::Popfd | M::Popfq => {
                let size = Self::stack_op_size(ins);
                let v = self.pop(mem, size)?;
                self.write_flags(v, size);
                Ok(())
            }
            M::Pusha | M::Pushad => {
                let size = Self::stack_op_size(ins) / 8;
                let sp_size = self.sp_size();
                let old = self.gpr;
                let base = old[4];
                let lin = self.seg_lin(
                    SS,
                    base.wrapping_sub(8 * size as u64) & mask(sp_size),
                    8 * size,
                )?;
                let user = self.user();
                self.probe_write(mem, lin, 8 * size, user)?;
                for v in old.iter().take(8) {
                    self.push(mem, *v, size)?;
                }
                Ok(())
            }
            M::Popa | M::Popad => {
                let size = Self::stack_op_size(ins) / 8;
                let mut vals = [0u64; 8];
                for (i, v) in vals.iter_mut().enumerate() {
                    *v = self.peek(mem, (i * size) as u64, size)?;
                }
                let regs: [Register; 8] = if size == 2 {
                    [
                        Register::DI,
                        Register::SI,
                        Register::BP,
                        Register::None,
                        Register::BX,
                        Register::DX,
                        Register::CX,
                        Register::AX,
                    ]
                } else {
                    [
                        Register::EDI,
                        Register::ESI,
                        Register::EBP,
                        Register::None,
                        Register::EBX,
                        Register::EDX,
                        Register::ECX,
                        Register::EAX,
                    ]
                };
                for (r, v) in regs.iter().zip(vals) {
                    self.set_reg(*r, v);
                }
                self.add_sp(8 * size as u64);
                Ok(())
            }
            M::Enter => self.enter(mem, ins),
            M::Leave => {
                let size = match ins.code() {
                    Code::Leavew => 2,
                    Code::Leaved => 4,
                    _ => 8,
                };
                let sps = self.sp_size();
                let old_sp = self.gpr[4];
                self.set_sp(self.gpr[5] & mask(sps));
                match self.pop(mem, size) {
                    Ok(v) => {
                        let bp = [Register::BP, Register::EBP, Register::RBP]
                            [size.trailing_zeros() as usize - 1];
                        self.set_reg(bp, v);
                        Ok(())
                    }
                    Err(f) => {
                        self.gpr[4] = old_sp;
                        Err(f)
                    }
                }
            }
            M::Xlatb => {
                let v = self.src(mem, ins, asz, 0, 1)?;
                self.set_reg(Register::AL, v);
                Ok(())
            }
            M::Lds | M::Les | M::Lss | M::Lfs | M::Lgs => {
                let size = Self::op_size(ins, 0);
                let lin = self.mem_lin(ins, asz, size + 2)?;
                let user = self.user();
                let off = self.read_lin(mem, lin, size, user)?;
                let sel = self.read_lin(mem, lin.wrapping_add(size as u64), 2, user)? as u16;
                let s = match m {
                    M::Lds => 3,
                    M::Les => 0,
                    M::Lss => SS,
                    M::Lfs => 4,
                    _ => 5,
                };
                self.load_seg(mem, s, sel)?;
                self.set_reg(ins.op0_register(), off);
                Ok(())
            }
            _ => self.exec_flow(mem, ins, asz, m),
        }
    }

    /// CBW/CWDE/CDQE (`into_dx` false: sign-extend the accumulator in place) and CWD/CDQ/CQO
    /// (fill rDX with the accumulator's sign).
    fn ext_acc(&mut self, from: usize, to: usize, into_dx: bool) -> R<()> {
        let s = sext(self.gpr[0] & mask(from), from);
        let (idx, v) = if into_dx {
            (2, if s >> 63 != 0 { u64::MAX } else { 0 })
        } else {
            (0, s)
        };
        let v = v & mask(to);
        self.gpr[idx] = if to == 2 {
            (self.gpr[idx] & !0xffff) | v
        } else {
            v
        };
        Ok(())
    }

    /// MOV in all its forms but control/debug registers (in `system`).
    fn mov(&mut self, mem: &mut dyn GuestMemory, ins: &Instruction, asz: usize) -> R<()> {
        let r0 = ins.op0_register();
        let r1 = ins.op1_register();
        if ins.op_kind(0) == OpKind::Register
            && (reg_size(r0) == 0 || (ins.op_kind(1) == OpKind::Register && reg_size(r1) == 0))
        {
            return self.mov_crdr(ins);
        }
        if ins.op_kind(0) == OpKind::Register
            && let Some(s) = sreg(r0)
        {
            if s == CS {
                return Err(exc::ud());
            }
            let sel = self.src(mem, ins, asz, 1, 2)? as u16;
            self.load_seg(mem, s, sel)?;
            if s == SS {
                self.shadow = true;
            }
            return Ok(());
        }
        let size = Self::op_size(ins, 0);
        if ins.op_kind(1) == OpKind::Register && sreg(r1).is_some() {
            let v = self.get_reg(r1);
            let l = self.loc(ins, asz, 0, size)?;
            return self.wr(mem, l, size, v);
        }
        let v = self.src(mem, ins, asz, 1, size)?;
        let l = self.loc(ins, asz, 0, size)?;
        self.wr(mem, l, size, v)
    }

    /// POP r/m or Sreg. A memory destination's address uses the incremented stack pointer.
    fn pop_op(&mut self, mem: &mut dyn GuestMemory, ins: &Instruction, asz: usize) -> R<()> {
        let size = Self::stack_op_size(ins);
        let v = self.peek(mem, 0, size)?;
        let old_sp = self.gpr[4];
        if ins.op_kind(0) == OpKind::Register {
            let r = ins.op0_register();
            if let Some(s) = sreg(r) {
                self.load_seg(mem, s, v as u16)?;
                self.add_sp(size as u64);
                if s == SS {
                    self.shadow = true;
                }
            } else {
                self.add_sp(size as u64);
                self.set_reg(r, v);
            }
            return Ok(());
        }
        self.add_sp(size as u64);
        let res = self
            .loc(ins, asz, 0, size)
            .and_then(|l| self.wr(mem, l, size, v));
        if res.is_err() {
            self.gpr[4] = old_sp;
        }
        res
    }

    /// POPF/IRET flag update: which bits may change depends on CPL and IOPL.
    pub(crate) fn write_flags(&mut self, v: u64, size: usize) {
        let mut writable = CF | PF | AF | ZF | SF | TF | DF | OF | NT | AC | ID;
        let iopl = (self.flags & IOPL) >> 12;
        if u64::from(self.cpl) <= iopl {
            writable |= IF;
        }
        if self.cpl == 0 {
            writable |= IOPL;
        }
        writable &= mask(size);
        self.flags = (self.flags & !writable) | (v & writable) | RESERVED1;
    }

    /// ENTER imm16, imm8.
    fn enter(&mut self, mem: &mut dyn GuestMemory, ins: &Instruction) -> R<()> {
        let size = match ins.code() {
            Code::Enterw_imm16_imm8 => 2,
            Code::Enterd_imm16_imm8 => 4,
            _ => 8,
        };
        let alloc = u64::from(ins.immediate16());
        let level = u64::from(ins.immediate8_2nd() & 31);
        let saved = (self.gpr[4], self.gpr[5]);
        let sps = self.sp_size();
        let res = (|| {
            self.push(mem, self.gpr[5], size)?;
            let frame = self.gpr[4] & mask(sps);
            let mut bp = self.gpr[5];
            for _ in 1..level {
                bp = bp.wrapping_sub(size as u64);
                let lin = self.seg_lin(SS, bp & mask(sps), size)?;
                let user = self.user();
                let v = self.read_lin(mem, lin, size, user)?;
                self.push(mem, v, size)?;
            }
            if level > 0 {
                self.push(mem, frame, size)?;
            }
            let bpr =
                [Register::BP, Register::EBP, Register::RBP][size.trailing_zeros() as usize - 1];
            self.set_reg(bpr, frame);
            let sp = self.gpr[4].wrapping_sub(alloc) & mask(sps);
            let lin = self.seg_lin(SS, sp, 1)?;
            let user = self.user();
            self.probe_write(mem, lin, 1, user)?;
            self.set_sp(sp);
            Ok(())
        })();
        if res.is_err() {
            (self.gpr[4], self.gpr[5]) = saved;
        }
        res
    }
}
