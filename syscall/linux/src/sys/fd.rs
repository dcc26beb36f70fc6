//! close, dup, dup2, dup3, fcntl, pipe2.

use crate::kernel::Kernel;
use crate::process::Process;
use syscall::{Errno, Result};
use vfs::{OpenFile, OpenFlags};

const F_DUPFD: u32 = 0;
const F_GETFD: u32 = 1;
const F_SETFD: u32 = 2;
const F_GETFL: u32 = 3;
const F_SETFL: u32 = 4;
const F_DUPFD_CLOEXEC: u32 = 1030;
const FD_CLOEXEC: usize = 1;

pub fn close<K: Kernel>(p: &Process<K>, fd: usize) -> Result<usize> {
    let file = p.files.lock().remove(fd)?;
    drop(file);
    Ok(0)
}

pub fn dup<K: Kernel>(p: &Process<K>, fd: usize) -> Result<usize> {
    p.files.lock().dup(fd)
}

pub fn dup2<K: Kernel>(p: &Process<K>, old: usize, new: usize) -> Result<usize> {
    let replaced = p.files.lock().dup3(old, new, false, false)?;
    // Close what `new` held outside the table lock.
    drop(replaced);
    Ok(new)
}

pub fn dup3<K: Kernel>(p: &Process<K>, old: usize, new: usize, flags: u32) -> Result<usize> {
    let cloexec = match flags {
        0 => false,
        f if f == OpenFlags::CLOEXEC.to_linux(crate::sys::fs::abi::<K>()) => true,
        _ => return Err(Errno::EINVAL),
    };
    let replaced = p.files.lock().dup3(old, new, cloexec, true)?;
    drop(replaced);
    Ok(new)
}

pub fn fcntl<K: Kernel>(p: &Process<K>, fd: usize, cmd: u32, arg: usize) -> Result<usize> {
    let arch = crate::sys::fs::abi::<K>();
    let mut files = p.files.lock();
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let file = files.get(fd)?.clone();
            files.insert_from(arg, file, cmd == F_DUPFD_CLOEXEC)
        }
        F_GETFD => Ok(if files.cloexec(fd)? { FD_CLOEXEC } else { 0 }),
        F_SETFD => files.set_cloexec(fd, arg & FD_CLOEXEC != 0).map(|_| 0),
        F_GETFL => Ok(files.get(fd)?.flags().to_linux(arch) as usize),
        F_SETFL => {
            let file = files.get(fd)?;
            file.set_status_flags(OpenFlags::from_linux(arg as u32, arch));
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

pub fn pipe2<K: Kernel>(p: &Process<K>, fds: u64, flags: u32) -> Result<usize> {
    let arch = crate::sys::fs::abi::<K>();
    let f = OpenFlags::from_linux(flags, arch);
    let allowed = OpenFlags::CLOEXEC
        .with(OpenFlags::NONBLOCK)
        .with(OpenFlags::DIRECT);
    if f.without(allowed).0 != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w): (alloc::sync::Arc<OpenFile>, _) = OpenFile::new_pipe(f);
    let cloexec = f.contains(OpenFlags::CLOEXEC);
    let mut files = p.files.lock();
    let rfd = files.insert(r, cloexec)?;
    let wfd = match files.insert(w, cloexec) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = files.remove(rfd);
            return Err(e);
        }
    };
    drop(files);
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&(rfd as i32).to_le_bytes());
    out[4..].copy_from_slice(&(wfd as i32).to_le_bytes());
    if let Err(e) = p.user().write(fds, &out) {
        let mut files = p.files.lock();
        let _ = files.remove(rfd);
        let _ = files.remove(wfd);
        return Err(e);
    }
    Ok(0)
}

/// flock: an advisory lock of the open file description; blocks (interruptibly) unless
/// `LOCK_NB`, then `EWOULDBLOCK`.
pub fn flock<K: Kernel>(p: &Process<K>, fd: usize, operation: u32) -> Result<usize> {
    let file = p.file(fd)?;
    let (op, nonblock) = vfs::flock::FlockOp::parse(operation)?;
    match file.flock(op) {
        Err(Errno::EAGAIN) if !nonblock => {
            super::poll::wait_until::<K>(vfs::flock::Flocks::get().released(), || {
                file.flock(op).is_ok()
            })?;
            Ok(0)
        }
        r => r.map(|()| 0),
    }
}
