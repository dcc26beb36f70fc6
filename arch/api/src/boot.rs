//! What the boot protocol (PVH, Multiboot2, device tree) told the arch code.

/// Most usable-RAM ranges a [`BootInfo`] records.
pub const MAX_RAM_RANGES: usize = 32;
/// Most reserved ranges a [`BootInfo`] records.
pub const MAX_RESERVED_RANGES: usize = 16;

/// A half-open range of physical addresses `[start, end)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }
    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    pub const fn overlaps(&self, other: &PhysRange) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Boot information in a fixed-size form (filled before the heap exists).
#[derive(Clone, Debug)]
pub struct BootInfo {
    /// "PVH", "Multiboot2" or "DTB".
    pub protocol: &'static str,
    ram: [PhysRange; MAX_RAM_RANGES],
    ram_count: usize,
    reserved: [PhysRange; MAX_RESERVED_RANGES],
    reserved_count: usize,
    /// Kernel command line (empty if none).
    pub cmdline: &'static str,
    /// The initial ramdisk, if the loader gave one.
    pub initrd: Option<PhysRange>,
    /// Physical address of the ACPI RSDP (x86) if known.
    pub rsdp: Option<u64>,
    /// Physical address of the flattened device tree (aarch64) if known.
    pub dtb: Option<u64>,
}

impl BootInfo {
    pub const fn new(protocol: &'static str) -> Self {
        Self {
            protocol,
            ram: [PhysRange::new(0, 0); MAX_RAM_RANGES],
            ram_count: 0,
            reserved: [PhysRange::new(0, 0); MAX_RESERVED_RANGES],
            reserved_count: 0,
            cmdline: "",
            initrd: None,
            rsdp: None,
            dtb: None,
        }
    }

    /// Record usable RAM. Ranges past [`MAX_RAM_RANGES`] are dropped (returns false).
    pub fn add_ram(&mut self, r: PhysRange) -> bool {
        if r.is_empty() || self.ram_count == MAX_RAM_RANGES {
            return false;
        }
        self.ram[self.ram_count] = r;
        self.ram_count += 1;
        true
    }

    /// Record memory inside RAM that must never be handed out (kernel image, boot page tables,
    /// initrd, device tree).
    pub fn add_reserved(&mut self, r: PhysRange) -> bool {
        if r.is_empty() || self.reserved_count == MAX_RESERVED_RANGES {
            return false;
        }
        self.reserved[self.reserved_count] = r;
        self.reserved_count += 1;
        true
    }

    pub fn ram(&self) -> &[PhysRange] {
        &self.ram[..self.ram_count]
    }

    pub fn reserved(&self) -> &[PhysRange] {
        &self.reserved[..self.reserved_count]
    }

    /// Total usable RAM in bytes.
    pub fn ram_bytes(&self) -> u64 {
        self.ram().iter().map(PhysRange::len).sum()
    }

    /// The value of `key=` on the command line, if present.
    pub fn cmdline_value(&self, key: &str) -> Option<&'static str> {
        self.cmdline
            .split_ascii_whitespace()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_values() {
        let mut b = BootInfo::new("test");
        b.cmdline = "console=ttyS0 test=all testx=no loglevel=7";
        assert_eq!(b.cmdline_value("test"), Some("all"));
        assert_eq!(b.cmdline_value("loglevel"), Some("7"));
        assert_eq!(b.cmdline_value("init"), None);
    }

    #[test]
    fn ranges() {
        let mut b = BootInfo::new("test");
        assert!(!b.add_ram(PhysRange::new(5, 5)));
        assert!(b.add_ram(PhysRange::new(0x1000, 0x3000)));
        assert_eq!(b.ram_bytes(), 0x2000);
        assert!(PhysRange::new(0, 10).overlaps(&PhysRange::new(9, 20)));
        assert!(!PhysRange::new(0, 10).overlaps(&PhysRange::new(10, 20)));
    }
}
