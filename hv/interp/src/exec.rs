//! The run loop and one-instruction dispatch: interrupt checks, fetch through the decode
//! cache, operand access, and the `match` from mnemonic to implementation.

use crate::alu::flags::*;
use crate::alu::{AluOp, alu, cond, incdec, mask, szp};
use crate::bits::ShiftOp;
use crate::intr::Event;
use crate::state::Vcpu;
use crate::{Exit, Fault, GuestMemory, R, exc};
use iced_x86::{Instruction, Mnemonic, OpKind, Register};

/// Where an operand lives once its address is computed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Loc {
    Reg(Register),
    /// A linear address.
    Mem(u64),
}

/// Size in bytes of general register `r` (0 for other registers).
#[inline(always)]
pub(crate) fn reg_size(r: Register) -> usize {
    match r as u32 {
        1..=20 => 1,
        21..=36 => 2,
        37..=52 => 4,
        53..=68 => 8,
        71..=76 => 2,
        _ => 0,
    }
}

impl Vcpu {
    /// Value of general or segment register `r`.
    #[inline(always)]
    pub(crate) fn get_reg(&self, r: Register) -> u64 {
        let n = r as usize;
        match n {
            1..=4 => self.gpr[n - 1] & 0xff,
            5..=8 => (self.gpr[n - 5] >> 8) & 0xff,
            9..=20 => self.gpr[n - 5] & 0xff,
            21..=36 => self.gpr[n - 21] & 0xffff,
            37..=52 => self.gpr[n - 37] & 0xffff_ffff,
            53..=68 => self.gpr[n - 53],
            71..=76 => u64::from(self.seg[n - 71].selector),
            _ => 0,
        }
    }

    /// Writes general register `r` as hardware does: 8/16-bit writes merge, 32-bit writes
    /// zero the upper half.
    #[inline(always)]
    pub(crate) fn set_reg(&mut self, r: Register, v: u64) {
        let n = r as usize;
        match n {
            1..=4 => self.gpr[n - 1] = (self.gpr[n - 1] & !0xff) | (v & 0xff),
            5..=8 => self.gpr[n - 5] = (self.gpr[n - 5] & !0xff00) | ((v & 0xff) << 8),
            9..=20 => self.gpr[n - 5] = (self.gpr[n - 5] & !0xff) | (v & 0xff),
            21..=36 => self.gpr[n - 21] = (self.gpr[n - 21] & !0xffff) | (v & 0xffff),
            37..=52 => self.gpr[n - 37] = v & 0xffff_ffff,
            53..=68 => self.gpr[n - 53] = v,
            _ => {}
        }
    }

    /// Effective address (offset in its segment) of the memory operand.
    #[inline(always)]
    pub(crate) fn ea(&self, ins: &Instruction, asz: usize) -> u64 {
        let base = ins.memory_base();
        if base == Register::RIP || base == Register::EIP {
            return ins.memory_displacement64() & mask(asz);
        }
        let mut a = ins.memory_displacement64();
        if base != Register::None {
            a = a.wrapping_add(self.get_reg(base));
        }
        let idx = ins.memory_index();
        if idx != Register::None {
            a = a.wrapping_add(
                self.get_reg(idx)
                    .wrapping_mul(u64::from(ins.memory_index_scale())),
            );
        }
        a & mask(asz)
    }

    /// Segment register number of the memory operand.
    #[inline(always)]
    pub(crate) fn mem_seg(ins: &Instruction) -> usize {
        (ins.memory_segment() as usize).wrapping_sub(Register::ES as usize) % 6
    }

    /// Linear address of the memory operand for an access of `size` bytes.
    #[inline(always)]
    pub(crate) fn mem_lin(&self, ins: &Instruction, asz: usize, size: usize) -> R<u64> {
        let off = self.ea(ins, asz);
        self.seg_lin(Self::mem_seg(ins), off, size)
    }

    /// Operand `i` as a location (register or memory) that will be written.
    #[inline(always)]
    pub(crate) fn loc(&self, ins: &Instruction, asz: usize, i: u32, size: usize) -> R<Loc> {
        match ins.op_kind(i) {
            OpKind::Register => Ok(Loc::Reg(ins.op_register(i))),
            _ => {
                let lin = self.mem_lin(ins, asz, size)?;
                self.writable(Self::mem_seg(ins))?;
                Ok(Loc::Mem(lin))
            }
        }
    }

    /// Operand `i` as a location that is only read (CMP's destination).
    #[inline(always)]
    pub(crate) fn loc_r(&self, ins: &Instruction, asz: usize, i: u32, size: usize) -> R<Loc> {
        match ins.op_kind(i) {
            OpKind::Register => Ok(Loc::Reg(ins.op_register(i))),
            _ => Ok(Loc::Mem(self.mem_lin(ins, asz, size)?)),
        }
    }

    /// Reads `size` bytes at `l`.
    #[inline(always)]
    pub(crate) fn rd(&mut self, mem: &mut dyn GuestMemory, l: Loc, size: usize) -> R<u64> {
        match l {
            Loc::Reg(r) => Ok(self.get_reg(r)),
            Loc::Mem(lin) => {
                let user = self.user();
                self.read_lin(mem, lin, size, user)
            }
        }
    }

    /// Writes `size` bytes at `l`.
    #[inline(always)]
    pub(crate) fn wr(&mut self, mem: &mut dyn GuestMemory, l: Loc, size: usize, v: u64) -> R<()> {
        match l {
            Loc::Reg(r) => {
                self.set_reg(r, v);
                Ok(())
            }
            Loc::Mem(lin) => {
                let user = self.user();
                self.write_lin(mem, lin, size, v, user)
            }
        }
    }

    /// Reads source operand `i` (register, immediate or memory) of `size` bytes.
    #[inline(always)]
    pub(crate) fn src(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        i: u32,
        size: usize,
    ) -> R<u64> {
        match ins.op_kind(i) {
            OpKind::Register => Ok(self.get_reg(ins.op_register(i))),
            OpKind::Memory => {
                let lin = self.mem_lin(ins, asz, size)?;
                let user = self.user();
                self.read_lin(mem, lin, size, user)
            }
            _ => Ok(ins.immediate(i)),
        }
    }

    /// Size in bytes of operand `i`.
    #[inline(always)]
    pub(crate) fn op_size(ins: &Instruction, i: u32) -> usize {
        match ins.op_kind(i) {
            OpKind::Register => reg_size(ins.op_register(i)),
            OpKind::Immediate8 | OpKind::Immediate8_2nd => 1,
            OpKind::Immediate16 | OpKind::Immediate8to16 => 2,
            OpKind::Immediate32 | OpKind::Immediate8to32 => 4,
            OpKind::Immediate64 | OpKind::Immediate8to64 | OpKind::Immediate32to64 => 8,
            _ => ins.memory_size().size(),
        }
    }

    /// Operand size of a stack operation or near branch that has no sized operand: from the
    /// instruction's stack pointer increment.
    pub(crate) fn stack_op_size(ins: &Instruction) -> usize {
        ins.stack_pointer_increment().unsigned_abs() as usize
    }

    /// The run loop behind [`Vcpu::run`].
    pub(crate) fn run_loop(
        &mut self,
        mem: &mut dyn GuestMemory,
        budget: u64,
        irq_window: bool,
    ) -> Exit {
        if let Some(e) = self.exits.pop_front() {
            return e;
        }
        if self.flags & VM != 0 {
            return Exit::Internal {
                suberror: crate::INTERNAL_ERROR_EMULATION,
            };
        }
        self.flush_tlb();
        let mut left = budget;
        loop {
            if left == 0 {
                return Exit::Budget;
            }
            if !self.shadow && self.pending_read.is_none() && self.flags & IF != 0 {
                if let Some(v) = self.irq.take() {
                    if let Err(f) = self.deliver(mem, v, None, Event::External) {
                        self.fault(mem, f);
                    }
                    if let Some(e) = self.exits.pop_front() {
                        return e;
                    }
                } else if irq_window {
                    return Exit::IrqWindowOpen;
                }
            }
            self.shadow = false;
            // Classified instructions run back to back here: they change neither the mode,
            // the CPL nor IF, so the checks above stay true until a general one.
            let (bits, user) = (self.code_bits(), self.user());
            // After one instruction an interrupt may become deliverable (the shadow ends) or
            // single-stepping needs a #DB: then the checks above must run again.
            let one = self.flags & IF != 0 && (self.irq.is_some() || irq_window);
            let fast_ok = self.flags & TF == 0;
            let mut faulted = false;
            let mut ran = false;
            while fast_ok && let Some(slot) = self.fetch_quick(bits, user) {
                if ran && one {
                    break;
                }
                ran = true;
                let (fast, next) = self.cached_fast(slot);
                if matches!(fast, crate::fast::Fast::General) {
                    break;
                }
                let start = self.rip;
                left -= 1;
                self.retired += 1;
                self.rip = next;
                if let Err(f) = self.exec_fast(mem, fast) {
                    self.rip = start;
                    self.fault(mem, f);
                    faulted = true;
                } else if self.completed_read.is_some() {
                    self.completed_read = None;
                }
                if !self.exits.is_empty()
                    && let Some(e) = self.exits.pop_front()
                {
                    return e;
                }
                if left == 0 {
                    return Exit::Budget;
                }
                if faulted {
                    break;
                }
            }
            if faulted || (ran && one) {
                continue;
            }
            let start = self.rip;
            let tf = self.flags & TF != 0;
            left -= 1;
            self.retired += 1;
            match self.step(mem, &mut left) {
                Err(f) => {
                    self.rip = start;
                    self.fault(mem, f);
                }
                Ok(()) => {
                    self.completed_read = None;
                    if tf && self.exits.is_empty() {
                        self.single_step_trap(mem);
                    }
                }
            }
            if !self.exits.is_empty()
                && let Some(e) = self.exits.pop_front()
            {
                return e;
            }
        }
    }

    /// The #DB trap after an instruction executed with TF set (DR6.BS).
    fn single_step_trap(&mut self, mem: &mut dyn GuestMemory) {
        self.dr[4] |= 1 << 14;
        if let Err(f) = self.deliver(mem, exc::DB, None, Event::Icebp) {
            self.fault(mem, f);
        }
    }

    /// Handles an instruction's fault: delivers the exception, or leaves it to the exit.
    fn fault(&mut self, mem: &mut dyn GuestMemory, f: Fault) {
        if let Fault::Exc(v, code) = f {
            // Reads completed for this instruction are not reused by the next one.
            self.completed_read = None;
            self.raise(mem, v, code);
        }
    }

    /// Executes the instruction at CS:RIP. `left` is the remaining budget, which REP string
    /// instructions draw from per element.
    #[inline(always)]
    fn step(&mut self, mem: &mut dyn GuestMemory, left: &mut u64) -> R<()> {
        let slot = self.fetch(mem)?;
        let (fast, next) = self.cached_fast(slot);
        self.rip = next;
        if !matches!(fast, crate::fast::Fast::General) {
            return self.exec_fast(mem, fast);
        }
        let (ins, asz) = self.cached(slot);
        self.exec(mem, &ins, asz, left)
    }

    /// Dispatches on the mnemonic.
    fn exec(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        left: &mut u64,
    ) -> R<()> {
        use Mnemonic as M;
        let m = ins.mnemonic();
        match m {
            M::Add => self.alu2(mem, ins, asz, AluOp::Add),
            M::Or => self.alu2(mem, ins, asz, AluOp::Or),
            M::Adc => self.alu2(mem, ins, asz, AluOp::Adc),
            M::Sbb => self.alu2(mem, ins, asz, AluOp::Sbb),
            M::And => self.alu2(mem, ins, asz, AluOp::And),
            M::Sub => self.alu2(mem, ins, asz, AluOp::Sub),
            M::Xor => self.alu2(mem, ins, asz, AluOp::Xor),
            M::Cmp => self.alu2(mem, ins, asz, AluOp::Cmp),
            M::Test => {
                let size = Self::op_size(ins, 0);
                let a = self.src(mem, ins, asz, 0, size)?;
                let b = self.src(mem, ins, asz, 1, size)?;
                self.flags = (self.flags & !ARITH) | szp(a & b, size);
                Ok(())
            }
            M::Inc | M::Dec => {
                let size = Self::op_size(ins, 0);
                let l = self.loc(ins, asz, 0, size)?;
                let a = self.rd(mem, l, size)?;
                let (r, f) = incdec(a, m == M::Dec, size, self.flags);
                self.wr(mem, l, size, r)?;
                self.flags = f;
                Ok(())
            }
            M::Neg => {
                let size = Self::op_size(ins, 0);
                let l = self.loc(ins, asz, 0, size)?;
                let a = self.rd(mem, l, size)?;
                let (r, f) = crate::alu::sub(0, a, 0, size);
                self.wr(mem, l, size, r)?;
                self.flags = (self.flags & !ARITH) | f;
                Ok(())
            }
            M::Not => {
                let size = Self::op_size(ins, 0);
                let l = self.loc(ins, asz, 0, size)?;
                let a = self.rd(mem, l, size)?;
                self.wr(mem, l, size, !a & mask(size))
            }
            M::Rol => self.shift_op(mem, ins, asz, ShiftOp::Rol),
            M::Ror => self.shift_op(mem, ins, asz, ShiftOp::Ror),
            M::Rcl => self.shift_op(mem, ins, asz, ShiftOp::Rcl),
            M::Rcr => self.shift_op(mem, ins, asz, ShiftOp::Rcr),
            M::Shl | M::Sal => self.shift_op(mem, ins, asz, ShiftOp::Shl),
            M::Shr => self.shift_op(mem, ins, asz, ShiftOp::Shr),
            M::Sar => self.shift_op(mem, ins, asz, ShiftOp::Sar),
            M::Shld | M::Shrd => self.shiftd_op(mem, ins, asz, m == M::Shld),
            M::Mul | M::Imul | M::Div | M::Idiv => self.muldiv(mem, ins, asz, m),
            M::Bt | M::Bts | M::Btr | M::Btc => self.bit_test(mem, ins, asz, m),
            M::Bsf | M::Bsr | M::Tzcnt | M::Lzcnt | M::Popcnt => self.bit_scan(mem, ins, asz, m),
            M::Bswap => {
                let r = ins.op0_register();
                let v = self.get_reg(r);
                let nv = match reg_size(r) {
                    8 => v.swap_bytes(),
                    4 => u64::from((v as u32).swap_bytes()),
                    _ => 0,
                };
                self.set_reg(r, nv);
                Ok(())
            }
            M::Daa | M::Das | M::Aaa | M::Aas => {
                if self.long64() {
                    return Err(exc::ud());
                }
                let op = match m {
                    M::Daa => 0,
                    M::Das => 1,
                    M::Aaa => 2,
                    _ => 3,
                };
                let (ax, f) = crate::alu::bcd(op, self.gpr[0], self.flags);
                self.gpr[0] = ax;
                self.flags = f;
                Ok(())
            }
            M::Aam | M::Aad => self.aam_aad(ins, m == M::Aam),
            setcc!() => {
                let v = u64::from(cond(ins.condition_code() as u8 - 1, self.flags));
                let l = self.loc(ins, asz, 0, 1)?;
                self.wr(mem, l, 1, v)
            }
            cmovcc!() => {
                let size = Self::op_size(ins, 0);
                let v = self.src(mem, ins, asz, 1, size)?;
                let r = ins.op0_register();
                if cond(ins.condition_code() as u8 - 1, self.flags) {
                    self.set_reg(r, v);
                } else if size == 4 {
                    // A 32-bit CMOV zero-extends its destination even when not taken.
                    let old = self.get_reg(r);
                    self.set_reg(r, old);
                }
                Ok(())
            }
            jcc!() => {
                if cond(ins.condition_code() as u8 - 1, self.flags) {
                    self.rip = ins.near_branch_target();
                }
                Ok(())
            }
            M::Stc => {
                self.flags |= CF;
                Ok(())
            }
            M::Clc => {
                self.flags &= !CF;
                Ok(())
            }
            M::Cmc => {
                self.flags ^= CF;
                Ok(())
            }
            M::Std => {
                self.flags |= DF;
                Ok(())
            }
            M::Cld => {
                self.flags &= !DF;
                Ok(())
            }
            M::Lahf => {
                if self.long64() && !self.has_lahf64() {
                    return Err(exc::ud());
                }
                let ah = (self.flags & (SF | ZF | AF | PF | CF)) | RESERVED1;
                self.gpr[0] = (self.gpr[0] & !0xff00) | (ah << 8);
                Ok(())
            }
            M::Sahf => {
                if self.long64() && !self.has_lahf64() {
                    return Err(exc::ud());
                }
                let ah = (self.gpr[0] >> 8) & (SF | ZF | AF | PF | CF);
                self.flags = (self.flags & !(SF | ZF | AF | PF | CF)) | ah;
                Ok(())
            }
            M::Nop
            | M::Pause
            | M::Lfence
            | M::Mfence
            | M::Sfence
            | M::Prefetchnta
            | M::Prefetcht0
            | M::Prefetcht1
            | M::Prefetcht2
            | M::Prefetchw
            | M::Prefetch
            | M::Clflush
            | M::Clflushopt
            | M::Endbr32
            | M::Endbr64 => Ok(()),
            M::Ud0 | M::Ud1 | M::Ud2 => Err(exc::ud()),
            M::Movsb
            | M::Movsw
            | M::Movsd
            | M::Movsq
            | M::Stosb
            | M::Stosw
            | M::Stosd
            | M::Stosq
            | M::Lodsb
            | M::Lodsw
            | M::Lodsd
            | M::Lodsq
            | M::Cmpsb
            | M::Cmpsw
            | M::Cmpsd
            | M::Cmpsq
            | M::Scasb
            | M::Scasw
            | M::Scasd
            | M::Scasq
            | M::Insb
            | M::Insw
            | M::Insd
            | M::Outsb
            | M::Outsw
            | M::Outsd => self.string(mem, ins, asz, m, left),
            _ => self.exec_more(mem, ins, asz, m),
        }
    }

    /// ADD/OR/ADC/SBB/AND/SUB/XOR/CMP `op0, op1`.
    #[inline(always)]
    fn alu2(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        op: AluOp,
    ) -> R<()> {
        let size = Self::op_size(ins, 0);
        let l = if op == AluOp::Cmp {
            self.loc_r(ins, asz, 0, size)?
        } else {
            self.loc(ins, asz, 0, size)?
        };
        let a = self.rd(mem, l, size)?;
        let b = self.src(mem, ins, asz, 1, size)?;
        let (r, f) = alu(op, a, b, size, self.flags);
        if op != AluOp::Cmp {
            self.wr(mem, l, size, r)?;
        }
        self.flags = f;
        Ok(())
    }
}
