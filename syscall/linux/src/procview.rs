//! The Linux personality's answers to procfs: processes, memory, mounts.

use crate::kernel::Kernel;
use crate::process::Process;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use arch_api::Arch;
use core::sync::atomic::Ordering;
use procfs::{MemInfo, ProcInfo, ProcSource};
use vfs::PathRef;

/// A [`ProcSource`] over the process tree, rooted at PID 1 once it exists.
pub struct ProcView<K: Kernel> {
    init: spin::Once<Weak<Process<K>>>,
    /// (total, free) KiB of RAM, from the kernel.
    memory: fn() -> (u64, u64),
    cmdline: &'static str,
    cpus: u32,
}

impl<K: Kernel> ProcView<K> {
    pub fn new(memory: fn() -> (u64, u64), cmdline: &'static str, cpus: u32) -> Arc<Self> {
        Arc::new(ProcView {
            init: spin::Once::new(),
            memory,
            cmdline,
            cpus,
        })
    }

    /// Start listing from `init` (PID 1).
    pub fn set_init(&self, init: &Arc<Process<K>>) {
        self.init.call_once(|| Arc::downgrade(init));
    }

    /// PID 1, once it exists and while it lives.
    pub fn init(&self) -> Option<Arc<Process<K>>> {
        self.init.get().and_then(Weak::upgrade)
    }

    fn all(&self) -> Vec<Arc<Process<K>>> {
        let Some(init) = self.init.get().and_then(Weak::upgrade) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut stack = alloc::vec![init];
        while let Some(p) = stack.pop() {
            stack.extend(p.children.lock().iter().cloned());
            out.push(p);
        }
        out.sort_by_key(|p| p.pid);
        out
    }
}

fn path_of<K: Kernel>(root: &PathRef, place: &PathRef) -> Vec<u8> {
    K::vfs()
        .path_of(root, place)
        .unwrap_or_else(|_| b"/".to_vec())
}

impl<K: Kernel> ProcSource for ProcView<K> {
    fn pids(&self) -> Vec<u32> {
        self.all().iter().map(|p| p.pid).collect()
    }

    fn process(&self, pid: u32) -> Option<ProcInfo> {
        let p = self.all().into_iter().find(|p| p.pid == pid)?;
        let zombie = p.exit_status.lock().is_some();
        let running = self.current_pid() == pid;
        let (vsize, rss) = if zombie {
            (0, 0)
        } else {
            let vm = p.vm.lock();
            (vm.virtual_size(), vm.resident_pages())
        };
        let cwd = {
            let fs = p.fs.lock();
            path_of::<K>(&fs.root, &fs.cwd)
        };
        let name = p.name.lock().clone();
        let cmdline = p.cmdline.lock().clone();
        let ppid = p
            .parent
            .lock()
            .as_ref()
            .and_then(Weak::upgrade)
            .map_or(0, |pp| pp.pid);
        // Each lock in its own statement: a guard made inside the struct expression below
        // would live until the end of it, and `threads` is an IrqSpinLock, so `files` would be
        // waited for with interrupts masked (a hang when its holder is preempted: 0020).
        let threads = p.threads.lock().len().max(1) as u32;
        let fds = p.files.lock().len() as u32;
        Some(ProcInfo {
            pid,
            ppid,
            pgid: p.pgid.load(Ordering::Relaxed),
            sid: p.sid.load(Ordering::Relaxed),
            state: if zombie {
                b'Z'
            } else if p.stopped.load(Ordering::Relaxed) {
                b'T'
            } else if running {
                b'R'
            } else {
                b'S'
            },
            comm: name.clone(),
            cmdline,
            cwd,
            exe: name,
            threads,
            uid: p.cred.uid,
            gid: p.cred.gid,
            vsize,
            rss_pages: rss,
            tpgid: -1,
            fds,
            ..Default::default()
        })
    }

    fn current_pid(&self) -> u32 {
        K::sched().current().map_or(0, |t| t.tag() as u32)
    }

    fn meminfo(&self) -> MemInfo {
        let (total_kb, free_kb) = (self.memory)();
        MemInfo {
            total_kb,
            free_kb,
            available_kb: free_kb,
            ..Default::default()
        }
    }

    fn uptime_ns(&self) -> u64 {
        K::Arch::now_ns()
    }

    fn idle_ns(&self) -> u64 {
        K::sched().idle_ns(K::tick_hz())
    }

    fn mounts(&self) -> Vec<u8> {
        let vfs = K::vfs();
        let root = vfs.root();
        let mut out = Vec::new();
        for m in vfs.mounts() {
            let point = match m.parent() {
                Some((pm, inode)) => path_of::<K>(
                    &root,
                    &PathRef {
                        mount: pm.clone(),
                        inode: inode.clone(),
                    },
                ),
                None => b"/".to_vec(),
            };
            out.extend_from_slice(m.source());
            out.push(b' ');
            out.extend_from_slice(&point);
            out.push(b' ');
            out.extend_from_slice(m.fs().fs_type().as_bytes());
            out.extend_from_slice(b" rw 0 0\n");
        }
        out
    }

    fn cmdline(&self) -> Vec<u8> {
        self.cmdline.as_bytes().to_vec()
    }

    fn cpus(&self) -> u32 {
        self.cpus
    }

    fn machine(&self) -> &'static str {
        K::PLATFORM
    }

    fn context_switches(&self) -> u64 {
        K::sched().switches()
    }

    fn forks(&self) -> u64 {
        crate::process::pids_issued()
    }

    fn boot_time(&self) -> u64 {
        0
    }
}
