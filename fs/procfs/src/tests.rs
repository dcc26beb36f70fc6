use super::*;
use std::string::String;
use std::vec;

struct Fake;

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
}

fn read_all(i: &Arc<dyn Inode>) -> String {
    let mut buf = vec![0u8; 8192];
    let n = i.read_at(0, &mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn tree_and_files() {
    let fs = ProcFs::new(Arc::new(Fake), 9);
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
