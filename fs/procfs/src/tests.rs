use super::*;
use std::string::String;
use std::vec;
use vfs::OpenFlags;

#[derive(Default)]
struct Fake {
    host: spin::Mutex<Vec<u8>>,
    /// fd 3 of pid 42: the read end of a pipe, made on first use.
    pipe: spin::Once<Arc<vfs::OpenFile>>,
    /// `may_inspect` says no.
    private: core::sync::atomic::AtomicBool,
}

impl Fake {
    fn pipe(&self) -> Arc<vfs::OpenFile> {
        self.pipe
            .call_once(|| vfs::OpenFile::new_pipe(OpenFlags::RDONLY).0)
            .clone()
    }
}

impl ProcSource for Fake {
    fn pids(&self) -> Vec<u32> {
        vec![1, 42]
    }
    fn process(&self, pid: u32) -> Option<ProcInfo> {
        (pid == 1 || pid == 42).then(|| ProcInfo {
            pid,
            ppid: if pid == 1 { 0 } else { 1 },
            pgid: pid,
            sid: 1,
            state: if pid == 1 { b'S' } else { b'R' },
            comm: if pid == 1 {
                b"init".to_vec()
            } else {
                b"a-very-long-command-name".to_vec()
            },
            cmdline: b"sh\0-c\0true\0".to_vec(),
            cwd: b"/tmp".to_vec(),
            exe: b"/bin/busybox".to_vec(),
            threads: 1,
            vsize: 8 << 20,
            rss_pages: 100,
            tpgid: -1,
            ..Default::default()
        })
    }
    fn current_pid(&self) -> u32 {
        42
    }
    fn meminfo(&self) -> MemInfo {
        MemInfo {
            total_kb: 262_144,
            free_kb: 200_000,
            available_kb: 200_000,
            ..Default::default()
        }
    }
    fn uptime_ns(&self) -> u64 {
        12_340_000_000
    }
    fn idle_ns(&self) -> u64 {
        10_000_000_000
    }
    fn mounts(&self) -> Vec<u8> {
        b"rootfs / tmpfs rw 0 0\n".to_vec()
    }
    fn cmdline(&self) -> Vec<u8> {
        b"console=ttyS0".to_vec()
    }
    fn cpus(&self) -> u32 {
        2
    }
    fn machine(&self) -> &'static str {
        "x86_64"
    }
    fn context_switches(&self) -> u64 {
        77
    }
    fn forks(&self) -> u64 {
        5
    }
    fn boot_time(&self) -> u64 {
        0
    }
    fn hostname(&self) -> Vec<u8> {
        let h = self.host.lock().clone();
        if h.is_empty() {
            b"levitate".to_vec()
        } else {
            h
        }
    }
    fn set_hostname(&self, name: &[u8]) -> Result<()> {
        *self.host.lock() = name.to_vec();
        Ok(())
    }
    fn domainname(&self) -> Vec<u8> {
        b"(none)".to_vec()
    }
    fn set_domainname(&self, _name: &[u8]) -> Result<()> {
        Err(Errno::EPERM)
    }
    fn os_release(&self) -> &'static str {
        "6.1.0-levitate"
    }
    fn os_version(&self) -> &'static str {
        "#1 SMP"
    }
    fn open_files(&self) -> u64 {
        7
    }
    fn pid_max(&self) -> u32 {
        4_194_304
    }
    fn fds(&self, pid: u32) -> Option<Vec<FdEntry>> {
        (pid == 42).then(|| {
            let file = self.pipe();
            vec![FdEntry {
                fd: 3,
                flags: 0o2100000,
                mnt_id: 0,
                file,
            }]
        })
    }
    fn maps(&self, pid: u32) -> Option<Vec<MapEntry>> {
        (pid == 42).then(|| {
            vec![
                MapEntry {
                    start: 0x400000,
                    end: 0x402000,
                    prot: 5,
                    offset: 0x1000,
                    rss_pages: 1,
                    ..Default::default()
                },
                MapEntry {
                    start: 0x7ffffffde000,
                    end: 0x7ffffffff000,
                    prot: 3,
                    stack: true,
                    rss_pages: 2,
                    ..Default::default()
                },
            ]
        })
    }
    fn file_name(&self, _pid: u32, file: &vfs::OpenFile) -> Vec<u8> {
        std::format!("pipe:[{}]", file.metadata().ino).into_bytes()
    }
    fn may_inspect(&self, _pid: u32) -> bool {
        !self.private.load(core::sync::atomic::Ordering::Relaxed)
    }
    fn tids(&self, pid: u32) -> Vec<u32> {
        if pid == 42 { vec![42, 43] } else { vec![pid] }
    }
    fn thread_times(&self, _pid: u32, tid: u32) -> Option<(u64, u64)> {
        (tid == 43).then_some((50_000_000, 20_000_000))
    }
    fn cpu_times(&self) -> CpuTimes {
        CpuTimes {
            user_ns: 3_000_000_000,
            system_ns: 1_000_000_000,
            idle_ns: 10_000_000_000,
        }
    }
    fn fill_random(&self, buf: &mut [u8]) {
        static N: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(1);
        for b in buf {
            *b = N.fetch_add(37, core::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn read_all(i: &Arc<dyn Inode>) -> String {
    let mut buf = vec![0u8; 8192];
    let n = i.read_at(0, &mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn tree_and_files() {
    let fs = ProcFs::new(Arc::new(Fake::default()), 9);
    let root = fs.root();
    let mut names = Vec::new();
    root.readdir(0, &mut |e| {
        names.push(String::from_utf8(e.name.to_vec()).unwrap());
        true
    })
    .unwrap();
    for n in [".", "..", "self", "meminfo", "uptime", "1", "42"] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    assert_eq!(root.lookup(b"self").unwrap().readlink().unwrap(), b"42");
    assert!(read_all(&root.lookup(b"uptime").unwrap()).starts_with("12.34 10.00"));
    let mem = read_all(&root.lookup(b"meminfo").unwrap());
    assert!(mem.starts_with("MemTotal:         262144 kB\n"), "{mem}");
    let p = root.lookup(b"42").unwrap();
    // Same inode on a second lookup (identity matters to the VFS).
    assert!(vfs::same_inode(&p, &root.lookup(b"42").unwrap()));
    let stat = read_all(&p.lookup(b"stat").unwrap());
    let fields: Vec<&str> = stat.split(' ').collect();
    assert_eq!(fields[0], "42");
    assert_eq!(fields[1], "(a-very-long-com)");
    assert_eq!(fields[2], "R");
    assert_eq!(fields.len(), 52, "{stat}");
    assert!(read_all(&p.lookup(b"status").unwrap()).contains("PPid:\t1\n"));
    assert_eq!(p.lookup(b"cwd").unwrap().readlink().unwrap(), b"/tmp");
    assert_eq!(root.lookup(b"7").err(), Some(Errno::ENOENT));
    assert_eq!(root.lookup(b"nonsense").err(), Some(Errno::ENOENT));
    // Reading at an offset continues the text; past the end gives 0.
    let up = root.lookup(b"uptime").unwrap();
    let mut b = [0u8; 4];
    assert_eq!(up.read_at(3, &mut b).unwrap(), 4);
    assert_eq!(&b, b"34 1");
    assert_eq!(up.read_at(10_000, &mut b).unwrap(), 0);
}

/// Walk `path` (slash-separated, relative to `/proc`).
fn walk(root: &Arc<dyn Inode>, path: &str) -> Result<Arc<dyn Inode>> {
    let mut at = root.clone();
    for part in path.split('/') {
        at = at.lookup(part.as_bytes())?;
    }
    Ok(at)
}

fn names(dir: &Arc<dyn Inode>) -> Vec<String> {
    let mut out = Vec::new();
    dir.readdir(0, &mut |e| {
        out.push(String::from_utf8(e.name.to_vec()).unwrap());
        true
    })
    .unwrap();
    out
}

#[test]
fn sysctl_tree_reads() {
    let fs = ProcFs::new(Arc::new(Fake::default()), 9);
    let root = fs.root();
    assert!(names(&root).iter().any(|n| n == "sys"));
    let sys = walk(&root, "sys").unwrap();
    assert!(sys.metadata().is_dir());
    assert_eq!(names(&sys), [".", "..", "fs", "kernel", "net", "vm"]);
    let kernel = walk(&root, "sys/kernel").unwrap();
    let k = names(&kernel);
    for n in [
        "hostname",
        "ostype",
        "osrelease",
        "pid_max",
        "random",
        "printk",
    ] {
        assert!(k.iter().any(|x| x == n), "{n} missing from {k:?}");
    }
    // `..` climbs back to /proc.
    assert!(walk(&root, "sys/..").unwrap().lookup(b"meminfo").is_ok());
    assert!(
        walk(&root, "sys/kernel/random/..")
            .unwrap()
            .lookup(b"ostype")
            .is_ok()
    );
    let read = |p: &str| read_all(&walk(&root, p).unwrap());
    assert_eq!(read("sys/kernel/ostype"), "Linux\n");
    assert_eq!(read("sys/kernel/hostname"), "levitate\n");
    assert_eq!(read("sys/kernel/osrelease"), "6.1.0-levitate\n");
    assert_eq!(read("sys/kernel/pid_max"), "4194304\n");
    assert_eq!(read("sys/kernel/printk"), "4\t4\t1\t7\n");
    assert_eq!(read("sys/vm/swappiness"), "60\n");
    // 256 MiB: file-max 10 % in KiB, threads-max pages / 32, min_free sqrt(16 * KiB).
    assert_eq!(read("sys/fs/file-max"), "26214\n");
    assert_eq!(read("sys/kernel/threads-max"), "2048\n");
    assert_eq!(read("sys/vm/min_free_kbytes"), "2048\n");
    assert_eq!(read("sys/fs/file-nr"), "7\t0\t26214\n");
    assert_eq!(read("sys/net/core/somaxconn"), "4096\n");
    // boot_id is fixed for the boot; uuid is new on every read; both version-4 UUIDs.
    let boot = read("sys/kernel/random/boot_id");
    assert_eq!(boot, read("sys/kernel/random/boot_id"));
    let (u1, u2) = (
        read("sys/kernel/random/uuid"),
        read("sys/kernel/random/uuid"),
    );
    assert_ne!(u1, u2);
    for u in [&boot, &u1] {
        assert_eq!(u.len(), 37, "{u}");
        assert_eq!(&u[14..15], "4", "{u}");
        assert_eq!(u.matches('-').count(), 4);
    }
    assert_eq!(
        walk(&root, "sys/kernel/nonsense").err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(walk(&root, "sys/nonsense").err(), Some(Errno::ENOENT));
    assert_eq!(
        walk(&root, "sys/kernel/ostype").unwrap().metadata().mode,
        S_IFREG | 0o444
    );
    assert_eq!(
        walk(&root, "sys/vm/swappiness").unwrap().metadata().mode,
        S_IFREG | 0o644
    );
}

#[test]
fn sysctl_writes() {
    let fs = ProcFs::new(Arc::new(Fake::default()), 9);
    let root = fs.root();
    let node = |p: &str| walk(&root, p).unwrap();
    let read = |p: &str| read_all(&walk(&root, p).unwrap());
    // Integers: in range, with Linux's whitespace; junk and out of range are EINVAL.
    assert_eq!(node("sys/vm/swappiness").write_at(0, b"10\n"), Ok(3));
    assert_eq!(read("sys/vm/swappiness"), "10\n");
    assert_eq!(node("sys/vm/swappiness").write_at(0, b" 20 "), Ok(4));
    assert_eq!(read("sys/vm/swappiness"), "20\n");
    for junk in [
        &b"abc"[..],
        b"12x",
        b"-",
        b"",
        b"201",
        b"-1",
        b"1 2",
        b"\xff",
    ] {
        let r = node("sys/vm/swappiness").write_at(0, junk);
        if junk.is_empty() {
            assert_eq!(r, Ok(0));
        } else {
            assert_eq!(r, Err(Errno::EINVAL), "{junk:?}");
        }
    }
    assert_eq!(read("sys/vm/swappiness"), "20\n");
    assert_eq!(
        node("sys/vm/overcommit_memory").write_at(0, b"3"),
        Err(Errno::EINVAL)
    );
    assert_eq!(node("sys/vm/overcommit_memory").write_at(0, b"2"), Ok(1));
    assert_eq!(node("sys/kernel/panic").write_at(0, b"-1"), Ok(2));
    assert_eq!(read("sys/kernel/panic"), "-1\n");
    // A write past position 0 is ignored (sysctl_writes_strict).
    assert_eq!(node("sys/kernel/panic").write_at(5, b"7"), Ok(1));
    assert_eq!(read("sys/kernel/panic"), "-1\n");
    // Vectors: a prefix of the values may be given.
    assert_eq!(node("sys/kernel/printk").write_at(0, b"7 5"), Ok(3));
    assert_eq!(read("sys/kernel/printk"), "7\t5\t1\t7\n");
    assert_eq!(
        node("sys/kernel/printk").write_at(0, b"1 2 3 4 5"),
        Err(Errno::EINVAL)
    );
    // Strings: the newline is dropped; the host name is the source's.
    assert_eq!(
        node("sys/kernel/core_pattern").write_at(0, b"/tmp/core.%p\n"),
        Ok(13)
    );
    assert_eq!(read("sys/kernel/core_pattern"), "/tmp/core.%p\n");
    assert_eq!(node("sys/kernel/hostname").write_at(0, b"box\n"), Ok(4));
    assert_eq!(read("sys/kernel/hostname"), "box\n");
    assert_eq!(
        node("sys/kernel/domainname").write_at(0, b"x"),
        Err(Errno::EPERM)
    );
    // Read-only entries refuse writes and opening for writing (root too), but reading is fine;
    // truncation (sysctl -w's O_TRUNC) is a no-op, mode changes EPERM.
    let ostype = node("sys/kernel/ostype");
    assert_eq!(ostype.write_at(0, b"x"), Err(Errno::EACCES));
    assert!(matches!(
        ostype.open(OpenFlags::WRONLY),
        Some(Err(Errno::EACCES))
    ));
    assert!(matches!(
        ostype.open(OpenFlags::RDWR),
        Some(Err(Errno::EACCES))
    ));
    assert!(ostype.open(OpenFlags::RDONLY).is_none());
    assert!(node("sys/vm/swappiness").open(OpenFlags::WRONLY).is_none());
    let trunc = SetAttr {
        size: Some(0),
        ..SetAttr::default()
    };
    assert_eq!(node("sys/vm/swappiness").set_attr(&trunc), Ok(()));
    let chmod = SetAttr {
        mode: Some(0o600),
        ..SetAttr::default()
    };
    assert_eq!(
        node("sys/vm/swappiness").set_attr(&chmod),
        Err(Errno::EPERM)
    );
}

#[test]
fn fd_links_and_fdinfo() {
    let fake = Arc::new(Fake::default());
    let fs = ProcFs::new(fake.clone(), 9);
    let root = fs.root();
    let p = walk(&root, "42").unwrap();
    let listed = names(&p);
    for n in [
        "fd",
        "fdinfo",
        "task",
        "root",
        "exe",
        "cwd",
        "mountinfo",
        "maps",
    ] {
        assert!(listed.iter().any(|x| x == n), "{n} missing from {listed:?}");
    }
    let fd = walk(&root, "42/fd").unwrap();
    assert_eq!(fd.metadata().mode & 0o7777, 0o500);
    assert!(fd.metadata().is_dir());
    assert_eq!(names(&fd), [".", "..", "3"]);
    let ino = fake.pipe().metadata().ino;
    let link = walk(&root, "42/fd/3").unwrap();
    // A read-only fd: lr-x------.
    assert_eq!(link.metadata().mode, vfs::types::S_IFLNK | 0o500);
    assert_eq!(
        link.readlink().unwrap(),
        std::format!("pipe:[{ino}]").into_bytes()
    );
    // Following it lands on the pipe itself, which opens as a FIFO.
    let Some(Ok(vfs::Jump::Inode(node))) = link.jump() else {
        panic!("fd link does not jump to the pipe");
    };
    assert_eq!(node.metadata().ino, ino);
    assert!(node.open(OpenFlags::RDWR).is_some_and(|r| r.is_ok()));
    // Linux's fd names: no sign, no leading zero, only open fds.
    for bad in ["03", "+3", "4", "x", ""] {
        assert_eq!(
            fd.lookup(bad.as_bytes()).err(),
            Some(Errno::ENOENT),
            "{bad}"
        );
    }
    let info = read_all(&walk(&root, "42/fdinfo/3").unwrap());
    assert_eq!(
        info,
        std::format!("pos:\t0\nflags:\t02100000\nmnt_id:\t0\nino:\t{ino}\n")
    );
    assert_eq!(
        walk(&root, "1/fd").unwrap().lookup(b"3").err(),
        Some(Errno::ENOENT)
    );
    // Another user's process: EACCES on the fds and the links.
    fake.private
        .store(true, core::sync::atomic::Ordering::Relaxed);
    assert_eq!(fd.lookup(b"3").err(), Some(Errno::EACCES));
    assert_eq!(link.readlink().err(), Some(Errno::EACCES));
    assert!(matches!(link.jump(), Some(Err(Errno::EACCES))));
    // `..` of fd is the pid directory.
    assert!(vfs::same_inode(&fd.lookup(b"..").unwrap(), &p));
}

#[test]
fn task_dirs_and_cpu_line() {
    let fs = ProcFs::new(Arc::new(Fake::default()), 9);
    let root = fs.root();
    let task = walk(&root, "42/task").unwrap();
    assert_eq!(names(&task), [".", "..", "42", "43"]);
    assert_eq!(walk(&root, "42/task/44").err(), Some(Errno::ENOENT));
    assert_eq!(
        names(&walk(&root, "42/task/43").unwrap()),
        [".", "..", "stat", "status", "statm", "cmdline", "comm"]
    );
    let stat = read_all(&walk(&root, "42/task/43/stat").unwrap());
    assert!(stat.starts_with("43 (a-very-long-com) R 1 "), "{stat}");
    // The thread's own CPU time (5 and 2 ticks): fields 14 and 15.
    let fields: Vec<&str> = stat.split(' ').collect();
    assert_eq!((fields[13], fields[14]), ("5", "2"), "{stat}");
    let status = read_all(&walk(&root, "42/task/43/status").unwrap());
    assert!(
        status.contains("Tgid:\t42\n") && status.contains("\nPid:\t43\n"),
        "{status}"
    );
    assert!(walk(&root, "42/task/43/..").unwrap().lookup(b"43").is_ok());
    // /proc/stat: user from the charged time, idle from the idle threads, system the rest of
    // uptime x CPUs (12.34 s x 2 = 2468 ticks).
    let s = read_all(&walk(&root, "stat").unwrap());
    assert!(
        s.starts_with("cpu  300 0 1168 1000 0 0 0 0 0 0\ncpu0 150 0 584 500 "),
        "{s}"
    );
}

#[test]
fn limits_swaps_and_empty_maps() {
    let fs = ProcFs::new(Arc::new(Fake::default()), 9);
    let root = fs.root();
    let limits = read_all(&walk(&root, "42/limits").unwrap());
    let lines: Vec<&str> = limits.lines().collect();
    assert_eq!(lines.len(), 17);
    assert_eq!(
        lines[0],
        "Limit                     Soft Limit           Hard Limit           Units     "
    );
    assert_eq!(
        lines[4],
        "Max stack size            8388608              unlimited            bytes     "
    );
    assert_eq!(
        lines[14],
        "Max nice priority         unlimited            unlimited            "
    );
    assert_eq!(
        read_all(&walk(&root, "swaps").unwrap()),
        "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
    );
    // A source without maps (a zombie on Linux): empty, not an error.
    assert_eq!(read_all(&walk(&root, "1/maps").unwrap()), "");
    assert_eq!(
        read_all(&walk(&root, "42/maps").unwrap()),
        "00400000-00402000 r-xp 00001000 00:00 0 \n\
         7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
    );
    let smaps = read_all(&walk(&root, "42/smaps").unwrap());
    assert!(
        smaps.starts_with(
            "00400000-00402000 r-xp 00001000 00:00 0 \nSize:                  8 kB\n\
             KernelPageSize:        4 kB\nMMUPageSize:           4 kB\nRss:                   4 kB\n"
        ),
        "{smaps}"
    );
    assert!(smaps.contains("VmFlags: rd ex mr mw me \n"), "{smaps}");
    assert!(smaps.contains("VmFlags: rd wr mr mw me gd \n"), "{smaps}");
    let rollup = read_all(&walk(&root, "42/smaps_rollup").unwrap());
    let head = std::format!(
        "{:<73}[rollup]\nRss:                  12 kB\n",
        "00400000-7ffffffff000 ---p 00000000 00:00 0 "
    );
    assert!(rollup.starts_with(&head), "{rollup}");
    assert!(!rollup.contains("Size:"), "{rollup}");
    assert!(read_all(&walk(&root, "devices").unwrap()).starts_with("Character devices:\n"));
}
