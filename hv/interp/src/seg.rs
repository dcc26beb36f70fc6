//! Segmentation as hardware does it (SDM Vol. 3A ch. 3 and 5): linear addresses from the
//! descriptor caches with limit and canonical checks, selector loads that read the GDT/LDT,
//! code-segment checks for far transfers, and the stack.

use crate::alu::flags::VM;
use crate::alu::{mask, sext};
use crate::mem::Acc;
use crate::state::{CS, SS, Vcpu, cr0, efer};
use crate::{Fault, GuestMemory, R, exc};
use hv::abi::x86::KvmSegment;

/// The descriptor cache a segment descriptor (`d`, the 8 bytes as a little-endian u64)
/// loads, with visible part `sel` (SDM Vol. 3A 3.4.5).
pub(crate) fn desc_to_seg(sel: u16, d: u64) -> KvmSegment {
    let g = (d >> 55) & 1;
    let raw_limit = ((d & 0xffff) | ((d >> 32) & 0xf_0000)) as u32;
    KvmSegment {
        base: ((d >> 16) & 0xff_ffff) | (((d >> 56) & 0xff) << 24),
        limit: if g != 0 {
            (raw_limit << 12) | 0xfff
        } else {
            raw_limit
        },
        selector: sel,
        type_: ((d >> 40) & 0xf) as u8,
        s: ((d >> 44) & 1) as u8,
        dpl: ((d >> 45) & 3) as u8,
        present: ((d >> 47) & 1) as u8,
        avl: ((d >> 52) & 1) as u8,
        l: ((d >> 53) & 1) as u8,
        db: ((d >> 54) & 1) as u8,
        g: g as u8,
        unusable: 0,
        padding: 0,
    }
}

/// Code segment descriptor type bits.
const CODE: u8 = 8;
const CONFORMING: u8 = 4;
const READABLE: u8 = 2;

impl Vcpu {
    /// CR0.PE.
    #[inline(always)]
    pub(crate) fn pe(&self) -> bool {
        self.cr0 & cr0::PE != 0
    }

    /// 64-bit mode: long mode with a 64-bit CS.
    #[inline(always)]
    pub(crate) fn long64(&self) -> bool {
        self.efer & efer::LMA != 0 && self.seg[CS].l != 0
    }

    /// Default operand/address size of the code: 16, 32 or 64.
    #[inline(always)]
    pub(crate) fn code_bits(&self) -> u32 {
        if self.long64() {
            64
        } else if self.pe() && self.seg[CS].db != 0 && self.flags & VM == 0 {
            32
        } else {
            16
        }
    }

    /// Width of the stack pointer in bytes: 8 in 64-bit mode, else SS.B.
    #[inline(always)]
    pub(crate) fn sp_size(&self) -> usize {
        if self.long64() {
            8
        } else if self.seg[SS].db != 0 {
            4
        } else {
            2
        }
    }

    /// Whether accesses are user-mode accesses for paging.
    #[inline(always)]
    pub(crate) fn user(&self) -> bool {
        self.cpl == 3
    }

    /// The linear address of `size` bytes at offset `off` of segment `s`, after limit (or
    /// canonical) checks: #GP(0), or #SS(0) for the stack segment.
    #[inline(always)]
    pub(crate) fn seg_lin(&self, s: usize, off: u64, size: usize) -> R<u64> {
        let size = size.max(1);
        let fault = || {
            if s == SS {
                Fault::Exc(exc::SS, Some(0))
            } else {
                exc::gp(0)
            }
        };
        let sg = &self.seg[s];
        if self.long64() {
            let lin = if s >= 4 {
                sg.base.wrapping_add(off)
            } else {
                off
            };
            if sext(lin, 6) != lin
                || sext(lin.wrapping_add(size as u64 - 1), 6) != lin.wrapping_add(size as u64 - 1)
            {
                return Err(fault());
            }
            return Ok(lin);
        }
        if self.pe() && (sg.unusable != 0 || sg.present == 0) {
            return Err(fault());
        }
        let last = off.wrapping_add(size as u64 - 1);
        if last < off {
            return Err(fault());
        }
        let limit = u64::from(sg.limit);
        let ok = if sg.s != 0 && sg.type_ & (CODE | CONFORMING) == CONFORMING {
            // Expand-down data segment: valid offsets are above the limit.
            let top = if sg.db != 0 { 0xffff_ffff } else { 0xffff };
            off > limit && last <= top
        } else {
            last <= limit
        };
        if !ok {
            return Err(fault());
        }
        Ok(sg.base.wrapping_add(off) & 0xffff_ffff)
    }

    /// #GP(0) (#SS(0) for SS) unless segment `s` may be written: in protected mode outside
    /// 64-bit code, code segments and read-only data segments may not (SDM Vol. 3A 5.6).
    #[inline(always)]
    pub(crate) fn writable(&self, s: usize) -> R<()> {
        if self.long64() || !self.pe() || self.flags & VM != 0 {
            return Ok(());
        }
        let sg = &self.seg[s];
        if sg.s != 0 && (sg.type_ & CODE != 0 || sg.type_ & 2 == 0) {
            return Err(if s == SS {
                Fault::Exc(exc::SS, Some(0))
            } else {
                exc::gp(0)
            });
        }
        Ok(())
    }

    /// Reads the 8-byte descriptor `sel` names from the GDT or LDT; #GP(sel) outside the
    /// table. Returns the descriptor and its linear address.
    pub(crate) fn read_desc(&mut self, mem: &mut dyn GuestMemory, sel: u16) -> R<(u64, u64)> {
        let err = exc::gp(u32::from(sel & 0xfffc));
        let (base, limit) = if sel & 4 != 0 {
            if self.ldt.unusable != 0 || self.ldt.present == 0 {
                return Err(err);
            }
            (self.ldt.base, u64::from(self.ldt.limit))
        } else {
            (self.gdt.base, u64::from(self.gdt.limit))
        };
        let idx = u64::from(sel & !7);
        if idx + 7 > limit {
            return Err(err);
        }
        let lin = base.wrapping_add(idx);
        let d = self.read_lin(mem, lin, 8, false)?;
        Ok((d, lin))
    }

    /// Sets the accessed bit of the descriptor at `lin` if it is clear.
    fn mark_accessed(&mut self, mem: &mut dyn GuestMemory, lin: u64, d: u64) -> R<()> {
        if d & (1 << 40) == 0 {
            self.write_lin(mem, lin.wrapping_add(5), 1, (d >> 40) | 1, false)?;
        }
        Ok(())
    }

    /// `MOV Sreg`, `POP Sreg`, `LDS`...: loads data or stack segment `s` with `sel`
    /// (SDM Vol. 2 MOV, protected-mode checks). CS is loaded by far transfers instead.
    pub(crate) fn load_seg(&mut self, mem: &mut dyn GuestMemory, s: usize, sel: u16) -> R<()> {
        if !self.pe() || self.flags & VM != 0 {
            let sg = &mut self.seg[s];
            sg.selector = sel;
            sg.base = u64::from(sel) << 4;
            return Ok(());
        }
        let err = exc::gp(u32::from(sel & 0xfffc));
        if sel & !3 == 0 {
            if s == SS && !(self.long64() && self.cpl != 3 && u8::try_from(sel & 3) == Ok(self.cpl))
            {
                return Err(exc::gp(0));
            }
            let sg = &mut self.seg[s];
            *sg = KvmSegment {
                selector: sel,
                unusable: 1,
                dpl: if s == SS { self.cpl } else { 0 },
                db: if s == SS { 1 } else { 0 },
                ..KvmSegment::default()
            };
            return Ok(());
        }
        let (d, lin) = self.read_desc(mem, sel)?;
        let sg = desc_to_seg(sel, d);
        let rpl = (sel & 3) as u8;
        let cpl = self.cpl;
        let code = sg.type_ & CODE != 0;
        if s == SS {
            if rpl != cpl || sg.s == 0 || code || sg.type_ & 2 == 0 || sg.dpl != cpl {
                return Err(err);
            }
            if sg.present == 0 {
                return Err(Fault::Exc(exc::SS, Some(u32::from(sel & 0xfffc))));
            }
        } else {
            if sg.s == 0 || (code && sg.type_ & READABLE == 0) {
                return Err(err);
            }
            let conforming_code = code && sg.type_ & CONFORMING != 0;
            if !conforming_code && (rpl > sg.dpl || cpl > sg.dpl) {
                return Err(err);
            }
            if sg.present == 0 {
                return Err(Fault::Exc(exc::NP, Some(u32::from(sel & 0xfffc))));
            }
        }
        self.mark_accessed(mem, lin, d)?;
        let mut sg = sg;
        sg.type_ |= 1;
        self.seg[s] = sg;
        Ok(())
    }

    /// The code segment a far JMP/CALL to `sel` would load at the current privilege level,
    /// checked (SDM Vol. 2 JMP, protected-mode case; gates are not supported: #GP).
    /// Outside protected mode, the real-mode cache.
    pub(crate) fn code_target(&mut self, mem: &mut dyn GuestMemory, sel: u16) -> R<KvmSegment> {
        if !self.pe() || self.flags & VM != 0 {
            let mut cs = self.seg[CS];
            cs.selector = sel;
            cs.base = u64::from(sel) << 4;
            return Ok(cs);
        }
        self.code_target_rpl(mem, sel, self.cpl, false)
    }

    /// Checks `sel` as a code segment entered at privilege `cpl` (for far JMP/CALL when
    /// `ret` is false; for far RET/IRET, which may go outward to RPL, when it is true).
    pub(crate) fn code_target_rpl(
        &mut self,
        mem: &mut dyn GuestMemory,
        sel: u16,
        cpl: u8,
        ret: bool,
    ) -> R<KvmSegment> {
        if sel & !3 == 0 {
            return Err(exc::gp(0));
        }
        let err = exc::gp(u32::from(sel & 0xfffc));
        let (d, lin) = self.read_desc(mem, sel)?;
        let mut sg = desc_to_seg(sel, d);
        let rpl = (sel & 3) as u8;
        if sg.s == 0 || sg.type_ & CODE == 0 {
            return Err(err);
        }
        let conforming = sg.type_ & CONFORMING != 0;
        let new_cpl = if ret {
            if rpl < cpl || (conforming && sg.dpl > rpl) || (!conforming && sg.dpl != rpl) {
                return Err(err);
            }
            rpl
        } else {
            if (conforming && sg.dpl > cpl) || (!conforming && (rpl > cpl || sg.dpl != cpl)) {
                return Err(err);
            }
            cpl
        };
        if self.efer & efer::LMA != 0 && sg.l != 0 && sg.db != 0 {
            return Err(err);
        }
        if sg.present == 0 {
            return Err(Fault::Exc(exc::NP, Some(u32::from(sel & 0xfffc))));
        }
        self.mark_accessed(mem, lin, d)?;
        sg.type_ |= 1;
        sg.selector = (sel & !3) | u16::from(new_cpl);
        Ok(sg)
    }

    /// Loads CS (already checked) and the CPL that goes with it.
    pub(crate) fn set_cs(&mut self, cs: KvmSegment) {
        if self.pe() && self.flags & VM == 0 {
            self.cpl = (cs.selector & 3) as u8;
        }
        self.seg[CS] = cs;
    }

    /// Pushes the low `size` bytes of `v`.
    pub(crate) fn push(&mut self, mem: &mut dyn GuestMemory, v: u64, size: usize) -> R<()> {
        let sps = self.sp_size();
        let sp = self.gpr[4].wrapping_sub(size as u64) & mask(sps);
        let lin = self.seg_lin(SS, sp, size)?;
        let user = self.user();
        self.write_lin(mem, lin, size, v, user)?;
        self.set_sp(sp);
        Ok(())
    }

    /// Reads `size` bytes at stack offset `delta` from the top without popping.
    pub(crate) fn peek(&mut self, mem: &mut dyn GuestMemory, delta: u64, size: usize) -> R<u64> {
        let sps = self.sp_size();
        let sp = self.gpr[4].wrapping_add(delta) & mask(sps);
        let lin = self.seg_lin(SS, sp, size)?;
        let user = self.user();
        self.read_lin(mem, lin, size, user)
    }

    /// Pops `size` bytes.
    pub(crate) fn pop(&mut self, mem: &mut dyn GuestMemory, size: usize) -> R<u64> {
        let v = self.peek(mem, 0, size)?;
        self.add_sp(size as u64);
        Ok(v)
    }

    /// Adds `n` to the stack pointer at the stack's width.
    pub(crate) fn add_sp(&mut self, n: u64) {
        let sps = self.sp_size();
        let sp = self.gpr[4].wrapping_add(n) & mask(sps);
        self.set_sp(sp);
    }

    /// Writes the stack pointer at the stack's width, keeping the bits above it.
    pub(crate) fn set_sp(&mut self, sp: u64) {
        let m = mask(self.sp_size());
        self.gpr[4] = (self.gpr[4] & !m) | (sp & m);
    }

    /// Translates for an access of `acc` kind after segmentation; used by code fetch.
    pub(crate) fn fetch_lin(&self, off: u64) -> R<u64> {
        if self.long64() {
            return Ok(off);
        }
        let cs = &self.seg[CS];
        if off > u64::from(cs.limit) {
            return Err(exc::gp(0));
        }
        let _ = Acc::Fetch;
        Ok(cs.base.wrapping_add(off) & 0xffff_ffff)
    }
}
