//! Unix98 pseudo-terminals: `/dev/ptmx` (5:2) makes a pair, the `devpts` filesystem
//! (mounted on `/dev/pts`) lists the slaves as `/dev/pts/N` (136:N).
//!
//! The slave side is an ordinary [`Tty`] (the line discipline of `tty.rs`) whose driver is
//! the pair: its output (after `OPOST`, echo included) goes to the master's read buffer.
//! What the master writes is the slave's input, through the line discipline. The master
//! itself is a plain byte pipe (Linux gives it a raw line discipline of its own; its termios
//! ioctls act on the slave, as Linux's `tty_mode_ioctl` does for a pty master).
//!
//! Linux's rules, measured on the host: the slave cannot be opened before `TIOCSPTLCK(0)`
//! (EIO). When the master closes, the slave hangs up: reads return 0, writes and ioctls
//! EIO, poll says IN|OUT|ERR|HUP, its session leader's group gets SIGHUP and SIGCONT, and
//! `/dev/pts/N` disappears. When the last slave fd closes, the master reads what is left,
//! then EIO, and polls HUP (a slave never opened does not count as closed). A number is
//! reused once both sides are closed.
//!
//! Simplifications: the master's writes stop at [`MAX_INPUT`](crate::tty::MAX_INPUT)
//! queued input bytes (partial write, EAGAIN when full) rather than Linux's flip-buffer
//! accounting; SIGHUP goes to the session leader's process group rather than to the leader
//! alone; no packet mode, no `TIOCGPTPEER`; slave nodes are owned by root, group 5 (`tty`),
//! mode 0620 (Linux: the opener's uid).

mod devpts;
#[cfg(test)]
mod tests;

pub use devpts::{DevPts, Ptmx};

use crate::inode::{FileOps, UserMem};
use crate::poll::{Events, Pollee};
use crate::tty::{self, MAX_INPUT, MonotonicClock, SIGCONT, SIGHUP, Tty, TtyDriver};
use alloc::collections::VecDeque;
use alloc::sync::{Arc, Weak};
use spin::Mutex;
use syscall::{Errno, Result};

/// Major number of the slaves (`UNIX98_PTY_SLAVE_MAJOR`).
pub const PTS_MAJOR: u32 = 136;
/// `/dev/ptmx`: major 5 (`TTYAUX_MAJOR`), minor 2.
pub const PTMX_MAJOR: u32 = 5;
pub const PTMX_MINOR: u32 = 2;
/// Most pairs at once (Linux's default `/proc/sys/kernel/pty/max`).
pub const MAX_PTYS: u32 = 4096;
/// Bytes the master's read buffer holds; slave writers wait (EAGAIN) beyond that.
pub const MASTER_BUF: usize = 16384;

/// ioctls of the master (`asm-generic/ioctls.h`, the same on x86_64 and arm64).
pub const TIOCGPTN: u32 = 0x8004_5430;
pub const TIOCSPTLCK: u32 = 0x4004_5431;
pub const TIOCGPTLCK: u32 = 0x8004_5439;

/// `c_cflag` of a new slave: B38400 | CS8 | CREAD.
pub const SLAVE_CFLAG: u32 = 0o17 | 0o60 | 0o200;

/// Sends signal `sig` to process group `pgid` (from thread context).
pub type SignalFn = Arc<dyn Fn(i32, u32) + Send + Sync>;

/// One master/slave pair.
pub struct Pty {
    index: u32,
    /// The slave's line discipline.
    tty: Tty,
    state: Mutex<PairState>,
    /// The master's readiness.
    master_pollee: Pollee,
    signal: SignalFn,
}

struct PairState {
    /// Slave output for the master to read.
    out: VecDeque<u8>,
    /// `TIOCSPTLCK`: the slave cannot be opened.
    locked: bool,
    master_open: bool,
    /// Open slave files.
    slaves: usize,
    /// A slave was open and all are closed now: master reads say EIO once `out` is empty.
    slave_closed: bool,
}

/// The slave tty's driver: output into the master's buffer.
struct SlaveDriver(Weak<Pty>);

impl TtyDriver for SlaveDriver {
    fn write(&self, bytes: &[u8]) {
        if let Some(pty) = self.0.upgrade() {
            pty.to_master(bytes);
        }
    }

    fn signal(&self, pgid: i32, sig: u32) {
        if let Some(pty) = self.0.upgrade() {
            (pty.signal)(pgid, sig);
        }
    }

    fn write_room(&self) -> usize {
        self.0.upgrade().map_or(0, |pty| {
            let s = pty.state.lock();
            if s.master_open {
                MASTER_BUF.saturating_sub(s.out.len())
            } else {
                // Hung up: writes fail before asking, this only keeps poll quiet.
                0
            }
        })
    }

    fn input_consumed(&self) {
        if let Some(pty) = self.0.upgrade() {
            pty.master_pollee.notify();
        }
    }
}

impl Pty {
    /// A new locked pair numbered `index` with its master open.
    fn new(index: u32, signal: SignalFn, clock: MonotonicClock) -> Arc<Pty> {
        Arc::new_cyclic(|me: &Weak<Pty>| Pty {
            index,
            tty: {
                let tty = Tty::with_driver(alloc::boxed::Box::new(SlaveDriver(me.clone())), clock);
                // Linux's pty slave: `tty_std_termios` without HUPCL (B38400 | CS8 | CREAD).
                let mut t = tty.termios();
                t.cflag = SLAVE_CFLAG;
                tty.set_termios(t);
                tty
            },
            state: Mutex::new(PairState {
                out: VecDeque::new(),
                locked: true,
                master_open: true,
                slaves: 0,
                slave_closed: false,
            }),
            master_pollee: Pollee::new(),
            signal,
        })
    }

    /// The pair's number (`/dev/pts/N`).
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The slave's line discipline.
    pub fn tty(&self) -> &Tty {
        &self.tty
    }

    /// Whether the master is still open (the slave is not hung up).
    pub fn master_open(&self) -> bool {
        self.state.lock().master_open
    }

    /// Slave output: queued for the master, what does not fit is dropped (writers asked
    /// for room first; only echo can overflow, as on Linux).
    fn to_master(&self, bytes: &[u8]) {
        {
            let mut s = self.state.lock();
            let room = MASTER_BUF.saturating_sub(s.out.len());
            let n = bytes.len().min(room);
            s.out.extend(&bytes[..n]);
        }
        self.master_pollee.notify();
    }

    /// Opens the slave side: EIO while locked or after the master closed.
    pub fn open_slave(self: &Arc<Pty>) -> Result<Arc<dyn FileOps>> {
        {
            let mut s = self.state.lock();
            if s.locked || !s.master_open {
                return Err(Errno::EIO);
            }
            s.slaves += 1;
            s.slave_closed = false;
        }
        Ok(Arc::new(PtySlave { pty: self.clone() }))
    }

    /// The master side, open once (by `/dev/ptmx`).
    fn master(self: &Arc<Pty>) -> Arc<dyn FileOps> {
        Arc::new(PtyMaster { pty: self.clone() })
    }
}

/// An open master.
pub struct PtyMaster {
    pty: Arc<Pty>,
}

impl PtyMaster {
    /// The pair.
    pub fn pty(&self) -> &Arc<Pty> {
        &self.pty
    }
}

impl Drop for PtyMaster {
    /// Hangs the slave up: its session leader's group gets SIGHUP and SIGCONT.
    fn drop(&mut self) {
        let pty = &self.pty;
        pty.state.lock().master_open = false;
        let (sid, _fg) = pty.tty.hangup();
        if sid > 0 {
            (pty.signal)(sid, SIGHUP);
            (pty.signal)(sid, SIGCONT);
        }
        pty.master_pollee.notify();
    }
}

fn write_int(user: &dyn UserMem, arg: usize, v: i32) -> Result<usize> {
    user.write(arg, &v.to_le_bytes()).map(|_| 0)
}

impl FileOps for PtyMaster {
    fn read(&self, _offset: u64, buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = {
            let mut s = self.pty.state.lock();
            if s.out.is_empty() {
                return Err(if s.slave_closed {
                    Errno::EIO
                } else {
                    Errno::EAGAIN
                });
            }
            let n = s.out.len().min(buf.len());
            for (slot, b) in buf.iter_mut().zip(s.out.drain(..n)) {
                *slot = b;
            }
            n
        };
        // Slave writers waiting for room.
        self.pty.tty.wake();
        Ok(n)
    }

    fn write(&self, _offset: u64, buf: &[u8], _nonblock: bool) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let room = MAX_INPUT.saturating_sub(self.pty.tty.queued_input());
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = buf.len().min(room);
        self.pty.tty.input(&buf[..n]);
        Ok(n)
    }

    fn poll(&self) -> Events {
        let mut ev = Events::EMPTY;
        if self.pty.tty.queued_input() < MAX_INPUT {
            ev |= Events::OUT | Events::WRNORM;
        }
        let s = self.pty.state.lock();
        if !s.out.is_empty() {
            ev |= Events::IN | Events::RDNORM;
        }
        if s.slave_closed {
            ev |= Events::HUP;
        }
        ev
    }

    fn pollee(&self) -> Option<&Pollee> {
        Some(&self.pty.master_pollee)
    }

    fn ioctl(&self, cmd: u32, arg: usize, user: &dyn UserMem) -> Result<usize> {
        match cmd {
            TIOCGPTN => write_int(user, arg, self.pty.index as i32),
            TIOCSPTLCK => {
                let mut b = [0u8; 4];
                user.read(arg, &mut b)?;
                self.pty.state.lock().locked = i32::from_le_bytes(b) != 0;
                Ok(0)
            }
            TIOCGPTLCK => {
                let locked = self.pty.state.lock().locked;
                write_int(user, arg, i32::from(locked))
            }
            tty::FIONREAD => {
                let n = self.pty.state.lock().out.len();
                write_int(user, arg, i32::try_from(n).unwrap_or(i32::MAX))
            }
            tty::TIOCOUTQ => write_int(
                user,
                arg,
                i32::try_from(self.pty.tty.queued_input()).unwrap_or(i32::MAX),
            ),
            tty::TCFLSH => {
                // The master's queue: TCIFLUSH drops what the slave wrote, TCOFLUSH what the
                // master wrote (the slave's input).
                match arg {
                    0 | 2 => self.pty.state.lock().out.clear(),
                    1 => {}
                    _ => return Err(Errno::EINVAL),
                }
                if arg >= 1 {
                    self.pty.tty.flush_input();
                }
                self.pty.tty.wake();
                Ok(0)
            }
            // Without a caller check, as Linux answers them on a master.
            tty::TIOCGPGRP => write_int(user, arg, self.pty.tty.job_control().0),
            tty::TIOCGSID => match self.pty.tty.job_control().1 {
                0 => Err(Errno::ENOTTY),
                sid => write_int(user, arg, sid),
            },
            tty::TIOCSCTTY | tty::TIOCNOTTY | tty::TIOCSPGRP => Err(Errno::ENOTTY),
            // termios, window size, TCXONC, TCSBRK: the slave's (Linux's `tty_mode_ioctl`
            // works on the slave of a master).
            _ => self.pty.tty.ioctl(cmd, arg, user),
        }
    }

    fn as_any(&self) -> Option<&dyn core::any::Any> {
        Some(self)
    }
}

/// An open slave: the pair's [`Tty`], hung up once the master is gone.
pub struct PtySlave {
    pty: Arc<Pty>,
}

impl PtySlave {
    fn hung_up(&self) -> bool {
        !self.pty.master_open()
    }
}

impl Drop for PtySlave {
    fn drop(&mut self) {
        {
            let mut s = self.pty.state.lock();
            s.slaves = s.slaves.saturating_sub(1);
            if s.slaves == 0 {
                s.slave_closed = true;
            }
        }
        self.pty.master_pollee.notify();
    }
}

impl FileOps for PtySlave {
    fn read(&self, offset: u64, buf: &mut [u8], nonblock: bool) -> Result<usize> {
        if self.hung_up() {
            return Ok(0);
        }
        self.pty.tty.read(offset, buf, nonblock)
    }

    fn write(&self, offset: u64, buf: &[u8], nonblock: bool) -> Result<usize> {
        if self.hung_up() {
            return Err(Errno::EIO);
        }
        self.pty.tty.write(offset, buf, nonblock)
    }

    fn poll(&self) -> Events {
        if self.hung_up() {
            return Events::IN
                | Events::OUT
                | Events::RDNORM
                | Events::WRNORM
                | Events::ERR
                | Events::HUP;
        }
        self.pty.tty.poll()
    }

    fn pollee(&self) -> Option<&Pollee> {
        self.pty.tty.pollee()
    }

    fn ioctl(&self, cmd: u32, arg: usize, user: &dyn UserMem) -> Result<usize> {
        if self.hung_up() {
            return Err(Errno::EIO);
        }
        self.pty.tty.ioctl(cmd, arg, user)
    }

    fn tty(&self) -> Option<&Tty> {
        // A hung-up slave is no terminal any more (no job control, ioctls EIO).
        (!self.hung_up()).then_some(&self.pty.tty)
    }

    fn read_deadline(&self, started: u64) -> Option<u64> {
        if self.hung_up() {
            return None;
        }
        self.pty.tty.read_deadline(started)
    }

    fn read_expired(&self, buf: &mut [u8]) -> Result<usize> {
        if self.hung_up() {
            return Ok(0);
        }
        self.pty.tty.read_expired(buf)
    }
}
