//! fstat, newfstatat (and x86's stat/lstat), with each arch's `struct stat` layout; and their
//! inverse, the metadata changes: fchmodat, fchownat, utimensat (and the fd and legacy forms).

use super::fs::{AT_EMPTY_PATH, AT_FDCWD, at};
use crate::exec::elf::Machine;
use crate::kernel::Kernel;
use crate::process::Process;
use alloc::vec::Vec;
use syscall::{Errno, Result};
use vfs::types::{SetAttr, SetTime, Timespec};
use vfs::{EmptyPath, Metadata};

pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_NO_AUTOMOUNT: u32 = 0x800;

/// Encode `m` as the arch's `struct stat` (x86_64: 144 bytes; asm-generic: 128 bytes).
pub fn encode(machine: Machine, m: &Metadata) -> Vec<u8> {
    let mut b = Vec::with_capacity(144);
    let q = |b: &mut Vec<u8>, v: u64| b.extend_from_slice(&v.to_le_bytes());
    let d = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
    match machine {
        Machine::X86_64 => {
            q(&mut b, m.dev);
            q(&mut b, m.ino);
            q(&mut b, u64::from(m.nlink));
            d(&mut b, m.mode);
            d(&mut b, m.uid);
            d(&mut b, m.gid);
            d(&mut b, 0);
            q(&mut b, m.rdev);
            q(&mut b, m.size);
            q(&mut b, u64::from(m.blksize));
            q(&mut b, m.blocks);
        }
        Machine::Aarch64 => {
            q(&mut b, m.dev);
            q(&mut b, m.ino);
            d(&mut b, m.mode);
            d(&mut b, m.nlink);
            d(&mut b, m.uid);
            d(&mut b, m.gid);
            q(&mut b, m.rdev);
            q(&mut b, 0);
            q(&mut b, m.size);
            d(&mut b, m.blksize);
            d(&mut b, 0);
            q(&mut b, m.blocks);
        }
    }
    for t in [m.atime, m.mtime, m.ctime] {
        q(&mut b, t.sec as u64);
        q(&mut b, u64::from(t.nsec));
    }
    let size = if machine == Machine::X86_64 { 144 } else { 128 };
    b.resize(size, 0);
    b
}

pub fn fstat<K: Kernel>(p: &Process<K>, fd: usize, buf: u64) -> Result<usize> {
    let m = p.file(fd)?.metadata();
    p.user().write(buf, &encode(K::MACHINE, &m))?;
    Ok(0)
}

pub fn fstatat<K: Kernel>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    buf: u64,
    flags: u32,
) -> Result<usize> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let empty = if flags & AT_EMPTY_PATH != 0 {
        EmptyPath::Allow
    } else {
        EmptyPath::Deny
    };
    let follow = flags & AT_SYMLINK_NOFOLLOW == 0;
    let m = if flags & AT_EMPTY_PATH != 0
        && dirfd != AT_FDCWD
        && p.user().read_cstr(path, 1).is_ok_and(|s| s.is_empty())
    {
        p.file(usize::try_from(dirfd).map_err(|_| Errno::EBADF)?)?
            .metadata()
    } else {
        at(p, dirfd, path, empty, |l, path| {
            K::vfs().stat(l, path, follow)
        })?
    };
    p.user().write(buf, &encode(K::MACHINE, &m))?;
    Ok(0)
}

/// `struct statfs` of both 64-bit arches (x86_64's and asm-generic's agree: `__statfs_word` is
/// `long`): type, bsize, blocks, bfree, bavail, files, ffree, fsid (two ints), namelen,
/// frsize, flags, four spare words; 120 bytes.
fn encode_statfs(s: &vfs::types::StatFs) -> [u8; 120] {
    let mut b = [0u8; 120];
    let words = [
        s.fs_type, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree,
    ];
    for (i, w) in words.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    // f_fsid (bytes 56..64) stays 0, as for filesystems without a stable id.
    for (i, w) in [s.namelen, s.frsize, s.flags].iter().enumerate() {
        b[64 + i * 8..72 + i * 8].copy_from_slice(&w.to_le_bytes());
    }
    b
}

/// `statfs(path, buf)`: the numbers of the filesystem `path` is on.
pub fn statfs<K: Kernel>(p: &Process<K>, path: u64, buf: u64) -> Result<usize> {
    let place = at(p, AT_FDCWD, path, EmptyPath::Deny, |l, path| {
        K::vfs().resolve(l, path, true)
    })?;
    let s = K::vfs().statfs(&place);
    p.user().write(buf, &encode_statfs(&s))?;
    Ok(0)
}

/// `fstatfs(fd, buf)`; a pipe (no place in the tree) reports pipefs, as on Linux.
pub fn fstatfs<K: Kernel>(p: &Process<K>, fd: usize, buf: u64) -> Result<usize> {
    const PIPEFS_MAGIC: u64 = 0x5049_5045;
    let file = p.file(fd)?;
    let s = match file.path() {
        Some(place) => K::vfs().statfs(place),
        None => vfs::types::StatFs {
            fs_type: PIPEFS_MAGIC,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        },
    };
    p.user().write(buf, &encode_statfs(&s))?;
    Ok(0)
}

/// `utimensat`'s "set to the current time" and "leave alone" nanosecond values.
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// Apply `attr` to `path` (or, for `path == 0` with a real `dirfd`, to that open file, as
/// `futimens`/`fchmod`/`fchown` do), after the permission checks Linux makes.
fn set_attr<K: Kernel>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    follow: bool,
    attr: &SetAttr,
) -> Result<usize> {
    if path == 0 {
        let file = p.file(usize::try_from(dirfd).map_err(|_| Errno::EBADF)?)?;
        let attr = vfs::perm::check_set_attr(&file.metadata(), &p.creds().fs, attr)?;
        return file.inode().set_attr(&attr).map(|_| 0);
    }
    at(p, dirfd, path, EmptyPath::Deny, |l, path| {
        K::vfs().set_attr(l, path, follow, attr)
    })
    .map(|_| 0)
}

pub fn fchmodat<K: Kernel>(p: &Process<K>, dirfd: i32, path: u64, mode: u32) -> Result<usize> {
    if path == 0 {
        return Err(Errno::EFAULT);
    }
    let attr = SetAttr {
        mode: Some(mode & 0o7777),
        ..SetAttr::default()
    };
    set_attr(p, dirfd, path, true, &attr)
}

pub fn fchmod<K: Kernel>(p: &Process<K>, fd: i32, mode: u32) -> Result<usize> {
    let attr = SetAttr {
        mode: Some(mode & 0o7777),
        ..SetAttr::default()
    };
    set_attr(p, fd, 0, true, &attr)
}

/// `fchownat`; an id of -1 leaves that id alone. `fd >= 0` with `path == 0` is `fchown`.
pub fn fchownat<K: Kernel>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    uid: u32,
    gid: u32,
    flags: u32,
) -> Result<usize> {
    if flags & !AT_SYMLINK_NOFOLLOW != 0 {
        return Err(Errno::EINVAL);
    }
    let id = |v: u32| (v != u32::MAX).then_some(v);
    let attr = SetAttr {
        uid: id(uid),
        gid: id(gid),
        ..SetAttr::default()
    };
    set_attr(p, dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0, &attr)
}

/// One `struct timespec` of `utimensat`: `None` for `UTIME_OMIT`, `EINVAL` for a nanosecond
/// field out of range that is neither special value.
fn utime(sec: i64, nsec: i64) -> Result<Option<SetTime>> {
    match nsec {
        UTIME_OMIT => Ok(None),
        UTIME_NOW => Ok(Some(SetTime::Now)),
        0..=999_999_999 => Ok(Some(SetTime::At(Timespec {
            sec,
            nsec: nsec as u32,
        }))),
        _ => Err(Errno::EINVAL),
    }
}

/// `utimensat`: `times == 0` sets both to now; `path == 0` works on `dirfd` itself (futimens).
pub fn utimensat<K: Kernel>(
    p: &Process<K>,
    dirfd: i32,
    path: u64,
    times: u64,
    flags: u32,
) -> Result<usize> {
    if flags & !AT_SYMLINK_NOFOLLOW != 0 {
        return Err(Errno::EINVAL);
    }
    let (atime, mtime) = if times == 0 {
        (Some(SetTime::Now), Some(SetTime::Now))
    } else {
        let mut raw = [0u8; 32];
        p.user().read(times, &mut raw)?;
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[i * 8..i * 8 + 8]);
            i64::from_le_bytes(b)
        };
        (utime(word(0), word(1))?, utime(word(2), word(3))?)
    };
    if atime.is_none() && mtime.is_none() {
        return Ok(0);
    }
    let attr = SetAttr {
        atime,
        mtime,
        ..SetAttr::default()
    };
    set_attr(p, dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0, &attr)
}

/// `truncate(path, len)`: `EINVAL` for a negative length.
pub fn truncate<K: Kernel>(p: &Process<K>, path: u64, len: i64) -> Result<usize> {
    let size = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    if path == 0 {
        return Err(Errno::EFAULT);
    }
    let attr = SetAttr {
        size: Some(size),
        ..SetAttr::default()
    };
    set_attr(p, AT_FDCWD, path, true, &attr)
}

pub fn ftruncate<K: Kernel>(p: &Process<K>, fd: usize, len: i64) -> Result<usize> {
    p.file(fd)?.truncate(len).map(|_| 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_libc() {
        let m = Metadata {
            ino: 7,
            mode: 0o100644,
            nlink: 2,
            size: 1234,
            ..Default::default()
        };
        let x = encode(Machine::X86_64, &m);
        // sizeof(struct stat) on x86_64 is 144, on arm64 (asm-generic) 128.
        assert_eq!(x.len(), 144);
        assert_eq!(u64::from_le_bytes(x[8..16].try_into().unwrap()), 7);
        assert_eq!(u32::from_le_bytes(x[24..28].try_into().unwrap()), 0o100644);
        assert_eq!(u64::from_le_bytes(x[48..56].try_into().unwrap()), 1234);
        let a = encode(Machine::Aarch64, &m);
        assert_eq!(a.len(), 128);
        assert_eq!(u32::from_le_bytes(a[16..20].try_into().unwrap()), 0o100644);
        assert_eq!(u64::from_le_bytes(a[48..56].try_into().unwrap()), 1234);
    }

    #[test]
    fn statfs_layout() {
        let s = vfs::types::StatFs {
            fs_type: 0x0102_1994,
            bsize: 4096,
            blocks: 10,
            namelen: 255,
            frsize: 4096,
            flags: 32,
            ..Default::default()
        };
        let b = encode_statfs(&s);
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        // offsetof(struct statfs, f_namelen) == 64, f_frsize 72, f_flags 80 on both arches.
        assert_eq!((word(0), word(8), word(16)), (0x0102_1994, 4096, 10));
        assert_eq!((word(56), word(64), word(72), word(80)), (0, 255, 4096, 32));
    }

    #[test]
    fn utimensat_times() {
        assert_eq!(utime(5, UTIME_OMIT), Ok(None));
        assert_eq!(utime(5, UTIME_NOW), Ok(Some(SetTime::Now)));
        assert_eq!(
            utime(981_173_106, 7),
            Ok(Some(SetTime::At(Timespec {
                sec: 981_173_106,
                nsec: 7
            })))
        );
        assert_eq!(utime(0, 1_000_000_000), Err(Errno::EINVAL));
        assert_eq!(utime(0, -1), Err(Errno::EINVAL));
    }
}
