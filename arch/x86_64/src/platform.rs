//! `init_platform`: ACPI discovery, interrupt controllers, timer and clock calibration.

use arch_api::{BootInfo, Platform};

use crate::{acpi, apic, time};

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
    for &(base, gsi_base) in &info.ioapics[..info.ioapic_count] {
        let lines = apic::mask_ioapic(base);
        log::debug!(
            "IOAPIC at {base:#x}: GSI {gsi_base}..{}, all masked",
            gsi_base + lines
        );
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
