//! clock_gettime, clock_settime, clock_getres, gettimeofday, settimeofday, nanosleep,
//! clock_nanosleep, times, getrusage.
//!
//! The CPU-time clocks, `times` and `getrusage` read the tick-sampled accounting of
//! [`crate::cputime`] (a resolution of one tick, 10 ms).

use crate::cputime;
use crate::kernel::Kernel;
use crate::process::{Process, Task};
use alloc::sync::Arc;
use arch_api::Arch;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};

const CLOCK_REALTIME: u32 = 0;
const CLOCK_MONOTONIC: u32 = 1;
const CLOCK_PROCESS_CPUTIME_ID: u32 = 2;
const CLOCK_THREAD_CPUTIME_ID: u32 = 3;
const CLOCK_MONOTONIC_RAW: u32 = 4;
const CLOCK_REALTIME_COARSE: u32 = 5;
const CLOCK_MONOTONIC_COARSE: u32 = 6;
const CLOCK_BOOTTIME: u32 = 7;
const TIMER_ABSTIME: u32 = 1;

fn now<K: Kernel>(t: &Task<K>, clock: u32) -> Result<u64> {
    match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Ok(K::realtime_ns()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Ok(K::Arch::now_ns())
        }
        CLOCK_PROCESS_CPUTIME_ID => {
            let (u, s) = cputime::process_times(&t.process);
            Ok(u + s)
        }
        CLOCK_THREAD_CPUTIME_ID => {
            Ok(t.cpu.user_ns.load(Ordering::Relaxed) + t.cpu.sys_ns.load(Ordering::Relaxed))
        }
        _ => Err(Errno::EINVAL),
    }
}

fn timespec(ns: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
    b[8..].copy_from_slice(&(ns % 1_000_000_000).to_le_bytes());
    b
}

/// Read a user `struct timespec` as nanoseconds; EINVAL if malformed.
pub fn read_timespec<K: Kernel>(p: &Process<K>, addr: u64) -> Result<u64> {
    let b = p.user().read_vec(addr, 16)?;
    let sec = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let nsec = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if sec < 0 || !(0..1_000_000_000).contains(&nsec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(nsec as u64))
}

pub fn clock_gettime<K: Kernel>(t: &Arc<Task<K>>, clock: u32, tp: u64) -> Result<usize> {
    let ns = now::<K>(t, clock)?;
    t.process.user().write(tp, &timespec(ns))?;
    Ok(0)
}

pub fn gettimeofday<K: Kernel>(p: &Process<K>, tv: u64) -> Result<usize> {
    if tv != 0 {
        let ns = K::realtime_ns();
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        b[8..].copy_from_slice(&(ns % 1_000_000_000 / 1000).to_le_bytes());
        p.user().write(tv, &b)?;
    }
    Ok(0)
}

/// clock_settime: only `CLOCK_REALTIME` can be set (EINVAL for the others, as on Linux);
/// every process is root here, so no EPERM.
pub fn clock_settime<K: Kernel>(p: &Process<K>, clock: u32, tp: u64) -> Result<usize> {
    let ns = read_timespec(p, tp)?;
    match clock {
        CLOCK_REALTIME => {
            K::set_realtime_ns(ns);
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// settimeofday: `tv` may be NULL (only the obsolete timezone is given, and ignored).
pub fn settimeofday<K: Kernel>(p: &Process<K>, tv: u64) -> Result<usize> {
    if tv == 0 {
        return Ok(0);
    }
    let b = p.user().read_vec(tv, 16)?;
    let sec = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let usec = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    K::set_realtime_ns((sec as u64).saturating_mul(1_000_000_000) + usec as u64 * 1000);
    Ok(0)
}

/// Sleep at least `ns` nanoseconds, or until a signal kicks the thread (EINTR). Ticks fall on
/// their own boundaries, so a sleep of N ticks started mid-tick is shorter than N tick
/// periods: sleep again until the monotonic deadline has passed.
fn sleep_ns<K: Kernel>(ns: u64) -> Result<()> {
    if ns == 0 {
        K::sched().yield_now();
        return Ok(());
    }
    let deadline = K::Arch::now_ns().saturating_add(ns);
    loop {
        // Before the check: a signal's kick after it cuts the sleep short instead of being lost.
        K::sched().prepare_wait();
        if crate::signal::kicked::<K>() {
            return Err(Errno::EINTR);
        }
        let now = K::Arch::now_ns();
        if now >= deadline {
            return Ok(());
        }
        let left = deadline - now;
        let ticks = (left as u128 * K::tick_hz() as u128).div_ceil(1_000_000_000) as u64;
        K::sched().sleep_ticks(ticks.max(1));
    }
}

/// clock_getres: the monotonic and realtime clocks count nanoseconds from the arch counter;
/// the coarse ones advance per tick, as Linux reports them.
pub fn clock_getres<K: Kernel>(t: &Arc<Task<K>>, clock: u32, res: u64) -> Result<usize> {
    now::<K>(t, clock)?;
    let ns = match clock {
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => 1_000_000_000 / K::tick_hz().max(1),
        _ => 1,
    };
    if res != 0 {
        t.process.user().write(res, &timespec(ns))?;
    }
    Ok(0)
}

pub fn nanosleep<K: Kernel>(p: &Process<K>, req: u64, _rem: u64) -> Result<usize> {
    let ns = read_timespec(p, req)?;
    sleep_ns::<K>(ns)?;
    Ok(0)
}

pub fn clock_nanosleep<K: Kernel>(
    task: &Arc<Task<K>>,
    clock: u32,
    flags: u32,
    req: u64,
    _rem: u64,
) -> Result<usize> {
    if flags & !TIMER_ABSTIME != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux: the calling thread's CPU clock is EINVAL; sleeping on the process's CPU clock
    // is not supported here (ENOTSUP, which Linux also uses for clocks it cannot sleep on).
    match clock {
        CLOCK_THREAD_CPUTIME_ID => return Err(Errno::EINVAL),
        CLOCK_PROCESS_CPUTIME_ID => return Err(Errno::EOPNOTSUPP),
        _ => {}
    }
    let start = now::<K>(task, clock)?;
    let t = read_timespec(&task.process, req)?;
    let ns = if flags & TIMER_ABSTIME != 0 {
        t.saturating_sub(start)
    } else {
        t
    };
    sleep_ns::<K>(ns)?;
    Ok(0)
}

/// USER_HZ: the unit of `clock_t` (times).
const USER_HZ: u64 = 100;
const NS_PER_CLOCK_T: u64 = 1_000_000_000 / USER_HZ;

/// times: (user, system, children's user, children's system) in clock ticks; returns the
/// ticks since boot.
pub fn times<K: Kernel>(t: &Arc<Task<K>>, buf: u64) -> Result<usize> {
    let p = &t.process;
    if buf != 0 {
        let (u, s) = cputime::process_times(p);
        let (cu, cs) = p.cpu.children();
        let mut b = [0u8; 32];
        for (i, ns) in [u, s, cu, cs].into_iter().enumerate() {
            b[8 * i..8 * i + 8].copy_from_slice(&(ns / NS_PER_CLOCK_T).to_le_bytes());
        }
        p.user().write(buf, &b)?;
    }
    Ok((K::Arch::now_ns() / NS_PER_CLOCK_T) as usize)
}

/// A `struct rusage`: user and system time as `timeval`s, then 14 longs of which only
/// `ru_maxrss` (KiB) is filled.
pub(crate) fn rusage_bytes(user_ns: u64, sys_ns: u64, maxrss_kb: u64) -> [u8; 144] {
    let mut b = [0u8; 144];
    for (at, ns) in [(0, user_ns), (16, sys_ns)] {
        b[at..at + 8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
        b[at + 8..at + 16].copy_from_slice(&(ns % 1_000_000_000 / 1000).to_le_bytes());
    }
    b[32..40].copy_from_slice(&maxrss_kb.to_le_bytes());
    b
}

const RUSAGE_SELF: i32 = 0;
const RUSAGE_CHILDREN: i32 = -1;
const RUSAGE_THREAD: i32 = 1;

/// getrusage: the process, its reaped children, or the calling thread.
pub fn getrusage<K: Kernel>(t: &Arc<Task<K>>, who: i32, out: u64) -> Result<usize> {
    let p = &t.process;
    let (u, s, rss) = match who {
        RUSAGE_SELF => {
            let (u, s) = cputime::process_times(p);
            let rss = p.vm.lock().resident_pages() * 4;
            (u, s, rss)
        }
        RUSAGE_CHILDREN => {
            let (u, s) = p.cpu.children();
            (u, s, 0)
        }
        RUSAGE_THREAD => {
            let rss = p.vm.lock().resident_pages() * 4;
            (
                t.cpu.user_ns.load(Ordering::Relaxed),
                t.cpu.sys_ns.load(Ordering::Relaxed),
                rss,
            )
        }
        _ => return Err(Errno::EINVAL),
    };
    p.user().write(out, &rusage_bytes(u, s, rss))?;
    Ok(0)
}
