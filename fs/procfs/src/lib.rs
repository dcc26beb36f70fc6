//! `/proc`, generated from a [`ProcSource`] on every read, like Linux's seq files.
//!
//! The root lists one directory per process plus `self`, the system files and `sys` (the sysctl
//! tree, `sysctl.rs`); each process directory has `stat`, `status`, `statm`, `cmdline`, `comm`,
//! `environ`, `mounts`, `mountinfo`, `maps`, the magic links `cwd`/`root`/`exe`, the `fd` and
//! `fdinfo` directories (`links.rs`) and `task/<tid>/` (stat, status, statm, cmdline, comm). Inodes are cached per pid so that an inode keeps its
//! identity while the process lives (the VFS compares inodes by address).
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod files;
mod links;
mod source;
mod sysctl;

pub use source::{CpuTimes, FdEntry, MapEntry, MemInfo, Places, ProcInfo, ProcSource};

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use files::{Generated, PidFile, SysFile, render_pid, render_sys};
use spin::Mutex;
use syscall::{Errno, Result};
use vfs::types::{S_IFDIR, S_IFLNK, S_IFREG};
use vfs::{DirEntry, FileSystem, FileType, Inode, Metadata, SetAttr, StatFs};

/// `PROC_SUPER_MAGIC`.
const PROC_MAGIC: u64 = 0x9fa0;
const ROOT_INO: u64 = 1;

/// The procfs filesystem.
pub struct ProcFs {
    root: Arc<Root>,
}

impl ProcFs {
    pub fn new(source: Arc<dyn ProcSource>, dev: u64) -> Arc<ProcFs> {
        Arc::new_cyclic(|me: &Weak<ProcFs>| {
            let _ = me;
            ProcFs {
                root: Arc::new_cyclic(|root| Root {
                    source: source.clone(),
                    dev,
                    me: root.clone(),
                    pids: Mutex::new(BTreeMap::new()),
                    sys: sysctl::Sysctl::new(source.clone(), dev, root.clone()),
                }),
            }
        })
    }
}

impl FileSystem for ProcFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }
    fn statfs(&self) -> StatFs {
        StatFs {
            fs_type: PROC_MAGIC,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        }
    }
    fn fs_type(&self) -> &'static str {
        "proc"
    }
}

fn meta(dev: u64, ino: u64, mode: u32, size: u64, nlink: u32) -> Metadata {
    Metadata {
        dev,
        ino,
        mode,
        nlink,
        size,
        blksize: 1024,
        ..Default::default()
    }
}

/// Inode numbers: the root is 1, system files 2.., a pid directory `pid << 8`, its entries
/// `pid << 8 | n`.
const fn pid_ino(pid: u32, n: u64) -> u64 {
    ((pid as u64) << 8) | n
}

/// A directory entry as a `readdir` lists it: (cookie, ino, kind, name), in cookie order.
type Entry = (u64, u64, FileType, Vec<u8>);

/// Hands `sink` the `entries` whose cookie is `cookie` or later, until it wants no more.
fn emit(entries: &[Entry], cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) {
    for (c, ino, kind, name) in entries.iter().filter(|e| e.0 >= cookie) {
        if !sink(&DirEntry {
            ino: *ino,
            kind: *kind,
            name,
            next: c + 1,
        }) {
            break;
        }
    }
}

struct Root {
    source: Arc<dyn ProcSource>,
    dev: u64,
    me: Weak<Root>,
    pids: Mutex<BTreeMap<u32, Arc<PidDir>>>,
    /// `/proc/sys`.
    sys: Arc<sysctl::Sysctl>,
}

impl Root {
    fn pid_dir(&self, pid: u32) -> Option<Arc<PidDir>> {
        self.source.process(pid)?;
        let mut pids = self.pids.lock();
        // Forget processes that are gone.
        pids.retain(|p, _| self.source.process(*p).is_some());
        let dir = pids.entry(pid).or_insert_with(|| {
            Arc::new_cyclic(|me| PidDir {
                pid,
                tid: pid,
                ino: pid_ino(pid, 0),
                source: self.source.clone(),
                dev: self.dev,
                parent: ParentRef::Root(self.me.clone()),
                me: me.clone(),
                subdirs: Mutex::new([None, None, None]),
            })
        });
        Some(dir.clone())
    }
}

impl Inode for Root {
    fn metadata(&self) -> Metadata {
        meta(self.dev, ROOT_INO, S_IFDIR | 0o555, 0, 2)
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if name == b".." || name == b"." {
            return self
                .me
                .upgrade()
                .map(|r| r as Arc<dyn Inode>)
                .ok_or(Errno::ENOENT);
        }
        if name == b"self" || name == b"thread-self" {
            let pid = self.source.current_pid();
            let target = alloc::format!("{pid}").into_bytes();
            return Ok(Arc::new(Link {
                dev: self.dev,
                ino: 2 + SysFile::ALL.len() as u64,
                target,
            }));
        }
        if name == b"sys" {
            return Ok(self.sys.root());
        }
        if let Some(f) = SysFile::ALL.iter().find(|f| f.name().as_bytes() == name) {
            return Ok(Arc::new(Generated::sys(*f, self.source.clone(), self.dev)));
        }
        let pid = core::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or(Errno::ENOENT)?;
        self.pid_dir(pid)
            .map(|d| d as Arc<dyn Inode>)
            .ok_or(Errno::ENOENT)
    }
    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        // Cookies: 0 ".", 1 "..", 2 "self", 3.. system files and "sys", then 1000 + pid.
        let mut entries: Vec<Entry> = alloc::vec![
            (0, ROOT_INO, FileType::Directory, b".".to_vec()),
            (1, ROOT_INO, FileType::Directory, b"..".to_vec()),
            (
                2,
                2 + SysFile::ALL.len() as u64,
                FileType::Symlink,
                b"self".to_vec()
            ),
        ];
        for (i, f) in SysFile::ALL.iter().enumerate() {
            entries.push((
                3 + i as u64,
                2 + i as u64,
                FileType::Regular,
                f.name().as_bytes().to_vec(),
            ));
        }
        entries.push((
            3 + SysFile::ALL.len() as u64,
            self.sys.root().metadata().ino,
            FileType::Directory,
            b"sys".to_vec(),
        ));
        for pid in self.source.pids() {
            entries.push((
                1000 + pid as u64,
                pid_ino(pid, 0),
                FileType::Directory,
                alloc::format!("{pid}").into_bytes(),
            ));
        }
        emit(&entries, cookie, sink);
        Ok(())
    }
}

/// `/proc/<pid>`, or a thread's `/proc/<pid>/task/<tid>` (`tid` != `pid` or `parent` a
/// [`TaskDir`]), which holds only [`PidFile::THREAD`].
struct PidDir {
    pid: u32,
    tid: u32,
    ino: u64,
    source: Arc<dyn ProcSource>,
    dev: u64,
    parent: ParentRef,
    me: Weak<PidDir>,
    /// `fd`, `fdinfo`, `task`, made once, so that they keep their identity (the VFS names an
    /// open directory by finding it again under its parent: `/proc/<pid>/fd/N` of an open
    /// `/proc/self/fd`).
    subdirs: Mutex<[Option<Arc<dyn Inode>>; 3]>,
}

enum ParentRef {
    Root(Weak<Root>),
    Task(Arc<TaskDir>),
}

impl PidDir {
    fn files(&self) -> &'static [PidFile] {
        match self.parent {
            ParentRef::Root(_) => PidFile::ALL,
            ParentRef::Task(_) => PidFile::THREAD,
        }
    }

    /// Inode number of entry `i` of [`files`](Self::files).
    fn entry_ino(&self, i: usize) -> u64 {
        match self.parent {
            ParentRef::Root(_) => pid_ino(self.pid, 1 + i as u64),
            ParentRef::Task(_) => (5 << 56) | (u64::from(self.tid) << 8) | (1 + i as u64),
        }
    }
}

impl Inode for PidDir {
    fn metadata(&self) -> Metadata {
        let (uid, gid) = self
            .source
            .process(self.pid)
            .map_or((0, 0), |p| (p.uid, p.gid));
        let mut m = meta(self.dev, self.ino, S_IFDIR | 0o555, 0, 2);
        m.uid = uid;
        m.gid = gid;
        m
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if name == b".." {
            return match &self.parent {
                ParentRef::Root(r) => r.upgrade().map(|r| r as Arc<dyn Inode>),
                ParentRef::Task(t) => Some(t.clone() as Arc<dyn Inode>),
            }
            .ok_or(Errno::ENOENT);
        }
        self.source.process(self.pid).ok_or(Errno::ENOENT)?;
        let Some((i, f)) = self
            .files()
            .iter()
            .enumerate()
            .find(|(_, f)| f.name().as_bytes() == name)
        else {
            return Err(Errno::ENOENT);
        };
        let ino = self.entry_ino(i);
        let slot = match f {
            PidFile::Fd => Some(0),
            PidFile::FdInfo => Some(1),
            PidFile::Task => Some(2),
            _ => None,
        };
        if let Some(dir) = slot.and_then(|i| self.subdirs.lock()[i].clone()) {
            return Ok(dir);
        }
        let me = self.me.upgrade().ok_or(Errno::ENOENT)?;
        let made: Arc<dyn Inode> = match f {
            PidFile::Cwd => {
                return links::place_link(&self.source, self.dev, self.pid, 1 + i as u64, 0);
            }
            PidFile::Root => {
                return links::place_link(&self.source, self.dev, self.pid, 1 + i as u64, 1);
            }
            PidFile::Exe => {
                return links::place_link(&self.source, self.dev, self.pid, 1 + i as u64, 2);
            }
            PidFile::Fd | PidFile::FdInfo => {
                let me: Arc<dyn Inode> = me;
                Arc::new(links::FdDir {
                    pid: self.pid,
                    info: *f == PidFile::FdInfo,
                    source: self.source.clone(),
                    dev: self.dev,
                    parent: Arc::downgrade(&me),
                    ino,
                })
            }
            PidFile::Task => Arc::new_cyclic(|tm| TaskDir {
                pid: self.pid,
                ino,
                parent: Arc::downgrade(&me),
                me: tm.clone(),
            }),
            _ => {
                return Ok(Arc::new(Generated::pid(
                    *f,
                    (self.pid, self.tid),
                    ino,
                    self.source.clone(),
                    self.dev,
                )));
            }
        };
        if let Some(i) = slot {
            self.subdirs.lock()[i] = Some(made.clone());
        }
        Ok(made)
    }
    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        self.source.process(self.pid).ok_or(Errno::ENOENT)?;
        let dots: [(&[u8], FileType, u64); 2] = [
            (b".", FileType::Directory, self.ino),
            (b"..", FileType::Directory, self.ino),
        ];
        let all = dots.into_iter().chain(
            self.files()
                .iter()
                .enumerate()
                .map(|(i, f)| (f.name().as_bytes(), f.kind(), self.entry_ino(i))),
        );
        for (c, (name, kind, ino)) in all.enumerate().skip(cookie as usize) {
            if !sink(&DirEntry {
                ino,
                kind,
                name,
                next: c as u64 + 1,
            }) {
                break;
            }
        }
        Ok(())
    }
}

/// `/proc/<pid>/task`: one directory per thread.
struct TaskDir {
    pid: u32,
    ino: u64,
    /// Weak: the process directory caches this one.
    parent: Weak<PidDir>,
    me: Weak<TaskDir>,
}

impl TaskDir {
    fn parent(&self) -> Result<Arc<PidDir>> {
        self.parent.upgrade().ok_or(Errno::ENOENT)
    }
}

impl Inode for TaskDir {
    fn metadata(&self) -> Metadata {
        let dev = self.parent.upgrade().map_or(0, |p| p.dev);
        meta(dev, self.ino, S_IFDIR | 0o555, 0, 2)
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let parent = self.parent()?;
        if name == b".." {
            return Ok(parent);
        }
        let tid = core::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or(Errno::ENOENT)?;
        if !parent.source.tids(self.pid).contains(&tid) {
            return Err(Errno::ENOENT);
        }
        let me = self.me.upgrade().ok_or(Errno::ENOENT)?;
        Ok(Arc::new_cyclic(|d| PidDir {
            pid: self.pid,
            tid,
            ino: (6 << 56) | u64::from(tid),
            source: parent.source.clone(),
            dev: parent.dev,
            parent: ParentRef::Task(me),
            me: d.clone(),
            subdirs: Mutex::new([None, None, None]),
        }))
    }
    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        let parent = self.parent()?;
        let mut entries: Vec<Entry> = alloc::vec![
            (0, self.ino, FileType::Directory, b".".to_vec()),
            (1, parent.ino, FileType::Directory, b"..".to_vec()),
        ];
        let mut tids = parent.source.tids(self.pid);
        tids.sort_unstable();
        for tid in tids {
            entries.push((
                2 + u64::from(tid),
                (6 << 56) | u64::from(tid),
                FileType::Directory,
                alloc::format!("{tid}").into_bytes(),
            ));
        }
        emit(&entries, cookie, sink);
        Ok(())
    }
}

/// A symlink with a fixed target (`self`).
struct Link {
    dev: u64,
    ino: u64,
    target: Vec<u8>,
}

impl Inode for Link {
    fn metadata(&self) -> Metadata {
        meta(
            self.dev,
            self.ino,
            S_IFLNK | 0o777,
            self.target.len() as u64,
            1,
        )
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn readlink(&self) -> Result<Vec<u8>> {
        Ok(self.target.clone())
    }
}

impl Inode for Generated {
    fn metadata(&self) -> Metadata {
        // Like Linux, generated files report size 0; readers read until EOF.
        meta(self.dev, self.ino, S_IFREG | 0o444, 0, 1)
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let text = match self.what {
            files::What::Sys(f) => render_sys(f, &*self.source),
            files::What::Pid(f, pid, tid) => {
                // Thread directories' files have inode numbers `5 << 56 | ...`.
                let thread = self.ino >> 56 == 5;
                render_pid(f, (pid, tid), thread, &*self.source).ok_or(Errno::ESRCH)?
            }
        };
        let start = (offset as usize).min(text.len());
        let n = buf.len().min(text.len() - start);
        buf[..n].copy_from_slice(&text[start..start + n]);
        Ok(n)
    }
}

/// The path of a procfs inode below the proc mount (`/<pid>/stat`, `/<pid>/fd`, `/meminfo`),
/// for naming open `/proc` files (`/proc/<pid>/fd/N`); `None` for inodes it cannot name
/// (the sysctl tree, links).
pub fn name_of(inode: &Arc<dyn Inode>) -> Option<Vec<u8>> {
    let any = inode.clone().into_any();
    if any.is::<Root>() {
        return Some(b"/".to_vec());
    }
    let pid_dir = |pid: u32, tid: u32, task: bool| {
        if task {
            alloc::format!("/{pid}/task/{tid}")
        } else {
            alloc::format!("/{pid}")
        }
    };
    if let Some(g) = any.downcast_ref::<Generated>() {
        return Some(match g.what {
            files::What::Sys(f) => alloc::format!("/{}", f.name()).into_bytes(),
            files::What::Pid(f, pid, tid) => {
                alloc::format!("{}/{}", pid_dir(pid, tid, g.ino >> 56 == 5), f.name()).into_bytes()
            }
        });
    }
    if let Some(d) = any.downcast_ref::<PidDir>() {
        return Some(pid_dir(d.pid, d.tid, matches!(d.parent, ParentRef::Task(_))).into_bytes());
    }
    if let Some(t) = any.downcast_ref::<TaskDir>() {
        return Some(alloc::format!("/{}/task", t.pid).into_bytes());
    }
    links::name_of(&any)
}

#[cfg(test)]
mod tests;
