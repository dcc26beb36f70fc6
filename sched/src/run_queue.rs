//! Scheduling policy: round robin over runnable threads, plus sleepers ordered by wake tick.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// A CPU's runnable threads in round-robin order, and the threads sleeping until a tick.
pub struct RunQueue<T> {
    ready: VecDeque<T>,
    sleepers: Vec<(u64, T)>,
}

impl<T> Default for RunQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> RunQueue<T> {
    pub const fn new() -> Self {
        Self {
            ready: VecDeque::new(),
            sleepers: Vec::new(),
        }
    }

    /// Make room for `n` more threads, so that queue operations in interrupt context never
    /// allocate.
    pub fn reserve(&mut self, n: usize) {
        self.ready.reserve(n);
        self.sleepers.reserve(n);
    }

    pub fn push(&mut self, t: T) {
        self.ready.push_back(t);
    }

    /// The next thread to run, if any.
    pub fn pop(&mut self) -> Option<T> {
        self.ready.pop_front()
    }

    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ready.len()
    }

    /// Park `t` until tick `wake_at`.
    pub fn sleep(&mut self, t: T, wake_at: u64) {
        self.sleepers.push((wake_at, t));
    }

    /// Move every sleeper whose tick has come to the ready queue; returns how many woke.
    pub fn wake_expired(&mut self, now: u64) -> usize {
        let mut woke = 0;
        let mut i = 0;
        while i < self.sleepers.len() {
            if self.sleepers[i].0 <= now {
                let (_, t) = self.sleepers.swap_remove(i);
                self.ready.push_back(t);
                woke += 1;
            } else {
                i += 1;
            }
        }
        woke
    }

    /// Take the first sleeper matching `pred` out early and make it ready; returns whether
    /// one was found.
    pub fn wake_matching(&mut self, pred: impl Fn(&T) -> bool) -> bool {
        match self.sleepers.iter().position(|(_, t)| pred(t)) {
            Some(i) => {
                let (_, t) = self.sleepers.swap_remove(i);
                self.ready.push_back(t);
                true
            }
            None => false,
        }
    }

    /// Number of sleeping threads.
    pub fn sleeping(&self) -> usize {
        self.sleepers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_and_sleep() {
        let mut q = RunQueue::new();
        q.push(1);
        q.push(2);
        q.sleep(3, 10);
        q.sleep(4, 5);
        assert_eq!(q.pop(), Some(1));
        q.push(1);
        assert_eq!(q.wake_expired(4), 0);
        assert_eq!(q.wake_expired(5), 1);
        assert_eq!(q.sleeping(), 1);
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(4));
        assert_eq!(q.pop(), None);
        assert_eq!(q.wake_expired(100), 1);
        assert_eq!(q.pop(), Some(3));
        assert!(q.is_empty());
        q.sleep(5, u64::MAX);
        q.sleep(6, u64::MAX);
        assert!(q.wake_matching(|&t| t == 6));
        assert!(!q.wake_matching(|&t| t == 6));
        assert_eq!(q.pop(), Some(6));
        assert_eq!(q.sleeping(), 1);
    }
}
