//! Mounts and the namespace object ([`Vfs`]): which filesystem is mounted where, and the
//! [`PathRef`] (mount + inode) that names a place in the tree, as Linux's `struct path`.

use crate::device::DeviceRegistry;
use crate::inode::{FileSystem, Inode, same_inode};
use crate::types::{Metadata, StatFs};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::RwLock;
use syscall::{Errno, Result};

/// `umount2` flag: detach now even if busy (`MNT_DETACH`).
pub const MNT_DETACH: u32 = 2;
/// `umount2` flag: force (treated as a plain unmount).
pub const MNT_FORCE: u32 = 1;
/// `umount2` flag: mark for expiry (accepted, treated as a plain unmount).
pub const MNT_EXPIRE: u32 = 4;
/// `umount2` flag: do not follow a final symlink (the caller's walk honours it).
pub const UMOUNT_NOFOLLOW: u32 = 8;

/// One mounted filesystem instance at one place.
pub struct Mount {
    id: u64,
    fs: Arc<dyn FileSystem>,
    root: Arc<dyn Inode>,
    /// The mount and directory this one covers (`None` for the namespace root).
    parent: Option<(Arc<Mount>, Arc<dyn Inode>)>,
    source: Vec<u8>,
}

impl Mount {
    /// Unique id (`/proc/self/mountinfo`'s first field).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The filesystem.
    pub fn fs(&self) -> &Arc<dyn FileSystem> {
        &self.fs
    }

    /// The root directory of this mount.
    pub fn root(&self) -> &Arc<dyn Inode> {
        &self.root
    }

    /// The source string given at mount time (`/proc/mounts` first column).
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    /// The mount and directory this mount covers.
    pub fn parent(&self) -> Option<(&Arc<Mount>, &Arc<dyn Inode>)> {
        self.parent.as_ref().map(|(m, i)| (m, i))
    }
}

impl core::fmt::Debug for Mount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Mount({} {})", self.id, self.fs.fs_type())
    }
}

/// A place in the tree: an inode as reached through a mount (Linux's `struct path`). The cwd,
/// the root of a process and every open file hold one, which keeps the mount busy.
#[derive(Clone)]
pub struct PathRef {
    /// The mount the inode was reached through.
    pub mount: Arc<Mount>,
    /// The inode.
    pub inode: Arc<dyn Inode>,
}

impl PathRef {
    /// Metadata of the inode.
    pub fn metadata(&self) -> Metadata {
        self.inode.metadata()
    }

    /// Whether this is the root of its mount.
    pub fn is_mount_root(&self) -> bool {
        same_inode(&self.inode, &self.mount.root)
    }

    /// Same mount and same inode.
    pub fn same(&self, other: &PathRef) -> bool {
        Arc::ptr_eq(&self.mount, &other.mount) && same_inode(&self.inode, &other.inode)
    }
}

impl core::fmt::Debug for PathRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PathRef({:?}, ino {})",
            self.mount,
            self.inode.metadata().ino
        )
    }
}

/// A mount namespace: the mount table, its root, and the device registry device nodes open
/// through.
pub struct Vfs {
    mounts: RwLock<Vec<Arc<Mount>>>,
    root: Arc<Mount>,
    devices: Arc<DeviceRegistry>,
    next_id: AtomicU64,
}

impl Vfs {
    /// A namespace whose root is `root_fs`.
    pub fn new(root_fs: Arc<dyn FileSystem>, source: &[u8], devices: Arc<DeviceRegistry>) -> Vfs {
        let root = Arc::new(Mount {
            id: 1,
            root: root_fs.root(),
            fs: root_fs,
            parent: None,
            source: source.to_vec(),
        });
        Vfs {
            mounts: RwLock::new(alloc::vec![root.clone()]),
            root,
            devices,
            next_id: AtomicU64::new(2),
        }
    }

    /// The root of the namespace (a new process's root and cwd).
    pub fn root(&self) -> PathRef {
        PathRef {
            mount: self.root.clone(),
            inode: self.root.root.clone(),
        }
    }

    /// The character devices device nodes open through.
    pub fn devices(&self) -> &Arc<DeviceRegistry> {
        &self.devices
    }

    /// Mounts `fs` on the directory `target` (which the caller resolved, following
    /// symlinks). `ENOTDIR` if it is no directory. Mounting on a mount point stacks: the new
    /// mount hides the old one.
    pub fn mount(&self, target: &PathRef, fs: Arc<dyn FileSystem>, source: &[u8]) -> Result<()> {
        if !target.metadata().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mount = Arc::new(Mount {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            root: fs.root(),
            fs,
            parent: Some((target.mount.clone(), target.inode.clone())),
            source: source.to_vec(),
        });
        self.mounts.write().push(mount);
        Ok(())
    }

    /// Unmounts the mount whose root `target` is: `EINVAL` if `target` is no mount root,
    /// `EBUSY` for the namespace root. `EBUSY` if anything but the table and `target` holds the
    /// mount (an open file, a cwd, a mount on top), unless `flags` has [`MNT_DETACH`]: then
    /// it leaves the tree now and lives on for those who hold it.
    pub fn umount(&self, target: PathRef, flags: u32) -> Result<()> {
        if flags & !(MNT_DETACH | MNT_FORCE | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0 {
            return Err(Errno::EINVAL);
        }
        if !target.is_mount_root() {
            return Err(Errno::EINVAL);
        }
        if Arc::ptr_eq(&target.mount, &self.root) {
            return Err(Errno::EBUSY);
        }
        let mut mounts = self.mounts.write();
        let index = mounts
            .iter()
            .position(|m| Arc::ptr_eq(m, &target.mount))
            .ok_or(Errno::EINVAL)?;
        // The table holds one reference and `target` another.
        if flags & MNT_DETACH == 0 && Arc::strong_count(&target.mount) > 2 {
            return Err(Errno::EBUSY);
        }
        if flags & MNT_DETACH != 0 {
            // Detach the mounts below it as well (`umount -l` detaches the subtree).
            let mut doomed = alloc::vec![target.mount.clone()];
            let mut i = 0;
            while i < doomed.len() {
                let m = doomed[i].clone();
                for child in mounts.iter() {
                    if child
                        .parent
                        .as_ref()
                        .is_some_and(|(p, _)| Arc::ptr_eq(p, &m))
                    {
                        doomed.push(child.clone());
                    }
                }
                i += 1;
            }
            mounts.retain(|m| !doomed.iter().any(|d| Arc::ptr_eq(d, m)));
        } else {
            mounts.remove(index);
        }
        Ok(())
    }

    /// The topmost mount on (`mount`, `dir`), if `dir` is a mount point there.
    pub fn mounted_on(&self, mount: &Arc<Mount>, dir: &Arc<dyn Inode>) -> Option<Arc<Mount>> {
        self.mounts
            .read()
            .iter()
            .rev()
            .find(|m| {
                m.parent
                    .as_ref()
                    .is_some_and(|(pm, pi)| Arc::ptr_eq(pm, mount) && same_inode(pi, dir))
            })
            .cloned()
    }

    /// `place`, or what is mounted on it (repeatedly, for stacked mounts).
    pub fn cross_down(&self, mut place: PathRef) -> PathRef {
        while let Some(top) = self.mounted_on(&place.mount, &place.inode) {
            place = PathRef {
                inode: top.root.clone(),
                mount: top,
            };
        }
        place
    }

    /// Snapshot of the mount table, oldest first (for `/proc/mounts`).
    pub fn mounts(&self) -> Vec<Arc<Mount>> {
        self.mounts.read().clone()
    }

    /// `statfs` of the filesystem `place` is on.
    pub fn statfs(&self, place: &PathRef) -> StatFs {
        place.mount.fs.statfs()
    }
}
