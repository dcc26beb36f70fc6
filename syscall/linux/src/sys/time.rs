//! clock_gettime, clock_settime, clock_getres, gettimeofday, settimeofday, nanosleep,
//! clock_nanosleep.

use crate::kernel::Kernel;
use crate::process::Process;
use arch_api::Arch;
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

fn now<K: Kernel>(clock: u32) -> Result<u64> {
    match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Ok(K::realtime_ns()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => {
            Ok(K::Arch::now_ns())
        }
        // CPU time is not accounted yet: report time since boot, which bounds it.
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => Ok(K::Arch::now_ns()),
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

pub fn clock_gettime<K: Kernel>(p: &Process<K>, clock: u32, tp: u64) -> Result<usize> {
    let ns = now::<K>(clock)?;
    p.user().write(tp, &timespec(ns))?;
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
pub fn clock_getres<K: Kernel>(p: &Process<K>, clock: u32, res: u64) -> Result<usize> {
    now::<K>(clock)?;
    let ns = match clock {
        CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE => 1_000_000_000 / K::tick_hz().max(1),
        _ => 1,
    };
    if res != 0 {
        p.user().write(res, &timespec(ns))?;
    }
    Ok(0)
}

pub fn nanosleep<K: Kernel>(p: &Process<K>, req: u64, _rem: u64) -> Result<usize> {
    let ns = read_timespec(p, req)?;
    sleep_ns::<K>(ns)?;
    Ok(0)
}

pub fn clock_nanosleep<K: Kernel>(
    p: &Process<K>,
    clock: u32,
    flags: u32,
    req: u64,
    _rem: u64,
) -> Result<usize> {
    if flags & !TIMER_ABSTIME != 0 {
        return Err(Errno::EINVAL);
    }
    let start = now::<K>(clock)?;
    let t = read_timespec(p, req)?;
    let ns = if flags & TIMER_ABSTIME != 0 {
        t.saturating_sub(start)
    } else {
        t
    };
    sleep_ns::<K>(ns)?;
    Ok(0)
}
