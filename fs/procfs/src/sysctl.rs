//! `/proc/sys`: the sysctl tree Linux has for what BusyBox and programs read.
//!
//! Every entry is one line of text. Values the kernel knows (the host and domain names, the
//! open-file count, the pid limit) come from the [`ProcSource`]; tunables the kernel does not
//! act on yet (swappiness, overcommit, ...) keep Linux's default here and accept writes with
//! Linux's parsing: integers in range or `EINVAL`, strings truncated to their room. Opening a
//! read-only (0444) entry for writing is `EACCES` even for root, as Linux's
//! `proc_sys_permission` answers; truncation (`O_TRUNC`, as `sysctl -w` opens) is a no-op.

use crate::meta;
use crate::source::ProcSource;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use spin::Mutex;
use syscall::{Errno, Result};
use vfs::types::{S_IFDIR, S_IFREG};
use vfs::{DirEntry, FileOps, FileType, Inode, Metadata, OpenFlags, SetAttr};

/// Inode numbers of the tree: directories `BASE + i`, entries `BASE + 64 + i` (far above the
/// `pid << 8` range).
const INO_BASE: u64 = 1 << 40;

/// Where a default comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Default {
    N(i64),
    /// The pid allocator's limit.
    PidMax,
    /// Linux: total pages / 32 (a 16 KiB kernel stack may take 1/8 of memory).
    ThreadsMax,
    /// Linux: 10 % of memory in KiB, one file per KiB.
    FileMax,
    /// Linux: sqrt(16 * low memory in KiB), within 128..=262144.
    MinFree,
}

/// What an entry holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    /// Fixed text.
    Fixed(&'static str),
    /// An integer kept here: default, minimum, maximum.
    Int(Default, i64, i64),
    /// Up to `n` integers separated by tabs (printk), default text.
    Ints(&'static str, usize),
    /// A string kept here: default, room (longer writes are cut, as Linux's `proc_dostring`).
    Text(&'static str, usize),
    Hostname,
    Domainname,
    OsRelease,
    Version,
    FileNr,
    BootId,
    /// A fresh random UUID on every read.
    Uuid,
}

/// One `/proc/sys` file: its directory, name, permission bits and value.
pub(crate) struct Entry {
    pub dir: &'static str,
    pub name: &'static str,
    pub mode: u32,
    pub val: Val,
}

const fn e(dir: &'static str, name: &'static str, mode: u32, val: Val) -> Entry {
    Entry {
        dir,
        name,
        mode,
        val,
    }
}

/// Directories of the tree; "" is `/proc/sys` itself.
pub(crate) const DIRS: &[&str] = &["", "fs", "kernel", "kernel/random", "net", "net/core", "vm"];

const RO: u32 = 0o444;
const RW: u32 = 0o644;
const I32_MAX: i64 = i32::MAX as i64;

pub(crate) const ENTRIES: &[Entry] = &[
    e(
        "fs",
        "file-max",
        RW,
        Val::Int(Default::FileMax, 0, i64::MAX),
    ),
    e("fs", "file-nr", RO, Val::FileNr),
    e(
        "fs",
        "nr_open",
        RW,
        Val::Int(Default::N(1 << 20), 64, 1 << 30),
    ),
    e(
        "fs",
        "pipe-max-size",
        RW,
        Val::Int(Default::N(1 << 20), 4096, 1 << 31),
    ),
    e("kernel", "cap_last_cap", RO, Val::Fixed("40")),
    e("kernel", "core_pattern", RW, Val::Text("core", 128)),
    e("kernel", "domainname", RW, Val::Domainname),
    e("kernel", "hostname", RW, Val::Hostname),
    e("kernel", "ngroups_max", RO, Val::Fixed("65536")),
    e("kernel", "osrelease", RO, Val::OsRelease),
    e("kernel", "ostype", RO, Val::Fixed("Linux")),
    e(
        "kernel",
        "panic",
        RW,
        Val::Int(Default::N(0), -I32_MAX - 1, I32_MAX),
    ),
    e(
        "kernel",
        "pid_max",
        RW,
        Val::Int(Default::PidMax, 301, 1 << 22),
    ),
    e("kernel", "printk", RW, Val::Ints("4\t4\t1\t7", 4)),
    e(
        "kernel",
        "threads-max",
        RW,
        Val::Int(Default::ThreadsMax, 20, 0x3fff_ffff),
    ),
    e("kernel", "version", RO, Val::Version),
    e("kernel/random", "boot_id", RO, Val::BootId),
    e("kernel/random", "entropy_avail", RO, Val::Fixed("256")),
    e("kernel/random", "poolsize", RO, Val::Fixed("256")),
    e("kernel/random", "uuid", RO, Val::Uuid),
    e(
        "net/core",
        "somaxconn",
        RW,
        Val::Int(Default::N(4096), 0, I32_MAX),
    ),
    e(
        "vm",
        "max_map_count",
        RW,
        Val::Int(Default::N(65530), 0, I32_MAX),
    ),
    e(
        "vm",
        "min_free_kbytes",
        RW,
        Val::Int(Default::MinFree, 0, I32_MAX),
    ),
    e("vm", "overcommit_memory", RW, Val::Int(Default::N(0), 0, 2)),
    e("vm", "swappiness", RW, Val::Int(Default::N(60), 0, 200)),
];

/// The state behind the tree: the source and the tunables written so far.
pub(crate) struct Sysctl {
    source: Arc<dyn ProcSource>,
    dev: u64,
    /// The procfs root, `..` of `/proc/sys`.
    proc_root: Weak<crate::Root>,
    /// Entry index → current text (without the newline), once written.
    values: Mutex<BTreeMap<usize, String>>,
    boot_id: spin::Once<String>,
}

impl Sysctl {
    pub fn new(source: Arc<dyn ProcSource>, dev: u64, proc_root: Weak<crate::Root>) -> Arc<Sysctl> {
        Arc::new(Sysctl {
            source,
            dev,
            proc_root,
            values: Mutex::new(BTreeMap::new()),
            boot_id: spin::Once::new(),
        })
    }

    /// The `/proc/sys` directory.
    pub fn root(self: &Arc<Self>) -> Arc<dyn Inode> {
        Arc::new(SysDir {
            index: 0,
            state: self.clone(),
        })
    }

    fn uuid(&self) -> String {
        let mut b = [0u8; 16];
        self.source.fill_random(&mut b);
        // Version 4 (random), variant 10.
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let mut s = String::with_capacity(36);
        for (i, x) in b.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                s.push('-');
            }
            s.push_str(&format!("{x:02x}"));
        }
        s
    }

    fn default_int(&self, d: Default) -> i64 {
        let total_kb = self.source.meminfo().total_kb as i64;
        match d {
            Default::N(n) => n,
            Default::PidMax => i64::from(self.source.pid_max()),
            Default::ThreadsMax => (total_kb / 4 / 32).clamp(20, 0x3fff_ffff),
            Default::FileMax => (total_kb / 10).max(8192),
            Default::MinFree => isqrt(total_kb.saturating_mul(16)).clamp(128, 262_144),
        }
    }

    /// The text of entry `i`, with its newline.
    pub fn read(&self, i: usize) -> Vec<u8> {
        let Some(entry) = ENTRIES.get(i) else {
            return Vec::new();
        };
        let stored = self.values.lock().get(&i).cloned();
        let mut text = match (stored, entry.val) {
            (Some(s), _) => s,
            (None, Val::Fixed(s) | Val::Ints(s, _) | Val::Text(s, _)) => String::from(s),
            (None, Val::Int(d, _, _)) => format!("{}", self.default_int(d)),
            (None, Val::Hostname) => String::from_utf8_lossy(&self.source.hostname()).into(),
            (None, Val::Domainname) => String::from_utf8_lossy(&self.source.domainname()).into(),
            (None, Val::OsRelease) => String::from(self.source.os_release()),
            (None, Val::Version) => String::from(self.source.os_version()),
            (None, Val::FileNr) => {
                let max = self.read(index_of("fs", "file-max").unwrap_or(0));
                format!(
                    "{}\t0\t{}",
                    self.source.open_files(),
                    String::from_utf8_lossy(&max).trim_end()
                )
            }
            (None, Val::BootId) => self.boot_id.call_once(|| self.uuid()).clone(),
            (None, Val::Uuid) => self.uuid(),
        };
        text.push('\n');
        text.into_bytes()
    }

    /// A write of `data` at `offset` to entry `i`.
    pub fn write(&self, i: usize, offset: u64, data: &[u8]) -> Result<usize> {
        let entry = ENTRIES.get(i).ok_or(Errno::ENOENT)?;
        if entry.mode & 0o222 == 0 {
            return Err(Errno::EACCES);
        }
        // `sysctl_writes_strict` (Linux's default): a write past position 0 is ignored.
        if offset != 0 || data.is_empty() {
            return Ok(data.len());
        }
        let text = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
        match entry.val {
            Val::Int(_, min, max) => {
                let n = parse_int(text.trim())?;
                if !(min..=max).contains(&n) {
                    return Err(Errno::EINVAL);
                }
                self.values.lock().insert(i, format!("{n}"));
            }
            Val::Ints(default, count) => {
                let mut now: Vec<String> = {
                    let stored = self.values.lock().get(&i).cloned();
                    stored
                        .as_deref()
                        .unwrap_or(default)
                        .split('\t')
                        .map(String::from)
                        .collect()
                };
                let given: Vec<&str> = text.split_ascii_whitespace().collect();
                if given.is_empty() || given.len() > count {
                    return Err(Errno::EINVAL);
                }
                for (slot, g) in now.iter_mut().zip(&given) {
                    *slot = format!("{}", parse_int(g)?);
                }
                self.values.lock().insert(i, now.join("\t"));
            }
            Val::Text(_, room) => {
                let line = text.strip_suffix('\n').unwrap_or(text);
                let cut = floor_char_boundary(line, room.saturating_sub(1));
                self.values.lock().insert(i, String::from(&line[..cut]));
            }
            Val::Hostname | Val::Domainname => {
                let line = data.strip_suffix(b"\n").unwrap_or(data);
                // The uts fields hold 64 bytes; Linux cuts longer writes.
                let line = &line[..line.len().min(64)];
                if entry.val == Val::Hostname {
                    self.source.set_hostname(line)?;
                } else {
                    self.source.set_domainname(line)?;
                }
            }
            _ => return Err(Errno::EACCES),
        }
        Ok(data.len())
    }
}

/// Linux's `proc_dointvec` syntax: optional sign, decimal digits (trimmed by the caller).
fn parse_int(s: &str) -> Result<i64> {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Errno::EINVAL);
    }
    s.parse::<i64>().map_err(|_| Errno::EINVAL)
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn isqrt(n: i64) -> i64 {
    if n <= 0 {
        return 0;
    }
    let mut x = n;
    let mut y = (x + 1) / 2;
    while y < x {
        x = y;
        y = (x + n / x) / 2;
    }
    x
}

pub(crate) fn index_of(dir: &str, name: &str) -> Option<usize> {
    ENTRIES.iter().position(|e| e.dir == dir && e.name == name)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        String::from(name)
    } else {
        format!("{dir}/{name}")
    }
}

/// A directory of the tree.
struct SysDir {
    index: usize,
    state: Arc<Sysctl>,
}

impl SysDir {
    fn path(&self) -> &'static str {
        DIRS.get(self.index).copied().unwrap_or("")
    }

    /// Subdirectory indices and entry indices directly in this directory.
    fn children(&self) -> (Vec<usize>, Vec<usize>) {
        let me = self.path();
        let dirs = DIRS
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.is_empty() && parent_of(d) == me)
            .map(|(i, _)| i)
            .collect();
        let files = ENTRIES
            .iter()
            .enumerate()
            .filter(|(_, e)| e.dir == me)
            .map(|(i, _)| i)
            .collect();
        (dirs, files)
    }
}

fn parent_of(d: &str) -> &str {
    d.rsplit_once('/').map_or("", |(p, _)| p)
}

fn name_of(d: &str) -> &str {
    d.rsplit_once('/').map_or(d, |(_, n)| n)
}

impl Inode for SysDir {
    fn metadata(&self) -> Metadata {
        meta(
            self.state.dev,
            INO_BASE + self.index as u64,
            S_IFDIR | 0o555,
            0,
            2,
        )
    }
    fn set_attr(&self, _attr: &SetAttr) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn lookup(&self, name: &[u8]) -> Result<Arc<dyn Inode>> {
        let name = core::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        if name == "." {
            return Ok(Arc::new(SysDir {
                index: self.index,
                state: self.state.clone(),
            }));
        }
        if name == ".." {
            if self.index == 0 {
                return self
                    .state
                    .proc_root
                    .upgrade()
                    .map(|r| r as Arc<dyn Inode>)
                    .ok_or(Errno::ENOENT);
            }
            let parent = parent_of(self.path());
            let index = DIRS.iter().position(|d| *d == parent).unwrap_or(0);
            return Ok(Arc::new(SysDir {
                index,
                state: self.state.clone(),
            }));
        }
        let full = join(self.path(), name);
        if let Some(index) = DIRS.iter().position(|d| *d == full) {
            return Ok(Arc::new(SysDir {
                index,
                state: self.state.clone(),
            }));
        }
        let index = index_of(self.path(), name).ok_or(Errno::ENOENT)?;
        Ok(Arc::new(SysFile {
            index,
            state: self.state.clone(),
        }))
    }
    fn readdir(&self, cookie: u64, sink: &mut dyn FnMut(&DirEntry<'_>) -> bool) -> Result<()> {
        let (dirs, files) = self.children();
        let mut all: Vec<(u64, FileType, &str)> = alloc::vec![
            (INO_BASE + self.index as u64, FileType::Directory, "."),
            (INO_BASE, FileType::Directory, ".."),
        ];
        all.extend(
            dirs.iter()
                .map(|&d| (INO_BASE + d as u64, FileType::Directory, name_of(DIRS[d]))),
        );
        all.extend(
            files
                .iter()
                .map(|&f| (INO_BASE + 64 + f as u64, FileType::Regular, ENTRIES[f].name)),
        );
        for (c, (ino, kind, name)) in all.into_iter().enumerate().skip(cookie as usize) {
            if !sink(&DirEntry {
                ino,
                kind,
                name: name.as_bytes(),
                next: c as u64 + 1,
            }) {
                break;
            }
        }
        Ok(())
    }
}

/// One entry.
struct SysFile {
    index: usize,
    state: Arc<Sysctl>,
}

impl SysFile {
    fn mode(&self) -> u32 {
        ENTRIES.get(self.index).map_or(RO, |e| e.mode)
    }
}

impl Inode for SysFile {
    fn metadata(&self) -> Metadata {
        // Like Linux, size 0: readers read until EOF.
        meta(
            self.state.dev,
            INO_BASE + 64 + self.index as u64,
            S_IFREG | self.mode(),
            0,
            1,
        )
    }
    fn set_attr(&self, attr: &SetAttr) -> Result<()> {
        // Linux's `proc_sys_setattr`: no mode or owner changes; a truncation does nothing.
        if attr.mode.is_some() || attr.uid.is_some() || attr.gid.is_some() {
            return Err(Errno::EPERM);
        }
        Ok(())
    }
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn open(&self, flags: OpenFlags) -> Option<Result<Arc<dyn FileOps>>> {
        // `proc_sys_permission`: the mode bits bind root too.
        let write = flags.writable() || flags.access() == 3;
        if write && self.mode() & 0o200 == 0 {
            return Some(Err(Errno::EACCES));
        }
        None
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let text = self.state.read(self.index);
        let start = (offset as usize).min(text.len());
        let n = buf.len().min(text.len() - start);
        buf[..n].copy_from_slice(&text[start..start + n]);
        Ok(n)
    }
    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize> {
        self.state.write(self.index, offset, buf)
    }
}
