//! Host prerequisites (QEMU, GRUB tools) and their Debian packages.
//!
//! Missing ones are installed with apt when running as root (as CI does); otherwise the exact
//! `sudo apt-get install` command is printed and the command fails.

use std::env;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::arch::Arch;

/// Something on the host, and the Debian packages that provide it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Need {
    pub what: Probe,
    pub packages: &'static [&'static str],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// An executable on `$PATH`.
    Exe(&'static str),
    /// A file or directory at this absolute path.
    Path(&'static str),
}

impl Probe {
    fn present(self) -> bool {
        match self {
            Probe::Exe(name) => on_path(name),
            Probe::Path(path) => Path::new(path).exists(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Probe::Exe(name) | Probe::Path(name) => name,
        }
    }
}

fn qemu(arch: Arch) -> Vec<Need> {
    match arch {
        Arch::X86_64 => vec![Need {
            what: Probe::Exe("qemu-system-x86_64"),
            packages: &["qemu-system-x86"],
        }],
        Arch::Aarch64 => vec![
            Need {
                what: Probe::Exe("qemu-system-aarch64"),
                packages: &["qemu-system-arm"],
            },
            // The option ROM of the default virtio-net-pci NIC; only a Recommends of
            // qemu-system-arm, and QEMU refuses to start without it.
            Need {
                what: Probe::Path("/usr/lib/ipxe/qemu/efi-virtio.rom"),
                packages: &["ipxe-qemu"],
            },
        ],
    }
}

fn grub() -> Vec<Need> {
    vec![
        Need {
            what: Probe::Exe("grub-mkrescue"),
            packages: &["grub-common"],
        },
        // grub-mkrescue makes a BIOS-bootable ISO only with the i386-pc modules.
        Need {
            what: Probe::Path("/usr/lib/grub/i386-pc/multiboot2.mod"),
            packages: &["grub-pc-bin"],
        },
        Need {
            what: Probe::Exe("xorriso"),
            packages: &["xorriso"],
        },
        Need {
            what: Probe::Exe("mformat"),
            packages: &["mtools"],
        },
    ]
}

/// What `cargo xtask run` needs.
pub fn for_run(arch: Arch, grub_lane: bool) -> Vec<Need> {
    let mut needs = qemu(arch);
    if grub_lane {
        needs.extend(grub());
    }
    needs
}

/// What `cargo xtask test` needs for these architectures (x86_64 includes the GRUB lane).
pub fn for_test(arches: &[Arch]) -> Vec<Need> {
    let mut needs = Vec::new();
    for &arch in arches {
        needs.extend(for_run(arch, arch == Arch::X86_64));
    }
    needs
}

/// Install what is missing (as root) or fail with the command to run.
pub fn ensure(needs: &[Need]) -> Result<()> {
    let packages = missing_packages(needs.iter().filter(|need| !need.what.present()));
    if packages.is_empty() {
        return Ok(());
    }
    let missing: Vec<&str> = needs
        .iter()
        .filter(|need| !need.what.present())
        .map(|need| need.what.name())
        .collect();
    let install = format!(
        "apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    );
    if !is_root()? {
        bail!(
            "missing {}; install with:\n  sudo apt-get update && sudo {install}",
            missing.join(", ")
        );
    }
    eprintln!(
        "xtask: missing {}; installing {}",
        missing.join(", "),
        packages.join(" ")
    );
    apt(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(packages.iter().copied());
    apt(&args)?;
    let still: Vec<&str> = needs
        .iter()
        .filter(|need| !need.what.present())
        .map(|need| need.what.name())
        .collect();
    if !still.is_empty() {
        bail!("still missing after `{install}`: {}", still.join(", "));
    }
    Ok(())
}

/// The packages of `needs`, each once, in order.
fn missing_packages<'a>(needs: impl Iterator<Item = &'a Need>) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for need in needs {
        for &package in need.packages {
            if !packages.contains(&package) {
                packages.push(package);
            }
        }
    }
    packages
}

fn apt(args: &[&str]) -> Result<()> {
    // Wait for a concurrent apt/dpkg (another installer, unattended-upgrades) instead of failing.
    let status = Command::new("apt-get")
        .args(["-o", "DPkg::Lock::Timeout=600"])
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("apt-get {} failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Whether this process runs as root: `/proc/self` belongs to the process's effective user.
fn is_root() -> Result<bool> {
    let proc_self = std::fs::metadata("/proc/self").context("reading /proc/self")?;
    Ok(proc_self.uid() == 0)
}

/// Whether an executable of this name is on `$PATH`.
pub fn on_path(name: &str) -> bool {
    env::var_os("PATH")
        .map(|paths| env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_listed_once() {
        let needs = for_test(&Arch::ALL);
        let packages = missing_packages(needs.iter());
        assert_eq!(
            packages,
            [
                "qemu-system-x86",
                "grub-common",
                "grub-pc-bin",
                "xorriso",
                "mtools",
                "qemu-system-arm",
                "ipxe-qemu"
            ]
        );
    }
}
