//! alarm, setitimer, getitimer: the real-time interval timer (`ITIMER_REAL`), which sends
//! SIGALRM to the process when it expires and re-arms itself with its interval.
//!
//! One kernel thread serves every process: it sleeps until the earliest expiry (a new or
//! changed timer wakes it early) and sends the signals. A timer lives in the process
//! ([`Process::itimer`]: expiry and interval in monotonic nanoseconds), survives `execve` and
//! is not inherited by `fork`, as on Linux; the thread holds only weak references.
//!
//! `ITIMER_VIRTUAL` (user time, SIGVTALRM) and `ITIMER_PROF` (user + system time, SIGPROF)
//! count the process's CPU time down in the timer tick ([`crate::cputime`]); they too survive
//! `execve` and are not inherited.

use crate::cputime::{self, CpuTimer};
use crate::kernel::Kernel;
use crate::process::{Process, Task};
use crate::signal::{self, SigInfo};
use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use arch_api::Arch;
use core::any::Any;
use syscall::{Errno, Result};

const ITIMER_REAL: u32 = 0;
const ITIMER_VIRTUAL: u32 = 1;
const ITIMER_PROF: u32 = 2;
const SIGALRM: u32 = 14;
const NS_PER_US: u64 = 1000;
const NS_PER_SEC: u64 = 1_000_000_000;

/// A process, type-erased (the statics cannot name `Process<K>`).
type AnyProcess = dyn Any + Send + Sync;

/// Processes with an armed timer, once each, for the timer thread.
static ARMED: spin::Mutex<Vec<Weak<AnyProcess>>> = spin::Mutex::new(Vec::new());
/// Wakes the timer thread (set once it runs).
static WAKE: spin::Once<Box<dyn Fn() + Send + Sync>> = spin::Once::new();

/// (expiry, interval) of a process's real timer, nanoseconds; expiry 0: disarmed.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct RealTimer {
    pub expiry: u64,
    pub interval: u64,
}

/// A user `struct itimerval` (interval, then value; each a `timeval`) as nanoseconds.
fn read_itimerval<K: Kernel>(p: &Process<K>, addr: u64) -> Result<(u64, u64)> {
    let b = p.user().read_vec(addr, 32)?;
    let word = |at: usize| i64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default());
    let tv = |at: usize| -> Result<u64> {
        let (sec, usec) = (word(at), word(at + 8));
        if sec < 0 || !(0..1_000_000).contains(&usec) {
            return Err(Errno::EINVAL);
        }
        Ok((sec as u64).saturating_mul(NS_PER_SEC) + usec as u64 * NS_PER_US)
    };
    Ok((tv(0)?, tv(16)?))
}

fn itimerval_bytes(interval: u64, value: u64) -> [u8; 32] {
    let mut b = [0u8; 32];
    for (at, ns) in [(0, interval), (16, value)] {
        b[at..at + 8].copy_from_slice(&(ns / NS_PER_SEC).to_le_bytes());
        b[at + 8..at + 16].copy_from_slice(&(ns % NS_PER_SEC / NS_PER_US).to_le_bytes());
    }
    b
}

/// Time left and interval of `p`'s timer now.
fn current<K: Kernel>(p: &Process<K>) -> (u64, u64) {
    let t = *p.itimer.lock();
    let now = K::Arch::now_ns();
    let left = if t.expiry == 0 {
        0
    } else {
        // An expired timer the thread has not served yet reads as about to fire.
        t.expiry.saturating_sub(now).max(1)
    };
    (left, t.interval)
}

/// Arm (`value` > 0) or disarm `p`'s timer; returns the old (left, interval).
fn arm<K: Kernel>(p: &Arc<Process<K>>, value: u64, interval: u64) -> (u64, u64) {
    let old = current(p);
    let expiry = if value == 0 {
        0
    } else {
        K::Arch::now_ns().saturating_add(value)
    };
    *p.itimer.lock() = RealTimer { expiry, interval };
    if expiry != 0 {
        start_thread::<K>();
        let me: Arc<AnyProcess> = p.clone();
        let me = Arc::downgrade(&me);
        let mut armed = ARMED.lock();
        armed.retain(|w| w.strong_count() > 0);
        if !armed.iter().any(|w| Weak::ptr_eq(w, &me)) {
            armed.push(me);
        }
        drop(armed);
        if let Some(wake) = WAKE.get() {
            wake();
        }
    }
    old
}

/// The CPU timer slot of `which`, or None for `ITIMER_REAL`; EINVAL for others.
fn cpu_slot(which: u32) -> Result<Option<usize>> {
    match which {
        ITIMER_REAL => Ok(None),
        ITIMER_VIRTUAL => Ok(Some(cputime::VIRTUAL)),
        ITIMER_PROF => Ok(Some(cputime::PROF)),
        _ => Err(Errno::EINVAL),
    }
}

pub fn setitimer<K: Kernel>(t: &Arc<Task<K>>, which: u32, new: u64, old: u64) -> Result<usize> {
    let slot = cpu_slot(which)?;
    let p = &t.process;
    // Linux reads a NULL new value as a disarm.
    let (interval, value) = if new == 0 {
        (0, 0)
    } else {
        read_itimerval(p, new)?
    };
    let (left, was_interval) = match slot {
        None => arm(p, value, interval),
        Some(i) => cputime::with_timers::<K, _>(&p.cpu, |timers| {
            let was = timers[i];
            // Linux keeps the interval of a disarmed timer too (getitimer shows it).
            timers[i] = CpuTimer {
                left: value,
                interval,
            };
            (was.left, was.interval)
        }),
    };
    if old != 0 {
        p.user().write(old, &itimerval_bytes(was_interval, left))?;
    }
    Ok(0)
}

pub fn getitimer<K: Kernel>(t: &Arc<Task<K>>, which: u32, out: u64) -> Result<usize> {
    let (left, interval) = match cpu_slot(which)? {
        None => current(&t.process),
        Some(i) => {
            let timer = cputime::with_timers::<K, _>(&t.process.cpu, |timers| timers[i]);
            (timer.left, timer.interval)
        }
    };
    t.process
        .user()
        .write(out, &itimerval_bytes(interval, left))?;
    Ok(0)
}

/// alarm: a one-shot timer in seconds; returns the seconds the old one had left, rounded up
/// (and at least 1 if it was armed), as Linux does.
pub fn alarm<K: Kernel>(t: &Arc<Task<K>>, seconds: u32) -> Result<usize> {
    let (left, _) = arm(&t.process, u64::from(seconds) * NS_PER_SEC, 0);
    Ok(if left == 0 {
        0
    } else {
        left.div_ceil(NS_PER_SEC).max(1) as usize
    })
}

/// Start the timer thread once.
fn start_thread<K: Kernel>() {
    WAKE.call_once(|| {
        let thread = K::sched().spawn("itimer", || serve::<K>());
        Box::new(move || K::sched().wake(&thread))
    });
}

/// The timer thread: fire what expired, then sleep until the next expiry or a wake-up.
fn serve<K: Kernel>() -> ! {
    loop {
        K::sched().prepare_wait();
        let now = K::Arch::now_ns();
        let procs: Vec<Arc<Process<K>>> = {
            let mut armed = ARMED.lock();
            armed.retain(|w| w.strong_count() > 0);
            armed
                .iter()
                .filter_map(Weak::upgrade)
                .filter_map(|a| a.downcast::<Process<K>>().ok())
                .collect()
        };
        let mut next = u64::MAX;
        for p in &procs {
            if p.exit_status.lock().is_some() {
                continue;
            }
            let mut t = p.itimer.lock();
            if t.expiry == 0 {
                continue;
            }
            if t.expiry <= now {
                t.expiry = if t.interval == 0 {
                    0
                } else {
                    now.saturating_add(t.interval)
                };
                drop(t);
                signal::send_process(p, SigInfo::user(SIGALRM, SI_TIMER, 0));
                let t = p.itimer.lock();
                if t.expiry != 0 {
                    next = next.min(t.expiry);
                }
            } else {
                next = next.min(t.expiry);
            }
        }
        {
            // Drop the processes whose timers are off, so they are not scanned again.
            let mut armed = ARMED.lock();
            armed.retain(|w| {
                w.upgrade()
                    .and_then(|a| a.downcast::<Process<K>>().ok())
                    .is_some_and(|p| p.itimer.lock().expiry != 0)
            });
        }
        if next == u64::MAX {
            K::sched().block_current(None);
        } else {
            let left = next.saturating_sub(K::Arch::now_ns());
            let ticks = (u128::from(left) * u128::from(K::tick_hz())).div_ceil(NS_PER_SEC.into());
            K::sched().sleep_ticks((ticks as u64).max(1));
        }
    }
}

/// `si_code` of a timer's signal (`SI_KERNEL` is what Linux gives ITIMER_REAL's SIGALRM).
const SI_TIMER: i32 = signal::SI_KERNEL;
