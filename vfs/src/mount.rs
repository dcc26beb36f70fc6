//! Mounts and the namespace object ([`Vfs`]): which filesystem is mounted where, and the
//! [`PathRef`] (mount + inode) that names a place in the tree, as Linux's `struct path`.
//!
//! The operations behind `mount(2)`/`umount2(2)` live here (new mounts through registered
//! [`FsType`]s, bind mounts, remounts, per-mount flags); the syscall layer decodes arguments
//! and picks the operation as Linux's `path_mount` does. There is one mount namespace, so the
//! propagation flags (`MS_SHARED`, `MS_PRIVATE`, ...) have nothing to act on.

use crate::device::DeviceRegistry;
use crate::inode::{FileSystem, Inode, same_inode};
use crate::types::{Metadata, StatFs};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use spin::{Mutex, RwLock};
use syscall::{Errno, Result};

/// `umount2` flag: detach now even if busy (`MNT_DETACH`).
pub const MNT_DETACH: u32 = 2;
/// `umount2` flag: force (treated as a plain unmount).
pub const MNT_FORCE: u32 = 1;
/// `umount2` flag: mark for expiry; a second call unmounts an unused mount.
pub const MNT_EXPIRE: u32 = 4;
/// `umount2` flag: do not follow a final symlink (the caller's walk honours it).
pub const UMOUNT_NOFOLLOW: u32 = 8;

/// `mount(2)` flags (`include/uapi/linux/mount.h`).
pub mod ms {
    /// Read-only.
    pub const RDONLY: u32 = 1;
    /// Ignore set-user/group-id bits on exec.
    pub const NOSUID: u32 = 2;
    /// Device nodes cannot be opened.
    pub const NODEV: u32 = 4;
    /// Files cannot be executed.
    pub const NOEXEC: u32 = 8;
    /// Synchronous writes (superblock flag).
    pub const SYNCHRONOUS: u32 = 16;
    /// Change the flags of an existing mount.
    pub const REMOUNT: u32 = 32;
    /// Mandatory locks (superblock flag; Linux warns and ignores it).
    pub const MANDLOCK: u32 = 64;
    /// Synchronous directory changes (superblock flag).
    pub const DIRSYNC: u32 = 128;
    /// Do not follow symlinks.
    pub const NOSYMFOLLOW: u32 = 256;
    /// No access times.
    pub const NOATIME: u32 = 1024;
    /// No directory access times.
    pub const NODIRATIME: u32 = 2048;
    /// Bind mount.
    pub const BIND: u32 = 4096;
    /// Move a mount.
    pub const MOVE: u32 = 8192;
    /// Recursive (bind, propagation changes).
    pub const REC: u32 = 16384;
    /// Quiet (ignored).
    pub const SILENT: u32 = 32768;
    /// POSIX ACLs (superblock flag).
    pub const POSIXACL: u32 = 1 << 16;
    /// Propagation: unbindable.
    pub const UNBINDABLE: u32 = 1 << 17;
    /// Propagation: private.
    pub const PRIVATE: u32 = 1 << 18;
    /// Propagation: slave.
    pub const SLAVE: u32 = 1 << 19;
    /// Propagation: shared.
    pub const SHARED: u32 = 1 << 20;
    /// Relative access times (the default).
    pub const RELATIME: u32 = 1 << 21;
    /// Kernel-internal (user space passing it gets `EINVAL`).
    pub const NOUSER: u32 = 1 << 31;
    /// Update the inode version (superblock flag).
    pub const I_VERSION: u32 = 1 << 23;
    /// Always update access times.
    pub const STRICTATIME: u32 = 1 << 24;
    /// Lazy time updates (superblock flag).
    pub const LAZYTIME: u32 = 1 << 25;
    /// The old magic number in the top half of `flags`.
    pub const MGC_VAL: u32 = 0xC0ED_0000;
    /// Mask of the magic number.
    pub const MGC_MSK: u32 = 0xFFFF_0000;
    /// The propagation types.
    pub const PROPAGATION: u32 = SHARED | PRIVATE | SLAVE | UNBINDABLE;
    /// Flags kept per mount (Linux's `MNT_*`).
    pub const PER_MOUNT: u32 =
        RDONLY | NOSUID | NODEV | NOEXEC | NOATIME | NODIRATIME | RELATIME | NOSYMFOLLOW;
    /// The access-time flags.
    pub const ATIME: u32 = NOATIME | NODIRATIME | RELATIME;
    /// Flags kept per filesystem instance (Linux's `SB_*` that `mount(2)` sets).
    pub const PER_SUPER: u32 =
        RDONLY | SYNCHRONOUS | MANDLOCK | DIRSYNC | POSIXACL | LAZYTIME | I_VERSION;
}

/// `statfs` `f_flags` bits (`ST_*`).
pub mod st {
    /// Read-only.
    pub const RDONLY: u64 = 1;
    /// No set-id bits.
    pub const NOSUID: u64 = 2;
    /// No device nodes.
    pub const NODEV: u64 = 4;
    /// No exec.
    pub const NOEXEC: u64 = 8;
    /// Synchronous.
    pub const SYNCHRONOUS: u64 = 16;
    /// `f_flags` is valid (Linux always sets it).
    pub const VALID: u64 = 32;
    /// Mandatory locks.
    pub const MANDLOCK: u64 = 64;
    /// No access times.
    pub const NOATIME: u64 = 1024;
    /// No directory access times.
    pub const NODIRATIME: u64 = 2048;
    /// Relative access times.
    pub const RELATIME: u64 = 4096;
    /// No symlink following.
    pub const NOSYMFOLLOW: u64 = 0x2000;
}

/// Splits `mount(2)` flags into the per-mount flags and the filesystem-instance flags, as
/// Linux's `path_mount` does: `relatime` unless `MS_NOATIME` or `MS_STRICTATIME`.
pub fn split_flags(flags: u32) -> (u32, u32) {
    let mut mnt = flags & (ms::PER_MOUNT & !ms::RELATIME);
    if flags & ms::NOATIME == 0 {
        mnt |= ms::RELATIME;
    }
    if flags & ms::STRICTATIME != 0 {
        mnt &= !ms::ATIME;
    }
    (mnt, flags & ms::PER_SUPER)
}

/// A filesystem type `mount -t NAME` can make (Linux's `struct file_system_type`).
pub trait FsType: Send + Sync {
    /// The name (`tmpfs`, `proc`, ...).
    fn name(&self) -> &'static str;

    /// A filesystem for `mount -t NAME source -o data` (a new instance, or the single shared
    /// one for types like devtmpfs), and its options as `/proc/mounts` shows them (no leading
    /// comma, may be empty). `EINVAL` for options the type does not know.
    fn mount(&self, source: &[u8], data: &[u8]) -> Result<(Arc<dyn FileSystem>, Vec<u8>)>;

    /// Checks the options of a remount (`EINVAL` for unknown ones) and returns the new
    /// `/proc/mounts` options, or `None` to keep them.
    fn remount(&self, fs: &Arc<dyn FileSystem>, data: &[u8]) -> Result<Option<Vec<u8>>> {
        let _ = fs;
        let _ = data;
        Ok(None)
    }
}

/// Splits a mount option string (`a=1,b,c=2`) into `(key, value)` pairs, skipping empty
/// items and the generic ones Linux handles itself (`ro`, `rw`, `sync`, `dirsync`, `mand`,
/// `nomand`, `lazytime`, `nolazytime`, `async`, `silent`, `loud`).
pub fn options(data: &[u8]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    const GENERIC: [&[u8]; 11] = [
        b"ro",
        b"rw",
        b"sync",
        b"async",
        b"dirsync",
        b"mand",
        b"nomand",
        b"lazytime",
        b"nolazytime",
        b"silent",
        b"loud",
    ];
    let data = match data.iter().position(|&b| b == 0) {
        Some(end) => &data[..end],
        None => data,
    };
    data.split(|&b| b == b',')
        .filter(|item| !item.is_empty() && !GENERIC.contains(item))
        .map(|item| match item.iter().position(|&b| b == b'=') {
            Some(eq) => (&item[..eq], Some(&item[eq + 1..])),
            None => (item, None),
        })
}

/// The state of one filesystem instance all its mounts share (Linux's `super_block` flags
/// and `show_options` text).
struct Super {
    flags: AtomicU32,
    options: Mutex<Vec<u8>>,
    fs_type: Option<Arc<dyn FsType>>,
}

/// Where a mount is attached: the mount and the directory (or file) it covers.
pub type MountPoint = (Arc<Mount>, Arc<dyn Inode>);

/// One mounted filesystem instance at one place.
pub struct Mount {
    id: u64,
    fs: Arc<dyn FileSystem>,
    root: Arc<dyn Inode>,
    /// The mount and directory this one covers (`None` for the namespace root); changed
    /// only by `MS_MOVE`, under the table's write lock.
    parent: RwLock<Option<MountPoint>>,
    source: Vec<u8>,
    /// Per-mount `ms::PER_MOUNT` flags.
    flags: AtomicU32,
    sb: Arc<Super>,
    expiry_mark: AtomicBool,
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

    /// The root directory of this mount (for a bind mount, the directory or file bound).
    pub fn root(&self) -> &Arc<dyn Inode> {
        &self.root
    }

    /// The source string given at mount time (`/proc/mounts` first column).
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    /// The mount and directory this mount covers.
    pub fn parent(&self) -> Option<MountPoint> {
        self.parent.read().clone()
    }

    fn parent_is(&self, mount: &Arc<Mount>) -> bool {
        self.parent
            .read()
            .as_ref()
            .is_some_and(|(p, _)| Arc::ptr_eq(p, mount))
    }

    /// The per-mount flags (`ms::RDONLY`, `ms::NOSUID`, ... `ms::RELATIME`).
    pub fn flags(&self) -> u32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// The filesystem-instance flags (`ms::RDONLY`, `ms::SYNCHRONOUS`, ...), shared by every
    /// mount of the same filesystem.
    pub fn super_flags(&self) -> u32 {
        self.sb.flags.load(Ordering::Relaxed)
    }

    /// Whether writes through this mount fail (the mount or its filesystem is read-only).
    pub fn read_only(&self) -> bool {
        (self.flags() | self.super_flags()) & ms::RDONLY != 0
    }

    /// `EROFS` if this mount is read-only.
    pub fn check_writable(&self) -> Result<()> {
        if self.read_only() {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    /// `noexec`: `execve` of files on this mount fails with `EACCES`.
    pub fn noexec(&self) -> bool {
        self.flags() & ms::NOEXEC != 0
    }

    /// `nodev`: device nodes on this mount cannot be opened (`EACCES`).
    pub fn nodev(&self) -> bool {
        self.flags() & ms::NODEV != 0
    }

    /// `nosuid`: exec ignores set-user/group-id bits.
    pub fn nosuid(&self) -> bool {
        self.flags() & ms::NOSUID != 0
    }

    /// The filesystem's own options (`size=1024k,mode=755`), possibly empty.
    pub fn fs_options(&self) -> Vec<u8> {
        self.sb.options.lock().clone()
    }

    /// The per-mount options as `/proc/self/mountinfo`'s sixth field shows them
    /// (`rw,nosuid,relatime`).
    pub fn mount_options(&self) -> Vec<u8> {
        let flags = self.flags();
        let mut out = Vec::new();
        out.extend_from_slice(if flags & ms::RDONLY != 0 {
            b"ro"
        } else {
            b"rw"
        });
        push_flags(&mut out, flags, MNT_NAMES);
        out
    }

    /// The filesystem-instance options as mountinfo's last field shows them
    /// (`rw,size=1024k`).
    pub fn super_options(&self) -> Vec<u8> {
        let flags = self.super_flags();
        let mut out = Vec::new();
        out.extend_from_slice(if flags & ms::RDONLY != 0 {
            b"ro"
        } else {
            b"rw"
        });
        push_flags(&mut out, flags, SB_NAMES);
        let fs = self.fs_options();
        if !fs.is_empty() {
            out.push(b',');
            out.extend_from_slice(&fs);
        }
        out
    }

    /// The options column of `/proc/mounts` (Linux's `show_vfsmnt`): `ro`/`rw`, the
    /// filesystem flags, the mount flags, the filesystem's options.
    pub fn mounts_options(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(if self.read_only() { b"ro" } else { b"rw" });
        push_flags(&mut out, self.super_flags(), SB_NAMES);
        push_flags(&mut out, self.flags(), MNT_NAMES);
        let fs = self.fs_options();
        if !fs.is_empty() {
            out.push(b',');
            out.extend_from_slice(&fs);
        }
        out
    }

    /// `statfs`'s `f_flags` for this mount (`ST_VALID` and the `ST_*` of both flag sets).
    pub fn statfs_flags(&self) -> u64 {
        let all = self.flags() | self.super_flags();
        let mut out = st::VALID;
        for (m, s) in [
            (ms::RDONLY, st::RDONLY),
            (ms::NOSUID, st::NOSUID),
            (ms::NODEV, st::NODEV),
            (ms::NOEXEC, st::NOEXEC),
            (ms::SYNCHRONOUS, st::SYNCHRONOUS),
            (ms::MANDLOCK, st::MANDLOCK),
            (ms::NOATIME, st::NOATIME),
            (ms::NODIRATIME, st::NODIRATIME),
            (ms::RELATIME, st::RELATIME),
            (ms::NOSYMFOLLOW, st::NOSYMFOLLOW),
        ] {
            if all & m != 0 {
                out |= s;
            }
        }
        out
    }
}

/// `/proc/mounts` names of the filesystem flags, in Linux's order (`show_sb_opts`).
const SB_NAMES: &[(u32, &str)] = &[
    (ms::SYNCHRONOUS, "sync"),
    (ms::DIRSYNC, "dirsync"),
    (ms::MANDLOCK, "mand"),
    (ms::LAZYTIME, "lazytime"),
];

/// `/proc/mounts` names of the mount flags, in Linux's order (`show_mnt_opts`).
const MNT_NAMES: &[(u32, &str)] = &[
    (ms::NOSUID, "nosuid"),
    (ms::NODEV, "nodev"),
    (ms::NOEXEC, "noexec"),
    (ms::NOATIME, "noatime"),
    (ms::NODIRATIME, "nodiratime"),
    (ms::RELATIME, "relatime"),
    (ms::NOSYMFOLLOW, "nosymfollow"),
];

fn push_flags(out: &mut Vec<u8>, flags: u32, names: &[(u32, &str)]) {
    for (bit, name) in names {
        if flags & bit != 0 {
            out.push(b',');
            out.extend_from_slice(name.as_bytes());
        }
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

fn same_fs(a: &Arc<dyn FileSystem>, b: &Arc<dyn FileSystem>) -> bool {
    core::ptr::eq(Arc::as_ptr(a) as *const u8, Arc::as_ptr(b) as *const u8)
}

/// A mount namespace: the mount table, its root, the device registry device nodes open
/// through, and the filesystem types `mount(2)` knows.
pub struct Vfs {
    mounts: RwLock<Vec<Arc<Mount>>>,
    root: Arc<Mount>,
    devices: Arc<DeviceRegistry>,
    next_id: AtomicU64,
    fs_types: RwLock<Vec<Arc<dyn FsType>>>,
}

impl Vfs {
    /// A namespace whose root is `root_fs`.
    pub fn new(root_fs: Arc<dyn FileSystem>, source: &[u8], devices: Arc<DeviceRegistry>) -> Vfs {
        let root = Arc::new(Mount {
            id: 1,
            root: root_fs.root(),
            fs: root_fs,
            parent: RwLock::new(None),
            source: source.to_vec(),
            flags: AtomicU32::new(ms::RELATIME),
            sb: Arc::new(Super {
                flags: AtomicU32::new(0),
                options: Mutex::new(Vec::new()),
                fs_type: None,
            }),
            expiry_mark: AtomicBool::new(false),
        });
        Vfs {
            mounts: RwLock::new(alloc::vec![root.clone()]),
            root,
            devices,
            next_id: AtomicU64::new(2),
            fs_types: RwLock::new(Vec::new()),
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

    /// Makes `mount -t NAME` know a filesystem type (a later one of the same name wins).
    pub fn register_fs_type(&self, fs_type: Arc<dyn FsType>) {
        self.fs_types.write().push(fs_type);
    }

    /// The registered type `name`.
    pub fn fs_type(&self, name: &[u8]) -> Option<Arc<dyn FsType>> {
        self.fs_types
            .read()
            .iter()
            .rev()
            .find(|t| t.name().as_bytes() == name)
            .cloned()
    }

    /// The names of the registered types, oldest first.
    pub fn fs_type_names(&self) -> Vec<&'static str> {
        self.fs_types.read().iter().map(|t| t.name()).collect()
    }

    /// Mounts `fs` on the directory `target` (which the caller resolved, following
    /// symlinks), read-write with `relatime`. `ENOTDIR` if it is no directory. Mounting on a
    /// mount point stacks: the new mount hides the old one.
    pub fn mount(&self, target: &PathRef, fs: Arc<dyn FileSystem>, source: &[u8]) -> Result<()> {
        self.mount_fs(target, fs, source, ms::RELATIME, 0, Vec::new(), None)
            .map(|_| ())
    }

    /// `mount -t TYPE source target -o data` with the flags split by [`split_flags`]:
    /// `ENODEV` for an unknown type, the type's errors for its options, then as
    /// [`Vfs::mount_fs`].
    pub fn mount_new(
        &self,
        target: &PathRef,
        fs_type: &[u8],
        source: &[u8],
        flags: u32,
        data: &[u8],
    ) -> Result<Arc<Mount>> {
        let kind = self.fs_type(fs_type).ok_or(Errno::ENODEV)?;
        let (fs, options) = kind.mount(source, data)?;
        let (mnt_flags, sb_flags) = split_flags(flags);
        self.mount_fs(target, fs, source, mnt_flags, sb_flags, options, Some(kind))
    }

    /// Mounts `fs` on `target` with per-mount flags `mnt_flags` and filesystem flags
    /// `sb_flags` (`ms::*`). A filesystem already mounted elsewhere (a shared instance such
    /// as devtmpfs) shares its filesystem flags and options with those mounts, as one Linux
    /// superblock; `sb_flags` then only adds `ms::RDONLY` when asked. `ENOTDIR` if `target`
    /// is no directory; `EBUSY` if `target` is the root of a mount of the same filesystem.
    #[allow(clippy::too_many_arguments)]
    pub fn mount_fs(
        &self,
        target: &PathRef,
        fs: Arc<dyn FileSystem>,
        source: &[u8],
        mnt_flags: u32,
        sb_flags: u32,
        options: Vec<u8>,
        fs_type: Option<Arc<dyn FsType>>,
    ) -> Result<Arc<Mount>> {
        if !target.metadata().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if target.is_mount_root() && same_fs(&target.mount.fs, &fs) {
            return Err(Errno::EBUSY);
        }
        let mut mounts = self.mounts.write();
        let shared = mounts
            .iter()
            .find(|m| same_fs(&m.fs, &fs))
            .map(|m| m.sb.clone());
        let sb = match shared {
            Some(sb) => sb,
            None => Arc::new(Super {
                flags: AtomicU32::new(sb_flags & ms::PER_SUPER),
                options: Mutex::new(options),
                fs_type,
            }),
        };
        let mount = Arc::new(Mount {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            root: fs.root(),
            fs,
            parent: RwLock::new(Some((target.mount.clone(), target.inode.clone()))),
            source: source.to_vec(),
            flags: AtomicU32::new(mnt_flags & ms::PER_MOUNT),
            sb,
            expiry_mark: AtomicBool::new(false),
        });
        mounts.push(mount.clone());
        Ok(mount)
    }

    /// `mount --bind source target` (`recursive`: `--rbind`, the mounts below `source` are
    /// bound too). The new mount shows `source`'s subtree, with `source`'s mount flags and
    /// name. `ENOTDIR` unless both are directories or both are not.
    pub fn bind(&self, source: &PathRef, target: &PathRef, recursive: bool) -> Result<()> {
        if source.metadata().is_dir() != target.metadata().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut mounts = self.mounts.write();
        let snapshot = mounts.clone();
        let top = self.clone_mount(
            &source.mount,
            source.inode.clone(),
            (target.mount.clone(), target.inode.clone()),
        );
        mounts.push(top.clone());
        if !recursive {
            return Ok(());
        }
        // Copy the mounts below `source`, parents before children: rounds over the table
        // until one adds nothing (a moved mount may stand before its parent).
        let mut copies: Vec<(Arc<Mount>, Arc<Mount>)> = alloc::vec![(source.mount.clone(), top)];
        loop {
            let mut added = false;
            for m in snapshot.iter() {
                if copies.iter().any(|(orig, _)| Arc::ptr_eq(orig, m)) {
                    continue;
                }
                let Some((parent, dir)) = m.parent() else {
                    continue;
                };
                let Some(copy_parent) = copies
                    .iter()
                    .find(|(orig, _)| Arc::ptr_eq(orig, &parent))
                    .map(|(_, copy)| copy.clone())
                else {
                    continue;
                };
                if Arc::ptr_eq(&parent, &source.mount) && !is_below(&dir, &source.inode) {
                    continue;
                }
                let copy = self.clone_mount(m, m.root.clone(), (copy_parent, dir));
                mounts.push(copy.clone());
                copies.push((m.clone(), copy));
                added = true;
            }
            if !added {
                return Ok(());
            }
        }
    }

    fn clone_mount(
        &self,
        from: &Arc<Mount>,
        root: Arc<dyn Inode>,
        parent: MountPoint,
    ) -> Arc<Mount> {
        Arc::new(Mount {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            fs: from.fs.clone(),
            root,
            parent: RwLock::new(Some(parent)),
            source: from.source.clone(),
            flags: AtomicU32::new(from.flags()),
            sb: from.sb.clone(),
            expiry_mark: AtomicBool::new(false),
        })
    }

    /// `MS_REMOUNT`: new per-mount flags for the mount whose root `target` is (the
    /// access-time flags are kept unless `flags` names one), and for the filesystem
    /// (`ms::RDONLY` etc., for every mount of it); `data` goes to the filesystem type, which
    /// may reject it (`EINVAL`). `bind_only` (`MS_REMOUNT|MS_BIND`) changes only the mount's
    /// flags. `EINVAL` if `target` is no mount root.
    pub fn remount(
        &self,
        target: &PathRef,
        flags: u32,
        data: &[u8],
        bind_only: bool,
    ) -> Result<()> {
        if !target.is_mount_root() || !self.in_table(&target.mount) {
            return Err(Errno::EINVAL);
        }
        let mount = &target.mount;
        let (mut mnt_flags, sb_flags) = split_flags(flags);
        if flags & (ms::NOATIME | ms::NODIRATIME | ms::RELATIME | ms::STRICTATIME) == 0 {
            mnt_flags = (mnt_flags & !ms::ATIME) | (mount.flags() & ms::ATIME);
        }
        if !bind_only {
            if let Some(kind) = &mount.sb.fs_type
                && let Some(options) = kind.remount(&mount.fs, data)?
            {
                *mount.sb.options.lock() = options;
            }
            mount.sb.flags.store(sb_flags, Ordering::Relaxed);
        }
        mount.flags.store(mnt_flags, Ordering::Relaxed);
        Ok(())
    }

    /// `MS_SHARED`/`MS_PRIVATE`/`MS_SLAVE`/`MS_UNBINDABLE` (with `MS_REC`): there is one mount
    /// namespace and no propagation, so this only checks like Linux: `target` must be a
    /// mount root and `flags` name exactly one type (`EINVAL`).
    pub fn change_type(&self, target: &PathRef, flags: u32) -> Result<()> {
        if !target.is_mount_root() || !self.in_table(&target.mount) {
            return Err(Errno::EINVAL);
        }
        let kind = flags & !(ms::REC | ms::SILENT);
        if kind & ms::PROPAGATION != kind || !kind.is_power_of_two() {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// `MS_MOVE`: the mount whose root `source` is, with everything below it, now covers
    /// `target` (Linux's `do_move_mount`). `EINVAL` if `source` is no mount root or the
    /// namespace root, `ENOTDIR` unless both are directories or both are not, `ELOOP` if
    /// `target` lies inside the moved tree.
    pub fn move_mount(&self, source: &PathRef, target: &PathRef) -> Result<()> {
        let mut mounts = self.mounts.write();
        let moved = &source.mount;
        if !source.is_mount_root()
            || Arc::ptr_eq(moved, &self.root)
            || !mounts.iter().any(|m| Arc::ptr_eq(m, moved))
        {
            return Err(Errno::EINVAL);
        }
        if source.metadata().is_dir() != target.metadata().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut up = Some(target.mount.clone());
        while let Some(m) = up {
            if Arc::ptr_eq(&m, moved) {
                return Err(Errno::ELOOP);
            }
            up = m.parent().map(|(p, _)| p);
        }
        *moved.parent.write() = Some((target.mount.clone(), target.inode.clone()));
        // The moved tree goes to the end of the table, parents first, as Linux lists it.
        let mut tree = alloc::vec![moved.clone()];
        let mut i = 0;
        while i < tree.len() {
            let m = tree[i].clone();
            tree.extend(mounts.iter().filter(|c| c.parent_is(&m)).cloned());
            i += 1;
        }
        mounts.retain(|m| !tree.iter().any(|t| Arc::ptr_eq(t, m)));
        mounts.extend(tree);
        Ok(())
    }

    fn in_table(&self, mount: &Arc<Mount>) -> bool {
        self.mounts.read().iter().any(|m| Arc::ptr_eq(m, mount))
    }

    /// Unmounts the mount whose root `target` is: `EINVAL` for unknown flags or if `target`
    /// is no mount root, `EBUSY` for the namespace root. `EBUSY` if anything but the table
    /// and `target` holds the mount (an open file, a cwd, a mount on top), unless `flags` has
    /// [`MNT_DETACH`]: then it and the mounts below it leave the tree now and live on for
    /// those who hold them. [`MNT_EXPIRE`] (not with `MNT_FORCE`/`MNT_DETACH`: `EINVAL`) marks
    /// an unused mount and says `EAGAIN` the first time, unmounts the second. The filesystem
    /// is freed when the last reference goes.
    pub fn umount(&self, target: PathRef, flags: u32) -> Result<()> {
        if flags & !(MNT_DETACH | MNT_FORCE | MNT_EXPIRE | UMOUNT_NOFOLLOW) != 0 {
            return Err(Errno::EINVAL);
        }
        if !target.is_mount_root() {
            return Err(Errno::EINVAL);
        }
        if flags & MNT_EXPIRE != 0 && flags & (MNT_FORCE | MNT_DETACH) != 0 {
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
        if flags & MNT_EXPIRE != 0 && !target.mount.expiry_mark.swap(true, Ordering::Relaxed) {
            return Err(Errno::EAGAIN);
        }
        if flags & MNT_DETACH != 0 {
            // Detach the mounts below it as well (`umount -l` detaches the subtree).
            let mut doomed = alloc::vec![target.mount.clone()];
            let mut i = 0;
            while i < doomed.len() {
                let m = doomed[i].clone();
                for child in mounts.iter() {
                    if child.parent_is(&m) {
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
                    .read()
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

    /// `statfs` of the filesystem `place` is on, with the mount's `f_flags`.
    pub fn statfs(&self, place: &PathRef) -> StatFs {
        StatFs {
            flags: place.mount.statfs_flags(),
            ..place.mount.fs.statfs()
        }
    }
}

/// Whether `inode` is `top` or below it (walking `..` inside one filesystem).
fn is_below(inode: &Arc<dyn Inode>, top: &Arc<dyn Inode>) -> bool {
    let mut cur = inode.clone();
    for _ in 0..4096 {
        if same_inode(&cur, top) {
            return true;
        }
        match cur.lookup(b"..") {
            Ok(up) if !same_inode(&up, &cur) => cur = up,
            _ => return false,
        }
    }
    false
}
