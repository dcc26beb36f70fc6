//! rt_sigaction, rt_sigprocmask, sigaltstack: the bookkeeping. Delivery comes with signals.

use crate::kernel::Kernel;
use crate::process::{Process, SigAction, Task};
use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};

const SIGKILL: u32 = 9;
const SIGSTOP: u32 = 19;
const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));

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
