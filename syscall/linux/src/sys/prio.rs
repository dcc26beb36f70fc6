//! getpriority, setpriority, the sched_get* policy queries, ioprio_get/ioprio_set and
//! personality: per-process scheduling knobs (recorded and reported; the scheduler is plain
//! round robin for now) and the execution domain.

use super::wait::all_processes;
use crate::kernel::Kernel;
use crate::process::{Process, Task};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};

const PRIO_PROCESS: u32 = 0;
const PRIO_PGRP: u32 = 1;
const PRIO_USER: u32 = 2;
/// The only policy this scheduler has.
const SCHED_OTHER: usize = 0;
const SCHED_FIFO: u32 = 1;
const SCHED_RR: u32 = 2;
const SCHED_BATCH: u32 = 3;
const SCHED_IDLE: u32 = 5;
const SCHED_DEADLINE: u32 = 6;
/// `personality(0xffffffff)` only reads the current value.
const PER_QUERY: u32 = 0xffff_ffff;
/// The execution domain part of the personality word (`PER_MASK`).
const PER_MASK: u32 = 0xff;
/// `PER_LINUX32`: `uname` reports the 32-bit machine.
const PER_LINUX32: u32 = 0x0008;

/// The processes `which`/`who` name for get/setpriority; `who == 0` means the caller's own.
fn targets<K: Kernel>(t: &Arc<Task<K>>, which: u32, who: u32) -> Result<Vec<Arc<Process<K>>>> {
    let me = &t.process;
    let all = all_processes(t);
    let live = |p: &&Arc<Process<K>>| p.exit_status.lock().is_none();
    let chosen: Vec<_> = match which {
        PRIO_PROCESS if who == 0 => alloc::vec![me.clone()],
        PRIO_PROCESS => all
            .iter()
            .filter(live)
            .filter(|p| p.pid == who)
            .cloned()
            .collect(),
        PRIO_PGRP => {
            let pgid = if who == 0 {
                me.pgid.load(Ordering::Relaxed)
            } else {
                who
            };
            all.iter()
                .filter(live)
                .filter(|p| p.pgid.load(Ordering::Relaxed) == pgid)
                .cloned()
                .collect()
        }
        PRIO_USER => {
            let uid = if who == 0 { me.creds().uid } else { who };
            all.iter()
                .filter(live)
                .filter(|p| p.creds().uid == uid)
                .cloned()
                .collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if chosen.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(chosen)
}

/// getpriority: the raw syscall returns `20 - nice` of the most favoured target (1..=40), so
/// that no success looks like an error; libc turns it back.
pub fn getpriority<K: Kernel>(t: &Arc<Task<K>>, which: u32, who: u32) -> Result<usize> {
    let best = targets(t, which, who)?
        .iter()
        .map(|p| p.traits.nice.load(Ordering::Relaxed))
        .min()
        .unwrap_or(0);
    Ok((20 - best) as usize)
}

/// setpriority, as Linux's `set_one_prio` for each target: EPERM unless the caller's real or
/// effective uid is the target's real uid or the caller is privileged (`CAP_SYS_NICE`),
/// EACCES for lowering nice unprivileged (`RLIMIT_NICE` is 0); the last failure is reported.
pub fn setpriority<K: Kernel>(t: &Arc<Task<K>>, which: u32, who: u32, nice: i32) -> Result<usize> {
    let nice = nice.clamp(-20, 19);
    let me = t.process.creds();
    let mut result = Err(Errno::ESRCH);
    for p in targets(t, which, who)? {
        let owner = p.creds().uid;
        if !me.privileged() && owner != me.uid && owner != me.euid {
            result = Err(Errno::EPERM);
        } else if !me.privileged() && nice < p.traits.nice.load(Ordering::Relaxed) {
            result = Err(Errno::EACCES);
        } else {
            p.traits.nice.store(nice, Ordering::Relaxed);
            if result == Err(Errno::ESRCH) {
                result = Ok(0);
            }
        }
    }
    result
}

/// The process `pid` names for the sched_* and ioprio calls (0: the caller).
fn one<K: Kernel>(t: &Arc<Task<K>>, pid: i32) -> Result<Arc<Process<K>>> {
    match pid {
        0 => Ok(t.process.clone()),
        p if p < 0 => Err(Errno::EINVAL),
        p => all_processes(t)
            .into_iter()
            .find(|q| q.pid == p as u32 && q.exit_status.lock().is_none())
            .ok_or(Errno::ESRCH),
    }
}

pub fn sched_getscheduler<K: Kernel>(t: &Arc<Task<K>>, pid: i32) -> Result<usize> {
    one(t, pid).map(|_| SCHED_OTHER)
}

/// sched_getparam: `struct sched_param { int sched_priority; }`, 0 under SCHED_OTHER.
pub fn sched_getparam<K: Kernel>(t: &Arc<Task<K>>, pid: i32, param: u64) -> Result<usize> {
    if param == 0 {
        return Err(Errno::EINVAL);
    }
    one(t, pid)?;
    t.process.user().write(param, &0i32.to_le_bytes())?;
    Ok(0)
}

/// The priority range of `policy`, Linux's: 1..=99 for the real-time ones, 0 otherwise.
pub fn sched_priority_range(policy: u32, max: bool) -> Result<usize> {
    match policy {
        SCHED_FIFO | SCHED_RR => Ok(if max { 99 } else { 1 }),
        0 | SCHED_BATCH | SCHED_IDLE | SCHED_DEADLINE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

const IOPRIO_WHO_PROCESS: u32 = 1;
const IOPRIO_WHO_PGRP: u32 = 2;
const IOPRIO_WHO_USER: u32 = 3;

/// ioprio_get/ioprio_set's `which` as get/setpriority's.
fn io_which(which: u32) -> Result<u32> {
    match which {
        IOPRIO_WHO_PROCESS => Ok(PRIO_PROCESS),
        IOPRIO_WHO_PGRP => Ok(PRIO_PGRP),
        IOPRIO_WHO_USER => Ok(PRIO_USER),
        _ => Err(Errno::EINVAL),
    }
}

/// ioprio_get: the highest priority among the targets (0: none set, `IOPRIO_CLASS_NONE`).
pub fn ioprio_get<K: Kernel>(t: &Arc<Task<K>>, which: u32, who: u32) -> Result<usize> {
    let procs = targets(t, io_which(which)?, who)?;
    Ok(procs
        .iter()
        .map(|p| p.traits.ioprio.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0) as usize)
}

/// ioprio_set: class in bits 13..16 (none, RT, best effort, idle), level 0..=7 below.
pub fn ioprio_set<K: Kernel>(t: &Arc<Task<K>>, which: u32, who: u32, ioprio: u32) -> Result<usize> {
    let class = ioprio >> 13;
    let level = ioprio & 0x1fff;
    if class > 3 || (class != 0 && level > 7) {
        return Err(Errno::EINVAL);
    }
    for p in targets(t, io_which(which)?, who)? {
        p.traits.ioprio.store(ioprio, Ordering::Relaxed);
    }
    Ok(0)
}

/// personality: set the word (unless it is the query value) and return the old one. Like
/// Linux, any word is accepted; `PER_LINUX32` is the one with an effect (`uname`).
pub fn personality<K: Kernel>(p: &Process<K>, persona: u32) -> Result<usize> {
    let old = p.traits.personality.load(Ordering::Relaxed);
    if persona != PER_QUERY {
        p.traits.personality.store(persona, Ordering::Relaxed);
    }
    Ok(old as usize)
}

/// Whether `p` runs in the 32-bit execution domain (`linux32`).
pub fn linux32<K: Kernel>(p: &Process<K>) -> bool {
    p.traits.personality.load(Ordering::Relaxed) & PER_MASK == PER_LINUX32
}
