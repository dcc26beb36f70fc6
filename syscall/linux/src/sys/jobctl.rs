//! Job control on terminals: a process of a background process group that reads its
//! controlling terminal gets SIGTTIN, and one that writes it while `TOSTOP` is set gets
//! SIGTTOU, as in Linux's `tty_check_change`/`job_control`.

use crate::kernel::Kernel;
use crate::process::Task;
use crate::signal::{self, all_processes};
use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result, Sysno};
use vfs::OpenFile;
use vfs::tty::Tty;

const SIGTTIN: u32 = 21;
const SIGTTOU: u32 = 22;

/// Which access is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

fn tty_of(file: &OpenFile) -> Option<&Tty> {
    file.ops()?.as_any()?.downcast_ref::<Tty>()
}

/// The terminal checks of syscall `s` with arguments `a`, before it runs: the fds that
/// `read`/`readv` and `sendfile` read and that `write`/`writev` and `sendfile` write.
pub fn check_call<K: Kernel>(t: &Arc<Task<K>>, s: Sysno, a: &[usize; 6]) -> Result<()> {
    match s {
        Sysno::read | Sysno::readv => check_fd(t, a[0], Access::Read),
        Sysno::write | Sysno::writev => check_fd(t, a[0], Access::Write),
        Sysno::sendfile => {
            check_fd(t, a[1], Access::Read)?;
            check_fd(t, a[0], Access::Write)
        }
        _ => Ok(()),
    }
}

/// [`check`] for fd `fd`; a bad fd is left for the call itself to report.
fn check_fd<K: Kernel>(t: &Arc<Task<K>>, fd: usize, access: Access) -> Result<()> {
    match t.process.file(fd) {
        Ok(file) => check(t, &file, access),
        Err(_) => Ok(()),
    }
}

/// `Ok` if `t` may go on with `access` to `file`. A background reader (or writer under
/// TOSTOP) of its session's terminal gets the stop signal sent to its process group and
/// `EINTR`, so the call runs again once the group is continued. When the signal could not
/// stop it (ignored or blocked) a read fails with EIO and a write goes ahead; so does any
/// access from an orphaned process group (nobody could continue it), which gets EIO on read.
pub fn check<K: Kernel>(t: &Arc<Task<K>>, file: &OpenFile, access: Access) -> Result<()> {
    let Some(tty) = tty_of(file) else {
        return Ok(());
    };
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
        Access::Write => SIGTTOU,
    };
    let blocked = t.sigmask.load(Ordering::Relaxed) & (1 << (sig - 1)) != 0;
    if blocked || signal::ignored(p, sig) || orphaned::<K>(t, pgid) {
        return match access {
            Access::Read => Err(Errno::EIO),
            Access::Write => Ok(()),
        };
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
