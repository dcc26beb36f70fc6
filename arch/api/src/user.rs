//! User mode: the register state of a user thread, running it until it traps, and copying to
//! and from user memory without trusting the pointer.
//!
//! The kernel drives a user thread with a loop (the model Asterinas and our own hypervisor
//! use): `loop { match A::run_user(&mut ctx) { UserExit::Syscall => ..., ... } }`. The arch
//! saves the kernel's callee-saved state on the thread's kernel stack, enters user mode, and
//! returns from `run_user` when user code makes a system call, faults, or is interrupted.

/// Why [`crate::Arch::run_user`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserExit {
    /// A system call: read it with [`UserContext::syscall_number`] and
    /// [`UserContext::syscall_args`], answer with [`UserContext::set_syscall_return`].
    Syscall,
    /// A page fault at `addr`. `present` is true for a protection violation on a mapped page.
    PageFault {
        addr: u64,
        write: bool,
        exec: bool,
        present: bool,
    },
    /// Any other synchronous exception.
    Exception(UserException),
    /// An interrupt arrived while user code ran. It has been handled (the timer tick may
    /// already have run other threads); the kernel may now deliver signals.
    Interrupt,
}

/// Synchronous exceptions from user mode, in the terms signals need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserException {
    /// Undefined or privileged instruction (SIGILL).
    IllegalInstruction,
    /// Breakpoint or single step (SIGTRAP).
    Breakpoint,
    /// Integer divide error (SIGFPE).
    DivideError,
    /// Floating-point exception (SIGFPE).
    FloatingPoint,
    /// General protection / bad system register access etc. (SIGSEGV).
    ProtectionFault,
    /// Misaligned access (SIGBUS).
    Alignment,
    /// Anything else; `code` is the arch's number (x86 vector, aarch64 ESR).
    Other { code: u64 },
}

/// The saved user register state of one thread, including its FP/SIMD registers and TLS
/// pointer. Arch-neutral code touches it only through these accessors.
pub trait UserContext: Clone + Send + Sync + Default {
    /// A context that starts at `entry` with stack pointer `sp`, all other registers zero.
    fn new(entry: u64, sp: u64) -> Self;
    fn ip(&self) -> u64;
    fn set_ip(&mut self, ip: u64);
    fn sp(&self) -> u64;
    fn set_sp(&mut self, sp: u64);
    /// The thread pointer (x86 FS base, aarch64 TPIDR_EL0).
    fn tls(&self) -> u64;
    fn set_tls(&mut self, tls: u64);
    /// Number of the system call that caused [`UserExit::Syscall`].
    fn syscall_number(&self) -> usize;
    /// Its six arguments in Linux order.
    fn syscall_args(&self) -> [usize; 6];
    /// The value user code sees returned (negative errno for errors).
    fn set_syscall_return(&mut self, value: usize);
    /// Set the first three argument registers (for entering a signal handler).
    fn set_call_args(&mut self, a0: u64, a1: u64, a2: u64);
    /// Where a called function returns: x86 reads it from the stack, so this is a no-op there
    /// and the caller pushes it; aarch64 sets x30.
    fn set_return_address(&mut self, ra: u64);
    /// Registers a signal frame saves, in the order of the arch's Linux `struct sigcontext`
    /// (x86_64: r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags; aarch64:
    /// x0..x30, sp, pc, pstate). Index [`UserContext::SIGNAL_REGS`] and above read as 0.
    fn signal_reg(&self, i: usize) -> u64;
    /// Set one of [`UserContext::signal_reg`]'s registers. Privileged bits (x86 IOPL/NT/VM,
    /// aarch64 mode/DAIF) are never taken from the value; out-of-range indices are ignored.
    fn set_signal_reg(&mut self, i: usize, v: u64);
    /// How many registers [`UserContext::signal_reg`] has.
    const SIGNAL_REGS: usize;
    /// Size of the FP/SIMD image [`UserContext::fp_state`] writes: x86_64 the 512-byte FXSAVE
    /// area; aarch64 520 bytes: fpsr (u32), fpcr (u32), v0..v31 (16 bytes each, little
    /// endian), the body of Linux's `struct fpsimd_context` after its header.
    const FP_STATE_SIZE: usize;
    /// Write the FP/SIMD state into `out` (at least [`UserContext::FP_STATE_SIZE`] bytes).
    fn fp_state(&self, out: &mut [u8]);
    /// Load the FP/SIMD state from `src`, as `fp_state` wrote it; bits the CPU would refuse
    /// (reserved MXCSR/FPCR bits) are dropped. Shorter input changes nothing.
    fn set_fp_state(&mut self, src: &[u8]);
    /// Make the system call that stopped the thread run again when it resumes: back up the
    /// instruction pointer over the syscall instruction and put back the register the return
    /// value overwrote (`nr` on x86_64, `arg0` on aarch64).
    fn restart_syscall(&mut self, nr: usize, arg0: usize);
}
