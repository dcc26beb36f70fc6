//! Host prerequisites (QEMU, GRUB tools, the BusyBox toolchains, cpio) and their Debian
//! packages, plus the two apt settings the BusyBox build needs: a `deb-src` entry and the
//! arm64 foreign architecture (for `musl-dev:arm64`).
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

/// What `cargo xtask build` needs: the toolchain of the initramfs's BusyBox.
pub fn for_build(arch: Arch) -> Vec<Need> {
    crate::busybox::needs(arch)
}

/// What `cargo xtask run` needs (`initramfs`: whether it builds the default initramfs).
pub fn for_run(arch: Arch, grub_lane: bool, initramfs: bool) -> Vec<Need> {
    let mut needs = qemu(arch);
    if grub_lane {
        needs.extend(grub());
    }
    if initramfs {
        needs.extend(for_build(arch));
    }
    needs
}

/// What `cargo xtask test` needs for these architectures (x86_64 includes the GRUB lane), and
/// GNU cpio, which xtask's own tests use to read back the archives it writes.
pub fn for_test(arches: &[Arch]) -> Vec<Need> {
    let mut needs = Vec::new();
    for &arch in arches {
        needs.extend(for_run(arch, arch == Arch::X86_64, true));
    }
    needs.push(Need {
        what: Probe::Exe("cpio"),
        packages: &["cpio"],
    });
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
        let add: String = foreign_arches(&packages)
            .iter()
            .map(|arch| format!("sudo dpkg --add-architecture {arch} && "))
            .collect();
        bail!(
            "missing {}; install with:\n  {add}sudo apt-get update && sudo {install}",
            missing.join(", ")
        );
    }
    eprintln!(
        "xtask: missing {}; installing {}",
        missing.join(", "),
        packages.join(" ")
    );
    for arch in foreign_arches(&packages) {
        add_foreign_arch(arch)?;
    }
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

/// The architectures named by `pkg:arch` packages, each once.
fn foreign_arches<'a>(packages: &[&'a str]) -> Vec<&'a str> {
    let mut arches = Vec::new();
    for arch in packages
        .iter()
        .filter_map(|p| p.split_once(':').map(|(_, a)| a))
    {
        if !arches.contains(&arch) {
            arches.push(arch);
        }
    }
    arches
}

/// `dpkg --add-architecture`, if dpkg does not list it yet (the host's own is always there).
fn add_foreign_arch(arch: &str) -> Result<()> {
    let out = Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()
        .context("running dpkg --print-foreign-architectures")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == arch)
    {
        return Ok(());
    }
    eprintln!("xtask: adding the {arch} architecture to dpkg (dpkg --add-architecture {arch})");
    let status = Command::new("dpkg")
        .args(["--add-architecture", arch])
        .status()
        .context("running dpkg --add-architecture")?;
    if !status.success() {
        bail!("dpkg --add-architecture {arch} failed ({status})");
    }
    Ok(())
}

/// Where apt's source lists live, and the file xtask adds its `deb-src` entries to.
const SOURCES_LIST: &str = "/etc/apt/sources.list";
const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
const DEB_SRC_FILE: &str = "/etc/apt/sources.list.d/levitate-deb-src.sources";

/// Make `apt-get source` work: if no `deb-src` entry exists, add one mirroring each `deb` entry
/// the machine already has (same mirror, suites and components), then `apt-get update`. Not
/// root: fail with what to do.
pub fn ensure_deb_src() -> Result<()> {
    let lists = source_lists();
    if lists.iter().any(|(_, text)| has_deb_src(text)) {
        return Ok(());
    }
    let mut entries = String::new();
    for (path, text) in &lists {
        entries.push_str(&deb_src_for(text, path.ends_with(".sources")));
    }
    if entries.is_empty() {
        bail!("apt has no `deb` entries to derive a `deb-src` entry from; add one by hand");
    }
    if !is_root()? {
        bail!(
            "`apt-get source busybox` needs a deb-src entry; as root, write this to \
             {DEB_SRC_FILE} and run apt-get update:\n{entries}"
        );
    }
    eprintln!("xtask: adding deb-src entries ({DEB_SRC_FILE}) for `apt-get source busybox`");
    std::fs::write(DEB_SRC_FILE, entries).with_context(|| format!("writing {DEB_SRC_FILE}"))?;
    apt(&["update"])
}

/// Every apt source list: the one-line `sources.list` and the files of `sources.list.d`
/// (one-line `.list` or deb822 `.sources`), as (path, text).
fn source_lists() -> Vec<(String, String)> {
    let mut paths = vec![SOURCES_LIST.to_string()];
    if let Ok(dir) = std::fs::read_dir(SOURCES_DIR) {
        let mut names: Vec<String> = dir
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.path().to_string_lossy().into_owned())
            .filter(|p| p.ends_with(".list") || p.ends_with(".sources"))
            .collect();
        names.sort();
        paths.extend(names);
    }
    paths
        .into_iter()
        .filter_map(|path| Some((path.clone(), std::fs::read_to_string(path).ok()?)))
        .collect()
}

/// Whether a source list (either syntax) has an enabled `deb-src` entry.
fn has_deb_src(text: &str) -> bool {
    text.lines().map(str::trim).any(|line| {
        line.starts_with("deb-src ")
            || line
                .strip_prefix("Types:")
                .is_some_and(|types| types.split_whitespace().any(|t| t == "deb-src"))
    })
}

/// `deb-src` twins of the `deb` entries in `text`, always in deb822 syntax. deb822 stanzas
/// keep every field but `Types`; one-line entries keep their options, mirror, suite and
/// components. Comments and disabled stanzas (`Enabled: no`) are left out.
fn deb_src_for(text: &str, deb822: bool) -> String {
    let mut out = String::new();
    if deb822 {
        for stanza in text.split("\n\n") {
            let fields: Vec<&str> = stanza
                .lines()
                .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
                .collect();
            let is_deb = fields.iter().any(|l| {
                l.strip_prefix("Types:")
                    .is_some_and(|t| t.split_whitespace().any(|t| t == "deb"))
            });
            let disabled = fields.iter().any(|l| l.replace(' ', "") == "Enabled:no");
            if !is_deb || disabled {
                continue;
            }
            out.push_str("Types: deb-src\n");
            for field in fields.iter().filter(|l| !l.starts_with("Types:")) {
                out.push_str(field);
                out.push('\n');
            }
            out.push('\n');
        }
    } else {
        for line in text.lines().map(str::trim) {
            let Some(rest) = line.strip_prefix("deb ") else {
                continue;
            };
            // `deb [options] URI suite components...`
            let (options, rest) = match rest.trim_start().strip_prefix('[') {
                Some(inner) => match inner.split_once(']') {
                    Some((opts, rest)) => (opts.trim(), rest),
                    None => continue,
                },
                None => ("", rest),
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            if words.len() < 3 {
                continue;
            }
            out.push_str(&format!(
                "Types: deb-src\nURIs: {}\nSuites: {}\nComponents: {}\n",
                words[0],
                words[1],
                words[2..].join(" ")
            ));
            for option in options.split_whitespace() {
                if let Some(keyring) = option.strip_prefix("signed-by=") {
                    out.push_str(&format!("Signed-By: {keyring}\n"));
                }
            }
            out.push('\n');
        }
    }
    out
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
                "dpkg-dev",
                "bzip2",
                "xz-utils",
                "make",
                "gcc",
                "musl-tools",
                "linux-libc-dev",
                "qemu-system-arm",
                "ipxe-qemu",
                "musl-dev:arm64",
                "gcc-aarch64-linux-gnu",
                "linux-libc-dev:arm64",
                "qemu-user",
                "cpio"
            ]
        );
        assert_eq!(foreign_arches(&packages), ["arm64"]);
    }

    #[test]
    fn deb_src_from_deb822() {
        let text = "Types: deb\n# http://mirror/snapshot\nURIs: http://mirror/debian\n\
                    Suites: bookworm bookworm-updates\nComponents: main\n\
                    Signed-By: /k.gpg\n\nTypes: deb\nURIs: http://x\nSuites: s\n\
                    Components: main\nEnabled: no\n";
        assert!(!has_deb_src(text));
        let src = deb_src_for(text, true);
        assert_eq!(
            src,
            "Types: deb-src\nURIs: http://mirror/debian\nSuites: bookworm bookworm-updates\n\
             Components: main\nSigned-By: /k.gpg\n\n"
        );
        assert!(has_deb_src(&src));
    }

    #[test]
    fn deb_src_from_one_line_entries() {
        let text = "# deb-src http://old\ndeb [arch=amd64 signed-by=/k.gpg] http://m/debian \
                    bookworm main contrib\ndeb http://m/security bookworm-security main\n";
        assert!(!has_deb_src(text));
        assert_eq!(
            deb_src_for(text, false),
            "Types: deb-src\nURIs: http://m/debian\nSuites: bookworm\nComponents: main \
             contrib\nSigned-By: /k.gpg\n\nTypes: deb-src\nURIs: http://m/security\n\
             Suites: bookworm-security\nComponents: main\n\n"
        );
        assert!(has_deb_src("deb-src http://m/debian bookworm main\n"));
        assert!(has_deb_src("Types: deb deb-src\nURIs: x\n"));
    }
}
