//! Just enough ELF reading to refuse a wrong program before it goes into an initramfs: the
//! kernel loads only static ELF64 little-endian executables (ET_EXEC or static-PIE) of its own
//! machine, and a dynamically linked or foreign binary would only fail at boot.
//!
//! Field offsets are from the System V gABI (ELF-64 header and program header table).

use anyhow::{Result, bail, ensure};

use crate::arch::Arch;

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_INTERP: u32 = 3;

/// `e_machine` of each architecture (EM_X86_64, EM_AARCH64).
fn machine(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => 62,
        Arch::Aarch64 => 183,
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16> {
    match bytes.get(at..at + 2) {
        Some(b) => Ok(u16::from_le_bytes([b[0], b[1]])),
        None => bail!("truncated ELF (offset {at})"),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32> {
    match bytes.get(at..at + 4) {
        Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        None => bail!("truncated ELF (offset {at})"),
    }
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64> {
    match bytes.get(at..at + 8) {
        Some(b) => {
            let mut word = [0; 8];
            word.copy_from_slice(b);
            Ok(u64::from_le_bytes(word))
        }
        None => bail!("truncated ELF (offset {at})"),
    }
}

/// Fails unless `bytes` is a static ELF64 little-endian executable for `arch`.
pub fn check_static(bytes: &[u8], arch: Arch) -> Result<()> {
    ensure!(bytes.starts_with(b"\x7fELF"), "not an ELF file");
    ensure!(bytes.get(4) == Some(&2), "not ELF64");
    ensure!(bytes.get(5) == Some(&1), "not little-endian");
    let kind = u16_at(bytes, 16)?;
    ensure!(
        kind == ET_EXEC || kind == ET_DYN,
        "not an executable (e_type {kind})"
    );
    let found = u16_at(bytes, 18)?;
    ensure!(
        found == machine(arch),
        "built for e_machine {found}, not {arch} ({})",
        machine(arch)
    );
    let phoff = usize::try_from(u64_at(bytes, 32)?)?;
    let phentsize = usize::from(u16_at(bytes, 54)?);
    let phnum = usize::from(u16_at(bytes, 56)?);
    ensure!(phnum > 0, "no program headers");
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        // A program interpreter means a dynamic executable: our initramfs has no ld.so.
        ensure!(
            u32_at(bytes, at)? != PT_INTERP,
            "dynamically linked (has PT_INTERP)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with `types` as its program headers' `p_type`s.
    fn elf(e_type: u16, machine: u16, types: &[u32]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[16..18].copy_from_slice(&e_type.to_le_bytes());
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for &t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            b.extend(ph);
        }
        b
    }

    #[test]
    fn accepts_static_executables() {
        check_static(&elf(ET_EXEC, 62, &[1, 1]), Arch::X86_64).expect("static exec");
        check_static(&elf(ET_DYN, 183, &[6, 1, 2]), Arch::Aarch64).expect("static-pie");
    }

    #[test]
    fn rejects_the_rest() {
        assert!(check_static(&elf(ET_EXEC, 183, &[1]), Arch::X86_64).is_err());
        assert!(check_static(&elf(ET_DYN, 62, &[6, PT_INTERP, 1]), Arch::X86_64).is_err());
        assert!(check_static(&elf(1, 62, &[1]), Arch::X86_64).is_err());
        assert!(check_static(b"#!/bin/sh\n", Arch::X86_64).is_err());
        let mut truncated = elf(ET_EXEC, 62, &[1]);
        truncated.truncate(60);
        assert!(check_static(&truncated, Arch::X86_64).is_err());
    }

    /// The host's own test binary is x86_64 or aarch64 ELF; whatever it is, it is not the other.
    #[test]
    fn reads_a_real_binary() {
        let Ok(me) = std::env::current_exe().and_then(std::fs::read) else {
            return;
        };
        let other = if cfg!(target_arch = "x86_64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        };
        assert!(check_static(&me, other).is_err());
    }
}
