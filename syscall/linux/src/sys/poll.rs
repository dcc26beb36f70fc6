//! poll, ppoll, and blocking on a file until it is ready.

use super::time::read_timespec;
use crate::kernel::Kernel;
use crate::process::Process;
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch_api::Arch;
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
    // Check and block with interrupts masked, so no wake-up falls between them.
    let was = K::Arch::irq_save_disable();
    let mut is_ready = ready();
    if !is_ready && deadline.is_none_or(|d| K::sched().ticks() < d) {
        K::sched().block_current(deadline);
        is_ready = ready();
    }
    K::Arch::irq_restore(was);
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
    let waiter: Arc<dyn Waiter> = Arc::new(ThreadWaiter::<K>(me));
    let key = pollee.register(waiter);
    let result = loop {
        if crate::signal::kicked::<K>() {
            break Err(Errno::EINTR);
        }
        // Check and block with interrupts masked, so no wake-up falls between them.
        let was = K::Arch::irq_save_disable();
        let ok = done();
        if !ok {
            K::sched().block_current(None);
        }
        K::Arch::irq_restore(was);
        if ok {
            break Ok(());
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
    let deadline = timeout_ns.map(|ns| {
        let ticks = (ns as u128 * K::tick_hz() as u128).div_ceil(1_000_000_000) as u64;
        K::sched().ticks() + ticks
    });
    loop {
        let mut files = Vec::new();
        let mut count = 0;
        for (i, (fd, want)) in entries.iter().enumerate() {
            let revents = if *fd < 0 {
                Events::EMPTY
            } else {
                match p.file(*fd as usize) {
                    Ok(f) => {
                        let r = Events(f.poll().0 & (want.0 | Events::ERR.0 | Events::HUP.0));
                        files.push((f, *want));
                        r
                    }
                    Err(_) => Events::NVAL,
                }
            };
            raw[8 * i + 6..8 * i + 8].copy_from_slice(&(revents.0 as u16).to_le_bytes());
            if revents.0 != 0 {
                count += 1;
            }
        }
        let expired = deadline.is_some_and(|d| K::sched().ticks() >= d);
        if count > 0 || timeout_ns == Some(0) || expired {
            p.user().write(fds, &raw)?;
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

pub fn poll<K: Kernel>(p: &Process<K>, fds: u64, nfds: usize, timeout_ms: i64) -> Result<usize> {
    let timeout = (timeout_ms >= 0).then(|| timeout_ms as u64 * 1_000_000);
    do_poll(p, fds, nfds, timeout)
}

pub fn ppoll<K: Kernel>(p: &Process<K>, fds: u64, nfds: usize, tmo: u64) -> Result<usize> {
    let timeout = if tmo == 0 {
        None
    } else {
        Some(read_timespec(p, tmo)?)
    };
    do_poll(p, fds, nfds, timeout)
}
