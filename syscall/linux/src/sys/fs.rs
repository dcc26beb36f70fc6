//! openat, getcwd, chdir, fchdir, chroot, mkdirat, unlinkat, readlinkat, faccessat, umask;
//! mknodat, symlinkat, linkat, renameat2.

use crate::exec::elf::Machine;
use crate::kernel::Kernel;
use crate::process::Process;
use syscall::{Errno, Result};
use vfs::{EmptyPath, FileType, Lookup, OpenFlags, Path, PathRef};

pub const AT_FDCWD: i32 = -100;
pub const AT_REMOVEDIR: u32 = 0x200;
pub const AT_EMPTY_PATH: u32 = 0x1000;
const PATH_MAX: usize = 4096;

/// The syscall ABI (flag encodings) of the kernel's user programs.
pub fn abi<K: Kernel>() -> syscall::Arch {
    match K::MACHINE {
        Machine::X86_64 => syscall::Arch::X86_64,
        Machine::Aarch64 => syscall::Arch::Aarch64,
    }
}

/// Run `f` with a lookup starting at `dirfd` (or the cwd for `AT_FDCWD`) and the path read
/// from user memory.
pub fn at<K: Kernel, R>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    empty: EmptyPath,
    f: impl FnOnce(&Lookup<'_>, Path<'_>) -> Result<R>,
) -> Result<R> {
    let creds = p.creds();
    at_as(p, &creds.fs, dirfd, path, empty, f)
}

/// [`at`] checking permissions for `cred` rather than the caller's fs ids.
pub fn at_as<K: Kernel, R>(
    p: &Process<K>,
    cred: &vfs::Cred,
    dirfd: i32,
    path: u64,
    empty: EmptyPath,
    f: impl FnOnce(&Lookup<'_>, Path<'_>) -> Result<R>,
) -> Result<R> {
    let bytes = p.user().read_cstr(path, PATH_MAX)?;
    let path = Path::new(&bytes, empty)?;
    // Copy the places out: the walk may read /proc, which looks at this process's fs state.
    let (root, cwd) = {
        let fs = p.fs.lock();
        (fs.root.clone(), fs.cwd.clone())
    };
    let start: PathRef = if dirfd == AT_FDCWD || bytes.first() == Some(&b'/') {
        cwd
    } else {
        let file = p.file(usize::try_from(dirfd).map_err(|_| Errno::EBADF)?)?;
        let place = file.path().cloned().ok_or(Errno::ENOTDIR)?;
        if !place.metadata().is_dir() && !bytes.is_empty() {
            return Err(Errno::ENOTDIR);
        }
        place
    };
    let lookup = Lookup {
        root: &root,
        start: &start,
        cred,
    };
    f(&lookup, path)
}

pub fn openat<K: Kernel>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    flags: u32,
    mode: u32,
) -> Result<usize> {
    let flags = OpenFlags::from_linux(flags, abi::<K>());
    let mode = mode & 0o7777 & !p.fs.lock().umask;
    let file = at(p, dirfd, path, EmptyPath::Deny, |l, path| {
        K::vfs().open(l, path, flags, mode)
    })?;
    fifo_wait::<K>(&file)?;
    p.files
        .lock()
        .insert(file, flags.contains(OpenFlags::CLOEXEC))
}

/// A blocking open of a FIFO for reading waits for a writer, one for writing waits for a
/// reader (`O_RDWR` and `O_NONBLOCK` opens do not wait), as `fifo_open` does on Linux. A
/// reader also stops waiting when a writer came and went, or left data, meanwhile.
fn fifo_wait<K: Kernel>(file: &vfs::OpenFile) -> Result<()> {
    let flags = file.flags();
    let Some(pipe) = file.pipe() else {
        return Ok(());
    };
    if file.metadata().file_type() != FileType::Fifo || flags.contains(OpenFlags::NONBLOCK) {
        return Ok(());
    }
    match (flags.readable(), flags.writable()) {
        (true, false) => {
            let seen = pipe.writers_opened();
            super::poll::wait_until::<K>(pipe.pollee(), || {
                pipe.writers() > 0 || pipe.writers_opened() != seen || !pipe.is_empty()
            })
        }
        (false, true) => super::poll::wait_until::<K>(pipe.pollee(), || pipe.readers() > 0),
        _ => Ok(()),
    }
}

pub fn getcwd<K: Kernel>(p: &Process<K>, buf: u64, size: usize) -> Result<usize> {
    let (root, cwd) = {
        let fs = p.fs.lock();
        (fs.root.clone(), fs.cwd.clone())
    };
    let path = K::vfs().path_of(&root, &cwd)?;
    if path.len() + 1 > size {
        return Err(Errno::ERANGE);
    }
    let mut out = path;
    out.push(0);
    p.user().write(buf, &out)?;
    Ok(out.len())
}

pub fn chdir<K: Kernel>(p: &Process<K>, path: u64) -> Result<usize> {
    let place = at(p, AT_FDCWD, path, EmptyPath::Deny, |l, path| {
        K::vfs().resolve(l, path, true)
    })?;
    if !place.metadata().is_dir() {
        return Err(Errno::ENOTDIR);
    }
    p.fs.lock().cwd = place;
    Ok(0)
}

/// `fchdir`: the directory an fd was opened on becomes the cwd (`ENOTDIR` otherwise).
pub fn fchdir<K: Kernel>(p: &Process<K>, fd: usize) -> Result<usize> {
    let place = p.file(fd)?.path().cloned().ok_or(Errno::ENOTDIR)?;
    if !place.metadata().is_dir() {
        return Err(Errno::ENOTDIR);
    }
    p.fs.lock().cwd = place;
    Ok(0)
}

/// `chroot`: root only (`CAP_SYS_CHROOT`); the cwd stays where it is, as on Linux.
pub fn chroot<K: Kernel>(p: &Process<K>, path: u64) -> Result<usize> {
    let place = at(p, AT_FDCWD, path, EmptyPath::Deny, |l, path| {
        K::vfs().resolve(l, path, true)
    })?;
    if !place.metadata().is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !p.creds().privileged() {
        return Err(Errno::EPERM);
    }
    p.fs.lock().root = place;
    Ok(0)
}

pub fn mkdirat<K: Kernel>(p: &Process<K>, dirfd: i32, path: u64, mode: u32) -> Result<usize> {
    let mode = mode & 0o7777 & !p.fs.lock().umask;
    at(p, dirfd, path, EmptyPath::Deny, |l, path| {
        K::vfs().mkdir(l, path, mode)
    })
    .map(|_| 0)
}

pub fn unlinkat<K: Kernel>(p: &Process<K>, dirfd: i32, path: u64, flags: u32) -> Result<usize> {
    match flags {
        0 => at(p, dirfd, path, EmptyPath::Deny, |l, path| {
            K::vfs().unlink(l, path)
        })
        .map(|_| 0),
        AT_REMOVEDIR => at(p, dirfd, path, EmptyPath::Deny, |l, path| {
            K::vfs().rmdir(l, path)
        })
        .map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

pub fn readlinkat<K: Kernel>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    buf: u64,
    size: usize,
) -> Result<usize> {
    if size as isize <= 0 {
        return Err(Errno::EINVAL);
    }
    let target = at(p, dirfd, path, EmptyPath::Deny, |l, path| {
        let place = K::vfs().resolve(l, path, false)?;
        if place.metadata().file_type() != FileType::Symlink {
            return Err(Errno::EINVAL);
        }
        K::vfs().readlink(l, path)
    })?;
    let n = target.len().min(size);
    p.user().write(buf, &target[..n])?;
    Ok(n)
}

/// `faccessat2` flags.
const AT_EACCESS: u32 = 0x200;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;

/// `faccessat`/`faccessat2`/`access`: checked with the real ids, or the effective ones for
/// `AT_EACCESS` (Linux's `access_override_creds`). Unknown flags EINVAL.
pub fn faccessat<K: Kernel>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    mode: u32,
    flags: u32,
) -> Result<usize> {
    if mode & !7 != 0 || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let creds = p.creds();
    let cred = if flags & AT_EACCESS != 0 {
        creds.effective()
    } else {
        creds.real()
    };
    let empty = if flags & AT_EMPTY_PATH != 0 {
        EmptyPath::Allow
    } else {
        EmptyPath::Deny
    };
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    at_as(p, &cred, dirfd, path, empty, |l, path| {
        K::vfs().access(l, path, mode, follow)
    })
    .map(|_| 0)
}

pub fn umask<K: Kernel>(p: &Process<K>, mask: u32) -> Result<usize> {
    let mut fs = p.fs.lock();
    let old = fs.umask;
    fs.umask = mask & 0o777;
    Ok(old as usize)
}

const AT_SYMLINK_FOLLOW: u32 = 0x400;
const S_IFMT: u32 = 0o170_000;

/// `mknodat`: the type bits pass through, the permission bits go through the umask. `dev` is
/// Linux's `new_encode_dev` form, which equals the vfs's `makedev` for the small majors and
/// minors devices here have.
pub fn mknodat<K: Kernel>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    mode: u32,
    dev: u64,
) -> Result<usize> {
    let mode = (mode & S_IFMT) | (mode & 0o7777 & !p.fs.lock().umask);
    at(p, dirfd, path, EmptyPath::Deny, |l, path| {
        K::vfs().mknod(l, path, mode, dev)
    })
    .map(|_| 0)
}

pub fn symlinkat<K: Kernel>(p: &Process<K>, target: u64, dirfd: i32, path: u64) -> Result<usize> {
    let target = p.user().read_cstr(target, PATH_MAX)?;
    at(p, dirfd, path, EmptyPath::Deny, |l, path| {
        K::vfs().symlink(l, &target, path)
    })
    .map(|_| 0)
}

pub fn linkat<K: Kernel>(
    p: &Process<K>,
    olddirfd: i32,
    old: u64,
    newdirfd: i32,
    new: u64,
    flags: u32,
) -> Result<usize> {
    if flags & !AT_SYMLINK_FOLLOW != 0 {
        return Err(Errno::EINVAL);
    }
    let follow = flags & AT_SYMLINK_FOLLOW != 0;
    at(p, olddirfd, old, EmptyPath::Deny, |ol, old| {
        at(p, newdirfd, new, EmptyPath::Deny, |nl, new| {
            K::vfs().link(ol, old, follow, nl, new)
        })
    })
    .map(|_| 0)
}

pub fn renameat2<K: Kernel>(
    p: &Process<K>,
    olddirfd: i32,
    old: u64,
    newdirfd: i32,
    new: u64,
    flags: u32,
) -> Result<usize> {
    at(p, olddirfd, old, EmptyPath::Deny, |ol, old| {
        at(p, newdirfd, new, EmptyPath::Deny, |nl, new| {
            K::vfs().rename(ol, old, nl, new, vfs::RenameFlags(flags))
        })
    })
    .map(|_| 0)
}
