//! Debian's cloud kernel, the Linux that `bench` races: fetched with apt, unpacked with dpkg
//! and cached in `target/linux/<arch>/`.
//!
//! `linux-image-cloud-<arch>` is a metapackage; its dependency names the real image package
//! (`linux-image-6.1.0-NN-cloud-amd64`), which holds `boot/vmlinuz-*`. The cache is keyed by
//! that package name, so a new Debian kernel is fetched once and an unchanged one never is.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::arch::Arch;
use crate::workspace::Workspace;

/// A kernel image QEMU can boot with `-kernel`.
pub struct Linux {
    pub image: PathBuf,
    /// The Debian package it came from (`linux-image-6.1.0-56-cloud-amd64`).
    pub package: String,
    /// The KVM modules to load, in dependency order (none where KVM is built in).
    pub modules: Vec<PathBuf>,
}

/// The KVM modules of the x86_64 cloud kernel, in load order, by path under
/// `lib/modules/<version>/kernel/` (`depends=` of each: kvm-amd on kvm, kvm on irqbypass).
const X86_KVM_MODULES: [&str; 3] = [
    "virt/lib/irqbypass.ko",
    "arch/x86/kvm/kvm.ko",
    "arch/x86/kvm/kvm-amd.ko",
];

fn kvm_modules(arch: Arch) -> &'static [&'static str] {
    match arch {
        Arch::X86_64 => &X86_KVM_MODULES,
        // arm64's KVM is built in.
        Arch::Aarch64 => &[],
    }
}

/// Where the cached modules of `package` live, by file name.
fn cached_modules(dir: &Path, package: &str, arch: Arch) -> Vec<PathBuf> {
    let modules = dir.join(format!("{package}.modules"));
    kvm_modules(arch)
        .iter()
        .map(|m| modules.join(Path::new(m).file_name().unwrap_or_default()))
        .collect()
}

fn metapackage(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "linux-image-cloud-amd64",
        Arch::Aarch64 => "linux-image-cloud-arm64:arm64",
    }
}

/// The real image package in `apt-cache depends <metapackage>` output.
pub fn image_dependency(depends: &str) -> Option<String> {
    depends
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Depends:"))
        .map(|dep| dep.trim().trim_matches(['<', '>']))
        .find(|dep| dep.starts_with("linux-image-"))
        .map(|dep| dep.split(':').next().unwrap_or(dep).to_string())
}

fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The cached image, or fetch and unpack it.
pub fn get(ws: &Workspace, arch: Arch) -> Result<Linux> {
    let dir = ws.out_dir(&format!("linux/{arch}"))?;
    let meta = metapackage(arch);
    let depends = output(
        Command::new("apt-cache").args(["depends", meta]),
        &format!("apt-cache depends {meta}"),
    )
    .context(
        "finding Debian's kernel package (aarch64 needs `dpkg --add-architecture arm64` and \
         `apt-get update`, which `cargo xtask build --arch aarch64` does)",
    )?;
    let package = image_dependency(&depends)
        .with_context(|| format!("no linux-image dependency in:\n{depends}"))?;
    let image = dir.join(format!("{package}.vmlinux"));
    let modules = cached_modules(&dir, &package, arch);
    if image.is_file() && modules.iter().all(|m| m.is_file()) {
        return Ok(Linux {
            image,
            package,
            modules,
        });
    }
    let qualified = match arch {
        Arch::X86_64 => package.clone(),
        Arch::Aarch64 => format!("{package}:arm64"),
    };
    eprintln!("xtask: bench: fetching {qualified}");
    // A fresh download directory: apt-get download leaves exactly one .deb in it.
    let download = dir.join("download");
    let _ = fs::remove_dir_all(&download);
    fs::create_dir_all(&download).with_context(|| format!("creating {}", download.display()))?;
    output(
        Command::new("apt-get")
            .args(["download", &qualified])
            .current_dir(&download),
        &format!("apt-get download {qualified}"),
    )?;
    let deb = only_deb(&download)?;
    let unpacked = dir.join("root");
    let _ = fs::remove_dir_all(&unpacked);
    output(
        Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked),
        &format!("dpkg -x {}", deb.display()),
    )?;
    let vmlinuz = find_vmlinuz(&unpacked.join("boot"))?;
    copy_modules(&unpacked, arch, &modules)?;
    let bytes = fs::read(&vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    // arm64 kernels may ship as a gzipped Image, which QEMU's `-kernel` does not unpack for a
    // raw Image; x86's bzImage is self-decompressing and starts with no gzip magic.
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(&vmlinuz)?
    } else {
        bytes
    };
    // Written under a temporary name and renamed, so an interrupted fetch is never cached.
    let partial = image.with_extension("partial");
    fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    fs::rename(&partial, &image).with_context(|| format!("renaming to {}", image.display()))?;
    let _ = fs::remove_dir_all(&download);
    let _ = fs::remove_dir_all(&unpacked);
    Ok(Linux {
        image,
        package,
        modules,
    })
}

/// Copy the KVM modules out of the unpacked package (`lib/modules/<version>/kernel/...`).
fn copy_modules(unpacked: &Path, arch: Arch, to: &[PathBuf]) -> Result<()> {
    let Some(first) = to.first() else {
        return Ok(());
    };
    let lib = unpacked.join("lib/modules");
    let version = fs::read_dir(&lib)
        .with_context(|| format!("reading {}", lib.display()))?
        .next()
        .context("no kernel version under lib/modules")?
        .context("reading lib/modules")?
        .path();
    if let Some(parent) = first.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    for (module, dest) in kvm_modules(arch).iter().zip(to) {
        let from = version.join("kernel").join(module);
        fs::copy(&from, dest).with_context(|| format!("copying {}", from.display()))?;
    }
    Ok(())
}

/// gunzip to memory (not through `output`, which makes text of what it reads).
fn gunzip(path: &Path) -> Result<Vec<u8>> {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .output()
        .context("running gzip -dc")?;
    if !out.status.success() {
        bail!("gzip -dc {} failed ({})", path.display(), out.status);
    }
    Ok(out.stdout)
}

fn only_deb(dir: &Path) -> Result<PathBuf> {
    let mut debs = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry.context("reading a directory entry")?.path();
        if path.extension().is_some_and(|e| e == "deb") {
            debs.push(path);
        }
    }
    match debs.as_slice() {
        [deb] => Ok(deb.clone()),
        _ => bail!(
            "expected one .deb in {}, found {}",
            dir.display(),
            debs.len()
        ),
    }
}

fn find_vmlinuz(boot: &Path) -> Result<PathBuf> {
    for entry in fs::read_dir(boot).with_context(|| format!("reading {}", boot.display()))? {
        let path = entry.context("reading a directory entry")?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        {
            return Ok(path);
        }
    }
    bail!("no vmlinuz-* in {}", boot.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_image_package() {
        let amd64 = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-56-cloud-amd64\n";
        assert_eq!(
            image_dependency(amd64).as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
        let arm64 =
            "linux-image-cloud-arm64:arm64\n  Depends: linux-image-6.1.0-56-cloud-arm64:arm64\n";
        assert_eq!(
            image_dependency(arm64).as_deref(),
            Some("linux-image-6.1.0-56-cloud-arm64")
        );
        assert_eq!(image_dependency("foo\n  Depends: <libc6>\n"), None);
    }
}
