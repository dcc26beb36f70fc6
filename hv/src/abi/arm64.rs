//! arm64 structs of the KVM ABI (`arch/arm64/include/uapi/asm/kvm.h`) and the ioctls whose
//! numbers depend on them. arm64 VMMs set registers with `KVM_SET_ONE_REG`; the core register
//! ids are built here (Arm ARM D1 "The AArch64 System Level Programmers' Model" for the
//! registers themselves).

use super::ioctl::{ior, iow};
use super::{KVM_REG_ARM64, KVM_REG_SIZE_U64, KVMIO};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct kvm_vcpu_init`: the argument of `KVM_ARM_VCPU_INIT` and the result of
/// `KVM_ARM_PREFERRED_TARGET` (api.rst 4.82, 4.83).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmVcpuInit {
    /// A `KVM_ARM_TARGET_*` value.
    pub target: u32,
    /// Bit set of `KVM_ARM_VCPU_*` features, in 32-bit words.
    pub features: [u32; 7],
}

/// vCPU ioctl: reset the vCPU to `target` with `features` (api.rst 4.82).
pub const KVM_ARM_VCPU_INIT: u32 = iow::<KvmVcpuInit>(KVMIO, 0xae);
/// VM ioctl: the target this host prefers (api.rst 4.83).
pub const KVM_ARM_PREFERRED_TARGET: u32 = ior::<KvmVcpuInit>(KVMIO, 0xaf);

/// `KVM_ARM_TARGET_AEM_V8`.
pub const KVM_ARM_TARGET_AEM_V8: u32 = 0;
/// `KVM_ARM_TARGET_FOUNDATION_V8`.
pub const KVM_ARM_TARGET_FOUNDATION_V8: u32 = 1;
/// `KVM_ARM_TARGET_CORTEX_A57`.
pub const KVM_ARM_TARGET_CORTEX_A57: u32 = 2;
/// `KVM_ARM_TARGET_XGENE_POTENZA`.
pub const KVM_ARM_TARGET_XGENE_POTENZA: u32 = 3;
/// `KVM_ARM_TARGET_CORTEX_A53`.
pub const KVM_ARM_TARGET_CORTEX_A53: u32 = 4;
/// `KVM_ARM_TARGET_GENERIC_V8`: what Linux reports for any other CPU.
pub const KVM_ARM_TARGET_GENERIC_V8: u32 = 5;

/// Feature bit: start powered off (secondary vCPUs, woken by PSCI `CPU_ON`).
pub const KVM_ARM_VCPU_POWER_OFF: u32 = 0;
/// Feature bit: run EL1 in AArch32.
pub const KVM_ARM_VCPU_EL1_32BIT: u32 = 1;
/// Feature bit: PSCI 0.2 instead of 0.1.
pub const KVM_ARM_VCPU_PSCI_0_2: u32 = 2;
/// Feature bit: a PMUv3.
pub const KVM_ARM_VCPU_PMU_V3: u32 = 3;

/// `KVM_REG_ARM_CORE`: the register group of `struct kvm_regs` fields.
pub const KVM_REG_ARM_CORE: u64 = 0x0010 << 16;

/// The `KVM_{GET,SET}_ONE_REG` id of the 64-bit field at `offset` bytes into arm64's
/// `struct kvm_regs` (the id counts 32-bit words).
pub const fn core_reg_id(offset: usize) -> u64 {
    KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / 4) as u64
}

/// The id of general-purpose register `Xn`, `n` in 0..=30 (`regs.regs[n]`).
pub const fn xreg_id(n: usize) -> u64 {
    assert!(n <= 30, "X0..X30 only");
    core_reg_id(n * 8)
}

/// The id of `SP_EL0` (`regs.sp`).
pub const SP_ID: u64 = core_reg_id(31 * 8);
/// The id of `PC` (`regs.pc`).
pub const PC_ID: u64 = core_reg_id(32 * 8);
/// The id of `PSTATE` (`regs.pstate`).
pub const PSTATE_ID: u64 = core_reg_id(33 * 8);
