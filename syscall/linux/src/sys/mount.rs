//! `mount(2)` and `umount2(2)`, with the argument handling and operation choice of Linux's
//! `SYSCALL_DEFINE5(mount)`/`path_mount` and `ksys_umount`; the mount table work is `vfs`'s
//! (`vfs::mount`). There is one mount namespace: the propagation flags are checked and have
//! no effect.

use super::fs::{AT_FDCWD, at};
use crate::kernel::Kernel;
use crate::process::Process;
use alloc::vec::Vec;
use syscall::{Errno, Result};
use vfs::EmptyPath;
use vfs::mount::{MNT_DETACH, MNT_EXPIRE, MNT_FORCE, UMOUNT_NOFOLLOW, ms};

const PAGE_SIZE: usize = 4096;

/// `copy_mount_string`: NULL is `None`; a fault is `EFAULT`, a string without NUL in a page
/// `EINVAL` (as `strndup_user`).
fn mount_string<K: Kernel>(p: &Process<K>, addr: u64) -> Result<Option<Vec<u8>>> {
    if addr == 0 {
        return Ok(None);
    }
    match p.user().read_cstr(addr, PAGE_SIZE - 1) {
        Ok(s) => Ok(Some(s)),
        Err(Errno::ENAMETOOLONG) => Err(Errno::EINVAL),
        Err(e) => Err(e),
    }
}

/// `copy_mount_options`: up to a page of `data`, as much as can be read (`EFAULT` only if
/// nothing can), cut at the first NUL (every filesystem here takes a string).
fn mount_data<K: Kernel>(p: &Process<K>, addr: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if addr == 0 {
        return Ok(out);
    }
    let mut at = addr;
    let mut chunk = [0u8; 64];
    while out.len() < PAGE_SIZE - 1 {
        let to_page_end = (4096 - (at % 4096)) as usize;
        let n = chunk.len().min(to_page_end).min(PAGE_SIZE - 1 - out.len());
        if let Err(e) = p.user().read(at, &mut chunk[..n]) {
            if out.is_empty() {
                return Err(e);
            }
            break;
        }
        if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..end]);
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        at = match at.checked_add(n as u64) {
            Some(a) => a,
            None => break,
        };
    }
    Ok(out)
}

/// `mount(source, target, fstype, flags, data)`.
pub fn mount<K: Kernel>(
    p: &Process<K>,
    source: u64,
    target: u64,
    fstype: u64,
    flags: u64,
    data: u64,
) -> Result<usize> {
    let fstype = mount_string(p, fstype)?;
    let source = mount_string(p, source)?;
    let data = mount_data(p, data)?;
    let target_place = at(p, AT_FDCWD, target, EmptyPath::Deny, |l, path| {
        K::vfs().resolve(l, path, true)
    })?;
    // `flags` is an `unsigned long`; only the low 32 bits mean anything.
    let mut flags = flags as u32;
    if flags & ms::MGC_MSK == ms::MGC_VAL {
        flags &= !ms::MGC_MSK;
    }
    if flags & ms::NOUSER != 0 {
        return Err(Errno::EINVAL);
    }
    if !p.creds().privileged() {
        return Err(Errno::EPERM);
    }
    let vfs = K::vfs();
    if flags & (ms::REMOUNT | ms::BIND) == ms::REMOUNT | ms::BIND {
        return vfs.remount(&target_place, flags, &data, true).map(|_| 0);
    }
    if flags & ms::REMOUNT != 0 {
        return vfs.remount(&target_place, flags, &data, false).map(|_| 0);
    }
    // The source path of a bind or move (`EINVAL` if missing or empty).
    let source_place = |source: Option<Vec<u8>>| {
        let name = source.filter(|s| !s.is_empty()).ok_or(Errno::EINVAL)?;
        p.lookup(|l| K::vfs().resolve(l, vfs::Path::new(&name, EmptyPath::Deny)?, true))
    };
    if flags & ms::BIND != 0 {
        let from = source_place(source)?;
        return vfs
            .bind(&from, &target_place, flags & ms::REC != 0)
            .map(|_| 0);
    }
    if flags & ms::PROPAGATION != 0 {
        return vfs.change_type(&target_place, flags).map(|_| 0);
    }
    if flags & ms::MOVE != 0 {
        let from = source_place(source)?;
        return vfs.move_mount(&from, &target_place).map(|_| 0);
    }
    let fstype = fstype.ok_or(Errno::EINVAL)?;
    let source = source.unwrap_or_default();
    vfs.mount_new(&target_place, &fstype, &source, flags, &data)
        .map(|_| 0)
}

/// `umount2(target, flags)`.
pub fn umount2<K: Kernel>(p: &Process<K>, target: u64, flags: u32) -> Result<usize> {
    if flags & !(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0 {
        return Err(Errno::EINVAL);
    }
    let follow = flags & UMOUNT_NOFOLLOW == 0;
    let place = at(p, AT_FDCWD, target, EmptyPath::Deny, |l, path| {
        K::vfs().resolve(l, path, follow)
    })?;
    if !p.creds().privileged() {
        return Err(Errno::EPERM);
    }
    K::vfs().umount(place, flags).map(|_| 0)
}
