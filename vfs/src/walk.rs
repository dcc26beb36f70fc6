//! The path walk (`fs/namei.c`): components one by one from the root or the start directory,
//! `..` across mount points, symlinks followed (relative to the directory holding them,
//! absolute from the process root), at most [`MAX_SYMLINKS`] per walk (`ELOOP` after), search
//! permission checked on every directory passed.

use crate::inode::{Inode, same_inode};
use crate::mount::{PathRef, Vfs};
use crate::path::{Component, Last, Path};
use crate::perm::{MAY_EXEC, may_access};
use crate::types::{Cred, FileType};
use alloc::sync::Arc;
use alloc::vec::Vec;
use syscall::{Errno, Result};

/// Symlinks one walk may follow (Linux's `MAXSYMLINKS`).
pub const MAX_SYMLINKS: u32 = 40;

/// Where a walk starts and for whom: the process root (for absolute paths, symlinks and as the
/// top `..` cannot leave), the start directory (cwd, or the `dirfd` of an `*at` call) and the
/// credentials for search permission.
#[derive(Clone, Copy)]
pub struct Lookup<'a> {
    /// The process root.
    pub root: &'a PathRef,
    /// Where relative paths start.
    pub start: &'a PathRef,
    /// Who walks.
    pub cred: &'a Cred,
}

/// Where a magic link ([`Inode::jump`]) leads.
pub enum Jump {
    /// A place in the tree (an open file's, a process's cwd or root).
    Place(PathRef),
    /// An object outside the tree (a pipe), reached on the link's own mount.
    Inode(Arc<dyn Inode>),
}

/// The parent directory of a create-style call and its last component.
pub struct Parent<'a> {
    /// The directory the name lives in.
    pub dir: PathRef,
    /// The last component's kind.
    pub last: Last<'a>,
    /// The path ended in a slash (the result must be a directory).
    pub trailing_slash: bool,
}

impl Vfs {
    /// Resolves `path`. `follow`: follow a symlink in the last component (`AT_SYMLINK_FOLLOW`,
    /// not `O_NOFOLLOW`); a trailing slash follows it anyway and requires a directory
    /// (`ENOTDIR`). The empty path (if the caller allowed it) is `lookup.start`.
    pub fn resolve(&self, lookup: &Lookup<'_>, path: Path<'_>, follow: bool) -> Result<PathRef> {
        let mut links = 0;
        self.resolve_inner(lookup, lookup.start, path.as_bytes(), follow, &mut links)
    }

    /// Resolves all but the last component, for calls that create, remove or rename a name.
    pub fn resolve_parent<'p>(&self, lookup: &Lookup<'_>, path: Path<'p>) -> Result<Parent<'p>> {
        let mut links = 0;
        let (parent, last) = path.split_last();
        let dir = match parent {
            Some(p) => self.resolve_inner(lookup, lookup.start, p.as_bytes(), true, &mut links)?,
            None if path.is_absolute() => lookup.root.clone(),
            None => lookup.start.clone(),
        };
        if !dir.metadata().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if let Last::Normal(name) = last
            && name.len() > crate::path::NAME_MAX
        {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(Parent {
            dir,
            last,
            trailing_slash: path.has_trailing_slash(),
        })
    }

    fn resolve_inner(
        &self,
        lookup: &Lookup<'_>,
        start: &PathRef,
        path: &[u8],
        follow: bool,
        links: &mut u32,
    ) -> Result<PathRef> {
        let mut cur = if path.first() == Some(&b'/') {
            lookup.root.clone()
        } else {
            start.clone()
        };
        let checked = Path::new(path, crate::path::EmptyPath::Allow)?;
        let mut components = checked.components();
        while let Some(component) = components.next() {
            let component = component?;
            let last = components.is_done();
            let meta = cur.metadata();
            if !meta.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            may_access(&meta, lookup.cred, MAY_EXEC)?;
            match component {
                Component::CurDir => {}
                Component::ParentDir => cur = self.dotdot(lookup.root, &cur)?,
                Component::Normal(name) => {
                    let child = self.child(&cur, name)?;
                    let follow_this = !last || follow || checked.has_trailing_slash();
                    if follow_this && child.metadata().file_type() == FileType::Symlink {
                        *links += 1;
                        if *links > MAX_SYMLINKS {
                            return Err(Errno::ELOOP);
                        }
                        cur = match child.inode.jump() {
                            Some(Ok(Jump::Place(place))) => place,
                            Some(Ok(Jump::Inode(inode))) => PathRef {
                                mount: child.mount.clone(),
                                inode,
                            },
                            Some(Err(e)) => return Err(e),
                            None => {
                                let target = child.inode.readlink()?;
                                if target.is_empty() {
                                    return Err(Errno::ENOENT);
                                }
                                self.resolve_inner(lookup, &cur, &target, true, links)?
                            }
                        };
                    } else {
                        cur = child;
                    }
                }
            }
        }
        if checked.has_trailing_slash() && !cur.metadata().is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(cur)
    }

    /// The entry `name` of the directory `dir`, and whatever is mounted on it.
    pub fn child(&self, dir: &PathRef, name: &[u8]) -> Result<PathRef> {
        if name.len() > crate::path::NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let inode = dir.inode.lookup(name)?;
        Ok(self.cross_down(PathRef {
            mount: dir.mount.clone(),
            inode,
        }))
    }

    /// The entry `name` of `dir` without crossing into a mount on it (to tell a mount point).
    pub fn child_no_cross(&self, dir: &PathRef, name: &[u8]) -> Result<PathRef> {
        Ok(PathRef {
            mount: dir.mount.clone(),
            inode: dir.inode.lookup(name)?,
        })
    }

    /// Whether `place` is covered by a mount.
    pub fn is_mount_point(&self, place: &PathRef) -> bool {
        self.mounted_on(&place.mount, &place.inode).is_some()
    }

    /// `..` of `dir`: stays at the process root; at the root of a mount, goes up to the
    /// directory it is mounted on first.
    pub fn dotdot(&self, root: &PathRef, dir: &PathRef) -> Result<PathRef> {
        let mut cur = dir.clone();
        loop {
            if cur.same(root) {
                return Ok(cur);
            }
            if !cur.is_mount_root() {
                break;
            }
            match cur.mount.parent() {
                Some((mount, inode)) => cur = PathRef { mount, inode },
                None => return Ok(cur),
            }
        }
        let parent = cur.inode.lookup(b"..")?;
        Ok(self.cross_down(PathRef {
            mount: cur.mount,
            inode: parent,
        }))
    }

    /// The absolute path of `place` as seen from `root` (`getcwd`). `ENOENT` if `place` was
    /// removed (as Linux's `getcwd` says for an unlinked cwd). A place outside `root` is
    /// named from the namespace root.
    pub fn path_of(&self, root: &PathRef, place: &PathRef) -> Result<Vec<u8>> {
        if place.metadata().nlink == 0 {
            return Err(Errno::ENOENT);
        }
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut cur = place.clone();
        loop {
            if cur.same(root) {
                break;
            }
            if cur.is_mount_root() {
                match cur.mount.parent() {
                    Some((mount, inode)) => {
                        cur = PathRef { mount, inode };
                        continue;
                    }
                    None => break,
                }
            }
            let parent = cur.inode.lookup(b"..")?;
            if same_inode(&parent, &cur.inode) {
                break;
            }
            names.push(name_in(&parent, &cur.inode)?);
            cur = PathRef {
                mount: cur.mount,
                inode: parent,
            };
        }
        let mut out = Vec::new();
        for name in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(name);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Ok(out)
    }
}

/// The name under which `dir` holds `child`.
fn name_in(dir: &Arc<dyn Inode>, child: &Arc<dyn Inode>) -> Result<Vec<u8>> {
    let ino = child.metadata().ino;
    let mut found = None;
    let mut candidates = Vec::new();
    dir.readdir(0, &mut |entry| {
        if entry.ino == ino && entry.name != b"." && entry.name != b".." {
            candidates.push(entry.name.to_vec());
        }
        true
    })?;
    for name in candidates {
        if dir.lookup(&name).is_ok_and(|i| same_inode(&i, child)) {
            found = Some(name);
            break;
        }
    }
    found.ok_or(Errno::ENOENT)
}
