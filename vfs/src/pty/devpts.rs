//! The `devpts` filesystem (one instance, as Linux without `newinstance`): a directory with
//! `ptmx` (5:2, mode 0000) and one `N` (136:N) per pair whose master is open, and the
//! `/dev/ptmx` device that makes pairs.

use super::{MAX_PTYS, PTMX_MAJOR, PTMX_MINOR, PTS_MAJOR, Pty, SignalFn};
use crate::device::CharDevice;
use crate::file::OpenFlags;
use crate::inode::{FileOps, FileSystem, Inode};
use crate::tty::MonotonicClock;
use crate::types::{DirEntry, FileType, Metadata, S_IFCHR, S_IFDIR, SetAttr, StatFs, makedev};
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use spin::Mutex;
use syscall::{Errno, Result};

/// `DEVPTS_SUPER_MAGIC`.
const DEVPTS_MAGIC: u64 = 0x1cd1;
/// Group of the slave nodes (`tty`, as `mount -o gid=5`).
const TTY_GID: u32 = 5;
/// Inode numbers: the root 1, `ptmx` 2, slave `N` is `N + 3`.
const FIRST_SLAVE_INO: u64 = 3;

/// The devpts instance.
pub struct DevPts {
    dir: Arc<PtsDir>,
}

/// The root directory and the table of pairs.
struct PtsDir {
    dev: u64,
    ptys: Mutex<BTreeMap<u32, Slot>>,
    ptmx: Arc<PtsNode>,
    me: Weak<PtsDir>,
    signal: SignalFn,
    clock: MonotonicClock,
}

/// A number in use: the pair (gone once both sides are closed) and its node.
struct Slot {
    pty: Weak<Pty>,
    node: Arc<PtsNode>,
}

impl DevPts {
    /// An empty devpts on device `dev`; `signal` sends a signal to a process group (the
    /// slaves' ^C and hang-ups), `clock` is the monotonic clock (VTIME).
    pub fn new(dev: u64, signal: SignalFn, clock: MonotonicClock) -> Arc<DevPts> {
        let dir = Arc::new_cyclic(|me: &Weak<PtsDir>| PtsDir {
            dev,
            ptys: Mutex::new(BTreeMap::new()),
            ptmx: Arc::new(PtsNode::new(
                dev,
                2,
                S_IFCHR,
                0,
                makedev(PTMX_MAJOR, PTMX_MINOR),
                Weak::new(),
            )),
            me: me.clone(),
            signal,
            clock,
        });
        Arc::new(DevPts { dir })
    }

    /// The `/dev/ptmx` device (register it as 5:2).
    pub fn ptmx(&self) -> Arc<Ptmx> {
        Arc::new(Ptmx {
            dir: self.dir.clone(),
        })
    }

    /// Numbers of the pairs whose master is open.
    pub fn open_ptys(&self) -> Vec<u32> {
        self.dir.live().into_iter().map(|(n, _)| n).collect()
    }
}

impl FileSystem for DevPts {
    fn root(&self) -> Arc<dyn Inode> {
        self.dir.clone()
    }

    fn statfs(&self) -> StatFs {
        StatFs {
            fs_type: DEVPTS_MAGIC,
            bsize: 4096,
            namelen: 255,
            frsize: 4096,
            ..StatFs::default()
        }
    }

    fn fs_type(&self) -> &'static str {
        "devpts"
    }
}

impl PtsDir {
    /// The pairs with an open master, by number, with their nodes.
    fn live(&self) -> Vec<(u32, Arc<PtsNode>)> {
        let ptys = self.ptys.lock();
        ptys.iter()
            .filter(|(_, slot)| slot.pty.upgrade().is_some_and(|p| p.master_open()))
            .map(|(&n, slot)| (n, slot.node.clone()))
            .collect()
    }

    /// A new pair under the lowest free number; `ENOSPC` past [`MAX_PTYS`].
    fn allocate(&self) -> Result<Arc<Pty>> {
        let mut ptys = self.ptys.lock();
        ptys.retain(|_, slot| slot.pty.strong_count() > 0);
        let index = (0..MAX_PTYS)
            .find(|n| !ptys.contains_key(n))
            .ok_or(Errno::ENOSPC)?;
        let pty = Pty::new(index, self.signal.clone(), self.clock);
        let node = Arc::new(PtsNode::new(
            self.dev,
            FIRST_SLAVE_INO + u64::from(index),
            S_IFCHR | 0o620,
            TTY_GID,
            makedev(PTS_MAJOR, index),
            Arc::downgrade(&pty),
        ));
        ptys.insert(
            index,
            Slot {
                pty: Arc::downgrade(&pty),
                node,
            },
        );
        Ok(pty)
    }
}

impl Inode for PtsDir {
    fn metadata(&self) -> Metadata {
        Metadata {
            dev: self.dev,
            ino: 1,
            mode: S_IFDIR | 0o755,
            nlink: 2,
            blksize: 4096,
            ..Metadata::default()
        }
    }

    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        match name {
            b"." | b".." => return self.me.upgrade().map(|d| d as _).ok_or(Errno::ENOENT),
            b"ptmx" => return Ok(self.ptmx.clone()),
            _ => {}
        }
        // Decimal without leading zeros, as the names are made.
        let index = core::str::from_utf8(name)
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .filter(|s| !s.starts_with('0') || s.len() == 1)
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or(Errno::ENOENT)?;
        self.live()
            .into_iter()
            .find(|(n, _)| *n == index)
            .map(|(_, node)| node as Arc<dyn Inode>)
            .ok_or(Errno::ENOENT)
    }

    fn create(&self, _name: &[u8], _node: &crate::types::NewNode) -> Result<Arc<dyn Inode>> {
        Err(Errno::EACCES)
    }

    fn unlink(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EACCES)
    }

    fn rmdir(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EACCES)
    }

    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        // Cookies: 0 ".", 1 "..", 2 "ptmx", then N + 3 for pair N (resume after: N + 4).
        let mut entries: Vec<(u64, FileType, Vec<u8>, u64)> = Vec::new();
        entries.push((1, FileType::Directory, b".".to_vec(), 0));
        entries.push((1, FileType::Directory, b"..".to_vec(), 1));
        entries.push((2, FileType::CharDevice, b"ptmx".to_vec(), 2));
        for (n, _) in self.live() {
            let ino = FIRST_SLAVE_INO + u64::from(n);
            entries.push((ino, FileType::CharDevice, n.to_string_bytes(), ino));
        }
        for (ino, kind, name, at) in entries {
            if at < cookie {
                continue;
            }
            let entry = DirEntry {
                ino,
                kind,
                name: &name,
                next: at + 1,
            };
            if !sink(&entry) {
                break;
            }
        }
        Ok(())
    }
}

/// Decimal digits of a number.
trait DecimalBytes {
    fn to_string_bytes(self) -> Vec<u8>;
}

impl DecimalBytes for u32 {
    fn to_string_bytes(self) -> Vec<u8> {
        alloc::format!("{self}").into_bytes()
    }
}

/// A device node of devpts (`ptmx` or a slave).
struct PtsNode {
    meta: Mutex<Metadata>,
    /// The pair of a slave node (empty for `ptmx`).
    pty: Weak<Pty>,
}

impl PtsNode {
    fn new(dev: u64, ino: u64, mode: u32, gid: u32, rdev: u64, pty: Weak<Pty>) -> PtsNode {
        PtsNode {
            meta: Mutex::new(Metadata {
                dev,
                ino,
                mode,
                nlink: 1,
                gid,
                rdev,
                blksize: 1024,
                ..Metadata::default()
            }),
            pty,
        }
    }
}

impl Inode for PtsNode {
    fn metadata(&self) -> Metadata {
        *self.meta.lock()
    }

    /// `chmod`/`chown` (grantpt's), times; no size.
    fn set_attr(&self, attr: &SetAttr) -> Result<()> {
        crate::anon::set_attr_in_memory(&mut self.meta.lock(), attr)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    /// A slave opens its pair (EIO while locked or hung up); `ptmx` goes to the device
    /// registry.
    fn open(&self, _flags: OpenFlags) -> Option<Result<Arc<dyn FileOps>>> {
        if self.meta.lock().rdev == makedev(PTMX_MAJOR, PTMX_MINOR) {
            return None;
        }
        Some(match self.pty.upgrade() {
            Some(pty) => pty.open_slave(),
            None => Err(Errno::EIO),
        })
    }
}

/// `/dev/ptmx`: each open makes a pair and is its master.
pub struct Ptmx {
    dir: Arc<PtsDir>,
}

impl FileOps for Ptmx {
    fn read(&self, _offset: u64, _buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::ENXIO)
    }

    fn write(&self, _offset: u64, _buf: &[u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::ENXIO)
    }
}

impl CharDevice for Ptmx {
    fn open(&self, _flags: OpenFlags) -> Result<Option<Arc<dyn FileOps>>> {
        let pty = self.dir.allocate()?;
        Ok(Some(pty.master()))
    }
}
