//! The boot console: a PL011 reached through the direct map.
//!
//! One lock serialises writers from different CPUs. It is taken with IRQs masked, so an
//! interrupt handler cannot spin on a lock its own CPU holds; a synchronous exception (or a
//! panic) raised while this CPU holds it finds its own CPU as owner and writes anyway, so a
//! crash report is never lost to a deadlock (its bytes may interleave with the interrupted
//! line).

use arch_api::ConsoleInput;

use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use serial::pl011::Pl011;
use spin::Mutex;

use crate::mmu::phys_to_virt;

/// INTID of virt's first PL011 (SPI 1), used if the device tree does not say.
const VIRT_UART_INTID: u32 = 33;
/// INTID of the console UART's interrupt once input is on; 0 (an SGI, never routed here)
/// before.
static RX_INTID: AtomicU32 = AtomicU32::new(0);
/// Receives each byte; taken in the interrupt handler and, with IRQs masked, by `set_input`,
/// so it can never be held by the code an interrupt preempts.
static INPUT: Mutex<Option<fn(ConsoleInput)>> = Mutex::new(None);

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

/// The console UART's interrupt from its device-tree node: `interrupts = <type number
/// flags>` with type 0 = SPI (INTID 32 + number), 1 = PPI (INTID 16 + number).
fn uart_intid() -> Option<u32> {
    let fdt = crate::dtb::get()?;
    let pa = uart_pa();
    let node = fdt.all_nodes().find(|n| {
        n.compatible()
            .is_some_and(|c| c.all().any(|s| s == "arm,pl011"))
            && n.reg()
                .and_then(|mut r| r.next())
                .is_some_and(|r| r.starting_address as u64 == pa)
    })?;
    let cells = node.property("interrupts")?.value;
    let cell = |i: usize| {
        cells
            .get(4 * i..4 * i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    match (cell(0)?, cell(1)?) {
        (0, n) if n < 988 => Some(32 + n),
        (1, n) if n < 16 => Some(16 + n),
        _ => None,
    }
}

/// Deliver received bytes to `handler`: the GIC routes the UART's SPI to this CPU, the
/// PL011 raises receive and receive-timeout interrupts.
pub fn set_input(handler: fn(ConsoleInput)) {
    let irqs = crate::cpu::irq_save_disable();
    *INPUT.lock() = Some(handler);
    let intid = uart_intid().unwrap_or(VIRT_UART_INTID);
    if crate::gic::enable_spi(intid) {
        RX_INTID.store(intid, Ordering::Relaxed);
        uart().enable_rx_interrupts();
        log::debug!("console: PL011 receive interrupt INTID {intid}");
    } else {
        log::warn!("console: cannot enable INTID {intid}: no console input");
    }
    crate::cpu::irq_restore(irqs);
}

/// INTID of the console's receive interrupt (0 when input is off).
pub fn rx_intid() -> u32 {
    RX_INTID.load(Ordering::Relaxed)
}

/// The UART interrupt: pass every waiting byte on (IRQs are masked here).
pub fn rx_interrupt() {
    let handler = *INPUT.lock();
    uart().drain(|rx| {
        if let Some(h) = handler {
            h(match rx {
                serial::Rx::Byte(b) => ConsoleInput::Byte(b),
                serial::Rx::Break => ConsoleInput::Break,
            });
        }
    });
}
