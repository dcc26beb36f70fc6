//! Discretionary access control: the owner/group/other check of Linux's `generic_permission`.
//!
//! The walk checks search (`MAY_EXEC`) on every directory it passes through, and the calls that
//! create or remove names check write and search on the parent. `access`/`faccessat` call
//! [`may_access`] with the real ids. Root (uid 0) has `CAP_DAC_OVERRIDE`: reads and writes are
//! always allowed, execute only when some execute bit is set or the file is a directory.

use crate::types::{Cred, FileType, Metadata, S_ISGID, S_ISVTX, SetAttr, SetTime};
use syscall::{Errno, Result};

/// Read permission (`R_OK`).
pub const MAY_READ: u32 = 4;
/// Write permission (`W_OK`).
pub const MAY_WRITE: u32 = 2;
/// Execute, or search for a directory (`X_OK`).
pub const MAY_EXEC: u32 = 1;

/// Checks `mask` (an or of `MAY_*`; 0 is `F_OK` and always passes) against the permission bits
/// of `meta` for `cred`. Only the class that applies counts: an owner denied by the owner bits
/// is denied even if "other" would allow. Errors: `EACCES`.
pub fn may_access(meta: &Metadata, cred: &Cred, mask: u32) -> Result<()> {
    let mask = mask & 7;
    if cred.uid == 0 {
        if mask & MAY_EXEC == 0 || meta.is_dir() || meta.mode & 0o111 != 0 {
            return Ok(());
        }
        return Err(Errno::EACCES);
    }
    let bits = if cred.uid == meta.uid {
        meta.mode >> 6
    } else if cred.in_group(meta.gid) {
        meta.mode >> 3
    } else {
        meta.mode
    } & 7;
    if bits & mask == mask {
        Ok(())
    } else {
        Err(Errno::EACCES)
    }
}

/// The sticky-directory rule for removing or renaming away `victim` from `dir`: in a directory
/// with `S_ISVTX`, only the owner of the file, the owner of the directory or root may. Errors:
/// `EPERM`.
pub fn may_delete_sticky(dir: &Metadata, victim: &Metadata, cred: &Cred) -> Result<()> {
    if dir.mode & S_ISVTX == 0 || cred.uid == 0 || cred.uid == victim.uid || cred.uid == dir.uid {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// Checks a metadata change (`chmod`, `chown`, `utimensat`, `truncate`) by `cred` on a file
/// with `meta`, as Linux's `notify_change` and `setattr_prepare`, and returns the change to
/// apply. Errors: `EPERM` when a non-owner changes mode or sets explicit times, when a
/// non-root changes the owner or gives the file a group it is not in; `EACCES` for
/// `truncate`, or times set to now by a non-owner, without write permission; `EISDIR`/`EINVAL`
/// for a size change of a directory/non-regular file. A non-root `chmod` of a file whose group
/// the caller is not in drops set-group-id.
pub fn check_set_attr(meta: &Metadata, cred: &Cred, attr: &SetAttr) -> Result<SetAttr> {
    let mut attr = *attr;
    if attr.size.is_some() {
        match meta.file_type() {
            FileType::Directory => return Err(Errno::EISDIR),
            FileType::Regular => {}
            _ => return Err(Errno::EINVAL),
        }
        may_access(meta, cred, MAY_WRITE)?;
    }
    if cred.uid == 0 {
        return Ok(attr);
    }
    let owner = cred.uid == meta.uid;
    let explicit = |t: Option<SetTime>| matches!(t, Some(SetTime::At(_)));
    if (attr.mode.is_some() || explicit(attr.atime) || explicit(attr.mtime)) && !owner {
        return Err(Errno::EPERM);
    }
    if attr.uid.is_some_and(|u| u != meta.uid)
        || attr
            .gid
            .is_some_and(|g| g != meta.gid && !(owner && cred.in_group(g)))
    {
        return Err(Errno::EPERM);
    }
    if (attr.atime.is_some() || attr.mtime.is_some()) && !owner {
        may_access(meta, cred, MAY_WRITE)?;
    }
    if let Some(mode) = attr.mode
        && !cred.in_group(attr.gid.unwrap_or(meta.gid))
    {
        attr.mode = Some(mode & !S_ISGID);
    }
    Ok(attr)
}

/// The mode, owner and group of a node `cred` creates in directory `dir` with `mode` (type
/// and permission bits), as Linux's `inode_init_owner` and `mode_strip_sgid`: the owner is
/// the fsuid; in a set-group-ID directory the group is the directory's, a new directory
/// inherits set-group-ID, and a group-executable set-group-ID file made by someone outside
/// that group (and not root) loses the bit; elsewhere the group is the fsgid.
pub fn new_owner(dir: &Metadata, cred: &Cred, mode: u32) -> (u32, u32, u32) {
    if dir.mode & S_ISGID == 0 {
        return (mode, cred.uid, cred.gid);
    }
    let is_dir = mode & crate::types::S_IFMT == crate::types::S_IFDIR;
    let mode = if is_dir {
        mode | S_ISGID
    } else if mode & (S_ISGID | 0o010) == S_ISGID | 0o010
        && cred.uid != 0
        && !cred.in_group(dir.gid)
    {
        mode & !S_ISGID
    } else {
        mode
    };
    (mode, cred.uid, dir.gid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{S_IFDIR, S_IFREG};

    fn file(mode: u32, uid: u32, gid: u32) -> Metadata {
        Metadata {
            mode: S_IFREG | mode,
            uid,
            gid,
            ..Metadata::default()
        }
    }

    #[test]
    fn root_overrides_but_needs_an_x_bit_to_execute() {
        let root = Cred::ROOT;
        let f = file(0o000, 5, 5);
        assert_eq!(may_access(&f, &root, MAY_READ | MAY_WRITE), Ok(()));
        assert_eq!(may_access(&f, &root, MAY_EXEC), Err(Errno::EACCES));
        assert_eq!(may_access(&file(0o001, 5, 5), &root, MAY_EXEC), Ok(()));
        let dir = Metadata {
            mode: S_IFDIR,
            ..Metadata::default()
        };
        assert_eq!(may_access(&dir, &root, 7), Ok(()));
    }

    #[test]
    fn only_the_matching_class_counts() {
        let f = file(0o047, 10, 20);
        let owner = Cred::user(10, 99);
        let member = Cred {
            uid: 11,
            gid: 1,
            groups: alloc::vec![20],
        };
        let other = Cred::user(12, 30);
        // The owner has no bits although group and other do.
        assert_eq!(may_access(&f, &owner, MAY_READ), Err(Errno::EACCES));
        assert_eq!(may_access(&f, &owner, 0), Ok(()));
        assert_eq!(may_access(&f, &member, MAY_READ), Ok(()));
        assert_eq!(may_access(&f, &member, MAY_WRITE), Err(Errno::EACCES));
        assert_eq!(
            may_access(&f, &other, MAY_READ | MAY_WRITE | MAY_EXEC),
            Ok(())
        );
        assert_eq!(
            may_access(&file(0o640, 10, 20), &other, MAY_READ),
            Err(Errno::EACCES)
        );
        assert_eq!(may_access(&file(0o640, 10, 20), &owner, 6), Ok(()));
        assert_eq!(
            may_access(&file(0o640, 10, 20), &owner, 7),
            Err(Errno::EACCES)
        );
    }

    #[test]
    fn new_nodes_in_set_group_id_directories() {
        let plain = Metadata {
            mode: S_IFDIR | 0o777,
            gid: 50,
            ..Metadata::default()
        };
        let user = Cred::user(10, 20);
        assert_eq!(
            new_owner(&plain, &user, S_IFREG | 0o644),
            (S_IFREG | 0o644, 10, 20)
        );
        let sgid = Metadata {
            mode: S_IFDIR | S_ISGID | 0o777,
            ..plain
        };
        assert_eq!(
            new_owner(&sgid, &user, S_IFREG | 0o644),
            (S_IFREG | 0o644, 10, 50)
        );
        assert_eq!(
            new_owner(&sgid, &user, S_IFDIR | 0o755),
            (S_IFDIR | S_ISGID | 0o755, 10, 50)
        );
        assert_eq!(
            new_owner(&sgid, &user, S_IFREG | S_ISGID | 0o755),
            (S_IFREG | 0o755, 10, 50)
        );
        let member = Cred {
            uid: 10,
            gid: 20,
            groups: alloc::vec![50],
        };
        assert_eq!(
            new_owner(&sgid, &member, S_IFREG | S_ISGID | 0o755),
            (S_IFREG | S_ISGID | 0o755, 10, 50)
        );
    }

    #[test]
    fn sticky_directories() {
        let tmp = Metadata {
            mode: S_IFDIR | 0o1777,
            uid: 0,
            ..Metadata::default()
        };
        let victim = file(0o644, 10, 10);
        assert_eq!(
            may_delete_sticky(&tmp, &victim, &Cred::user(11, 11)),
            Err(Errno::EPERM)
        );
        assert_eq!(
            may_delete_sticky(&tmp, &victim, &Cred::user(10, 11)),
            Ok(())
        );
        assert_eq!(may_delete_sticky(&tmp, &victim, &Cred::ROOT), Ok(()));
        let plain = Metadata {
            mode: S_IFDIR | 0o777,
            ..tmp
        };
        assert_eq!(
            may_delete_sticky(&plain, &victim, &Cred::user(11, 11)),
            Ok(())
        );
    }

    #[test]
    fn set_attr_rules() {
        let f = file(0o2644, 10, 20);
        let owner = Cred::user(10, 30);
        let chmod = SetAttr {
            mode: Some(0o2755),
            ..SetAttr::default()
        };
        // Not in the file's group: set-group-id is dropped.
        assert_eq!(
            check_set_attr(&f, &owner, &chmod).unwrap().mode,
            Some(0o755)
        );
        assert_eq!(
            check_set_attr(&f, &Cred::ROOT, &chmod).unwrap().mode,
            Some(0o2755)
        );
        assert_eq!(
            check_set_attr(&f, &Cred::user(11, 20), &chmod),
            Err(Errno::EPERM)
        );
        let now = SetAttr {
            mtime: Some(SetTime::Now),
            ..SetAttr::default()
        };
        assert_eq!(
            check_set_attr(&f, &Cred::user(11, 99), &now),
            Err(Errno::EACCES)
        );
        assert!(check_set_attr(&file(0o646, 10, 20), &Cred::user(11, 99), &now).is_ok());
        let chgrp = SetAttr {
            gid: Some(30),
            ..SetAttr::default()
        };
        assert!(check_set_attr(&f, &owner, &chgrp).is_ok());
        let chgrp_other = SetAttr {
            gid: Some(31),
            ..SetAttr::default()
        };
        assert_eq!(check_set_attr(&f, &owner, &chgrp_other), Err(Errno::EPERM));
        let trunc = SetAttr {
            size: Some(0),
            ..SetAttr::default()
        };
        assert_eq!(
            check_set_attr(&file(0o444, 10, 20), &owner, &trunc),
            Err(Errno::EACCES)
        );
        let dir = Metadata {
            mode: S_IFDIR | 0o777,
            ..Metadata::default()
        };
        assert_eq!(
            check_set_attr(&dir, &Cred::ROOT, &trunc),
            Err(Errno::EISDIR)
        );
    }
}
