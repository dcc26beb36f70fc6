//! tmpfs: a filesystem that lives in memory, implementing `vfs::Inode`.
//!
//! Regular files keep their data in 4 KiB pages in a map, so holes cost nothing and read as
//! zeros. The pages come from a [`PageProvider`]: in the kernel, physical frames, so they are
//! the page cache `mmap` maps ([`Inode::cached_page`], `file.rs`); on the host, the heap.
//! Directories keep their entries under increasing cookies (stable `readdir`
//! positions); symlinks, device nodes, FIFOs (each with its pipe) and sockets are plain
//! inodes. Times follow Linux: creation stamps all three, a write sets mtime and ctime, every
//! metadata change sets ctime, a read sets atime the `relatime` way. Sizes follow Linux's
//! shmem: a directory is 40 bytes plus 20 per entry.
//!
//! Locking: one namespace lock per filesystem serialises the calls that change directories
//! (as Linux's `s_vfs_rename_mutex` does for renames), so renames between directories cannot
//! deadlock; each inode has a body lock (data or entries) and a metadata lock, taken in that
//! order.

#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod dir;
mod file;
pub mod options;
mod pages;

pub use pages::HeapPages;

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use dir::DirData;
use file::FileData;
use spin::Mutex;
use syscall::{Errno, Result};
use vfs::inode::RenameFlags;
use vfs::pipe::Pipe;
use vfs::types::{S_ISGID, S_ISUID, S_IXGRP, StatFs};
use vfs::{
    Clock, DirEntry, FileOps, FileSystem, FileType, Inode, Metadata, NewNode, OpenFlags,
    PageProvider, SetAttr, SetTime, Timespec,
};

/// `statfs` magic of tmpfs.
pub const TMPFS_MAGIC: u64 = 0x0102_1994;
/// Page size of file data.
pub const PAGE_SIZE: usize = 4096;
/// Size a directory entry adds to a directory's `st_size` (Linux's `BOGO_DIRENT_SIZE`).
pub const DIRENT_SIZE: u64 = 20;

/// State shared by all inodes of one tmpfs instance.
struct Shared {
    dev: u64,
    clock: Arc<dyn Clock>,
    next_ino: AtomicU64,
    /// Serialises directory changes.
    ns_lock: Mutex<()>,
    pages: AtomicU64,
    max_pages: u64,
    inodes: AtomicU64,
    max_inodes: u64,
    fs_type: &'static str,
    /// Where file pages come from.
    provider: Arc<dyn PageProvider>,
}

impl Shared {
    fn now(&self) -> Timespec {
        self.clock.now()
    }

    /// Takes one page of the budget (`ENOSPC` when spent).
    fn charge_page(&self) -> Result<()> {
        self.pages
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| {
                (p < self.max_pages).then_some(p + 1)
            })
            .map(|_| ())
            .map_err(|_| Errno::ENOSPC)
    }

    fn uncharge_pages(&self, n: u64) {
        self.pages.fetch_sub(n, Ordering::Relaxed);
    }
}

/// A tmpfs instance.
pub struct TmpFs {
    shared: Arc<Shared>,
    root: Arc<TmpInode>,
}

impl TmpFs {
    /// A tmpfs with no size limit to speak of, device number `dev`, root mode `0o1777` like
    /// a fresh `mount -t tmpfs` (use `set_attr` on the root to change it), file pages on the
    /// heap (no page cache for `mmap`).
    pub fn new(clock: Arc<dyn Clock>, dev: u64) -> Arc<TmpFs> {
        TmpFs::with_limits(clock, dev, u64::MAX / 2, u64::MAX / 2, "tmpfs")
    }

    /// As [`TmpFs::new`], with file pages from `provider` (the kernel's frames: then files
    /// offer their pages to `mmap`).
    pub fn with_pages(
        clock: Arc<dyn Clock>,
        dev: u64,
        provider: Arc<dyn PageProvider>,
    ) -> Arc<TmpFs> {
        TmpFs::build(clock, dev, u64::MAX / 2, u64::MAX / 2, "tmpfs", provider)
    }

    /// A tmpfs holding at most `max_pages` pages of data and `max_inodes` inodes (Linux's
    /// `size=` and `nr_inodes=`), reporting `fs_type` in `/proc/mounts`, pages on the heap.
    pub fn with_limits(
        clock: Arc<dyn Clock>,
        dev: u64,
        max_pages: u64,
        max_inodes: u64,
        fs_type: &'static str,
    ) -> Arc<TmpFs> {
        let provider = Arc::new(HeapPages::new());
        TmpFs::build(clock, dev, max_pages, max_inodes, fs_type, provider)
    }

    /// The general constructor: limits as [`TmpFs::with_limits`], pages from `provider`.
    pub fn build(
        clock: Arc<dyn Clock>,
        dev: u64,
        max_pages: u64,
        max_inodes: u64,
        fs_type: &'static str,
        provider: Arc<dyn PageProvider>,
    ) -> Arc<TmpFs> {
        let shared = Arc::new(Shared {
            dev,
            clock,
            next_ino: AtomicU64::new(1),
            ns_lock: Mutex::new(()),
            pages: AtomicU64::new(0),
            max_pages,
            inodes: AtomicU64::new(0),
            max_inodes,
            fs_type,
            provider,
        });
        let root = TmpInode::new(
            &shared,
            &NewNode {
                mode: vfs::types::S_IFDIR | 0o1777,
                rdev: 0,
                uid: 0,
                gid: 0,
            },
            Weak::new(),
            b"",
        )
        .unwrap_or_else(|_| unreachable!("the first inode always fits"));
        Arc::new(TmpFs { shared, root })
    }

    /// The root directory as a concrete inode.
    pub fn root_inode(&self) -> &Arc<TmpInode> {
        &self.root
    }
}

impl FileSystem for TmpFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }

    fn statfs(&self) -> StatFs {
        let s = &self.shared;
        let pages = s.pages.load(Ordering::Relaxed);
        let inodes = s.inodes.load(Ordering::Relaxed);
        StatFs {
            fs_type: TMPFS_MAGIC,
            bsize: PAGE_SIZE as u64,
            blocks: s.max_pages,
            bfree: s.max_pages.saturating_sub(pages),
            bavail: s.max_pages.saturating_sub(pages),
            files: s.max_inodes,
            ffree: s.max_inodes.saturating_sub(inodes),
            namelen: vfs::NAME_MAX as u64,
            frsize: PAGE_SIZE as u64,
            flags: 0,
        }
    }

    fn fs_type(&self) -> &'static str {
        self.shared.fs_type
    }
}

/// What an inode holds besides its metadata.
enum Body {
    File(Mutex<FileData>),
    Dir(Mutex<DirData>),
    Symlink(Vec<u8>),
    Fifo(Arc<Pipe>),
    /// Device nodes and sockets.
    Special,
}

/// One tmpfs inode.
pub struct TmpInode {
    ino: u64,
    kind: FileType,
    shared: Arc<Shared>,
    /// Metadata; `size` and `blocks` of files come from the body.
    meta: Mutex<Metadata>,
    body: Body,
    me: Weak<TmpInode>,
}

impl Drop for TmpInode {
    fn drop(&mut self) {
        self.shared.inodes.fetch_sub(1, Ordering::Relaxed);
        if let Body::File(data) = &self.body {
            data.lock().release(&self.shared);
        }
    }
}

impl TmpInode {
    fn new(
        shared: &Arc<Shared>,
        node: &NewNode,
        parent: Weak<TmpInode>,
        target: &[u8],
    ) -> Result<Arc<TmpInode>> {
        shared
            .inodes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < shared.max_inodes).then_some(n + 1)
            })
            .map_err(|_| Errno::ENOSPC)?;
        let kind = FileType::from_mode(node.mode).ok_or(Errno::EINVAL)?;
        let now = shared.now();
        let ino = shared.next_ino.fetch_add(1, Ordering::Relaxed);
        let body = match kind {
            FileType::Regular => Body::File(Mutex::new(FileData::default())),
            FileType::Directory => Body::Dir(Mutex::new(DirData::new(parent))),
            FileType::Symlink => Body::Symlink(target.to_vec()),
            FileType::Fifo => Body::Fifo(Pipe::new()),
            FileType::CharDevice | FileType::BlockDevice | FileType::Socket => Body::Special,
        };
        let meta = Metadata {
            dev: shared.dev,
            ino,
            mode: node.mode,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: node.uid,
            gid: node.gid,
            rdev: node.rdev,
            size: 0,
            blksize: PAGE_SIZE as u32,
            blocks: 0,
            atime: now,
            mtime: now,
            ctime: now,
        };
        Ok(Arc::new_cyclic(|me| TmpInode {
            ino,
            kind,
            shared: shared.clone(),
            meta: Mutex::new(meta),
            body,
            me: me.clone(),
        }))
    }

    fn this(&self) -> Arc<TmpInode> {
        self.me
            .upgrade()
            .unwrap_or_else(|| unreachable!("a live inode is in an Arc"))
    }

    fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    fn dir(&self) -> Result<&Mutex<DirData>> {
        match &self.body {
            Body::Dir(d) => Ok(d),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Changes the link count and stamps ctime.
    fn add_links(&self, delta: i32, now: Timespec) {
        let mut meta = self.meta.lock();
        meta.nlink = meta.nlink.saturating_add_signed(delta);
        meta.ctime = now;
    }

    /// Stamps mtime and ctime (a directory's entries or a file's data changed).
    fn touch(&self, now: Timespec) {
        let mut meta = self.meta.lock();
        meta.mtime = now;
        meta.ctime = now;
    }

    /// The concrete inode behind `inode` if it belongs to this filesystem instance.
    fn same_fs(&self, inode: &Arc<dyn Inode>) -> Result<Arc<TmpInode>> {
        let other = inode
            .clone()
            .into_any()
            .downcast::<TmpInode>()
            .map_err(|_| Errno::EXDEV)?;
        if Arc::ptr_eq(&other.shared, &self.shared) {
            Ok(other)
        } else {
            Err(Errno::EXDEV)
        }
    }
}

impl Inode for TmpInode {
    fn metadata(&self) -> Metadata {
        let mut meta = *self.meta.lock();
        match &self.body {
            Body::File(data) => {
                let data = data.lock();
                meta.size = data.size();
                meta.blocks = data.page_count() * (PAGE_SIZE as u64 / 512);
            }
            Body::Dir(dir) => meta.size = 2 * DIRENT_SIZE + dir.lock().len() as u64 * DIRENT_SIZE,
            Body::Symlink(target) => meta.size = target.len() as u64,
            Body::Fifo(_) | Body::Special => {}
        }
        meta
    }

    fn set_attr(&self, attr: &SetAttr) -> Result<()> {
        let now = self.shared.now();
        if let Some(size) = attr.size {
            match &self.body {
                Body::File(data) => data.lock().truncate(&self.shared, size)?,
                Body::Dir(_) => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        let mut meta = self.meta.lock();
        // chown clears set-user-id (and executable set-group-id) even to the same owner.
        let owner_changed = attr.uid.is_some() || attr.gid.is_some();
        if let Some(uid) = attr.uid {
            meta.uid = uid;
        }
        if let Some(gid) = attr.gid {
            meta.gid = gid;
        }
        if owner_changed && attr.mode.is_none() && !meta.is_dir() {
            meta.mode &= !S_ISUID;
            if meta.mode & S_IXGRP != 0 {
                meta.mode &= !S_ISGID;
            }
        }
        if let Some(mode) = attr.mode {
            meta.mode = (meta.mode & vfs::types::S_IFMT) | (mode & 0o7777);
        }
        let pick = |t: SetTime| match t {
            SetTime::Now => now,
            SetTime::At(t) => t,
        };
        if let Some(t) = attr.atime {
            meta.atime = pick(t);
        }
        if let Some(t) = attr.mtime {
            meta.mtime = pick(t);
        }
        if attr.size.is_some() {
            meta.mtime = now;
        }
        meta.ctime = now;
        Ok(())
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        match &self.body {
            Body::File(data) => {
                let n = data.lock().read(&self.shared, offset, buf);
                if n > 0 {
                    let now = self.shared.now();
                    let mut meta = self.meta.lock();
                    // relatime: only when atime is behind a change or a day old.
                    if meta.atime <= meta.mtime
                        || meta.atime <= meta.ctime
                        || now.sec - meta.atime.sec >= 86_400
                    {
                        meta.atime = now;
                    }
                }
                Ok(n)
            }
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize> {
        match &self.body {
            Body::File(data) => {
                let n = data.lock().write(&self.shared, offset, buf)?;
                if n > 0 {
                    self.touch(self.shared.now());
                }
                Ok(n)
            }
            Body::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::EINVAL),
        }
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let dir = self.dir()?.lock();
        if name == b".." {
            return Ok(dir.parent().unwrap_or_else(|| self.this()) as Arc<dyn Inode>);
        }
        if name == b"." {
            return Ok(self.this());
        }
        dir.get(name)
            .map(|i| i as Arc<dyn Inode>)
            .ok_or(Errno::ENOENT)
    }

    fn create(&self, name: &[u8], node: &NewNode) -> Result<Arc<dyn Inode>> {
        let _ns = self.shared.ns_lock.lock();
        self.create_locked(name, node, None)
    }

    fn symlink(&self, name: &[u8], target: &[u8], uid: u32, gid: u32) -> Result<Arc<dyn Inode>> {
        let _ns = self.shared.ns_lock.lock();
        let node = NewNode {
            mode: vfs::types::S_IFLNK | 0o777,
            rdev: 0,
            uid,
            gid,
        };
        self.create_locked(name, &node, Some(target))
    }

    fn link(&self, name: &[u8], inode: &Arc<dyn Inode>) -> Result<()> {
        let target = self.same_fs(inode)?;
        if target.is_dir() {
            return Err(Errno::EPERM);
        }
        let _ns = self.shared.ns_lock.lock();
        if target.meta.lock().nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let now = self.shared.now();
        self.dir()?.lock().insert(name, target.clone())?;
        target.add_links(1, now);
        self.touch(now);
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<()> {
        let _ns = self.shared.ns_lock.lock();
        let mut dir = self.dir()?.lock();
        let victim = dir.get(name).ok_or(Errno::ENOENT)?;
        if victim.is_dir() {
            return Err(Errno::EISDIR);
        }
        dir.remove(name);
        drop(dir);
        let now = self.shared.now();
        victim.add_links(-1, now);
        self.touch(now);
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> Result<()> {
        let _ns = self.shared.ns_lock.lock();
        let victim = self.dir()?.lock().get(name).ok_or(Errno::ENOENT)?;
        let victim_dir = victim.dir()?;
        {
            let mut v = victim_dir.lock();
            if !v.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            v.kill();
        }
        self.dir()?.lock().remove(name);
        let now = self.shared.now();
        victim.meta.lock().nlink = 0;
        victim.touch(now);
        self.add_links(-1, now);
        self.touch(now);
        Ok(())
    }

    fn rename(
        &self,
        old_name: &[u8],
        new_dir: &Arc<dyn Inode>,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        let new_dir = self.same_fs(new_dir)?;
        let _ns = self.shared.ns_lock.lock();
        dir::rename(
            &self.this(),
            old_name,
            &new_dir,
            new_name,
            flags,
            self.shared.now(),
        )
    }

    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        let dir = self.dir()?.lock();
        let parent_ino = dir.parent().map_or(self.ino, |p| p.ino);
        dir.list(self.ino, parent_ino, cookie, sink);
        Ok(())
    }

    fn readlink(&self) -> Result<Vec<u8>> {
        match &self.body {
            Body::Symlink(target) => Ok(target.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(&self, flags: OpenFlags) -> Option<Result<Arc<dyn FileOps>>> {
        match &self.body {
            Body::Fifo(pipe) => Some(pipe.open_fifo(flags)),
            _ => None,
        }
    }

    fn has_page_cache(&self) -> bool {
        matches!(self.body, Body::File(_)) && self.shared.provider.physical()
    }

    fn cached_page(&self, offset: u64) -> Option<Result<u64>> {
        match &self.body {
            Body::File(data) if self.shared.provider.physical() => {
                Some(data.lock().cached_page(&self.shared, offset))
            }
            _ => None,
        }
    }
}

impl TmpInode {
    /// Creates `name` with the namespace lock held; `target` for symlinks.
    fn create_locked(
        &self,
        name: &[u8],
        node: &NewNode,
        target: Option<&[u8]>,
    ) -> Result<Arc<dyn Inode>> {
        let dir_meta = *self.meta.lock();
        let mut dir = self.dir()?.lock();
        if dir.is_dead() {
            return Err(Errno::ENOENT);
        }
        if dir.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        let mut node = *node;
        // Set-group-id directories hand their group (and, to subdirectories, the bit) down.
        if dir_meta.mode & S_ISGID != 0 {
            node.gid = dir_meta.gid;
            if node.mode & vfs::types::S_IFMT == vfs::types::S_IFDIR {
                node.mode |= S_ISGID;
            }
        }
        let inode = TmpInode::new(&self.shared, &node, self.me.clone(), target.unwrap_or(b""))?;
        dir.insert(name, inode.clone())?;
        drop(dir);
        let now = self.shared.now();
        if inode.is_dir() {
            self.add_links(1, now);
        }
        self.touch(now);
        Ok(inode)
    }
}

#[cfg(test)]
mod tests;
