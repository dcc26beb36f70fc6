//! The path-based operations of the `*at` syscalls with Linux's errno choices, so the
//! syscall layer only decodes arguments. The caller applies the umask to `mode` before.

use crate::file::{OpenFile, OpenFlags};
use crate::inode::{RenameFlags, same_inode};
use crate::mount::{PathRef, Vfs};
use crate::path::{Last, Path};
use crate::perm::{MAY_EXEC, MAY_READ, MAY_WRITE, may_access, may_delete_sticky};
use crate::types::{FileType, Metadata, NewNode, S_IFDIR, S_IFMT, S_IFREG, SetAttr};
use crate::walk::{Lookup, Parent};
use alloc::sync::Arc;
use alloc::vec::Vec;
use syscall::{Errno, Result};

impl Vfs {
    /// Write and search permission on the directory a name is created in or removed from.
    /// `EROFS` on a read-only mount.
    fn may_modify(lookup: &Lookup<'_>, dir: &PathRef) -> Result<Metadata> {
        let meta = dir.metadata();
        may_access(&meta, lookup.cred, MAY_WRITE | MAY_EXEC)?;
        dir.mount.check_writable()?;
        Ok(meta)
    }

    /// `openat`: resolves (creating with `O_CREAT`), checks and opens. Errors as Linux:
    /// `EEXIST` (`O_CREAT|O_EXCL` on any existing name, a dangling symlink included),
    /// `EISDIR` (`O_CREAT` on a directory or a trailing slash; a directory opened for writing),
    /// `ENOTDIR` (`O_DIRECTORY` on a non-directory), `ELOOP` (`O_NOFOLLOW` on a symlink,
    /// unless `O_PATH`), `ENXIO` (device without driver, socket, write-only non-blocking FIFO
    /// without reader), `EACCES`, `EOPNOTSUPP` for `O_TMPFILE` (not supported yet).
    /// `O_CREAT` through a dangling symlink creates its target, as on Linux.
    pub fn open(
        &self,
        lookup: &Lookup<'_>,
        path: Path<'_>,
        flags: OpenFlags,
        mode: u32,
    ) -> Result<Arc<OpenFile>> {
        self.open_inner(lookup, path, flags, mode, 0)
    }

    fn open_inner(
        &self,
        lookup: &Lookup<'_>,
        path: Path<'_>,
        flags: OpenFlags,
        mode: u32,
        links: u32,
    ) -> Result<Arc<OpenFile>> {
        if flags.contains(OpenFlags::TMPFILE) {
            return Err(Errno::EOPNOTSUPP);
        }
        let flags = if flags.contains(OpenFlags::PATH) {
            // O_PATH keeps only these.
            OpenFlags(
                flags.0 & (OpenFlags::PATH.0 | OpenFlags::DIRECTORY.0 | OpenFlags::NOFOLLOW.0 | 3),
            )
        } else {
            flags
        };
        let follow = !flags.contains(OpenFlags::NOFOLLOW);
        let mut created = false;
        let place = if flags.contains(OpenFlags::CREAT) && !flags.contains(OpenFlags::PATH) {
            let parent = self.resolve_parent(lookup, path)?;
            let Last::Normal(name) = parent.last else {
                return Err(Errno::EISDIR);
            };
            match self.child(&parent.dir, name) {
                Ok(existing) => {
                    if flags.contains(OpenFlags::EXCL) {
                        return Err(Errno::EEXIST);
                    }
                    if existing.metadata().file_type() == FileType::Symlink {
                        if !follow {
                            return Err(Errno::ELOOP);
                        }
                        match self.resolve(lookup, path, true) {
                            Ok(place) => place,
                            Err(Errno::ENOENT) => {
                                if links >= crate::walk::MAX_SYMLINKS {
                                    return Err(Errno::ELOOP);
                                }
                                let target = existing.inode.readlink()?;
                                let target = Path::new(&target, crate::path::EmptyPath::Deny)?;
                                let at = Lookup {
                                    start: &parent.dir,
                                    ..*lookup
                                };
                                return self.open_inner(&at, target, flags, mode, links + 1);
                            }
                            Err(e) => return Err(e),
                        }
                    } else if parent.trailing_slash || existing.metadata().is_dir() {
                        return Err(Errno::EISDIR);
                    } else {
                        existing
                    }
                }
                Err(Errno::ENOENT) => {
                    if parent.trailing_slash {
                        return Err(Errno::EISDIR);
                    }
                    let dir_meta = Self::may_modify(lookup, &parent.dir)?;
                    let inode = parent.dir.inode.create(
                        name,
                        &new_node(&dir_meta, lookup, S_IFREG | (mode & 0o7777), 0),
                    )?;
                    created = true;
                    PathRef {
                        mount: parent.dir.mount.clone(),
                        inode,
                    }
                }
                Err(e) => return Err(e),
            }
        } else {
            self.resolve(lookup, path, follow)?
        };
        let meta = place.metadata();
        let kind = meta.file_type();
        if flags.contains(OpenFlags::PATH) {
            if flags.contains(OpenFlags::DIRECTORY) && kind != FileType::Directory {
                return Err(Errno::ENOTDIR);
            }
            return Ok(OpenFile::new(place, flags));
        }
        if kind == FileType::Symlink {
            return Err(Errno::ELOOP);
        }
        if flags.contains(OpenFlags::DIRECTORY) && kind != FileType::Directory {
            return Err(Errno::ENOTDIR);
        }
        if kind == FileType::Directory && (flags.writable() || flags.access() == 3) {
            return Err(Errno::EISDIR);
        }
        // A read-only mount refuses writes to its files (devices and FIFOs stay writable);
        // a `nodev` one refuses to open device nodes (Linux's `may_open`).
        if (flags.writable() || flags.contains(OpenFlags::TRUNC))
            && matches!(kind, FileType::Regular | FileType::Directory)
            && !created
        {
            place.mount.check_writable()?;
        }
        if matches!(kind, FileType::CharDevice | FileType::BlockDevice) && place.mount.nodev() {
            return Err(Errno::EACCES);
        }
        if !created {
            let mut mask = 0;
            if flags.readable() || flags.access() == 3 {
                mask |= MAY_READ;
            }
            if flags.writable() || flags.access() == 3 {
                mask |= MAY_WRITE;
            }
            if flags.contains(OpenFlags::TRUNC) && kind == FileType::Regular {
                mask |= MAY_WRITE;
            }
            may_access(&meta, lookup.cred, mask)?;
        }
        match kind {
            FileType::Regular | FileType::Directory => {
                if flags.contains(OpenFlags::TRUNC) && kind == FileType::Regular && !created {
                    place.inode.set_attr(&SetAttr {
                        size: Some(0),
                        ..SetAttr::default()
                    })?;
                }
                if let Some(ops) = place.inode.open(flags) {
                    let inode = place.inode.clone();
                    return Ok(OpenFile::with_ops(Some(place), inode, ops?, flags));
                }
                Ok(OpenFile::new(place, flags))
            }
            FileType::CharDevice => {
                let ops = match place.inode.open(flags) {
                    Some(ops) => ops?,
                    None => self.devices().open_char(meta.rdev, flags)?,
                };
                let inode = place.inode.clone();
                Ok(OpenFile::with_ops(Some(place), inode, ops, flags))
            }
            FileType::Fifo => {
                let ops = place.inode.open(flags).ok_or(Errno::ENXIO)??;
                let inode = place.inode.clone();
                Ok(OpenFile::with_ops(Some(place), inode, ops, flags))
            }
            FileType::BlockDevice | FileType::Socket => Err(Errno::ENXIO),
            FileType::Symlink => Err(Errno::ELOOP),
        }
    }

    /// Common part of `mkdirat`, `mknodat`, `symlinkat`: the parent and the new name.
    /// `EEXIST` for `.`, `..` and `/`; with a trailing slash only directories may be created
    /// (`ENOENT` for others, or `EEXIST` when the name exists).
    fn create_parent<'p>(
        &self,
        lookup: &Lookup<'_>,
        path: Path<'p>,
        dir: bool,
    ) -> Result<(PathRef, &'p [u8])> {
        let parent: Parent<'p> = self.resolve_parent(lookup, path)?;
        let Last::Normal(name) = parent.last else {
            return Err(Errno::EEXIST);
        };
        if parent.trailing_slash && !dir {
            return Err(match parent.dir.inode.lookup(name) {
                Ok(_) => Errno::EEXIST,
                Err(_) => Errno::ENOENT,
            });
        }
        Self::may_modify(lookup, &parent.dir)?;
        Ok((parent.dir, name))
    }

    /// `mkdirat`.
    pub fn mkdir(&self, lookup: &Lookup<'_>, path: Path<'_>, mode: u32) -> Result<()> {
        let (dir, name) = self.create_parent(lookup, path, true)?;
        let dir_meta = dir.metadata();
        dir.inode.create(
            name,
            &new_node(&dir_meta, lookup, S_IFDIR | (mode & 0o7777), 0),
        )?;
        Ok(())
    }

    /// `mknodat`: regular files (type 0 means regular), devices, FIFOs, sockets; `EINVAL`
    /// for a directory or an unknown type, `EPERM` for devices made by non-root.
    pub fn mknod(&self, lookup: &Lookup<'_>, path: Path<'_>, mode: u32, rdev: u64) -> Result<()> {
        let mode = if mode & S_IFMT == 0 {
            mode | S_IFREG
        } else {
            mode
        };
        let kind = FileType::from_mode(mode).ok_or(Errno::EINVAL)?;
        match kind {
            FileType::Directory | FileType::Symlink => return Err(Errno::EINVAL),
            FileType::CharDevice | FileType::BlockDevice if lookup.cred.uid != 0 => {
                return Err(Errno::EPERM);
            }
            _ => {}
        }
        let (dir, name) = self.create_parent(lookup, path, false)?;
        let rdev = if matches!(kind, FileType::CharDevice | FileType::BlockDevice) {
            rdev
        } else {
            0
        };
        let dir_meta = dir.metadata();
        dir.inode.create(
            name,
            &new_node(&dir_meta, lookup, mode & (S_IFMT | 0o7777), rdev),
        )?;
        Ok(())
    }

    /// `symlinkat`: `ENOENT` for an empty target.
    pub fn symlink(&self, lookup: &Lookup<'_>, target: &[u8], path: Path<'_>) -> Result<()> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        if target.len() >= crate::path::PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let (dir, name) = self.create_parent(lookup, path, false)?;
        let (_, uid, gid) = crate::perm::new_owner(&dir.metadata(), lookup.cred, 0);
        dir.inode.symlink(name, target, uid, gid)?;
        Ok(())
    }

    /// `linkat`: `follow` is `AT_SYMLINK_FOLLOW`. `EPERM` for a directory, `EXDEV` across
    /// mounts, `EEXIST` if the new name exists.
    pub fn link(
        &self,
        old_lookup: &Lookup<'_>,
        old: Path<'_>,
        follow: bool,
        new_lookup: &Lookup<'_>,
        new: Path<'_>,
    ) -> Result<()> {
        let source = self.resolve(old_lookup, old, follow)?;
        let (dir, name) = self.create_parent(new_lookup, new, false)?;
        if !Arc::ptr_eq(&source.mount, &dir.mount) {
            return Err(Errno::EXDEV);
        }
        if source.metadata().is_dir() {
            return Err(Errno::EPERM);
        }
        dir.inode.link(name, &source.inode)
    }

    /// `unlinkat` without `AT_REMOVEDIR`: `EISDIR` for `.`, `..`, `/` and directories,
    /// `ENOTDIR` for `file/`, `EBUSY` for a mount point, `EPERM` by the sticky rule.
    pub fn unlink(&self, lookup: &Lookup<'_>, path: Path<'_>) -> Result<()> {
        let parent = self.resolve_parent(lookup, path)?;
        let Last::Normal(name) = parent.last else {
            return Err(Errno::EISDIR);
        };
        let victim = self.child_no_cross(&parent.dir, name)?;
        let meta = victim.metadata();
        if parent.trailing_slash {
            return Err(if meta.is_dir() {
                Errno::EISDIR
            } else {
                Errno::ENOTDIR
            });
        }
        let dir_meta = Self::may_modify(lookup, &parent.dir)?;
        may_delete_sticky(&dir_meta, &meta, lookup.cred)?;
        if meta.is_dir() {
            return Err(Errno::EISDIR);
        }
        if self.is_mount_point(&victim) {
            return Err(Errno::EBUSY);
        }
        parent.dir.inode.unlink(name)
    }

    /// `unlinkat(AT_REMOVEDIR)`: `EINVAL` for `.`, `ENOTEMPTY` for `..`, `EBUSY` for `/` and
    /// mount points, `ENOTDIR`, `ENOTEMPTY`.
    pub fn rmdir(&self, lookup: &Lookup<'_>, path: Path<'_>) -> Result<()> {
        let parent = self.resolve_parent(lookup, path)?;
        let name = match parent.last {
            Last::Normal(name) => name,
            Last::Dot => return Err(Errno::EINVAL),
            Last::DotDot => return Err(Errno::ENOTEMPTY),
            Last::Root | Last::Empty => return Err(Errno::EBUSY),
        };
        let victim = self.child_no_cross(&parent.dir, name)?;
        let dir_meta = Self::may_modify(lookup, &parent.dir)?;
        let meta = victim.metadata();
        if !meta.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        may_delete_sticky(&dir_meta, &meta, lookup.cred)?;
        if self.is_mount_point(&victim) || victim.same(lookup.root) {
            return Err(Errno::EBUSY);
        }
        parent.dir.inode.rmdir(name)
    }

    /// `renameat2`. `EINVAL` for unknown or conflicting flags (and `RENAME_WHITEOUT`),
    /// `EBUSY` when either last component is `.`, `..` or `/` (`EEXIST` for the new one with
    /// `RENAME_NOREPLACE`), `EXDEV` across mounts, `ENOTDIR` for a trailing slash on a
    /// non-directory, `EBUSY` for mount points, then the filesystem's rules.
    pub fn rename(
        &self,
        old_lookup: &Lookup<'_>,
        old: Path<'_>,
        new_lookup: &Lookup<'_>,
        new: Path<'_>,
        flags: RenameFlags,
    ) -> Result<()> {
        if flags.0 & !7 != 0
            || flags.has(RenameFlags::WHITEOUT)
            || (flags.has(RenameFlags::EXCHANGE) && flags.has(RenameFlags::NOREPLACE))
        {
            return Err(Errno::EINVAL);
        }
        let from = self.resolve_parent(old_lookup, old)?;
        let to = self.resolve_parent(new_lookup, new)?;
        let Last::Normal(old_name) = from.last else {
            return Err(Errno::EBUSY);
        };
        let Last::Normal(new_name) = to.last else {
            return Err(if flags.has(RenameFlags::NOREPLACE) {
                Errno::EEXIST
            } else {
                Errno::EBUSY
            });
        };
        if !Arc::ptr_eq(&from.dir.mount, &to.dir.mount) {
            return Err(Errno::EXDEV);
        }
        let source = self.child_no_cross(&from.dir, old_name)?;
        let from_meta = Self::may_modify(old_lookup, &from.dir)?;
        let to_meta = Self::may_modify(new_lookup, &to.dir)?;
        let source_meta = source.metadata();
        if !source_meta.is_dir() && (from.trailing_slash || to.trailing_slash) {
            return Err(Errno::ENOTDIR);
        }
        may_delete_sticky(&from_meta, &source_meta, old_lookup.cred)?;
        let target = match self.child_no_cross(&to.dir, new_name) {
            Ok(target) => Some(target),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        if let Some(target) = &target {
            if same_inode(&source.inode, &target.inode) {
                return Ok(());
            }
            may_delete_sticky(&to_meta, &target.metadata(), new_lookup.cred)?;
            if self.is_mount_point(target) {
                return Err(Errno::EBUSY);
            }
        }
        if self.is_mount_point(&source) {
            return Err(Errno::EBUSY);
        }
        from.dir
            .inode
            .rename(old_name, &to.dir.inode, new_name, flags)
    }

    /// `readlinkat`: `EINVAL` if not a symlink.
    pub fn readlink(&self, lookup: &Lookup<'_>, path: Path<'_>) -> Result<Vec<u8>> {
        self.resolve(lookup, path, false)?.inode.readlink()
    }

    /// `newfstatat`/`statx` data.
    pub fn stat(&self, lookup: &Lookup<'_>, path: Path<'_>, follow: bool) -> Result<Metadata> {
        Ok(self.resolve(lookup, path, follow)?.metadata())
    }

    /// `faccessat`: `mode` is `F_OK` (0) or an or of `R_OK`/`W_OK`/`X_OK` (else `EINVAL`);
    /// `lookup.cred` should hold the real ids (or the effective ones for `AT_EACCESS`).
    pub fn access(
        &self,
        lookup: &Lookup<'_>,
        path: Path<'_>,
        mode: u32,
        follow: bool,
    ) -> Result<()> {
        if mode & !7 != 0 {
            return Err(Errno::EINVAL);
        }
        let place = self.resolve(lookup, path, follow)?;
        may_access(&place.metadata(), lookup.cred, mode)
    }

    /// `fchmodat`, `fchownat`, `utimensat`, `truncate`: the change on the resolved inode,
    /// checked by [`crate::perm::check_set_attr`] (the `f*` variants call that and
    /// `Inode::set_attr` on the file's inode themselves).
    pub fn set_attr(
        &self,
        lookup: &Lookup<'_>,
        path: Path<'_>,
        follow: bool,
        attr: &SetAttr,
    ) -> Result<()> {
        let place = self.resolve(lookup, path, follow)?;
        let meta = place.metadata();
        place.mount.check_writable()?;
        let attr = crate::perm::check_set_attr(&meta, lookup.cred, attr)?;
        place.inode.set_attr(&attr)
    }
}

/// A node made in a directory with `dir` metadata (owner and set-group-ID rules:
/// [`crate::perm::new_owner`]).
fn new_node(dir: &Metadata, lookup: &Lookup<'_>, mode: u32, rdev: u64) -> NewNode {
    let (mode, uid, gid) = crate::perm::new_owner(dir, lookup.cred, mode);
    NewNode {
        mode,
        rdev,
        uid,
        gid,
    }
}
