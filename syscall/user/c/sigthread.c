/* Signals, threads and futexes as Linux does them. Prints `PASS signals/<case>` or
 * `FAIL signals/<case>: why` per case (the userland lane's format), then
 * `DONE signals passed=N failed=M`; exits 0 iff all pass.
 * Build: musl-gcc -static -O2 -pthread (x86_64), aarch64-linux-musl-gcc likewise. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#define FUTEX_WAIT_PRIVATE 128
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

static int failures, passes;
#define CHECK(name, cond, ...)                                                                 \
    do {                                                                                       \
        if (cond) {                                                                            \
            printf("PASS signals/%s\n", name);                                                \
            passes++;                                                                          \
        } else {                                                                               \
            printf("FAIL signals/%s: ", name);                                                \
            printf(__VA_ARGS__);                                                               \
            printf("\n");                                                                      \
            failures++;                                                                        \
        }                                                                                      \
        fflush(stdout);                                                                        \
    } while (0)

static volatile sig_atomic_t got;
static void on_sig(int s) { got = s; }

static void handle(int sig, void (*h)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigaction(sig, &sa, 0);
}

static siginfo_t info;
static void on_info(int s, siginfo_t *i, void *uc) {
    (void)s;
    (void)uc;
    info = *i;
}

static void clobber(int s) {
    (void)s;
#if defined(__x86_64__)
    __asm__ volatile("mov $0x1111, %%r12\n\tpxor %%xmm8, %%xmm8" ::: "r12", "xmm8");
#else
    __asm__ volatile("mov x19, #0x1111\n\tfmov d8, xzr" ::: "x19", "v8");
#endif
    got = s;
}

#define MAGIC 0x123456789abcdefULL
/* Put MAGIC in a callee-saved general register and in an FP register, send ourselves SIGUSR1
 * with a raw kill, and read both registers back after the handler has run. */
static void kill_self_keeping(pid_t me, uint64_t *rp, uint64_t *dp) {
    uint64_t r, d, magic = 0x123456789abcdefULL;
#if defined(__x86_64__)
    __asm__ volatile("mov %[m], %%r12\n\tmovq %[m], %%xmm8\n\t"
                     "mov $62, %%eax\n\tmov %[pid], %%rdi\n\tmov $10, %%esi\n\tsyscall\n\t"
                     "mov %%r12, %[r]\n\tmovq %%xmm8, %[d]"
                     : [r] "=r"(r), [d] "=r"(d)
                     : [m] "r"(magic), [pid] "r"((long)me)
                     : "rax", "rdi", "rsi", "rcx", "r11", "r12", "xmm8", "memory");
#else
    __asm__ volatile("mov x19, %[m]\n\tfmov d8, %[m]\n\t"
                     "mov x8, #129\n\tmov x0, %[pid]\n\tmov x1, #10\n\tsvc #0\n\t"
                     "mov %[r], x19\n\tfmov %[d], d8"
                     : [r] "=r"(r), [d] "=r"(d)
                     : [m] "r"(magic), [pid] "r"((long)me)
                     : "x0", "x1", "x8", "x19", "v8", "memory");
#endif
    *rp = r;
    *dp = d;
}

/* Edit the saved context: what rt_sigreturn restores comes from Linux's ucontext layout. */
static void edit_uc(int s, siginfo_t *i, void *p) {
    (void)i;
    ucontext_t *uc = p;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_R12] = 0x5555;
#else
    uc->uc_mcontext.regs[19] = 0x5555;
#endif
    got = s;
}

static uintptr_t fault_addr_in_uc;

static sigjmp_buf jb;
static void on_segv(int s, siginfo_t *i, void *p) {
    ucontext_t *uc = p;
#if defined(__x86_64__)
    fault_addr_in_uc = uc->uc_mcontext.gregs[REG_CR2];
#else
    fault_addr_in_uc = uc->uc_mcontext.fault_address;
#endif
    info = *i;
    siglongjmp(jb, s);
}

static char altstack[65536];
static volatile int on_alt;
static void on_alt_sig(int s) {
    char here;
    on_alt = &here >= altstack && &here < altstack + sizeof altstack;
    got = s;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void *incr(void *arg) {
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&mu);
        long c = counter;
        if (i % 100 == 0) sched_yield();
        counter = c + 1;
        pthread_mutex_unlock(&mu);
    }
    return arg;
}

static int pipefd[2];
static pthread_t main_thread;
static void *poke(void *arg) {
    (void)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, 0);
    pthread_kill(main_thread, SIGUSR1);
    nanosleep(&ts, 0);
    write(pipefd[1], "x", 1);
    return 0;
}

static void *block_forever(void *arg) {
    int v = 0;
    if (arg) syscall(SYS_futex, &v, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
    for (;;) pause();
    return 0;
}

/* rt_sigreturn with the stack pointer at garbage: the process dies of SIGSEGV. */
static void bad_sigreturn(void) {
    static unsigned char junk[8192] __attribute__((aligned(16)));
    memset(junk, 0xff, sizeof junk);
#if defined(__x86_64__)
    __asm__ volatile("mov %0, %%rsp\n\tmov $15, %%eax\n\tsyscall" ::"r"(junk + 4096) : "memory");
#else
    __asm__ volatile("mov sp, %0\n\tmov x8, #139\n\tsvc #0" ::"r"(junk + 4096) : "memory");
#endif
}

int main(void) {
    setvbuf(stdout, 0, _IONBF, 0);
    pid_t me = getpid();

    handle(SIGUSR1, on_sig, 0);
    got = 0;
    kill(me, SIGUSR1);
    CHECK("kill-handler", got == SIGUSR1, "got %d", (int)got);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR2, &sa, 0);
    memset(&info, 0, sizeof info);
    kill(me, SIGUSR2);
    CHECK("siginfo", info.si_signo == SIGUSR2 && info.si_code == SI_USER && info.si_pid == me &&
                         info.si_uid == getuid(),
          "signo %d code %d pid %d uid %d", info.si_signo, info.si_code, info.si_pid, info.si_uid);

    /* Registers survive a handler that clobbers them. */
    handle(SIGUSR1, clobber, 0);
    got = 0;
    uint64_t r, d, magic = MAGIC;
    kill_self_keeping(me, &r, &d);
    CHECK("sigreturn-regs", got == SIGUSR1 && r == magic && d == magic, "got %d r %llx d %llx",
          (int)got, (unsigned long long)r, (unsigned long long)d);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = edit_uc;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, 0);
    got = 0;
    kill_self_keeping(me, &r, &d);
    CHECK("sigreturn-ucontext", got == SIGUSR1 && r == 0x5555 && d == MAGIC,
          "got %d r %llx d %llx", (int)got, (unsigned long long)r, (unsigned long long)d);

    /* SIGSEGV handler that siglongjmps out. */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, 0);
    memset(&info, 0, sizeof info);
    int j = sigsetjmp(jb, 1);
    if (j == 0) {
        *(volatile int *)8 = 1;
        CHECK("segv-longjmp", 0, "store to address 8 did not fault");
    } else {
        CHECK("segv-longjmp", j == SIGSEGV && info.si_signo == SIGSEGV &&
                                  info.si_code == SEGV_MAPERR && info.si_addr == (void *)8 &&
                                  fault_addr_in_uc == 8,
              "j %d signo %d code %d addr %p uc %#lx", j, info.si_signo, info.si_code,
              info.si_addr, (unsigned long)fault_addr_in_uc);
    }
    /* And a second time (SA_NODEFER, mask restored by siglongjmp). */
    j = sigsetjmp(jb, 1);
    if (j == 0) *(volatile int *)16 = 1;
    CHECK("segv-again", j == SIGSEGV && info.si_addr == (void *)16, "j %d addr %p", j,
          info.si_addr);
    signal(SIGSEGV, SIG_DFL);

    /* Blocked: pending, then delivered on unblock. */
    handle(SIGUSR1, on_sig, 0);
    sigset_t set, old, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, &old);
    got = 0;
    kill(me, SIGUSR1);
    sigpending(&pend);
    int was_pending = sigismember(&pend, SIGUSR1);
    int early = got;
    sigprocmask(SIG_SETMASK, &old, 0);
    CHECK("blocked-pending", !early && was_pending == 1 && got == SIGUSR1,
          "early %d pending %d got %d", early, was_pending, (int)got);

    /* sigaltstack + SA_ONSTACK. */
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, 0);
    handle(SIGUSR2, on_alt_sig, SA_ONSTACK);
    got = 0;
    on_alt = 0;
    raise(SIGUSR2);
    CHECK("sigaltstack", got == SIGUSR2 && on_alt, "got %d on_alt %d", (int)got, on_alt);

    /* SIGCHLD handler on child exit. */
    handle(SIGCHLD, on_sig, 0);
    sigprocmask(SIG_BLOCK, &(sigset_t){0}, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    got = 0;
    pid_t c = fork();
    if (c == 0) _exit(7);
    while (got != SIGCHLD) sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, 0);
    int st = 0;
    pid_t w = waitpid(c, &st, 0);
    CHECK("sigchld", w == c && WIFEXITED(st) && WEXITSTATUS(st) == 7, "w %d st %#x", w, st);
    signal(SIGCHLD, SIG_DFL);

    /* Stop / continue seen by waitpid; then SIGKILL. */
    c = fork();
    if (c == 0) {
        for (;;) pause();
    }
    kill(c, SIGSTOP);
    w = waitpid(c, &st, WUNTRACED);
    int stopped = w == c && WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP;
    int st1 = st;
    kill(c, SIGCONT);
    w = waitpid(c, &st, WCONTINUED);
    int cont = w == c && WIFCONTINUED(st);
    int st2 = st;
    kill(c, SIGKILL);
    w = waitpid(c, &st, 0);
    CHECK("stop-cont-kill", stopped && cont && w == c && WIFSIGNALED(st) && WTERMSIG(st) == 9,
          "stop %#x cont %#x kill %#x", st1, st2, st);

    /* Default actions: SIGTERM terminates, SIGSEGV (unhandled) kills. */
    c = fork();
    if (c == 0) {
        kill(getpid(), SIGTERM);
        _exit(0);
    }
    waitpid(c, &st, 0);
    int term = WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM;
    c = fork();
    if (c == 0) {
        *(volatile int *)0 = 1;
        _exit(0);
    }
    waitpid(c, &st, 0);
    CHECK("default-actions", term && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "st %#x", st);

    /* Threads under a mutex. */
    pthread_t th[4];
    counter = 0;
    for (int i = 0; i < 4; i++) pthread_create(&th[i], 0, incr, 0);
    for (int i = 0; i < 4; i++) pthread_join(th[i], 0);
    CHECK("pthreads-mutex", counter == 8000, "counter %ld", counter);

    /* Futex: EAGAIN when the value differs, ETIMEDOUT after the timeout. */
    int fv = 1;
    struct timespec t0, t1, to = {0, 100 * 1000 * 1000};
    long e1 = syscall(SYS_futex, &fv, FUTEX_WAIT_PRIVATE, 2, &to, 0, 0) == -1 ? errno : 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long e2 = syscall(SYS_futex, &fv, FUTEX_WAIT_PRIVATE, 1, &to, 0, 0) == -1 ? errno : 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK("futex-timeout", e1 == EAGAIN && e2 == ETIMEDOUT && ms >= 90 && ms < 2000,
          "e1 %ld e2 %ld ms %ld", e1, e2, ms);

    /* A blocking read interrupted by a handled signal: EINTR, or restarted with SA_RESTART. */
    main_thread = pthread_self();
    pipe(pipefd);
    char ch;
    handle(SIGUSR1, on_sig, 0);
    pthread_t pk;
    got = 0;
    pthread_create(&pk, 0, poke, 0);
    long n = read(pipefd[0], &ch, 1);
    int err = errno;
    pthread_join(pk, 0);
    read(pipefd[0], &ch, 1);
    int eintr = n == -1 && err == EINTR && got == SIGUSR1;
    handle(SIGUSR1, on_sig, SA_RESTART);
    got = 0;
    pthread_create(&pk, 0, poke, 0);
    n = read(pipefd[0], &ch, 1);
    pthread_join(pk, 0);
    CHECK("eintr-restart", eintr && n == 1 && got == SIGUSR1, "eintr %d n %ld got %d", eintr, n,
          (int)got);

    /* exit_group ends threads blocked in pause and in futex wait. */
    c = fork();
    if (c == 0) {
        pthread_t a, b;
        pthread_create(&a, 0, block_forever, 0);
        pthread_create(&b, 0, block_forever, (void *)1);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, 0);
        exit(3);
    }
    waitpid(c, &st, 0);
    CHECK("exit-group-threads", WIFEXITED(st) && WEXITSTATUS(st) == 3, "st %#x", st);

    /* A hostile sigreturn frame: SIGSEGV, not a kernel fault. */
    c = fork();
    if (c == 0) {
        bad_sigreturn();
        _exit(0);
    }
    waitpid(c, &st, 0);
    CHECK("hostile-sigreturn", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "st %#x", st);

    /* Writing to a pipe nobody reads raises SIGPIPE; SA_RESETHAND runs a handler once. */
    c = fork();
    if (c == 0) {
        int fds[2];
        pipe(fds);
        close(fds[0]);
        write(fds[1], "x", 1);
        _exit(0);
    }
    waitpid(c, &st, 0);
    int piped = WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE;
    handle(SIGUSR2, on_sig, SA_RESETHAND);
    got = 0;
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, 0, &now);
    CHECK("sigpipe-resethand", piped && got == SIGUSR2 && now.sa_handler == SIG_DFL,
          "piped %d got %d", piped, (int)got);

    /* A file mapping touched past the file's last page: SIGBUS, BUS_ADRERR, si_addr. */
    {
        char path[] = "/tmp/sigbus-XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0) {
            strcpy(path, "/sigbus-test");
            fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        }
        write(fd, "x", 1);
        char *m = mmap(0, 8192, PROT_READ, MAP_SHARED, fd, 0);
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGBUS, &sa, 0);
        memset(&info, 0, sizeof info);
        j = sigsetjmp(jb, 1);
        if (j == 0 && m != MAP_FAILED) (void)*(volatile char *)(m + 4096);
        CHECK("sigbus-past-eof", m != MAP_FAILED && j == SIGBUS && info.si_code == BUS_ADRERR &&
                                     info.si_addr == m + 4096,
              "map %p j %d code %d addr %p", m, j, info.si_code, info.si_addr);
        signal(SIGBUS, SIG_DFL);
        if (m != MAP_FAILED) munmap(m, 8192);
        close(fd);
        unlink(path);
    }

    /* SIGCHLD ignored: no zombies, wait reports ECHILD. */
    signal(SIGCHLD, SIG_IGN);
    c = fork();
    if (c == 0) _exit(0);
    errno = 0;
    w = waitpid(c, &st, 0);
    CHECK("sigchld-ignored-no-zombie", w == -1 && errno == ECHILD, "w %d errno %d", w, errno);
    signal(SIGCHLD, SIG_DFL);

    /* Bad input gives errors, never a kernel fault. */
    int fw = 0;
#define ERR(call) ((call) == -1 ? errno : 0)
    long bad[] = {
        ERR(syscall(SYS_futex, (int *)0, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0)),
        ERR(syscall(SYS_futex, (int *)((char *)&fw + 1), FUTEX_WAIT_PRIVATE, 0, 0, 0, 0)),
        ERR(syscall(SYS_futex, &fw, 99, 0, 0, 0, 0)),
        ERR(syscall(SYS_futex, (int *)0xffff800000000000UL, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0)),
        ERR(syscall(SYS_futex, &fw, FUTEX_WAIT_PRIVATE, 0, (void *)8, 0, 0)),
        ERR(syscall(SYS_tgkill, me, 999999, SIGUSR1)),
        ERR(syscall(SYS_kill, me, 65)),
        ERR(syscall(SYS_rt_sigtimedwait, &(sigset_t){0}, 0, &(struct timespec){0, 0}, 8)),
        ERR(syscall(SYS_rt_sigaction, SIGKILL, &sa, 0, 8)),
        ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)8, 0, 8)),
    };
    long want[] = {EFAULT, EINVAL, ENOSYS, EFAULT, EFAULT, ESRCH, EINVAL, EAGAIN, EINVAL, EFAULT};
    int bad_ok = 1, at = -1;
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (bad[i] != want[i] && bad_ok) bad_ok = 0, at = i;
    CHECK("bad-input", bad_ok, "case %d: errno %ld, want %ld", at, at >= 0 ? bad[at] : 0,
          at >= 0 ? want[at] : 0);

    printf("DONE signals passed=%d failed=%d\n", passes, failures);
    return failures ? 1 : 0;
}
