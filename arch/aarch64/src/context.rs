//! Kernel-thread contexts and the context switch.
//!
//! `switch` is an ordinary call, so it saves exactly what AAPCS64 says a callee preserves:
//! x19-x28, the frame pointer x29, the link register x30, sp, and the low 64 bits of v8-v15
//! (d8-d15), which Rust code compiled with FP/SIMD may keep live across the call.

/// Saved state of a thread that is not running.
#[repr(C)]
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// x19..=x28.
    x19_x28: [u64; 10],
    fp: u64,
    lr: u64,
    sp: u64,
    /// d8..=d15.
    d8_d15: [u64; 8],
    _pad: u64,
}

const _: () = assert!(core::mem::size_of::<Context>() == 22 * 8);

core::arch::global_asm!(
    r#"
    .section .text.switch, "ax"
    .global __arch_switch
__arch_switch:
    stp     x19, x20, [x0, #0]
    stp     x21, x22, [x0, #16]
    stp     x23, x24, [x0, #32]
    stp     x25, x26, [x0, #48]
    stp     x27, x28, [x0, #64]
    stp     x29, x30, [x0, #80]
    mov     x9, sp
    str     x9, [x0, #96]
    stp     d8, d9, [x0, #104]
    stp     d10, d11, [x0, #120]
    stp     d12, d13, [x0, #136]
    stp     d14, d15, [x0, #152]

    ldp     x19, x20, [x1, #0]
    ldp     x21, x22, [x1, #16]
    ldp     x23, x24, [x1, #32]
    ldp     x25, x26, [x1, #48]
    ldp     x27, x28, [x1, #64]
    ldp     x29, x30, [x1, #80]
    ldr     x9, [x1, #96]
    mov     sp, x9
    ldp     d8, d9, [x1, #104]
    ldp     d10, d11, [x1, #120]
    ldp     d12, d13, [x1, #136]
    ldp     d14, d15, [x1, #152]
    ret

    /* First run of a thread: x19 = entry, x20 = argument; no caller frame. */
    .global __arch_thread_start
__arch_thread_start:
    mov     x0, x20
    mov     x29, xzr
    mov     x30, xzr
    br      x19
"#
);

unsafe extern "C" {
    fn __arch_switch(from: *mut Context, to: *const Context);
    fn __arch_thread_start() -> !;
}

/// A context whose first `switch` runs `entry(arg)` on the stack ending at `stack_top`.
pub fn init(stack_top: usize, entry: extern "C" fn(usize) -> !, arg: usize) -> Context {
    let mut c = Context::default();
    c.x19_x28[0] = entry as usize as u64;
    c.x19_x28[1] = arg as u64;
    c.lr = __arch_thread_start as *const () as u64;
    c.sp = (stack_top & !15) as u64;
    c
}

/// Save into `from`, resume `to`.
///
/// # Safety
/// See [`arch_api::Arch::switch`].
pub unsafe fn switch(from: *mut Context, to: *const Context) {
    // SAFETY: the caller guarantees valid, distinct contexts and masked IRQs; `to` was made
    // by `init` or saved by this function, so its sp and lr are a valid resume point.
    unsafe { __arch_switch(from, to) }
}
