//! Syscall numbers of both architectures, each written once.
//!
//! x86_64 numbers are those of `arch/x86/entry/syscalls/syscall_64.tbl`; aarch64 uses the
//! asm-generic table of `include/uapi/asm-generic/unistd.h` (with `__ARCH_WANT_RENAMEAT`,
//! `__ARCH_WANT_SET_GET_RLIMIT` and the 64-bit `__NR3264_*` names, as arm64 builds it). A `-`
//! marks a syscall the architecture does not have (the legacy x86-only calls such as `open`).
//!
//! One row generates the arch-neutral [`Sysno`] variant, the `x86_64::READ`-style constants,
//! and the number → [`Sysno`] tables, which are built and checked for duplicate numbers at
//! compile time.

/// An architecture whose syscall numbering this crate knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// `syscall_64.tbl` numbering.
    X86_64,
    /// asm-generic numbering.
    Aarch64,
}

/// The architecture this crate is compiled for, if it is one of ours.
#[cfg(target_arch = "x86_64")]
pub const NATIVE: Arch = Arch::X86_64;
/// The architecture this crate is compiled for, if it is one of ours.
#[cfg(target_arch = "aarch64")]
pub const NATIVE: Arch = Arch::Aarch64;

/// Length of each number → [`Sysno`] table: one more than the largest number either
/// architecture may use (a larger number in the table fails to compile).
pub const TABLE_LEN: usize = 512;

/// `Some(n)` for a number in the table, `None` for `-`.
macro_rules! nr_opt {
    (-) => {
        None
    };
    ($n:literal) => {
        Some($n)
    };
}

/// The `pub const NAME: usize = n;` item of one row, or nothing for `-`.
macro_rules! nr_const {
    ($konst:ident, $name:ident, -) => {};
    ($konst:ident, $name:ident, $n:literal) => {
        #[doc = concat!("`", stringify!($name), "`")]
        pub const $konst: usize = $n;
    };
}

/// Generates [`Sysno`], the per-arch modules and their lookup tables from one list of rows:
/// `name NAME x86_64-number aarch64-number;`.
macro_rules! syscall_table {
    ($( $name:ident $konst:ident $x86:tt $a64:tt; )*) => {
        /// A syscall, independent of its number on any architecture.
        ///
        /// Variants carry the Linux name unchanged, so they are lower case.
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        pub enum Sysno {
            $(
                #[doc = concat!("`", stringify!($name), "`")]
                $name,
            )*
        }

        impl Sysno {
            /// Every syscall either architecture has, ordered by x86_64 number.
            pub const ALL: &'static [Sysno] = &[$( Sysno::$name, )*];

            /// The Linux name, such as `"openat"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Sysno::$name => stringify!($name), )*
                }
            }

            /// The number on x86_64, if x86_64 has this syscall.
            pub const fn x86_64(self) -> Option<usize> {
                match self {
                    $( Sysno::$name => nr_opt!($x86), )*
                }
            }

            /// The number on aarch64, if aarch64 has this syscall.
            pub const fn aarch64(self) -> Option<usize> {
                match self {
                    $( Sysno::$name => nr_opt!($a64), )*
                }
            }

            /// The name of the per-arch constant (upper case), for the table's own tests.
            #[cfg(test)]
            pub(crate) const fn const_name(self) -> &'static str {
                match self {
                    $( Sysno::$name => stringify!($konst), )*
                }
            }
        }

        /// x86_64 syscall numbers (`syscall_64.tbl`).
        pub mod x86_64 {
            use super::{Arch, Sysno};

            $( nr_const!($konst, $name, $x86); )*

            const TABLE: [Option<Sysno>; super::TABLE_LEN] = super::build_table(Arch::X86_64);

            /// The syscall with number `nr`, if any.
            pub const fn sysno(nr: usize) -> Option<Sysno> {
                if nr < TABLE.len() { TABLE[nr] } else { None }
            }

            /// The name of syscall `nr`, if any.
            pub const fn name(nr: usize) -> Option<&'static str> {
                match sysno(nr) {
                    Some(s) => Some(s.name()),
                    None => None,
                }
            }
        }

        /// aarch64 syscall numbers (asm-generic `unistd.h`).
        pub mod aarch64 {
            use super::{Arch, Sysno};

            $( nr_const!($konst, $name, $a64); )*

            const TABLE: [Option<Sysno>; super::TABLE_LEN] = super::build_table(Arch::Aarch64);

            /// The syscall with number `nr`, if any.
            pub const fn sysno(nr: usize) -> Option<Sysno> {
                if nr < TABLE.len() { TABLE[nr] } else { None }
            }

            /// The name of syscall `nr`, if any.
            pub const fn name(nr: usize) -> Option<&'static str> {
                match sysno(nr) {
                    Some(s) => Some(s.name()),
                    None => None,
                }
            }
        }
    };
}

impl Sysno {
    /// The number on `arch`, if `arch` has this syscall.
    pub const fn number(self, arch: Arch) -> Option<usize> {
        match arch {
            Arch::X86_64 => self.x86_64(),
            Arch::Aarch64 => self.aarch64(),
        }
    }

    /// The syscall with number `nr` on `arch`, if any.
    pub const fn from_number(arch: Arch, nr: usize) -> Option<Sysno> {
        match arch {
            Arch::X86_64 => x86_64::sysno(nr),
            Arch::Aarch64 => aarch64::sysno(nr),
        }
    }
}

impl core::fmt::Display for Sysno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Builds the number → [`Sysno`] table of `arch`; a duplicate or too-large number is a
/// compile error, since this runs in const evaluation.
const fn build_table(arch: Arch) -> [Option<Sysno>; TABLE_LEN] {
    let mut table = [None; TABLE_LEN];
    let mut i = 0;
    while i < Sysno::ALL.len() {
        let s = Sysno::ALL[i];
        if let Some(nr) = s.number(arch) {
            assert!(nr < TABLE_LEN, "syscall number beyond TABLE_LEN");
            assert!(table[nr].is_none(), "two syscalls share a number");
            table[nr] = Some(s);
        }
        i += 1;
    }
    table
}

syscall_table! {
//  name                    constant                x86 a64   (x86_64, aarch64; - = absent)
    read                    READ                      0  63;
    write                   WRITE                     1  64;
    open                    OPEN                      2   -;
    close                   CLOSE                     3  57;
    stat                    STAT                      4   -;
    fstat                   FSTAT                     5  80;
    lstat                   LSTAT                     6   -;
    poll                    POLL                      7   -;
    lseek                   LSEEK                     8  62;
    mmap                    MMAP                      9 222;
    mprotect                MPROTECT                 10 226;
    munmap                  MUNMAP                   11 215;
    brk                     BRK                      12 214;
    rt_sigaction            RT_SIGACTION             13 134;
    rt_sigprocmask          RT_SIGPROCMASK           14 135;
    rt_sigreturn            RT_SIGRETURN             15 139;
    ioctl                   IOCTL                    16  29;
    pread64                 PREAD64                  17  67;
    pwrite64                PWRITE64                 18  68;
    readv                   READV                    19  65;
    writev                  WRITEV                   20  66;
    access                  ACCESS                   21   -;
    pipe                    PIPE                     22   -;
    select                  SELECT                   23   -;
    sched_yield             SCHED_YIELD              24 124;
    mremap                  MREMAP                   25 216;
    msync                   MSYNC                    26 227;
    mincore                 MINCORE                  27 232;
    madvise                 MADVISE                  28 233;
    shmget                  SHMGET                   29 194;
    shmat                   SHMAT                    30 196;
    shmctl                  SHMCTL                   31 195;
    dup                     DUP                      32  23;
    dup2                    DUP2                     33   -;
    pause                   PAUSE                    34   -;
    nanosleep               NANOSLEEP                35 101;
    getitimer               GETITIMER                36 102;
    alarm                   ALARM                    37   -;
    setitimer               SETITIMER                38 103;
    getpid                  GETPID                   39 172;
    sendfile                SENDFILE                 40  71;
    socket                  SOCKET                   41 198;
    connect                 CONNECT                  42 203;
    accept                  ACCEPT                   43 202;
    sendto                  SENDTO                   44 206;
    recvfrom                RECVFROM                 45 207;
    sendmsg                 SENDMSG                  46 211;
    recvmsg                 RECVMSG                  47 212;
    shutdown                SHUTDOWN                 48 210;
    bind                    BIND                     49 200;
    listen                  LISTEN                   50 201;
    getsockname             GETSOCKNAME              51 204;
    getpeername             GETPEERNAME              52 205;
    socketpair              SOCKETPAIR               53 199;
    setsockopt              SETSOCKOPT               54 208;
    getsockopt              GETSOCKOPT               55 209;
    clone                   CLONE                    56 220;
    fork                    FORK                     57   -;
    vfork                   VFORK                    58   -;
    execve                  EXECVE                   59 221;
    exit                    EXIT                     60  93;
    wait4                   WAIT4                    61 260;
    kill                    KILL                     62 129;
    uname                   UNAME                    63 160;
    semget                  SEMGET                   64 190;
    semop                   SEMOP                    65 193;
    semctl                  SEMCTL                   66 191;
    shmdt                   SHMDT                    67 197;
    msgget                  MSGGET                   68 186;
    msgsnd                  MSGSND                   69 189;
    msgrcv                  MSGRCV                   70 188;
    msgctl                  MSGCTL                   71 187;
    fcntl                   FCNTL                    72  25;
    flock                   FLOCK                    73  32;
    fsync                   FSYNC                    74  82;
    fdatasync               FDATASYNC                75  83;
    truncate                TRUNCATE                 76  45;
    ftruncate               FTRUNCATE                77  46;
    getdents                GETDENTS                 78   -;
    getcwd                  GETCWD                   79  17;
    chdir                   CHDIR                    80  49;
    fchdir                  FCHDIR                   81  50;
    rename                  RENAME                   82   -;
    mkdir                   MKDIR                    83   -;
    rmdir                   RMDIR                    84   -;
    creat                   CREAT                    85   -;
    link                    LINK                     86   -;
    unlink                  UNLINK                   87   -;
    symlink                 SYMLINK                  88   -;
    readlink                READLINK                 89   -;
    chmod                   CHMOD                    90   -;
    fchmod                  FCHMOD                   91  52;
    chown                   CHOWN                    92   -;
    fchown                  FCHOWN                   93  55;
    lchown                  LCHOWN                   94   -;
    umask                   UMASK                    95 166;
    gettimeofday            GETTIMEOFDAY             96 169;
    getrlimit               GETRLIMIT                97 163;
    getrusage               GETRUSAGE                98 165;
    sysinfo                 SYSINFO                  99 179;
    times                   TIMES                   100 153;
    ptrace                  PTRACE                  101 117;
    getuid                  GETUID                  102 174;
    syslog                  SYSLOG                  103 116;
    getgid                  GETGID                  104 176;
    setuid                  SETUID                  105 146;
    setgid                  SETGID                  106 144;
    geteuid                 GETEUID                 107 175;
    getegid                 GETEGID                 108 177;
    setpgid                 SETPGID                 109 154;
    getppid                 GETPPID                 110 173;
    getpgrp                 GETPGRP                 111   -;
    setsid                  SETSID                  112 157;
    setreuid                SETREUID                113 145;
    setregid                SETREGID                114 143;
    getgroups               GETGROUPS               115 158;
    setgroups               SETGROUPS               116 159;
    setresuid               SETRESUID               117 147;
    getresuid               GETRESUID               118 148;
    setresgid               SETRESGID               119 149;
    getresgid               GETRESGID               120 150;
    getpgid                 GETPGID                 121 155;
    setfsuid                SETFSUID                122 151;
    setfsgid                SETFSGID                123 152;
    getsid                  GETSID                  124 156;
    capget                  CAPGET                  125  90;
    capset                  CAPSET                  126  91;
    rt_sigpending           RT_SIGPENDING           127 136;
    rt_sigtimedwait         RT_SIGTIMEDWAIT         128 137;
    rt_sigqueueinfo         RT_SIGQUEUEINFO         129 138;
    rt_sigsuspend           RT_SIGSUSPEND           130 133;
    sigaltstack             SIGALTSTACK             131 132;
    utime                   UTIME                   132   -;
    mknod                   MKNOD                   133   -;
    uselib                  USELIB                  134   -;
    personality             PERSONALITY             135  92;
    ustat                   USTAT                   136   -;
    statfs                  STATFS                  137  43;
    fstatfs                 FSTATFS                 138  44;
    sysfs                   SYSFS                   139   -;
    getpriority             GETPRIORITY             140 141;
    setpriority             SETPRIORITY             141 140;
    sched_setparam          SCHED_SETPARAM          142 118;
    sched_getparam          SCHED_GETPARAM          143 121;
    sched_setscheduler      SCHED_SETSCHEDULER      144 119;
    sched_getscheduler      SCHED_GETSCHEDULER      145 120;
    sched_get_priority_max  SCHED_GET_PRIORITY_MAX  146 125;
    sched_get_priority_min  SCHED_GET_PRIORITY_MIN  147 126;
    sched_rr_get_interval   SCHED_RR_GET_INTERVAL   148 127;
    mlock                   MLOCK                   149 228;
    munlock                 MUNLOCK                 150 229;
    mlockall                MLOCKALL                151 230;
    munlockall              MUNLOCKALL              152 231;
    vhangup                 VHANGUP                 153  58;
    modify_ldt              MODIFY_LDT              154   -;
    pivot_root              PIVOT_ROOT              155  41;
    _sysctl                 _SYSCTL                 156   -;
    prctl                   PRCTL                   157 167;
    arch_prctl              ARCH_PRCTL              158   -;
    adjtimex                ADJTIMEX                159 171;
    setrlimit               SETRLIMIT               160 164;
    chroot                  CHROOT                  161  51;
    sync                    SYNC                    162  81;
    acct                    ACCT                    163  89;
    settimeofday            SETTIMEOFDAY            164 170;
    mount                   MOUNT                   165  40;
    umount2                 UMOUNT2                 166  39;
    swapon                  SWAPON                  167 224;
    swapoff                 SWAPOFF                 168 225;
    reboot                  REBOOT                  169 142;
    sethostname             SETHOSTNAME             170 161;
    setdomainname           SETDOMAINNAME           171 162;
    iopl                    IOPL                    172   -;
    ioperm                  IOPERM                  173   -;
    create_module           CREATE_MODULE           174   -;
    init_module             INIT_MODULE             175 105;
    delete_module           DELETE_MODULE           176 106;
    get_kernel_syms         GET_KERNEL_SYMS         177   -;
    query_module            QUERY_MODULE            178   -;
    quotactl                QUOTACTL                179  60;
    nfsservctl              NFSSERVCTL              180  42;
    getpmsg                 GETPMSG                 181   -;
    putpmsg                 PUTPMSG                 182   -;
    afs_syscall             AFS_SYSCALL             183   -;
    tuxcall                 TUXCALL                 184   -;
    security                SECURITY                185   -;
    gettid                  GETTID                  186 178;
    readahead               READAHEAD               187 213;
    setxattr                SETXATTR                188   5;
    lsetxattr               LSETXATTR               189   6;
    fsetxattr               FSETXATTR               190   7;
    getxattr                GETXATTR                191   8;
    lgetxattr               LGETXATTR               192   9;
    fgetxattr               FGETXATTR               193  10;
    listxattr               LISTXATTR               194  11;
    llistxattr              LLISTXATTR              195  12;
    flistxattr              FLISTXATTR              196  13;
    removexattr             REMOVEXATTR             197  14;
    lremovexattr            LREMOVEXATTR            198  15;
    fremovexattr            FREMOVEXATTR            199  16;
    tkill                   TKILL                   200 130;
    time                    TIME                    201   -;
    futex                   FUTEX                   202  98;
    sched_setaffinity       SCHED_SETAFFINITY       203 122;
    sched_getaffinity       SCHED_GETAFFINITY       204 123;
    set_thread_area         SET_THREAD_AREA         205   -;
    io_setup                IO_SETUP                206   0;
    io_destroy              IO_DESTROY              207   1;
    io_getevents            IO_GETEVENTS            208   4;
    io_submit               IO_SUBMIT               209   2;
    io_cancel               IO_CANCEL               210   3;
    get_thread_area         GET_THREAD_AREA         211   -;
    lookup_dcookie          LOOKUP_DCOOKIE          212  18;
    epoll_create            EPOLL_CREATE            213   -;
    epoll_ctl_old           EPOLL_CTL_OLD           214   -;
    epoll_wait_old          EPOLL_WAIT_OLD          215   -;
    remap_file_pages        REMAP_FILE_PAGES        216 234;
    getdents64              GETDENTS64              217  61;
    set_tid_address         SET_TID_ADDRESS         218  96;
    restart_syscall         RESTART_SYSCALL         219 128;
    semtimedop              SEMTIMEDOP              220 192;
    fadvise64               FADVISE64               221 223;
    timer_create            TIMER_CREATE            222 107;
    timer_settime           TIMER_SETTIME           223 110;
    timer_gettime           TIMER_GETTIME           224 108;
    timer_getoverrun        TIMER_GETOVERRUN        225 109;
    timer_delete            TIMER_DELETE            226 111;
    clock_settime           CLOCK_SETTIME           227 112;
    clock_gettime           CLOCK_GETTIME           228 113;
    clock_getres            CLOCK_GETRES            229 114;
    clock_nanosleep         CLOCK_NANOSLEEP         230 115;
    exit_group              EXIT_GROUP              231  94;
    epoll_wait              EPOLL_WAIT              232   -;
    epoll_ctl               EPOLL_CTL               233  21;
    tgkill                  TGKILL                  234 131;
    utimes                  UTIMES                  235   -;
    vserver                 VSERVER                 236   -;
    mbind                   MBIND                   237 235;
    set_mempolicy           SET_MEMPOLICY           238 237;
    get_mempolicy           GET_MEMPOLICY           239 236;
    mq_open                 MQ_OPEN                 240 180;
    mq_unlink               MQ_UNLINK               241 181;
    mq_timedsend            MQ_TIMEDSEND            242 182;
    mq_timedreceive         MQ_TIMEDRECEIVE         243 183;
    mq_notify               MQ_NOTIFY               244 184;
    mq_getsetattr           MQ_GETSETATTR           245 185;
    kexec_load              KEXEC_LOAD              246 104;
    waitid                  WAITID                  247  95;
    add_key                 ADD_KEY                 248 217;
    request_key             REQUEST_KEY             249 218;
    keyctl                  KEYCTL                  250 219;
    ioprio_set              IOPRIO_SET              251  30;
    ioprio_get              IOPRIO_GET              252  31;
    inotify_init            INOTIFY_INIT            253   -;
    inotify_add_watch       INOTIFY_ADD_WATCH       254  27;
    inotify_rm_watch        INOTIFY_RM_WATCH        255  28;
    migrate_pages           MIGRATE_PAGES           256 238;
    openat                  OPENAT                  257  56;
    mkdirat                 MKDIRAT                 258  34;
    mknodat                 MKNODAT                 259  33;
    fchownat                FCHOWNAT                260  54;
    futimesat               FUTIMESAT               261   -;
    newfstatat              NEWFSTATAT              262  79;
    unlinkat                UNLINKAT                263  35;
    renameat                RENAMEAT                264  38;
    linkat                  LINKAT                  265  37;
    symlinkat               SYMLINKAT               266  36;
    readlinkat              READLINKAT              267  78;
    fchmodat                FCHMODAT                268  53;
    faccessat               FACCESSAT               269  48;
    pselect6                PSELECT6                270  72;
    ppoll                   PPOLL                   271  73;
    unshare                 UNSHARE                 272  97;
    set_robust_list         SET_ROBUST_LIST         273  99;
    get_robust_list         GET_ROBUST_LIST         274 100;
    splice                  SPLICE                  275  76;
    tee                     TEE                     276  77;
    sync_file_range         SYNC_FILE_RANGE         277  84;
    vmsplice                VMSPLICE                278  75;
    move_pages              MOVE_PAGES              279 239;
    utimensat               UTIMENSAT               280  88;
    epoll_pwait             EPOLL_PWAIT             281  22;
    signalfd                SIGNALFD                282   -;
    timerfd_create          TIMERFD_CREATE          283  85;
    eventfd                 EVENTFD                 284   -;
    fallocate               FALLOCATE               285  47;
    timerfd_settime         TIMERFD_SETTIME         286  86;
    timerfd_gettime         TIMERFD_GETTIME         287  87;
    accept4                 ACCEPT4                 288 242;
    signalfd4               SIGNALFD4               289  74;
    eventfd2                EVENTFD2                290  19;
    epoll_create1           EPOLL_CREATE1           291  20;
    dup3                    DUP3                    292  24;
    pipe2                   PIPE2                   293  59;
    inotify_init1           INOTIFY_INIT1           294  26;
    preadv                  PREADV                  295  69;
    pwritev                 PWRITEV                 296  70;
    rt_tgsigqueueinfo       RT_TGSIGQUEUEINFO       297 240;
    perf_event_open         PERF_EVENT_OPEN         298 241;
    recvmmsg                RECVMMSG                299 243;
    fanotify_init           FANOTIFY_INIT           300 262;
    fanotify_mark           FANOTIFY_MARK           301 263;
    prlimit64               PRLIMIT64               302 261;
    name_to_handle_at       NAME_TO_HANDLE_AT       303 264;
    open_by_handle_at       OPEN_BY_HANDLE_AT       304 265;
    clock_adjtime           CLOCK_ADJTIME           305 266;
    syncfs                  SYNCFS                  306 267;
    sendmmsg                SENDMMSG                307 269;
    setns                   SETNS                   308 268;
    getcpu                  GETCPU                  309 168;
    process_vm_readv        PROCESS_VM_READV        310 270;
    process_vm_writev       PROCESS_VM_WRITEV       311 271;
    kcmp                    KCMP                    312 272;
    finit_module            FINIT_MODULE            313 273;
    sched_setattr           SCHED_SETATTR           314 274;
    sched_getattr           SCHED_GETATTR           315 275;
    renameat2               RENAMEAT2               316 276;
    seccomp                 SECCOMP                 317 277;
    getrandom               GETRANDOM               318 278;
    memfd_create            MEMFD_CREATE            319 279;
    kexec_file_load         KEXEC_FILE_LOAD         320 294;
    bpf                     BPF                     321 280;
    execveat                EXECVEAT                322 281;
    userfaultfd             USERFAULTFD             323 282;
    membarrier              MEMBARRIER              324 283;
    mlock2                  MLOCK2                  325 284;
    copy_file_range         COPY_FILE_RANGE         326 285;
    preadv2                 PREADV2                 327 286;
    pwritev2                PWRITEV2                328 287;
    pkey_mprotect           PKEY_MPROTECT           329 288;
    pkey_alloc              PKEY_ALLOC              330 289;
    pkey_free               PKEY_FREE               331 290;
    statx                   STATX                   332 291;
    io_pgetevents           IO_PGETEVENTS           333 292;
    rseq                    RSEQ                    334 293;
    pidfd_send_signal       PIDFD_SEND_SIGNAL       424 424;
    io_uring_setup          IO_URING_SETUP          425 425;
    io_uring_enter          IO_URING_ENTER          426 426;
    io_uring_register       IO_URING_REGISTER       427 427;
    open_tree               OPEN_TREE               428 428;
    move_mount              MOVE_MOUNT              429 429;
    fsopen                  FSOPEN                  430 430;
    fsconfig                FSCONFIG                431 431;
    fsmount                 FSMOUNT                 432 432;
    fspick                  FSPICK                  433 433;
    pidfd_open              PIDFD_OPEN              434 434;
    clone3                  CLONE3                  435 435;
    close_range             CLOSE_RANGE             436 436;
    openat2                 OPENAT2                 437 437;
    pidfd_getfd             PIDFD_GETFD             438 438;
    faccessat2              FACCESSAT2              439 439;
    process_madvise         PROCESS_MADVISE         440 440;
    epoll_pwait2            EPOLL_PWAIT2            441 441;
    mount_setattr           MOUNT_SETATTR           442 442;
    quotactl_fd             QUOTACTL_FD             443 443;
    landlock_create_ruleset LANDLOCK_CREATE_RULESET 444 444;
    landlock_add_rule       LANDLOCK_ADD_RULE       445 445;
    landlock_restrict_self  LANDLOCK_RESTRICT_SELF  446 446;
    memfd_secret            MEMFD_SECRET            447 447;
    process_mrelease        PROCESS_MRELEASE        448 448;
    futex_waitv             FUTEX_WAITV             449 449;
    set_mempolicy_home_node SET_MEMPOLICY_HOME_NODE 450 450;
}
