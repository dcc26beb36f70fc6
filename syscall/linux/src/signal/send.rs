//! Sending signals: queueing into a pending set, what sending does at once (Linux's
//! `prepare_signal`), waking a thread that can take it, and telling a parent.

use super::{
    CLD_CONTINUED, CLD_DUMPED, CLD_EXITED, CLD_KILLED, DefaultAction, SA_NOCLDSTOP, SIG_DFL,
    SIG_IGN, SIGCHLD, SIGCONT, SIGKILL, STOP_SIGNALS, SigInfo, WaitEvent, bit, default_action,
};
use crate::kernel::Kernel;
use crate::process::{Process, Task};
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use arch_api::Arch;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};

/// Whether `sig` sent now would be thrown away (ignored, and no thread could want it later
/// through a blocked mask: Linux discards ignored signals at sending time unless blocked).
/// A default-action SIGCONT counts as ignored too (Linux's `sig_kernel_ignore`): its work,
/// resuming the process, is done at sending time, and queueing it would cut short a sleep.
pub(crate) fn ignored<K: Kernel>(p: &Process<K>, sig: u32) -> bool {
    let handler = p.actions.lock()[sig as usize - 1].handler;
    handler == SIG_IGN
        || (handler == SIG_DFL
            && matches!(
                default_action(sig),
                DefaultAction::Ign | DefaultAction::Cont
            ))
}

/// Scheduler threads woken for a signal since they last returned to user mode, for waits
/// that cannot see their task (the VFS's blocking paths ask [`kicked`]). Only touched with
/// interrupts masked (see [`with_kicked`]).
static KICKED: spin::Mutex<Vec<u64>> = spin::Mutex::new(Vec::new());

/// Use [`KICKED`] with interrupts masked: kicks come from sections that already mask them
/// (holding an `IrqSpinLock`), and a holder preempted with the lock would make those spin
/// forever on one CPU.
fn with_kicked<K: Kernel, R>(f: impl FnOnce(&mut Vec<u64>) -> R) -> R {
    let was = K::Arch::irq_save_disable();
    let r = f(&mut KICKED.lock());
    K::Arch::irq_restore(was);
    r
}

/// Wake `t` if it sleeps in an interruptible wait; it re-checks
/// [`interrupted`](super::interrupted). Also makes its next [`deliver`](super::deliver) look at
/// everything (the caller changed what it checks first: queued a signal, set `group_exit`,
/// `stopped` or `zapped`).
pub fn kick<K: Kernel>(t: &Task<K>) {
    let thread = t.thread.get();
    if let Some(th) = thread {
        with_kicked::<K, _>(|k| {
            if !k.contains(&th.id()) {
                k.push(th.id());
            }
        });
    }
    // After the caller's change and after the KICKED entry: `deliver_slow` clears the flag
    // first and then looks (and drops the entry), so either it sees the change or the flag
    // stays set for the next return, and an entry never outlives a clear flag. A task not
    // started yet has the flag set from birth.
    t.attention.store(true, Ordering::SeqCst);
    if let Some(th) = thread {
        K::sched().wake(th);
    }
}

/// Whether the calling thread was woken for a signal (or exit, or stop) since it last returned
/// to user mode: a blocking syscall then gives up with EINTR (restarted if nothing is
/// delivered and the call is restartable).
pub fn kicked<K: Kernel>() -> bool {
    K::sched()
        .current()
        .is_some_and(|me| with_kicked::<K, _>(|k| k.contains(&me.id())))
}

pub(super) fn unkick<K: Kernel>(task: &Task<K>) {
    if let Some(th) = task.thread.get() {
        with_kicked::<K, _>(|k| k.retain(|&id| id != th.id()));
    }
}

/// Queue `info` for the whole process and wake a thread that can take it.
pub fn send_process<K: Kernel>(p: &Arc<Process<K>>, info: SigInfo) {
    let _ = queue_process(p, info);
}

/// [`send_process`], saying `EAGAIN` when a real-time signal finds the queue full.
pub fn queue_process<K: Kernel>(p: &Arc<Process<K>>, info: SigInfo) -> Result<()> {
    if !prepare(p, info.signo) {
        return Ok(());
    }
    if !p.shared_pending.lock().add(info) {
        return Err(Errno::EAGAIN);
    }
    let threads = p.threads.lock().clone();
    let b = bit(info.signo);
    // Prefer a thread that does not block it; a blocked signal stays pending for later.
    if let Some(t) = threads
        .iter()
        .find(|t| t.sigmask.load(Ordering::Relaxed) & b == 0)
    {
        kick(t);
    }
    Ok(())
}

/// Queue `info` for one thread.
pub fn send_thread<K: Kernel>(t: &Arc<Task<K>>, info: SigInfo) {
    let _ = queue_thread(t, info);
}

/// [`send_thread`], saying `EAGAIN` when a real-time signal finds the queue full.
pub fn queue_thread<K: Kernel>(t: &Arc<Task<K>>, info: SigInfo) -> Result<()> {
    if !prepare(&t.process, info.signo) {
        return Ok(());
    }
    if !t.pending.lock().add(info) {
        return Err(Errno::EAGAIN);
    }
    kick(t);
    Ok(())
}

/// What sending does before queueing (Linux's `prepare_signal`): SIGKILL ends the process at
/// once, SIGCONT resumes a stopped process and drops pending stops, a stop signal drops a
/// pending SIGCONT. Returns whether the signal should be queued.
fn prepare<K: Kernel>(p: &Arc<Process<K>>, sig: u32) -> bool {
    if p.exit_status.lock().is_some() || p.group_exit.lock().is_some() {
        return false;
    }
    if sig == SIGKILL {
        start_group_exit(p, SIGKILL as i32);
        return false;
    }
    if bit(sig) & STOP_SIGNALS != 0 {
        p.shared_pending.lock().remove_mask(bit(SIGCONT));
        for t in p.threads.lock().iter() {
            t.pending.lock().remove_mask(bit(SIGCONT));
        }
    }
    if sig == SIGCONT {
        p.shared_pending.lock().remove_mask(STOP_SIGNALS);
        for t in p.threads.lock().iter() {
            t.pending.lock().remove_mask(STOP_SIGNALS);
        }
        if p.stopped.swap(false, Ordering::AcqRel) {
            *p.wait_event.lock() = Some(WaitEvent::Continued);
            notify_parent(p, CLD_CONTINUED, SIGCONT as i32);
            p.stop_wait.wake_all(K::sched());
        }
    }
    // Ignored signals are dropped unless some thread blocks them (it may unblock them after
    // changing the action).
    if ignored(p, sig) {
        let blocked_somewhere = p
            .threads
            .lock()
            .iter()
            .any(|t| t.sigmask.load(Ordering::Relaxed) & bit(sig) != 0);
        return blocked_somewhere;
    }
    true
}

/// Make every thread of `p` end; the last one to go reports `status` as the wait status.
pub fn start_group_exit<K: Kernel>(p: &Process<K>, status: i32) {
    {
        let mut g = p.group_exit.lock();
        if g.is_none() {
            *g = Some(status);
        }
    }
    p.stopped.store(false, Ordering::Release);
    p.stop_wait.wake_all(K::sched());
    for t in p.threads.lock().iter() {
        kick(t);
    }
}

/// Tell `p`'s parent that `p` exited, stopped or continued: SIGCHLD (unless ignored or, for
/// stop/continue, SA_NOCLDSTOP) and a wake-up of its wait4.
pub fn notify_parent<K: Kernel>(p: &Process<K>, code: i32, status: i32) {
    let Some(parent) = p.parent.lock().as_ref().and_then(Weak::upgrade) else {
        return;
    };
    let flags = parent.actions.lock()[SIGCHLD as usize - 1].flags;
    if code == CLD_EXITED || code == CLD_KILLED || code == CLD_DUMPED || flags & SA_NOCLDSTOP == 0 {
        let info = SigInfo {
            signo: SIGCHLD,
            code,
            pid: p.pid,
            status,
            ..SigInfo::default()
        };
        send_process(&parent, info);
    }
    parent.child_exit.wake_all(K::sched());
}
