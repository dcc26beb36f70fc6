//! `struct kvm_run`, the page a vCPU fd's `mmap` shares with userspace (api.rst section 5),
//! its exit reasons and the exit payloads Levitate produces.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

/// Size of the exit payload union in `struct kvm_run`.
pub const KVM_RUN_EXIT_SIZE: usize = 256;
/// Size of the `s` (synced registers) union at the end of `struct kvm_run`
/// (`SYNC_REGS_SIZE_BYTES`).
pub const SYNC_REGS_SIZE_BYTES: usize = 2048;

/// `struct kvm_run`. The exit payload (a C union) is kept as bytes; the typed views are the
/// `exit_*` getters and setters, which copy, so no `unsafe` union access is needed.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct KvmRun {
    /// In: exit as soon as the guest can take an interrupt (`KVM_EXIT_IRQ_WINDOW_OPEN`).
    pub request_interrupt_window: u8,
    /// In: return from `KVM_RUN` at once with `EINTR` (`KVM_CAP_IMMEDIATE_EXIT`).
    pub immediate_exit: u8,
    /// Reserved.
    pub padding1: [u8; 6],
    /// Out: a `KVM_EXIT_*` value.
    pub exit_reason: u32,
    /// Out: an interrupt can be injected now with `KVM_INTERRUPT`.
    pub ready_for_interrupt_injection: u8,
    /// Out: the guest's RFLAGS.IF.
    pub if_flag: u8,
    /// Out: `KVM_RUN_X86_*` flags.
    pub flags: u16,
    /// In/out: the guest's CR8 (x86).
    pub cr8: u64,
    /// In/out: the guest's APIC base MSR (x86).
    pub apic_base: u64,
    /// Out: the payload of `exit_reason` (a union in C).
    pub exit: [u8; KVM_RUN_EXIT_SIZE],
    /// `KVM_SYNC_*` register sets the kernel fills on exit.
    pub kvm_valid_regs: u64,
    /// `KVM_SYNC_*` register sets userspace changed.
    pub kvm_dirty_regs: u64,
    /// The synced registers (a union in C).
    pub s: [u8; SYNC_REGS_SIZE_BYTES],
}

/// Generates a getter and a setter of one exit payload of [`KvmRun`].
macro_rules! exit_accessors {
    ($( $get:ident $set:ident: $ty:ty, $what:literal; )*) => {
        impl KvmRun {
            $(
                #[doc = concat!("The payload of ", $what, ", read from `exit`.")]
                pub fn $get(&self) -> $ty {
                    <$ty>::read_from_prefix(&self.exit).map_or_else(|_| <$ty>::new_zeroed(), |(v, _)| v)
                }

                #[doc = concat!("Stores the payload of ", $what, " in `exit`.")]
                pub fn $set(&mut self, payload: $ty) {
                    // Cannot fail: every payload is smaller than `exit` (checked at compile time).
                    let _ = payload.write_to_prefix(&mut self.exit);
                }
            )*
        }

        $( const _: () = assert!(size_of::<$ty>() <= KVM_RUN_EXIT_SIZE); )*
    };
}

exit_accessors! {
    exit_io set_exit_io: KvmRunExitIo, "`KVM_EXIT_IO`";
    exit_mmio set_exit_mmio: KvmRunExitMmio, "`KVM_EXIT_MMIO`";
    exit_fail_entry set_exit_fail_entry: KvmRunExitFailEntry, "`KVM_EXIT_FAIL_ENTRY`";
    exit_internal set_exit_internal: KvmRunExitInternal, "`KVM_EXIT_INTERNAL_ERROR`";
    exit_system_event set_exit_system_event: KvmRunExitSystemEvent, "`KVM_EXIT_SYSTEM_EVENT`";
}

impl KvmRun {
    /// A zeroed `kvm_run`, as a fresh vCPU's page is.
    pub fn zeroed() -> KvmRun {
        KvmRun::new_zeroed()
    }
}

/// The `io` member of the exit union: a port access, for `KVM_EXIT_IO`. The data is
/// `size * count` bytes at `data_offset` from the start of the `kvm_run` mapping.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmRunExitIo {
    /// [`KVM_EXIT_IO_IN`] or [`KVM_EXIT_IO_OUT`].
    pub direction: u8,
    /// Bytes per access: 1, 2 or 4.
    pub size: u8,
    /// The port.
    pub port: u16,
    /// Number of accesses (more than 1 for `rep ins/outs`).
    pub count: u32,
    /// Offset of the data in the `kvm_run` mapping.
    pub data_offset: u64,
}

/// The `mmio` member of the exit union, for `KVM_EXIT_MMIO`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmRunExitMmio {
    /// Guest physical address of the access.
    pub phys_addr: u64,
    /// The data written, or the buffer for the data to read.
    pub data: [u8; 8],
    /// Access size in bytes, up to 8.
    pub len: u32,
    /// Nonzero for a write.
    pub is_write: u8,
    /// Tail padding of the C struct.
    pub padding: [u8; 3],
}

/// The `fail_entry` member of the exit union, for `KVM_EXIT_FAIL_ENTRY`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmRunExitFailEntry {
    /// The hardware's reason (VMX exit qualification, SVM exit code).
    pub hardware_entry_failure_reason: u64,
    /// The host CPU the entry failed on.
    pub cpu: u32,
    /// Tail padding of the C struct.
    pub padding: u32,
}

/// The `internal` member of the exit union, for `KVM_EXIT_INTERNAL_ERROR`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmRunExitInternal {
    /// A `KVM_INTERNAL_ERROR_*` value.
    pub suberror: u32,
    /// How many of `data` are meaningful.
    pub ndata: u32,
    /// Suberror-specific data.
    pub data: [u64; 16],
}

/// The `system_event` member of the exit union, for `KVM_EXIT_SYSTEM_EVENT`. In C, `data[0]`
/// is also named `flags`.
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct KvmRunExitSystemEvent {
    /// A `KVM_SYSTEM_EVENT_*` value (`type` in C).
    pub type_: u32,
    /// How many of `data` are meaningful.
    pub ndata: u32,
    /// Event-specific data (arm64 PSCI: `data[0]` is the PSCI function's argument).
    pub data: [u64; 16],
}

/// Unknown exit.
pub const KVM_EXIT_UNKNOWN: u32 = 0;
/// The guest raised an exception.
pub const KVM_EXIT_EXCEPTION: u32 = 1;
/// Port I/O: see [`KvmRun::exit_io`].
pub const KVM_EXIT_IO: u32 = 2;
/// Hypercall.
pub const KVM_EXIT_HYPERCALL: u32 = 3;
/// Debug exit (breakpoint, single step).
pub const KVM_EXIT_DEBUG: u32 = 4;
/// The guest executed HLT with no in-kernel irqchip.
pub const KVM_EXIT_HLT: u32 = 5;
/// Access to guest physical memory no slot backs: see [`KvmRun::exit_mmio`].
pub const KVM_EXIT_MMIO: u32 = 6;
/// The guest can take an interrupt now (after `request_interrupt_window`).
pub const KVM_EXIT_IRQ_WINDOW_OPEN: u32 = 7;
/// The guest triple-faulted or otherwise shut down.
pub const KVM_EXIT_SHUTDOWN: u32 = 8;
/// VM entry failed: see [`KvmRun::exit_fail_entry`].
pub const KVM_EXIT_FAIL_ENTRY: u32 = 9;
/// A signal is pending for the calling thread (`KVM_RUN` also returns `EINTR`).
pub const KVM_EXIT_INTR: u32 = 10;
/// `KVM_EXIT_SET_TPR`.
pub const KVM_EXIT_SET_TPR: u32 = 11;
/// `KVM_EXIT_TPR_ACCESS`.
pub const KVM_EXIT_TPR_ACCESS: u32 = 12;
/// `KVM_EXIT_NMI`.
pub const KVM_EXIT_NMI: u32 = 16;
/// The kernel could not handle the exit: see [`KvmRun::exit_internal`].
pub const KVM_EXIT_INTERNAL_ERROR: u32 = 17;
/// `KVM_EXIT_WATCHDOG`.
pub const KVM_EXIT_WATCHDOG: u32 = 21;
/// Shutdown, reset or crash requested by the guest: see [`KvmRun::exit_system_event`].
pub const KVM_EXIT_SYSTEM_EVENT: u32 = 24;
/// `KVM_EXIT_IOAPIC_EOI`.
pub const KVM_EXIT_IOAPIC_EOI: u32 = 26;
/// `KVM_EXIT_ARM_NISV`: an arm64 data abort without a valid syndrome.
pub const KVM_EXIT_ARM_NISV: u32 = 28;
/// `KVM_EXIT_X86_RDMSR`.
pub const KVM_EXIT_X86_RDMSR: u32 = 29;
/// `KVM_EXIT_X86_WRMSR`.
pub const KVM_EXIT_X86_WRMSR: u32 = 30;
/// `KVM_EXIT_X86_BUS_LOCK`.
pub const KVM_EXIT_X86_BUS_LOCK: u32 = 33;
/// `KVM_EXIT_NOTIFY`.
pub const KVM_EXIT_NOTIFY: u32 = 37;
/// `KVM_EXIT_MEMORY_FAULT`.
pub const KVM_EXIT_MEMORY_FAULT: u32 = 39;

/// [`KvmRunExitIo::direction`] of an `in`.
pub const KVM_EXIT_IO_IN: u8 = 0;
/// [`KvmRunExitIo::direction`] of an `out`.
pub const KVM_EXIT_IO_OUT: u8 = 1;

/// [`KvmRunExitInternal::suberror`]: an instruction could not be emulated.
pub const KVM_INTERNAL_ERROR_EMULATION: u32 = 1;
/// [`KvmRunExitInternal::suberror`]: an exception while delivering an exception.
pub const KVM_INTERNAL_ERROR_SIMUL_EX: u32 = 2;
/// [`KvmRunExitInternal::suberror`]: an exit during event delivery.
pub const KVM_INTERNAL_ERROR_DELIVERY_EV: u32 = 3;
/// [`KvmRunExitInternal::suberror`]: a hardware exit reason the backend does not know.
pub const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: u32 = 4;

/// [`KvmRunExitSystemEvent::type_`]: the guest powered off.
pub const KVM_SYSTEM_EVENT_SHUTDOWN: u32 = 1;
/// [`KvmRunExitSystemEvent::type_`]: the guest asked for a reset.
pub const KVM_SYSTEM_EVENT_RESET: u32 = 2;
/// [`KvmRunExitSystemEvent::type_`]: the guest crashed.
pub const KVM_SYSTEM_EVENT_CRASH: u32 = 3;
/// [`KvmRunExitSystemEvent::type_`]: a vCPU woke up.
pub const KVM_SYSTEM_EVENT_WAKEUP: u32 = 4;
/// [`KvmRunExitSystemEvent::type_`]: the guest asked to suspend.
pub const KVM_SYSTEM_EVENT_SUSPEND: u32 = 5;
