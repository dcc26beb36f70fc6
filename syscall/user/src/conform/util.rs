//! What the conformance programs share: the PASS/FAIL report, raw-syscall errno helpers, a
//! scratch directory and fork/wait helpers. Included with `#[path]` by each program (the
//! library crate forbids unsafe code, these helpers need a little).

#![allow(dead_code)]

use std::ffi::CString;
use std::process::ExitCode;

/// Result of one check: `Err` carries the reason shown after `FAIL`.
pub type Check = Result<(), String>;

/// Counts checks of one area and prints each as `PASS <area>/<name>` or `FAIL ...: why`.
pub struct Report {
    area: &'static str,
    failed: u32,
    passed: u32,
}

impl Report {
    pub fn new(area: &'static str) -> Report {
        Report {
            area,
            failed: 0,
            passed: 0,
        }
    }

    pub fn check(&mut self, name: &str, f: impl FnOnce() -> Check) {
        match f() {
            Ok(()) => {
                self.passed += 1;
                println!("PASS {}/{name}", self.area);
            }
            Err(why) => {
                self.failed += 1;
                println!("FAIL {}/{name}: {why}", self.area);
            }
        }
    }

    /// Exit status: success iff every check passed.
    pub fn finish(self) -> ExitCode {
        println!(
            "DONE {} passed={} failed={}",
            self.area, self.passed, self.failed
        );
        if self.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// `errno` of the last failed libc call.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A libc return value: `-1` becomes `Err(errno)`.
pub fn ok(ret: i64) -> Result<i64, i32> {
    if ret == -1 { Err(errno()) } else { Ok(ret) }
}

/// Assert that `ret` is a failure with exactly `want`.
pub fn expect_errno(what: &str, ret: i64, want: i32) -> Check {
    match ok(ret) {
        Ok(v) => Err(format!("{what} returned {v}, want errno {}", name(want))),
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!("{what}: errno {}, want {}", name(e), name(want))),
    }
}

/// Assert success and give the value back.
pub fn expect_ok(what: &str, ret: i64) -> Result<i64, String> {
    ok(ret).map_err(|e| format!("{what} failed with {}", name(e)))
}

/// Assert `got == want`.
pub fn eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Check {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got:?}, want {want:?}"))
    }
}

/// The symbolic name of an errno, for readable failures.
pub use levitate_user::errno_name as name;

/// A NUL-terminated copy of `s` (test paths never hold NUL).
pub fn c(s: &str) -> CString {
    CString::new(s).unwrap_or_default()
}

/// The real path of `dir` (getcwd in it): how `/proc/mounts` and `/proc/self/fd` name it,
/// also under a symlinked `$TMPDIR`.
pub fn real_dir(dir: &str) -> Result<String, String> {
    let back = std::env::current_dir().map_err(|e| e.to_string())?;
    std::env::set_current_dir(dir).map_err(|e| format!("chdir {dir}: {e}"))?;
    let real = std::env::current_dir().map_err(|e| e.to_string());
    std::env::set_current_dir(&back).map_err(|e| e.to_string())?;
    Ok(real?.to_string_lossy().into_owned())
}

/// A fresh empty directory of this process under the temp dir (`/tmp` on both kernels).
pub fn scratch(area: &str) -> String {
    let dir = std::env::temp_dir().join(format!("conform-{area}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir.to_string_lossy().into_owned()
}

/// How a child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Signaled(i32),
    Other(i32),
}

/// Fork; the child runs `f` and `_exit`s with its value, the parent waits and reports how
/// the child ended. The child must not touch stdout's buffer: it only `_exit`s.
pub fn in_child(f: impl FnOnce() -> i32) -> Result<End, String> {
    // SAFETY: fork in a single-threaded program; the child only runs `f` and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed with {}", name(errno())));
    }
    if pid == 0 {
        let code = f();
        // SAFETY: `_exit` ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    wait_for(pid)
}

/// Wait for `pid` and decode its status.
pub fn wait_for(pid: i32) -> Result<End, String> {
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer for the call.
    let got = unsafe { libc::waitpid(pid, &mut status, 0) };
    if got != pid {
        return Err(format!("waitpid({pid}) gave {got} ({})", name(errno())));
    }
    Ok(decode(status))
}

pub fn decode(status: i32) -> End {
    if libc::WIFEXITED(status) {
        End::Exited(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        End::Signaled(libc::WTERMSIG(status))
    } else {
        End::Other(status)
    }
}

/// An address in the kernel half on both arches (user pointers there must give EFAULT).
pub const KERNEL_ADDR: usize = 0xffff_8000_0000_1000;
/// A user address nothing maps (below every arch's lowest mapping).
pub const UNMAPPED_ADDR: usize = 0x1000;
