//! `/proc`, generated from a [`ProcSource`] on every read, like Linux's seq files.
//!
//! The root lists one directory per process plus `self` and the system files; each process
//! directory has `stat`, `status`, `statm`, `cmdline`, `comm`, `environ` and the `cwd`/`exe`
//! links. Inodes are cached per pid so that an inode keeps its identity while the process
//! lives (the VFS compares inodes by address).
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod files;
mod source;

pub use source::{MemInfo, ProcInfo, ProcSource};

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use files::{Generated, PidFile, SysFile, render_pid, render_sys};
use spin::Mutex;
use syscall::{Errno, Result};
use vfs::types::{S_IFDIR, S_IFLNK, S_IFREG};
use vfs::{DirEntry, FileSystem, FileType, Inode, Metadata, SetAttr, StatFs};

/// `PROC_SUPER_MAGIC`.
const PROC_MAGIC: u64 = 0x9fa0;
const ROOT_INO: u64 = 1;

/// The procfs filesystem.
pub struct ProcFs {
    root: Arc<Root>,
}

impl ProcFs {
    pub fn new(source: Arc<dyn ProcSource>, dev: u64) -> Arc<ProcFs> {
        Arc::new_cyclic(|me: &Weak<ProcFs>| {
            let _ = me;
            ProcFs {
                root: Arc::new_cyclic(|root| Root {
                    source,
                    dev,
                    me: root.clone(),
                    pids: Mutex::new(BTreeMap::new()),
                }),
            }
        })
    }
}

impl FileSystem for ProcFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }
    fn statfs(&self) -> StatFs {
        StatFs {
            fs_type: PROC_MAGIC,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..Default::default()
        }
    }
    fn fs_type(&self) -> &'static str {
        "proc"
    }
}

fn meta(dev: u64, ino: u64, mode: u32, size: u64, nlink: u32) -> Metadata {
    Metadata {
        dev,
        ino,
        mode,
        nlink,
        size,
        blksize: 1024,
        ..Default::default()
    }
}

/// Inode numbers: the root is 1, system files 2.., a pid directory `pid << 8`, its entries
/// `pid << 8 | n`.
const fn pid_ino(pid: u32, n: u64) -> u64 {
    ((pid as u64) << 8) | n
}

struct Root {
    source: Arc<dyn ProcSource>,
    dev: u64,
    me: Weak<Root>,
    pids: Mutex<BTreeMap<u32, Arc<PidDir>>>,
}

impl Root {
    fn pid_dir(&self, pid: u32) -> Option<Arc<PidDir>> {
        self.source.process(pid)?;
        let mut pids = self.pids.lock();
        // Forget processes that are gone.
        pids.retain(|p, _| self.source.process(*p).is_some());
        let dir = pids.entry(pid).or_insert_with(|| {
            Arc::new(PidDir {
                pid,
                source: self.source.clone(),
                dev: self.dev,
                root: self.me.clone(),
            })
        });
        Some(dir.clone())
    }
}

impl Inode for Root {
    fn metadata(&self) -> Metadata {
        meta(self.dev, ROOT_INO, S_IFDIR | 0o555, 0, 2)
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if name == b".." || name == b"." {
            return self
                .me
                .upgrade()
                .map(|r| r as Arc<dyn Inode>)
                .ok_or(Errno::ENOENT);
        }
        if name == b"self" || name == b"thread-self" {
            let pid = self.source.current_pid();
            let target = alloc::format!("{pid}").into_bytes();
            return Ok(Arc::new(Link {
                dev: self.dev,
                ino: 2 + SysFile::ALL.len() as u64,
                target,
            }));
        }
        if let Some(f) = SysFile::ALL.iter().find(|f| f.name().as_bytes() == name) {
            return Ok(Arc::new(Generated::sys(*f, self.source.clone(), self.dev)));
        }
        let pid = core::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or(Errno::ENOENT)?;
        self.pid_dir(pid)
            .map(|d| d as Arc<dyn Inode>)
            .ok_or(Errno::ENOENT)
    }
    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        // Cookies: 0 ".", 1 "..", 2 "self", 3.. system files, then 1000 + pid.
        let mut entries: Vec<(u64, u64, FileType, Vec<u8>)> = alloc::vec![
            (0, ROOT_INO, FileType::Directory, b".".to_vec()),
            (1, ROOT_INO, FileType::Directory, b"..".to_vec()),
            (
                2,
                2 + SysFile::ALL.len() as u64,
                FileType::Symlink,
                b"self".to_vec()
            ),
        ];
        for (i, f) in SysFile::ALL.iter().enumerate() {
            entries.push((
                3 + i as u64,
                2 + i as u64,
                FileType::Regular,
                f.name().as_bytes().to_vec(),
            ));
        }
        for pid in self.source.pids() {
            entries.push((
                1000 + pid as u64,
                pid_ino(pid, 0),
                FileType::Directory,
                alloc::format!("{pid}").into_bytes(),
            ));
        }
        for (c, ino, kind, name) in entries.iter().filter(|e| e.0 >= cookie) {
            if !sink(&DirEntry {
                ino: *ino,
                kind: *kind,
                name,
                next: c + 1,
            }) {
                break;
            }
        }
        Ok(())
    }
}

struct PidDir {
    pid: u32,
    source: Arc<dyn ProcSource>,
    dev: u64,
    root: Weak<Root>,
}

impl Inode for PidDir {
    fn metadata(&self) -> Metadata {
        meta(self.dev, pid_ino(self.pid, 0), S_IFDIR | 0o555, 0, 2)
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        if name == b".." {
            return self
                .root
                .upgrade()
                .map(|r| r as Arc<dyn Inode>)
                .ok_or(Errno::ENOENT);
        }
        let info = self.source.process(self.pid).ok_or(Errno::ENOENT)?;
        if let Some((i, f)) = PidFile::ALL
            .iter()
            .enumerate()
            .find(|(_, f)| f.name().as_bytes() == name)
        {
            return match f {
                PidFile::Cwd => Ok(Arc::new(Link {
                    dev: self.dev,
                    ino: pid_ino(self.pid, 1 + i as u64),
                    target: info.cwd,
                })),
                PidFile::Exe => Ok(Arc::new(Link {
                    dev: self.dev,
                    ino: pid_ino(self.pid, 1 + i as u64),
                    target: info.exe,
                })),
                _ => Ok(Arc::new(Generated::pid(
                    *f,
                    self.pid,
                    pid_ino(self.pid, 1 + i as u64),
                    self.source.clone(),
                    self.dev,
                ))),
            };
        }
        Err(Errno::ENOENT)
    }
    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        self.source.process(self.pid).ok_or(Errno::ENOENT)?;
        let dots: [(&[u8], FileType); 2] =
            [(b".", FileType::Directory), (b"..", FileType::Directory)];
        let all = dots.into_iter().chain(PidFile::ALL.iter().map(|f| {
            let kind = if matches!(f, PidFile::Cwd | PidFile::Exe) {
                FileType::Symlink
            } else {
                FileType::Regular
            };
            (f.name().as_bytes(), kind)
        }));
        for (c, (name, kind)) in all.enumerate().skip(cookie as usize) {
            if !sink(&DirEntry {
                ino: pid_ino(self.pid, c as u64),
                kind,
                name,
                next: c as u64 + 1,
            }) {
                break;
            }
        }
        Ok(())
    }
}

/// A symlink with a fixed target (`self`, `cwd`, `exe`).
struct Link {
    dev: u64,
    ino: u64,
    target: Vec<u8>,
}

impl Inode for Link {
    fn metadata(&self) -> Metadata {
        meta(
            self.dev,
            self.ino,
            S_IFLNK | 0o777,
            self.target.len() as u64,
            1,
        )
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn readlink(&self) -> Result<Vec<u8>> {
        Ok(self.target.clone())
    }
}

impl Inode for Generated {
    fn metadata(&self) -> Metadata {
        // Like Linux, generated files report size 0; readers read until EOF.
        meta(self.dev, self.ino, S_IFREG | 0o444, 0, 1)
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let text = match self.what {
            files::What::Sys(f) => render_sys(f, &*self.source),
            files::What::Pid(f, pid) => render_pid(f, pid, &*self.source).ok_or(Errno::ESRCH)?,
        };
        let start = (offset as usize).min(text.len());
        let n = buf.len().min(text.len() - start);
        buf[..n].copy_from_slice(&text[start..start + n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
