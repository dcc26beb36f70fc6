//! `init_platform`: ACPI discovery, interrupt controllers, timer and clock calibration.

use arch_api::{BootInfo, Platform};
use spin::Once;

use crate::{acpi, apic, time};

/// ISA IRQ of COM1.
const COM1_IRQ: u8 = 4;

/// Where COM1's interrupt enters the IOAPICs: (IOAPIC physical base, input pin, MPS INTI
/// flags), found from the MADT at boot.
static COM1_ROUTE: Once<(u64, u32, u16)> = Once::new();

/// Route COM1's IRQ to [`apic::SERIAL_VECTOR`] on this CPU; false without an IOAPIC for it.
pub fn enable_com1_irq() -> bool {
    match COM1_ROUTE.get() {
        Some(&(base, pin, flags)) => {
            apic::route_ioapic(base, pin, apic::SERIAL_VECTOR, flags, apic::id());
            true
        }
        None => false,
    }
}

pub fn init(boot: &BootInfo) -> Platform {
    match boot.rsdp {
        Some(pa) => log::debug!("ACPI: RSDP at {pa:#x} (from the boot loader)"),
        None => log::debug!("ACPI: no RSDP from the boot loader, searching the BIOS areas"),
    }
    let info = match acpi::discover(boot.rsdp) {
        Ok(info) => info,
        Err(e) => {
            log::warn!("ACPI unavailable ({e:?}): assuming one CPU, no IOAPIC, PIT calibration");
            acpi::AcpiInfo {
                cpus: 1,
                has_8259: true,
                ..Default::default()
            }
        }
    };
    // The 8259s are masked whether or not the MADT admits to them: an unmasked one could
    // still raise interrupts on vectors we did not assign.
    apic::disable_legacy_pic();
    // ISA IRQs are identity-mapped to GSIs unless the MADT overrides them (QEMU moves IRQ 0
    // to GSI 2, for instance).
    let (com1_gsi, com1_flags) =
        info.isa_overrides[usize::from(COM1_IRQ)].unwrap_or((u32::from(COM1_IRQ), 0));
    for &(base, gsi_base) in &info.ioapics[..info.ioapic_count] {
        let lines = apic::mask_ioapic(base);
        log::debug!(
            "IOAPIC at {base:#x}: GSI {gsi_base}..{}, all masked",
            gsi_base + lines
        );
        if (gsi_base..gsi_base + lines).contains(&com1_gsi) {
            COM1_ROUTE.call_once(|| (base, com1_gsi - gsi_base, com1_flags));
        }
    }
    apic::init_local();
    let (tsc_hz, lapic_hz) = time::calibrate(info.pm_timer_port);
    log::info!(
        "x86_64: {} CPU(s), LAPIC {:#x} (id {}), {} IOAPIC(s), TSC {}.{:03} MHz, LAPIC timer {}.{:03} MHz (by {})",
        info.cpus,
        info.lapic,
        apic::id(),
        info.ioapic_count,
        tsc_hz / 1_000_000,
        tsc_hz / 1000 % 1000,
        lapic_hz / 1_000_000,
        lapic_hz / 1000 % 1000,
        if info.pm_timer_port.is_some() {
            "ACPI PM timer"
        } else {
            "PIT"
        },
    );
    let cr4 = crate::cpu::read_cr4();
    log::info!(
        "x86_64: SMEP {}, SMAP {}, user FP state by FXSAVE",
        cr4 & (1 << 20) != 0,
        cr4 & (1 << 21) != 0
    );
    Platform {
        cpus: info.cpus.max(1),
        timer_input_hz: lapic_hz,
        clock_hz: tsc_hz,
        irq_controller: if info.ioapic_count > 0 {
            "LAPIC+IOAPIC (xAPIC)"
        } else {
            "LAPIC (xAPIC)"
        },
        privilege: "ring 0",
    }
}
