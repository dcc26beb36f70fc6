//! The generic timer (Arm ARM D11): CNTPCT_EL0 for the clock, the physical timer for ticks.
//!
//! At EL2 with E2H = 1 the CNTP_* names reach the EL2 physical timer (CNTHP_*, PPI 26 on
//! virt); at EL1 they are the EL1 physical timer (PPI 30). Ticks are periodic by moving the
//! compare value one interval forward in each interrupt, so the rate does not drift with
//! interrupt latency.

use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::registers::{
    CNTFRQ_EL0, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTPCT_EL0, Readable, Writeable,
};

/// INTID of the timer's PPI.
static INTID: AtomicU32 = AtomicU32::new(30);
/// Counter ticks per timer interrupt (0 while stopped).
static INTERVAL: AtomicU64 = AtomicU64::new(0);
/// Counter value at boot, origin of `now_ns`.
static BOOT_COUNT: AtomicU64 = AtomicU64::new(0);
/// The tick callback as a `fn()` pointer (0 while none).
static TICK: AtomicUsize = AtomicUsize::new(0);

/// Counter frequency in Hz.
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get()
}

fn counter() -> u64 {
    // Keep the read from being hoisted above earlier code (Arm ARM D11.2.2).
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    CNTPCT_EL0.get()
}

/// Record the boot-time counter value.
pub fn init_clock() {
    BOOT_COUNT.store(counter(), Ordering::Relaxed);
}

/// Use `intid` as the timer interrupt.
pub fn set_intid(intid: u32) {
    INTID.store(intid, Ordering::Relaxed);
}

pub fn intid() -> u32 {
    INTID.load(Ordering::Relaxed)
}

/// Nanoseconds since boot.
pub fn now_ns() -> u64 {
    let ticks = counter() - BOOT_COUNT.load(Ordering::Relaxed);
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency().max(1))) as u64
}

/// Interrupt `hz` times a second and call `tick` each time.
pub fn start(hz: u32, tick: fn()) {
    let interval = (frequency() / u64::from(hz.max(1))).max(1);
    TICK.store(tick as usize, Ordering::Relaxed);
    INTERVAL.store(interval, Ordering::Relaxed);
    CNTP_CVAL_EL0.set(counter() + interval);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
    crate::gic::enable_ppi(intid());
}

/// Move the compare value one interval on (which also drops the level-triggered line).
pub fn rearm() {
    let interval = INTERVAL.load(Ordering::Relaxed);
    if interval == 0 {
        CNTP_CTL_EL0.write(CNTP_CTL_EL0::IMASK::SET);
        return;
    }
    let now = counter();
    let last = CNTP_CVAL_EL0.get();
    // The next deadline on the original grid after `now`: ticks lost to a late interrupt (a
    // long masked section, a slow host) are skipped rather than delivered in a burst.
    let next = last + interval * (now.saturating_sub(last) / interval + 1);
    CNTP_CVAL_EL0.set(next);
}

/// Call the tick callback, if any.
pub fn run_tick() {
    let f = TICK.load(Ordering::Relaxed);
    if f != 0 {
        // SAFETY: a non-zero TICK was stored from a `fn()` by `start`; fn pointers and usize
        // have the same size on aarch64.
        let tick: fn() = unsafe { core::mem::transmute::<usize, fn()>(f) };
        tick();
    }
}
