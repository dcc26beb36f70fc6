//! The filesystem types `mount -t` knows (`vfs::mount::FsType`): tmpfs (a new instance per
//! mount, with `size=`/`nr_inodes=`/`mode=`/`uid=`/`gid=`), and the single shared instances
//! of devtmpfs, devpts and proc (a second mount shows the same nodes, as on Linux, where
//! devtmpfs has one superblock and devpts/proc one per namespace).

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use syscall::{Errno, Result};
use vfs::mount::{FsType, options};
use vfs::{Clock, FileSystem, PageProvider};

/// Anonymous device minors for new tmpfs instances (the boot filesystems use 1..=4).
static NEXT_MINOR: AtomicU32 = AtomicU32::new(16);

/// RAM in pages (for tmpfs's defaults and `size=N%`).
fn total_pages() -> u64 {
    crate::memory::FRAMES.lock().total_frames()
}

/// `mount -t tmpfs`.
pub struct Tmpfs {
    pub clock: Arc<dyn Clock>,
    pub pages: Arc<dyn PageProvider>,
}

impl FsType for Tmpfs {
    fn name(&self) -> &'static str {
        "tmpfs"
    }

    fn mount(&self, _source: &[u8], data: &[u8]) -> Result<(Arc<dyn FileSystem>, Vec<u8>)> {
        let total = total_pages();
        let o = tmpfs::options::parse(data, total)?;
        let (def_pages, def_inodes) = tmpfs::options::defaults(total);
        let max_pages = o.max_pages.unwrap_or(def_pages);
        let max_inodes = o.max_inodes.unwrap_or(def_inodes);
        let minor = NEXT_MINOR.fetch_add(1, Ordering::Relaxed);
        let unlimited = |n: u64| if n == 0 { u64::MAX / 2 } else { n };
        let fs = tmpfs::TmpFs::build(
            self.clock.clone(),
            vfs::types::makedev(0, minor),
            unlimited(max_pages),
            unlimited(max_inodes),
            "tmpfs",
            self.pages.clone(),
        );
        let mode = o.mode.unwrap_or(0o1777);
        let (uid, gid) = (o.uid.unwrap_or(0), o.gid.unwrap_or(0));
        vfs::Inode::set_attr(
            &**fs.root_inode(),
            &vfs::SetAttr {
                mode: Some(mode),
                uid: Some(uid),
                gid: Some(gid),
                ..vfs::SetAttr::default()
            },
        )?;
        let shown = tmpfs::options::show(total, max_pages, max_inodes, mode, uid, gid);
        Ok((fs, shown))
    }

    fn remount(&self, _fs: &Arc<dyn FileSystem>, data: &[u8]) -> Result<Option<Vec<u8>>> {
        // Checked like Linux; the limits stay those of the first mount.
        tmpfs::options::parse(data, total_pages()).map(|_| None)
    }
}

/// A type with one shared instance, whose options are checked against `known` (keys that
/// take a value end in `=`).
pub struct Shared {
    pub name: &'static str,
    pub fs: Arc<dyn FileSystem>,
    pub known: &'static [&'static str],
    pub shown: &'static [u8],
}

impl Shared {
    fn check(&self, data: &[u8]) -> Result<()> {
        if self.name == "devtmpfs" {
            // devtmpfs is a tmpfs: it takes (and here ignores) tmpfs's options.
            return tmpfs::options::parse(data, total_pages()).map(|_| ());
        }
        for (key, value) in options(data) {
            let ok = self.known.iter().any(|k| match k.strip_suffix('=') {
                Some(k) => k.as_bytes() == key && value.is_some(),
                None => k.as_bytes() == key && value.is_none(),
            });
            if !ok {
                return Err(Errno::EINVAL);
            }
        }
        Ok(())
    }
}

impl FsType for Shared {
    fn name(&self) -> &'static str {
        self.name
    }

    fn mount(&self, _source: &[u8], data: &[u8]) -> Result<(Arc<dyn FileSystem>, Vec<u8>)> {
        self.check(data)?;
        Ok((self.fs.clone(), self.shown.to_vec()))
    }

    fn remount(&self, _fs: &Arc<dyn FileSystem>, data: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check(data).map(|_| None)
    }
}

/// devpts's options (`fs/devpts/inode.c`).
pub const DEVPTS_OPTIONS: &[&str] = &["uid=", "gid=", "mode=", "ptmxmode=", "newinstance", "max="];
/// proc's options (`fs/proc/root.c`).
pub const PROC_OPTIONS: &[&str] = &["hidepid=", "gid=", "subset="];
