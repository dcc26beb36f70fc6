//! Signals: pending sets per thread and per process, sending, and delivery on the way back to
//! user mode (default actions, handlers with the arch's Linux signal frame, stop/continue).

mod frame;
mod pending;
mod send;

use crate::exec::elf::Machine;
use crate::kernel::Kernel;
use crate::process::{Process, Regs, Task};
use alloc::boxed::Box;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use arch_api::{Arch, UserContext};
use core::any::Any;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result, Sysno};

pub use frame::sigreturn;
pub use pending::{PendingLock, SavedMask};
pub(crate) use send::ignored;
use send::unkick;
pub use send::{
    kick, kicked, notify_parent, queue_process, queue_thread, send_process, send_thread,
    start_group_exit,
};

pub const SIGKILL: u32 = 9;
pub const SIGSEGV: u32 = 11;
pub const SIGPIPE: u32 = 13;
pub const SIGCHLD: u32 = 17;
pub const SIGCONT: u32 = 18;
pub const SIGSTOP: u32 = 19;
pub const SIGTSTP: u32 = 20;
pub const SIGTTIN: u32 = 21;
pub const SIGTTOU: u32 = 22;

pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `si_code` values (asm-generic/siginfo.h).
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_DUMPED: i32 = 3;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// SIGKILL and SIGSTOP can be neither blocked, caught nor ignored.
pub const UNBLOCKABLE: u64 = bit(SIGKILL) | bit(SIGSTOP);
const STOP_SIGNALS: u64 = bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU);

pub const fn bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// What a pending signal carries into `siginfo_t`.
#[derive(Clone, Copy, Default, Debug)]
pub struct SigInfo {
    pub signo: u32,
    pub code: i32,
    pub pid: u32,
    pub uid: u32,
    /// Fault address (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP).
    pub addr: u64,
    /// SIGCHLD: exit code or signal.
    pub status: i32,
    /// `si_value` of a queued signal (`sigqueue`), at offset 24 like SIGCHLD's status.
    pub value: u64,
}

impl SigInfo {
    pub fn user(signo: u32, code: i32, pid: u32) -> Self {
        Self {
            signo,
            code,
            pid,
            ..Self::default()
        }
    }

    pub fn fault(signo: u32, code: i32, addr: u64) -> Self {
        Self {
            signo,
            code,
            addr,
            ..Self::default()
        }
    }

    /// Linux's 128-byte `siginfo_t` (same layout on both arches).
    pub fn to_bytes(self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&self.signo.to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        if is_fault(self.signo) && self.code > 0 {
            b[16..24].copy_from_slice(&self.addr.to_le_bytes());
        } else {
            b[16..20].copy_from_slice(&self.pid.to_le_bytes());
            b[20..24].copy_from_slice(&self.uid.to_le_bytes());
            if self.signo == SIGCHLD {
                b[24..28].copy_from_slice(&self.status.to_le_bytes());
            } else {
                b[24..32].copy_from_slice(&self.value.to_le_bytes());
            }
        }
        b
    }
}

fn is_fault(sig: u32) -> bool {
    matches!(sig, 4 | 5 | 7 | 8 | 11)
}

/// Default actions (signal(7)).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DefaultAction {
    Term,
    Core,
    Stop,
    Cont,
    Ign,
}

pub fn default_action(sig: u32) -> DefaultAction {
    match sig {
        3 | 4 | 5 | 6 | 7 | 8 | 11 | 24 | 25 | 31 => DefaultAction::Core,
        SIGCHLD | 23 | 28 => DefaultAction::Ign,
        SIGCONT => DefaultAction::Cont,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        _ => DefaultAction::Term,
    }
}

/// Whether a blocking syscall of `t` must give up (EINTR): a signal it does not block is
/// pending, the process is exiting or stopping, or a sibling's execve ends this thread.
pub fn interrupted<K: Kernel>(t: &Task<K>) -> bool {
    let p = &t.process;
    if p.group_exit.lock().is_some()
        || p.stopped.load(Ordering::Acquire)
        || t.zapped.load(Ordering::Acquire)
    {
        return true;
    }
    let blocked = t.sigmask.load(Ordering::Relaxed);
    (t.pending.bits() | p.shared_pending.bits()) & !blocked != 0
}

/// A change a parent's wait4 reports besides death.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitEvent {
    Stopped(u32),
    Continued,
}

/// The syscall a thread returns from, for restarting it after a signal.
#[derive(Clone, Copy)]
pub struct Interrupted {
    pub nr: usize,
    pub arg0: usize,
}

/// Run before every return to user mode: act on pending signals. Returns the process's wait
/// status when this thread must end (exit_group, a fatal signal). The quick check is inlined
/// into the run loop (a call and return cost ~10-20 ns each under TCG).
#[inline(always)]
pub fn deliver<K: Kernel>(
    task: &Arc<Task<K>>,
    regs: &mut Regs<K>,
    restart: Option<Interrupted>,
) -> Option<i32> {
    if restart.is_none() && quiet(task) {
        return None;
    }
    deliver_slow(task, regs, restart)
}

/// Whether [`deliver`] has nothing to do, from atomics only (the common return from a
/// syscall): no kick since the last full look (kicks come with every group exit, stop,
/// execve zap and signal sent to a thread that does not block it), no mask to restore, not
/// stopped, and no pending signal the thread does not block. Signals pending but blocked
/// (SIGCHLD in a shell) keep it quiet; the mask is the thread's own, so an unblocking
/// sigprocmask or sigreturn is seen at the next return.
#[inline(always)]
fn quiet<K: Kernel>(task: &Task<K>) -> bool {
    let p = &task.process;
    !task.attention.load(Ordering::Acquire)
        && !task.saved_mask.is_set()
        && !p.stopped.load(Ordering::Acquire)
        && !task.zapped.load(Ordering::Acquire)
        && (task.pending.bits() | p.shared_pending.bits()) & !task.sigmask.load(Ordering::Relaxed)
            == 0
}

/// [`deliver`] with locks: everything that may be pending is looked at.
#[inline(never)]
fn deliver_slow<K: Kernel>(
    task: &Arc<Task<K>>,
    regs: &mut Regs<K>,
    mut restart: Option<Interrupted>,
) -> Option<i32> {
    let p = &task.process;
    // Clear before looking (a kick after this sets it again for the next return), then drop
    // this thread's KICKED entry (see `kick` for the order).
    task.attention.swap(false, Ordering::SeqCst);
    unkick(task);
    loop {
        if let Some(status) = *p.group_exit.lock() {
            return Some(status);
        }
        if task.zapped.load(Ordering::Acquire) {
            // A sibling's execve: this thread goes quietly (the process lives on).
            return Some(0);
        }
        if p.stopped.load(Ordering::Acquire) {
            p.stop_wait.wait_until(K::sched(), None, || {
                (!p.stopped.load(Ordering::Acquire) || p.group_exit.lock().is_some()).then_some(())
            });
            continue;
        }
        let blocked = task.sigmask.load(Ordering::Relaxed);
        let taken = task.pending.lock().take(blocked);
        let Some(info) = taken.or_else(|| p.shared_pending.lock().take(blocked)) else {
            // Nothing to do: an interrupted restartable syscall runs again, and the mask
            // rt_sigsuspend replaced comes back.
            if let Some(r) = restart {
                regs.restart_syscall(r.nr, r.arg0);
            }
            if let Some(m) = task.saved_mask.lock().take() {
                task.sigmask.store(m, Ordering::Relaxed);
            }
            return None;
        };
        let sig = info.signo;
        let action = p.actions.lock()[sig as usize - 1];
        match action.handler {
            SIG_IGN => continue,
            SIG_DFL => match default_action(sig) {
                DefaultAction::Ign | DefaultAction::Cont => continue,
                DefaultAction::Stop => {
                    stop_process(p, sig);
                    continue;
                }
                DefaultAction::Term => {
                    start_group_exit(p, sig as i32);
                    return Some(sig as i32);
                }
                DefaultAction::Core => {
                    start_group_exit(p, sig as i32 | 0x80);
                    return Some(sig as i32 | 0x80);
                }
            },
            _ => {}
        }
        // A handler runs: an interrupted syscall returns EINTR unless SA_RESTART.
        if let Some(r) = restart.take()
            && action.flags & SA_RESTART != 0
        {
            regs.restart_syscall(r.nr, r.arg0);
        }
        if action.flags & SA_RESETHAND != 0 {
            p.actions.lock()[sig as usize - 1] = crate::process::SigAction::default();
        }
        // After rt_sigsuspend the handler returns to the mask from before it.
        let oldmask = task.saved_mask.lock().take().unwrap_or(blocked);
        match frame::setup::<K>(task, regs, &info, &action, oldmask) {
            Ok(()) => {
                let mut mask = oldmask | action.mask;
                if action.flags & SA_NODEFER == 0 {
                    mask |= bit(sig);
                }
                task.sigmask.store(mask & !UNBLOCKABLE, Ordering::Relaxed);
                return None;
            }
            Err(e) => {
                // No room for the frame: Linux forces SIGSEGV, which kills.
                log::info!(
                    "pid {}: cannot deliver signal {sig} ({e}): killed by SIGSEGV",
                    p.pid
                );
                start_group_exit(p, SIGSEGV as i32 | 0x80);
                return Some(SIGSEGV as i32 | 0x80);
            }
        }
    }
}

/// A stop signal's default action: the process stops until SIGCONT or SIGKILL.
fn stop_process<K: Kernel>(p: &Process<K>, sig: u32) {
    if p.pid == 1 {
        // Like Linux, init does not get stopped by signals it does not handle.
        return;
    }
    if !p.stopped.swap(true, Ordering::AcqRel) {
        *p.wait_event.lock() = Some(WaitEvent::Stopped(sig));
        notify_parent(p, CLD_STOPPED, sig as i32);
        for t in p.threads.lock().iter() {
            kick(t);
        }
    }
}

/// A fault user code cannot go on from: queue the signal for the thread, forcing it through
/// (Linux's `force_sig_fault`): if blocked or ignored, the default action (death) is taken.
pub fn force_fault<K: Kernel>(task: &Arc<Task<K>>, info: SigInfo) {
    let p = &task.process;
    let b = bit(info.signo);
    let handler = p.actions.lock()[info.signo as usize - 1].handler;
    let blocked = task.sigmask.load(Ordering::Relaxed) & b != 0;
    if blocked || handler == SIG_IGN {
        p.actions.lock()[info.signo as usize - 1] = crate::process::SigAction::default();
        task.sigmask.fetch_and(!b, Ordering::Relaxed);
    }
    let _ = task.pending.lock().add(info);
}

/// Every process, found from PID 1 down (`p` alone if it has no link to PID 1).
pub fn all_processes<K: Kernel>(p: &Arc<Process<K>>) -> Vec<Arc<Process<K>>> {
    let Some(init) = crate::process::find_init(p) else {
        return alloc::vec![p.clone()];
    };
    let mut out = Vec::new();
    let mut stack = alloc::vec![init];
    while let Some(p) = stack.pop() {
        stack.extend(p.children.lock().iter().cloned());
        out.push(p);
    }
    out
}

/// Check a signal number from user space (0 is "test only").
pub fn check_sig(sig: u32) -> Result<()> {
    if sig > 64 { Err(Errno::EINVAL) } else { Ok(()) }
}

/// Index of the syscall return register in [`UserContext::signal_reg`]'s order.
pub fn return_reg<K: Kernel>() -> usize {
    match K::MACHINE {
        Machine::X86_64 => 13,
        Machine::Aarch64 => 0,
    }
}

/// Syscalls Linux restarts after a signal when they were interrupted (ERESTARTSYS): always
/// when no handler ran, with a handler only under SA_RESTART. Others (pause, sigsuspend,
/// nanosleep, futex, poll) report EINTR, and so do KVM's ioctls (`KVM_RUN` returns a plain
/// EINTR on Linux); `arg1` is the ioctl command.
pub fn restartable<K: Kernel>(nr: usize, arg1: usize) -> bool {
    let s = match K::MACHINE {
        Machine::X86_64 => syscall::x86_64::sysno(nr),
        Machine::Aarch64 => syscall::aarch64::sysno(nr),
    };
    if s == Some(Sysno::ioctl) && hv::abi::ioctl::ty(arg1 as u32) == hv::abi::KVMIO {
        return false;
    }
    use Sysno::*;
    matches!(
        s,
        Some(
            read | readv
                | write
                | writev
                | pread64
                | pwrite64
                | wait4
                | waitid
                | ioctl
                | open
                | openat
                | sendfile
        )
    )
}

/// A write to a pipe or socket nobody reads (EPIPE) also raises SIGPIPE, as Linux's pipe
/// code does.
pub fn raise_sigpipe<K: Kernel>(task: &Arc<Task<K>>, nr: usize) {
    let s = match K::MACHINE {
        Machine::X86_64 => syscall::x86_64::sysno(nr),
        Machine::Aarch64 => syscall::aarch64::sysno(nr),
    };
    if matches!(
        s,
        Some(Sysno::write | Sysno::writev | Sysno::pwrite64 | Sysno::sendfile)
    ) {
        send_thread(task, SigInfo::user(SIGPIPE, SI_USER, task.process.pid));
    }
}

/// Block the calling thread until `cond` holds, `task` is [`interrupted`] (`Err(EINTR)`), or
/// tick `deadline` passes (`Ok(None)`). `cond` runs with interrupts enabled; a wake-up between
/// it and the block is not lost (see [`sched::Scheduler::prepare_wait`]).
pub fn wait_interruptible<K: Kernel, R>(
    task: &Task<K>,
    deadline: Option<u64>,
    mut cond: impl FnMut() -> Option<R>,
) -> Result<Option<R>> {
    loop {
        // Before the checks: a wake-up (or a signal's kick) after them ends the block at once.
        K::sched().prepare_wait();
        // The signal before the condition: whoever both satisfies it and signals (a child's
        // exit) does it in that order, so a signal seen here never hides a result.
        let signalled = interrupted(task);
        match cond() {
            Some(r) => return Ok(Some(r)),
            None if signalled => return Err(Errno::EINTR),
            None if deadline.is_some_and(|d| K::sched().ticks() >= d) => return Ok(None),
            None => K::sched().block_current(deadline),
        }
    }
}

/// PID 1, for sending signals from outside any process (the tty's ^C).
static INIT: spin::Mutex<Option<Box<dyn Any + Send + Sync>>> = spin::Mutex::new(None);

pub(crate) fn set_init<K: Kernel>(p: &Arc<Process<K>>) {
    *INIT.lock() = Some(Box::new(Arc::downgrade(p)));
    start_sender::<K>();
}

fn init<K: Kernel>() -> Option<Arc<Process<K>>> {
    INIT.lock()
        .as_ref()?
        .downcast_ref::<Weak<Process<K>>>()?
        .upgrade()
}

/// Group signals waiting for the sender thread: (pgid, sig). A fixed array, so that queueing
/// from an interrupt handler does not allocate; more than this many at once are dropped (a
/// terminal cannot produce them faster than the thread runs).
static DEFERRED: spin::Mutex<([(u32, u32); 32], usize)> = spin::Mutex::new(([(0, 0); 32], 0));
/// Wakes the sender thread (lock-free to call once set).
static SENDER: spin::Once<Box<dyn Fn() + Send + Sync>> = spin::Once::new();

/// Start the kernel thread that sends what [`signal_group`] queued (once, from thread context).
fn start_sender<K: Kernel>() {
    SENDER.call_once(|| {
        let thread = K::sched().spawn("signal-sender", || {
            loop {
                let was = K::Arch::irq_save_disable();
                let (batch, n) = {
                    let mut q = DEFERRED.lock();
                    let taken = *q;
                    q.1 = 0;
                    taken
                };
                if n == 0 {
                    // Masked since the check: a queueing interrupt comes after the block.
                    K::sched().block_current(None);
                }
                K::Arch::irq_restore(was);
                for &(pgid, sig) in &batch[..n] {
                    send_group_now::<K>(pgid, sig);
                }
            }
        });
        Box::new(move || K::sched().wake(&thread))
    });
}

/// Send `sig` to every process of process group `pgid` (the tty's ^C, ^Z, ^\\). Safe from
/// interrupt context: the request is queued and a kernel thread does the sending, since that
/// takes the process-tree locks an interrupted thread may hold.
pub fn signal_group<K: Kernel>(pgid: u32, sig: u32) {
    if sig == 0 || sig > 64 {
        return;
    }
    let was = K::Arch::irq_save_disable();
    {
        let mut q = DEFERRED.lock();
        let n = q.1;
        if n < q.0.len() {
            q.0[n] = (pgid, sig);
            q.1 = n + 1;
        }
    }
    K::Arch::irq_restore(was);
    if let Some(wake) = SENDER.get() {
        wake();
    }
}

pub(crate) fn send_group_now<K: Kernel>(pgid: u32, sig: u32) {
    let Some(init) = init::<K>() else { return };
    for p in all_processes(&init) {
        if p.pgid.load(Ordering::Relaxed) == pgid && p.exit_status.lock().is_none() {
            send_process(&p, SigInfo::user(sig, SI_KERNEL, 0));
        }
    }
}

/// Send `sig` to process `pid` now; false if there is no such living process. Thread context
/// only (it takes the process-tree locks).
pub fn signal_process<K: Kernel>(pid: u32, sig: u32) -> bool {
    let Some(init) = init::<K>() else {
        return false;
    };
    let Some(p) = all_processes(&init)
        .into_iter()
        .find(|p| p.pid == pid && p.exit_status.lock().is_none())
    else {
        return false;
    };
    if sig != 0 && sig <= 64 {
        send_process(&p, SigInfo::user(sig, SI_KERNEL, 0));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siginfo_layout() {
        let b = SigInfo::user(10, SI_TKILL, 42).to_bytes();
        assert_eq!(&b[0..4], &10u32.to_le_bytes());
        assert_eq!(&b[8..12], &SI_TKILL.to_le_bytes());
        assert_eq!(&b[16..20], &42u32.to_le_bytes());
        let b = SigInfo::fault(SIGSEGV, 1, 0xdead_0000).to_bytes();
        assert_eq!(&b[16..24], &0xdead_0000u64.to_le_bytes());
        let chld = SigInfo {
            status: 7,
            ..SigInfo::user(SIGCHLD, CLD_EXITED, 3)
        };
        assert_eq!(&chld.to_bytes()[24..28], &7i32.to_le_bytes());
    }

    #[test]
    fn default_actions() {
        assert_eq!(default_action(SIGKILL), DefaultAction::Term);
        assert_eq!(default_action(SIGSEGV), DefaultAction::Core);
        assert_eq!(default_action(SIGCHLD), DefaultAction::Ign);
        assert_eq!(default_action(SIGTSTP), DefaultAction::Stop);
        assert_eq!(default_action(SIGCONT), DefaultAction::Cont);
        assert_eq!(default_action(34), DefaultAction::Term);
    }
}
