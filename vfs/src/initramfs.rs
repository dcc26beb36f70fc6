//! Unpacking a cpio newc/crc archive (the initramfs) into a directory of any filesystem, as
//! Linux's `init/initramfs.c` does: regular files, directories, symlinks, device nodes, FIFOs,
//! sockets, hard links (entries with `nlink >= 2` and the same `(dev, ino)` share an inode; the
//! data may come with any of them, GNU cpio puts it on the last), mode, owner and mtime
//! (directories' mtimes are set at the end, after their entries were added). Several archives
//! may follow one another, with NUL padding between them.
//!
//! Hostile names are refused (the entry is skipped and reported), never followed: absolute
//! names, `..` components, and paths that would pass through a symlink or a non-directory. A
//! leading `./` is dropped; `.` names the target directory itself. Missing parent directories
//! are created (mode `0o755`). An existing entry of the same name is replaced (directories
//! are kept and get the new metadata; a non-empty directory is not replaced by a non-dir).

use crate::inode::Inode;
use crate::types::{
    FileType, NewNode, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFSOCK, SetAttr, SetTime, Timespec,
    makedev,
};
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use cpio::{Entry, FileType as CpioType, Reader};
use syscall::{Errno, Result};

/// Why an entry was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The name starts with `/`.
    Absolute,
    /// The name has a `..` component.
    DotDot,
    /// A parent component is a symlink or not a directory.
    BadParent,
    /// The type bits name no file type, or a symlink has an empty target.
    BadEntry,
    /// The filesystem said no.
    Fs(Errno),
}

/// What [`unpack`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Entries created or updated.
    pub unpacked: usize,
    /// Of those, additional hard links.
    pub hard_links: usize,
    /// Archives read (concatenated ones count separately).
    pub archives: usize,
    /// Entries not unpacked, with the reason.
    pub refused: Vec<(Vec<u8>, Refused)>,
}

/// A malformed archive: where, and what was unpacked before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnpackError {
    /// The parser's error.
    pub error: cpio::Error,
    /// What was done before it.
    pub summary: Summary,
}

/// Unpacks `archive` (one or more concatenated cpio archives) into the directory `root`.
/// `Err` only for a malformed archive; entries before the error stay unpacked.
pub fn unpack(root: &Arc<dyn Inode>, archive: &[u8]) -> core::result::Result<Summary, UnpackError> {
    let mut state = State {
        root: root.clone(),
        links: BTreeMap::new(),
        dir_times: Vec::new(),
        summary: Summary::default(),
    };
    let mut rest = archive;
    let result = loop {
        let start = rest.iter().position(|&b| b != 0).unwrap_or(rest.len());
        rest = &rest[start..];
        if rest.is_empty() {
            break Ok(());
        }
        let base = archive.len() - rest.len();
        let mut reader = Reader::new(rest);
        let mut failed = None;
        for entry in reader.by_ref() {
            match entry {
                Ok(entry) => state.entry(&entry),
                Err(mut error) => {
                    error.offset += base;
                    failed = Some(error);
                }
            }
        }
        if let Some(error) = failed {
            break Err(error);
        }
        state.summary.archives += 1;
        state.links.clear();
        rest = reader.rest().unwrap_or(&[]);
    };
    for (dir, mtime) in state.dir_times.drain(..) {
        let _ = dir.set_attr(&SetAttr {
            mtime: Some(SetTime::At(mtime)),
            ..SetAttr::default()
        });
    }
    match result {
        Ok(()) => Ok(state.summary),
        Err(error) => Err(UnpackError {
            error,
            summary: state.summary,
        }),
    }
}

struct State {
    root: Arc<dyn Inode>,
    /// `(dev_major, dev_minor, ino)` → the inode of the first name.
    links: BTreeMap<(u32, u32, u32), Arc<dyn Inode>>,
    dir_times: Vec<(Arc<dyn Inode>, Timespec)>,
    summary: Summary,
}

/// The components of an archive name: `None` entries are skipped names (`.`, empty).
fn split_name(name: &[u8]) -> core::result::Result<Vec<&[u8]>, Refused> {
    if name.first() == Some(&b'/') {
        return Err(Refused::Absolute);
    }
    let mut parts = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(Refused::DotDot),
            p if p.len() > crate::path::NAME_MAX => return Err(Refused::Fs(Errno::ENAMETOOLONG)),
            p => parts.push(p),
        }
    }
    Ok(parts)
}

impl State {
    fn entry(&mut self, entry: &Entry<'_>) {
        if let Err(why) = self.try_entry(entry) {
            self.summary.refused.push((entry.name.to_vec(), why));
        }
    }

    fn try_entry(&mut self, entry: &Entry<'_>) -> core::result::Result<(), Refused> {
        let parts = split_name(entry.name)?;
        let fs = |e: Errno| Refused::Fs(e);
        let mtime = Timespec::from_secs(i64::from(entry.mtime));
        let Some((&name, dirs)) = parts.split_last() else {
            // "." itself: the target directory takes the entry's metadata.
            if entry.file_type() == CpioType::Directory {
                self.root.set_attr(&attrs(entry, false)).map_err(fs)?;
                self.dir_times.push((self.root.clone(), mtime));
                self.summary.unpacked += 1;
                return Ok(());
            }
            return Err(Refused::BadEntry);
        };
        let parent = self.parent_dir(dirs)?;
        let node = |mode: u32, rdev: u64| NewNode {
            mode,
            rdev,
            uid: entry.uid,
            gid: entry.gid,
        };
        let perm = entry.permissions();
        let existing = parent.lookup(name).ok();
        let kind = entry.file_type();
        if kind == CpioType::Directory {
            let dir = match existing {
                Some(old) if old.metadata().is_dir() => old,
                other => {
                    if other.is_some() {
                        parent.unlink(name).map_err(fs)?;
                    }
                    parent.create(name, &node(S_IFDIR | perm, 0)).map_err(fs)?
                }
            };
            dir.set_attr(&attrs(entry, false)).map_err(fs)?;
            self.dir_times.push((dir, mtime));
            self.summary.unpacked += 1;
            return Ok(());
        }
        let mode = match kind {
            CpioType::Regular => crate::types::S_IFREG,
            CpioType::Symlink => crate::types::S_IFLNK,
            CpioType::CharDevice => S_IFCHR,
            CpioType::BlockDevice => S_IFBLK,
            CpioType::Fifo => S_IFIFO,
            CpioType::Socket => S_IFSOCK,
            CpioType::Directory | CpioType::Unknown(_) => return Err(Refused::BadEntry),
        };
        if kind == CpioType::Symlink && entry.data.is_empty() {
            return Err(Refused::BadEntry);
        }
        let key = (entry.dev_major, entry.dev_minor, entry.ino);
        let linked = if entry.nlink >= 2 && kind != CpioType::Symlink {
            self.links.get(&key).cloned()
        } else {
            None
        };
        if let Some(old) = existing {
            if linked
                .as_ref()
                .is_some_and(|l| crate::inode::same_inode(l, &old))
            {
                // The same link again: just the data below.
            } else if old.metadata().is_dir() {
                parent.rmdir(name).map_err(fs)?;
            } else {
                parent.unlink(name).map_err(fs)?;
            }
        }
        let inode = match linked {
            Some(inode) => {
                if parent.lookup(name).is_err() {
                    parent.link(name, &inode).map_err(fs)?;
                    self.summary.hard_links += 1;
                }
                inode
            }
            None => {
                let inode = match kind {
                    CpioType::Symlink => parent
                        .symlink(name, entry.data, entry.uid, entry.gid)
                        .map_err(fs)?,
                    _ => {
                        let rdev = makedev(entry.rdev_major, entry.rdev_minor);
                        parent.create(name, &node(mode | perm, rdev)).map_err(fs)?
                    }
                };
                if entry.nlink >= 2 && kind != CpioType::Symlink {
                    self.links.insert(key, inode.clone());
                }
                inode
            }
        };
        if kind == CpioType::Regular && !entry.data.is_empty() {
            write_all(&inode, entry.data).map_err(fs)?;
        }
        inode
            .set_attr(&attrs(entry, kind == CpioType::Symlink))
            .map_err(fs)?;
        self.summary.unpacked += 1;
        Ok(())
    }

    /// Walks (creating) the directories `dirs` below the root, refusing to pass through
    /// anything but real directories.
    fn parent_dir(&self, dirs: &[&[u8]]) -> core::result::Result<Arc<dyn Inode>, Refused> {
        let mut dir = self.root.clone();
        for &name in dirs {
            dir = match dir.lookup(name) {
                Ok(next) if next.metadata().file_type() == FileType::Directory => next,
                Ok(_) => return Err(Refused::BadParent),
                Err(Errno::ENOENT) => dir
                    .create(
                        name,
                        &NewNode {
                            mode: S_IFDIR | 0o755,
                            rdev: 0,
                            uid: 0,
                            gid: 0,
                        },
                    )
                    .map_err(Refused::Fs)?,
                Err(e) => return Err(Refused::Fs(e)),
            };
        }
        Ok(dir)
    }
}

fn attrs(entry: &Entry<'_>, symlink: bool) -> SetAttr {
    SetAttr {
        mode: (!symlink).then_some(entry.permissions()),
        uid: Some(entry.uid),
        gid: Some(entry.gid),
        size: None,
        atime: Some(SetTime::At(Timespec::from_secs(i64::from(entry.mtime)))),
        mtime: Some(SetTime::At(Timespec::from_secs(i64::from(entry.mtime)))),
    }
}

fn write_all(inode: &Arc<dyn Inode>, data: &[u8]) -> Result<()> {
    let mut done = 0;
    while done < data.len() {
        let n = inode.write_at(done as u64, &data[done..])?;
        if n == 0 {
            return Err(Errno::EIO);
        }
        done += n;
    }
    inode.set_attr(&SetAttr {
        size: Some(data.len() as u64),
        ..SetAttr::default()
    })
}
