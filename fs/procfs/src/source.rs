//! What procfs shows, as the kernel reports it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use syscall::Result;
use vfs::{OpenFile, PathRef};

/// One open file descriptor of a process (`/proc/<pid>/fd/N`, `fdinfo/N`).
#[derive(Clone)]
pub struct FdEntry {
    pub fd: u32,
    pub file: Arc<OpenFile>,
    /// `fdinfo`'s `flags:` value: the status flags as `F_GETFL` encodes them on this arch,
    /// with `O_CLOEXEC` if the fd has it and `O_LARGEFILE` (Linux forces it on 64-bit).
    pub flags: u32,
    /// The id of the mount it was opened on (`mnt_id:`), 0 for pipes and anonymous files.
    pub mnt_id: u64,
}

/// A process's places in the tree, as links (`cwd`, `root`, `exe`): where they lead and
/// their text.
#[derive(Clone)]
pub struct Places {
    pub cwd: (PathRef, Vec<u8>),
    pub root: (PathRef, Vec<u8>),
    pub exe: Option<(PathRef, Vec<u8>)>,
}

/// One memory mapping (`/proc/<pid>/maps`, `smaps`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapEntry {
    pub start: u64,
    pub end: u64,
    /// `PROT_READ | PROT_WRITE | PROT_EXEC` bits.
    pub prot: u32,
    pub shared: bool,
    /// File offset of the first page (0 for anonymous memory).
    pub offset: u64,
    /// A `MAP_GROWSDOWN` stack (named `[stack]`).
    pub stack: bool,
    /// Pages present.
    pub rss_pages: u64,
}

/// System-wide CPU time, nanoseconds summed over the CPUs (`/proc/stat`'s `cpu` line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user_ns: u64,
    pub system_ns: u64,
    pub idle_ns: u64,
}

/// A snapshot of one process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: u32,
    pub ppid: u32,
    pub pgid: u32,
    pub sid: u32,
    /// `R` running, `S` sleeping, `T` stopped, `Z` zombie.
    pub state: u8,
    /// The command name (`comm`, at most 15 bytes shown).
    pub comm: Vec<u8>,
    /// Arguments, each NUL-terminated.
    pub cmdline: Vec<u8>,
    pub cwd: Vec<u8>,
    pub exe: Vec<u8>,
    pub threads: u32,
    /// Owner of `/proc/<pid>` (the effective uid and gid).
    pub uid: u32,
    pub gid: u32,
    /// `status`'s `Uid:` and `Gid:` lines: real, effective, saved, fs uid, then the gids.
    pub ids: [u32; 8],
    /// Supplementary groups (`Groups:`).
    pub groups: Vec<u32>,
    /// Bytes of address space mapped.
    pub vsize: u64,
    /// Pages resident.
    pub rss_pages: u64,
    /// When it started, in clock ticks (USER_HZ, 100) since boot.
    pub start_ticks: u64,
    /// CPU time in clock ticks.
    pub utime_ticks: u64,
    pub stime_ticks: u64,
    /// Controlling terminal (`makedev` encoded as Linux's tty_nr), 0 if none.
    pub tty_nr: u32,
    /// Foreground process group of that terminal, -1 if none.
    pub tpgid: i32,
    /// Open file descriptors.
    pub fds: u32,
    /// `RLIMIT_NOFILE` (soft = hard here).
    pub nofile: u64,
}

/// Memory figures in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub total_kb: u64,
    pub free_kb: u64,
    pub available_kb: u64,
    pub buffers_kb: u64,
    pub cached_kb: u64,
    pub shmem_kb: u64,
}

/// The kernel's side of procfs.
pub trait ProcSource: Send + Sync {
    /// Every live (or zombie) process id, ascending.
    fn pids(&self) -> Vec<u32>;
    fn process(&self, pid: u32) -> Option<ProcInfo>;
    /// The process reading `/proc/self`.
    fn current_pid(&self) -> u32;
    fn meminfo(&self) -> MemInfo;
    fn uptime_ns(&self) -> u64;
    /// Time the CPUs spent idle, summed.
    fn idle_ns(&self) -> u64;
    /// `/proc/mounts` text.
    fn mounts(&self) -> Vec<u8>;
    /// The kernel command line.
    fn cmdline(&self) -> Vec<u8>;
    fn cpus(&self) -> u32;
    /// `uname -m`.
    fn machine(&self) -> &'static str;
    fn context_switches(&self) -> u64;
    /// Processes created since boot.
    fn forks(&self) -> u64;
    /// Boot time in seconds since the epoch.
    fn boot_time(&self) -> u64;
    /// The node name (`uname -n`, `kernel.hostname`).
    fn hostname(&self) -> Vec<u8>;
    /// `sethostname`'s state: `kernel.hostname` writes (at most 64 bytes).
    fn set_hostname(&self, name: &[u8]) -> Result<()>;
    /// The NIS domain name (`kernel.domainname`).
    fn domainname(&self) -> Vec<u8>;
    fn set_domainname(&self, name: &[u8]) -> Result<()>;
    /// `uname -r` (`kernel.osrelease`).
    fn os_release(&self) -> &'static str;
    /// `uname -v` (`kernel.version`).
    fn os_version(&self) -> &'static str;
    /// Open file descriptions in use (`fs.file-nr`).
    fn open_files(&self) -> u64;
    /// The largest process id the allocator hands out (`kernel.pid_max`).
    fn pid_max(&self) -> u32;
    /// Unpredictable bytes (`kernel.random.uuid`, `boot_id`).
    fn fill_random(&self, buf: &mut [u8]);
    /// The open fds of `pid`, ascending; `None` if it is gone (or a zombie).
    fn fds(&self, _pid: u32) -> Option<Vec<FdEntry>> {
        None
    }
    /// The text of an fd link (`/path`, `pipe:[ino]`, `anon_inode:kvm-vm`, ...): asked only
    /// by `readlink`, never while listing, since naming a file may search the tree (and
    /// `/proc` in it).
    fn file_name(&self, _pid: u32, _file: &OpenFile) -> Vec<u8> {
        b"anon_inode:[unknown]".to_vec()
    }
    /// The cwd, root and program of `pid`; `None` if it is gone (or a zombie).
    fn places(&self, _pid: u32) -> Option<Places> {
        None
    }
    /// Whether the reading process may look at `pid`'s fds and links (Linux's
    /// `ptrace_may_access`: the same uid, or root).
    fn may_inspect(&self, _pid: u32) -> bool {
        true
    }
    /// The thread ids of `pid` (the leader first).
    fn tids(&self, pid: u32) -> Vec<u32> {
        alloc::vec![pid]
    }
    /// (user, system) CPU time of thread `tid` of `pid`, nanoseconds.
    fn thread_times(&self, _pid: u32, _tid: u32) -> Option<(u64, u64)> {
        None
    }
    /// CPU time since boot: user and system time charged to threads, idle time.
    fn cpu_times(&self) -> CpuTimes {
        CpuTimes {
            idle_ns: self.idle_ns(),
            ..CpuTimes::default()
        }
    }
    /// `/proc/<pid>/mountinfo` text.
    fn mountinfo(&self) -> Vec<u8> {
        Vec::new()
    }
    /// The memory mappings of `pid` in address order; `None` if it is gone (or a zombie).
    fn maps(&self, _pid: u32) -> Option<Vec<MapEntry>> {
        None
    }
}
