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
    ];

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
        }
    }
}

pub enum What {
    Sys(SysFile),
    Pid(PidFile, u32),
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

    pub fn pid(f: PidFile, pid: u32, ino: u64, source: Arc<dyn ProcSource>, dev: u64) -> Self {
        Generated {
            what: What::Pid(f, pid),
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
            let up = ticks(s.uptime_ns()) * u64::from(s.cpus().max(1));
            let idle = ticks(s.idle_ns()).min(up);
            let busy = up - idle;
            let _ = writeln!(t, "cpu  {busy} 0 0 {idle} 0 0 0 0 0 0");
            for c in 0..s.cpus().max(1) {
                let share = u64::from(s.cpus().max(1));
                let _ = writeln!(
                    t,
                    "cpu{c} {} 0 0 {} 0 0 0 0 0 0",
                    busy / share,
                    idle / share
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

pub fn render_pid(f: PidFile, pid: u32, s: &dyn ProcSource) -> Option<Vec<u8>> {
    let p = s.process(pid)?;
    let pages = p.vsize / 4096;
    let text = match f {
        PidFile::Stat => format!(
            "{} ({}) {} {} {} {} {} {} 4194560 0 0 0 0 {} {} 0 0 20 0 {} 0 {} {} {} {} 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
            p.pid,
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
             Uid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\nFDSize:\t{}\nGroups:\t\nVmSize:\t{:>8} kB\n\
             VmRSS:\t{:>8} kB\nThreads:\t{}\nSigQ:\t0/0\n",
            comm(&p.comm),
            state_name(p.state),
            p.pid,
            p.pid,
            p.ppid,
            p.fds.next_power_of_two().max(64),
            p.vsize / 1024,
            p.rss_pages * 4,
            p.threads.max(1),
            u = p.uid,
            g = p.gid,
        ),
        PidFile::Statm => format!("{} {} 0 0 0 {} 0\n", pages, p.rss_pages, pages),
        PidFile::Cmdline => return Some(p.cmdline),
        PidFile::Comm => format!("{}\n", comm(&p.comm)),
        PidFile::Environ => String::new(),
        PidFile::Cwd | PidFile::Exe => return None,
    };
    Some(text.into_bytes())
}
