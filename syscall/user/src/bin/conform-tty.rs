//! Conformance checks for terminals, on a pseudo-terminal pair the program makes itself
//! (`posix_openpt`, `grantpt`, `unlockpt`, `ptsname`): the host's CI has no controlling
//! terminal, and Levitate's console is a serial line nobody types into here. Covers the
//! default termios, canonical editing (erase, kill, word erase, EOF) and its echo as the
//! master sees it, ICRNL/ONLCR, raw mode, VMIN/VTIME timing, window size, FIONREAD, poll,
//! the controlling terminal (setsid + TIOCSCTTY, ^C → SIGINT, SIGTTIN for a background
//! reader, SIGWINCH) and hang-ups both ways. Prints `PASS tty/<name>` or `FAIL ...: why`;
//! exits 0 iff all passed. Runs on Linux as well as on Levitate (the host tests run it
//! natively).

#[path = "../conform/util.rs"]
mod util;

use std::ffi::CStr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use util::{Check, End, Report, c, eq, errno, expect_errno, expect_ok, in_child, name};

/// An open master/slave pair; both fds close on drop.
struct Pair {
    master: i32,
    slave: i32,
    index: u32,
}

impl Drop for Pair {
    fn drop(&mut self) {
        for fd in [self.master, self.slave] {
            if fd >= 0 {
                // SAFETY: closing fds this pair owns.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// `posix_openpt` + `TIOCGPTN`, still locked.
fn open_master() -> Result<(i32, u32), String> {
    // SAFETY: no memory preconditions.
    let m = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    let m = expect_ok("posix_openpt", m as i64)? as i32;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int.
    let ret = unsafe { libc::ioctl(m, libc::TIOCGPTN, &mut n) };
    if let Err(e) = expect_ok("ioctl(TIOCGPTN)", ret as i64) {
        // SAFETY: our fd.
        unsafe { libc::close(m) };
        return Err(e);
    }
    Ok((m, n))
}

fn slave_path(index: u32) -> String {
    format!("/dev/pts/{index}")
}

/// Open the slave `index` with extra `flags`.
fn open_slave(index: u32, flags: i32) -> Result<i32, String> {
    let path = c(&slave_path(index));
    // SAFETY: a valid path.
    let s = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | flags) };
    expect_ok("open slave", s as i64).map(|s| s as i32)
}

/// A pair, unlocked and with the slave open (not as controlling terminal).
fn pair() -> Result<Pair, String> {
    let (master, index) = open_master()?;
    let mut p = Pair {
        master,
        slave: -1,
        index,
    };
    // SAFETY: our master fd.
    expect_ok("grantpt", unsafe { libc::grantpt(master) } as i64)?;
    // SAFETY: our master fd.
    expect_ok("unlockpt", unsafe { libc::unlockpt(master) } as i64)?;
    p.slave = open_slave(index, libc::O_NOCTTY)?;
    Ok(p)
}

fn write_all(fd: i32, data: &[u8]) -> Check {
    let mut done = 0;
    while done < data.len() {
        // SAFETY: a valid buffer.
        let n = unsafe { libc::write(fd, data[done..].as_ptr().cast(), data.len() - done) };
        done += expect_ok("write", n as i64)? as usize;
    }
    Ok(())
}

/// `poll` for `events` on `fd` for up to `ms`; the revents.
fn poll1(fd: i32, events: i16, ms: i32) -> i16 {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    if n > 0 { p.revents } else { 0 }
}

/// One read of up to `len` bytes once `fd` is readable (within 2 s).
fn read_some(fd: i32, len: usize) -> Result<Vec<u8>, String> {
    if poll1(fd, libc::POLLIN, 2000) == 0 {
        return Err("nothing to read within 2 s".into());
    }
    let mut buf = vec![0u8; len];
    // SAFETY: a valid buffer.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) };
    let n = expect_ok("read", n as i64)? as usize;
    buf.truncate(n);
    Ok(buf)
}

/// Exactly `n` bytes from `fd` (several reads, 2 s for each), e.g. the master's echo.
fn read_n(fd: i32, n: usize) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    while got.len() < n {
        match read_some(fd, n - got.len()) {
            Ok(b) if b.is_empty() => break,
            Ok(b) => got.extend(b),
            Err(e) => return Err(format!("{e} (had {got:?})")),
        }
    }
    Ok(got)
}

/// Nothing more readable on `fd` within `ms`.
fn quiet(fd: i32, ms: i32) -> Check {
    if poll1(fd, libc::POLLIN, ms) & libc::POLLIN != 0 {
        let extra = read_some(fd, 256).unwrap_or_default();
        return Err(format!("unexpected bytes {extra:?}"));
    }
    Ok(())
}

/// Master writes `input`; the master must see `echo`, the slave must read `line`.
fn line_check(p: &Pair, input: &[u8], echo: &[u8], line: &[u8]) -> Check {
    write_all(p.master, input)?;
    let got = read_n(p.master, echo.len())?;
    eq(
        "echo",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(echo),
    )?;
    let got = read_some(p.slave, 256)?;
    eq(
        "line",
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(line),
    )?;
    quiet(p.master, 20)
}

fn tcgetattr(fd: i32) -> Result<libc::termios, String> {
    // SAFETY: termios is plain data, tcgetattr fills it.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer.
    let ret = unsafe { libc::tcgetattr(fd, &mut t) };
    expect_ok("tcgetattr", ret as i64)?;
    Ok(t)
}

fn tcsetattr(fd: i32, t: &libc::termios) -> Check {
    // SAFETY: a valid termios.
    let ret = unsafe { libc::tcsetattr(fd, libc::TCSANOW, t) };
    expect_ok("tcsetattr", ret as i64).map(|_| ())
}

/// Change the slave's termios with `f`.
fn modify(p: &Pair, f: impl FnOnce(&mut libc::termios)) -> Check {
    let mut t = tcgetattr(p.slave)?;
    f(&mut t);
    tcsetattr(p.slave, &t)
}

/// Raw mode (cfmakeraw) with these VMIN/VTIME.
fn raw(p: &Pair, vmin: u8, vtime: u8) -> Check {
    modify(p, |t| {
        // SAFETY: a valid termios.
        unsafe { libc::cfmakeraw(t) };
        t.c_cc[libc::VMIN] = vmin;
        t.c_cc[libc::VTIME] = vtime;
    })
}

fn int_ioctl(fd: i32, req: libc::Ioctl, what: &str) -> Result<i32, String> {
    let mut v: libc::c_int = 0;
    // SAFETY: the request writes one int.
    let ret = unsafe { libc::ioctl(fd, req, &mut v) };
    expect_ok(what, ret as i64)?;
    Ok(v)
}

/// Wait (up to 2 s) until FIONREAD on `fd` says `n`: Linux hands master writes to the slave
/// from a work queue, so a non-blocking look must wait for them.
fn wait_fionread(fd: i32, n: i32) -> Check {
    let start = Instant::now();
    loop {
        let got = int_ioctl(fd, libc::FIONREAD, "ioctl(FIONREAD)")?;
        if got == n {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(2) {
            return Err(format!("FIONREAD stays {got}, want {n}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A timed read of up to `len` bytes: (bytes, elapsed).
fn timed_read(fd: i32, len: usize) -> Result<(Vec<u8>, Duration), String> {
    let mut buf = vec![0u8; len];
    let start = Instant::now();
    // SAFETY: a valid buffer.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) };
    let elapsed = start.elapsed();
    let n = expect_ok("read", n as i64)? as usize;
    buf.truncate(n);
    Ok((buf, elapsed))
}

fn within(what: &str, d: Duration, lo_ms: u64, hi_ms: u64) -> Check {
    let ms = d.as_millis() as u64;
    if ms < lo_ms || ms > hi_ms {
        return Err(format!("{what} took {ms} ms, want {lo_ms}..{hi_ms}"));
    }
    Ok(())
}

/// A pipe: (read end, write end).
fn pipe() -> Result<(i32, i32), String> {
    let mut fds = [0i32; 2];
    // SAFETY: a valid out-array.
    let ret = unsafe { libc::pipe(fds.as_mut_ptr()) };
    expect_ok("pipe", ret as i64)?;
    Ok((fds[0], fds[1]))
}

/// In a forked child: become a session leader, drop the inherited master, open the slave
/// `index` and make it the controlling terminal. Returns the slave fd or an exit code.
fn child_takes_terminal(master: i32, index: u32) -> Result<i32, i32> {
    // SAFETY: plain syscalls in the child.
    unsafe {
        libc::close(master);
        if libc::setsid() < 0 {
            return Err(10);
        }
    }
    let Ok(s) = open_slave(index, libc::O_NOCTTY) else {
        return Err(11);
    };
    // SAFETY: TIOCSCTTY takes an int argument.
    if unsafe { libc::ioctl(s, libc::TIOCSCTTY, 0) } < 0 {
        return Err(12);
    }
    Ok(s)
}

/// Tell the parent we are ready (one byte on `w`).
fn ready(w: i32) {
    // SAFETY: one byte from a valid buffer.
    unsafe { libc::write(w, b"r".as_ptr().cast(), 1) };
}

/// Wait for the child's ready byte on `r` (5 s).
fn wait_ready(r: i32) -> Check {
    let b = read_some(r, 1).map_err(|e| format!("child not ready: {e}"))?;
    eq("ready byte", b, b"r".to_vec())
}

/// Fork a child that runs `child(ready_fd)`; the parent runs `parent()` once the child
/// said ready, then waits for it.
fn with_child(
    child: impl FnOnce(i32) -> i32,
    parent: impl FnOnce() -> Check,
) -> Result<End, String> {
    let (r, w) = pipe()?;
    // SAFETY: fork in a single-threaded program; the child only makes syscalls and exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed with {}", name(errno())));
    }
    if pid == 0 {
        // SAFETY: our copy of the read end.
        unsafe { libc::close(r) };
        let code = child(w);
        // SAFETY: end the child without the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: our copy of the write end.
    unsafe { libc::close(w) };
    let result = wait_ready(r).and_then(|()| parent());
    // SAFETY: our fd.
    unsafe { libc::close(r) };
    if let Err(e) = result {
        // SAFETY: do not leave the child behind.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = util::wait_for(pid);
        return Err(e);
    }
    util::wait_for(pid)
}

/// Sleep up to 5 s in a child waiting to be signalled; exit code 3 if nothing came.
fn child_pause() -> i32 {
    for _ in 0..500 {
        std::thread::sleep(Duration::from_millis(10));
    }
    3
}

/// How a background job ended (or stopped).
#[derive(Debug, PartialEq, Eq)]
enum Job {
    Exited(i32),
    Stopped(i32),
    Other(String),
}

/// [`background_job_with`] without a setup step.
fn background_job(job: impl FnOnce(i32) -> i32) -> Result<Job, String> {
    background_job_with(|_| true, job)
}

/// A session on a fresh pty: a child takes the slave as its controlling terminal (its group
/// in the foreground), runs `setup` on it, then forks a background job (a new process group
/// of the session) that runs `job(slave)` and exits with its value. How the job ended or
/// stopped comes back (a stopped job is killed).
fn background_job_with(
    setup: impl FnOnce(i32) -> bool,
    job: impl FnOnce(i32) -> i32,
) -> Result<Job, String> {
    let p = pair()?;
    let (m, n) = (p.master, p.index);
    let (r, w) = pipe()?;
    let end = in_child(|| {
        // SAFETY: our copy of the read end.
        unsafe { libc::close(r) };
        let s = match child_takes_terminal(m, n) {
            Ok(s) => s,
            Err(code) => return code,
        };
        if !setup(s) {
            return 13;
        }
        // SAFETY: fork from a single-threaded child.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: plain calls in the job.
            unsafe {
                libc::setpgid(0, 0);
                let code = job(s);
                libc::_exit(code)
            }
        }
        let mut status = 0;
        // SAFETY: wait for our child, stops included.
        let got = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
        // SAFETY: clean up a stopped child (a no-op for an exited one).
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        let report = if got != pid {
            format!("waitpid gave {got}")
        } else if libc::WIFSTOPPED(status) {
            format!("S{}", libc::WSTOPSIG(status))
        } else if libc::WIFEXITED(status) {
            format!("E{}", libc::WEXITSTATUS(status))
        } else {
            format!("status {status:#x}")
        };
        // SAFETY: a valid buffer.
        unsafe { libc::write(w, report.as_ptr().cast(), report.len()) };
        0
    });
    // SAFETY: our copy of the write end.
    unsafe { libc::close(w) };
    let report = read_some(r, 64).unwrap_or_default();
    // SAFETY: our fd.
    unsafe { libc::close(r) };
    eq("session child", end?, End::Exited(0))?;
    let report = String::from_utf8_lossy(&report).into_owned();
    let num = |s: &str| s.parse::<i32>().unwrap_or(-1);
    Ok(match report.split_at_checked(1) {
        Some(("S", sig)) => Job::Stopped(num(sig)),
        Some(("E", code)) => Job::Exited(num(code)),
        _ => Job::Other(report),
    })
}

static WINCH: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_winch(_sig: libc::c_int) {
    WINCH.fetch_add(1, Ordering::SeqCst);
}

fn main() -> ExitCode {
    let mut r = Report::new("tty");
    // SAFETY: ignore SIGPIPE in the parent (writes to hung-up terminals). The checks want
    // the default actions of the terminal's signals, which a launcher may have left ignored
    // (`nohup` ignores SIGHUP, a non-interactive shell's `&` SIGINT and SIGQUIT), and an
    // ignored disposition survives fork and exec.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
            libc::signal(sig, libc::SIG_DFL);
        }
    }

    r.check("ptmx-slave-locked", || {
        let (m, n) = open_master()?;
        let path = c(&slave_path(n));
        // SAFETY: a valid path.
        let s = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
        let locked = expect_errno("open locked slave", s as i64, libc::EIO);
        // SAFETY: our fds.
        unsafe {
            if s >= 0 {
                libc::close(s);
            }
            libc::close(m);
        }
        locked
    });
    r.check("ptsname-and-node", || {
        let p = pair()?;
        // SAFETY: ptsname returns a static buffer or null.
        let name = unsafe { libc::ptsname(p.master) };
        if name.is_null() {
            return Err(format!("ptsname failed with {}", util::name(errno())));
        }
        // SAFETY: a NUL-terminated string from libc.
        let name = unsafe { CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned();
        eq("ptsname", name.as_str(), slave_path(p.index).as_str())?;
        // SAFETY: a valid out-struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let path = c(&name);
        // SAFETY: valid path and out-struct.
        expect_ok("stat", unsafe { libc::stat(path.as_ptr(), &mut st) } as i64)?;
        eq("type", st.st_mode & libc::S_IFMT, libc::S_IFCHR)?;
        eq("major", libc::major(st.st_rdev), 136)?;
        eq("minor", libc::minor(st.st_rdev), p.index)?;
        // SAFETY: isatty has no preconditions.
        let ttys = unsafe { (libc::isatty(p.master), libc::isatty(p.slave)) };
        eq("isatty(master, slave)", ttys, (1, 1))
    });
    r.check("termios-defaults", || {
        let p = pair()?;
        let t = tcgetattr(p.slave)?;
        eq("c_iflag", t.c_iflag, libc::ICRNL | libc::IXON)?;
        eq("c_oflag", t.c_oflag, libc::OPOST | libc::ONLCR)?;
        eq("c_cflag", t.c_cflag, libc::B38400 | libc::CS8 | libc::CREAD)?;
        let lflag = libc::ISIG
            | libc::ICANON
            | libc::ECHO
            | libc::ECHOE
            | libc::ECHOK
            | libc::ECHOCTL
            | libc::ECHOKE
            | libc::IEXTEN;
        eq("c_lflag", t.c_lflag, lflag)?;
        let cc = [
            (libc::VINTR, 3),
            (libc::VQUIT, 28),
            (libc::VERASE, 127),
            (libc::VKILL, 21),
            (libc::VEOF, 4),
            (libc::VTIME, 0),
            (libc::VMIN, 1),
            (libc::VSTART, 17),
            (libc::VSTOP, 19),
            (libc::VSUSP, 26),
            (libc::VREPRINT, 18),
            (libc::VWERASE, 23),
            (libc::VLNEXT, 22),
        ];
        for (i, v) in cc {
            eq(&format!("c_cc[{i}]"), t.c_cc[i], v)?;
        }
        // SAFETY: a valid termios.
        let speed = unsafe { libc::cfgetospeed(&t) };
        eq("cfgetospeed", speed, libc::B38400)?;
        // The master's termios ioctls are the slave's.
        let m = tcgetattr(p.master)?;
        eq("master c_lflag", m.c_lflag, t.c_lflag)
    });
    r.check("canonical-line-and-echo", || {
        let p = pair()?;
        line_check(&p, b"hello\n", b"hello\r\n", b"hello\n")
    });
    r.check("erase", || {
        let p = pair()?;
        line_check(&p, b"ab\x7fc\n", b"ab\x08 \x08c\r\n", b"ac\n")
    });
    r.check("kill", || {
        let p = pair()?;
        line_check(
            &p,
            b"abc\x15xy\n",
            b"abc\x08 \x08\x08 \x08\x08 \x08xy\r\n",
            b"xy\n",
        )
    });
    r.check("word-erase", || {
        let p = pair()?;
        line_check(
            &p,
            b"one two\x17three\n",
            b"one two\x08 \x08\x08 \x08\x08 \x08three\r\n",
            b"one three\n",
        )
    });
    r.check("eof", || {
        let p = pair()?;
        write_all(p.master, b"abc\x04")?;
        eq("line before ^D", read_some(p.slave, 100)?, b"abc".to_vec())?;
        write_all(p.master, b"\x04")?;
        eq("^D on an empty line", read_some(p.slave, 100)?, Vec::new())
    });
    r.check("icrnl", || {
        let p = pair()?;
        line_check(&p, b"x\r", b"x\r\n", b"x\n")?;
        modify(&p, |t| t.c_iflag &= !libc::ICRNL)?;
        write_all(p.master, b"y\r\n")?;
        eq("without ICRNL", read_some(p.slave, 100)?, b"y\r\n".to_vec())
    });
    r.check("onlcr", || {
        let p = pair()?;
        write_all(p.slave, b"a\nb")?;
        eq("with ONLCR", read_n(p.master, 4)?, b"a\r\nb".to_vec())?;
        modify(&p, |t| t.c_oflag &= !libc::OPOST)?;
        write_all(p.slave, b"c\nd")?;
        eq("without OPOST", read_n(p.master, 3)?, b"c\nd".to_vec())
    });
    r.check("raw-byte-at-a-time", || {
        let p = pair()?;
        raw(&p, 1, 0)?;
        write_all(p.master, b"q")?;
        eq("first read", read_some(p.slave, 100)?, b"q".to_vec())?;
        // ^C and ^? are plain bytes now, and nothing is echoed.
        write_all(p.master, b"\x03\x7f")?;
        eq("control bytes", read_n(p.slave, 2)?, b"\x03\x7f".to_vec())?;
        quiet(p.master, 50)
    });
    r.check("vmin0-vtime0-returns-at-once", || {
        let p = pair()?;
        raw(&p, 0, 0)?;
        let (got, took) = timed_read(p.slave, 10)?;
        eq("bytes", got, Vec::new())?;
        within("read", took, 0, 100)
    });
    r.check("vmin0-vtime-times-out", || {
        let p = pair()?;
        raw(&p, 0, 3)?;
        let (got, took) = timed_read(p.slave, 10)?;
        eq("bytes", got, Vec::new())?;
        within("read", took, 250, 2000)
    });
    r.check("vmin0-vtime-data-ready", || {
        let p = pair()?;
        raw(&p, 0, 20)?;
        write_all(p.master, b"ok")?;
        wait_fionread(p.slave, 2)?;
        let (got, took) = timed_read(p.slave, 10)?;
        eq("bytes", got, b"ok".to_vec())?;
        within("read", took, 0, 500)
    });
    r.check("vmin-vtime-inter-byte-timer", || {
        let p = pair()?;
        raw(&p, 5, 3)?;
        write_all(p.master, b"ab")?;
        wait_fionread(p.slave, 2)?;
        // Fewer than VMIN bytes: the read returns them once VTIME passes with no more.
        let (got, took) = timed_read(p.slave, 10)?;
        eq("bytes", got, b"ab".to_vec())?;
        within("read", took, 250, 2000)?;
        // VMIN bytes complete it at once.
        write_all(p.master, b"12345")?;
        wait_fionread(p.slave, 5)?;
        let (got, took) = timed_read(p.slave, 10)?;
        eq("bytes", got, b"12345".to_vec())?;
        within("read", took, 0, 500)
    });
    r.check("vmin-vtime-waits-for-first-byte", || {
        let p = pair()?;
        raw(&p, 1, 1)?;
        let master = p.master;
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            write_all(master, b"z")
        });
        let (got, took) = timed_read(p.slave, 10)?;
        writer
            .join()
            .map_err(|_| "writer thread panicked".to_string())??;
        eq("bytes", got, b"z".to_vec())?;
        // VTIME (100 ms) does not run before the first byte.
        within("read", took, 300, 3000)
    });
    r.check("vmin-without-vtime-poll", || {
        let p = pair()?;
        raw(&p, 3, 0)?;
        write_all(p.master, b"ab")?;
        wait_fionread(p.slave, 2)?;
        eq(
            "poll with 2 of 3",
            poll1(p.slave, libc::POLLIN, 0) & libc::POLLIN,
            0,
        )?;
        write_all(p.master, b"c")?;
        eq("read", read_some(p.slave, 10)?, b"abc".to_vec())
    });
    r.check("winsize", || {
        let p = pair()?;
        // SAFETY: winsize is plain data.
        let mut w: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ fills a winsize.
        let ret = unsafe { libc::ioctl(p.slave, libc::TIOCGWINSZ, &mut w) };
        expect_ok("TIOCGWINSZ", ret as i64)?;
        eq("initial rows, cols", (w.ws_row, w.ws_col), (0, 0))?;
        w.ws_row = 30;
        w.ws_col = 100;
        // SAFETY: TIOCSWINSZ reads a winsize.
        let ret = unsafe { libc::ioctl(p.master, libc::TIOCSWINSZ, &w) };
        expect_ok("TIOCSWINSZ on the master", ret as i64)?;
        // SAFETY: as above.
        let mut back: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ fills a winsize.
        let ret = unsafe { libc::ioctl(p.slave, libc::TIOCGWINSZ, &mut back) };
        expect_ok("TIOCGWINSZ", ret as i64)?;
        eq("rows, cols", (back.ws_row, back.ws_col), (30, 100))
    });
    r.check("fionread", || {
        let p = pair()?;
        write_all(p.master, b"abc\n")?;
        eq("echo", read_n(p.master, 5)?, b"abc\r\n".to_vec())?;
        eq(
            "FIONREAD slave (a line)",
            int_ioctl(p.slave, libc::FIONREAD, "FIONREAD")?,
            4,
        )?;
        write_all(p.master, b"xyz")?;
        eq("echo", read_n(p.master, 3)?, b"xyz".to_vec())?;
        // A partial canonical line is not readable yet.
        eq(
            "FIONREAD slave (line + partial)",
            int_ioctl(p.slave, libc::FIONREAD, "FIONREAD")?,
            4,
        )?;
        write_all(p.slave, b"out")?;
        wait_fionread(p.master, 3)
    });
    r.check("poll-readiness", || {
        let p = pair()?;
        let both = libc::POLLIN | libc::POLLOUT;
        eq("fresh master", poll1(p.master, both, 0), libc::POLLOUT)?;
        eq("fresh slave", poll1(p.slave, both, 0), libc::POLLOUT)?;
        write_all(p.master, b"l\n")?;
        eq(
            "slave with a line",
            poll1(p.slave, libc::POLLIN, 2000),
            libc::POLLIN,
        )?;
        eq(
            "master with echo",
            poll1(p.master, libc::POLLIN, 2000),
            libc::POLLIN,
        )?;
        Ok(())
    });
    r.check("tiocsctty-needs-session-leader", || {
        let p = pair()?;
        let s = p.slave;
        let end = in_child(|| {
            // SAFETY: a plain ioctl with an int argument.
            let ret = unsafe { libc::ioctl(s, libc::TIOCSCTTY, 0) };
            if ret == -1 && errno() == libc::EPERM {
                0
            } else {
                1
            }
        })?;
        eq("child", end, End::Exited(0))?;
        // Not our controlling terminal: no foreground group to ask about.
        // SAFETY: a plain call.
        let ret = unsafe { libc::tcgetpgrp(p.slave) };
        expect_errno("tcgetpgrp", ret as i64, libc::ENOTTY)
    });
    r.check("controlling-terminal", || {
        let p = pair()?;
        let (m, n) = (p.master, p.index);
        let end = in_child(|| {
            let s = match child_takes_terminal(m, n) {
                Ok(s) => s,
                Err(code) => return code,
            };
            // SAFETY: plain calls.
            let (me, pgrp, sid) =
                unsafe { (libc::getpid(), libc::tcgetpgrp(s), libc::tcgetsid(s)) };
            if pgrp != me {
                return 20;
            }
            if sid != me {
                return 21;
            }
            0
        })?;
        eq("child", end, End::Exited(0))?;
        // The master answers TIOCGPGRP without being anyone's terminal.
        int_ioctl(p.master, libc::TIOCGPGRP, "TIOCGPGRP on the master").map(|_| ())
    });
    r.check("isig-ctrl-c-sigint", || {
        let p = pair()?;
        let (m, n) = (p.master, p.index);
        let end = with_child(
            |w| match child_takes_terminal(m, n) {
                Ok(_) => {
                    ready(w);
                    child_pause()
                }
                Err(code) => code,
            },
            || {
                write_all(p.master, b"\x03")?;
                eq("echo of ^C", read_n(p.master, 2)?, b"^C".to_vec())
            },
        )?;
        eq("child", end, End::Signaled(libc::SIGINT))
    });
    r.check("sigwinch-to-foreground", || {
        let p = pair()?;
        let (m, n) = (p.master, p.index);
        let end = with_child(
            |w| {
                let handler = on_winch as extern "C" fn(libc::c_int) as libc::sighandler_t;
                // SAFETY: installing a handler that only touches an atomic.
                unsafe { libc::signal(libc::SIGWINCH, handler) };
                if let Err(code) = child_takes_terminal(m, n) {
                    return code;
                }
                ready(w);
                for _ in 0..500 {
                    if WINCH.load(Ordering::SeqCst) > 0 {
                        return 0;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                3
            },
            || {
                let w = libc::winsize {
                    ws_row: 12,
                    ws_col: 34,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                // SAFETY: TIOCSWINSZ reads a winsize.
                let ret = unsafe { libc::ioctl(p.master, libc::TIOCSWINSZ, &w) };
                expect_ok("TIOCSWINSZ", ret as i64).map(|_| ())
            },
        )?;
        eq("child", end, End::Exited(0))
    });
    r.check("background-read-sigttin", || {
        let mut b = [0u8; 1];
        // SAFETY: a valid buffer; the read should stop the job.
        let end = background_job(|s| unsafe { libc::read(s, b.as_mut_ptr().cast(), 1) } as i32)?;
        eq("background job", end, Job::Stopped(libc::SIGTTIN))
    });
    r.check("background-write-without-tostop", || {
        // SAFETY: a valid buffer.
        let end = background_job(|s| unsafe { libc::write(s, b"w".as_ptr().cast(), 1) } as i32)?;
        eq("background job", end, Job::Exited(1))
    });
    r.check("background-write-tostop-sigttou", || {
        let end = background_job_with(
            |s| {
                let Ok(mut t) = tcgetattr(s) else {
                    return false;
                };
                t.c_lflag |= libc::TOSTOP;
                tcsetattr(s, &t).is_ok()
            },
            // SAFETY: a valid buffer.
            |s| unsafe { libc::write(s, b"w".as_ptr().cast(), 1) } as i32,
        )?;
        eq("background job", end, Job::Stopped(libc::SIGTTOU))
    });
    r.check("background-tcsetattr-sigttou", || {
        let end = background_job(|s| match tcgetattr(s) {
            Ok(t) => i32::from(tcsetattr(s, &t).is_ok()),
            Err(_) => 7,
        })?;
        eq("background job", end, Job::Stopped(libc::SIGTTOU))
    });
    r.check("background-tcsetpgrp-sigttou-ignored", || {
        // A shell ignores SIGTTOU to take the terminal back from a finished job.
        let end = background_job(|s| {
            // SAFETY: plain calls.
            unsafe {
                libc::signal(libc::SIGTTOU, libc::SIG_IGN);
                let me = libc::getpgrp();
                if libc::tcsetpgrp(s, me) != 0 {
                    return 8;
                }
                if libc::tcgetpgrp(s) == me { 1 } else { 9 }
            }
        })?;
        eq("background job", end, Job::Exited(1))
    });
    r.check("master-close-sighup", || {
        let p = pair()?;
        let (m, n) = (p.master, p.index);
        let slave = p.slave;
        let mut p = p;
        let end = with_child(
            |w| {
                // SAFETY: the child does not need the parent's slave fd.
                unsafe { libc::close(slave) };
                match child_takes_terminal(m, n) {
                    Ok(_) => {
                        ready(w);
                        child_pause()
                    }
                    Err(code) => code,
                }
            },
            || {
                // SAFETY: our master fd; the pair forgets it.
                expect_ok("close master", unsafe { libc::close(p.master) } as i64)?;
                p.master = -1;
                Ok(())
            },
        )?;
        eq("child", end, End::Signaled(libc::SIGHUP))
    });
    r.check("slave-after-master-close", || {
        let mut p = pair()?;
        write_all(p.master, b"lost\n")?;
        eq("echo", read_n(p.master, 6)?, b"lost\r\n".to_vec())?;
        // SAFETY: our fd; the pair forgets it.
        unsafe { libc::close(p.master) };
        p.master = -1;
        let (got, _) = timed_read(p.slave, 10)?;
        eq("read after hang-up", got, Vec::new())?;
        // SAFETY: a valid buffer.
        let ret = unsafe { libc::write(p.slave, b"x".as_ptr().cast(), 1) };
        expect_errno("write after hang-up", ret as i64, libc::EIO)?;
        let ev = poll1(p.slave, libc::POLLIN | libc::POLLOUT, 0);
        eq("poll HUP", ev & libc::POLLHUP, libc::POLLHUP)?;
        let path = c(&slave_path(p.index));
        // SAFETY: a valid path.
        let ret = unsafe { libc::access(path.as_ptr(), libc::F_OK) };
        expect_errno("the node after hang-up", ret as i64, libc::ENOENT)
    });
    r.check("master-after-slave-close", || {
        let mut p = pair()?;
        write_all(p.slave, b"bye")?;
        // SAFETY: our fd; the pair forgets it.
        unsafe { libc::close(p.slave) };
        p.slave = -1;
        eq("data first", read_n(p.master, 3)?, b"bye".to_vec())?;
        eq(
            "poll HUP",
            poll1(p.master, libc::POLLIN, 2000) & libc::POLLHUP,
            libc::POLLHUP,
        )?;
        let mut b = [0u8; 8];
        // SAFETY: a valid buffer.
        let ret = unsafe { libc::read(p.master, b.as_mut_ptr().cast(), 8) };
        expect_errno("read", ret as i64, libc::EIO)
    });
    r.check("number-reused", || {
        let first = pair()?.index;
        // Linux frees the number from a work queue: give it a moment.
        let mut again = u32::MAX;
        for _ in 0..100 {
            again = pair()?.index;
            if again == first {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eq("pty number after both sides closed", again, first)
    });

    r.finish()
}
