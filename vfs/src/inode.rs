//! The object-safe traits filesystems and devices implement: [`Inode`], [`FileSystem`],
//! [`FileOps`] (an open file object with its own behaviour: pipes, devices) and [`UserMem`]
//! (how an `ioctl` reaches user memory without this crate touching it).

use crate::file::OpenFlags;
use crate::poll::{Events, Pollee};
use crate::types::{DirEntry, Metadata, NewNode, SetAttr, StatFs};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use syscall::{Errno, Result};

/// `renameat2` flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenameFlags(pub u32);

impl RenameFlags {
    /// Fail with `EEXIST` rather than replace.
    pub const NOREPLACE: RenameFlags = RenameFlags(1);
    /// Swap the two names (both must exist).
    pub const EXCHANGE: RenameFlags = RenameFlags(2);
    /// Leave a whiteout (overlayfs; not supported: `EINVAL`).
    pub const WHITEOUT: RenameFlags = RenameFlags(4);

    /// Whether `flag` is set.
    pub const fn has(self, flag: RenameFlags) -> bool {
        self.0 & flag.0 != 0
    }
}

/// An inode: a file, directory, symlink, device node, FIFO or socket of some filesystem.
///
/// Identity is the `Arc`'s address: a filesystem must hand out the same `Arc` for the same
/// inode while it is alive (tmpfs keeps every inode in its directories). Operations that do
/// not apply to the inode's type keep the default, which returns the errno Linux gives.
///
/// Directory operations receive single names (no `/`, not `.` or `..`, 1..=255 bytes): the
/// walk has checked them. Permission checks are the caller's ([`crate::perm`]), so a
/// filesystem only enforces its own structural rules.
pub trait Inode: Any + Send + Sync {
    /// The inode's `stat` data.
    fn metadata(&self) -> Metadata;

    /// Applies a metadata change (and sets ctime). Size changes: `EISDIR` on a directory,
    /// `EINVAL` on other non-regular files.
    fn set_attr(&self, attr: &SetAttr) -> Result<()>;

    /// For filesystems to find their own type behind an `Arc<dyn Inode>` (`link`, `rename`).
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;

    /// Reads at `offset`; 0 at or past the end. Directories: `EISDIR`.
    fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::EINVAL)
    }

    /// Writes at `offset`, growing the file; updates mtime and ctime.
    fn write_at(&self, _offset: u64, _buf: &[u8]) -> Result<usize> {
        Err(Errno::EINVAL)
    }

    /// Finds `name` in this directory. `ENOENT` if absent, `ENOTDIR` if this is no directory.
    /// `..` must be answered too: the parent, or the directory itself at the filesystem root.
    fn lookup(&self, _name: &[u8]) -> Result<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Creates `name` (regular file, directory, device node, FIFO or socket as `node.mode`
    /// says). `EEXIST` if the name exists, `ENOENT` if this directory was removed.
    fn create(&self, _name: &[u8], _node: &NewNode) -> Result<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Creates a symlink `name` → `target` (mode `0o777`).
    fn symlink(
        &self,
        _name: &[u8],
        _target: &[u8],
        _uid: u32,
        _gid: u32,
    ) -> Result<Arc<dyn Inode>> {
        Err(Errno::ENOTDIR)
    }

    /// Adds the name `name` for `inode` (a non-directory of the same filesystem, else
    /// `EXDEV`); `ENOENT` if `inode` has no links left.
    fn link(&self, _name: &[u8], _inode: &Arc<dyn Inode>) -> Result<()> {
        Err(Errno::ENOTDIR)
    }

    /// Removes the non-directory `name` (`EISDIR` for a directory).
    fn unlink(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::ENOTDIR)
    }

    /// Removes the empty directory `name`: `ENOTDIR` if it is none, `ENOTEMPTY` if it has
    /// entries.
    fn rmdir(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::ENOTDIR)
    }

    /// Moves `old_name` of this directory to `new_name` of `new_dir` with Linux's rules:
    /// replacing a non-directory by a non-directory, a directory over an empty directory
    /// (`ENOTEMPTY` else, `ENOTDIR`/`EISDIR` on a type mismatch), `EINVAL` moving a directory
    /// into itself, `EXDEV` for a `new_dir` of another filesystem, nothing to do when both names
    /// are links of the same inode. Flags: [`RenameFlags`].
    fn rename(
        &self,
        _old_name: &[u8],
        _new_dir: &Arc<dyn Inode>,
        _new_name: &[u8],
        _flags: RenameFlags,
    ) -> Result<()> {
        Err(Errno::ENOTDIR)
    }

    /// Lists this directory from `cookie` (0 = start, with `.` and `..` first), calling `sink`
    /// per entry until it returns `false` (that entry is not consumed) or the end. Each entry's
    /// `next` is the cookie to resume after it; cookies stay valid while the directory
    /// changes: an entry present for the whole listing is seen exactly once. `sink` runs with
    /// the directory locked: it must not call back into this directory.
    fn readdir(&self, _cookie: u64, _sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        Err(Errno::ENOTDIR)
    }

    /// The target of a symlink (`EINVAL` for others).
    fn readlink(&self) -> Result<Vec<u8>> {
        Err(Errno::EINVAL)
    }

    /// Current readiness (regular files and directories are always ready).
    fn poll(&self) -> Events {
        Events::IN | Events::OUT | Events::RDNORM | Events::WRNORM
    }

    /// Where to register to hear about readiness changes, if they can happen.
    fn pollee(&self) -> Option<&Pollee> {
        None
    }

    /// Device-specific control. Default: `ENOTTY`.
    fn ioctl(&self, _cmd: u32, _arg: usize, _user: &dyn UserMem) -> Result<usize> {
        Err(Errno::ENOTTY)
    }

    /// A "magic" link (`/proc/<pid>/fd/N`, `exe`, `cwd`, `root`): following it lands on the
    /// object itself, not on a walk of [`readlink`](Self::readlink)'s text (Linux's
    /// `nd_jump_link`), so a pipe or an unlinked file can be reopened. `None` (the default):
    /// an ordinary symlink.
    fn jump(&self) -> Option<Result<crate::walk::Jump>> {
        None
    }

    /// The open hook: an inode whose open files behave on their own (a FIFO) returns their
    /// object here. `None` = plain inode I/O (or, for device nodes, the device registry).
    fn open(&self, _flags: OpenFlags) -> Option<Result<Arc<dyn FileOps>>> {
        None
    }

    /// The page-cache page holding the file's bytes at `offset` (page aligned) as a physical
    /// frame ([`PageProvider::physical`]), with one reference taken for the caller, who
    /// drops it through the frame allocator (`mmap`: when the page is unmapped). Writes
    /// through the frame are the file's data; `read_at`/`write_at` see them. An offset
    /// wholly past the end of the file is an error (the fault becomes `SIGBUS`), a hole gets
    /// a fresh zeroed page. `None` (the default): no page cache, `mmap` copies through
    /// `read_at`.
    fn cached_page(&self, _offset: u64) -> Option<Result<u64>> {
        None
    }

    /// Whether [`Inode::cached_page`] answers for every offset (the file's pages are a page
    /// cache of physical frames).
    fn has_page_cache(&self) -> bool {
        false
    }
}

/// Where a filesystem keeps file pages (its page cache): 4 KiB pages named by a `u64`
/// handle, reference counted. The kernel implements it over the frame allocator (handles are
/// physical addresses, bytes through the direct map, counts shared with user mappings);
/// host tests over the heap. The bytes of a page mapped into user space may change at any
/// time: copy them, never keep references into them.
pub trait PageProvider: Send + Sync {
    /// A zeroed page holding one reference, or `None` if memory is exhausted.
    fn alloc(&self) -> Option<u64>;
    /// Takes one more reference on `page`.
    fn get(&self, page: u64);
    /// Drops one reference on `page`, freeing it with the last.
    fn put(&self, page: u64);
    /// Copies `out.len()` bytes of `page` from byte `offset` (`offset + out.len() <= 4096`).
    fn read(&self, page: u64, offset: usize, out: &mut [u8]);
    /// Copies `data` into `page` at byte `offset`.
    fn write(&self, page: u64, offset: usize, data: &[u8]);
    /// Zeroes `len` bytes of `page` from byte `offset`.
    fn zero(&self, page: u64, offset: usize, len: usize);
    /// Whether handles are physical frames that user mappings may map and count references
    /// on ([`Inode::cached_page`] is offered only then).
    fn physical(&self) -> bool {
        false
    }
}

/// A mounted (or mountable) filesystem instance.
pub trait FileSystem: Send + Sync {
    /// The root directory.
    fn root(&self) -> Arc<dyn Inode>;

    /// `statfs` numbers.
    fn statfs(&self) -> StatFs;

    /// The type name as `/proc/mounts` shows it (`tmpfs`, `devtmpfs`, ...).
    fn fs_type(&self) -> &'static str;
}

/// The behaviour of an open file that is not plain inode I/O: pipe ends, devices, ttys.
///
/// `offset` is the open file's position for seekable objects; `nonblock` is the file's
/// `O_NONBLOCK`. Nothing blocks: where data or room is missing, return `EAGAIN` and wake the
/// [`Pollee`] when that changes.
pub trait FileOps: Send + Sync {
    /// Reads into `buf`.
    fn read(&self, offset: u64, buf: &mut [u8], nonblock: bool) -> Result<usize>;

    /// Writes `buf`.
    fn write(&self, offset: u64, buf: &[u8], nonblock: bool) -> Result<usize>;

    /// Whether `lseek` is allowed (else `ESPIPE`; `pread`/`pwrite` too).
    fn seekable(&self) -> bool {
        false
    }

    /// Whether `lseek` is a no-op that returns 0 (Linux's `noop_llseek`/`null_lseek`, for
    /// `/dev/null`, `/dev/zero`...): the file keeps no offset, `pread`/`pwrite` are allowed.
    fn seek_noop(&self) -> bool {
        false
    }

    /// Current readiness.
    fn poll(&self) -> Events {
        Events::IN | Events::OUT | Events::RDNORM | Events::WRNORM
    }

    /// Where to register for readiness changes.
    fn pollee(&self) -> Option<&Pollee> {
        None
    }

    /// Device-specific control. Default: `ENOTTY`.
    fn ioctl(&self, _cmd: u32, _arg: usize, _user: &dyn UserMem) -> Result<usize> {
        Err(Errno::ENOTTY)
    }

    /// The pipe behind a pipe or FIFO end (to wait for the other side in a blocking FIFO
    /// open, or for `F_GETPIPE_SZ`).
    fn pipe(&self) -> Option<&Arc<crate::pipe::Pipe>> {
        None
    }

    /// The object itself, for the layer that made it to find its own type again (the KVM
    /// files, whose ioctls need the whole calling process).
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }

    /// The terminal whose slave side this file is (the console, a pty slave), for job
    /// control (SIGTTIN/SIGTTOU) and the controlling-terminal ioctls, which need the caller.
    /// `None` for everything else (a pty master included), at the cost of one call.
    fn tty(&self) -> Option<&crate::tty::Tty> {
        None
    }

    /// A read that may end on a timer rather than on data (a terminal's `VTIME`): after
    /// `read` said `EAGAIN`, the monotonic time (ns) at which a read begun at `started`
    /// gives up waiting and calls [`read_expired`](FileOps::read_expired). `None`: wait for
    /// data only. Asked again after every wake-up (the answer may move).
    fn read_deadline(&self, _started: u64) -> Option<u64> {
        None
    }

    /// The read once its [`read_deadline`](FileOps::read_deadline) has passed: whatever is
    /// there, possibly nothing (`Ok(0)`); `EAGAIN` to go on waiting.
    fn read_expired(&self, _buf: &mut [u8]) -> Result<usize> {
        Err(Errno::EAGAIN)
    }
}

/// Access to the calling process's memory for `ioctl` arguments. The syscall layer implements
/// it with its validated user copies (`EFAULT` on a bad address).
pub trait UserMem {
    /// Copies `buf.len()` bytes from user address `addr`.
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<()>;

    /// Copies `data` to user address `addr`.
    fn write(&self, addr: usize, data: &[u8]) -> Result<()>;
}

/// Whether `a` and `b` are the same inode (same object).
pub fn same_inode(a: &Arc<dyn Inode>, b: &Arc<dyn Inode>) -> bool {
    core::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}
