//! The backend trait: what runs a vCPU. The ioctl layer ([`crate::Vcpu`]) owns one
//! [`VcpuBackend`] per vCPU and turns its [`Exit`]s into `struct kvm_run`. The kernel binary
//! adapts the interpreter (`hv-interp`, which depends on this crate) to it, so this crate never
//! names a backend. The state structs are the x86 KVM ones: every backend runs x86 guests.

use crate::abi::x86::{KvmCpuidEntry2, KvmFpu, KvmRegs, KvmSregs};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Size of a guest page as [`GuestMemory`] hands them out.
pub const PAGE_SIZE: usize = 4096;

/// Guest-physical memory as a backend sees it.
pub trait GuestMemory {
    /// The host bytes of the 4 KiB guest page holding `gpa`, or `None`: no slot backs it (or
    /// `write` and the slot is read-only), and the access becomes an MMIO exit.
    fn page(&mut self, gpa: u64, write: bool) -> Option<&mut [u8; PAGE_SIZE]>;
}

/// Why [`VcpuBackend::run`] returned: one `KVM_EXIT_*` reason, or a point where the caller may
/// look at signals and the scheduler before running again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// One port access (string forms exit once per element); an `OUT`'s value is
    /// `data[..size]`, an `IN` is finished by [`VcpuBackend::complete`].
    Io {
        port: u16,
        size: u8,
        write: bool,
        data: [u8; 8],
    },
    /// An access no slot backs; a write carries `data[..len]`, a read is finished by
    /// [`VcpuBackend::complete`].
    Mmio {
        gpa: u64,
        len: u8,
        write: bool,
        data: [u8; 8],
    },
    /// `HLT` with nothing to wake it (`KVM_EXIT_HLT`).
    Hlt,
    /// Triple fault (`KVM_EXIT_SHUTDOWN`).
    Shutdown,
    /// The guest can take an interrupt now (asked for with `irq_window`;
    /// `KVM_EXIT_IRQ_WINDOW_OPEN`).
    IrqWindowOpen,
    /// The instruction budget ran out: the caller looks at signals, then runs again.
    Budget,
    /// State the backend cannot run (`KVM_EXIT_INTERNAL_ERROR` with this `suberror`,
    /// `KVM_INTERNAL_ERROR_*`).
    Internal { suberror: u32 },
}

/// `KVM_SET_SREGS` refused the state (`EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidState;

/// One guest CPU of a backend.
pub trait VcpuBackend: Send {
    fn regs(&self) -> KvmRegs;
    fn set_regs(&mut self, regs: &KvmRegs);
    fn sregs(&self) -> KvmSregs;
    fn set_sregs(&mut self, sregs: &KvmSregs) -> Result<(), InvalidState>;
    fn fpu(&self) -> KvmFpu;
    fn set_fpu(&mut self, fpu: &KvmFpu);
    fn set_cpuid(&mut self, entries: &[KvmCpuidEntry2]);
    /// One MSR, `None` if unknown.
    fn msr(&self, index: u32) -> Option<u64>;
    /// Sets one MSR; `false` if unknown or refused.
    fn set_msr(&mut self, index: u32, value: u64) -> bool;
    /// Queues external interrupt `vector`; `false` if one is already queued.
    fn queue_interrupt(&mut self, vector: u8) -> bool;
    /// The guest's interrupt flag (`kvm_run.if_flag`).
    fn interrupt_flag(&self) -> bool;
    /// An interrupt could be injected now (`kvm_run.ready_for_interrupt_injection`).
    fn ready_for_interrupt(&self) -> bool;
    /// Finishes the `IN` or MMIO read of the last exit with `data`.
    fn complete(&mut self, data: &[u8]);
    /// Runs at most `budget` instructions.
    fn run(&mut self, mem: &mut dyn GuestMemory, budget: u64, irq_window: bool) -> Exit;
}

/// A backend: its `LEVITATE_BACKEND_*` bit, what it offers, and new vCPUs.
pub trait Backend: Send + Sync {
    /// Its [`crate::abi::LEVITATE_BACKEND_INTERP`]-style bit.
    fn id(&self) -> u64;
    /// `KVM_GET_SUPPORTED_CPUID`.
    fn supported_cpuid(&self) -> Vec<KvmCpuidEntry2>;
    /// `KVM_GET_MSR_INDEX_LIST`.
    fn msr_index_list(&self) -> &'static [u32];
    /// A vCPU in the reset state.
    fn new_vcpu(&self) -> Box<dyn VcpuBackend>;
}
