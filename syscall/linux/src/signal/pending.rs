//! Pending-signal sets of threads and processes, with the lock-free copies of their bits
//! that the return path reads.

use super::{SigInfo, bit};
use crate::kernel::Kernel;
use crate::process::Process;
use alloc::collections::VecDeque;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use sched::{IrqControl, IrqSpinLock, IrqSpinLockGuard};

/// The first real-time signal as the kernel counts (libcs keep a few for themselves).
pub const SIGRTMIN: u32 = 32;

/// Most real-time signal instances one pending set holds (Linux's RLIMIT_SIGPENDING is per
/// user and larger; a sender past this gets EAGAIN from sigqueue).
pub const MAX_QUEUED: usize = 1024;

/// Pending signals of a thread or (shared) of a process: one instance per standard signal,
/// as Linux keeps below SIGRTMIN, and a queue of every instance of the real-time ones, each
/// with its own siginfo, delivered in the order sent.
pub struct Pending {
    pub set: u64,
    info: [SigInfo; 64],
    queued: VecDeque<SigInfo>,
}

impl Default for Pending {
    fn default() -> Self {
        Self {
            set: 0,
            info: [SigInfo::default(); 64],
            queued: VecDeque::new(),
        }
    }
}

impl Pending {
    /// Queue `info`; false if a real-time signal found the queue full.
    pub(super) fn add(&mut self, info: SigInfo) -> bool {
        let b = bit(info.signo);
        if info.signo >= SIGRTMIN {
            if self.queued.len() >= MAX_QUEUED {
                return false;
            }
            self.queued.push_back(info);
            self.set |= b;
        } else if self.set & b == 0 {
            self.info[info.signo as usize - 1] = info;
            self.set |= b;
        }
        true
    }

    pub(super) fn remove_mask(&mut self, mask: u64) {
        self.set &= !mask;
        self.queued.retain(|i| bit(i.signo) & mask == 0);
    }

    /// Take the lowest pending signal not in `blocked`.
    pub fn take_info(&mut self, blocked: u64) -> Option<SigInfo> {
        self.take(blocked)
    }

    /// Take the lowest pending signal not in `blocked`.
    pub(super) fn take(&mut self, blocked: u64) -> Option<SigInfo> {
        let ready = self.set & !blocked;
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() + 1;
        if sig >= SIGRTMIN {
            let at = self.queued.iter().position(|i| i.signo == sig)?;
            let info = self.queued.remove(at)?;
            if !self.queued.iter().any(|i| i.signo == sig) {
                self.set &= !bit(sig);
            }
            return Some(info);
        }
        self.set &= !bit(sig);
        Some(self.info[sig as usize - 1])
    }
}

/// A pending set behind its lock, with a lock-free copy of its bits for the return path
/// ([`deliver`](super::deliver)'s quick check and [`interrupted`](super::interrupted)). The copy is
/// written by the guard, under the lock, each time a guard is dropped, so it is never older than
/// the last unlock: a sender's queueing is visible (Release/Acquire) to a thread that reads the
/// bits after it.
pub struct PendingLock<I: IrqControl> {
    inner: IrqSpinLock<Pending, I>,
    bits: AtomicU64,
}

impl<I: IrqControl> Default for PendingLock<I> {
    fn default() -> Self {
        Self {
            inner: IrqSpinLock::new(Pending::default()),
            bits: AtomicU64::new(0),
        }
    }
}

impl<I: IrqControl> PendingLock<I> {
    pub fn lock(&self) -> PendingGuard<'_, I> {
        PendingGuard {
            guard: self.inner.lock(),
            bits: &self.bits,
        }
    }

    /// Take the lock if it is free (the SysRq dump).
    pub fn try_lock(&self) -> Option<PendingGuard<'_, I>> {
        Some(PendingGuard {
            guard: self.inner.try_lock()?,
            bits: &self.bits,
        })
    }

    /// The pending signals as of the last unlock.
    #[inline]
    pub fn bits(&self) -> u64 {
        self.bits.load(Ordering::Acquire)
    }
}

/// The lock of a [`PendingLock`]; publishes the set's bits when dropped.
pub struct PendingGuard<'a, I: IrqControl> {
    guard: IrqSpinLockGuard<'a, Pending, I>,
    bits: &'a AtomicU64,
}

impl<I: IrqControl> Deref for PendingGuard<'_, I> {
    type Target = Pending;
    fn deref(&self) -> &Pending {
        &self.guard
    }
}

impl<I: IrqControl> DerefMut for PendingGuard<'_, I> {
    fn deref_mut(&mut self) -> &mut Pending {
        &mut self.guard
    }
}

impl<I: IrqControl> Drop for PendingGuard<'_, I> {
    fn drop(&mut self) {
        // Still under the lock: `guard` is released after this body.
        self.bits.store(self.guard.set, Ordering::Release);
    }
}

/// The mask to put back after rt_sigsuspend's (or ppoll's, pselect's) temporary one has done its
/// job, with a lock-free "one is set" for [`deliver`](super::deliver)'s quick check. Only the task
/// itself sets and takes it.
#[derive(Default)]
pub struct SavedMask {
    inner: spin::Mutex<Option<u64>>,
    set: AtomicBool,
}

impl SavedMask {
    pub fn lock(&self) -> SavedMaskGuard<'_> {
        SavedMaskGuard {
            guard: self.inner.lock(),
            set: &self.set,
        }
    }

    #[inline]
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Relaxed)
    }
}

/// The lock of a [`SavedMask`]; publishes whether a mask is saved when dropped.
pub struct SavedMaskGuard<'a> {
    guard: spin::MutexGuard<'a, Option<u64>>,
    set: &'a AtomicBool,
}

impl Deref for SavedMaskGuard<'_> {
    type Target = Option<u64>;
    fn deref(&self) -> &Option<u64> {
        &self.guard
    }
}

impl DerefMut for SavedMaskGuard<'_> {
    fn deref_mut(&mut self) -> &mut Option<u64> {
        &mut self.guard
    }
}

impl Drop for SavedMaskGuard<'_> {
    fn drop(&mut self) {
        self.set.store(self.guard.is_some(), Ordering::Relaxed);
    }
}

impl<K: Kernel> Process<K> {
    /// Drop the signals of `mask` from every pending set of the process.
    pub fn discard_pending(&self, mask: u64) {
        self.shared_pending.lock().remove_mask(mask);
        for t in self.threads.lock().iter() {
            t.pending.lock().remove_mask(mask);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::SI_USER;

    #[test]
    fn pending_takes_lowest_unblocked_once() {
        let mut p = Pending::default();
        p.add(SigInfo::user(10, SI_USER, 5));
        p.add(SigInfo::user(10, SI_USER, 6)); // standard signals do not queue twice
        p.add(SigInfo::user(12, SI_USER, 7));
        assert!(p.take(bit(10) | bit(12)).is_none());
        let first = p.take(bit(10)).unwrap();
        assert_eq!((first.signo, first.pid), (12, 7));
        let second = p.take(0).unwrap();
        assert_eq!((second.signo, second.pid), (10, 5));
        assert!(p.take(0).is_none());
    }

    /// `si_code` of `sigqueue`.
    const SI_QUEUE: i32 = -1;

    #[test]
    fn realtime_signals_queue_in_order() {
        let mut p = Pending::default();
        for value in 1..=3 {
            assert!(p.add(SigInfo {
                value,
                ..SigInfo::user(40, SI_QUEUE, 5)
            }));
        }
        assert!(p.add(SigInfo::user(33, SI_QUEUE, 5)));
        // The lowest signal first, then each instance of 40 in the order sent.
        assert_eq!(p.take(0).map(|i| i.signo), Some(33));
        for value in 1..=3 {
            assert_eq!(p.take(0).map(|i| (i.signo, i.value)), Some((40, value)));
        }
        assert!(p.take(0).is_none());
        assert_eq!(p.set, 0);
        for _ in 0..MAX_QUEUED {
            assert!(p.add(SigInfo::user(50, SI_QUEUE, 5)));
        }
        assert!(!p.add(SigInfo::user(50, SI_QUEUE, 5)));
        p.remove_mask(bit(50));
        assert_eq!((p.set, p.queued.len()), (0, 0));
    }

    /// No interrupt masking, for the locks in host tests.
    struct NoIrq;

    impl IrqControl for NoIrq {
        fn save_disable() -> bool {
            false
        }
        fn restore(_: bool) {}
    }

    #[test]
    fn lock_free_copies_follow_the_locked_state() {
        let p = PendingLock::<NoIrq>::default();
        assert_eq!(p.bits(), 0);
        assert!(p.lock().add(SigInfo::user(10, SI_USER, 1)));
        assert!(p.lock().add(SigInfo::user(40, SI_USER, 1)));
        assert!(p.lock().add(SigInfo::user(40, SI_USER, 1)));
        assert_eq!(p.bits(), bit(10) | bit(40));
        assert_eq!(p.lock().take(bit(10)).map(|i| i.signo), Some(40));
        assert_eq!(p.bits(), bit(10) | bit(40)); // one instance of 40 is still queued
        assert_eq!(p.lock().take(bit(10)).map(|i| i.signo), Some(40));
        assert_eq!(p.bits(), bit(10));
        p.lock().remove_mask(bit(10));
        assert_eq!(p.bits(), 0);
        assert_eq!(p.try_lock().map(|g| g.set), Some(0));

        let m = SavedMask::default();
        assert!(!m.is_set());
        *m.lock() = Some(5);
        assert!(m.is_set());
        assert_eq!(m.lock().take(), Some(5));
        assert!(!m.is_set());
    }
}
