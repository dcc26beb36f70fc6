//! Conformance checks for files: open flags, read/write/pread/pwrite/lseek, getdents64, stat
//! fields, rename/link/unlink/symlink/readlink, mkdir/rmdir, dup2/dup3/fcntl, pipes and poll,
//! `/proc/self/fd` links (`conform/procfd.rs`), and the errors for bad fds (EBADF) and bad
//! pointers (EFAULT, through raw syscalls).
//! Prints `PASS files/<name>` or `FAIL files/<name>: why`; exits 0 iff all passed.

#[path = "../conform/util.rs"]
mod util;

#[path = "../conform/fileops.rs"]
mod fileops;

#[path = "../conform/procfd.rs"]
mod procfd;

#[path = "../conform/mount.rs"]
mod mount;

use fileops::{
    close, dents, fcntl, fstat, lseek, mkdir, one, open, open_err, pipe, poll, read, stat, two,
    write,
};
use std::process::ExitCode;
use util::{Check, KERNEL_ADDR, Report, UNMAPPED_ADDR, c, eq, expect_errno, expect_ok, scratch};

/// `conform-files --fd-open A B`: print whether each fd is open (the exec side of the
/// close-on-exec check).
fn fd_report() -> Option<ExitCode> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 2 || args[1] != "--fd-open" {
        return None;
    }
    let words: Vec<&str> = args[2..]
        .iter()
        .map(|a| {
            let fd = a.parse().unwrap_or(-1);
            // SAFETY: F_GETFD only queries the descriptor.
            let open = unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
            if open { "open" } else { "closed" }
        })
        .collect();
    println!("{}", words.join(" "));
    Some(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    if let Some(code) = fd_report() {
        return code;
    }
    let mut r = Report::new("files");
    let dir = scratch("files");
    let d = |name: &str| format!("{dir}/{name}");
    // SAFETY: umask has no preconditions; a known mask makes the mode checks exact.
    unsafe { libc::umask(0o022) };

    r.check("open-creat-excl", || {
        let fd = open(
            &d("excl"),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
            0o644,
        )?;
        close(fd);
        open_err(
            &d("excl"),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
            libc::EEXIST,
        )
    });
    r.check("open-missing-enoent", || {
        open_err(&d("missing"), libc::O_RDONLY, libc::ENOENT)
    });
    r.check("open-missing-parent-enoent", || {
        open_err(&d("nodir/x"), libc::O_CREAT | libc::O_WRONLY, libc::ENOENT)
    });
    r.check("open-through-file-enotdir", || {
        std::fs::write(d("plain"), b"x").map_err(|e| e.to_string())?;
        open_err(&d("plain/x"), libc::O_RDONLY, libc::ENOTDIR)
    });
    r.check("open-directory-flag-enotdir", || {
        std::fs::write(d("plain2"), b"x").map_err(|e| e.to_string())?;
        open_err(
            &d("plain2"),
            libc::O_RDONLY | libc::O_DIRECTORY,
            libc::ENOTDIR,
        )
    });
    r.check("open-dir-for-write-eisdir", || {
        open_err(&dir, libc::O_WRONLY, libc::EISDIR)
    });
    r.check("o-trunc", || {
        std::fs::write(d("trunc"), b"hello").map_err(|e| e.to_string())?;
        let fd = open(&d("trunc"), libc::O_WRONLY | libc::O_TRUNC, 0)?;
        let st = fstat(fd)?;
        close(fd);
        eq("size after O_TRUNC", st.st_size, 0)
    });
    r.check("o-append", || {
        std::fs::write(d("app"), b"ab").map_err(|e| e.to_string())?;
        let fd = open(&d("app"), libc::O_WRONLY | libc::O_APPEND, 0)?;
        lseek(fd, 0, libc::SEEK_SET)?;
        write(fd, b"cd")?;
        let pos = lseek(fd, 0, libc::SEEK_CUR)?;
        close(fd);
        eq("offset after append", pos, 4)?;
        eq(
            "content",
            std::fs::read(d("app")).map_err(|e| e.to_string())?,
            b"abcd".to_vec(),
        )
    });
    r.check("read-write-lseek", || {
        let fd = open(&d("rw"), libc::O_CREAT | libc::O_RDWR, 0o644)?;
        eq("write", write(fd, b"0123456789")?, 10)?;
        eq("SEEK_SET", lseek(fd, 2, libc::SEEK_SET)?, 2)?;
        eq("read", read(fd, 3)?, b"234".to_vec())?;
        eq("SEEK_CUR", lseek(fd, 1, libc::SEEK_CUR)?, 6)?;
        eq("SEEK_END", lseek(fd, 0, libc::SEEK_END)?, 10)?;
        eq("read at EOF", read(fd, 4)?, Vec::new())?;
        // SAFETY: no memory involved.
        let neg = unsafe { libc::lseek(fd, -1, libc::SEEK_SET) };
        expect_errno("lseek(-1)", neg, libc::EINVAL)?;
        // SAFETY: as above.
        let bad = unsafe { libc::lseek(fd, 0, 77) };
        expect_errno("lseek(whence 77)", bad, libc::EINVAL)?;
        close(fd);
        Ok(())
    });
    r.check("write-past-end-hole", || {
        let fd = open(&d("hole"), libc::O_CREAT | libc::O_RDWR, 0o644)?;
        lseek(fd, 100, libc::SEEK_SET)?;
        write(fd, b"z")?;
        eq("size", fstat(fd)?.st_size, 101)?;
        lseek(fd, 50, libc::SEEK_SET)?;
        eq("hole reads zeros", read(fd, 2)?, vec![0, 0])?;
        close(fd);
        Ok(())
    });
    r.check("pread-pwrite", || {
        let fd = open(&d("prw"), libc::O_CREAT | libc::O_RDWR, 0o644)?;
        write(fd, b"abcdefgh")?;
        let data = b"XY";
        // SAFETY: valid buffer.
        let n = unsafe { libc::pwrite(fd, data.as_ptr().cast(), 2, 3) };
        eq("pwrite", expect_ok("pwrite", n as i64)?, 2)?;
        let mut buf = [0u8; 4];
        // SAFETY: valid buffer.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), 4, 2) };
        eq("pread", expect_ok("pread", n as i64)?, 4)?;
        eq("pread data", &buf, b"cXYf")?;
        eq("offset unchanged", lseek(fd, 0, libc::SEEK_CUR)?, 8)?;
        // SAFETY: valid buffer; negative offset is refused.
        let neg = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), 1, -1) };
        expect_errno("pread(off -1)", neg as i64, libc::EINVAL)?;
        close(fd);
        Ok(())
    });
    r.check("pread-pipe-espipe", || {
        let (rd, wr) = pipe()?;
        let mut b = [0u8; 1];
        // SAFETY: valid buffer.
        let n = unsafe { libc::pread(rd, b.as_mut_ptr().cast(), 1, 0) };
        let res = expect_errno("pread(pipe)", n as i64, libc::ESPIPE);
        // SAFETY: no memory.
        let s = unsafe { libc::lseek(rd, 0, libc::SEEK_SET) };
        close(rd);
        close(wr);
        res?;
        expect_errno("lseek(pipe)", s, libc::ESPIPE)
    });
    r.check("getdents64", || {
        let sub = d("list");
        expect_ok("mkdir", mkdir(&sub))?;
        for n in ["a", "b", "c"] {
            std::fs::write(format!("{sub}/{n}"), b"").map_err(|e| e.to_string())?;
        }
        expect_ok("mkdir", mkdir(&format!("{sub}/sub")))?;
        let want: Vec<(String, u8)> = [
            (".", libc::DT_DIR),
            ("..", libc::DT_DIR),
            ("a", libc::DT_REG),
            ("b", libc::DT_REG),
            ("c", libc::DT_REG),
            ("sub", libc::DT_DIR),
        ]
        .iter()
        .map(|(n, t)| ((*n).to_string(), *t))
        .collect();
        eq("entries", dents(&sub)?, want)
    });
    r.check("getdents64-not-dir-enotdir", || {
        let fd = open(&d("plain"), libc::O_RDONLY, 0)?;
        let mut buf = [0u8; 256];
        // SAFETY: valid buffer.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        close(fd);
        expect_errno("getdents64(file)", n, libc::ENOTDIR)
    });
    r.check("stat-fields", || {
        let fd = open(&d("st"), libc::O_CREAT | libc::O_WRONLY, 0o640)?;
        write(fd, b"12345")?;
        let f = fstat(fd)?;
        close(fd);
        let s = stat(&d("st"), true)?;
        eq("S_IFREG", s.st_mode & libc::S_IFMT, libc::S_IFREG)?;
        eq("permissions", s.st_mode & 0o7777, 0o640)?;
        eq("size", s.st_size, 5)?;
        eq("nlink", s.st_nlink, 1)?;
        eq("ino matches fstat", s.st_ino, f.st_ino)?;
        eq("dev matches fstat", s.st_dev, f.st_dev)?;
        if s.st_blksize <= 0 {
            return Err(format!("st_blksize {}", s.st_blksize));
        }
        let dirst = stat(&dir, true)?;
        eq("S_IFDIR", dirst.st_mode & libc::S_IFMT, libc::S_IFDIR)
    });
    r.check("stat-mode-umask", || {
        // SAFETY: no preconditions.
        unsafe { libc::umask(0o077) };
        let fd = open(&d("masked"), libc::O_CREAT | libc::O_WRONLY, 0o666);
        // SAFETY: as above.
        unsafe { libc::umask(0o022) };
        close(fd?);
        eq("mode", stat(&d("masked"), true)?.st_mode & 0o777, 0o600)
    });
    r.check("rename", || {
        std::fs::write(d("old"), b"moved").map_err(|e| e.to_string())?;
        expect_ok("rename", two(libc::rename, &d("old"), &d("new")))?;
        eq("old gone", one(libc::unlink, &d("old")), -1)?;
        eq("errno", util::errno(), libc::ENOENT)?;
        eq(
            "content",
            std::fs::read(d("new")).map_err(|e| e.to_string())?,
            b"moved".to_vec(),
        )
    });
    r.check("rename-replaces", || {
        std::fs::write(d("r1"), b"one").map_err(|e| e.to_string())?;
        std::fs::write(d("r2"), b"two").map_err(|e| e.to_string())?;
        expect_ok("rename", two(libc::rename, &d("r1"), &d("r2")))?;
        eq(
            "content",
            std::fs::read(d("r2")).map_err(|e| e.to_string())?,
            b"one".to_vec(),
        )
    });
    r.check("rename-missing-enoent", || {
        expect_errno(
            "rename",
            two(libc::rename, &d("nope"), &d("x")),
            libc::ENOENT,
        )
    });
    r.check("link", || {
        std::fs::write(d("l1"), b"shared").map_err(|e| e.to_string())?;
        expect_ok("link", two(libc::link, &d("l1"), &d("l2")))?;
        let (a, b) = (stat(&d("l1"), true)?, stat(&d("l2"), true)?);
        eq("same inode", a.st_ino, b.st_ino)?;
        eq("nlink", a.st_nlink, 2)?;
        expect_ok("unlink", one(libc::unlink, &d("l1")))?;
        eq("nlink after unlink", stat(&d("l2"), true)?.st_nlink, 1)?;
        expect_errno(
            "link onto existing",
            two(libc::link, &d("l2"), &d("plain")),
            libc::EEXIST,
        )
    });
    r.check("unlink", || {
        std::fs::write(d("gone"), b"").map_err(|e| e.to_string())?;
        expect_ok("unlink", one(libc::unlink, &d("gone")))?;
        expect_errno("unlink again", one(libc::unlink, &d("gone")), libc::ENOENT)?;
        expect_errno("unlink a directory", one(libc::unlink, &dir), libc::EISDIR)
    });
    r.check("symlink-readlink", || {
        std::fs::write(d("target"), b"t").map_err(|e| e.to_string())?;
        expect_ok("symlink", two(libc::symlink, "target", &d("sl")))?;
        let p = c(&d("sl"));
        let mut buf = [0u8; 64];
        // SAFETY: valid path and buffer.
        let n = unsafe { libc::readlink(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        let n = expect_ok("readlink", n as i64)? as usize;
        eq("link text", &buf[..n], b"target")?;
        eq(
            "lstat type",
            stat(&d("sl"), false)?.st_mode & libc::S_IFMT,
            libc::S_IFLNK,
        )?;
        eq(
            "stat follows",
            stat(&d("sl"), true)?.st_mode & libc::S_IFMT,
            libc::S_IFREG,
        )?;
        // SAFETY: valid path and buffer.
        let n = unsafe { libc::readlink(c(&d("target")).as_ptr(), buf.as_mut_ptr().cast(), 64) };
        expect_errno("readlink of a file", n as i64, libc::EINVAL)
    });
    r.check("mkdir-rmdir", || {
        let sub = d("dd");
        expect_ok("mkdir", mkdir(&sub))?;
        expect_errno("mkdir again", mkdir(&sub), libc::EEXIST)?;
        std::fs::write(format!("{sub}/f"), b"").map_err(|e| e.to_string())?;
        expect_errno("rmdir non-empty", one(libc::rmdir, &sub), libc::ENOTEMPTY)?;
        expect_ok("unlink", one(libc::unlink, &format!("{sub}/f")))?;
        expect_ok("rmdir", one(libc::rmdir, &sub))?;
        expect_errno("rmdir again", one(libc::rmdir, &sub), libc::ENOENT)?;
        expect_errno("rmdir a file", one(libc::rmdir, &d("plain")), libc::ENOTDIR)
    });
    r.check("chdir-getcwd", || {
        let before = std::env::current_dir().map_err(|e| e.to_string())?;
        expect_ok("chdir", one(libc::chdir, &dir))?;
        let now = std::env::current_dir().map_err(|e| e.to_string());
        let _ = std::env::set_current_dir(&before);
        eq("getcwd", now?.to_string_lossy().into_owned(), dir.clone())
    });
    r.check("dup2-shares-offset", || {
        let fd = open(&d("dup"), libc::O_CREAT | libc::O_RDWR, 0o644)?;
        write(fd, b"abcdef")?;
        // SAFETY: no memory involved.
        let nfd = unsafe { libc::dup2(fd, 100) };
        eq("dup2 result", nfd, 100)?;
        lseek(fd, 1, libc::SEEK_SET)?;
        eq("shared offset", lseek(100, 0, libc::SEEK_CUR)?, 1)?;
        eq("fd flags of a dup", fcntl(100, libc::F_GETFD, 0)?, 0)?;
        // SAFETY: as above.
        let same = unsafe { libc::dup2(fd, fd) };
        eq("dup2(fd, fd)", same, fd)?;
        close(100);
        close(fd);
        Ok(())
    });
    r.check("dup3-cloexec", || {
        let fd = open(&d("dup"), libc::O_RDONLY, 0)?;
        // SAFETY: no memory involved.
        let nfd = unsafe { libc::dup3(fd, 101, libc::O_CLOEXEC) };
        eq("dup3 result", nfd, 101)?;
        eq(
            "FD_CLOEXEC",
            fcntl(101, libc::F_GETFD, 0)?,
            libc::FD_CLOEXEC,
        )?;
        // SAFETY: as above.
        let same = unsafe { libc::dup3(fd, fd, 0) };
        expect_errno("dup3(fd, fd)", same as i64, libc::EINVAL)?;
        // SAFETY: as above.
        let flags = unsafe { libc::dup3(fd, 102, 0x4) };
        expect_errno("dup3 bad flags", flags as i64, libc::EINVAL)?;
        close(101);
        close(fd);
        Ok(())
    });
    r.check("fcntl", || {
        let fd = open(&d("dup"), libc::O_WRONLY | libc::O_APPEND, 0)?;
        eq("F_GETFD", fcntl(fd, libc::F_GETFD, 0)?, 0)?;
        fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC)?;
        eq(
            "F_GETFD after F_SETFD",
            fcntl(fd, libc::F_GETFD, 0)?,
            libc::FD_CLOEXEC,
        )?;
        let fl = fcntl(fd, libc::F_GETFL, 0)?;
        eq("F_GETFL access mode", fl & libc::O_ACCMODE, libc::O_WRONLY)?;
        eq("F_GETFL O_APPEND", fl & libc::O_APPEND, libc::O_APPEND)?;
        let low = fcntl(fd, libc::F_DUPFD_CLOEXEC, 50)?;
        if low < 50 {
            return Err(format!("F_DUPFD_CLOEXEC gave {low} < 50"));
        }
        eq(
            "its FD_CLOEXEC",
            fcntl(low, libc::F_GETFD, 0)?,
            libc::FD_CLOEXEC,
        )?;
        let plain = fcntl(fd, libc::F_DUPFD, 60)?;
        eq(
            "F_DUPFD clears FD_CLOEXEC",
            fcntl(plain, libc::F_GETFD, 0)?,
            0,
        )?;
        close(plain);
        close(low);
        close(fd);
        Ok(())
    });
    r.check("open-cloexec", || {
        let fd = open(&d("dup"), libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
        let got = fcntl(fd, libc::F_GETFD, 0);
        close(fd);
        eq("FD_CLOEXEC", got?, libc::FD_CLOEXEC)
    });
    r.check("pipe-eof", || {
        let (rd, wr) = pipe()?;
        write(wr, b"xy")?;
        close(wr);
        eq("data", read(rd, 10)?, b"xy".to_vec())?;
        eq("EOF", read(rd, 10)?, Vec::new())?;
        close(rd);
        Ok(())
    });
    r.check("pipe-epipe", || {
        // SAFETY: SIG_IGN installs no handler code.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        let (rd, wr) = pipe()?;
        close(rd);
        let data = b"x";
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(wr, data.as_ptr().cast(), 1) };
        close(wr);
        expect_errno("write to a pipe without readers", n as i64, libc::EPIPE)
    });
    r.check("pipe-nonblock-eagain", || {
        let mut fds = [0i32; 2];
        // SAFETY: valid out-array.
        let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) };
        expect_ok("pipe2(O_NONBLOCK)", ret as i64)?;
        let mut b = [0u8; 1];
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
        close(fds[0]);
        close(fds[1]);
        expect_errno("read of an empty pipe", n as i64, libc::EAGAIN)
    });
    r.check("pipe2-bad-flags-einval", || {
        let mut fds = [0i32; 2];
        // SAFETY: valid out-array; the flags are refused.
        let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), 0x1) };
        expect_errno("pipe2(1)", ret as i64, libc::EINVAL)
    });
    r.check("poll-pipe", || {
        let (rd, wr) = pipe()?;
        let mut pfd = [libc::pollfd {
            fd: rd,
            events: libc::POLLIN,
            revents: 0,
        }];
        eq("empty pipe", poll(&mut pfd, 0)?, 0)?;
        write(wr, b"x")?;
        eq("after a write", poll(&mut pfd, 1000)?, 1)?;
        eq("revents", pfd[0].revents & libc::POLLIN, libc::POLLIN)?;
        let mut out = [libc::pollfd {
            fd: wr,
            events: libc::POLLOUT,
            revents: 0,
        }];
        eq("write end", poll(&mut out, 0)?, 1)?;
        eq("POLLOUT", out[0].revents, libc::POLLOUT)?;
        read(rd, 1)?;
        close(wr);
        eq("after writer closed", poll(&mut pfd, 1000)?, 1)?;
        eq("POLLHUP", pfd[0].revents & libc::POLLHUP, libc::POLLHUP)?;
        let mut bad = [libc::pollfd {
            fd: 9999,
            events: libc::POLLIN,
            revents: 0,
        }];
        eq("bad fd", poll(&mut bad, 0)?, 1)?;
        eq("POLLNVAL", bad[0].revents, libc::POLLNVAL)?;
        close(rd);
        Ok(())
    });
    r.check("bad-fd-ebadf", || {
        let mut b = [0u8; 4];
        // SAFETY: valid buffer; the fd is not open.
        let n = unsafe { libc::read(9999, b.as_mut_ptr().cast(), 4) };
        expect_errno("read(9999)", n as i64, libc::EBADF)?;
        // SAFETY: as above.
        let n = unsafe { libc::write(-1, b.as_ptr().cast(), 4) };
        expect_errno("write(-1)", n as i64, libc::EBADF)?;
        // SAFETY: closes nothing: 9999 is not open.
        let closed = unsafe { libc::close(9999) };
        expect_errno("close(9999)", closed as i64, libc::EBADF)?;
        expect_errno("fstat(9999)", fstat(9999).map_or(-1, |_| 0), libc::EBADF)?;
        // SAFETY: no memory.
        let d2 = unsafe { libc::dup2(9999, 5) };
        expect_errno("dup2(9999)", d2 as i64, libc::EBADF)?;
        expect_errno(
            "fcntl(9999)",
            fcntl(9999, libc::F_GETFD, 0).map_or(-1, |_| 0),
            libc::EBADF,
        )?;
        // SAFETY: no memory.
        let s = unsafe { libc::lseek(9999, 0, libc::SEEK_SET) };
        expect_errno("lseek(9999)", s, libc::EBADF)
    });
    r.check("write-to-read-only-ebadf", || {
        let fd = open(&d("plain"), libc::O_RDONLY, 0)?;
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(fd, b"x".as_ptr().cast(), 1) };
        close(fd);
        expect_errno("write on O_RDONLY", n as i64, libc::EBADF)
    });
    r.check("bad-pointer-efault", || efault(&d("plain")));
    r.check("ftruncate", || {
        let fd = open(&d("tr"), libc::O_CREAT | libc::O_RDWR, 0o644)?;
        write(fd, b"abcdef")?;
        // SAFETY: no memory involved.
        expect_ok("ftruncate(10)", (unsafe { libc::ftruncate(fd, 10) }) as i64)?;
        eq("grown size", fstat(fd)?.st_size, 10)?;
        let mut b = [9u8; 4];
        // SAFETY: valid buffer.
        let n = unsafe { libc::pread(fd, b.as_mut_ptr().cast(), 4, 6) };
        eq("grown part reads zeros", (n, b), (4, [0u8; 4]))?;
        // SAFETY: no memory involved.
        expect_ok("ftruncate(3)", (unsafe { libc::ftruncate(fd, 3) }) as i64)?;
        eq("shrunk size", fstat(fd)?.st_size, 3)?;
        // SAFETY: no memory involved; a negative length is refused.
        let neg = unsafe { libc::ftruncate(fd, -1) };
        close(fd);
        expect_errno("ftruncate(-1)", neg as i64, libc::EINVAL)
    });
    r.check("access", || {
        let p = c(&d("plain"));
        // SAFETY: NUL-terminated path.
        let ok = unsafe { libc::access(p.as_ptr(), libc::F_OK) };
        expect_ok("access(F_OK)", ok as i64)?;
        let m = c(&d("missing"));
        // SAFETY: as above.
        let ret = unsafe { libc::access(m.as_ptr(), libc::F_OK) };
        expect_errno("access(missing)", ret as i64, libc::ENOENT)
    });
    r.check("readv-writev", || {
        let fd = open(&d("iov"), libc::O_CREAT | libc::O_RDWR, 0o644)?;
        let (a, b) = (b"hello ".to_vec(), b"world".to_vec());
        let iov = [
            libc::iovec {
                iov_base: a.as_ptr() as *mut _,
                iov_len: a.len(),
            },
            libc::iovec {
                iov_base: b.as_ptr() as *mut _,
                iov_len: b.len(),
            },
        ];
        // SAFETY: both iovecs name live buffers.
        let n = unsafe { libc::writev(fd, iov.as_ptr(), 2) };
        eq("writev", expect_ok("writev", n as i64)?, 11)?;
        lseek(fd, 0, libc::SEEK_SET)?;
        let (mut x, mut y) = ([0u8; 4], [0u8; 16]);
        let iov = [
            libc::iovec {
                iov_base: x.as_mut_ptr().cast(),
                iov_len: 4,
            },
            libc::iovec {
                iov_base: y.as_mut_ptr().cast(),
                iov_len: 16,
            },
        ];
        // SAFETY: both iovecs name live writable buffers.
        let n = unsafe { libc::readv(fd, iov.as_ptr(), 2) };
        close(fd);
        eq("readv", expect_ok("readv", n as i64)?, 11)?;
        eq("first", &x, b"hell")?;
        eq("second", &y[..7], b"o world")
    });
    r.check("openat-dirfd", || {
        let dfd = open(&dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        let name = c("plain");
        // SAFETY: NUL-terminated relative path.
        let fd = unsafe { libc::openat(dfd, name.as_ptr(), libc::O_RDONLY) };
        let fd = expect_ok("openat(dirfd, plain)", fd as i64)? as i32;
        // SAFETY: as above; a file is no directory.
        let bad = unsafe { libc::openat(fd, name.as_ptr(), libc::O_RDONLY) };
        close(fd);
        close(dfd);
        expect_errno("openat(file fd, ...)", bad as i64, libc::ENOTDIR)?;
        // SAFETY: as above; the fd is not open.
        let ebadf = unsafe { libc::openat(9999, name.as_ptr(), libc::O_RDONLY) };
        expect_errno("openat(9999, ...)", ebadf as i64, libc::EBADF)
    });
    r.check("read-directory-eisdir", || {
        let fd = open(&dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        let mut b = [0u8; 8];
        // SAFETY: valid buffer.
        let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 8) };
        close(fd);
        expect_errno("read(dir)", n as i64, libc::EISDIR)
    });
    r.check("rename-dir-over-nonempty", || {
        expect_ok("mkdir", mkdir(&d("ra")))?;
        expect_ok("mkdir", mkdir(&d("rb")))?;
        std::fs::write(d("rb/f"), b"").map_err(|e| e.to_string())?;
        let r1 = two(libc::rename, &d("ra"), &d("rb"));
        expect_errno("rename(dir, non-empty dir)", r1, libc::ENOTEMPTY)?;
        let r2 = two(libc::rename, &d("ra"), &d("ra/sub"));
        expect_errno("rename(dir, into itself)", r2, libc::EINVAL)
    });
    r.check("chmod-fchmod", || {
        std::fs::write(d("cm"), b"").map_err(|e| e.to_string())?;
        let p = c(&d("cm"));
        // SAFETY: NUL-terminated path.
        expect_ok("chmod", (unsafe { libc::chmod(p.as_ptr(), 0o604) }) as i64)?;
        eq("mode", stat(&d("cm"), true)?.st_mode & 0o7777, 0o604)?;
        let fd = open(&d("cm"), libc::O_RDONLY, 0)?;
        // SAFETY: no memory involved.
        let r = unsafe { libc::fchmod(fd, 0o1750) };
        close(fd);
        expect_ok("fchmod", r as i64)?;
        eq("mode", stat(&d("cm"), true)?.st_mode & 0o7777, 0o1750)
    });
    r.check("utimensat", || {
        std::fs::write(d("ut"), b"").map_err(|e| e.to_string())?;
        let p = c(&d("ut"));
        let times = [
            libc::timespec {
                tv_sec: 1_000_000,
                tv_nsec: 5,
            },
            libc::timespec {
                tv_sec: 2_000_000,
                tv_nsec: 7,
            },
        ];
        // SAFETY: NUL-terminated path and two timespecs.
        let r = unsafe { libc::utimensat(libc::AT_FDCWD, p.as_ptr(), times.as_ptr(), 0) };
        expect_ok("utimensat", r as i64)?;
        let st = stat(&d("ut"), true)?;
        eq("atime", (st.st_atime, st.st_atime_nsec), (1_000_000, 5))?;
        eq("mtime", (st.st_mtime, st.st_mtime_nsec), (2_000_000, 7))
    });
    r.check("dev-null-zero-full", || {
        let null = open("/dev/null", libc::O_RDWR, 0)?;
        let w = write(null, b"gone");
        let rd = read(null, 4);
        close(null);
        eq("write /dev/null", w?, 4)?;
        eq("read /dev/null", rd?, Vec::new())?;
        let zero = open("/dev/zero", libc::O_RDONLY, 0)?;
        let z = read(zero, 8);
        close(zero);
        eq("read /dev/zero", z?, vec![0u8; 8])?;
        let full = open("/dev/full", libc::O_WRONLY, 0)?;
        // SAFETY: valid buffer.
        let n = unsafe { libc::write(full, b"x".as_ptr().cast(), 1) };
        close(full);
        expect_errno("write /dev/full", n as i64, libc::ENOSPC)
    });
    r.check("lowest-free-fd", || {
        let a = open(&d("plain"), libc::O_RDONLY, 0)?;
        let b = open(&d("plain"), libc::O_RDONLY, 0)?;
        close(a);
        let again = open(&d("plain"), libc::O_RDONLY, 0)?;
        // SAFETY: no memory involved.
        let dup = unsafe { libc::dup(b) };
        close(again);
        close(b);
        close(dup);
        eq("reused fd", again, a)?;
        if dup <= b {
            return Err(format!("dup gave {dup}, not above {b}"));
        }
        Ok(())
    });
    r.check("zero-length-io", || {
        let fd = open(&d("plain"), libc::O_RDWR, 0)?;
        let w = write(fd, b"");
        let rd = read(fd, 0);
        close(fd);
        eq("write 0", w?, 0)?;
        eq("read 0", rd?, Vec::new())
    });
    r.check("path-errors", || {
        open_err("", libc::O_RDONLY, libc::ENOENT)?;
        let long = format!("{dir}/{}", "n".repeat(300));
        open_err(&long, libc::O_RDONLY, libc::ENAMETOOLONG)?;
        expect_errno("mkdir over a file", mkdir(&d("plain")), libc::EEXIST)?;
        expect_ok("symlink", two(libc::symlink, "loop-b", &d("loop-a")))?;
        expect_ok("symlink", two(libc::symlink, "loop-a", &d("loop-b")))?;
        open_err(&d("loop-a"), libc::O_RDONLY, libc::ELOOP)
    });
    r.check("rename-link-dir-errors", || {
        expect_ok("mkdir", mkdir(&d("rd")))?;
        let r1 = two(libc::rename, &d("plain"), &d("rd"));
        expect_errno("rename(file, dir)", r1, libc::EISDIR)?;
        let r2 = two(libc::rename, &d("rd"), &d("plain"));
        expect_errno("rename(dir, file)", r2, libc::ENOTDIR)?;
        let l = two(libc::link, &d("rd"), &d("rd-link"));
        expect_errno("link(dir)", l, libc::EPERM)
    });
    r.check("getdents64-small-buffer-einval", || {
        let fd = open(&dir, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        let mut buf = [0u8; 8];
        // SAFETY: valid buffer, too small for any entry.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        close(fd);
        expect_errno("getdents64(8 bytes)", n, libc::EINVAL)
    });
    r.check("pipe-full-eagain", || {
        let mut fds = [0i32; 2];
        // SAFETY: valid out-array.
        let ret = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) };
        expect_ok("pipe2", ret as i64)?;
        let chunk = [7u8; 4096];
        let mut total = 0usize;
        let res = loop {
            // SAFETY: valid buffer.
            let n = unsafe { libc::write(fds[1], chunk.as_ptr().cast(), chunk.len()) };
            if n < 0 {
                break expect_errno("write to a full pipe", n as i64, libc::EAGAIN);
            }
            total += n as usize;
            if total > 1 << 24 {
                break Err("pipe accepted 16 MiB without EAGAIN".to_string());
            }
        };
        close(fds[0]);
        close(fds[1]);
        res?;
        if total < 4096 {
            return Err(format!("pipe held only {total} bytes"));
        }
        Ok(())
    });
    r.check("poll-bad-pointer-efault", || {
        // A zero timeout, so a kernel that skipped the check returns rather than blocks.
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: the kernel must refuse the fds pointer; `zero` is a valid timespec.
        let n = unsafe { libc::syscall(libc::SYS_ppoll, KERNEL_ADDR, 1, &zero, 0, 0) };
        expect_errno("ppoll(kernel pointer)", n, libc::EFAULT)
    });
    r.check("cloexec-closed-on-exec", || {
        let keep = open(&d("plain"), libc::O_RDONLY, 0)?;
        let gone = open(&d("plain"), libc::O_RDONLY | libc::O_CLOEXEC, 0)?;
        let me = std::env::args().next().unwrap_or_default();
        let out = std::process::Command::new(&me)
            .args(["--fd-open", &keep.to_string(), &gone.to_string()])
            .output()
            .map_err(|e| format!("running {me}: {e}"));
        close(keep);
        close(gone);
        let out = out?;
        eq(
            "child's view of (plain, O_CLOEXEC) fds",
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            "open closed".to_string(),
        )
    });
    r.check("proc-self-fd", || procfd::links(&dir));
    mount::checks(&mut r, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    r.finish()
}

/// Raw syscalls with pointers that are unmapped or in the kernel half: EFAULT, never a crash.
fn efault(file: &str) -> Check {
    let fd = open(file, libc::O_RDWR, 0)?;
    let raw = |nr: libc::c_long, a: usize, b: usize, c: usize, d: usize| -> i64 {
        // SAFETY: the kernel must refuse these pointers; no user memory of ours is named.
        unsafe { libc::syscall(nr, a, b, c, d) }
    };
    let fdu = fd as usize;
    let res = (|| {
        for addr in [UNMAPPED_ADDR, KERNEL_ADDR] {
            expect_errno(
                &format!("write(buf {addr:#x})"),
                raw(libc::SYS_write, fdu, addr, 4, 0),
                libc::EFAULT,
            )?;
            lseek(fd, 0, libc::SEEK_SET)?;
            expect_errno(
                &format!("read(buf {addr:#x})"),
                raw(libc::SYS_read, fdu, addr, 1, 0),
                libc::EFAULT,
            )?;
            expect_errno(
                &format!("openat(path {addr:#x})"),
                raw(libc::SYS_openat, libc::AT_FDCWD as usize, addr, 0, 0),
                libc::EFAULT,
            )?;
            expect_errno(
                &format!("fstat(buf {addr:#x})"),
                raw(libc::SYS_fstat, fdu, addr, 0, 0),
                libc::EFAULT,
            )?;
            expect_errno(
                &format!("pipe2(fds {addr:#x})"),
                raw(libc::SYS_pipe2, addr, 0, 0, 0),
                libc::EFAULT,
            )?;
            expect_errno(
                &format!("clock_gettime(tp {addr:#x})"),
                raw(
                    libc::SYS_clock_gettime,
                    libc::CLOCK_MONOTONIC as usize,
                    addr,
                    0,
                    0,
                ),
                libc::EFAULT,
            )?;
            expect_errno(
                &format!("uname({addr:#x})"),
                raw(libc::SYS_uname, addr, 0, 0, 0),
                libc::EFAULT,
            )?;
            expect_errno(
                &format!("getcwd({addr:#x})"),
                raw(libc::SYS_getcwd, addr, 64, 0, 0),
                libc::EFAULT,
            )?;
        }
        Ok(())
    })();
    close(fd);
    res
}
