//! Shared set-up of the VFS integration tests: a tmpfs root, a counting clock, helpers.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use syscall::{Errno, Result};
use tmpfs::TmpFs;
use vfs::{
    Cred, DeviceRegistry, EmptyPath, FileSystem, Lookup, OpenFile, OpenFlags, Path, PathRef,
    Timespec, Vfs,
};

/// A clock that advances one second per reading.
pub struct TickClock(pub AtomicI64);

impl vfs::Clock for TickClock {
    fn now(&self) -> Timespec {
        Timespec::from_secs(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

pub fn clock() -> Arc<TickClock> {
    Arc::new(TickClock(AtomicI64::new(1_000)))
}

pub struct World {
    pub vfs: Vfs,
    pub root: PathRef,
    pub cwd: PathRef,
    pub cred: Cred,
    pub clock: Arc<TickClock>,
}

pub fn p(bytes: &[u8]) -> Path<'_> {
    Path::new(bytes, EmptyPath::Allow).expect("valid path")
}

impl World {
    pub fn new() -> World {
        let clock = clock();
        let fs: Arc<dyn FileSystem> = TmpFs::new(clock.clone(), 1);
        let vfs = Vfs::new(fs, b"rootfs", Arc::new(DeviceRegistry::new()));
        let root = vfs.root();
        World {
            cwd: root.clone(),
            root,
            vfs,
            cred: Cred::ROOT,
            clock,
        }
    }

    pub fn lookup(&self) -> Lookup<'_> {
        Lookup {
            root: &self.root,
            start: &self.cwd,
            cred: &self.cred,
        }
    }

    pub fn at<'a>(&'a self, start: &'a PathRef) -> Lookup<'a> {
        Lookup {
            root: &self.root,
            start,
            cred: &self.cred,
        }
    }

    pub fn mkdir(&self, path: &[u8]) -> Result<()> {
        self.vfs.mkdir(&self.lookup(), p(path), 0o755)
    }

    pub fn mkdir_p(&self, path: &[u8]) -> Result<()> {
        let mut prefix = Vec::new();
        for part in path.split(|&b| b == b'/') {
            if !prefix.is_empty() || path.starts_with(b"/") {
                prefix.push(b'/');
            }
            prefix.extend_from_slice(part);
            if part.is_empty() {
                continue;
            }
            match self.mkdir(&prefix) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn open(&self, path: &[u8], flags: OpenFlags) -> Result<Arc<OpenFile>> {
        self.vfs.open(&self.lookup(), p(path), flags, 0o644)
    }

    pub fn create(&self, path: &[u8], data: &[u8]) -> Result<()> {
        let f = self.open(
            path,
            OpenFlags::WRONLY
                .with(OpenFlags::CREAT)
                .with(OpenFlags::TRUNC),
        )?;
        assert_eq!(f.write(data)?, data.len());
        Ok(())
    }

    pub fn read_all(&self, path: &[u8]) -> Result<Vec<u8>> {
        let f = self.open(path, OpenFlags::RDONLY)?;
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(out);
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    pub fn stat(&self, path: &[u8]) -> Result<vfs::Metadata> {
        self.vfs.stat(&self.lookup(), p(path), true)
    }

    pub fn lstat(&self, path: &[u8]) -> Result<vfs::Metadata> {
        self.vfs.stat(&self.lookup(), p(path), false)
    }

    pub fn resolve(&self, path: &[u8]) -> Result<PathRef> {
        self.vfs.resolve(&self.lookup(), p(path), true)
    }

    pub fn names(&self, path: &[u8]) -> Vec<String> {
        let f = self
            .open(path, OpenFlags::RDONLY.with(OpenFlags::DIRECTORY))
            .expect("open dir");
        let mut buf = vec![0u8; 4096];
        let mut names = Vec::new();
        loop {
            let n = f.getdents64(&mut buf).expect("getdents64");
            if n == 0 {
                break;
            }
            for d in vfs::dirent::decode_dirents64(&buf[..n]).expect("records") {
                names.push(String::from_utf8(d.name).expect("utf8"));
            }
        }
        names.sort();
        names
    }
}
