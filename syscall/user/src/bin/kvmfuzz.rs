//! A `/dev/kvm` fuzzer: random ioctl numbers (the KVM ones, random `KVMIO` numbers with random
//! directions and sizes, and anything) with hostile arguments (0, -1, small and huge integers,
//! kernel-half and unmapped addresses, misaligned pointers and pointers to random bytes in a
//! guarded buffer) on the system, VM and vCPU fds, plus guests made of random bytes run for a
//! bounded number of `KVM_RUN`s each. The kernel must survive, and every call must return a
//! value or a valid errno.
//!
//! `kvmfuzz [CALLS [SEED]]` (default 4000 calls). The work runs in chunks of 500 calls, each in
//! a forked child with a watchdog (a random memory slot may point a guest at the child's own
//! memory: that costs one chunk). A thread of the child sends it SIGUSR1 every 10 ms, so a
//! guest that loops ends its `KVM_RUN` with `EINTR`. Prints
//! `FUZZ DONE iterations=N chunks=C crashed=X hung=Y bad=Z guests=G exits=...` and exits 0
//! iff no call returned an invalid result and `/dev/kvm` still works at the end.

#[path = "../conform/util.rs"]
mod util;

#[path = "../conform/kvm.rs"]
mod kvm;

use hv::abi::x86::*;
use hv::abi::*;
use kvm::{Fd, Guest, ioctl_raw, open_kvm};
use levitate_user::Rng;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use zerocopy::IntoBytes;

const CHUNK: u64 = 500;
/// Random guests per chunk, and `KVM_RUN`s per guest at most.
const GUESTS: u64 = 16;
const RUNS: u64 = 20;
const CHUNK_LIMIT: Duration = Duration::from_secs(20);
/// The argument buffer: larger than any ioctl size (14 bits), then a PROT_NONE guard page.
const BUF: usize = 0x5000;

/// Every ioctl of the subset, and a few Linux has that Levitate does not.
const KNOWN: &[u32] = &[
    KVM_GET_API_VERSION,
    KVM_CREATE_VM,
    KVM_CHECK_EXTENSION,
    KVM_GET_VCPU_MMAP_SIZE,
    KVM_GET_SUPPORTED_CPUID,
    KVM_GET_MSR_INDEX_LIST,
    KVM_SET_USER_MEMORY_REGION,
    KVM_CREATE_VCPU,
    KVM_SET_TSS_ADDR,
    KVM_SET_IDENTITY_MAP_ADDR,
    KVM_ENABLE_CAP,
    KVM_RUN,
    KVM_GET_REGS,
    KVM_SET_REGS,
    KVM_GET_SREGS,
    KVM_SET_SREGS,
    KVM_GET_FPU,
    KVM_SET_FPU,
    KVM_SET_CPUID2,
    KVM_GET_MSRS,
    KVM_SET_MSRS,
    KVM_INTERRUPT,
    KVM_CREATE_IRQCHIP,
    KVM_IRQ_LINE,
    KVM_GET_ONE_REG,
    KVM_SET_ONE_REG,
];

/// Counters a chunk child shares with the parent (a MAP_SHARED page).
#[repr(C)]
struct Shared {
    calls: AtomicU64,
    bad: AtomicU64,
    guests: AtomicU64,
    /// `KVM_RUN` results: exit reasons 0..40, then [40] EINTR, [41] other errnos.
    exits: [AtomicU64; 42],
    last_cmd: AtomicU64,
}

extern "C" fn on_signal(_: libc::c_int) {}

/// Whether an ioctl result is sane: a value, or an errno Linux defines.
fn sane(r: &Result<i64, i32>) -> bool {
    match r {
        Ok(v) => *v >= 0,
        Err(e) => (1..=133).contains(e),
    }
}

fn random_arg(rng: &mut Rng, buf: *mut u8) -> u64 {
    match rng.below(10) {
        0 => 0,
        1 => u64::MAX,
        2 => rng.below(1 << 16),
        3 => rng.next_u64(),
        4 => util::KERNEL_ADDR as u64,
        5 => util::UNMAPPED_ADDR as u64,
        6 => buf as u64 + 1,
        // Right before the guard page: a struct that runs into it.
        7 => buf as u64 + BUF as u64 - rng.below(64) - 1,
        _ => buf as u64,
    }
}

fn random_cmd(rng: &mut Rng) -> u32 {
    match rng.below(4) {
        0 | 1 => KNOWN[rng.below(KNOWN.len() as u64) as usize],
        2 => ioctl::ioc(
            rng.below(4) as u32,
            KVMIO,
            rng.next_u64() as u8,
            rng.below(1 << 14) as usize,
        ),
        _ => rng.next_u64() as u32,
    }
}

/// One random guest: random memory, registers and mode bits, at most [`RUNS`] runs.
fn random_guest(rng: &mut Rng, shared: &Shared) {
    let mut code = vec![0u8; 0x100];
    code.iter_mut().for_each(|b| *b = rng.next_u64() as u8);
    let Ok(g) = Guest::new(&code, 0x1000) else {
        return;
    };
    shared.guests.fetch_add(1, Ordering::Relaxed);
    for at in (0..kvm::MEM).step_by(8) {
        if rng.below(4) == 0 {
            g.mem.write(at, &rng.next_u64().to_ne_bytes());
        }
    }
    let mut regs = KvmRegs::default();
    regs.as_mut_bytes()
        .iter_mut()
        .for_each(|b| *b = rng.next_u64() as u8);
    regs.rip = 0x1000 + rng.below(0x100);
    if rng.below(2) == 0 {
        regs.rflags = 2;
    }
    let _ = kvm::ioctl_struct(g.vcpu.0, KVM_SET_REGS, &mut regs);
    if rng.below(3) == 0 {
        let mut sregs = KvmSregs::default();
        let _ = kvm::ioctl_struct(g.vcpu.0, KVM_GET_SREGS, &mut sregs);
        sregs.cr0 ^= 1 << rng.below(32);
        sregs.cs.db = rng.below(2) as u8;
        let _ = kvm::ioctl_struct(g.vcpu.0, KVM_SET_SREGS, &mut sregs);
    }
    for _ in 0..RUNS {
        let r = ioctl_raw(g.vcpu.0, KVM_RUN, 0);
        if !sane(&r) {
            shared.bad.fetch_add(1, Ordering::Relaxed);
        }
        let slot = match r {
            Ok(_) => (g.run.run().exit_reason as usize).min(39),
            Err(libc::EINTR) => 40,
            Err(_) => 41,
        };
        shared.exits[slot].fetch_add(1, Ordering::Relaxed);
        let run = g.run.run();
        match (r, run.exit_reason) {
            (Ok(_), KVM_EXIT_IO) => {
                let io = run.exit_io();
                g.run
                    .write(io.data_offset as usize, &rng.next_u64().to_ne_bytes()[..4]);
            }
            (Ok(_), KVM_EXIT_MMIO) => g.run.write(40, &rng.next_u64().to_ne_bytes()),
            (Ok(_), KVM_EXIT_HLT | KVM_EXIT_IRQ_WINDOW_OPEN) | (Err(libc::EINTR), _) => {}
            _ => break,
        }
    }
}

fn chunk(seed: u64, calls: u64, shared: &Shared) {
    // SAFETY: installs a no-op handler (no SA_RESTART), so KVM_RUN ends with EINTR.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
    // SAFETY: no arguments.
    let (pid, tid) = (unsafe { libc::getpid() }, unsafe {
        libc::syscall(libc::SYS_gettid)
    });
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(10));
            // SAFETY: a signal to our own main thread, which handles it.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) };
        }
    });
    let mut rng = Rng(seed | 1);
    // SAFETY: a fresh anonymous mapping plus a PROT_NONE guard page after it.
    let buf = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            BUF + 4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if p == libc::MAP_FAILED {
            return;
        }
        libc::mprotect(p.cast::<u8>().add(BUF).cast(), 4096, libc::PROT_NONE);
        p.cast::<u8>()
    };
    let Ok(g) = Guest::new(&[0xf4], 0x1000) else {
        return;
    };
    let fds = [g.kvm.0, g.vm.0, g.vcpu.0, 0, -1, 9999];
    for _ in 0..calls {
        for i in 0..256 {
            // SAFETY: inside the buffer.
            unsafe {
                buf.add(i * 16 + rng.below(16) as usize)
                    .write(rng.next_u64() as u8)
            };
        }
        let fd = fds[rng.below(fds.len() as u64) as usize];
        let cmd = random_cmd(&mut rng);
        let arg = random_arg(&mut rng, buf);
        shared.last_cmd.store(u64::from(cmd), Ordering::Relaxed);
        let r = ioctl_raw(fd, cmd, arg);
        if !sane(&r) {
            shared.bad.fetch_add(1, Ordering::Relaxed);
            println!("FUZZ bad result {r:?} from ioctl({fd}, {cmd:#x}, {arg:#x})");
        }
        // New fds (VMs, vCPUs) are closed at once: the fd table stays small.
        if let Ok(v) = r
            && matches!(cmd, KVM_CREATE_VM | KVM_CREATE_VCPU)
            && v > 2
            && !fds.contains(&(v as i32))
        {
            drop(Fd(v as i32));
        }
        shared.calls.fetch_add(1, Ordering::Relaxed);
    }
    for _ in 0..GUESTS {
        random_guest(&mut rng, shared);
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4000);
    let seed: u64 = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0x6b76_6d66_757a_7a31);
    if let Err(e) = open_kvm() {
        println!("SKIP kvmfuzz: cannot open /dev/kvm ({})", util::name(e));
        println!("FUZZ DONE iterations=0");
        return ExitCode::SUCCESS;
    }
    // SAFETY: a fresh shared anonymous page for the counters, zeroed by the kernel.
    let shared = unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap of the shared counters");
        &*(p as *const Shared)
    };
    let (mut crashed, mut hung) = (0, 0);
    let chunks = total.div_ceil(CHUNK);
    for c in 0..chunks {
        let calls = CHUNK.min(total - c * CHUNK);
        let chunk_seed = seed ^ (c + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        // SAFETY: the child only fuzzes and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            chunk(chunk_seed, calls, shared);
            // SAFETY: ends the child without the parent's atexit handlers.
            unsafe { libc::_exit(0) };
        }
        let start = Instant::now();
        let mut status = 0;
        loop {
            // SAFETY: our own child; valid out-pointer.
            let got = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if got == pid {
                break;
            }
            if start.elapsed() > CHUNK_LIMIT {
                // SAFETY: our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                // SAFETY: as above.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                hung += 1;
                println!(
                    "FUZZ chunk {c} hung (last ioctl {:#x})",
                    shared.last_cmd.load(Ordering::Relaxed)
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if libc::WIFSIGNALED(status) && libc::WTERMSIG(status) != libc::SIGKILL {
            crashed += 1;
            println!(
                "FUZZ chunk {c} died by signal {} (last ioctl {:#x})",
                libc::WTERMSIG(status),
                shared.last_cmd.load(Ordering::Relaxed)
            );
        }
    }
    // The device still works.
    let alive = open_kvm()
        .ok()
        .is_some_and(|k| ioctl_raw(k.0, KVM_GET_API_VERSION, 0) == Ok(12))
        && Guest::new(&[0xf4], 0x1000)
            .ok()
            .and_then(|g| g.run().ok())
            .is_some_and(|r| r.exit_reason == KVM_EXIT_HLT);
    let exits: Vec<String> = shared
        .exits
        .iter()
        .enumerate()
        .filter(|(_, n)| n.load(Ordering::Relaxed) > 0)
        .map(|(i, n)| {
            let what = match i {
                40 => "EINTR".to_string(),
                41 => "errno".to_string(),
                r => r.to_string(),
            };
            format!("{what}:{}", n.load(Ordering::Relaxed))
        })
        .collect();
    let bad = shared.bad.load(Ordering::Relaxed);
    println!(
        "FUZZ DONE iterations={} chunks={chunks} crashed={crashed} hung={hung} bad={bad} guests={} alive={alive} exits={}",
        shared.calls.load(Ordering::Relaxed),
        shared.guests.load(Ordering::Relaxed),
        exits.join(",")
    );
    if bad == 0 && alive {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
