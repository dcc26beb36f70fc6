//! Unpacking cpio archives made by the real `cpio` tool, and hostile ones made by hand.

mod common;

use common::World;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use syscall::Errno;
use vfs::initramfs::{Refused, unpack};
use vfs::types::{S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG};

/// One newc entry.
fn entry(out: &mut Vec<u8>, name: &str, mode: u32, ino: u32, nlink: u32, data: &[u8]) {
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        1234,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
    out.extend_from_slice(data);
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn trailer(out: &mut Vec<u8>) {
    entry(out, "TRAILER!!!", 0, 0, 1, b"");
}

fn have_cpio() -> bool {
    Command::new("cpio").arg("--version").output().is_ok()
}

#[test]
fn real_cpio_archive_round_trips() {
    if !have_cpio() {
        eprintln!("skipped: no cpio on this host");
        return;
    }
    let dir = std::env::temp_dir().join(format!("vfs-initramfs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin/sub")).unwrap();
    std::fs::write(dir.join("bin/busybox"), vec![0x7f; 70_000]).unwrap();
    std::fs::set_permissions(
        dir.join("bin/busybox"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::fs::hard_link(dir.join("bin/busybox"), dir.join("bin/sh")).unwrap();
    std::fs::hard_link(dir.join("bin/busybox"), dir.join("bin/sub/ls")).unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("odd"), b"12345").unwrap();
    std::os::unix::fs::symlink("bin/busybox", dir.join("init")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", dir.join("dangling")).unwrap();
    let fifo = Command::new("mkfifo")
        .arg(dir.join("fifo"))
        .status()
        .unwrap();
    assert!(fifo.success());
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false);
    if is_root {
        assert!(
            Command::new("mknod")
                .arg(dir.join("console"))
                .args(["c", "5", "1"])
                .status()
                .unwrap()
                .success()
        );
    }
    let out = Command::new("sh")
        .arg("-c")
        .arg("find . | LC_ALL=C sort | cpio -o -H newc --quiet")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = out.stdout;

    let w = World::new();
    let summary = unpack(&w.root.inode, &archive).unwrap();
    assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    assert_eq!(summary.hard_links, 2);
    // Every file matches what lstat says on the host.
    let walk = Command::new("sh")
        .arg("-c")
        .arg("find . -mindepth 1")
        .current_dir(&dir)
        .output()
        .unwrap();
    let mut checked = 0;
    for name in String::from_utf8(walk.stdout).unwrap().lines() {
        let name = name.trim_start_matches("./");
        let host = std::fs::symlink_metadata(dir.join(name)).unwrap();
        let ours = w.lstat(name.as_bytes()).unwrap();
        assert_eq!(ours.mode, host.mode(), "{name}");
        assert_eq!((ours.uid, ours.gid), (host.uid(), host.gid()), "{name}");
        assert_eq!(ours.mtime.sec, host.mtime(), "{name}");
        if !ours.is_dir() {
            assert_eq!(ours.size, host.size(), "{name}");
        }
        assert_eq!(ours.nlink, host.nlink() as u32, "{name}");
        match ours.mode & vfs::types::S_IFMT {
            S_IFREG => assert_eq!(
                w.read_all(name.as_bytes()).unwrap(),
                std::fs::read(dir.join(name)).unwrap()
            ),
            S_IFLNK => assert_eq!(
                w.vfs
                    .readlink(&w.lookup(), common::p(name.as_bytes()))
                    .unwrap(),
                std::fs::read_link(dir.join(name))
                    .unwrap()
                    .as_os_str()
                    .as_encoded_bytes()
            ),
            S_IFCHR => assert_eq!(ours.rdev, host.rdev()),
            S_IFDIR | S_IFIFO => {}
            other => panic!("unexpected type {other:o}"),
        }
        checked += 1;
    }
    assert!(checked >= 10);
    assert_eq!(
        w.stat(b"bin/sh").unwrap().ino,
        w.stat(b"bin/sub/ls").unwrap().ino
    );
    assert_eq!(
        w.stat(b"init").unwrap().ino,
        w.stat(b"bin/busybox").unwrap().ino
    );
    // The same archive twice (concatenated, with block padding): replaced in place.
    let mut twice = archive.clone();
    twice.extend_from_slice(&[0; 512]);
    twice.extend_from_slice(&archive);
    let again = unpack(&w.root.inode, &twice).unwrap();
    assert_eq!(again.archives, 2);
    assert!(again.refused.is_empty(), "{:?}", again.refused);
    assert_eq!(w.stat(b"bin/busybox").unwrap().nlink, 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_names_are_refused_and_nothing_escapes() {
    let mut a = Vec::new();
    entry(&mut a, "jail", S_IFDIR | 0o755, 1, 2, b"");
    entry(&mut a, "../evil", S_IFREG | 0o644, 2, 1, b"x");
    entry(&mut a, "jail/../../evil2", S_IFREG | 0o644, 3, 1, b"x");
    entry(&mut a, "/abs", S_IFREG | 0o644, 4, 1, b"x");
    entry(&mut a, "jail/up", S_IFLNK | 0o777, 5, 1, b"..");
    entry(&mut a, "jail/up/through", S_IFREG | 0o644, 6, 1, b"x");
    entry(&mut a, "jail/file", S_IFREG | 0o600, 7, 1, b"data");
    entry(&mut a, "jail/file/below", S_IFREG | 0o644, 8, 1, b"x");
    entry(&mut a, "jail/empty-link", S_IFLNK | 0o777, 9, 1, b"");
    entry(&mut a, "jail/weird", 0o170_644, 10, 1, b"");
    entry(
        &mut a,
        "./deep/missing/parents/f",
        S_IFREG | 0o640,
        11,
        1,
        b"ok",
    );
    entry(&mut a, "jail/fifo", S_IFIFO | 0o600, 12, 1, b"");
    trailer(&mut a);
    let w = World::new();
    w.mkdir(b"target").unwrap();
    let target = w.resolve(b"target").unwrap();
    let summary = unpack(&target.inode, &a).unwrap();
    let reasons: Vec<_> = summary
        .refused
        .iter()
        .map(|(n, r)| (String::from_utf8_lossy(n).into_owned(), *r))
        .collect();
    assert_eq!(
        reasons,
        [
            ("../evil".into(), Refused::DotDot),
            ("jail/../../evil2".into(), Refused::DotDot),
            ("/abs".into(), Refused::Absolute),
            ("jail/up/through".into(), Refused::BadParent),
            ("jail/file/below".into(), Refused::BadParent),
            ("jail/empty-link".into(), Refused::BadEntry),
            ("jail/weird".into(), Refused::BadEntry),
        ]
    );
    assert_eq!(w.names(b"/"), [".", "..", "target"]);
    assert_eq!(w.names(b"target"), [".", "..", "deep", "jail"]);
    assert_eq!(w.read_all(b"target/deep/missing/parents/f").unwrap(), b"ok");
    assert_eq!(
        w.stat(b"target/deep/missing").unwrap().mode,
        S_IFDIR | 0o755
    );
    assert_eq!(w.stat(b"target/jail/file").unwrap().mode, S_IFREG | 0o600);
    assert_eq!(
        w.stat(b"target/jail").unwrap().mtime.sec,
        1234,
        "directory mtimes set last"
    );
}

#[test]
fn malformed_archives_fail_cleanly() {
    let mut a = Vec::new();
    entry(&mut a, "ok", S_IFREG | 0o644, 1, 1, b"fine");
    entry(&mut a, "cut", S_IFREG | 0o644, 2, 1, &[b'z'; 100]);
    let w = World::new();
    // Every truncation point: an error naming an offset, never a panic, "ok" kept if whole.
    for cut in 0..a.len() {
        match unpack(&w.root.inode, &a[..cut]) {
            Ok(s) => assert!(
                a[..cut].iter().all(|&b| b == 0) || s.unpacked == 0,
                "cut {cut}"
            ),
            Err(e) => assert!(e.error.offset <= cut),
        }
    }
    let e = unpack(&w.root.inode, &a).unwrap_err();
    assert_eq!(e.summary.unpacked, 2);
    assert_eq!(e.error.kind, cpio::ErrorKind::MissingTrailer);
    assert_eq!(w.read_all(b"ok").unwrap(), b"fine");
    // Noise.
    let mut x = 0x1234_5678_u32;
    for round in 0..300 {
        let mut junk = a.clone();
        for _ in 0..4 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = x as usize % junk.len();
            junk[i] = (x >> 8) as u8;
        }
        let _ = unpack(&w.root.inode, &junk);
        assert!(w.stat(b"/").is_ok(), "round {round}");
    }
    // A directory replaced by a file only if empty; a file replaced by a directory.
    let mut b = Vec::new();
    entry(&mut b, "ok", S_IFDIR | 0o700, 9, 2, b"");
    trailer(&mut b);
    unpack(&w.root.inode, &b).unwrap();
    assert!(w.stat(b"ok").unwrap().is_dir());
    let _ = Errno::EIO;
}
