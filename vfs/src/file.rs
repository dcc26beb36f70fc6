//! Open files (`struct file`): what an fd points to. An [`OpenFile`] holds its place in the
//! tree (or none for a pipe), either plain inode I/O or a [`FileOps`] object, the status flags
//! and the offset (with its own lock, as Linux's `f_pos_lock`).

use crate::dirent::encode_dirent64;
use crate::flock::{FlockOp, Flocks};
use crate::inode::{FileOps, Inode, UserMem};
use crate::mount::PathRef;
use crate::pipe::FIONREAD;
use crate::poll::{Events, Pollee};
use crate::types::{FileType, Metadata, SetAttr};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use spin::Mutex;
use syscall::{Arch, Errno, Result};

/// `open` flags in the x86_64 / asm-generic encoding; [`OpenFlags::from_linux`] converts the
/// four bits arm64 numbers differently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags(pub u32);

#[allow(missing_docs)]
impl OpenFlags {
    pub const RDONLY: OpenFlags = OpenFlags(0);
    pub const WRONLY: OpenFlags = OpenFlags(0o1);
    pub const RDWR: OpenFlags = OpenFlags(0o2);
    pub const ACCMODE: OpenFlags = OpenFlags(0o3);
    pub const CREAT: OpenFlags = OpenFlags(0o100);
    pub const EXCL: OpenFlags = OpenFlags(0o200);
    pub const NOCTTY: OpenFlags = OpenFlags(0o400);
    pub const TRUNC: OpenFlags = OpenFlags(0o1000);
    pub const APPEND: OpenFlags = OpenFlags(0o2000);
    pub const NONBLOCK: OpenFlags = OpenFlags(0o4000);
    pub const DSYNC: OpenFlags = OpenFlags(0o10000);
    pub const ASYNC: OpenFlags = OpenFlags(0o20000);
    pub const DIRECT: OpenFlags = OpenFlags(0o40000);
    pub const LARGEFILE: OpenFlags = OpenFlags(0o100000);
    pub const DIRECTORY: OpenFlags = OpenFlags(0o200000);
    pub const NOFOLLOW: OpenFlags = OpenFlags(0o400000);
    pub const NOATIME: OpenFlags = OpenFlags(0o1000000);
    pub const CLOEXEC: OpenFlags = OpenFlags(0o2000000);
    pub const SYNC: OpenFlags = OpenFlags(0o4010000);
    pub const PATH: OpenFlags = OpenFlags(0o10000000);
    pub const TMPFILE: OpenFlags = OpenFlags(0o20200000);
    /// Every flag `open` knows (others are ignored by Linux's `open`, refused by `openat2`).
    pub const VALID: OpenFlags = OpenFlags(0o37777703);
    /// The flags `fcntl(F_SETFL)` may change.
    pub const SETFL_MASK: OpenFlags = OpenFlags(0o2000 | 0o4000 | 0o20000 | 0o40000 | 0o1000000);

    /// Whether all bits of `flag` are set.
    pub const fn contains(self, flag: OpenFlags) -> bool {
        self.0 & flag.0 == flag.0
    }

    /// `self | other`.
    pub const fn with(self, other: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 | other.0)
    }

    /// `self & !other`.
    pub const fn without(self, other: OpenFlags) -> OpenFlags {
        OpenFlags(self.0 & !other.0)
    }

    /// The access mode bits (`O_RDONLY`, `O_WRONLY`, `O_RDWR`, or 3).
    pub const fn access(self) -> u32 {
        self.0 & 3
    }

    /// Whether reads are allowed (not for `O_PATH`).
    pub const fn readable(self) -> bool {
        !self.contains(Self::PATH) && matches!(self.access(), 0 | 2)
    }

    /// Whether writes are allowed (not for `O_PATH`).
    pub const fn writable(self) -> bool {
        !self.contains(Self::PATH) && matches!(self.access(), 1 | 2)
    }

    /// From the raw argument of `openat` on `arch`.
    pub const fn from_linux(raw: u32, arch: Arch) -> OpenFlags {
        match arch {
            Arch::X86_64 => OpenFlags(raw),
            Arch::Aarch64 => OpenFlags(swap_arm64(raw)),
        }
    }

    /// To the raw value `fcntl(F_GETFL)` returns on `arch`.
    pub const fn to_linux(self, arch: Arch) -> u32 {
        match arch {
            Arch::X86_64 => self.0,
            // The swap is its own inverse.
            Arch::Aarch64 => swap_arm64(self.0),
        }
    }
}

/// arm64's `O_DIRECTORY` 0o40000, `O_NOFOLLOW` 0o100000, `O_DIRECT` 0o200000, `O_LARGEFILE`
/// 0o400000 (`arch/arm64/include/uapi/asm/fcntl.h`) ⇄ the generic values.
const fn swap_arm64(raw: u32) -> u32 {
    const GENERIC: [u32; 4] = [0o200000, 0o400000, 0o40000, 0o100000];
    const ARM64: [u32; 4] = [0o40000, 0o100000, 0o200000, 0o400000];
    let mut out = raw & !(0o40000 | 0o100000 | 0o200000 | 0o400000);
    let mut i = 0;
    while i < 4 {
        if raw & ARM64[i] != 0 {
            out |= GENERIC[i];
        }
        i += 1;
    }
    out
}

/// `lseek` whence values.
pub const SEEK_SET: u32 = 0;
/// Relative to the current offset.
pub const SEEK_CUR: u32 = 1;
/// Relative to the end.
pub const SEEK_END: u32 = 2;
/// Next data at or after the offset.
pub const SEEK_DATA: u32 = 3;
/// Next hole at or after the offset.
pub const SEEK_HOLE: u32 = 4;

/// Largest file offset (`MAX_LFS_FILESIZE` on 64-bit).
pub const MAX_OFFSET: u64 = i64::MAX as u64;

/// An open file description.
pub struct OpenFile {
    path: Option<PathRef>,
    inode: Arc<dyn Inode>,
    ops: Option<Arc<dyn FileOps>>,
    flags: AtomicU32,
    pos: Mutex<u64>,
    /// It has taken a `flock` lock at some point (so its last close must release it).
    flocked: AtomicBool,
}

impl OpenFile {
    /// A file doing plain inode I/O on `path` (regular files, directories, `O_PATH`).
    pub fn new(path: PathRef, flags: OpenFlags) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            inode: path.inode.clone(),
            path: Some(path),
            ops: None,
            flags: AtomicU32::new(flags.without(OpenFlags::CLOEXEC).0),
            pos: Mutex::new(0),
            flocked: AtomicBool::new(false),
        })
    }

    /// A file whose I/O is `ops` (a device, a FIFO end); `path` is where it was opened, or
    /// `None` and an anonymous `inode` (a pipe from `pipe2`).
    pub fn with_ops(
        path: Option<PathRef>,
        inode: Arc<dyn Inode>,
        ops: Arc<dyn FileOps>,
        flags: OpenFlags,
    ) -> Arc<OpenFile> {
        Arc::new(OpenFile {
            path,
            inode,
            ops: Some(ops),
            flags: AtomicU32::new(flags.without(OpenFlags::CLOEXEC).0),
            pos: Mutex::new(0),
            flocked: AtomicBool::new(false),
        })
    }

    /// The two ends of a new pipe (`pipe2`): (read, write). `flags` may hold `O_NONBLOCK`
    /// (and `O_CLOEXEC`, which belongs to the fds and is ignored here).
    pub fn new_pipe(flags: OpenFlags) -> (Arc<OpenFile>, Arc<OpenFile>) {
        let (r, w) = crate::pipe::Pipe::new_pair();
        let inode: Arc<dyn Inode> = Arc::new(crate::anon::AnonInode::pipe());
        let status = flags.without(OpenFlags::ACCMODE);
        (
            OpenFile::with_ops(None, inode.clone(), r, status),
            OpenFile::with_ops(None, inode, w, status.with(OpenFlags::WRONLY)),
        )
    }

    /// The identity `flock` locks are keyed by: this file's (`st_dev`, `st_ino`), and this
    /// open file description as the owner.
    fn flock_key(&self) -> ((u64, u64), usize) {
        let meta = self.inode.metadata();
        ((meta.dev, meta.ino), core::ptr::from_ref(self) as usize)
    }

    /// `flock(2)` without blocking: `EAGAIN` (`EWOULDBLOCK`) if another open file description
    /// holds a lock in the way; the caller waits on [`Flocks::released`] to block.
    pub fn flock(&self, op: FlockOp) -> Result<()> {
        let (file, owner) = self.flock_key();
        if op != FlockOp::Unlock {
            self.flocked.store(true, Ordering::Relaxed);
        }
        Flocks::get().try_apply(file, owner, op)
    }

    /// Where it was opened.
    pub fn path(&self) -> Option<&PathRef> {
        self.path.as_ref()
    }

    /// The file object, if it is not plain inode I/O.
    pub fn ops(&self) -> Option<&Arc<dyn FileOps>> {
        self.ops.as_ref()
    }

    /// The inode (`fstat`, `fchmod`...).
    pub fn inode(&self) -> &Arc<dyn Inode> {
        &self.inode
    }

    /// `fstat`.
    pub fn metadata(&self) -> Metadata {
        self.inode.metadata()
    }

    /// The status flags and access mode (`F_GETFL`).
    pub fn flags(&self) -> OpenFlags {
        OpenFlags(self.flags.load(Ordering::Relaxed))
    }

    /// `F_SETFL`: changes only the flags in [`OpenFlags::SETFL_MASK`].
    pub fn set_status_flags(&self, new: OpenFlags) {
        let mask = OpenFlags::SETFL_MASK.0;
        let _ = self
            .flags
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some((old & !mask) | (new.0 & mask))
            });
    }

    fn nonblock(&self) -> bool {
        self.flags().contains(OpenFlags::NONBLOCK)
    }

    fn check_readable(&self) -> Result<()> {
        if self.flags().readable() {
            Ok(())
        } else {
            Err(Errno::EBADF)
        }
    }

    fn check_writable(&self) -> Result<()> {
        if self.flags().writable() {
            Ok(())
        } else {
            Err(Errno::EBADF)
        }
    }

    fn is_dir(&self) -> bool {
        self.ops.is_none() && self.inode.metadata().is_dir()
    }

    /// `read`: at the offset, which advances. `EBADF` if not open for reading, `EISDIR` on a
    /// directory, `EAGAIN` where a blocking read would wait.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.check_readable()?;
        match &self.ops {
            Some(ops) if !ops.seekable() => ops.read(0, buf, self.nonblock()),
            Some(ops) => {
                let mut pos = self.pos.lock();
                let n = ops.read(*pos, buf, self.nonblock())?;
                *pos += n as u64;
                Ok(n)
            }
            None => {
                if self.is_dir() {
                    return Err(Errno::EISDIR);
                }
                let mut pos = self.pos.lock();
                let n = self.inode.read_at(*pos, buf)?;
                *pos += n as u64;
                Ok(n)
            }
        }
    }

    /// `write`: at the offset (at the end with `O_APPEND`), which advances.
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        self.check_writable()?;
        match &self.ops {
            Some(ops) if !ops.seekable() => ops.write(0, buf, self.nonblock()),
            Some(ops) => {
                let mut pos = self.pos.lock();
                let n = ops.write(*pos, buf, self.nonblock())?;
                *pos += n as u64;
                Ok(n)
            }
            None => {
                let mut pos = self.pos.lock();
                if self.flags().contains(OpenFlags::APPEND) {
                    *pos = self.inode.metadata().size;
                }
                let n = self.write_checked(*pos, buf)?;
                *pos += n as u64;
                Ok(n)
            }
        }
    }

    fn write_checked(&self, offset: u64, buf: &[u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if offset >= MAX_OFFSET {
            return Err(Errno::EFBIG);
        }
        let room = usize::try_from(MAX_OFFSET - offset).unwrap_or(usize::MAX);
        self.inode.write_at(offset, &buf[..buf.len().min(room)])
    }

    /// `pread64`: `ESPIPE` on pipes, `EINVAL` for a negative offset; the offset stays.
    pub fn pread(&self, buf: &mut [u8], offset: i64) -> Result<usize> {
        self.check_readable()?;
        let offset = u64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        match &self.ops {
            Some(ops) if !ops.seekable() && !ops.seek_noop() => Err(Errno::ESPIPE),
            Some(ops) => ops.read(offset, buf, self.nonblock()),
            None if self.is_dir() => Err(Errno::EISDIR),
            None => self.inode.read_at(offset, buf),
        }
    }

    /// `pwrite64`: as [`pread`](Self::pread); with `O_APPEND` it appends, as Linux does.
    pub fn pwrite(&self, buf: &[u8], offset: i64) -> Result<usize> {
        self.check_writable()?;
        let offset = u64::try_from(offset).map_err(|_| Errno::EINVAL)?;
        match &self.ops {
            Some(ops) if !ops.seekable() && !ops.seek_noop() => Err(Errno::ESPIPE),
            Some(ops) => ops.write(offset, buf, self.nonblock()),
            None => {
                let _pos = self.pos.lock();
                let offset = if self.flags().contains(OpenFlags::APPEND) {
                    self.inode.metadata().size
                } else {
                    offset
                };
                self.write_checked(offset, buf)
            }
        }
    }

    /// `lseek`. `ESPIPE` on pipes and FIFOs; `EINVAL` for a bad `whence` or a negative result;
    /// `SEEK_DATA`/`SEEK_HOLE` treat the whole file as data (`ENXIO` at or past the end).
    /// On a directory only `SEEK_SET` (to a cookie) and `SEEK_CUR` are allowed.
    pub fn lseek(&self, offset: i64, whence: u32) -> Result<u64> {
        if let Some(ops) = &self.ops {
            if ops.seek_noop() {
                return Ok(0);
            }
            if !ops.seekable() {
                return Err(Errno::ESPIPE);
            }
        }
        if self.flags().contains(OpenFlags::PATH) {
            return Err(Errno::EBADF);
        }
        let mut pos = self.pos.lock();
        let dir = self.is_dir();
        let size = self.inode.metadata().size;
        let base: i64 = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *pos as i64,
            SEEK_END if !dir => size as i64,
            SEEK_DATA | SEEK_HOLE if !dir => {
                let off = u64::try_from(offset).map_err(|_| Errno::ENXIO)?;
                if off >= size {
                    return Err(Errno::ENXIO);
                }
                *pos = if whence == SEEK_DATA { off } else { size };
                return Ok(*pos);
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = base.checked_add(offset).ok_or(Errno::EINVAL)?;
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(*pos)
    }

    /// The current offset.
    pub fn offset(&self) -> u64 {
        *self.pos.lock()
    }

    /// `getdents64`: fills `buf` with `linux_dirent64` records from the offset (a readdir
    /// cookie), which advances past them. `ENOTDIR` if no directory; `EINVAL` if the next
    /// entry does not fit in an empty `buf`; 0 at the end.
    pub fn getdents64(&self, buf: &mut [u8]) -> Result<usize> {
        if self.flags().contains(OpenFlags::PATH) {
            return Err(Errno::EBADF);
        }
        if self.ops.is_some() || !self.inode.metadata().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut pos = self.pos.lock();
        let mut used = 0;
        let mut next = *pos;
        let mut too_small = false;
        self.inode.readdir(
            *pos,
            &mut |entry| match encode_dirent64(&mut buf[used..], entry) {
                Some(len) => {
                    used += len;
                    next = entry.next;
                    true
                }
                None => {
                    too_small = used == 0;
                    false
                }
            },
        )?;
        if too_small {
            return Err(Errno::EINVAL);
        }
        *pos = next;
        Ok(used)
    }

    /// The pipe of a pipe or FIFO end. A blocking `open` of a FIFO waits on its pollee until
    /// `writers()` (for a reader) or `readers()` (for a writer) is non-zero.
    pub fn pipe(&self) -> Option<&Arc<crate::pipe::Pipe>> {
        self.ops.as_ref().and_then(|ops| ops.pipe())
    }

    /// Readiness for `poll`.
    pub fn poll(&self) -> Events {
        match &self.ops {
            Some(ops) => ops.poll(),
            None => self.inode.poll(),
        }
    }

    /// Where to register for readiness changes (`None`: the readiness never changes).
    pub fn pollee(&self) -> Option<&Pollee> {
        match &self.ops {
            Some(ops) => ops.pollee(),
            None => self.inode.pollee(),
        }
    }

    /// `ioctl`: the file object's, else the inode's; `FIONREAD` on a regular file is the
    /// bytes left after the offset. `EBADF` for `O_PATH`.
    pub fn ioctl(&self, cmd: u32, arg: usize, user: &dyn UserMem) -> Result<usize> {
        if self.flags().contains(OpenFlags::PATH) {
            return Err(Errno::EBADF);
        }
        if let Some(ops) = &self.ops {
            return ops.ioctl(cmd, arg, user);
        }
        let meta = self.inode.metadata();
        if cmd == FIONREAD && meta.file_type() == FileType::Regular {
            let left = meta.size.saturating_sub(*self.pos.lock());
            let n = i32::try_from(left).unwrap_or(i32::MAX);
            user.write(arg, &n.to_ne_bytes())?;
            return Ok(0);
        }
        self.inode.ioctl(cmd, arg, user)
    }

    /// The page-cache frame at `offset` for `mmap` ([`Inode::cached_page`]); `None` for
    /// files with their own behaviour (devices, pipes) and inodes without a page cache.
    pub fn cached_page(&self, offset: u64) -> Option<Result<u64>> {
        if self.ops.is_some() {
            return None;
        }
        self.inode.cached_page(offset)
    }

    /// Whether [`OpenFile::cached_page`] answers for every offset.
    pub fn has_page_cache(&self) -> bool {
        self.ops.is_none() && self.inode.has_page_cache()
    }

    /// `ftruncate`: `EINVAL` unless a regular file open for writing (Linux says `EINVAL`, not
    /// `EBADF`, for a file open read-only), `EBADF` for `O_PATH`.
    pub fn truncate(&self, len: i64) -> Result<()> {
        let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
        if self.flags().contains(OpenFlags::PATH) {
            return Err(Errno::EBADF);
        }
        if self.ops.is_some() || self.inode.metadata().file_type() != FileType::Regular {
            return Err(Errno::EINVAL);
        }
        if !self.flags().writable() {
            return Err(Errno::EINVAL);
        }
        self.inode.set_attr(&SetAttr {
            size: Some(len),
            ..SetAttr::default()
        })
    }
}

impl core::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "OpenFile({:?}, {:?})", self.path, self.flags())
    }
}

impl Drop for OpenFile {
    /// The last close of an open file description drops its `flock` locks.
    fn drop(&mut self) {
        if self.flocked.load(Ordering::Relaxed) {
            let (file, owner) = self.flock_key();
            Flocks::get().release(file, owner);
        }
    }
}
