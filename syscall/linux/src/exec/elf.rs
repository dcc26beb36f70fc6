//! Turning an ELF executable into a load plan: which bytes go where, with what protection.
//!
//! Static executables (ET_EXEC) load at their link addresses; static-PIE (ET_DYN without
//! PT_INTERP) load at a base the caller picks. Executables that need a dynamic loader are
//! refused with ENOEXEC for now. Every size and offset is checked, so a corrupt file gives an
//! error, never a panic.

use alloc::vec::Vec;
use elf::ElfBytes;
use elf::abi::{ET_DYN, ET_EXEC, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};
use elf::endian::LittleEndian;
use syscall::Errno;

/// The machine an executable must be for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
}

impl Machine {
    fn e_machine(self) -> u16 {
        match self {
            Machine::X86_64 => elf::abi::EM_X86_64,
            Machine::Aarch64 => elf::abi::EM_AARCH64,
        }
    }
}

/// Protection of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

/// One PT_LOAD segment, relocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Where it starts in memory (not page aligned in general).
    pub vaddr: u64,
    /// Bytes in memory; past `file_size` it is zero-filled (.bss).
    pub mem_size: u64,
    /// Offset of its bytes in the file.
    pub file_offset: u64,
    /// Bytes copied from the file.
    pub file_size: u64,
    pub prot: Prot,
}

/// Everything exec needs to map an executable and start it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// Entry point, relocated.
    pub entry: u64,
    /// Address of the program headers in memory (AT_PHDR).
    pub phdr: u64,
    pub phent: u64,
    pub phnum: u64,
    /// Added to every link address (0 for ET_EXEC).
    pub load_bias: u64,
    pub segments: Vec<Segment>,
    /// First address past the highest segment: where the heap (brk) starts, page aligned.
    pub brk_start: u64,
}

const PAGE: u64 = 4096;

/// Build the load plan of a whole `file` for `machine`; `pie_base` is where a static-PIE
/// goes. Exec reads only the file's head ([`plan_head`]); this form is the tests'.
#[cfg(test)]
pub fn plan(
    file: &[u8],
    machine: Machine,
    pie_base: u64,
    user_end: u64,
) -> Result<LoadPlan, Errno> {
    plan_head(file, file.len() as u64, machine, pie_base, user_end)
}

/// How many bytes from the start of a file [`plan_head`] needs, once it has the ELF header
/// (`head` holds at least its first 64 bytes): through the end of the program headers, at
/// least one page. `None` if `head` is no 64-bit ELF header.
pub fn head_len(head: &[u8]) -> Option<u64> {
    let ehdr = head.get(..64).filter(|h| h.starts_with(b"\x7fELF"))?;
    let phoff = u64::from_le_bytes(ehdr[32..40].try_into().ok()?);
    let phentsize = u64::from(u16::from_le_bytes(ehdr[54..56].try_into().ok()?));
    let phnum = u64::from(u16::from_le_bytes(ehdr[56..58].try_into().ok()?));
    let end = phoff.checked_add(phentsize.checked_mul(phnum)?)?;
    Some(end.max(PAGE))
}

/// [`plan`] from the start of the file only (`head`: at least the ELF and program headers,
/// [`head_len`]); segments are checked against `file_len`. Section headers are ignored, as
/// Linux does (they are usually at the end of the file, outside `head`).
pub fn plan_head(
    head: &[u8],
    file_len: u64,
    machine: Machine,
    pie_base: u64,
    user_end: u64,
) -> Result<LoadPlan, Errno> {
    let cleared: Vec<u8>;
    let head = if head.len() >= 64 && head[40..48] != [0; 8] {
        // e_shoff = 0: no section header table for the parser to find.
        let mut copy = head.to_vec();
        copy[40..48].fill(0);
        cleared = copy;
        &cleared
    } else {
        head
    };
    let elf = ElfBytes::<LittleEndian>::minimal_parse(head).map_err(|_| Errno::ENOEXEC)?;
    let ehdr = elf.ehdr;
    if ehdr.class != elf::file::Class::ELF64 || ehdr.e_machine != machine.e_machine() {
        return Err(Errno::ENOEXEC);
    }
    let load_bias = match ehdr.e_type {
        ET_EXEC => 0,
        ET_DYN => pie_base,
        _ => return Err(Errno::ENOEXEC),
    };
    let phdrs = elf.segments().ok_or(Errno::ENOEXEC)?;
    let mut segments = Vec::new();
    let mut phdr_at = None;
    let mut end = 0u64;
    for ph in phdrs.iter() {
        match ph.p_type {
            // A dynamic loader is not supported yet.
            PT_INTERP => return Err(Errno::ENOEXEC),
            PT_PHDR => phdr_at = Some(ph.p_vaddr.checked_add(load_bias).ok_or(Errno::ENOEXEC)?),
            PT_LOAD => {
                let vaddr = ph.p_vaddr.checked_add(load_bias).ok_or(Errno::ENOEXEC)?;
                let seg_end = vaddr.checked_add(ph.p_memsz).ok_or(Errno::ENOEXEC)?;
                let file_end = ph.p_offset.checked_add(ph.p_filesz).ok_or(Errno::ENOEXEC)?;
                let aligned = ph.p_align <= 1 || (vaddr % PAGE == ph.p_offset % PAGE);
                if ph.p_filesz > ph.p_memsz || file_end > file_len || seg_end > user_end || !aligned
                {
                    return Err(Errno::ENOEXEC);
                }
                if ph.p_memsz == 0 {
                    continue;
                }
                // The headers are inside the segment that maps file offset e_phoff.
                if phdr_at.is_none() && ph.p_offset <= ehdr.e_phoff && ehdr.e_phoff < file_end {
                    phdr_at = Some(vaddr + (ehdr.e_phoff - ph.p_offset));
                }
                end = end.max(seg_end);
                segments.push(Segment {
                    vaddr,
                    mem_size: ph.p_memsz,
                    file_offset: ph.p_offset,
                    file_size: ph.p_filesz,
                    prot: Prot {
                        read: ph.p_flags & PF_R != 0,
                        write: ph.p_flags & PF_W != 0,
                        exec: ph.p_flags & PF_X != 0,
                    },
                });
            }
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    let entry = ehdr.e_entry.checked_add(load_bias).ok_or(Errno::ENOEXEC)?;
    if !segments
        .iter()
        .any(|s| s.prot.exec && s.vaddr <= entry && entry < s.vaddr + s.mem_size)
    {
        return Err(Errno::ENOEXEC);
    }
    Ok(LoadPlan {
        entry,
        phdr: phdr_at.unwrap_or(0),
        phent: u64::from(ehdr.e_phentsize),
        phnum: u64::from(ehdr.e_phnum),
        load_bias,
        segments,
        brk_start: end.div_ceil(PAGE) * PAGE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    /// A minimal static ELF: one header, one RX segment covering the file.
    fn tiny_elf(e_type: u16, machine: u16, entry: u64) -> std::vec::Vec<u8> {
        let mut f = vec![0u8; 0x1000];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little endian
        f[6] = 1; // version
        f[16..18].copy_from_slice(&e_type.to_le_bytes());
        f[18..20].copy_from_slice(&machine.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&entry.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let ph = &mut f[64..120];
        ph[0..4].copy_from_slice(&PT_LOAD.to_le_bytes());
        ph[4..8].copy_from_slice(&(PF_R | PF_X).to_le_bytes());
        ph[8..16].copy_from_slice(&0u64.to_le_bytes()); // offset
        ph[16..24].copy_from_slice(&0x40_0000u64.to_le_bytes()); // vaddr
        ph[24..32].copy_from_slice(&0x40_0000u64.to_le_bytes()); // paddr
        ph[32..40].copy_from_slice(&0x1000u64.to_le_bytes()); // filesz
        ph[40..48].copy_from_slice(&0x2345u64.to_le_bytes()); // memsz
        ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes()); // align
        f
    }

    #[test]
    fn static_executable() {
        let f = tiny_elf(ET_EXEC, elf::abi::EM_X86_64, 0x40_0100);
        let p = plan(&f, Machine::X86_64, 0x5555_0000_0000, 1 << 47).unwrap();
        assert_eq!(p.entry, 0x40_0100);
        assert_eq!(p.phdr, 0x40_0040);
        assert_eq!((p.phnum, p.phent, p.load_bias), (1, 56, 0));
        assert_eq!(p.segments.len(), 1);
        assert!(p.segments[0].prot.exec && !p.segments[0].prot.write);
        assert_eq!(p.brk_start, 0x40_3000);
        assert_eq!(plan(&f, Machine::Aarch64, 0, 1 << 47), Err(Errno::ENOEXEC));
    }

    #[test]
    fn plan_from_the_head_only() {
        let mut f = tiny_elf(ET_EXEC, elf::abi::EM_X86_64, 0x40_0100);
        // Section headers at the end of a 3 MiB file, outside the head: ignored.
        f[40..48].copy_from_slice(&0x30_0000u64.to_le_bytes());
        f[58..60].copy_from_slice(&64u16.to_le_bytes());
        f[60..62].copy_from_slice(&30u16.to_le_bytes());
        assert_eq!(head_len(&f), Some(0x1000));
        assert_eq!(head_len(&f[..63]), None);
        assert_eq!(head_len(b"#!/bin/sh\n"), None);
        let p = plan_head(&f, 0x30_1000, Machine::X86_64, 0, 1 << 47).unwrap();
        assert_eq!(p.segments[0].file_size, 0x1000);
        // A segment reaching past the end of the file is refused.
        assert_eq!(
            plan_head(&f, 0xfff, Machine::X86_64, 0, 1 << 47),
            Err(Errno::ENOEXEC)
        );
        // Program headers far out: the head must reach them.
        f[32..40].copy_from_slice(&0x2_0000u64.to_le_bytes());
        assert_eq!(head_len(&f), Some(0x2_0000 + 56));
    }

    #[test]
    fn static_pie_is_relocated() {
        let f = tiny_elf(ET_DYN, elf::abi::EM_AARCH64, 0x40_0200);
        let p = plan(&f, Machine::Aarch64, 0x10_0000_0000, 1 << 48).unwrap();
        assert_eq!(p.entry, 0x10_0040_0200);
        assert_eq!(p.segments[0].vaddr, 0x10_0040_0000);
    }

    #[test]
    fn corrupt_files_are_refused_without_panic() {
        let good = tiny_elf(ET_EXEC, elf::abi::EM_X86_64, 0x40_0100);
        assert_eq!(
            plan(&good[..100], Machine::X86_64, 0, 1 << 47),
            Err(Errno::ENOEXEC)
        );
        let mut bad_entry = good.clone();
        bad_entry[24..32].copy_from_slice(&0x90_0000u64.to_le_bytes());
        assert_eq!(
            plan(&bad_entry, Machine::X86_64, 0, 1 << 47),
            Err(Errno::ENOEXEC)
        );
        let mut huge = good.clone();
        huge[64 + 32..64 + 40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            plan(&huge, Machine::X86_64, 0, 1 << 47),
            Err(Errno::ENOEXEC)
        );
        // Every truncation and every single-byte corruption of the header area: no panic.
        for n in 0..good.len().min(200) {
            let _ = plan(&good[..n], Machine::X86_64, 0, 1 << 47);
            for v in [0u8, 0xff, 0x80] {
                let mut f = good.clone();
                f[n] = v;
                let _ = plan(&f, Machine::X86_64, 0, 1 << 47);
            }
        }
    }

    #[test]
    fn host_binary_parses_or_is_refused_as_dynamic() {
        // Whatever the host's /bin/true is, parsing it must not panic; a dynamic one is ENOEXEC.
        if let Ok(bytes) = std::fs::read("/bin/true") {
            let r = plan(&bytes, Machine::X86_64, 0x5555_5555_0000, 1 << 47);
            assert!(r.is_ok() || r == Err(Errno::ENOEXEC));
        }
    }
}
