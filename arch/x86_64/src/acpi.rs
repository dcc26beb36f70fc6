//! ACPI discovery through the `acpi` crate: MADT (CPUs, LAPIC, IOAPICs) and FADT (PM timer).
//! Tables are read in place through the direct map, so "mapping" is address arithmetic.

use core::ptr::NonNull;

use acpi::madt::{Madt, MadtEntry};
use acpi::{AcpiHandler, AcpiTables, PhysicalMapping, fadt::Fadt};

use crate::paging::DIRECT_MAP_OFFSET;

/// Most IOAPICs remembered.
const MAX_IOAPICS: usize = 8;

#[derive(Clone, Copy, Debug)]
struct DirectMap;

impl AcpiHandler for DirectMap {
    unsafe fn map_physical_region<T>(&self, pa: usize, size: usize) -> PhysicalMapping<Self, T> {
        let va = (pa as u64 + DIRECT_MAP_OFFSET) as *mut T;
        // SAFETY: every physical address the firmware can point ACPI at is in the direct map
        // (the boot tables map the first 4 GiB; the kernel adds the rest of RAM), and the
        // direct-map address of a physical address is never null.
        unsafe { PhysicalMapping::new(pa, NonNull::new_unchecked(va), size, size, *self) }
    }

    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}
}

/// What the platform code needs from ACPI.
#[derive(Clone, Debug, Default)]
pub struct AcpiInfo {
    /// Processors the MADT marks enabled.
    pub cpus: u32,
    /// Physical address of the local APIC registers.
    pub lapic: u64,
    /// IOAPICs: (physical register base, first global system interrupt).
    pub ioapics: [(u64, u32); MAX_IOAPICS],
    pub ioapic_count: usize,
    /// I/O port of the ACPI PM timer (3.579545 MHz), if the FADT gives one in I/O space.
    pub pm_timer_port: Option<u16>,
    /// Whether the MADT says legacy 8259s are present.
    pub has_8259: bool,
    /// MADT interrupt source overrides by ISA IRQ: (global system interrupt, MPS INTI flags).
    pub isa_overrides: [Option<(u32, u16)>; 16],
}

/// Read the MADT and FADT, starting from `rsdp` or, without one, the BIOS search areas.
pub fn discover(rsdp: Option<u64>) -> Result<AcpiInfo, acpi::AcpiError> {
    // SAFETY: the RSDP address comes from the boot loader (validated by checksum inside
    // `from_rsdp`); the BIOS search reads the EBDA and 0xE0000-0xFFFFF, which are in the
    // direct map on a PC.
    let tables = unsafe {
        match rsdp {
            Some(pa) => AcpiTables::from_rsdp(DirectMap, pa as usize)?,
            None => AcpiTables::search_for_rsdp_bios(DirectMap)?,
        }
    };
    let mut info = AcpiInfo::default();

    let madt = tables.find_table::<Madt>()?;
    let madt = madt.get();
    info.lapic = u64::from(madt.local_apic_address);
    info.has_8259 = madt.supports_8259();
    for entry in madt.entries() {
        match entry {
            // Flags bit 0: enabled. (Bit 1, online-capable, means "could be hot-added".)
            MadtEntry::LocalApic(e) if { e.flags } & 1 != 0 => info.cpus += 1,
            MadtEntry::LocalX2Apic(e) if { e.flags } & 1 != 0 => info.cpus += 1,
            MadtEntry::IoApic(e) if info.ioapic_count < MAX_IOAPICS => {
                info.ioapics[info.ioapic_count] =
                    (u64::from(e.io_apic_address), e.global_system_interrupt_base);
                info.ioapic_count += 1;
            }
            MadtEntry::LocalApicAddressOverride(e) => info.lapic = e.local_apic_address,
            MadtEntry::InterruptSourceOverride(e) if e.bus == 0 && e.irq < 16 => {
                info.isa_overrides[usize::from(e.irq)] = Some((e.global_system_interrupt, e.flags));
            }
            _ => {}
        }
    }

    if let Ok(fadt) = tables.find_table::<Fadt>()
        && let Ok(Some(block)) = fadt.pm_timer_block()
        && block.address_space == acpi::address::AddressSpace::SystemIo
    {
        info.pm_timer_port = u16::try_from(block.address).ok();
    }
    Ok(info)
}
