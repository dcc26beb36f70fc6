//! Micro-benchmarks of the Linux ABI, run as PID 1 by `cargo xtask bench` in Levitate and in a
//! Debian Linux kernel booted with the same initramfs, so both numbers come from one binary.
//!
//! Output: one line per probe, `PROBE <name> <value> <unit>`, or `PROBE <name> n/a <reason>` when
//! a probe cannot run (the reason names the failing call and its errno). The first line,
//! `PROBE pid <pid> pid`, is printed before any work so xtask can time boot-to-init from it.
//! Timing uses `clock_gettime(CLOCK_MONOTONIC)`; iteration counts are chosen so that each probe
//! takes a fraction of a second under QEMU TCG, which is where this runs.
//!
//! `probe --exit` returns at once: the second fork+exec probe executes it.

#[path = "../conform/kvm.rs"]
mod kvm;
#[path = "../probe/kvm.rs"]
mod kvm_probes;
#[path = "../conform/util.rs"]
mod util;

use levitate_user::errno_name;
use std::ffi::CString;
use std::io::{self, Write};

/// Where the exec probe finds this program (the initramfs puts our programs in /usr/bin).
const SELF_PATH: &str = "/usr/bin/probe";

/// Why a probe could not run: the call that failed and its errno.
struct Failed {
    call: &'static str,
    errno: i32,
}

type Probe = Result<(f64, &'static str), Failed>;

/// A probe's name in the output and the function that measures it.
type Entry = (&'static str, fn() -> Probe);

/// Turn a libc return value of -1 into the errno of the call that produced it.
fn check(call: &'static str, ret: i64) -> Result<i64, Failed> {
    if ret == -1 {
        Err(Failed {
            call,
            errno: io::Error::last_os_error().raw_os_error().unwrap_or(0),
        })
    } else {
        Ok(ret)
    }
}

fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Nanoseconds per iteration of `body`, run `iters` times.
fn per_iter(iters: u32, mut body: impl FnMut() -> Result<(), Failed>) -> Result<f64, Failed> {
    let start = now_ns();
    for _ in 0..iters {
        body()?;
    }
    Ok((now_ns() - start) as f64 / f64::from(iters))
}

fn fork() -> Result<i32, Failed> {
    // SAFETY: the child only calls async-signal-safe functions (raw syscalls, `_exit`, `execv`)
    // before it exits; this program has one thread.
    check("fork", i64::from(unsafe { libc::fork() })).map(|pid| pid as i32)
}

/// Wait for `pid` and fail unless it exited with status 0.
fn wait_ok(pid: i32) -> Result<(), Failed> {
    let mut status = 0;
    // SAFETY: `status` is a valid, writable int.
    let ret = unsafe { libc::waitpid(pid, &mut status, 0) };
    check("wait4", i64::from(ret))?;
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        // A child that failed has no errno to give; EIO marks "the child reported failure".
        Err(Failed {
            call: "child",
            errno: libc::EIO,
        })
    }
}

fn child_exit(code: i32) -> ! {
    // SAFETY: `_exit` skips the parent's atexit handlers and stdio buffers, which a forked
    // child must not run twice.
    unsafe { libc::_exit(code) }
}

fn getppid() -> Probe {
    let ns = per_iter(20_000, || {
        // SAFETY: getppid takes no arguments and cannot fail.
        unsafe { libc::syscall(libc::SYS_getppid) };
        Ok(())
    })?;
    Ok((ns, "ns"))
}

fn fork_exit() -> Probe {
    let ns = per_iter(200, || match fork()? {
        0 => child_exit(0),
        pid => wait_ok(pid),
    })?;
    Ok((ns / 1e3, "us"))
}

/// fork, exec `path` with `arg`, wait: microseconds per round.
fn fork_exec_of(path: &std::ffi::CStr, arg: &std::ffi::CStr, iters: u32) -> Probe {
    let ns = per_iter(iters, || match fork()? {
        0 => {
            let argv = [path.as_ptr(), arg.as_ptr(), std::ptr::null()];
            // SAFETY: `argv` is a null-terminated array of valid C strings.
            unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
            // Exec failed: 127 like a shell, and the parent reports it.
            child_exit(127)
        }
        pid => wait_ok(pid),
    })?;
    Ok((ns / 1e3, "us"))
}

/// BusyBox `true`: a static non-PIE musl binary with a tiny `main`, what a shell execs most.
fn fork_exec() -> Probe {
    fork_exec_of(c"/bin/true", c"true", 50)
}

/// This program again (Rust std, static-PIE, ~470 KiB): exec plus relocation and std start-up.
fn fork_exec_rust() -> Probe {
    let path = CString::new(SELF_PATH).map_err(|_| Failed {
        call: "CString",
        errno: libc::EINVAL,
    })?;
    fork_exec_of(&path, c"--exit", 20)
}

fn pipe() -> Result<[i32; 2], Failed> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints.
    let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), 0) };
    check("pipe2", i64::from(ret))?;
    Ok(fds)
}

fn read_fd(fd: i32, buf: &mut [u8]) -> Result<usize, Failed> {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    check(
        "read",
        unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } as i64,
    )
    .map(|n| n as usize)
}

fn write_fd(fd: i32, buf: &[u8]) -> Result<usize, Failed> {
    // SAFETY: `buf` is valid for `buf.len()` bytes.
    check(
        "write",
        unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) } as i64,
    )
    .map(|n| n as usize)
}

fn close(fd: i32) {
    // SAFETY: closing an fd this program owns; errors do not matter here.
    unsafe { libc::close(fd) };
}

fn pipe_round_trip() -> Probe {
    const ITERS: u32 = 2000;
    let there = pipe()?;
    let back = pipe()?;
    let pid = fork()?;
    if pid == 0 {
        // Echo every byte until the parent closes its end (ours must be closed too, or the
        // read never sees end-of-file).
        close(there[1]);
        close(back[0]);
        let mut byte = [0u8];
        let code = loop {
            match read_fd(there[0], &mut byte) {
                Ok(1) => {}
                Ok(_) => break 0,
                Err(_) => break 1,
            }
            if write_fd(back[1], &byte).is_err() {
                break 1;
            }
        };
        child_exit(code);
    }
    close(there[0]);
    close(back[1]);
    let mut byte = [0u8];
    let ns = per_iter(ITERS, || {
        write_fd(there[1], b"x")?;
        read_fd(back[0], &mut byte).map(drop)
    });
    close(there[1]);
    close(back[0]);
    let waited = wait_ok(pid);
    let ns = ns?;
    waited?;
    Ok((ns / 1e3, "us"))
}

fn pipe_bandwidth() -> Probe {
    const CHUNK: usize = 64 * 1024;
    const TOTAL: usize = 16 * 1024 * 1024;
    let fds = pipe()?;
    let start = now_ns();
    let pid = fork()?;
    if pid == 0 {
        close(fds[0]);
        let buf = vec![0x5au8; CHUNK];
        let mut sent = 0;
        while sent < TOTAL {
            match write_fd(fds[1], &buf) {
                Ok(n) => sent += n,
                Err(_) => child_exit(1),
            }
        }
        child_exit(0);
    }
    close(fds[1]);
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0;
    let result = loop {
        match read_fd(fds[0], &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => got += n,
            Err(err) => break Err(err),
        }
    };
    let ns = now_ns() - start;
    close(fds[0]);
    wait_ok(pid)?;
    result?;
    if got != TOTAL {
        return Err(Failed {
            call: "read (short total)",
            errno: libc::EIO,
        });
    }
    // MB/s in decimal megabytes, as DESIGN.md's table.
    Ok((got as f64 / (ns as f64 / 1e9) / 1e6, "MB/s"))
}

fn tmpfs_create() -> Probe {
    let path = c"/tmp/probe-file";
    let data = [0x42u8; 4096];
    let ns = per_iter(500, || {
        // SAFETY: `path` is a valid C string.
        let fd = check(
            "openat",
            i64::from(unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
                    0o600,
                )
            }),
        )? as i32;
        let written = write_fd(fd, &data);
        close(fd);
        written?;
        // SAFETY: `path` is a valid C string.
        check(
            "unlinkat",
            i64::from(unsafe { libc::unlink(path.as_ptr()) }),
        )
        .map(drop)
    })?;
    Ok((ns / 1e3, "us"))
}

fn mmap_touch() -> Probe {
    const LEN: usize = 1024 * 1024;
    const PAGE: usize = 4096;
    let ns = per_iter(50, || {
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return check("mmap", -1).map(drop);
        }
        let base = ptr.cast::<u8>();
        for off in (0..LEN).step_by(PAGE) {
            // SAFETY: `off < LEN`, inside the mapping just created, which is writable.
            unsafe { base.add(off).write_volatile(1) };
        }
        // SAFETY: unmapping exactly the mapping created above, no longer referenced.
        check("munmap", i64::from(unsafe { libc::munmap(ptr, LEN) })).map(drop)
    })?;
    Ok((ns / 1e3, "us"))
}

fn sched_yield_ping() -> Probe {
    // Parent and child each yield ITERS times on one CPU, so each of the parent's yields runs
    // the child once and comes back: the time per parent yield is one ping.
    const ITERS: u32 = 2000;
    let yield_once = || {
        // SAFETY: sched_yield takes no arguments.
        check("sched_yield", i64::from(unsafe { libc::sched_yield() })).map(drop)
    };
    let start = now_ns();
    let pid = fork()?;
    if pid == 0 {
        for _ in 0..ITERS {
            if yield_once().is_err() {
                child_exit(1);
            }
        }
        child_exit(0);
    }
    let mut result = Ok(());
    for _ in 0..ITERS {
        if let Err(err) = yield_once() {
            result = Err(err);
            break;
        }
    }
    let waited = wait_ok(pid);
    let ns = now_ns() - start;
    result?;
    waited?;
    Ok((ns as f64 / f64::from(ITERS) / 1e3, "us"))
}

fn power_off() {
    // As PID 1 on Linux, exiting panics the kernel; powering off ends QEMU without a panic
    // message. Levitate powers off when PID 1 exits, so a failure here is fine.
    // SAFETY: sync and reboot take no pointers; this is PID 1 and its work is done.
    unsafe {
        libc::sync();
        libc::reboot(libc::RB_POWER_OFF);
    }
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--exit") {
        return;
    }
    let mut out = io::stdout().lock();
    // The first line marks "init is running" for the boot-time measurement.
    let pid = std::process::id();
    let _ = writeln!(out, "PROBE pid {pid} pid");
    let _ = out.flush();
    kvm_probes::prepare();
    let probes: [Entry; 12] = [
        ("getppid", getppid),
        ("fork_exit", fork_exit),
        ("fork_exec", fork_exec),
        ("fork_exec_rust", fork_exec_rust),
        ("pipe_rtt", pipe_round_trip),
        ("pipe_bw", pipe_bandwidth),
        ("tmpfs_create", tmpfs_create),
        ("mmap_1m", mmap_touch),
        ("sched_yield", sched_yield_ping),
        ("kvm_pio_exit", kvm_probes::pio_exit),
        ("kvm_vm_create", kvm_probes::vm_create),
        ("kvm_guest_loop", kvm_probes::guest_mips),
    ];
    for (name, probe) in probes {
        let line = match probe() {
            Ok((value, unit)) => format!("PROBE {name} {value:.1} {unit}"),
            Err(Failed { call, errno }) => {
                format!("PROBE {name} n/a {} {call}", errno_name(errno))
            }
        };
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    let _ = writeln!(out, "PROBE done 0 -");
    let _ = out.flush();
    drop(out);
    if pid == 1 {
        power_off();
    }
}
