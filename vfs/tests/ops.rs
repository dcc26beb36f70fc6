//! The `*at` operations and the walk against a tmpfs root, each errno checked against the
//! host Linux (6.x, tmpfs in /dev/shm) by the script recorded in `.teams/0008-vfs.md`.

mod common;

use common::{World, p};
use syscall::Errno;
use vfs::{Cred, OpenFlags, RenameFlags, SetAttr, SetTime, Timespec};

fn world_with_tree() -> World {
    let w = World::new();
    w.mkdir(b"d").unwrap();
    w.mkdir(b"d/sub").unwrap();
    w.mkdir(b"e").unwrap();
    w.mkdir(b"full").unwrap();
    w.create(b"full/x", b"").unwrap();
    w.create(b"f", b"hello").unwrap();
    w
}

#[test]
fn create_style_errnos_match_linux() {
    let w = world_with_tree();
    let l = w.lookup();
    assert_eq!(w.mkdir(b"d/."), Err(Errno::EEXIST));
    assert_eq!(w.mkdir(b"/"), Err(Errno::EEXIST));
    assert_eq!(w.mkdir(b"f/x"), Err(Errno::ENOTDIR));
    assert_eq!(w.mkdir(b"d"), Err(Errno::EEXIST));
    assert_eq!(w.mkdir(b"missing/x"), Err(Errno::ENOENT));
    assert_eq!(w.mkdir(b"newdir/"), Ok(()));
    let long = [b'a'; 256];
    assert_eq!(w.mkdir(&long), Err(Errno::ENAMETOOLONG));
    let mut missing_long = b"missing/".to_vec();
    missing_long.extend_from_slice(&long);
    assert_eq!(w.stat(&missing_long), Err(Errno::ENOENT));
    let creat = OpenFlags::WRONLY.with(OpenFlags::CREAT);
    assert_eq!(w.open(b"new/", creat).err(), Some(Errno::EISDIR));
    assert_eq!(w.open(b"f/", creat).err(), Some(Errno::EISDIR));
    assert_eq!(w.open(b"d", creat).err(), Some(Errno::EISDIR));
    assert_eq!(w.open(b"d/", OpenFlags::CREAT).err(), Some(Errno::EISDIR));
    assert_eq!(w.open(b"/", creat).err(), Some(Errno::EISDIR));
    assert_eq!(w.vfs.symlink(&l, b"x", p(b"new/")), Err(Errno::ENOENT));
    assert_eq!(w.vfs.symlink(&l, b"x", p(b"f/")), Err(Errno::EEXIST));
    assert_eq!(w.vfs.symlink(&l, b"", p(b"emp")), Err(Errno::ENOENT));
    assert_eq!(w.vfs.mknod(&l, p(b"new2/"), 0o644, 0), Err(Errno::ENOENT));
    assert_eq!(
        w.vfs.mknod(&l, p(b"dir"), vfs::types::S_IFDIR | 0o755, 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        w.vfs.link(&l, p(b"d"), false, &l, p(b"dl")),
        Err(Errno::EPERM)
    );
    assert_eq!(
        w.vfs.link(&l, p(b"f"), false, &l, p(b"d")),
        Err(Errno::EEXIST)
    );
    let excl = creat.with(OpenFlags::EXCL);
    assert_eq!(w.open(b"f", excl).err(), Some(Errno::EEXIST));
}

#[test]
fn remove_errnos_match_linux() {
    let w = world_with_tree();
    let l = w.lookup();
    assert_eq!(w.vfs.unlink(&l, p(b"d")), Err(Errno::EISDIR));
    assert_eq!(w.vfs.unlink(&l, p(b"f/")), Err(Errno::ENOTDIR));
    assert_eq!(w.vfs.unlink(&l, p(b"d/")), Err(Errno::EISDIR));
    assert_eq!(w.vfs.unlink(&l, p(b"..")), Err(Errno::EISDIR));
    assert_eq!(w.vfs.unlink(&l, p(b"nope")), Err(Errno::ENOENT));
    assert_eq!(w.vfs.rmdir(&l, p(b".")), Err(Errno::EINVAL));
    assert_eq!(w.vfs.rmdir(&l, p(b"d/..")), Err(Errno::ENOTEMPTY));
    assert_eq!(w.vfs.rmdir(&l, p(b"/")), Err(Errno::EBUSY));
    assert_eq!(w.vfs.rmdir(&l, p(b"f")), Err(Errno::ENOTDIR));
    assert_eq!(w.vfs.rmdir(&l, p(b"d")), Err(Errno::ENOTEMPTY));
    assert_eq!(w.vfs.rmdir(&l, p(b"d/sub/")), Ok(()));
    assert_eq!(w.stat(b"d").unwrap().nlink, 2);
    assert_eq!(w.vfs.unlink(&l, p(b"f")), Ok(()));
    assert_eq!(w.stat(b"f"), Err(Errno::ENOENT));
}

#[test]
fn rename_rules_match_linux() {
    let w = world_with_tree();
    let l = w.lookup();
    let none = RenameFlags::default();
    let r = |a: &[u8], b: &[u8], f: RenameFlags| w.vfs.rename(&l, p(a), &l, p(b), f);
    assert_eq!(r(b"d", b"d/sub/x", none), Err(Errno::EINVAL));
    assert_eq!(r(b"d", b"d/sub", none), Err(Errno::EINVAL));
    assert_eq!(r(b"e", b"full", none), Err(Errno::ENOTEMPTY));
    assert_eq!(r(b"f", b"e", none), Err(Errno::EISDIR));
    assert_eq!(r(b"e", b"f", none), Err(Errno::ENOTDIR));
    assert_eq!(r(b"e", b"d/.", none), Err(Errno::EBUSY));
    assert_eq!(r(b".", b"zz", none), Err(Errno::EBUSY));
    assert_eq!(r(b"f", b".", RenameFlags::NOREPLACE), Err(Errno::EEXIST));
    assert_eq!(r(b"f/", b"g", none), Err(Errno::ENOTDIR));
    assert_eq!(
        r(b"f", b"g", RenameFlags(RenameFlags::NOREPLACE.0 | 2)),
        Err(Errno::EINVAL)
    );
    assert_eq!(r(b"f", b"g", RenameFlags::WHITEOUT), Err(Errno::EINVAL));
    assert_eq!(r(b"nope", b"g", none), Err(Errno::ENOENT));
    // A hard link onto itself: nothing happens, both names stay.
    w.vfs.link(&l, p(b"f"), false, &l, p(b"f2")).unwrap();
    assert_eq!(r(b"f", b"f2", none), Ok(()));
    assert_eq!(w.stat(b"f").unwrap().nlink, 2);
    // A directory over an empty directory; nlink bookkeeping of both parents.
    w.mkdir(b"e/inner").unwrap();
    assert_eq!(w.stat(b"e").unwrap().nlink, 3);
    assert_eq!(r(b"e/inner", b"d/sub", none), Ok(()));
    assert_eq!(w.stat(b"e").unwrap().nlink, 2);
    assert_eq!(w.stat(b"d").unwrap().nlink, 3);
    // `..` of a moved directory is its new parent.
    assert_eq!(w.stat(b"d/sub/..").unwrap().ino, w.stat(b"d").unwrap().ino);
    // Replace a file: the old target loses a link.
    w.create(b"g", b"new").unwrap();
    assert_eq!(r(b"g", b"f2", none), Ok(()));
    assert_eq!(w.read_all(b"f2").unwrap(), b"new");
    assert_eq!(w.stat(b"f").unwrap().nlink, 1);
    assert_eq!(r(b"f", b"f2", RenameFlags::NOREPLACE), Err(Errno::EEXIST));
    // Exchange a file and a directory.
    assert_eq!(r(b"f", b"e", RenameFlags::EXCHANGE), Ok(()));
    assert!(w.stat(b"f").unwrap().is_dir());
    assert_eq!(w.read_all(b"e").unwrap(), b"hello");
    assert_eq!(r(b"f", b"nope", RenameFlags::EXCHANGE), Err(Errno::ENOENT));
}

#[test]
fn rename_and_link_across_mounts_is_exdev() {
    let w = world_with_tree();
    let l = w.lookup();
    let other = tmpfs::TmpFs::new(common::clock(), 2);
    w.vfs
        .mount(&w.resolve(b"e").unwrap(), other, b"tmp")
        .unwrap();
    assert_eq!(
        w.vfs
            .rename(&l, p(b"f"), &l, p(b"e/f"), RenameFlags::default()),
        Err(Errno::EXDEV)
    );
    assert_eq!(
        w.vfs.link(&l, p(b"f"), false, &l, p(b"e/f")),
        Err(Errno::EXDEV)
    );
    assert_eq!(w.vfs.rmdir(&l, p(b"e")), Err(Errno::EBUSY));
    assert_eq!(
        w.vfs
            .rename(&l, p(b"e"), &l, p(b"e2"), RenameFlags::default()),
        Err(Errno::EBUSY)
    );
}

#[test]
fn symlinks_follow_relative_absolute_and_loop() {
    let w = world_with_tree();
    let l = w.lookup();
    w.vfs.symlink(&l, b"f", p(b"lf")).unwrap();
    w.vfs.symlink(&l, b"/d/sub", p(b"d/abs")).unwrap();
    w.vfs.symlink(&l, b"../f", p(b"d/rel")).unwrap();
    w.vfs.symlink(&l, b"nowhere", p(b"dangling")).unwrap();
    w.vfs.symlink(&l, b"loop2", p(b"loop1")).unwrap();
    w.vfs.symlink(&l, b"loop1", p(b"loop2")).unwrap();
    assert_eq!(w.read_all(b"lf").unwrap(), b"hello");
    assert_eq!(w.read_all(b"d/rel").unwrap(), b"hello");
    assert_eq!(w.stat(b"d/abs").unwrap().ino, w.stat(b"d/sub").unwrap().ino);
    assert_eq!(w.stat(b"d/abs/..").unwrap().ino, w.stat(b"d").unwrap().ino);
    assert_eq!(w.stat(b"loop1"), Err(Errno::ELOOP));
    assert_eq!(w.lstat(b"loop1").unwrap().size, 5);
    assert_eq!(w.stat(b"dangling"), Err(Errno::ENOENT));
    assert_eq!(w.stat(b"f/"), Err(Errno::ENOTDIR));
    assert_eq!(w.lstat(b"lf/"), Err(Errno::ENOTDIR));
    assert!(
        w.lstat(b"d/abs/").unwrap().is_dir(),
        "a trailing slash follows"
    );
    assert_eq!(w.vfs.readlink(&l, p(b"f")), Err(Errno::EINVAL));
    assert_eq!(w.vfs.readlink(&l, p(b"d/rel")).unwrap(), b"../f");
    let nofollow = OpenFlags::RDONLY.with(OpenFlags::NOFOLLOW);
    assert_eq!(w.open(b"lf", nofollow).err(), Some(Errno::ELOOP));
    assert!(w.open(b"lf", nofollow.with(OpenFlags::PATH)).is_ok());
    let excl = OpenFlags::WRONLY
        .with(OpenFlags::CREAT)
        .with(OpenFlags::EXCL);
    assert_eq!(w.open(b"dangling", excl).err(), Some(Errno::EEXIST));
    // Without O_EXCL, O_CREAT through a dangling link creates the target (host behaviour).
    w.vfs.symlink(&l, b"d/made-by-link", p(b"maker")).unwrap();
    w.open(b"maker", OpenFlags::WRONLY.with(OpenFlags::CREAT))
        .unwrap()
        .write(b"via")
        .unwrap();
    assert_eq!(w.read_all(b"d/made-by-link").unwrap(), b"via");
    assert_eq!(
        w.open(b"loop1", OpenFlags::WRONLY.with(OpenFlags::CREAT))
            .err(),
        Some(Errno::ELOOP)
    );
    // 40 links are fine, 41 are ELOOP.
    let mut prev = b"f".to_vec();
    for i in 0..41 {
        let name = format!("chain{i}").into_bytes();
        w.vfs.symlink(&l, &prev, p(&name)).unwrap();
        prev = name;
    }
    assert_eq!(w.read_all(b"chain39").unwrap(), b"hello");
    assert_eq!(w.stat(b"chain40"), Err(Errno::ELOOP));
    // The root stays the root; `..` never leaves a chroot.
    assert_eq!(w.stat(b"/../../d").unwrap().ino, w.stat(b"d").unwrap().ino);
    let jail = w.resolve(b"d").unwrap();
    let jailed = vfs::Lookup {
        root: &jail,
        start: &jail,
        cred: &w.cred,
    };
    let sub = w.vfs.resolve(&jailed, p(b"../../sub"), true).unwrap();
    assert_eq!(sub.metadata().ino, w.stat(b"d/sub").unwrap().ino);
    // Absolute targets start at the process root.
    assert_eq!(
        w.vfs.resolve(&jailed, p(b"/abs"), true).err(),
        Some(Errno::ENOENT)
    );
    w.vfs.symlink(&l, b"/sub", p(b"d/jabs")).unwrap();
    let abs = w.vfs.resolve(&jailed, p(b"jabs"), true).unwrap();
    assert_eq!(abs.metadata().ino, w.stat(b"d/sub").unwrap().ino);
    assert_eq!(
        w.vfs.resolve(&jailed, p(b"/d"), true).err(),
        Some(Errno::ENOENT)
    );
}

#[test]
fn mounts_cross_both_ways_and_umount_rules() {
    let w = world_with_tree();
    let l = w.lookup();
    let fs2 = tmpfs::TmpFs::new(common::clock(), 2);
    w.vfs
        .mount(&w.resolve(b"d/sub").unwrap(), fs2, b"none")
        .unwrap();
    w.create(b"d/sub/inside", b"x").unwrap();
    assert_eq!(w.stat(b"d/sub").unwrap().dev, 2);
    assert_eq!(w.stat(b"d/sub/..").unwrap().ino, w.stat(b"d").unwrap().ino);
    assert_eq!(w.stat(b"d/sub/../sub/inside").unwrap().dev, 2);
    let inside = w.resolve(b"d/sub").unwrap();
    assert_eq!(w.vfs.path_of(&w.root, &inside).unwrap(), b"/d/sub");
    // Busy while someone holds a place in it.
    let cwd = w.resolve(b"d/sub").unwrap();
    assert_eq!(
        w.vfs.umount(w.resolve(b"d/sub").unwrap(), 0),
        Err(Errno::EBUSY)
    );
    drop((cwd, inside));
    assert_eq!(
        w.vfs.umount(w.resolve(b"d").unwrap(), 0),
        Err(Errno::EINVAL)
    );
    assert_eq!(w.vfs.umount(w.resolve(b"/").unwrap(), 0), Err(Errno::EBUSY));
    assert_eq!(w.vfs.umount(w.resolve(b"d/sub").unwrap(), 0), Ok(()));
    assert_eq!(w.stat(b"d/sub/inside"), Err(Errno::ENOENT));
    assert_eq!(w.stat(b"d/sub").unwrap().dev, 1);
    // Lazy unmount while busy.
    let fs3 = tmpfs::TmpFs::new(common::clock(), 3);
    w.vfs
        .mount(&w.resolve(b"e").unwrap(), fs3, b"none")
        .unwrap();
    let held = w.open(b"e", OpenFlags::RDONLY).unwrap();
    assert_eq!(w.vfs.umount(w.resolve(b"e").unwrap(), 0), Err(Errno::EBUSY));
    assert_eq!(
        w.vfs
            .umount(w.resolve(b"e").unwrap(), vfs::mount::MNT_DETACH),
        Ok(())
    );
    assert_eq!(held.metadata().dev, 3);
    assert_eq!(
        w.vfs.mount(
            &w.resolve(b"f").unwrap(),
            tmpfs::TmpFs::new(common::clock(), 4),
            b"x"
        ),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        w.vfs.statfs(&w.resolve(b"/").unwrap()).fs_type,
        tmpfs::TMPFS_MAGIC
    );
    let _ = l;
}

#[test]
fn getcwd_paths_and_removed_cwd() {
    let w = World::new();
    w.mkdir_p(b"/a/b/c").unwrap();
    let c = w.resolve(b"a/b/c").unwrap();
    assert_eq!(w.vfs.path_of(&w.root, &c).unwrap(), b"/a/b/c");
    assert_eq!(w.vfs.path_of(&w.root, &w.root).unwrap(), b"/");
    let l = w.lookup();
    w.vfs
        .rename(&l, p(b"a/b"), &l, p(b"bee"), RenameFlags::default())
        .unwrap();
    assert_eq!(w.vfs.path_of(&w.root, &c).unwrap(), b"/bee/c");
    w.vfs.rmdir(&l, p(b"bee/c")).unwrap();
    assert_eq!(w.vfs.path_of(&w.root, &c), Err(Errno::ENOENT));
    assert_eq!(
        w.vfs.resolve(&w.at(&c), p(b"x"), true).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(w.vfs.mkdir(&w.at(&c), p(b"x"), 0o755), Err(Errno::ENOENT));
}

#[test]
fn permissions_for_an_unprivileged_user() {
    let mut w = world_with_tree();
    w.vfs
        .set_attr(
            &w.lookup(),
            p(b"d"),
            true,
            &SetAttr {
                mode: Some(0o700),
                ..SetAttr::default()
            },
        )
        .unwrap();
    w.mkdir(b"tmp").unwrap();
    w.vfs
        .set_attr(
            &w.lookup(),
            p(b"tmp"),
            true,
            &SetAttr {
                mode: Some(0o1777),
                ..SetAttr::default()
            },
        )
        .unwrap();
    w.create(b"tmp/roots", b"").unwrap();
    w.vfs
        .set_attr(
            &w.lookup(),
            p(b"/"),
            true,
            &SetAttr {
                mode: Some(0o755),
                ..SetAttr::default()
            },
        )
        .unwrap();
    w.cred = Cred::user(1000, 1000);
    let l = w.lookup();
    assert_eq!(w.stat(b"d/sub"), Err(Errno::EACCES));
    assert_eq!(w.mkdir(b"d/x"), Err(Errno::EACCES));
    assert_eq!(w.mkdir(b"nope"), Err(Errno::EACCES));
    assert_eq!(w.vfs.access(&l, p(b"f"), 4, true), Ok(()));
    assert_eq!(w.vfs.access(&l, p(b"f"), 2, true), Err(Errno::EACCES));
    assert_eq!(w.vfs.access(&l, p(b"f"), 8, true), Err(Errno::EINVAL));
    assert_eq!(w.open(b"f", OpenFlags::WRONLY).err(), Some(Errno::EACCES));
    assert_eq!(w.vfs.unlink(&l, p(b"tmp/roots")), Err(Errno::EPERM));
    w.create(b"tmp/mine", b"").unwrap();
    assert_eq!(w.stat(b"tmp/mine").unwrap().uid, 1000);
    let chmod = SetAttr {
        mode: Some(0o600),
        ..SetAttr::default()
    };
    assert_eq!(w.vfs.set_attr(&l, p(b"f"), true, &chmod), Err(Errno::EPERM));
    assert_eq!(w.vfs.set_attr(&l, p(b"tmp/mine"), true, &chmod), Ok(()));
    let chown = SetAttr {
        uid: Some(0),
        ..SetAttr::default()
    };
    assert_eq!(
        w.vfs.set_attr(&l, p(b"tmp/mine"), true, &chown),
        Err(Errno::EPERM)
    );
    assert_eq!(
        w.vfs
            .mknod(&l, p(b"tmp/dev"), vfs::types::S_IFCHR | 0o600, 0x103),
        Err(Errno::EPERM)
    );
    assert_eq!(w.vfs.unlink(&l, p(b"tmp/mine")), Ok(()));
}

#[test]
fn times_follow_linux() {
    let w = world_with_tree();
    let before = w.stat(b"f").unwrap();
    let dir_before = w.stat(b"/").unwrap();
    let f = w.open(b"f", OpenFlags::WRONLY).unwrap();
    f.write(b"x").unwrap();
    let after = w.stat(b"f").unwrap();
    assert!(after.mtime > before.mtime && after.ctime > before.ctime);
    assert_eq!(after.atime, before.atime);
    let l = w.lookup();
    w.vfs
        .set_attr(
            &l,
            p(b"f"),
            true,
            &SetAttr {
                mode: Some(0o600),
                ..SetAttr::default()
            },
        )
        .unwrap();
    let chmodded = w.stat(b"f").unwrap();
    assert_eq!(chmodded.mtime, after.mtime);
    assert!(chmodded.ctime > after.ctime);
    assert_eq!(chmodded.mode & 0o7777, 0o600);
    let t = Timespec { sec: 42, nsec: 7 };
    w.vfs
        .set_attr(
            &l,
            p(b"f"),
            true,
            &SetAttr {
                atime: Some(SetTime::At(t)),
                mtime: Some(SetTime::At(t)),
                ..SetAttr::default()
            },
        )
        .unwrap();
    let touched = w.stat(b"f").unwrap();
    assert_eq!((touched.atime, touched.mtime), (t, t));
    w.read_all(b"f").unwrap();
    assert!(
        w.stat(b"f").unwrap().atime > t,
        "relatime: atime behind mtime moves"
    );
    w.create(b"newfile", b"").unwrap();
    let dir_after = w.stat(b"/").unwrap();
    assert!(dir_after.mtime > dir_before.mtime);
    // chown clears set-user-id, and set-group-id only with group execute (host facts).
    let set = |mode| {
        w.vfs
            .set_attr(
                &l,
                p(b"f"),
                true,
                &SetAttr {
                    mode: Some(mode),
                    ..SetAttr::default()
                },
            )
            .unwrap()
    };
    let chown = SetAttr {
        uid: Some(0),
        gid: Some(0),
        ..SetAttr::default()
    };
    set(0o4755);
    w.vfs.set_attr(&l, p(b"f"), true, &chown).unwrap();
    assert_eq!(w.stat(b"f").unwrap().mode & 0o7777, 0o755);
    set(0o2775);
    w.vfs.set_attr(&l, p(b"f"), true, &chown).unwrap();
    assert_eq!(w.stat(b"f").unwrap().mode & 0o7777, 0o775);
    set(0o2765);
    w.vfs.set_attr(&l, p(b"f"), true, &chown).unwrap();
    assert_eq!(w.stat(b"f").unwrap().mode & 0o7777, 0o2765);
    // Sizes of tmpfs directories: 40 + 20 per entry (host fact).
    assert_eq!(w.stat(b"e").unwrap().size, 40);
    assert_eq!(w.stat(b"d").unwrap().size, 60);
}
