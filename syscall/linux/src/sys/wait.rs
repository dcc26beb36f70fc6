//! wait4, waitid, and process groups and sessions: getppid, setpgid, getpgid, setsid, getsid,
//! kill.

use crate::kernel::Kernel;
use crate::process::{Process, Task, find_init};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};

const WNOHANG: u32 = 1;
const WUNTRACED: u32 = 2;
const WEXITED: u32 = 4;
const WCONTINUED: u32 = 8;
const WNOWAIT: u32 = 0x0100_0000;
const WNOTHREAD: u32 = 0x2000_0000;
const WALL: u32 = 0x4000_0000;
const WCLONE: u32 = 0x8000_0000;
const SIGCHLD: i32 = 17;

/// Which children a wait targets.
#[derive(Clone, Copy)]
enum Target {
    Any,
    Pid(u32),
    Group(u32),
}

impl Target {
    fn matches<K: Kernel>(self, c: &Process<K>) -> bool {
        match self {
            Target::Any => true,
            Target::Pid(p) => c.pid == p,
            Target::Group(g) => c.pgid.load(Ordering::Relaxed) == g,
        }
    }
}

/// Wait for a matching child to exit; returns (pid, wait status), or (0, 0) with WNOHANG.
fn wait_child<K: Kernel>(
    p: &Process<K>,
    target: Target,
    nohang: bool,
    reap: bool,
) -> Result<(u32, i32)> {
    p.child_exit
        .wait_until(K::sched(), None, || {
            let mut children = p.children.lock();
            if !children.iter().any(|c| target.matches(&**c)) {
                return Some(Err(Errno::ECHILD));
            }
            let zombie = children
                .iter()
                .position(|c| target.matches(&**c) && c.exit_status.lock().is_some());
            match zombie {
                Some(i) => {
                    let c = if reap {
                        children.remove(i)
                    } else {
                        children[i].clone()
                    };
                    let status = c.exit_status.lock().unwrap_or(0);
                    Some(Ok((c.pid, status)))
                }
                None if nohang => Some(Ok((0, 0))),
                None => None,
            }
        })
        .unwrap_or(Err(Errno::EINTR))
}

pub fn wait4<K: Kernel>(
    p: &Process<K>,
    pid: i32,
    wstatus: u64,
    options: u32,
    rusage: u64,
) -> Result<usize> {
    if options & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WALL | WCLONE) != 0 {
        return Err(Errno::EINVAL);
    }
    let target = match pid {
        -1 => Target::Any,
        0 => Target::Group(p.pgid.load(Ordering::Relaxed)),
        i32::MIN => return Err(Errno::ESRCH),
        n if n < 0 => Target::Group(n.unsigned_abs()),
        n => Target::Pid(n as u32),
    };
    let (child, status) = wait_child(p, target, options & WNOHANG != 0, true)?;
    if child != 0 && wstatus != 0 {
        p.user().write_u32(wstatus, status as u32)?;
    }
    if child != 0 && rusage != 0 {
        p.user().write(rusage, &[0u8; 144])?;
    }
    Ok(child as usize)
}

pub fn waitid<K: Kernel>(
    p: &Process<K>,
    idtype: u32,
    id: u32,
    infop: u64,
    options: u32,
) -> Result<usize> {
    if options & !(WNOHANG | WUNTRACED | WEXITED | WCONTINUED | WNOWAIT | WNOTHREAD | WALL | WCLONE)
        != 0
        || options & (WEXITED | WUNTRACED | WCONTINUED) == 0
    {
        return Err(Errno::EINVAL);
    }
    let target = match idtype {
        0 => Target::Any,
        1 => Target::Pid(id),
        2 => Target::Group(if id == 0 {
            p.pgid.load(Ordering::Relaxed)
        } else {
            id
        }),
        _ => return Err(Errno::EINVAL),
    };
    let (child, status) = wait_child(p, target, options & WNOHANG != 0, options & WNOWAIT == 0)?;
    if infop != 0 {
        let mut info = [0u8; 128];
        if child != 0 {
            let (code, value): (i32, i32) = if status & 0x7f == 0 {
                (1, (status >> 8) & 0xff)
            } else {
                (2, status & 0x7f)
            };
            info[0..4].copy_from_slice(&SIGCHLD.to_le_bytes());
            info[8..12].copy_from_slice(&code.to_le_bytes());
            info[16..20].copy_from_slice(&child.to_le_bytes());
            info[24..28].copy_from_slice(&value.to_le_bytes());
        }
        p.user().write(infop, &info)?;
    }
    Ok(0)
}

pub fn getppid<K: Kernel>(p: &Process<K>) -> Result<usize> {
    Ok(p.parent
        .lock()
        .as_ref()
        .and_then(Weak::upgrade)
        .map_or(0, |pp| pp.pid as usize))
}

/// Every process, found from PID 1 down.
fn all_processes<K: Kernel>(t: &Arc<Task<K>>) -> Vec<Arc<Process<K>>> {
    let mut out = Vec::new();
    let Some(init) = find_init(&t.process) else {
        return alloc::vec![t.process.clone()];
    };
    let mut stack = alloc::vec![init];
    while let Some(p) = stack.pop() {
        stack.extend(p.children.lock().iter().cloned());
        out.push(p);
    }
    out
}

fn find<K: Kernel>(t: &Arc<Task<K>>, pid: u32) -> Option<Arc<Process<K>>> {
    all_processes(t).into_iter().find(|p| p.pid == pid)
}

pub fn setpgid<K: Kernel>(t: &Arc<Task<K>>, pid: u32, pgid: i32) -> Result<usize> {
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = &t.process;
    let target = if pid == 0 || pid == me.pid {
        me.clone()
    } else {
        me.children
            .lock()
            .iter()
            .find(|c| c.pid == pid)
            .cloned()
            .ok_or(Errno::ESRCH)?
    };
    if target.sid.load(Ordering::Relaxed) != me.sid.load(Ordering::Relaxed) {
        return Err(Errno::EPERM);
    }
    if target.sid.load(Ordering::Relaxed) == target.pid {
        return Err(Errno::EPERM);
    }
    let pgid = if pgid == 0 { target.pid } else { pgid as u32 };
    target.pgid.store(pgid, Ordering::Relaxed);
    Ok(0)
}

pub fn getpgid<K: Kernel>(t: &Arc<Task<K>>, pid: u32) -> Result<usize> {
    let p = if pid == 0 {
        t.process.clone()
    } else {
        find(t, pid).ok_or(Errno::ESRCH)?
    };
    Ok(p.pgid.load(Ordering::Relaxed) as usize)
}

pub fn getsid<K: Kernel>(t: &Arc<Task<K>>, pid: u32) -> Result<usize> {
    let p = if pid == 0 {
        t.process.clone()
    } else {
        find(t, pid).ok_or(Errno::ESRCH)?
    };
    Ok(p.sid.load(Ordering::Relaxed) as usize)
}

pub fn setsid<K: Kernel>(t: &Arc<Task<K>>) -> Result<usize> {
    let p = &t.process;
    let in_use = all_processes(t)
        .iter()
        .any(|q| q.pgid.load(Ordering::Relaxed) == p.pid);
    if in_use {
        return Err(Errno::EPERM);
    }
    p.sid.store(p.pid, Ordering::Relaxed);
    p.pgid.store(p.pid, Ordering::Relaxed);
    Ok(p.pid as usize)
}

/// Signals whose default action is to do nothing.
fn ignored_by_default(sig: u32) -> bool {
    matches!(sig, 17 | 23 | 28) // SIGCHLD, SIGURG, SIGWINCH
}

/// `kill`: until signal delivery exists, a signal whose action is the default and whose
/// default ends the process ends it; others are accepted and dropped.
pub fn kill<K: Kernel>(t: &Arc<Task<K>>, pid: i32, sig: u32) -> Result<usize> {
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    let me = &t.process;
    let targets: Vec<_> = all_processes(t)
        .into_iter()
        .filter(|p| p.exit_status.lock().is_none())
        .filter(|p| match pid {
            0 => p.pgid.load(Ordering::Relaxed) == me.pgid.load(Ordering::Relaxed),
            -1 => p.pid != 1 && p.pid != me.pid,
            n if n < -1 => p.pgid.load(Ordering::Relaxed) == n.unsigned_abs(),
            n => p.pid == n as u32,
        })
        .collect();
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    if sig == 0 {
        return Ok(0);
    }
    for p in targets {
        let action = p.actions.lock()[sig as usize - 1].handler;
        let fatal =
            sig == 9 || (action == 0 && !ignored_by_default(sig) && !matches!(sig, 18..=22));
        if fatal && p.pid != 1 {
            p.fatal_signal.store(sig, Ordering::Release);
            log::debug!("pid {}: signal {sig} ends it", p.pid);
        }
    }
    Ok(0)
}
