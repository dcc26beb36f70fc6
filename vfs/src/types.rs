//! Plain data the VFS passes around: file types and modes, times, metadata, credentials.

use alloc::vec::Vec;

/// Mask of the file type bits of a mode (`S_IFMT`).
pub const S_IFMT: u32 = 0o170_000;
/// Socket.
pub const S_IFSOCK: u32 = 0o140_000;
/// Symbolic link.
pub const S_IFLNK: u32 = 0o120_000;
/// Regular file.
pub const S_IFREG: u32 = 0o100_000;
/// Block device.
pub const S_IFBLK: u32 = 0o060_000;
/// Directory.
pub const S_IFDIR: u32 = 0o040_000;
/// Character device.
pub const S_IFCHR: u32 = 0o020_000;
/// FIFO (named pipe).
pub const S_IFIFO: u32 = 0o010_000;
/// Set-user-id bit.
pub const S_ISUID: u32 = 0o4000;
/// Set-group-id bit.
pub const S_ISGID: u32 = 0o2000;
/// Sticky bit (restricted deletion in directories).
pub const S_ISVTX: u32 = 0o1000;
/// Group execute permission.
pub const S_IXGRP: u32 = 0o010;

/// The type of a file, from the `S_IFMT` bits of its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// `S_IFREG`.
    Regular,
    /// `S_IFDIR`.
    Directory,
    /// `S_IFLNK`.
    Symlink,
    /// `S_IFCHR`.
    CharDevice,
    /// `S_IFBLK`.
    BlockDevice,
    /// `S_IFIFO`.
    Fifo,
    /// `S_IFSOCK`.
    Socket,
}

impl FileType {
    /// The type in `mode`, or `None` if the type bits name no type.
    pub const fn from_mode(mode: u32) -> Option<FileType> {
        Some(match mode & S_IFMT {
            S_IFREG => FileType::Regular,
            S_IFDIR => FileType::Directory,
            S_IFLNK => FileType::Symlink,
            S_IFCHR => FileType::CharDevice,
            S_IFBLK => FileType::BlockDevice,
            S_IFIFO => FileType::Fifo,
            S_IFSOCK => FileType::Socket,
            _ => return None,
        })
    }

    /// The `S_IF*` bits.
    pub const fn mode_bits(self) -> u32 {
        match self {
            FileType::Regular => S_IFREG,
            FileType::Directory => S_IFDIR,
            FileType::Symlink => S_IFLNK,
            FileType::CharDevice => S_IFCHR,
            FileType::BlockDevice => S_IFBLK,
            FileType::Fifo => S_IFIFO,
            FileType::Socket => S_IFSOCK,
        }
    }

    /// The `d_type` of a `linux_dirent64` (`DT_*`, which is the mode type shifted by 12).
    pub const fn dirent_type(self) -> u8 {
        (self.mode_bits() >> 12) as u8
    }
}

/// Makes a device number from major and minor as Linux's `new_encode_dev` / glibc `makedev`
/// do for the 64-bit `dev_t` of `stat`.
pub const fn makedev(major: u32, minor: u32) -> u64 {
    let (ma, mi) = (major as u64, minor as u64);
    ((ma & 0xffff_f000) << 32) | ((ma & 0xfff) << 8) | ((mi & 0xffff_ff00) << 12) | (mi & 0xff)
}

/// Major number of a device number made by [`makedev`].
pub const fn major(dev: u64) -> u32 {
    (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)) as u32
}

/// Minor number of a device number made by [`makedev`].
pub const fn minor(dev: u64) -> u32 {
    (((dev >> 12) & 0xffff_ff00) | (dev & 0xff)) as u32
}

/// A point in time as `struct timespec`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timespec {
    /// Seconds since the epoch.
    pub sec: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nsec: u32,
}

impl Timespec {
    /// `sec` seconds.
    pub const fn from_secs(sec: i64) -> Timespec {
        Timespec { sec, nsec: 0 }
    }
}

/// The wall clock a filesystem stamps times with. The kernel supplies it; tests use a counter.
pub trait Clock: Send + Sync {
    /// The current `CLOCK_REALTIME`.
    fn now(&self) -> Timespec;
}

/// What `stat` reports about an inode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// Device number of the filesystem (`st_dev`).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Type and permission bits.
    pub mode: u32,
    /// Number of hard links.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number of a device special file.
    pub rdev: u64,
    /// Size in bytes (a symlink: the target's length).
    pub size: u64,
    /// Preferred I/O size.
    pub blksize: u32,
    /// Allocated 512-byte blocks.
    pub blocks: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last data change.
    pub mtime: Timespec,
    /// Last status change.
    pub ctime: Timespec,
}

impl Metadata {
    /// The file type (a mode whose type bits are invalid reads as a regular file).
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode).unwrap_or(FileType::Regular)
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }
}

/// A time to set through [`SetAttr`] (`utimensat`'s `UTIME_NOW` or a given time; `UTIME_OMIT`
/// is `None` in the `SetAttr` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    /// The filesystem's clock now.
    Now,
    /// This time.
    At(Timespec),
}

/// A metadata change (`chmod`, `chown`, `truncate`, `utimensat`): `None` fields stay. Every
/// change sets ctime to now, as Linux's `notify_change` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits (`0o7777`; the type bits are kept).
    pub mode: Option<u32>,
    /// New owner. A change of owner or group clears set-user-id, and set-group-id when the
    /// group may execute, of a non-directory.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (regular files only; others: `EINVAL`, directories `EISDIR`).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<SetTime>,
    /// New modification time.
    pub mtime: Option<SetTime>,
}

/// What a new inode is: `mode` holds the type bits (`S_IFREG` when none for `mknod`-style
/// calls is the caller's business) and the permission bits after the umask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewNode {
    /// Type and permission bits.
    pub mode: u32,
    /// Device number for `S_IFCHR`/`S_IFBLK`.
    pub rdev: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// One directory entry as `readdir` yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// Inode number.
    pub ino: u64,
    /// Type of the entry.
    pub kind: FileType,
    /// Name (`.` and `..` included).
    pub name: &'a [u8],
    /// Cookie to pass to `readdir` to continue after this entry (`d_off`).
    pub next: u64,
}

/// An owned directory entry, for callers that collect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedDirEntry {
    /// Inode number.
    pub ino: u64,
    /// Type.
    pub kind: FileType,
    /// Name.
    pub name: Vec<u8>,
}

/// `statfs` numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    /// Filesystem magic (`TMPFS_MAGIC` ...).
    pub fs_type: u64,
    /// Block size.
    pub bsize: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Longest name.
    pub namelen: u64,
    /// Fragment size.
    pub frsize: u64,
    /// Mount flags (`ST_*`).
    pub flags: u64,
}

/// The identity a permission check is made for (fsuid, fsgid, supplementary groups).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cred {
    /// Filesystem user id (0 is root: `CAP_DAC_OVERRIDE`).
    pub uid: u32,
    /// Filesystem group id.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

impl Cred {
    /// Root, as every process is for now.
    pub const ROOT: Cred = Cred {
        uid: 0,
        gid: 0,
        groups: Vec::new(),
    };

    /// A user with no supplementary groups.
    pub const fn user(uid: u32, gid: u32) -> Cred {
        Cred {
            uid,
            gid,
            groups: Vec::new(),
        }
    }

    /// Whether the credential is in group `gid`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_match_glibc_makedev() {
        // Values from glibc's makedev on the host: makedev(1, 3) = 0x103,
        // makedev(136, 0) = 0x8800, makedev(0x1234, 0x56789) = 0x1000_5672_3489.
        assert_eq!(makedev(1, 3), 0x103);
        assert_eq!(makedev(136, 0), 0x8800);
        assert_eq!(makedev(0x1234, 0x56789), 0x1000_5672_3489);
        for (ma, mi) in [
            (0, 0),
            (1, 3),
            (4095, 255),
            (0xfff_fff, 0xfff_ffff),
            (259, 65536),
        ] {
            assert_eq!((major(makedev(ma, mi)), minor(makedev(ma, mi))), (ma, mi));
        }
        assert_eq!(FileType::Directory.dirent_type(), 4);
        assert_eq!(FileType::from_mode(0o170_000), None);
    }
}
