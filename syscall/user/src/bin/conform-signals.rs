//! Conformance checks for signals: handlers and SA_SIGINFO, masks and pending sets, SIG_IGN,
//! what cannot be blocked or caught, SIGCHLD, kill's errors, and the temporary masks of
//! ppoll/pselect6 next to select itself. Prints `PASS signals/<name>` or `FAIL ...: why`;
//! exits 0 iff all passed. Runs on Linux as well as on Levitate (the host tests run it
//! natively).

#[path = "../conform/util.rs"]
mod util;

use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use util::{Report, eq, errno, expect_errno, expect_ok, name};

/// Deliveries seen by [`count`], per signal number.
static COUNT: [AtomicU32; 65] = [const { AtomicU32::new(0) }; 65];
/// `si_signo`, `si_code` and `si_pid` of the last SA_SIGINFO delivery.
static INFO: [AtomicI32; 3] = [const { AtomicI32::new(0) }; 3];

extern "C" fn count(sig: libc::c_int) {
    if let Some(c) = COUNT.get(sig as usize) {
        c.fetch_add(1, Ordering::SeqCst);
    }
}

extern "C" fn record(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let info = unsafe { &*info };
    INFO[0].store(info.si_signo, Ordering::SeqCst);
    INFO[1].store(info.si_code, Ordering::SeqCst);
    // SAFETY: si_pid is valid for signals sent by a process (kill, tgkill).
    INFO[2].store(unsafe { info.si_pid() }, Ordering::SeqCst);
    count(sig);
}

fn seen(sig: i32) -> u32 {
    COUNT[sig as usize].load(Ordering::SeqCst)
}

/// Install `handler` (a plain `fn(int)`, or with `siginfo` an SA_SIGINFO one) for `sig`.
fn handle(sig: i32, handler: usize, siginfo: bool) -> util::Check {
    // SAFETY: a zeroed sigaction is a valid starting point; the fields are set below.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler;
    sa.sa_flags = if siginfo { libc::SA_SIGINFO } else { 0 };
    // SAFETY: valid sigaction, no old action wanted.
    let ret = unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) };
    expect_ok("sigaction", ret as i64).map(|_| ())
}

fn on(sig: i32) -> util::Check {
    handle(sig, count as extern "C" fn(libc::c_int) as usize, false)
}

/// The signal mask after applying `how` with the signals in `sigs`.
fn mask(how: i32, sigs: &[i32]) -> Result<libc::sigset_t, String> {
    // SAFETY: sigset_t is plain data; sigemptyset/sigaddset initialise it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sets.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
    }
    // SAFETY: valid sets.
    let ret = unsafe { libc::sigprocmask(how, &set, &mut old) };
    expect_ok("sigprocmask", ret as i64)?;
    // SAFETY: read back the mask now in force.
    let ret = unsafe { libc::sigprocmask(libc::SIG_BLOCK, std::ptr::null(), &mut old) };
    expect_ok("sigprocmask(read)", ret as i64)?;
    Ok(old)
}

fn is_member(set: &libc::sigset_t, sig: i32) -> bool {
    // SAFETY: a valid, initialised set.
    unsafe { libc::sigismember(set, sig) == 1 }
}

fn pending_set() -> Result<libc::sigset_t, String> {
    // SAFETY: valid out-set.
    let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-set.
    let ret = unsafe { libc::sigpending(&mut pending) };
    expect_ok("sigpending", ret as i64)?;
    Ok(pending)
}

fn raise(sig: i32) -> util::Check {
    // SAFETY: raise has no memory preconditions.
    let ret = unsafe { libc::raise(sig) };
    expect_ok("raise", ret as i64).map(|_| ())
}

/// A raw sigset (the kernel's 8 bytes) holding nothing.
const EMPTY_SET: u64 = 0;

fn main() -> ExitCode {
    let mut r = Report::new("signals");
    let usr1 = libc::SIGUSR1;
    let usr2 = libc::SIGUSR2;

    r.check("handler-runs", || {
        on(usr1)?;
        let before = seen(usr1);
        raise(usr1)?;
        eq("deliveries", seen(usr1) - before, 1)
    });
    r.check("sa-siginfo", || {
        handle(
            usr2,
            record as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) as usize,
            true,
        )?;
        // SAFETY: kill to ourselves.
        let ret = unsafe { libc::kill(libc::getpid(), usr2) };
        expect_ok("kill", ret as i64)?;
        let got = [0, 1, 2].map(|i| INFO[i].load(Ordering::SeqCst));
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        eq(
            "(si_signo, si_code, si_pid)",
            got,
            [usr2, libc::SI_USER, me],
        )
    });
    r.check("blocked-stays-pending", || {
        on(usr1)?;
        let before = seen(usr1);
        mask(libc::SIG_BLOCK, &[usr1])?;
        raise(usr1)?;
        eq("deliveries while blocked", seen(usr1) - before, 0)?;
        eq("pending", is_member(&pending_set()?, usr1), true)?;
        mask(libc::SIG_UNBLOCK, &[usr1])?;
        eq("deliveries after unblock", seen(usr1) - before, 1)
    });
    // Linux keeps an ignored signal that is blocked pending (it might be unignored before it
    // is unblocked), and setting SIG_IGN discards one that is pending.
    r.check("sig-ign-blocked-stays-pending", || {
        // SAFETY: SIG_IGN is a valid disposition.
        unsafe { libc::signal(usr1, libc::SIG_IGN) };
        mask(libc::SIG_BLOCK, &[usr1])?;
        raise(usr1)?;
        let pending = pending_set()?;
        mask(libc::SIG_UNBLOCK, &[usr1])?;
        eq("pending", is_member(&pending, usr1), true)
    });
    r.check("sig-ign-discards-pending", || {
        on(usr1)?;
        mask(libc::SIG_BLOCK, &[usr1])?;
        raise(usr1)?;
        // SAFETY: SIG_IGN is a valid disposition.
        unsafe { libc::signal(usr1, libc::SIG_IGN) };
        let pending = pending_set()?;
        mask(libc::SIG_UNBLOCK, &[usr1])?;
        eq("pending", is_member(&pending, usr1), false)
    });
    // A default-action SIGCONT is discarded once it has resumed the process (Linux's
    // `sig_kernel_ignore`): it must not cut a sleep short with EINTR.
    r.check("sigcont-default-keeps-sleeping", || {
        // SAFETY: SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGCONT, libc::SIG_DFL) };
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the child only sleeps, signals and exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: plain libc calls in the child.
            unsafe {
                libc::usleep(50_000);
                libc::kill(parent, libc::SIGCONT);
                libc::_exit(0);
            }
        }
        expect_ok("fork", child as i64)?;
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 300_000_000,
        };
        // SAFETY: a valid timespec; no remainder wanted.
        let ret = unsafe { libc::nanosleep(&ts, std::ptr::null_mut()) };
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        eq(
            "nanosleep (ret, errno if -1)",
            (ret, if ret < 0 { errno } else { 0 }),
            (0, 0),
        )
    });
    r.check("kill-and-stop-unblockable", || {
        let now = mask(libc::SIG_BLOCK, &[libc::SIGKILL, libc::SIGSTOP, usr2])?;
        mask(libc::SIG_UNBLOCK, &[usr2])?;
        eq(
            "(KILL, STOP, USR2) blocked",
            [libc::SIGKILL, libc::SIGSTOP, usr2].map(|s| is_member(&now, s)),
            [false, false, true],
        )
    });
    r.check("sigaction-einval", || {
        // SAFETY: zeroed sigaction with SIG_DFL (0); the kernel must refuse the signal numbers.
        let sa: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a valid sigaction; no old action wanted.
        let ret = unsafe { libc::syscall(libc::SYS_rt_sigaction, libc::SIGKILL, &sa, 0, 8) };
        expect_errno("rt_sigaction(SIGKILL)", ret, libc::EINVAL)?;
        // SAFETY: as above.
        let ret = unsafe { libc::syscall(libc::SYS_rt_sigaction, 65, &sa, 0, 8) };
        expect_errno("rt_sigaction(65)", ret, libc::EINVAL)
    });
    r.check("kill-esrch-and-probe", || {
        // SAFETY: signal 0 only checks that the target exists.
        let ret = unsafe { libc::kill(libc::getpid(), 0) };
        expect_ok("kill(self, 0)", ret as i64)?;
        // SAFETY: as above; no process has this id (pid_max is at most 2^22).
        let ret = unsafe { libc::kill(0x3fff_fff0, 0) };
        expect_errno("kill(no such pid)", ret as i64, libc::ESRCH)
    });
    r.check("sigchld-on-exit", || {
        on(libc::SIGCHLD)?;
        let before = seen(libc::SIGCHLD);
        let end = util::in_child(|| 0)?;
        eq("child", end, util::End::Exited(0))?;
        eq("SIGCHLD deliveries", seen(libc::SIGCHLD) - before, 1)
    });
    // ppoll's mask lets a pending, normally blocked signal in: EINTR at once, the handler runs,
    // and afterwards the old mask (still blocking it) is back.
    r.check("ppoll-sigmask", || {
        on(usr1)?;
        mask(libc::SIG_BLOCK, &[usr1])?;
        raise(usr1)?;
        let before = seen(usr1);
        let limit = libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        };
        // SAFETY: no fds, a valid timespec and an 8-byte mask.
        let ret = unsafe { libc::syscall(libc::SYS_ppoll, 0usize, 0, &limit, &EMPTY_SET, 8) };
        let e = errno();
        let after = mask(libc::SIG_BLOCK, &[])?;
        mask(libc::SIG_UNBLOCK, &[usr1])?;
        eq("ppoll", (ret, e), (-1, libc::EINTR))?;
        eq("deliveries", seen(usr1) - before, 1)?;
        eq("blocked again after", is_member(&after, usr1), true)
    });
    r.check("ppoll-sigmask-restored-on-timeout", || {
        mask(libc::SIG_BLOCK, &[usr1])?;
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let block_usr2: u64 = 1 << (usr2 - 1);
        // SAFETY: no fds, a valid timespec and an 8-byte mask.
        let ret = unsafe { libc::syscall(libc::SYS_ppoll, 0usize, 0, &zero, &block_usr2, 8) };
        let after = mask(libc::SIG_BLOCK, &[])?;
        mask(libc::SIG_UNBLOCK, &[usr1])?;
        eq("ppoll", ret, 0)?;
        eq(
            "(USR1, USR2) blocked after",
            (is_member(&after, usr1), is_member(&after, usr2)),
            (true, false),
        )
    });
    r.check("ppoll-sigsetsize-einval", || {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: no fds, a valid timespec; the mask size is wrong.
        let ret = unsafe { libc::syscall(libc::SYS_ppoll, 0usize, 0, &zero, &EMPTY_SET, 4) };
        expect_errno("ppoll(sigsetsize 4)", ret, libc::EINVAL)
    });
    r.check("pselect6-sigmask", || {
        on(usr1)?;
        mask(libc::SIG_BLOCK, &[usr1])?;
        raise(usr1)?;
        let before = seen(usr1);
        let limit = libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        };
        let sig: [u64; 2] = [std::ptr::from_ref(&EMPTY_SET) as u64, 8];
        // SAFETY: no fd sets, a valid timespec and a valid { sigset *, size } pair.
        let ret =
            unsafe { libc::syscall(libc::SYS_pselect6, 0, 0usize, 0usize, 0usize, &limit, &sig) };
        let e = errno();
        let after = mask(libc::SIG_BLOCK, &[])?;
        mask(libc::SIG_UNBLOCK, &[usr1])?;
        eq("pselect6", (ret, e), (-1, libc::EINTR))?;
        eq("deliveries", seen(usr1) - before, 1)?;
        eq("blocked again after", is_member(&after, usr1), true)
    });
    r.check("pselect6-pipe-readiness", || {
        let mut fds = [0i32; 2];
        // SAFETY: valid out-array.
        expect_ok("pipe", unsafe { libc::pipe(fds.as_mut_ptr()) } as i64)?;
        let [rd, wr] = fds;
        let sets = |fd_r: i32, fd_w: i32| {
            // SAFETY: fd_set is plain data; FD_ZERO/FD_SET initialise it.
            let mut rs: libc::fd_set = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            let mut ws: libc::fd_set = unsafe { std::mem::zeroed() };
            // SAFETY: fds below FD_SETSIZE, valid sets.
            unsafe {
                libc::FD_SET(fd_r, &mut rs);
                libc::FD_SET(fd_w, &mut ws);
            }
            (rs, ws)
        };
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let n = rd.max(wr) + 1;
        // pselect6 with a zero timeout and no mask; `ws` may be absent.
        let pselect = |rs: &mut libc::fd_set, ws: Option<&mut libc::fd_set>| {
            let ws = ws.map_or(std::ptr::null_mut(), |w| w as *mut libc::fd_set);
            // SAFETY: valid sets (or null) and timespec; no mask.
            unsafe { libc::syscall(libc::SYS_pselect6, n, rs, ws, 0usize, &zero, 0usize) }
        };
        let (mut rs, mut ws) = sets(rd, wr);
        let empty = pselect(&mut rs, Some(&mut ws));
        // SAFETY: the sets were just filled in.
        let empty_bits = unsafe { (libc::FD_ISSET(rd, &rs), libc::FD_ISSET(wr, &ws)) };
        // SAFETY: one byte from a valid buffer.
        unsafe { libc::write(wr, b"x".as_ptr().cast(), 1) };
        let (mut rs, mut ws) = sets(rd, wr);
        let full = pselect(&mut rs, Some(&mut ws));
        // SAFETY: as above.
        let full_bits = unsafe { (libc::FD_ISSET(rd, &rs), libc::FD_ISSET(wr, &ws)) };
        // SAFETY: closing our own fds.
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
        let (mut rs, _) = sets(rd, wr);
        // A set naming closed fds: EBADF.
        let closed = pselect(&mut rs, None);
        let closed_errno = errno();
        eq(
            "empty pipe: (count, readable, writable)",
            (empty, empty_bits),
            (1, (false, true)),
        )?;
        eq(
            "one byte: (count, readable, writable)",
            (full, full_bits),
            (2, (true, true)),
        )?;
        eq(
            "closed fd",
            (closed, name(closed_errno)),
            (-1, name(libc::EBADF)),
        )
    });
    // Real-time signals queue every instance with its value, in order; standard ones merge.
    r.check("rt-signals-queue-with-values", || {
        let rt = libc::SIGRTMIN() + 1;
        handle(
            rt,
            record_value as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                as usize,
            true,
        )?;
        VALUES.lock().map_err(|e| e.to_string())?.clear();
        mask(libc::SIG_BLOCK, &[rt])?;
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        for value in [7u64, 8, 9] {
            let info = queued_info(rt, me, value);
            // SAFETY: a valid 128-byte siginfo for ourselves.
            let ret = unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, me, rt, info.as_ptr()) };
            expect_ok("rt_sigqueueinfo", ret)?;
        }
        mask(libc::SIG_UNBLOCK, &[rt])?;
        let got = VALUES.lock().map_err(|e| e.to_string())?.clone();
        eq("values delivered", got, vec![7, 8, 9])
    });
    r.check("standard-signals-merge", || {
        on(usr1)?;
        let before = seen(usr1);
        mask(libc::SIG_BLOCK, &[usr1])?;
        for _ in 0..3 {
            raise(usr1)?;
        }
        mask(libc::SIG_UNBLOCK, &[usr1])?;
        eq("deliveries", seen(usr1) - before, 1)
    });
    r.check("sigqueueinfo-forged-code-eperm", || {
        // A child to signal: it sleeps until killed.
        // SAFETY: the child only sleeps and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: sleeping and exiting are fine in a forked child.
            unsafe {
                libc::sleep(30);
                libc::_exit(0);
            }
        }
        expect_ok("fork", i64::from(pid))?;
        let mut info = queued_info(usr1, pid, 1);
        info[8..12].copy_from_slice(&0i32.to_le_bytes()); // SI_USER: the kernel's to make
        // SAFETY: a valid siginfo; the kernel must refuse the forged code.
        let ret = unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, usr1, info.as_ptr()) };
        let e = errno();
        // SAFETY: our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        util::wait_for(pid)?;
        eq(
            "rt_sigqueueinfo(SI_USER to another)",
            (ret, name(e)),
            (-1, name(libc::EPERM)),
        )
    });
    r.finish()
}

/// Values seen by [`record_value`], in delivery order.
static VALUES: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());

extern "C" fn record_value(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo; si_value is at byte 24 for sigqueue.
    let value = unsafe { (info as *const u8).add(24).cast::<u64>().read_unaligned() };
    if let Ok(mut v) = VALUES.try_lock() {
        v.push(value);
    }
}

/// A `siginfo_t` as `sigqueue(3)` builds it: SI_QUEUE, our pid and uid, `si_value`.
fn queued_info(sig: i32, _to: i32, value: u64) -> [u8; 128] {
    let mut b = [0u8; 128];
    b[0..4].copy_from_slice(&sig.to_le_bytes());
    b[8..12].copy_from_slice(&(-1i32).to_le_bytes()); // SI_QUEUE
    // SAFETY: getpid/getuid have no preconditions.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    b[16..20].copy_from_slice(&pid.to_le_bytes());
    b[20..24].copy_from_slice(&uid.to_le_bytes());
    b[24..32].copy_from_slice(&value.to_le_bytes());
    b
}
