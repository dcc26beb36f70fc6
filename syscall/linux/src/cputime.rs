//! CPU time: user and system time charged to threads on the timer tick, per-process sums, and
//! the CPU interval timers (`ITIMER_VIRTUAL`, `ITIMER_PROF`).
//!
//! Sampling, as Linux without `VIRT_CPU_ACCOUNTING`: every timer interrupt charges one tick
//! period to the thread it interrupted, as user time if the thread was in user mode (the run
//! loop sets [`ThreadCpu::in_user`] around `run_user`, and the interrupt is handled before
//! `run_user` returns), else as system time. Only user threads are charged: the kernel's tick
//! (`levitate/src/main.rs`) calls [`tick`] with the sched thread id, and [`RUNNING`] maps the
//! ids of running user threads to their counters.
//!
//! The CPU timers count down in the tick too; an expiry only sets a bit in
//! [`ProcCpu::fired`] (an interrupt handler must not take the locks signal delivery takes),
//! and the thread sends SIGVTALRM/SIGPROF itself before it next returns to user mode
//! ([`poll`]): a user tick returns through the run loop at once, a system tick at the end of
//! the syscall.

use crate::kernel::Kernel;
use crate::process::{Process, Task};
use crate::signal::{self, SigInfo};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use arch_api::Arch;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

pub const SIGVTALRM: u32 = 26;
pub const SIGPROF: u32 = 27;
/// Index of the virtual (user time) and profiling (user + system) timer in [`ProcCpu`].
pub const VIRTUAL: usize = 0;
pub const PROF: usize = 1;

/// One thread's CPU time, nanoseconds.
pub struct ThreadCpu {
    pub user_ns: AtomicU64,
    pub sys_ns: AtomicU64,
    /// Set while the thread runs user code.
    pub in_user: AtomicBool,
    pub process: Arc<ProcCpu>,
}

impl ThreadCpu {
    pub fn new(process: Arc<ProcCpu>) -> Arc<ThreadCpu> {
        Arc::new(ThreadCpu {
            user_ns: AtomicU64::new(0),
            sys_ns: AtomicU64::new(0),
            in_user: AtomicBool::new(false),
            process,
        })
    }
}

/// A CPU interval timer: nanoseconds of CPU time left (0: disarmed) and the reload.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct CpuTimer {
    pub left: u64,
    pub interval: u64,
}

/// A process's side: times of ended threads and reaped children, and its CPU timers.
#[derive(Default)]
pub struct ProcCpu {
    dead_user: AtomicU64,
    dead_sys: AtomicU64,
    child_user: AtomicU64,
    child_sys: AtomicU64,
    /// `[VIRTUAL, PROF]`. The tick takes this lock: hold it only with interrupts masked
    /// ([`with_timers`]).
    timers: spin::Mutex<[CpuTimer; 2]>,
    /// Bit `1 << VIRTUAL` / `1 << PROF`: expired, signal not sent yet.
    pub fired: AtomicU32,
}

impl ProcCpu {
    pub fn new() -> Arc<ProcCpu> {
        Arc::new(ProcCpu::default())
    }

    /// (user, system) of the reaped children and their reaped children.
    pub fn children(&self) -> (u64, u64) {
        (
            self.child_user.load(Ordering::Relaxed),
            self.child_sys.load(Ordering::Relaxed),
        )
    }
}

/// Sched thread id → counters of the user threads that run. Taken by the tick, so only with
/// interrupts masked.
static RUNNING: spin::Mutex<BTreeMap<u64, Arc<ThreadCpu>>> = spin::Mutex::new(BTreeMap::new());

fn masked<K: Kernel, R>(f: impl FnOnce() -> R) -> R {
    let was = K::Arch::irq_save_disable();
    let r = f();
    K::Arch::irq_restore(was);
    r
}

/// Run `f` on `p`'s CPU timers (interrupts masked: the tick takes the same lock).
pub fn with_timers<K: Kernel, R>(p: &ProcCpu, f: impl FnOnce(&mut [CpuTimer; 2]) -> R) -> R {
    masked::<K, R>(|| f(&mut p.timers.lock()))
}

/// The calling (sched) thread starts running `cpu`'s user thread.
pub fn enter<K: Kernel>(cpu: &Arc<ThreadCpu>) {
    let Some(id) = K::sched().current().map(|t| t.id()) else {
        return;
    };
    masked::<K, _>(|| RUNNING.lock().insert(id, cpu.clone()));
}

/// The calling thread ends: its times move to its process's sum of ended threads.
pub fn leave<K: Kernel>(cpu: &Arc<ThreadCpu>) {
    if let Some(id) = K::sched().current().map(|t| t.id()) {
        let gone = masked::<K, _>(|| RUNNING.lock().remove(&id));
        drop(gone);
    }
    let p = &cpu.process;
    p.dead_user
        .fetch_add(cpu.user_ns.swap(0, Ordering::Relaxed), Ordering::Relaxed);
    p.dead_sys
        .fetch_add(cpu.sys_ns.swap(0, Ordering::Relaxed), Ordering::Relaxed);
}

/// A reaped child's times (its own and its reaped children's) go to its parent.
pub fn reaped(parent: &ProcCpu, child: &ProcCpu) {
    let (cu, cs) = child.children();
    parent.child_user.fetch_add(
        child.dead_user.load(Ordering::Relaxed) + cu,
        Ordering::Relaxed,
    );
    parent.child_sys.fetch_add(
        child.dead_sys.load(Ordering::Relaxed) + cs,
        Ordering::Relaxed,
    );
}

/// (user, system) of a process: ended threads plus the live ones.
pub fn process_times<K: Kernel>(p: &Process<K>) -> (u64, u64) {
    let threads = p.threads.lock().clone();
    let (mut u, mut s) = (
        p.cpu.dead_user.load(Ordering::Relaxed),
        p.cpu.dead_sys.load(Ordering::Relaxed),
    );
    for t in &threads {
        u += t.cpu.user_ns.load(Ordering::Relaxed);
        s += t.cpu.sys_ns.load(Ordering::Relaxed);
    }
    (u, s)
}

/// (user, system) of a reaped-or-exited child as wait4's rusage reports it.
pub fn exited_times(p: &ProcCpu) -> (u64, u64) {
    let (cu, cs) = p.children();
    (
        p.dead_user.load(Ordering::Relaxed) + cu,
        p.dead_sys.load(Ordering::Relaxed) + cs,
    )
}

/// The timer interrupt (interrupts masked): charge `period_ns` to sched thread `thread`, if it
/// runs a user thread, and count its process's CPU timers down.
pub fn tick(thread: Option<u64>, period_ns: u64) {
    let Some(id) = thread else {
        return;
    };
    let running = RUNNING.lock();
    let Some(cpu) = running.get(&id) else {
        return;
    };
    let user = cpu.in_user.load(Ordering::Relaxed);
    if user {
        cpu.user_ns.fetch_add(period_ns, Ordering::Relaxed);
    } else {
        cpu.sys_ns.fetch_add(period_ns, Ordering::Relaxed);
    }
    let p = &cpu.process;
    let mut timers = p.timers.lock();
    for (i, counts) in [(VIRTUAL, user), (PROF, true)] {
        let t = &mut timers[i];
        if !counts || t.left == 0 {
            continue;
        }
        if t.left > period_ns {
            t.left -= period_ns;
        } else {
            t.left = t.interval;
            p.fired.fetch_or(1 << i, Ordering::Relaxed);
        }
    }
}

/// Before a return to user mode: send the signals of CPU timers that expired.
pub fn poll<K: Kernel>(task: &Task<K>) {
    let p = &task.process;
    if p.cpu.fired.load(Ordering::Relaxed) == 0 {
        return;
    }
    let fired = p.cpu.fired.swap(0, Ordering::Relaxed);
    for (i, sig) in [(VIRTUAL, SIGVTALRM), (PROF, SIGPROF)] {
        if fired & (1 << i) != 0 {
            signal::send_process(p, SigInfo::user(sig, signal::SI_KERNEL, 0));
        }
    }
}
