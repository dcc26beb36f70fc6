//! read, write, readv, writev, pread64, pwrite64, lseek, ioctl, getdents64.
//!
//! Terminal job control (SIGTTIN/SIGTTOU, [`jobctl`]) is checked here, once the call holds
//! its file: a file that is no terminal pays one `FileOps::tty` call.

use super::jobctl::{self, Access};
use super::poll::{blocking, deadline_after, wait_on};
use crate::kernel::Kernel;
use crate::process::{Process, Task};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use arch_api::Arch;
use core::ops::ControlFlow;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};
use vfs::{Events, OpenFile, OpenFlags};

/// Largest transfer one call makes (Linux's MAX_RW_COUNT is ~2 GiB; we bound the kernel
/// buffer instead, and callers loop as POSIX allows).
const MAX_IO: usize = 1 << 20;
/// Most iovecs in one readv/writev (UIO_MAXIOV).
const IOV_MAX: usize = 1024;

impl<K: Kernel> Process<K> {
    /// The open file behind `fd`, or EBADF.
    pub fn file(&self, fd: usize) -> Result<Arc<OpenFile>> {
        Ok(self.files.lock().get(fd)?.clone())
    }
}

/// Let `op` fill a kernel buffer of up to `len` bytes from the file behind `fd`, then copy
/// what it produced to user address `buf`.
fn read_out<K: Kernel>(
    p: &Process<K>,
    fd: usize,
    buf: u64,
    len: usize,
    op: impl FnOnce(&Arc<OpenFile>, &mut [u8]) -> Result<usize>,
) -> Result<usize> {
    let file = p.file(fd)?;
    let mut kbuf = vec![0u8; len.min(MAX_IO)];
    let n = op(&file, &mut kbuf)?;
    p.user().write(buf, &kbuf[..n])?;
    Ok(n)
}

/// A blocking read of `file`: `file.read` until it stops saying EAGAIN, waiting for the
/// file's pollee in between, unless the file is non-blocking. A file with a read timer (a
/// terminal's VTIME, [`vfs::FileOps::read_deadline`]) is read at its deadline with
/// `read_expired`. The wait is Linux's prepare-to-wait: signals first, then the read (the
/// condition) with interrupts on, then the block, which returns at once if a wake-up came
/// in between. A file without a pollee never changes: its EAGAIN is final.
fn read_blocking<K: Kernel>(file: &Arc<OpenFile>, buf: &mut [u8]) -> Result<usize> {
    match file.read(buf) {
        Err(Errno::EAGAIN) if !file.flags().contains(OpenFlags::NONBLOCK) => {}
        r => return r,
    }
    let (Some(ops), Some(pollee), Some(me)) = (file.ops(), file.pollee(), K::sched().current())
    else {
        return Err(Errno::EAGAIN);
    };
    let started = K::Arch::now_ns();
    wait_on::<K, _>(pollee, me, || {
        match file.read(buf) {
            Err(Errno::EAGAIN) => {}
            r => return ControlFlow::Break(r),
        }
        let deadline = ops.read_deadline(started);
        let now = K::Arch::now_ns();
        if let Some(d) = deadline
            && now >= d
        {
            match ops.read_expired(buf) {
                Err(Errno::EAGAIN) => {}
                r => return ControlFlow::Break(r),
            }
        }
        ControlFlow::Continue(deadline_after::<K>(deadline.map(|d| d.saturating_sub(now))))
    })
}

pub fn read<K: Kernel>(t: &Arc<Task<K>>, fd: usize, buf: u64, len: usize) -> Result<usize> {
    read_out(&t.process, fd, buf, len, |file, kbuf| {
        jobctl::check(t, file, Access::Read)?;
        read_blocking::<K>(file, kbuf)
    })
}

pub fn write<K: Kernel>(t: &Arc<Task<K>>, fd: usize, buf: u64, len: usize) -> Result<usize> {
    let p = &t.process;
    let file = p.file(fd)?;
    jobctl::check(t, &file, Access::Write)?;
    let data = p.user().read_vec(buf, len.min(MAX_IO))?;
    blocking::<K, _>(&file, Events::OUT, || file.write(&data))
}

pub fn pread<K: Kernel>(
    p: &Process<K>,
    fd: usize,
    buf: u64,
    len: usize,
    off: i64,
) -> Result<usize> {
    read_out(p, fd, buf, len, |file, kbuf| file.pread(kbuf, off))
}

pub fn pwrite<K: Kernel>(
    p: &Process<K>,
    fd: usize,
    buf: u64,
    len: usize,
    off: i64,
) -> Result<usize> {
    let file = p.file(fd)?;
    let data = p.user().read_vec(buf, len.min(MAX_IO))?;
    file.pwrite(&data, off)
}

fn iovecs<K: Kernel>(p: &Process<K>, iov: u64, count: usize) -> Result<Vec<(u64, usize)>> {
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    let raw = p.user().read_vec(iov, count * 16)?;
    let mut total = 0usize;
    raw.chunks_exact(16)
        .map(|c| {
            let base = u64::from_le_bytes(c[..8].try_into().map_err(|_| Errno::EFAULT)?);
            let len = u64::from_le_bytes(c[8..].try_into().map_err(|_| Errno::EFAULT)?);
            total = total
                .checked_add(len as usize)
                .filter(|&t| t <= isize::MAX as usize)
                .ok_or(Errno::EINVAL)?;
            Ok((base, len as usize))
        })
        .collect()
}

pub fn readv<K: Kernel>(t: &Arc<Task<K>>, fd: usize, iov: u64, count: usize) -> Result<usize> {
    let p = &t.process;
    let file = p.file(fd)?;
    jobctl::check(t, &file, Access::Read)?;
    let vecs = iovecs(p, iov, count)?;
    let total: usize = vecs.iter().map(|v| v.1).sum();
    let mut kbuf = vec![0u8; total.min(MAX_IO)];
    let n = read_blocking::<K>(&file, &mut kbuf)?;
    let mut done = 0;
    for (base, len) in vecs {
        if done == n {
            break;
        }
        let k = len.min(n - done);
        p.user().write(base, &kbuf[done..done + k])?;
        done += k;
    }
    Ok(n)
}

pub fn writev<K: Kernel>(t: &Arc<Task<K>>, fd: usize, iov: u64, count: usize) -> Result<usize> {
    let p = &t.process;
    let file = p.file(fd)?;
    jobctl::check(t, &file, Access::Write)?;
    let mut data = Vec::new();
    for (base, len) in iovecs(p, iov, count)? {
        let len = len.min(MAX_IO - data.len());
        data.extend_from_slice(&p.user().read_vec(base, len)?);
    }
    // One write, so that the pieces land together (pipes: atomically up to PIPE_BUF).
    blocking::<K, _>(&file, Events::OUT, || file.write(&data))
}

pub fn lseek<K: Kernel>(p: &Process<K>, fd: usize, off: i64, whence: u32) -> Result<usize> {
    Ok(p.file(fd)?.lseek(off, whence)? as usize)
}

pub fn ioctl<K: Kernel>(t: &Arc<Task<K>>, fd: usize, cmd: u32, arg: usize) -> Result<usize> {
    let p = &t.process;
    let file = p.file(fd)?;
    match cmd {
        // FIOCLEX / FIONCLEX act on the descriptor, not the file.
        0x5451 => p.files.lock().set_cloexec(fd, true).map(|_| 0),
        0x5450 => p.files.lock().set_cloexec(fd, false).map(|_| 0),
        // FIONBIO sets or clears O_NONBLOCK on any file, as F_SETFL does (Rust's std uses it
        // on the pipes of `Command::output`).
        0x5421 => {
            let mut v = [0u8; 4];
            p.user().read(arg as u64, &mut v)?;
            let flags = file.flags();
            file.set_status_flags(if u32::from_ne_bytes(v) != 0 {
                flags.with(vfs::OpenFlags::NONBLOCK)
            } else {
                flags.without(vfs::OpenFlags::NONBLOCK)
            });
            Ok(0)
        }
        _ => {
            if let Some(kvm) = crate::kvm::of(&file) {
                return crate::kvm::ioctl(t, kvm, cmd, arg as u64);
            }
            if !file.flags().contains(OpenFlags::PATH)
                && let Some(tty) = file.ops().and_then(|o| o.tty())
            {
                // Linux's tty_check_change: a background job changing its terminal stops.
                if CHANGES.contains(&cmd) {
                    match jobctl::check_tty(t, tty, Access::Change) {
                        Err(Errno::EIO) if cmd == vfs::tty::TIOCSPGRP => {
                            return Err(Errno::ENOTTY);
                        }
                        r => r?,
                    }
                }
                if vfs::tty::Tty::is_job_ioctl(cmd) {
                    return job_ioctl(t, tty, cmd, arg);
                }
            }
            file.ioctl(cmd, arg, &p.user())
        }
    }
}

/// Terminal ioctls that change its settings: a background process making them gets SIGTTOU
/// (Linux calls `tty_check_change` for these).
const CHANGES: [u32; 8] = [
    vfs::tty::TCSETS,
    vfs::tty::TCSETSW,
    vfs::tty::TCSETSF,
    vfs::tty::TIOCSPGRP,
    vfs::tty::TCFLSH,
    vfs::tty::TCXONC,
    vfs::tty::TCSBRK,
    vfs::tty::TCSBRKP,
];

/// The controlling-terminal ioctls of a terminal, answered for the calling process.
fn job_ioctl<K: Kernel>(
    t: &Arc<Task<K>>,
    tty: &vfs::tty::Tty,
    cmd: u32,
    arg: usize,
) -> Result<usize> {
    let p = &t.process;
    let sid = p.sid.load(Ordering::Relaxed);
    let in_session = |pgid: i32| {
        let Ok(pgid) = u32::try_from(pgid) else {
            return false;
        };
        crate::signal::all_processes(p).iter().any(|q| {
            q.pgid.load(Ordering::Relaxed) == pgid
                && q.sid.load(Ordering::Relaxed) == sid
                && q.exit_status.lock().is_none()
        })
    };
    let session_alive = |other: i32| {
        crate::signal::all_processes(p).iter().any(|q| {
            i64::from(q.sid.load(Ordering::Relaxed)) == i64::from(other)
                && q.exit_status.lock().is_none()
        })
    };
    let caller = vfs::tty::Caller {
        pid: p.pid as i32,
        pgid: p.pgid.load(Ordering::Relaxed) as i32,
        sid: sid as i32,
        privileged: p.creds().privileged(),
        pgrp_in_session: &in_session,
        session_alive: &session_alive,
    };
    tty.job_ioctl(cmd, arg, &p.user(), &caller)
}

pub fn getdents64<K: Kernel>(p: &Process<K>, fd: usize, buf: u64, len: usize) -> Result<usize> {
    read_out(p, fd, buf, len, |file, kbuf| file.getdents64(kbuf))
}

/// `sendfile(out, in, offset, count)`: copy through a kernel buffer. With `offset`, read from
/// there and store the new offset, leaving the input file's position alone.
pub fn sendfile<K: Kernel>(
    t: &Arc<Task<K>>,
    out_fd: usize,
    in_fd: usize,
    offset: u64,
    count: usize,
) -> Result<usize> {
    let p = &t.process;
    let input = p.file(in_fd)?;
    let output = p.file(out_fd)?;
    if !input.flags().readable() || !output.flags().writable() {
        return Err(Errno::EBADF);
    }
    jobctl::check(t, &input, Access::Read)?;
    jobctl::check(t, &output, Access::Write)?;
    let mut kbuf = vec![0u8; count.min(MAX_IO)];
    let n = if offset != 0 {
        let off = p.user().read_u64(offset)? as i64;
        if off < 0 {
            return Err(Errno::EINVAL);
        }
        let n = input.pread(&mut kbuf, off)?;
        p.user().write_u64(offset, (off as u64) + n as u64)?;
        n
    } else {
        read_blocking::<K>(&input, &mut kbuf)?
    };
    let mut done = 0;
    while done < n {
        let w = blocking::<K, _>(&output, Events::OUT, || output.write(&kbuf[done..n]))?;
        if w == 0 {
            break;
        }
        done += w;
    }
    Ok(done)
}

/// `fsync`/`fdatasync`: every filesystem here keeps its data in memory, so there is nothing
/// to write back; the fd must still be open (EBADF otherwise), as on Linux's tmpfs.
pub fn fsync<K: Kernel>(p: &Process<K>, fd: usize) -> Result<usize> {
    p.file(fd).map(|_| 0)
}

/// `fallocate` mode 0 (allocate, growing the size): memory filesystems allocate on write, so
/// only the size changes. Other modes (punch hole, collapse, zero range) are `EOPNOTSUPP`.
pub fn fallocate<K: Kernel>(
    p: &Process<K>,
    fd: usize,
    mode: u32,
    offset: i64,
    len: i64,
) -> Result<usize> {
    let file = p.file(fd)?;
    if offset < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    if mode != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let end = offset.checked_add(len).ok_or(Errno::EFBIG)?;
    if file.metadata().is_dir() {
        return Err(Errno::EISDIR);
    }
    if (end as u64) > file.metadata().size {
        // ftruncate's checks (regular file, open for writing) are fallocate's too.
        file.truncate(end)?;
    }
    Ok(0)
}
