//! clone, fork, vfork: new processes as copy-on-write copies of the caller.

use crate::kernel::Kernel;
use crate::process::{FsContext, Process, Regs, Task, new_vm, next_pid, start_task};
use alloc::sync::Arc;
use arch_api::{Arch, UserContext};
use core::sync::atomic::Ordering;
use mm::page_table::PageTable;
use syscall::{Errno, Result};

pub const CLONE_VM: u64 = 0x100;
pub const CLONE_VFORK: u64 = 0x4000;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;
/// Namespace and other flags we do not do.
const UNSUPPORTED: u64 =
    0x0002_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000 | 0x8000_0000;

/// `clone`. CLONE_THREAD makes a thread of the caller's process; otherwise a new process.
/// CLONE_VM without CLONE_THREAD (vfork, musl's posix_spawn) gets a copy-on-write copy
/// instead of shared memory: the child only writes its own stack before it execs, so the
/// difference cannot be seen.
pub fn clone<K: Kernel>(
    t: &Arc<Task<K>>,
    regs: &Regs<K>,
    flags: u64,
    newsp: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> Result<usize> {
    if flags & UNSUPPORTED != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_THREAD != 0 {
        return clone_thread(t, regs, flags, newsp, ptid, ctid, tls);
    }
    let parent = &t.process;
    let child_vm = {
        let mut vm = parent.vm.lock();
        let mut mem = K::page_memory();
        let root = mm::page_table::TableMemory::alloc_table(&mut mem).ok_or(Errno::ENOMEM)?;
        K::Arch::init_user_root(root);
        vm.fork(PageTable::from_root(root, mem))?
    };
    let _ = new_vm::<K>; // (fresh address spaces are for exec)
    let pid = next_pid();
    let fs = parent.fs.lock();
    let child = Arc::new(Process::<K>::new(
        pid,
        child_vm,
        parent.files.lock().clone(),
        FsContext {
            root: fs.root.clone(),
            cwd: fs.cwd.clone(),
            umask: fs.umask,
        },
        parent.creds(),
        *parent.actions.lock(),
        parent.name.lock().clone(),
        Some(Arc::downgrade(parent)),
        parent.pgid.load(Ordering::Relaxed),
        parent.sid.load(Ordering::Relaxed),
    ));
    drop(fs);
    *child.cmdline.lock() = parent.cmdline.lock().clone();
    *child.exe.lock() = parent.exe.lock().clone();
    child.traits.inherit(&parent.traits);
    let task = new_task(t, pid, child.clone(), flags, ctid);
    *task.altstack.lock() = *t.altstack.lock();
    child.threads.lock().push(task.clone());
    if flags & CLONE_CHILD_SETTID != 0 {
        child
            .vm
            .lock()
            .write_bytes(ctid, &pid.to_le_bytes(), false)?;
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        parent.user().write_u32(ptid, pid)?;
    }
    let child_regs = child_regs::<K>(regs, flags, newsp, tls);
    parent.children.lock().push(child);
    start_task(&task, child_regs);
    Ok(pid as usize)
}

/// A new thread in the caller's process (what musl's pthread_create asks for: CLONE_VM, FS,
/// FILES, SIGHAND, THREAD, SYSVSEM, SETTLS, PARENT_SETTID, CHILD_CLEARTID). Everything but
/// the registers, the signal mask and the pending signals is the process's, shared.
fn clone_thread<K: Kernel>(
    t: &Arc<Task<K>>,
    regs: &Regs<K>,
    flags: u64,
    newsp: u64,
    ptid: u64,
    ctid: u64,
    tls: u64,
) -> Result<usize> {
    // Linux: threads share signal handlers, and handlers need a shared address space.
    if flags & CLONE_SIGHAND == 0 || flags & CLONE_VM == 0 {
        return Err(Errno::EINVAL);
    }
    let p = &t.process;
    if p.group_exit.lock().is_some() {
        return Err(Errno::EAGAIN);
    }
    let tid = next_pid();
    let task = new_task(t, tid, p.clone(), flags, ctid);
    if flags & CLONE_PARENT_SETTID != 0 {
        p.user().write_u32(ptid, tid)?;
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        p.user().write_u32(ctid, tid)?;
    }
    let child_regs = child_regs::<K>(regs, flags, newsp, tls);
    p.threads.lock().push(task.clone());
    start_task(&task, child_regs);
    Ok(tid as usize)
}

/// The registers a new process or thread starts with: the caller's, returning 0 from clone,
/// on `newsp` if given, with the new TLS if CLONE_SETTLS.
fn child_regs<K: Kernel>(regs: &Regs<K>, flags: u64, newsp: u64, tls: u64) -> Regs<K> {
    let mut child = regs.clone();
    child.set_syscall_return(0);
    if newsp != 0 {
        child.set_sp(newsp);
    }
    if flags & CLONE_SETTLS != 0 {
        child.set_tls(tls);
    }
    child
}

/// The task `clone` creates: id `tid` in `process`, the caller's signal mask, and the
/// CLONE_CHILD_CLEARTID address if asked.
fn new_task<K: Kernel>(
    t: &Arc<Task<K>>,
    tid: u32,
    process: Arc<Process<K>>,
    flags: u64,
    ctid: u64,
) -> Arc<Task<K>> {
    let cleartid = if flags & CLONE_CHILD_CLEARTID != 0 {
        ctid
    } else {
        0
    };
    Arc::new(Task::new(
        tid,
        process,
        t.sigmask.load(Ordering::Relaxed),
        cleartid,
    ))
}
