//! The contract between Levitate's architecture crates and the arch-neutral kernel.
//!
//! Each `arch/*` crate implements [`Arch`] on a unit type and fills a [`BootInfo`] before it
//! calls the kernel's entry point, declared by the arch crate as
//!
//! ```ignore
//! unsafe extern "Rust" { fn levitate_main(boot: &'static arch_api::BootInfo) -> !; }
//! ```
//!
//! and defined `#[unsafe(no_mangle)]` by the `levitate` crate. Exceptions are reported through
//! the `log` crate (`log::error!`); an exception the kernel cannot handle is reported with the
//! full register state and then turned into a `panic!`, whose handler prints a backtrace and
//! calls [`Arch::exit`]. Nothing here names a register.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]

mod boot;
mod paging;
mod user;

pub mod calendar;
pub use boot::{BootInfo, MAX_RAM_RANGES, MAX_RESERVED_RANGES, PhysRange};
pub use paging::{ENTRIES_PER_TABLE, PAGE_SIZE, PageFlags, PageTableFormat};
pub use user::{UserContext, UserException, UserExit};

/// What the console UART received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsoleInput {
    Byte(u8),
    /// A break condition on the line (QEMU: `Ctrl-a b` on a `-nographic` console).
    Break,
}

/// How the machine should stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything went as planned (tests passed, user asked for power-off).
    Success,
    /// A panic, a fatal exception or a failed test.
    Failure,
}

/// A fault caught by [`Arch::probe_read`] instead of bringing the kernel down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The arch's exception number (x86 vector; aarch64 ESR exception class).
    pub kind: u64,
    /// The faulting address (CR2 / FAR).
    pub addr: u64,
}

/// What the platform code found once the heap was up (ACPI, device tree, interrupt controller).
#[derive(Clone, Debug, Default)]
pub struct Platform {
    /// CPUs the firmware describes (only the boot CPU runs for now).
    pub cpus: u32,
    /// Frequency the timer interrupt source was calibrated to, in Hz (LAPIC timer input clock,
    /// or the aarch64 generic-timer counter frequency).
    pub timer_input_hz: u64,
    /// Frequency of the monotonic clock counter, in Hz (TSC or generic-timer counter).
    pub clock_hz: u64,
    /// One-line description of the interrupt controller(s), for the banner.
    pub irq_controller: &'static str,
    /// Current privilege level description (e.g. "ring 0", "EL2 (VHE)").
    pub privilege: &'static str,
}

/// The operations the arch-neutral kernel needs from an architecture.
///
/// Implemented by a unit type in each `arch/*` crate; the kernel picks one at compile time.
/// All functions act on the calling CPU.
pub trait Arch: 'static {
    /// Saved state of a kernel thread that is not running (callee-saved registers, stack
    /// pointer); what [`Arch::switch`] saves and restores.
    type Context: Default + Send;
    /// Page-table entry encoding of this arch.
    type PageTable: PageTableFormat;

    /// Saved user-mode registers of a thread.
    type UserContext: UserContext;

    /// Short name: "x86_64" or "aarch64".
    const NAME: &'static str;

    /// Write bytes to the boot console (serial). Must work from any context, including
    /// exception handlers, and never block on a lock held by the interrupted code.
    fn console_write(bytes: &[u8]);

    /// Start receiving on the console UART: unmask its receive interrupt and call `handler`
    /// with each byte (or break) received, in interrupt context with interrupts disabled on
    /// this CPU, after [`Arch::init_platform`]. `handler` must not block or take locks that
    /// threads hold with interrupts enabled. A later call replaces the handler.
    fn set_console_input(handler: fn(ConsoleInput));

    /// Disable interrupts on this CPU and return whether they were enabled before.
    fn irq_save_disable() -> bool;
    /// Restore the interrupt state returned by [`Arch::irq_save_disable`].
    fn irq_restore(was_enabled: bool);
    /// Enable interrupts on this CPU.
    fn irq_enable();
    /// Enable interrupts and wait for one, atomically (no lost wake-up).
    fn wait_for_interrupt();

    /// Discover the platform (ACPI or device tree), set up the interrupt controller and
    /// calibrate the timer. Needs the kernel heap.
    fn init_platform(boot: &BootInfo) -> Platform;
    /// Start a periodic timer interrupt at `hz`; `tick` runs in interrupt context with
    /// interrupts disabled, after the interrupt was acknowledged, so it may switch threads.
    fn start_timer(hz: u32, tick: fn());
    /// Monotonic time since boot in nanoseconds.
    fn now_ns() -> u64;
    /// The wall clock from the platform's real-time clock, in seconds since the Unix epoch
    /// (UTC), or `None` if there is none. Read once at boot: it is slow and coarse.
    fn rtc_seconds() -> Option<u64>;
    /// Index of the calling CPU (0 for the boot CPU).
    fn cpu_id() -> usize;

    /// A context that, once switched to, runs `entry(arg)` on the stack ending at `stack_top`
    /// with interrupts disabled.
    fn init_context(
        stack_top: usize,
        entry: extern "C" fn(usize) -> !,
        arg: usize,
    ) -> Self::Context;
    /// Save the current thread's state into `from` and resume `to`.
    ///
    /// # Safety
    /// Interrupts must be disabled; `from` and `to` must be valid and distinct, and `to` must
    /// hold a context made by [`Arch::init_context`] or saved by an earlier `switch`.
    unsafe fn switch(from: *mut Self::Context, to: *const Self::Context);

    /// Physical address of the active kernel page-table root.
    fn page_table_root() -> u64;
    /// Make `root` the active page table.
    ///
    /// # Safety
    /// `root` must map the kernel image, the direct map and the current stack as before.
    unsafe fn activate_page_table(root: u64);
    /// Offset of the direct map: the virtual address of physical address `p` is `p + offset`.
    fn direct_map_offset() -> u64;

    /// Read 8 bytes at `addr`, returning the fault instead of crashing if it is unmapped.
    fn probe_read(addr: u64) -> Result<u64, Fault>;
    /// Raise a software breakpoint exception; the handler reports it and execution resumes.
    /// Returns how many breakpoints were handled so far.
    fn breakpoint() -> u64;
    /// Log the calling CPU's control state (privilege, paging root, interrupt mask, ...).
    fn dump_cpu_state();
    /// Call `f` with each return address found by walking frame pointers from the caller.
    fn backtrace(f: &mut dyn FnMut(u64));
    /// End of the user half of the address space (exclusive): user pointers are below it.
    const USER_END: u64;

    /// Prepare a freshly zeroed page-table root page at `root` (physical) for a user address
    /// space: on arches where user and kernel share one root (x86), copy the kernel half in.
    fn init_user_root(root: u64);
    /// Make `root` (made by [`Arch::init_user_root`]) the active user address space, or with
    /// `None` leave no user address space active (every user address faults).
    ///
    /// # Safety
    /// `root` must be a valid user root whose kernel part (if any) is intact; user mappings in
    /// it must only point at memory the caller owns.
    unsafe fn activate_user_root(root: Option<u64>);

    /// Run the calling thread in user mode with `ctx` in the active user address space until
    /// it traps back; `ctx` is updated with the user state at the trap.
    fn run_user(ctx: &mut Self::UserContext) -> UserExit;

    /// Copy `dst.len()` bytes from user address `src`. Fails with the fault (never crashes)
    /// when any byte is unmapped, or when the range is not below [`Arch::USER_END`].
    fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Fault>;
    /// Copy `src` to user address `dst`, with the same checks as [`Arch::copy_from_user`].
    fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Fault>;

    /// Stop the machine; under QEMU the exit status reaches the host.
    fn exit(status: ExitStatus) -> !;
}
