//! The clock check: the kernel's view of an interval against the host's wall clock.
//!
//! The kernel prints `KTEST CLOCK start`, waits about two seconds on its timer, and prints
//! `KTEST CLOCK end ticks=<n> hz=<hz> mono_ns=<ns>`. The host time-stamps both lines as they
//! arrive on QEMU's stdout. Both the tick count (`ticks / hz`) and the monotonic clock
//! (`mono_ns / 1e9`) must lie within [`TOLERANCE`] of the host's interval.

use std::time::Duration;

/// Largest accepted relative error.
pub const TOLERANCE: f64 = 0.05;

/// `Ok(summary)` if both kernel clocks agree with `host` within [`TOLERANCE`], else `Err(why)`.
pub fn check(host: Duration, ticks: u64, hz: u64, mono_ns: u64) -> Result<String, String> {
    let host_s = host.as_secs_f64();
    if host_s <= 0.0 {
        return Err("the host measured no time between CLOCK start and end".into());
    }
    if hz == 0 {
        return Err("the kernel reported hz=0".into());
    }
    let ticks_s = ticks as f64 / hz as f64;
    let mono_s = mono_ns as f64 / 1e9;
    let summary = format!(
        "host {host_s:.3} s, timer {ticks_s:.3} s ({ticks} ticks at {hz} Hz, {:+.1}%), \
         monotonic {mono_s:.3} s ({:+.1}%)",
        error(ticks_s, host_s) * 100.0,
        error(mono_s, host_s) * 100.0
    );
    if error(ticks_s, host_s).abs() > TOLERANCE || error(mono_s, host_s).abs() > TOLERANCE {
        Err(format!(
            "off by more than {:.0}%: {summary}",
            TOLERANCE * 100.0
        ))
    } else {
        Ok(summary)
    }
}

fn error(measured: f64, reference: f64) -> f64 {
    (measured - reference) / reference
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_S: Duration = Duration::from_secs(2);

    #[test]
    fn accepts_agreeing_clocks() {
        assert!(check(TWO_S, 200, 100, 2_000_000_000).is_ok());
        assert!(check(TWO_S, 2090, 1000, 1_910_000_000).is_ok());
        assert!(check(Duration::from_millis(2050), 2000, 1000, 2_000_000_000).is_ok());
    }

    #[test]
    fn rejects_a_fast_or_slow_timer() {
        let err = check(TWO_S, 2110, 1000, 2_000_000_000).expect_err("timer 5.5% fast");
        assert!(err.contains("timer 2.110 s"), "{err}");
        assert!(check(TWO_S, 1880, 1000, 2_000_000_000).is_err());
    }

    #[test]
    fn rejects_a_wrong_monotonic_clock() {
        assert!(check(TWO_S, 2000, 1000, 2_200_000_000).is_err());
        assert!(check(TWO_S, 2000, 1000, 1_000_000_000).is_err());
    }

    #[test]
    fn rejects_nonsense() {
        assert!(check(TWO_S, 200, 0, 2_000_000_000).is_err());
        assert!(check(Duration::ZERO, 0, 100, 0).is_err());
    }
}
