//! System instructions: HLT, CLI/STI, IN/OUT, CPUID, RDMSR/WRMSR, RDTSC, MOV CR/DR,
//! descriptor-table loads and stores, LLDT/LTR, SMSW/LMSW/CLTS, INVLPG, cache no-ops,
//! SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS (SDM Vol. 2 per instruction; Vol. 3A 2.5 for
//! the control registers).

use crate::alu::flags::*;
use crate::alu::mask;
use crate::exec::reg_size;
use crate::state::{CS, GS, PendingRead, SS, Vcpu, cr0, cr4, efer};
use crate::{Exit, Fault, GuestMemory, R, exc};
use hv::abi::x86::KvmSegment;
use iced_x86::{Code, Instruction, Mnemonic, OpKind, Register};

/// A flat 4 GiB segment cache as SYSCALL/SYSENTER load it.
fn flat(selector: u16, code: bool, long: bool, dpl: u8) -> KvmSegment {
    KvmSegment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: if code { 0xb } else { 0x3 },
        present: 1,
        dpl,
        db: u8::from(!(code && long)),
        s: 1,
        l: u8::from(code && long),
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

impl Vcpu {
    /// #GP(0) unless at CPL 0.
    fn need_cpl0(&self) -> R<()> {
        if self.pe() && self.cpl != 0 {
            return Err(exc::gp(0));
        }
        Ok(())
    }

    /// #GP(0) if I/O is not allowed at this CPL (the TSS I/O bitmap is not consulted).
    fn need_iopl(&self) -> R<()> {
        if self.pe() && u64::from(self.cpl) > (self.flags & IOPL) >> 12 {
            return Err(exc::gp(0));
        }
        Ok(())
    }

    /// #GP(0) unless I/O to `size` bytes at `port` is allowed: CPL <= IOPL, or the TSS I/O
    /// permission bitmap has their bits clear (SDM Vol. 1 19.5.2). Outside protected mode
    /// everything is allowed.
    pub(crate) fn io_allowed(
        &mut self,
        mem: &mut dyn GuestMemory,
        port: u16,
        size: usize,
    ) -> R<()> {
        if !self.pe() || u64::from(self.cpl) <= (self.flags & IOPL) >> 12 {
            return Ok(());
        }
        let tr = self.tr;
        // Only 32/64-bit TSSs have a bitmap.
        if tr.type_ & 8 == 0 || tr.limit < 0x67 {
            return Err(exc::gp(0));
        }
        let base = self.read_lin(mem, tr.base.wrapping_add(0x66), 2, false)?;
        let byte = base + u64::from(port / 8);
        // Two bytes are read (the access may straddle a byte); both must be in the TSS.
        if byte + 1 > u64::from(tr.limit) {
            return Err(exc::gp(0));
        }
        let bits = self.read_lin(mem, tr.base.wrapping_add(byte), 2, false)?;
        let m = ((1u64 << size) - 1) << (port % 8);
        if bits & m != 0 {
            return Err(exc::gp(0));
        }
        Ok(())
    }

    /// An `IN` element: the completed value on the instruction's second run, else an exit.
    pub(crate) fn port_in(&mut self, port: u16, size: usize) -> R<u64> {
        if let Some(p) = self.pending_read
            && p.io
            && p.addr == u64::from(port)
            && usize::from(p.len) == size
        {
            self.pending_read = None;
            return Ok(crate::mem::le(&p.data[..size]));
        }
        self.pending_read = Some(PendingRead {
            addr: u64::from(port),
            io: true,
            len: size as u8,
            data: [0; 8],
        });
        self.exits.push_back(Exit::Io {
            port,
            size: size as u8,
            write: false,
            data: [0; 8],
        });
        Err(Fault::Exit)
    }

    /// An `OUT` element: queued; the instruction completes.
    pub(crate) fn port_out(&mut self, port: u16, size: usize, v: u64) {
        self.exits.push_back(Exit::Io {
            port,
            size: size as u8,
            write: true,
            data: v.to_le_bytes(),
        });
    }

    /// System instructions; anything unknown is #UD.
    pub(crate) fn exec_system(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        m: Mnemonic,
    ) -> R<()> {
        use Mnemonic as M;
        match m {
            M::Hlt => {
                self.need_cpl0()?;
                if !(self.irq.is_some() && self.flags & IF != 0) {
                    self.exits.push_back(Exit::Hlt);
                }
                Ok(())
            }
            M::Cli => {
                self.need_iopl()?;
                self.flags &= !IF;
                Ok(())
            }
            M::Sti => {
                self.need_iopl()?;
                if self.flags & IF == 0 {
                    self.shadow = true;
                }
                self.flags |= IF;
                Ok(())
            }
            M::In => {
                let size = reg_size(ins.op0_register());
                let port = self.src(mem, ins, asz, 1, 2)? as u16;
                self.io_allowed(mem, port, size)?;
                let v = self.port_in(port, size)?;
                self.set_reg(ins.op0_register(), v);
                Ok(())
            }
            M::Out => {
                let size = reg_size(ins.op1_register());
                let port = self.src(mem, ins, asz, 0, 2)? as u16;
                self.io_allowed(mem, port, size)?;
                let v = self.get_reg(ins.op1_register());
                self.port_out(port, size, v);
                Ok(())
            }
            M::Cpuid => {
                self.new_epoch();
                let r = self.cpuid_lookup(self.gpr[0] as u32, self.gpr[1] as u32);
                self.gpr[0] = u64::from(r[0]);
                self.gpr[3] = u64::from(r[1]);
                self.gpr[1] = u64::from(r[2]);
                self.gpr[2] = u64::from(r[3]);
                Ok(())
            }
            M::Rdmsr => {
                self.need_cpl0()?;
                let v = self.msr(self.gpr[1] as u32).ok_or(exc::gp(0))?;
                self.gpr[0] = v & 0xffff_ffff;
                self.gpr[2] = v >> 32;
                Ok(())
            }
            M::Wrmsr => {
                self.need_cpl0()?;
                self.new_epoch();
                let v = (self.gpr[0] & 0xffff_ffff) | (self.gpr[2] << 32);
                if !self.set_msr(self.gpr[1] as u32, v) {
                    return Err(exc::gp(0));
                }
                Ok(())
            }
            M::Rdtsc | M::Rdtscp => {
                if self.cr4 & (1 << 2) != 0 && self.pe() && self.cpl != 0 {
                    return Err(exc::gp(0));
                }
                let t = self.tsc();
                self.gpr[0] = t & 0xffff_ffff;
                self.gpr[2] = t >> 32;
                if m == M::Rdtscp {
                    self.gpr[1] = self.msrs.tsc_aux & 0xffff_ffff;
                }
                Ok(())
            }
            M::Lgdt | M::Lidt => {
                self.need_cpl0()?;
                let bsz = if self.long64() { 8 } else { 4 };
                let lin = self.mem_lin(ins, asz, 2 + bsz)?;
                let limit = self.read_lin(mem, lin, 2, false)? as u16;
                let mut base = self.read_lin(mem, lin.wrapping_add(2), bsz, false)?;
                if matches!(ins.code(), Code::Lgdt_m1632_16 | Code::Lidt_m1632_16) {
                    base &= 0xff_ffff;
                }
                let t = if m == M::Lgdt {
                    &mut self.gdt
                } else {
                    &mut self.idt
                };
                t.base = base;
                t.limit = limit;
                Ok(())
            }
            M::Sgdt | M::Sidt => {
                let bsz = if self.long64() { 8 } else { 4 };
                let t = if m == M::Sgdt { self.gdt } else { self.idt };
                let lin = self.mem_lin(ins, asz, 2 + bsz)?;
                self.writable(Self::mem_seg(ins))?;
                let user = self.user();
                self.probe_write(mem, lin, 2 + bsz, user)?;
                self.write_lin(mem, lin, 2, u64::from(t.limit), user)?;
                self.write_lin(mem, lin.wrapping_add(2), bsz, t.base, user)
            }
            M::Lldt | M::Ltr => {
                if !self.pe() {
                    return Err(exc::ud());
                }
                self.need_cpl0()?;
                let sel = self.src(mem, ins, asz, 0, 2)? as u16;
                self.load_system_seg(mem, sel, m == M::Ltr)
            }
            M::Sldt | M::Str | M::Smsw => {
                if m != M::Smsw && (!self.pe() || self.flags & VM != 0) {
                    return Err(exc::ud());
                }
                let v = match m {
                    M::Sldt => u64::from(self.ldt.selector),
                    M::Str => u64::from(self.tr.selector),
                    _ => self.cr0,
                };
                let size = if ins.op_kind(0) == OpKind::Register {
                    reg_size(ins.op0_register())
                } else {
                    2
                };
                let l = self.loc(ins, asz, 0, size)?;
                self.wr(mem, l, size, v & mask(size))
            }
            M::Lar | M::Lsl | M::Verr | M::Verw => {
                if !self.pe() || self.flags & VM != 0 {
                    return Err(exc::ud());
                }
                let sel = self.src(
                    mem,
                    ins,
                    asz,
                    if matches!(m, M::Lar | M::Lsl) { 1 } else { 0 },
                    2,
                )? as u16;
                match self.desc_access(mem, sel, m)? {
                    Some(v) => {
                        if matches!(m, M::Lar | M::Lsl) {
                            let r = ins.op0_register();
                            self.set_reg(r, v & mask(reg_size(r)));
                        }
                        self.flags |= ZF;
                    }
                    None => self.flags &= !ZF,
                }
                Ok(())
            }
            M::Lmsw => {
                self.need_cpl0()?;
                let v = self.src(mem, ins, asz, 0, 2)?;
                // PE can be set but not cleared; MP, EM, TS follow the operand.
                let new = (self.cr0 & !0xe) | (v & 0xf) | (self.cr0 & cr0::PE);
                self.write_cr0(new)
            }
            M::Clts => {
                self.need_cpl0()?;
                self.cr0 &= !cr0::TS;
                Ok(())
            }
            M::Invlpg => {
                self.need_cpl0()?;
                self.flush_tlb();
                Ok(())
            }
            M::Wbinvd | M::Invd | M::Wbnoinvd => {
                self.need_cpl0()?;
                self.new_epoch();
                Ok(())
            }
            M::Syscall => self.syscall(),
            M::Sysret | M::Sysretq => self.sysret(ins),
            M::Sysenter => self.sysenter(),
            M::Sysexit | M::Sysexitq => self.sysexit(m == M::Sysexitq),
            M::Swapgs => {
                if !self.long64() {
                    return Err(exc::ud());
                }
                self.need_cpl0()?;
                core::mem::swap(&mut self.seg[GS].base, &mut self.msrs.kernel_gs_base);
                Ok(())
            }
            _ => Err(exc::ud()),
        }
    }

    /// MOV to or from CR0/2/3/4/8 and DR0-7.
    pub(crate) fn mov_crdr(&mut self, ins: &Instruction) -> R<()> {
        self.need_cpl0()?;
        let to = reg_size(ins.op0_register()) == 0;
        let (special, gpr) = if to {
            (ins.op0_register(), ins.op1_register())
        } else {
            (ins.op1_register(), ins.op0_register())
        };
        let n = special as u32;
        let w = if self.long64() { u64::MAX } else { 0xffff_ffff };
        let (is_cr, idx) = if (Register::CR0 as u32..=Register::CR15 as u32).contains(&n) {
            (true, n - Register::CR0 as u32)
        } else if (Register::DR0 as u32..=Register::DR15 as u32).contains(&n) {
            (false, n - Register::DR0 as u32)
        } else {
            return Err(exc::ud());
        };
        if !to {
            let v = if is_cr {
                match idx {
                    0 => self.cr0,
                    2 => self.cr2,
                    3 => self.cr3,
                    4 => self.cr4,
                    8 => self.cr8,
                    _ => return Err(exc::ud()),
                }
            } else {
                match idx {
                    0..=3 => self.dr[idx as usize],
                    4 | 6 => self.dr[4],
                    5 | 7 => self.dr[5],
                    _ => return Err(exc::ud()),
                }
            };
            self.set_reg(gpr, v & w);
            return Ok(());
        }
        let v = self.get_reg(gpr) & w;
        if !is_cr {
            match idx {
                0..=3 => self.dr[idx as usize] = v,
                4 | 6 => self.dr[4] = (v & 0xf00f) | 0xffff_0ff0,
                5 | 7 => self.dr[5] = (v & 0xffff_2bff) | 0x400,
                _ => return Err(exc::ud()),
            }
            return Ok(());
        }
        match idx {
            0 => self.write_cr0(v),
            2 => {
                self.cr2 = v;
                Ok(())
            }
            3 => {
                if self.efer & efer::LMA != 0 && v >> 52 != 0 {
                    return Err(exc::gp(0));
                }
                self.cr3 = v;
                self.flush_tlb();
                Ok(())
            }
            4 => {
                const KNOWN: u64 = 0x0037_07ff & !(1 << 12) & !(1 << 13);
                if v & !KNOWN != 0 || (self.efer & efer::LMA != 0 && v & cr4::PAE == 0) {
                    return Err(exc::gp(0));
                }
                self.cr4 = v;
                self.flush_tlb();
                Ok(())
            }
            8 => {
                if v > 15 {
                    return Err(exc::gp(0));
                }
                self.cr8 = v;
                Ok(())
            }
            _ => Err(exc::ud()),
        }
    }

    /// A CR0 write with its checks and the long-mode activation rules (SDM Vol. 3A 9.8.5).
    fn write_cr0(&mut self, v: u64) -> R<()> {
        let v = v | cr0::ET;
        if v >> 32 != 0
            || (v & cr0::PG != 0 && v & cr0::PE == 0)
            || (v & cr0::NW != 0 && v & cr0::CD == 0)
        {
            return Err(exc::gp(0));
        }
        let pg_on = v & cr0::PG != 0 && self.cr0 & cr0::PG == 0;
        let pg_off = v & cr0::PG == 0 && self.cr0 & cr0::PG != 0;
        if pg_on && self.efer & efer::LME != 0 {
            if self.cr4 & cr4::PAE == 0 {
                return Err(exc::gp(0));
            }
            self.efer |= efer::LMA;
        }
        if pg_off && self.efer & efer::LMA != 0 {
            if self.long64() {
                return Err(exc::gp(0));
            }
            self.efer &= !efer::LMA;
        }
        if self.efer & efer::LMA != 0 && v & cr0::PE == 0 {
            return Err(exc::gp(0));
        }
        self.cr0 = v;
        if v & cr0::PE == 0 {
            self.cpl = 0;
        }
        self.flush_tlb();
        Ok(())
    }

    /// LLDT / LTR: loads the LDTR or TR cache from a GDT system descriptor (16 bytes in long
    /// mode); LTR marks the TSS busy.
    fn load_system_seg(&mut self, mem: &mut dyn GuestMemory, sel: u16, tr: bool) -> R<()> {
        let err = exc::gp(u32::from(sel & 0xfffc));
        if sel & !3 == 0 {
            if tr {
                return Err(exc::gp(0));
            }
            self.ldt = KvmSegment {
                unusable: 1,
                ..KvmSegment::default()
            };
            return Ok(());
        }
        if sel & 4 != 0 {
            return Err(err);
        }
        let (d, lin) = self.read_desc(mem, sel)?;
        let mut s = crate::seg::desc_to_seg(sel, d);
        let ok = if tr {
            matches!(s.type_, 1 | 9)
        } else {
            s.type_ == 2
        };
        if s.s != 0 || !ok {
            return Err(err);
        }
        if s.present == 0 {
            return Err(Fault::Exc(exc::NP, Some(u32::from(sel & 0xfffc))));
        }
        if self.efer & efer::LMA != 0 {
            let hi = self.read_lin(mem, lin.wrapping_add(8), 8, false)?;
            s.base |= (hi & 0xffff_ffff) << 32;
        }
        if tr {
            self.write_lin(mem, lin.wrapping_add(5), 1, (d >> 40) | 2, false)?;
            s.type_ |= 2;
            self.tr = s;
        } else {
            self.ldt = s;
        }
        Ok(())
    }

    /// SYSCALL (AMD APM Vol. 3; legacy mode uses STAR's EIP).
    fn syscall(&mut self) -> R<()> {
        if self.efer & efer::SCE == 0 {
            return Err(exc::ud());
        }
        let sel = ((self.msrs.star >> 32) & 0xfffc) as u16;
        let long = self.efer & efer::LMA != 0;
        if long {
            self.gpr[1] = self.rip;
            self.gpr[11] = self.flags & !RF;
            self.rip = if self.long64() {
                self.msrs.lstar
            } else {
                self.msrs.cstar
            };
            self.flags = (self.flags & !(self.msrs.sfmask | RF)) | RESERVED1;
        } else {
            self.gpr[1] = self.rip & 0xffff_ffff;
            self.rip = self.msrs.star & 0xffff_ffff;
            self.flags &= !(VM | IF | RF);
        }
        self.seg[CS] = flat(sel, true, long, 0);
        self.seg[SS] = flat(sel.wrapping_add(8), false, false, 0);
        self.cpl = 0;
        Ok(())
    }

    /// SYSRET to CPL 3 (64-bit with REX.W, else 32-bit compatibility/legacy code).
    fn sysret(&mut self, ins: &Instruction) -> R<()> {
        if self.efer & efer::SCE == 0 {
            return Err(exc::ud());
        }
        if !self.pe() || self.cpl != 0 {
            return Err(exc::gp(0));
        }
        let base = ((self.msrs.star >> 48) & 0xffff) as u16;
        let q = ins.code() == Code::Sysretq;
        let long = self.efer & efer::LMA != 0;
        if q {
            if crate::alu::sext(self.gpr[1], 6) != self.gpr[1] {
                return Err(exc::gp(0));
            }
            self.seg[CS] = flat((base.wrapping_add(16)) | 3, true, true, 3);
            self.rip = self.gpr[1];
        } else {
            self.seg[CS] = flat(base | 3, true, false, 3);
            self.rip = self.gpr[1] & 0xffff_ffff;
        }
        if long {
            self.flags = (self.gpr[11] & 0x003f_7fd5 & !(RF | VM)) | RESERVED1;
        } else {
            self.flags |= IF;
        }
        self.seg[SS] = flat((base.wrapping_add(8)) | 3, false, false, 3);
        self.cpl = 3;
        Ok(())
    }

    /// SYSENTER (SDM Vol. 2).
    fn sysenter(&mut self) -> R<()> {
        let cs = (self.msrs.sysenter_cs & 0xfffc) as u16;
        if !self.pe() || cs == 0 {
            return Err(exc::gp(0));
        }
        let long = self.efer & efer::LMA != 0;
        self.flags &= !(VM | IF | RF);
        self.seg[CS] = flat(cs, true, long, 0);
        self.seg[SS] = flat(cs.wrapping_add(8), false, false, 0);
        self.cpl = 0;
        let w = if long { u64::MAX } else { 0xffff_ffff };
        self.rip = self.msrs.sysenter_eip & w;
        self.gpr[4] = self.msrs.sysenter_esp & w;
        Ok(())
    }

    /// SYSEXIT to CPL 3.
    fn sysexit(&mut self, q: bool) -> R<()> {
        let cs = (self.msrs.sysenter_cs & 0xfffc) as u16;
        if !self.pe() || self.cpl != 0 || cs == 0 {
            return Err(exc::gp(0));
        }
        let (ncs, nss) = if q {
            (cs.wrapping_add(32), cs.wrapping_add(40))
        } else {
            (cs.wrapping_add(16), cs.wrapping_add(24))
        };
        self.seg[CS] = flat(ncs | 3, true, q, 3);
        self.seg[SS] = flat(nss | 3, false, false, 3);
        self.cpl = 3;
        if q {
            self.rip = self.gpr[2];
            self.gpr[4] = self.gpr[1];
        } else {
            self.rip = self.gpr[2] & 0xffff_ffff;
            self.gpr[4] = self.gpr[1] & 0xffff_ffff;
        }
        let _ = SS;
        Ok(())
    }

    /// LAR/LSL/VERR/VERW on `sel`: the access rights (LAR), the limit (LSL) or 1 (VERR/VERW)
    /// when the descriptor is visible at this CPL and RPL and of a fitting type, else `None`
    /// (ZF clear). SDM Vol. 2, the four instructions.
    fn desc_access(&mut self, mem: &mut dyn GuestMemory, sel: u16, m: Mnemonic) -> R<Option<u64>> {
        use Mnemonic as M;
        if sel & !3 == 0 {
            return Ok(None);
        }
        let limit = if sel & 4 != 0 {
            if self.ldt.unusable != 0 || self.ldt.present == 0 {
                return Ok(None);
            }
            u64::from(self.ldt.limit)
        } else {
            u64::from(self.gdt.limit)
        };
        if u64::from(sel & !7) + 7 > limit {
            return Ok(None);
        }
        let (d, _) = self.read_desc(mem, sel)?;
        let sg = crate::seg::desc_to_seg(sel, d);
        let code = sg.s != 0 && sg.type_ & 8 != 0;
        let conforming = code && sg.type_ & 4 != 0;
        let long = self.efer & efer::LMA != 0;
        let type_ok = if sg.s != 0 {
            match m {
                M::Verr => !code || sg.type_ & 2 != 0,
                M::Verw => !code && sg.type_ & 2 != 0,
                _ => true,
            }
        } else {
            let t = sg.type_;
            match m {
                M::Lsl => {
                    if long {
                        matches!(t, 2 | 9 | 11)
                    } else {
                        matches!(t, 1..=3 | 9 | 11)
                    }
                }
                M::Lar => {
                    if long {
                        matches!(t, 2 | 9 | 11 | 12)
                    } else {
                        matches!(t, 1..=5 | 9 | 11 | 12)
                    }
                }
                _ => false,
            }
        };
        let rpl = (sel & 3) as u8;
        if !type_ok || (!conforming && (sg.dpl < self.cpl || sg.dpl < rpl)) {
            return Ok(None);
        }
        Ok(Some(match m {
            M::Lar => (d >> 32) & 0x00f0_ff00,
            M::Lsl => u64::from(sg.limit),
            _ => 1,
        }))
    }
}
