//! Arch-neutral argument structs of the KVM ioctls (`include/uapi/linux/kvm.h`).

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct kvm_userspace_memory_region`: the argument of `KVM_SET_USER_MEMORY_REGION`
/// (api.rst 4.35). A `memory_size` of 0 deletes the slot.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmUserspaceMemoryRegion {
    /// Slot number (bits 16-31: address space id).
    pub slot: u32,
    /// `KVM_MEM_*` flags.
    pub flags: u32,
    /// Guest physical address of the slot's start.
    pub guest_phys_addr: u64,
    /// Length in bytes, a multiple of the page size.
    pub memory_size: u64,
    /// Start of the backing memory in the calling process.
    pub userspace_addr: u64,
}

/// `KVM_MEM_LOG_DIRTY_PAGES`: track writes for `KVM_GET_DIRTY_LOG`.
pub const KVM_MEM_LOG_DIRTY_PAGES: u32 = 1 << 0;
/// `KVM_MEM_READONLY`: guest writes exit as MMIO.
pub const KVM_MEM_READONLY: u32 = 1 << 1;

/// `struct kvm_irq_level`: the argument of `KVM_IRQ_LINE` (api.rst 4.25). The first field is a
/// union in C of `__u32 irq` and `__s32 status`; `status` is the same bytes.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmIrqLevel {
    /// The interrupt line (on arm64 an encoded type/vcpu/number).
    pub irq: u32,
    /// 1 raises the line, 0 lowers it.
    pub level: u32,
}

/// `struct kvm_interrupt`: the argument of `KVM_INTERRUPT` (api.rst 4.16).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmInterrupt {
    /// The interrupt vector to inject (x86: 0..256).
    pub irq: u32,
}

/// `struct kvm_enable_cap`: the argument of `KVM_ENABLE_CAP` (api.rst 4.37).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KvmEnableCap {
    /// The capability.
    pub cap: u32,
    /// Must be 0.
    pub flags: u32,
    /// Capability-specific arguments.
    pub args: [u64; 4],
    /// Reserved, zero.
    pub pad: [u8; 64],
}

/// `struct kvm_one_reg`: the argument of `KVM_GET_ONE_REG`/`KVM_SET_ONE_REG` (api.rst 4.68).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmOneReg {
    /// The register id: `KVM_REG_<arch> | KVM_REG_SIZE_* | ...`.
    pub id: u64,
    /// User address of the value, of the size the id encodes.
    pub addr: u64,
}

/// Mask of the architecture bits of a `KVM_REG_*` id.
pub const KVM_REG_ARCH_MASK: u64 = 0xff00_0000_0000_0000;
/// Architecture bits of an x86 register id.
pub const KVM_REG_X86: u64 = 0x2000_0000_0000_0000;
/// Architecture bits of an arm64 register id.
pub const KVM_REG_ARM64: u64 = 0x6000_0000_0000_0000;
/// Shift of the size field of a register id: the value is `1 << field` bytes.
pub const KVM_REG_SIZE_SHIFT: u32 = 52;
/// Mask of the size field of a register id.
pub const KVM_REG_SIZE_MASK: u64 = 0x00f0_0000_0000_0000;
/// Size field of an 8-bit register.
pub const KVM_REG_SIZE_U8: u64 = 0x0000_0000_0000_0000;
/// Size field of a 16-bit register.
pub const KVM_REG_SIZE_U16: u64 = 0x0010_0000_0000_0000;
/// Size field of a 32-bit register.
pub const KVM_REG_SIZE_U32: u64 = 0x0020_0000_0000_0000;
/// Size field of a 64-bit register.
pub const KVM_REG_SIZE_U64: u64 = 0x0030_0000_0000_0000;
/// Size field of a 128-bit register.
pub const KVM_REG_SIZE_U128: u64 = 0x0040_0000_0000_0000;

/// The size in bytes of the register a `KVM_REG_*` id names.
pub const fn reg_size(id: u64) -> usize {
    1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT)
}

impl KvmEnableCap {
    /// A request for `cap` with `args`, flags and padding zero.
    pub const fn new(cap: u32, args: [u64; 4]) -> KvmEnableCap {
        KvmEnableCap {
            cap,
            flags: 0,
            args,
            pad: [0; 64],
        }
    }
}
