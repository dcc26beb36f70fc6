//! futex: WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE.
//!
//! Keys, as Linux's: a private futex (`FUTEX_PRIVATE_FLAG`, or a word in a private mapping)
//! is its user address in this process, and its waiters are kept per process. A shared futex
//! (no private flag, word in a `MAP_SHARED` mapping: anonymous shared after fork, or a
//! page-cache file page) is keyed on the physical address of the word, the same in every
//! process mapping the page, and its waiters are kept in one global queue ([`SHARED`]).
//! Linux keys those on the inode (or shmem object) and page offset; the frame is the same
//! thing while the page is mapped, which it is for as long as anyone can wait on it.

use super::time::read_timespec;
use crate::kernel::Kernel;
use crate::process::{Process, Task};
use crate::signal;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch_api::Arch;
use core::sync::atomic::{AtomicBool, Ordering};
use syscall::{Errno, Result};

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_REQUEUE: u32 = 3;
const FUTEX_CMP_REQUEUE: u32 = 4;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

/// Where a futex word is, as waiters and wakers agree on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    /// The user address, in the calling process.
    Private(u64),
    /// The physical address of the word (page + offset).
    Shared(u64),
}

/// One thread sleeping in FUTEX_WAIT on a shared futex. Type-erased (the queue is global and
/// this crate is generic over the kernel): `wake` wakes the thread.
struct SharedWaiter {
    key: u64,
    bitset: u32,
    woken: Arc<AtomicBool>,
    wake: Box<dyn Fn() + Send + Sync>,
}

/// Waiters on shared futexes, across processes. Taken with interrupts masked.
static SHARED: spin::Mutex<Vec<SharedWaiter>> = spin::Mutex::new(Vec::new());

/// Runs `f` on the shared queue, interrupts masked (a holder must not be preempted).
fn with_shared<K: Kernel, R>(f: impl FnOnce(&mut Vec<SharedWaiter>) -> R) -> R {
    let was = K::Arch::irq_save_disable();
    let r = f(&mut SHARED.lock());
    K::Arch::irq_restore(was);
    r
}

/// The key of the futex word at `uaddr`: private with `FUTEX_PRIVATE_FLAG` or in a private
/// mapping, else the physical address of the word (faulting its page in). `EFAULT` if the
/// word is not mapped readable.
fn key_of<K: Kernel>(p: &Process<K>, uaddr: u64, private: bool) -> Result<Key> {
    if private {
        return Ok(Key::Private(uaddr));
    }
    let mut vm = p.vm.lock();
    if !vm.vma_at(uaddr).ok_or(Errno::EFAULT)?.shared {
        return Ok(Key::Private(uaddr));
    }
    vm.handle_fault(uaddr, false, false)
        .map_err(|_| Errno::EFAULT)?;
    let pa = vm.translate(uaddr).ok_or(Errno::EFAULT)?.pa;
    Ok(Key::Shared(pa))
}

/// One thread sleeping in FUTEX_WAIT on a private futex.
pub struct FutexWaiter<K: Kernel> {
    addr: u64,
    bitset: u32,
    thread: Arc<sched::Thread<K::Arch>>,
    /// Set by the waker, so the sleeper knows it was woken and not interrupted or timed out.
    woken: Arc<AtomicBool>,
}

pub fn futex<K: Kernel>(t: &Arc<Task<K>>, a: [usize; 6]) -> Result<usize> {
    let (uaddr, op, val) = (a[0] as u64, a[1] as u32, a[2] as u32);
    let p = &t.process;
    let private = op & FUTEX_PRIVATE_FLAG != 0;
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT {
        return Err(Errno::ENOSYS);
    }
    if !uaddr.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    match cmd {
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT {
                u32::MAX
            } else {
                a[5] as u32
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let deadline = match a[3] as u64 {
                0 => None,
                ts => {
                    let ns = read_timespec(p, ts)?;
                    // FUTEX_WAIT's timeout is relative; WAIT_BITSET's is absolute, on
                    // CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME.
                    let rel = if cmd == FUTEX_WAIT {
                        ns
                    } else if op & FUTEX_CLOCK_REALTIME != 0 {
                        ns.saturating_sub(K::realtime_ns())
                    } else {
                        ns.saturating_sub(K::Arch::now_ns())
                    };
                    let ticks = (rel as u128 * K::tick_hz() as u128).div_ceil(1_000_000_000);
                    Some(K::sched().ticks().saturating_add(ticks as u64))
                }
            };
            let key = key_of(p, uaddr, private)?;
            wait(t, key, uaddr, val, bitset, deadline)
        }
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE {
                u32::MAX
            } else {
                a[5] as u32
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let key = key_of(p, uaddr, private)?;
            Ok(wake_key(p, key, val as usize, bitset))
        }
        FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
            let uaddr2 = a[4] as u64;
            let nr_requeue = a[3];
            if (nr_requeue as isize) < 0 || (val as i32) < 0 || !uaddr2.is_multiple_of(4) {
                return Err(Errno::EINVAL);
            }
            // Fault the word in first, so that the masked read below does not normally need
            // the address-space lock, which a preempted thread may hold.
            read_u32(p, uaddr)?;
            let from = key_of(p, uaddr, private)?;
            let to = key_of(p, uaddr2, private)?;
            let was = K::Arch::irq_save_disable();
            let r = (|| {
                if cmd == FUTEX_CMP_REQUEUE && read_u32(p, uaddr)? != a[5] as u32 {
                    return Err(Errno::EAGAIN);
                }
                let woken = wake_key(p, from, val as usize, u32::MAX);
                Ok(woken + requeue(p, from, to, nr_requeue))
            })();
            K::Arch::irq_restore(was);
            r
        }
        _ => Err(Errno::ENOSYS),
    }
}

fn read_u32<K: Kernel>(p: &Process<K>, addr: u64) -> Result<u32> {
    let mut b = [0u8; 4];
    p.user().read(addr, &mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// Moves up to `n` waiters from `from` to `to`; returns how many. Between a private and a
/// shared key (no private flag, one word in a shared mapping and one not) the waiters are
/// woken instead: a spurious wake-up, which futex users must expect anyway.
fn requeue<K: Kernel>(p: &Process<K>, from: Key, to: Key, n: usize) -> usize {
    match (from, to) {
        (Key::Private(a), Key::Private(b)) => {
            let mut moved = 0;
            for w in p.futexes.lock().iter_mut() {
                if moved >= n {
                    break;
                }
                if w.addr == a {
                    w.addr = b;
                    moved += 1;
                }
            }
            moved
        }
        (Key::Shared(a), Key::Shared(b)) => with_shared::<K, _>(|q| {
            let mut moved = 0;
            for w in q.iter_mut() {
                if moved >= n {
                    break;
                }
                if w.key == a {
                    w.key = b;
                    moved += 1;
                }
            }
            moved
        }),
        _ => wake_key(p, from, n, u32::MAX),
    }
}

/// Sleep until woken at `key` if the word at `uaddr` still holds `val`.
fn wait<K: Kernel>(
    t: &Arc<Task<K>>,
    key: Key,
    uaddr: u64,
    val: u32,
    bitset: u32,
    deadline: Option<u64>,
) -> Result<usize> {
    let p = &t.process;
    let thread = K::sched().current().ok_or(Errno::EAGAIN)?;
    let woken = Arc::new(AtomicBool::new(false));
    // Enqueue, then compare: a FUTEX_WAKE after the enqueue finds this waiter, and one before
    // it changed the word first, so the compare sees that. The compare runs with interrupts
    // enabled: reading user memory may fault and take the address-space lock, which another
    // thread, preempted, may hold.
    K::sched().prepare_wait();
    match key {
        Key::Private(addr) => p.futexes.lock().push(FutexWaiter {
            addr,
            bitset,
            thread,
            woken: woken.clone(),
        }),
        Key::Shared(key) => {
            let waiter = SharedWaiter {
                key,
                bitset,
                woken: woken.clone(),
                wake: Box::new(move || K::sched().wake(&thread)),
            };
            with_shared::<K, _>(|q| q.push(waiter));
        }
    }
    let leave = || match key {
        Key::Private(_) => p.futexes.lock().retain(|w| !Arc::ptr_eq(&w.woken, &woken)),
        Key::Shared(_) => with_shared::<K, _>(|q| q.retain(|w| !Arc::ptr_eq(&w.woken, &woken))),
    };
    if let Err(e) = read_u32(p, uaddr).and_then(|cur| {
        if cur != val {
            Err(Errno::EAGAIN)
        } else {
            Ok(())
        }
    }) {
        leave();
        // A wake that already picked this waiter must not be lost: report it as taken.
        return if woken.load(Ordering::Acquire) {
            Ok(0)
        } else {
            Err(e)
        };
    }
    let r = signal::wait_interruptible(t, deadline, || woken.load(Ordering::Acquire).then_some(()));
    // Still queued unless woken: leave the queue.
    leave();
    match r {
        Ok(Some(())) => Ok(0),
        _ if woken.load(Ordering::Acquire) => Ok(0),
        Ok(None) => Err(Errno::ETIMEDOUT),
        Err(e) => Err(e),
    }
}

/// Wake up to `n` waiters at `key` whose bitset meets `bitset`; returns how many.
fn wake_key<K: Kernel>(p: &Process<K>, key: Key, n: usize, bitset: u32) -> usize {
    match key {
        Key::Private(addr) => futex_wake(p, addr, n, bitset),
        Key::Shared(key) => with_shared::<K, _>(|q| {
            let mut count = 0;
            q.retain(|w| {
                if count < n && w.key == key && w.bitset & bitset != 0 {
                    count += 1;
                    w.woken.store(true, Ordering::Release);
                    (w.wake)();
                    false
                } else {
                    true
                }
            });
            count
        }),
    }
}

/// Wake up to `n` waiters of the private futex at `uaddr` whose bitset meets `bitset`;
/// returns how many.
pub(crate) fn futex_wake<K: Kernel>(p: &Process<K>, uaddr: u64, n: usize, bitset: u32) -> usize {
    let mut count = 0;
    let mut q = p.futexes.lock();
    q.retain(|w| {
        if count < n && w.addr == uaddr && w.bitset & bitset != 0 {
            count += 1;
            w.woken.store(true, Ordering::Release);
            K::sched().wake(&w.thread);
            false
        } else {
            true
        }
    });
    count
}
