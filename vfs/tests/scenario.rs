//! A shell session's worth of file operations, end to end through the VFS:
//! `mkdir -p`, redirections, `mv` over a file, `ln`, `ln -s` loops, `ls` of a changing
//! directory, a pipeline that ends in EOF and one whose reader went away.

mod common;

use common::{World, p};
use std::sync::Arc;
use syscall::Errno;
use vfs::{FdTable, OpenFile, OpenFlags, RenameFlags};

#[test]
fn a_shell_session() {
    let w = World::new();
    let l = w.lookup();
    // mkdir -p /home/user/src && cd /home/user
    w.mkdir_p(b"/home/user/src").unwrap();
    w.mkdir_p(b"/home/user/src").unwrap();
    let home = w.resolve(b"/home/user").unwrap();
    let at = w.at(&home);
    assert_eq!(w.vfs.path_of(&w.root, &home).unwrap(), b"/home/user");
    // echo hello > notes.txt; echo more >> notes.txt
    let mut fds = FdTable::new();
    let creat = OpenFlags::WRONLY
        .with(OpenFlags::CREAT)
        .with(OpenFlags::TRUNC);
    let fd = fds
        .insert(
            w.vfs.open(&at, p(b"notes.txt"), creat, 0o644).unwrap(),
            true,
        )
        .unwrap();
    fds.get(fd).unwrap().write(b"hello\n").unwrap();
    fds.remove(fd).unwrap();
    let append = OpenFlags::WRONLY
        .with(OpenFlags::CREAT)
        .with(OpenFlags::APPEND);
    w.vfs
        .open(&at, p(b"notes.txt"), append, 0o644)
        .unwrap()
        .write(b"more\n")
        .unwrap();
    assert_eq!(
        w.read_all(b"/home/user/notes.txt").unwrap(),
        b"hello\nmore\n"
    );
    // ln notes.txt src/hard; ln -s ../notes.txt src/soft
    w.vfs
        .link(&at, p(b"notes.txt"), false, &at, p(b"src/hard"))
        .unwrap();
    w.vfs.symlink(&at, b"../notes.txt", p(b"src/soft")).unwrap();
    assert_eq!(w.stat(b"/home/user/notes.txt").unwrap().nlink, 2);
    assert_eq!(
        w.read_all(b"/home/user/src/soft").unwrap(),
        b"hello\nmore\n"
    );
    // echo new > tmp; mv tmp notes.txt: the hard link keeps the old contents.
    w.vfs
        .open(&at, p(b"tmp"), creat, 0o644)
        .unwrap()
        .write(b"new\n")
        .unwrap();
    w.vfs
        .rename(&at, p(b"tmp"), &at, p(b"notes.txt"), RenameFlags::default())
        .unwrap();
    assert_eq!(w.read_all(b"/home/user/notes.txt").unwrap(), b"new\n");
    assert_eq!(
        w.read_all(b"/home/user/src/hard").unwrap(),
        b"hello\nmore\n"
    );
    assert_eq!(w.stat(b"/home/user/src/hard").unwrap().nlink, 1);
    assert_eq!(w.read_all(b"/home/user/src/soft").unwrap(), b"new\n");
    // ln -s a b; ln -s b a; cat a → ELOOP
    w.vfs.symlink(&at, b"b", p(b"a")).unwrap();
    w.vfs.symlink(&at, b"a", p(b"b")).unwrap();
    assert_eq!(
        w.vfs.open(&at, p(b"a"), OpenFlags::RDONLY, 0).err(),
        Some(Errno::ELOOP)
    );
    // ls while a loop creates files
    for i in 0..20 {
        w.vfs
            .open(&at, p(format!("src/f{i}").as_bytes()), creat, 0o644)
            .unwrap();
    }
    assert_eq!(w.names(b"/home/user/src").len(), 2 + 2 + 20);
    // rm -r src
    for name in w.names(b"/home/user/src") {
        if name != "." && name != ".." {
            w.vfs
                .unlink(&at, p(format!("src/{name}").as_bytes()))
                .unwrap();
        }
    }
    w.vfs.rmdir(&at, p(b"src")).unwrap();
    assert_eq!(w.names(b"/home/user"), [".", "..", "a", "b", "notes.txt"]);
    // cat notes.txt | wc -c: the reader sees the data then EOF once the writer closes.
    let (r, wr) = OpenFile::new_pipe(OpenFlags::default());
    let (rfd, wfd) = (
        fds.insert(r, false).unwrap(),
        fds.insert(wr, false).unwrap(),
    );
    let child = fds.clone(); // fork
    let data = w.read_all(b"/home/user/notes.txt").unwrap();
    child.get(wfd).unwrap().write(&data).unwrap();
    drop(child); // the child exits
    fds.remove(wfd).unwrap(); // the parent closes its copy of the write end
    let mut buf = [0u8; 64];
    let reader = fds.get(rfd).unwrap().clone();
    assert_eq!(reader.read(&mut buf), Ok(4));
    assert_eq!(reader.read(&mut buf), Ok(0));
    // yes | head -c1: the writer gets EPIPE once the reader is gone.
    let (r, wr) = OpenFile::new_pipe(OpenFlags::default());
    wr.write(b"y\n").unwrap();
    r.read(&mut buf[..1]).unwrap();
    drop(r);
    assert_eq!(wr.write(b"y\n"), Err(Errno::EPIPE));
    // exec: FD_CLOEXEC fds go, the others stay.
    let kept = fds.insert(Arc::clone(&reader), true).unwrap();
    assert_eq!(fds.close_on_exec().len(), 1);
    assert_eq!(fds.get(kept).err(), Some(Errno::EBADF));
    assert!(fds.get(rfd).is_ok());
    let _ = l;
}

#[test]
fn dev_and_tmp_mounted_like_a_booted_system() {
    let w = World::new();
    w.mkdir(b"dev").unwrap();
    w.mkdir(b"tmp").unwrap();
    let devfs = devfs::DevFs::new(common::clock(), 5, w.vfs.devices().clone());
    struct Fixed;
    impl devfs::EntropySource for Fixed {
        fn fill(&self, buf: &mut [u8]) {
            buf.fill(0x42);
        }
    }
    devfs
        .register_memory_devices(devfs::Csprng::new(Arc::new(Fixed)))
        .unwrap();
    w.vfs
        .mount(&w.resolve(b"/dev").unwrap(), devfs, b"devtmpfs")
        .unwrap();
    w.vfs
        .mount(
            &w.resolve(b"/tmp").unwrap(),
            tmpfs::TmpFs::new(common::clock(), 6),
            b"tmpfs",
        )
        .unwrap();
    let mut buf = [1u8; 16];
    let zero = w.open(b"/dev/zero", OpenFlags::RDONLY).unwrap();
    assert_eq!(zero.read(&mut buf), Ok(16));
    assert_eq!(buf, [0; 16]);
    let full = w.open(b"/dev/full", OpenFlags::WRONLY).unwrap();
    assert_eq!(full.write(b"x"), Err(Errno::ENOSPC));
    let urandom = w.open(b"/dev/urandom", OpenFlags::RDONLY).unwrap();
    urandom.read(&mut buf).unwrap();
    assert_ne!(buf, [0; 16]);
    // mknod in /tmp reaches the same driver by number (devtmpfs semantics).
    w.vfs
        .mknod(
            &w.lookup(),
            p(b"/tmp/mynull"),
            vfs::types::S_IFCHR | 0o666,
            vfs::types::makedev(1, 3),
        )
        .unwrap();
    assert_eq!(
        w.open(b"/tmp/mynull", OpenFlags::WRONLY)
            .unwrap()
            .write(b"abc"),
        Ok(3)
    );
    let mounts: Vec<_> = w.vfs.mounts().iter().map(|m| m.fs().fs_type()).collect();
    assert_eq!(mounts, ["tmpfs", "devtmpfs", "tmpfs"]);
    assert_eq!(
        w.stat(b"/dev/null").unwrap().mode,
        vfs::types::S_IFCHR | 0o666
    );
    assert_eq!(
        w.names(b"/dev"),
        [".", "..", "full", "null", "random", "urandom", "zero"]
    );
}
