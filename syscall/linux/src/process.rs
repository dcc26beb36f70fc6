//! Processes and their threads, and the loop that runs a user thread.

use crate::kernel::Kernel;
use crate::sys::{self, Flow};
use crate::uaccess::User;
use alloc::format;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use arch_api::{Arch, UserContext, UserException, UserExit};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use mm::page_table::PageTable;
use mm::vm::{AddressSpace, Layout};
use sched::WaitQueue;
use spin::Mutex;
use syscall::{Errno, Result};
use vfs::{Cred, EmptyPath, FdTable, Lookup, OpenFlags, Path, PathRef};

/// A process's address space type.
pub type Vm<K> = AddressSpace<<<K as Kernel>::Arch as Arch>::PageTable, <K as Kernel>::Mem>;
/// A thread's saved user registers.
pub type Regs<K> = <<K as Kernel>::Arch as Arch>::UserContext;

static NEXT_PID: AtomicU32 = AtomicU32::new(1);

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
    pub cred: Cred,
    pub actions: Mutex<[SigAction; 64]>,
    /// Wait status once it has exited.
    pub exit_status: Mutex<Option<i32>>,
    pub name: Mutex<Vec<u8>>,
    /// The parent (PID 1 adopts orphans); `None` for PID 1.
    pub parent: Mutex<Option<Weak<Process<K>>>>,
    /// Children, living or zombies not yet reaped.
    pub children: Mutex<Vec<Arc<Process<K>>>>,
    /// Woken when a child exits (wait4 sleeps here).
    pub child_exit: WaitQueue<K::Arch>,
    pub pgid: AtomicU32,
    pub sid: AtomicU32,
    /// A signal whose default action ends the process, waiting to take effect.
    pub fatal_signal: AtomicU32,
}

/// A thread of a process.
pub struct Task<K: Kernel> {
    pub tid: u32,
    pub process: Arc<Process<K>>,
    /// `set_tid_address`: cleared (and futex-woken) when the thread exits.
    pub clear_child_tid: AtomicU64,
    /// Blocked signals.
    pub sigmask: AtomicU64,
    /// `sigaltstack`: (sp, flags, size).
    pub altstack: Mutex<(u64, u32, u64)>,
    /// The kernel thread running it (to wake it for a signal).
    pub thread: spin::Once<Arc<sched::Thread<K::Arch>>>,
}

impl<K: Kernel> Process<K> {
    /// A pending process-ending signal, if any (cleared).
    pub fn take_fatal_signal(&self) -> Option<u32> {
        match self.fatal_signal.swap(0, Ordering::AcqRel) {
            0 => None,
            s => Some(s),
        }
    }

    pub fn user(&self) -> User<'_, K> {
        User { process: self }
    }

    /// Resolve a path for this process, relative to its cwd.
    pub fn lookup<R>(&self, f: impl FnOnce(&Lookup<'_>) -> R) -> R {
        let fs = self.fs.lock();
        let lookup = Lookup {
            root: &fs.root,
            start: &fs.cwd,
            cred: &self.cred,
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

/// Read a whole file the process can see.
pub(crate) fn read_file<K: Kernel>(p: &Process<K>, path: &[u8]) -> Result<Vec<u8>> {
    let file =
        p.lookup(|l| K::vfs().open(l, Path::new(path, EmptyPath::Deny)?, OpenFlags::RDONLY, 0))?;
    let size = file.metadata().size as usize;
    let mut bytes = alloc::vec![0u8; size];
    let mut done = 0;
    while done < size {
        let n = file.pread(&mut bytes[done..], done as i64)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    bytes.truncate(done);
    Ok(bytes)
}

/// Start PID 1: open the console as fds 0-2, load `path` with `argv`/`envp`, and run it in a
/// new kernel thread.
pub fn spawn_init<K: Kernel>(path: &[u8], argv: &[&[u8]], envp: &[&[u8]]) -> Result<Arc<Task<K>>> {
    let root = K::vfs().root();
    let process = Arc::new(Process::<K> {
        pid: next_pid(),
        vm: Mutex::new(new_vm::<K>()?),
        files: Mutex::new(FdTable::new()),
        fs: Mutex::new(FsContext {
            root: root.clone(),
            cwd: root,
            umask: 0o022,
        }),
        cred: Cred::ROOT,
        actions: Mutex::new([SigAction::default(); 64]),
        exit_status: Mutex::new(None),
        name: Mutex::new(path.rsplit(|&b| b == b'/').next().unwrap_or(path).to_vec()),
        parent: Mutex::new(None),
        children: Mutex::new(Vec::new()),
        child_exit: WaitQueue::new(),
        pgid: AtomicU32::new(1),
        sid: AtomicU32::new(1),
        fatal_signal: AtomicU32::new(0),
    });
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
    let task = Arc::new(Task {
        tid: process.pid,
        process,
        clear_child_tid: AtomicU64::new(0),
        sigmask: AtomicU64::new(0),
        altstack: Mutex::new((0, 2 /* SS_DISABLE */, 0)),
        thread: spin::Once::new(),
    });
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
    let thread = K::sched().spawn(&format!("pid{}", task.tid), move || run(t, regs));
    task.thread.call_once(|| thread);
}

/// The life of a user thread: run user code, serve what stops it, until it exits.
pub(crate) fn run<K: Kernel>(task: Arc<Task<K>>, mut regs: Regs<K>) {
    let root = task.process.vm.lock().root();
    crate::sys::activate_root::<K>(root);
    let status = loop {
        match K::Arch::run_user(&mut regs) {
            UserExit::Syscall => match sys::dispatch(&task, &mut regs) {
                Flow::Return => {}
                Flow::Exit(status) => break status,
            },
            UserExit::PageFault {
                addr, write, exec, ..
            } => {
                let r = task.process.vm.lock().handle_fault(addr, write, exec);
                if let Err(e) = r {
                    log::info!(
                        "pid {}: {} at {:#x} (ip {:#x}, {:?}): killed",
                        task.process.pid,
                        if write { "write fault" } else { "fault" },
                        addr,
                        regs.ip(),
                        e
                    );
                    break SIGSEGV as i32;
                }
            }
            UserExit::Exception(e) => {
                let sig = match e {
                    UserException::IllegalInstruction => SIGILL,
                    UserException::Breakpoint => SIGTRAP,
                    UserException::DivideError | UserException::FloatingPoint => SIGFPE,
                    UserException::Alignment => SIGBUS,
                    UserException::ProtectionFault | UserException::Other { .. } => SIGSEGV,
                };
                log::info!(
                    "pid {}: {:?} at ip {:#x}: killed by signal {sig}",
                    task.process.pid,
                    e,
                    regs.ip()
                );
                break sig as i32;
            }
            UserExit::Interrupt => {}
        }
        if let Some(sig) = task.process.take_fatal_signal() {
            break sig as i32;
        }
    };
    exit_process(&task, status);
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
    let parent = p.parent.lock().as_ref().and_then(Weak::upgrade);
    if let Some(parent) = parent {
        parent.child_exit.wake_all(K::sched());
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
