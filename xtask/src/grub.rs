//! The GRUB lane: an ISO that boots the kernel through Multiboot2 (what Bochs and real
//! machines use), made with `grub-mkrescue` (Debian: grub-common, grub-pc-bin, xorriso, mtools).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::build::Kernel;
use crate::workspace::Workspace;

/// Build `<target>/xtask-iso/<name>.iso` holding the kernel (and `initrd`, as its first
/// Multiboot2 module) and a grub.cfg that boots it at once with `cmdline`.
pub fn iso(
    ws: &Workspace,
    kernel: &Kernel,
    initrd: Option<&Path>,
    name: &str,
    cmdline: &str,
) -> Result<PathBuf> {
    let out = ws.out_dir("xtask-iso")?;
    let tree = out.join(name);
    if tree.exists() {
        fs::remove_dir_all(&tree).with_context(|| format!("removing {}", tree.display()))?;
    }
    let grub_dir = tree.join("boot/grub");
    fs::create_dir_all(&grub_dir).with_context(|| format!("creating {}", grub_dir.display()))?;
    fs::copy(&kernel.elf, tree.join("boot/levitate"))
        .with_context(|| format!("copying {} into the ISO tree", kernel.elf.display()))?;
    if let Some(initrd) = initrd {
        fs::copy(initrd, tree.join(INITRD))
            .with_context(|| format!("copying {} into the ISO tree", initrd.display()))?;
    }
    fs::write(
        grub_dir.join("grub.cfg"),
        grub_cfg(cmdline, initrd.is_some()),
    )
    .context("writing grub.cfg")?;
    let iso = out.join(format!("{name}.iso"));
    let output = Command::new("grub-mkrescue")
        .arg("-o")
        .arg(&iso)
        .arg(&tree)
        .output()
        .context("running grub-mkrescue")?;
    if !output.status.success() {
        bail!(
            "grub-mkrescue failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(iso)
}

/// Where the ISO holds the initramfs.
const INITRD: &str = "boot/initramfs.cpio";

fn grub_cfg(cmdline: &str, initrd: bool) -> String {
    let cmdline = if cmdline.is_empty() {
        String::new()
    } else {
        format!(" {cmdline}")
    };
    // The kernel takes the first Multiboot2 module as its initrd, as Linux's loaders do.
    let module = if initrd {
        format!("    module2 /{INITRD} initrd\n")
    } else {
        String::new()
    };
    format!(
        "set timeout=0\nset default=0\n\nmenuentry \"Levitate\" {{\n    multiboot2 /boot/levitate{cmdline}\n{module}    boot\n}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grub_cfg_boots_at_once() {
        let cfg = grub_cfg("test=all", false);
        assert!(cfg.starts_with("set timeout=0\n"));
        assert!(cfg.contains("    multiboot2 /boot/levitate test=all\n    boot\n"));
        assert!(grub_cfg("", false).contains("multiboot2 /boot/levitate\n"));
        assert!(grub_cfg("test=all", true).contains(
            "    multiboot2 /boot/levitate test=all\n    module2 /boot/initramfs.cpio initrd\n    boot\n"
        ));
    }
}
