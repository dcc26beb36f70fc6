//! Operand handling for the shift, multiply/divide, bit-test and bit-scan groups; the
//! arithmetic itself is in `bits`.

use crate::alu::flags::*;
use crate::alu::{mask, sext, szp};
use crate::bits::{ShiftOp, div, mul, shift, shiftd};
use crate::exec::Loc;
use crate::state::Vcpu;
use crate::{Fault, GuestMemory, R, exc};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

impl Vcpu {
    /// ROL..SAR `op0, count`.
    pub(crate) fn shift_op(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        op: ShiftOp,
    ) -> R<()> {
        let size = Self::op_size(ins, 0);
        let l = self.loc(ins, asz, 0, size)?;
        let a = self.rd(mem, l, size)?;
        let count = self.src(mem, ins, asz, 1, 1)? & 0xff;
        let (r, f) = shift(op, a, count, size, self.flags);
        self.wr(mem, l, size, r)?;
        self.flags = f;
        Ok(())
    }

    /// SHLD/SHRD `op0, reg, count`.
    pub(crate) fn shiftd_op(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        left: bool,
    ) -> R<()> {
        let size = Self::op_size(ins, 0);
        let l = self.loc(ins, asz, 0, size)?;
        let a = self.rd(mem, l, size)?;
        let b = self.get_reg(ins.op1_register());
        let count = self.src(mem, ins, asz, 2, 1)? & 0xff;
        let (r, f) = shiftd(left, a, b, count, size, self.flags);
        self.wr(mem, l, size, r)?;
        self.flags = f;
        Ok(())
    }

    /// MUL, IMUL (one, two and three operands), DIV, IDIV.
    pub(crate) fn muldiv(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        m: Mnemonic,
    ) -> R<()> {
        let size = Self::op_size(ins, 0);
        if ins.op_count() >= 2 {
            // IMUL r, r/m [, imm]
            let (a, b) = if ins.op_count() == 3 {
                (self.src(mem, ins, asz, 1, size)?, ins.immediate(2))
            } else {
                (
                    self.get_reg(ins.op0_register()),
                    self.src(mem, ins, asz, 1, size)?,
                )
            };
            let (lo, _, f) = mul(true, a, b, size, self.flags);
            self.set_reg(ins.op0_register(), lo);
            self.flags = f;
            return Ok(());
        }
        let v = self.src(mem, ins, asz, 0, size)?;
        let (hi_in, lo_in) = if size == 1 {
            ((self.gpr[0] >> 8) & 0xff, self.gpr[0] & 0xff)
        } else {
            (self.gpr[2] & mask(size), self.gpr[0] & mask(size))
        };
        let (lo, hi) = match m {
            Mnemonic::Mul | Mnemonic::Imul => {
                let (lo, hi, f) = mul(m == Mnemonic::Imul, lo_in, v, size, self.flags);
                self.flags = f;
                (lo, hi)
            }
            _ => match div(m == Mnemonic::Idiv, hi_in, lo_in, v, size) {
                Some(qr) => qr,
                None => return Err(Fault::Exc(exc::DE, None)),
            },
        };
        match size {
            1 => self.gpr[0] = (self.gpr[0] & !0xffff) | (hi << 8) | lo,
            2 => {
                self.set_reg(Register::AX, lo);
                self.set_reg(Register::DX, hi);
            }
            4 => {
                self.set_reg(Register::EAX, lo);
                self.set_reg(Register::EDX, hi);
            }
            _ => {
                self.gpr[0] = lo;
                self.gpr[2] = hi;
            }
        }
        Ok(())
    }

    /// BT/BTS/BTR/BTC; a register bit offset may address memory outside the operand.
    pub(crate) fn bit_test(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        m: Mnemonic,
    ) -> R<()> {
        let size = Self::op_size(ins, 0);
        let bits = (size * 8) as u64;
        let raw = self.src(mem, ins, asz, 1, size)?;
        let l = match ins.op_kind(0) {
            OpKind::Register => Loc::Reg(ins.op0_register()),
            _ => {
                let mut off = self.ea(ins, asz);
                if ins.op_kind(1) == OpKind::Register {
                    let s = sext(raw, size) as i64;
                    let delta = (s >> bits.trailing_zeros()) * size as i64;
                    off = off.wrapping_add(delta as u64) & mask(asz);
                }
                let lin = self.seg_lin(Self::mem_seg(ins), off, size)?;
                if m != Mnemonic::Bt {
                    self.writable(Self::mem_seg(ins))?;
                }
                Loc::Mem(lin)
            }
        };
        let bit = raw & (bits - 1);
        let v = self.rd(mem, l, size)?;
        let cf = (v >> bit) & 1;
        let nv = match m {
            Mnemonic::Bts => v | (1 << bit),
            Mnemonic::Btr => v & !(1 << bit),
            Mnemonic::Btc => v ^ (1 << bit),
            _ => v,
        };
        if m != Mnemonic::Bt {
            self.wr(mem, l, size, nv)?;
        }
        self.flags = (self.flags & !CF) | cf;
        Ok(())
    }

    /// BSF/BSR/TZCNT/LZCNT/POPCNT. TZCNT and LZCNT run as BSF and BSR when CPUID does not
    /// offer BMI1/ABM, as CPUs without them ignore the F3 prefix.
    pub(crate) fn bit_scan(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        m: Mnemonic,
    ) -> R<()> {
        if m == Mnemonic::Popcnt && !self.feature(1, 0, 2, 23) {
            return Err(exc::ud());
        }
        let size = Self::op_size(ins, 0);
        let bits = (size * 8) as u64;
        let v = self.src(mem, ins, asz, 1, size)? & mask(size);
        let r = ins.op0_register();
        let m = match m {
            Mnemonic::Tzcnt if !self.feature(7, 0, 1, 3) => Mnemonic::Bsf,
            Mnemonic::Lzcnt if !self.feature(0x8000_0001, 0, 2, 5) => Mnemonic::Bsr,
            m => m,
        };
        match m {
            Mnemonic::Bsf | Mnemonic::Bsr => {
                if v == 0 {
                    self.flags |= ZF;
                } else {
                    let idx = if m == Mnemonic::Bsf {
                        u64::from(v.trailing_zeros())
                    } else {
                        63 - u64::from(v.leading_zeros())
                    };
                    self.set_reg(r, idx);
                    self.flags &= !ZF;
                }
            }
            Mnemonic::Popcnt => {
                let c = u64::from(v.count_ones());
                self.set_reg(r, c);
                self.flags &= !ARITH;
                if v == 0 {
                    self.flags |= ZF;
                }
            }
            _ => {
                let c = if m == Mnemonic::Tzcnt {
                    u64::from(v.trailing_zeros()).min(bits)
                } else {
                    u64::from(v.leading_zeros()) - (64 - bits)
                };
                self.set_reg(r, c);
                self.flags &= !(CF | ZF);
                if v == 0 {
                    self.flags |= CF;
                }
                if c == 0 {
                    self.flags |= ZF;
                }
            }
        }
        Ok(())
    }

    /// AAM/AAD imm8 (legacy modes only).
    pub(crate) fn aam_aad(&mut self, ins: &Instruction, aam: bool) -> R<()> {
        if self.long64() {
            return Err(exc::ud());
        }
        let base = u64::from(ins.immediate8());
        let al = self.gpr[0] & 0xff;
        let ah = (self.gpr[0] >> 8) & 0xff;
        let (nah, nal) = if aam {
            if base == 0 {
                return Err(Fault::Exc(exc::DE, None));
            }
            (al / base, al % base)
        } else {
            (0, (al + ah * base) & 0xff)
        };
        self.gpr[0] = (self.gpr[0] & !0xffff) | (nah << 8) | nal;
        self.flags = (self.flags & !ARITH) | szp(nal, 1);
        Ok(())
    }
}
