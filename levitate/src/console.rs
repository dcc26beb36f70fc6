//! The kernel console: a `log` backend and raw line output, both on the arch's serial console.

use crate::A;
use arch_api::Arch;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};
use sched::IrqSpinLock;

/// Keeps lines whole when several threads log.
static LOCK: IrqSpinLock<(), A> = IrqSpinLock::new(());
/// Set once a panic started: output then bypasses the lock.
static PANICKING: AtomicBool = AtomicBool::new(false);

struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        A::console_write(s.as_bytes());
        Ok(())
    }
}

/// Print formatted text as one unit.
pub fn print(args: fmt::Arguments) {
    if PANICKING.load(Ordering::Relaxed) {
        let _ = Console.write_fmt(args);
        return;
    }
    let _guard = LOCK.lock();
    let _ = Console.write_fmt(args);
}

/// From now on, print without taking the lock (the holder may never release it).
pub fn enter_panic() {
    PANICKING.store(true, Ordering::Relaxed);
}

#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let ns = A::now_ns();
        print(format_args!(
            "[{:>5}.{:06}] {:<5} {}\n",
            ns / 1_000_000_000,
            ns / 1000 % 1_000_000,
            r.level(),
            r.args()
        ));
    }

    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Parse `loglevel=`: Linux's numbers (0-8) or a `log` level name.
fn parse_level(v: Option<&str>) -> log::LevelFilter {
    match v {
        Some("0" | "1" | "2" | "3" | "error") => log::LevelFilter::Error,
        Some("4" | "warn") => log::LevelFilter::Warn,
        Some("7" | "debug") => log::LevelFilter::Debug,
        Some("8" | "trace") => log::LevelFilter::Trace,
        Some("off") => log::LevelFilter::Off,
        _ => log::LevelFilter::Info,
    }
}

/// Install the logger with the level from the command line.
pub fn init(level: Option<&str>) {
    // A second call (there is none) would only fail to install; nothing to do then.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(parse_level(level));
}
