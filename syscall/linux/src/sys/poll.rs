//! poll, ppoll, select, pselect6, and blocking on a file until it is ready.

use super::time::read_timespec;
use crate::kernel::Kernel;
use crate::process::{Process, Task};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::ControlFlow;
use core::sync::atomic::Ordering;
use sched::Thread;
use syscall::{Errno, Result};
use vfs::{Events, OpenFile, OpenFlags, Waiter};

/// Wakes one thread when a file it polls changes.
struct ThreadWaiter<K: Kernel>(Arc<Thread<K::Arch>>);

impl<K: Kernel> Waiter for ThreadWaiter<K> {
    fn wake(&self) {
        K::sched().wake(&self.0);
    }
}

/// Block until one of `files` reports something in its wanted events (or ERR/HUP), or until
/// tick `deadline`. Returns whether something is ready.
fn wait_any<K: Kernel>(files: &[(Arc<OpenFile>, Events)], deadline: Option<u64>) -> bool {
    let Some(me) = K::sched().current() else {
        return false;
    };
    let waiter: Arc<dyn Waiter> = Arc::new(ThreadWaiter::<K>(me));
    let keys: Vec<_> = files
        .iter()
        .filter_map(|(f, _)| f.pollee().map(|p| (p, p.register(waiter.clone()))))
        .collect();
    let ready = || {
        files
            .iter()
            .any(|(f, ev)| f.poll().intersects(*ev | Events::ERR | Events::HUP))
    };
    // Registered before the check: a notification after it makes the block return at once.
    K::sched().prepare_wait();
    let mut is_ready = ready();
    if !is_ready && deadline.is_none_or(|d| K::sched().ticks() < d) {
        K::sched().block_current(deadline);
        is_ready = ready();
    }
    for (p, key) in keys {
        p.unregister(key);
    }
    is_ready
}

/// Block until `done()` holds, re-checking whenever `pollee` is notified; `EINTR` if a signal
/// comes first (a blocking FIFO open waits for the other side this way).
pub fn wait_until<K: Kernel>(pollee: &vfs::Pollee, done: impl Fn() -> bool) -> Result<()> {
    let Some(me) = K::sched().current() else {
        return Err(Errno::EAGAIN);
    };
    wait_on::<K, _>(pollee, me, || {
        if done() {
            ControlFlow::Break(Ok(()))
        } else {
            ControlFlow::Continue(None)
        }
    })
}

/// Wait as `me` on `pollee` until `step` breaks with the result: a signal ends the wait first
/// (`EINTR`); else `step` runs (the condition) and, when it continues, `me` blocks until a
/// notification or the tick it continues with. Linux's prepare-to-wait: registered and
/// prepared before the check, a notification after it makes the block return at once.
pub(super) fn wait_on<K: Kernel, T>(
    pollee: &vfs::Pollee,
    me: Arc<Thread<K::Arch>>,
    mut step: impl FnMut() -> ControlFlow<Result<T>, Option<u64>>,
) -> Result<T> {
    let waiter: Arc<dyn Waiter> = Arc::new(ThreadWaiter::<K>(me));
    let key = pollee.register(waiter);
    let result = loop {
        if crate::signal::kicked::<K>() {
            break Err(Errno::EINTR);
        }
        K::sched().prepare_wait();
        match step() {
            ControlFlow::Break(r) => break r,
            ControlFlow::Continue(deadline) => {
                K::sched().block_current(deadline);
            }
        }
    };
    pollee.unregister(key);
    result
}

/// Run `op` until it stops saying EAGAIN, waiting for `events` in between, unless the file is
/// non-blocking.
pub fn blocking<K: Kernel, T>(
    file: &Arc<OpenFile>,
    events: Events,
    mut op: impl FnMut() -> Result<T>,
) -> Result<T> {
    loop {
        match op() {
            Err(Errno::EAGAIN) if !file.flags().contains(OpenFlags::NONBLOCK) => {
                // A signal ends the wait (EINTR; restarted after it if the call allows).
                if crate::signal::kicked::<K>() {
                    return Err(Errno::EINTR);
                }
                wait_any::<K>(&[(file.clone(), events)], None);
                if crate::signal::kicked::<K>() {
                    return Err(Errno::EINTR);
                }
            }
            r => return r,
        }
    }
}

/// A deadline in ticks `timeout_ns` from now (`None`: none).
pub(super) fn deadline_after<K: Kernel>(timeout_ns: Option<u64>) -> Option<u64> {
    timeout_ns.map(|ns| {
        let ticks = (ns as u128 * K::tick_hz() as u128).div_ceil(1_000_000_000) as u64;
        K::sched().ticks() + ticks
    })
}

/// The core of poll and select: wait until `ready` finds something in the (fd, wanted
/// events) `entries`, `timeout_ns` passes (`Some(0)`: look once), or a signal comes (EINTR).
/// `ready` gets each entry's current events (`None` for a closed fd) and returns how many
/// entries count as ready; it may fail (select's EBADF).
fn poll_loop<K: Kernel>(
    p: &Process<K>,
    entries: &[(i32, Events)],
    timeout_ns: Option<u64>,
    mut ready: impl FnMut(&[Option<Events>]) -> Result<usize>,
) -> Result<usize> {
    let deadline = deadline_after::<K>(timeout_ns);
    loop {
        let mut files = Vec::new();
        let mut now = Vec::with_capacity(entries.len());
        for (fd, want) in entries {
            now.push(if *fd < 0 {
                Some(Events::EMPTY)
            } else {
                match p.file(*fd as usize) {
                    Ok(f) => {
                        let r = Events(f.poll().0 & (want.0 | Events::ERR.0 | Events::HUP.0));
                        files.push((f, *want));
                        Some(r)
                    }
                    Err(_) => None,
                }
            });
        }
        let count = ready(&now)?;
        let expired = deadline.is_some_and(|d| K::sched().ticks() >= d);
        if count > 0 || timeout_ns == Some(0) || expired {
            return Ok(count);
        }
        if crate::signal::kicked::<K>() {
            return Err(Errno::EINTR);
        }
        wait_any::<K>(&files, deadline);
        if crate::signal::kicked::<K>() {
            return Err(Errno::EINTR);
        }
    }
}

/// Poll `nfds` pollfds at `fds` until one is ready or `timeout_ns` passes (None: forever).
fn do_poll<K: Kernel>(
    p: &Process<K>,
    fds: u64,
    nfds: usize,
    timeout_ns: Option<u64>,
) -> Result<usize> {
    if nfds > p.files.lock().limit() {
        return Err(Errno::EINVAL);
    }
    let mut raw = p.user().read_vec(fds, nfds * 8)?;
    let entries: Vec<(i32, Events)> = raw
        .chunks_exact(8)
        .map(|c| {
            let fd = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            let ev = u16::from_le_bytes([c[4], c[5]]);
            (fd, Events(u32::from(ev)))
        })
        .collect();
    let count = poll_loop(p, &entries, timeout_ns, |now| {
        let mut count = 0;
        for (i, ev) in now.iter().enumerate() {
            let revents = ev.unwrap_or(Events::NVAL);
            raw[8 * i + 6..8 * i + 8].copy_from_slice(&(revents.0 as u16).to_le_bytes());
            count += usize::from(revents.0 != 0);
        }
        Ok(count)
    })?;
    p.user().write(fds, &raw)?;
    Ok(count)
}

/// Readiness select reports per set: readable, writable, exceptional.
const SELECT_IN: Events = Events(Events::IN.0 | Events::RDNORM.0 | Events::HUP.0 | Events::ERR.0);
const SELECT_OUT: Events = Events(Events::OUT.0 | Events::WRNORM.0 | Events::ERR.0);
const SELECT_EX: Events = Events::PRI;

/// select/pselect6 over the three `fd_set`s (NULL: empty) of `nfds` bits; the sets are
/// rewritten to the ready fds. EBADF for a set bit naming a closed fd.
fn do_select<K: Kernel>(
    p: &Process<K>,
    nfds: usize,
    sets: [u64; 3],
    timeout_ns: Option<u64>,
) -> Result<usize> {
    if nfds > p.files.lock().limit() || (nfds as isize) < 0 {
        return Err(Errno::EINVAL);
    }
    let bytes = nfds.div_ceil(64) * 8;
    let mut raw = [Vec::new(), Vec::new(), Vec::new()];
    for (set, addr) in raw.iter_mut().zip(sets) {
        *set = if addr == 0 {
            alloc::vec![0u8; bytes]
        } else {
            p.user().read_vec(addr, bytes)?
        };
    }
    let bit = |set: &[u8], fd: usize| set[fd / 8] & (1 << (fd % 8)) != 0;
    let masks = [SELECT_IN, SELECT_OUT, SELECT_EX];
    let mut entries = Vec::new();
    for fd in 0..nfds {
        let want = (0..3)
            .filter(|&i| bit(&raw[i], fd))
            .fold(0, |acc, i| acc | masks[i].0);
        if want != 0 {
            entries.push((fd as i32, Events(want)));
        }
    }
    let mut out = [
        alloc::vec![0u8; bytes],
        alloc::vec![0u8; bytes],
        alloc::vec![0u8; bytes],
    ];
    let count = poll_loop(p, &entries, timeout_ns, |now| {
        out.iter_mut().for_each(|o| o.fill(0));
        let mut count = 0;
        for ((fd, _), ev) in entries.iter().zip(now) {
            let ev = ev.ok_or(Errno::EBADF)?;
            let fd = *fd as usize;
            for i in 0..3 {
                if bit(&raw[i], fd) && ev.intersects(masks[i]) {
                    out[i][fd / 8] |= 1 << (fd % 8);
                    count += 1;
                }
            }
        }
        Ok(count)
    })?;
    for (set, addr) in out.iter().zip(sets) {
        if addr != 0 {
            p.user().write(addr, set)?;
        }
    }
    Ok(count)
}

/// Use `sigmask` (a user `sigset_t` of `size` bytes, 0: none) as the signal mask for the
/// duration of `wait`, as ppoll and pselect6 do. After a signal (EINTR) the old mask stays in
/// `saved_mask` for signal delivery to put back once the handler's frame is built, so the
/// handler runs with the temporary mask lifted as Linux does; otherwise it is restored here.
fn with_sigmask<K: Kernel>(
    t: &Arc<Task<K>>,
    sigmask: u64,
    size: usize,
    wait: impl FnOnce() -> Result<usize>,
) -> Result<usize> {
    if sigmask == 0 {
        return wait();
    }
    if size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = t.process.user().read_u64(sigmask)?;
    let old = t
        .sigmask
        .swap(mask & !crate::signal::UNBLOCKABLE, Ordering::Relaxed);
    *t.saved_mask.lock() = Some(old);
    // A signal the new mask lets in may be pending already: no kick will come for it.
    let r = if crate::signal::interrupted(t) {
        Err(Errno::EINTR)
    } else {
        wait()
    };
    if r != Err(Errno::EINTR) {
        *t.saved_mask.lock() = None;
        t.sigmask.store(old, Ordering::Relaxed);
    }
    r
}

/// A user `struct timeval` as nanoseconds; EINVAL if malformed.
fn read_timeval<K: Kernel>(p: &Process<K>, addr: u64) -> Result<u64> {
    let b = p.user().read_vec(addr, 16)?;
    let sec = i64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let usec = i64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
    if sec < 0 || !(0..1_000_000).contains(&usec) {
        return Err(Errno::EINVAL);
    }
    Ok((sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(usec as u64 * 1000))
}

/// select (x86_64 only): the timeout is a `timeval`.
pub fn select<K: Kernel>(p: &Process<K>, nfds: usize, sets: [u64; 3], tv: u64) -> Result<usize> {
    let timeout = if tv == 0 {
        None
    } else {
        Some(read_timeval(p, tv)?)
    };
    do_select(p, nfds, sets, timeout)
}

/// pselect6: a `timespec` timeout, and as sixth argument a pointer to `{ sigset_t *ss;
/// size_t ss_len; }`.
pub fn pselect6<K: Kernel>(
    t: &Arc<Task<K>>,
    nfds: usize,
    sets: [u64; 3],
    ts: u64,
    sig: u64,
) -> Result<usize> {
    let p = &t.process;
    let timeout = if ts == 0 {
        None
    } else {
        Some(read_timespec(p, ts)?)
    };
    let (mask, size) = if sig == 0 {
        (0, 0)
    } else {
        let b = p.user().read_vec(sig, 16)?;
        (
            u64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?),
            u64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?) as usize,
        )
    };
    with_sigmask(t, mask, size, || do_select(p, nfds, sets, timeout))
}

pub fn poll<K: Kernel>(p: &Process<K>, fds: u64, nfds: usize, timeout_ms: i64) -> Result<usize> {
    let timeout = (timeout_ms >= 0).then(|| timeout_ms as u64 * 1_000_000);
    do_poll(p, fds, nfds, timeout)
}

/// ppoll: poll with a `timespec` timeout and, optionally, a signal mask for the wait.
pub fn ppoll<K: Kernel>(
    t: &Arc<Task<K>>,
    fds: u64,
    nfds: usize,
    tmo: u64,
    sigmask: u64,
    size: usize,
) -> Result<usize> {
    let p = &t.process;
    let timeout = if tmo == 0 {
        None
    } else {
        Some(read_timespec(p, tmo)?)
    };
    with_sigmask(t, sigmask, size, || do_poll(p, fds, nfds, timeout))
}
