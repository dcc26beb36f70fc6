//! Parsing of the loaders' boot information, independent of how physical memory is reached (so
//! it runs in host tests): PVH `hvm_start_info` and the Multiboot2 information structure.
//!
//! References: Xen `include/public/arch-x86/hvm/start_info.h`; Multiboot2 specification §3.6.

use arch_api::{BootInfo, PhysRange};

/// `hvm_start_info.magic`; the PVH entry also passes it to the common path.
pub const PVH_MAGIC: u32 = 0x336e_c578;
/// What a Multiboot2 loader leaves in EAX.
pub const MULTIBOOT2_MAGIC: u32 = 0x36d7_6289;

/// Memory below 1 MiB (BIOS data, real-mode IVT, option ROMs, AP trampolines later) is never
/// handed to the allocator.
pub const LOW_MEMORY_END: u64 = 0x10_0000;

/// E820 / Multiboot2 memory type of usable RAM.
const MEMORY_AVAILABLE: u32 = 1;

/// Read access to physical memory.
pub trait PhysMem {
    /// Fill `buf` from physical address `pa`; false if that range is not readable.
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool;

    fn u8(&self, pa: u64) -> Option<u8> {
        let mut b = [0u8; 1];
        self.read(pa, &mut b).then_some(b[0])
    }

    fn u32(&self, pa: u64) -> Option<u32> {
        let mut b = [0u8; 4];
        self.read(pa, &mut b).then(|| u32::from_le_bytes(b))
    }

    fn u64(&self, pa: u64) -> Option<u64> {
        let mut b = [0u8; 8];
        self.read(pa, &mut b).then(|| u64::from_le_bytes(b))
    }
}

/// What the parsers found. Strings and the RSDP copy stay where the loader put them: the caller
/// copies them somewhere permanent.
pub struct Parsed {
    /// RAM ranges, initrd and (for PVH) the RSDP address; `cmdline` is left empty.
    pub boot: BootInfo,
    /// Physical address of the NUL-terminated command line.
    pub cmdline: Option<u64>,
    /// Physical address of an RSDP copy inside the loader's (temporary) information block.
    pub rsdp_copy: Option<u64>,
}

/// Parse the information at `info` of the protocol named by `magic`; None if unknown.
pub fn parse(mem: &impl PhysMem, magic: u32, info: u64) -> Option<Parsed> {
    match magic {
        PVH_MAGIC => Some(parse_pvh(mem, info)),
        MULTIBOOT2_MAGIC => Some(parse_multiboot2(mem, info)),
        _ => None,
    }
}

fn parse_pvh(mem: &impl PhysMem, info: u64) -> Parsed {
    let mut p = Parsed {
        boot: BootInfo::new("PVH"),
        cmdline: None,
        rsdp_copy: None,
    };
    let version = mem.u32(info + 4).unwrap_or(0);
    let nr_modules = mem.u32(info + 12).unwrap_or(0);
    let modlist = mem.u64(info + 16).unwrap_or(0);
    p.cmdline = mem.u64(info + 24).filter(|&a| a != 0);
    p.boot.rsdp = mem.u64(info + 32).filter(|&a| a != 0);
    if nr_modules > 0 && modlist != 0 {
        // hvm_modlist_entry: paddr, size, cmdline_paddr, reserved.
        let paddr = mem.u64(modlist).unwrap_or(0);
        let size = mem.u64(modlist + 8).unwrap_or(0);
        if size > 0 {
            p.boot.initrd = Some(PhysRange::new(paddr, paddr + size));
        }
    }
    // The memory map exists from version 1 on: memmap_paddr at 40, memmap_entries at 48.
    if version >= 1 {
        let memmap = mem.u64(info + 40).unwrap_or(0);
        let entries = mem.u32(info + 48).unwrap_or(0);
        for i in 0..u64::from(entries) {
            // hvm_memmap_table_entry: addr, size, type, reserved (24 bytes).
            let e = memmap + i * 24;
            let (Some(addr), Some(size), Some(kind)) =
                (mem.u64(e), mem.u64(e + 8), mem.u32(e + 16))
            else {
                break;
            };
            if kind == MEMORY_AVAILABLE {
                add_ram(&mut p.boot, addr, size);
            }
        }
    }
    p
}

fn parse_multiboot2(mem: &impl PhysMem, info: u64) -> Parsed {
    let mut p = Parsed {
        boot: BootInfo::new("Multiboot2"),
        cmdline: None,
        rsdp_copy: None,
    };
    let total = u64::from(mem.u32(info).unwrap_or(0));
    let end = info + total;
    let mut tag = info + 8;
    let (mut rsdp_new, mut rsdp_old) = (None, None);
    while tag + 8 <= end {
        let kind = mem.u32(tag).unwrap_or(0);
        let size = u64::from(mem.u32(tag + 4).unwrap_or(0));
        if kind == 0 || size < 8 {
            break;
        }
        match kind {
            1 => p.cmdline = Some(tag + 8),
            // The first module is the initrd.
            3 if p.boot.initrd.is_none() => {
                let start = u64::from(mem.u32(tag + 8).unwrap_or(0));
                let end = u64::from(mem.u32(tag + 12).unwrap_or(0));
                if end > start {
                    p.boot.initrd = Some(PhysRange::new(start, end));
                }
            }
            6 => {
                let entry_size = u64::from(mem.u32(tag + 8).unwrap_or(0));
                let mut e = tag + 16;
                while entry_size >= 24 && e + entry_size <= tag + size {
                    if mem.u32(e + 16) == Some(MEMORY_AVAILABLE) {
                        let addr = mem.u64(e).unwrap_or(0);
                        let len = mem.u64(e + 8).unwrap_or(0);
                        add_ram(&mut p.boot, addr, len);
                    }
                    e += entry_size;
                }
            }
            14 => rsdp_old = Some(tag + 8),
            15 => rsdp_new = Some(tag + 8),
            _ => {}
        }
        // Tags are padded to 8 bytes.
        tag += (size + 7) & !7;
    }
    p.rsdp_copy = rsdp_new.or(rsdp_old);
    p
}

pub fn page_up(a: u64) -> u64 {
    a.saturating_add(0xfff) & !0xfff
}

/// Record usable RAM `[addr, addr + len)` without low memory, trimmed to whole pages.
fn add_ram(boot: &mut BootInfo, addr: u64, len: u64) {
    let start = page_up(addr.max(LOW_MEMORY_END));
    let end = addr.saturating_add(len) & !0xfff;
    if end > start {
        boot.add_ram(PhysRange::new(start, end));
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    /// Fake physical memory: `bytes` at physical `base`.
    struct Mem {
        base: u64,
        bytes: Vec<u8>,
    }

    impl PhysMem for Mem {
        fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
            let Some(off) = pa.checked_sub(self.base) else {
                return false;
            };
            let off = off as usize;
            match self.bytes.get(off..off + buf.len()) {
                Some(src) => {
                    buf.copy_from_slice(src);
                    true
                }
                None => false,
            }
        }
    }

    fn put(bytes: &mut Vec<u8>, off: usize, data: &[u8]) {
        if bytes.len() < off + data.len() {
            bytes.resize(off + data.len(), 0);
        }
        bytes[off..off + data.len()].copy_from_slice(data);
    }

    const BASE: u64 = 0x9000;

    #[test]
    fn pvh_start_info() {
        let mut b = Vec::new();
        put(&mut b, 0, &PVH_MAGIC.to_le_bytes());
        put(&mut b, 4, &1u32.to_le_bytes()); // version
        put(&mut b, 12, &1u32.to_le_bytes()); // nr_modules
        put(&mut b, 16, &(BASE + 0x100).to_le_bytes()); // modlist
        put(&mut b, 24, &(BASE + 0x200).to_le_bytes()); // cmdline
        put(&mut b, 32, &0xf5000u64.to_le_bytes()); // rsdp
        put(&mut b, 40, &(BASE + 0x300).to_le_bytes()); // memmap
        put(&mut b, 48, &3u32.to_le_bytes()); // entries
        put(&mut b, 0x100, &0x80_0000u64.to_le_bytes());
        put(&mut b, 0x108, &0x1234u64.to_le_bytes());
        put(&mut b, 0x200, b"console=ttyS0\0");
        // Low RAM (dropped), RAM from 1 MiB with a ragged end, reserved, high RAM.
        for (i, (addr, size, kind)) in [
            (0u64, 0x9fc00u64, 1u32),
            (0x10_0000, 0x7fe_0123, 1),
            (0xfeff_c000, 0x4000, 2),
        ]
        .iter()
        .enumerate()
        {
            let off = 0x300 + i * 24;
            put(&mut b, off, &addr.to_le_bytes());
            put(&mut b, off + 8, &size.to_le_bytes());
            put(&mut b, off + 16, &kind.to_le_bytes());
        }
        let mem = Mem {
            base: BASE,
            bytes: b,
        };
        let p = parse(&mem, PVH_MAGIC, BASE).unwrap();
        assert_eq!(p.boot.protocol, "PVH");
        assert_eq!(p.boot.ram(), &[PhysRange::new(0x10_0000, 0x80e_0000)]);
        assert_eq!(p.boot.initrd, Some(PhysRange::new(0x80_0000, 0x80_1234)));
        assert_eq!(p.boot.rsdp, Some(0xf5000));
        assert_eq!(p.cmdline, Some(BASE + 0x200));
        assert_eq!(mem.u8(BASE + 0x200), Some(b'c'));
        assert_eq!(mem.u8(BASE - 1), None);
    }

    #[test]
    fn multiboot2_tags() {
        let mut b = Vec::new();
        let mut off = 8;
        // Append a tag at `off` (8-aligned), returning where it starts.
        let tag = |b: &mut Vec<u8>, off: &mut usize, kind: u32, body: &[u8]| -> u64 {
            let at = *off;
            put(b, at, &kind.to_le_bytes());
            put(b, at + 4, &(8 + body.len() as u32).to_le_bytes());
            put(b, at + 8, body);
            *off = (at + 8 + body.len() + 7) & !7;
            at as u64
        };
        tag(&mut b, &mut off, 1, b"loglevel=debug\0");
        let mut module = Vec::new();
        module.extend_from_slice(&0x40_0000u32.to_le_bytes());
        module.extend_from_slice(&0x40_2000u32.to_le_bytes());
        module.extend_from_slice(b"initrd\0");
        tag(&mut b, &mut off, 3, &module);
        let mut mmap = Vec::new();
        mmap.extend_from_slice(&24u32.to_le_bytes());
        mmap.extend_from_slice(&0u32.to_le_bytes());
        for (addr, len, kind) in [
            (0u64, 0x9f000u64, 1u32),
            (0x10_0000, 0x3ee_0000, 1),
            (0x1_0000_0000, 0x4000_0000, 1),
            (0x3fe_0000, 0x2_0000, 2),
        ] {
            mmap.extend_from_slice(&addr.to_le_bytes());
            mmap.extend_from_slice(&len.to_le_bytes());
            mmap.extend_from_slice(&kind.to_le_bytes());
            mmap.extend_from_slice(&0u32.to_le_bytes());
        }
        tag(&mut b, &mut off, 6, &mmap);
        tag(&mut b, &mut off, 14, b"RSD PTR old.........");
        let rsdp_tag = tag(
            &mut b,
            &mut off,
            15,
            b"RSD PTR new.........................",
        );
        tag(&mut b, &mut off, 0, &[]);
        let total = off as u32;
        put(&mut b, 0, &total.to_le_bytes());
        let p = parse(
            &Mem {
                base: BASE,
                bytes: b,
            },
            MULTIBOOT2_MAGIC,
            BASE,
        )
        .unwrap();
        assert_eq!(p.boot.protocol, "Multiboot2");
        assert_eq!(
            p.boot.ram(),
            &[
                PhysRange::new(0x10_0000, 0x3fe_0000),
                PhysRange::new(0x1_0000_0000, 0x1_4000_0000)
            ]
        );
        assert_eq!(p.boot.initrd, Some(PhysRange::new(0x40_0000, 0x40_2000)));
        assert_eq!(p.cmdline, Some(BASE + 16));
        // The ACPI 2.0 copy wins over the 1.0 one.
        assert_eq!(p.rsdp_copy, Some(BASE + rsdp_tag + 8));
    }

    #[test]
    fn unknown_magic() {
        assert!(
            parse(
                &Mem {
                    base: 0,
                    bytes: Vec::new()
                },
                0x2bad_b002,
                0
            )
            .is_none()
        );
    }
}
