//! x86_64 support for Levitate: boot (PVH and Multiboot2) into long mode, descriptor tables
//! and traps, the COM1 console, ACPI/APIC platform setup, TSC time, the page-table entry
//! format, kernel-thread context switching, and user mode (SYSCALL entry, traps from ring 3,
//! user-memory copies). [`X86_64`] implements [`arch_api::Arch`].
#![cfg_attr(not(test), no_std)]

#[cfg(target_os = "none")]
extern crate alloc;

// Everything that touches the hardware only builds for the kernel target; the pure parts
// (boot-information parsing, page-table entry format) also build and are tested on the host.
#[cfg(target_os = "none")]
mod acpi;
#[cfg(target_os = "none")]
mod apic;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod bootinfo;
// Used by `bootinfo` in the kernel; on the host only its tests use it.
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod bootparse;
#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod context;
#[cfg(target_os = "none")]
mod cpu;
#[cfg(target_os = "none")]
mod diag;
#[cfg(target_os = "none")]
mod extable;
#[cfg(target_os = "none")]
mod gdt;
#[cfg(target_os = "none")]
mod idt;
mod paging;
#[cfg(target_os = "none")]
mod percpu;
#[cfg(target_os = "none")]
mod platform;
/// The CMOS real-time clock.
mod rtc;
#[cfg(target_os = "none")]
mod time;
#[cfg(target_os = "none")]
mod traps;
#[cfg(target_os = "none")]
mod uaccess;
#[cfg(target_os = "none")]
mod user;

#[cfg(target_os = "none")]
pub use context::Context;
#[cfg(target_os = "none")]
pub use gdt::{KERNEL_CS, KERNEL_SS, USER_CS32, USER_CS64, USER_SS};
pub use paging::{DIRECT_MAP_OFFSET, KERNEL_VMA, USER_END, X86PageTable};
#[cfg(target_os = "none")]
pub use traps::TrapFrame;
#[cfg(target_os = "none")]
pub use user::{FxArea, UserContext, forget_loaded_state};

#[cfg(target_os = "none")]
use arch_api::{Arch, BootInfo, ExitStatus, Fault, Platform, UserExit};

/// The x86_64 architecture.
pub struct X86_64;

/// Disable interrupts, returning whether they were enabled.
#[cfg(target_os = "none")]
fn irq_save_disable() -> bool {
    let was = cpu::interrupts_enabled();
    x86_64::instructions::interrupts::disable();
    was
}

#[cfg(target_os = "none")]
fn irq_restore(was_enabled: bool) {
    if was_enabled {
        x86_64::instructions::interrupts::enable();
    }
}

#[cfg(target_os = "none")]
impl Arch for X86_64 {
    type Context = Context;
    type PageTable = X86PageTable;
    type UserContext = UserContext;

    const NAME: &'static str = "x86_64";
    const USER_END: u64 = USER_END;

    fn console_write(bytes: &[u8]) {
        console::write(bytes);
    }

    fn set_console_input(handler: fn(arch_api::ConsoleInput)) {
        console::set_input(handler);
    }

    fn irq_save_disable() -> bool {
        irq_save_disable()
    }

    fn irq_restore(was_enabled: bool) {
        irq_restore(was_enabled);
    }

    fn irq_enable() {
        x86_64::instructions::interrupts::enable();
    }

    fn wait_for_interrupt() {
        // `sti; hlt`: STI's one-instruction shadow means no interrupt can slip in before HLT.
        x86_64::instructions::interrupts::enable_and_hlt();
    }

    fn init_platform(boot: &BootInfo) -> Platform {
        platform::init(boot)
    }

    fn start_timer(hz: u32, tick: fn()) {
        time::start_timer(hz, tick);
    }

    fn now_ns() -> u64 {
        time::now_ns()
    }

    fn rtc_seconds() -> Option<u64> {
        rtc::seconds()
    }

    fn cpu_id() -> usize {
        percpu::cpu_id()
    }

    fn init_context(
        stack_top: usize,
        entry: extern "C" fn(usize) -> !,
        arg: usize,
    ) -> Self::Context {
        context::init(stack_top, entry, arg)
    }

    unsafe fn switch(from: *mut Self::Context, to: *const Self::Context) {
        // SAFETY: interrupts are masked (the switch contract). The next thread may run other
        // user code: the outgoing one's user FP state and bases go to its context first.
        unsafe { user::save_live_state() };
        // SAFETY: forwarded to the caller (same contract).
        unsafe { context::switch(from, to) }
    }

    fn page_table_root() -> u64 {
        paging::root()
    }

    unsafe fn activate_page_table(root: u64) {
        // SAFETY: forwarded to the caller (same contract).
        unsafe { paging::activate(root) }
    }

    fn direct_map_offset() -> u64 {
        DIRECT_MAP_OFFSET
    }

    fn probe_read(addr: u64) -> Result<u64, Fault> {
        extable::probe_read(addr)
    }

    fn breakpoint() -> u64 {
        x86_64::instructions::interrupts::int3();
        traps::breakpoints()
    }

    fn dump_cpu_state() {
        diag::dump_cpu_state();
    }

    fn backtrace(f: &mut dyn FnMut(u64)) {
        diag::backtrace(f);
    }

    fn init_user_root(root: u64) {
        paging::init_user_root(root);
    }

    unsafe fn activate_user_root(root: Option<u64>) {
        // SAFETY: forwarded to the caller (same contract).
        unsafe { paging::activate_user_root(root) }
    }

    fn run_user(ctx: &mut UserContext) -> UserExit {
        user::run_user(ctx)
    }

    fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Fault> {
        uaccess::copy_from_user(dst, src)
    }

    fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Fault> {
        uaccess::copy_to_user(dst, src)
    }

    fn exit(status: ExitStatus) -> ! {
        diag::exit(status)
    }
}
