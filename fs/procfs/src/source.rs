//! What procfs shows, as the kernel reports it.

use alloc::vec::Vec;

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
    pub uid: u32,
    pub gid: u32,
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
}
