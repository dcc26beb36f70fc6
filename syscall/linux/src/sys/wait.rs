//! wait4, waitid, and process groups and sessions: getppid, setpgid, getpgid, setsid, getsid,
//! kill.

use crate::kernel::Kernel;
use crate::process::{Process, Task};
use crate::signal::{self, SigInfo, WaitEvent};
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
const SIGCHLD: i32 = signal::SIGCHLD as i32;

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

/// What wait reports about a child.
struct Report {
    pid: u32,
    /// Wait status as wait4 writes it.
    status: i32,
    /// siginfo `si_code` and `si_status` for waitid.
    code: i32,
    value: i32,
    /// (user, system) nanoseconds of an exited child, with its reaped children's (rusage).
    cpu: (u64, u64),
}

/// Wait for a matching child to exit (or, with WUNTRACED/WCONTINUED, stop or continue);
/// `None` with WNOHANG when none has.
fn wait_child<K: Kernel>(t: &Arc<Task<K>>, target: Target, options: u32) -> Result<Option<Report>> {
    let p = &t.process;
    let reap = options & WNOWAIT == 0;
    let r = p.child_exit.wait_until(K::sched(), None, || {
        // The signal first: a child's exit is visible before its SIGCHLD is sent, so a
        // SIGCHLD seen here comes with a zombie the scan below finds (the check runs with
        // interrupts on, so the child may exit between the two).
        let interrupted = signal::interrupted(&**t);
        let r = check_children(p, target, options, reap);
        match r {
            Ok(None) if options & WNOHANG == 0 && interrupted => Some(Err(Errno::EINTR)),
            Ok(None) if options & WNOHANG == 0 => None,
            r => Some(r),
        }
    });
    r.unwrap_or(Err(Errno::EINTR))
}

/// One look at the children for [`wait_child`].
fn check_children<K: Kernel>(
    p: &Process<K>,
    target: Target,
    options: u32,
    reap: bool,
) -> Result<Option<Report>> {
    {
        let mut children = p.children.lock();
        if !children.iter().any(|c| target.matches(&**c)) {
            return Err(Errno::ECHILD);
        }
        for i in 0..children.len() {
            let c = children[i].clone();
            if !target.matches(&*c) {
                continue;
            }
            let exited = *c.exit_status.lock();
            if options & WEXITED != 0
                && let Some(status) = exited
            {
                if reap {
                    children.remove(i);
                    crate::cputime::reaped(&p.cpu, &c.cpu);
                }
                let (code, value) = match (status & 0x7f, status & 0x80) {
                    (0, _) => (signal::CLD_EXITED, (status >> 8) & 0xff),
                    (s, 0) => (signal::CLD_KILLED, s),
                    (s, _) => (signal::CLD_DUMPED, s),
                };
                return Ok(Some(Report {
                    pid: c.pid,
                    status,
                    code,
                    value,
                    cpu: crate::cputime::exited_times(&c.cpu),
                }));
            }
            let mut ev = c.wait_event.lock();
            let report = match *ev {
                Some(WaitEvent::Stopped(sig)) if options & WUNTRACED != 0 => Report {
                    pid: c.pid,
                    status: ((sig as i32) << 8) | 0x7f,
                    code: signal::CLD_STOPPED,
                    value: sig as i32,
                    cpu: (0, 0),
                },
                Some(WaitEvent::Continued) if options & WCONTINUED != 0 => Report {
                    pid: c.pid,
                    status: 0xffff,
                    code: signal::CLD_CONTINUED,
                    value: signal::SIGCONT as i32,
                    cpu: (0, 0),
                },
                _ => continue,
            };
            if reap {
                *ev = None;
            }
            return Ok(Some(report));
        }
        Ok(None)
    }
}

pub fn wait4<K: Kernel>(
    t: &Arc<Task<K>>,
    pid: i32,
    wstatus: u64,
    options: u32,
    rusage: u64,
) -> Result<usize> {
    let p = &t.process;
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
    let Some(r) = wait_child(t, target, options | WEXITED)? else {
        return Ok(0);
    };
    if wstatus != 0 {
        p.user().write_u32(wstatus, r.status as u32)?;
    }
    if rusage != 0 {
        p.user()
            .write(rusage, &super::time::rusage_bytes(r.cpu.0, r.cpu.1, 0))?;
    }
    Ok(r.pid as usize)
}

pub fn waitid<K: Kernel>(
    t: &Arc<Task<K>>,
    idtype: u32,
    id: u32,
    infop: u64,
    options: u32,
) -> Result<usize> {
    let p = &t.process;
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
    let r = wait_child(t, target, options)?;
    if infop != 0 {
        let mut info = [0u8; 128];
        if let Some(r) = r {
            info[0..4].copy_from_slice(&SIGCHLD.to_le_bytes());
            info[8..12].copy_from_slice(&r.code.to_le_bytes());
            info[16..20].copy_from_slice(&r.pid.to_le_bytes());
            info[24..28].copy_from_slice(&r.value.to_le_bytes());
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

pub(crate) fn all_processes<K: Kernel>(t: &Arc<Task<K>>) -> Vec<Arc<Process<K>>> {
    signal::all_processes(&t.process)
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

/// `kill`: `pid` > 0 one process, 0 the caller's group, -1 everyone it may signal but PID 1
/// and itself, < -1 group -pid.
pub fn kill<K: Kernel>(t: &Arc<Task<K>>, pid: i32, sig: u32) -> Result<usize> {
    signal::check_sig(sig)?;
    let me = &t.process;
    let targets: Vec<_> = all_processes(t)
        .into_iter()
        .filter(|p| p.exit_status.lock().is_none())
        .filter(|p| match pid {
            0 => p.pgid.load(Ordering::Relaxed) == me.pgid.load(Ordering::Relaxed),
            -1 => p.pid != 1 && p.pid != me.pid,
            i32::MIN => false,
            n if n < -1 => p.pgid.load(Ordering::Relaxed) == n.unsigned_abs(),
            n => p.pid == n as u32,
        })
        .collect();
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    // Linux: a group is EPERM only if no member could be signalled; -1 says 0 regardless.
    let mut sent = false;
    for p in targets {
        if !may_signal(me, &p, sig) {
            continue;
        }
        sent = true;
        if sig != 0 {
            signal::send_process(&p, user_info(me, sig, signal::SI_USER));
        }
    }
    if sent || pid == -1 {
        Ok(0)
    } else {
        Err(Errno::EPERM)
    }
}

/// Linux's `check_kill_permission` for a signal from user space: the credentials rule
/// (`Creds::may_signal`), or SIGCONT within the sender's session.
fn may_signal<K: Kernel>(me: &Process<K>, target: &Process<K>, sig: u32) -> bool {
    me.creds().may_signal(&target.creds())
        || (sig == signal::SIGCONT
            && target.sid.load(Ordering::Relaxed) == me.sid.load(Ordering::Relaxed))
}

/// A `kill`/`tgkill` siginfo: the sender's pid and real uid.
fn user_info<K: Kernel>(me: &Process<K>, sig: u32, code: i32) -> SigInfo {
    SigInfo {
        uid: me.creds().uid,
        ..SigInfo::user(sig, code, me.pid)
    }
}

/// `tgkill` (and `tkill` with `tgid` = None): one thread.
pub fn tgkill<K: Kernel>(t: &Arc<Task<K>>, tgid: Option<i32>, tid: i32, sig: u32) -> Result<usize> {
    signal::check_sig(sig)?;
    if tid <= 0 || tgid.is_some_and(|g| g <= 0) {
        return Err(Errno::EINVAL);
    }
    let target = all_processes(t)
        .into_iter()
        .filter(|p| tgid.is_none_or(|g| p.pid == g as u32))
        .find_map(|p| {
            p.threads
                .lock()
                .iter()
                .find(|th| th.tid() == tid as u32)
                .cloned()
        })
        .ok_or(Errno::ESRCH)?;
    if !may_signal(&t.process, &target.process, sig) {
        return Err(Errno::EPERM);
    }
    if sig != 0 {
        signal::send_thread(&target, user_info(&t.process, sig, signal::SI_TKILL));
    }
    Ok(0)
}

/// The siginfo a `rt_sigqueueinfo`/`rt_tgsigqueueinfo` caller supplies, for signal `sig`.
/// Like Linux, a process may not forge kernel-made or `tkill` codes when signalling anyone
/// but itself (EPERM).
fn user_siginfo<K: Kernel>(t: &Arc<Task<K>>, sig: u32, uinfo: u64, target: u32) -> Result<SigInfo> {
    let b = t.process.user().read_vec(uinfo, 32)?;
    let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let code = word(8) as i32;
    if (code >= 0 || code == signal::SI_TKILL) && target != t.process.pid {
        return Err(Errno::EPERM);
    }
    Ok(SigInfo {
        signo: sig,
        code,
        pid: word(16),
        uid: word(20),
        value: u64::from(word(24)) | (u64::from(word(28)) << 32),
        ..SigInfo::default()
    })
}

/// rt_sigqueueinfo: queue `sig` with the caller's siginfo (its `si_value`) to process `pid`;
/// EAGAIN when the target's real-time queue is full.
pub fn rt_sigqueueinfo<K: Kernel>(
    t: &Arc<Task<K>>,
    pid: i32,
    sig: u32,
    uinfo: u64,
) -> Result<usize> {
    signal::check_sig(sig)?;
    if pid <= 0 {
        return Err(Errno::ESRCH);
    }
    let target = find(t, pid as u32)
        .filter(|p| p.exit_status.lock().is_none())
        .ok_or(Errno::ESRCH)?;
    let info = user_siginfo(t, sig, uinfo, target.pid)?;
    if !may_signal(&t.process, &target, sig) {
        return Err(Errno::EPERM);
    }
    if sig != 0 {
        signal::queue_process(&target, info)?;
    }
    Ok(0)
}

/// rt_tgsigqueueinfo: the same for thread `tid` of process `tgid`.
pub fn rt_tgsigqueueinfo<K: Kernel>(
    t: &Arc<Task<K>>,
    tgid: i32,
    tid: i32,
    sig: u32,
    uinfo: u64,
) -> Result<usize> {
    signal::check_sig(sig)?;
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let p = find(t, tgid as u32).ok_or(Errno::ESRCH)?;
    let thread = p
        .threads
        .lock()
        .iter()
        .find(|th| th.tid() == tid as u32)
        .cloned()
        .ok_or(Errno::ESRCH)?;
    let info = user_siginfo(t, sig, uinfo, p.pid)?;
    if !may_signal(&t.process, &p, sig) {
        return Err(Errno::EPERM);
    }
    if sig != 0 {
        signal::queue_thread(&thread, info)?;
    }
    Ok(0)
}
