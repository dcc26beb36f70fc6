//! Magic links (`Inode::jump`, Linux's `nd_jump_link`): following one lands on the place or
//! object it names, whatever its text says; without following, it is an ordinary symlink.

mod common;

use common::{World, p};
use std::any::Any;
use std::sync::Arc;
use syscall::{Errno, Result};
use vfs::types::{S_IFDIR, S_IFLNK};
use vfs::{FileSystem, Inode, Jump, Metadata, OpenFlags, PathRef, SetAttr, StatFs};

/// A filesystem whose root holds one magic link, `m`, to `target`.
struct Magic {
    root: Arc<Dir>,
}

struct Dir {
    target: PathRef,
}

struct Link {
    target: PathRef,
}

impl FileSystem for Magic {
    fn root(&self) -> Arc<dyn Inode> {
        self.root.clone()
    }
    fn statfs(&self) -> StatFs {
        StatFs::default()
    }
    fn fs_type(&self) -> &'static str {
        "magic"
    }
}

impl Inode for Dir {
    fn metadata(&self) -> Metadata {
        Metadata {
            ino: 1,
            mode: S_IFDIR | 0o555,
            nlink: 2,
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
            b"m" => Ok(Arc::new(Link {
                target: self.target.clone(),
            })),
            _ => Err(Errno::ENOENT),
        }
    }
}

impl Inode for Link {
    fn metadata(&self) -> Metadata {
        Metadata {
            ino: 2,
            mode: S_IFLNK | 0o777,
            nlink: 1,
            ..Metadata::default()
        }
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn readlink(&self) -> Result<Vec<u8>> {
        // Text that leads nowhere: only the jump can find the file.
        Ok(b"pipe:[1]".to_vec())
    }
    fn jump(&self) -> Option<Result<Jump>> {
        Some(Ok(Jump::Place(self.target.clone())))
    }
}

#[test]
fn magic_link_lands_on_its_place() {
    let w = World::new();
    w.mkdir(b"/d").unwrap();
    w.create(b"/d/file", b"hello").unwrap();
    w.mkdir(b"/mnt").unwrap();
    let file = w.vfs.resolve(&w.lookup(), p(b"/d/file"), true).unwrap();
    let mnt = w.vfs.resolve(&w.lookup(), p(b"/mnt"), true).unwrap();
    w.vfs
        .mount(
            &mnt,
            Arc::new(Magic {
                root: Arc::new(Dir { target: file }),
            }),
            b"magic",
        )
        .unwrap();
    assert_eq!(w.read_all(b"/mnt/m").unwrap(), b"hello");
    assert_eq!(w.stat(b"/mnt/m").unwrap().size, 5);
    // Not followed: the link itself and its text.
    let lst = w.vfs.stat(&w.lookup(), p(b"/mnt/m"), false).unwrap();
    assert_eq!(lst.mode, S_IFLNK | 0o777);
    assert_eq!(
        w.vfs.readlink(&w.lookup(), p(b"/mnt/m")).unwrap(),
        b"pipe:[1]"
    );
    assert_eq!(
        w.vfs
            .open(
                &w.lookup(),
                p(b"/mnt/m"),
                OpenFlags::RDONLY.with(OpenFlags::NOFOLLOW),
                0
            )
            .err(),
        Some(Errno::ELOOP)
    );
    // A link to a directory: the walk goes on below it.
    let w2 = World::new();
    w2.mkdir(b"/mnt").unwrap();
    let mnt2 = w2.vfs.resolve(&w2.lookup(), p(b"/mnt"), true).unwrap();
    w2.mkdir(b"/e").unwrap();
    w2.create(b"/e/inner", b"x").unwrap();
    let e = w2.vfs.resolve(&w2.lookup(), p(b"/e"), true).unwrap();
    w2.vfs
        .mount(
            &mnt2,
            Arc::new(Magic {
                root: Arc::new(Dir { target: e }),
            }),
            b"magic",
        )
        .unwrap();
    assert_eq!(w2.read_all(b"/mnt/m/inner").unwrap(), b"x");
}
