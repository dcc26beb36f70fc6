//! Credential checks of `conform-process` (`PASS process/cred-*`): the uid/gid calls, what a
//! process that dropped its privileges may no longer do (files, signals, regaining ids), the
//! saved set-user-ID round trip, set-group-ID directories, set-user-ID exec, and the errors
//! (EPERM, EINVAL, EFAULT). Every check runs in a forked child, which sends its verdict back
//! through a pipe, so the parent keeps its ids. Most checks need root (they drop privileges
//! themselves); run as another user they print `SKIP` and only the unprivileged ones run.

use crate::util::{Check, End, Report, UNMAPPED_ADDR, c, eq, errno, expect_errno, name};
use std::os::unix::fs::MetadataExt;

/// The ids the checks drop to (unused on the build machines, and < 65534).
const UID: u32 = 4301;
const GID: u32 = 4302;
const GROUP2: u32 = 4303;
const GROUP3: u32 = 4304;

/// `conform-process --ids R E S` exits 0 iff its getresuid is (R, E, S), else 1 (the
/// target of the set-user-ID exec check).
pub fn exec_target(args: &[String]) -> Option<u8> {
    if args.len() != 5 || args[1] != "--ids" {
        return None;
    }
    let want: Vec<u32> = args[2..].iter().map(|a| a.parse().unwrap_or(0)).collect();
    Some(u8::from(getresuid() != Ok((want[0], want[1], want[2]))))
}

/// Run `f` in a forked child; its verdict comes back through a pipe.
fn in_child_check(f: impl FnOnce() -> Check) -> Check {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: {}", name(errno())));
    }
    let end = crate::util::in_child(|| {
        // SAFETY: closing our copy of the read end.
        unsafe { libc::close(fds[0]) };
        let verdict = f();
        let text = match &verdict {
            Ok(()) => String::new(),
            Err(why) => why.clone(),
        };
        // SAFETY: writing from a live buffer to the pipe's write end.
        unsafe { libc::write(fds[1], text.as_ptr().cast(), text.len()) };
        i32::from(verdict.is_err())
    });
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut buf = vec![0u8; 4096];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reading into the unused tail of `buf`.
        let n = unsafe { libc::read(fds[0], buf[got..].as_mut_ptr().cast(), buf.len() - got) };
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    // SAFETY: closing the read end.
    unsafe { libc::close(fds[0]) };
    match end? {
        End::Exited(0) => Ok(()),
        End::Exited(_) => Err(String::from_utf8_lossy(&buf[..got]).into_owned()),
        other => Err(format!("child ended with {other:?}")),
    }
}

fn ret(what: &str, r: i64) -> Check {
    if r == -1 {
        Err(format!("{what} failed with {}", name(errno())))
    } else {
        Ok(())
    }
}

fn getresuid() -> Result<(u32, u32, u32), String> {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three valid out-pointers.
    let rc = unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    ret("getresuid", i64::from(rc))?;
    Ok((r, e, s))
}

fn getresgid() -> Result<(u32, u32, u32), String> {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three valid out-pointers.
    let rc = unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    ret("getresgid", i64::from(rc))?;
    Ok((r, e, s))
}

/// Raw syscalls (libc wrappers may check or synchronise threads; the kernel is under test).
fn sys3(nr: libc::c_long, a: u64, b: u64, c3: u64) -> i64 {
    // SAFETY: the id calls take integers or pointers the kernel checks.
    unsafe { libc::syscall(nr, a, b, c3) as i64 }
}

const KEEP: u64 = u32::MAX as u64;

fn setresuid(r: u32, e: u32, s: u32) -> i64 {
    sys3(libc::SYS_setresuid, r.into(), e.into(), s.into())
}

fn setresgid(r: u32, e: u32, s: u32) -> i64 {
    sys3(libc::SYS_setresgid, r.into(), e.into(), s.into())
}

fn setgroups(groups: &[u32]) -> i64 {
    sys3(
        libc::SYS_setgroups,
        groups.len() as u64,
        groups.as_ptr() as u64,
        0,
    )
}

fn getgroups(size: i64, buf: &mut [u32]) -> i64 {
    sys3(libc::SYS_getgroups, size as u64, buf.as_mut_ptr() as u64, 0)
}

/// Drop to `UID`/`GID` with the supplementary groups `GROUP2`, `GROUP3`, as a login program
/// does: groups first, then gids, then uids.
fn drop_privileges() -> Check {
    ret("setgroups", setgroups(&[GROUP3, GROUP2]))?;
    ret("setresgid", setresgid(GID, GID, GID))?;
    ret("setresuid", setresuid(UID, UID, UID))
}

fn open_errno(path: &str, flags: i32) -> Result<(), i32> {
    let p = c(path);
    // SAFETY: NUL-terminated path.
    let fd = unsafe { libc::open(p.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: closing the fd just opened.
    unsafe { libc::close(fd) };
    Ok(())
}

fn chown(path: &str, uid: u32, gid: u32) -> Check {
    let p = c(path);
    // SAFETY: NUL-terminated path.
    ret(
        "chown",
        i64::from(unsafe { libc::chown(p.as_ptr(), uid, gid) }),
    )
}

fn chmod(path: &str, mode: u32) -> Check {
    let p = c(path);
    // SAFETY: NUL-terminated path.
    ret("chmod", i64::from(unsafe { libc::chmod(p.as_ptr(), mode) }))
}

/// The credential checks, in `dir` (a fresh scratch directory); `me` is this program's path.
pub fn checks(r: &mut Report, dir: &str, me: &str) {
    // Unprivileged parts first: they hold for any caller.
    r.check("cred-getresuid-efault", || {
        let bad = UNMAPPED_ADDR as u64;
        let mut ok = [0u32; 2];
        let good = ok.as_mut_ptr() as u64;
        expect_errno(
            "getresuid(bad, ...)",
            sys3(libc::SYS_getresuid, bad, good, good),
            libc::EFAULT,
        )?;
        expect_errno(
            "getresuid(..., bad)",
            sys3(libc::SYS_getresuid, good, good, bad),
            libc::EFAULT,
        )?;
        expect_errno(
            "getresgid(..., bad, ...)",
            sys3(libc::SYS_getresgid, good, bad, good),
            libc::EFAULT,
        )
    });
    r.check("cred-einval", || {
        expect_errno(
            "setuid(-1)",
            sys3(libc::SYS_setuid, KEEP, 0, 0),
            libc::EINVAL,
        )?;
        expect_errno(
            "setgid(-1)",
            sys3(libc::SYS_setgid, KEEP, 0, 0),
            libc::EINVAL,
        )?;
        let mut buf = [0u32; 4];
        expect_errno("getgroups(-1)", getgroups(-1, &mut buf), libc::EINVAL)
    });
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIP process/cred-*: not running as root, the privileged checks are skipped");
        return;
    }
    r.check("cred-root-ids", || {
        // SAFETY: the get*id calls have no preconditions.
        let ids = unsafe {
            (
                libc::getuid(),
                libc::geteuid(),
                libc::getgid(),
                libc::getegid(),
            )
        };
        eq("(uid, euid, gid, egid)", ids, (0, 0, 0, 0))?;
        eq("getresuid", getresuid()?, (0, 0, 0))?;
        eq("getresgid", getresgid()?, (0, 0, 0))
    });
    r.check("cred-drop-and-read-back", || {
        in_child_check(|| {
            drop_privileges()?;
            eq("getresuid", getresuid()?, (UID, UID, UID))?;
            eq("getresgid", getresgid()?, (GID, GID, GID))?;
            // SAFETY: the get*id calls have no preconditions.
            let ids = unsafe {
                (
                    libc::getuid(),
                    libc::geteuid(),
                    libc::getgid(),
                    libc::getegid(),
                )
            };
            eq("(uid, euid, gid, egid)", ids, (UID, UID, GID, GID))?;
            let mut buf = [0u32; 4];
            eq("getgroups(0)", getgroups(0, &mut buf), 2)?;
            expect_errno("getgroups(1) of 2", getgroups(1, &mut buf), libc::EINVAL)?;
            eq("getgroups(4)", getgroups(4, &mut buf), 2)?;
            // The kernel keeps them sorted.
            eq("groups", [buf[0], buf[1]], [GROUP2, GROUP3])?;
            // /proc/self/status shows the four ids of each family and the groups.
            let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
            let line = |key: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(key))
                    .unwrap_or_default()
                    .to_owned()
            };
            eq(
                "Uid line",
                line("Uid:"),
                format!("Uid:\t{UID}\t{UID}\t{UID}\t{UID}"),
            )?;
            eq(
                "Gid line",
                line("Gid:"),
                format!("Gid:\t{GID}\t{GID}\t{GID}\t{GID}"),
            )?;
            eq(
                "Groups line",
                line("Groups:"),
                format!("Groups:\t{GROUP2} {GROUP3} "),
            )?;
            // setfsuid returns the old fs id; an unprivileged change to a foreign id is
            // ignored.
            eq(
                "setfsuid(7)",
                sys3(libc::SYS_setfsuid, 7, 0, 0),
                i64::from(UID),
            )?;
            eq(
                "setfsuid(-1) after",
                sys3(libc::SYS_setfsuid, KEEP, 0, 0),
                i64::from(UID),
            )
        })
    });
    r.check("cred-cannot-regain", || {
        in_child_check(|| {
            drop_privileges()?;
            expect_errno("setuid(0)", sys3(libc::SYS_setuid, 0, 0, 0), libc::EPERM)?;
            expect_errno("setgid(0)", sys3(libc::SYS_setgid, 0, 0, 0), libc::EPERM)?;
            expect_errno(
                "setresuid(-1, 0, -1)",
                setresuid(u32::MAX, 0, u32::MAX),
                libc::EPERM,
            )?;
            expect_errno(
                "setresgid(0, -1, -1)",
                setresgid(0, u32::MAX, u32::MAX),
                libc::EPERM,
            )?;
            expect_errno(
                "setreuid(-1, 0)",
                sys3(libc::SYS_setreuid, KEEP, 0, 0),
                libc::EPERM,
            )?;
            expect_errno(
                "setregid(0, -1)",
                sys3(libc::SYS_setregid, 0, KEEP, 0),
                libc::EPERM,
            )?;
            expect_errno("setgroups([])", setgroups(&[]), libc::EPERM)?;
            // Unchanged ids are fine unprivileged.
            ret("setresuid(UID, -1, UID)", setresuid(UID, u32::MAX, UID))?;
            ret("setuid(UID)", sys3(libc::SYS_setuid, UID.into(), 0, 0))?;
            eq(
                "setfsuid(0) keeps",
                sys3(libc::SYS_setfsuid, 0, 0, 0),
                i64::from(UID),
            )?;
            eq(
                "fsuid after",
                sys3(libc::SYS_setfsuid, KEEP, 0, 0),
                i64::from(UID),
            )?;
            eq("ids still", getresuid()?, (UID, UID, UID))
        })
    });
    r.check("cred-setgroups-einval", || {
        in_child_check(|| {
            let many = vec![1u32; 65537];
            expect_errno("setgroups(65537)", setgroups(&many), libc::EINVAL)?;
            expect_errno("setgroups([-1])", setgroups(&[u32::MAX]), libc::EINVAL)?;
            expect_errno(
                "setgroups(bad pointer)",
                sys3(libc::SYS_setgroups, 1, UNMAPPED_ADDR as u64, 0),
                libc::EFAULT,
            )?;
            ret("setgroups(65536)", setgroups(&many[..65536]))
        })
    });

    // Files: a root-owned 0600 file, a world-writable directory, a set-group-ID directory.
    let secret = format!("{dir}/secret");
    let open_dir = format!("{dir}/open");
    let sgid_dir = format!("{dir}/sgid");
    let setup = || -> Check {
        std::fs::write(&secret, b"root only").map_err(|e| e.to_string())?;
        chmod(&secret, 0o600)?;
        std::fs::create_dir(&open_dir).map_err(|e| e.to_string())?;
        chmod(&open_dir, 0o777)?;
        std::fs::create_dir(&sgid_dir).map_err(|e| e.to_string())?;
        chown(&sgid_dir, 0, GROUP3 + 10)?;
        chmod(&sgid_dir, 0o2777)
    };
    if let Err(why) = setup() {
        r.check("cred-file-setup", || Err(why));
        return;
    }
    r.check("cred-file-eacces", || {
        in_child_check(|| {
            // Root reads it first (DAC override).
            open_errno(&secret, libc::O_RDONLY).map_err(|e| format!("root open: {}", name(e)))?;
            drop_privileges()?;
            eq(
                "open 0600 root file",
                open_errno(&secret, libc::O_RDONLY),
                Err(libc::EACCES),
            )?;
            eq(
                "open it for writing",
                open_errno(&secret, libc::O_WRONLY),
                Err(libc::EACCES),
            )?;
            let p = c(&secret);
            // SAFETY: NUL-terminated path.
            let acc = unsafe { libc::access(p.as_ptr(), libc::R_OK) };
            expect_errno("access(R_OK)", i64::from(acc), libc::EACCES)?;
            // SAFETY: NUL-terminated path.
            let ch = unsafe { libc::chmod(p.as_ptr(), 0o644) };
            expect_errno("chmod of root's file", i64::from(ch), libc::EPERM)?;
            // SAFETY: NUL-terminated path.
            let un = unsafe { libc::unlink(p.as_ptr()) };
            expect_errno("unlink in a 0755 root dir", i64::from(un), libc::EACCES)
        })
    });
    r.check("cred-access-uses-real-ids", || {
        in_child_check(|| {
            // Effective uid UID, real uid 0: access() checks as root, open as UID.
            ret("setresuid(0, UID, 0)", setresuid(0, UID, 0))?;
            let p = c(&secret);
            // SAFETY: NUL-terminated path.
            let acc = unsafe { libc::access(p.as_ptr(), libc::R_OK) };
            ret("access(R_OK) with real uid 0", i64::from(acc))?;
            // SAFETY: NUL-terminated path.
            let eacc = unsafe {
                libc::syscall(
                    libc::SYS_faccessat2,
                    libc::AT_FDCWD,
                    p.as_ptr(),
                    libc::R_OK,
                    libc::AT_EACCESS,
                )
            };
            expect_errno("faccessat2(AT_EACCESS)", eacc, libc::EACCES)?;
            eq(
                "open as effective UID",
                open_errno(&secret, libc::O_RDONLY),
                Err(libc::EACCES),
            )
        })
    });
    r.check("cred-new-file-owner", || {
        let f = format!("{open_dir}/mine");
        let d = format!("{open_dir}/mydir");
        let g = format!("{sgid_dir}/file");
        let gd = format!("{sgid_dir}/dir");
        let sx = format!("{sgid_dir}/sx");
        in_child_check(|| {
            drop_privileges()?;
            std::fs::write(&f, b"x").map_err(|e| format!("create: {e}"))?;
            let m = std::fs::metadata(&f).map_err(|e| e.to_string())?;
            eq("new file (uid, gid)", (m.uid(), m.gid()), (UID, GID))?;
            std::fs::create_dir(&d).map_err(|e| format!("mkdir: {e}"))?;
            let m = std::fs::metadata(&d).map_err(|e| e.to_string())?;
            eq("new dir (uid, gid)", (m.uid(), m.gid()), (UID, GID))?;
            // Owner's rules: chmod yes, chown to root no, chgrp to a group of ours yes.
            chmod(&f, 0o600)?;
            let p = c(&f);
            // SAFETY: NUL-terminated path.
            let to_root = unsafe { libc::chown(p.as_ptr(), 0, u32::MAX) };
            expect_errno("chown to root", i64::from(to_root), libc::EPERM)?;
            chown(&f, u32::MAX, GROUP2)?;
            // SAFETY: NUL-terminated path.
            let foreign = unsafe { libc::chown(p.as_ptr(), u32::MAX, 1) };
            expect_errno("chgrp to a foreign group", i64::from(foreign), libc::EPERM)?;
            // In a set-group-ID directory: the directory's group, and directories inherit it.
            std::fs::write(&g, b"x").map_err(|e| format!("create in sgid dir: {e}"))?;
            let m = std::fs::metadata(&g).map_err(|e| e.to_string())?;
            eq(
                "file in sgid dir (uid, gid)",
                (m.uid(), m.gid()),
                (UID, GROUP3 + 10),
            )?;
            std::fs::create_dir(&gd).map_err(|e| format!("mkdir in sgid dir: {e}"))?;
            let m = std::fs::metadata(&gd).map_err(|e| e.to_string())?;
            eq("dir in sgid dir gid", m.gid(), GROUP3 + 10)?;
            eq("dir in sgid dir S_ISGID", m.mode() & 0o2000, 0o2000)?;
            // chmod g+s by the owner who is not in the file's group: the bit is dropped.
            std::fs::write(&sx, b"x").map_err(|e| e.to_string())?;
            chmod(&sx, 0o2755)?;
            let m = std::fs::metadata(&sx).map_err(|e| e.to_string())?;
            eq("chmod 2755 outside the group", m.mode() & 0o7777, 0o755)
        })
    });
    r.check("cred-kill-eperm", || {
        // A root process to signal: sleeps until killed.
        // SAFETY: fork in a single-threaded program; the child only sleeps and `_exit`s.
        let victim = unsafe { libc::fork() };
        if victim == 0 {
            // (A loop: Levitate's sleep returns early on an ignored SIGCONT, Linux's does not.)
            loop {
                // SAFETY: sleep has no preconditions; the parent ends this child.
                unsafe { libc::sleep(30) };
            }
        }
        if victim < 0 {
            return Err(format!("fork: {}", name(errno())));
        }
        let verdict = in_child_check(|| {
            drop_privileges()?;
            // SAFETY: kill with integer arguments.
            let (term, probe, cont, own) = unsafe {
                (
                    libc::kill(victim, libc::SIGTERM),
                    libc::kill(victim, 0),
                    libc::kill(victim, libc::SIGCONT),
                    libc::kill(libc::getpid(), 0),
                )
            };
            expect_errno("kill(root, SIGTERM)", i64::from(term), libc::EPERM)?;
            expect_errno("kill(root, 0)", i64::from(probe), libc::EPERM)?;
            ret("kill(root, SIGCONT) in the same session", i64::from(cont))?;
            ret("kill(self, 0)", i64::from(own))?;
            // SAFETY: tgkill with integer arguments.
            let tg = unsafe { libc::syscall(libc::SYS_tgkill, victim, victim, libc::SIGTERM) };
            expect_errno("tgkill(root)", tg, libc::EPERM)?;
            // The same owner rule for scheduling knobs; lowering nice needs privilege.
            // SAFETY: setpriority with integer arguments.
            let prio = unsafe { libc::setpriority(libc::PRIO_PROCESS, victim as u32, 5) };
            expect_errno("setpriority(root)", i64::from(prio), libc::EPERM)?;
            // SAFETY: as above, for this process.
            let lower = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, -1) };
            expect_errno("setpriority(self, -1)", i64::from(lower), libc::EACCES)?;
            let mask = 1u64;
            // SAFETY: an 8-byte mask that outlives the call.
            let aff = unsafe { libc::syscall(libc::SYS_sched_setaffinity, victim, 8, &mask) };
            expect_errno("sched_setaffinity(root)", aff, libc::EPERM)
        });
        // SAFETY: ending our own child.
        unsafe { libc::kill(victim, libc::SIGKILL) };
        let end = crate::util::wait_for(victim)?;
        verdict?;
        eq(
            "victim ended by the parent's SIGKILL",
            end,
            End::Signaled(libc::SIGKILL),
        )
    });
    r.check("cred-saved-set-uid-round-trip", || {
        in_child_check(|| {
            // Real and effective UID, saved 0: unprivileged, but may take 0 back.
            ret("setresuid(UID, UID, 0)", setresuid(UID, UID, 0))?;
            eq("ids", getresuid()?, (UID, UID, 0))?;
            eq(
                "open 0600 root file unprivileged",
                open_errno(&secret, libc::O_RDONLY),
                Err(libc::EACCES),
            )?;
            ret(
                "setuid(0) via the saved id",
                sys3(libc::SYS_setuid, 0, 0, 0),
            )?;
            eq("after setuid(0)", getresuid()?, (UID, 0, 0))?;
            open_errno(&secret, libc::O_RDONLY)
                .map_err(|e| format!("open as euid 0: {}", name(e)))?;
            // setreuid(-1, UID) with real UID: saved stays 0.
            ret(
                "setreuid(-1, UID)",
                sys3(libc::SYS_setreuid, KEEP, UID.into(), 0),
            )?;
            eq("after setreuid(-1, UID)", getresuid()?, (UID, UID, 0))?;
            ret("seteuid(0) again", setresuid(u32::MAX, 0, u32::MAX))?;
            // Privileged setfsuid: returns the old fs id and changes it.
            eq(
                "setfsuid(UID)",
                sys3(libc::SYS_setfsuid, UID.into(), 0, 0),
                0,
            )?;
            eq(
                "open with fsuid UID",
                open_errno(&secret, libc::O_RDONLY),
                Err(libc::EACCES),
            )?;
            eq(
                "setfsuid(0)",
                sys3(libc::SYS_setfsuid, 0, 0, 0),
                i64::from(UID),
            )?;
            // Privileged setuid sets all three: no way back.
            ret("setuid(UID)", sys3(libc::SYS_setuid, UID.into(), 0, 0))?;
            eq("after privileged setuid", getresuid()?, (UID, UID, UID))?;
            expect_errno(
                "setuid(0) now",
                sys3(libc::SYS_setuid, 0, 0, 0),
                libc::EPERM,
            )
        })
    });
    r.check("cred-setuid-exec", || {
        // A set-user-ID copy of this program owned by UID, run by another user: effective and
        // saved become UID, real stays (unless the file system is mounted nosuid).
        let prog = format!("{dir}/suid-prog");
        std::fs::copy(me, &prog).map_err(|e| format!("copy {me}: {e}"))?;
        chown(&prog, UID, GID)?;
        chmod(&prog, 0o4755)?;
        let p = c(&prog);
        // SAFETY: an all-zero statvfs is a valid out-buffer.
        let mut vfs: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: NUL-terminated path and a valid out-pointer.
        let rc = unsafe { libc::statvfs(p.as_ptr(), &mut vfs) };
        ret("statvfs", i64::from(rc))?;
        let nosuid = vfs.f_flag & libc::ST_NOSUID != 0;
        let other = UID + 7;
        let want = if nosuid { other } else { UID };
        let args: Vec<_> = [
            prog.clone(),
            "--ids".into(),
            other.to_string(),
            want.to_string(),
            want.to_string(),
        ]
        .iter()
        .map(|a| c(a))
        .collect();
        let result = in_child_check(|| {
            ret("setresuid(other)", setresuid(other, other, other))?;
            let mut ptrs: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            let env = [std::ptr::null()];
            // SAFETY: NUL-terminated path, argv and envp arrays that outlive the call.
            unsafe { libc::execve(p.as_ptr(), ptrs.as_ptr(), env.as_ptr()) };
            Err(format!("execve: {}", name(errno())))
        });
        let _ = std::fs::remove_file(&prog);
        result.map_err(|e| {
            if e.is_empty() {
                format!("the exec'd program did not see getresuid = ({other}, {want}, {want})")
            } else {
                e
            }
        })
    });
}
