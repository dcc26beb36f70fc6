//! The mount table operations behind `mount(2)`/`umount2(2)`: new mounts through registered
//! types, flags, read-only and `nodev` enforcement, bind mounts (recursive too), remounts,
//! `/proc/mounts` options, `statfs` flags, busy rules, and memory returned at unmount.

mod common;

use common::{World, p};
use std::sync::{Arc, Weak};
use syscall::{Errno, Result};
use vfs::mount::{FsType, MNT_DETACH, MNT_EXPIRE, MNT_FORCE, ms, split_flags, st};
use vfs::{FileSystem, OpenFlags};

/// `mount -t tmpfs`: a new instance each time, options checked by tmpfs's parser; the last
/// instance made is kept (weakly) to see it freed.
struct TestTmpfs {
    made: std::sync::Mutex<Weak<tmpfs::TmpFs>>,
}

impl FsType for TestTmpfs {
    fn name(&self) -> &'static str {
        "tmpfs"
    }

    fn mount(&self, _source: &[u8], data: &[u8]) -> Result<(Arc<dyn FileSystem>, Vec<u8>)> {
        let o = tmpfs::options::parse(data, 1000)?;
        let fs = tmpfs::TmpFs::with_limits(
            common::clock(),
            9,
            o.max_pages.unwrap_or(500),
            o.max_inodes.unwrap_or(500),
            "tmpfs",
        );
        *self.made.lock().unwrap() = Arc::downgrade(&fs);
        let shown = tmpfs::options::show(
            1000,
            o.max_pages.unwrap_or(500),
            o.max_inodes.unwrap_or(500),
            0o1777,
            0,
            0,
        );
        Ok((fs, shown))
    }

    fn remount(&self, _fs: &Arc<dyn FileSystem>, data: &[u8]) -> Result<Option<Vec<u8>>> {
        tmpfs::options::parse(data, 1000).map(|_| None)
    }
}

/// A type with one shared instance (devtmpfs-like).
struct SharedType(Arc<dyn FileSystem>);

impl FsType for SharedType {
    fn name(&self) -> &'static str {
        "shared"
    }

    fn mount(&self, _source: &[u8], _data: &[u8]) -> Result<(Arc<dyn FileSystem>, Vec<u8>)> {
        Ok((self.0.clone(), b"mode=755".to_vec()))
    }
}

fn world() -> (World, Arc<TestTmpfs>) {
    let w = World::new();
    let t = Arc::new(TestTmpfs {
        made: std::sync::Mutex::new(Weak::new()),
    });
    w.vfs.register_fs_type(t.clone());
    w.mkdir_p(b"/mnt/a").unwrap();
    w.mkdir_p(b"/mnt/b").unwrap();
    w.create(b"/file", b"root file").unwrap();
    (w, t)
}

fn mount_tmpfs(w: &World, at: &[u8], flags: u32, data: &[u8]) -> Result<()> {
    w.vfs
        .mount_new(&w.resolve(at)?, b"tmpfs", b"none", flags, data)
        .map(|_| ())
}

fn mounts_line(w: &World, at: &[u8]) -> String {
    let place = w.resolve(at).unwrap();
    let m = &place.mount;
    String::from_utf8(m.mounts_options()).unwrap()
}

#[test]
fn split_flags_follows_path_mount() {
    assert_eq!(split_flags(0), (ms::RELATIME, 0));
    assert_eq!(
        split_flags(ms::RDONLY | ms::NOSUID | ms::SYNCHRONOUS),
        (
            ms::RDONLY | ms::NOSUID | ms::RELATIME,
            ms::RDONLY | ms::SYNCHRONOUS
        )
    );
    assert_eq!(split_flags(ms::NOATIME), (ms::NOATIME, 0));
    assert_eq!(split_flags(ms::STRICTATIME | ms::NODEV), (ms::NODEV, 0));
    assert_eq!(split_flags(ms::SILENT | ms::BIND).0, ms::RELATIME);
}

#[test]
fn new_mounts_options_and_unknown_types() {
    let (w, made) = world();
    assert_eq!(
        mount_tmpfs(&w, b"/mnt/a", 0, b"size=1m,bogus"),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        w.vfs
            .mount_new(&w.resolve(b"/mnt/a").unwrap(), b"nofs", b"x", 0, b"")
            .err(),
        Some(Errno::ENODEV)
    );
    assert_eq!(mount_tmpfs(&w, b"/file", 0, b""), Err(Errno::ENOTDIR));
    mount_tmpfs(&w, b"/mnt/a", ms::NOSUID | ms::NODEV, b"size=1m").unwrap();
    assert_eq!(
        mounts_line(&w, b"/mnt/a"),
        "rw,nosuid,nodev,relatime,size=1024k"
    );
    w.create(b"/mnt/a/f", b"hi").unwrap();
    assert_eq!(w.read_all(b"/mnt/a/f").unwrap(), b"hi");
    let s = w.vfs.statfs(&w.resolve(b"/mnt/a").unwrap());
    assert_eq!(s.blocks, 256);
    assert_eq!(s.flags, st::VALID | st::NOSUID | st::NODEV | st::RELATIME);
    // The file is gone after the unmount, and so is the filesystem.
    assert!(made.made.lock().unwrap().upgrade().is_some());
    w.vfs.umount(w.resolve(b"/mnt/a").unwrap(), 0).unwrap();
    assert_eq!(w.stat(b"/mnt/a/f"), Err(Errno::ENOENT));
    assert!(made.made.lock().unwrap().upgrade().is_none());
    // Not a mount point any more.
    assert_eq!(
        w.vfs.umount(w.resolve(b"/mnt/a").unwrap(), 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        w.vfs.umount(w.resolve(b"/mnt/a").unwrap(), 0x100),
        Err(Errno::EINVAL)
    );
}

#[test]
fn read_only_mounts_refuse_writes() {
    let (w, _) = world();
    mount_tmpfs(&w, b"/mnt/a", 0, b"").unwrap();
    w.create(b"/mnt/a/f", b"data").unwrap();
    w.mkdir(b"/mnt/a/d").unwrap();
    w.vfs
        .remount(&w.resolve(b"/mnt/a").unwrap(), ms::RDONLY, b"", false)
        .unwrap();
    assert_eq!(mounts_line(&w, b"/mnt/a"), "ro,relatime");
    let s = w.vfs.statfs(&w.resolve(b"/mnt/a/f").unwrap());
    assert_eq!(s.flags & st::RDONLY, st::RDONLY);
    let l = w.lookup();
    assert_eq!(w.create(b"/mnt/a/g", b"x"), Err(Errno::EROFS));
    assert_eq!(
        w.open(b"/mnt/a/f", OpenFlags::WRONLY).err(),
        Some(Errno::EROFS)
    );
    assert_eq!(
        w.open(
            b"/mnt/a/f",
            OpenFlags(OpenFlags::RDONLY.0 | OpenFlags::TRUNC.0)
        )
        .err(),
        Some(Errno::EROFS)
    );
    assert_eq!(w.read_all(b"/mnt/a/f").unwrap(), b"data");
    assert_eq!(w.mkdir(b"/mnt/a/e"), Err(Errno::EROFS));
    assert_eq!(w.vfs.unlink(&l, p(b"/mnt/a/f")), Err(Errno::EROFS));
    assert_eq!(w.vfs.rmdir(&l, p(b"/mnt/a/d")), Err(Errno::EROFS));
    assert_eq!(w.vfs.symlink(&l, b"f", p(b"/mnt/a/s")), Err(Errno::EROFS));
    assert_eq!(
        w.vfs
            .rename(&l, p(b"/mnt/a/f"), &l, p(b"/mnt/a/g"), vfs::RenameFlags(0)),
        Err(Errno::EROFS)
    );
    assert_eq!(
        w.vfs.set_attr(
            &l,
            p(b"/mnt/a/f"),
            true,
            &vfs::SetAttr {
                mode: Some(0o600),
                ..Default::default()
            }
        ),
        Err(Errno::EROFS)
    );
    // Lookups of missing names still say ENOENT.
    assert_eq!(w.vfs.unlink(&l, p(b"/mnt/a/nope")), Err(Errno::ENOENT));
    // Back to read-write.
    w.vfs
        .remount(&w.resolve(b"/mnt/a").unwrap(), 0, b"", false)
        .unwrap();
    w.create(b"/mnt/a/g", b"x").unwrap();
    // Remount options are checked by the type.
    assert_eq!(
        w.vfs
            .remount(&w.resolve(b"/mnt/a").unwrap(), 0, b"what", false),
        Err(Errno::EINVAL)
    );
    // Remount of a place that is no mount root.
    assert_eq!(
        w.vfs
            .remount(&w.resolve(b"/mnt/a/d").unwrap(), ms::RDONLY, b"", false),
        Err(Errno::EINVAL)
    );
    // Mounted read-only from the start; the root stays writable.
    mount_tmpfs(&w, b"/mnt/b", ms::RDONLY, b"").unwrap();
    assert_eq!(w.mkdir(b"/mnt/b/x"), Err(Errno::EROFS));
    w.mkdir(b"/mnt/x").unwrap();
}

#[test]
fn bind_mounts_share_the_tree_and_flags() {
    let (w, _) = world();
    w.mkdir_p(b"/src/sub/deeper").unwrap();
    w.create(b"/src/sub/f", b"one").unwrap();
    mount_tmpfs(&w, b"/src/sub/deeper", 0, b"").unwrap();
    w.create(b"/src/sub/deeper/in", b"two").unwrap();
    // Plain bind: the mount below is not carried.
    w.vfs
        .bind(
            &w.resolve(b"/src/sub").unwrap(),
            &w.resolve(b"/mnt/a").unwrap(),
            false,
        )
        .unwrap();
    assert_eq!(w.read_all(b"/mnt/a/f").unwrap(), b"one");
    assert_eq!(w.stat(b"/mnt/a/deeper/in"), Err(Errno::ENOENT));
    w.create(b"/mnt/a/new", b"three").unwrap();
    assert_eq!(w.read_all(b"/src/sub/new").unwrap(), b"three");
    assert_eq!(
        w.vfs
            .path_of(&w.root, &w.resolve(b"/mnt/a/").unwrap())
            .unwrap(),
        b"/mnt/a"
    );
    assert_eq!(
        w.stat(b"/mnt/a/..").unwrap().ino,
        w.stat(b"/mnt").unwrap().ino
    );
    // Recursive bind carries it.
    w.vfs
        .bind(
            &w.resolve(b"/src").unwrap(),
            &w.resolve(b"/mnt/b").unwrap(),
            true,
        )
        .unwrap();
    assert_eq!(w.read_all(b"/mnt/b/sub/deeper/in").unwrap(), b"two");
    // Remount,bind,ro makes only the bind read-only.
    w.vfs
        .remount(
            &w.resolve(b"/mnt/a").unwrap(),
            ms::RDONLY | ms::BIND,
            b"",
            true,
        )
        .unwrap();
    assert_eq!(w.create(b"/mnt/a/x", b""), Err(Errno::EROFS));
    w.create(b"/src/sub/x", b"").unwrap();
    assert_eq!(mounts_line(&w, b"/mnt/a"), "ro,relatime");
    assert_eq!(mounts_line(&w, b"/src/sub"), "rw,relatime");
    // A file onto a file; a file onto a directory is ENOTDIR.
    w.create(b"/target", b"").unwrap();
    w.vfs
        .bind(
            &w.resolve(b"/file").unwrap(),
            &w.resolve(b"/target").unwrap(),
            false,
        )
        .unwrap();
    assert_eq!(w.read_all(b"/target").unwrap(), b"root file");
    assert_eq!(
        w.vfs.bind(
            &w.resolve(b"/file").unwrap(),
            &w.resolve(b"/mnt").unwrap(),
            false
        ),
        Err(Errno::ENOTDIR)
    );
    let l = w.lookup();
    assert_eq!(w.vfs.unlink(&l, p(b"/target")), Err(Errno::EBUSY));
    w.vfs.umount(w.resolve(b"/target").unwrap(), 0).unwrap();
    assert_eq!(w.read_all(b"/target").unwrap(), b"");
    // The recursive copy has a child: busy until detached.
    assert_eq!(
        w.vfs.umount(w.resolve(b"/mnt/b").unwrap(), 0),
        Err(Errno::EBUSY)
    );
    w.vfs
        .umount(w.resolve(b"/mnt/b").unwrap(), MNT_DETACH)
        .unwrap();
    assert_eq!(w.stat(b"/mnt/b/sub"), Err(Errno::ENOENT));
    // The original is untouched.
    assert_eq!(w.read_all(b"/src/sub/deeper/in").unwrap(), b"two");
}

#[test]
fn shared_instances_busy_rules_and_expiry() {
    let (w, _) = world();
    let shared: Arc<dyn FileSystem> = tmpfs::TmpFs::new(common::clock(), 7);
    w.vfs.register_fs_type(Arc::new(SharedType(shared)));
    w.vfs
        .mount_new(
            &w.resolve(b"/mnt/a").unwrap(),
            b"shared",
            b"dev",
            ms::NOSUID,
            b"",
        )
        .unwrap();
    w.create(b"/mnt/a/node", b"").unwrap();
    w.vfs
        .mount_new(&w.resolve(b"/mnt/b").unwrap(), b"shared", b"dev", 0, b"")
        .unwrap();
    assert!(w.stat(b"/mnt/b/node").is_ok());
    // The same filesystem on its own root again: EBUSY (`do_add_mount`).
    assert_eq!(
        w.vfs
            .mount_new(&w.resolve(b"/mnt/b").unwrap(), b"shared", b"dev", 0, b"")
            .err(),
        Some(Errno::EBUSY)
    );
    // A filesystem-wide read-only remount shows through every mount of it.
    w.vfs
        .remount(
            &w.resolve(b"/mnt/a").unwrap(),
            ms::RDONLY | ms::NOSUID,
            b"",
            false,
        )
        .unwrap();
    assert_eq!(w.create(b"/mnt/b/x", b""), Err(Errno::EROFS));
    assert_eq!(mounts_line(&w, b"/mnt/b"), "ro,relatime,mode=755");
    assert_eq!(mounts_line(&w, b"/mnt/a"), "ro,nosuid,relatime,mode=755");
    // Busy by an open file, then by a cwd-like holder; expiry.
    let file = w.open(b"/mnt/b/node", OpenFlags::RDONLY).unwrap();
    assert_eq!(
        w.vfs.umount(w.resolve(b"/mnt/b").unwrap(), MNT_FORCE),
        Err(Errno::EBUSY)
    );
    drop(file);
    assert_eq!(
        w.vfs
            .umount(w.resolve(b"/mnt/b").unwrap(), MNT_EXPIRE | MNT_DETACH),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        w.vfs.umount(w.resolve(b"/mnt/b").unwrap(), MNT_EXPIRE),
        Err(Errno::EAGAIN)
    );
    w.vfs
        .umount(w.resolve(b"/mnt/b").unwrap(), MNT_EXPIRE)
        .unwrap();
    // Propagation changes: mount roots only, one type.
    let root = w.resolve(b"/").unwrap();
    assert_eq!(w.vfs.change_type(&root, ms::PRIVATE | ms::REC), Ok(()));
    assert_eq!(
        w.vfs.change_type(&root, ms::PRIVATE | ms::SHARED),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        w.vfs.change_type(&w.resolve(b"/mnt").unwrap(), ms::PRIVATE),
        Err(Errno::EINVAL)
    );
    assert_eq!(w.vfs.fs_type_names(), vec!["tmpfs", "shared"]);
}

#[test]
fn nodev_refuses_device_nodes() {
    let (w, _) = world();
    mount_tmpfs(&w, b"/mnt/a", ms::NODEV, b"").unwrap();
    let l = w.lookup();
    w.vfs
        .mknod(
            &l,
            p(b"/mnt/a/null"),
            vfs::types::S_IFCHR | 0o666,
            vfs::types::makedev(1, 3),
        )
        .unwrap();
    assert_eq!(
        w.open(b"/mnt/a/null", OpenFlags::RDONLY).err(),
        Some(Errno::EACCES)
    );
    // Without nodev the node reaches the registry (no driver here: ENXIO).
    w.vfs
        .remount(&w.resolve(b"/mnt/a").unwrap(), 0, b"", false)
        .unwrap();
    assert_eq!(
        w.open(b"/mnt/a/null", OpenFlags::RDONLY).err(),
        Some(Errno::ENXIO)
    );
}

#[test]
fn move_carries_the_tree() {
    let (w, _) = world();
    mount_tmpfs(&w, b"/mnt/a", 0, b"").unwrap();
    w.create(b"/mnt/a/f", b"moved").unwrap();
    w.mkdir(b"/mnt/a/sub").unwrap();
    mount_tmpfs(&w, b"/mnt/a/sub", 0, b"").unwrap();
    w.create(b"/mnt/a/sub/g", b"child").unwrap();
    w.mkdir(b"/mnt/a/sub/x").unwrap();
    let a = w.resolve(b"/mnt/a").unwrap();
    assert_eq!(
        w.vfs.move_mount(&a, &w.resolve(b"/mnt/a/sub/x").unwrap()),
        Err(Errno::ELOOP)
    );
    assert_eq!(
        w.vfs
            .move_mount(&w.resolve(b"/mnt").unwrap(), &w.resolve(b"/mnt/b").unwrap()),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        w.vfs
            .move_mount(&w.resolve(b"/").unwrap(), &w.resolve(b"/mnt/b").unwrap()),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        w.vfs.move_mount(&a, &w.resolve(b"/file").unwrap()),
        Err(Errno::ENOTDIR)
    );
    w.vfs
        .move_mount(&a, &w.resolve(b"/mnt/b").unwrap())
        .unwrap();
    drop(a);
    assert_eq!(w.read_all(b"/mnt/b/f").unwrap(), b"moved");
    assert_eq!(w.read_all(b"/mnt/b/sub/g").unwrap(), b"child");
    assert_eq!(w.stat(b"/mnt/a/f"), Err(Errno::ENOENT));
    assert_eq!(
        w.stat(b"/mnt/b/..").unwrap().ino,
        w.stat(b"/mnt").unwrap().ino
    );
    assert_eq!(
        w.vfs
            .path_of(&w.root, &w.resolve(b"/mnt/b/sub/x").unwrap())
            .unwrap(),
        b"/mnt/b/sub/x"
    );
    // Moved to the end of the table, parent before child.
    let ids: Vec<u64> = w.vfs.mounts().iter().map(|m| m.id()).collect();
    let b = w.resolve(b"/mnt/b").unwrap().mount.id();
    let sub = w.resolve(b"/mnt/b/sub").unwrap().mount.id();
    assert_eq!(&ids[ids.len() - 2..], &[b, sub]);
    // An rbind of the moved tree still finds the child.
    w.mkdir(b"/copy").unwrap();
    w.vfs
        .bind(
            &w.resolve(b"/mnt").unwrap(),
            &w.resolve(b"/copy").unwrap(),
            true,
        )
        .unwrap();
    assert_eq!(w.read_all(b"/copy/b/sub/g").unwrap(), b"child");
}
