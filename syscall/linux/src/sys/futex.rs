//! futex: WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE.
//!
//! Waiters are kept per process and keyed by user address: a process is one address space, so
//! that is the private-futex key. Shared futexes (between processes over MAP_SHARED memory)
//! are keyed the same way for now, which is right for every sharer inside one process, the
//! only case musl's pthreads create.

use super::time::read_timespec;
use crate::kernel::Kernel;
use crate::process::{Process, Task};
use crate::signal;
use alloc::sync::Arc;
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

/// One thread sleeping in FUTEX_WAIT.
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
            wait(t, uaddr, val, bitset, deadline)
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
            Ok(futex_wake(p, uaddr, val as usize, bitset))
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
            let was = K::Arch::irq_save_disable();
            let r = (|| {
                if cmd == FUTEX_CMP_REQUEUE && read_u32(p, uaddr)? != a[5] as u32 {
                    return Err(Errno::EAGAIN);
                }
                let woken = futex_wake(p, uaddr, val as usize, u32::MAX);
                let mut moved = 0;
                for w in p.futexes.lock().iter_mut() {
                    if moved >= nr_requeue {
                        break;
                    }
                    if w.addr == uaddr {
                        w.addr = uaddr2;
                        moved += 1;
                    }
                }
                Ok(woken + moved)
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

/// Sleep until woken at `uaddr` if it still holds `val`.
fn wait<K: Kernel>(
    t: &Arc<Task<K>>,
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
    p.futexes.lock().push(FutexWaiter {
        addr: uaddr,
        bitset,
        thread,
        woken: woken.clone(),
    });
    if let Err(e) = read_u32(p, uaddr).and_then(|cur| {
        if cur != val {
            Err(Errno::EAGAIN)
        } else {
            Ok(())
        }
    }) {
        p.futexes.lock().retain(|w| !Arc::ptr_eq(&w.woken, &woken));
        // A wake that already picked this waiter must not be lost: report it as taken.
        return if woken.load(Ordering::Acquire) {
            Ok(0)
        } else {
            Err(e)
        };
    }
    let r = signal::wait_interruptible(t, deadline, || woken.load(Ordering::Acquire).then_some(()));
    // Still queued unless woken: leave the queue.
    p.futexes.lock().retain(|w| !Arc::ptr_eq(&w.woken, &woken));
    match r {
        Ok(Some(())) => Ok(0),
        _ if woken.load(Ordering::Acquire) => Ok(0),
        Ok(None) => Err(Errno::ETIMEDOUT),
        Err(e) => Err(e),
    }
}

/// Wake up to `n` waiters at `uaddr` whose bitset meets `bitset`; returns how many.
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
