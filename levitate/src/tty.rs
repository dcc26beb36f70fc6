//! The serial console as a terminal: one `vfs::tty::Tty` behind /dev/console, /dev/ttyS0 and
//! /dev/tty, fed by the UART receive interrupt. Also the pseudo-terminals' devpts instance
//! (`/dev/ptmx`, `/dev/pts`), whose line disciplines live in `vfs::pty`.
//!
//! The interrupt handler only pushes bytes into a lock-free ring and wakes the `tty-input`
//! thread; that thread runs the line discipline (locks, echo, signals, pollee wake-ups) in
//! thread context. Notifying the tty's `Pollee` from the interrupt itself would not be safe:
//! its waiter list is a spin lock that threads take with interrupts enabled.

use crate::{A, SCHED};
use alloc::boxed::Box;
use alloc::sync::Arc;
use arch_api::{Arch, ConsoleInput};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use spin::Once;
use vfs::pty::DevPts;
use vfs::tty::{InputRing, Tty};

static RING: InputRing = InputRing::new();
/// A break arrived: the next byte is a SysRq command, not input (as on Linux's serial console).
static SYSRQ_ARMED: AtomicBool = AtomicBool::new(false);
/// The SysRq command for the input thread to run (0: none).
static SYSRQ_KEY: AtomicU8 = AtomicU8::new(0);
static READER: Once<Arc<sched::Thread<A>>> = Once::new();
static CONSOLE: Once<Arc<Tty>> = Once::new();
static DEVPTS: Once<Arc<DevPts>> = Once::new();

/// The console terminal (made on first use).
pub fn console() -> Arc<Tty> {
    CONSOLE
        .call_once(|| {
            Arc::new(Tty::new(
                Box::new(write_console),
                Box::new(signal_foreground),
                A::now_ns,
            ))
        })
        .clone()
}

/// The devpts instance (made on first use): mount it on /dev/pts and register its `ptmx()`
/// as /dev/ptmx (5:2).
pub fn devpts() -> Arc<DevPts> {
    DEVPTS
        .call_once(|| {
            DevPts::new(
                vfs::types::makedev(0, 4),
                Arc::new(signal_foreground),
                A::now_ns,
            )
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
            if RING.is_empty() && SYSRQ_KEY.load(Ordering::Relaxed) == 0 {
                SCHED.block_current(None);
            }
            A::irq_restore(was);
            let key = SYSRQ_KEY.swap(0, Ordering::Relaxed);
            if key != 0 {
                sysrq(key);
            }
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
fn on_byte(input: ConsoleInput) {
    match input {
        ConsoleInput::Break => SYSRQ_ARMED.store(true, Ordering::Relaxed),
        ConsoleInput::Byte(b) if SYSRQ_ARMED.swap(false, Ordering::Relaxed) => {
            SYSRQ_KEY.store(b.max(1), Ordering::Relaxed);
        }
        ConsoleInput::Byte(b) => {
            RING.push(b);
        }
    }
    if let Some(t) = READER.get() {
        SCHED.wake(t);
    }
}

/// A magic SysRq command (break, then the key), run by the input thread: `t` lists every
/// task and where it waits, `m` the memory, anything else the help. Printed straight to the
/// console so that it shows whatever the log level and whoever holds the tty.
fn sysrq(key: u8) {
    let text = match key {
        b't' => match crate::userland::init_process() {
            Some(init) => alloc::format!(
                "sysrq: show tasks ({} context switches)\n{}",
                SCHED.switches(),
                linux::sysrq::show_tasks(&init)
            ),
            None => alloc::string::String::from("sysrq: no user space\n"),
        },
        b'm' => {
            let (free, total) = match crate::memory::FRAMES.try_lock() {
                Some(frames) => (frames.free_frames(), frames.total_frames()),
                None => (0, 0),
            };
            let (heap_size, heap_used) = crate::memory::heap_usage();
            alloc::format!(
                "sysrq: show memory: {free} of {total} frames free, heap {heap_used} of {heap_size} bytes used\n"
            )
        }
        _ => alloc::string::String::from("sysrq: HELP : show-tasks(t) show-memory(m)\n"),
    };
    A::console_write(text.as_bytes());
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
