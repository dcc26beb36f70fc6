//! devtmpfs: `/dev` as a tmpfs whose character device nodes the kernel registers with
//! [`DevFs::register`] (node + driver in the VFS's [`DeviceRegistry`], so a node made with
//! `mknod` elsewhere reaches the same driver). Ships the memory devices of Linux's
//! `drivers/char/mem.c` and `random.c`: `null`, `zero`, `full`, `random`, `urandom`.
//! ttys and the console are registered by the kernel the same way.

#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod mem;
pub mod random;

use alloc::sync::Arc;
use syscall::{Errno, Result};
use tmpfs::TmpFs;
use vfs::types::{S_IFCHR, S_IFDIR, StatFs, makedev};
use vfs::{CharDevice, Clock, DeviceRegistry, FileSystem, Inode, NewNode, SetAttr};

pub use random::{Csprng, EntropySource};

/// Major number of the memory devices.
pub const MEM_MAJOR: u32 = 1;

/// A devtmpfs instance.
pub struct DevFs {
    fs: Arc<TmpFs>,
    registry: Arc<DeviceRegistry>,
}

impl DevFs {
    /// An empty `/dev` (root mode `0o755`) registering drivers in `registry`.
    pub fn new(clock: Arc<dyn Clock>, dev: u64, registry: Arc<DeviceRegistry>) -> Arc<DevFs> {
        let fs = TmpFs::with_limits(clock, dev, u64::MAX / 2, u64::MAX / 2, "devtmpfs");
        let _ = fs.root().set_attr(&SetAttr {
            mode: Some(0o755),
            ..SetAttr::default()
        });
        Arc::new(DevFs { fs, registry })
    }

    /// The registry drivers go to.
    pub fn registry(&self) -> &Arc<DeviceRegistry> {
        &self.registry
    }

    /// Registers `device` as `makedev(major, minor)` and creates its node at `path` (relative
    /// to `/dev`, parent directories created, e.g. `pts/0`) with permission bits `mode`,
    /// owned by root. `EBUSY` if the number is taken, `EEXIST` if the name is.
    pub fn register(
        &self,
        path: &[u8],
        major: u32,
        minor: u32,
        mode: u32,
        device: Arc<dyn CharDevice>,
    ) -> Result<()> {
        let rdev = makedev(major, minor);
        let mut dir = self.fs.root();
        let mut parts = path
            .split(|&b| b == b'/')
            .filter(|p| !p.is_empty())
            .peekable();
        let mut name = None;
        while let Some(part) = parts.next() {
            if part == b"." || part == b".." || part.len() > vfs::NAME_MAX {
                return Err(Errno::EINVAL);
            }
            if parts.peek().is_none() {
                name = Some(part);
                break;
            }
            dir = match dir.lookup(part) {
                Ok(d) => d,
                Err(Errno::ENOENT) => dir.create(part, &node(S_IFDIR | 0o755, 0))?,
                Err(e) => return Err(e),
            };
        }
        let name = name.ok_or(Errno::EINVAL)?;
        if dir.lookup(name).is_ok() {
            return Err(Errno::EEXIST);
        }
        self.registry.register_char(rdev, device)?;
        if let Err(e) = dir.create(name, &node(S_IFCHR | (mode & 0o7777), rdev)) {
            self.registry.unregister_char(rdev);
            return Err(e);
        }
        Ok(())
    }

    /// Registers `null` (1:3), `zero` (1:5), `full` (1:7), `random` (1:8) and `urandom`
    /// (1:9), all `0o666` as on Linux, the last two over `rng`.
    pub fn register_memory_devices(&self, rng: Arc<Csprng>) -> Result<()> {
        self.register(b"null", MEM_MAJOR, 3, 0o666, Arc::new(mem::Null))?;
        self.register(b"zero", MEM_MAJOR, 5, 0o666, Arc::new(mem::Zero))?;
        self.register(b"full", MEM_MAJOR, 7, 0o666, Arc::new(mem::Full))?;
        self.register(
            b"random",
            MEM_MAJOR,
            8,
            0o666,
            Arc::new(random::Random(rng.clone())),
        )?;
        self.register(
            b"urandom",
            MEM_MAJOR,
            9,
            0o666,
            Arc::new(random::Random(rng)),
        )?;
        Ok(())
    }
}

fn node(mode: u32, rdev: u64) -> NewNode {
    NewNode {
        mode,
        rdev,
        uid: 0,
        gid: 0,
    }
}

impl FileSystem for DevFs {
    fn root(&self) -> Arc<dyn Inode> {
        self.fs.root()
    }

    fn statfs(&self) -> StatFs {
        self.fs.statfs()
    }

    fn fs_type(&self) -> &'static str {
        "devtmpfs"
    }
}

#[cfg(test)]
mod tests;
