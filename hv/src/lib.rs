//! Levitate's `/dev/kvm`, arch-neutral and host-testable.
//!
//! - [`abi`]: Linux's ioctl encoding, the KVM ioctl numbers of the subset Levitate implements,
//!   and the `#[repr(C)]` structs they carry, checked field by field against `kvm-bindings`.
//! - [`backend`]: what a backend (the x86 interpreter today, hardware later) implements: one
//!   [`backend::VcpuBackend`] per vCPU, run against [`backend::GuestMemory`].
//! - [`host`]: what the ioctl layer needs from the calling process ([`host::Host`]: user
//!   copies, new fds, pending signals, its pages), implemented by the Linux personality.
//! - [`System`], [`Vm`], [`Vcpu`]: the objects behind the `/dev/kvm`, VM and vCPU fds, with
//!   Linux's ioctl semantics and errnos; [`memory`]: slots and the per-vCPU translation cache.
//!
//! The guest ABI is x86's on every host arch: on an aarch64 kernel `/dev/kvm` runs x86 guests
//! through the interpreter, and VMMs use the x86 ioctl numbers there.

#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod abi;
pub mod backend;
pub mod host;
pub mod memory;
mod system;
mod vcpu;
mod vm;

pub use backend::{Backend, Exit, GuestMemory, VcpuBackend};
pub use host::{Host, KvmFile, Page};
pub use system::System;
pub use vcpu::{IO_DATA_OFFSET, RUN_BUDGET, Vcpu};
pub use vm::{
    MAX_CPUID_ENTRIES, MAX_IO_MSRS, MAX_VCPU_ID, MAX_VCPUS, NR_MEMSLOTS, Vm, check_extension,
};

#[cfg(test)]
mod tests;
