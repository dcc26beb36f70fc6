//! Building the kernel and the image QEMU boots.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::arch::Arch;
use crate::workspace::Workspace;

/// A built kernel.
pub struct Kernel {
    pub arch: Arch,
    /// The ELF with symbols (what gdb loads).
    pub elf: PathBuf,
    /// What QEMU's `-kernel` gets: the ELF on x86_64 (PVH note), the raw arm64 Image on aarch64.
    pub image: PathBuf,
}

/// `cargo build -p levitate --target <triple>`, then `llvm-objcopy -O binary` on aarch64.
pub fn kernel(ws: &Workspace, arch: Arch, release: bool) -> Result<Kernel> {
    let mut cmd = ws.cargo();
    cmd.args(["build", "-p", "levitate", "--target", arch.triple()])
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped());
    if release {
        cmd.arg("--release");
    }
    let mut child = cmd.spawn().context("starting cargo build")?;
    let stdout = child.stdout.take().context("cargo build has no stdout")?;
    let mut elf = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo build output")?;
        if let Some(path) = executable_of(&line, "levitate") {
            elf = Some(path);
        }
    }
    let status = child.wait().context("waiting for cargo build")?;
    if !status.success() {
        bail!("cargo build of the {arch} kernel failed ({status})");
    }
    let elf = elf.context("cargo build reported no `levitate` executable")?;
    let image = match arch {
        Arch::X86_64 => elf.clone(),
        Arch::Aarch64 => {
            let bin = elf.with_file_name("levitate.bin");
            objcopy_binary(&elf, &bin)?;
            bin
        }
    };
    Ok(Kernel { arch, elf, image })
}

/// The `executable` of a `compiler-artifact` message for the binary target `name`.
fn executable_of(line: &str, name: &str) -> Option<PathBuf> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" || msg["target"]["name"] != name {
        return None;
    }
    msg["executable"].as_str().map(PathBuf::from)
}

fn objcopy_binary(elf: &Path, bin: &Path) -> Result<()> {
    let objcopy = llvm_objcopy()?;
    let status = Command::new(&objcopy)
        .args(["-O", "binary"])
        .arg(elf)
        .arg(bin)
        .status()
        .with_context(|| format!("running {}", objcopy.display()))?;
    if !status.success() {
        bail!(
            "{} -O binary {} failed ({status})",
            objcopy.display(),
            elf.display()
        );
    }
    Ok(())
}

/// rustup's `llvm-objcopy` (component `llvm-tools`), added to the toolchain if missing.
pub fn llvm_objcopy() -> Result<PathBuf> {
    let path = llvm_objcopy_path()?;
    if path.exists() {
        return Ok(path);
    }
    eprintln!(
        "xtask: {} missing; running `rustup component add llvm-tools`",
        path.display()
    );
    let status = Command::new("rustup")
        .args(["component", "add", "llvm-tools"])
        .status()
        .context("running rustup (is rustup installed?)")?;
    if !status.success() || !path.exists() {
        bail!(
            "llvm-objcopy still missing at {}; run `rustup component add llvm-tools`",
            path.display()
        );
    }
    Ok(path)
}

fn llvm_objcopy_path() -> Result<PathBuf> {
    let sysroot = rustc_output(&["--print", "sysroot"])?;
    let version = rustc_output(&["-vV"])?;
    let host = version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .context("`rustc -vV` printed no host triple")?;
    Ok(Path::new(sysroot.trim())
        .join("lib/rustlib")
        .join(host.trim())
        .join("bin/llvm-objcopy"))
}

fn rustc_output(args: &[&str]) -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .with_context(|| format!("running rustc {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "rustc {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).context("rustc printed non-UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_kernel_executable() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"levitate","kind":["bin"]},"executable":"/t/x86_64-unknown-none/debug/levitate","fresh":true}"#;
        assert_eq!(
            executable_of(line, "levitate"),
            Some(PathBuf::from("/t/x86_64-unknown-none/debug/levitate"))
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"mm"},"executable":null}"#;
        assert_eq!(executable_of(lib, "levitate"), None);
        assert_eq!(executable_of("not json", "levitate"), None);
        let done = r#"{"reason":"build-finished","success":true}"#;
        assert_eq!(executable_of(done, "levitate"), None);
    }
}
