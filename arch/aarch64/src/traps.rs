//! Exception vectors, the trap frame, the Rust dispatcher and the exception (fixup) table.
//!
//! One vector table (Arm ARM D1.10.2 "Exception vectors") serves EL2 with VHE and EL1: it is
//! installed with `msr vbar_el1`, which at EL2 with E2H = 1 writes VBAR_EL2, and it reads
//! ELR/SPSR/ESR/FAR through the `_EL1` names for the same reason. The eight lower-EL entries
//! (exceptions from EL0) end a `run_user` call instead (`user.rs`). Each of the eight
//! current-EL entries reserves a [`TrapFrame`] on the current stack and jumps to common code
//! that saves every general-purpose register, the FP/SIMD registers (the kernel is compiled
//! with FP/SIMD enabled, so a handler may clobber them), SP, ELR, SPSR, ESR and FAR, links a
//! frame record so backtraces continue into the interrupted code, and calls
//! [`trap_dispatch`].

use core::sync::atomic::{AtomicU64, Ordering};

use arch_api::Fault;

/// Register state saved on exception entry; restored (with any change to `x`, `elr` or
/// `spsr`) on return.
#[repr(C)]
pub struct TrapFrame {
    pub x: [u64; 31],
    /// Stack pointer of the interrupted code when it ran at the current EL.
    pub sp: u64,
    pub elr: u64,
    pub spsr: u64,
    pub esr: u64,
    pub far: u64,
    pub fpcr: u64,
    pub fpsr: u64,
    /// SP_EL0 (the stack pointer of interrupted EL0 code).
    pub sp_el0: u64,
    _pad: u64,
    /// q0..q31.
    pub v: [[u64; 2]; 32],
    /// Frame record {x29, elr} that x29 points to while the handler runs.
    frame_record: [u64; 2],
}

const FRAME_SIZE: usize = core::mem::size_of::<TrapFrame>();
const OFF_SP: usize = 248;
const OFF_ELR: usize = 256;
const OFF_ESR: usize = 272;
const OFF_FPCR: usize = 288;
const OFF_SP_EL0: usize = 304;
const OFF_V: usize = 320;
const OFF_RECORD: usize = 832;
const _: () = assert!(FRAME_SIZE == 848 && FRAME_SIZE.is_multiple_of(16));
const _: () = assert!(core::mem::offset_of!(TrapFrame, sp) == OFF_SP);
const _: () = assert!(core::mem::offset_of!(TrapFrame, elr) == OFF_ELR);
const _: () = assert!(core::mem::offset_of!(TrapFrame, esr) == OFF_ESR);
const _: () = assert!(core::mem::offset_of!(TrapFrame, fpcr) == OFF_FPCR);
const _: () = assert!(core::mem::offset_of!(TrapFrame, sp_el0) == OFF_SP_EL0);
const _: () = assert!(core::mem::offset_of!(TrapFrame, v) == OFF_V);
const _: () = assert!(core::mem::offset_of!(TrapFrame, frame_record) == OFF_RECORD);

core::arch::global_asm!(
    r#"
    .macro VENTRY kind
    .balign 0x80
    sub     sp, sp, #{frame_size}
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       __trap_common
    .endm

    /* From EL0 (user.rs): SP_ELx is the frame of __arch_run_user. */
    .macro UENTRY kind
    .balign 0x80
    stp     x0, x1, [sp, #-16]!
    mov     x0, #\kind
    b       __arch_user_exit
    .endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global __vectors
__vectors:
    VENTRY 0
    VENTRY 1
    VENTRY 2
    VENTRY 3
    VENTRY 4
    VENTRY 5
    VENTRY 6
    VENTRY 7
    UENTRY 8
    UENTRY 9
    UENTRY 10
    UENTRY 11
    UENTRY 12
    UENTRY 13
    UENTRY 14
    UENTRY 15

__trap_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    add     x1, sp, #{frame_size}
    stp     x30, x1, [sp, #240]
    mrs     x1, elr_el1
    mrs     x2, spsr_el1
    stp     x1, x2, [sp, #{off_elr}]
    mrs     x1, esr_el1
    mrs     x2, far_el1
    stp     x1, x2, [sp, #{off_esr}]
    mrs     x1, fpcr
    mrs     x2, fpsr
    stp     x1, x2, [sp, #{off_fpcr}]
    mrs     x1, sp_el0
    str     x1, [sp, #{off_sp_el0}]
    add     x1, sp, #{off_v}
    stp     q0, q1, [x1, #0]
    stp     q2, q3, [x1, #32]
    stp     q4, q5, [x1, #64]
    stp     q6, q7, [x1, #96]
    stp     q8, q9, [x1, #128]
    stp     q10, q11, [x1, #160]
    stp     q12, q13, [x1, #192]
    stp     q14, q15, [x1, #224]
    stp     q16, q17, [x1, #256]
    stp     q18, q19, [x1, #288]
    stp     q20, q21, [x1, #320]
    stp     q22, q23, [x1, #352]
    stp     q24, q25, [x1, #384]
    stp     q26, q27, [x1, #416]
    stp     q28, q29, [x1, #448]
    stp     q30, q31, [x1, #480]
    ldr     x2, [sp, #{off_elr}]
    add     x1, sp, #{off_record}
    stp     x29, x2, [x1]
    mov     x29, x1
    mov     x1, x0
    mov     x0, sp
    bl      {dispatch}

    add     x1, sp, #{off_v}
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
    ldp     x1, x2, [sp, #{off_fpcr}]
    msr     fpcr, x1
    msr     fpsr, x2
    ldr     x1, [sp, #{off_sp_el0}]
    msr     sp_el0, x1
    ldp     x1, x2, [sp, #{off_elr}]
    msr     elr_el1, x1
    msr     spsr_el1, x2
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #{frame_size}
    eret

    /* probe_read: x0 = address, x1 = where to store {{esr, far}} on a fault. */
    .section .text.probe, "ax"
    .global __arch_probe_read
__arch_probe_read:
    mov     x2, x0
1:  ldr     x0, [x2]
    ret
2:  stp     x16, x17, [x1]
    mov     x0, xzr
    ret
    .pushsection __ex_table, "a"
    .balign 8
    .quad   1b, 2b
    .popsection
"#,
    frame_size = const FRAME_SIZE,
    off_elr = const OFF_ELR,
    off_esr = const OFF_ESR,
    off_fpcr = const OFF_FPCR,
    off_sp_el0 = const OFF_SP_EL0,
    off_v = const OFF_V,
    off_record = const OFF_RECORD,
    dispatch = sym trap_dispatch,
);

unsafe extern "C" {
    static __extable_start: [u64; 2];
    static __extable_end: [u64; 2];
    fn __arch_probe_read(addr: u64, fault: *mut [u64; 2]) -> u64;
}

/// The exception table: pairs (address of an instruction allowed to fault, where to resume).
///
/// A synchronous exception taken at the current EL on one of these instructions resumes at
/// the fixup with x16 = ESR and x17 = FAR (the intra-procedure-call scratch registers, which no
/// caller expects preserved). `probe_read` is the first user; copies from/to user memory use
/// the same mechanism.
fn fixup_for(pc: u64) -> Option<u64> {
    let start = &raw const __extable_start;
    let end = &raw const __extable_end;
    // SAFETY: the linker script places __ex_table, an array of [u64; 2], between the two
    // symbols, in read-only data that lives for the whole run.
    let table = unsafe { core::slice::from_raw_parts(start, end.offset_from(start) as usize) };
    table.iter().find(|e| e[0] == pc).map(|e| e[1])
}

/// Read 8 bytes at `addr`; a fault comes back as its ESR exception class and FAR.
pub fn probe_read(addr: u64) -> Result<u64, Fault> {
    let mut fault = [0u64; 2];
    // SAFETY: `__arch_probe_read` is listed in the exception table: a faulting load returns
    // through the fixup with ESR/FAR stored to `fault`, which is valid for writes.
    let value = unsafe { __arch_probe_read(addr, &mut fault) };
    if fault[0] == 0 {
        Ok(value)
    } else {
        Err(Fault {
            kind: esr_class(fault[0]),
            addr: fault[1],
        })
    }
}

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);

/// Execute `brk #0`; returns how many breakpoints were handled so far.
pub fn breakpoint() -> u64 {
    // SAFETY: BRK traps to `trap_dispatch`, which logs it and resumes after the instruction.
    unsafe { core::arch::asm!("brk #0", options(nomem, nostack)) };
    BREAKPOINTS.load(Ordering::Relaxed)
}

const fn esr_class(esr: u64) -> u64 {
    (esr >> 26) & 0x3f
}

/// Exception classes (ESR_ELx.EC, Arm ARM D17.2.37).
pub const EC_BRK: u64 = 0x3c;

fn ec_name(ec: u64) -> &'static str {
    match ec {
        0x00 => "Unknown reason",
        0x01 => "WFI/WFE trap",
        0x07 => "FP/SIMD access trap",
        0x0e => "Illegal execution state",
        0x15 => "SVC (AArch64)",
        0x16 => "HVC (AArch64)",
        0x17 => "SMC (AArch64)",
        0x18 => "MSR/MRS trap",
        0x19 => "SVE access trap",
        0x20 => "Instruction abort (lower EL)",
        0x21 => "Instruction abort (same EL)",
        0x22 => "PC alignment fault",
        0x24 => "Data abort (lower EL)",
        0x25 => "Data abort (same EL)",
        0x26 => "SP alignment fault",
        0x2c => "FP exception",
        0x2f => "SError",
        0x30 | 0x31 => "Breakpoint",
        0x32 | 0x33 => "Software step",
        0x34 | 0x35 => "Watchpoint",
        0x3c => "BRK instruction",
        _ => "Other",
    }
}

/// Vector offsets /0x80: 0-3 current EL with SP_EL0, 4-7 current EL with SP_ELx, 8-11 lower
/// EL AArch64, 12-15 lower EL AArch32; within each group sync, IRQ, FIQ, SError.
const KIND_NAMES: [&str; 4] = ["synchronous", "IRQ", "FIQ", "SError"];

/// Called by `__trap_common` with the saved frame and the vector index.
extern "C" fn trap_dispatch(frame: &mut TrapFrame, kind: u64) {
    match kind {
        4 => sync(frame, kind),
        5 => crate::gic::handle_irq(),
        _ => unhandled(frame, kind, "unexpected vector"),
    }
}

fn sync(frame: &mut TrapFrame, kind: u64) {
    if esr_class(frame.esr) == EC_BRK {
        let n = BREAKPOINTS.fetch_add(1, Ordering::Relaxed) + 1;
        log::info!(
            "breakpoint #{n} (brk #{:#x}) at {:#x}, resuming",
            frame.esr & 0xffff,
            frame.elr
        );
        frame.elr += 4;
        return;
    }
    // Any synchronous exception on a listed instruction (a data abort for probes and user
    // copies, an undefined HLT when semihosting is off) is fixed up.
    if let Some(fixup) = fixup_for(frame.elr) {
        frame.x[16] = frame.esr;
        frame.x[17] = frame.far;
        frame.elr = fixup;
        return;
    }
    unhandled(frame, kind, "unhandled")
}

/// Report the full register state with `log::error!` and panic.
fn unhandled(frame: &TrapFrame, kind: u64, what: &str) -> ! {
    let ec = esr_class(frame.esr);
    let vector = KIND_NAMES[(kind % 4) as usize];
    let from = if kind >= 8 { "lower EL" } else { "current EL" };
    log::error!(
        "EXCEPTION {} (EC {ec:#04x}, {vector} from {from}): ESR={:#x} FAR={:#x} ELR={:#x} \
         SPSR={:#x}",
        ec_name(ec),
        frame.esr,
        frame.far,
        frame.elr,
        frame.spsr
    );
    for row in 0..8 {
        let r = row * 4;
        let reg = |i: usize| if i < 31 { frame.x[i] } else { frame.sp };
        log::error!(
            "  {:>3}={:#018x} {:>3}={:#018x} {:>3}={:#018x} {:>3}={:#018x}",
            RegName(r),
            reg(r),
            RegName(r + 1),
            reg(r + 1),
            RegName(r + 2),
            reg(r + 2),
            RegName(r + 3),
            reg(r + 3)
        );
    }
    panic!(
        "{what} {vector} exception: {} at {:#x} (FAR {:#x})",
        ec_name(ec),
        frame.elr,
        frame.far
    );
}

/// Register name for the report: x0..x30, then sp.
struct RegName(usize);

impl core::fmt::Display for RegName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut buf = [0u8; 3];
        let s: &str = if self.0 == 31 {
            "sp"
        } else {
            let n = self.0;
            let len = if n < 10 {
                buf[0] = b'x';
                buf[1] = b'0' + n as u8;
                2
            } else {
                buf[0] = b'x';
                buf[1] = b'0' + (n / 10) as u8;
                buf[2] = b'0' + (n % 10) as u8;
                3
            };
            core::str::from_utf8(&buf[..len]).unwrap_or("x?")
        };
        f.pad(s)
    }
}
