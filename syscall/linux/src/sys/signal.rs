//! rt_sigaction, rt_sigprocmask, sigaltstack, rt_sigpending, rt_sigsuspend, pause,
//! rt_sigtimedwait, rt_sigreturn. Delivery itself is in `crate::signal`.

use super::time::read_timespec;
use crate::kernel::Kernel;
use crate::process::{Process, Regs, SigAction, Task};
use crate::signal::{self, SIGKILL, SIGSTOP, SigInfo, UNBLOCKABLE};
use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};

pub fn rt_sigaction<K: Kernel>(
    p: &Process<K>,
    sig: u32,
    act: u64,
    oact: u64,
    setsize: usize,
) -> Result<usize> {
    if setsize != 8 || sig == 0 || sig > 64 {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let b = p.user().read_vec(act, 32)?;
        let w = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or([0; 8]));
        Some(SigAction {
            handler: w(0),
            flags: w(1),
            restorer: w(2),
            mask: w(3) & !UNBLOCKABLE,
        })
    } else {
        None
    };
    let old = {
        let mut actions = p.actions.lock();
        let old = actions[sig as usize - 1];
        if let Some(n) = new {
            actions[sig as usize - 1] = n;
        }
        old
    };
    // A signal set to be ignored is discarded if pending (POSIX).
    if let Some(n) = new
        && (n.handler == signal::SIG_IGN
            || (n.handler == signal::SIG_DFL
                && signal::default_action(sig) == signal::DefaultAction::Ign))
    {
        p.discard_pending(signal::bit(sig));
    }
    if oact != 0 {
        let mut b = [0u8; 32];
        for (i, v) in [old.handler, old.flags, old.restorer, old.mask]
            .into_iter()
            .enumerate()
        {
            b[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        p.user().write(oact, &b)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask<K: Kernel>(
    t: &Arc<Task<K>>,
    how: u32,
    set: u64,
    oset: u64,
    setsize: usize,
) -> Result<usize> {
    if setsize != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.sigmask.load(Ordering::Relaxed);
    if set != 0 {
        let s = t.process.user().read_u64(set)?;
        let new = match how {
            0 => old | s,
            1 => old & !s,
            2 => s,
            _ => return Err(Errno::EINVAL),
        };
        t.sigmask.store(new & !UNBLOCKABLE, Ordering::Relaxed);
    }
    if oset != 0 {
        t.process.user().write_u64(oset, old)?;
    }
    Ok(0)
}

const SS_ONSTACK: u32 = 1;
const SS_DISABLE: u32 = 2;
const SS_AUTODISARM: u32 = 1 << 31;
/// The larger of the two arches' MINSIGSTKSZ (x86_64 2048, arm64 5120).
const MINSIGSTKSZ: u64 = 2048;

pub fn sigaltstack<K: Kernel>(t: &Arc<Task<K>>, ss: u64, old: u64) -> Result<usize> {
    let current = *t.altstack.lock();
    if ss != 0 {
        let b = t.process.user().read_vec(ss, 24)?;
        let sp = u64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let flags = u32::from_le_bytes(b[8..12].try_into().map_err(|_| Errno::EFAULT)?);
        let size = u64::from_le_bytes(b[16..24].try_into().map_err(|_| Errno::EFAULT)?);
        let mode = flags & !SS_AUTODISARM;
        if mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK {
            return Err(Errno::EINVAL);
        }
        if mode == SS_DISABLE {
            *t.altstack.lock() = (0, SS_DISABLE, 0);
        } else {
            if size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            *t.altstack.lock() = (sp, flags & SS_AUTODISARM, size);
        }
    }
    if old != 0 {
        let mut b = [0u8; 24];
        b[..8].copy_from_slice(&current.0.to_le_bytes());
        b[8..12].copy_from_slice(&current.1.to_le_bytes());
        b[16..24].copy_from_slice(&current.2.to_le_bytes());
        t.process.user().write(old, &b)?;
    }
    Ok(0)
}

pub fn rt_sigpending<K: Kernel>(t: &Arc<Task<K>>, set: u64, setsize: usize) -> Result<usize> {
    if setsize > 8 {
        return Err(Errno::EINVAL);
    }
    let pending = t.pending.lock().set | t.process.shared_pending.lock().set;
    let blocked = t.sigmask.load(Ordering::Relaxed);
    let b = (pending & blocked).to_le_bytes();
    t.process.user().write(set, &b[..setsize])?;
    Ok(0)
}

/// Wait with the mask `mask` until a signal is delivered; always EINTR (the handler returns
/// to the mask from before, which delivery puts back).
fn suspend<K: Kernel>(t: &Arc<Task<K>>, mask: Option<u64>) -> Result<usize> {
    if let Some(mask) = mask {
        let old = t.sigmask.swap(mask & !UNBLOCKABLE, Ordering::Relaxed);
        *t.saved_mask.lock() = Some(old);
    }
    let r = signal::wait_interruptible(t, None, || None::<()>);
    debug_assert!(r.is_err());
    Err(Errno::EINTR)
}

pub fn rt_sigsuspend<K: Kernel>(t: &Arc<Task<K>>, set: u64, setsize: usize) -> Result<usize> {
    if setsize != 8 {
        return Err(Errno::EINVAL);
    }
    let mask = t.process.user().read_u64(set)?;
    suspend(t, Some(mask))
}

pub fn pause<K: Kernel>(t: &Arc<Task<K>>) -> Result<usize> {
    suspend(t, None)
}

/// rt_sigtimedwait: take a pending signal of `set` (normally blocked) without running its
/// handler; EAGAIN on timeout, EINTR if another signal comes first.
pub fn rt_sigtimedwait<K: Kernel>(
    t: &Arc<Task<K>>,
    set: u64,
    info: u64,
    timeout: u64,
    setsize: usize,
) -> Result<usize> {
    if setsize != 8 {
        return Err(Errno::EINVAL);
    }
    let p = &t.process;
    let want = p.user().read_u64(set)? & !UNBLOCKABLE;
    let deadline = match timeout {
        0 => None,
        ts => {
            let ns = read_timespec(p, ts)?;
            let ticks = (ns as u128 * K::tick_hz() as u128).div_ceil(1_000_000_000) as u64;
            Some(K::sched().ticks().saturating_add(ticks))
        }
    };
    // Signals of `set` are taken while waiting, as if they were not blocked.
    let take = || {
        let b = !want;
        t.pending
            .lock()
            .take_info(b)
            .or_else(|| p.shared_pending.lock().take_info(b))
    };
    let got: SigInfo = match take() {
        Some(i) => i,
        None if deadline.is_some_and(|d| d <= K::sched().ticks()) => return Err(Errno::EAGAIN),
        None => {
            let old = t.sigmask.fetch_and(!want, Ordering::Relaxed);
            let r = signal::wait_interruptible(t, deadline, take);
            t.sigmask.store(old, Ordering::Relaxed);
            match r {
                Ok(Some(i)) => i,
                Ok(None) => return Err(Errno::EAGAIN),
                Err(e) => return Err(e),
            }
        }
    };
    if info != 0 {
        p.user().write(info, &got.to_bytes())?;
    }
    Ok(got.signo as usize)
}

/// rt_sigreturn; a frame it cannot restore kills the process with SIGSEGV, as on Linux.
pub fn rt_sigreturn<K: Kernel>(t: &Arc<Task<K>>, regs: &mut Regs<K>) -> Result<usize> {
    signal::sigreturn(t, regs).inspect_err(|e| {
        log::debug!("pid {}: bad signal frame ({e})", t.process.pid);
        signal::force_fault(t, SigInfo::fault(signal::SIGSEGV, signal::SI_KERNEL, 0));
    })
}
