//! A spin lock that masks interrupts on the local CPU while held.
//!
//! Without the masking, an interrupt handler that takes a lock the interrupted code holds would
//! spin forever on a single CPU. With SMP the spin part still serialises CPUs.

use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

/// Masking and unmasking of interrupts on the calling CPU.
pub trait IrqControl {
    /// Mask interrupts; return whether they were enabled.
    fn save_disable() -> bool;
    /// Restore the state returned by [`IrqControl::save_disable`].
    fn restore(was_enabled: bool);
}

impl<A: arch_api::Arch> IrqControl for A {
    fn save_disable() -> bool {
        A::irq_save_disable()
    }
    fn restore(was_enabled: bool) {
        A::irq_restore(was_enabled)
    }
}

/// A spin lock that keeps interrupts masked on this CPU while it is held.
pub struct IrqSpinLock<T, I: IrqControl> {
    inner: spin::Mutex<T>,
    _irq: PhantomData<fn() -> I>,
}

impl<T, I: IrqControl> IrqSpinLock<T, I> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
            _irq: PhantomData,
        }
    }

    /// Mask interrupts, then take the lock.
    pub fn lock(&self) -> IrqSpinLockGuard<'_, T, I> {
        let was_enabled = I::save_disable();
        IrqSpinLockGuard {
            guard: Some(self.inner.lock()),
            was_enabled,
            _irq: PhantomData,
        }
    }

    /// Take the lock if it is free (for paths that must not wait, like a panic).
    pub fn try_lock(&self) -> Option<IrqSpinLockGuard<'_, T, I>> {
        let was_enabled = I::save_disable();
        match self.inner.try_lock() {
            Some(g) => Some(IrqSpinLockGuard {
                guard: Some(g),
                was_enabled,
                _irq: PhantomData,
            }),
            None => {
                I::restore(was_enabled);
                None
            }
        }
    }
}

/// Holds the lock and the saved interrupt state; releases both on drop, lock first.
pub struct IrqSpinLockGuard<'a, T, I: IrqControl> {
    guard: Option<spin::MutexGuard<'a, T>>,
    was_enabled: bool,
    _irq: PhantomData<fn() -> I>,
}

impl<T, I: IrqControl> Deref for IrqSpinLockGuard<'_, T, I> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_deref().expect("guard is present until drop")
    }
}

impl<T, I: IrqControl> DerefMut for IrqSpinLockGuard<'_, T, I> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard
            .as_deref_mut()
            .expect("guard is present until drop")
    }
}

impl<T, I: IrqControl> Drop for IrqSpinLockGuard<'_, T, I> {
    fn drop(&mut self) {
        drop(self.guard.take());
        I::restore(self.was_enabled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

    static ENABLED: AtomicBool = AtomicBool::new(true);
    static CHANGES: AtomicU32 = AtomicU32::new(0);
    struct FakeIrq;
    impl IrqControl for FakeIrq {
        fn save_disable() -> bool {
            CHANGES.fetch_add(1, Ordering::SeqCst);
            ENABLED.swap(false, Ordering::SeqCst)
        }
        fn restore(was: bool) {
            ENABLED.store(was, Ordering::SeqCst);
        }
    }

    #[test]
    fn masks_while_held_and_nests() {
        let a: IrqSpinLock<u32, FakeIrq> = IrqSpinLock::new(1);
        let b: IrqSpinLock<u32, FakeIrq> = IrqSpinLock::new(2);
        {
            let mut ga = a.lock();
            assert!(!ENABLED.load(Ordering::SeqCst));
            {
                let gb = b.lock();
                assert_eq!(*gb, 2);
                assert!(a.try_lock().is_none());
            }
            assert!(
                !ENABLED.load(Ordering::SeqCst),
                "inner unlock must not unmask"
            );
            *ga += 1;
        }
        assert!(ENABLED.load(Ordering::SeqCst));
        assert_eq!(*a.lock(), 2);
    }
}
