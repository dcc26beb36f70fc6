//! GICv3 with affinity routing: distributor, this CPU's redistributor, system-register CPU
//! interface (Arm IHI 0069 "GIC Architecture Specification v3/v4": 12.9 distributor, 12.10
//! redistributor, 12.11 ICC_* registers). All interrupts are non-secure Group 1, delivered as
//! IRQ to the EL the kernel runs at (with HCR_EL2.TGE = 1 physical IRQs go to EL2).

use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{ICC_SRE_EL2, MPIDR_EL1, Readable, Writeable};

use crate::dtb::GicRegions;
use crate::mmu::{map_device, phys_to_virt};

/// Distributor registers.
const GICD_CTLR: u64 = 0x0000;
const GICD_CTLR_RWP: u32 = 1 << 31;
/// ARE_NS | EnableGrp1A | EnableGrp1 (with one security state: ARE | Grp1 | Grp0).
const GICD_CTLR_ENABLE: u32 = (1 << 4) | (1 << 1) | 1;

/// Redistributor RD_base frame registers; each redistributor is two 64 KiB frames.
const GICR_STRIDE: u64 = 0x2_0000;
const GICR_WAKER: u64 = 0x0014;
const GICR_TYPER: u64 = 0x0008;
const GICR_TYPER_LAST: u64 = 1 << 4;
const WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
/// SGI_base frame (second 64 KiB) registers.
const GICR_SGI: u64 = 0x1_0000;
const GICR_IGROUPR0: u64 = 0x0080;
const GICR_ISENABLER0: u64 = 0x0100;
const GICR_IPRIORITYR: u64 = 0x0400;

/// Distributor registers for shared peripheral interrupts (INTID 32..1019), one bit, byte,
/// two bits or eight bytes per INTID.
const GICD_IGROUPR: u64 = 0x0080;
const GICD_ISENABLER: u64 = 0x0100;
const GICD_IPRIORITYR: u64 = 0x0400;
const GICD_ICFGR: u64 = 0x0c00;
const GICD_IROUTER: u64 = 0x6000;

/// Priority given to every enabled interrupt (lower is more urgent; PMR lets all < 0xff in).
const DEFAULT_PRIORITY: u8 = 0xa0;
/// INTIDs from 1020 up are special (1023: spurious).
const INTID_SPECIAL: u32 = 1020;

static GICD: AtomicU64 = AtomicU64::new(0);
/// This CPU's redistributor SGI_base frame (one CPU runs for now).
static GICR_SGI_BASE: AtomicU64 = AtomicU64::new(0);

fn read32(va: u64) -> u32 {
    // SAFETY: `va` is a GIC register inside a region mapped as Device memory by `init`.
    unsafe { core::ptr::read_volatile(va as *const u32) }
}

fn write32(va: u64, v: u32) {
    // SAFETY: as in `read32`.
    unsafe { core::ptr::write_volatile(va as *mut u32, v) }
}

fn read64(va: u64) -> u64 {
    // SAFETY: as in `read32`; GICR_TYPER is a 64-bit register.
    unsafe { core::ptr::read_volatile(va as *const u64) }
}

fn wait_rwp(gicd: u64) {
    while read32(gicd + GICD_CTLR) & GICD_CTLR_RWP != 0 {
        core::hint::spin_loop();
    }
}

/// Affinity of this CPU in GICR_TYPER's layout (Aff3.Aff2.Aff1.Aff0).
fn my_affinity() -> u64 {
    let m = MPIDR_EL1.get();
    ((m >> 8) & 0xff00_0000) | (m & 0xff_ffff)
}

/// Bring up the distributor, this CPU's redistributor and CPU interface.
pub fn init(regions: &GicRegions) -> Result<(), &'static str> {
    map_device(regions.dist.0, regions.dist.1.max(0x1_0000));
    map_device(regions.redist.0, regions.redist.1.max(GICR_STRIDE));
    let gicd = phys_to_virt(regions.dist.0);
    // Affinity routing can only change while the groups are disabled.
    write32(gicd + GICD_CTLR, 0);
    wait_rwp(gicd);
    write32(gicd + GICD_CTLR, GICD_CTLR_ENABLE);
    wait_rwp(gicd);
    GICD.store(gicd, Ordering::Relaxed);

    let (base, size) = (phys_to_virt(regions.redist.0), regions.redist.1);
    let aff = my_affinity();
    let mut rd = base;
    let found = loop {
        if rd >= base + size {
            break None;
        }
        let typer = read64(rd + GICR_TYPER);
        if typer >> 32 == aff {
            break Some(rd);
        }
        if typer & GICR_TYPER_LAST != 0 {
            break None;
        }
        rd += GICR_STRIDE;
    };
    let rd = found.ok_or("no GICv3 redistributor for this CPU")?;
    write32(
        rd + GICR_WAKER,
        read32(rd + GICR_WAKER) & !WAKER_PROCESSOR_SLEEP,
    );
    while read32(rd + GICR_WAKER) & WAKER_CHILDREN_ASLEEP != 0 {
        core::hint::spin_loop();
    }
    let sgi = rd + GICR_SGI;
    write32(sgi + GICR_IGROUPR0, u32::MAX);
    GICR_SGI_BASE.store(sgi, Ordering::Relaxed);

    init_cpu_interface();
    Ok(())
}

/// Enable the system-register interface, accept every priority, enable Group 1.
fn init_cpu_interface() {
    if crate::cpu::at_el2() {
        // SRE for EL2, and Enable so EL1 (guests later) may use ICC_SRE_EL1.
        ICC_SRE_EL2.write(
            ICC_SRE_EL2::SRE::SET
                + ICC_SRE_EL2::DFB::SET
                + ICC_SRE_EL2::DIB::SET
                + ICC_SRE_EL2::ENABLE::SET,
        );
    } else {
        // SAFETY: ICC_SRE_EL1 = SRE | DFB | DIB: system-register access to the CPU interface,
        // no memory effect. aarch64-cpu has no accessor for it.
        unsafe { core::arch::asm!("msr icc_sre_el1, {}", in(reg) 7u64, options(nomem, nostack)) };
    }
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    // SAFETY: PMR = 0xff (no priority masking), BPR1 = 0 (no preemption grouping),
    // CTLR = 0 (EOI both drops priority and deactivates), IGRPEN1 = 1: CPU interface setup
    // with no memory effect; aarch64-cpu has no accessors for these.
    unsafe {
        core::arch::asm!(
            "msr icc_pmr_el1, {pmr}",
            "msr icc_bpr1_el1, xzr",
            "msr icc_ctlr_el1, xzr",
            "msr icc_igrpen1_el1, {one}",
            "isb",
            pmr = in(reg) 0xffu64,
            one = in(reg) 1u64,
            options(nomem, nostack),
        );
    }
}

/// Enable private interrupt `intid` (SGI 0-15 or PPI 16-31) on this CPU.
pub fn enable_ppi(intid: u32) {
    let sgi = GICR_SGI_BASE.load(Ordering::Relaxed);
    if sgi == 0 || intid >= 32 {
        log::error!("gic: cannot enable INTID {intid}");
        return;
    }
    // SAFETY: GICR_IPRIORITYR is byte-accessible (one byte per INTID), inside the mapped frame.
    unsafe {
        core::ptr::write_volatile(
            (sgi + GICR_IPRIORITYR + u64::from(intid)) as *mut u8,
            DEFAULT_PRIORITY,
        )
    };
    write32(sgi + GICR_ISENABLER0, 1 << intid);
}

/// Enable shared peripheral interrupt `intid` (32..1019) as a non-secure Group 1, level-
/// sensitive interrupt routed to this CPU (Arm IHI 0069 12.9: GICD_IGROUPR, GICD_ICFGR,
/// GICD_IPRIORITYR, GICD_IROUTER with Interrupt_Routing_Mode 0, GICD_ISENABLER).
pub fn enable_spi(intid: u32) -> bool {
    let gicd = GICD.load(Ordering::Relaxed);
    if gicd == 0 || !(32..INTID_SPECIAL).contains(&intid) {
        log::error!("gic: cannot enable SPI {intid}");
        return false;
    }
    let (word, bit) = (u64::from(intid / 32) * 4, 1u32 << (intid % 32));
    write32(
        gicd + GICD_IGROUPR + word,
        read32(gicd + GICD_IGROUPR + word) | bit,
    );
    let cfg = gicd + GICD_ICFGR + u64::from(intid / 16) * 4;
    write32(cfg, read32(cfg) & !(0b11 << ((intid % 16) * 2)));
    // SAFETY: GICD_IPRIORITYR is byte-accessible (one byte per INTID) and GICD_IROUTER<n> is
    // a 64-bit register, both inside the distributor frame `init` mapped as Device memory.
    unsafe {
        core::ptr::write_volatile(
            (gicd + GICD_IPRIORITYR + u64::from(intid)) as *mut u8,
            DEFAULT_PRIORITY,
        );
        let aff = my_affinity();
        // IROUTER layout: Aff3 in bits 39:32, Aff2.Aff1.Aff0 in bits 23:0.
        let route = ((aff & 0xff00_0000) << 8) | (aff & 0xff_ffff);
        core::ptr::write_volatile(
            (gicd + GICD_IROUTER + 8 * u64::from(intid)) as *mut u64,
            route,
        );
    }
    write32(gicd + GICD_ISENABLER + word, bit);
    wait_rwp(gicd);
    true
}

fn ack() -> u32 {
    let iar: u64;
    // SAFETY: reading ICC_IAR1_EL1 acknowledges the highest-priority pending Group 1
    // interrupt; no memory effect.
    unsafe { core::arch::asm!("mrs {}, icc_iar1_el1", out(reg) iar, options(nomem, nostack)) };
    iar as u32 & 0xff_ffff
}

fn eoi(intid: u32) {
    // SAFETY: signals end of interrupt for `intid`, which `ack` returned; no memory effect.
    unsafe {
        core::arch::asm!("msr icc_eoir1_el1, {}", in(reg) u64::from(intid), options(nomem, nostack))
    };
}

/// The IRQ vector's handler: acknowledge, dispatch, end the interrupt.
pub fn handle_irq() {
    let intid = ack();
    if intid >= INTID_SPECIAL {
        return;
    }
    if intid == crate::timer::intid() {
        crate::timer::rearm();
        // End the interrupt before the tick, which may switch to another thread and not
        // come back here for a while.
        eoi(intid);
        crate::timer::run_tick();
    } else if intid == crate::console::rx_intid() {
        // Level-sensitive: drain the UART (which drops the line) before ending it.
        crate::console::rx_interrupt();
        eoi(intid);
    } else {
        eoi(intid);
        log::warn!("gic: unexpected interrupt {intid}");
    }
}
