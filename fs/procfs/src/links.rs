//! `/proc/<pid>/fd`, `/proc/<pid>/fdinfo` and the magic links (`fd/N`, `cwd`, `root`, `exe`).
//!
//! A magic link reads as text (`/path`, `pipe:[ino]`, `anon_inode:kvm-vm`) but following it
//! lands on the object itself ([`Inode::jump`]), as Linux's `nd_jump_link`: opening
//! `/proc/self/fd/N` opens the same file again by its place in the tree, or the same pipe.
//! Another process's links and fd directories need the same uid or root
//! ([`ProcSource::may_inspect`], and the fd directories' mode 0500 owned by the process).

use crate::source::{FdEntry, ProcSource};
use crate::{Entry, emit, meta, pid_ino};
use alloc::format;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use syscall::{Errno, Result};
use vfs::pipe::Pipe;
use vfs::types::{S_IFDIR, S_IFLNK, S_IFREG};
use vfs::{
    DirEntry, FileOps, FileType, Inode, Jump, Metadata, OpenFile, OpenFlags, PathRef, SetAttr,
};

/// Inode numbers of fd links and fdinfo files: a range of their own per pid, far above
/// `pid << 8` and the sysctl tree's `1 << 40`.
const fn fd_ino(kind: u64, pid: u32, fd: u32) -> u64 {
    (kind << 56) | ((pid as u64) << 24) | fd as u64
}
const FD_LINK: u64 = 3;
const FD_INFO: u64 = 4;

fn owned(mut m: Metadata, uid: u32, gid: u32) -> Metadata {
    m.uid = uid;
    m.gid = gid;
    m
}

/// `/proc/<pid>/fd` (links) or `/proc/<pid>/fdinfo` (text files).
pub struct FdDir {
    pub pid: u32,
    pub info: bool,
    pub source: Arc<dyn ProcSource>,
    pub dev: u64,
    /// `/proc/<pid>` (weak: it caches this directory).
    pub parent: Weak<dyn Inode>,
    pub ino: u64,
}

impl FdDir {
    fn entry(&self, fd: u32) -> Result<FdEntry> {
        let fds = self.source.fds(self.pid).ok_or(Errno::ENOENT)?;
        fds.into_iter().find(|e| e.fd == fd).ok_or(Errno::ENOENT)
    }

    fn ids(&self) -> (u32, u32) {
        self.source
            .process(self.pid)
            .map_or((0, 0), |p| (p.uid, p.gid))
    }
}

impl Inode for FdDir {
    fn metadata(&self) -> Metadata {
        let (uid, gid) = self.ids();
        owned(meta(self.dev, self.ino, S_IFDIR | 0o500, 0, 2), uid, gid)
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if name == b".." {
            return self.parent.upgrade().ok_or(Errno::ENOENT);
        }
        if !self.source.may_inspect(self.pid) {
            return Err(Errno::EACCES);
        }
        // Linux's `name_to_int`: decimal digits, no sign, no leading zero.
        if name.is_empty() || (name.len() > 1 && name[0] == b'0') {
            return Err(Errno::ENOENT);
        }
        let fd = core::str::from_utf8(name)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or(Errno::ENOENT)?;
        let entry = self.entry(fd)?;
        let (uid, gid) = self.ids();
        if self.info {
            Ok(Arc::new(FdInfo {
                text: render_fdinfo(&entry),
                meta: owned(
                    meta(
                        self.dev,
                        fd_ino(FD_INFO, self.pid, fd),
                        S_IFREG | 0o444,
                        0,
                        1,
                    ),
                    uid,
                    gid,
                ),
            }))
        } else {
            let flags = entry.file.flags();
            // Linux: r-x for reading, -wx for writing, rwx for both.
            let mut mode = 0;
            if flags.readable() {
                mode |= 0o500;
            }
            if flags.writable() {
                mode |= 0o300;
            }
            Ok(Arc::new(MagicLink {
                pid: self.pid,
                source: self.source.clone(),
                meta: owned(
                    meta(
                        self.dev,
                        fd_ino(FD_LINK, self.pid, fd),
                        S_IFLNK | mode,
                        64,
                        1,
                    ),
                    uid,
                    gid,
                ),
                target: Target::Fd(entry.file),
            }))
        }
    }
    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        if !self.source.may_inspect(self.pid) {
            return Err(Errno::EACCES);
        }
        let fds = self.source.fds(self.pid).ok_or(Errno::ENOENT)?;
        let parent_ino = self.parent.upgrade().map_or(self.ino, |p| p.metadata().ino);
        let (kind, ino_kind) = if self.info {
            (FileType::Regular, FD_INFO)
        } else {
            (FileType::Symlink, FD_LINK)
        };
        // Cookies: 0 ".", 1 "..", then 2 + fd (stable while fds come and go).
        let mut entries: Vec<Entry> = alloc::vec![
            (0, self.ino, FileType::Directory, b".".to_vec()),
            (1, parent_ino, FileType::Directory, b"..".to_vec()),
        ];
        for e in &fds {
            entries.push((
                2 + u64::from(e.fd),
                fd_ino(ino_kind, self.pid, e.fd),
                kind,
                format!("{}", e.fd).into_bytes(),
            ));
        }
        emit(&entries, cookie, sink);
        Ok(())
    }
}

/// `fdinfo/N`, as Linux's `seq_show` (the `ino:` line since 5.14).
pub fn render_fdinfo(e: &FdEntry) -> Vec<u8> {
    format!(
        "pos:\t{}\nflags:\t0{:o}\nmnt_id:\t{}\nino:\t{}\n",
        e.file.offset(),
        e.flags,
        e.mnt_id,
        e.file.metadata().ino
    )
    .into_bytes()
}

/// One `fdinfo/N` file: its text is taken at lookup (the open file may go away).
struct FdInfo {
    text: Vec<u8>,
    meta: Metadata,
}

impl Inode for FdInfo {
    fn metadata(&self) -> Metadata {
        self.meta
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        let n = buf.len().min(self.text.len() - start);
        buf[..n].copy_from_slice(&self.text[start..start + n]);
        Ok(n)
    }
}

/// What a magic link leads to.
pub enum Target {
    /// An open file (named when read).
    Fd(Arc<OpenFile>),
    /// `cwd`, `root`, `exe`: a place and its name.
    Place(PathRef, Vec<u8>),
}

/// `fd/N`, `cwd`, `root`, `exe`.
pub struct MagicLink {
    pub pid: u32,
    pub source: Arc<dyn ProcSource>,
    pub meta: Metadata,
    pub target: Target,
}

impl Inode for MagicLink {
    fn metadata(&self) -> Metadata {
        self.meta
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn readlink(&self) -> Result<Vec<u8>> {
        if !self.source.may_inspect(self.pid) {
            return Err(Errno::EACCES);
        }
        Ok(match &self.target {
            Target::Fd(file) => self.source.file_name(self.pid, file),
            Target::Place(_, name) => name.clone(),
        })
    }
    fn jump(&self) -> Option<Result<Jump>> {
        if !self.source.may_inspect(self.pid) {
            return Some(Err(Errno::EACCES));
        }
        Some(Ok(match &self.target {
            Target::Place(place, _) => Jump::Place(place.clone()),
            Target::Fd(file) => match (file.path(), file.ops().and_then(|o| o.pipe())) {
                (Some(place), _) => Jump::Place(place.clone()),
                (None, Some(pipe)) => Jump::Inode(Arc::new(PipeNode {
                    pipe: pipe.clone(),
                    inode: file.inode().clone(),
                    owner: (self.meta.uid, self.meta.gid),
                })),
                (None, None) => Jump::Inode(Arc::new(AnonNode {
                    inode: file.inode().clone(),
                })),
            },
        }))
    }
}

/// A pipe reached through `/proc/<pid>/fd/N`: opens as a FIFO (a new end of the same pipe),
/// as Linux's pipefs inode; `fstat` sees the pipe's inode, owned by the process (Linux: by
/// the pipe's creator; the anonymous inode says root, which would refuse non-root opens).
struct PipeNode {
    pipe: Arc<Pipe>,
    inode: Arc<dyn Inode>,
    owner: (u32, u32),
}

impl Inode for PipeNode {
    fn metadata(&self) -> Metadata {
        owned(self.inode.metadata(), self.owner.0, self.owner.1)
    }
    fn set_attr(&self, attr: &SetAttr) -> Result<()> {
        self.inode.set_attr(attr)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn open(&self, flags: OpenFlags) -> Option<Result<Arc<dyn FileOps>>> {
        Some(self.pipe.open_fifo(flags))
    }
}

/// Another anonymous file (a KVM VM or vCPU): cannot be opened by path (Linux: `ENXIO`).
struct AnonNode {
    inode: Arc<dyn Inode>,
}

impl Inode for AnonNode {
    fn metadata(&self) -> Metadata {
        self.inode.metadata()
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn open(&self, _flags: OpenFlags) -> Option<Result<Arc<dyn FileOps>>> {
        Some(Err(Errno::ENXIO))
    }
}

/// `cwd`, `root` or `exe` of `pid` (`which` 0, 1, 2), `ENOENT` when it has none (a zombie).
pub fn place_link(
    source: &Arc<dyn ProcSource>,
    dev: u64,
    pid: u32,
    n: u64,
    which: u8,
) -> Result<Arc<dyn Inode>> {
    let Some(places) = source.places(pid) else {
        // A source without places (the host tests): the text of `ProcInfo`, as a plain link.
        let info = source.process(pid).ok_or(Errno::ENOENT)?;
        let target = match which {
            0 => info.cwd,
            1 => b"/".to_vec(),
            _ => info.exe,
        };
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        return Ok(Arc::new(crate::Link {
            dev,
            ino: pid_ino(pid, n),
            target,
        }));
    };
    let (place, name) = match which {
        0 => places.cwd,
        1 => places.root,
        _ => places.exe.ok_or(Errno::ENOENT)?,
    };
    let (uid, gid) = source.process(pid).map_or((0, 0), |p| (p.uid, p.gid));
    Ok(Arc::new(MagicLink {
        pid,
        source: source.clone(),
        meta: owned(
            meta(dev, pid_ino(pid, n), S_IFLNK | 0o777, name.len() as u64, 1),
            uid,
            gid,
        ),
        target: Target::Place(place, name),
    }))
}

/// `/<pid>/fd` or `/<pid>/fdinfo` for [`crate::name_of`].
pub fn name_of(any: &Arc<dyn Any + Send + Sync>) -> Option<Vec<u8>> {
    let d = any.downcast_ref::<FdDir>()?;
    let name = if d.info { "fdinfo" } else { "fd" };
    Some(format!("/{}/{name}", d.pid).into_bytes())
}
