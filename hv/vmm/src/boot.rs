//! Putting an image into guest memory and the vCPU into its starting state.
//!
//! Guest-physical layout (both kinds of image):
//!
//! | range | what |
//! |---|---|
//! | 0x500 | PVH: GDT (null, 32-bit code 0x08, data 0x10, TSS 0x18) |
//! | 0x6000 | PVH: `hvm_start_info` (EBX at entry), module list at 0x6040 |
//! | 0x7000 | PVH: memory map; flat: top of the initial stack (SP) |
//! | 0x8000 | flat: the image, entered in real mode at CS:IP 0000:8000 |
//! | 0x20000 | PVH: command line (NUL-terminated, < 4 KiB) |
//! | 1 MiB.. | PVH: the ELF's segments (none may start below 0x21000) |
//! | top of RAM | PVH: the initrd, page-aligned, as module 0 |
//!
//! PVH entry state (xen/include/public/arch-x86/hvm/start_info.h, "the PVH boot ABI"): 32-bit
//! protected mode, paging off, CS flat 32-bit code, DS/ES/FS/GS/SS flat data, TR a 32-bit TSS,
//! EFLAGS 0x2 (IF clear), EBX the start info's address.

use anyhow::{Context, Result, bail, ensure};
use kvm_ioctls::VcpuFd;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use zerocopy::IntoBytes;

use crate::hostarch::{self, Segment};
use crate::image::{FLAT_LOAD, Image};

pub const GDT_ADDR: u64 = 0x500;
pub const START_INFO_ADDR: u64 = 0x6000;
pub const MODLIST_ADDR: u64 = 0x6040;
pub const MEMMAP_ADDR: u64 = 0x7000;
pub const CMDLINE_ADDR: u64 = 0x20000;
pub const CMDLINE_MAX: usize = 4096;
/// The lowest address an ELF segment may use: above everything vmrun writes.
pub const ELF_MIN: u64 = CMDLINE_ADDR + CMDLINE_MAX as u64;
/// The flat image's initial stack pointer.
pub const FLAT_STACK: u64 = 0x7000;
/// `XEN_HVM_START_MAGIC_VALUE`.
pub const XEN_HVM_START_MAGIC: u32 = 0x336e_c578;
/// E820 type of usable RAM.
const E820_RAM: u32 = 1;
/// Start of the legacy hole (EBDA, VGA, BIOS) and its end: not RAM in the memory map.
const EBDA_START: u64 = 0x9fc00;
const HIGH_MEM: u64 = 0x10_0000;

const CR0_PE: u64 = 1;
const CR0_ET: u64 = 1 << 4;
/// The GDT written for PVH: null, 32-bit code, data, 32-bit TSS (Intel SDM Vol. 3A, 3.4.5).
const PVH_GDT: [u64; 4] = [
    0,
    0x00cf_9b00_0000_ffff,
    0x00cf_9300_0000_ffff,
    0x0000_8b00_0000_0067,
];

/// Where the PVH boot data go; filled by [`setup`], written by `hostarch::write_start_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartInfoSpec {
    pub info_addr: u64,
    pub cmdline: u64,
    pub memmap_addr: u64,
    /// `(addr, size, type)` entries.
    pub memmap: Vec<(u64, u64, u32)>,
    pub modlist_addr: u64,
    /// `(addr, size)` of the initrd.
    pub initrd: Option<(u64, u64)>,
}

/// Load `image` (and `initrd`, `cmdline` for PVH) into `mem` of `mem_size` bytes and set the
/// vCPU's registers for its entry. Returns a line describing the entry, for `--verbose`.
pub fn setup(
    mem: &GuestMemoryMmap,
    mem_size: u64,
    vcpu: &VcpuFd,
    image: &Image,
    initrd: Option<&[u8]>,
    cmdline: &str,
) -> Result<String> {
    image.check_fits(mem_size)?;
    match image {
        Image::Flat(bytes) => {
            mem.write_slice(bytes, GuestAddress(FLAT_LOAD))
                .context("writing the image")?;
            real_mode(vcpu)?;
            Ok(format!(
                "flat image of {} bytes at {FLAT_LOAD:#x}, real mode",
                bytes.len()
            ))
        }
        Image::Elf(elf) => {
            if let Some(low) = elf.segments.iter().find(|s| s.paddr < ELF_MIN) {
                bail!(
                    "an ELF segment starts at {:#x}, below {ELF_MIN:#x} where vmrun keeps its boot data",
                    low.paddr
                );
            }
            let entry = hostarch::load_elf(mem, elf)?;
            let spec = pvh_data(mem, mem_size, image.end(), initrd, cmdline)?;
            hostarch::write_start_info(mem, &spec)?;
            mem.write_slice(PVH_GDT.as_bytes(), GuestAddress(GDT_ADDR))
                .context("writing the GDT")?;
            protected_mode(vcpu, entry)?;
            Ok(format!(
                "PVH ELF, entry {entry:#x}, start info at {START_INFO_ADDR:#x}"
            ))
        }
    }
}

/// Write the command line and the initrd; the start info's contents.
fn pvh_data(
    mem: &GuestMemoryMmap,
    mem_size: u64,
    image_end: u64,
    initrd: Option<&[u8]>,
    cmdline: &str,
) -> Result<StartInfoSpec> {
    ensure!(
        cmdline.len() < CMDLINE_MAX,
        "the command line is {} bytes; at most {} fit",
        cmdline.len(),
        CMDLINE_MAX - 1
    );
    ensure!(!cmdline.contains('\0'), "the command line contains a NUL");
    let mut text = cmdline.as_bytes().to_vec();
    text.push(0);
    mem.write_slice(&text, GuestAddress(CMDLINE_ADDR))
        .context("writing the command line")?;
    let initrd = match initrd {
        Some(bytes) => {
            let len = bytes.len() as u64;
            let addr = mem_size
                .checked_sub(len)
                .map(|a| a & !0xfff)
                .filter(|&a| a >= image_end)
                .with_context(|| {
                    format!(
                        "too little memory for the image and the {len}-byte initrd (use --mem {}K or more)",
                        (image_end + len).div_ceil(1024) + 4
                    )
                })?;
            mem.write_slice(bytes, GuestAddress(addr))
                .context("writing the initrd")?;
            Some((addr, len))
        }
        None => None,
    };
    Ok(StartInfoSpec {
        info_addr: START_INFO_ADDR,
        cmdline: CMDLINE_ADDR,
        memmap_addr: MEMMAP_ADDR,
        memmap: memory_map(mem_size),
        modlist_addr: MODLIST_ADDR,
        initrd,
    })
}

/// RAM below the legacy hole, and from 1 MiB to the end.
pub fn memory_map(mem_size: u64) -> Vec<(u64, u64, u32)> {
    let mut map = vec![(0, mem_size.min(EBDA_START), E820_RAM)];
    if mem_size > HIGH_MEM {
        map.push((HIGH_MEM, mem_size - HIGH_MEM, E820_RAM));
    }
    map
}

fn real_mode(vcpu: &VcpuFd) -> Result<()> {
    let mut sregs = hostarch::get_sregs(vcpu)?;
    let seg = |type_| Segment {
        base: 0,
        limit: 0xffff,
        selector: 0,
        type_,
        present: 1,
        s: 1,
        ..Default::default()
    };
    sregs.cs = seg(0xb);
    for data in [
        &mut sregs.ds,
        &mut sregs.es,
        &mut sregs.fs,
        &mut sregs.gs,
        &mut sregs.ss,
    ] {
        *data = seg(0x3);
    }
    sregs.cr0 = CR0_ET;
    sregs.cr4 = 0;
    sregs.efer = 0;
    hostarch::set_sregs(vcpu, &sregs)?;
    let regs = hostarch::Regs {
        rip: FLAT_LOAD,
        rsp: FLAT_STACK,
        rflags: 0x2,
        ..Default::default()
    };
    hostarch::set_regs(vcpu, &regs)
}

fn protected_mode(vcpu: &VcpuFd, entry: u32) -> Result<()> {
    let mut sregs = hostarch::get_sregs(vcpu)?;
    let flat = |selector, type_| Segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_,
        present: 1,
        db: 1,
        s: 1,
        g: 1,
        ..Default::default()
    };
    sregs.cs = flat(0x08, 0xb);
    for data in [
        &mut sregs.ds,
        &mut sregs.es,
        &mut sregs.fs,
        &mut sregs.gs,
        &mut sregs.ss,
    ] {
        *data = flat(0x10, 0x3);
    }
    sregs.tr = Segment {
        base: 0,
        limit: 0x67,
        selector: 0x18,
        type_: 0xb,
        present: 1,
        ..Default::default()
    };
    sregs.gdt.base = GDT_ADDR;
    sregs.gdt.limit = (PVH_GDT.len() * 8 - 1) as u16;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = CR0_PE | CR0_ET;
    sregs.cr4 = 0;
    sregs.efer = 0;
    hostarch::set_sregs(vcpu, &sregs)?;
    let regs = hostarch::Regs {
        rip: u64::from(entry),
        rbx: START_INFO_ADDR,
        rflags: 0x2,
        ..Default::default()
    };
    hostarch::set_regs(vcpu, &regs)
}

/// `struct hvm_start_info` (xen/include/public/arch-x86/hvm/start_info.h).
#[cfg(any(test, not(target_arch = "x86_64")))]
#[repr(C)]
#[derive(Debug, Default, IntoBytes, zerocopy::Immutable)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

/// `struct hvm_memmap_table_entry`.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[repr(C)]
#[derive(Debug, Default, IntoBytes, zerocopy::Immutable)]
struct MemmapEntry {
    addr: u64,
    size: u64,
    type_: u32,
    reserved: u32,
}

/// `struct hvm_modlist_entry`.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[repr(C)]
#[derive(Debug, Default, IntoBytes, zerocopy::Immutable)]
struct ModlistEntry {
    paddr: u64,
    size: u64,
    cmdline_paddr: u64,
    reserved: u64,
}

/// vmrun's own start-info writer, for builds without linux-loader's x86 configurator; on
/// x86_64 a test checks it writes the same bytes as linux-loader.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub fn write_start_info_own(mem: &GuestMemoryMmap, spec: &StartInfoSpec) -> Result<()> {
    let info = StartInfo {
        magic: XEN_HVM_START_MAGIC,
        version: 1,
        nr_modules: u32::from(spec.initrd.is_some()),
        modlist_paddr: if spec.initrd.is_some() {
            spec.modlist_addr
        } else {
            0
        },
        cmdline_paddr: spec.cmdline,
        memmap_paddr: spec.memmap_addr,
        memmap_entries: u32::try_from(spec.memmap.len()).context("memory map")?,
        ..Default::default()
    };
    mem.write_slice(info.as_bytes(), GuestAddress(spec.info_addr))
        .context("writing the hvm_start_info")?;
    for (i, &(addr, size, type_)) in spec.memmap.iter().enumerate() {
        let entry = MemmapEntry {
            addr,
            size,
            type_,
            reserved: 0,
        };
        let at = spec.memmap_addr + (i * size_of::<MemmapEntry>()) as u64;
        mem.write_slice(entry.as_bytes(), GuestAddress(at))
            .context("writing the memory map")?;
    }
    if let Some((paddr, size)) = spec.initrd {
        let module = ModlistEntry {
            paddr,
            size,
            ..Default::default()
        };
        mem.write_slice(module.as_bytes(), GuestAddress(spec.modlist_addr))
            .context("writing the module list")?;
    }
    Ok(())
}

/// vmrun's own ELF loader (each `PT_LOAD` at its `p_paddr`; memory starts zeroed, so the
/// `p_memsz` tail needs no writes), for builds without linux-loader's x86 ELF loader.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub fn load_elf_own(mem: &GuestMemoryMmap, elf: &crate::image::ElfImage) -> Result<u32> {
    for seg in &elf.segments {
        let start = usize::try_from(seg.offset).context("segment offset")?;
        let len = usize::try_from(seg.file).context("segment size")?;
        let bytes = elf
            .bytes
            .get(start..start + len)
            .context("segment outside the file")?;
        mem.write_slice(bytes, GuestAddress(seg.paddr))
            .with_context(|| format!("writing the segment at {:#x}", seg.paddr))?;
    }
    Ok(elf.entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn memory(size: usize) -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size)]).expect("guest memory")
    }

    fn read(mem: &GuestMemoryMmap, addr: u64, len: usize) -> Vec<u8> {
        let mut buf = vec![0; len];
        mem.read_slice(&mut buf, GuestAddress(addr)).expect("read");
        buf
    }

    #[test]
    fn memory_map_skips_the_legacy_hole() {
        assert_eq!(
            memory_map(16 << 20),
            [(0, 0x9fc00, 1), (0x100000, (16 << 20) - 0x100000, 1)]
        );
        assert_eq!(memory_map(0x10000), [(0, 0x10000, 1)]);
    }

    #[test]
    fn own_writer_matches_linux_loader() {
        let spec = StartInfoSpec {
            info_addr: START_INFO_ADDR,
            cmdline: CMDLINE_ADDR,
            memmap_addr: MEMMAP_ADDR,
            memmap: memory_map(16 << 20),
            modlist_addr: MODLIST_ADDR,
            initrd: Some((0xf00000, 1234)),
        };
        for initrd in [spec.initrd, None] {
            let spec = StartInfoSpec {
                initrd,
                ..spec.clone()
            };
            let ours = memory(1 << 20);
            write_start_info_own(&ours, &spec).expect("own");
            let theirs = memory(1 << 20);
            hostarch::write_start_info(&theirs, &spec).expect("hostarch");
            assert_eq!(
                read(&ours, 0x6000, 0x2000),
                read(&theirs, 0x6000, 0x2000),
                "initrd {initrd:?}"
            );
        }
    }

    #[test]
    fn own_elf_loader_matches_linux_loader() {
        let code: Vec<u8> = (0..200u8).collect();
        let bytes = crate::image::tests::pvh_elf(0x100000, &code, 0x100, 0x100010);
        let Image::Elf(elf) = Image::classify(Path::new("k"), bytes).expect("elf") else {
            panic!("not an ELF")
        };
        let ours = memory(2 << 20);
        let theirs = memory(2 << 20);
        assert_eq!(load_elf_own(&ours, &elf).expect("own"), 0x100010);
        assert_eq!(
            hostarch::load_elf(&theirs, &elf).expect("hostarch"),
            0x100010
        );
        assert_eq!(read(&ours, 0x100000, 0x400), read(&theirs, 0x100000, 0x400));
        assert_eq!(read(&ours, 0x100000, 200), code);
    }

    #[test]
    fn initrd_goes_to_the_top_or_fails_clearly() {
        let mem = memory(4 << 20);
        let spec = pvh_data(&mem, 4 << 20, 0x200000, Some(&[7; 5000]), "x").expect("fits");
        assert_eq!(spec.initrd, Some(((4 << 20) - 0x2000, 5000)));
        assert_eq!(read(&mem, CMDLINE_ADDR, 2), b"x\0");
        let err = pvh_data(&mem, 4 << 20, 0x3ff000, Some(&[7; 5000]), "").expect_err("too small");
        assert!(format!("{err}").contains("too little memory"), "{err}");
        assert!(pvh_data(&mem, 4 << 20, 0, None, &"a".repeat(5000)).is_err());
    }
}
