//! Guest images: what kind a file is, and the checks that turn a bad one into a clear error
//! before any guest memory is touched.
//!
//! - ELF64 (x86-64) with a PVH note: each `PT_LOAD` goes to its `p_paddr`; the entry is the
//!   note's `XEN_ELFNOTE_PHYS32_ENTRY`, in 32-bit protected mode (see `boot.rs`).
//! - A flat binary, named `*.bin`: loaded at [`FLAT_LOAD`] and started in real mode there.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

/// Where a flat binary is loaded and entered (CS:IP = 0000:8000).
pub const FLAT_LOAD: u64 = 0x8000;
/// No image is read beyond this (the largest guest RAM).
const MAX_IMAGE: u64 = crate::options::MAX_MEM;

/// `XEN_ELFNOTE_PHYS32_ENTRY`: the PVH 32-bit entry point note (xen/include/public/elfnote.h).
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const EM_X86_64: u16 = 62;

/// A parsed image.
#[derive(Debug, PartialEq, Eq)]
pub enum Image {
    Flat(Vec<u8>),
    Elf(ElfImage),
}

/// What vmrun needs from a PVH ELF.
#[derive(Debug, PartialEq, Eq)]
pub struct ElfImage {
    pub bytes: Vec<u8>,
    pub segments: Vec<Segment>,
    /// The 32-bit PVH entry point.
    pub entry: u32,
}

/// One `PT_LOAD`: `file` bytes from `offset` at `paddr`, zero-filled up to `mem` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub paddr: u64,
    pub offset: u64,
    pub file: u64,
    pub mem: u64,
}

impl Image {
    /// Read and classify `path`.
    pub fn read(path: &Path) -> Result<Image> {
        let meta = std::fs::metadata(path).map_err(|e| {
            anyhow::anyhow!("cannot open {}: {}", path.display(), crate::os_text(&e))
        })?;
        ensure!(meta.is_file(), "{}: not a regular file", path.display());
        ensure!(
            meta.len() <= MAX_IMAGE,
            "{}: {} bytes is too big for any guest",
            path.display(),
            meta.len()
        );
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!("cannot read {}: {}", path.display(), crate::os_text(&e))
        })?;
        Image::classify(path, bytes).with_context(|| format!("bad image {}", path.display()))
    }

    pub(crate) fn classify(path: &Path, bytes: Vec<u8>) -> Result<Image> {
        if bytes.starts_with(b"\x7fELF") {
            return Ok(Image::Elf(parse_elf(bytes)?));
        }
        if path.extension().is_some_and(|ext| ext == "bin") {
            ensure!(!bytes.is_empty(), "the flat binary is empty");
            return Ok(Image::Flat(bytes));
        }
        bail!("not an ELF file (a flat real-mode binary must be named *.bin)")
    }

    /// The first guest-physical byte after the image.
    pub fn end(&self) -> u64 {
        match self {
            Image::Flat(bytes) => FLAT_LOAD + bytes.len() as u64,
            Image::Elf(elf) => elf
                .segments
                .iter()
                .map(|s| s.paddr + s.mem)
                .max()
                .unwrap_or(0),
        }
    }

    /// Whether the image fits in `mem` bytes of guest RAM; the error says how much it needs.
    pub fn check_fits(&self, mem: u64) -> Result<()> {
        let end = self.end();
        if end > mem {
            bail!(
                "too little memory for the image: it ends at {end:#x}, guest RAM ends at {mem:#x} \
                 (use --mem {}K or more)",
                end.div_ceil(1024)
            );
        }
        Ok(())
    }
}

fn u16_at(b: &[u8], at: usize) -> Result<u16> {
    let bytes = b.get(at..at + 2).context("truncated ELF")?;
    Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32> {
    let bytes = b.get(at..at + 4).context("truncated ELF")?;
    let mut a = [0; 4];
    a.copy_from_slice(bytes);
    Ok(u32::from_le_bytes(a))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64> {
    let bytes = b.get(at..at + 8).context("truncated ELF")?;
    let mut a = [0; 8];
    a.copy_from_slice(bytes);
    Ok(u64::from_le_bytes(a))
}

/// Parse an ELF64 little-endian x86-64 executable: its loadable segments and the PVH entry.
/// (ELF: the System V gABI, "ELF Header" and "Program Header"; notes: "Note Section".)
fn parse_elf(bytes: Vec<u8>) -> Result<ElfImage> {
    ensure!(bytes.len() >= 64, "truncated ELF header");
    ensure!(bytes[4] == 2, "not a 64-bit ELF (PVH guests are ELF64)");
    ensure!(bytes[5] == 1, "not a little-endian ELF");
    ensure!(u16_at(&bytes, 18)? == EM_X86_64, "not an x86-64 ELF");
    let phoff = u64_at(&bytes, 32)?;
    let phentsize = u16_at(&bytes, 54)?;
    let phnum = u16_at(&bytes, 56)?;
    ensure!(phentsize >= 56, "bad program header size {phentsize}");
    let mut segments = Vec::new();
    let mut entry = None;
    for i in 0..u64::from(phnum) {
        let at = phoff
            .checked_add(i * u64::from(phentsize))
            .and_then(|at| usize::try_from(at).ok())
            .filter(|&at| at <= bytes.len())
            .context("program headers outside the file")?;
        let ty = u32_at(&bytes, at)?;
        let offset = u64_at(&bytes, at + 8)?;
        let paddr = u64_at(&bytes, at + 24)?;
        let file = u64_at(&bytes, at + 32)?;
        let mem = u64_at(&bytes, at + 40)?;
        let in_file = offset
            .checked_add(file)
            .is_some_and(|end| end <= bytes.len() as u64);
        match ty {
            PT_LOAD => {
                ensure!(in_file, "segment {i} lies outside the file");
                ensure!(file <= mem, "segment {i} has p_filesz > p_memsz");
                ensure!(
                    paddr.checked_add(mem).is_some_and(|e| e <= MAX_IMAGE),
                    "segment {i} at {paddr:#x} is beyond any guest RAM"
                );
                segments.push(Segment {
                    paddr,
                    offset,
                    file,
                    mem,
                });
            }
            PT_NOTE if in_file => {
                let start = usize::try_from(offset).context("bad note offset")?;
                let len = usize::try_from(file).context("bad note size")?;
                if let Some(found) = pvh_entry(&bytes[start..start + len])? {
                    entry = Some(found);
                }
            }
            _ => {}
        }
    }
    ensure!(!segments.is_empty(), "no PT_LOAD segment");
    let entry = entry.context(
        "no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): vmrun boots ELF guests only through PVH",
    )?;
    Ok(ElfImage {
        bytes,
        segments,
        entry,
    })
}

/// The `XEN_ELFNOTE_PHYS32_ENTRY` in a note segment: name "Xen", a 4- or 8-byte address.
fn pvh_entry(notes: &[u8]) -> Result<Option<u32>> {
    let mut at = 0;
    while at + 12 <= notes.len() {
        let namesz = u32_at(notes, at)? as usize;
        let descsz = u32_at(notes, at + 4)? as usize;
        let ty = u32_at(notes, at + 8)?;
        let name_at = at + 12;
        let desc_at = name_at + namesz.next_multiple_of(4);
        let next = desc_at + descsz.next_multiple_of(4);
        let name = notes
            .get(name_at..name_at + namesz)
            .context("truncated note")?;
        if name == b"Xen\0" && ty == XEN_ELFNOTE_PHYS32_ENTRY {
            let value = match descsz {
                4 => u64::from(u32_at(notes, desc_at)?),
                8 => u64_at(notes, desc_at)?,
                _ => bail!("PVH entry note of {descsz} bytes (want 4 or 8)"),
            };
            let entry = u32::try_from(value).context("PVH entry above 4 GiB")?;
            return Ok(Some(entry));
        }
        at = next;
    }
    Ok(None)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A minimal PVH ELF: one PT_LOAD of `code` at `paddr` (+ `bss` zero bytes) and a PT_NOTE
    /// naming `entry`.
    pub fn pvh_elf(paddr: u64, code: &[u8], bss: u64, entry: u32) -> Vec<u8> {
        let mut note = Vec::new();
        for v in [4u32, 4, XEN_ELFNOTE_PHYS32_ENTRY] {
            note.extend(v.to_le_bytes());
        }
        note.extend(b"Xen\0");
        note.extend(entry.to_le_bytes());
        let phoff = 64u64;
        let data = phoff + 2 * 56;
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&2u16.to_le_bytes());
        b[18..20].copy_from_slice(&EM_X86_64.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[24..32].copy_from_slice(&u64::from(entry).to_le_bytes());
        b[32..40].copy_from_slice(&phoff.to_le_bytes());
        b[52..54].copy_from_slice(&64u16.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&2u16.to_le_bytes());
        let phdr = |ty: u32, offset: u64, addr: u64, file: u64, mem: u64| {
            let mut p = Vec::new();
            p.extend(ty.to_le_bytes());
            p.extend(7u32.to_le_bytes());
            for v in [offset, addr, addr, file, mem, 4] {
                p.extend(v.to_le_bytes());
            }
            p
        };
        let code_len = code.len() as u64;
        b.extend(phdr(PT_LOAD, data, paddr, code_len, code_len + bss));
        b.extend(phdr(PT_NOTE, data + code_len, 0, note.len() as u64, 0));
        b.extend(code);
        b.extend(note);
        b
    }

    #[test]
    fn flat_needs_the_bin_name() {
        let flat = Image::classify(Path::new("/g/x.bin"), vec![0xf4]).expect("flat");
        assert_eq!(flat, Image::Flat(vec![0xf4]));
        assert_eq!(flat.end(), FLAT_LOAD + 1);
        assert!(Image::classify(Path::new("/g/x.img"), vec![0xf4]).is_err());
        assert!(Image::classify(Path::new("/g/x.bin"), Vec::new()).is_err());
    }

    #[test]
    fn pvh_elf_is_parsed() {
        let bytes = pvh_elf(0x100000, &[0xf4; 16], 0x1000, 0x100004);
        let Image::Elf(elf) = Image::classify(Path::new("k"), bytes).expect("elf") else {
            panic!("not an ELF")
        };
        assert_eq!(elf.entry, 0x100004);
        assert_eq!(
            elf.segments,
            [Segment {
                paddr: 0x100000,
                offset: 176,
                file: 16,
                mem: 0x1010
            }]
        );
        let image = Image::Elf(elf);
        assert_eq!(image.end(), 0x101010);
        assert!(image.check_fits(0x200000).is_ok());
        let err = image.check_fits(0x100000).expect_err("too small");
        assert!(format!("{err}").contains("too little memory"), "{err}");
    }

    #[test]
    fn bad_elves() {
        let good = pvh_elf(0x100000, &[0xf4; 16], 0, 0x100000);
        let mut class32 = good.clone();
        class32[4] = 1;
        let mut arm = good.clone();
        arm[18] = 183;
        let mut no_note = good.clone();
        // Rename the note so it is not Xen's.
        let at = no_note.len() - 8;
        no_note[at] = b'Y';
        let truncated = good[..100].to_vec();
        let mut far_phdrs = good.clone();
        far_phdrs[32..40].copy_from_slice(&(u64::MAX - 8).to_le_bytes());
        let mut outside = good.clone();
        outside[64 + 32..64 + 40].copy_from_slice(&0x10000u64.to_le_bytes());
        for (what, bytes) in [
            ("class", class32),
            ("machine", arm),
            ("note", no_note),
            ("truncated", truncated),
            ("outside", outside),
            ("far program headers", far_phdrs),
        ] {
            assert!(Image::classify(Path::new("k"), bytes).is_err(), "{what}");
        }
    }
}
