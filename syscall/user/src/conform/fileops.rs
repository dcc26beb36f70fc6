//! Thin wrappers over the file syscalls for `conform-files`: each turns a libc failure into
//! a readable `Err` naming the errno.

use crate::util::{Check, c, expect_errno, expect_ok};

pub fn open(path: &str, flags: i32, mode: u32) -> Result<i32, String> {
    let p = c(path);
    // SAFETY: NUL-terminated path.
    let fd = unsafe { libc::open(p.as_ptr(), flags, mode) };
    expect_ok(&format!("open({path})"), fd as i64).map(|fd| fd as i32)
}

pub fn open_err(path: &str, flags: i32, want: i32) -> Check {
    let p = c(path);
    // SAFETY: NUL-terminated path.
    let fd = unsafe { libc::open(p.as_ptr(), flags, 0o644) };
    expect_errno(&format!("open({path})"), fd as i64, want)
}

pub fn write(fd: i32, data: &[u8]) -> Result<usize, String> {
    // SAFETY: `data` is a valid buffer of its length.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    expect_ok("write", n as i64).map(|n| n as usize)
}

pub fn read(fd: i32, len: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` is writable for `len` bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) };
    let n = expect_ok("read", n as i64)? as usize;
    buf.truncate(n);
    Ok(buf)
}

pub fn close(fd: i32) {
    // SAFETY: closes a descriptor this check opened.
    unsafe { libc::close(fd) };
}

pub fn stat(path: &str, follow: bool) -> Result<libc::stat, String> {
    let p = c(path);
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: NUL-terminated path and a valid out-pointer.
    let ret = unsafe {
        if follow {
            libc::stat(p.as_ptr(), &mut st)
        } else {
            libc::lstat(p.as_ptr(), &mut st)
        }
    };
    expect_ok(&format!("stat({path})"), ret as i64)?;
    Ok(st)
}

pub fn fstat(fd: i32) -> Result<libc::stat, String> {
    // SAFETY: all-zero is a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    let ret = unsafe { libc::fstat(fd, &mut st) };
    expect_ok("fstat", ret as i64)?;
    Ok(st)
}

pub fn lseek(fd: i32, off: i64, whence: i32) -> Result<i64, String> {
    // SAFETY: no memory is involved.
    let ret = unsafe { libc::lseek(fd, off, whence) };
    expect_ok("lseek", ret)
}

/// A path call with two paths (rename, link, symlink).
pub fn two(
    f: unsafe extern "C" fn(*const libc::c_char, *const libc::c_char) -> libc::c_int,
    a: &str,
    b: &str,
) -> i64 {
    let (a, b) = (c(a), c(b));
    // SAFETY: both NUL-terminated; `f` is one of libc's two-path calls.
    (unsafe { f(a.as_ptr(), b.as_ptr()) }) as i64
}

pub fn one(f: unsafe extern "C" fn(*const libc::c_char) -> libc::c_int, a: &str) -> i64 {
    let a = c(a);
    // SAFETY: NUL-terminated; `f` is one of libc's one-path calls.
    (unsafe { f(a.as_ptr()) }) as i64
}

pub fn mkdir(path: &str) -> i64 {
    let p = c(path);
    // SAFETY: NUL-terminated path.
    (unsafe { libc::mkdir(p.as_ptr(), 0o755) }) as i64
}

/// The names in a directory through raw getdents64, with their d_type.
pub fn dents(path: &str) -> Result<Vec<(String, u8)>, String> {
    let fd = open(path, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 512];
    loop {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        let n = expect_ok("getdents64", n)? as usize;
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at < n {
            // struct linux_dirent64: u64 ino, i64 off, u16 reclen, u8 type, name.
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let kind = buf[at + 18];
            let name = &buf[at + 19..at + reclen];
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            out.push((String::from_utf8_lossy(&name[..end]).into_owned(), kind));
            if reclen == 0 {
                return Err("dirent with reclen 0".into());
            }
            at += reclen;
        }
    }
    close(fd);
    out.sort();
    Ok(out)
}

pub fn pipe() -> Result<(i32, i32), String> {
    let mut fds = [0i32; 2];
    // SAFETY: valid out-array.
    let ret = unsafe { libc::pipe(fds.as_mut_ptr()) };
    expect_ok("pipe", ret as i64)?;
    Ok((fds[0], fds[1]))
}

pub fn fcntl(fd: i32, cmd: i32, arg: i32) -> Result<i32, String> {
    // SAFETY: the commands used take an integer argument.
    let ret = unsafe { libc::fcntl(fd, cmd, arg) };
    expect_ok("fcntl", ret as i64).map(|v| v as i32)
}

pub fn poll(fds: &mut [libc::pollfd], timeout: i32) -> Result<i32, String> {
    // SAFETY: `fds` is a valid array of its length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
    expect_ok("poll", n as i64).map(|v| v as i32)
}
