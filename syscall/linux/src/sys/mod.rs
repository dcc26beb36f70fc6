//! System call dispatch: number → handler, typed errors → `-errno`, one family per file.

mod cred;
mod exec;
mod fd;
mod fork;
mod fs;
mod futex;
mod io;
mod itimer;
mod jobctl;
mod mem;
mod mount;
mod poll;
mod prio;
mod proc;
mod signal;
mod stat;
mod time;
mod wait;

pub(crate) use cred::Creds;
pub(crate) use futex::{FutexWaiter, futex_wake};
pub use itimer::RealTimer;
pub(crate) use proc::{UTS_RELEASE, UTS_VERSION, domainname, hostname, set_uts_name};

use crate::exec::elf::Machine;
use crate::kernel::Kernel;
use crate::process::{Regs, Task};
use alloc::sync::Arc;
use arch_api::UserContext;
use core::sync::atomic::{AtomicU64, Ordering};
use syscall::{Errno, Result, Sysno};

/// What the thread does after a syscall.
pub enum Flow {
    /// Return to user code with the result set.
    Return,
    /// exit_group: the process ends with this wait status.
    Exit(i32),
    /// exit: the calling thread ends (the process too if it was the last).
    ExitThread(i32),
}

/// Calls answered with ENOSYS, by number (for the debug log and the suite).
static UNIMPLEMENTED: AtomicU64 = AtomicU64::new(0);

/// How many syscalls returned ENOSYS because they are not implemented.
pub fn unimplemented_count() -> u64 {
    UNIMPLEMENTED.load(Ordering::Relaxed)
}

/// Make `root` the calling thread's address space (the scheduler reloads it on every switch
/// back to this thread).
pub(crate) fn activate_root<K: Kernel>(root: u64) {
    #[allow(unsafe_code)]
    // SAFETY: `root` was made by `init_user_root`, maps only the process's own pages, and
    // stays alive until the thread sets another root (exec, exit).
    unsafe {
        K::sched().set_user_root(Some(root))
    };
}

/// Leave the calling thread without a user address space (before its old one is freed).
pub(crate) fn activate_none<K: Kernel>() {
    #[allow(unsafe_code)]
    // SAFETY: `None` maps no user memory.
    unsafe {
        K::sched().set_user_root(None)
    };
}

/// Load and start `path` in `task`'s process as execve does (for PID 1).
pub(crate) fn exec_program<K: Kernel>(
    task: &Arc<Task<K>>,
    regs: &mut Regs<K>,
    path: alloc::vec::Vec<u8>,
    argv: alloc::vec::Vec<alloc::vec::Vec<u8>>,
    envp: alloc::vec::Vec<alloc::vec::Vec<u8>>,
) -> Result<()> {
    self::exec::exec(task, regs, path, argv, envp, 0).map(|_| ())
}

/// Serve the syscall `regs` stopped at.
pub fn dispatch<K: Kernel>(task: &Arc<Task<K>>, regs: &mut Regs<K>) -> Flow {
    let nr = regs.syscall_number();
    let a = regs.syscall_args();
    let sysno = match K::MACHINE {
        Machine::X86_64 => syscall::x86_64::sysno(nr),
        Machine::Aarch64 => syscall::aarch64::sysno(nr),
    };
    let result = match sysno {
        Some(Sysno::exit) => return Flow::ExitThread(((a[0] & 0xff) << 8) as i32),
        Some(Sysno::exit_group) => return Flow::Exit(((a[0] & 0xff) << 8) as i32),
        Some(s) => {
            task.in_syscall.store(s as u32, Ordering::Relaxed);
            let result = call(task, regs, s, a);
            task.in_syscall
                .store(crate::process::NOT_IN_SYSCALL, Ordering::Relaxed);
            result
        }
        None => Err(Errno::ENOSYS),
    };
    if result == Err(Errno::ENOSYS) {
        UNIMPLEMENTED.fetch_add(1, Ordering::Relaxed);
        log::debug!(
            "pid {}: syscall {} ({:?}) is not implemented",
            task.process.pid,
            nr,
            sysno.map(Sysno::name)
        );
    }
    regs.set_syscall_return(match result {
        Ok(v) => v,
        Err(e) => e.as_neg() as usize,
    });
    Flow::Return
}

fn call<K: Kernel>(t: &Arc<Task<K>>, regs: &mut Regs<K>, s: Sysno, a: [usize; 6]) -> Result<usize> {
    use Sysno::*;
    let p = &t.process;
    match s {
        read => io::read(t, a[0], a[1] as u64, a[2]),
        write => io::write(t, a[0], a[1] as u64, a[2]),
        readv => io::readv(t, a[0], a[1] as u64, a[2]),
        writev => io::writev(t, a[0], a[1] as u64, a[2]),
        pread64 => io::pread(p, a[0], a[1] as u64, a[2], a[3] as i64),
        pwrite64 => io::pwrite(p, a[0], a[1] as u64, a[2], a[3] as i64),
        lseek => io::lseek(p, a[0], a[1] as i64, a[2] as u32),
        ioctl => io::ioctl(t, a[0], a[1] as u32, a[2]),
        getdents64 => io::getdents64(p, a[0], a[1] as u64, a[2]),
        sendfile => io::sendfile(t, a[0], a[1], a[2] as u64, a[3]),

        openat => fs::openat(p, a[0] as i32, a[1] as u64, a[2] as u32, a[3] as u32),
        open => fs::openat(p, fs::AT_FDCWD, a[0] as u64, a[1] as u32, a[2] as u32),
        close => fd::close(p, a[0]),
        dup => fd::dup(p, a[0]),
        dup2 => fd::dup2(p, a[0], a[1]),
        dup3 => fd::dup3(p, a[0], a[1], a[2] as u32),
        fcntl => fd::fcntl(p, a[0], a[1] as u32, a[2]),
        pipe2 => fd::pipe2(p, a[0] as u64, a[1] as u32),
        pipe => fd::pipe2(p, a[0] as u64, 0),
        getcwd => fs::getcwd(p, a[0] as u64, a[1]),
        chdir => fs::chdir(p, a[0] as u64),
        fchdir => fs::fchdir(p, a[0]),
        chroot => fs::chroot(p, a[0] as u64),
        mkdirat => fs::mkdirat(p, a[0] as i32, a[1] as u64, a[2] as u32),
        mkdir => fs::mkdirat(p, fs::AT_FDCWD, a[0] as u64, a[1] as u32),
        unlinkat => fs::unlinkat(p, a[0] as i32, a[1] as u64, a[2] as u32),
        unlink => fs::unlinkat(p, fs::AT_FDCWD, a[0] as u64, 0),
        rmdir => fs::unlinkat(p, fs::AT_FDCWD, a[0] as u64, fs::AT_REMOVEDIR),
        readlinkat => fs::readlinkat(p, a[0] as i32, a[1] as u64, a[2] as u64, a[3]),
        readlink => fs::readlinkat(p, fs::AT_FDCWD, a[0] as u64, a[1] as u64, a[2]),
        faccessat => fs::faccessat(p, a[0] as i32, a[1] as u64, a[2] as u32, 0),
        faccessat2 => fs::faccessat(p, a[0] as i32, a[1] as u64, a[2] as u32, a[3] as u32),
        access => fs::faccessat(p, fs::AT_FDCWD, a[0] as u64, a[1] as u32, 0),
        umask => fs::umask(p, a[0] as u32),
        mknodat => fs::mknodat(p, a[0] as i32, a[1] as u64, a[2] as u32, a[3] as u64),
        mknod => fs::mknodat(p, fs::AT_FDCWD, a[0] as u64, a[1] as u32, a[2] as u64),
        symlinkat => fs::symlinkat(p, a[0] as u64, a[1] as i32, a[2] as u64),
        symlink => fs::symlinkat(p, a[0] as u64, fs::AT_FDCWD, a[1] as u64),
        linkat => fs::linkat(
            p,
            a[0] as i32,
            a[1] as u64,
            a[2] as i32,
            a[3] as u64,
            a[4] as u32,
        ),
        link => fs::linkat(p, fs::AT_FDCWD, a[0] as u64, fs::AT_FDCWD, a[1] as u64, 0),
        renameat2 => fs::renameat2(
            p,
            a[0] as i32,
            a[1] as u64,
            a[2] as i32,
            a[3] as u64,
            a[4] as u32,
        ),
        renameat => fs::renameat2(p, a[0] as i32, a[1] as u64, a[2] as i32, a[3] as u64, 0),
        rename => fs::renameat2(p, fs::AT_FDCWD, a[0] as u64, fs::AT_FDCWD, a[1] as u64, 0),
        fchmodat => self::stat::fchmodat(p, a[0] as i32, a[1] as u64, a[2] as u32),
        chmod => self::stat::fchmodat(p, fs::AT_FDCWD, a[0] as u64, a[1] as u32),
        fchmod => self::stat::fchmod(p, a[0] as i32, a[1] as u32),
        fchownat => self::stat::fchownat(
            p,
            a[0] as i32,
            a[1] as u64,
            a[2] as u32,
            a[3] as u32,
            a[4] as u32,
        ),
        chown => self::stat::fchownat(p, fs::AT_FDCWD, a[0] as u64, a[1] as u32, a[2] as u32, 0),
        lchown => self::stat::fchownat(
            p,
            fs::AT_FDCWD,
            a[0] as u64,
            a[1] as u32,
            a[2] as u32,
            self::stat::AT_SYMLINK_NOFOLLOW,
        ),
        fchown => self::stat::fchownat(p, a[0] as i32, 0, a[1] as u32, a[2] as u32, 0),
        utimensat => self::stat::utimensat(p, a[0] as i32, a[1] as u64, a[2] as u64, a[3] as u32),
        truncate => self::stat::truncate(p, a[0] as u64, a[1] as i64),
        ftruncate => self::stat::ftruncate(p, a[0], a[1] as i64),
        fsync | fdatasync => io::fsync(p, a[0]),
        // Memory filesystems only: nothing to write back.
        sync => Ok(0),
        mount => self::mount::mount(
            p,
            a[0] as u64,
            a[1] as u64,
            a[2] as u64,
            a[3] as u64,
            a[4] as u64,
        ),
        umount2 => self::mount::umount2(p, a[0] as u64, a[1] as u32),
        statfs => self::stat::statfs(p, a[0] as u64, a[1] as u64),
        fstatfs => self::stat::fstatfs(p, a[0], a[1] as u64),
        fallocate => io::fallocate(p, a[0], a[1] as u32, a[2] as i64, a[3] as i64),
        fstat => self::stat::fstat::<K>(p, a[0], a[1] as u64),
        newfstatat => {
            self::stat::fstatat::<K>(p, a[0] as i32, a[1] as u64, a[2] as u64, a[3] as u32)
        }
        stat => self::stat::fstatat::<K>(p, fs::AT_FDCWD, a[0] as u64, a[1] as u64, 0),
        lstat => self::stat::fstatat::<K>(
            p,
            fs::AT_FDCWD,
            a[0] as u64,
            a[1] as u64,
            self::stat::AT_SYMLINK_NOFOLLOW,
        ),

        brk => mem::brk(p, a[0] as u64),
        mmap => mem::mmap::<K>(
            p,
            a[0] as u64,
            a[1] as u64,
            a[2] as u32,
            a[3] as u32,
            a[4] as i32,
            a[5] as u64,
        ),
        munmap => mem::munmap(p, a[0] as u64, a[1] as u64),
        mprotect => mem::mprotect(p, a[0] as u64, a[1] as u64, a[2] as u32),
        mremap => mem::mremap(
            p,
            a[0] as u64,
            a[1] as u64,
            a[2] as u64,
            a[3] as u32,
            a[4] as u64,
        ),
        madvise => mem::madvise(a[0] as u64, a[1] as u64, a[2] as u32),
        msync => mem::msync(p, a[0] as u64, a[1] as u64, a[2] as u32),

        getpid => Ok(p.pid as usize),
        gettid => Ok(t.tid() as usize),
        getppid => self::wait::getppid(p),
        clone => match K::MACHINE {
            Machine::X86_64 => self::fork::clone(
                t,
                regs,
                a[0] as u64,
                a[1] as u64,
                a[2] as u64,
                a[3] as u64,
                a[4] as u64,
            ),
            Machine::Aarch64 => self::fork::clone(
                t,
                regs,
                a[0] as u64,
                a[1] as u64,
                a[2] as u64,
                a[4] as u64,
                a[3] as u64,
            ),
        },
        fork => self::fork::clone(t, regs, 17, 0, 0, 0, 0),
        vfork => self::fork::clone(
            t,
            regs,
            self::fork::CLONE_VM | self::fork::CLONE_VFORK | 17,
            0,
            0,
            0,
            0,
        ),
        execve => self::exec::execve(t, regs, a[0] as u64, a[1] as u64, a[2] as u64),
        wait4 => self::wait::wait4(t, a[0] as i32, a[1] as u64, a[2] as u32, a[3] as u64),
        waitid => self::wait::waitid(t, a[0] as u32, a[1] as u32, a[2] as u64, a[3] as u32),
        setpgid => self::wait::setpgid(t, a[0] as u32, a[1] as i32),
        getpgid => self::wait::getpgid(t, a[0] as u32),
        getpgrp => self::wait::getpgid(t, 0),
        setsid => self::wait::setsid(t),
        getsid => self::wait::getsid(t, a[0] as u32),
        kill => self::wait::kill(t, a[0] as i32, a[1] as u32),
        tkill => self::wait::tgkill(t, None, a[0] as i32, a[1] as u32),
        tgkill => self::wait::tgkill(t, Some(a[0] as i32), a[1] as i32, a[2] as u32),
        rt_sigqueueinfo => self::wait::rt_sigqueueinfo(t, a[0] as i32, a[1] as u32, a[2] as u64),
        rt_tgsigqueueinfo => {
            self::wait::rt_tgsigqueueinfo(t, a[0] as i32, a[1] as i32, a[2] as u32, a[3] as u64)
        }
        futex => self::futex::futex(t, a),
        getuid => cred::get(p, false, false),
        geteuid => cred::get(p, false, true),
        getgid => cred::get(p, true, false),
        getegid => cred::get(p, true, true),
        setuid => cred::setuid(p, a[0] as u32),
        setgid => cred::setgid(p, a[0] as u32),
        setreuid => cred::setreuid(p, a[0] as u32, a[1] as u32),
        setregid => cred::setregid(p, a[0] as u32, a[1] as u32),
        setresuid => cred::setresuid(p, a[0] as u32, a[1] as u32, a[2] as u32),
        setresgid => cred::setresgid(p, a[0] as u32, a[1] as u32, a[2] as u32),
        getresuid => cred::getresuid(p, a[0] as u64, a[1] as u64, a[2] as u64),
        getresgid => cred::getresgid(p, a[0] as u64, a[1] as u64, a[2] as u64),
        setfsuid => cred::setfsuid(p, a[0] as u32),
        setfsgid => cred::setfsgid(p, a[0] as u32),
        setgroups => cred::setgroups(p, a[0] as i32, a[1] as u64),
        set_tid_address => proc::set_tid_address(t, a[0] as u64),
        set_robust_list => proc::set_robust_list(a[1]),
        uname => proc::uname::<K>(p, a[0] as u64),
        sethostname => proc::set_name(p, false, a[0] as u64, a[1]),
        setdomainname => proc::set_name(p, true, a[0] as u64, a[1]),
        arch_prctl => proc::arch_prctl::<K>(p, regs, a[0] as u32, a[1] as u64),
        prlimit64 => proc::prlimit64(p, a[0], a[1] as u32, a[2] as u64, a[3] as u64),
        getrlimit => proc::prlimit64(p, 0, a[0] as u32, 0, a[1] as u64),
        sched_yield => {
            K::sched().yield_now();
            Ok(0)
        }
        getrandom => proc::getrandom::<K>(p, a[0] as u64, a[1], a[2] as u32),
        reboot => proc::reboot::<K>(a[0] as u32, a[1] as u32, a[2] as u32),
        getgroups => cred::getgroups(p, a[0] as i32, a[1] as u64),
        sched_getaffinity => proc::sched_getaffinity(t, a[0] as u32, a[1], a[2] as u64),
        getpriority => prio::getpriority(t, a[0] as u32, a[1] as u32),
        setitimer => itimer::setitimer(t, a[0] as u32, a[1] as u64, a[2] as u64),
        getitimer => itimer::getitimer(t, a[0] as u32, a[1] as u64),
        alarm => itimer::alarm(t, a[0] as u32),
        setpriority => prio::setpriority(t, a[0] as u32, a[1] as u32, a[2] as i32),
        sched_getscheduler => prio::sched_getscheduler(t, a[0] as i32),
        sched_getparam => prio::sched_getparam(t, a[0] as i32, a[1] as u64),
        sched_get_priority_max => prio::sched_priority_range(a[0] as u32, true),
        sched_get_priority_min => prio::sched_priority_range(a[0] as u32, false),
        ioprio_get => prio::ioprio_get(t, a[0] as u32, a[1] as u32),
        ioprio_set => prio::ioprio_set(t, a[0] as u32, a[1] as u32, a[2] as u32),
        personality => prio::personality(p, a[0] as u32),
        flock => fd::flock(p, a[0], a[1] as u32),
        sched_setaffinity => proc::sched_setaffinity(t, a[0] as u32, a[1], a[2] as u64),
        sysinfo => {
            let procs = self::wait::all_processes(t).len().min(u16::MAX as usize) as u16;
            proc::sysinfo::<K>(p, a[0] as u64, K::memory(), procs)
        }

        rt_sigaction => signal::rt_sigaction(p, a[0] as u32, a[1] as u64, a[2] as u64, a[3]),
        rt_sigprocmask => signal::rt_sigprocmask(t, a[0] as u32, a[1] as u64, a[2] as u64, a[3]),
        sigaltstack => signal::sigaltstack(t, a[0] as u64, a[1] as u64),
        rt_sigreturn => signal::rt_sigreturn(t, regs),
        rt_sigpending => signal::rt_sigpending(t, a[0] as u64, a[1]),
        rt_sigsuspend => signal::rt_sigsuspend(t, a[0] as u64, a[1]),
        pause => signal::pause(t),
        rt_sigtimedwait => signal::rt_sigtimedwait(t, a[0] as u64, a[1] as u64, a[2] as u64, a[3]),

        clock_gettime => self::time::clock_gettime::<K>(t, a[0] as u32, a[1] as u64),
        clock_getres => self::time::clock_getres::<K>(t, a[0] as u32, a[1] as u64),
        times => self::time::times(t, a[0] as u64),
        getrusage => self::time::getrusage(t, a[0] as i32, a[1] as u64),
        gettimeofday => self::time::gettimeofday::<K>(p, a[0] as u64),
        settimeofday => self::time::settimeofday::<K>(p, a[0] as u64),
        clock_settime => self::time::clock_settime::<K>(p, a[0] as u32, a[1] as u64),
        nanosleep => self::time::nanosleep::<K>(p, a[0] as u64, a[1] as u64),
        clock_nanosleep => {
            self::time::clock_nanosleep::<K>(t, a[0] as u32, a[1] as u32, a[2] as u64, a[3] as u64)
        }

        poll => self::poll::poll::<K>(p, a[0] as u64, a[1], a[2] as i32 as i64),
        ppoll => self::poll::ppoll(t, a[0] as u64, a[1], a[2] as u64, a[3] as u64, a[4]),
        select => self::poll::select(
            p,
            a[0],
            [a[1] as u64, a[2] as u64, a[3] as u64],
            a[4] as u64,
        ),
        pselect6 => self::poll::pselect6(
            t,
            a[0],
            [a[1] as u64, a[2] as u64, a[3] as u64],
            a[4] as u64,
            a[5] as u64,
        ),
        _ => Err(Errno::ENOSYS),
    }
}
