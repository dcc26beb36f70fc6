//! x86 structs of the KVM ABI (`arch/x86/include/uapi/asm/kvm.h`) and the ioctls whose numbers
//! depend on them; x86-only ioctls too. Hardware references: Intel SDM Vol. 3A, 3.4.5 (segment
//! descriptors) and 2.4 (GDTR/IDTR); SDM Vol. 1, 10.5 (FXSAVE area) for the FPU state.

use super::KVMIO;
use super::ioctl::{io, ior, iow, iowr};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// `struct kvm_regs` (x86): the general-purpose registers, for `KVM_GET_REGS`/`KVM_SET_REGS`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmRegs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rsp: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rip: u64,
    pub rflags: u64,
}

/// `struct kvm_segment`: a segment register with its hidden (descriptor cache) part.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmSegment {
    /// Linear base address.
    pub base: u64,
    /// Limit in bytes (already scaled by granularity).
    pub limit: u32,
    /// The visible selector.
    pub selector: u16,
    /// Descriptor type field (4 bits) (`type` in C).
    pub type_: u8,
    /// P bit.
    pub present: u8,
    /// Descriptor privilege level.
    pub dpl: u8,
    /// D/B bit.
    pub db: u8,
    /// S bit (code/data rather than system).
    pub s: u8,
    /// L bit (64-bit code).
    pub l: u8,
    /// G bit.
    pub g: u8,
    /// AVL bit.
    pub avl: u8,
    /// The segment is unusable (VMX's notion; a null selector).
    pub unusable: u8,
    /// Reserved.
    pub padding: u8,
}

/// `struct kvm_dtable`: GDTR or IDTR.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmDtable {
    /// Linear base address.
    pub base: u64,
    /// Limit.
    pub limit: u16,
    /// Reserved.
    pub padding: [u16; 3],
}

/// Number of interrupt vectors (`KVM_NR_INTERRUPTS`).
pub const KVM_NR_INTERRUPTS: usize = 256;

/// `struct kvm_sregs` (x86): segment, descriptor-table and control registers, for
/// `KVM_GET_SREGS`/`KVM_SET_SREGS`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmSregs {
    pub cs: KvmSegment,
    pub ds: KvmSegment,
    pub es: KvmSegment,
    pub fs: KvmSegment,
    pub gs: KvmSegment,
    pub ss: KvmSegment,
    pub tr: KvmSegment,
    pub ldt: KvmSegment,
    pub gdt: KvmDtable,
    pub idt: KvmDtable,
    pub cr0: u64,
    pub cr2: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub cr8: u64,
    pub efer: u64,
    pub apic_base: u64,
    /// A set bit marks a pending external interrupt of that vector.
    pub interrupt_bitmap: [u64; KVM_NR_INTERRUPTS.div_ceil(64)],
}

/// `struct kvm_fpu` (x86): x87 and SSE state in FXSAVE terms, for `KVM_GET_FPU`/`KVM_SET_FPU`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmFpu {
    /// ST0-ST7 (80 bits each, in 16-byte slots).
    pub fpr: [[u8; 16]; 8],
    /// FPU control word.
    pub fcw: u16,
    /// FPU status word.
    pub fsw: u16,
    /// Abridged tag word.
    pub ftwx: u8,
    /// Reserved.
    pub pad1: u8,
    /// Last x87 opcode.
    pub last_opcode: u16,
    /// Last x87 instruction pointer.
    pub last_ip: u64,
    /// Last x87 data pointer.
    pub last_dp: u64,
    /// XMM0-XMM15.
    pub xmm: [[u8; 16]; 16],
    /// MXCSR.
    pub mxcsr: u32,
    /// Reserved.
    pub pad2: u32,
}

/// `struct kvm_cpuid_entry2`: one CPUID leaf, for `KVM_SET_CPUID2` and
/// `KVM_GET_SUPPORTED_CPUID`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmCpuidEntry2 {
    /// EAX input (leaf).
    pub function: u32,
    /// ECX input (subleaf), if [`KVM_CPUID_FLAG_SIGNIFCANT_INDEX`].
    pub index: u32,
    /// `KVM_CPUID_FLAG_*`.
    pub flags: u32,
    /// Output EAX.
    pub eax: u32,
    /// Output EBX.
    pub ebx: u32,
    /// Output ECX.
    pub ecx: u32,
    /// Output EDX.
    pub edx: u32,
    /// Reserved.
    pub padding: [u32; 3],
}

/// [`KvmCpuidEntry2::flags`]: `index` selects the subleaf (Linux's spelling).
pub const KVM_CPUID_FLAG_SIGNIFCANT_INDEX: u32 = 1 << 0;

/// `struct kvm_cpuid2` without its flexible array: `nent` [`KvmCpuidEntry2`]s follow it.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmCpuid2 {
    /// Number of entries that follow (in: room for; out: filled).
    pub nent: u32,
    /// Reserved.
    pub padding: u32,
}

/// `struct kvm_msr_entry`: one MSR, for `KVM_GET_MSRS`/`KVM_SET_MSRS`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmMsrEntry {
    /// The MSR number (ECX of RDMSR/WRMSR).
    pub index: u32,
    /// Reserved.
    pub reserved: u32,
    /// The value.
    pub data: u64,
}

/// `struct kvm_msrs` without its flexible array: `nmsrs` [`KvmMsrEntry`]s follow it. Aligned
/// to 8 as the C struct is, through its `__u64`-holding entries.
#[repr(C, align(8))]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmMsrs {
    /// Number of entries that follow.
    pub nmsrs: u32,
    /// Reserved.
    pub pad: u32,
}

/// `struct kvm_msr_list` without its flexible array: `nmsrs` `u32` MSR numbers follow it.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmMsrList {
    /// Number of indices (in: room for; out: needed).
    pub nmsrs: u32,
}

/// System ioctl: the MSRs `KVM_GET_MSRS`/`KVM_SET_MSRS` accept (api.rst 4.3).
pub const KVM_GET_MSR_INDEX_LIST: u32 = iowr::<KvmMsrList>(KVMIO, 0x02);
/// System ioctl: the CPUID leaves KVM can present to a guest (api.rst 4.46).
pub const KVM_GET_SUPPORTED_CPUID: u32 = iowr::<KvmCpuid2>(KVMIO, 0x05);
/// VM ioctl: guest physical address of the three pages VMX needs for the TSS (api.rst 4.48).
pub const KVM_SET_TSS_ADDR: u32 = io(KVMIO, 0x47);
/// VM ioctl: guest physical address of VMX's identity-map page (api.rst 4.54).
pub const KVM_SET_IDENTITY_MAP_ADDR: u32 = iow::<u64>(KVMIO, 0x48);
/// vCPU ioctl: read [`KvmRegs`] (api.rst 4.11).
pub const KVM_GET_REGS: u32 = ior::<KvmRegs>(KVMIO, 0x81);
/// vCPU ioctl: write [`KvmRegs`] (api.rst 4.12).
pub const KVM_SET_REGS: u32 = iow::<KvmRegs>(KVMIO, 0x82);
/// vCPU ioctl: read [`KvmSregs`] (api.rst 4.13).
pub const KVM_GET_SREGS: u32 = ior::<KvmSregs>(KVMIO, 0x83);
/// vCPU ioctl: write [`KvmSregs`] (api.rst 4.14).
pub const KVM_SET_SREGS: u32 = iow::<KvmSregs>(KVMIO, 0x84);
/// vCPU ioctl: read MSRs (api.rst 4.18).
pub const KVM_GET_MSRS: u32 = iowr::<KvmMsrs>(KVMIO, 0x88);
/// vCPU ioctl: write MSRs; returns how many were set (api.rst 4.19).
pub const KVM_SET_MSRS: u32 = iow::<KvmMsrs>(KVMIO, 0x89);
/// vCPU ioctl: read [`KvmFpu`] (api.rst 4.22).
pub const KVM_GET_FPU: u32 = ior::<KvmFpu>(KVMIO, 0x8c);
/// vCPU ioctl: write [`KvmFpu`] (api.rst 4.23).
pub const KVM_SET_FPU: u32 = iow::<KvmFpu>(KVMIO, 0x8d);
/// vCPU ioctl: the CPUID the guest sees (api.rst 4.20).
pub const KVM_SET_CPUID2: u32 = iow::<KvmCpuid2>(KVMIO, 0x90);
