//! Boot console on COM1. A lock keeps lines from different CPUs apart; it records its owner
//! CPU, so an exception or NMI that interrupts a write on the same CPU (and wants to report
//! itself) writes anyway instead of waiting forever for itself.

use arch_api::ConsoleInput;

use core::sync::atomic::{AtomicUsize, Ordering};

use serial::uart16550::{Registers, Uart16550};
use spin::Mutex;

use crate::{cpu, percpu, platform};

const COM1: u16 = 0x3f8;
const BAUD: u32 = 115_200;

/// A 16550 reached through I/O ports starting at `.0`.
struct PortIo(u16);

impl Registers for PortIo {
    fn read(&self, offset: u8) -> u8 {
        // SAFETY: the port is one of COM1's eight registers, driven only by this module.
        unsafe { cpu::inb(self.0 + u16::from(offset)) }
    }

    fn write(&self, offset: u8, value: u8) {
        // SAFETY: as in `read`.
        unsafe { cpu::outb(self.0 + u16::from(offset), value) }
    }
}

static UART: Uart16550<PortIo> = Uart16550::new(PortIo(COM1));

/// 0 when free, else the owning CPU's index + 1.
static OWNER: AtomicUsize = AtomicUsize::new(0);

/// Receives each byte COM1 receives; taken in the interrupt handler and, with interrupts
/// masked, by `set_input`, so it can never be held by the code an interrupt preempts.
static INPUT: Mutex<Option<fn(ConsoleInput)>> = Mutex::new(None);

pub fn init() {
    UART.init(BAUD);
}

/// Deliver received bytes to `handler`: the UART's receive interrupt on, ISA IRQ 4 routed
/// through the IOAPIC to [`crate::apic::SERIAL_VECTOR`].
pub fn set_input(handler: fn(ConsoleInput)) {
    let was_enabled = crate::irq_save_disable();
    *INPUT.lock() = Some(handler);
    if platform::enable_com1_irq() {
        UART.enable_rx_interrupt();
    } else {
        log::warn!("console: no IOAPIC input for COM1 (IRQ 4): no console input");
    }
    crate::irq_restore(was_enabled);
}

/// The COM1 interrupt: pass every waiting byte on (interrupts are disabled here).
pub fn rx_interrupt() {
    let handler = *INPUT.lock();
    UART.drain(|rx| {
        if let Some(h) = handler {
            h(match rx {
                serial::Rx::Byte(b) => ConsoleInput::Byte(b),
                serial::Rx::Break => ConsoleInput::Break,
            });
        }
    });
}

/// Write `bytes` to COM1; safe from any context (see the module comment).
pub fn write(bytes: &[u8]) {
    let was_enabled = crate::irq_save_disable();
    let me = percpu::cpu_id() + 1;
    let mut taken = false;
    loop {
        match OWNER.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed) {
            Ok(_) => {
                taken = true;
                break;
            }
            // Interrupted our own write (interrupts are off while holding it, so this is an
            // exception or NMI): the holder cannot run until we return, so go ahead.
            Err(owner) if owner == me => break,
            Err(_) => core::hint::spin_loop(),
        }
    }
    UART.write_bytes(bytes);
    if taken {
        OWNER.store(0, Ordering::Release);
    }
    crate::irq_restore(was_enabled);
}

/// Wait until everything written has been transmitted.
pub fn flush() {
    UART.flush();
}
