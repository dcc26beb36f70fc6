//! Host tests: every layout and number checked against the rust-vmm crates.

use super::arm64::*;
use super::ioctl::*;
use super::x86::*;
use super::*;
use core::mem::{align_of, offset_of, size_of};
use kvm_bindings as kb;

/// Asserts equal size and alignment, and equal offsets for each pair of fields.
macro_rules! same_layout {
    ($ours:ty, $theirs:ty $(, $field:ident = $their_field:ident)* $(,)?) => {{
        assert_eq!(size_of::<$ours>(), size_of::<$theirs>(), "size of {}", stringify!($ours));
        assert_eq!(align_of::<$ours>(), align_of::<$theirs>(), "align of {}", stringify!($ours));
        $(
            assert_eq!(
                offset_of!($ours, $field),
                offset_of!($theirs, $their_field),
                "{}::{}",
                stringify!($ours),
                stringify!($field)
            );
        )*
    }};
}

#[test]
fn generic_struct_layouts_match_kvm_bindings() {
    same_layout!(
        KvmUserspaceMemoryRegion,
        kb::kvm_userspace_memory_region,
        slot = slot,
        flags = flags,
        guest_phys_addr = guest_phys_addr,
        memory_size = memory_size,
        userspace_addr = userspace_addr,
    );
    same_layout!(
        KvmIrqLevel,
        kb::kvm_irq_level,
        irq = __bindgen_anon_1,
        level = level
    );
    same_layout!(KvmInterrupt, kb::kvm_interrupt, irq = irq);
    same_layout!(
        KvmEnableCap,
        kb::kvm_enable_cap,
        cap = cap,
        flags = flags,
        args = args,
        pad = pad
    );
    same_layout!(KvmOneReg, kb::kvm_one_reg, id = id, addr = addr);
}

#[test]
fn kvm_run_layout_matches_kvm_bindings() {
    same_layout!(
        KvmRun,
        kb::kvm_run,
        request_interrupt_window = request_interrupt_window,
        immediate_exit = immediate_exit,
        padding1 = padding1,
        exit_reason = exit_reason,
        ready_for_interrupt_injection = ready_for_interrupt_injection,
        if_flag = if_flag,
        flags = flags,
        cr8 = cr8,
        apic_base = apic_base,
        exit = __bindgen_anon_1,
        kvm_valid_regs = kvm_valid_regs,
        kvm_dirty_regs = kvm_dirty_regs,
        s = s,
    );
    assert_eq!(size_of::<kb::kvm_run__bindgen_ty_1>(), KVM_RUN_EXIT_SIZE);
    assert_eq!(SYNC_REGS_SIZE_BYTES, kb::SYNC_REGS_SIZE_BYTES as usize);
    // Each exit payload is a member of the union at offset 0, so the layout of the member
    // is what matters; sizes may only differ by the C struct's tail padding, which ours names.
    same_layout!(
        KvmRunExitIo,
        kb::kvm_run__bindgen_ty_1__bindgen_ty_4,
        direction = direction,
        size = size,
        port = port,
        count = count,
        data_offset = data_offset,
    );
    same_layout!(
        KvmRunExitMmio,
        kb::kvm_run__bindgen_ty_1__bindgen_ty_6,
        phys_addr = phys_addr,
        data = data,
        len = len,
        is_write = is_write,
    );
    same_layout!(
        KvmRunExitFailEntry,
        kb::kvm_run__bindgen_ty_1__bindgen_ty_2,
        hardware_entry_failure_reason = hardware_entry_failure_reason,
        cpu = cpu,
    );
    same_layout!(
        KvmRunExitInternal,
        kb::kvm_run__bindgen_ty_1__bindgen_ty_13,
        suberror = suberror,
        ndata = ndata,
        data = data,
    );
    same_layout!(
        KvmRunExitSystemEvent,
        kb::kvm_run__bindgen_ty_1__bindgen_ty_19,
        type_ = type_,
        ndata = ndata,
        data = __bindgen_anon_1,
    );
}

#[test]
fn x86_struct_layouts_match_kvm_bindings() {
    same_layout!(
        KvmRegs,
        kb::kvm_regs,
        rax = rax,
        rbx = rbx,
        rcx = rcx,
        rdx = rdx,
        rsi = rsi,
        rdi = rdi,
        rsp = rsp,
        rbp = rbp,
        r8 = r8,
        r9 = r9,
        r10 = r10,
        r11 = r11,
        r12 = r12,
        r13 = r13,
        r14 = r14,
        r15 = r15,
        rip = rip,
        rflags = rflags,
    );
    same_layout!(
        KvmSegment,
        kb::kvm_segment,
        base = base,
        limit = limit,
        selector = selector,
        type_ = type_,
        present = present,
        dpl = dpl,
        db = db,
        s = s,
        l = l,
        g = g,
        avl = avl,
        unusable = unusable,
        padding = padding,
    );
    same_layout!(
        KvmDtable,
        kb::kvm_dtable,
        base = base,
        limit = limit,
        padding = padding
    );
    same_layout!(
        KvmSregs,
        kb::kvm_sregs,
        cs = cs,
        ds = ds,
        es = es,
        fs = fs,
        gs = gs,
        ss = ss,
        tr = tr,
        ldt = ldt,
        gdt = gdt,
        idt = idt,
        cr0 = cr0,
        cr2 = cr2,
        cr3 = cr3,
        cr4 = cr4,
        cr8 = cr8,
        efer = efer,
        apic_base = apic_base,
        interrupt_bitmap = interrupt_bitmap,
    );
    same_layout!(
        KvmFpu,
        kb::kvm_fpu,
        fpr = fpr,
        fcw = fcw,
        fsw = fsw,
        ftwx = ftwx,
        pad1 = pad1,
        last_opcode = last_opcode,
        last_ip = last_ip,
        last_dp = last_dp,
        xmm = xmm,
        mxcsr = mxcsr,
        pad2 = pad2,
    );
    same_layout!(
        KvmCpuidEntry2,
        kb::kvm_cpuid_entry2,
        function = function,
        index = index,
        flags = flags,
        eax = eax,
        ebx = ebx,
        ecx = ecx,
        edx = edx,
        padding = padding,
    );
    same_layout!(KvmCpuid2, kb::kvm_cpuid2, nent = nent, padding = padding);
    assert_eq!(offset_of!(kb::kvm_cpuid2, entries), size_of::<KvmCpuid2>());
    same_layout!(
        KvmMsrEntry,
        kb::kvm_msr_entry,
        index = index,
        reserved = reserved,
        data = data
    );
    same_layout!(KvmMsrs, kb::kvm_msrs, nmsrs = nmsrs, pad = pad);
    assert_eq!(offset_of!(kb::kvm_msrs, entries), size_of::<KvmMsrs>());
    same_layout!(KvmMsrList, kb::kvm_msr_list, nmsrs = nmsrs);
    assert_eq!(
        offset_of!(kb::kvm_msr_list, indices),
        size_of::<KvmMsrList>()
    );
    assert_eq!(KVM_NR_INTERRUPTS, kb::KVM_NR_INTERRUPTS as usize);
    assert_eq!(
        KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
        kb::KVM_CPUID_FLAG_SIGNIFCANT_INDEX
    );
}

/// `kvm-bindings` builds only the host's arch module, so arm64 facts are checked by hand
/// (`struct kvm_vcpu_init { __u32 target; __u32 features[7]; }`; ids as Firecracker uses them).
#[test]
fn arm64_layouts_and_ids() {
    assert_eq!(size_of::<KvmVcpuInit>(), 32);
    assert_eq!(align_of::<KvmVcpuInit>(), 4);
    assert_eq!(offset_of!(KvmVcpuInit, features), 4);
    assert_eq!(xreg_id(0), 0x6030_0000_0010_0000);
    assert_eq!(xreg_id(30), 0x6030_0000_0010_003c);
    assert_eq!(SP_ID, 0x6030_0000_0010_003e);
    assert_eq!(PC_ID, 0x6030_0000_0010_0040);
    assert_eq!(PSTATE_ID, 0x6030_0000_0010_0042);
    assert_eq!(reg_size(PC_ID), 8);
    assert_eq!(KVM_ARM_TARGET_GENERIC_V8, 5);
}

#[test]
fn ioctl_encoding() {
    assert_eq!(io(KVMIO, 0), 0xae00);
    assert_eq!(ior::<[u8; 0x123]>(b'T', 1), 0x8123_5401);
    assert_eq!(iow::<u32>(b'T', 2), 0x4004_5402);
    assert_eq!(iowr::<u64>(b'T', 3), 0xc008_5403);
    let cmd = KVM_SET_USER_MEMORY_REGION;
    assert_eq!(dir(cmd), WRITE);
    assert_eq!(ty(cmd), KVMIO);
    assert_eq!(nr(cmd), 0x46);
    assert_eq!(size(cmd), 32);
    assert_eq!(dir(KVM_GET_REGS), READ);
    assert_eq!(dir(KVM_GET_MSRS), READ | WRITE);
    assert_eq!(dir(KVM_RUN), NONE);
    assert_eq!(
        ioc(READ | WRITE, 0xff, 0xff, (1 << SIZEBITS) - 1),
        0xffff_ffff
    );
}

/// The numbers `kvm-ioctls` 0.25 uses on an x86_64 host (its `ioctl_io_nr!` family over
/// `kvm-bindings`' structs), and Linux's for arm64.
#[test]
fn ioctl_numbers_match_linux() {
    let expected: &[(u32, u32, &str)] = &[
        (KVM_GET_API_VERSION, 0xae00, "KVM_GET_API_VERSION"),
        (KVM_CREATE_VM, 0xae01, "KVM_CREATE_VM"),
        (
            KVM_GET_MSR_INDEX_LIST,
            0xc004_ae02,
            "KVM_GET_MSR_INDEX_LIST",
        ),
        (KVM_CHECK_EXTENSION, 0xae03, "KVM_CHECK_EXTENSION"),
        (KVM_GET_VCPU_MMAP_SIZE, 0xae04, "KVM_GET_VCPU_MMAP_SIZE"),
        (
            KVM_GET_SUPPORTED_CPUID,
            0xc008_ae05,
            "KVM_GET_SUPPORTED_CPUID",
        ),
        (KVM_CREATE_VCPU, 0xae41, "KVM_CREATE_VCPU"),
        (
            KVM_SET_USER_MEMORY_REGION,
            0x4020_ae46,
            "KVM_SET_USER_MEMORY_REGION",
        ),
        (KVM_SET_TSS_ADDR, 0xae47, "KVM_SET_TSS_ADDR"),
        (
            KVM_SET_IDENTITY_MAP_ADDR,
            0x4008_ae48,
            "KVM_SET_IDENTITY_MAP_ADDR",
        ),
        (KVM_CREATE_IRQCHIP, 0xae60, "KVM_CREATE_IRQCHIP"),
        (KVM_IRQ_LINE, 0x4008_ae61, "KVM_IRQ_LINE"),
        (KVM_RUN, 0xae80, "KVM_RUN"),
        (KVM_GET_REGS, 0x8090_ae81, "KVM_GET_REGS"),
        (KVM_SET_REGS, 0x4090_ae82, "KVM_SET_REGS"),
        (KVM_GET_SREGS, 0x8138_ae83, "KVM_GET_SREGS"),
        (KVM_SET_SREGS, 0x4138_ae84, "KVM_SET_SREGS"),
        (KVM_INTERRUPT, 0x4004_ae86, "KVM_INTERRUPT"),
        (KVM_GET_MSRS, 0xc008_ae88, "KVM_GET_MSRS"),
        (KVM_SET_MSRS, 0x4008_ae89, "KVM_SET_MSRS"),
        (KVM_GET_FPU, 0x81a0_ae8c, "KVM_GET_FPU"),
        (KVM_SET_FPU, 0x41a0_ae8d, "KVM_SET_FPU"),
        (KVM_SET_CPUID2, 0x4008_ae90, "KVM_SET_CPUID2"),
        (KVM_ENABLE_CAP, 0x4068_aea3, "KVM_ENABLE_CAP"),
        (KVM_GET_ONE_REG, 0x4010_aeab, "KVM_GET_ONE_REG"),
        (KVM_SET_ONE_REG, 0x4010_aeac, "KVM_SET_ONE_REG"),
        (KVM_ARM_VCPU_INIT, 0x4020_aeae, "KVM_ARM_VCPU_INIT"),
        (
            KVM_ARM_PREFERRED_TARGET,
            0x8020_aeaf,
            "KVM_ARM_PREFERRED_TARGET",
        ),
    ];
    for &(ours, linux, name) in expected {
        assert_eq!(ours, linux, "{name}: {ours:#x} != {linux:#x}");
    }
    // The same numbers computed from kvm-bindings' structs.
    assert_eq!(
        KVM_SET_USER_MEMORY_REGION,
        iow::<kb::kvm_userspace_memory_region>(KVMIO, 0x46)
    );
    assert_eq!(KVM_GET_SREGS, ior::<kb::kvm_sregs>(KVMIO, 0x83));
    assert_eq!(KVM_SET_FPU, iow::<kb::kvm_fpu>(KVMIO, 0x8d));
    assert_eq!(
        KVM_GET_MSR_INDEX_LIST,
        iowr::<kb::kvm_msr_list>(KVMIO, 0x02)
    );
    assert_eq!(KVMIO, kb::KVMIO as u8);
    assert_eq!(KVM_API_VERSION, kb::KVM_API_VERSION as i32);
}

#[test]
fn exit_reasons_match_kvm_bindings() {
    let pairs = [
        (KVM_EXIT_UNKNOWN, kb::KVM_EXIT_UNKNOWN),
        (KVM_EXIT_EXCEPTION, kb::KVM_EXIT_EXCEPTION),
        (KVM_EXIT_IO, kb::KVM_EXIT_IO),
        (KVM_EXIT_HYPERCALL, kb::KVM_EXIT_HYPERCALL),
        (KVM_EXIT_DEBUG, kb::KVM_EXIT_DEBUG),
        (KVM_EXIT_HLT, kb::KVM_EXIT_HLT),
        (KVM_EXIT_MMIO, kb::KVM_EXIT_MMIO),
        (KVM_EXIT_IRQ_WINDOW_OPEN, kb::KVM_EXIT_IRQ_WINDOW_OPEN),
        (KVM_EXIT_SHUTDOWN, kb::KVM_EXIT_SHUTDOWN),
        (KVM_EXIT_FAIL_ENTRY, kb::KVM_EXIT_FAIL_ENTRY),
        (KVM_EXIT_INTR, kb::KVM_EXIT_INTR),
        (KVM_EXIT_SET_TPR, kb::KVM_EXIT_SET_TPR),
        (KVM_EXIT_TPR_ACCESS, kb::KVM_EXIT_TPR_ACCESS),
        (KVM_EXIT_NMI, kb::KVM_EXIT_NMI),
        (KVM_EXIT_INTERNAL_ERROR, kb::KVM_EXIT_INTERNAL_ERROR),
        (KVM_EXIT_WATCHDOG, kb::KVM_EXIT_WATCHDOG),
        (KVM_EXIT_SYSTEM_EVENT, kb::KVM_EXIT_SYSTEM_EVENT),
        (KVM_EXIT_IOAPIC_EOI, kb::KVM_EXIT_IOAPIC_EOI),
        (KVM_EXIT_ARM_NISV, kb::KVM_EXIT_ARM_NISV),
        (KVM_EXIT_X86_RDMSR, kb::KVM_EXIT_X86_RDMSR),
        (KVM_EXIT_X86_WRMSR, kb::KVM_EXIT_X86_WRMSR),
        (KVM_EXIT_X86_BUS_LOCK, kb::KVM_EXIT_X86_BUS_LOCK),
        (KVM_EXIT_NOTIFY, kb::KVM_EXIT_NOTIFY),
        (KVM_EXIT_MEMORY_FAULT, kb::KVM_EXIT_MEMORY_FAULT),
        (
            KVM_INTERNAL_ERROR_EMULATION,
            kb::KVM_INTERNAL_ERROR_EMULATION,
        ),
        (KVM_INTERNAL_ERROR_SIMUL_EX, kb::KVM_INTERNAL_ERROR_SIMUL_EX),
        (
            KVM_INTERNAL_ERROR_DELIVERY_EV,
            kb::KVM_INTERNAL_ERROR_DELIVERY_EV,
        ),
        (
            KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
            kb::KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON,
        ),
        (KVM_SYSTEM_EVENT_SHUTDOWN, kb::KVM_SYSTEM_EVENT_SHUTDOWN),
        (KVM_SYSTEM_EVENT_RESET, kb::KVM_SYSTEM_EVENT_RESET),
        (KVM_SYSTEM_EVENT_CRASH, kb::KVM_SYSTEM_EVENT_CRASH),
        (KVM_SYSTEM_EVENT_WAKEUP, kb::KVM_SYSTEM_EVENT_WAKEUP),
        (KVM_SYSTEM_EVENT_SUSPEND, kb::KVM_SYSTEM_EVENT_SUSPEND),
        (KVM_MEM_LOG_DIRTY_PAGES, kb::KVM_MEM_LOG_DIRTY_PAGES),
        (KVM_MEM_READONLY, kb::KVM_MEM_READONLY),
    ];
    for (i, (ours, theirs)) in pairs.into_iter().enumerate() {
        assert_eq!(ours, theirs, "pair {i}");
    }
    assert_eq!(u32::from(KVM_EXIT_IO_IN), kb::KVM_EXIT_IO_IN);
    assert_eq!(u32::from(KVM_EXIT_IO_OUT), kb::KVM_EXIT_IO_OUT);
    assert_eq!(KVM_REG_ARM64, kb::KVM_REG_ARM64);
    assert_eq!(KVM_REG_X86, kb::KVM_REG_X86);
    assert_eq!(KVM_REG_SIZE_U64, kb::KVM_REG_SIZE_U64);
    assert_eq!(KVM_REG_SIZE_U128, kb::KVM_REG_SIZE_U128);
    assert_eq!(KVM_REG_SIZE_SHIFT, kb::KVM_REG_SIZE_SHIFT);
}

/// Checks each listed capability against `kvm-bindings`' constant of the same name.
macro_rules! check_caps {
    ($($name:ident,)*) => {{
        let mut n = 0;
        $(
            assert_eq!($name, kb::$name, stringify!($name));
            assert_eq!(cap_name($name), Some(stringify!($name)));
            n += 1;
        )*
        n
    }};
}

#[test]
fn capabilities_match_kvm_bindings_and_kvm_ioctls() {
    let checked = check_caps!(
        KVM_CAP_IRQCHIP,
        KVM_CAP_HLT,
        KVM_CAP_MMU_SHADOW_CACHE_CONTROL,
        KVM_CAP_USER_MEMORY,
        KVM_CAP_SET_TSS_ADDR,
        KVM_CAP_VAPIC,
        KVM_CAP_EXT_CPUID,
        KVM_CAP_CLOCKSOURCE,
        KVM_CAP_NR_VCPUS,
        KVM_CAP_NR_MEMSLOTS,
        KVM_CAP_PIT,
        KVM_CAP_NOP_IO_DELAY,
        KVM_CAP_PV_MMU,
        KVM_CAP_MP_STATE,
        KVM_CAP_COALESCED_MMIO,
        KVM_CAP_SYNC_MMU,
        KVM_CAP_IOMMU,
        KVM_CAP_DESTROY_MEMORY_REGION_WORKS,
        KVM_CAP_USER_NMI,
        KVM_CAP_SET_GUEST_DEBUG,
        KVM_CAP_REINJECT_CONTROL,
        KVM_CAP_IRQ_ROUTING,
        KVM_CAP_IRQ_INJECT_STATUS,
        KVM_CAP_ASSIGN_DEV_IRQ,
        KVM_CAP_JOIN_MEMORY_REGIONS_WORKS,
        KVM_CAP_MCE,
        KVM_CAP_IRQFD,
        KVM_CAP_PIT2,
        KVM_CAP_SET_BOOT_CPU_ID,
        KVM_CAP_PIT_STATE2,
        KVM_CAP_IOEVENTFD,
        KVM_CAP_SET_IDENTITY_MAP_ADDR,
        KVM_CAP_XEN_HVM,
        KVM_CAP_ADJUST_CLOCK,
        KVM_CAP_INTERNAL_ERROR_DATA,
        KVM_CAP_VCPU_EVENTS,
        KVM_CAP_S390_PSW,
        KVM_CAP_PPC_SEGSTATE,
        KVM_CAP_HYPERV,
        KVM_CAP_HYPERV_VAPIC,
        KVM_CAP_HYPERV_SPIN,
        KVM_CAP_PCI_SEGMENT,
        KVM_CAP_PPC_PAIRED_SINGLES,
        KVM_CAP_INTR_SHADOW,
        KVM_CAP_DEBUGREGS,
        KVM_CAP_X86_ROBUST_SINGLESTEP,
        KVM_CAP_PPC_OSI,
        KVM_CAP_PPC_UNSET_IRQ,
        KVM_CAP_ENABLE_CAP,
        KVM_CAP_XSAVE,
        KVM_CAP_XCRS,
        KVM_CAP_PPC_GET_PVINFO,
        KVM_CAP_PPC_IRQ_LEVEL,
        KVM_CAP_ASYNC_PF,
        KVM_CAP_TSC_CONTROL,
        KVM_CAP_GET_TSC_KHZ,
        KVM_CAP_PPC_BOOKE_SREGS,
        KVM_CAP_SPAPR_TCE,
        KVM_CAP_PPC_SMT,
        KVM_CAP_PPC_RMA,
        KVM_CAP_MAX_VCPUS,
        KVM_CAP_PPC_HIOR,
        KVM_CAP_PPC_PAPR,
        KVM_CAP_SW_TLB,
        KVM_CAP_ONE_REG,
        KVM_CAP_S390_GMAP,
        KVM_CAP_TSC_DEADLINE_TIMER,
        KVM_CAP_S390_UCONTROL,
        KVM_CAP_SYNC_REGS,
        KVM_CAP_PCI_2_3,
        KVM_CAP_KVMCLOCK_CTRL,
        KVM_CAP_SIGNAL_MSI,
        KVM_CAP_PPC_GET_SMMU_INFO,
        KVM_CAP_S390_COW,
        KVM_CAP_PPC_ALLOC_HTAB,
        KVM_CAP_READONLY_MEM,
        KVM_CAP_IRQFD_RESAMPLE,
        KVM_CAP_PPC_BOOKE_WATCHDOG,
        KVM_CAP_PPC_HTAB_FD,
        KVM_CAP_S390_CSS_SUPPORT,
        KVM_CAP_PPC_EPR,
        KVM_CAP_ARM_PSCI,
        KVM_CAP_ARM_SET_DEVICE_ADDR,
        KVM_CAP_DEVICE_CTRL,
        KVM_CAP_IRQ_MPIC,
        KVM_CAP_PPC_RTAS,
        KVM_CAP_IRQ_XICS,
        KVM_CAP_ARM_EL1_32BIT,
        KVM_CAP_SPAPR_MULTITCE,
        KVM_CAP_EXT_EMUL_CPUID,
        KVM_CAP_HYPERV_TIME,
        KVM_CAP_IOAPIC_POLARITY_IGNORED,
        KVM_CAP_ENABLE_CAP_VM,
        KVM_CAP_S390_IRQCHIP,
        KVM_CAP_IOEVENTFD_NO_LENGTH,
        KVM_CAP_VM_ATTRIBUTES,
        KVM_CAP_ARM_PSCI_0_2,
        KVM_CAP_PPC_FIXUP_HCALL,
        KVM_CAP_PPC_ENABLE_HCALL,
        KVM_CAP_CHECK_EXTENSION_VM,
        KVM_CAP_S390_USER_SIGP,
        KVM_CAP_X86_SMM,
        KVM_CAP_GUEST_DEBUG_HW_BPS,
        KVM_CAP_GUEST_DEBUG_HW_WPS,
        KVM_CAP_SPLIT_IRQCHIP,
        KVM_CAP_HYPERV_SYNIC,
        KVM_CAP_ARM_PMU_V3,
        KVM_CAP_MAX_VCPU_ID,
        KVM_CAP_X2APIC_API,
        KVM_CAP_MSI_DEVID,
        KVM_CAP_IMMEDIATE_EXIT,
        KVM_CAP_HYPERV_SYNIC2,
        KVM_CAP_GET_MSR_FEATURES,
        KVM_CAP_NESTED_STATE,
        KVM_CAP_COALESCED_PIO,
        KVM_CAP_ARM_VM_IPA_SIZE,
        KVM_CAP_ARM_SVE,
        KVM_CAP_ARM_PTRAUTH_ADDRESS,
        KVM_CAP_ARM_PTRAUTH_GENERIC,
        KVM_CAP_X86_USER_SPACE_MSR,
        KVM_CAP_X86_MSR_FILTER,
        KVM_CAP_DIRTY_LOG_RING,
        KVM_CAP_EXIT_HYPERCALL,
        KVM_CAP_XSAVE2,
        KVM_CAP_COUNTER_OFFSET,
        KVM_CAP_USER_MEMORY2,
        KVM_CAP_MEMORY_FAULT_INFO,
        KVM_CAP_MEMORY_ATTRIBUTES,
        KVM_CAP_GUEST_MEMFD,
    );
    assert_eq!(checked, LINUX_CAPS.len());
    assert!(
        LINUX_CAPS.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    use kvm_ioctls::Cap;
    for (ours, theirs) in [
        (KVM_CAP_USER_MEMORY, Cap::UserMemory),
        (KVM_CAP_NR_VCPUS, Cap::NrVcpus),
        (KVM_CAP_MAX_VCPUS, Cap::MaxVcpus),
        (KVM_CAP_MAX_VCPU_ID, Cap::MaxVcpuId),
        (KVM_CAP_NR_MEMSLOTS, Cap::NrMemslots),
        (KVM_CAP_IMMEDIATE_EXIT, Cap::ImmediateExit),
        (KVM_CAP_ARM_VM_IPA_SIZE, Cap::ArmVmIPASize),
        (KVM_CAP_IRQCHIP, Cap::Irqchip),
        (KVM_CAP_HLT, Cap::Hlt),
        (KVM_CAP_SET_TSS_ADDR, Cap::SetTssAddr),
        (KVM_CAP_EXT_CPUID, Cap::ExtCpuid),
        (KVM_CAP_ONE_REG, Cap::OneReg),
        (KVM_CAP_READONLY_MEM, Cap::ReadonlyMem),
        (KVM_CAP_IOEVENTFD, Cap::Ioeventfd),
        (KVM_CAP_IRQFD, Cap::Irqfd),
        (KVM_CAP_SYNC_MMU, Cap::SyncMmu),
        (KVM_CAP_XSAVE2, Cap::Xsave2),
    ] {
        assert_eq!(ours, theirs as u32, "{theirs:?}");
    }
    const { assert!(KVM_CAP_LEVITATE_BACKEND > 0xffff, "off Linux numbers") };
    assert_eq!(
        cap_name(KVM_CAP_LEVITATE_BACKEND),
        Some("KVM_CAP_LEVITATE_BACKEND")
    );
    assert_eq!(cap_name(0xffff), None);
}

#[test]
fn kvm_run_exit_views_round_trip() {
    let mut run = KvmRun::zeroed();
    let io = KvmRunExitIo {
        direction: KVM_EXIT_IO_OUT,
        size: 1,
        port: 0x3f8,
        count: 1,
        data_offset: 4096,
    };
    run.exit_reason = KVM_EXIT_IO;
    run.set_exit_io(io);
    assert_eq!(run.exit_io(), io);
    assert_eq!(run.exit[0], KVM_EXIT_IO_OUT);
    assert_eq!(&run.exit[2..4], &0x3f8u16.to_ne_bytes());

    let mmio = KvmRunExitMmio {
        phys_addr: 0xd000_0000,
        data: [1, 2, 3, 4, 0, 0, 0, 0],
        len: 4,
        is_write: 1,
        padding: [0; 3],
    };
    run.set_exit_mmio(mmio);
    assert_eq!(run.exit_mmio(), mmio);
    let mut event = KvmRunExitSystemEvent {
        type_: KVM_SYSTEM_EVENT_SHUTDOWN,
        ndata: 1,
        ..Default::default()
    };
    event.data[0] = 7;
    run.set_exit_system_event(event);
    assert_eq!(run.exit_system_event(), event);
    assert_eq!(&run.exit[8..16], &7u64.to_ne_bytes());

    // The byte image is what the kvm-bindings view of the same memory sees.
    let bytes = zerocopy::IntoBytes::as_bytes(&run);
    assert_eq!(bytes.len(), size_of::<kb::kvm_run>());
    assert_eq!(run.exit_internal().suberror, KVM_SYSTEM_EVENT_SHUTDOWN);
}
