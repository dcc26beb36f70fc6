//! Exception and interrupt delivery (SDM Vol. 3A ch. 6): the real-mode IVT, 16/32-bit IDT
//! gates with a stack switch through the TSS, 64-bit gates with RSP0 and IST, and the
//! double-fault and triple-fault (shutdown) rules of table 6-5.

use crate::alu::flags::*;
use crate::seg::desc_to_seg;
use crate::state::{CS, SS, Vcpu, efer};
use crate::{Exit, Fault, GuestMemory, R, exc};
use hv::abi::x86::KvmSegment;

/// What is being delivered; it decides the saved RIP's meaning, the gate DPL check and the
/// EXT bit of error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A fault or trap raised by an instruction.
    Exception,
    /// INT n, INT3, INTO: the gate's DPL must allow the CPL.
    Soft,
    /// INT1 (ICEBP): like a hardware #DB, no DPL check.
    Icebp,
    /// An external interrupt.
    External,
}

/// Contributory exceptions (table 6-4).
fn contributory(v: u8) -> bool {
    matches!(v, exc::DE | exc::TS | exc::NP | exc::SS | exc::GP)
}

impl Vcpu {
    /// Delivers exception `v` raised by the instruction at RIP, escalating to #DF and to
    /// shutdown as hardware does when delivery itself faults.
    pub(crate) fn raise(&mut self, mem: &mut dyn GuestMemory, v: u8, code: Option<u32>) {
        let (mut v, mut code) = (v, code);
        for _ in 0..3 {
            match self.deliver(mem, v, code, Event::Exception) {
                Ok(()) | Err(Fault::Exit) => return,
                Err(Fault::Exc(v2, c2)) => {
                    if v == exc::DF {
                        break;
                    }
                    let second_bad = contributory(v2) || v2 == exc::PF;
                    let df = second_bad && (v == exc::PF || (contributory(v) && v2 != exc::PF));
                    if df {
                        (v, code) = (exc::DF, Some(0));
                    } else {
                        (v, code) = (v2, c2);
                    }
                }
            }
        }
        self.exits.push_back(Exit::Shutdown);
    }

    /// Delivers vector `v` through the IVT or IDT. On a fault, the state is as before.
    pub(crate) fn deliver(
        &mut self,
        mem: &mut dyn GuestMemory,
        v: u8,
        code: Option<u32>,
        ev: Event,
    ) -> R<()> {
        self.new_epoch();
        let snap = (self.gpr[4], self.seg, self.cpl, self.flags, self.rip);
        let r = if !self.pe() {
            self.deliver_real(mem, v)
        } else if self.efer & efer::LMA != 0 {
            self.deliver_gate(mem, v, code, ev, true)
        } else {
            self.deliver_gate(mem, v, code, ev, false)
        };
        if r.is_err() {
            (self.gpr[4], self.seg, self.cpl, self.flags, self.rip) = snap;
        }
        r
    }

    /// Real mode: FLAGS, CS, IP onto the stack; CS:IP from the IVT.
    fn deliver_real(&mut self, mem: &mut dyn GuestMemory, v: u8) -> R<()> {
        let ent = u64::from(v) * 4;
        if ent + 3 > u64::from(self.idt.limit) {
            return Err(exc::gp(u32::from(v) * 8 + 2));
        }
        let ivt = self.read_lin(mem, self.idt.base.wrapping_add(ent) & 0xffff_ffff, 4, false)?;
        self.push(mem, self.flags, 2)?;
        self.push(mem, u64::from(self.seg[CS].selector), 2)?;
        self.push(mem, self.rip, 2)?;
        self.flags &= !(IF | TF | AC | RF);
        let sel = (ivt >> 16) as u16;
        self.seg[CS].selector = sel;
        self.seg[CS].base = u64::from(sel) << 4;
        self.rip = ivt & 0xffff;
        Ok(())
    }

    /// Protected or long mode through an interrupt or trap gate.
    fn deliver_gate(
        &mut self,
        mem: &mut dyn GuestMemory,
        v: u8,
        code: Option<u32>,
        ev: Event,
        long: bool,
    ) -> R<()> {
        let ext = u32::from(ev == Event::External || ev == Event::Exception);
        let idt_err = exc::gp(u32::from(v) * 8 + 2 + ext);
        let esize: u64 = if long { 16 } else { 8 };
        let ent = u64::from(v) * esize;
        if ent + esize - 1 > u64::from(self.idt.limit) {
            return Err(idt_err);
        }
        let lo = self.read_lin(mem, self.idt.base.wrapping_add(ent), 8, false)?;
        let hi = if long {
            self.read_lin(mem, self.idt.base.wrapping_add(ent + 8), 8, false)?
        } else {
            0
        };
        let typ = ((lo >> 40) & 0xf) as u8;
        let dpl = ((lo >> 45) & 3) as u8;
        let ok_type = if long {
            matches!(typ, 0xe | 0xf)
        } else {
            matches!(typ, 0x6 | 0x7 | 0xe | 0xf)
        };
        if !ok_type {
            if typ == 5 && !long {
                return Err(self.internal());
            }
            return Err(idt_err);
        }
        if ev == Event::Soft && dpl < self.cpl {
            return Err(idt_err);
        }
        if (lo >> 47) & 1 == 0 {
            return Err(Fault::Exc(exc::NP, Some(u32::from(v) * 8 + 2 + ext)));
        }
        let sel = (lo >> 16) as u16;
        let mut off = (lo & 0xffff) | (((lo >> 48) & 0xffff) << 16) | ((hi & 0xffff_ffff) << 32);
        let gate32 = long || typ & 8 != 0;
        if !gate32 {
            off &= 0xffff;
        }
        let cs = self.gate_code_segment(mem, sel, ext, long)?;
        let new_cpl = if cs.type_ & 4 != 0 { self.cpl } else { cs.dpl };
        let ist = if long { (lo >> 32) & 7 } else { 0 };
        let (old_ss, old_sp, old_flags, old_cs) = (
            self.seg[SS].selector,
            self.gpr[4],
            self.flags,
            self.seg[CS].selector,
        );
        let old_rip = self.rip;
        let inner = new_cpl < self.cpl;
        if inner || ist != 0 {
            let tr = self.tr;
            if long {
                let slot = if ist != 0 {
                    0x24 + (ist - 1) * 8
                } else {
                    4 + u64::from(new_cpl) * 8
                };
                self.tss_check(&tr, slot + 7)?;
                let rsp = self.read_lin(mem, tr.base.wrapping_add(slot), 8, false)?;
                if inner {
                    self.seg[SS] = KvmSegment {
                        selector: u16::from(new_cpl),
                        unusable: 1,
                        dpl: new_cpl,
                        db: 1,
                        ..KvmSegment::default()
                    };
                }
                self.gpr[4] = rsp;
            } else {
                let tss32 = tr.type_ & 8 != 0;
                let (sp_off, ss_off, spw) = if tss32 {
                    (4 + u64::from(new_cpl) * 8, 8 + u64::from(new_cpl) * 8, 4)
                } else {
                    (2 + u64::from(new_cpl) * 4, 4 + u64::from(new_cpl) * 4, 2)
                };
                self.tss_check(&tr, ss_off + 1)?;
                let sp = self.read_lin(mem, tr.base.wrapping_add(sp_off), spw, false)?;
                let ss = self.read_lin(mem, tr.base.wrapping_add(ss_off), 2, false)? as u16;
                self.cpl = new_cpl;
                self.load_seg(mem, SS, ss).map_err(|f| match f {
                    Fault::Exc(_, _) => Fault::Exc(exc::TS, Some(u32::from(ss & 0xfffc))),
                    f => f,
                })?;
                self.gpr[4] = sp;
            }
        }
        self.cpl = new_cpl;
        self.seg[CS] = cs;
        if long {
            self.gpr[4] &= !0xf;
        }
        let w = if long {
            8
        } else if gate32 {
            4
        } else {
            2
        };
        if long || inner {
            self.push(mem, u64::from(old_ss), w)?;
            self.push(mem, old_sp, w)?;
        }
        // Faults push RF set, so the handler's IRET does not re-trigger an instruction
        // breakpoint (SDM Vol. 3A 18.3.1.1).
        let pushed = if ev == Event::Exception {
            old_flags | RF
        } else {
            old_flags & !RF
        };
        self.push(mem, pushed, w)?;
        self.push(mem, u64::from(old_cs), w)?;
        self.push(mem, old_rip, w)?;
        if let Some(c) = code {
            self.push(mem, u64::from(c), w)?;
        }
        self.flags &= !(TF | NT | RF | VM);
        if typ & 1 == 0 {
            self.flags &= !IF;
        }
        self.rip = off;
        Ok(())
    }

    /// #TS unless `end` lies inside the TSS.
    fn tss_check(&self, tr: &KvmSegment, end: u64) -> R<()> {
        if end > u64::from(tr.limit) {
            return Err(Fault::Exc(exc::TS, Some(u32::from(tr.selector & 0xfffc))));
        }
        Ok(())
    }

    /// The code segment an interrupt gate names, checked (SDM Vol. 3A 6.12.1).
    fn gate_code_segment(
        &mut self,
        mem: &mut dyn GuestMemory,
        sel: u16,
        ext: u32,
        long: bool,
    ) -> R<KvmSegment> {
        if sel & !3 == 0 {
            return Err(exc::gp(ext));
        }
        let err = exc::gp(u32::from(sel & 0xfffc) + ext);
        let (d, _) = self.read_desc(mem, sel)?;
        let mut cs = desc_to_seg(sel, d);
        if cs.s == 0
            || cs.type_ & 8 == 0
            || cs.dpl > self.cpl
            || (long && (cs.l == 0 || cs.db != 0))
        {
            return Err(err);
        }
        if cs.present == 0 {
            return Err(Fault::Exc(exc::NP, Some(u32::from(sel & 0xfffc) + ext)));
        }
        let new_cpl = if cs.type_ & 4 != 0 { self.cpl } else { cs.dpl };
        cs.selector = (sel & !3) | u16::from(new_cpl);
        cs.type_ |= 1;
        Ok(cs)
    }
}
