//! Host tests: numbers checked against the `libc` crate and the host's kernel headers.

use super::*;
use std::string::String;
use std::vec::Vec;

/// Checks each listed errno against `libc`'s constant of the same name.
macro_rules! check_errnos {
    ($($name:ident),* $(,)?) => {{
        let mut n = 0;
        $(
            assert_eq!(Errno::$name as i32, libc::$name, stringify!($name));
            n += 1;
        )*
        n
    }};
}

#[test]
fn errno_numbers_match_libc() {
    let checked = check_errnos!(
        EPERM,
        ENOENT,
        ESRCH,
        EINTR,
        EIO,
        ENXIO,
        E2BIG,
        ENOEXEC,
        EBADF,
        ECHILD,
        EAGAIN,
        ENOMEM,
        EACCES,
        EFAULT,
        ENOTBLK,
        EBUSY,
        EEXIST,
        EXDEV,
        ENODEV,
        ENOTDIR,
        EISDIR,
        EINVAL,
        ENFILE,
        EMFILE,
        ENOTTY,
        ETXTBSY,
        EFBIG,
        ENOSPC,
        ESPIPE,
        EROFS,
        EMLINK,
        EPIPE,
        EDOM,
        ERANGE,
        EDEADLK,
        ENAMETOOLONG,
        ENOLCK,
        ENOSYS,
        ENOTEMPTY,
        ELOOP,
        ENOMSG,
        EIDRM,
        ECHRNG,
        EL2NSYNC,
        EL3HLT,
        EL3RST,
        ELNRNG,
        EUNATCH,
        ENOCSI,
        EL2HLT,
        EBADE,
        EBADR,
        EXFULL,
        ENOANO,
        EBADRQC,
        EBADSLT,
        EBFONT,
        ENOSTR,
        ENODATA,
        ETIME,
        ENOSR,
        ENONET,
        ENOPKG,
        EREMOTE,
        ENOLINK,
        EADV,
        ESRMNT,
        ECOMM,
        EPROTO,
        EMULTIHOP,
        EDOTDOT,
        EBADMSG,
        EOVERFLOW,
        ENOTUNIQ,
        EBADFD,
        EREMCHG,
        ELIBACC,
        ELIBBAD,
        ELIBSCN,
        ELIBMAX,
        ELIBEXEC,
        EILSEQ,
        ERESTART,
        ESTRPIPE,
        EUSERS,
        ENOTSOCK,
        EDESTADDRREQ,
        EMSGSIZE,
        EPROTOTYPE,
        ENOPROTOOPT,
        EPROTONOSUPPORT,
        ESOCKTNOSUPPORT,
        EOPNOTSUPP,
        EPFNOSUPPORT,
        EAFNOSUPPORT,
        EADDRINUSE,
        EADDRNOTAVAIL,
        ENETDOWN,
        ENETUNREACH,
        ENETRESET,
        ECONNABORTED,
        ECONNRESET,
        ENOBUFS,
        EISCONN,
        ENOTCONN,
        ESHUTDOWN,
        ETOOMANYREFS,
        ETIMEDOUT,
        ECONNREFUSED,
        EHOSTDOWN,
        EHOSTUNREACH,
        EALREADY,
        EINPROGRESS,
        ESTALE,
        EUCLEAN,
        ENOTNAM,
        ENAVAIL,
        EISNAM,
        EREMOTEIO,
        EDQUOT,
        ENOMEDIUM,
        EMEDIUMTYPE,
        ECANCELED,
        ENOKEY,
        EKEYEXPIRED,
        EKEYREVOKED,
        EKEYREJECTED,
        EOWNERDEAD,
        ENOTRECOVERABLE,
        ERFKILL,
        EHWPOISON,
    );
    assert_eq!(checked, Errno::ALL.len(), "every errno is checked");
    assert_eq!(Errno::EWOULDBLOCK as i32, libc::EWOULDBLOCK);
    assert_eq!(Errno::EDEADLOCK as i32, libc::EDEADLOCK);
    assert_eq!(Errno::ENOTSUP as i32, libc::ENOTSUP);
}

#[test]
fn errno_round_trips() {
    assert_eq!(Errno::ALL.first(), Some(&Errno::EPERM));
    assert_eq!(Errno::ALL.last(), Some(&Errno::EHWPOISON));
    for &e in Errno::ALL {
        assert_eq!(Errno::from_raw(e.raw()), Some(e));
        assert_eq!(e.as_neg(), -(e.raw() as isize));
        assert_eq!(Errno::from_ret(e.as_neg()), Err(Some(e)));
        assert_eq!(std::format!("{e}"), e.name());
        assert_eq!(std::format!("{e:?}"), e.name());
    }
    for raw in [0, 41, 58, 134, -1, i32::MAX, i32::MIN] {
        assert_eq!(Errno::from_raw(raw), None, "{raw}");
    }
    assert_eq!(Errno::from_ret(0), Ok(0));
    assert_eq!(Errno::from_ret(-4096), Ok(-4096isize as usize));
    assert_eq!(Errno::from_ret(-4095), Err(None));
    assert_eq!(std::format!("{}", Errno::ENOENT), "ENOENT");
}

/// Checks each listed syscall's x86_64 number against `libc::SYS_*` (the host is x86_64).
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
macro_rules! check_x86_sysnos {
    ($($name:ident $libc:ident,)*) => {{
        let mut n = 0;
        $(
            assert_eq!(Sysno::$name.x86_64(), Some(libc::$libc as usize), stringify!($name));
            n += 1;
        )*
        n
    }};
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn x86_64_numbers_match_libc() {
    let checked = check_x86_sysnos!(
        read SYS_read,
        write SYS_write,
        openat SYS_openat,
        close SYS_close,
        mmap SYS_mmap,
        munmap SYS_munmap,
        mprotect SYS_mprotect,
        brk SYS_brk,
        rt_sigaction SYS_rt_sigaction,
        rt_sigprocmask SYS_rt_sigprocmask,
        rt_sigreturn SYS_rt_sigreturn,
        ioctl SYS_ioctl,
        pread64 SYS_pread64,
        pwrite64 SYS_pwrite64,
        readv SYS_readv,
        writev SYS_writev,
        pipe2 SYS_pipe2,
        dup3 SYS_dup3,
        clone SYS_clone,
        execve SYS_execve,
        exit SYS_exit,
        exit_group SYS_exit_group,
        wait4 SYS_wait4,
        waitid SYS_waitid,
        kill SYS_kill,
        tgkill SYS_tgkill,
        futex SYS_futex,
        set_tid_address SYS_set_tid_address,
        getpid SYS_getpid,
        getppid SYS_getppid,
        gettid SYS_gettid,
        uname SYS_uname,
        fcntl SYS_fcntl,
        getdents64 SYS_getdents64,
        getcwd SYS_getcwd,
        chdir SYS_chdir,
        mkdirat SYS_mkdirat,
        unlinkat SYS_unlinkat,
        renameat2 SYS_renameat2,
        linkat SYS_linkat,
        symlinkat SYS_symlinkat,
        readlinkat SYS_readlinkat,
        fchmodat SYS_fchmodat,
        fchownat SYS_fchownat,
        faccessat SYS_faccessat,
        utimensat SYS_utimensat,
        newfstatat SYS_newfstatat,
        fstat SYS_fstat,
        statx SYS_statx,
        lseek SYS_lseek,
        ppoll SYS_ppoll,
        pselect6 SYS_pselect6,
        poll SYS_poll,
        clock_gettime SYS_clock_gettime,
        clock_nanosleep SYS_clock_nanosleep,
        nanosleep SYS_nanosleep,
        gettimeofday SYS_gettimeofday,
        times SYS_times,
        sysinfo SYS_sysinfo,
        getrandom SYS_getrandom,
        prlimit64 SYS_prlimit64,
        getuid SYS_getuid,
        geteuid SYS_geteuid,
        getgid SYS_getgid,
        getegid SYS_getegid,
        setuid SYS_setuid,
        setgid SYS_setgid,
        setreuid SYS_setreuid,
        setregid SYS_setregid,
        setresuid SYS_setresuid,
        setresgid SYS_setresgid,
        getresuid SYS_getresuid,
        getresgid SYS_getresgid,
        getgroups SYS_getgroups,
        setgroups SYS_setgroups,
        setpgid SYS_setpgid,
        getpgid SYS_getpgid,
        setsid SYS_setsid,
        getsid SYS_getsid,
        sigaltstack SYS_sigaltstack,
        mount SYS_mount,
        umount2 SYS_umount2,
        statfs SYS_statfs,
        fstatfs SYS_fstatfs,
        sync SYS_sync,
        umask SYS_umask,
        reboot SYS_reboot,
        arch_prctl SYS_arch_prctl,
        set_robust_list SYS_set_robust_list,
        madvise SYS_madvise,
        mremap SYS_mremap,
        sched_yield SYS_sched_yield,
        sched_getaffinity SYS_sched_getaffinity,
        rt_sigsuspend SYS_rt_sigsuspend,
        rt_sigtimedwait SYS_rt_sigtimedwait,
        open SYS_open,
        stat SYS_stat,
        lstat SYS_lstat,
        access SYS_access,
        pipe SYS_pipe,
        dup SYS_dup,
        dup2 SYS_dup2,
        fork SYS_fork,
        vfork SYS_vfork,
        getdents SYS_getdents,
        mkdir SYS_mkdir,
        unlink SYS_unlink,
        rename SYS_rename,
        rmdir SYS_rmdir,
        readlink SYS_readlink,
        chmod SYS_chmod,
        chown SYS_chown,
        select SYS_select,
        fchdir SYS_fchdir,
        fchmod SYS_fchmod,
        fchown SYS_fchown,
        ftruncate SYS_ftruncate,
        truncate SYS_truncate,
        fsync SYS_fsync,
        fdatasync SYS_fdatasync,
        getpgrp SYS_getpgrp,
        rt_sigpending SYS_rt_sigpending,
        tkill SYS_tkill,
        getrlimit SYS_getrlimit,
        setrlimit SYS_setrlimit,
        getrusage SYS_getrusage,
        prctl SYS_prctl,
        sched_setaffinity SYS_sched_setaffinity,
        clock_getres SYS_clock_getres,
        faccessat2 SYS_faccessat2,
        clone3 SYS_clone3,
        close_range SYS_close_range,
        openat2 SYS_openat2,
        eventfd2 SYS_eventfd2,
        epoll_create1 SYS_epoll_create1,
        epoll_ctl SYS_epoll_ctl,
        epoll_pwait SYS_epoll_pwait,
        epoll_wait SYS_epoll_wait,
        memfd_create SYS_memfd_create,
        sendfile SYS_sendfile,
        flock SYS_flock,
        mknodat SYS_mknodat,
        pause SYS_pause,
        alarm SYS_alarm,
        getitimer SYS_getitimer,
        setitimer SYS_setitimer,
        get_robust_list SYS_get_robust_list,
        membarrier SYS_membarrier,
        rseq SYS_rseq,
        renameat SYS_renameat,
    );
    assert!(checked >= 140, "{checked}");
    assert_eq!(x86_64::READ as libc::c_long, libc::SYS_read);
    assert_eq!(x86_64::OPENAT as libc::c_long, libc::SYS_openat);
    assert_eq!(x86_64::ARCH_PRCTL as libc::c_long, libc::SYS_arch_prctl);
    assert_eq!(x86_64::EXIT_GROUP as libc::c_long, libc::SYS_exit_group);
    assert_eq!(x86_64::CLONE3 as libc::c_long, libc::SYS_clone3);
}

/// aarch64 numbers from the asm-generic table, written here independently of the table.
#[test]
fn aarch64_numbers_spot_check() {
    let facts: &[(Sysno, usize)] = &[
        (Sysno::io_setup, 0),
        (Sysno::getcwd, 17),
        (Sysno::dup, 23),
        (Sysno::dup3, 24),
        (Sysno::fcntl, 25),
        (Sysno::ioctl, 29),
        (Sysno::mkdirat, 34),
        (Sysno::unlinkat, 35),
        (Sysno::symlinkat, 36),
        (Sysno::linkat, 37),
        (Sysno::umount2, 39),
        (Sysno::mount, 40),
        (Sysno::statfs, 43),
        (Sysno::fstatfs, 44),
        (Sysno::faccessat, 48),
        (Sysno::chdir, 49),
        (Sysno::fchmodat, 53),
        (Sysno::fchownat, 54),
        (Sysno::openat, 56),
        (Sysno::close, 57),
        (Sysno::pipe2, 59),
        (Sysno::getdents64, 61),
        (Sysno::lseek, 62),
        (Sysno::read, 63),
        (Sysno::write, 64),
        (Sysno::readv, 65),
        (Sysno::writev, 66),
        (Sysno::pread64, 67),
        (Sysno::pwrite64, 68),
        (Sysno::pselect6, 72),
        (Sysno::ppoll, 73),
        (Sysno::readlinkat, 78),
        (Sysno::newfstatat, 79),
        (Sysno::fstat, 80),
        (Sysno::sync, 81),
        (Sysno::utimensat, 88),
        (Sysno::exit, 93),
        (Sysno::exit_group, 94),
        (Sysno::waitid, 95),
        (Sysno::set_tid_address, 96),
        (Sysno::futex, 98),
        (Sysno::set_robust_list, 99),
        (Sysno::nanosleep, 101),
        (Sysno::clock_gettime, 113),
        (Sysno::clock_nanosleep, 115),
        (Sysno::sched_getaffinity, 123),
        (Sysno::sched_yield, 124),
        (Sysno::kill, 129),
        (Sysno::tgkill, 131),
        (Sysno::sigaltstack, 132),
        (Sysno::rt_sigsuspend, 133),
        (Sysno::rt_sigaction, 134),
        (Sysno::rt_sigprocmask, 135),
        (Sysno::rt_sigtimedwait, 137),
        (Sysno::rt_sigreturn, 139),
        (Sysno::reboot, 142),
        (Sysno::setgid, 144),
        (Sysno::setuid, 146),
        (Sysno::times, 153),
        (Sysno::setpgid, 154),
        (Sysno::getpgid, 155),
        (Sysno::getsid, 156),
        (Sysno::setsid, 157),
        (Sysno::uname, 160),
        (Sysno::umask, 166),
        (Sysno::gettimeofday, 169),
        (Sysno::getpid, 172),
        (Sysno::getppid, 173),
        (Sysno::getuid, 174),
        (Sysno::geteuid, 175),
        (Sysno::getgid, 176),
        (Sysno::getegid, 177),
        (Sysno::gettid, 178),
        (Sysno::sysinfo, 179),
        (Sysno::brk, 214),
        (Sysno::munmap, 215),
        (Sysno::mremap, 216),
        (Sysno::clone, 220),
        (Sysno::execve, 221),
        (Sysno::mmap, 222),
        (Sysno::mprotect, 226),
        (Sysno::madvise, 233),
        (Sysno::wait4, 260),
        (Sysno::prlimit64, 261),
        (Sysno::renameat2, 276),
        (Sysno::getrandom, 278),
        (Sysno::statx, 291),
        (Sysno::clone3, 435),
    ];
    for &(s, nr) in facts {
        assert_eq!(s.aarch64(), Some(nr), "{s}");
        assert_eq!(aarch64::sysno(nr), Some(s), "{nr}");
        assert_eq!(aarch64::name(nr), Some(s.name()));
    }
    assert_eq!(aarch64::READ, 63);
    assert_eq!(aarch64::EXIT_GROUP, 94);
    // The legacy calls and arch_prctl are x86_64 only.
    for s in [
        Sysno::open,
        Sysno::stat,
        Sysno::lstat,
        Sysno::access,
        Sysno::pipe,
        Sysno::dup2,
        Sysno::fork,
        Sysno::vfork,
        Sysno::getdents,
        Sysno::mkdir,
        Sysno::unlink,
        Sysno::rename,
        Sysno::rmdir,
        Sysno::readlink,
        Sysno::chmod,
        Sysno::chown,
        Sysno::select,
        Sysno::poll,
        Sysno::arch_prctl,
    ] {
        assert_eq!(s.aarch64(), None, "{s}");
        assert!(s.x86_64().is_some(), "{s}");
    }
}

#[test]
fn tables_have_no_duplicates_and_round_trip() {
    let mut names: Vec<&str> = Sysno::ALL.iter().map(|s| s.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Sysno::ALL.len(), "duplicate name");
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let mut nrs: Vec<usize> = Sysno::ALL.iter().filter_map(|s| s.number(arch)).collect();
        let total = nrs.len();
        nrs.sort_unstable();
        nrs.dedup();
        assert_eq!(nrs.len(), total, "duplicate number on {arch:?}");
        for nr in 0..TABLE_LEN + 10 {
            if let Some(s) = Sysno::from_number(arch, nr) {
                assert_eq!(s.number(arch), Some(nr));
            } else {
                assert!(!nrs.contains(&nr));
            }
        }
    }
    for &s in Sysno::ALL {
        assert_eq!(s.const_name().to_ascii_lowercase(), s.name());
        assert!(s.x86_64().is_some() || s.aarch64().is_some(), "{s}");
    }
    assert_eq!(x86_64::name(0), Some("read"));
    assert_eq!(x86_64::name(usize::MAX), None);
    assert_eq!(aarch64::name(244), None);
}

/// Parses `#define __NR_name number` (and `__NR3264_name number`) lines of a kernel header.
fn parse_header(text: &str) -> Vec<(String, usize, bool)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("#define") {
            continue;
        }
        let (Some(sym), Some(val), None) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let Ok(nr) = val.parse::<usize>() else {
            continue;
        };
        if let Some(name) = sym.strip_prefix("__NR3264_") {
            out.push((String::from(name), nr, true));
        } else if let Some(name) = sym.strip_prefix("__NR_") {
            out.push((String::from(name), nr, false));
        }
    }
    out
}

/// Every number of the host's x86_64 `asm/unistd_64.h` is in the table, and vice versa.
#[test]
fn x86_64_table_matches_host_header() {
    let path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
    let Ok(text) = std::fs::read_to_string(path) else {
        std::println!("skipped: {path} not found");
        return;
    };
    let defs = parse_header(&text);
    assert!(defs.len() > 300);
    for (name, nr, _) in &defs {
        assert_eq!(x86_64::name(*nr), Some(name.as_str()), "{name} = {nr}");
    }
    let in_table = Sysno::ALL.iter().filter(|s| s.x86_64().is_some()).count();
    assert_eq!(in_table, defs.len());
}

/// Every 64-bit number of the host's asm-generic `unistd.h` is in the aarch64 table.
#[test]
fn aarch64_table_matches_asm_generic_header() {
    let path = "/usr/include/asm-generic/unistd.h";
    let Ok(text) = std::fs::read_to_string(path) else {
        std::println!("skipped: {path} not found");
        return;
    };
    let mut checked = 0;
    for (name, nr, is3264) in parse_header(&text) {
        let name = match (is3264, name.as_str()) {
            // arm64 has the `newfstatat`/`fstat` pair and no `stat`/`lstat`.
            (true, "fstatat") => "newfstatat",
            (true, "stat" | "lstat") => continue,
            // Placeholders, the count, and the 32-bit-only time64 calls.
            (false, "arch_specific_syscall" | "syscalls" | "sync_file_range2") => continue,
            (false, _) if (403..=423).contains(&nr) => continue,
            (_, n) => n,
        };
        assert_eq!(aarch64::name(nr), Some(name), "{name} = {nr}");
        checked += 1;
    }
    let in_table = Sysno::ALL.iter().filter(|s| s.aarch64().is_some()).count();
    assert_eq!(in_table, checked);
}
