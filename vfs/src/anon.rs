//! Anonymous inodes: what `fstat` sees for objects outside any directory (pipes).

use crate::inode::Inode;
use crate::types::{Metadata, S_IFIFO, SetAttr, SetTime};
use alloc::sync::Arc;
use core::any::Any;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use syscall::Result;

static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// An inode with metadata only (pipefs-like: `S_IFIFO | 0600`, owned by root).
pub struct AnonInode {
    meta: Mutex<Metadata>,
}

impl AnonInode {
    /// An anonymous inode with `mode`.
    pub fn new(mode: u32) -> AnonInode {
        AnonInode {
            meta: Mutex::new(Metadata {
                ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
                mode,
                nlink: 1,
                blksize: 4096,
                ..Metadata::default()
            }),
        }
    }

    /// The inode of a `pipe2` pipe.
    pub fn pipe() -> AnonInode {
        AnonInode::new(S_IFIFO | 0o600)
    }
}

/// `set_attr` for an inode whose metadata lives only in memory and which has no size to set
/// (anonymous inodes, devpts nodes): `EINVAL` for a size, else the permission bits, owner,
/// group and given times (`SetTime::Now` keeps the old time: there is no clock here).
pub(crate) fn set_attr_in_memory(meta: &mut Metadata, attr: &SetAttr) -> Result<()> {
    if attr.size.is_some() {
        return Err(syscall::Errno::EINVAL);
    }
    if let Some(mode) = attr.mode {
        meta.mode = (meta.mode & !0o7777) | (mode & 0o7777);
    }
    if let Some(uid) = attr.uid {
        meta.uid = uid;
    }
    if let Some(gid) = attr.gid {
        meta.gid = gid;
    }
    if let Some(SetTime::At(t)) = attr.atime {
        meta.atime = t;
    }
    if let Some(SetTime::At(t)) = attr.mtime {
        meta.mtime = t;
    }
    Ok(())
}

impl Inode for AnonInode {
    fn metadata(&self) -> Metadata {
        *self.meta.lock()
    }

    fn set_attr(&self, attr: &SetAttr) -> Result<()> {
        set_attr_in_memory(&mut self.meta.lock(), attr)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}
