//! Terminals: a Linux-compatible line discipline (N_TTY's behaviour, not its code) over a
//! byte sink, with termios, canonical editing, echo, signal characters and output
//! processing.
//!
//! Input reaches a [`Tty`] through [`Tty::input`], in thread context: the kernel's UART
//! interrupt handler only pushes raw bytes into an [`InputRing`] (lock-free) and wakes a
//! kernel thread that drains the ring into `input`. So every lock here is taken in thread
//! context, like the rest of the VFS, and the [`Pollee`] is notified from a thread (its
//! waiter list is a spin lock that threads take with interrupts enabled: notifying it from
//! an interrupt could spin forever on a lock its own CPU holds).
//!
//! Output goes to the [`TtyDriver`] after `OPOST` processing (the console UART, or a pty
//! master's read buffer); signal characters make the driver signal the foreground process
//! group. Numbers and bit values are Linux's (`include/uapi/asm-generic/termbits.h`,
//! `ioctls.h`); x86_64 and arm64 share them.
//!
//! `VTIME` is Linux's: a non-canonical read with `VMIN = 0, VTIME > 0` waits up to `VTIME`
//! deciseconds for a byte and returns 0 on timeout; with `VMIN > 0, VTIME > 0` the timer
//! starts at the first byte and restarts at each later one. Nothing here blocks: `read` says
//! `EAGAIN` and [`FileOps::read_deadline`] tells the syscall layer when to give up waiting
//! (it then calls [`FileOps::read_expired`]). Times come from the monotonic clock given to
//! [`Tty::new`].
//!
//! Simplifications (documented in `.teams/0013-tty.md`): `IXON` swallows ^S/^Q but output is
//! never actually stopped; erasing a tab moves back one column; ^H erases like `VERASE` in
//! canonical mode (Linux would take it literally unless `VERASE` is ^H); a process does not
//! record its controlling terminal, the terminal records its session (so `/dev/tty` is the
//! console, and `TIOCSCTTY` does not check that the caller has no other terminal).

mod ioctl;
mod output;
mod ring;
mod termios;
#[cfg(test)]
mod tests;

pub use ioctl::*;
pub use ring::{InputRing, RING_SIZE};
pub use termios::*;

use crate::inode::{FileOps, UserMem};
use crate::poll::{Events, Pollee};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use spin::Mutex;
use syscall::{Errno, Result};

/// Signals the line discipline raises (same numbers on x86_64 and arm64).
pub const SIGINT: u32 = 2;
pub const SIGQUIT: u32 = 3;
pub const SIGTSTP: u32 = 20;
pub const SIGWINCH: u32 = 28;
pub const SIGHUP: u32 = 1;
pub const SIGCONT: u32 = 18;

/// Longest canonical line, terminator included (Linux's `N_TTY_BUF_SIZE`); characters past
/// it are dropped until the line ends.
pub const MAX_CANON: usize = 4096;
/// Most bytes queued for reading in non-canonical mode; more are dropped.
pub const MAX_INPUT: usize = 4096;

/// Where output goes (the console UART).
pub type Writer = Box<dyn Fn(&[u8]) + Send + Sync>;
/// Sends signal `sig` to process group `pgid` (^C, ^\, ^Z, window size changes, hang-up).
pub type Signaller = Box<dyn Fn(i32, u32) + Send + Sync>;
/// The monotonic clock in nanoseconds (for `VTIME`).
pub type MonotonicClock = fn() -> u64;

/// The device under a line discipline: where output goes and who sends signals.
pub trait TtyDriver: Send + Sync {
    /// Output after `OPOST` processing (echo included).
    fn write(&self, bytes: &[u8]);
    /// Sends `sig` to process group `pgid`.
    fn signal(&self, pgid: i32, sig: u32);
    /// Bytes [`write`](TtyDriver::write) can take now; a writer gets `EAGAIN` below 2 (a
    /// byte may become two under `ONLCR`). Default: unlimited (a UART written synchronously).
    fn write_room(&self) -> usize {
        usize::MAX
    }
    /// A reader took input: room for more (a pty master's writers may go on).
    fn input_consumed(&self) {}
}

/// [`TtyDriver`] over two callbacks (the console).
struct Callbacks {
    writer: Writer,
    signal: Signaller,
}

impl TtyDriver for Callbacks {
    fn write(&self, bytes: &[u8]) {
        (self.writer)(bytes);
    }

    fn signal(&self, pgid: i32, sig: u32) {
        (self.signal)(pgid, sig);
    }
}

/// A terminal: line discipline state plus the device's callbacks.
pub struct Tty {
    state: Mutex<State>,
    pollee: Pollee,
    driver: Box<dyn TtyDriver>,
    clock: MonotonicClock,
}

struct State {
    termios: Termios,
    winsize: [u8; 8],
    /// Foreground process group (`tcgetpgrp`).
    fg_pgrp: i32,
    /// Session the terminal belongs to (`TIOCGSID`).
    sid: i32,
    /// Canonical mode: completed lines, oldest first, each with its terminator (none for an
    /// end-of-file line; an empty one reads as 0).
    lines: VecDeque<Vec<u8>>,
    /// Canonical mode: the line being edited.
    edit: Vec<u8>,
    /// Non-canonical mode: bytes to read.
    raw: VecDeque<u8>,
    /// Monotonic time the last byte was queued in non-canonical mode (`VTIME`'s inter-byte
    /// timer counts from it).
    last_rx: u64,
    /// The previous byte was VLNEXT: take this one literally.
    lnext: bool,
}

/// What one `input` call produced besides queued bytes, acted on with the lock dropped.
#[derive(Default)]
struct Effects {
    echo: Vec<u8>,
    signals: Vec<u32>,
}

/// Whether the echo of `c` is the two-column `^X` form under `ECHOCTL`.
fn is_ctl(c: u8) -> bool {
    (c < 0x20 && c != b'\t' && c != b'\n') || c == 0x7f
}

impl Tty {
    /// A terminal with Linux's default termios, a 24x80 window and process group 1 in the
    /// foreground (PID 1 is the session leader owning the console).
    pub fn new(writer: Writer, signal: Signaller, clock: MonotonicClock) -> Tty {
        let mut winsize = [0u8; 8];
        winsize[0..2].copy_from_slice(&24u16.to_le_bytes());
        winsize[2..4].copy_from_slice(&80u16.to_le_bytes());
        let tty = Tty::with_driver(Box::new(Callbacks { writer, signal }), clock);
        {
            let mut s = tty.state.lock();
            s.winsize = winsize;
            s.fg_pgrp = 1;
            s.sid = 1;
        }
        tty
    }

    /// A terminal over `driver` with Linux's default termios, a 0x0 window and no session
    /// (a pty slave: a session leader takes it with `TIOCSCTTY`).
    pub fn with_driver(driver: Box<dyn TtyDriver>, clock: MonotonicClock) -> Tty {
        Tty {
            state: Mutex::new(State {
                termios: Termios::linux_default(),
                winsize: [0u8; 8],
                fg_pgrp: 0,
                sid: 0,
                lines: VecDeque::new(),
                edit: Vec::new(),
                raw: VecDeque::new(),
                last_rx: 0,
                lnext: false,
            }),
            pollee: Pollee::new(),
            driver,
            clock,
        }
    }

    /// Wakes whoever polls or waits on the terminal (its driver made room for output, or
    /// hung up).
    pub fn wake(&self) {
        self.pollee.notify();
    }

    /// Hang-up (a pty master closed): the terminal leaves its session. Returns the session
    /// and foreground group it had (0: none), for the caller to signal.
    pub fn hangup(&self) -> (i32, i32) {
        let old = {
            let mut s = self.state.lock();
            let old = (s.sid, s.fg_pgrp);
            s.sid = 0;
            s.fg_pgrp = 0;
            old
        };
        self.pollee.notify();
        old
    }

    /// Input bytes queued and not read yet (the partial canonical line included): a pty
    /// master's writes stop at [`MAX_INPUT`].
    pub fn queued_input(&self) -> usize {
        let s = self.state.lock();
        s.lines.iter().map(Vec::len).sum::<usize>() + s.edit.len() + s.raw.len()
    }

    /// What job control needs: the foreground process group, the terminal's session (0:
    /// none), and whether background writes stop (`TOSTOP`).
    pub fn job_control(&self) -> (i32, i32, bool) {
        let s = self.state.lock();
        (s.fg_pgrp, s.sid, s.termios.l(TOSTOP))
    }

    /// The current termios.
    pub fn termios(&self) -> Termios {
        self.state.lock().termios
    }

    /// Replaces the termios (as `TCSETS`); switching between canonical and raw mode carries
    /// pending input over, as Linux does.
    pub fn set_termios(&self, t: Termios) {
        {
            let mut s = self.state.lock();
            let was_canon = s.termios.l(ICANON);
            s.termios = t;
            let canon = t.l(ICANON);
            if was_canon && !canon {
                // Completed lines and the partial line become plain input.
                let mut raw = core::mem::take(&mut s.raw);
                for line in core::mem::take(&mut s.lines) {
                    raw.extend(line);
                }
                raw.extend(core::mem::take(&mut s.edit));
                s.raw = raw;
            } else if !was_canon && canon {
                // Unread raw bytes become the start of the line being edited.
                let mut edit: Vec<u8> = core::mem::take(&mut s.raw).into();
                edit.append(&mut s.edit);
                s.edit = edit;
            }
        }
        self.pollee.notify();
    }

    /// Feeds received bytes through the line discipline (thread context).
    pub fn input(&self, bytes: &[u8]) {
        let mut fx = Effects::default();
        let now = (self.clock)();
        let (pgrp, oflag) = {
            let mut s = self.state.lock();
            let before = s.raw.len();
            for &b in bytes {
                s.receive(b, &mut fx);
            }
            if s.raw.len() != before {
                s.last_rx = now;
            }
            (s.fg_pgrp, s.termios.oflag)
        };
        if !fx.echo.is_empty() {
            self.output(&fx.echo, oflag);
        }
        for sig in fx.signals {
            if pgrp > 0 {
                self.driver.signal(pgrp, sig);
            }
        }
        self.pollee.notify();
    }

    /// Drops all unread input (`TCIFLUSH`).
    pub fn flush_input(&self) {
        self.state.lock().flush_input();
        self.pollee.notify();
    }

    /// Bytes a read could return now (`FIONREAD`).
    pub fn readable_bytes(&self) -> usize {
        let s = self.state.lock();
        if s.termios.l(ICANON) {
            s.lines.iter().map(Vec::len).sum()
        } else {
            s.raw.len()
        }
    }
}

impl State {
    fn flush_input(&mut self) {
        self.lines.clear();
        self.edit.clear();
        self.raw.clear();
        self.lnext = false;
    }

    /// Appends the echo of `c` (`^X` for control characters under `ECHOCTL`).
    fn echo_char(&self, c: u8, fx: &mut Effects) {
        if self.termios.l(ECHOCTL) && is_ctl(c) {
            fx.echo.push(b'^');
            fx.echo.push(c ^ 0x40);
        } else {
            fx.echo.push(c);
        }
    }

    /// Columns the echo of `c` took, for visual erase.
    fn echo_width(&self, c: u8) -> usize {
        if self.termios.l(ECHOCTL) && is_ctl(c) {
            2
        } else if self.termios.i(IUTF8) && (0x80..0xc0).contains(&c) {
            0 // a UTF-8 continuation byte shares its lead byte's column
        } else {
            1
        }
    }

    /// Removes the last character of the line being edited and erases its echo.
    fn erase_one(&mut self, fx: &mut Effects) -> Option<u8> {
        let mut width = 0;
        let mut last = None;
        while let Some(c) = self.edit.pop() {
            width += self.echo_width(c);
            last = Some(c);
            // Under IUTF8 a character is its lead byte and the continuation bytes after it.
            if !(self.termios.i(IUTF8) && (0x80..0xc0).contains(&c)) {
                break;
            }
        }
        if last.is_some() && self.termios.l(ECHO) && self.termios.l(ECHOE) {
            for _ in 0..width {
                fx.echo.extend_from_slice(b"\x08 \x08");
            }
        }
        last
    }

    fn receive(&mut self, byte: u8, fx: &mut Effects) {
        let t = self.termios;
        let mut c = if t.i(ISTRIP) { byte & 0x7f } else { byte };
        if self.lnext {
            self.lnext = false;
            // The echo overwrites the "^" VLNEXT left under the cursor.
            self.store(c, fx);
            return;
        }
        if c == b'\r' {
            if t.i(IGNCR) {
                return;
            }
            if t.i(ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.i(INLCR) {
            c = b'\r';
        }
        if t.i(IXON) && (t.is(VSTOP, c) || t.is(VSTART, c)) {
            return;
        }
        if t.l(ISIG) {
            let sig = if t.is(VINTR, c) {
                Some(SIGINT)
            } else if t.is(VQUIT, c) {
                Some(SIGQUIT)
            } else if t.is(VSUSP, c) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                if !t.l(NOFLSH) {
                    self.flush_input();
                }
                if t.l(ECHO) {
                    self.echo_char(c, fx);
                }
                fx.signals.push(sig);
                return;
            }
        }
        if !t.l(ICANON) {
            self.store(c, fx);
            return;
        }
        let iexten = t.l(IEXTEN);
        if iexten && t.is(VLNEXT, c) {
            self.lnext = true;
            if t.l(ECHO) && t.l(ECHOCTL) {
                fx.echo.extend_from_slice(b"^\x08");
            }
        } else if t.is(VERASE, c) || (c == 0x08 && t.cc[VERASE] != 0) {
            // ^H erases too: serial terminals send either ^? or ^H for Backspace.
            if self.erase_one(fx).is_some() && t.l(ECHO) && !t.l(ECHOE) {
                self.echo_char(c, fx);
            }
        } else if t.is(VKILL, c) {
            if t.l(ECHO) && t.l(ECHOE) && t.l(ECHOKE) {
                while self.erase_one(fx).is_some() {}
            } else {
                self.edit.clear();
                if t.l(ECHO) {
                    self.echo_char(c, fx);
                }
                if t.l(ECHOK) {
                    fx.echo.push(b'\n');
                }
            }
        } else if iexten && t.is(VWERASE, c) {
            while self.edit.last().is_some_and(|b| b.is_ascii_whitespace()) {
                self.erase_one(fx);
            }
            while self.edit.last().is_some_and(|b| !b.is_ascii_whitespace()) {
                self.erase_one(fx);
            }
        } else if iexten && t.is(VREPRINT, c) {
            if t.l(ECHO) {
                self.echo_char(c, fx);
                fx.echo.push(b'\n');
                let edit = core::mem::take(&mut self.edit);
                for &b in &edit {
                    self.echo_char(b, fx);
                }
                self.edit = edit;
            }
        } else if t.is(VEOF, c) {
            // The line ends without the character; an empty line reads as end of file.
            let line = core::mem::take(&mut self.edit);
            self.lines.push_back(line);
        } else {
            self.store(c, fx);
        }
    }

    /// Queues an ordinary character (canonical: into the line, ending it at a newline or
    /// EOL character; otherwise into the raw queue) and echoes it.
    fn store(&mut self, c: u8, fx: &mut Effects) {
        let t = self.termios;
        if t.l(ICANON) {
            let ends = c == b'\n' || t.is(VEOL, c) || (t.l(IEXTEN) && t.is(VEOL2, c));
            // Room is kept for the terminator, so a full line can always still be ended.
            if !ends && self.edit.len() >= MAX_CANON - 1 {
                return;
            }
            if t.l(ECHO) {
                self.echo_char(c, fx);
            } else if c == b'\n' && t.l(ECHONL) {
                fx.echo.push(b'\n');
            }
            self.edit.push(c);
            if ends {
                let line = core::mem::take(&mut self.edit);
                self.lines.push_back(line);
            }
        } else {
            if self.raw.len() >= MAX_INPUT {
                return;
            }
            if t.l(ECHO) {
                self.echo_char(c, fx);
            } else if c == b'\n' && t.l(ECHONL) {
                fx.echo.push(b'\n');
            }
            self.raw.push_back(c);
        }
    }

    /// Non-canonical: bytes that must be queued before a read of `len` bytes returns
    /// without its timer (`VMIN = 0, VTIME > 0`: one; else `VMIN`, at most `len`).
    fn raw_needed(&self, len: usize) -> usize {
        usize::from(self.termios.cc[VMIN]).min(len).max(1)
    }

    /// `poll`'s idea of readable, Linux's `input_available_p(tty, 1)`: a line; or in
    /// non-canonical mode one byte when `VTIME` is set, else `VMIN` bytes.
    fn readable(&self) -> bool {
        if self.termios.l(ICANON) {
            !self.lines.is_empty()
        } else if self.termios.cc[VTIME] != 0 {
            !self.raw.is_empty()
        } else {
            self.raw.len() >= self.raw_needed(usize::MAX)
        }
    }

    /// Moves up to `buf.len()` queued non-canonical bytes into `buf`.
    fn take_raw(&mut self, buf: &mut [u8]) -> usize {
        let n = self.raw.len().min(buf.len());
        for (slot, b) in buf.iter_mut().zip(self.raw.drain(..n)) {
            *slot = b;
        }
        n
    }

    /// `read`: the bytes read, or `EAGAIN`.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.termios.l(ICANON) {
            // One line per read, as Linux: the rest of a long line stays for the next read.
            let Some(mut line) = self.lines.pop_front() else {
                return Err(Errno::EAGAIN);
            };
            let n = line.len().min(buf.len());
            buf[..n].copy_from_slice(&line[..n]);
            if n < line.len() {
                line.drain(..n);
                self.lines.push_front(line);
            }
            return Ok(n);
        }
        let (vmin, vtime) = (self.termios.cc[VMIN], self.termios.cc[VTIME]);
        if self.raw.is_empty() && vmin == 0 && vtime == 0 {
            return Ok(0);
        }
        if self.raw.len() < self.raw_needed(buf.len()) {
            return Err(Errno::EAGAIN);
        }
        Ok(self.take_raw(buf))
    }
}

/// Nanoseconds in `VTIME` deciseconds.
fn vtime_ns(vtime: u8) -> u64 {
    u64::from(vtime) * 100_000_000
}

impl FileOps for Tty {
    fn as_any(&self) -> Option<&dyn core::any::Any> {
        Some(self)
    }

    fn read(&self, _offset: u64, buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let r = self.state.lock().read(buf);
        if matches!(r, Ok(n) if n > 0) {
            self.driver.input_consumed();
        }
        r
    }

    fn read_deadline(&self, started: u64) -> Option<u64> {
        let s = self.state.lock();
        let (vmin, vtime) = (s.termios.cc[VMIN], s.termios.cc[VTIME]);
        if s.termios.l(ICANON) || vtime == 0 {
            None
        } else if vmin == 0 {
            // The whole read waits at most VTIME.
            Some(started.saturating_add(vtime_ns(vtime)))
        } else if s.raw.is_empty() {
            // The inter-byte timer starts with the first byte.
            None
        } else {
            Some(started.max(s.last_rx).saturating_add(vtime_ns(vtime)))
        }
    }

    fn read_expired(&self, buf: &mut [u8]) -> Result<usize> {
        let r = {
            let mut s = self.state.lock();
            if s.termios.l(ICANON) || (s.raw.is_empty() && s.termios.cc[VMIN] != 0) {
                Err(Errno::EAGAIN)
            } else {
                Ok(s.take_raw(buf))
            }
        };
        if matches!(r, Ok(n) if n > 0) {
            self.driver.input_consumed();
        }
        r
    }

    fn write(&self, _offset: u64, buf: &[u8], _nonblock: bool) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let oflag = self.state.lock().termios.oflag;
        // Room for the worst case: every byte doubled by ONLCR.
        let room = match self.driver.write_room() {
            r if oflag & (OPOST | ONLCR) == OPOST | ONLCR => r / 2,
            r => r,
        };
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        let n = buf.len().min(room);
        self.output(&buf[..n], oflag);
        Ok(n)
    }

    fn poll(&self) -> Events {
        let mut ev = Events::EMPTY;
        if self.driver.write_room() >= 2 {
            ev |= Events::OUT | Events::WRNORM;
        }
        if self.state.lock().readable() {
            ev |= Events::IN | Events::RDNORM;
        }
        ev
    }

    fn tty(&self) -> Option<&Tty> {
        Some(self)
    }

    fn pollee(&self) -> Option<&Pollee> {
        Some(&self.pollee)
    }

    fn ioctl(&self, cmd: u32, arg: usize, user: &dyn UserMem) -> Result<usize> {
        match cmd {
            TCGETS => user.write(arg, &self.termios().to_bytes()).map(|_| 0),
            TCSETS | TCSETSW | TCSETSF => {
                let mut b = [0u8; Termios::SIZE];
                user.read(arg, &mut b)?;
                // Output is written synchronously, so there is never anything to drain
                // (TCSETSW); TCSETSF also drops unread input.
                if cmd == TCSETSF {
                    self.state.lock().flush_input();
                }
                self.set_termios(Termios::from_bytes(&b));
                Ok(0)
            }
            TIOCGWINSZ => user.write(arg, &self.state.lock().winsize).map(|_| 0),
            TIOCSWINSZ => {
                let mut w = [0u8; 8];
                user.read(arg, &mut w)?;
                let (changed, pgrp) = {
                    let mut s = self.state.lock();
                    let changed = s.winsize != w;
                    s.winsize = w;
                    (changed, s.fg_pgrp)
                };
                if changed && pgrp > 0 {
                    self.driver.signal(pgrp, SIGWINCH);
                }
                Ok(0)
            }
            TIOCGPGRP => {
                let pgrp = self.state.lock().fg_pgrp;
                Self::write_int(user, arg, pgrp)
            }
            TIOCSPGRP => {
                let pgrp = Self::read_int(user, arg)?;
                if pgrp < 0 {
                    return Err(Errno::EINVAL);
                }
                self.state.lock().fg_pgrp = pgrp;
                Ok(0)
            }
            TIOCGSID => {
                let sid = self.state.lock().sid;
                Self::write_int(user, arg, sid)
            }
            FIONREAD => Self::write_int(
                user,
                arg,
                i32::try_from(self.readable_bytes()).unwrap_or(i32::MAX),
            ),
            TIOCOUTQ => Self::write_int(user, arg, 0),
            TCFLSH => match arg {
                0 | 2 => {
                    self.flush_input();
                    Ok(0)
                }
                1 => Ok(0),
                _ => Err(Errno::EINVAL),
            },
            TCXONC => match arg {
                0..=3 => Ok(0),
                _ => Err(Errno::EINVAL),
            },
            // The console is every session's controlling terminal until sessions track one.
            TIOCSCTTY | TIOCNOTTY | TCSBRK | TCSBRKP => Ok(0),
            _ => Err(Errno::ENOTTY),
        }
    }
}

impl crate::device::CharDevice for Tty {}
