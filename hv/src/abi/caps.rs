//! Capability numbers for `KVM_CHECK_EXTENSION` and `KVM_ENABLE_CAP` (`linux/kvm.h`).
//!
//! The list is every capability the rust-vmm `kvm-ioctls` crate can ask about (its `Cap`
//! enum), so any VMM built on it gets an answer; Levitate answers 0 for those it lacks, as Linux
//! does for unknown numbers. [`KVM_CAP_LEVITATE_BACKEND`] is Levitate's own, off Linux's range.

/// Generates the capability constants and [`cap_name`] from one list.
macro_rules! caps {
    ($( $name:ident = $num:literal, )*) => {
        $(
            #[doc = concat!("`", stringify!($name), "`")]
            pub const $name: u32 = $num;
        )*

        /// The `KVM_CAP_*` name of a capability number, for logs.
        pub const fn cap_name(cap: u32) -> Option<&'static str> {
            match cap {
                $( $num => Some(stringify!($name)), )*
                KVM_CAP_LEVITATE_BACKEND => Some("KVM_CAP_LEVITATE_BACKEND"),
                _ => None,
            }
        }

        /// Every Linux capability number listed here, ascending.
        pub const LINUX_CAPS: &[u32] = &[$( $num, )*];
    };
}

/// Levitate's backend selection capability: `KVM_CHECK_EXTENSION` on it returns the bit set of
/// the backends this kernel has ([`LEVITATE_BACKEND_INTERP`], [`LEVITATE_BACKEND_HW`]);
/// `KVM_ENABLE_CAP` on a VM fd with `args[0]` one of them forces that backend for the VM, before
/// its first vCPU. The number is ASCII "LVT" in the top bytes, far from Linux's small integers,
/// so Linux answers 0 ("absent") and a VMM can probe it anywhere.
pub const KVM_CAP_LEVITATE_BACKEND: u32 = 0x4c56_5400;
/// The x86 instruction interpreter backend (any host CPU).
pub const LEVITATE_BACKEND_INTERP: u64 = 1 << 0;
/// The hardware backend of this CPU (SVM, VMX or EL2).
pub const LEVITATE_BACKEND_HW: u64 = 1 << 1;

caps! {
    KVM_CAP_IRQCHIP = 0,
    KVM_CAP_HLT = 1,
    KVM_CAP_MMU_SHADOW_CACHE_CONTROL = 2,
    KVM_CAP_USER_MEMORY = 3,
    KVM_CAP_SET_TSS_ADDR = 4,
    KVM_CAP_VAPIC = 6,
    KVM_CAP_EXT_CPUID = 7,
    KVM_CAP_CLOCKSOURCE = 8,
    KVM_CAP_NR_VCPUS = 9,
    KVM_CAP_NR_MEMSLOTS = 10,
    KVM_CAP_PIT = 11,
    KVM_CAP_NOP_IO_DELAY = 12,
    KVM_CAP_PV_MMU = 13,
    KVM_CAP_MP_STATE = 14,
    KVM_CAP_COALESCED_MMIO = 15,
    KVM_CAP_SYNC_MMU = 16,
    KVM_CAP_IOMMU = 18,
    KVM_CAP_DESTROY_MEMORY_REGION_WORKS = 21,
    KVM_CAP_USER_NMI = 22,
    KVM_CAP_SET_GUEST_DEBUG = 23,
    KVM_CAP_REINJECT_CONTROL = 24,
    KVM_CAP_IRQ_ROUTING = 25,
    KVM_CAP_IRQ_INJECT_STATUS = 26,
    KVM_CAP_ASSIGN_DEV_IRQ = 29,
    KVM_CAP_JOIN_MEMORY_REGIONS_WORKS = 30,
    KVM_CAP_MCE = 31,
    KVM_CAP_IRQFD = 32,
    KVM_CAP_PIT2 = 33,
    KVM_CAP_SET_BOOT_CPU_ID = 34,
    KVM_CAP_PIT_STATE2 = 35,
    KVM_CAP_IOEVENTFD = 36,
    KVM_CAP_SET_IDENTITY_MAP_ADDR = 37,
    KVM_CAP_XEN_HVM = 38,
    KVM_CAP_ADJUST_CLOCK = 39,
    KVM_CAP_INTERNAL_ERROR_DATA = 40,
    KVM_CAP_VCPU_EVENTS = 41,
    KVM_CAP_S390_PSW = 42,
    KVM_CAP_PPC_SEGSTATE = 43,
    KVM_CAP_HYPERV = 44,
    KVM_CAP_HYPERV_VAPIC = 45,
    KVM_CAP_HYPERV_SPIN = 46,
    KVM_CAP_PCI_SEGMENT = 47,
    KVM_CAP_PPC_PAIRED_SINGLES = 48,
    KVM_CAP_INTR_SHADOW = 49,
    KVM_CAP_DEBUGREGS = 50,
    KVM_CAP_X86_ROBUST_SINGLESTEP = 51,
    KVM_CAP_PPC_OSI = 52,
    KVM_CAP_PPC_UNSET_IRQ = 53,
    KVM_CAP_ENABLE_CAP = 54,
    KVM_CAP_XSAVE = 55,
    KVM_CAP_XCRS = 56,
    KVM_CAP_PPC_GET_PVINFO = 57,
    KVM_CAP_PPC_IRQ_LEVEL = 58,
    KVM_CAP_ASYNC_PF = 59,
    KVM_CAP_TSC_CONTROL = 60,
    KVM_CAP_GET_TSC_KHZ = 61,
    KVM_CAP_PPC_BOOKE_SREGS = 62,
    KVM_CAP_SPAPR_TCE = 63,
    KVM_CAP_PPC_SMT = 64,
    KVM_CAP_PPC_RMA = 65,
    KVM_CAP_MAX_VCPUS = 66,
    KVM_CAP_PPC_HIOR = 67,
    KVM_CAP_PPC_PAPR = 68,
    KVM_CAP_SW_TLB = 69,
    KVM_CAP_ONE_REG = 70,
    KVM_CAP_S390_GMAP = 71,
    KVM_CAP_TSC_DEADLINE_TIMER = 72,
    KVM_CAP_S390_UCONTROL = 73,
    KVM_CAP_SYNC_REGS = 74,
    KVM_CAP_PCI_2_3 = 75,
    KVM_CAP_KVMCLOCK_CTRL = 76,
    KVM_CAP_SIGNAL_MSI = 77,
    KVM_CAP_PPC_GET_SMMU_INFO = 78,
    KVM_CAP_S390_COW = 79,
    KVM_CAP_PPC_ALLOC_HTAB = 80,
    KVM_CAP_READONLY_MEM = 81,
    KVM_CAP_IRQFD_RESAMPLE = 82,
    KVM_CAP_PPC_BOOKE_WATCHDOG = 83,
    KVM_CAP_PPC_HTAB_FD = 84,
    KVM_CAP_S390_CSS_SUPPORT = 85,
    KVM_CAP_PPC_EPR = 86,
    KVM_CAP_ARM_PSCI = 87,
    KVM_CAP_ARM_SET_DEVICE_ADDR = 88,
    KVM_CAP_DEVICE_CTRL = 89,
    KVM_CAP_IRQ_MPIC = 90,
    KVM_CAP_PPC_RTAS = 91,
    KVM_CAP_IRQ_XICS = 92,
    KVM_CAP_ARM_EL1_32BIT = 93,
    KVM_CAP_SPAPR_MULTITCE = 94,
    KVM_CAP_EXT_EMUL_CPUID = 95,
    KVM_CAP_HYPERV_TIME = 96,
    KVM_CAP_IOAPIC_POLARITY_IGNORED = 97,
    KVM_CAP_ENABLE_CAP_VM = 98,
    KVM_CAP_S390_IRQCHIP = 99,
    KVM_CAP_IOEVENTFD_NO_LENGTH = 100,
    KVM_CAP_VM_ATTRIBUTES = 101,
    KVM_CAP_ARM_PSCI_0_2 = 102,
    KVM_CAP_PPC_FIXUP_HCALL = 103,
    KVM_CAP_PPC_ENABLE_HCALL = 104,
    KVM_CAP_CHECK_EXTENSION_VM = 105,
    KVM_CAP_S390_USER_SIGP = 106,
    KVM_CAP_X86_SMM = 117,
    KVM_CAP_GUEST_DEBUG_HW_BPS = 119,
    KVM_CAP_GUEST_DEBUG_HW_WPS = 120,
    KVM_CAP_SPLIT_IRQCHIP = 121,
    KVM_CAP_HYPERV_SYNIC = 123,
    KVM_CAP_ARM_PMU_V3 = 126,
    KVM_CAP_MAX_VCPU_ID = 128,
    KVM_CAP_X2APIC_API = 129,
    KVM_CAP_MSI_DEVID = 131,
    KVM_CAP_IMMEDIATE_EXIT = 136,
    KVM_CAP_HYPERV_SYNIC2 = 148,
    KVM_CAP_GET_MSR_FEATURES = 153,
    KVM_CAP_NESTED_STATE = 157,
    KVM_CAP_COALESCED_PIO = 162,
    KVM_CAP_ARM_VM_IPA_SIZE = 165,
    KVM_CAP_ARM_SVE = 170,
    KVM_CAP_ARM_PTRAUTH_ADDRESS = 171,
    KVM_CAP_ARM_PTRAUTH_GENERIC = 172,
    KVM_CAP_X86_USER_SPACE_MSR = 188,
    KVM_CAP_X86_MSR_FILTER = 189,
    KVM_CAP_DIRTY_LOG_RING = 192,
    KVM_CAP_EXIT_HYPERCALL = 201,
    KVM_CAP_XSAVE2 = 208,
    KVM_CAP_COUNTER_OFFSET = 227,
    KVM_CAP_USER_MEMORY2 = 231,
    KVM_CAP_MEMORY_FAULT_INFO = 232,
    KVM_CAP_MEMORY_ATTRIBUTES = 233,
    KVM_CAP_GUEST_MEMFD = 234,
}
