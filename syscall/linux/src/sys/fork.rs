//! clone, fork, vfork: new processes as copy-on-write copies of the caller.

use crate::kernel::Kernel;
use crate::process::{FsContext, Process, Regs, Task, new_vm, next_pid, start_task};
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch_api::{Arch, UserContext};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use mm::page_table::PageTable;
use sched::WaitQueue;
use spin::Mutex;
use syscall::{Errno, Result};

pub const CLONE_VM: u64 = 0x100;
pub const CLONE_VFORK: u64 = 0x4000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;
/// Namespace and other flags we do not do.
const UNSUPPORTED: u64 =
    0x0002_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000 | 0x8000_0000;

/// `clone` for new processes. CLONE_VM without CLONE_THREAD (vfork, musl's posix_spawn) gets
/// a copy-on-write copy instead of shared memory: the child only writes its own stack before
/// it execs, so the difference cannot be seen. Threads (CLONE_THREAD) come with futexes.
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
        return Err(Errno::ENOSYS);
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
    let child = Arc::new(Process::<K> {
        pid,
        vm: Mutex::new(child_vm),
        files: Mutex::new(parent.files.lock().clone()),
        fs: Mutex::new(FsContext {
            root: fs.root.clone(),
            cwd: fs.cwd.clone(),
            umask: fs.umask,
        }),
        cred: parent.cred.clone(),
        actions: Mutex::new(*parent.actions.lock()),
        exit_status: Mutex::new(None),
        name: Mutex::new(parent.name.lock().clone()),
        parent: Mutex::new(Some(Arc::downgrade(parent))),
        children: Mutex::new(Vec::new()),
        child_exit: WaitQueue::new(),
        pgid: AtomicU32::new(parent.pgid.load(Ordering::Relaxed)),
        sid: AtomicU32::new(parent.sid.load(Ordering::Relaxed)),
        fatal_signal: AtomicU32::new(0),
    });
    drop(fs);
    let task = Arc::new(Task {
        tid: pid,
        process: child.clone(),
        clear_child_tid: AtomicU64::new(if flags & CLONE_CHILD_CLEARTID != 0 {
            ctid
        } else {
            0
        }),
        sigmask: AtomicU64::new(t.sigmask.load(Ordering::Relaxed)),
        altstack: Mutex::new(*t.altstack.lock()),
        thread: spin::Once::new(),
    });
    if flags & CLONE_CHILD_SETTID != 0 {
        child
            .vm
            .lock()
            .write_bytes(ctid, &pid.to_le_bytes(), false)?;
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        parent.user().write_u32(ptid, pid)?;
    }
    let mut child_regs = regs.clone();
    child_regs.set_syscall_return(0);
    if newsp != 0 {
        child_regs.set_sp(newsp);
    }
    if flags & CLONE_SETTLS != 0 {
        child_regs.set_tls(tls);
    }
    parent.children.lock().push(child);
    start_task(&task, child_regs);
    Ok(pid as usize)
}
