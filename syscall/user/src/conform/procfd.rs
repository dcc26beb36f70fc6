//! `/proc/self/fd` checks for conform-files: the links' text (a regular file's path,
//! `pipe:[ino]`, `/dev/null`) and opening through them (the same file again; for a pipe, the
//! same pipe).

use crate::fileops::{close, fstat, open, pipe, read, write};
use crate::util::{Check, c, eq, expect_ok, real_dir};

/// `readlink(path)` as bytes.
fn readlink(path: &str) -> Result<Vec<u8>, String> {
    let p = c(path);
    let mut buf = [0u8; 512];
    // SAFETY: a NUL-terminated path and a buffer of the length given.
    let n = unsafe { libc::readlink(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = expect_ok(&format!("readlink {path}"), n as i64)? as usize;
    Ok(buf[..n].to_vec())
}

/// `files/proc-self-fd`: `dir` is the scratch directory.
pub fn links(dir: &str) -> Check {
    let name = format!("{}/procfd", real_dir(dir)?);
    std::fs::write(&name, b"hello").map_err(|e| e.to_string())?;
    let fd = open(&name, libc::O_RDONLY, 0)?;
    let (r, w) = match pipe() {
        Ok(p) => p,
        Err(e) => {
            close(fd);
            return Err(e);
        }
    };
    let null = open("/dev/null", libc::O_WRONLY, 0);
    let res = (|| {
        let null = null.clone()?;
        eq(
            "regular file",
            readlink(&format!("/proc/self/fd/{fd}"))?,
            name.clone().into_bytes(),
        )?;
        let ino = fstat(r)?.st_ino;
        eq(
            "pipe read end",
            readlink(&format!("/proc/self/fd/{r}"))?,
            format!("pipe:[{ino}]").into_bytes(),
        )?;
        eq(
            "pipe write end",
            readlink(&format!("/proc/self/fd/{w}"))?,
            format!("pipe:[{ino}]").into_bytes(),
        )?;
        eq(
            "/dev/null",
            readlink(&format!("/proc/self/fd/{null}"))?,
            b"/dev/null".to_vec(),
        )?;
        // Opening the link opens the file again: its own offset, the same inode.
        let again = open(&format!("/proc/self/fd/{fd}"), libc::O_RDONLY, 0)?;
        let same = fstat(again).map(|s| s.st_ino) == fstat(fd).map(|s| s.st_ino);
        let text = read(again, 16);
        close(again);
        eq("reopened file's inode is the file's", same, true)?;
        eq("reopened file reads from 0", text?, b"hello".to_vec())?;
        // A pipe: the new fd is another end of the same pipe.
        let end = open(&format!("/proc/self/fd/{w}"), libc::O_WRONLY, 0)?;
        let st = fstat(end);
        let wrote = write(end, b"via proc");
        close(end);
        eq("reopened pipe's inode", st?.st_ino, ino)?;
        eq("write through the reopened end", wrote?, 8)?;
        eq("pipe read", read(r, 16)?, b"via proc".to_vec())
    })();
    close(fd);
    close(r);
    close(w);
    if let Ok(n) = null {
        close(n);
    }
    let _ = std::fs::remove_file(&name);
    res
}
