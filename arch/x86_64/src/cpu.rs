//! Small CPU primitives: MSRs, port I/O, control registers, interrupt flag.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

/// `IA32_EFER`.
pub const MSR_EFER: u32 = 0xc000_0080;

/// Read a model-specific register.
///
/// # Safety
/// `msr` must exist on this CPU (else #GP) and reading it must have no side effects the caller
/// did not intend.
pub unsafe fn rdmsr(msr: u32) -> u64 {
    // SAFETY: forwarded to the caller.
    unsafe { Msr::new(msr).read() }
}

/// Write a model-specific register.
///
/// # Safety
/// `msr` must exist and `value` must be valid for it; the caller answers for the effect.
pub unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: forwarded to the caller.
    unsafe { Msr::new(msr).write(value) }
}

/// Write a byte to an I/O port.
///
/// # Safety
/// The port must belong to a device the caller drives; the write may have any side effect.
pub unsafe fn outb(port: u16, value: u8) {
    // SAFETY: forwarded to the caller.
    unsafe { Port::<u8>::new(port).write(value) }
}

/// Read a byte from an I/O port.
///
/// # Safety
/// As [`outb`]: reads can have side effects (e.g. acknowledging a UART status).
pub unsafe fn inb(port: u16) -> u8 {
    // SAFETY: forwarded to the caller.
    unsafe { Port::<u8>::new(port).read() }
}

/// Write a 16-bit word to an I/O port.
///
/// # Safety
/// As [`outb`].
pub unsafe fn outw(port: u16, value: u16) {
    // SAFETY: forwarded to the caller.
    unsafe { Port::<u16>::new(port).write(value) }
}

/// Read a 32-bit word from an I/O port.
///
/// # Safety
/// As [`inb`].
pub unsafe fn inl(port: u16) -> u32 {
    // SAFETY: forwarded to the caller.
    unsafe { Port::<u32>::new(port).read() }
}

/// Time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no memory effects; CR4.TSD is clear so it works in ring 0.
    unsafe { core::arch::x86_64::_rdtsc() }
}

pub fn read_cr0() -> u64 {
    x86_64::registers::control::Cr0::read_raw()
}

pub fn read_cr2() -> u64 {
    x86_64::registers::control::Cr2::read_raw()
}

pub fn read_cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Load CR3 (flushes non-global TLB entries).
///
/// # Safety
/// `value` must point to a PML4 that maps the running code, its stack and all data in use.
pub unsafe fn write_cr3(value: u64) {
    // SAFETY: forwarded to the caller.
    unsafe { asm!("mov cr3, {}", in(reg) value, options(nostack, preserves_flags)) };
}

pub fn read_cr4() -> u64 {
    x86_64::registers::control::Cr4::read_raw()
}

pub fn read_rflags() -> u64 {
    x86_64::registers::rflags::read_raw()
}

pub fn read_efer() -> u64 {
    // SAFETY: EFER exists on every x86_64 CPU (we are in long mode through it).
    unsafe { rdmsr(MSR_EFER) }
}

/// Whether RFLAGS.IF is set.
pub fn interrupts_enabled() -> bool {
    read_rflags() & (1 << 9) != 0
}

/// Whether CR4.SMAP is on, so the user-copy routines must bracket their accesses with
/// `stac`/`clac` (both #UD on a CPU without SMAP). Read by assembly as a byte.
pub static SMAP_ENABLED: AtomicBool = AtomicBool::new(false);

const CR0_MP: u64 = 1 << 1;
const CR0_EM: u64 = 1 << 2;
const CR0_TS: u64 = 1 << 3;
const CR0_NE: u64 = 1 << 5;
const CR0_AM: u64 = 1 << 18;
const CR4_PGE: u64 = 1 << 7;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_SMEP: u64 = 1 << 20;
const CR4_SMAP: u64 = 1 << 21;

/// Turn on the CPU features the kernel relies on (SDM vol. 3A §2.5 control registers):
/// - PGE, so global kernel mappings survive CR3 switches;
/// - CR0.AM, so user code that sets RFLAGS.AC gets #AC on misaligned accesses (as on Linux;
///   ring 0 is never alignment-checked, and there AC only means "SMAP off");
/// - x87/SSE for user code: CR0.EM off, MP and NE on (#MF reported natively), TS off (the FP
///   state is switched eagerly by `run_user`), CR4.OSFXSR and OSXMMEXCPT (FXSAVE/FXRSTOR,
///   #XM). CR4.OSXSAVE stays off, so user code sees no AVX and FXSAVE covers all its state;
/// - SMEP and SMAP when CPUID.(7,0):EBX reports them (bits 7 and 20): the kernel can neither
///   run user pages nor touch them outside the copy routines.
pub fn enable_features() {
    use core::arch::x86_64::__cpuid_count;
    // Leaf 7 only once leaf 0 says it exists.
    let leaf7_ebx = if __cpuid_count(0, 0).eax >= 7 {
        __cpuid_count(7, 0).ebx
    } else {
        0
    };
    let smep = leaf7_ebx & (1 << 7) != 0;
    let smap = leaf7_ebx & (1 << 20) != 0;
    let cr0 = (read_cr0() & !(CR0_EM | CR0_TS)) | CR0_MP | CR0_NE | CR0_AM;
    let mut cr4 = read_cr4() | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    if smep {
        cr4 |= CR4_SMEP;
    }
    if smap {
        cr4 |= CR4_SMAP;
    }
    // SAFETY: the kernel never executes or (outside the copy routines, which honour
    // SMAP_ENABLED) accesses user pages, and it uses no x87/SSE itself (soft-float target), so
    // none of these bits changes how kernel code behaves.
    unsafe {
        asm!("mov cr0, {}", in(reg) cr0, options(nostack, preserves_flags));
        asm!("mov cr4, {}", in(reg) cr4, options(nostack, preserves_flags));
    }
    SMAP_ENABLED.store(smap, Ordering::Relaxed);
}

/// `cli; hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: stopping this CPU is the intent; nothing is held that others wait for.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
