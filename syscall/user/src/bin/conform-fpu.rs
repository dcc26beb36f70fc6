//! Conformance checks for the user FP/SIMD registers across the kernel: system calls, thread
//! and process switches (sched_yield between two processes, and between two threads of one
//! process) and a signal handler that overwrites them. Each check loads a pattern into all
//! vector registers (x86_64: XMM0-15 and MXCSR; aarch64: V0-31 and FPCR) in one asm block, makes
//! system calls from inside it, and stores them back. The kernel saves this state lazily
//! (x86_64, `.teams/0016-bench.md` session 3), so these are the cases that must not leak it.
//! Prints `PASS fpu/<name>` or `FAIL ...`; exits 0 iff all passed. Runs on Linux as well.

#[path = "../conform/util.rs"]
mod util;

use std::process::ExitCode;
use util::{End, Report};

/// Vector registers checked and their size in bytes.
#[cfg(target_arch = "x86_64")]
const REGS: usize = 16;
#[cfg(target_arch = "aarch64")]
const REGS: usize = 32;
const BYTES: usize = REGS * 16;

/// Syscall numbers.
#[cfg(target_arch = "x86_64")]
mod nr {
    pub const SCHED_YIELD: usize = 24;
    pub const GETPPID: usize = 110;
    pub const KILL: usize = 62;
    pub const GETPID: usize = 39;
}
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const SCHED_YIELD: usize = 124;
    pub const GETPPID: usize = 173;
    pub const KILL: usize = 129;
    pub const GETPID: usize = 172;
}

/// A pattern unique to `seed` in every byte position.
fn pattern(seed: u8) -> [u8; BYTES] {
    core::array::from_fn(|i| {
        (i as u8)
            .wrapping_mul(7)
            .wrapping_add(seed.wrapping_mul(31))
            | 1
    })
}

/// Load `pattern` into the vector registers and a distinct rounding mode into MXCSR/FPCR,
/// make `calls` system calls `nr(arg0, arg1)` (`kill` needs two arguments), then return what
/// the registers and the control word hold.
#[cfg(target_arch = "x86_64")]
fn with_registers(
    pattern: &[u8; BYTES],
    nr: usize,
    a0: usize,
    a1: usize,
    calls: usize,
) -> ([u8; BYTES], u32) {
    let mut out = [0u8; BYTES];
    // MXCSR to load (round toward zero, RC = 11, exceptions masked: not the default 0x1f80),
    // then what it held at the end.
    let mut csr: [u32; 2] = [0x7f80, 0];
    // SAFETY: reads `pattern`, writes `out` and `csr` (all ours, big enough); the syscall
    // clobbers RAX, RCX, R11; the vector registers are declared clobbered.
    unsafe {
        core::arch::asm!(
            "sub rsp, 8",
            "stmxcsr [rsp]",
            "ldmxcsr [{c}]",
            "movdqu xmm0, [{p}]", "movdqu xmm1, [{p} + 16]", "movdqu xmm2, [{p} + 32]",
            "movdqu xmm3, [{p} + 48]", "movdqu xmm4, [{p} + 64]", "movdqu xmm5, [{p} + 80]",
            "movdqu xmm6, [{p} + 96]", "movdqu xmm7, [{p} + 112]", "movdqu xmm8, [{p} + 128]",
            "movdqu xmm9, [{p} + 144]", "movdqu xmm10, [{p} + 160]", "movdqu xmm11, [{p} + 176]",
            "movdqu xmm12, [{p} + 192]", "movdqu xmm13, [{p} + 208]", "movdqu xmm14, [{p} + 224]",
            "movdqu xmm15, [{p} + 240]",
            "2:",
            "test {n}, {n}",
            "jz 3f",
            "mov rax, {nr}",
            "mov rdi, {a0}",
            "mov rsi, {a1}",
            "syscall",
            "dec {n}",
            "jmp 2b",
            "3:",
            "movdqu [{o}], xmm0", "movdqu [{o} + 16], xmm1", "movdqu [{o} + 32], xmm2",
            "movdqu [{o} + 48], xmm3", "movdqu [{o} + 64], xmm4", "movdqu [{o} + 80], xmm5",
            "movdqu [{o} + 96], xmm6", "movdqu [{o} + 112], xmm7", "movdqu [{o} + 128], xmm8",
            "movdqu [{o} + 144], xmm9", "movdqu [{o} + 160], xmm10", "movdqu [{o} + 176], xmm11",
            "movdqu [{o} + 192], xmm12", "movdqu [{o} + 208], xmm13", "movdqu [{o} + 224], xmm14",
            "movdqu [{o} + 240], xmm15",
            "stmxcsr [{c} + 4]",
            "ldmxcsr [rsp]",
            "add rsp, 8",
            p = in(reg) pattern.as_ptr(),
            o = in(reg) out.as_mut_ptr(),
            c = in(reg) csr.as_mut_ptr(),
            n = inout(reg) calls => _,
            nr = in(reg) nr,
            a0 = in(reg) a0,
            a1 = in(reg) a1,
            out("rax") _, out("rcx") _, out("r11") _, out("rdi") _, out("rsi") _,
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
        )
    };
    (out, csr[1] & 0xffff)
}

#[cfg(target_arch = "aarch64")]
fn with_registers(
    pattern: &[u8; BYTES],
    nr: usize,
    a0: usize,
    a1: usize,
    calls: usize,
) -> ([u8; BYTES], u32) {
    let mut out = [0u8; BYTES];
    let csr_out: u64;
    // Round toward zero (FPCR.RMode = 0b11, bits 23:22).
    let csr_in: u64 = 3 << 22;
    // SAFETY: reads `pattern`, writes `out` (ours, big enough); the syscall clobbers x0-x1,
    // x8; the vector registers are declared clobbered; FPCR is put back before the end.
    unsafe {
        core::arch::asm!(
            "mrs {saved}, fpcr",
            "msr fpcr, {csr_in}",
            "mov {t}, {p}",
            "ld1 {{v0.16b, v1.16b, v2.16b, v3.16b}}, [{t}], #64",
            "ld1 {{v4.16b, v5.16b, v6.16b, v7.16b}}, [{t}], #64",
            "ld1 {{v8.16b, v9.16b, v10.16b, v11.16b}}, [{t}], #64",
            "ld1 {{v12.16b, v13.16b, v14.16b, v15.16b}}, [{t}], #64",
            "ld1 {{v16.16b, v17.16b, v18.16b, v19.16b}}, [{t}], #64",
            "ld1 {{v20.16b, v21.16b, v22.16b, v23.16b}}, [{t}], #64",
            "ld1 {{v24.16b, v25.16b, v26.16b, v27.16b}}, [{t}], #64",
            "ld1 {{v28.16b, v29.16b, v30.16b, v31.16b}}, [{t}], #64",
            "2:",
            "cbz {n}, 3f",
            "mov x8, {nr}",
            "mov x0, {a0}",
            "mov x1, {a1}",
            "svc #0",
            "sub {n}, {n}, #1",
            "b 2b",
            "3:",
            "mov {t}, {o}",
            "st1 {{v0.16b, v1.16b, v2.16b, v3.16b}}, [{t}], #64",
            "st1 {{v4.16b, v5.16b, v6.16b, v7.16b}}, [{t}], #64",
            "st1 {{v8.16b, v9.16b, v10.16b, v11.16b}}, [{t}], #64",
            "st1 {{v12.16b, v13.16b, v14.16b, v15.16b}}, [{t}], #64",
            "st1 {{v16.16b, v17.16b, v18.16b, v19.16b}}, [{t}], #64",
            "st1 {{v20.16b, v21.16b, v22.16b, v23.16b}}, [{t}], #64",
            "st1 {{v24.16b, v25.16b, v26.16b, v27.16b}}, [{t}], #64",
            "st1 {{v28.16b, v29.16b, v30.16b, v31.16b}}, [{t}], #64",
            "mrs {csr_out}, fpcr",
            "msr fpcr, {saved}",
            p = in(reg) pattern.as_ptr(),
            o = in(reg) out.as_mut_ptr(),
            t = out(reg) _,
            saved = out(reg) _,
            csr_in = in(reg) csr_in,
            csr_out = out(reg) csr_out,
            n = inout(reg) calls => _,
            nr = in(reg) nr,
            a0 = in(reg) a0,
            a1 = in(reg) a1,
            out("x0") _, out("x1") _, out("x8") _,
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _,
            out("v6") _, out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _,
            out("v12") _, out("v13") _, out("v14") _, out("v15") _, out("v16") _, out("v17") _,
            out("v18") _, out("v19") _, out("v20") _, out("v21") _, out("v22") _, out("v23") _,
            out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
            out("v30") _, out("v31") _,
        )
    };
    (out, (csr_out >> 22) as u32 & 3)
}

/// The control word `with_registers` loads, as it reads it back.
#[cfg(target_arch = "x86_64")]
const CSR_WANT: u32 = 0x7f80;
#[cfg(target_arch = "aarch64")]
const CSR_WANT: u32 = 3;

/// Run the register round trip with `seed`'s pattern; `Err` names the first wrong register.
fn round_trip(seed: u8, nr: usize, a0: usize, a1: usize, calls: usize) -> Result<(), String> {
    let want = pattern(seed);
    let (got, csr) = with_registers(&want, nr, a0, a1, calls);
    if let Some(i) = (0..BYTES).find(|&i| got[i] != want[i]) {
        let r = i / 16;
        return Err(format!(
            "register {r} after {calls} calls: {:02x?}, want {:02x?}",
            &got[r * 16..r * 16 + 16],
            &want[r * 16..r * 16 + 16]
        ));
    }
    if csr != CSR_WANT {
        return Err(format!("control word {csr:#x}, want {CSR_WANT:#x}"));
    }
    Ok(())
}

/// A signal handler that overwrites every vector register and the rounding mode.
extern "C" fn clobber(_sig: libc::c_int) {
    let junk = [0xa5u8; BYTES];
    let mut sink = [0u8; BYTES];
    // Ask for a different rounding mode too (round up), and leave it set: the kernel's
    // sigreturn must bring back the interrupted code's.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: loads from `junk`, stores to `sink` (ours); xmm registers and MXCSR are the
    // handler's to change (sigreturn restores the interrupted ones).
    unsafe {
        let csr: u32 = 0x5f80;
        core::arch::asm!(
            "ldmxcsr [{c}]",
            "movdqu xmm0, [{j}]", "movdqu xmm1, [{j}]", "movdqu xmm2, [{j}]", "movdqu xmm3, [{j}]",
            "movdqu xmm4, [{j}]", "movdqu xmm5, [{j}]", "movdqu xmm6, [{j}]", "movdqu xmm7, [{j}]",
            "movdqu xmm8, [{j}]", "movdqu xmm9, [{j}]", "movdqu xmm10, [{j}]", "movdqu xmm11, [{j}]",
            "movdqu xmm12, [{j}]", "movdqu xmm13, [{j}]", "movdqu xmm14, [{j}]", "movdqu xmm15, [{j}]",
            "movdqu [{s}], xmm15",
            c = in(reg) &csr,
            j = in(reg) junk.as_ptr(),
            s = in(reg) sink.as_mut_ptr(),
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _, out("xmm11") _,
            out("xmm12") _, out("xmm13") _, out("xmm14") _, out("xmm15") _,
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above, for V0-31 and FPCR.
    unsafe {
        core::arch::asm!(
            "msr fpcr, {c}",
            "ld1r {{v0.16b}}, [{j}]",
            "mov v1.16b, v0.16b", "mov v2.16b, v0.16b", "mov v3.16b, v0.16b",
            "mov v4.16b, v0.16b", "mov v5.16b, v0.16b", "mov v6.16b, v0.16b", "mov v7.16b, v0.16b",
            "mov v8.16b, v0.16b", "mov v9.16b, v0.16b", "mov v10.16b, v0.16b", "mov v11.16b, v0.16b",
            "mov v12.16b, v0.16b", "mov v13.16b, v0.16b", "mov v14.16b, v0.16b", "mov v15.16b, v0.16b",
            "mov v16.16b, v0.16b", "mov v17.16b, v0.16b", "mov v18.16b, v0.16b", "mov v19.16b, v0.16b",
            "mov v20.16b, v0.16b", "mov v21.16b, v0.16b", "mov v22.16b, v0.16b", "mov v23.16b, v0.16b",
            "mov v24.16b, v0.16b", "mov v25.16b, v0.16b", "mov v26.16b, v0.16b", "mov v27.16b, v0.16b",
            "mov v28.16b, v0.16b", "mov v29.16b, v0.16b", "mov v30.16b, v0.16b", "mov v31.16b, v0.16b",
            "st1 {{v31.16b}}, [{s}]",
            c = in(reg) 1u64 << 22,
            j = in(reg) junk.as_ptr(),
            s = in(reg) sink.as_mut_ptr(),
            out("v0") _, out("v1") _, out("v2") _, out("v3") _, out("v4") _, out("v5") _,
            out("v6") _, out("v7") _, out("v8") _, out("v9") _, out("v10") _, out("v11") _,
            out("v12") _, out("v13") _, out("v14") _, out("v15") _, out("v16") _, out("v17") _,
            out("v18") _, out("v19") _, out("v20") _, out("v21") _, out("v22") _, out("v23") _,
            out("v24") _, out("v25") _, out("v26") _, out("v27") _, out("v28") _, out("v29") _,
            out("v30") _, out("v31") _,
        );
    }
    std::hint::black_box(&sink);
    HANDLED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

static HANDLED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn main() -> ExitCode {
    let mut r = Report::new("fpu");
    r.check("syscalls", || round_trip(1, nr::GETPPID, 0, 0, 1000));
    r.check("yield-between-processes", || {
        // The child yields with its own pattern while the parent does with another: every
        // yield switches to the other process (one CPU on Levitate and in the bench).
        let child = move || match round_trip(2, nr::SCHED_YIELD, 0, 0, 2000) {
            Ok(()) => 0,
            Err(_) => 1,
        };
        // SAFETY: fork in a single-threaded program; the child only runs the round trip.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(String::from("fork failed"));
        }
        if pid == 0 {
            // SAFETY: `_exit` ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(child()) };
        }
        let mine = round_trip(3, nr::SCHED_YIELD, 0, 0, 2000);
        let theirs = util::wait_for(pid)?;
        mine?;
        match theirs {
            End::Exited(0) => Ok(()),
            e => Err(format!("child: {e:?}")),
        }
    });
    r.check("yield-between-threads", || {
        let t = std::thread::spawn(|| round_trip(4, nr::SCHED_YIELD, 0, 0, 2000));
        let mine = round_trip(5, nr::SCHED_YIELD, 0, 0, 2000);
        let theirs = t.join().map_err(|_| String::from("thread panicked"))?;
        mine.and(theirs)
    });
    r.check("signal-handler", || {
        // SAFETY: a zeroed sigaction with a plain handler is valid.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = clobber as extern "C" fn(libc::c_int) as usize;
        // SAFETY: valid sigaction, no old action wanted.
        if unsafe { libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()) } != 0 {
            return Err(String::from("sigaction failed"));
        }
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::syscall(nr::GETPID as libc::c_long) } as usize;
        // kill(self, SIGUSR1) from inside the block: the handler runs on the way back.
        let res = round_trip(6, nr::KILL, pid, libc::SIGUSR1 as usize, 20);
        let n = HANDLED.load(std::sync::atomic::Ordering::SeqCst);
        res?;
        if n != 20 {
            return Err(format!("handler ran {n} times, want 20"));
        }
        Ok(())
    });
    r.finish()
}
