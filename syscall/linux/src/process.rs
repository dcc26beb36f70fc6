//! Processes and their threads, and the loop that runs a user thread.

use crate::kernel::Kernel;
use crate::signal::{self, Interrupted, PendingLock, SavedMask, SigInfo, WaitEvent};
use crate::sys::{self, Flow};
use crate::uaccess::User;
use alloc::format;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use arch_api::{Arch, UserContext, UserException, UserExit};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use mm::page_table::PageTable;
use mm::vm::{AddressSpace, FaultError, Layout};
use sched::{IrqSpinLock, WaitQueue};
use spin::Mutex;
use syscall::{Errno, Result};
use vfs::{Cred, EmptyPath, FdTable, Lookup, OpenFlags, Path, PathRef};

use crate::sys::Creds;

/// A process's address space type.
pub type Vm<K> = AddressSpace<<<K as Kernel>::Arch as Arch>::PageTable, <K as Kernel>::Mem>;
/// A thread's saved user registers.
pub type Regs<K> = <<K as Kernel>::Arch as Arch>::UserContext;

static NEXT_PID: AtomicU32 = AtomicU32::new(1);

/// How many process and thread ids were handed out (procfs' "processes").
pub(crate) fn pids_issued() -> u64 {
    u64::from(NEXT_PID.load(Ordering::Relaxed) - 1)
}

/// `kernel.pid_max`: Linux's limit on 64-bit machines (`PID_MAX_LIMIT`). The allocator counts
/// up and does not reuse ids yet, so no boot gets near it.
pub const PID_MAX: u32 = 1 << 22;

/// A new process or thread id.
pub(crate) fn next_pid() -> u32 {
    NEXT_PID.fetch_add(1, Ordering::Relaxed)
}

/// Signal numbers the kernel raises itself.
pub const SIGILL: u32 = 4;
pub const SIGTRAP: u32 = 5;
pub const SIGBUS: u32 = 7;
pub const SIGFPE: u32 = 8;
pub const SIGSEGV: u32 = 11;

/// Where a process stands in the file tree.
pub struct FsContext {
    pub root: PathRef,
    pub cwd: PathRef,
    pub umask: u32,
}

/// One registered signal action (what `rt_sigaction` stores and returns).
#[derive(Clone, Copy, Default)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// A process: an address space, open files, a place in the file tree, and its threads.
pub struct Process<K: Kernel> {
    pub pid: u32,
    pub vm: Mutex<Vm<K>>,
    pub files: Mutex<FdTable>,
    pub fs: Mutex<FsContext>,
    /// Its user and group ids (`sys/cred.rs`): a snapshot replaced whole by the `set*id`
    /// calls and exec; read it with [`Process::creds`].
    pub cred: Mutex<Arc<Creds>>,
    pub actions: Mutex<[SigAction; 64]>,
    /// Wait status once it has exited. (This, `children` and `wait_event` are read by wait4
    /// with interrupts masked, so they are IrqSpinLocks: a holder cannot be preempted.)
    pub exit_status: IrqSpinLock<Option<i32>, K::Arch>,
    pub name: Mutex<Vec<u8>>,
    /// The arguments of the program, each NUL-terminated (`/proc/<pid>/cmdline`).
    pub cmdline: Mutex<Vec<u8>>,
    /// The parent (PID 1 adopts orphans); `None` for PID 1.
    pub parent: Mutex<Option<Weak<Process<K>>>>,
    /// Children, living or zombies not yet reaped.
    pub children: IrqSpinLock<Vec<Arc<Process<K>>>, K::Arch>,
    /// Woken when a child exits (wait4 sleeps here).
    pub child_exit: WaitQueue<K::Arch>,
    pub pgid: AtomicU32,
    pub sid: AtomicU32,
    /// Its living threads (the process ends when the last one exits).
    pub threads: IrqSpinLock<Vec<Arc<Task<K>>>, K::Arch>,
    /// Signals sent to the process as a whole (any thread not blocking one takes it).
    pub shared_pending: PendingLock<K::Arch>,
    /// Set by exit_group or a fatal signal: the wait status every thread leaves with.
    pub group_exit: IrqSpinLock<Option<i32>, K::Arch>,
    /// Stopped by a stop signal until SIGCONT; its threads sleep on `stop_wait`.
    pub stopped: AtomicBool,
    pub stop_wait: WaitQueue<K::Arch>,
    /// A stop or continue its parent's wait4 has not reported yet.
    pub wait_event: IrqSpinLock<Option<WaitEvent>, K::Arch>,
    /// Threads sleeping in FUTEX_WAIT on this address space.
    pub futexes: IrqSpinLock<Vec<crate::sys::FutexWaiter<K>>, K::Arch>,
    /// Scheduling knobs and the execution domain, inherited by fork: the nice value
    /// (-20..=19; the scheduler is plain round robin, so it is recorded, not yet obeyed), the
    /// I/O priority (`ioprio_set`), and the `personality(2)` word.
    pub traits: ProcessTraits,
    /// `ITIMER_REAL` (alarm, setitimer): kept across exec, not inherited by fork.
    pub itimer: Mutex<crate::sys::RealTimer>,
    /// CPU time of ended threads and reaped children, and the CPU interval timers.
    pub cpu: Arc<crate::cputime::ProcCpu>,
    /// The program file it runs (`/proc/<pid>/exe`): set by exec, inherited by fork.
    pub exe: Mutex<Option<vfs::PathRef>>,
}

/// What [`Process::traits`] holds.
#[derive(Default)]
pub struct ProcessTraits {
    pub nice: AtomicI32,
    pub ioprio: AtomicU32,
    pub personality: AtomicU32,
}

impl ProcessTraits {
    /// Take a parent's values (fork).
    pub fn inherit(&self, parent: &ProcessTraits) {
        self.nice
            .store(parent.nice.load(Ordering::Relaxed), Ordering::Relaxed);
        self.ioprio
            .store(parent.ioprio.load(Ordering::Relaxed), Ordering::Relaxed);
        self.personality.store(
            parent.personality.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }
}

/// A thread of a process.
pub struct Task<K: Kernel> {
    /// Its thread id; it changes once at most, when a non-leader thread execs and takes the
    /// process id (Linux's `de_thread`). Read it with [`Task::tid`].
    tid: AtomicU32,
    pub process: Arc<Process<K>>,
    /// `set_tid_address`: cleared (and futex-woken) when the thread exits.
    pub clear_child_tid: AtomicU64,
    /// Blocked signals.
    pub sigmask: AtomicU64,
    /// `sigaltstack`: (sp, flags, size).
    pub altstack: Mutex<(u64, u32, u64)>,
    /// The kernel thread running it (to wake it for a signal).
    pub thread: spin::Once<Arc<sched::Thread<K::Arch>>>,
    /// Signals sent to this thread alone (tgkill, faults).
    pub pending: PendingLock<K::Arch>,
    /// The mask to put back after rt_sigsuspend's temporary one has done its job.
    pub saved_mask: SavedMask,
    /// `signal::deliver` must take its full look (set by `signal::kick`, and at birth; cleared
    /// by that look). See `signal::quiet`.
    pub attention: AtomicBool,
    /// The syscall it is in ([`NOT_IN_SYSCALL`] in user mode): for the SysRq task dump.
    pub in_syscall: AtomicU32,
    /// Another thread of the process is in `execve`: end at the next return to user mode.
    pub zapped: AtomicBool,
    /// Its CPU time (charged by the timer tick).
    pub cpu: Arc<crate::cputime::ThreadCpu>,
}

/// [`Task::in_syscall`] of a thread that is not in a syscall.
pub const NOT_IN_SYSCALL: u32 = u32::MAX;

impl<K: Kernel> Task<K> {
    pub fn tid(&self) -> u32 {
        self.tid.load(Ordering::Relaxed)
    }

    /// After an exec from a non-leader thread: this thread now carries the process id.
    pub(crate) fn become_leader(&self) {
        self.tid.store(self.process.pid, Ordering::Relaxed);
    }

    /// A thread `tid` of `process`, not yet running.
    pub(crate) fn new(
        tid: u32,
        process: Arc<Process<K>>,
        sigmask: u64,
        clear_child_tid: u64,
    ) -> Self {
        Task {
            tid: AtomicU32::new(tid),
            cpu: crate::cputime::ThreadCpu::new(process.cpu.clone()),
            process,
            clear_child_tid: AtomicU64::new(clear_child_tid),
            sigmask: AtomicU64::new(sigmask),
            altstack: Mutex::new((0, 2 /* SS_DISABLE */, 0)),
            thread: spin::Once::new(),
            pending: PendingLock::default(),
            saved_mask: SavedMask::default(),
            attention: AtomicBool::new(true),
            in_syscall: AtomicU32::new(NOT_IN_SYSCALL),
            zapped: AtomicBool::new(false),
        }
    }
}

impl<K: Kernel> Process<K> {
    /// A new process (no threads yet) with everything not given empty or default.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        pid: u32,
        vm: Vm<K>,
        files: FdTable,
        fs: FsContext,
        cred: Arc<Creds>,
        actions: [SigAction; 64],
        name: Vec<u8>,
        parent: Option<Weak<Process<K>>>,
        pgid: u32,
        sid: u32,
    ) -> Self {
        Process {
            pid,
            vm: Mutex::new(vm),
            files: Mutex::new(files),
            fs: Mutex::new(fs),
            cred: Mutex::new(cred),
            actions: Mutex::new(actions),
            exit_status: IrqSpinLock::new(None),
            cmdline: Mutex::new([name.as_slice(), b"\0"].concat()),
            name: Mutex::new(name),
            parent: Mutex::new(parent),
            children: IrqSpinLock::new(Vec::new()),
            child_exit: WaitQueue::new(),
            pgid: AtomicU32::new(pgid),
            sid: AtomicU32::new(sid),
            threads: IrqSpinLock::new(Vec::new()),
            shared_pending: PendingLock::default(),
            group_exit: IrqSpinLock::new(None),
            stopped: AtomicBool::new(false),
            stop_wait: WaitQueue::new(),
            wait_event: IrqSpinLock::new(None),
            futexes: IrqSpinLock::new(Vec::new()),
            traits: ProcessTraits::default(),
            itimer: Mutex::new(crate::sys::RealTimer::default()),
            cpu: crate::cputime::ProcCpu::new(),
            exe: Mutex::new(None),
        }
    }

    pub fn user(&self) -> User<'_, K> {
        User { process: self }
    }

    /// Its credentials now.
    pub fn creds(&self) -> Arc<Creds> {
        self.cred.lock().clone()
    }

    /// Resolve a path for this process, relative to its cwd, checking permissions with its
    /// fs ids.
    pub fn lookup<R>(&self, f: impl FnOnce(&Lookup<'_>) -> R) -> R {
        let creds = self.creds();
        self.lookup_as(&creds.fs, f)
    }

    /// [`Process::lookup`] checking permissions for `cred`.
    pub fn lookup_as<R>(&self, cred: &Cred, f: impl FnOnce(&Lookup<'_>) -> R) -> R {
        // Copy the places out: the walk may read /proc, which looks at this process.
        let (root, cwd) = {
            let fs = self.fs.lock();
            (fs.root.clone(), fs.cwd.clone())
        };
        let lookup = Lookup {
            root: &root,
            start: &cwd,
            cred,
        };
        f(&lookup)
    }
}

pub(crate) fn new_vm<K: Kernel>() -> Result<Vm<K>> {
    let mut mem = K::page_memory();
    let root = mm::page_table::TableMemory::alloc_table(&mut mem).ok_or(Errno::ENOMEM)?;
    K::Arch::init_user_root(root);
    let user_end = match K::MACHINE {
        crate::exec::elf::Machine::X86_64 => mm::vm::USER_END_X86_64,
        crate::exec::elf::Machine::Aarch64 => mm::vm::USER_END_AARCH64,
    };
    Ok(AddressSpace::new(
        PageTable::from_root(root, mem),
        Layout::new(user_end),
    ))
}

/// Start PID 1: open the console as fds 0-2, load `path` with `argv`/`envp`, and run it in a
/// new kernel thread.
pub fn spawn_init<K: Kernel>(path: &[u8], argv: &[&[u8]], envp: &[&[u8]]) -> Result<Arc<Task<K>>> {
    let root = K::vfs().root();
    let process = Arc::new(Process::<K>::new(
        next_pid(),
        new_vm::<K>()?,
        FdTable::new(),
        FsContext {
            root: root.clone(),
            cwd: root,
            umask: 0o022,
        },
        Arc::new(Creds::root()),
        [SigAction::default(); 64],
        path.rsplit(|&b| b == b'/').next().unwrap_or(path).to_vec(),
        None,
        1,
        1,
    ));
    signal::set_init(&process);
    // Like Linux's init: fds 0, 1, 2 on /dev/console, when there is one.
    match process.lookup(|l| {
        K::vfs().open(
            l,
            Path::new(b"/dev/console", EmptyPath::Deny)?,
            OpenFlags::RDWR,
            0,
        )
    }) {
        Ok(console) => {
            let mut files = process.files.lock();
            for _ in 0..3 {
                files.insert(console.clone(), false)?;
            }
        }
        Err(e) => log::warn!("init: no /dev/console ({e}); starting without stdio"),
    }
    let task = Arc::new(Task::new(process.pid, process, 0, 0));
    task.process.threads.lock().push(task.clone());
    let mut regs = Regs::<K>::default();
    let argv = argv.iter().map(|a| a.to_vec()).collect();
    let envp = envp.iter().map(|e| e.to_vec()).collect();
    crate::sys::exec_program(&task, &mut regs, path.to_vec(), argv, envp)?;
    start_task(&task, regs);
    Ok(task)
}
/// Run `task` from `regs` in a new kernel thread.
pub(crate) fn start_task<K: Kernel>(task: &Arc<Task<K>>, regs: Regs<K>) {
    let t = task.clone();
    let thread = K::sched().spawn(&format!("pid{}", task.tid()), move || run(t, regs));
    // procfs' /proc/self asks the scheduler's current thread which process it runs.
    thread.set_tag(u64::from(task.process.pid));
    task.thread.call_once(|| thread);
}

/// The life of a user thread: run user code, serve what stops it, act on signals before
/// every return to user mode, until it exits.
pub(crate) fn run<K: Kernel>(task: Arc<Task<K>>, mut regs: Regs<K>) {
    let root = task.process.vm.lock().root();
    crate::sys::activate_root::<K>(root);
    crate::cputime::enter::<K>(&task.cpu);
    // A thread may be born into a stopped or dying process, or with signals waiting.
    let mut status = signal::deliver(&task, &mut regs, None);
    while status.is_none() {
        let mut restart = None;
        // A timer tick taken in user mode sees the flag: it is handled before run_user returns.
        task.cpu.in_user.store(true, Ordering::Relaxed);
        let exit = K::Arch::run_user(&mut regs);
        task.cpu.in_user.store(false, Ordering::Relaxed);
        match exit {
            UserExit::Syscall => {
                let (nr, [arg0, arg1, ..]) = (regs.syscall_number(), regs.syscall_args());
                match sys::dispatch(&task, &mut regs) {
                    Flow::Return => {
                        let ret = regs.signal_reg(signal::return_reg::<K>()) as usize;
                        if ret == Errno::EINTR.as_neg() as usize
                            && signal::restartable::<K>(nr, arg1)
                        {
                            restart = Some(Interrupted { nr, arg0 });
                        } else if ret == Errno::EPIPE.as_neg() as usize {
                            signal::raise_sigpipe(&task, nr);
                        }
                    }
                    Flow::Exit(s) => signal::start_group_exit(&task.process, s),
                    Flow::ExitThread(s) => {
                        status = Some(s);
                        break;
                    }
                }
            }
            UserExit::PageFault {
                addr, write, exec, ..
            } => {
                let r = task.process.vm.lock().handle_fault(addr, write, exec);
                if let Err(e) = r {
                    log::debug!(
                        "pid {}: fault at {:#x} (ip {:#x}, write {write}): {e:?}",
                        task.process.pid,
                        addr,
                        regs.ip(),
                    );
                    // As Linux reports them: SEGV_MAPERR (1) / SEGV_ACCERR (2) with the address,
                    // BUS_ADRERR (2) for a file page past its end; no memory is the OOM kill.
                    match e {
                        FaultError::MapErr => {
                            signal::force_fault(&task, SigInfo::fault(SIGSEGV, 1, addr))
                        }
                        FaultError::AccErr => {
                            signal::force_fault(&task, SigInfo::fault(SIGSEGV, 2, addr))
                        }
                        FaultError::Bus => {
                            signal::force_fault(&task, SigInfo::fault(SIGBUS, 2, addr))
                        }
                        FaultError::OutOfMemory => {
                            signal::start_group_exit(&task.process, signal::SIGKILL as i32)
                        }
                    }
                }
            }
            UserExit::Exception(e) => {
                // (signal, si_code, si_addr) as Linux's trap handlers report them.
                let ip = regs.ip();
                let (sig, code, addr) = match e {
                    UserException::IllegalInstruction => (SIGILL, 2, ip), // ILL_ILLOPN
                    UserException::Breakpoint => (SIGTRAP, 1, ip),        // TRAP_BRKPT
                    UserException::DivideError => (SIGFPE, 1, ip),        // FPE_INTDIV
                    UserException::FloatingPoint => (SIGFPE, 7, ip),      // FPE_FLTINV
                    UserException::Alignment => (SIGBUS, 1, ip),          // BUS_ADRALN
                    UserException::ProtectionFault | UserException::Other { .. } => {
                        (SIGSEGV, signal::SI_KERNEL, 0)
                    }
                };
                log::debug!(
                    "pid {}: {:?} at ip {:#x}: signal {sig}",
                    task.process.pid,
                    e,
                    ip
                );
                signal::force_fault(&task, SigInfo::fault(sig, code, addr));
            }
            UserExit::Interrupt => {}
        }
        crate::cputime::poll(&task);
        status = signal::deliver(&task, &mut regs, restart);
    }
    crate::cputime::leave::<K>(&task.cpu);
    exit_thread(&task, status.unwrap_or(0));
}

/// One thread ends: clear and futex-wake its `clear_child_tid` (pthread_join waits on it);
/// the last thread ends the process, with the group's status if exit_group or a signal set
/// one.
fn exit_thread<K: Kernel>(task: &Arc<Task<K>>, status: i32) {
    let p = &task.process;
    let ctid = task.clear_child_tid.swap(0, Ordering::Relaxed);
    let last = {
        let mut threads = p.threads.lock();
        threads.retain(|t| !Arc::ptr_eq(t, task));
        threads.is_empty()
    };
    if ctid != 0 && !last && p.user().write_u32(ctid, 0).is_ok() {
        crate::sys::futex_wake(p, ctid, 1, u32::MAX);
    }
    if last {
        let status = p.group_exit.lock().unwrap_or(status);
        exit_process(task, status);
    }
}

/// End the whole process with wait status `status` (exit code << 8, or a signal number):
/// release its memory and files, hand its children to PID 1, and wake its parent.
pub(crate) fn exit_process<K: Kernel>(task: &Arc<Task<K>>, status: i32) {
    let p = &task.process;
    log::debug!("pid {}: exits with wait status {status:#x}", p.pid);
    drop(p.files.lock().clear());
    crate::sys::activate_none::<K>();
    p.vm.lock().clear();
    if p.pid == 1 {
        K::init_exited(status);
    }
    let orphans = core::mem::take(&mut *p.children.lock());
    if let Some(init) = find_init(p).filter(|_| !orphans.is_empty()) {
        for c in &orphans {
            *c.parent.lock() = Some(Arc::downgrade(&init));
        }
        init.children.lock().extend(orphans);
        init.child_exit.wake_all(K::sched());
    }
    *p.exit_status.lock() = Some(status);
    let (code, value) = match (status & 0x7f, status & 0x80) {
        (0, _) => (signal::CLD_EXITED, (status >> 8) & 0xff),
        (s, 0) => (signal::CLD_KILLED, s),
        (s, _) => (signal::CLD_DUMPED, s),
    };
    signal::notify_parent(p, code, value);
    // A parent that ignores SIGCHLD (or set SA_NOCLDWAIT) gets no zombies: the child is
    // reaped now, and its wait4 reports ECHILD once no child is left.
    if let Some(parent) = p.parent.lock().as_ref().and_then(Weak::upgrade) {
        let a = parent.actions.lock()[signal::SIGCHLD as usize - 1];
        if a.handler == signal::SIG_IGN || a.flags & signal::SA_NOCLDWAIT != 0 {
            parent.children.lock().retain(|c| !Arc::ptr_eq(c, p));
            parent.child_exit.wake_all(K::sched());
        }
    }
}

/// PID 1, found by walking up the parents.
pub(crate) fn find_init<K: Kernel>(p: &Arc<Process<K>>) -> Option<Arc<Process<K>>> {
    let mut cur = p.clone();
    for _ in 0..4096 {
        if cur.pid == 1 {
            return Some(cur);
        }
        let next = cur.parent.lock().as_ref().and_then(Weak::upgrade)?;
        cur = next;
    }
    None
}
