//! Small CPU primitives: MSRs, port I/O, control registers, interrupt flag.

use core::arch::asm;

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

/// Turn on CR4 features the kernel relies on: global pages (PGE) so kernel mappings survive
/// CR3 switches.
pub fn enable_features() {
    let cr4 = read_cr4() | (1 << 7);
    // SAFETY: setting PGE only changes how TLB entries with G=1 are kept; no other bits change.
    unsafe { asm!("mov cr4, {}", in(reg) cr4, options(nostack, preserves_flags)) };
}

/// `cli; hlt` forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: stopping this CPU is the intent; nothing is held that others wait for.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
