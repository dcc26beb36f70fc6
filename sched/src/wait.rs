//! Wait queues: block until a condition holds, woken by whoever changes it.

use crate::lock::IrqSpinLock;
use crate::scheduler::{Scheduler, Thread};
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch_api::Arch;

/// Threads waiting for one kind of event (data in a pipe, a child's exit, ...).
///
/// The waiter checks its condition with interrupts masked and blocks in the same masked
/// section, and wakers run either in thread context or in interrupts: on one CPU no wake-up can
/// fall between the check and the block. (SMP will need the queue lock held across both.)
pub struct WaitQueue<A: Arch> {
    waiters: IrqSpinLock<Vec<Arc<Thread<A>>>, A>,
}

impl<A: Arch> Default for WaitQueue<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Arch> WaitQueue<A> {
    pub const fn new() -> Self {
        Self {
            waiters: IrqSpinLock::new(Vec::new()),
        }
    }

    /// Block until `cond` returns `Some`, or until tick `deadline` (then `None`).
    pub fn wait_until<R>(
        &self,
        sched: &'static Scheduler<A>,
        deadline: Option<u64>,
        mut cond: impl FnMut() -> Option<R>,
    ) -> Option<R> {
        loop {
            let was_enabled = A::irq_save_disable();
            if let Some(r) = cond() {
                A::irq_restore(was_enabled);
                return Some(r);
            }
            if deadline.is_some_and(|d| sched.ticks() >= d) {
                A::irq_restore(was_enabled);
                return None;
            }
            if let Some(me) = sched.current() {
                let mut w = self.waiters.lock();
                if !w.iter().any(|t| Arc::ptr_eq(t, &me)) {
                    w.push(me);
                }
            }
            sched.block_current(deadline);
            A::irq_restore(was_enabled);
        }
    }

    /// Wake every waiter (each re-checks its condition).
    pub fn wake_all(&self, sched: &'static Scheduler<A>) {
        let waiters = core::mem::take(&mut *self.waiters.lock());
        for t in &waiters {
            sched.wake(t);
        }
    }

    /// Whether anyone waits.
    pub fn is_empty(&self) -> bool {
        self.waiters.lock().is_empty()
    }
}
