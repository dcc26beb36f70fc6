//! The Linux personality's answers to procfs: processes, memory, mounts.

use crate::kernel::Kernel;
use crate::process::Process;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use arch_api::Arch;
use core::sync::atomic::Ordering;
use procfs::{CpuTimes, FdEntry, MapEntry, MemInfo, Places, ProcInfo, ProcSource};
use vfs::{OpenFile, OpenFlags, PathRef};

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

/// Directory entries [`find_entry`] reads at most before it gives up.
const SEARCH_LIMIT: usize = 20_000;

/// The directory holding `inode` in `mount`, and its name there: a breadth-first search from
/// the mount's root. The VFS keeps no dentries (an open file knows its inode and mount, not
/// the name it was opened by), so a file's name is found again when `/proc` is asked for it;
/// directories name themselves through `..`.
fn find_entry(
    mount: &Arc<vfs::Mount>,
    inode: &Arc<dyn vfs::Inode>,
) -> Option<(Arc<dyn vfs::Inode>, Vec<u8>)> {
    let ino = inode.metadata().ino;
    let mut queue = alloc::collections::VecDeque::new();
    queue.push_back(mount.root().clone());
    let mut seen = 0usize;
    while let Some(dir) = queue.pop_front() {
        let mut names: Vec<(Vec<u8>, bool)> = Vec::new();
        let _ = dir.readdir(0, &mut |e| {
            seen += 1;
            if e.name != b"." && e.name != b".." {
                let is_dir = e.kind == vfs::FileType::Directory;
                if e.ino == ino || is_dir {
                    names.push((e.name.to_vec(), is_dir));
                }
            }
            seen < SEARCH_LIMIT
        });
        for (name, is_dir) in names {
            let Ok(child) = dir.lookup(&name) else {
                continue;
            };
            if vfs::same_inode(&child, inode) {
                return Some((dir, name));
            }
            if is_dir {
                queue.push_back(child);
            }
        }
        if seen >= SEARCH_LIMIT {
            break;
        }
    }
    None
}

/// A place's name as Linux's `d_path` gives it: `/path`, with ` (deleted)` once unlinked.
fn link_name<K: Kernel>(root: &PathRef, place: &PathRef) -> Option<Vec<u8>> {
    if place.metadata().nlink == 0 {
        return Some(b"/ (deleted)".to_vec());
    }
    if place.mount.fs().fs_type() == "proc" {
        // procfs makes most inodes per lookup, so neither `..` nor a search finds them again:
        // procfs names its own.
        let inner = procfs::name_of(&place.inode)?;
        let mut path = K::vfs()
            .path_of(
                root,
                &PathRef {
                    mount: place.mount.clone(),
                    inode: place.mount.root().clone(),
                },
            )
            .ok()?;
        if inner != b"/" {
            if path == b"/" {
                path.clear();
            }
            path.extend_from_slice(&inner);
        }
        return Some(path);
    }
    if let Ok(p) = K::vfs().path_of(root, place) {
        return Some(p);
    }
    let (dir, name) = find_entry(&place.mount, &place.inode)?;
    let mut path = K::vfs()
        .path_of(
            root,
            &PathRef {
                mount: place.mount.clone(),
                inode: dir,
            },
        )
        .ok()?;
    if path != b"/" {
        path.push(b'/');
    }
    path.extend_from_slice(&name);
    Some(path)
}

/// The name `/proc/<pid>/fd/N` shows for `file` (Linux's `d_path` and the dynamic names of
/// pipefs and anon inodes).
fn file_name<K: Kernel>(root: &PathRef, file: &OpenFile) -> Vec<u8> {
    if let Some(name) = file.path().and_then(|p| link_name::<K>(root, p)) {
        return name;
    }
    if file.pipe().is_some() {
        return alloc::format!("pipe:[{}]", file.metadata().ino).into_bytes();
    }
    match crate::kvm::of(file) {
        Some(crate::kvm::KvmObject::Vm(_)) => b"anon_inode:kvm-vm".to_vec(),
        Some(crate::kvm::KvmObject::Vcpu(v)) => {
            alloc::format!("anon_inode:kvm-vcpu:{}", v.id()).into_bytes()
        }
        _ => b"anon_inode:[unknown]".to_vec(),
    }
}

/// Linux's `new_encode_dev` halves: (major, minor) of a `dev_t` as the VFS numbers them.
fn major_minor(dev: u64) -> (u64, u64) {
    ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

impl<K: Kernel> ProcView<K> {
    fn find(&self, pid: u32) -> Option<Arc<Process<K>>> {
        self.all().into_iter().find(|p| p.pid == pid)
    }

    /// A live (not zombie) process.
    fn live(&self, pid: u32) -> Option<Arc<Process<K>>> {
        self.find(pid).filter(|p| p.exit_status.lock().is_none())
    }
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
        let (cwd, exe) = if zombie {
            (Vec::new(), Vec::new())
        } else {
            let (root, cwd) = {
                let fs = p.fs.lock();
                (fs.root.clone(), fs.cwd.clone())
            };
            let exe = p.exe.lock().clone();
            (
                path_of::<K>(&root, &cwd),
                exe.and_then(|e| link_name::<K>(&root, &e))
                    .unwrap_or_default(),
            )
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
        let creds = p.creds();
        let nofile = p.files.lock().limit() as u64;
        let (user_ns, sys_ns) = crate::cputime::process_times(&p);
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
            exe,
            threads,
            uid: creds.euid,
            gid: creds.egid,
            ids: [
                creds.uid,
                creds.euid,
                creds.suid,
                creds.fs.uid,
                creds.gid,
                creds.egid,
                creds.sgid,
                creds.fs.gid,
            ],
            groups: creds.fs.groups.clone(),
            vsize,
            rss_pages: rss,
            tpgid: -1,
            fds,
            nofile,
            // USER_HZ (100) ticks.
            utime_ticks: user_ns / 10_000_000,
            stime_ticks: sys_ns / 10_000_000,
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
            out.push(b' ');
            out.extend_from_slice(&m.mounts_options());
            out.extend_from_slice(b" 0 0\n");
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

    fn hostname(&self) -> Vec<u8> {
        crate::sys::hostname()
    }

    fn set_hostname(&self, name: &[u8]) -> syscall::Result<()> {
        crate::sys::set_uts_name(false, name)
    }

    fn domainname(&self) -> Vec<u8> {
        crate::sys::domainname()
    }

    fn set_domainname(&self, name: &[u8]) -> syscall::Result<()> {
        crate::sys::set_uts_name(true, name)
    }

    fn os_release(&self) -> &'static str {
        crate::sys::UTS_RELEASE
    }

    fn os_version(&self) -> &'static str {
        crate::sys::UTS_VERSION
    }

    /// Open file descriptions: distinct ones over every process's fd table (a dup or a fork
    /// shares one, as Linux counts `struct file`s).
    fn open_files(&self) -> u64 {
        let mut seen: Vec<usize> = Vec::new();
        for p in self.all() {
            let files = p.files.lock();
            for fd in files.fds() {
                if let Ok(f) = files.get(fd) {
                    seen.push(Arc::as_ptr(f) as usize);
                }
            }
        }
        seen.sort_unstable();
        seen.dedup();
        seen.len() as u64
    }

    fn pid_max(&self) -> u32 {
        crate::process::PID_MAX
    }

    fn fill_random(&self, buf: &mut [u8]) {
        K::fill_random(buf);
    }

    fn fds(&self, pid: u32) -> Option<Vec<FdEntry>> {
        let p = self.live(pid)?;
        let abi = match K::MACHINE {
            crate::exec::elf::Machine::X86_64 => syscall::Arch::X86_64,
            crate::exec::elf::Machine::Aarch64 => syscall::Arch::Aarch64,
        };
        // Copy the table out (no lock held past this statement; naming happens on readlink).
        let table: Vec<(u32, Arc<OpenFile>, bool)> = {
            let files = p.files.lock();
            files
                .fds()
                .filter_map(|fd| {
                    let file = files.get(fd).ok()?.clone();
                    let cloexec = files.cloexec(fd).unwrap_or(false);
                    Some((u32::try_from(fd).ok()?, file, cloexec))
                })
                .collect()
        };
        let out = table
            .into_iter()
            .map(|(fd, file, cloexec)| {
                let mut flags = file.flags().with(OpenFlags::LARGEFILE);
                if cloexec {
                    flags = flags.with(OpenFlags::CLOEXEC);
                }
                FdEntry {
                    fd,
                    flags: flags.to_linux(abi),
                    mnt_id: file.path().map_or(0, |p| p.mount.id()),
                    file,
                }
            })
            .collect();
        Some(out)
    }

    fn file_name(&self, pid: u32, file: &OpenFile) -> Vec<u8> {
        let root = match self.find(pid) {
            Some(p) => p.fs.lock().root.clone(),
            None => K::vfs().root(),
        };
        file_name::<K>(&root, file)
    }

    fn places(&self, pid: u32) -> Option<Places> {
        let p = self.live(pid)?;
        let (root, cwd) = {
            let fs = p.fs.lock();
            (fs.root.clone(), fs.cwd.clone())
        };
        let exe = p.exe.lock().clone();
        let named = |place: PathRef| {
            let name = link_name::<K>(&root, &place).unwrap_or_else(|| b"/".to_vec());
            (place, name)
        };
        Some(Places {
            cwd: named(cwd),
            root: named(root.clone()),
            exe: exe.map(named),
        })
    }

    fn may_inspect(&self, pid: u32) -> bool {
        let Some(me) = self.find(self.current_pid()) else {
            // The kernel itself (no current process).
            return true;
        };
        let mine = me.creds();
        if mine.privileged() {
            return true;
        }
        self.find(pid).is_some_and(|p| p.creds().euid == mine.euid)
    }

    fn tids(&self, pid: u32) -> Vec<u32> {
        let Some(p) = self.find(pid) else {
            return Vec::new();
        };
        let threads = p.threads.lock().clone();
        let mut tids: Vec<u32> = threads.iter().map(|t| t.tid()).collect();
        if tids.is_empty() {
            tids.push(pid);
        }
        tids
    }

    fn thread_times(&self, pid: u32, tid: u32) -> Option<(u64, u64)> {
        let p = self.find(pid)?;
        let threads = p.threads.lock().clone();
        let t = threads.iter().find(|t| t.tid() == tid)?;
        Some((
            t.cpu.user_ns.load(Ordering::Relaxed),
            t.cpu.sys_ns.load(Ordering::Relaxed),
        ))
    }

    fn cpu_times(&self) -> CpuTimes {
        // Every process's threads (live and ended) and its reaped children: a reaped
        // process's time has moved to its parent's children sum, so nothing counts twice.
        let (mut user_ns, mut system_ns) = (0, 0);
        for p in self.all() {
            let (u, s) = crate::cputime::process_times(&p);
            let (cu, cs) = p.cpu.children();
            user_ns += u + cu;
            system_ns += s + cs;
        }
        CpuTimes {
            user_ns,
            system_ns,
            idle_ns: self.idle_ns(),
        }
    }

    fn maps(&self, pid: u32) -> Option<Vec<MapEntry>> {
        let p = self.live(pid)?;
        let vm = p.vm.lock();
        let out = vm
            .vmas()
            .map(|v| MapEntry {
                start: v.start,
                end: v.end,
                prot: v.prot,
                shared: v.shared,
                offset: v.file.as_ref().map_or(0, |f| f.offset),
                stack: v.grows_down,
                rss_pages: (v.start..v.end)
                    .step_by(4096)
                    .filter(|&va| vm.translate(va).is_some())
                    .count() as u64,
            })
            .collect();
        Some(out)
    }

    /// `proc_pid_mountinfo`: id, parent id, major:minor, root of the mount, mount point,
    /// options, no optional fields, `-`, type, source, super options.
    fn mountinfo(&self) -> Vec<u8> {
        let vfs = K::vfs();
        let root = vfs.root();
        let mut out = Vec::new();
        for m in vfs.mounts() {
            let (parent_id, point) = match m.parent() {
                Some((pm, inode)) => (
                    pm.id(),
                    path_of::<K>(
                        &root,
                        &PathRef {
                            mount: pm.clone(),
                            inode: inode.clone(),
                        },
                    ),
                ),
                None => (m.id(), b"/".to_vec()),
            };
            let (major, minor) = major_minor(m.root().metadata().dev);
            out.extend_from_slice(
                alloc::format!("{} {} {major}:{minor} / ", m.id(), parent_id).as_bytes(),
            );
            out.extend_from_slice(&point);
            out.push(b' ');
            out.extend_from_slice(&m.mount_options());
            out.extend_from_slice(b" - ");
            out.extend_from_slice(m.fs().fs_type().as_bytes());
            out.push(b' ');
            out.extend_from_slice(m.source());
            out.push(b' ');
            out.extend_from_slice(&m.super_options());
            out.push(b'\n');
        }
        out
    }
}
