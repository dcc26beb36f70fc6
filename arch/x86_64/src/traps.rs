//! Exception and interrupt entry. One 16-byte stub per vector pushes a dummy error code where
//! the CPU does not push one (Intel SDM vol. 3A table 6-1) and the vector number, then the
//! common path saves every general-purpose register into a [`TrapFrame`] and calls
//! [`trap_dispatch`]. The `x86-interrupt` ABI is unstable, hence the assembly.

use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::{apic, cpu, extable, time, user};

/// Bytes between consecutive entry stubs.
const STUB_STRIDE: u64 = 16;

/// Vector of the LAPIC timer.
pub const TIMER_VECTOR: u8 = 0x40;
/// LAPIC error vector.
pub const ERROR_VECTOR: u8 = 0xfe;
/// LAPIC spurious-interrupt vector (no EOI, by definition).
pub const SPURIOUS_VECTOR: u8 = 0xff;

pub const VEC_BREAKPOINT: u64 = 3;
pub const VEC_GENERAL_PROTECTION: u64 = 13;
pub const VEC_PAGE_FAULT: u64 = 14;

/// Register state at the time of a trap, in the order the entry path pushes it (lowest
/// address first), followed by what the CPU pushed.
#[derive(Debug)]
#[repr(C)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    /// The CPU's error code, or 0 for vectors without one.
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

// Frame offsets used below: 15 registers (120 bytes), vector at 120, error at 128, RIP at 136,
// CS at 144. Entry from ring 3 swaps GS so `%gs` always means this CPU's block in the kernel.
// RFLAGS is then set to just its reserved bit: DF for the ABI, and AC clear so SMAP holds in
// the handler even when user code, or an interrupted user copy, left AC set. The dispatcher
// returns non-zero when the trap ends a `run_user` (a trap from ring 3).
// Before the call, a fake frame (interrupted RIP, interrupted RBP) links the frame-pointer
// chain through the trap so backtraces continue into the interrupted code.
global_asm!(
    r#"
    .section .text.trap_stubs, "ax"
    .p2align 4
    .globl trap_stubs
trap_stubs:
    .set trap_vector, 0
    .rept 256
    .p2align 4
    .if (trap_vector == 8) || ((trap_vector >= 10) && (trap_vector <= 14)) || (trap_vector == 17) || (trap_vector == 21) || (trap_vector == 29) || (trap_vector == 30)
    .else
    pushq $0
    .endif
    pushq $trap_vector
    jmp trap_common
    .set trap_vector, trap_vector + 1
    .endr

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    testb $3, 144(%rsp)
    jz 1f
    swapgs
1:  pushq $2
    popfq
    movq %rsp, %rdi
    pushq 136(%rsp)
    pushq %rbp
    movq %rsp, %rbp
    call {dispatch}
    addq $16, %rsp
    testq %rax, %rax
    jnz 3f
    testb $3, 144(%rsp)
    jz 2f
    swapgs
2:  popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq
    /* A trap from user mode ends `run_user`: the frame ends at RSP0 (see user.rs). */
3:  addq $176, %rsp
    jmp x86_user_exit
    "#,
    dispatch = sym trap_dispatch,
    options(att_syntax)
);

unsafe extern "C" {
    /// First entry stub; stub `v` is at `trap_stubs + 16 * v`.
    static trap_stubs: u8;
}

/// Address of the entry stub of `vector`.
pub fn stub_address(vector: usize) -> u64 {
    let base = &raw const trap_stubs as u64;
    base + STUB_STRIDE * vector as u64
}

static BREAKPOINTS: AtomicU64 = AtomicU64::new(0);
/// One bit per vector 0..255: unexpected interrupts already reported.
static REPORTED: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Breakpoints handled so far.
pub fn breakpoints() -> u64 {
    BREAKPOINTS.load(Ordering::Relaxed)
}

extern "C" fn trap_dispatch(frame: &mut TrapFrame) -> u64 {
    // NMI, #DF and #MC run on IST stacks, not below RSP0: they stay on the kernel's path (an
    // NMI returns to user code directly; the other two are fatal anyway).
    let ist = matches!(frame.vector, 2 | 8 | 18);
    if frame.cs & 3 == 3 && !ist {
        user::trap_from_user(frame, kernel_trap);
        return 1;
    }
    kernel_trap(frame);
    0
}

fn kernel_trap(frame: &mut TrapFrame) {
    match frame.vector {
        VEC_BREAKPOINT => {
            let n = BREAKPOINTS.fetch_add(1, Ordering::Relaxed) + 1;
            // RIP already points after the int3, so returning resumes.
            log::info!("breakpoint #{n} at RIP={:#x}", frame.rip);
        }
        0..=31 => exception(frame),
        v if v == u64::from(TIMER_VECTOR) => {
            apic::eoi();
            time::tick();
        }
        v if v == u64::from(apic::SERIAL_VECTOR) => {
            crate::console::rx_interrupt();
            apic::eoi();
        }
        v if v == u64::from(SPURIOUS_VECTOR) => {}
        v => {
            let (word, bit) = ((v / 64) as usize, 1u64 << (v % 64));
            if REPORTED[word].fetch_or(bit, Ordering::Relaxed) & bit == 0 {
                log::warn!("unexpected interrupt vector {v} (reported once)");
            }
            // Only an interrupt the LAPIC delivered (its ISR bit is set) takes an EOI; the
            // masked 8259s can still raise spurious IRQ 7/15 that must not get one.
            if apic::in_service(v as u8) {
                apic::eoi();
            }
        }
    }
}

fn exception(frame: &mut TrapFrame) {
    let cr2 = cpu::read_cr2();
    if matches!(frame.vector, VEC_PAGE_FAULT | VEC_GENERAL_PROTECTION)
        && let Some(fixup) = extable::find_fixup(frame.rip)
    {
        // The fixup code receives the vector in RAX and the faulting address in RDX (CR2 for
        // #PF; #GP, e.g. a non-canonical address, has none).
        frame.rax = frame.vector;
        frame.rdx = if frame.vector == VEC_PAGE_FAULT {
            cr2
        } else {
            0
        };
        frame.rip = fixup;
        return;
    }
    report(frame, cr2);
    panic!(
        "unhandled exception {} (vector {}) at RIP={:#x}",
        exception_name(frame.vector),
        frame.vector,
        frame.rip
    );
}

/// Log everything known about an exception, as one `EXCEPTION` line plus the registers.
fn report(f: &TrapFrame, cr2: u64) {
    let cr2_text = if f.vector == VEC_PAGE_FAULT {
        Cr2(Some(cr2))
    } else {
        Cr2(None)
    };
    log::error!(
        "EXCEPTION {} (vector {}) error={:#x} RIP={:#018x} CS={:#x} RFLAGS={:#x} RSP={:#018x} SS={:#x}{} on CPU {}",
        exception_name(f.vector),
        f.vector,
        f.error,
        f.rip,
        f.cs,
        f.rflags,
        f.rsp,
        f.ss,
        cr2_text,
        crate::percpu::cpu_id(),
    );
    if f.vector == VEC_PAGE_FAULT {
        log::error!("  page fault: {}", PageFaultCode(f.error));
    }
    log::error!(
        "  RAX={:#018x} RBX={:#018x} RCX={:#018x} RDX={:#018x}",
        f.rax,
        f.rbx,
        f.rcx,
        f.rdx
    );
    log::error!(
        "  RSI={:#018x} RDI={:#018x} RBP={:#018x} R8 ={:#018x}",
        f.rsi,
        f.rdi,
        f.rbp,
        f.r8
    );
    log::error!(
        "  R9 ={:#018x} R10={:#018x} R11={:#018x} R12={:#018x}",
        f.r9,
        f.r10,
        f.r11,
        f.r12
    );
    log::error!(
        "  R13={:#018x} R14={:#018x} R15={:#018x}",
        f.r13,
        f.r14,
        f.r15
    );
}

struct Cr2(Option<u64>);

impl core::fmt::Display for Cr2 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(v) => write!(f, " CR2={v:#018x}"),
            None => Ok(()),
        }
    }
}

/// #PF error code bits (SDM vol. 3A §4.7).
struct PageFaultCode(u64);

impl core::fmt::Display for PageFaultCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let e = self.0;
        let present = if e & 1 != 0 {
            "protection violation"
        } else {
            "not present"
        };
        let access = if e & 16 != 0 {
            "instruction fetch"
        } else if e & 2 != 0 {
            "write"
        } else {
            "read"
        };
        let mode = if e & 4 != 0 { "user" } else { "kernel" };
        write!(f, "{present}, {access}, {mode} mode")?;
        if e & 8 != 0 {
            write!(f, ", reserved bit set")?;
        }
        Ok(())
    }
}

/// Mnemonic and name of an exception vector (SDM vol. 3A table 6-1).
pub fn exception_name(vector: u64) -> &'static str {
    match vector {
        0 => "#DE divide error",
        1 => "#DB debug",
        2 => "NMI",
        3 => "#BP breakpoint",
        4 => "#OF overflow",
        5 => "#BR bound range exceeded",
        6 => "#UD invalid opcode",
        7 => "#NM device not available",
        8 => "#DF double fault",
        9 => "coprocessor segment overrun",
        10 => "#TS invalid TSS",
        11 => "#NP segment not present",
        12 => "#SS stack-segment fault",
        13 => "#GP general protection",
        14 => "#PF page fault",
        16 => "#MF x87 floating-point error",
        17 => "#AC alignment check",
        18 => "#MC machine check",
        19 => "#XM SIMD floating-point",
        20 => "#VE virtualization exception",
        21 => "#CP control protection",
        28 => "#HV hypervisor injection",
        29 => "#VC VMM communication",
        30 => "#SX security exception",
        _ => "reserved exception",
    }
}
