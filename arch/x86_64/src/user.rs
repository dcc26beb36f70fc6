//! User mode: the saved user register state ([`UserContext`]), entering ring 3, and the three
//! ways back (SYSCALL, an interrupt, an exception), all of which return from [`run_user`].
//!
//! How it fits together (Intel SDM vol. 3A §5.8.8 SYSCALL/SYSRET, §6.12.1 stack switching,
//! §8.7 TSS):
//! - [`run_user`] calls `x86_enter_user`, which pushes the callee-saved registers and the
//!   context pointer on the thread's kernel stack and records that stack pointer as
//!   `%gs:kernel_rsp` (for SYSCALL) and TSS.RSP0 (for interrupts), then enters ring 3.
//! - SYSCALL lands in `x86_syscall_entry`: `swapgs`, stack switch, general registers into the
//!   context, then it "returns" from `x86_enter_user` through `x86_user_exit`.
//! - An interrupt or exception from ring 3 goes through the ordinary trap path, whose frame
//!   ends exactly at RSP0; [`crate::traps`] calls [`trap_from_user`], which saves the general
//!   registers into the context (found through `%gs:user_ctx`, before anything can switch
//!   threads), and the trap path then leaves through `x86_user_exit` too.
//! - FP/SSE state and the FS/GS bases are not saved on the way in at all: they stay in the
//!   registers, owned by the context that loaded them, until a thread switch, another
//!   context's entry or a reader of the context saves them ([`LiveExt`]), as Linux does.
//!
//! Return to user mode is by SYSRETQ when RCX/R11 equal RIP/RFLAGS (the common case after a
//! system call), else by IRETQ (after interrupts and exceptions, or when the kernel moved
//! RIP, e.g. for a signal). Either way RCX/R11 come back as SYSCALL left them, as on Linux.

use alloc::boxed::Box;
use core::arch::{asm, global_asm};
use core::mem::offset_of;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use arch_api::{UserException, UserExit};

use crate::gdt::{KERNEL_CS, USER_CS32, USER_CS64, USER_SS};
use crate::percpu::{KERNEL_RSP_OFFSET, TSS_RSP0_OFFSET, USER_CTX_OFFSET, USER_RSP_OFFSET};
use crate::traps::TrapFrame;
use crate::{cpu, paging, percpu};

const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_CSTAR: u32 = 0xc000_0083;
const MSR_SFMASK: u32 = 0xc000_0084;
const MSR_FS_BASE: u32 = 0xc000_0100;
/// Holds the user GS base while the kernel runs (after `swapgs`).
const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
const EFER_SCE: u64 = 1 << 0;

const RFLAGS_TF: u64 = 1 << 8;
const RFLAGS_IF: u64 = 1 << 9;
const RFLAGS_DF: u64 = 1 << 10;
const RFLAGS_NT: u64 = 1 << 14;
const RFLAGS_AC: u64 = 1 << 18;
/// Bit 1 of RFLAGS always reads as 1.
const RFLAGS_RESERVED: u64 = 1 << 1;
/// Flags user code may own: CF PF AF ZF SF TF DF OF AC ID. IOPL, NT, RF, VM, VIF/VIP are
/// never taken from a context (an IRETQ at CPL 0 would load them as given).
const RFLAGS_USER: u64 = 0x0024_0dd5;

/// Exit kinds `x86_enter_user` returns.
const EXIT_SYSCALL: u64 = 0;
const EXIT_TRAP: u64 = 1;
const EXIT_COMPAT_SYSCALL: u64 = 2;

/// FXSAVE area (SDM vol. 1 §10.5.1, table 10-2): x87, MXCSR, ST0-7, XMM0-15.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct FxArea(pub [u8; 512]);

const FX_FCW: usize = 0;
const FX_MXCSR: usize = 24;
const FX_MXCSR_MASK: usize = 28;

/// MXCSR bits this CPU accepts (FXRSTOR of any other bit is a #GP in the kernel).
static MXCSR_MASK: AtomicU32 = AtomicU32::new(0xffbf);

/// The user register state of one thread. Field order is what the assembly below uses
/// (through `offset_of!`), so it can change freely.
#[repr(C, align(16))]
pub struct UserContext {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rsp: u64,
    pub rip: u64,
    pub rflags: u64,
    /// USER_CS64, or USER_CS32 for compatibility-mode code.
    pub cs: u64,
    /// Vector, error code and CR2 of the trap behind the last [`EXIT_TRAP`].
    trap_vector: u64,
    trap_error: u64,
    trap_cr2: u64,
    /// FP/SSE state and FS/GS bases, on the heap so that a CPU can point at them while the
    /// context moves (see [`Ext`]).
    ext: Box<Ext>,
}

/// The user state the kernel never touches, saved lazily: FP/SSE registers, FS base and user
/// GS base. After user code ran, the CPU's registers hold the newest values and this copy
/// may be old until a thread switch (or a reader of the context, or another context's entry)
/// saves them (see [`LiveExt`]).
#[repr(C, align(16))]
struct Ext {
    fx: FxArea,
    fs_base: u64,
    gs_base: u64,
    /// Names this content (never 0, never reused): a CPU whose `ext_token` equals it holds
    /// exactly this state (or newer, while `ext_dirty`) in its registers.
    token: u64,
}

impl Ext {
    fn new_token() -> u64 {
        FX_TOKENS.fetch_add(1, Ordering::Relaxed)
    }
}

impl Clone for UserContext {
    fn clone(&self) -> Self {
        let mut ext = Box::new(Ext {
            fx: self.ext.fx,
            fs_base: self.ext.fs_base,
            gs_base: self.ext.gs_base,
            token: Ext::new_token(),
        });
        let was = crate::irq_save_disable();
        if let Some(live) = LiveExt::of(&self.ext) {
            live.save_into(&mut ext);
        }
        crate::irq_restore(was);
        Self {
            rax: self.rax,
            rbx: self.rbx,
            rcx: self.rcx,
            rdx: self.rdx,
            rsi: self.rsi,
            rdi: self.rdi,
            rbp: self.rbp,
            r8: self.r8,
            r9: self.r9,
            r10: self.r10,
            r11: self.r11,
            r12: self.r12,
            r13: self.r13,
            r14: self.r14,
            r15: self.r15,
            rsp: self.rsp,
            rip: self.rip,
            rflags: self.rflags,
            cs: self.cs,
            trap_vector: self.trap_vector,
            trap_error: self.trap_error,
            trap_cr2: self.trap_cr2,
            ext,
        }
    }
}

impl Drop for UserContext {
    fn drop(&mut self) {
        // The CPU must not keep a pointer to the freed state (a thread switch would save
        // into it). Only this CPU's slots can point here: another CPU's state for this
        // context was saved when its thread switched away from there.
        let was = crate::irq_save_disable();
        let cpu = percpu::current();
        // SAFETY: this CPU's slots, interrupts masked.
        unsafe {
            if *cpu.ext_owner.get() == &raw const *self.ext as u64 {
                *cpu.ext_owner.get() = 0;
                *cpu.ext_token.get() = 0;
                *cpu.ext_dirty.get() = 0;
            }
        }
        crate::irq_restore(was);
    }
}

impl UserContext {
    /// The saved FP/SSE state (the newest, also while the registers hold it).
    pub fn fx(&self) -> FxArea {
        let was = crate::irq_save_disable();
        let fx = match LiveExt::of(&self.ext) {
            Some(live) => live.fx(),
            None => self.ext.fx,
        };
        crate::irq_restore(was);
        fx
    }
    /// The saved FP/SSE state, for changing it (signal frames, ptrace): the next entry
    /// reloads it.
    pub fn fx_mut(&mut self) -> &mut FxArea {
        &mut self.sync().fx
    }
    /// Bring `ext` up to date with the registers if this CPU holds it, and make the next
    /// entry load it (the caller is about to change it).
    fn sync(&mut self) -> &mut Ext {
        let was = crate::irq_save_disable();
        if let Some(live) = LiveExt::of(&self.ext) {
            live.save_into(&mut self.ext);
            live.forget();
        }
        crate::irq_restore(was);
        self.ext.token = Ext::new_token();
        &mut self.ext
    }
}

impl Default for UserContext {
    fn default() -> Self {
        <Self as arch_api::UserContext>::new(0, 0)
    }
}

impl arch_api::UserContext for UserContext {
    fn new(entry: u64, sp: u64) -> Self {
        let mut fx = FxArea([0; 512]);
        // The state FNINIT and the MXCSR reset value give: all exceptions masked.
        fx.0[FX_FCW..FX_FCW + 2].copy_from_slice(&0x37fu16.to_le_bytes());
        fx.0[FX_MXCSR..FX_MXCSR + 4].copy_from_slice(&0x1f80u32.to_le_bytes());
        Self {
            rax: 0,
            rbx: 0,
            rcx: 0,
            rdx: 0,
            rsi: 0,
            rdi: 0,
            rbp: 0,
            r8: 0,
            r9: 0,
            r10: 0,
            r11: 0,
            r12: 0,
            r13: 0,
            r14: 0,
            r15: 0,
            rsp: sp,
            rip: entry,
            rflags: RFLAGS_IF | RFLAGS_RESERVED,
            cs: u64::from(USER_CS64),
            trap_vector: 0,
            trap_error: 0,
            trap_cr2: 0,
            ext: Box::new(Ext {
                fx,
                fs_base: 0,
                gs_base: 0,
                token: Ext::new_token(),
            }),
        }
    }
    fn ip(&self) -> u64 {
        self.rip
    }
    fn set_ip(&mut self, ip: u64) {
        self.rip = ip;
    }
    fn sp(&self) -> u64 {
        self.rsp
    }
    fn set_sp(&mut self, sp: u64) {
        self.rsp = sp;
    }
    fn tls(&self) -> u64 {
        let was = crate::irq_save_disable();
        let fs = match LiveExt::of(&self.ext) {
            // SAFETY: the MSR exists; it holds this context's FS base (`LiveExt`).
            Some(_) => unsafe { cpu::rdmsr(MSR_FS_BASE) },
            None => self.ext.fs_base,
        };
        crate::irq_restore(was);
        fs
    }
    fn set_tls(&mut self, tls: u64) {
        self.sync().fs_base = tls;
    }
    fn syscall_number(&self) -> usize {
        self.rax as usize
    }
    fn syscall_args(&self) -> [usize; 6] {
        [self.rdi, self.rsi, self.rdx, self.r10, self.r8, self.r9].map(|r| r as usize)
    }
    fn set_syscall_return(&mut self, value: usize) {
        self.rax = value as u64;
    }
    fn set_call_args(&mut self, a0: u64, a1: u64, a2: u64) {
        (self.rdi, self.rsi, self.rdx) = (a0, a1, a2);
    }
    fn set_return_address(&mut self, _ra: u64) {}

    const SIGNAL_REGS: usize = 18;
    fn signal_reg(&self, i: usize) -> u64 {
        match i {
            0 => self.r8,
            1 => self.r9,
            2 => self.r10,
            3 => self.r11,
            4 => self.r12,
            5 => self.r13,
            6 => self.r14,
            7 => self.r15,
            8 => self.rdi,
            9 => self.rsi,
            10 => self.rbp,
            11 => self.rbx,
            12 => self.rdx,
            13 => self.rax,
            14 => self.rcx,
            15 => self.rsp,
            16 => self.rip,
            17 => self.rflags,
            _ => 0,
        }
    }
    fn set_signal_reg(&mut self, i: usize, v: u64) {
        let r = match i {
            0 => &mut self.r8,
            1 => &mut self.r9,
            2 => &mut self.r10,
            3 => &mut self.r11,
            4 => &mut self.r12,
            5 => &mut self.r13,
            6 => &mut self.r14,
            7 => &mut self.r15,
            8 => &mut self.rdi,
            9 => &mut self.rsi,
            10 => &mut self.rbp,
            11 => &mut self.rbx,
            12 => &mut self.rdx,
            13 => &mut self.rax,
            14 => &mut self.rcx,
            15 => &mut self.rsp,
            16 => &mut self.rip,
            // Only the flags user code owns; `run_user` masks again on entry.
            17 => {
                self.rflags = (v & RFLAGS_USER) | RFLAGS_IF | RFLAGS_RESERVED;
                return;
            }
            _ => return,
        };
        *r = v;
    }
    const FP_STATE_SIZE: usize = 512;
    fn fp_state(&self, out: &mut [u8]) {
        let n = out.len().min(512);
        out[..n].copy_from_slice(&self.fx().0[..n]);
    }
    fn set_fp_state(&mut self, src: &[u8]) {
        if let Some(src) = src.get(..512) {
            // `load_extended` masks MXCSR to the CPU's bits before FXRSTOR.
            self.fx_mut().0.copy_from_slice(src);
        }
    }
    fn restart_syscall(&mut self, nr: usize, _arg0: usize) {
        // SYSCALL is 0f 05.
        self.rip = self.rip.wrapping_sub(2);
        self.rax = nr as u64;
    }
}

// x86_enter_user(ctx) -> exit kind. Kernel stack while user code runs, from RSP0 upwards:
// [ctx pointer] [r15 r14 r13 r12 rbx rbp] [return address]. Seven pushes after the call make
// RSP0 16-byte aligned, so the CPU's interrupt frame (aligned to 16, SDM §6.14.2) and the
// trap path's 176-byte TrapFrame end exactly at RSP0: after handling a trap from ring 3 (and
// perhaps running other threads, which changes every per-CPU slot) the trap path unwinds to
// this frame by stack arithmetic alone.
//
// The SYSCALL entries run with IF, TF, DF, AC and NT cleared (SFMASK) and the user's RSP: they
// switch to %gs:kernel_rsp, where the context pointer is on top, and save the general
// registers. SYSCALL put the user RIP in RCX and RFLAGS in R11, which is what user code sees
// in those registers afterwards, as on Linux.
global_asm!(
    r#"
    .text
    .globl x86_enter_user
x86_enter_user:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi
    movq %rsp, %gs:{gs_kernel_rsp}
    movq %rsp, %gs:{gs_tss_rsp0}
    movq %rdi, %gs:{gs_user_ctx}
    testq %rsi, %rsi
    jnz 5f
    pushq ${user_ss}
    pushq {rsp}(%rdi)
    pushq {rflags}(%rdi)
    pushq {cs}(%rdi)
    pushq {rip}(%rdi)
    movq {rax}(%rdi), %rax
    movq {rbx}(%rdi), %rbx
    movq {rcx}(%rdi), %rcx
    movq {rdx}(%rdi), %rdx
    movq {rsi}(%rdi), %rsi
    movq {rbp}(%rdi), %rbp
    movq {r8}(%rdi), %r8
    movq {r9}(%rdi), %r9
    movq {r10}(%rdi), %r10
    movq {r11}(%rdi), %r11
    movq {r12}(%rdi), %r12
    movq {r13}(%rdi), %r13
    movq {r14}(%rdi), %r14
    movq {r15}(%rdi), %r15
    movq {rdi}(%rdi), %rdi
    swapgs
    iretq

    /* SYSRETQ: RIP = RCX, RFLAGS = R11 (run_user checked that these equal the context's
       RIP and RFLAGS and that RIP is canonical), CS/SS from STAR, RSP loaded by hand.
       A null SS is replaced first: AMD CPUs keep the hidden SS attributes through SYSRET,
       and an interrupt from ring 3 leaves a null SS behind (AMD APM vol. 3, SYSRET). Only
       then: loading SS costs ~100 ns under QEMU TCG. */
5:  movl %ss, %eax
    testl %eax, %eax
    jnz 6f
    movl ${kernel_ss}, %eax
    movl %eax, %ss
6:  movq {rax}(%rdi), %rax
    movq {rbx}(%rdi), %rbx
    movq {rcx}(%rdi), %rcx
    movq {rdx}(%rdi), %rdx
    movq {rsi}(%rdi), %rsi
    movq {rbp}(%rdi), %rbp
    movq {r8}(%rdi), %r8
    movq {r9}(%rdi), %r9
    movq {r10}(%rdi), %r10
    movq {r11}(%rdi), %r11
    movq {r12}(%rdi), %r12
    movq {r13}(%rdi), %r13
    movq {r14}(%rdi), %r14
    movq {r15}(%rdi), %r15
    movq {rsp}(%rdi), %rsp
    movq {rdi}(%rdi), %rdi
    swapgs
    sysretq

    .macro syscall_save cs_value
    swapgs
    movq %rsp, %gs:{gs_user_rsp}
    movq %gs:{gs_kernel_rsp}, %rsp
    pushq %rax
    movq 8(%rsp), %rax
    movq %rbx, {rbx}(%rax)
    movq %rcx, {rcx}(%rax)
    movq %rcx, {rip}(%rax)
    movq %rdx, {rdx}(%rax)
    movq %rsi, {rsi}(%rax)
    movq %rdi, {rdi}(%rax)
    movq %rbp, {rbp}(%rax)
    movq %r8, {r8}(%rax)
    movq %r9, {r9}(%rax)
    movq %r10, {r10}(%rax)
    movq %r11, {r11}(%rax)
    movq %r11, {rflags}(%rax)
    movq %r12, {r12}(%rax)
    movq %r13, {r13}(%rax)
    movq %r14, {r14}(%rax)
    movq %r15, {r15}(%rax)
    movq %gs:{gs_user_rsp}, %rcx
    movq %rcx, {rsp}(%rax)
    movq $\cs_value, {cs}(%rax)
    popq {rax}(%rax)
    .endm

    .globl x86_syscall_entry
x86_syscall_entry:
    syscall_save {user_cs64}
    movl ${exit_syscall}, %eax
    jmp x86_user_exit

    .globl x86_syscall_compat_entry
x86_syscall_compat_entry:
    syscall_save {user_cs32}
    movl ${exit_compat}, %eax
    jmp x86_user_exit

    /* RSP = RSP0 (context pointer on top), RAX = exit kind: return from x86_enter_user. */
    .globl x86_user_exit
x86_user_exit:
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
"#,
    rax = const offset_of!(UserContext, rax),
    rbx = const offset_of!(UserContext, rbx),
    rcx = const offset_of!(UserContext, rcx),
    rdx = const offset_of!(UserContext, rdx),
    rsi = const offset_of!(UserContext, rsi),
    rdi = const offset_of!(UserContext, rdi),
    rbp = const offset_of!(UserContext, rbp),
    r8 = const offset_of!(UserContext, r8),
    r9 = const offset_of!(UserContext, r9),
    r10 = const offset_of!(UserContext, r10),
    r11 = const offset_of!(UserContext, r11),
    r12 = const offset_of!(UserContext, r12),
    r13 = const offset_of!(UserContext, r13),
    r14 = const offset_of!(UserContext, r14),
    r15 = const offset_of!(UserContext, r15),
    rsp = const offset_of!(UserContext, rsp),
    rip = const offset_of!(UserContext, rip),
    rflags = const offset_of!(UserContext, rflags),
    cs = const offset_of!(UserContext, cs),
    user_ss = const USER_SS,
    kernel_ss = const crate::gdt::KERNEL_SS,
    user_cs32 = const USER_CS32,
    user_cs64 = const USER_CS64,
    gs_user_rsp = const USER_RSP_OFFSET,
    gs_kernel_rsp = const KERNEL_RSP_OFFSET,
    gs_user_ctx = const USER_CTX_OFFSET,
    gs_tss_rsp0 = const TSS_RSP0_OFFSET,
    exit_syscall = const EXIT_SYSCALL,
    exit_compat = const EXIT_COMPAT_SYSCALL,
    options(att_syntax)
);

unsafe extern "C" {
    /// `ctx` is a `*mut UserContext` (only the general registers' offsets are used).
    fn x86_enter_user(ctx: *mut u8, sysret: u64) -> u64;
    static x86_syscall_entry: u8;
    static x86_syscall_compat_entry: u8;
}

/// Per-CPU SYSCALL setup: EFER.SCE, the selectors, the entry points and the flag mask; also
/// learn the MXCSR mask (SDM vol. 1 §11.6.6) so a context can never make FXRSTOR fault.
pub fn init_cpu() {
    // SAFETY: these MSRs exist on every x86_64 CPU. STAR's selectors match the GDT layout
    // (gdt.rs); the entry points are the stubs above, which expect exactly this flag mask.
    unsafe {
        cpu::wrmsr(cpu::MSR_EFER, cpu::rdmsr(cpu::MSR_EFER) | EFER_SCE);
        let star = (u64::from(USER_CS32) << 48) | (u64::from(KERNEL_CS) << 32);
        cpu::wrmsr(MSR_STAR, star);
        cpu::wrmsr(MSR_LSTAR, &raw const x86_syscall_entry as u64);
        cpu::wrmsr(MSR_CSTAR, &raw const x86_syscall_compat_entry as u64);
        cpu::wrmsr(
            MSR_SFMASK,
            RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_AC | RFLAGS_NT,
        );
    }
    let mut probe = FxArea([0; 512]);
    // SAFETY: FXSAVE writes 512 bytes to a 16-byte aligned buffer we own; CR4.OSFXSR is set.
    unsafe { asm!("fxsave64 [{}]", in(reg) &mut probe, options(nostack, preserves_flags)) };
    let mask = u32::from_le_bytes(
        probe.0[FX_MXCSR_MASK..FX_MXCSR_MASK + 4]
            .try_into()
            .unwrap(),
    );
    if mask != 0 {
        MXCSR_MASK.store(mask, Ordering::Relaxed);
    }
}

/// Source of [`Ext`] tokens (0 is never handed out).
static FX_TOKENS: AtomicU64 = AtomicU64::new(1);

/// The [`Ext`] this CPU's registers hold (FP/SSE registers, FS_BASE, and the user GS base in
/// KERNEL_GS_BASE while the kernel runs), when they hold one.
///
/// The per-CPU slots: `ext_owner` points at that `Ext`, `ext_token` is its token at load
/// time, `ext_dirty` says user code ran since, so the registers are newer than the `Ext`.
/// The pointer stays valid: the `Ext` is on the heap (moving its context does not move it),
/// dropping the context clears the slots, and a dirty state is saved at every thread switch
/// ([`save_live_state`]), so a thread's user state never stays in another thread's way.
/// Like Linux, a system call then saves no FP state at all; a switch saves it once.
struct LiveExt {
    cpu: &'static percpu::PerCpu,
}

impl LiveExt {
    /// This CPU's hold on `ext`, if its registers hold that state. Interrupts masked.
    fn of(ext: &Ext) -> Option<Self> {
        let cpu = percpu::current();
        // SAFETY: this CPU's slots, with interrupts masked (the caller's).
        let held = unsafe { *cpu.ext_token.get() };
        (held != 0 && held == ext.token).then_some(Self { cpu })
    }

    /// Copy the register state into `out` (the owner's `Ext` or another one), if it is newer.
    fn save_into(&self, out: &mut Ext) {
        // SAFETY: this CPU's slot, interrupts masked.
        if unsafe { *self.cpu.ext_dirty.get() } != 0 {
            save_registers(out);
        }
    }

    /// The FP/SSE registers' state, read without changing anything.
    fn fx(&self) -> FxArea {
        let mut fx = FxArea([0; 512]);
        // SAFETY: FXSAVE writes the 512-byte, 16-aligned area we own.
        unsafe { asm!("fxsave64 [{}]", in(reg) &mut fx, options(nostack, preserves_flags)) };
        fx
    }

    /// Stop holding: the next entry loads the context's `Ext` afresh.
    fn forget(&self) {
        // SAFETY: this CPU's slots, interrupts masked.
        unsafe {
            *self.cpu.ext_owner.get() = 0;
            *self.cpu.ext_token.get() = 0;
            *self.cpu.ext_dirty.get() = 0;
        }
    }
}

/// FXSAVE and read both bases into `out`. Interrupts masked, user state in the registers.
fn save_registers(out: &mut Ext) {
    let cpu = percpu::current();
    // SAFETY: FXSAVE writes the 512-byte, 16-aligned area inside `out`. The MSRs exist; after
    // `swapgs` the user's GS base is in KERNEL_GS_BASE. This CPU's slots, interrupts masked.
    unsafe {
        asm!("fxsave64 [{}]", in(reg) &mut out.fx, options(nostack, preserves_flags));
        out.fs_base = cpu::rdmsr(MSR_FS_BASE);
        out.gs_base = cpu::rdmsr(MSR_KERNEL_GS_BASE);
        *cpu.fs_loaded.get() = out.fs_base;
        *cpu.gs_loaded.get() = out.gs_base;
    }
}

/// Save the user state this CPU's registers hold into its context, if user code changed it
/// since the last save. The thread switch calls this (interrupts masked), so a thread's
/// unsaved state never outlives its time on the CPU: another thread may enter other user
/// code, and the context may next be read, changed or dropped on another CPU.
///
/// # Safety
/// Interrupts masked.
pub(crate) unsafe fn save_live_state() {
    let cpu = percpu::current();
    // SAFETY: this CPU's slots (interrupts masked, the caller's contract). A nonzero owner
    // points at a live `Ext` (see `LiveExt`): its context's `Drop` would have cleared it.
    unsafe {
        if *cpu.ext_dirty.get() != 0 {
            let owner = &mut *(*cpu.ext_owner.get() as *mut Ext);
            save_registers(owner);
            // The `Ext` now equals the registers, under a new token: a CPU that loaded
            // the older content under the old one must not take it for this.
            owner.token = Ext::new_token();
            *cpu.ext_token.get() = owner.token;
            *cpu.ext_dirty.get() = 0;
        }
    }
}

/// Load `ext` into the registers unless this CPU holds it already (then they hold exactly it,
/// or newer values from the same user code), saving the state they held first if newer.
/// From here until the next save the registers are newer than `ext`. On QEMU TCG each FXSAVE
/// or FXRSTOR costs ~250 ns: a system call does neither.
///
/// # Safety
/// Interrupts must be masked (until user mode), and the bases canonical.
unsafe fn load_extended(ext: &mut Ext) {
    let cpu = percpu::current();
    // SAFETY: this CPU's slots, interrupts masked (the caller's contract).
    let (owner, token, dirty) = unsafe {
        (
            &mut *cpu.ext_owner.get(),
            &mut *cpu.ext_token.get(),
            &mut *cpu.ext_dirty.get(),
        )
    };
    if *token == 0 || *token != ext.token {
        // SAFETY: interrupts masked (the caller's contract).
        unsafe { save_live_state() };
        let mask = MXCSR_MASK.load(Ordering::Relaxed);
        let mxcsr = u32::from_le_bytes(ext.fx.0[FX_MXCSR..FX_MXCSR + 4].try_into().unwrap());
        ext.fx.0[FX_MXCSR..FX_MXCSR + 4].copy_from_slice(&(mxcsr & mask).to_le_bytes());
        // SAFETY: FXRSTOR reads the aligned area; with MXCSR reduced to the bits the CPU
        // supports, no other field can make it fault.
        unsafe {
            asm!("fxrstor64 [{}]", in(reg) &ext.fx, options(nostack, preserves_flags, readonly))
        };
        // SAFETY: this CPU's slots, interrupts masked.
        let (fs, gs) = unsafe { (&mut *cpu.fs_loaded.get(), &mut *cpu.gs_loaded.get()) };
        if ext.fs_base != *fs {
            // SAFETY: the MSR exists; the value is canonical (caller's contract).
            unsafe { cpu::wrmsr(MSR_FS_BASE, ext.fs_base) };
            *fs = ext.fs_base;
        }
        if ext.gs_base != *gs {
            // SAFETY: as above; KERNEL_GS_BASE becomes the GS base at `swapgs` to user mode.
            unsafe { cpu::wrmsr(MSR_KERNEL_GS_BASE, ext.gs_base) };
            *gs = ext.gs_base;
        }
        *owner = ext as *mut Ext as u64;
        *token = ext.token;
    }
    // From here the registers belong to the user code, until the next save.
    *dirty = 1;
}

/// Save the user state this CPU holds and forget it, so the next `run_user` loads it all.
/// Kernel code that is about to change FP/SSE registers or the FS/KERNEL_GS_BASE MSRs behind
/// `run_user`'s back (a hardware-virtualization backend running a guest) must call this
/// first.
pub fn forget_loaded_state() {
    let cpu = percpu::current();
    let was = crate::irq_save_disable();
    // SAFETY: this CPU's slots, with interrupts masked. Resetting the bases' caches to
    // values that match nothing is not possible, so reload them to known zeros instead.
    unsafe {
        save_live_state();
        *cpu.ext_owner.get() = 0;
        *cpu.ext_token.get() = 0;
        cpu::wrmsr(MSR_FS_BASE, 0);
        cpu::wrmsr(MSR_KERNEL_GS_BASE, 0);
        *cpu.fs_loaded.get() = 0;
        *cpu.gs_loaded.get() = 0;
    }
    crate::irq_restore(was);
}

fn is_canonical(va: u64) -> bool {
    let top = (va as i64) >> 47;
    top == 0 || top == -1
}

/// Run user code with `ctx` until it traps back (see the module documentation).
pub fn run_user(ctx: &mut UserContext) -> UserExit {
    if ctx.cs != u64::from(USER_CS32) {
        ctx.cs = u64::from(USER_CS64);
    }
    // What IRETQ, WRMSR and FXRSTOR would refuse with a #GP in ring 0 is refused here, as the
    // fault user code gets: a bad RIP/RSP (e.g. set by a signal handler's frame) or TLS base,
    // or a RIP beyond the 4 GiB limit of 32-bit code.
    let rip_limit = match ctx.cs == u64::from(USER_CS32) {
        true => 1 << 32,
        false => paging::USER_END,
    };
    let valid = ctx.rip < rip_limit
        && [ctx.rsp, ctx.ext.fs_base, ctx.ext.gs_base]
            .iter()
            .all(|&v| is_canonical(v));
    if !valid {
        return UserExit::Exception(UserException::ProtectionFault);
    }
    ctx.rflags = (ctx.rflags & RFLAGS_USER) | RFLAGS_IF | RFLAGS_RESERVED;
    // SYSRETQ (cheaper than IRETQ under QEMU TCG) restores exactly this state when RCX and
    // R11 already hold RIP and RFLAGS, as after every SYSCALL the kernel answered without
    // redirecting: it sets RIP from RCX and RFLAGS from R11 (the sanitized flags, so no IOPL
    // or NT), CS/SS from STAR. RIP is canonical (checked above), so Intel's SYSRET #GP in
    // ring 0 cannot happen. Not with TF set: after SYSRET the single-step trap comes before
    // the first user instruction (a debugger would never advance), after IRETQ after it.
    // Everything else returns by IRETQ.
    let sysret = ctx.cs == u64::from(USER_CS64)
        && ctx.rcx == ctx.rip
        && ctx.r11 == ctx.rflags
        && ctx.rflags & RFLAGS_TF == 0;

    let was_enabled = crate::irq_save_disable();
    // SAFETY: interrupts stay masked until user mode, so nothing else loads user state on this
    // CPU in between; the bases are canonical (checked above). `x86_enter_user` returns only
    // through `x86_user_exit`, with the callee-saved registers restored, and writes to `ctx`
    // only (this thread's kernel stack holds the pointer while user code runs, so it stays
    // valid).
    let kind = unsafe {
        load_extended(&mut ctx.ext);
        x86_enter_user((ctx as *mut UserContext).cast(), u64::from(sysret))
    };
    // The FP state and bases stay in the registers (see `LiveExt`).
    crate::irq_restore(was_enabled);
    match kind {
        EXIT_SYSCALL => UserExit::Syscall,
        EXIT_COMPAT_SYSCALL => {
            // SYSCALL from 32-bit code: not an ABI we offer. Report it at the instruction.
            ctx.rip = ctx.rip.wrapping_sub(2);
            UserExit::Exception(UserException::IllegalInstruction)
        }
        _ => {
            debug_assert_eq!(kind, EXIT_TRAP);
            trap_exit(ctx)
        }
    }
}

fn trap_exit(ctx: &UserContext) -> UserExit {
    let e = ctx.trap_error;
    let exception = match ctx.trap_vector {
        14 => {
            return UserExit::PageFault {
                addr: ctx.trap_cr2,
                write: e & 2 != 0,
                exec: e & 16 != 0,
                present: e & 1 != 0,
            };
        }
        0 => UserException::DivideError,
        1 | 3 => UserException::Breakpoint,
        6 => UserException::IllegalInstruction,
        11..=13 => UserException::ProtectionFault,
        16 | 19 => UserException::FloatingPoint,
        17 => UserException::Alignment,
        v if v >= 32 => return UserExit::Interrupt,
        v => UserException::Other { code: v },
    };
    UserExit::Exception(exception)
}

/// The trap path's hook for a trap from ring 3 (not on an IST stack): save the user state
/// into the running context and handle the trap with `handle` (interrupts: the usual
/// handler, which may switch threads). The trap path then returns from `run_user`.
pub fn trap_from_user(frame: &mut TrapFrame, handle: impl FnOnce(&mut TrapFrame)) {
    let cr2 = cpu::read_cr2();
    let ptr: u64;
    // SAFETY: GS is this CPU's block (the trap path swapped it in); reading one word.
    unsafe {
        asm!(
            "mov {}, gs:[{off}]",
            out(reg) ptr,
            off = const USER_CTX_OFFSET,
            options(nostack, readonly, preserves_flags),
        )
    };
    // SAFETY: `run_user` set the slot to its context before entering the user code that this
    // trap interrupted; that context is borrowed mutably by `run_user` for the whole time and
    // nothing else touches it until the trap path returns there.
    let ctx = unsafe { &mut *(ptr as *mut UserContext) };
    // The FP state and bases stay in the registers: a thread switch in `handle` saves them.
    (ctx.trap_vector, ctx.trap_error, ctx.trap_cr2) = (frame.vector, frame.error, cr2);
    let f = &*frame;
    (ctx.rax, ctx.rbx, ctx.rcx, ctx.rdx) = (f.rax, f.rbx, f.rcx, f.rdx);
    (ctx.rsi, ctx.rdi, ctx.rbp) = (f.rsi, f.rdi, f.rbp);
    (ctx.r8, ctx.r9, ctx.r10, ctx.r11) = (f.r8, f.r9, f.r10, f.r11);
    (ctx.r12, ctx.r13, ctx.r14, ctx.r15) = (f.r12, f.r13, f.r14, f.r15);
    (ctx.rip, ctx.rsp, ctx.rflags, ctx.cs) = (f.rip, f.rsp, f.rflags, f.cs);
    if frame.vector >= 32 {
        handle(frame);
    }
}
