//! The Linux KVM ABI subset of `DESIGN.md`, with Linux's numbers and layouts.
//!
//! Structs derive `zerocopy`'s traits, so the ioctl layer copies them from and to user memory
//! as bytes without `unsafe`; every padding byte is an explicit field, as `IntoBytes` requires.
//! Arch-specific structs and the ioctls built from them live in [`x86`] and [`arm64`]: their
//! numbers differ between architectures because the struct size is part of the number.
//!
//! Reference: the kernel's `Documentation/virt/kvm/api.rst` ("The Definitive KVM API
//! Documentation"), section 4 for each ioctl and section 5 for `struct kvm_run`.

pub mod arm64;
mod caps;
pub mod ioctl;
mod run;
mod structs;
pub mod x86;

pub use caps::*;
pub use run::*;
pub use structs::*;

use ioctl::{io, iow};

/// The KVM API version `KVM_GET_API_VERSION` returns (api.rst 4.1).
pub const KVM_API_VERSION: i32 = 12;

/// The ioctl type byte of KVM (`KVMIO`).
pub const KVMIO: u8 = 0xae;

/// System ioctl: the API version, always [`KVM_API_VERSION`] (api.rst 4.1).
pub const KVM_GET_API_VERSION: u32 = io(KVMIO, 0x00);
/// System ioctl: a new VM fd; the argument is the machine type, 0 by default (api.rst 4.2).
pub const KVM_CREATE_VM: u32 = io(KVMIO, 0x01);
/// System or VM ioctl: whether (or how much of) a capability is present (api.rst 4.4).
pub const KVM_CHECK_EXTENSION: u32 = io(KVMIO, 0x03);
/// System ioctl: the size of the region a vCPU fd's `mmap` gives (api.rst 4.5).
pub const KVM_GET_VCPU_MMAP_SIZE: u32 = io(KVMIO, 0x04);
/// VM ioctl: a new vCPU fd; the argument is the vCPU id (api.rst 4.7).
pub const KVM_CREATE_VCPU: u32 = io(KVMIO, 0x41);
/// VM ioctl: create, move or delete a memory slot (api.rst 4.35).
pub const KVM_SET_USER_MEMORY_REGION: u32 = iow::<KvmUserspaceMemoryRegion>(KVMIO, 0x46);
/// VM ioctl: create the in-kernel interrupt controller model (api.rst 4.24).
pub const KVM_CREATE_IRQCHIP: u32 = io(KVMIO, 0x60);
/// VM ioctl: set the level of an in-kernel irqchip input (api.rst 4.25).
pub const KVM_IRQ_LINE: u32 = iow::<KvmIrqLevel>(KVMIO, 0x61);
/// vCPU ioctl: run the guest until an exit that userspace must handle (api.rst 4.10).
pub const KVM_RUN: u32 = io(KVMIO, 0x80);
/// vCPU ioctl: queue an external interrupt when there is no in-kernel irqchip (api.rst 4.16).
pub const KVM_INTERRUPT: u32 = iow::<KvmInterrupt>(KVMIO, 0x86);
/// VM or vCPU ioctl: enable a capability with arguments (api.rst 4.37).
pub const KVM_ENABLE_CAP: u32 = iow::<KvmEnableCap>(KVMIO, 0xa3);
/// vCPU ioctl: read one register named by a `KVM_REG_*` id (api.rst 4.69).
pub const KVM_GET_ONE_REG: u32 = iow::<KvmOneReg>(KVMIO, 0xab);
/// vCPU ioctl: write one register named by a `KVM_REG_*` id (api.rst 4.68).
pub const KVM_SET_ONE_REG: u32 = iow::<KvmOneReg>(KVMIO, 0xac);

#[cfg(test)]
mod tests;
