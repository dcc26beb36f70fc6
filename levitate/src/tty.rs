//! The serial console as a terminal: one `vfs::tty::Tty` behind /dev/console, /dev/ttyS0 and
//! /dev/tty, fed by the UART receive interrupt.
//!
//! The interrupt handler only pushes bytes into a lock-free ring and wakes the `tty-input`
//! thread; that thread runs the line discipline (locks, echo, signals, pollee wake-ups) in
//! thread context. Notifying the tty's `Pollee` from the interrupt itself would not be safe:
//! its waiter list is a spin lock that threads take with interrupts enabled.

use crate::{A, SCHED};
use alloc::boxed::Box;
use alloc::sync::Arc;
use arch_api::Arch;
use spin::Once;
use vfs::tty::{InputRing, Tty};

static RING: InputRing = InputRing::new();
static READER: Once<Arc<sched::Thread<A>>> = Once::new();
static CONSOLE: Once<Arc<Tty>> = Once::new();

/// The console terminal (made on first use).
pub fn console() -> Arc<Tty> {
    CONSOLE
        .call_once(|| {
            Arc::new(Tty::new(
                Box::new(write_console),
                Box::new(signal_foreground),
            ))
        })
        .clone()
}

/// Start the input thread and turn on the UART's receive interrupt.
pub fn start_input() {
    let tty = console();
    let reader = SCHED.spawn("tty-input", move || {
        let mut buf = [0u8; 128];
        loop {
            // Check and block with interrupts masked: a byte arriving in between would
            // otherwise wake a thread that is not asleep yet, and be left in the ring.
            let was = A::irq_save_disable();
            if RING.is_empty() {
                SCHED.block_current(None);
            }
            A::irq_restore(was);
            loop {
                let n = RING.pop_into(&mut buf);
                if n == 0 {
                    break;
                }
                tty.input(&buf[..n]);
            }
        }
    });
    READER.call_once(|| reader);
    A::set_console_input(on_byte);
}

/// The receive interrupt's handler (interrupts disabled): queue and wake the reader.
fn on_byte(b: u8) {
    RING.push(b);
    if let Some(t) = READER.get() {
        SCHED.wake(t);
    }
}

/// The tty's output. The arch console turns every "\n" into "\r\n" itself, so the "\r" that
/// ONLCR put before a "\n" is dropped here rather than sent twice.
fn write_console(bytes: &[u8]) {
    let mut start = 0;
    for i in 0..bytes.len() {
        if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
            A::console_write(&bytes[start..i]);
            start = i + 1;
        }
    }
    A::console_write(&bytes[start..]);
}

/// ^C, ^\, ^Z and window changes: signal the terminal's foreground process group.
fn signal_foreground(pgid: i32, sig: u32) {
    if let Ok(pgid) = u32::try_from(pgid) {
        linux::signal_group::<crate::userland::Levitate>(pgid, sig);
    }
}
