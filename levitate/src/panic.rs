//! Panics are loud and bounded: message, CPU state, backtrace, then QEMU exits with failure.

use crate::{A, console, kprintln};
use arch_api::{Arch, ExitStatus};
use core::sync::atomic::{AtomicBool, Ordering};

static IN_PANIC: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    A::irq_save_disable();
    if IN_PANIC.swap(true, Ordering::SeqCst) {
        // A panic while panicking: say so and stop, without touching anything else.
        A::console_write(b"\nKERNEL PANIC (nested) - stopping\n");
        A::exit(ExitStatus::Failure);
    }
    console::enter_panic();
    kprintln!("\nKERNEL PANIC: {}", info);
    A::dump_cpu_state();
    kprintln!("backtrace:");
    let mut n = 0;
    A::backtrace(&mut |ra| {
        kprintln!("  #{n:<2} {ra:#018x}");
        n += 1;
    });
    if n == 0 {
        kprintln!("  (no frames)");
    }
    A::exit(ExitStatus::Failure)
}
