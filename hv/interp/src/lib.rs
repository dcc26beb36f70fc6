//! An x86 instruction interpreter: Levitate's `interp` KVM backend.
//!
//! A [`Vcpu`] holds the architectural state of one x86 guest CPU, set and read through the
//! KVM ABI structs (`KVM_SET_REGS`, `KVM_SET_SREGS`, ...), and [`Vcpu::run`] executes guest
//! instructions against a [`GuestMemory`] until something the VMM must handle happens
//! ([`Exit`]). The crate knows nothing of files, processes or host CPUs, so it builds for the
//! host too, where it is tested against the real `/dev/kvm`.
//!
//! Driving it (what the `/dev/kvm` glue does per `KVM_RUN`):
//! - `Exit::Io { write: true, .. }` / `Exit::Mmio { write: true, .. }`: the instruction has
//!   completed; handle the write and `run` again.
//! - `Exit::Io { write: false, .. }` / `Exit::Mmio { write: false, .. }`: the instruction has
//!   not completed; pass the data to [`Vcpu::complete`], then `run`: the instruction runs
//!   again and takes it (without `complete` it reads zeros).
//! - One instruction may produce several exits (two MMIO writes, a page-crossing access);
//!   `run` hands them out one at a time before executing anything else.
//! - `Exit::Hlt`: RIP is past the HLT; queue an interrupt ([`Vcpu::queue_interrupt`]) and
//!   `run` to wake the guest. `Exit::Budget`: nothing to do; check signals and run again.
//! - The VMM may change guest memory between `run` calls: the decode cache and TLB notice.
//!
//! Layout: `exec` decodes (through the `decode` cache) and dispatches one instruction; `alu`,
//! `bits`, `data`, `flow`, `string` and `system` implement the instruction groups; `seg` and
//! `mem` do segmentation and paging (Intel SDM Vol. 3A ch. 3-4); `intr` delivers exceptions
//! and interrupts (SDM Vol. 3A ch. 6); `cpuid` holds CPUID and the MSRs.

#![no_std]
#![deny(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

mod alu;
mod arith;
mod bits;
mod cpuid;
mod data;
mod decode;
mod exec;
mod fast;
mod flow;
mod intr;
mod mem;
mod seg;
mod state;
mod string;
mod system;
#[cfg(test)]
mod tests;

pub use cpuid::{msr_index_list, supported_cpuid};
pub use hv::abi::x86::{KvmCpuidEntry2, KvmFpu, KvmRegs, KvmSregs};
pub use state::Vcpu;

/// Size of a guest page as [`GuestMemory`] hands them out.
pub const PAGE_SIZE: usize = 4096;

/// Guest-physical memory as the interpreter sees it: the memory slots of one VM.
pub trait GuestMemory {
    /// The host bytes of the 4 KiB guest-physical page holding `gpa`, or `None` when no slot
    /// backs it (or `write` is set and the slot is read-only): the access then becomes an MMIO
    /// exit, as under KVM.
    fn page(&mut self, gpa: u64, write: bool) -> Option<&mut [u8; PAGE_SIZE]>;
}

/// Why [`Vcpu::run`] returned: one `KVM_EXIT_*` reason, or a point where the caller may
/// look at signals and the scheduler before calling `run` again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `IN`/`OUT` (one element; string forms exit once per element). For `OUT`, `data[..size]`
    /// holds the value; for `IN`, the caller supplies it with [`Vcpu::complete`] before the
    /// next `run`.
    Io {
        port: u16,
        size: u8,
        write: bool,
        data: [u8; 8],
    },
    /// An access to guest-physical memory no slot backs. A write carries `data[..len]`; a read
    /// is finished by [`Vcpu::complete`] with the value before the next `run`.
    Mmio {
        gpa: u64,
        len: u8,
        write: bool,
        data: [u8; 8],
    },
    /// `HLT` with no interrupt to take (`KVM_EXIT_HLT`).
    Hlt,
    /// A triple fault (`KVM_EXIT_SHUTDOWN`).
    Shutdown,
    /// The caller asked for an interrupt window and the guest can now take an interrupt
    /// (`KVM_EXIT_IRQ_WINDOW_OPEN`).
    IrqWindowOpen,
    /// The instruction budget ran out; nothing for the VMM. The caller checks for pending
    /// signals and preemption, then runs again.
    Budget,
    /// The interpreter met state it cannot run (`KVM_EXIT_INTERNAL_ERROR` with this
    /// `suberror`, `KVM_INTERNAL_ERROR_*`).
    Internal { suberror: u32 },
}

/// `KVM_INTERNAL_ERROR_EMULATION`: an instruction the interpreter cannot carry out (code
/// fetched from MMIO, a page-crossing MMIO access, virtual-8086 mode).
pub const INTERNAL_ERROR_EMULATION: u32 = 1;

/// `set_sregs` refused the state (Linux's `KVM_SET_SREGS` says `EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidState;

/// `queue_interrupt` found an interrupt already queued (Linux: `EEXIST`... see api.rst 4.16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterruptPending;

/// Why an instruction stopped early: a guest exception to deliver, or an exit (already queued
/// in the vCPU) after which the instruction runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Exception `vector` with an optional error code.
    Exc(u8, Option<u32>),
    /// Leave `run`: the queued exit must be handled first (an MMIO read or `IN`).
    Exit,
}

/// The result of one step of guest work.
pub(crate) type R<T> = Result<T, Fault>;

/// `#DE`, `#GP(code)` and friends as [`Fault`]s.
pub(crate) mod exc {
    use super::Fault;
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const UD: u8 = 6;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;

    /// `#GP(code)`.
    pub fn gp(code: u32) -> Fault {
        Fault::Exc(GP, Some(code))
    }
    /// `#UD`.
    pub fn ud() -> Fault {
        Fault::Exc(UD, None)
    }
}
