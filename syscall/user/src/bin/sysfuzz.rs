//! A bounded syscall fuzzer: random syscall numbers with hostile arguments (0, -1, small and
//! huge integers, kernel-half and unmapped addresses, pointers into its own guarded buffers,
//! misaligned pointers). The kernel must survive; so must this program.
//!
//! `sysfuzz [ITERATIONS [SEED]] [-v]` (default 20000 iterations). The work runs in chunks, each
//! in a forked child with a watchdog, so a call that blocks or a self-inflicted fault costs one
//! chunk, not the run. The parent prints `FUZZ chunk ...` lines for chunks that did not end
//! normally (with the last call issued, from shared memory) and at the end
//! `FUZZ DONE iterations=N chunks=C crashed=X hung=Y errnos=...`, then exits 0.
//!
//! What it never issues (the deny list, [`denied`]): calls that end or replace the process
//! (exit, exit_group, execve, execveat, rt_sigreturn), signal senders (kill, tkill, tgkill,
//! rt_(tg)sigqueueinfo, pidfd_send_signal), process creation (fork, vfork, clone, clone3: no
//! fork bombs), handlers or timers that would run garbage or kill us (rt_sigaction, alarm,
//! setitimer, timer_create), calls that rewrite our own thread state or memory outside the
//! sandbox (arch_prctl, set_thread_area, modify_ldt, prctl, seccomp, rseq, brk, shmat, shmdt,
//! process_vm_readv/writev, ptrace, io_uring, userfaultfd, personality), whole-system changes
//! (reboot, kexec, modules, swap, mount, umount2, pivot_root, chroot, unshare, setns, acct,
//! time setting, hostnames, syslog, prlimit64/setrlimit, bpf, perf_event_open, vhangup,
//! iopl/ioperm, quotactl), x86_64's uretprobe/uprobe (SIGILL outside a probe), and pure sleepers (pause, nanosleep, clock_nanosleep,
//! rt_sigsuspend, rt_sigtimedwait, futex, futex_waitv). Memory calls (mmap, munmap, mremap,
//! mprotect, madvise, mlock, msync, mseal...) only ever name addresses inside a sandbox this
//! program maps for them; poll-like calls get short timeouts.
//!
//! On the host it drops root (to uid/gid 65534) in each child before fuzzing, works in a
//! fresh directory under the temp dir, and replaces fds 0-2 by /dev/null.

use levitate_user::Rng;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PAGE: usize = 4096;
/// The buffer the random pointers point into, between two PROT_NONE guard pages.
const BUF_LEN: usize = 16 * PAGE;
/// The range the memory calls may touch.
const SANDBOX_PAGES: usize = 64;
const CHUNK: u64 = 500;
/// How long a chunk may take before the parent kills it (blocked in some call).
const CHUNK_LIMIT: Duration = Duration::from_secs(2);
/// Highest syscall number drawn most of the time (both arches end below 470).
const NR_MAX: u64 = 470;
/// Relative names the path arguments use: all inside the scratch directory.
const PATHS: [&[u8]; 8] = [
    b"f0\0", b"f1\0", b"d0\0", b"d0/f2\0", b"sl\0", b"\0", b"d0/d1\0", b"p0\0",
];
const PATH_AT: usize = 0x800;
const IOV_AT: usize = 0x100;
const TIMESPEC_AT: usize = 0x40;

/// Counters shared between a fuzzing child and the parent (a MAP_SHARED page).
#[repr(C)]
struct Shared {
    done: AtomicU64,
    last: [AtomicU64; 7],
    ok: AtomicU64,
    /// Calls that failed, by errno (index 0 unused).
    errno: [AtomicU64; 160],
}

fn mix(seed: u64, chunk: u64) -> u64 {
    // splitmix64 step so neighbouring chunks get unrelated streams; never 0 (xorshift's fixpoint).
    let mut z = seed.wrapping_add(chunk.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) | 1
}

/// The syscalls most programs use (numbers differ per arch; `libc` names them).
const COMMON: &[i64] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_openat,
    libc::SYS_close,
    libc::SYS_fstat,
    libc::SYS_newfstatat,
    libc::SYS_statx,
    libc::SYS_lseek,
    libc::SYS_mmap,
    libc::SYS_mprotect,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_ioctl,
    libc::SYS_pread64,
    libc::SYS_pwrite64,
    libc::SYS_readv,
    libc::SYS_writev,
    libc::SYS_preadv,
    libc::SYS_pipe2,
    libc::SYS_dup,
    libc::SYS_dup3,
    libc::SYS_fcntl,
    libc::SYS_getdents64,
    libc::SYS_getcwd,
    libc::SYS_chdir,
    libc::SYS_fchdir,
    libc::SYS_mkdirat,
    libc::SYS_unlinkat,
    libc::SYS_renameat,
    libc::SYS_renameat2,
    libc::SYS_linkat,
    libc::SYS_symlinkat,
    libc::SYS_readlinkat,
    libc::SYS_faccessat,
    libc::SYS_fchmodat,
    libc::SYS_fchownat,
    libc::SYS_utimensat,
    libc::SYS_ftruncate,
    libc::SYS_truncate,
    libc::SYS_fsync,
    libc::SYS_statfs,
    libc::SYS_fstatfs,
    libc::SYS_umask,
    libc::SYS_sendfile,
    libc::SYS_splice,
    libc::SYS_mknodat,
    libc::SYS_getpid,
    libc::SYS_getppid,
    libc::SYS_gettid,
    libc::SYS_wait4,
    libc::SYS_waitid,
    libc::SYS_setpgid,
    libc::SYS_getpgid,
    libc::SYS_setsid,
    libc::SYS_getsid,
    libc::SYS_uname,
    libc::SYS_getrandom,
    libc::SYS_sysinfo,
    libc::SYS_sched_yield,
    libc::SYS_clock_gettime,
    libc::SYS_clock_getres,
    libc::SYS_gettimeofday,
    libc::SYS_times,
    libc::SYS_getrusage,
    libc::SYS_ppoll,
    libc::SYS_pselect6,
    libc::SYS_rt_sigprocmask,
    libc::SYS_rt_sigpending,
    libc::SYS_sigaltstack,
    libc::SYS_set_tid_address,
    libc::SYS_set_robust_list,
    libc::SYS_getuid,
    libc::SYS_setuid,
    libc::SYS_getgroups,
    libc::SYS_getpriority,
    libc::SYS_sched_getaffinity,
];

/// Syscalls never issued; see the module comment for why.
fn denied(nr: i64) -> bool {
    use libc::*;
    let common = [
        SYS_exit,
        SYS_exit_group,
        SYS_execve,
        SYS_execveat,
        SYS_rt_sigreturn,
        SYS_kill,
        SYS_tkill,
        SYS_tgkill,
        SYS_rt_sigqueueinfo,
        SYS_rt_tgsigqueueinfo,
        SYS_pidfd_send_signal,
        SYS_clone,
        SYS_clone3,
        SYS_rt_sigaction,
        SYS_setitimer,
        SYS_timer_create,
        SYS_prctl,
        SYS_seccomp,
        SYS_rseq,
        SYS_brk,
        SYS_shmat,
        SYS_shmdt,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_ptrace,
        SYS_io_uring_setup,
        SYS_io_uring_enter,
        SYS_io_uring_register,
        SYS_userfaultfd,
        SYS_personality,
        SYS_reboot,
        SYS_kexec_load,
        SYS_init_module,
        SYS_finit_module,
        SYS_delete_module,
        SYS_swapon,
        SYS_swapoff,
        SYS_mount,
        SYS_umount2,
        SYS_pivot_root,
        SYS_chroot,
        SYS_unshare,
        SYS_setns,
        SYS_acct,
        SYS_settimeofday,
        SYS_clock_settime,
        SYS_adjtimex,
        SYS_clock_adjtime,
        SYS_sethostname,
        SYS_setdomainname,
        SYS_syslog,
        SYS_prlimit64,
        SYS_setrlimit,
        SYS_bpf,
        SYS_perf_event_open,
        SYS_vhangup,
        SYS_quotactl,
        SYS_nanosleep,
        SYS_clock_nanosleep,
        SYS_rt_sigsuspend,
        SYS_rt_sigtimedwait,
        SYS_futex,
        SYS_futex_waitv,
        SYS_move_mount,
        SYS_fsmount,
        SYS_open_tree,
        SYS_mount_setattr,
    ];
    #[cfg(target_arch = "x86_64")]
    let arch: &[c_long] = &[
        SYS_fork,
        SYS_vfork,
        SYS_arch_prctl,
        SYS_set_thread_area,
        SYS_modify_ldt,
        SYS_alarm,
        SYS_pause,
        SYS_iopl,
        SYS_ioperm,
        SYS_kexec_file_load,
        SYS_uselib,
        // uretprobe, uprobe: outside a probe trampoline they raise SIGILL.
        335,
        336,
        // map_shadow_stack: creates a mapping at a caller-chosen address.
        453,
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let arch: &[c_long] = &[];
    common.contains(&nr) || arch.contains(&nr)
}

/// Memory calls: their addresses are confined to the sandbox.
fn memory_call(nr: i64) -> bool {
    use libc::*;
    [
        SYS_mmap,
        SYS_munmap,
        SYS_mremap,
        SYS_mprotect,
        SYS_madvise,
        SYS_mlock,
        SYS_mlock2,
        SYS_munlock,
        SYS_msync,
        SYS_remap_file_pages,
        SYS_pkey_mprotect,
        SYS_mseal,
        SYS_mbind,
        SYS_process_madvise,
    ]
    .contains(&nr)
}

struct World {
    buf: usize,
    sandbox: usize,
}

impl World {
    /// Random contents for the buffer, then the structures some calls read from it: paths,
    /// an iovec array pointing back into the buffer, a zero timespec.
    fn refill(&self, rng: &mut Rng) {
        // SAFETY: `buf` is BUF_LEN writable bytes this program mapped for itself.
        let b = unsafe { std::slice::from_raw_parts_mut(self.buf as *mut u8, BUF_LEN) };
        for chunk in b.chunks_mut(8) {
            let v = rng.next_u64().to_ne_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        for (i, p) in PATHS.iter().enumerate() {
            let at = PATH_AT + i * 16;
            b[at..at + p.len()].copy_from_slice(p);
        }
        for i in 0..4 {
            let base = (self.buf + 0x1000 * (i + 1)) as u64;
            let len = 64u64 << i;
            let at = IOV_AT + i * 16;
            b[at..at + 8].copy_from_slice(&base.to_ne_bytes());
            b[at + 8..at + 16].copy_from_slice(&len.to_ne_bytes());
        }
        b[TIMESPEC_AT..TIMESPEC_AT + 16].fill(0);
    }

    fn arg(&self, rng: &mut Rng) -> u64 {
        match rng.below(14) {
            0 => 0,
            1 => u64::MAX,
            2 | 3 => rng.below(16),
            4 => rng.below(0x1_0000),
            5 => rng.next_u64(),
            6 => 0xffff_8000_0000_0000 | (rng.next_u64() & 0xffff_fff8),
            7 => {
                [0x1000, 0x10_0000, 0x7fff_0000_0000, 0x0000_1000_0000_0000][rng.below(4) as usize]
            }
            8 => (self.buf + rng.below(BUF_LEN as u64) as usize) as u64 & !7,
            9 => (self.buf + rng.below(BUF_LEN as u64) as usize) as u64 | 1,
            10 => (self.buf + PATH_AT + 16 * rng.below(PATHS.len() as u64) as usize) as u64,
            11 => (self.buf + IOV_AT) as u64,
            12 => 1u64 << rng.below(64),
            _ => (self.buf + BUF_LEN - 1 - rng.below(64) as usize) as u64,
        }
    }

    /// An address in the sandbox and a length. Huge lengths only for the calls Linux refuses
    /// them on up front (`huge_ok`): mprotect, madvise, mlock and friends apply themselves
    /// VMA by VMA up to the first hole, so a huge length would reach our own stack.
    fn sandbox_addr(&self, rng: &mut Rng, huge_ok: bool) -> (u64, u64) {
        let page = rng.below(SANDBOX_PAGES as u64) as usize;
        let mut addr = self.sandbox + page * PAGE;
        if rng.below(8) == 0 {
            addr += rng.below(PAGE as u64) as usize;
        }
        let room = (self.sandbox + SANDBOX_PAGES * PAGE - addr) as u64;
        let len = match rng.below(6) {
            0 => 0,
            1 if huge_ok => u64::MAX - rng.below(PAGE as u64),
            2 if huge_ok => 1u64 << (63 - rng.below(2)),
            _ => rng.below(room + 1),
        };
        (addr as u64, len)
    }

    /// One call's arguments, with the confinements described in the module comment.
    fn args(&self, nr: i64, rng: &mut Rng) -> [u64; 6] {
        let mut a = [0u64; 6];
        for v in &mut a {
            *v = self.arg(rng);
        }
        if memory_call(nr) {
            let huge_ok = [libc::SYS_mmap, libc::SYS_munmap, libc::SYS_mremap].contains(&nr);
            let (addr, len) = self.sandbox_addr(rng, huge_ok);
            a[0] = addr;
            a[1] = len;
            if nr == libc::SYS_mremap {
                let (new_addr, new_len) = self.sandbox_addr(rng, true);
                a[2] = new_len;
                a[4] = new_addr;
            }
            if nr == libc::SYS_mmap && rng.below(2) == 0 {
                // Not fixed: the kernel chooses, so nothing of ours is replaced.
                a[3] &= !(libc::MAP_FIXED as u64 | libc::MAP_FIXED_NOREPLACE as u64);
                a[0] = self.arg(rng);
            }
        }
        let zero_ts = (self.buf + TIMESPEC_AT) as u64;
        match nr {
            libc::SYS_ppoll => a[2] = zero_ts,
            libc::SYS_pselect6 => a[4] = zero_ts,
            libc::SYS_epoll_pwait | libc::SYS_epoll_pwait2 => a[3] = rng.below(3),
            #[cfg(target_arch = "x86_64")]
            libc::SYS_poll | libc::SYS_epoll_wait => a[2] = rng.below(3),
            #[cfg(target_arch = "x86_64")]
            libc::SYS_select => a[4] = zero_ts,
            _ => {}
        }
        a
    }
}

fn map(len: usize, prot: i32, flags: i32) -> Option<usize> {
    // SAFETY: no fixed address: the kernel picks a free range.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
    (p != libc::MAP_FAILED).then_some(p as usize)
}

/// The child: set up, fuzz `count` calls from `seed`, `_exit(0)`.
fn child(shared: &Shared, dir: &str, seed: u64, count: u64, verbose: bool) -> ! {
    let code = fuzz(shared, dir, seed, count, verbose);
    // SAFETY: ends the child without unwinding or flushing the parent's buffers.
    unsafe { libc::_exit(code) }
}

fn fuzz(shared: &Shared, dir: &str, seed: u64, count: u64, verbose: bool) -> i32 {
    let Some(area) = map(
        BUF_LEN + 2 * PAGE,
        libc::PROT_NONE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
    ) else {
        return 3;
    };
    let buf = area + PAGE;
    // SAFETY: the middle of the mapping just made; the guard pages stay PROT_NONE.
    if unsafe { libc::mprotect(buf as *mut _, BUF_LEN, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
        return 4;
    }
    let Some(sandbox) = map(
        SANDBOX_PAGES * PAGE,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
    ) else {
        return 5;
    };
    let world = World { buf, sandbox };
    let cdir = std::ffi::CString::new(dir).unwrap_or_default();
    // SAFETY: NUL-terminated path.
    if unsafe { libc::chdir(cdir.as_ptr()) } != 0 {
        return 6;
    }
    // The verbose trace goes to a copy of the real stdout far above the fds the fuzz uses.
    let trace = if verbose {
        // SAFETY: plain descriptor call.
        unsafe { libc::dup2(1, 900) }
    } else {
        -1
    };
    setup_fds();
    drop_root();
    let mut rng = Rng(seed);
    for i in 0..count {
        if i % 32 == 0 {
            world.refill(&mut rng);
        }
        // Half the calls come from the common file/process/memory/time families, so the
        // implemented part of a young kernel gets most of the hostile arguments.
        let nr = match rng.below(100) {
            0..=1 => world.arg(&mut rng) as i64,
            2..=49 => COMMON[rng.below(COMMON.len() as u64) as usize],
            _ => rng.below(NR_MAX) as i64,
        };
        if denied(nr) {
            continue;
        }
        let a = world.args(nr, &mut rng);
        shared.last[0].store(nr as u64, Ordering::Relaxed);
        for (slot, v) in shared.last[1..].iter().zip(a) {
            slot.store(v, Ordering::Relaxed);
        }
        if trace >= 0 {
            let line = format!(
                "call {nr} {:#x} {:#x} {:#x} {:#x} {:#x} {:#x}\n",
                a[0], a[1], a[2], a[3], a[4], a[5]
            );
            // SAFETY: valid buffer.
            unsafe { libc::write(trace, line.as_ptr().cast(), line.len()) };
        }
        // SAFETY: the deny list and argument confinement above keep the call from ending this
        // process or touching memory outside the buffer and the sandbox.
        let ret = unsafe { libc::syscall(nr as libc::c_long, a[0], a[1], a[2], a[3], a[4], a[5]) };
        if ret == -1 {
            let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as usize;
            if let Some(slot) = shared.errno.get(e) {
                slot.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            shared.ok.fetch_add(1, Ordering::Relaxed);
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
    0
}

/// fds 0-2 on /dev/null; 3.. a file, an append file, a non-blocking pipe, /dev/zero, the
/// scratch directory: things the small-integer fds hit.
fn setup_fds() {
    let open = |path: &[u8], flags: i32| {
        // SAFETY: NUL-terminated literal paths.
        unsafe { libc::open(path.as_ptr().cast(), flags | libc::O_CLOEXEC, 0o644) }
    };
    let null = open(b"/dev/null\0", libc::O_RDWR);
    for fd in 0..3 {
        // SAFETY: plain descriptor calls.
        unsafe { libc::dup2(null, fd) };
    }
    // SAFETY: closes nothing needed by us.
    unsafe { libc::close(null) };
    for fd in 3..64 {
        if fd != 900 {
            // SAFETY: closes inherited fds above 2 (the scratch fds below take their places).
            unsafe { libc::close(fd) };
        }
    }
    open(b"f0\0", libc::O_CREAT | libc::O_RDWR);
    open(b"f1\0", libc::O_CREAT | libc::O_WRONLY | libc::O_APPEND);
    let mut p = [0i32; 2];
    // SAFETY: valid out-array.
    unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_NONBLOCK) };
    open(b"/dev/zero\0", libc::O_RDONLY);
    open(b".\0", libc::O_RDONLY | libc::O_DIRECTORY);
}

/// On a host where we run as root, become nobody: privileged calls then fail with EPERM.
fn drop_root() {
    // SAFETY: plain credential calls; on Levitate they may be ENOSYS, which is fine.
    unsafe {
        if libc::geteuid() == 0 {
            libc::setgroups(0, std::ptr::null());
            libc::setresgid(65534, 65534, 65534);
            libc::setresuid(65534, 65534, 65534);
        }
    }
}

enum Outcome {
    Done,
    Crashed(i32),
    Hung,
}

/// Wait for the chunk's child, killing it once it has run for CHUNK_LIMIT.
fn watch(pid: i32) -> Outcome {
    let start = Instant::now();
    let mut killed = false;
    loop {
        let mut st = 0;
        // SAFETY: valid out-pointer.
        let got = unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) };
        if got == pid {
            if killed {
                return Outcome::Hung;
            }
            if libc::WIFSIGNALED(st) {
                return Outcome::Crashed(libc::WTERMSIG(st));
            }
            return if libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0 {
                Outcome::Done
            } else {
                Outcome::Crashed(-libc::WEXITSTATUS(st))
            };
        }
        if got < 0 {
            return Outcome::Crashed(0);
        }
        if !killed && start.elapsed() > CHUNK_LIMIT {
            // SAFETY: signals our own child only.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        if killed && start.elapsed() > CHUNK_LIMIT * 3 {
            // It did not die: report and leave it (the run must still end).
            return Outcome::Hung;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let nums: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let iterations = nums.first().copied().unwrap_or(20_000);
    let seed = nums.get(1).copied().unwrap_or(0x5eed_1e71_7a7e);
    let dir = std::env::temp_dir().join(format!("sysfuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let dir_s = dir.to_string_lossy().into_owned();
    let cdir = std::ffi::CString::new(dir_s.clone()).unwrap_or_default();
    // SAFETY: NUL-terminated path; lets the de-privileged children work in it.
    unsafe { libc::chown(cdir.as_ptr(), 65534, 65534) };
    let Some(page) = map(
        std::mem::size_of::<Shared>(),
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
    ) else {
        println!("FUZZ FAIL: cannot map the shared page");
        return ExitCode::FAILURE;
    };
    // SAFETY: a fresh zeroed shared mapping large enough for `Shared`, whose fields are
    // atomics (valid when zero); it lives until the process exits.
    let shared: &Shared = unsafe { &*(page as *const Shared) };
    println!("FUZZ START iterations={iterations} seed={seed:#x} chunk={CHUNK}");
    let (mut crashed, mut hung, mut chunks) = (0u32, 0u32, 0u64);
    let started = Instant::now();
    let mut left = iterations;
    while left > 0 {
        let count = left.min(CHUNK);
        let chunk_seed = mix(seed, chunks);
        shared.done.store(0, Ordering::Relaxed);
        // SAFETY: the child only fuzzes and `_exit`s; the parent's state is untouched.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            child(shared, &dir_s, chunk_seed, count, verbose);
        }
        if pid < 0 {
            println!("FUZZ FAIL: fork: {}", std::io::Error::last_os_error());
            return ExitCode::FAILURE;
        }
        let outcome = watch(pid);
        let last: Vec<String> = shared
            .last
            .iter()
            .map(|v| format!("{:#x}", v.load(Ordering::Relaxed)))
            .collect();
        let at = shared.done.load(Ordering::Relaxed);
        match outcome {
            Outcome::Done => {}
            Outcome::Crashed(sig) => {
                crashed += 1;
                println!(
                    "FUZZ chunk {chunks} seed={chunk_seed:#x}: child ended by {sig} after {at} calls; last call nr={} args={}",
                    last[0],
                    last[1..].join(",")
                );
            }
            Outcome::Hung => {
                hung += 1;
                println!(
                    "FUZZ chunk {chunks} seed={chunk_seed:#x}: blocked, killed after {at} calls; last call nr={} args={}",
                    last[0],
                    last[1..].join(",")
                );
            }
        }
        chunks += 1;
        left -= count;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut errnos = vec![format!("ok:{}", shared.ok.load(Ordering::Relaxed))];
    for (e, n) in shared.errno.iter().enumerate() {
        let n = n.load(Ordering::Relaxed);
        if n > 0 {
            errnos.push(format!("{}:{n}", levitate_user::errno_name(e as i32)));
        }
    }
    println!(
        "FUZZ DONE iterations={iterations} chunks={chunks} crashed={crashed} hung={hung} secs={:.1} errnos={}",
        started.elapsed().as_secs_f64(),
        errnos.join(",")
    );
    ExitCode::SUCCESS
}
