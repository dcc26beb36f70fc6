//! Levitate's aarch64 support: [`Aarch64`] implements [`arch_api::Arch`].
//!
//! Boot: QEMU `-kernel` (or any arm64 Linux loader) enters the Image header in `entry.rs` with
//! the MMU off; the kernel then runs at EL2 with VHE where the CPU has it (so guests can run at
//! EL1 later), else at EL1, in the TTBR1 half (`mmu.rs`). The device tree (`dtb.rs`) gives RAM,
//! the command line, the initrd, the console PL011, the GICv3, the timer PPIs and the PSCI
//! conduit. User mode (EL0): entry, exits and user copies in `user.rs`, the TTBR0 switch in
//! `mmu.rs`. The whole crate is empty on other architectures so host `cargo test` of the
//! workspace still builds.
#![no_std]
#![cfg(target_arch = "aarch64")]

mod boot;
mod console;
mod context;
mod cpu;
mod dtb;
mod entry;
mod gic;
mod mmu;
mod psci;
mod rtc;
mod timer;
mod traps;
mod user;

use arch_api::{Arch, BootInfo, ExitStatus, Fault, Platform, UserExit};

pub use context::Context;
pub use mmu::{Aarch64PageTable, DIRECT_MAP_OFFSET, KERNEL_BASE};
pub use traps::TrapFrame;
pub use user::{UserContext, pan_enabled};

/// The aarch64 architecture.
pub struct Aarch64;

impl Arch for Aarch64 {
    type Context = Context;
    type PageTable = Aarch64PageTable;
    type UserContext = UserContext;

    const NAME: &'static str = "aarch64";

    fn console_write(bytes: &[u8]) {
        console::write(bytes);
    }

    fn set_console_input(handler: fn(arch_api::ConsoleInput)) {
        console::set_input(handler);
    }

    fn irq_save_disable() -> bool {
        cpu::irq_save_disable()
    }

    fn irq_restore(was_enabled: bool) {
        cpu::irq_restore(was_enabled);
    }

    fn irq_enable() {
        cpu::irq_enable();
    }

    fn wait_for_interrupt() {
        cpu::wait_for_interrupt();
    }

    fn init_platform(_boot: &BootInfo) -> Platform {
        let fdt = dtb::get();
        let cpus = fdt.as_ref().map_or(1, dtb::cpu_count).max(1);
        // The hypervisor physical timer (interrupts[3]) at EL2, the non-secure physical timer
        // (interrupts[1]) at EL1; virt's numbers if the tree does not say.
        let (index, fallback) = if cpu::at_el2() { (3, 26) } else { (1, 30) };
        let ppi = fdt
            .as_ref()
            .and_then(|f| dtb::timer_ppi(f, index))
            .unwrap_or(fallback);
        timer::set_intid(ppi);
        let irq_controller = match fdt.as_ref().and_then(dtb::gic_v3) {
            Some(regions) => match gic::init(&regions) {
                Ok(()) => "GICv3",
                Err(e) => {
                    log::error!("gic: {e}");
                    "GICv3 (failed)"
                }
            },
            None => {
                log::error!("no arm,gic-v3 node in the device tree: no interrupts");
                "none"
            }
        };
        let (major, minor) = psci::version();
        log::info!(
            "aarch64: {} cpus, timer PPI {ppi}, counter {} Hz, PSCI {major}.{minor} via {}, \
             console PL011 at {:#x}, PAN {}",
            cpus,
            timer::frequency(),
            psci::conduit_name(),
            console::uart_pa(),
            if user::pan_enabled() { "on" } else { "absent" }
        );
        Platform {
            cpus,
            timer_input_hz: timer::frequency(),
            clock_hz: timer::frequency(),
            irq_controller,
            privilege: cpu::privilege(),
        }
    }

    fn start_timer(hz: u32, tick: fn()) {
        timer::start(hz, tick);
    }

    fn now_ns() -> u64 {
        timer::now_ns()
    }

    fn rtc_seconds() -> Option<u64> {
        rtc::seconds()
    }

    fn cpu_id() -> usize {
        cpu::cpu_id()
    }

    fn init_context(
        stack_top: usize,
        entry: extern "C" fn(usize) -> !,
        arg: usize,
    ) -> Self::Context {
        context::init(stack_top, entry, arg)
    }

    unsafe fn switch(from: *mut Self::Context, to: *const Self::Context) {
        // SAFETY: forwarded contract.
        unsafe { context::switch(from, to) }
    }

    /// The kernel (TTBR1) root; TTBR0 is left to user address spaces.
    fn page_table_root() -> u64 {
        mmu::root()
    }

    /// Installs `root` as the kernel (TTBR1) root.
    unsafe fn activate_page_table(root: u64) {
        // SAFETY: forwarded contract.
        unsafe { mmu::activate(root) }
    }

    fn direct_map_offset() -> u64 {
        DIRECT_MAP_OFFSET
    }

    fn probe_read(addr: u64) -> Result<u64, Fault> {
        traps::probe_read(addr)
    }

    fn breakpoint() -> u64 {
        traps::breakpoint()
    }

    fn dump_cpu_state() {
        cpu::dump_cpu_state();
    }

    fn backtrace(f: &mut dyn FnMut(u64)) {
        cpu::backtrace(f);
    }

    /// TTBR0 covers 48 bits (T0SZ = 16).
    const USER_END: u64 = user::USER_END;

    /// Nothing to do: TTBR0 holds only the user half, so a zeroed root is a valid empty one.
    fn init_user_root(root: u64) {
        debug_assert!(root.is_multiple_of(arch_api::PAGE_SIZE));
    }

    unsafe fn activate_user_root(root: Option<u64>) {
        // SAFETY: forwarded contract.
        unsafe { mmu::activate_user(root) }
    }

    fn run_user(ctx: &mut Self::UserContext) -> UserExit {
        user::run_user(ctx)
    }

    fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Fault> {
        user::copy_from_user(dst, src)
    }

    fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Fault> {
        user::copy_to_user(dst, src)
    }

    fn exit(status: ExitStatus) -> ! {
        cpu::irq_save_disable();
        console::flush();
        match status {
            ExitStatus::Success => psci::system_off(),
            ExitStatus::Failure => psci::semihosting_exit(1),
        }
        // PSCI refused or semihosting is off: stop here (never power off on failure, which
        // would look like success).
        loop {
            aarch64_cpu::asm::wfe();
        }
    }
}
