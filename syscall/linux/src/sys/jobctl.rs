//! Job control on terminals: a process of a background process group that reads its
//! controlling terminal gets SIGTTIN, and one that writes it while `TOSTOP` is set, or
//! changes its settings (termios, foreground group, flushes), gets SIGTTOU, as in Linux's
//! `tty_check_change`/`job_control`.
//!
//! `read`, `readv`, `write`, `writev` and `sendfile` (`io.rs`) call [`check`] with the file
//! they already hold; a file that is no terminal answers `FileOps::tty` with `None` and pays
//! nothing more (the first version looked every fd up a second time at syscall dispatch).

use crate::kernel::Kernel;
use crate::process::Task;
use crate::signal::{self, all_processes};
use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};
use vfs::OpenFile;
use vfs::tty::Tty;

const SIGTTIN: u32 = 21;
const SIGTTOU: u32 = 22;

/// Which access is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    /// A settings change (`TCSETS*`, `TIOCSPGRP`, `TCFLSH`, `TCXONC`): SIGTTOU whatever
    /// `TOSTOP` says.
    Change,
}

/// The terminal (console, pty slave) behind `file`, if it is one.
fn tty_of(file: &OpenFile) -> Option<&Tty> {
    file.ops()?.tty()
}

/// `Ok` if `t` may go on with `access` to `file`. A background reader (or writer under
/// TOSTOP, or settings changer) of its session's terminal gets the stop signal sent to its
/// process group and `EINTR`, so the call runs again once the group is continued. When the
/// signal could not stop it (ignored or blocked) a read fails with EIO and a write or change
/// goes ahead; an orphaned process group (nobody could continue it) gets EIO.
pub fn check<K: Kernel>(t: &Arc<Task<K>>, file: &OpenFile, access: Access) -> Result<()> {
    match tty_of(file) {
        Some(tty) => check_tty(t, tty, access),
        None => Ok(()),
    }
}

/// [`check`] on the terminal itself.
pub fn check_tty<K: Kernel>(t: &Arc<Task<K>>, tty: &Tty, access: Access) -> Result<()> {
    let p = &t.process;
    let (fg, sid, tostop) = tty.job_control();
    let pgid = p.pgid.load(Ordering::Relaxed);
    let in_session = i64::from(p.sid.load(Ordering::Relaxed)) == i64::from(sid);
    if !in_session || fg <= 0 || i64::from(pgid) == i64::from(fg) {
        return Ok(());
    }
    if access == Access::Write && !tostop {
        return Ok(());
    }
    let sig = match access {
        Access::Read => SIGTTIN,
        Access::Write | Access::Change => SIGTTOU,
    };
    let blocked = t.sigmask.load(Ordering::Relaxed) & (1 << (sig - 1)) != 0;
    if blocked || signal::ignored(p, sig) {
        return match access {
            Access::Read => Err(Errno::EIO),
            Access::Write | Access::Change => Ok(()),
        };
    }
    if orphaned::<K>(t, pgid) {
        return Err(Errno::EIO);
    }
    signal::send_group_now::<K>(pgid, sig);
    Err(Errno::EINTR)
}

/// POSIX: a process group is orphaned when no member has a parent in another group of the
/// same session (no shell is left to continue it).
fn orphaned<K: Kernel>(t: &Arc<Task<K>>, pgid: u32) -> bool {
    let all = all_processes(&t.process);
    !all.iter()
        .filter(|q| q.pgid.load(Ordering::Relaxed) == pgid && q.exit_status.lock().is_none())
        .any(|q| {
            let parent = q
                .parent
                .lock()
                .as_ref()
                .and_then(alloc::sync::Weak::upgrade);
            parent.is_some_and(|pp| {
                pp.pgid.load(Ordering::Relaxed) != pgid
                    && pp.sid.load(Ordering::Relaxed) == q.sid.load(Ordering::Relaxed)
            })
        })
}
