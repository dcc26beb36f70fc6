//! Kernel-thread context switch. Only callee-saved registers (System V AMD64 ABI §3.2.1) need
//! saving, since `switch` is an ordinary function call for its caller.

use core::arch::global_asm;

/// Saved state of a thread that is not running.
#[derive(Debug, Default)]
#[repr(C)]
pub struct Context {
    rbx: u64,
    rbp: u64,
    r12: u64,
    r13: u64,
    r14: u64,
    r15: u64,
    rsp: u64,
    /// Where the thread resumes: the tail of `x86_switch` for saved contexts, the start
    /// trampoline for new ones.
    rip: u64,
}

// x86_switch(from: *mut Context, to: *const Context). The saved RSP points at the return
// address of the caller of `x86_switch`, so resuming at label 1 just returns.
// x86_thread_start runs with R12 = arg, R13 = entry and RSP 16-byte aligned, so that `entry`
// starts with the ABI's alignment (RSP + 8 aligned) and a zero RBP ends backtraces.
global_asm!(
    r#"
    .text
    .globl x86_switch
x86_switch:
    movq %rbx, 0(%rdi)
    movq %rbp, 8(%rdi)
    movq %r12, 16(%rdi)
    movq %r13, 24(%rdi)
    movq %r14, 32(%rdi)
    movq %r15, 40(%rdi)
    movq %rsp, 48(%rdi)
    leaq 1f(%rip), %rax
    movq %rax, 56(%rdi)
    movq 0(%rsi), %rbx
    movq 8(%rsi), %rbp
    movq 16(%rsi), %r12
    movq 24(%rsi), %r13
    movq 32(%rsi), %r14
    movq 40(%rsi), %r15
    movq 48(%rsi), %rsp
    jmpq *56(%rsi)
1:  ret

    .globl x86_thread_start
x86_thread_start:
    movq %r12, %rdi
    call *%r13
    ud2
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    fn x86_switch(from: *mut Context, to: *const Context);
    static x86_thread_start: u8;
}

/// A context whose first resumption calls `entry(arg)` on the stack ending at `stack_top`.
pub fn init(stack_top: usize, entry: extern "C" fn(usize) -> !, arg: usize) -> Context {
    let start = &raw const x86_thread_start as u64;
    Context {
        rbx: 0,
        rbp: 0,
        r12: arg as u64,
        r13: entry as usize as u64,
        r14: 0,
        r15: 0,
        rsp: (stack_top & !15) as u64,
        rip: start,
    }
}

/// Save the current thread into `from` and resume `to`.
///
/// # Safety
/// See [`arch_api::Arch::switch`].
pub unsafe fn switch(from: *mut Context, to: *const Context) {
    // SAFETY: forwarded to the caller; `x86_switch` preserves the ABI's callee-saved state.
    unsafe { x86_switch(from, to) }
}
