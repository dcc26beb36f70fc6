//! Wait queues: block until a condition holds, woken by whoever changes it.

use crate::lock::IrqSpinLock;
use crate::scheduler::{Scheduler, Thread};
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch_api::Arch;

/// Threads waiting for one kind of event (data in a pipe, a child's exit, ...).
///
/// The waiter enqueues itself and calls [`Scheduler::prepare_wait`] before it checks its
/// condition, and wakers change the condition before they wake the queue: a wake-up that
/// falls between the check and the block makes the block return at once. The condition runs
/// with interrupts enabled, so it may take any lock (a spin lock that a preempted thread holds
/// would deadlock a check made with interrupts masked).
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
            sched.prepare_wait();
            if let Some(me) = sched.current() {
                let mut w = self.waiters.lock();
                if !w.iter().any(|t| Arc::ptr_eq(t, &me)) {
                    w.push(me);
                }
            }
            if let Some(r) = cond() {
                return Some(r);
            }
            if deadline.is_some_and(|d| sched.ticks() >= d) {
                return None;
            }
            sched.block_current(deadline);
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
