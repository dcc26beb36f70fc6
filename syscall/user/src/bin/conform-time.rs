//! Conformance checks for time: clock_gettime (monotonic never goes back and advances),
//! nanosleep sleeps at least as asked, gettimeofday agrees with CLOCK_REALTIME, the interval
//! timers (ITIMER_REAL, and the CPU-time ones ITIMER_VIRTUAL/ITIMER_PROF a busy loop sets off),
//! the CPU-time clocks, times and getrusage, and the EINVAL/EFAULT cases. Prints `PASS time/<name>` or `FAIL time/<name>: why`; exits 0 iff all
//! passed.

#[path = "../conform/util.rs"]
mod util;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use util::{Check, KERNEL_ADDR, Report, eq, expect_errno, expect_ok};

/// SIGALRMs seen.
static ALARMS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_alarm(_sig: libc::c_int) {
    ALARMS.fetch_add(1, Ordering::SeqCst);
}

/// SIGVTALRMs and SIGPROFs seen.
static VTALRMS: AtomicU32 = AtomicU32::new(0);
static PROFS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_cpu_timer(sig: libc::c_int) {
    if sig == libc::SIGVTALRM {
        VTALRMS.fetch_add(1, Ordering::SeqCst);
    } else {
        PROFS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Burn CPU in user mode until `done()` says so; Err after `limit_ms` of wall time (QEMU on a
/// loaded host gives the guest a fraction of a CPU).
fn burn_until(limit_ms: u64, done: impl Fn() -> bool) -> Result<(), String> {
    let start = std::time::Instant::now();
    let mut x = 1u64;
    while !done() {
        for i in 0..20_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
        if start.elapsed().as_millis() as u64 > limit_ms {
            return Err(format!("still waiting after {limit_ms} ms of wall time"));
        }
    }
    std::hint::black_box(x);
    Ok(())
}

fn tv(us: i64) -> libc::timeval {
    libc::timeval {
        tv_sec: us / 1_000_000,
        tv_usec: us % 1_000_000,
    }
}

fn tv_us(t: libc::timeval) -> i64 {
    t.tv_sec * 1_000_000 + t.tv_usec
}

/// `setitimer(which)` with `interval` and `value` in microseconds; the old value.
fn set_timer(
    which: libc::c_int,
    interval_us: i64,
    value_us: i64,
) -> Result<libc::itimerval, String> {
    let new = libc::itimerval {
        it_interval: tv(interval_us),
        it_value: tv(value_us),
    };
    let mut old = libc::itimerval {
        it_interval: tv(0),
        it_value: tv(0),
    };
    // SAFETY: valid itimervals.
    let ret = unsafe { libc::setitimer(which, &new, &mut old) };
    expect_ok("setitimer", ret as i64)?;
    Ok(old)
}

fn get_timer(which: libc::c_int) -> Result<libc::itimerval, String> {
    let mut cur = libc::itimerval {
        it_interval: tv(0),
        it_value: tv(0),
    };
    // SAFETY: valid out-pointer.
    let ret = unsafe { libc::getitimer(which, &mut cur) };
    expect_ok("getitimer", ret as i64)?;
    Ok(cur)
}

/// (user, system) microseconds of getrusage(`who`).
fn rusage(who: libc::c_int) -> Result<(i64, i64), String> {
    // SAFETY: rusage is plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    let ret = unsafe { libc::getrusage(who, &mut ru) };
    expect_ok("getrusage", ret as i64)?;
    Ok((tv_us(ru.ru_utime), tv_us(ru.ru_stime)))
}

/// The CPU-time checks: ITIMER_VIRTUAL/ITIMER_PROF, CPU clocks, times, getrusage.
fn cpu_time_checks(r: &mut Report) {
    // SAFETY: plain handlers for the two CPU-timer signals.
    unsafe {
        libc::signal(
            libc::SIGVTALRM,
            on_cpu_timer as extern "C" fn(libc::c_int) as usize,
        );
        libc::signal(
            libc::SIGPROF,
            on_cpu_timer as extern "C" fn(libc::c_int) as usize,
        );
    }
    for (name, which, count) in [
        ("itimer-virtual-fires", libc::ITIMER_VIRTUAL, &VTALRMS),
        ("itimer-prof-fires", libc::ITIMER_PROF, &PROFS),
    ] {
        r.check(name, || {
            count.store(0, Ordering::SeqCst);
            // 30 ms of CPU time, then every 30 ms: three signals need 90 ms of busy loop.
            set_timer(which, 30_000, 30_000)?;
            let burnt = burn_until(30_000, || count.load(Ordering::SeqCst) >= 3);
            let old = set_timer(which, 0, 0)?;
            burnt?;
            eq(
                "interval of the armed timer",
                tv_us(old.it_interval),
                30_000,
            )?;
            if !(0..=30_000).contains(&tv_us(old.it_value)) {
                return Err(format!(
                    "{} us left of a 30 ms interval",
                    tv_us(old.it_value)
                ));
            }
            Ok(())
        });
    }
    r.check("itimer-virtual-counts-down", || {
        let cpu0 = now(libc::CLOCK_PROCESS_CPUTIME_ID)?;
        set_timer(libc::ITIMER_VIRTUAL, 2_000_000, 10_000_000)?;
        let first = get_timer(libc::ITIMER_VIRTUAL)?;
        burn_until(30_000, || {
            now(libc::CLOCK_PROCESS_CPUTIME_ID).is_ok_and(|t| t - cpu0 >= 100_000_000)
        })?;
        let later = get_timer(libc::ITIMER_VIRTUAL)?;
        let old = set_timer(libc::ITIMER_VIRTUAL, 0, 0)?;
        let (a, b, c) = (
            tv_us(first.it_value),
            tv_us(later.it_value),
            tv_us(old.it_value),
        );
        eq("interval", tv_us(later.it_interval), 2_000_000)?;
        // Linux adds a tick to a CPU timer's first period.
        if !(9_000_000..=10_020_000).contains(&a) || b >= a || c > b || b < 5_000_000 {
            return Err(format!(
                "value read {a}, {b} after 100 ms of CPU, then {c} us"
            ));
        }
        eq(
            "disarmed",
            tv_us(get_timer(libc::ITIMER_VIRTUAL)?.it_value),
            0,
        )
    });
    r.check("itimer-which-einval", || {
        let cur = libc::itimerval {
            it_interval: tv(0),
            it_value: tv(0),
        };
        // SAFETY: valid pointers; `which` 3 is refused.
        let ret =
            unsafe { libc::syscall(libc::SYS_setitimer, 3, &cur, std::ptr::null_mut::<u8>()) };
        expect_errno("setitimer(3)", ret, libc::EINVAL)?;
        // SAFETY: as above.
        let ret = unsafe { libc::syscall(libc::SYS_getitimer, 3, &cur as *const _ as usize) };
        expect_errno("getitimer(3)", ret, libc::EINVAL)
    });
    r.check("cputime-clocks-advance", || {
        // The thread's clock first: the process's, read after it, is at least as far.
        let (w0, t0, p0) = (
            now(libc::CLOCK_MONOTONIC)?,
            now(libc::CLOCK_THREAD_CPUTIME_ID)?,
            now(libc::CLOCK_PROCESS_CPUTIME_ID)?,
        );
        burn_until(30_000, || {
            now(libc::CLOCK_THREAD_CPUTIME_ID).is_ok_and(|t| t - t0 >= 100_000_000)
        })?;
        let (t1, p1, w1) = (
            now(libc::CLOCK_THREAD_CPUTIME_ID)?,
            now(libc::CLOCK_PROCESS_CPUTIME_ID)?,
            now(libc::CLOCK_MONOTONIC)?,
        );
        // Sampled on the tick, the CPU clocks may run one tick ahead of the wall clock.
        if p1 - p0 < t1 - t0 - 20_000_000 || t1 - t0 > w1 - w0 + 20_000_000 || p1 < t1 {
            return Err(format!(
                "process {p0}->{p1}, thread {t0}->{t1}, wall {w0}->{w1} ns"
            ));
        }
        Ok(())
    });
    r.check("getrusage-and-times", || {
        let (u0, s0) = rusage(libc::RUSAGE_SELF)?;
        let (tu0, ts0) = rusage(libc::RUSAGE_THREAD)?;
        let cpu0 = now(libc::CLOCK_PROCESS_CPUTIME_ID)?;
        burn_until(30_000, || {
            now(libc::CLOCK_PROCESS_CPUTIME_ID).is_ok_and(|t| t - cpu0 >= 50_000_000)
        })?;
        let (u1, s1) = rusage(libc::RUSAGE_SELF)?;
        let (tu1, ts1) = rusage(libc::RUSAGE_THREAD)?;
        if u1 + s1 - u0 - s0 < 30_000 || tu1 + ts1 - tu0 - ts0 < 30_000 || u1 < u0 || s1 < s0 {
            return Err(format!(
                "self {u0}+{s0} -> {u1}+{s1} us, thread {tu0}+{ts0} -> {tu1}+{ts1} us"
            ));
        }
        // SAFETY: rusage is plain data.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer; `who` 7 is refused.
        let ret = unsafe { libc::syscall(libc::SYS_getrusage, 7, &mut ru) };
        expect_errno("getrusage(7)", ret, libc::EINVAL)?;
        // SAFETY: tms is plain data.
        let mut tms: libc::tms = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer.
        let ticks = unsafe { libc::times(&mut tms) };
        if ticks as i64 == -1 || tms.tms_utime + tms.tms_stime < 5 {
            return Err(format!(
                "times: {ticks}, utime {} stime {} (want at least 50 ms)",
                tms.tms_utime, tms.tms_stime
            ));
        }
        Ok(())
    });
    r.check("rusage-children", || {
        let (cu0, cs0) = rusage(libc::RUSAGE_CHILDREN)?;
        // SAFETY: the child only burns CPU and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let t0 = now(libc::CLOCK_THREAD_CPUTIME_ID).unwrap_or(0);
            let ok = burn_until(30_000, || {
                now(libc::CLOCK_THREAD_CPUTIME_ID).is_ok_and(|t| t - t0 >= 100_000_000)
            });
            // SAFETY: leave the child at once.
            unsafe { libc::_exit(i32::from(ok.is_err())) };
        }
        expect_ok("fork", pid as i64)?;
        let mut status = 0;
        // SAFETY: rusage is plain data.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointers.
        let ret = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        eq("wait4", ret, pid)?;
        eq("child status", status, 0)?;
        let (cu1, cs1) = rusage(libc::RUSAGE_CHILDREN)?;
        let waited = tv_us(ru.ru_utime) + tv_us(ru.ru_stime);
        if waited < 50_000 || cu1 + cs1 - cu0 - cs0 < 50_000 {
            return Err(format!(
                "wait4 rusage {waited} us, children {cu0}+{cs0} -> {cu1}+{cs1} us"
            ));
        }
        Ok(())
    });
}

/// Wait (in short sleeps, at most `limit_ms`) until `want` SIGALRMs have come; the time it
/// took in milliseconds.
fn wait_alarms(want: u32, limit_ms: u64) -> Result<u64, String> {
    let start = std::time::Instant::now();
    while ALARMS.load(Ordering::SeqCst) < want {
        if start.elapsed().as_millis() as u64 > limit_ms {
            return Err(format!(
                "{} of {want} SIGALRMs after {limit_ms} ms",
                ALARMS.load(Ordering::SeqCst)
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(start.elapsed().as_millis() as u64)
}

fn now(clock: libc::clockid_t) -> Result<i128, String> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    let ret = unsafe { libc::clock_gettime(clock, &mut ts) };
    expect_ok("clock_gettime", ret as i64)?;
    if !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(format!("tv_nsec {} out of range", ts.tv_nsec));
    }
    Ok(ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128)
}

fn sleep_ns(ns: i64) -> Check {
    let req = libc::timespec {
        tv_sec: ns / 1_000_000_000,
        tv_nsec: ns % 1_000_000_000,
    };
    // SAFETY: valid request; no remainder wanted.
    let ret = unsafe { libc::nanosleep(&req, std::ptr::null_mut()) };
    expect_ok("nanosleep", ret as i64).map(|_| ())
}

fn main() -> ExitCode {
    let mut r = Report::new("time");
    r.check("monotonic-nondecreasing", || {
        let mut last = now(libc::CLOCK_MONOTONIC)?;
        for _ in 0..1000 {
            let t = now(libc::CLOCK_MONOTONIC)?;
            if t < last {
                return Err(format!("went back from {last} to {t}"));
            }
            last = t;
        }
        Ok(())
    });
    r.check("monotonic-advances", || {
        let a = now(libc::CLOCK_MONOTONIC)?;
        sleep_ns(20_000_000)?;
        let b = now(libc::CLOCK_MONOTONIC)?;
        if b <= a {
            return Err(format!("no progress: {a} then {b}"));
        }
        Ok(())
    });
    r.check("nanosleep-at-least", || {
        for ns in [1_000_000i64, 50_000_000, 120_000_000] {
            let a = now(libc::CLOCK_MONOTONIC)?;
            sleep_ns(ns)?;
            let slept = now(libc::CLOCK_MONOTONIC)? - a;
            if slept < ns as i128 {
                return Err(format!("asked {ns} ns, slept {slept} ns"));
            }
        }
        Ok(())
    });
    r.check("nanosleep-zero", || sleep_ns(0));
    r.check("nanosleep-einval", || {
        for (sec, nsec) in [(0, 1_000_000_000), (0, -1), (-1, 0)] {
            let req = libc::timespec {
                tv_sec: sec,
                tv_nsec: nsec,
            };
            // SAFETY: valid pointer; the value is refused.
            let ret = unsafe { libc::nanosleep(&req, std::ptr::null_mut()) };
            expect_errno(
                &format!("nanosleep({sec}, {nsec})"),
                ret as i64,
                libc::EINVAL,
            )?;
        }
        Ok(())
    });
    r.check("nanosleep-efault", || {
        // SAFETY: the kernel must refuse the pointer.
        let ret = unsafe { libc::syscall(libc::SYS_nanosleep, KERNEL_ADDR, 0) };
        expect_errno("nanosleep(kernel pointer)", ret, libc::EFAULT)
    });
    r.check("clock-nanosleep-abstime", || {
        let target = now(libc::CLOCK_MONOTONIC)? + 30_000_000;
        let ts = libc::timespec {
            tv_sec: (target / 1_000_000_000) as _,
            tv_nsec: (target % 1_000_000_000) as _,
        };
        // SAFETY: valid request.
        let ret = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        eq("clock_nanosleep result", ret, 0)?;
        let after = now(libc::CLOCK_MONOTONIC)?;
        if after < target {
            return Err(format!("woke {} ns early", target - after));
        }
        Ok(())
    });
    r.check("realtime-plausible", || {
        let t = now(libc::CLOCK_REALTIME)?;
        // After 2020-01-01: the kernel has a wall clock, not time since boot.
        if t < 1_577_836_800 * 1_000_000_000 {
            return Err(format!("CLOCK_REALTIME {t} ns is before 2020"));
        }
        Ok(())
    });
    r.check("gettimeofday", || {
        let mut tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        let before = now(libc::CLOCK_REALTIME)? / 1000;
        // SAFETY: valid out-pointer, no timezone.
        let ret = unsafe { libc::gettimeofday(&mut tv, std::ptr::null_mut()) };
        expect_ok("gettimeofday", ret as i64)?;
        let after = now(libc::CLOCK_REALTIME)? / 1000;
        if !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(format!("tv_usec {}", tv.tv_usec));
        }
        let us = tv.tv_sec as i128 * 1_000_000 + tv.tv_usec as i128;
        if us < before - 1 || us > after + 1 {
            return Err(format!("{us} µs not within [{before}, {after}]"));
        }
        Ok(())
    });
    r.check("clock-gettime-einval", || {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid pointer; clock 1000 does not exist.
        let ret = unsafe { libc::syscall(libc::SYS_clock_gettime, 1000, &mut ts) };
        expect_errno("clock_gettime(1000)", ret, libc::EINVAL)
    });
    // Only the invalid forms: setting the host's clock when this runs natively would be rude.
    r.check("clock-settime-einval", || {
        let ts = libc::timespec {
            tv_sec: 1,
            tv_nsec: 0,
        };
        // SAFETY: valid pointer; the monotonic clock cannot be set.
        let ret = unsafe { libc::syscall(libc::SYS_clock_settime, libc::CLOCK_MONOTONIC, &ts) };
        expect_errno("clock_settime(CLOCK_MONOTONIC)", ret, libc::EINVAL)?;
        let bad = libc::timespec {
            tv_sec: 1_800_000_000,
            tv_nsec: 1_000_000_000,
        };
        // SAFETY: valid pointer; tv_nsec out of range is refused before anything is set.
        let ret = unsafe { libc::syscall(libc::SYS_clock_settime, libc::CLOCK_REALTIME, &bad) };
        expect_errno("clock_settime(nsec = 1e9)", ret, libc::EINVAL)?;
        // SAFETY: a pointer to nowhere: EFAULT, nothing set.
        let ret = unsafe { libc::syscall(libc::SYS_clock_settime, libc::CLOCK_REALTIME, 8usize) };
        expect_errno("clock_settime(bad pointer)", ret, libc::EFAULT)
    });
    // The real-time interval timer: alarm and setitimer send SIGALRM when due.
    // SAFETY: a plain handler for SIGALRM.
    unsafe {
        libc::signal(
            libc::SIGALRM,
            on_alarm as extern "C" fn(libc::c_int) as usize,
        )
    };
    r.check("alarm-fires", || {
        ALARMS.store(0, Ordering::SeqCst);
        // SAFETY: alarm has no memory preconditions.
        eq("alarm(1) with none armed", unsafe { libc::alarm(1) }, 0)?;
        let ms = wait_alarms(1, 3000)?;
        if !(900..2500).contains(&ms) {
            return Err(format!("SIGALRM after {ms} ms, want about 1000"));
        }
        Ok(())
    });
    r.check("alarm-returns-remaining", || {
        // SAFETY: as above.
        unsafe { libc::alarm(10) };
        // SAFETY: as above; cancels it.
        eq("alarm(0) after alarm(10)", unsafe { libc::alarm(0) }, 10)
    });
    r.check("setitimer-interval", || {
        ALARMS.store(0, Ordering::SeqCst);
        set_timer(libc::ITIMER_REAL, 50_000, 50_000)?;
        let ms = wait_alarms(3, 3000);
        set_timer(libc::ITIMER_REAL, 0, 0)?;
        let ms = ms?;
        if ms < 100 {
            return Err(format!("3 SIGALRMs at a 50 ms interval in {ms} ms"));
        }
        Ok(())
    });
    r.check("getitimer-and-old-value", || {
        set_timer(libc::ITIMER_REAL, 0, 5_000_000)?;
        let mut cur = set_timer(libc::ITIMER_REAL, 0, 0)?;
        let left = cur.it_value.tv_sec * 1_000_000 + cur.it_value.tv_usec;
        if !(4_000_000..=5_000_000).contains(&left) {
            return Err(format!("old value {left} us, want about 5 s"));
        }
        // SAFETY: valid out-pointer.
        let ret = unsafe { libc::getitimer(libc::ITIMER_REAL, &mut cur) };
        expect_ok("getitimer", ret as i64)?;
        eq(
            "disarmed timer (value, interval)",
            (
                cur.it_value.tv_sec,
                cur.it_value.tv_usec,
                cur.it_interval.tv_sec,
            ),
            (0, 0, 0),
        )
    });
    r.check("setitimer-einval", || {
        let bad = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            it_value: libc::timeval {
                tv_sec: 1,
                tv_usec: 1_000_000,
            },
        };
        // SAFETY: a valid pointer to an invalid value.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_setitimer,
                libc::ITIMER_REAL,
                &bad,
                std::ptr::null_mut::<u8>(),
            )
        };
        expect_errno("setitimer(usec = 1e6)", ret, libc::EINVAL)
    });
    r.check("clock-getres", || {
        let mut ts = libc::timespec {
            tv_sec: 9,
            tv_nsec: 9,
        };
        // SAFETY: valid out-pointer.
        let ret = unsafe { libc::clock_getres(libc::CLOCK_MONOTONIC, &mut ts) };
        expect_ok("clock_getres", ret as i64)?;
        if ts.tv_sec != 0 || ts.tv_nsec <= 0 || ts.tv_nsec > 10_000_000 {
            return Err(format!("resolution {}.{:09}", ts.tv_sec, ts.tv_nsec));
        }
        Ok(())
    });
    r.check("boottime-and-coarse", || {
        now(libc::CLOCK_BOOTTIME)?;
        now(libc::CLOCK_MONOTONIC_COARSE)?;
        now(libc::CLOCK_REALTIME_COARSE)?;
        now(libc::CLOCK_PROCESS_CPUTIME_ID).map(|_| ())
    });
    cpu_time_checks(&mut r);
    r.finish()
}
