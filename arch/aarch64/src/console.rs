//! The boot console: a PL011 reached through the direct map.
//!
//! One lock serialises writers from different CPUs. It is taken with IRQs masked, so an
//! interrupt handler cannot spin on a lock its own CPU holds; a synchronous exception (or a
//! panic) raised while this CPU holds it finds its own CPU as owner and writes anyway, so a
//! crash report is never lost to a deadlock (its bytes may interleave with the interrupted
//! line).

use core::sync::atomic::{AtomicUsize, Ordering};

use serial::pl011::Pl011;

use crate::mmu::phys_to_virt;

/// Physical address of the UART QEMU's virt machine puts first; used until the DTB is read.
pub const EARLY_UART_PA: u64 = 0x0900_0000;

/// Virtual address of the console UART's registers.
static BASE: AtomicUsize = AtomicUsize::new(phys_to_virt(EARLY_UART_PA) as usize);
/// 0 when free, else 1 + the owning CPU's index.
static OWNER: AtomicUsize = AtomicUsize::new(0);

/// Use the PL011 at physical address `pa` (mapped as Device memory by the direct map).
pub fn set_uart(pa: u64) {
    BASE.store(phys_to_virt(pa) as usize, Ordering::Relaxed);
}

/// Physical address of the console UART.
pub fn uart_pa() -> u64 {
    BASE.load(Ordering::Relaxed) as u64 - phys_to_virt(0)
}

fn uart() -> Pl011 {
    // SAFETY: BASE holds the direct-map address of a PL011 (the early default or the one the
    // device tree names); the direct map keeps GiB 0, where virt's UARTs are, as Device memory.
    unsafe { Pl011::new(BASE.load(Ordering::Relaxed)) }
}

/// Write `bytes`, turning "\n" into "\r\n" for terminals.
pub fn write(bytes: &[u8]) {
    let irqs = crate::cpu::irq_save_disable();
    let me = crate::cpu::cpu_id() + 1;
    let reentered = OWNER.load(Ordering::Relaxed) == me;
    if !reentered {
        while OWNER
            .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
    }
    let uart = uart();
    for &b in bytes {
        if b == b'\n' {
            uart.write_byte(b'\r');
        }
        uart.write_byte(b);
    }
    if !reentered {
        OWNER.store(0, Ordering::Release);
    }
    crate::cpu::irq_restore(irqs);
}

/// Wait until the UART has sent everything (before the machine stops).
pub fn flush() {
    uart().flush();
}
