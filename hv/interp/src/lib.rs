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

/// The sixteen conditional forms of Jcc as one match pattern (the condition itself comes from
/// `Instruction::condition_code`); `setcc!` and `cmovcc!` likewise for SETcc and CMOVcc.
macro_rules! jcc {
    () => {
        iced_x86::Mnemonic::Jb
            | iced_x86::Mnemonic::Jae
            | iced_x86::Mnemonic::Je
            | iced_x86::Mnemonic::Jne
            | iced_x86::Mnemonic::Jbe
            | iced_x86::Mnemonic::Ja
            | iced_x86::Mnemonic::Js
            | iced_x86::Mnemonic::Jns
            | iced_x86::Mnemonic::Jp
            | iced_x86::Mnemonic::Jnp
            | iced_x86::Mnemonic::Jl
            | iced_x86::Mnemonic::Jge
            | iced_x86::Mnemonic::Jle
            | iced_x86::Mnemonic::Jg
            | iced_x86::Mnemonic::Jo
            | iced_x86::Mnemonic::Jno
    };
}

/// SETcc's forms: see `jcc!`.
macro_rules! setcc {
    () => {
        iced_x86::Mnemonic::Setb
            | iced_x86::Mnemonic::Setae
            | iced_x86::Mnemonic::Sete
            | iced_x86::Mnemonic::Setne
            | iced_x86::Mnemonic::Setbe
            | iced_x86::Mnemonic::Seta
            | iced_x86::Mnemonic::Sets
            | iced_x86::Mnemonic::Setns
            | iced_x86::Mnemonic::Setp
            | iced_x86::Mnemonic::Setnp
            | iced_x86::Mnemonic::Setl
            | iced_x86::Mnemonic::Setge
            | iced_x86::Mnemonic::Setle
            | iced_x86::Mnemonic::Setg
            | iced_x86::Mnemonic::Seto
            | iced_x86::Mnemonic::Setno
    };
}

/// CMOVcc's forms: see `jcc!`.
macro_rules! cmovcc {
    () => {
        iced_x86::Mnemonic::Cmovb
            | iced_x86::Mnemonic::Cmovae
            | iced_x86::Mnemonic::Cmove
            | iced_x86::Mnemonic::Cmovne
            | iced_x86::Mnemonic::Cmovbe
            | iced_x86::Mnemonic::Cmova
            | iced_x86::Mnemonic::Cmovs
            | iced_x86::Mnemonic::Cmovns
            | iced_x86::Mnemonic::Cmovp
            | iced_x86::Mnemonic::Cmovnp
            | iced_x86::Mnemonic::Cmovl
            | iced_x86::Mnemonic::Cmovge
            | iced_x86::Mnemonic::Cmovle
            | iced_x86::Mnemonic::Cmovg
            | iced_x86::Mnemonic::Cmovo
            | iced_x86::Mnemonic::Cmovno
    };
}

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
/// What [`Vcpu::run`] returns and runs against, and what `set_sregs` refuses with: `hv`'s
/// backend types, which the interpreter implements.
pub use hv::backend::{Exit, GuestMemory, InvalidState, PAGE_SIZE};
pub use state::Vcpu;

/// `KVM_INTERNAL_ERROR_EMULATION`: an instruction the interpreter cannot carry out (code
/// fetched from MMIO, a page-crossing MMIO access, virtual-8086 mode).
pub const INTERNAL_ERROR_EMULATION: u32 = 1;

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
