//! The Levitate kernel: boot sequence and wiring of the subsystems.
//!
//! The arch crate enters here through `levitate_main` with a filled [`BootInfo`], on the boot
//! CPU, with a stack, the direct map and the console working and interrupts masked.
#![no_std]
#![no_main]

extern crate alloc;

mod console;
mod fstypes;
mod ktest;
mod kvm;
mod memory;
mod panic;
mod tty;
mod userland;

use arch_api::{Arch, BootInfo, ExitStatus};

#[cfg(target_arch = "x86_64")]
pub type A = arch_x86_64::X86_64;
#[cfg(target_arch = "aarch64")]
pub type A = arch_aarch64::Aarch64;

/// Timer interrupts per second (the scheduler tick).
pub const TICK_HZ: u32 = 100;

/// The scheduler of all CPUs.
pub static SCHED: sched::Scheduler<A> = sched::Scheduler::new();

fn timer_tick() {
    // CPU time goes to the thread the tick interrupted, before the tick may switch away.
    linux::cpu_tick(
        SCHED.current().map(|t| t.id()),
        1_000_000_000 / u64::from(TICK_HZ),
    );
    SCHED.tick();
}

/// Kernel entry from the arch crate.
#[unsafe(no_mangle)]
pub fn levitate_main(boot: &'static BootInfo) -> ! {
    console::init(boot.cmdline_value("loglevel"));
    log::info!(
        "Levitate {} ({}) booted via {}",
        env!("CARGO_PKG_VERSION"),
        A::NAME,
        boot.protocol
    );
    log::info!("cmdline: {}", boot.cmdline);
    let mem = memory::init(boot);
    let platform = A::init_platform(boot);
    banner(boot, &mem, &platform);

    SCHED.init_cpu("boot");
    SCHED.start_ticks(TICK_HZ);
    A::start_timer(TICK_HZ, timer_tick);
    A::irq_enable();

    if let Some(selection) = boot.cmdline_value("test") {
        let ok = ktest::run(selection);
        A::exit(if ok {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        });
    }
    if !userland::start(boot) {
        log::info!("idling with a {TICK_HZ} Hz tick (Ctrl-A X quits QEMU)");
    }
    SCHED.exit_current()
}

fn banner(boot: &BootInfo, mem: &memory::Stats, p: &arch_api::Platform) {
    log::info!("memory map ({} usable ranges):", boot.ram().len());
    for r in boot.ram() {
        log::info!(
            "  usable   [{:#014x}-{:#014x}) {:>6} KiB",
            r.start,
            r.end,
            r.len() / 1024
        );
    }
    for r in boot.reserved() {
        log::info!(
            "  reserved [{:#014x}-{:#014x}) {:>6} KiB",
            r.start,
            r.end,
            r.len() / 1024
        );
    }
    log::info!(
        "memory: {} MiB usable, {} MiB free in {} frames, heap {} KiB",
        mem.usable_bytes >> 20,
        (mem.free_frames * 4096) >> 20,
        mem.free_frames,
        mem.heap_bytes >> 10
    );
    log::info!("cpus: {}", p.cpus);
    log::info!(
        "timer: {} Hz tick, timer input {}.{:03} MHz, clock {}.{:03} MHz; {} at {}",
        TICK_HZ,
        p.timer_input_hz / 1_000_000,
        p.timer_input_hz / 1000 % 1000,
        p.clock_hz / 1_000_000,
        p.clock_hz / 1000 % 1000,
        p.irq_controller,
        p.privilege
    );
}
