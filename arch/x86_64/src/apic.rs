//! Interrupt controllers: the legacy 8259 pair (remapped and masked), the IOAPIC (all
//! entries masked until drivers claim lines) and the local APIC in xAPIC mode, reached
//! through the direct map.
//!
//! References: Intel SDM vol. 3A ch. 11 (local APIC register map, table 11-1); Intel 82093AA
//! IOAPIC datasheet §3.2; Intel 8259A datasheet (ICW1-ICW4).

use core::sync::atomic::{AtomicU64, Ordering};

use crate::cpu;
use crate::paging::DIRECT_MAP_OFFSET;
use crate::traps::{ERROR_VECTOR, SPURIOUS_VECTOR, TIMER_VECTOR};

/// Vector of the COM1 receive interrupt (ISA IRQ 4 through the IOAPIC); in the timer's
/// priority class, so neither preempts the other.
pub const SERIAL_VECTOR: u8 = 0x44;

/// `IA32_APIC_BASE`: physical base in bits 12.., global enable in bit 11.
const MSR_APIC_BASE: u32 = 0x1b;
const APIC_BASE_ENABLE: u64 = 1 << 11;

const REG_ID: u32 = 0x20;
const REG_TPR: u32 = 0x80;
const REG_EOI: u32 = 0xb0;
const REG_SVR: u32 = 0xf0;
const REG_ISR: u32 = 0x100;
const REG_ESR: u32 = 0x280;
const REG_LVT_TIMER: u32 = 0x320;
const REG_LVT_ERROR: u32 = 0x370;
const REG_TIMER_INIT: u32 = 0x380;
const REG_TIMER_CURRENT: u32 = 0x390;
const REG_TIMER_DIVIDE: u32 = 0x3e0;

const SVR_ENABLE: u32 = 1 << 8;
const LVT_MASKED: u32 = 1 << 16;
const LVT_PERIODIC: u32 = 1 << 17;
/// Divide configuration 0b0011: bus clock / 16.
const DIVIDE_BY_16: u32 = 0x3;

/// Virtual address of the local APIC registers; 0 until [`init_local`].
static LAPIC: AtomicU64 = AtomicU64::new(0);

fn read(reg: u32) -> u32 {
    let base = LAPIC.load(Ordering::Relaxed);
    // SAFETY: `base` is the LAPIC's register page in the direct map (mapped uncached by the
    // boot page tables); `reg` is a register offset below 4 KiB, read as a 32-bit access as
    // the SDM requires.
    unsafe { ((base + u64::from(reg)) as *const u32).read_volatile() }
}

fn write(reg: u32, value: u32) {
    let base = LAPIC.load(Ordering::Relaxed);
    // SAFETY: as in `read`.
    unsafe { ((base + u64::from(reg)) as *mut u32).write_volatile(value) }
}

/// Remap the 8259s to vectors 0x20-0x2f (out of the exception range, so a spurious IRQ 7 is
/// not mistaken for a double fault) and mask every line.
pub fn disable_legacy_pic() {
    const PIC1_CMD: u16 = 0x20;
    const PIC1_DATA: u16 = 0x21;
    const PIC2_CMD: u16 = 0xa0;
    const PIC2_DATA: u16 = 0xa1;
    // SAFETY: the standard PC 8259 ports; the ICW sequence (edge, cascade, 8086 mode) followed
    // by an all-ones mask leaves both chips inert.
    unsafe {
        cpu::outb(PIC1_CMD, 0x11);
        cpu::outb(PIC2_CMD, 0x11);
        cpu::outb(PIC1_DATA, 0x20);
        cpu::outb(PIC2_DATA, 0x28);
        cpu::outb(PIC1_DATA, 0x04);
        cpu::outb(PIC2_DATA, 0x02);
        cpu::outb(PIC1_DATA, 0x01);
        cpu::outb(PIC2_DATA, 0x01);
        cpu::outb(PIC1_DATA, 0xff);
        cpu::outb(PIC2_DATA, 0xff);
    }
}

/// Read (`value` None) or write an IOAPIC register through IOREGSEL/IOWIN.
fn ioapic_access(base: u64, reg: u32, value: Option<u32>) -> u32 {
    let regsel = (base + DIRECT_MAP_OFFSET) as *mut u32;
    let window = (base + DIRECT_MAP_OFFSET + 0x10) as *mut u32;
    // SAFETY: IOREGSEL (offset 0) and IOWIN (offset 0x10) of an IOAPIC the MADT describes, in
    // the uncached top of the boot direct map; selecting then accessing a register is the
    // IOAPIC's protocol. Callers run on the boot CPU with interrupts masked or before they
    // are enabled, so no other select can come in between.
    unsafe {
        regsel.write_volatile(reg);
        match value {
            Some(v) => {
                window.write_volatile(v);
                v
            }
            None => window.read_volatile(),
        }
    }
}

/// Route input `pin` of the IOAPIC at physical `base` to `vector` on the CPU with APIC ID
/// `dest`, fixed delivery, physical destination. `flags` are the MADT's MPS INTI flags
/// (bits 0-1 polarity, 2-3 trigger; 0 = the bus default, for ISA active high, edge).
/// Reference: 82093AA datasheet §3.2.4 (redirection table entry).
pub fn route_ioapic(base: u64, pin: u32, vector: u8, flags: u16, dest: u32) {
    let mut low = u32::from(vector);
    if flags & 0b11 == 0b11 {
        low |= 1 << 13; // active low
    }
    if (flags >> 2) & 0b11 == 0b11 {
        low |= 1 << 15; // level triggered
    }
    ioapic_access(base, 0x11 + 2 * pin, Some(dest << 24));
    ioapic_access(base, 0x10 + 2 * pin, Some(low));
}

/// Mask every redirection entry of the IOAPIC at physical `base`; returns how many it has.
pub fn mask_ioapic(base: u64) -> u32 {
    let access = |reg: u32, value: Option<u32>| ioapic_access(base, reg, value);
    let entries = ((access(1, None) >> 16) & 0xff) + 1;
    for i in 0..entries {
        // Redirection entry i: low dword at 0x10 + 2i (bit 16 = mask), high dword after it.
        access(0x10 + 2 * i, Some(LVT_MASKED));
        access(0x11 + 2 * i, Some(0));
    }
    entries
}

/// Enable this CPU's local APIC: software enable with the spurious vector, accept every
/// priority, error interrupts to [`ERROR_VECTOR`], timer masked.
pub fn init_local() {
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC (all x86_64 CPUs); setting the
    // global enable bit keeps the base unchanged.
    let msr = unsafe { cpu::rdmsr(MSR_APIC_BASE) };
    // SAFETY: as above.
    unsafe { cpu::wrmsr(MSR_APIC_BASE, msr | APIC_BASE_ENABLE) };
    let phys = msr & 0x000f_ffff_ffff_f000;
    LAPIC.store(phys + DIRECT_MAP_OFFSET, Ordering::Relaxed);
    write(REG_TPR, 0);
    write(REG_LVT_ERROR, u32::from(ERROR_VECTOR));
    write(REG_ESR, 0);
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_SVR, SVR_ENABLE | u32::from(SPURIOUS_VECTOR));
    eoi();
}

/// This CPU's APIC ID.
pub fn id() -> u32 {
    read(REG_ID) >> 24
}

/// Signal end of interrupt to the local APIC.
pub fn eoi() {
    if LAPIC.load(Ordering::Relaxed) != 0 {
        write(REG_EOI, 0);
    }
}

/// Whether the LAPIC is servicing `vector` (its in-service bit is set).
pub fn in_service(vector: u8) -> bool {
    if LAPIC.load(Ordering::Relaxed) == 0 {
        return false;
    }
    let reg = REG_ISR + 0x10 * (u32::from(vector) / 32);
    read(reg) & (1 << (vector % 32)) != 0
}

/// Start the timer counting down from `count` as a masked one-shot (for calibration).
pub fn timer_start_oneshot_masked(count: u32) {
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_TIMER_INIT, count);
}

/// Current count of the timer.
pub fn timer_current() -> u32 {
    read(REG_TIMER_CURRENT)
}

/// Periodic interrupts at [`TIMER_VECTOR`] every `count` timer-input ticks.
pub fn timer_start_periodic(count: u32) {
    write(REG_TIMER_DIVIDE, DIVIDE_BY_16);
    write(REG_LVT_TIMER, LVT_PERIODIC | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INIT, count.max(1));
}

/// Stop the timer.
pub fn timer_stop() {
    write(REG_LVT_TIMER, LVT_MASKED | u32::from(TIMER_VECTOR));
    write(REG_TIMER_INIT, 0);
}
