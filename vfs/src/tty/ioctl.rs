//! Terminal ioctl numbers and the controlling-terminal ioctls (`TIOCSCTTY`, `TIOCNOTTY`,
//! `TIOCGPGRP`, `TIOCSPGRP`, `TIOCGSID`), answered relative to the caller's session.

use super::{SIGCONT, SIGHUP, Tty};
use crate::inode::{FileOps, UserMem};
use syscall::{Errno, Result};

/// ioctl numbers (`asm-generic/ioctls.h`).
pub const TCGETS: u32 = 0x5401;
pub const TCSETS: u32 = 0x5402;
pub const TCSETSW: u32 = 0x5403;
pub const TCSETSF: u32 = 0x5404;
pub const TCSBRK: u32 = 0x5409;
pub const TCXONC: u32 = 0x540a;
pub const TCFLSH: u32 = 0x540b;
pub const TIOCSCTTY: u32 = 0x540e;
pub const TIOCGPGRP: u32 = 0x540f;
pub const TIOCSPGRP: u32 = 0x5410;
pub const TIOCOUTQ: u32 = 0x5411;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const TIOCSWINSZ: u32 = 0x5414;
pub const FIONREAD: u32 = 0x541b;
pub const TIOCNOTTY: u32 = 0x5422;
pub const TCSBRKP: u32 = 0x5425;
pub const TIOCGSID: u32 = 0x5429;

/// Who makes a controlling-terminal ioctl (`TIOCSCTTY`, `TIOCNOTTY`, `TIOCGPGRP`,
/// `TIOCSPGRP`, `TIOCGSID`): Linux answers them relative to the caller's session.
pub struct Caller<'a> {
    pub pid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// May steal a terminal from another session (`TIOCSCTTY` with argument 1).
    pub privileged: bool,
    /// Whether a process group of this id exists in the caller's session (`TIOCSPGRP`).
    pub pgrp_in_session: &'a dyn Fn(i32) -> bool,
    /// Whether a session of this id still has a living process (a terminal whose session
    /// is gone is free to take: Linux releases it when the leader exits).
    pub session_alive: &'a dyn Fn(i32) -> bool,
}

impl Tty {
    /// Whether `cmd` is one of the controlling-terminal ioctls that
    /// [`job_ioctl`](Tty::job_ioctl) answers for a caller.
    pub fn is_job_ioctl(cmd: u32) -> bool {
        matches!(
            cmd,
            TIOCSCTTY | TIOCNOTTY | TIOCGPGRP | TIOCSPGRP | TIOCGSID
        )
    }

    /// The controlling-terminal ioctls as Linux answers them for `caller`:
    /// - `TIOCSCTTY`: a session leader takes the terminal (its group in the foreground);
    ///   `EPERM` for a non-leader, or if another living session has it (unless `arg` is 1
    ///   and the caller is privileged: it is stolen). Already the caller's: nothing to do.
    /// - `TIOCNOTTY`: `ENOTTY` unless it is the caller's terminal; a session leader gives it
    ///   up, its foreground group getting SIGHUP and SIGCONT.
    /// - `TIOCGPGRP`, `TIOCGSID`, `TIOCSPGRP`: `ENOTTY` unless it is the caller's terminal;
    ///   `TIOCSPGRP` wants a group of the caller's session (`EPERM`), `EINVAL` if negative.
    pub fn job_ioctl(
        &self,
        cmd: u32,
        arg: usize,
        user: &dyn UserMem,
        caller: &Caller<'_>,
    ) -> Result<usize> {
        let (sid, fg) = {
            let s = self.state.lock();
            (s.sid, s.fg_pgrp)
        };
        let mine = sid != 0 && sid == caller.sid;
        match cmd {
            TIOCSCTTY => {
                if mine {
                    return Ok(0);
                }
                if caller.pid != caller.sid {
                    return Err(Errno::EPERM);
                }
                if sid != 0 && (caller.session_alive)(sid) && !(arg == 1 && caller.privileged) {
                    return Err(Errno::EPERM);
                }
                let mut s = self.state.lock();
                s.sid = caller.sid;
                s.fg_pgrp = caller.pgid;
                Ok(0)
            }
            _ if !mine => Err(Errno::ENOTTY),
            TIOCNOTTY => {
                if caller.pid == caller.sid {
                    {
                        let mut s = self.state.lock();
                        s.sid = 0;
                        s.fg_pgrp = 0;
                    }
                    if fg > 0 {
                        self.driver.signal(fg, SIGHUP);
                        self.driver.signal(fg, SIGCONT);
                    }
                }
                Ok(0)
            }
            TIOCGPGRP => Self::write_int(user, arg, fg),
            TIOCGSID => Self::write_int(user, arg, sid),
            TIOCSPGRP => {
                let pgrp = Self::read_int(user, arg)?;
                if pgrp < 0 {
                    return Err(Errno::EINVAL);
                }
                if !(caller.pgrp_in_session)(pgrp) {
                    return Err(Errno::EPERM);
                }
                self.state.lock().fg_pgrp = pgrp;
                Ok(0)
            }
            _ => self.ioctl(cmd, arg, user),
        }
    }

    pub(super) fn read_int(user: &dyn UserMem, arg: usize) -> Result<i32> {
        let mut b = [0u8; 4];
        user.read(arg, &mut b)?;
        Ok(i32::from_le_bytes(b))
    }

    pub(super) fn write_int(user: &dyn UserMem, arg: usize, v: i32) -> Result<usize> {
        user.write(arg, &v.to_le_bytes()).map(|_| 0)
    }
}
