//! Time: the TSC as the monotonic clock, the LAPIC timer for ticks, both calibrated against a
//! fixed-frequency reference (ACPI PM timer, else PIT channel 2).

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;

use crate::{apic, cpu};

/// ACPI PM timer frequency (ACPI spec §4.8.3.3).
const PM_TIMER_HZ: u64 = 3_579_545;
/// PIT input clock.
const PIT_HZ: u64 = 1_193_182;
/// Calibration window: long enough for well under 0.1% error, short enough not to slow boot.
const CALIBRATION_MS: u64 = 50;

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds per TSC tick, as a 32.32 fixed-point number.
static NS_PER_TICK_FP: AtomicU64 = AtomicU64::new(0);
static LAPIC_HZ: AtomicU64 = AtomicU64::new(0);
static TICK: Mutex<Option<fn()>> = Mutex::new(None);

/// Remember the TSC at entry, the zero of [`now_ns`].
pub fn record_boot_tsc() {
    BOOT_TSC.store(cpu::rdtsc(), Ordering::Relaxed);
}

/// Nanoseconds since boot; 0 until [`calibrate`] has run.
pub fn now_ns() -> u64 {
    let delta = cpu::rdtsc().wrapping_sub(BOOT_TSC.load(Ordering::Relaxed));
    ((u128::from(delta) * u128::from(NS_PER_TICK_FP.load(Ordering::Relaxed))) >> 32) as u64
}

/// Measured (TSC Hz, LAPIC timer input Hz after its divider).
pub fn calibrate(pm_timer_port: Option<u16>) -> (u64, u64) {
    apic::timer_start_oneshot_masked(u32::MAX);
    let (tsc_ticks, lapic_ticks, ns) = match pm_timer_port {
        Some(port) => measure_pm_timer(port),
        None => measure_pit(),
    };
    apic::timer_stop();
    let tsc_hz = u64::try_from(u128::from(tsc_ticks) * 1_000_000_000 / u128::from(ns)).unwrap_or(0);
    let lapic_hz =
        u64::try_from(u128::from(lapic_ticks) * 1_000_000_000 / u128::from(ns)).unwrap_or(0);
    TSC_HZ.store(tsc_hz, Ordering::Relaxed);
    LAPIC_HZ.store(lapic_hz, Ordering::Relaxed);
    if tsc_hz != 0 {
        NS_PER_TICK_FP.store(
            ((1_000_000_000u128 << 32) / u128::from(tsc_hz)) as u64,
            Ordering::Relaxed,
        );
    }
    (tsc_hz, lapic_hz)
}

/// Measure TSC and LAPIC ticks over [`CALIBRATION_MS`] of the ACPI PM timer; returns
/// (TSC ticks, LAPIC ticks, exact nanoseconds elapsed by the PM timer).
///
/// Every reading of the three counters goes through the same `sample` code, so the small delay
/// between reading the PM timer and the other two is the same at both ends of the window and
/// cancels out. (Under QEMU TCG, code run for the first time is translated first: reading the
/// end values on a different path than the start values made the window ~0.1% long.)
fn measure_pm_timer(port: u16) -> (u64, u64, u64) {
    // Only the low 24 bits are guaranteed; differences are taken modulo 2^24 (4.6 s range).
    // SAFETY: the port is the PM timer block from the FADT; reading it has no side effect.
    let read = || unsafe { cpu::inl(port) } & 0x00ff_ffff;
    let sample = || (read(), cpu::rdtsc(), apic::timer_current());
    let target = PM_TIMER_HZ * CALIBRATION_MS / 1000;
    // Start on a counter edge so the window is measured from a known instant.
    let first = sample();
    let mut start = sample();
    while start.0 == first.0 {
        start = sample();
    }
    loop {
        let now = sample();
        let elapsed = u64::from(now.0.wrapping_sub(start.0) & 0x00ff_ffff);
        if elapsed >= target {
            let ns = elapsed * 1_000_000_000 / PM_TIMER_HZ;
            return (now.1 - start.1, u64::from(start.2 - now.2), ns);
        }
        core::hint::spin_loop();
    }
}

/// Same as [`measure_pm_timer`] with PIT channel 2 in one-shot mode (mode 0) as reference:
/// from raising its gate until its output goes high.
fn measure_pit() -> (u64, u64, u64) {
    let count = (PIT_HZ * CALIBRATION_MS / 1000) as u16;
    let out2 = || {
        // SAFETY: bit 5 of port 0x61 is PIT channel 2's output; reading it has no side effect.
        unsafe { cpu::inb(0x61) & 0x20 }
    };
    let sample = || (out2(), cpu::rdtsc(), apic::timer_current());
    // Warm up the sampling code (see `measure_pm_timer`).
    let _ = sample();
    // SAFETY: port 0x61 (gate/speaker control) and the PIT ports 0x42/0x43 on a PC; the speaker
    // output stays off (bit 1 clear).
    let start = unsafe {
        let ctl = cpu::inb(0x61) & !0x03;
        cpu::outb(0x61, ctl);
        // Channel 2, lobyte/hibyte, mode 0 (output goes high at terminal count), binary.
        cpu::outb(0x43, 0b1011_0000);
        cpu::outb(0x42, count as u8);
        cpu::outb(0x42, (count >> 8) as u8);
        // Raising the gate starts the count.
        cpu::outb(0x61, ctl | 0x01);
        sample()
    };
    let mut now = sample();
    while now.0 == 0 {
        core::hint::spin_loop();
        now = sample();
    }
    let ns = u64::from(count) * 1_000_000_000 / PIT_HZ;
    (now.1 - start.1, u64::from(start.2 - now.2), ns)
}

/// Periodic LAPIC timer at `hz`, calling `tick` from the interrupt.
pub fn start_timer(hz: u32, tick: fn()) {
    let was = crate::irq_save_disable();
    *TICK.lock() = Some(tick);
    let lapic_hz = LAPIC_HZ.load(Ordering::Relaxed);
    let count = (lapic_hz / u64::from(hz.max(1))).clamp(1, u64::from(u32::MAX)) as u32;
    apic::timer_start_periodic(count);
    crate::irq_restore(was);
}

/// Called by the trap dispatcher on the timer vector, after EOI.
pub fn tick() {
    let tick = *TICK.lock();
    if let Some(f) = tick {
        f();
    }
}
