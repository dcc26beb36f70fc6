//! Conformance checks for processes: fork, wait statuses, exit codes, pids, execve errors,
//! `#!` scripts and credentials (`conform/cred.rs`). Prints `PASS process/<name>` or
//! `FAIL process/<name>: why`; exits 0 iff all passed. Runs on Linux as well as on Levitate (the host tests run it natively).

#[path = "../conform/util.rs"]
mod util;

#[path = "../conform/cred.rs"]
mod cred;

use std::process::ExitCode;
use util::{End, Report, c, eq, errno, expect_errno, in_child, name, scratch, wait_for};

/// `conform-process --exit N` exits with N, and `conform-process --tid-is-pid` exits 0 iff
/// its thread id is its process id: the targets of the exec checks.
fn exec_target() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = cred::exec_target(&args) {
        return Some(ExitCode::from(code));
    }
    if args.len() == 3 && args[1] == "--exit" {
        return Some(ExitCode::from(args[2].parse::<u8>().unwrap_or(99)));
    }
    if args.len() == 2 && args[1] == "--tid-is-pid" {
        // SAFETY: gettid and getpid have no preconditions.
        let (tid, pid) = unsafe { (libc::syscall(libc::SYS_gettid), libc::getpid()) };
        return Some(ExitCode::from(u8::from(tid != i64::from(pid))));
    }
    None
}

/// In a child, execve `path` with `argv`; the child's end as the parent sees it.
fn exec_in_child(path: &str, argv: &[&str]) -> Result<End, String> {
    let path = c(path);
    let args: Vec<_> = argv.iter().map(|a| c(a)).collect();
    let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let env = [std::ptr::null()];
    in_child(|| {
        // SAFETY: NUL-terminated path, argv and envp arrays that outlive the call.
        unsafe { libc::execve(path.as_ptr(), ptrs.as_ptr(), env.as_ptr()) };
        // Exec failed: report its errno as the exit code (offset to tell it apart).
        100 + errno()
    })
}

/// execve in this process, expected to fail with `want`.
fn exec_fails(path: &str, want: i32) -> util::Check {
    let p = c(path);
    let argv = [p.as_ptr(), std::ptr::null()];
    let env = [std::ptr::null()];
    // SAFETY: valid NUL-terminated arrays; on failure execve returns and nothing changed.
    let ret = unsafe { libc::execve(p.as_ptr(), argv.as_ptr(), env.as_ptr()) };
    expect_errno("execve", ret as i64, want)
}

fn main() -> ExitCode {
    if let Some(code) = exec_target() {
        return code;
    }
    let mut r = Report::new("process");
    let dir = scratch("process");
    let me = std::env::args().next().unwrap_or_default();

    r.check("getpid", || {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        eq("getpid", pid as u32, std::process::id())
    });
    r.check("fork-child-pid-differs", || {
        // SAFETY: as above.
        let parent = unsafe { libc::getpid() };
        // SAFETY: as above.
        let end = in_child(|| i32::from(unsafe { libc::getpid() } == parent))?;
        eq("child saw its own pid", end, End::Exited(0))
    });
    r.check("getppid-in-child", || {
        // SAFETY: as above.
        let parent = unsafe { libc::getpid() };
        // SAFETY: getppid has no preconditions.
        let end = in_child(|| i32::from(unsafe { libc::getppid() } != parent))?;
        eq("child's getppid == parent's pid", end, End::Exited(0))
    });
    r.check("exit-code", || {
        eq("status", in_child(|| 42)?, End::Exited(42))
    });
    r.check("exit-code-masked", || {
        eq("exit(259) status", in_child(|| 259)?, End::Exited(3))
    });
    r.check("fork-returns-child-pid", || {
        // SAFETY: fork in a single-threaded program; the child `_exit`s at once.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: ends the child.
            unsafe { libc::_exit(7) };
        }
        if pid < 0 {
            return Err(format!("fork: {}", name(errno())));
        }
        eq("waited child", wait_for(pid)?, End::Exited(7))
    });
    r.check("wait-nohang", || {
        // SAFETY: as above; the child sleeps then `_exit`s.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            std::thread::sleep(std::time::Duration::from_millis(300));
            // SAFETY: ends the child.
            unsafe { libc::_exit(0) };
        }
        let mut st = 0;
        // SAFETY: valid out-pointer.
        let early = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        eq("WNOHANG on a running child", early, 0)?;
        eq("then a blocking wait", wait_for(pid)?, End::Exited(0))
    });
    r.check("wait-echild", || {
        let mut st = 0;
        // SAFETY: valid out-pointer; every child so far was reaped.
        let ret = unsafe { libc::waitpid(-1, &mut st, 0) };
        expect_errno("waitpid(-1) without children", ret as i64, libc::ECHILD)
    });
    r.check("wait-specific-of-two", || {
        let first = fork_exit(1)?;
        let second = fork_exit(2)?;
        eq("second", wait_for(second)?, End::Exited(2))?;
        eq("first", wait_for(first)?, End::Exited(1))
    });
    r.check("killed-child-status", || {
        let end = in_child(|| {
            // SAFETY: the child sends itself SIGKILL, which cannot be caught.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            0
        })?;
        eq("status", end, End::Signaled(libc::SIGKILL))
    });
    // Linux's de_thread: an exec from a thread that is not the leader ends every other thread
    // (here a sleeping one and the leader blocked in join) and the program starts as the
    // process's only thread, with the process id as its thread id.
    r.check("execve-from-thread", || {
        let path = c(&me);
        let end = in_child(|| {
            let _sleeper = std::thread::spawn(|| {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(60));
                }
            });
            let execer = std::thread::spawn(move || {
                let arg = c("--tid-is-pid");
                let argv = [path.as_ptr(), arg.as_ptr(), std::ptr::null()];
                let env = [std::ptr::null()];
                // SAFETY: NUL-terminated path, argv and envp that outlive the call.
                unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), env.as_ptr()) };
                100 + errno()
            });
            execer.join().unwrap_or(99)
        })?;
        eq("the exec'd program's end", end, End::Exited(0))
    });
    r.check("execve-enoent", || {
        exec_fails("/nonexistent/program", libc::ENOENT)
    });
    r.check("execve-enoexec", || {
        let path = format!("{dir}/not-elf");
        std::fs::write(&path, b"this is not an executable\n").map_err(|e| e.to_string())?;
        set_mode(&path, 0o755)?;
        exec_fails(&path, libc::ENOEXEC)
    });
    r.check("execve-enotdir", || {
        let path = format!("{dir}/file");
        std::fs::write(&path, b"x").map_err(|e| e.to_string())?;
        exec_fails(&format!("{path}/x"), libc::ENOTDIR)
    });
    r.check("execve-elf", || {
        let end = exec_in_child(&me, &[&me, "--exit", "5"])?;
        eq("exec'd program's status", end, End::Exited(5))
    });
    r.check("execve-shebang", || {
        let path = format!("{dir}/script");
        std::fs::write(&path, b"#!/bin/sh\nexit $1\n").map_err(|e| e.to_string())?;
        set_mode(&path, 0o755)?;
        let end = exec_in_child(&path, &[&path, "9"])?;
        eq("script's status", end, End::Exited(9))
    });
    r.check("execve-shebang-missing-interpreter", || {
        let path = format!("{dir}/bad-script");
        std::fs::write(&path, b"#!/nonexistent/interp\n").map_err(|e| e.to_string())?;
        set_mode(&path, 0o755)?;
        exec_fails(&path, libc::ENOENT)
    });
    r.check("execve-eacces", || {
        let path = format!("{dir}/no-x");
        std::fs::write(&path, b"#!/bin/sh\nexit 0\n").map_err(|e| e.to_string())?;
        set_mode(&path, 0o644)?;
        exec_fails(&path, libc::EACCES)
    });
    r.check("setsid-getsid", || {
        let end = in_child(|| {
            // SAFETY: plain process calls in the child.
            unsafe {
                let me = libc::getpid();
                let sid = libc::setsid();
                let ok = sid == me && libc::getsid(0) == me && libc::getpgid(0) == me;
                // A session leader cannot start another session.
                let again = libc::setsid() == -1 && errno() == libc::EPERM;
                i32::from(!(ok && again))
            }
        })?;
        eq("child's setsid/getsid/getpgid", end, End::Exited(0))
    });
    r.check("waitid-exited", || {
        let pid = fork_exit(6)?;
        // SAFETY: all-zero is a valid siginfo_t.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: valid out-pointer.
        let ret = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED) };
        util::expect_ok("waitid", ret as i64)?;
        // SAFETY: filled in by a successful waitid for a child.
        let (got_pid, status) = unsafe { (info.si_pid(), info.si_status()) };
        eq("si_signo", info.si_signo, libc::SIGCHLD)?;
        eq("si_code", info.si_code, libc::CLD_EXITED)?;
        eq("(si_pid, si_status)", (got_pid, status), (pid, 6))
    });
    cred::checks(&mut r, &dir, &me);
    let _ = std::fs::remove_dir_all(&dir);
    r.finish()
}

fn fork_exit(code: i32) -> Result<i32, String> {
    // SAFETY: fork in a single-threaded program; the child `_exit`s at once.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: ends the child.
        unsafe { libc::_exit(code) };
    }
    if pid < 0 {
        return Err(format!("fork: {}", name(errno())));
    }
    Ok(pid)
}

fn set_mode(path: &str, mode: u32) -> util::Check {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())
}
