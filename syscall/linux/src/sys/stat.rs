//! fstat, newfstatat (and x86's stat/lstat), with each arch's `struct stat` layout.

use super::fs::{AT_EMPTY_PATH, AT_FDCWD, at};
use crate::exec::elf::Machine;
use crate::kernel::Kernel;
use crate::process::Process;
use alloc::vec::Vec;
use syscall::{Errno, Result};
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
}
