//! Random operation sequences with hostile paths: nothing panics, and afterwards the tree's
//! bookkeeping is consistent (link counts by names found, directory nlink and sizes).

mod common;

use common::{World, p};
use std::collections::HashMap;
use vfs::{FileType, OpenFlags, RenameFlags};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn random_path(rng: &mut Rng) -> Vec<u8> {
    let parts = ["a", "b", "c", "d", ".", "..", "", "l", "f"];
    let depth = 1 + rng.next() % 4;
    let mut path = if rng.next().is_multiple_of(3) {
        b"/".to_vec()
    } else {
        Vec::new()
    };
    for i in 0..depth {
        if i > 0 {
            path.push(b'/');
        }
        path.extend_from_slice(rng.pick(&parts).as_bytes());
    }
    if rng.next().is_multiple_of(8) {
        path.push(b'/');
    }
    if path.is_empty() {
        path.push(b'x');
    }
    path
}

/// Per inode: (nlink, is a directory, size, subdirectories, entries).
type Info = HashMap<u64, (u32, bool, u64, u32, u64)>;

/// Walks the tree from `/` without following symlinks; returns (ino → names found, ino →
/// (nlink, is_dir, size, subdirs, entries)).
fn survey(w: &World) -> (HashMap<u64, usize>, Info) {
    let mut names = HashMap::new();
    let mut info = HashMap::new();
    let mut stack = vec![b"/".to_vec()];
    while let Some(dir) = stack.pop() {
        let meta = w.lstat(&dir).unwrap();
        let mut subdirs = 0;
        let mut entries = 0;
        let listed = w.names(&dir);
        for name in listed.iter().filter(|n| *n != "." && *n != "..") {
            entries += 1;
            let mut child = dir.clone();
            if child != b"/" {
                child.push(b'/');
            }
            child.extend_from_slice(name.as_bytes());
            let m = w.lstat(&child).unwrap();
            *names.entry(m.ino).or_insert(0) += 1;
            if m.is_dir() {
                subdirs += 1;
                stack.push(child);
            } else {
                info.insert(m.ino, (m.nlink, false, m.size, 0, 0));
            }
        }
        info.insert(meta.ino, (meta.nlink, true, meta.size, subdirs, entries));
    }
    (names, info)
}

#[test]
fn random_operations_keep_the_tree_consistent() {
    for seed in [0x9e37_79b9_7f4a_7c15, 1, 0xdead_beef, 42, 7777] {
        run(seed);
    }
}

fn run(seed: u64) {
    let w = World::new();
    let l = w.lookup();
    let mut rng = Rng(seed);
    let mut ok = 0;
    for _ in 0..20_000 {
        let a = random_path(&mut rng);
        let b = random_path(&mut rng);
        let result = match rng.next() % 11 {
            0 | 1 => w.vfs.mkdir(&l, p(&a), 0o755),
            2 | 3 => w
                .vfs
                .open(&l, p(&a), OpenFlags::RDWR.with(OpenFlags::CREAT), 0o644)
                .and_then(|f| f.write(&a).map(|_| ())),
            4 => w.vfs.unlink(&l, p(&a)),
            5 => w.vfs.rmdir(&l, p(&a)),
            6 => w
                .vfs
                .rename(&l, p(&a), &l, p(&b), RenameFlags((rng.next() % 3) as u32)),
            7 => w
                .vfs
                .link(&l, p(&a), rng.next().is_multiple_of(2), &l, p(&b)),
            8 => w.vfs.symlink(&l, &b, p(&a)),
            9 => w.vfs.open(&l, p(&a), OpenFlags::RDONLY, 0).and_then(|f| {
                let mut buf = [0u8; 64];
                match f.metadata().file_type() {
                    FileType::Directory => f.getdents64(&mut buf).map(|_| ()),
                    _ => f.read(&mut buf).map(|_| ()),
                }
            }),
            _ => w
                .vfs
                .open(&l, p(&a), OpenFlags::WRONLY.with(OpenFlags::TRUNC), 0)
                .map(|_| ()),
        };
        ok += usize::from(result.is_ok());
    }
    assert!(ok > 1000, "the sequence did something ({ok} successes)");
    let (names, info) = survey(&w);
    for (ino, (nlink, is_dir, size, subdirs, entries)) in &info {
        if *is_dir {
            assert_eq!(*nlink, 2 + subdirs, "dir {ino} nlink");
            assert_eq!(*size, 40 + 20 * entries, "dir {ino} size");
        } else {
            assert_eq!(*nlink as usize, names[ino], "file {ino} nlink vs names");
        }
    }
}
