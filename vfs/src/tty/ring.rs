//! A lock-free single-producer, single-consumer byte ring: the hand-off between a UART
//! receive interrupt (the producer) and the thread that runs the line discipline (the
//! consumer). Neither side ever waits for the other, so the interrupt handler can push
//! while the consumer is preempted in the middle of a pop, and no lock has to be taken with
//! interrupts masked. This is the only part of the tty that may be touched from an interrupt
//! handler.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Bytes the ring holds; a power of two so indices wrap with a mask. A human types far less
/// than this between two runs of the consumer; a paste larger than it loses the excess, as a
/// UART FIFO overrun would.
pub const RING_SIZE: usize = 1024;

/// The ring. `head` and `tail` count bytes ever popped and pushed (wrapping), so
/// `tail - head` is the fill level and full and empty are told apart without a spare slot.
pub struct InputRing {
    bytes: [AtomicU8; RING_SIZE],
    head: AtomicUsize,
    tail: AtomicUsize,
    dropped: AtomicUsize,
}

impl Default for InputRing {
    fn default() -> Self {
        Self::new()
    }
}

impl InputRing {
    /// An empty ring (usable in a `static`).
    pub const fn new() -> InputRing {
        InputRing {
            bytes: [const { AtomicU8::new(0) }; RING_SIZE],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    }

    /// Producer side: append `b`, or count it as dropped when the ring is full. Only one
    /// context may push (the interrupt handler of the one CPU the UART interrupts).
    pub fn push(&self, b: u8) -> bool {
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        if tail.wrapping_sub(head) >= RING_SIZE {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.bytes[tail % RING_SIZE].store(b, Ordering::Relaxed);
        // Release: the byte is visible before the new tail is.
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        true
    }

    /// Consumer side: move up to `out.len()` bytes into `out`; returns how many. Only one
    /// context may pop.
    pub fn pop_into(&self, out: &mut [u8]) -> usize {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        let n = tail.wrapping_sub(head).min(out.len());
        for (i, slot) in out[..n].iter_mut().enumerate() {
            *slot = self.bytes[head.wrapping_add(i) % RING_SIZE].load(Ordering::Relaxed);
        }
        // Release: the slots are read before the producer may reuse them.
        self.head.store(head.wrapping_add(n), Ordering::Release);
        n
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.head.load(Ordering::Acquire) == self.tail.load(Ordering::Acquire)
    }

    /// Bytes lost because the ring was full.
    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::Relaxed)
    }
}
