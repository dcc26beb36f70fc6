//! `mount(2)`/`umount2(2)` checks for conform-files: tmpfs with options, read-only remounts,
//! bind mounts (a file too, recursive), `MS_MOVE`, `noexec`/`nodev`, proc/devtmpfs/devpts,
//! propagation flags, and the errors (EPERM, ENOENT, ENOTDIR, EFAULT, EINVAL, ENODEV, EBUSY,
//! EAGAIN, ELOOP).
//!
//! On Linux the checks must not touch the machine's mounts: they run in a forked child that
//! first enters a private mount namespace (`unshare(CLONE_NEWNS)` and `/` made `MS_PRIVATE`
//! recursively); where that is refused they are skipped. Levitate has one mount namespace and
//! no `unshare` (ENOSYS): there the child works in the global namespace, on directories of
//! its own under the scratch directory, and unmounts what it mounted. The child reports each
//! check through a pipe (it must not use the parent's stdout buffer).

use crate::fileops::{close, mkdir, open, read, stat, write};
use crate::util::{
    Check, End, Report, UNMAPPED_ADDR, c, eq, expect_errno, expect_ok, in_child, real_dir,
};
use std::ffi::CString;
use std::ptr::null;

const TMPFS_MAGIC: i64 = 0x0102_1994;
const ST_RDONLY: u64 = 1;
const ST_NOSUID: u64 = 2;
const ST_NODEV: u64 = 4;
const ST_NOEXEC: u64 = 8;

/// `mount(2)` with optional strings (NULL for `None`).
fn mount(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> i64 {
    let src = src.map(c);
    let target = c(target);
    let fstype = fstype.map(c);
    let data = data.map(c);
    let p = |s: &Option<CString>| s.as_ref().map_or(null(), |s| s.as_ptr());
    // SAFETY: NUL-terminated strings or NULL; the kernel copies them.
    unsafe {
        libc::syscall(
            libc::SYS_mount,
            p(&src),
            target.as_ptr(),
            p(&fstype),
            flags,
            p(&data),
        )
    }
}

fn umount(target: &str, flags: i32) -> i64 {
    let target = c(target);
    // SAFETY: a NUL-terminated path.
    unsafe { libc::syscall(libc::SYS_umount2, target.as_ptr(), flags) }
}

fn mount_ok(
    src: Option<&str>,
    target: &str,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Check {
    expect_ok(
        &format!("mount({src:?}, {target}, {fstype:?}, {flags:#x}, {data:?})"),
        mount(src, target, fstype, flags, data),
    )
    .map(|_| ())
}

fn umount_ok(target: &str) -> Check {
    expect_ok(&format!("umount {target}"), umount(target, 0)).map(|_| ())
}

/// `statfs(2)` words of both 64-bit arches: type, bsize, blocks, bfree, bavail, files,
/// ffree, fsid, namelen, frsize, flags, spare (libc's struct hides `f_flags` on some targets).
struct StatFs {
    f_type: i64,
    f_bsize: u64,
    f_blocks: u64,
    f_flags: u64,
}

fn statfs(path: &str) -> Result<StatFs, String> {
    let p = c(path);
    let mut w = [0u64; 15];
    // SAFETY: a NUL-terminated path and a 120-byte out-buffer (the struct's size).
    let r = unsafe { libc::syscall(libc::SYS_statfs, p.as_ptr(), w.as_mut_ptr()) };
    expect_ok(&format!("statfs {path}"), r)?;
    Ok(StatFs {
        f_type: w[0] as i64,
        f_bsize: w[1],
        f_blocks: w[2],
        f_flags: w[10],
    })
}

/// The `/proc/self/mounts` line for mount point `point` (the last one: the top mount).
fn mounts_line(point: &str) -> Result<String, String> {
    let text = std::fs::read_to_string("/proc/self/mounts").map_err(|e| e.to_string())?;
    text.lines()
        .rfind(|l| l.split(' ').nth(1) == Some(point))
        .map(str::to_string)
        .ok_or_else(|| format!("{point} not in /proc/self/mounts:\n{text}"))
}

fn open_errno(path: &str, flags: i32, want: i32) -> Check {
    let p = c(path);
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(p.as_ptr(), flags, 0o644) };
    if fd >= 0 {
        close(fd);
    }
    expect_errno(&format!("open {path} {flags:#o}"), fd as i64, want)
}

fn is_levitate() -> bool {
    // SAFETY: an all-zero utsname is valid; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer.
    unsafe { libc::uname(&mut u) };
    // SAFETY: uname NUL-terminates the field.
    let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) };
    release.to_string_lossy().ends_with("levitate")
}

/// Runs the mount checks into `r`; `dir` is the scratch directory.
pub fn checks(r: &mut Report, dir: &str) {
    let mut fds = [0; 2];
    // SAFETY: a valid array for the two fds.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        r.check("mount", || Err("pipe failed".into()));
        return;
    }
    let (rd, wr) = (fds[0], fds[1]);
    let dir = match real_dir(dir) {
        Ok(d) => d,
        Err(e) => {
            r.check("mount", || Err(e));
            return;
        }
    };
    let end = in_child(|| {
        close(rd);
        child(wr, &dir);
        0
    });
    close(wr);
    let mut text = Vec::new();
    while let Ok(chunk) = read(rd, 4096) {
        if chunk.is_empty() {
            break;
        }
        text.extend_from_slice(&chunk);
    }
    close(rd);
    let text = String::from_utf8_lossy(&text).into_owned();
    let mut seen = 0;
    for line in text.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(name), Some(verdict)) = (parts.next(), parts.next()) else {
            continue;
        };
        if verdict == "SKIP" {
            println!("SKIP files/{name}: {}", parts.next().unwrap_or(""));
            continue;
        }
        seen += 1;
        let why = parts.next().unwrap_or("").replace('\x1f', "\n");
        r.check(name, || if verdict == "OK" { Ok(()) } else { Err(why) });
    }
    r.check("mount-child", || match end {
        Ok(End::Exited(0)) if seen > 0 || text.contains("\tSKIP") => Ok(()),
        other => Err(format!("mount checks child: {other:?}, {seen} results")),
    });
}

/// One result line to the parent.
fn report(fd: i32, name: &str, res: Check) {
    let line = match res {
        Ok(()) => format!("{name}\tOK\n"),
        Err(why) => format!("{name}\tFAIL\t{}\n", why.replace('\n', "\x1f")),
    };
    let _ = write(fd, line.as_bytes());
}

fn child(fd: i32, dir: &str) {
    // SAFETY: unshare has no memory arguments.
    let ns = unsafe { libc::unshare(libc::CLONE_NEWNS) };
    if ns != 0 {
        if !is_levitate() {
            let _ = write(fd, b"mount\tSKIP\tno private mount namespace here\n");
            return;
        }
    } else if mount(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None) != 0 {
        let _ = write(fd, b"mount\tSKIP\tcannot make / private\n");
        return;
    }
    let d = |name: &str| format!("{dir}/{name}");
    for sub in ["m1", "m2", "m3", "m4", "src", "src/inner"] {
        mkdir(&d(sub));
    }
    let _ = std::fs::write(d("src/file"), b"source");
    let _ = std::fs::write(d("plain"), b"x");
    let _ = std::fs::write(d("target"), b"");
    let check = |name: &str, f: &mut dyn FnMut() -> Check| report(fd, name, f());
    let (m1, m2, m3, m4) = (d("m1"), d("m2"), d("m3"), d("m4"));

    check("mount-propagation-flags", &mut || {
        mount_ok(None, "/", None, libc::MS_REC | libc::MS_PRIVATE, None)?;
        expect_errno(
            "MS_PRIVATE|MS_SHARED",
            mount(None, "/", None, libc::MS_PRIVATE | libc::MS_SHARED, None),
            libc::EINVAL,
        )?;
        expect_errno(
            "MS_PRIVATE on a non-mount-point",
            mount(None, dir, None, libc::MS_PRIVATE, None),
            libc::EINVAL,
        )
    });
    check("mount-tmpfs-options", &mut || {
        let before = stat(&m1, true)?.st_dev;
        mount_ok(
            Some("none"),
            &m1,
            Some("tmpfs"),
            0,
            Some("size=1m,mode=750"),
        )?;
        let st = stat(&m1, true)?;
        let res = (|| -> Check {
            eq("root mode", st.st_mode, libc::S_IFDIR | 0o750)?;
            if st.st_dev == before {
                return Err("st_dev did not change".into());
            }
            let s = statfs(&m1)?;
            eq("f_type", s.f_type, TMPFS_MAGIC)?;
            eq("size", s.f_blocks * s.f_bsize, 1 << 20)?;
            eq("f_flags", s.f_flags & 0xf, 0)?;
            let line = mounts_line(&m1)?;
            let want = format!("none {m1} tmpfs rw,relatime,size=1024k,mode=750");
            if !line.starts_with(&want) || !line.ends_with(" 0 0") {
                return Err(format!("/proc/self/mounts: {line:?}, want {want:?}... 0 0"));
            }
            std::fs::write(format!("{m1}/f"), b"hi").map_err(|e| e.to_string())?;
            eq(
                "read back",
                std::fs::read(format!("{m1}/f")).map_err(|e| e.to_string())?,
                b"hi".to_vec(),
            )
        })();
        umount_ok(&m1)?;
        res?;
        eq("st_dev after umount", stat(&m1, true)?.st_dev, before)?;
        match stat(&format!("{m1}/f"), true) {
            Ok(_) => Err("file still there after umount".into()),
            Err(_) => Ok(()),
        }
    });
    check("mount-errors", &mut || {
        expect_errno(
            "bad tmpfs option",
            mount(Some("none"), &m1, Some("tmpfs"), 0, Some("bogus=1")),
            libc::EINVAL,
        )?;
        expect_errno(
            "bad size",
            mount(Some("none"), &m1, Some("tmpfs"), 0, Some("size=1q")),
            libc::EINVAL,
        )?;
        expect_errno(
            "unknown type",
            mount(Some("none"), &m1, Some("nosuchfs"), 0, None),
            libc::ENODEV,
        )?;
        expect_errno(
            "missing target",
            mount(Some("none"), &d("nope/x"), Some("tmpfs"), 0, None),
            libc::ENOENT,
        )?;
        expect_errno(
            "target through a file",
            mount(Some("none"), &d("plain/x"), Some("tmpfs"), 0, None),
            libc::ENOTDIR,
        )?;
        expect_errno(
            "tmpfs on a file",
            mount(Some("none"), &d("plain"), Some("tmpfs"), 0, None),
            libc::ENOTDIR,
        )?;
        let t = c(&m1);
        let none = c("none");
        let tmpfs = c("tmpfs");
        // SAFETY: the kernel must refuse the bad pointers; the others are valid strings.
        let raw = |src: usize, target: usize, fstype: usize| unsafe {
            libc::syscall(libc::SYS_mount, src, target, fstype, 0, 0)
        };
        expect_errno(
            "bad fstype pointer",
            raw(none.as_ptr() as usize, t.as_ptr() as usize, UNMAPPED_ADDR),
            libc::EFAULT,
        )?;
        expect_errno(
            "bad target pointer",
            raw(
                none.as_ptr() as usize,
                UNMAPPED_ADDR,
                tmpfs.as_ptr() as usize,
            ),
            libc::EFAULT,
        )?;
        expect_errno(
            "bad source pointer",
            raw(UNMAPPED_ADDR, t.as_ptr() as usize, tmpfs.as_ptr() as usize),
            libc::EFAULT,
        )?;
        expect_errno(
            "remount of a non-mount-point",
            mount(None, &m1, None, libc::MS_REMOUNT | libc::MS_RDONLY, None),
            libc::EINVAL,
        )?;
        expect_errno(
            "bind without source",
            mount(Some(""), &m1, None, libc::MS_BIND, None),
            libc::ENOENT,
        )
        .or_else(|_| {
            expect_errno(
                "bind without source",
                mount(Some(""), &m1, None, libc::MS_BIND, None),
                libc::EINVAL,
            )
        })?;
        expect_errno("umount of a non-mount-point", umount(&m1, 0), libc::EINVAL)?;
        expect_errno(
            "umount of a missing path",
            umount(&d("nope"), 0),
            libc::ENOENT,
        )?;
        expect_errno("umount2 unknown flag", umount(&m1, 0x100), libc::EINVAL)
    });
    check("mount-nonroot-eperm", &mut || {
        let (m1c, m1d) = (m1.clone(), m1.clone());
        let end = in_child(move || {
            // SAFETY: setuid has no memory arguments.
            if unsafe { libc::setuid(65534) } != 0 {
                return 100; // no setuid on this kernel: nothing to check
            }
            let a = mount(Some("none"), &m1c, Some("tmpfs"), 0, None);
            let ea = crate::util::errno();
            let b = umount(&m1d, 0);
            let eb = crate::util::errno();
            if a == -1 && ea == libc::EPERM && b == -1 && eb == libc::EPERM {
                0
            } else {
                1
            }
        })?;
        match end {
            End::Exited(0) => Ok(()),
            End::Exited(100) if is_levitate() => Ok(()),
            other => Err(format!("non-root mount/umount: {other:?}")),
        }
    });
    check("mount-busy", &mut || {
        mount_ok(Some("none"), &m1, Some("tmpfs"), 0, None)?;
        let res = (|| -> Check {
            std::fs::write(format!("{m1}/f"), b"x").map_err(|e| e.to_string())?;
            let fd = open(&format!("{m1}/f"), libc::O_RDONLY, 0)?;
            let busy = umount(&m1, 0);
            close(fd);
            expect_errno("umount with an open file", busy, libc::EBUSY)?;
            let back = std::env::current_dir().map_err(|e| e.to_string())?;
            std::env::set_current_dir(&m1).map_err(|e| e.to_string())?;
            let busy = umount(&m1, 0);
            std::env::set_current_dir(&back).map_err(|e| e.to_string())?;
            expect_errno("umount of the cwd", busy, libc::EBUSY)?;
            mkdir(&format!("{m1}/sub"));
            mount_ok(Some("none"), &format!("{m1}/sub"), Some("tmpfs"), 0, None)?;
            let busy = umount(&m1, 0);
            umount_ok(&format!("{m1}/sub"))?;
            expect_errno("umount with a child mount", busy, libc::EBUSY)?;
            // A second tmpfs on top hides the first; unmounting uncovers it.
            mount_ok(Some("top"), &m1, Some("tmpfs"), 0, None)?;
            let hidden = stat(&format!("{m1}/f"), true).is_err();
            umount_ok(&m1)?;
            if !hidden {
                return Err("stacked mount did not hide the one below".into());
            }
            eq(
                "uncovered",
                std::fs::read(format!("{m1}/f")).map_err(|e| e.to_string())?,
                b"x".to_vec(),
            )
        })();
        let _ = umount(&m1, libc::MNT_DETACH);
        res
    });
    check("umount-detach-expire-nofollow", &mut || {
        mount_ok(Some("none"), &m1, Some("tmpfs"), 0, None)?;
        std::fs::write(format!("{m1}/f"), b"kept").map_err(|e| e.to_string())?;
        let fd = open(&format!("{m1}/f"), libc::O_RDONLY, 0)?;
        let res = (|| -> Check {
            expect_ok(
                "umount2(MNT_DETACH) while busy",
                umount(&m1, libc::MNT_DETACH),
            )?;
            eq("read after detach", read(fd, 16)?, b"kept".to_vec())?;
            if stat(&format!("{m1}/f"), true).is_ok() {
                return Err("detached mount still in the tree".into());
            }
            Ok(())
        })();
        close(fd);
        res?;
        mount_ok(Some("none"), &m1, Some("tmpfs"), 0, None)?;
        let res = (|| -> Check {
            expect_errno(
                "MNT_EXPIRE|MNT_DETACH",
                umount(&m1, libc::MNT_EXPIRE | libc::MNT_DETACH),
                libc::EINVAL,
            )?;
            expect_errno(
                "first MNT_EXPIRE",
                umount(&m1, libc::MNT_EXPIRE),
                libc::EAGAIN,
            )?;
            expect_ok("second MNT_EXPIRE", umount(&m1, libc::MNT_EXPIRE))?;
            mount_ok(Some("none"), &m1, Some("tmpfs"), 0, None)?;
            let link = d("link");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&m1, &link).map_err(|e| e.to_string())?;
            expect_errno(
                "UMOUNT_NOFOLLOW on a symlink",
                umount(&link, libc::UMOUNT_NOFOLLOW),
                libc::EINVAL,
            )?;
            expect_ok("umount through the symlink", umount(&link, 0)).map(|_| ())
        })();
        let _ = umount(&m1, libc::MNT_DETACH);
        res
    });
    check("mount-remount-read-only", &mut || {
        mount_ok(Some("none"), &m2, Some("tmpfs"), 0, None)?;
        let res = (|| -> Check {
            std::fs::write(format!("{m2}/f"), b"data").map_err(|e| e.to_string())?;
            mkdir(&format!("{m2}/d"));
            mount_ok(None, &m2, None, libc::MS_REMOUNT | libc::MS_RDONLY, None)?;
            open_errno(&format!("{m2}/f"), libc::O_WRONLY, libc::EROFS)?;
            open_errno(
                &format!("{m2}/new"),
                libc::O_WRONLY | libc::O_CREAT,
                libc::EROFS,
            )?;
            open_errno(
                &format!("{m2}/f"),
                libc::O_RDONLY | libc::O_TRUNC,
                libc::EROFS,
            )?;
            expect_errno("mkdir", mkdir(&format!("{m2}/e")), libc::EROFS)?;
            let f = c(&format!("{m2}/f"));
            // SAFETY: a NUL-terminated path.
            let r = unsafe { libc::unlink(f.as_ptr()) } as i64;
            expect_errno("unlink", r, libc::EROFS)?;
            // SAFETY: a NUL-terminated path.
            let r = unsafe { libc::chmod(f.as_ptr(), 0o600) } as i64;
            expect_errno("chmod", r, libc::EROFS)?;
            // SAFETY: a NUL-terminated path.
            let r = unsafe { libc::truncate(f.as_ptr(), 0) } as i64;
            expect_errno("truncate", r, libc::EROFS)?;
            eq(
                "still readable",
                std::fs::read(format!("{m2}/f")).map_err(|e| e.to_string())?,
                b"data".to_vec(),
            )?;
            eq("ST_RDONLY", statfs(&m2)?.f_flags & ST_RDONLY, ST_RDONLY)?;
            let line = mounts_line(&m2)?;
            if !line.contains(" tmpfs ro,relatime") {
                return Err(format!("/proc/self/mounts: {line:?}"));
            }
            expect_errno(
                "remount with a bad option",
                mount(None, &m2, None, libc::MS_REMOUNT, Some("bogus")),
                libc::EINVAL,
            )?;
            mount_ok(None, &m2, None, libc::MS_REMOUNT, None)?;
            std::fs::write(format!("{m2}/g"), b"rw again").map_err(|e| e.to_string())
        })();
        let _ = umount(&m2, libc::MNT_DETACH);
        res
    });
    check("mount-flags-noexec-nodev-nosuid", &mut || {
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        mount_ok(Some("none"), &m3, Some("tmpfs"), flags, None)?;
        let res = (|| -> Check {
            let line = mounts_line(&m3)?;
            if !line.contains(" tmpfs rw,nosuid,nodev,noexec,relatime") {
                return Err(format!("/proc/self/mounts: {line:?}"));
            }
            eq(
                "f_flags",
                statfs(&m3)?.f_flags & 0xf,
                ST_NOSUID | ST_NODEV | ST_NOEXEC,
            )?;
            let script = format!("{m3}/script");
            std::fs::write(&script, b"#!/bin/sh\nexit 0\n").map_err(|e| e.to_string())?;
            let sc = c(&script);
            // SAFETY: a NUL-terminated path.
            unsafe { libc::chmod(sc.as_ptr(), 0o755) };
            let end = in_child(|| {
                let argv = [sc.as_ptr(), null()];
                let envp = [null()];
                // SAFETY: NULL-terminated argv and envp of valid strings.
                unsafe { libc::execve(sc.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
                crate::util::errno()
            })?;
            eq("execve on noexec", end, End::Exited(libc::EACCES))?;
            let node = c(&format!("{m3}/null"));
            // SAFETY: a NUL-terminated path.
            let r =
                unsafe { libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
            expect_ok("mknod", r as i64)?;
            open_errno(&format!("{m3}/null"), libc::O_RDONLY, libc::EACCES)?;
            // Without nodev the node opens.
            mount_ok(None, &m3, None, libc::MS_REMOUNT | libc::MS_NOEXEC, None)?;
            let fd = open(&format!("{m3}/null"), libc::O_WRONLY, 0)?;
            close(fd);
            Ok(())
        })();
        let _ = umount(&m3, libc::MNT_DETACH);
        res
    });
    check("mount-bind", &mut || {
        mount_ok(Some(&d("src")), &m4, None, libc::MS_BIND, None)?;
        let res = (|| -> Check {
            eq(
                "bound file",
                std::fs::read(format!("{m4}/file")).map_err(|e| e.to_string())?,
                b"source".to_vec(),
            )?;
            std::fs::write(format!("{m4}/new"), b"via bind").map_err(|e| e.to_string())?;
            eq(
                "seen at the source",
                std::fs::read(d("src/new")).map_err(|e| e.to_string())?,
                b"via bind".to_vec(),
            )?;
            let bind_ro = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
            mount_ok(None, &m4, None, bind_ro, None)?;
            open_errno(
                &format!("{m4}/other"),
                libc::O_WRONLY | libc::O_CREAT,
                libc::EROFS,
            )?;
            std::fs::write(d("src/other"), b"source still rw").map_err(|e| e.to_string())?;
            let line = mounts_line(&m4)?;
            if !line.contains(" ro,") {
                return Err(format!("/proc/self/mounts: {line:?}"));
            }
            Ok(())
        })();
        let _ = umount(&m4, libc::MNT_DETACH);
        res?;
        // A file onto a file; a file onto a directory is ENOTDIR.
        mount_ok(
            Some(&d("src/file")),
            &d("target"),
            None,
            libc::MS_BIND,
            None,
        )?;
        let res = eq(
            "file bind",
            std::fs::read(d("target")).map_err(|e| e.to_string())?,
            b"source".to_vec(),
        );
        umount_ok(&d("target"))?;
        res?;
        eq(
            "after umount",
            std::fs::read(d("target")).map_err(|e| e.to_string())?,
            Vec::new(),
        )?;
        expect_errno(
            "file onto a directory",
            mount(Some(&d("src/file")), &m4, None, libc::MS_BIND, None),
            libc::ENOTDIR,
        )
    });
    check("mount-rbind", &mut || {
        mount_ok(Some("inner"), &d("src/inner"), Some("tmpfs"), 0, None)?;
        std::fs::write(d("src/inner/deep"), b"deep").map_err(|e| e.to_string())?;
        let res = (|| -> Check {
            mount_ok(Some(&d("src")), &m4, None, libc::MS_BIND, None)?;
            let plain = stat(&format!("{m4}/inner/deep"), true).is_ok();
            expect_ok("umount", umount(&m4, 0))?;
            if plain {
                return Err("a plain bind carried the mount below".into());
            }
            mount_ok(
                Some(&d("src")),
                &m4,
                None,
                libc::MS_BIND | libc::MS_REC,
                None,
            )?;
            let deep = std::fs::read(format!("{m4}/inner/deep")).map_err(|e| e.to_string());
            expect_errno(
                "umount of an rbind with a child",
                umount(&m4, 0),
                libc::EBUSY,
            )?;
            expect_ok("umount -l", umount(&m4, libc::MNT_DETACH))?;
            eq("rbind carries the mount below", deep?, b"deep".to_vec())
        })();
        let _ = umount(&m4, libc::MNT_DETACH);
        let _ = umount(&d("src/inner"), libc::MNT_DETACH);
        res
    });
    check("mount-move", &mut || {
        mount_ok(Some("none"), &m1, Some("tmpfs"), 0, None)?;
        let res = (|| -> Check {
            std::fs::write(format!("{m1}/f"), b"moved").map_err(|e| e.to_string())?;
            mkdir(&format!("{m1}/sub"));
            mount_ok(Some("none"), &format!("{m1}/sub"), Some("tmpfs"), 0, None)?;
            mkdir(&format!("{m1}/sub/x"));
            expect_errno(
                "move into itself",
                mount(Some(&m1), &format!("{m1}/sub/x"), None, libc::MS_MOVE, None),
                libc::ELOOP,
            )?;
            expect_errno(
                "move of a non-mount-point",
                mount(Some(&d("src")), &m2, None, libc::MS_MOVE, None),
                libc::EINVAL,
            )?;
            mount_ok(Some(&m1), &m2, None, libc::MS_MOVE, None)?;
            eq(
                "moved file",
                std::fs::read(format!("{m2}/f")).map_err(|e| e.to_string())?,
                b"moved".to_vec(),
            )?;
            if stat(&format!("{m1}/f"), true).is_ok() {
                return Err("the old place still shows the mount".into());
            }
            let line = mounts_line(&format!("{m2}/sub"))?;
            if !line.starts_with("none ") {
                return Err(format!("/proc/self/mounts: {line:?}"));
            }
            umount_ok(&format!("{m2}/sub"))?;
            umount_ok(&m2)
        })();
        let _ = umount(&format!("{m1}/sub"), libc::MNT_DETACH);
        let _ = umount(&m1, libc::MNT_DETACH);
        let _ = umount(&format!("{m2}/sub"), libc::MNT_DETACH);
        let _ = umount(&m2, libc::MNT_DETACH);
        res
    });
    check("mount-proc-devtmpfs-devpts", &mut || {
        expect_errno(
            "proc bad option",
            mount(Some("proc"), &m1, Some("proc"), 0, Some("bogus")),
            libc::EINVAL,
        )?;
        mount_ok(Some("proc"), &m1, Some("proc"), 0, None)?;
        let link = std::fs::read_link(format!("{m1}/self")).map_err(|e| e.to_string());
        umount_ok(&m1)?;
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        eq(
            "proc self",
            link?.to_string_lossy().into_owned(),
            pid.to_string(),
        )?;
        mount_ok(Some("devtmpfs"), &m1, Some("devtmpfs"), 0, None)?;
        let null = stat(&format!("{m1}/null"), true);
        let again = mount(Some("devtmpfs"), &m1, Some("devtmpfs"), 0, None);
        let again_errno = crate::util::errno();
        if again == 0 {
            let _ = umount(&m1, 0);
        }
        umount_ok(&m1)?;
        eq("devtmpfs null", null?.st_rdev, libc::makedev(1, 3))?;
        eq(
            "devtmpfs on its own root",
            (again, again_errno),
            (-1, libc::EBUSY),
        )?;
        expect_errno(
            "devpts bad option",
            mount(Some("devpts"), &m1, Some("devpts"), 0, Some("bogus")),
            libc::EINVAL,
        )?;
        mount_ok(
            Some("devpts"),
            &m1,
            Some("devpts"),
            0,
            Some("newinstance,ptmxmode=666"),
        )?;
        let ptmx = stat(&format!("{m1}/ptmx"), true);
        umount_ok(&m1)?;
        eq("devpts ptmx", ptmx?.st_rdev, libc::makedev(5, 2))
    });
}
