//! User mode (EL0): the saved user state, entering EL0 and coming back, decoding why it came
//! back, and the user-copy primitives.
//!
//! **Regimes.** At EL2 with VHE (HCR_EL2.{E2H,TGE} = {1,1}) EL0 runs in the EL2&0 regime: the
//! user root is TTBR0_EL2 and every exception from EL0 goes to EL2, to the "lower EL, AArch64"
//! quarter of VBAR_EL2. At EL1 it is TTBR0_EL1 and VBAR_EL1. With E2H the `_EL1` register names
//! reach the `_EL2` registers (Arm ARM D5.6.2 "Virtualization Host Extensions"), so the code
//! below is the same for both; only the hardware's routing differs.
//!
//! **Entry and exit.** [`run_user`] calls `__arch_run_user`, which pushes the kernel's
//! callee-saved registers (x19-x30, d8-d15) and FPCR on the thread's kernel stack, loads the
//! whole user state from the [`UserContext`] and `eret`s. The kernel stack pointer needs no
//! separate per-CPU record: the kernel runs on SP_ELx (SPSel = 1), which EL0 cannot touch, so
//! the exception from EL0 arrives with SP_ELx still pointing at that frame. The lower-EL
//! vectors (`traps.rs`) branch to `__arch_user_exit`, which stores the user state back into
//! the context (whose address the frame holds), pops the frame and returns from
//! `__arch_run_user` with the vector number. So a user exit is an ordinary function return:
//! the interrupt handler, and the scheduler it may enter, run on the thread's own kernel stack
//! with the user state already saved.
//!
//! **User copies** use the unprivileged `ldtr`/`sttr` (Arm ARM C6.2 "LDTR"): the MMU checks
//! them with EL0's permissions, so a kernel address or a read-only user page faults just like
//! an unmapped one and no PAN window is ever opened. At EL2 they are unprivileged only because
//! E2H and TGE are both set (without them they would act as EL2 accesses); the kernel is never
//! at EL2 without VHE. Each of them is in the exception table: a fault resumes at a fixup that
//! returns the ESR and FAR of the first inaccessible byte (see the assembly). PAN (FEAT_PAN) is enabled where the CPU has it, with SCTLR.SPAN
//! clear so every exception entry sets it again: an ordinary kernel load or store of user
//! memory then faults, which catches code that forgot to use the copy functions.

use core::sync::atomic::{AtomicBool, Ordering};

use aarch64_cpu::registers::{DAIF, Readable, Writeable};
use arch_api::{Fault, UserException, UserExit};

/// End of the user half: TTBR0 translates 48 bits (T0SZ = 16).
pub const USER_END: u64 = 1 << 48;

/// The saved user register state of a thread (what `__arch_run_user` loads and
/// `__arch_user_exit` stores; offsets are fixed by the assembly below).
#[repr(C, align(16))]
#[derive(Clone, Debug, Default)]
pub struct UserContext {
    /// x0..=x30.
    pub x: [u64; 31],
    /// SP_EL0.
    pub sp: u64,
    /// ELR: where user code resumes.
    pub pc: u64,
    /// SPSR: only NZCV is user-controlled; mode EL0t and DAIF clear are forced on entry.
    pub spsr: u64,
    /// TPIDR_EL0, the TLS pointer (user code may change it; saved on every exit).
    pub tpidr: u64,
    /// TPIDRRO_EL0 (read-only for user code: loaded on entry, not saved).
    pub tpidrro: u64,
    pub fpcr: u64,
    pub fpsr: u64,
    /// q0..=q31 as (low, high) 64-bit halves.
    pub v: [[u64; 2]; 32],
    /// ESR and FAR of the last exit (exit information, not user state).
    pub esr: u64,
    pub far: u64,
}

const OFF_SP: usize = 248;
const OFF_SPSR: usize = 264;
const OFF_TPIDR: usize = 272;
const OFF_TPIDRRO: usize = 280;
const OFF_FPCR: usize = 288;
const OFF_V: usize = 304;
const OFF_ESR: usize = 816;
const _: () = assert!(core::mem::offset_of!(UserContext, sp) == OFF_SP);
const _: () = assert!(core::mem::offset_of!(UserContext, pc) == OFF_SP + 8);
const _: () = assert!(core::mem::offset_of!(UserContext, spsr) == OFF_SPSR);
const _: () = assert!(core::mem::offset_of!(UserContext, tpidr) == OFF_TPIDR);
const _: () = assert!(core::mem::offset_of!(UserContext, tpidrro) == OFF_TPIDRRO);
const _: () = assert!(core::mem::offset_of!(UserContext, fpcr) == OFF_FPCR);
const _: () = assert!(core::mem::offset_of!(UserContext, fpsr) == OFF_FPCR + 8);
const _: () = assert!(core::mem::offset_of!(UserContext, v) == OFF_V);
const _: () = assert!(core::mem::offset_of!(UserContext, esr) == OFF_ESR);
const _: () = assert!(core::mem::offset_of!(UserContext, far) == OFF_ESR + 8);
const _: () = assert!(core::mem::size_of::<UserContext>() == 832);

/// SPSR bits user code may set: the condition flags N, Z, C, V. Everything else (mode, DAIF,
/// PAN, IL, SS) is the kernel's: mode 0 is EL0t, and DAIF clear lets interrupts in.
const SPSR_USER_MASK: u64 = 0xf000_0000;

impl arch_api::UserContext for UserContext {
    fn new(entry: u64, sp: u64) -> Self {
        Self {
            pc: entry,
            sp,
            ..Self::default()
        }
    }

    fn ip(&self) -> u64 {
        self.pc
    }

    fn set_ip(&mut self, ip: u64) {
        self.pc = ip;
    }

    fn sp(&self) -> u64 {
        self.sp
    }

    fn set_sp(&mut self, sp: u64) {
        self.sp = sp;
    }

    fn tls(&self) -> u64 {
        self.tpidr
    }

    fn set_tls(&mut self, tls: u64) {
        self.tpidr = tls;
    }

    /// Linux arm64: the number is in x8 (`svc #0`'s immediate is ignored).
    fn syscall_number(&self) -> usize {
        self.x[8] as usize
    }

    fn syscall_args(&self) -> [usize; 6] {
        core::array::from_fn(|i| self.x[i] as usize)
    }

    fn set_syscall_return(&mut self, value: usize) {
        self.x[0] = value as u64;
    }

    fn set_call_args(&mut self, a0: u64, a1: u64, a2: u64) {
        self.x[0] = a0;
        self.x[1] = a1;
        self.x[2] = a2;
    }

    fn set_return_address(&mut self, ra: u64) {
        self.x[30] = ra;
    }

    const SIGNAL_REGS: usize = 34;
    fn signal_reg(&self, i: usize) -> u64 {
        match i {
            0..=30 => self.x[i],
            31 => self.sp,
            32 => self.pc,
            33 => self.spsr & SPSR_USER_MASK,
            _ => 0,
        }
    }
    fn set_signal_reg(&mut self, i: usize, v: u64) {
        match i {
            0..=30 => self.x[i] = v,
            31 => self.sp = v,
            32 => self.pc = v,
            // NZCV only: the mode stays EL0t and DAIF clear (entry forces them too).
            33 => self.spsr = v & SPSR_USER_MASK,
            _ => {}
        }
    }
    const FP_STATE_SIZE: usize = 520;
    fn fp_state(&self, out: &mut [u8]) {
        if out.len() < 520 {
            return;
        }
        out[0..4].copy_from_slice(&(self.fpsr as u32).to_le_bytes());
        out[4..8].copy_from_slice(&(self.fpcr as u32).to_le_bytes());
        for (i, v) in self.v.iter().enumerate() {
            out[8 + 16 * i..16 + 16 * i].copy_from_slice(&v[0].to_le_bytes());
            out[16 + 16 * i..24 + 16 * i].copy_from_slice(&v[1].to_le_bytes());
        }
    }
    fn set_fp_state(&mut self, src: &[u8]) {
        if src.len() < 520 {
            return;
        }
        let w = |o: usize| u32::from_le_bytes([src[o], src[o + 1], src[o + 2], src[o + 3]]);
        let d = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&src[o..o + 8]);
            u64::from_le_bytes(b)
        };
        // FPSR and FPCR are 32-bit; writes of their RES0 bits are ignored by the CPU.
        self.fpsr = u64::from(w(0));
        self.fpcr = u64::from(w(4));
        for i in 0..32 {
            self.v[i] = [d(8 + 16 * i), d(16 + 16 * i)];
        }
    }
    fn restart_syscall(&mut self, _nr: usize, arg0: usize) {
        // SVC is one 4-byte instruction; x8 still holds the number.
        self.pc = self.pc.wrapping_sub(4);
        self.x[0] = arg0 as u64;
    }
}

/// Size of `__arch_run_user`'s frame: {x29, x30}, x19-x28, d8-d15, the context pointer and
/// the kernel's FPCR.
const RUN_FRAME: usize = 176;
const RUN_CTX: usize = 160;

core::arch::global_asm!(
    r#"
    .section .text.user, "ax"
    /* x0 = &mut UserContext. Returns (in x0) the number of the vector that ended the run. */
    .global __arch_run_user
__arch_run_user:
    stp     x29, x30, [sp, #-{frame}]!
    mov     x29, sp
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mrs     x1, fpcr
    stp     x0, x1, [sp, #{ctx}]
    /* Nothing may interrupt between loading ELR/SPSR and the eret. */
    msr     daifset, #0xf
    /* Page-table stores (a page just mapped for a fault) reach the walker before EL0 runs;
       the eret is the context synchronisation. */
    dsb     ishst
    ldp     x1, x2, [x0, #{off_sp}]
    msr     sp_el0, x1
    msr     elr_el1, x2
    ldp     x1, x2, [x0, #{off_spsr}]
    msr     spsr_el1, x1
    msr     tpidr_el0, x2
    ldp     x1, x2, [x0, #{off_tpidrro}]
    msr     tpidrro_el0, x1
    msr     fpcr, x2
    ldr     x1, [x0, #{off_fpcr} + 8]
    msr     fpsr, x1
    add     x1, x0, #{off_v}
    ldp     q0, q1, [x1, #0]
    ldp     q2, q3, [x1, #32]
    ldp     q4, q5, [x1, #64]
    ldp     q6, q7, [x1, #96]
    ldp     q8, q9, [x1, #128]
    ldp     q10, q11, [x1, #160]
    ldp     q12, q13, [x1, #192]
    ldp     q14, q15, [x1, #224]
    ldp     q16, q17, [x1, #256]
    ldp     q18, q19, [x1, #288]
    ldp     q20, q21, [x1, #320]
    ldp     q22, q23, [x1, #352]
    ldp     q24, q25, [x1, #384]
    ldp     q26, q27, [x1, #416]
    ldp     q28, q29, [x1, #448]
    ldp     q30, q31, [x1, #480]
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret

    /* From a lower-EL vector: x0 = vector number, user x0/x1 pushed at [sp], and below them
       the frame of __arch_run_user. */
    .global __arch_user_exit
__arch_user_exit:
    ldr     x1, [sp, #16 + {ctx}]
    stp     x2, x3, [x1, #16]
    stp     x4, x5, [x1, #32]
    stp     x6, x7, [x1, #48]
    stp     x8, x9, [x1, #64]
    stp     x10, x11, [x1, #80]
    stp     x12, x13, [x1, #96]
    stp     x14, x15, [x1, #112]
    stp     x16, x17, [x1, #128]
    stp     x18, x19, [x1, #144]
    stp     x20, x21, [x1, #160]
    stp     x22, x23, [x1, #176]
    stp     x24, x25, [x1, #192]
    stp     x26, x27, [x1, #208]
    stp     x28, x29, [x1, #224]
    mrs     x2, sp_el0
    stp     x30, x2, [x1, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [x1, #{off_sp} + 8]
    mrs     x2, tpidr_el0
    str     x2, [x1, #{off_tpidr}]
    mrs     x2, fpcr
    mrs     x3, fpsr
    stp     x2, x3, [x1, #{off_fpcr}]
    mrs     x2, esr_el1
    mrs     x3, far_el1
    str     x2, [x1, #{off_esr}]
    str     x3, [x1, #{off_esr} + 8]
    add     x2, x1, #{off_v}
    stp     q0, q1, [x2, #0]
    stp     q2, q3, [x2, #32]
    stp     q4, q5, [x2, #64]
    stp     q6, q7, [x2, #96]
    stp     q8, q9, [x2, #128]
    stp     q10, q11, [x2, #160]
    stp     q12, q13, [x2, #192]
    stp     q14, q15, [x2, #224]
    stp     q16, q17, [x2, #256]
    stp     q18, q19, [x2, #288]
    stp     q20, q21, [x2, #320]
    stp     q22, q23, [x2, #352]
    stp     q24, q25, [x2, #384]
    stp     q26, q27, [x2, #416]
    stp     q28, q29, [x2, #448]
    stp     q30, q31, [x2, #480]
    ldp     x2, x3, [sp], #16
    stp     x2, x3, [x1, #0]
    ldr     x2, [sp, #{ctx} + 8]
    msr     fpcr, x2
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    ldp     x29, x30, [sp], #{frame}
    ret

    /* User copies: x0 = destination, x1 = source, x2 = length, x3 = where to store {{esr,
       far}} on a fault. Return 0, or 1 after a fault. 8 bytes at a time, then bytes. A fault
       in the 8-byte loop (which advances nothing before its user access succeeds) falls back
       to the byte loop, which copies up to the first inaccessible byte and faults exactly
       there: an 8-byte access that straddles a page may report an address in the good page,
       and the caller needs the page that is missing. */
    .global __arch_copy_from_user
__arch_copy_from_user:
    cmp     x2, #8
    b.lo    2f
1:  ldtr    x4, [x1]
    str     x4, [x0], #8
    add     x1, x1, #8
    sub     x2, x2, #8
    cmp     x2, #8
    b.hs    1b
2:  cbz     x2, 4f
3:  ldtrb   w4, [x1]
    strb    w4, [x0], #1
    add     x1, x1, #1
    subs    x2, x2, #1
    b.ne    3b
4:  mov     x0, #0
    ret
    .pushsection __ex_table, "a"
    .balign 8
    .quad   1b, 2b
    .quad   3b, __arch_copy_fault
    .popsection

    .global __arch_copy_to_user
__arch_copy_to_user:
    cmp     x2, #8
    b.lo    2f
1:  ldr     x4, [x1]
5:  sttr    x4, [x0]
    add     x1, x1, #8
    add     x0, x0, #8
    sub     x2, x2, #8
    cmp     x2, #8
    b.hs    1b
2:  cbz     x2, 4f
3:  ldrb    w4, [x1]
6:  sttrb   w4, [x0]
    add     x1, x1, #1
    add     x0, x0, #1
    subs    x2, x2, #1
    b.ne    3b
4:  mov     x0, #0
    ret
    .pushsection __ex_table, "a"
    .balign 8
    .quad   5b, 2b
    .quad   6b, __arch_copy_fault
    .popsection

    /* The fixup: the trap handler put ESR in x16 and FAR in x17. */
__arch_copy_fault:
    stp     x16, x17, [x3]
    mov     x0, #1
    ret
"#,
    frame = const RUN_FRAME,
    ctx = const RUN_CTX,
    off_sp = const OFF_SP,
    off_spsr = const OFF_SPSR,
    off_tpidr = const OFF_TPIDR,
    off_tpidrro = const OFF_TPIDRRO,
    off_fpcr = const OFF_FPCR,
    off_v = const OFF_V,
    off_esr = const OFF_ESR,
);

unsafe extern "C" {
    fn __arch_run_user(ctx: *mut UserContext) -> u64;
    fn __arch_copy_from_user(dst: *mut u8, src: u64, len: usize, fault: *mut [u64; 2]) -> u64;
    fn __arch_copy_to_user(dst: u64, src: *const u8, len: usize, fault: *mut [u64; 2]) -> u64;
}

/// Exception classes (ESR_ELx.EC, Arm ARM D17.2.37) that user exits distinguish.
const EC_UNKNOWN: u64 = 0x00;
const EC_ILLEGAL_STATE: u64 = 0x0e;
const EC_SVC64: u64 = 0x15;
const EC_SYSREG: u64 = 0x18;
const EC_IABT_LOWER: u64 = 0x20;
const EC_PC_ALIGN: u64 = 0x22;
const EC_DABT_LOWER: u64 = 0x24;
/// Data abort at the current EL: the `kind` of a copy rejected before any access.
const EC_DABT_CURRENT: u64 = 0x25;
const EC_SP_ALIGN: u64 = 0x26;
const EC_FP_EXC64: u64 = 0x2c;
const EC_BKPT_LOWER: u64 = 0x30;
const EC_STEP_LOWER: u64 = 0x32;
const EC_WATCH_LOWER: u64 = 0x34;
const EC_BRK: u64 = 0x3c;

/// Data abort ISS: WnR (the access was a write) and CM (a cache-maintenance instruction,
/// which reports WnR = 1 but only needs read permission).
const ISS_WNR: u64 = 1 << 6;
const ISS_CM: u64 = 1 << 8;

/// Run user code with `ctx` until it traps back; see the module documentation.
pub fn run_user(ctx: &mut UserContext) -> UserExit {
    ctx.spsr &= SPSR_USER_MASK;
    let daif = DAIF.get();
    // SAFETY: `ctx` is a valid, exclusive context for the whole run (the exit path writes it
    // back before returning); `__arch_run_user` preserves every callee-saved register and the
    // stack like a normal call, and the user state it loads can only reach EL0 (the SPSR was
    // masked to EL0t above), whose exceptions all come back through `__arch_user_exit`.
    let vector = unsafe { __arch_run_user(ctx) };
    let exit = match vector {
        8 => sync_exit(ctx.esr, ctx.far),
        9 => {
            // Interrupts are still masked, as in a vector: the handler may run the tick and
            // switch threads; this one resumes here later.
            crate::gic::handle_irq();
            UserExit::Interrupt
        }
        // No FIQ source is configured; should one fire, nothing is owed to it but a retry.
        10 => UserExit::Interrupt,
        // SError (11), or an AArch32 vector (12-15, impossible: the SPSR forces AArch64):
        // reported to the kernel, never fatal.
        _ => UserExit::Exception(UserException::Other { code: ctx.esr }),
    };
    DAIF.set(daif);
    exit
}

/// The user exit for a synchronous exception with syndrome `esr`.
fn sync_exit(esr: u64, far: u64) -> UserExit {
    let ec = (esr >> 26) & 0x3f;
    let exception = match ec {
        EC_SVC64 => return UserExit::Syscall,
        EC_IABT_LOWER | EC_DABT_LOWER => return abort_exit(ec, esr, far),
        // An undefined instruction (`udf` included), an EL0 access to a privileged register,
        // or a trapped register access the kernel does not emulate.
        EC_UNKNOWN | EC_ILLEGAL_STATE | EC_SYSREG => UserException::IllegalInstruction,
        EC_PC_ALIGN | EC_SP_ALIGN => UserException::Alignment,
        EC_FP_EXC64 => UserException::FloatingPoint,
        EC_BRK | EC_BKPT_LOWER | EC_STEP_LOWER | EC_WATCH_LOWER => UserException::Breakpoint,
        _ => UserException::Other { code: esr },
    };
    UserExit::Exception(exception)
}

/// Instruction and data aborts from EL0: the fault status code (ISS[5:0], DFSC/IFSC) tells a
/// missing translation from a permission or access-flag fault on a mapped page.
fn abort_exit(ec: u64, esr: u64, far: u64) -> UserExit {
    let exec = ec == EC_IABT_LOWER;
    let write = !exec && esr & ISS_WNR != 0 && esr & ISS_CM == 0;
    let present = match esr & 0x3f {
        // Translation fault, levels 0-3.
        0x04..=0x07 => false,
        // Access flag fault, permission fault (levels 0-3).
        0x08..=0x0f => true,
        0x21 => return UserExit::Exception(UserException::Alignment),
        // Address size, external aborts, TLB conflicts: not something paging can fix.
        _ => return UserExit::Exception(UserException::Other { code: esr }),
    };
    UserExit::PageFault {
        addr: far,
        write,
        exec,
        present,
    }
}

/// Check that `[addr, addr + len)` does not wrap and lies below [`USER_END`].
fn check_range(addr: u64, len: usize) -> Result<(), Fault> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= USER_END => Ok(()),
        _ => Err(Fault {
            kind: EC_DABT_CURRENT,
            addr,
        }),
    }
}

fn fault_from(fault: [u64; 2]) -> Fault {
    Fault {
        kind: (fault[0] >> 26) & 0x3f,
        addr: fault[1],
    }
}

/// Copy `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Fault> {
    check_range(src, dst.len())?;
    let mut fault = [0u64; 2];
    // SAFETY: `dst` is valid for `dst.len()` bytes of writes; the user side is only touched
    // with `ldtr`, listed in the exception table, so a bad user address returns through the
    // fixup with the fault stored in `fault`.
    let failed = unsafe { __arch_copy_from_user(dst.as_mut_ptr(), src, dst.len(), &raw mut fault) };
    if failed == 0 {
        Ok(())
    } else {
        Err(fault_from(fault))
    }
}

/// Copy `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Fault> {
    check_range(dst, src.len())?;
    let mut fault = [0u64; 2];
    // SAFETY: `src` is valid for reads; the user side is only written with `sttr` (EL0
    // permissions, exception table), as in `copy_from_user`.
    let failed = unsafe { __arch_copy_to_user(dst, src.as_ptr(), src.len(), &raw mut fault) };
    if failed == 0 {
        Ok(())
    } else {
        Err(fault_from(fault))
    }
}

/// ID_AA64MMFR1_EL1.PAN, bits [23:20]: non-zero when FEAT_PAN is implemented.
fn has_pan() -> bool {
    let mmfr1: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, id_aa64mmfr1_el1", out(reg) mmfr1, options(nomem, nostack))
    };
    (mmfr1 >> 20) & 0xf != 0
}

/// SCTLR.SPAN: when clear, taking an exception to this EL sets PSTATE.PAN.
const SCTLR_SPAN: u64 = 1 << 23;

static PAN: AtomicBool = AtomicBool::new(false);

/// Whether [`init_pan`] enabled PAN.
pub fn pan_enabled() -> bool {
    PAN.load(Ordering::Relaxed)
}

/// CNTKCTL_EL1.EL0VCTEN (CNTHCTL_EL2.EL0VCTEN with E2H): EL0 may read CNTVCT_EL0 and
/// CNTFRQ_EL0, as on Linux, where the vDSO and some programs read the counter directly.
const CNTKCTL_EL0VCTEN: u64 = 1 << 1;

/// Per-CPU EL0 setup: user access to the virtual counter, and PAN.
pub fn init_cpu() {
    // SAFETY: only widens what EL0 may read (the virtual counter, which has no offset for
    // user code: CNTVOFF_EL2 is zero or, at EL2 with TGE, not applied); other bits are kept.
    unsafe {
        core::arch::asm!(
            "mrs {t}, cntkctl_el1",
            "orr {t}, {t}, #{en}",
            "msr cntkctl_el1, {t}",
            "isb",
            t = out(reg) _,
            en = const CNTKCTL_EL0VCTEN,
            options(nostack, preserves_flags),
        );
    }
    init_pan();
}

/// Enable Privileged Access Never on this CPU if it has it.
fn init_pan() {
    if !has_pan() {
        return;
    }
    // SAFETY: clearing SCTLR.SPAN (SCTLR_EL2 with E2H) only makes exception entry set PAN;
    // setting PSTATE.PAN (register `PAN`, s3_0_c4_c2_3) only forbids privileged accesses to
    // EL0-accessible pages, which the kernel makes only through `ldtr`/`sttr`. The kernel
    // itself reaches every frame through the direct map, which EL0 cannot access.
    unsafe {
        core::arch::asm!(
            "mrs {t}, sctlr_el1",
            "bic {t}, {t}, #{span}",
            "msr sctlr_el1, {t}",
            "mov {t}, #1 << 22",
            "msr s3_0_c4_c2_3, {t}",
            "isb",
            t = out(reg) _,
            span = const SCTLR_SPAN,
            options(nostack, preserves_flags),
        );
    }
    PAN.store(true, Ordering::Relaxed);
}
