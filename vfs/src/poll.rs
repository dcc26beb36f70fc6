//! Readiness and wake-ups. VFS operations never block: they return `EAGAIN`, and the object
//! reports readiness through `poll` and wakes the [`Waiter`]s registered on its [`Pollee`] on
//! every state change. The kernel builds blocking `read`/`write`, `poll`, `ppoll` and `pselect6`
//! on top with its wait queues: register, re-check readiness, sleep, unregister.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::{BitAnd, BitOr, BitOrAssign};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use spin::Mutex;

/// A set of `poll` event bits (`include/uapi/asm-generic/poll.h`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events(pub u32);

impl Events {
    /// Nothing.
    pub const EMPTY: Events = Events(0);
    /// Data to read.
    pub const IN: Events = Events(0x001);
    /// Urgent data.
    pub const PRI: Events = Events(0x002);
    /// Writing will not block.
    pub const OUT: Events = Events(0x004);
    /// Error (always reported).
    pub const ERR: Events = Events(0x008);
    /// Hang-up (always reported).
    pub const HUP: Events = Events(0x010);
    /// Invalid fd (reported by `poll` itself).
    pub const NVAL: Events = Events(0x020);
    /// Normal data to read.
    pub const RDNORM: Events = Events(0x040);
    /// Normal data may be written.
    pub const WRNORM: Events = Events(0x100);
    /// Peer closed its writing half (sockets).
    pub const RDHUP: Events = Events(0x2000);

    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: Events) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: Events) -> bool {
        self.0 & other.0 != 0
    }

    /// No bit set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Events {
    type Output = Events;
    fn bitor(self, rhs: Events) -> Events {
        Events(self.0 | rhs.0)
    }
}

impl BitOrAssign for Events {
    fn bitor_assign(&mut self, rhs: Events) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Events {
    type Output = Events;
    fn bitand(self, rhs: Events) -> Events {
        Events(self.0 & rhs.0)
    }
}

/// Something to wake when a watched object changes state (a sleeping thread, a poll set).
///
/// `wake` is called with the object's waiter list locked: it must not block and must not
/// register or unregister on the same [`Pollee`] (marking a thread runnable is the intent).
pub trait Waiter: Send + Sync {
    /// The object changed; re-check readiness.
    fn wake(&self);
}

/// Handle of one registration, to unregister it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaiterKey(u64);

/// The waiter list of a pollable object.
#[derive(Default)]
pub struct Pollee {
    waiters: Mutex<Vec<(u64, Arc<dyn Waiter>)>>,
    /// `waiters.len()`, read without the lock so `notify` is cheap when nobody waits.
    count: AtomicUsize,
    next_key: AtomicU64,
}

impl Pollee {
    /// An empty list.
    pub fn new() -> Pollee {
        Pollee::default()
    }

    /// Adds `waiter`; it is woken on every state change until unregistered.
    pub fn register(&self, waiter: Arc<dyn Waiter>) -> WaiterKey {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let mut waiters = self.waiters.lock();
        waiters.push((key, waiter));
        self.count.store(waiters.len(), Ordering::Release);
        WaiterKey(key)
    }

    /// Removes a registration (unknown keys are ignored).
    pub fn unregister(&self, key: WaiterKey) {
        let mut waiters = self.waiters.lock();
        waiters.retain(|(k, _)| *k != key.0);
        self.count.store(waiters.len(), Ordering::Release);
    }

    /// Wakes every registered waiter.
    pub fn notify(&self) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        for (_, waiter) in self.waiters.lock().iter() {
            waiter.wake();
        }
    }

    /// Number of registered waiters.
    pub fn waiters(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

impl core::fmt::Debug for Pollee {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Pollee({} waiters)", self.waiters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    struct Count(AtomicUsize);
    impl Waiter for Count {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn register_notify_unregister() {
        let pollee = Pollee::new();
        pollee.notify();
        let (a, b) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let ka = pollee.register(a.clone());
        let kb = pollee.register(b.clone());
        assert_ne!(ka, kb);
        pollee.notify();
        pollee.unregister(ka);
        pollee.unregister(ka);
        pollee.notify();
        assert_eq!(a.0.load(Ordering::Relaxed), 1);
        assert_eq!(b.0.load(Ordering::Relaxed), 2);
        assert_eq!(pollee.waiters(), 1);
        pollee.unregister(kb);
        assert_eq!(pollee.waiters(), 0);
        let e = Events::IN | Events::HUP;
        assert!(e.contains(Events::IN) && e.intersects(Events::HUP | Events::OUT));
        assert!(!e.contains(Events::IN | Events::OUT));
        assert_eq!((e & Events::HUP), Events::HUP);
    }
}
