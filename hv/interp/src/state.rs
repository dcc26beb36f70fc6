//! The vCPU's architectural state and its KVM-facing accessors (`KVM_GET/SET_REGS`,
//! `KVM_GET/SET_SREGS`, `KVM_INTERRUPT`, completion of `IN`/MMIO reads).

use crate::alu::flags::{IF, RESERVED1};
use crate::decode::ICache;
use crate::mem::Tlb;
use crate::{Exit, GuestMemory, InterruptPending, InvalidState};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use hv::abi::x86::{KvmCpuidEntry2, KvmDtable, KvmFpu, KvmRegs, KvmSegment, KvmSregs};

/// Segment register numbers in x86 encoding order (`sreg` field of ModRM).
pub(crate) const ES: usize = 0;
pub(crate) const CS: usize = 1;
pub(crate) const SS: usize = 2;
pub(crate) const DS: usize = 3;
pub(crate) const FS: usize = 4;
pub(crate) const GS: usize = 5;

/// CR0 bits (SDM Vol. 3A 2.5).
pub(crate) mod cr0 {
    pub const PE: u64 = 1 << 0;
    pub const TS: u64 = 1 << 3;
    pub const ET: u64 = 1 << 4;
    pub const WP: u64 = 1 << 16;
    pub const NW: u64 = 1 << 29;
    pub const CD: u64 = 1 << 30;
    pub const PG: u64 = 1 << 31;
}

/// CR4 bits (SDM Vol. 3A 2.5).
pub(crate) mod cr4 {
    pub const PSE: u64 = 1 << 4;
    pub const PAE: u64 = 1 << 5;
    pub const LA57: u64 = 1 << 12;
    pub const SMEP: u64 = 1 << 20;
}

/// EFER bits (SDM Vol. 3A 2.2.1).
pub(crate) mod efer {
    pub const SCE: u64 = 1 << 0;
    pub const LME: u64 = 1 << 8;
    pub const LMA: u64 = 1 << 10;
    pub const NXE: u64 = 1 << 11;
}

/// An `IN` or MMIO read that left `run` and is finished by re-executing its instruction
/// with the data `complete` supplied.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PendingRead {
    /// Port (for `IN`) or guest-physical address (MMIO).
    pub addr: u64,
    pub io: bool,
    pub len: u8,
    pub data: [u8; 8],
}

/// MSRs without a home elsewhere in the state (SDM Vol. 4).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Msrs {
    pub star: u64,
    pub lstar: u64,
    pub cstar: u64,
    pub sfmask: u64,
    pub kernel_gs_base: u64,
    pub sysenter_cs: u64,
    pub sysenter_esp: u64,
    pub sysenter_eip: u64,
    pub tsc: u64,
    pub pat: u64,
    pub misc_enable: u64,
    pub tsc_aux: u64,
}

/// One x86 guest CPU.
pub struct Vcpu {
    /// RAX..R15 in encoding order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..).
    pub(crate) gpr: [u64; 16],
    pub(crate) rip: u64,
    pub(crate) flags: u64,
    /// ES, CS, SS, DS, FS, GS with their descriptor caches.
    pub(crate) seg: [KvmSegment; 6],
    pub(crate) tr: KvmSegment,
    pub(crate) ldt: KvmSegment,
    pub(crate) gdt: KvmDtable,
    pub(crate) idt: KvmDtable,
    pub(crate) cr0: u64,
    pub(crate) cr2: u64,
    pub(crate) cr3: u64,
    pub(crate) cr4: u64,
    pub(crate) cr8: u64,
    pub(crate) efer: u64,
    pub(crate) apic_base: u64,
    /// DR0-DR3, DR6, DR7 (stored only).
    pub(crate) dr: [u64; 6],
    pub(crate) cpl: u8,
    pub(crate) msrs: Msrs,
    pub(crate) fpu: KvmFpu,
    pub(crate) cpuid: Vec<KvmCpuidEntry2>,
    /// The external interrupt `KVM_INTERRUPT` queued.
    pub(crate) irq: Option<u8>,
    /// Interrupts are blocked before the next instruction (after STI or MOV/POP SS).
    pub(crate) shadow: bool,
    pub(crate) pending_read: Option<PendingRead>,
    /// An MMIO read of this instruction already completed while a later one (the other
    /// half of a page-crossing access) is pending.
    pub(crate) completed_read: Option<PendingRead>,
    /// Exits produced by one instruction (OUT, MMIO writes) waiting to be returned.
    pub(crate) exits: VecDeque<Exit>,
    pub(crate) tlb: Tlb,
    pub(crate) icache: ICache,
    /// Decode-cache entries checked against memory in this epoch are trusted without a
    /// new compare; see `decode`.
    pub(crate) epoch: u64,
    /// Guest-physical pages (hashed) holding code checked in this epoch: a write to one
    /// starts a new epoch.
    pub(crate) code_pages: [u64; 64],
    pub(crate) retired: u64,
}

impl Default for Vcpu {
    fn default() -> Self {
        Vcpu::new()
    }
}

/// A real-mode segment cache as after reset: `selector`, base `selector << 4`, 64 KiB, data.
fn real_seg(selector: u16, type_: u8) -> KvmSegment {
    KvmSegment {
        base: u64::from(selector) << 4,
        limit: 0xffff,
        selector,
        type_,
        present: 1,
        s: 1,
        ..KvmSegment::default()
    }
}

impl Vcpu {
    /// A CPU in the state KVM gives a new vCPU (the reset state: real mode, `CS:IP` =
    /// `f000:fff0` with CS base `ffff0000`).
    pub fn new() -> Vcpu {
        let mut cs = real_seg(0xf000, 0xb);
        cs.base = 0xffff_0000;
        let d = real_seg(0, 3);
        let mut tr = real_seg(0, 0xb);
        tr.s = 0;
        let mut ldt = real_seg(0, 2);
        ldt.s = 0;
        let mut gpr = [0; 16];
        gpr[2] = 0x600;
        Vcpu {
            gpr,
            rip: 0xfff0,
            flags: RESERVED1,
            seg: [d, cs, d, d, d, d],
            tr,
            ldt,
            gdt: KvmDtable {
                base: 0,
                limit: 0xffff,
                padding: [0; 3],
            },
            idt: KvmDtable {
                base: 0,
                limit: 0xffff,
                padding: [0; 3],
            },
            cr0: 0x6000_0010,
            cr2: 0,
            cr3: 0,
            cr4: 0,
            cr8: 0,
            efer: 0,
            apic_base: 0xfee0_0900,
            dr: [0, 0, 0, 0, 0xffff_0ff0, 0x400],
            cpl: 0,
            msrs: Msrs {
                pat: 0x0007_0406_0007_0406,
                misc_enable: 1,
                ..Msrs::default()
            },
            fpu: KvmFpu {
                fcw: 0x37f,
                mxcsr: 0x1f80,
                ..KvmFpu::default()
            },
            cpuid: Vec::new(),
            irq: None,
            shadow: false,
            pending_read: None,
            completed_read: None,
            exits: VecDeque::new(),
            tlb: Tlb::new(),
            icache: ICache::new(),
            epoch: 1,
            code_pages: [0; 64],
            retired: 0,
        }
    }

    /// `KVM_GET_REGS`.
    pub fn regs(&self) -> KvmRegs {
        let g = &self.gpr;
        KvmRegs {
            rax: g[0],
            rcx: g[1],
            rdx: g[2],
            rbx: g[3],
            rsp: g[4],
            rbp: g[5],
            rsi: g[6],
            rdi: g[7],
            r8: g[8],
            r9: g[9],
            r10: g[10],
            r11: g[11],
            r12: g[12],
            r13: g[13],
            r14: g[14],
            r15: g[15],
            rip: self.rip,
            rflags: self.flags,
        }
    }

    /// `KVM_SET_REGS`.
    pub fn set_regs(&mut self, regs: &KvmRegs) {
        self.gpr = [
            regs.rax, regs.rcx, regs.rdx, regs.rbx, regs.rsp, regs.rbp, regs.rsi, regs.rdi,
            regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15,
        ];
        self.rip = regs.rip;
        self.flags = (regs.rflags & 0x003f_7fd5) | RESERVED1;
    }

    /// `KVM_GET_SREGS`.
    pub fn sregs(&self) -> KvmSregs {
        let mut interrupt_bitmap = [0u64; 4];
        if let Some(v) = self.irq {
            interrupt_bitmap[usize::from(v / 64)] |= 1 << (v % 64);
        }
        KvmSregs {
            es: self.seg[ES],
            cs: self.seg[CS],
            ss: self.seg[SS],
            ds: self.seg[DS],
            fs: self.seg[FS],
            gs: self.seg[GS],
            tr: self.tr,
            ldt: self.ldt,
            gdt: self.gdt,
            idt: self.idt,
            cr0: self.cr0,
            cr2: self.cr2,
            cr3: self.cr3,
            cr4: self.cr4,
            cr8: self.cr8,
            efer: self.efer,
            apic_base: self.apic_base,
            interrupt_bitmap,
        }
    }

    /// `KVM_SET_SREGS`. Refuses what Linux's `kvm_is_valid_sregs` refuses: long mode without
    /// PAE or with EFER.LMA out of step with LME+PG, a 64-bit CS outside long mode, CR0.PG
    /// without PE, CR0.NW without CD, and set bits in the upper half of CR0.
    pub fn set_sregs(&mut self, s: &KvmSregs) -> Result<(), InvalidState> {
        let lm = s.efer & efer::LME != 0 && s.cr0 & cr0::PG != 0;
        if lm {
            if s.cr4 & cr4::PAE == 0 || s.efer & efer::LMA == 0 {
                return Err(InvalidState);
            }
        } else if s.efer & efer::LMA != 0 || s.cs.l != 0 {
            return Err(InvalidState);
        }
        if s.cr0 >> 32 != 0
            || (s.cr0 & cr0::PG != 0 && s.cr0 & cr0::PE == 0)
            || (s.cr0 & cr0::NW != 0 && s.cr0 & cr0::CD == 0)
            || s.cr4 & cr4::LA57 != 0
            || s.cr4 >> 32 != 0
        {
            return Err(InvalidState);
        }
        self.seg = [s.es, s.cs, s.ss, s.ds, s.fs, s.gs];
        self.tr = s.tr;
        self.ldt = s.ldt;
        self.gdt = s.gdt;
        self.idt = s.idt;
        self.cr0 = s.cr0;
        self.cr2 = s.cr2;
        self.cr3 = s.cr3;
        self.cr4 = s.cr4;
        self.cr8 = s.cr8 & 0xf;
        self.efer = s.efer;
        self.apic_base = s.apic_base;
        self.cpl = if s.cr0 & cr0::PE != 0 {
            s.ss.dpl & 3
        } else {
            0
        };
        self.irq = None;
        for (i, w) in s.interrupt_bitmap.iter().enumerate() {
            if *w != 0 {
                self.irq = Some((i * 64) as u8 + w.trailing_zeros() as u8);
                break;
            }
        }
        self.flush_tlb();
        Ok(())
    }

    /// `KVM_GET_FPU`: kept for round trips; the interpreter runs no x87/SSE code.
    pub fn fpu(&self) -> KvmFpu {
        self.fpu
    }

    /// `KVM_SET_FPU`.
    pub fn set_fpu(&mut self, fpu: &KvmFpu) {
        self.fpu = *fpu;
    }

    /// `KVM_SET_CPUID2`: what `CPUID` returns from now on.
    pub fn set_cpuid(&mut self, entries: &[KvmCpuidEntry2]) {
        self.cpuid = entries.to_vec();
    }

    /// `KVM_INTERRUPT`: queue external interrupt `vector`, taken when the guest allows it.
    pub fn queue_interrupt(&mut self, vector: u8) -> Result<(), InterruptPending> {
        if self.irq.is_some() {
            return Err(InterruptPending);
        }
        self.irq = Some(vector);
        Ok(())
    }

    /// RFLAGS.IF (`kvm_run.if_flag`).
    pub fn interrupt_flag(&self) -> bool {
        self.flags & IF != 0
    }

    /// An interrupt could be injected now (`kvm_run.ready_for_interrupt_injection`): IF set,
    /// no interrupt shadow, none queued.
    pub fn ready_for_interrupt(&self) -> bool {
        self.interrupt_flag() && !self.shadow && self.irq.is_none()
    }

    /// Finishes the `IN` or MMIO read of the last exit with `data`; a no-op if that exit
    /// needs no data. The instruction runs again on the next `run` and takes this value.
    pub fn complete(&mut self, data: &[u8]) {
        if let Some(p) = &mut self.pending_read {
            let n = data.len().min(8);
            p.data[..n].copy_from_slice(&data[..n]);
        }
    }

    /// Runs until an exit, or for at most `budget` instructions ([`Exit::Budget`]).
    /// `irq_window`: exit with [`Exit::IrqWindowOpen`] once an interrupt can be injected.
    pub fn run(&mut self, mem: &mut dyn GuestMemory, budget: u64, irq_window: bool) -> Exit {
        self.run_loop(mem, budget, irq_window)
    }

    /// Instructions executed since the vCPU was created (for the MIPS benchmark).
    pub fn retired(&self) -> u64 {
        self.retired
    }

    /// The current privilege level (0 outside protected mode).
    pub fn cpl(&self) -> u8 {
        self.cpl
    }
}
