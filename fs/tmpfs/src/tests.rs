use super::*;
use alloc::vec;
use std::sync::atomic::AtomicI64;
use vfs::types::{S_IFDIR, S_IFIFO, S_IFREG};

struct Tick(AtomicI64);
impl Clock for Tick {
    fn now(&self) -> Timespec {
        Timespec::from_secs(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

fn fs_with(max_pages: u64, max_inodes: u64) -> Arc<TmpFs> {
    TmpFs::with_limits(
        Arc::new(Tick(AtomicI64::new(100))),
        7,
        max_pages,
        max_inodes,
        "tmpfs",
    )
}

fn node(mode: u32) -> NewNode {
    NewNode {
        mode,
        rdev: 0,
        uid: 1,
        gid: 2,
    }
}

#[test]
fn sparse_files_holes_and_truncate() {
    let fs = fs_with(1000, 100);
    let root = fs.root();
    let f = root.create(b"f", &node(S_IFREG | 0o644)).unwrap();
    assert_eq!(f.write_at(10 * PAGE_SIZE as u64 + 5, b"abc"), Ok(3));
    let meta = f.metadata();
    assert_eq!(meta.size, 10 * PAGE_SIZE as u64 + 8);
    assert_eq!(meta.blocks, 8, "one page allocated");
    let mut buf = vec![1u8; 16];
    assert_eq!(f.read_at(PAGE_SIZE as u64, &mut buf), Ok(16));
    assert!(buf.iter().all(|&b| b == 0));
    assert_eq!(f.read_at(meta.size, &mut buf), Ok(0));
    // Shrink into the middle of the page, then grow: the cut bytes read as zeros.
    f.set_attr(&SetAttr {
        size: Some(10 * PAGE_SIZE as u64 + 6),
        ..SetAttr::default()
    })
    .unwrap();
    f.set_attr(&SetAttr {
        size: Some(11 * PAGE_SIZE as u64),
        ..SetAttr::default()
    })
    .unwrap();
    let mut three = [9u8; 3];
    f.read_at(10 * PAGE_SIZE as u64 + 5, &mut three).unwrap();
    assert_eq!(three, [b'a', 0, 0]);
    f.set_attr(&SetAttr {
        size: Some(0),
        ..SetAttr::default()
    })
    .unwrap();
    assert_eq!(f.metadata().blocks, 0);
    assert_eq!(fs.statfs().bfree, 1000);
    let d = root.create(b"d", &node(S_IFDIR | 0o755)).unwrap();
    assert_eq!(
        d.set_attr(&SetAttr {
            size: Some(1),
            ..SetAttr::default()
        }),
        Err(Errno::EISDIR)
    );
    assert_eq!(d.write_at(0, b"x"), Err(Errno::EISDIR));
}

#[test]
fn limits_give_enospc_and_statfs_counts() {
    let fs = fs_with(2, 3);
    let root = fs.root();
    let f = root.create(b"f", &node(S_IFREG | 0o644)).unwrap();
    assert_eq!(
        f.write_at(0, &vec![1u8; 3 * PAGE_SIZE]),
        Ok(2 * PAGE_SIZE),
        "short write"
    );
    assert_eq!(f.write_at(2 * PAGE_SIZE as u64, b"x"), Err(Errno::ENOSPC));
    let st = fs.statfs();
    assert_eq!(
        (st.fs_type, st.bsize, st.blocks, st.bfree),
        (TMPFS_MAGIC, 4096, 2, 0)
    );
    assert_eq!((st.files, st.ffree, st.namelen), (3, 1, 255));
    root.create(b"g", &node(S_IFREG)).unwrap();
    assert_eq!(root.create(b"h", &node(S_IFREG)).err(), Some(Errno::ENOSPC));
    root.unlink(b"f").unwrap();
    drop(f);
    assert_eq!(
        fs.statfs().bfree,
        2,
        "pages return when the last reference goes"
    );
    assert_eq!(fs.statfs().ffree, 1);
}

#[test]
fn links_counts_and_removed_directories() {
    let fs = fs_with(100, 100);
    let root = fs.root();
    let d = root.create(b"d", &node(S_IFDIR | 0o755)).unwrap();
    assert_eq!(root.metadata().nlink, 3);
    assert_eq!(d.metadata().nlink, 2);
    let f = d.create(b"f", &node(S_IFREG | 0o644)).unwrap();
    root.link(b"f2", &f).unwrap();
    assert_eq!(f.metadata().nlink, 2);
    assert_eq!(root.link(b"f2", &f), Err(Errno::EEXIST));
    assert_eq!(root.link(b"dd", &d), Err(Errno::EPERM));
    let other = fs_with(10, 10);
    let foreign = other.root().create(b"x", &node(S_IFREG)).unwrap();
    assert_eq!(root.link(b"x", &foreign), Err(Errno::EXDEV));
    assert_eq!(
        root.rename(b"f2", &other.root(), b"y", RenameFlags::default()),
        Err(Errno::EXDEV)
    );
    d.unlink(b"f").unwrap();
    root.unlink(b"f2").unwrap();
    assert_eq!(f.metadata().nlink, 0);
    assert_eq!(root.link(b"again", &f), Err(Errno::ENOENT), "no links left");
    root.rmdir(b"d").unwrap();
    assert_eq!(d.metadata().nlink, 0);
    assert_eq!(root.metadata().nlink, 2);
    assert_eq!(d.create(b"late", &node(S_IFREG)).err(), Some(Errno::ENOENT));
    assert_eq!(d.lookup(b"..").unwrap().metadata().ino, root.metadata().ino);
    assert_eq!(
        root.lookup(b"..").map(|i| i.metadata().ino),
        Ok(root.metadata().ino)
    );
    assert_eq!(f.lookup(b"x").err(), Some(Errno::ENOTDIR));
    assert_eq!(root.unlink(b"nope"), Err(Errno::ENOENT));
    assert_eq!(root.rmdir(b"nope"), Err(Errno::ENOENT));
}

#[test]
fn rename_exchange_and_directory_parents() {
    let fs = fs_with(100, 100);
    let root = fs.root();
    let a = root.create(b"a", &node(S_IFDIR | 0o755)).unwrap();
    let b = root.create(b"b", &node(S_IFDIR | 0o755)).unwrap();
    let inner = a.create(b"inner", &node(S_IFDIR | 0o755)).unwrap();
    let file = b.create(b"file", &node(S_IFREG | 0o644)).unwrap();
    a.rename(b"inner", &b, b"file", RenameFlags::EXCHANGE)
        .unwrap();
    assert_eq!(
        b.lookup(b"file").unwrap().metadata().ino,
        inner.metadata().ino
    );
    assert_eq!(
        a.lookup(b"inner").unwrap().metadata().ino,
        file.metadata().ino
    );
    assert_eq!(
        inner.lookup(b"..").unwrap().metadata().ino,
        b.metadata().ino
    );
    assert_eq!((a.metadata().nlink, b.metadata().nlink), (2, 3));
    assert_eq!(
        root.rename(b"b", &inner, b"x", RenameFlags::default()),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        b.rename(b"file", &inner, b"x", RenameFlags::default()),
        Err(Errno::EINVAL)
    );
    // Same directory, same name: nothing changes.
    root.rename(b"a", &root, b"a", RenameFlags::default())
        .unwrap();
    assert!(root.lookup(b"a").is_ok());
}

#[test]
fn readdir_cookies_types_and_sizes() {
    let fs = fs_with(100, 100);
    let root = fs.root();
    root.create(b"d", &node(S_IFDIR | 0o755)).unwrap();
    root.create(b"p", &node(S_IFIFO | 0o600)).unwrap();
    root.symlink(b"s", b"target", 0, 0).unwrap();
    let mut all = Vec::new();
    root.readdir(0, &mut |e| {
        all.push((e.name.to_vec(), e.kind, e.next));
        true
    })
    .unwrap();
    let names: Vec<_> = all.iter().map(|(n, _, _)| n.as_slice()).collect();
    assert_eq!(names, [&b"."[..], b"..", b"d", b"p", b"s"]);
    assert_eq!(all[3].1, FileType::Fifo);
    assert_eq!(all[4].1, FileType::Symlink);
    // Resume after "d".
    let mut rest = Vec::new();
    root.readdir(all[2].2, &mut |e| {
        rest.push(e.name.to_vec());
        false
    })
    .unwrap();
    assert_eq!(rest, [b"p".to_vec()]);
    assert_eq!(root.metadata().size, 40 + 3 * 20);
    let s = root.lookup(b"s").unwrap();
    assert_eq!(
        (s.metadata().size, s.readlink().unwrap()),
        (6, b"target".to_vec())
    );
    assert_eq!(s.metadata().mode, vfs::types::S_IFLNK | 0o777);
}

#[test]
fn setgid_directories_pass_their_group_down() {
    let fs = fs_with(100, 100);
    let root = fs.root();
    let d = root.create(b"d", &node(S_IFDIR | 0o2775)).unwrap();
    d.set_attr(&SetAttr {
        gid: Some(50),
        mode: Some(0o2775),
        ..SetAttr::default()
    })
    .unwrap();
    let sub = d.create(b"sub", &node(S_IFDIR | 0o755)).unwrap();
    let f = d.create(b"f", &node(S_IFREG | 0o644)).unwrap();
    assert_eq!(
        (sub.metadata().gid, sub.metadata().mode & 0o7777),
        (50, 0o2755)
    );
    assert_eq!((f.metadata().gid, f.metadata().mode & 0o7777), (50, 0o644));
}

#[test]
fn concurrent_renames_and_creates_do_not_deadlock() {
    let fs = fs_with(u64::MAX / 2, u64::MAX / 2);
    let root = fs.root();
    let a = root.create(b"a", &node(S_IFDIR | 0o755)).unwrap();
    let b = root.create(b"b", &node(S_IFDIR | 0o755)).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (a, b, root) = (a.clone(), b.clone(), root.clone());
            std::thread::spawn(move || {
                for i in 0..300 {
                    let name = alloc::format!("t{t}-{i}").into_bytes();
                    // Half the threads move a → b, half b → a: opposite lock orders.
                    let (from, to) = if t % 2 == 0 { (&a, &b) } else { (&b, &a) };
                    from.create(&name, &node(S_IFREG | 0o644)).unwrap();
                    from.rename(&name, to, &name, RenameFlags::default())
                        .unwrap();
                    let mut n = 0;
                    root.readdir(0, &mut |_| {
                        n += 1;
                        true
                    })
                    .unwrap();
                    let _ = to.lookup(b"..").unwrap().metadata();
                    to.unlink(&name).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(a.metadata().size, 40);
    assert_eq!(b.metadata().size, 40);
}

fn cache_fs(max_pages: u64) -> (Arc<TmpFs>, Arc<pages::MappablePages>) {
    let pages = Arc::new(pages::MappablePages::default());
    let fs = TmpFs::build(
        Arc::new(Tick(AtomicI64::new(100))),
        8,
        max_pages,
        100,
        "tmpfs",
        pages.clone(),
    );
    (fs, pages)
}

fn resize(f: &Arc<dyn Inode>, size: u64) {
    f.set_attr(&SetAttr {
        size: Some(size),
        ..SetAttr::default()
    })
    .unwrap();
}

#[test]
fn heap_pages_offer_no_cache() {
    let fs = fs_with(10, 10);
    let f = fs.root().create(b"f", &node(S_IFREG | 0o644)).unwrap();
    f.write_at(0, b"x").unwrap();
    assert_eq!(f.cached_page(0), None);
    assert!(!f.has_page_cache());
}

#[test]
fn cached_pages_are_the_file_data() {
    let (fs, pages) = cache_fs(100);
    let root = fs.root();
    let f = root.create(b"f", &node(S_IFREG | 0o644)).unwrap();
    assert!(f.has_page_cache() && !root.has_page_cache());
    assert_eq!(f.cached_page(0), Some(Err(Errno::EFAULT)), "empty file");
    f.write_at(0, b"hello").unwrap();
    let page = f.cached_page(0).unwrap().unwrap();
    assert_eq!(pages.0.refs(page), 2, "the file's and the mapping's");
    // A write through the "mapping" is what read() sees, and write() is what it sees.
    pages.0.write(page, 1, b"E");
    let mut buf = [0u8; 5];
    f.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf, b"hEllo");
    f.write_at(2, b"L").unwrap();
    let mut seen = [0u8; 5];
    pages.0.read(page, 0, &mut seen);
    assert_eq!(&seen, b"hELlo");
    // Within the last page but past the size: the page exists; a page wholly past: EFAULT.
    assert_eq!(f.cached_page(PAGE_SIZE as u64), Some(Err(Errno::EFAULT)));
    // A hole inside the file gets a fresh zeroed page, charged to the filesystem.
    resize(&f, 3 * PAGE_SIZE as u64);
    let hole = f.cached_page(2 * PAGE_SIZE as u64).unwrap().unwrap();
    assert_eq!(f.metadata().blocks, 16);
    assert_eq!(fs.statfs().bfree, 98);
    let mut z = [1u8; 8];
    pages.0.read(hole, 0, &mut z);
    assert_eq!(z, [0; 8]);
    pages.0.put(hole);
    pages.0.put(page);
    drop(f);
    root.unlink(b"f").unwrap();
    assert_eq!(
        pages.0.live(),
        0,
        "unlinked and unreferenced: every page freed"
    );
    assert_eq!(fs.statfs().bfree, 100);
}

#[test]
fn truncate_keeps_mapped_pages_alive() {
    let (fs, pages) = cache_fs(100);
    let root = fs.root();
    let f = root.create(b"f", &node(S_IFREG | 0o644)).unwrap();
    f.write_at(0, &vec![7u8; 2 * PAGE_SIZE]).unwrap();
    let second = f.cached_page(PAGE_SIZE as u64).unwrap().unwrap();
    resize(&f, 100);
    assert_eq!(pages.0.refs(second), 1, "only the mapping holds it now");
    assert_eq!(pages.0.live(), 2);
    // The mapping's page is detached: its bytes no longer reach the file.
    pages.0.write(second, 0, b"zz");
    resize(&f, 2 * PAGE_SIZE as u64);
    let mut buf = [9u8; 4];
    f.read_at(PAGE_SIZE as u64, &mut buf).unwrap();
    assert_eq!(buf, [0; 4]);
    assert_eq!(f.cached_page(PAGE_SIZE as u64), Some(Ok(f_page(&f, 1))));
    pages.0.put(f_page(&f, 1));
    pages.0.put(f_page(&f, 1));
    pages.0.put(second);
    drop(f);
    root.unlink(b"f").unwrap();
    assert_eq!(pages.0.live(), 0);
}

/// The handle of page `index` of `f`, with no reference kept.
fn f_page(f: &Arc<dyn Inode>, index: u64) -> u64 {
    let page = f.cached_page(index * PAGE_SIZE as u64).unwrap().unwrap();
    let tmp = f.clone().into_any().downcast::<TmpInode>().unwrap();
    tmp.shared.provider.put(page);
    page
}

#[test]
fn bytes_past_the_end_never_become_data() {
    let (fs, pages) = cache_fs(100);
    let f = fs.root().create(b"f", &node(S_IFREG | 0o644)).unwrap();
    f.write_at(0, b"abc").unwrap();
    let page = f.cached_page(0).unwrap().unwrap();
    // A shared mapping writes past the end of the file, inside its last page.
    pages.0.write(page, 3, b"XYZ");
    let mut buf = [1u8; 8];
    assert_eq!(f.read_at(0, &mut buf), Ok(3), "read stops at the size");
    assert_eq!(f.metadata().size, 3);
    // Growing by truncate: the grown part reads as zeros.
    resize(&f, 6);
    f.read_at(0, &mut buf).unwrap();
    assert_eq!(&buf[..6], b"abc\0\0\0");
    // Growing by a write further on: the gap reads as zeros.
    pages.0.write(page, 6, b"QQ");
    f.write_at(10, b"k").unwrap();
    let mut all = [1u8; 11];
    assert_eq!(f.read_at(0, &mut all), Ok(11));
    assert_eq!(&all, b"abc\0\0\0\0\0\0\0k");
    pages.0.put(page);
}

#[test]
fn cached_page_charges_the_budget() {
    let (fs, pages) = cache_fs(1);
    let f = fs.root().create(b"f", &node(S_IFREG | 0o644)).unwrap();
    resize(&f, 2 * PAGE_SIZE as u64);
    let first = f.cached_page(0).unwrap().unwrap();
    assert_eq!(
        f.cached_page(PAGE_SIZE as u64),
        Some(Err(Errno::ENOSPC)),
        "filesystem full"
    );
    pages.0.put(first);
}
