//! Per-CPU state and CPU control: exception level, per-CPU block, DAIF, wait for interrupt,
//! frame-pointer backtraces, the control-register dump.

use core::sync::atomic::{AtomicU8, Ordering};

use aarch64_cpu::registers::{
    CurrentEL, DAIF, HCR_EL2, MPIDR_EL1, Readable, SCTLR_EL1, SCTLR_EL2, TCR_EL1, TCR_EL2,
    TPIDR_EL1, TPIDR_EL2, TTBR0_EL1, TTBR0_EL2, TTBR1_EL1, Writeable,
};

/// Most CPUs the per-CPU array has room for.
pub const MAX_CPUS: usize = 8;

/// The exception level the kernel runs at: 2 = EL2 with VHE, 1 = EL1 (set once at boot).
static EL: AtomicU8 = AtomicU8::new(1);

/// Whether the kernel runs at EL2 (with VHE).
pub fn at_el2() -> bool {
    EL.load(Ordering::Relaxed) == 2
}

/// Description of the privilege level for `Platform::privilege`.
pub fn privilege() -> &'static str {
    if at_el2() { "EL2 (VHE)" } else { "EL1" }
}

/// Per-CPU block, found through TPIDR_EL2 (at EL2) or TPIDR_EL1 (at EL1).
#[repr(C)]
pub struct PerCpu {
    pub id: usize,
}

static PERCPU: [PerCpu; MAX_CPUS] = {
    let mut a = [const { PerCpu { id: 0 } }; MAX_CPUS];
    let mut i = 0;
    while i < MAX_CPUS {
        a[i].id = i;
        i += 1;
    }
    a
};

/// Record the exception level and point this CPU's thread-ID register at its block.
pub fn init_this_cpu(el: u8, id: usize) {
    EL.store(el, Ordering::Relaxed);
    let block = core::ptr::from_ref(&PERCPU[id]) as u64;
    if at_el2() {
        TPIDR_EL2.set(block);
    } else {
        TPIDR_EL1.set(block);
    }
}

/// Index of the calling CPU (0 for the boot CPU, also before `init_this_cpu`).
pub fn cpu_id() -> usize {
    let block = if at_el2() {
        TPIDR_EL2.get()
    } else {
        TPIDR_EL1.get()
    };
    if block == 0 {
        return 0;
    }
    // SAFETY: a non-zero TPIDR was set by `init_this_cpu` to an element of the static PERCPU.
    unsafe { (*(block as *const PerCpu)).id }
}

/// DAIF.I: IRQs masked.
const DAIF_I: u64 = 1 << 7;

pub fn irq_save_disable() -> bool {
    let was = DAIF.get() & DAIF_I == 0;
    // SAFETY: masking IRQs on this CPU has no memory-safety effect.
    unsafe { core::arch::asm!("msr daifset, #2", options(nomem, nostack, preserves_flags)) };
    was
}

pub fn irq_enable() {
    // SAFETY: unmasking IRQs; the vector table is installed from the first instruction after
    // the MMU is on. Acts as a compiler barrier (no `nomem`) so memory accesses stay inside.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

pub fn irq_restore(was_enabled: bool) {
    if was_enabled {
        irq_enable();
    }
}

/// Wait for an interrupt, then take it. WFI wakes on a pending interrupt even while PSTATE.I
/// masks it (Arm ARM D1.6.2), so waiting first and unmasking after cannot lose a wake-up that
/// arrives between the two.
pub fn wait_for_interrupt() {
    // SAFETY: as in `irq_enable`.
    unsafe {
        core::arch::asm!(
            "msr daifset, #2",
            "wfi",
            "msr daifclr, #2",
            options(nostack)
        )
    };
}

/// Call `f` with each return address, walking frame records {x29, x30} from the caller of
/// the function that called this one.
#[inline(never)]
pub fn backtrace(f: &mut dyn FnMut(u64)) {
    let mut fp: u64;
    // SAFETY: reads x29, the frame pointer (the kernel is built with frame pointers).
    unsafe { core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack)) };
    for _ in 0..64 {
        if fp == 0 || !fp.is_multiple_of(8) || !crate::mmu::is_kernel_memory(fp, 16) {
            break;
        }
        let record = fp as *const u64;
        // SAFETY: fp is an aligned address in the kernel image or the direct map of RAM, both
        // always mapped readable, so reading the 16-byte frame record cannot fault.
        let (next, lr) = unsafe { (record.read(), record.add(1).read()) };
        if lr == 0 {
            break;
        }
        f(lr);
        if next <= fp {
            break;
        }
        fp = next;
    }
}

/// Log the control registers of the calling CPU.
pub fn dump_cpu_state() {
    let el = (CurrentEL.get() >> 2) & 3;
    let daif = DAIF.get();
    let mpidr = MPIDR_EL1.get();
    if at_el2() {
        log::info!(
            "cpu state: CurrentEL=EL{el} HCR_EL2={:#x} SCTLR_EL2={:#x} TCR_EL2={:#x}",
            HCR_EL2.get(),
            SCTLR_EL2.get(),
            TCR_EL2.get()
        );
        let ttbr1: u64;
        // SAFETY: reads TTBR1_EL2 (exists with VHE, which EL2 mode requires), by its encoding
        // since the assembler only knows the name with the VHE feature enabled.
        unsafe {
            core::arch::asm!("mrs {}, s3_4_c2_c0_1", out(reg) ttbr1, options(nomem, nostack))
        };
        log::info!(
            "cpu state: TTBR0_EL2={:#x} TTBR1_EL2={ttbr1:#x} DAIF={daif:#x} MPIDR={mpidr:#x}",
            TTBR0_EL2.get()
        );
    } else {
        log::info!(
            "cpu state: CurrentEL=EL{el} SCTLR_EL1={:#x} TCR_EL1={:#x}",
            SCTLR_EL1.get(),
            TCR_EL1.get()
        );
        log::info!(
            "cpu state: TTBR0_EL1={:#x} TTBR1_EL1={:#x} DAIF={daif:#x} MPIDR={mpidr:#x}",
            TTBR0_EL1.get(),
            TTBR1_EL1.get()
        );
    }
}
