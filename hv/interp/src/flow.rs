//! Control transfers: near and far JMP/CALL/RET, LOOP and JCXZ, INT n/INT3/INTO/INT1 and
//! IRET (SDM Vol. 2 per instruction; Vol. 3A 5.8 for privilege-level changes on far returns).

use crate::alu::flags::*;
use crate::alu::mask;
use crate::intr::Event;
use crate::state::{CS, SS, Vcpu, efer};
use crate::{GuestMemory, R, exc};
use hv::abi::x86::KvmSegment;
use iced_x86::{Instruction, Mnemonic, OpKind};

impl Vcpu {
    /// Control flow; anything else goes on to `system`.
    pub(crate) fn exec_flow(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        m: Mnemonic,
    ) -> R<()> {
        use Mnemonic as M;
        match m {
            M::Jmp => match ins.op_kind(0) {
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                    self.rip = ins.near_branch_target();
                    Ok(())
                }
                OpKind::FarBranch16 | OpKind::FarBranch32 => {
                    let off = if ins.op_kind(0) == OpKind::FarBranch16 {
                        u64::from(ins.far_branch16())
                    } else {
                        u64::from(ins.far_branch32())
                    };
                    self.far_jump(mem, ins.far_branch_selector(), off)
                }
                OpKind::Register => {
                    let size = Self::op_size(ins, 0);
                    self.rip = self.get_reg(ins.op0_register()) & mask(size);
                    Ok(())
                }
                _ => {
                    if Self::is_far_ptr(ins) {
                        let (sel, off) = self.read_far_ptr(mem, ins, asz)?;
                        return self.far_jump(mem, sel, off);
                    }
                    let size = Self::op_size(ins, 0);
                    self.rip = self.src(mem, ins, asz, 0, size)? & mask(size);
                    Ok(())
                }
            },
            M::Call => match ins.op_kind(0) {
                OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
                    let size = Self::stack_op_size(ins);
                    self.push(mem, self.rip, size)?;
                    self.rip = ins.near_branch_target();
                    Ok(())
                }
                OpKind::FarBranch16 | OpKind::FarBranch32 => {
                    let (off, size) = if ins.op_kind(0) == OpKind::FarBranch16 {
                        (u64::from(ins.far_branch16()), 2)
                    } else {
                        (u64::from(ins.far_branch32()), 4)
                    };
                    self.far_call(mem, ins.far_branch_selector(), off, size)
                }
                OpKind::Register => {
                    let size = Self::op_size(ins, 0);
                    let t = self.get_reg(ins.op0_register());
                    self.push(mem, self.rip, size)?;
                    self.rip = t & mask(size);
                    Ok(())
                }
                _ => {
                    if Self::is_far_ptr(ins) {
                        let (sel, off) = self.read_far_ptr(mem, ins, asz)?;
                        let size = ins.memory_size().size() - 2;
                        return self.far_call(mem, sel, off, size);
                    }
                    let size = Self::op_size(ins, 0);
                    let t = self.src(mem, ins, asz, 0, size)?;
                    self.push(mem, self.rip, size)?;
                    self.rip = t & mask(size);
                    Ok(())
                }
            },
            M::Ret => {
                let size = Self::ret_size(ins, self.code_bits());
                let t = self.pop(mem, size)?;
                if ins.op_count() == 1 {
                    self.add_sp(u64::from(ins.immediate16()));
                }
                self.rip = t;
                Ok(())
            }
            M::Retf => self.far_ret(mem, ins),
            M::Loop | M::Loope | M::Loopne => {
                let c = self.gpr[1].wrapping_sub(1) & mask(asz);
                self.gpr[1] = (self.gpr[1] & !mask(asz)) | c;
                if asz == 4 {
                    self.gpr[1] = c;
                }
                let z = self.flags & ZF != 0;
                let take = c != 0
                    && match m {
                        M::Loope => z,
                        M::Loopne => !z,
                        _ => true,
                    };
                if take {
                    self.rip = ins.near_branch_target();
                }
                Ok(())
            }
            M::Jcxz | M::Jecxz | M::Jrcxz => {
                if self.gpr[1] & mask(asz) == 0 {
                    self.rip = ins.near_branch_target();
                }
                Ok(())
            }
            M::Int => self.deliver(mem, ins.immediate8(), None, Event::Soft),
            M::Int3 => self.deliver(mem, exc::BP, None, Event::Soft),
            M::Into => {
                if self.long64() {
                    return Err(exc::ud());
                }
                if self.flags & OF != 0 {
                    self.deliver(mem, exc::OF, None, Event::Soft)?;
                }
                Ok(())
            }
            M::Int1 => self.deliver(mem, exc::DB, None, Event::Icebp),
            M::Iret | M::Iretd | M::Iretq => self.iret(mem, ins),
            _ => self.exec_system(mem, ins, asz, m),
        }
    }

    /// Size of a near RET's pop.
    fn ret_size(ins: &Instruction, bits: u32) -> usize {
        let n = Self::stack_op_size(ins);
        if n == 0 {
            (bits / 8) as usize
        } else if ins.op_count() == 1 {
            // RET imm16: the increment includes the immediate.
            n - usize::from(ins.immediate16())
        } else {
            n
        }
    }

    /// The memory operand is a far pointer (m16:16/32/64).
    fn is_far_ptr(ins: &Instruction) -> bool {
        use iced_x86::MemorySize as S;
        matches!(ins.memory_size(), S::SegPtr16 | S::SegPtr32 | S::SegPtr64)
    }

    /// Reads a far pointer operand: (selector, offset).
    fn read_far_ptr(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
    ) -> R<(u16, u64)> {
        let total = ins.memory_size().size();
        let osz = total - 2;
        let lin = self.mem_lin(ins, asz, total)?;
        let user = self.user();
        let off = self.read_lin(mem, lin, osz, user)?;
        let sel = self.read_lin(mem, lin.wrapping_add(osz as u64), 2, user)? as u16;
        Ok((sel, off))
    }

    /// Far JMP to `sel:off` at the current privilege level.
    fn far_jump(&mut self, mem: &mut dyn GuestMemory, sel: u16, off: u64) -> R<()> {
        let cs = self.code_target(mem, sel)?;
        self.check_target(&cs, off)?;
        self.set_cs(cs);
        self.rip = off;
        Ok(())
    }

    /// #GP(0) if `off` is outside `cs` (or non-canonical for 64-bit code).
    fn check_target(&self, cs: &KvmSegment, off: u64) -> R<()> {
        let long = self.efer & efer::LMA != 0 && cs.l != 0;
        if long {
            if crate::alu::sext(off, 6) != off {
                return Err(exc::gp(0));
            }
        } else if off > u64::from(cs.limit) {
            return Err(exc::gp(0));
        }
        Ok(())
    }

    /// Far CALL to `sel:off` pushing CS and the return address as `size`-byte values.
    fn far_call(&mut self, mem: &mut dyn GuestMemory, sel: u16, off: u64, size: usize) -> R<()> {
        let cs = self.code_target(mem, sel)?;
        self.check_target(&cs, off)?;
        let sps = self.sp_size();
        let low = self.gpr[4].wrapping_sub(2 * size as u64) & mask(sps);
        let lin = self.seg_lin(SS, low, 2 * size)?;
        let user = self.user();
        self.probe_write(mem, lin, 2 * size, user)?;
        self.push(mem, u64::from(self.seg[CS].selector), size)?;
        self.push(mem, self.rip, size)?;
        self.set_cs(cs);
        self.rip = off;
        Ok(())
    }

    /// Far RET [imm16], with a return to an outer privilege level popping SS:SP too.
    fn far_ret(&mut self, mem: &mut dyn GuestMemory, ins: &Instruction) -> R<()> {
        let imm = if ins.op_count() == 1 {
            u64::from(ins.immediate16())
        } else {
            0
        };
        let size = ((ins.stack_pointer_increment().unsigned_abs() as u64 - imm) / 2) as usize;
        let off = self.peek(mem, 0, size)?;
        let sel = self.peek(mem, size as u64, size)? as u16;
        if !self.pe() || self.flags & VM != 0 {
            let cs = self.code_target(mem, sel)?;
            self.set_cs(cs);
            self.rip = off & mask(size);
            self.add_sp(2 * size as u64 + imm);
            return Ok(());
        }
        let cs = self.code_target_rpl(mem, sel, self.cpl, true)?;
        self.check_target(&cs, off)?;
        let rpl = (sel & 3) as u8;
        if rpl == self.cpl {
            self.set_cs(cs);
            self.rip = off;
            self.add_sp(2 * size as u64 + imm);
            return Ok(());
        }
        let sp = self.peek(mem, 2 * size as u64 + imm, size)?;
        let ss = self.peek(mem, 3 * size as u64 + imm, size)? as u16;
        self.outer_return(mem, cs, off, ss, sp, size)?;
        self.add_sp(imm);
        Ok(())
    }

    /// Completes a return to outer privilege: loads CS, SS:SP at the new CPL and nulls data
    /// segments the new CPL may not use.
    fn outer_return(
        &mut self,
        mem: &mut dyn GuestMemory,
        cs: KvmSegment,
        off: u64,
        ss: u16,
        sp: u64,
        size: usize,
    ) -> R<()> {
        let saved = (self.cpl, self.seg, self.gpr[4]);
        self.cpl = (cs.selector & 3) as u8;
        let long = self.efer & efer::LMA != 0;
        let old_cs = self.seg[CS];
        self.seg[CS] = cs;
        if let Err(f) = self.load_seg(mem, SS, ss) {
            (self.cpl, self.seg, self.gpr[4]) = saved;
            self.seg[CS] = old_cs;
            return Err(f);
        }
        self.rip = off;
        if long || size == 8 {
            self.gpr[4] = sp;
        } else {
            self.set_sp(sp);
        }
        for s in [0usize, 3, 4, 5] {
            let sg = self.seg[s];
            let code_conforming = sg.type_ & 0xc == 0xc;
            if sg.unusable == 0 && sg.s != 0 && !code_conforming && sg.dpl < self.cpl {
                self.seg[s].unusable = 1;
                self.seg[s].present = 0;
                self.seg[s].selector = 0;
            }
        }
        Ok(())
    }

    /// IRET/IRETD/IRETQ.
    fn iret(&mut self, mem: &mut dyn GuestMemory, ins: &Instruction) -> R<()> {
        self.new_epoch();
        let size = match ins.code() {
            iced_x86::Code::Iretw => 2,
            iced_x86::Code::Iretd => 4,
            _ => 8,
        };
        let ip = self.peek(mem, 0, size)?;
        let sel = self.peek(mem, size as u64, size)? as u16;
        let fl = self.peek(mem, 2 * size as u64, size)?;
        if !self.pe() {
            let cs = self.code_target(mem, sel)?;
            self.set_cs(cs);
            self.rip = ip & mask(size);
            self.add_sp(3 * size as u64);
            self.write_flags(fl, size);
            return Ok(());
        }
        if self.flags & NT != 0 && self.efer & efer::LMA == 0 {
            // Task return: not supported.
            return Err(self.internal());
        }
        if fl & VM != 0 && self.cpl == 0 && size == 4 && self.efer & efer::LMA == 0 {
            return Err(self.internal());
        }
        let cs = self.code_target_rpl(mem, sel, self.cpl, true)?;
        self.check_target(&cs, ip)?;
        let rpl = (sel & 3) as u8;
        let long = self.efer & efer::LMA != 0;
        // In IA-32e mode IRET always pops SS:RSP, even to the same privilege level.
        if rpl == self.cpl && !long {
            self.write_flags(fl, size);
            self.set_cs(cs);
            self.rip = ip;
            self.add_sp(3 * size as u64);
            return Ok(());
        }
        let sp = self.peek(mem, 3 * size as u64, size)?;
        let ss = self.peek(mem, 4 * size as u64, size)? as u16;
        let old_flags = self.flags;
        self.write_flags(fl, size);
        if let Err(f) = self.outer_return(mem, cs, ip, ss, sp, size) {
            self.flags = old_flags;
            return Err(f);
        }
        Ok(())
    }
}
