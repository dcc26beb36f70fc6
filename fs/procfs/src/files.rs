//! The text of every generated file.

use crate::source::ProcSource;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

/// USER_HZ: the unit of every tick count procfs shows.
const USER_HZ: u64 = 100;

/// Files at the top of `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysFile {
    Meminfo,
    Uptime,
    Loadavg,
    Stat,
    Mounts,
    Cpuinfo,
    Version,
    Filesystems,
    Cmdline,
    Swaps,
    Vmstat,
    Devices,
}

impl SysFile {
    pub const ALL: &'static [SysFile] = &[
        SysFile::Meminfo,
        SysFile::Uptime,
        SysFile::Loadavg,
        SysFile::Stat,
        SysFile::Mounts,
        SysFile::Cpuinfo,
        SysFile::Version,
        SysFile::Filesystems,
        SysFile::Cmdline,
        SysFile::Swaps,
        SysFile::Vmstat,
        SysFile::Devices,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SysFile::Meminfo => "meminfo",
            SysFile::Uptime => "uptime",
            SysFile::Loadavg => "loadavg",
            SysFile::Stat => "stat",
            SysFile::Mounts => "mounts",
            SysFile::Cpuinfo => "cpuinfo",
            SysFile::Version => "version",
            SysFile::Filesystems => "filesystems",
            SysFile::Cmdline => "cmdline",
            SysFile::Swaps => "swaps",
            SysFile::Vmstat => "vmstat",
            SysFile::Devices => "devices",
        }
    }
}

/// Files in `/proc/<pid>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidFile {
    Stat,
    Status,
    Statm,
    Cmdline,
    Comm,
    Environ,
    Cwd,
    Exe,
    Root,
    Fd,
    FdInfo,
    Task,
    Mounts,
    Mountinfo,
    Maps,
    Smaps,
    SmapsRollup,
    Limits,
}

impl PidFile {
    pub const ALL: &'static [PidFile] = &[
        PidFile::Stat,
        PidFile::Status,
        PidFile::Statm,
        PidFile::Cmdline,
        PidFile::Comm,
        PidFile::Environ,
        PidFile::Cwd,
        PidFile::Exe,
        PidFile::Root,
        PidFile::Fd,
        PidFile::FdInfo,
        PidFile::Task,
        PidFile::Mounts,
        PidFile::Mountinfo,
        PidFile::Maps,
        PidFile::Smaps,
        PidFile::SmapsRollup,
        PidFile::Limits,
    ];

    /// What a thread directory (`/proc/<pid>/task/<tid>`) holds.
    pub const THREAD: &'static [PidFile] = &[
        PidFile::Stat,
        PidFile::Status,
        PidFile::Statm,
        PidFile::Cmdline,
        PidFile::Comm,
    ];

    pub fn kind(self) -> vfs::FileType {
        match self {
            PidFile::Cwd | PidFile::Exe | PidFile::Root => vfs::FileType::Symlink,
            PidFile::Fd | PidFile::FdInfo | PidFile::Task => vfs::FileType::Directory,
            _ => vfs::FileType::Regular,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PidFile::Stat => "stat",
            PidFile::Status => "status",
            PidFile::Statm => "statm",
            PidFile::Cmdline => "cmdline",
            PidFile::Comm => "comm",
            PidFile::Environ => "environ",
            PidFile::Cwd => "cwd",
            PidFile::Exe => "exe",
            PidFile::Root => "root",
            PidFile::Fd => "fd",
            PidFile::FdInfo => "fdinfo",
            PidFile::Task => "task",
            PidFile::Mounts => "mounts",
            PidFile::Mountinfo => "mountinfo",
            PidFile::Maps => "maps",
            PidFile::Smaps => "smaps",
            PidFile::SmapsRollup => "smaps_rollup",
            PidFile::Limits => "limits",
        }
    }
}

pub enum What {
    Sys(SysFile),
    /// A file of process `.1`, as thread `.2` sees it (`task/<tid>/...`; the leader's tid is
    /// the pid).
    Pid(PidFile, u32, u32),
}

/// A file whose contents are generated on each read.
pub struct Generated {
    pub what: What,
    pub source: Arc<dyn ProcSource>,
    pub dev: u64,
    pub ino: u64,
}

impl Generated {
    pub fn sys(f: SysFile, source: Arc<dyn ProcSource>, dev: u64) -> Self {
        let ino = 2 + SysFile::ALL.iter().position(|x| *x == f).unwrap_or(0) as u64;
        Generated {
            what: What::Sys(f),
            source,
            dev,
            ino,
        }
    }

    pub fn pid(
        f: PidFile,
        (pid, tid): (u32, u32),
        ino: u64,
        source: Arc<dyn ProcSource>,
        dev: u64,
    ) -> Self {
        Generated {
            what: What::Pid(f, pid, tid),
            source,
            dev,
            ino,
        }
    }
}

fn ticks(ns: u64) -> u64 {
    ns / (1_000_000_000 / USER_HZ)
}

fn centis(ns: u64) -> String {
    format!("{}.{:02}", ns / 1_000_000_000, ns / 10_000_000 % 100)
}

pub fn render_sys(f: SysFile, s: &dyn ProcSource) -> Vec<u8> {
    let mut t = String::new();
    match f {
        SysFile::Meminfo => {
            let m = s.meminfo();
            for (k, v) in [
                ("MemTotal", m.total_kb),
                ("MemFree", m.free_kb),
                ("MemAvailable", m.available_kb),
                ("Buffers", m.buffers_kb),
                ("Cached", m.cached_kb),
                ("SwapCached", 0),
                ("Active", 0),
                ("Inactive", 0),
                ("SwapTotal", 0),
                ("SwapFree", 0),
                ("Dirty", 0),
                ("Shmem", m.shmem_kb),
                ("Slab", 0),
                ("SReclaimable", 0),
            ] {
                let _ = writeln!(t, "{:<16}{:>8} kB", format!("{k}:"), v);
            }
        }
        SysFile::Uptime => {
            let _ = writeln!(t, "{} {}", centis(s.uptime_ns()), centis(s.idle_ns()));
        }
        SysFile::Loadavg => {
            let pids = s.pids();
            let running = pids
                .iter()
                .filter(|p| s.process(**p).is_some_and(|i| i.state == b'R'))
                .count();
            let last = pids.last().copied().unwrap_or(0);
            let _ = writeln!(
                t,
                "0.00 0.00 0.00 {}/{} {}",
                running.max(1),
                pids.len(),
                last
            );
        }
        SysFile::Stat => {
            // user: charged to user threads in user mode (the tick); idle: the idle
            // threads; system: the rest (threads in the kernel, kernel threads), so the
            // fields add up to the elapsed time as on Linux.
            let cpus = u64::from(s.cpus().max(1));
            let times = s.cpu_times();
            let up = ticks(s.uptime_ns()) * cpus;
            let idle = ticks(times.idle_ns).min(up);
            let user = ticks(times.user_ns).min(up - idle);
            let system = up - idle - user;
            let _ = writeln!(t, "cpu  {user} 0 {system} {idle} 0 0 0 0 0 0");
            for c in 0..cpus {
                let _ = writeln!(
                    t,
                    "cpu{c} {} 0 {} {} 0 0 0 0 0 0",
                    user / cpus,
                    system / cpus,
                    idle / cpus
                );
            }
            let procs = s.pids();
            let running = procs
                .iter()
                .filter(|p| s.process(**p).is_some_and(|i| i.state == b'R'))
                .count();
            let _ = write!(
                t,
                "intr 0\nctxt {}\nbtime {}\nprocesses {}\nprocs_running {}\nprocs_blocked 0\nsoftirq 0\n",
                s.context_switches(),
                s.boot_time(),
                s.forks(),
                running.max(1)
            );
        }
        SysFile::Mounts => return s.mounts(),
        SysFile::Cpuinfo => {
            for c in 0..s.cpus().max(1) {
                let _ = write!(
                    t,
                    "processor\t: {c}\nmodel name\t: Levitate virtual CPU ({})\n\n",
                    s.machine()
                );
            }
        }
        SysFile::Version => {
            t.push_str("Linux version 6.1.0-levitate (levitate) #1 SMP PREEMPT Levitate\n");
        }
        SysFile::Filesystems => {
            t.push_str("nodev\ttmpfs\nnodev\tdevtmpfs\nnodev\tproc\n");
        }
        // No swap: the header alone, as Linux without swap devices.
        SysFile::Swaps => t.push_str("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"),
        SysFile::Vmstat => {
            let m = s.meminfo();
            let _ = write!(
                t,
                "nr_free_pages {}\nnr_file_pages {}\nnr_shmem {}\npswpin 0\npswpout 0\n",
                m.free_kb / 4,
                m.cached_kb / 4,
                m.shmem_kb / 4
            );
        }
        // The character devices the kernel has drivers for (devfs); no block devices.
        SysFile::Devices => t.push_str(
            "Character devices:\n  1 mem\n  4 ttyS\n  5 /dev/tty\n  \
             5 /dev/console\n  5 /dev/ptmx\n 10 misc\n136 pts\n\nBlock devices:\n",
        ),
        SysFile::Cmdline => {
            let mut c = s.cmdline();
            c.push(b'\n');
            return c;
        }
    }
    t.into_bytes()
}

/// Linux's `(comm)` is at most 15 bytes.
fn comm(c: &[u8]) -> String {
    String::from_utf8_lossy(&c[..c.len().min(15)]).into_owned()
}

fn state_name(s: u8) -> &'static str {
    match s {
        b'R' => "R (running)",
        b'T' => "T (stopped)",
        b'Z' => "Z (zombie)",
        _ => "S (sleeping)",
    }
}

/// A file of `/proc/<pid>`, or with `thread` of `/proc/<pid>/task/<tid>` (the thread's own
/// CPU times in `stat`).
pub fn render_pid(
    f: PidFile,
    (pid, tid): (u32, u32),
    thread: bool,
    s: &dyn ProcSource,
) -> Option<Vec<u8>> {
    let mut p = s.process(pid)?;
    if thread && let Some((user, system)) = s.thread_times(pid, tid) {
        p.utime_ticks = ticks(user);
        p.stime_ticks = ticks(system);
    }
    let pages = p.vsize / 4096;
    let text = match f {
        PidFile::Stat => format!(
            "{} ({}) {} {} {} {} {} {} 4194560 0 0 0 0 {} {} 0 0 20 0 {} 0 {} {} {} {} 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            tid,
            comm(&p.comm),
            p.state as char,
            p.ppid,
            p.pgid,
            p.sid,
            p.tty_nr,
            p.tpgid,
            p.utime_ticks,
            p.stime_ticks,
            p.threads.max(1),
            p.start_ticks,
            p.vsize,
            p.rss_pages,
            u64::MAX,
        ),
        PidFile::Status => format!(
            "Name:\t{}\nUmask:\t0022\nState:\t{}\nTgid:\t{}\nNgid:\t0\nPid:\t{}\nPPid:\t{}\nTracerPid:\t0\n\
             Uid:\t{}\t{}\t{}\t{}\nGid:\t{}\t{}\t{}\t{}\nFDSize:\t{}\nGroups:\t{}\nVmSize:\t{:>8} kB\n\
             VmRSS:\t{:>8} kB\nThreads:\t{}\nSigQ:\t0/0\n",
            comm(&p.comm),
            state_name(p.state),
            p.pid,
            tid,
            p.ppid,
            p.ids[0],
            p.ids[1],
            p.ids[2],
            p.ids[3],
            p.ids[4],
            p.ids[5],
            p.ids[6],
            p.ids[7],
            p.fds.next_power_of_two().max(64),
            groups_text(&p.groups),
            p.vsize / 1024,
            p.rss_pages * 4,
            p.threads.max(1),
        ),
        PidFile::Statm => format!("{} {} 0 0 0 {} 0\n", pages, p.rss_pages, pages),
        PidFile::Cmdline => return Some(p.cmdline),
        PidFile::Comm => format!("{}\n", comm(&p.comm)),
        PidFile::Environ => String::new(),
        PidFile::Limits => limits(p.nofile),
        PidFile::Mounts => return Some(s.mounts()),
        PidFile::Mountinfo => return Some(s.mountinfo()),
        // A zombie's maps are empty on Linux.
        PidFile::Maps | PidFile::Smaps | PidFile::SmapsRollup => {
            return Some(render_maps(f, &s.maps(pid).unwrap_or_default()).into_bytes());
        }
        PidFile::Cwd
        | PidFile::Exe
        | PidFile::Root
        | PidFile::Fd
        | PidFile::FdInfo
        | PidFile::Task => return None,
    };
    Some(text.into_bytes())
}

/// `proc_pid_limits`, with the values `prlimit64` reports: the fd table's `RLIMIT_NOFILE`, an
/// 8 MiB stack, every other limit unlimited.
fn limits(nofile: u64) -> String {
    const INF: u64 = u64::MAX;
    let rows: [(&str, u64, u64, &str); 16] = [
        ("Max cpu time", INF, INF, "seconds"),
        ("Max file size", INF, INF, "bytes"),
        ("Max data size", INF, INF, "bytes"),
        ("Max stack size", 8 << 20, INF, "bytes"),
        ("Max core file size", INF, INF, "bytes"),
        ("Max resident set", INF, INF, "bytes"),
        ("Max processes", INF, INF, "processes"),
        ("Max open files", nofile, nofile, "files"),
        ("Max locked memory", INF, INF, "bytes"),
        ("Max address space", INF, INF, "bytes"),
        ("Max file locks", INF, INF, "locks"),
        ("Max pending signals", INF, INF, "signals"),
        ("Max msgqueue size", INF, INF, "bytes"),
        ("Max nice priority", INF, INF, ""),
        ("Max realtime priority", INF, INF, ""),
        ("Max realtime timeout", INF, INF, "us"),
    ];
    let value = |v: u64| {
        if v == INF {
            String::from("unlimited")
        } else {
            format!("{v}")
        }
    };
    let mut t = format!(
        "{:<25} {:<20} {:<20} {:<10}\n",
        "Limit", "Soft Limit", "Hard Limit", "Units"
    );
    for (name, soft, hard, unit) in rows {
        let _ = write!(t, "{name:<25} {:<20} {:<20} ", value(soft), value(hard));
        if unit.is_empty() {
            t.push('\n');
        } else {
            let _ = writeln!(t, "{unit:<10}");
        }
    }
    t
}

/// `show_map_vma`'s line: range, permissions, offset, device, inode, then the name padded to
/// column 73 (25 + 6 × pointer size). Mappings keep no file identity here: device and inode 0.
fn map_line(t: &mut String, start: u64, end: u64, perms: &str, offset: u64, name: &str) {
    let line = format!("{start:08x}-{end:08x} {perms} {offset:08x} 00:00 0 ");
    t.push_str(&line);
    if !name.is_empty() {
        t.extend(core::iter::repeat_n(
            ' ',
            73usize.saturating_sub(line.len()),
        ));
        t.push_str(name);
    }
    t.push('\n');
}

/// `smaps` memory lines (`SEQ_PUT_DEC`: the name padded to 16, the value to 8, " kB").
fn smaps_block(t: &mut String, size_kb: u64, rss_kb: u64, anon_kb: u64) {
    for (k, v) in [
        ("Size:", size_kb),
        ("KernelPageSize:", 4),
        ("MMUPageSize:", 4),
        ("Rss:", rss_kb),
        ("Pss:", rss_kb),
        ("Shared_Clean:", 0),
        ("Shared_Dirty:", 0),
        ("Private_Clean:", 0),
        ("Private_Dirty:", rss_kb),
        ("Referenced:", rss_kb),
        ("Anonymous:", anon_kb),
        ("LazyFree:", 0),
        ("AnonHugePages:", 0),
        ("ShmemPmdMapped:", 0),
        ("FilePmdMapped:", 0),
        ("Shared_Hugetlb:", 0),
        ("Private_Hugetlb:", 0),
        ("Swap:", 0),
        ("SwapPss:", 0),
        ("Locked:", 0),
    ] {
        let _ = writeln!(t, "{k:<16}{v:>8} kB");
    }
}

/// `maps`, `smaps` or `smaps_rollup` (Linux 6.1 formats).
pub fn render_maps(f: PidFile, maps: &[crate::source::MapEntry]) -> String {
    let mut t = String::new();
    if f == PidFile::SmapsRollup {
        if let (Some(first), Some(last)) = (maps.first(), maps.last()) {
            map_line(&mut t, first.start, last.end, "---p", 0, "[rollup]");
            let size = maps.iter().map(|m| (m.end - m.start) / 1024).sum();
            let rss = maps.iter().map(|m| m.rss_pages * 4).sum();
            smaps_block(&mut t, size, rss, rss);
            // The rollup has no Size/KernelPageSize/MMUPageSize lines.
            let keep: Vec<&str> = t
                .lines()
                .filter(|l| !l.starts_with("Size:") && !l.contains("PageSize:"))
                .collect();
            t = keep.join("\n");
            t.push('\n');
        }
        return t;
    }
    for m in maps {
        let bit = |b: u32, c: char| if m.prot & b != 0 { c } else { '-' };
        let perms = format!(
            "{}{}{}{}",
            bit(1, 'r'),
            bit(2, 'w'),
            bit(4, 'x'),
            if m.shared { 's' } else { 'p' }
        );
        let name = if m.stack { "[stack]" } else { "" };
        map_line(&mut t, m.start, m.end, &perms, m.offset, name);
        if f == PidFile::Smaps {
            let rss = m.rss_pages * 4;
            smaps_block(&mut t, (m.end - m.start) / 1024, rss, rss);
            let _ = writeln!(t, "THPeligible:    0");
            let mut flags = String::from("VmFlags:");
            for (b, n) in [(1, " rd"), (2, " wr"), (4, " ex")] {
                if m.prot & b != 0 {
                    flags.push_str(n);
                }
            }
            if m.shared {
                flags.push_str(" sh");
            }
            flags.push_str(" mr mw me");
            if m.stack {
                flags.push_str(" gd");
            }
            let _ = writeln!(t, "{flags} ");
        }
    }
    t
}

/// `status`'s `Groups:` value as Linux prints it: space-separated, then always one trailing
/// space (`"5 7 "`, or `" "` for none).
fn groups_text(groups: &[u32]) -> String {
    let mut text = String::new();
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&format!("{g}"));
    }
    text.push(' ');
    text
}
