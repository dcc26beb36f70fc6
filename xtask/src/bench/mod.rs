//! `cargo xtask bench`: run `/usr/bin/probe` as PID 1 in Levitate and in Debian's Linux cloud
//! kernel, booted in the same QEMU with the same initramfs, and print both side by side.
//!
//! Timing is only meaningful relative to the other kernel in the same QEMU on the same host,
//! which is why this is a separate command and never part of `cargo xtask test`.

mod linux;
pub mod report;

use std::fs;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::arch::Arch;
use crate::cli::BenchArgs;
use crate::qemu::{self, Boot, Spec};
use crate::workspace::Workspace;
use crate::{build, cpio, initramfs, prereq};

use report::Run;

const PROBE: &str = "/usr/bin/probe";

/// Whichever kernel is booted: the command line differs, the machine must not.
fn spec(arch: Arch, image: &std::path::Path, initrd: &std::path::Path, append: String) -> Spec {
    Spec {
        arch,
        boot: Boot::Kernel(image.to_path_buf()),
        mem: "256M".into(),
        smp: 1,
        append: Some(append),
        initrd: Some(initrd.to_path_buf()),
        el1: false,
        gdb: None,
        hold_on_reset: false,
        // QEMU keeps the last `-cpu`: pauth-impdef replaces TCG's slow QARMA pointer
        // authentication by a cheap one, as DESIGN.md's Linux numbers were measured.
        extra: match arch {
            Arch::X86_64 => Vec::new(),
            Arch::Aarch64 => vec!["-cpu".into(), "max,pauth-impdef=on".into()],
        },
    }
}

fn linux_cmdline(arch: Arch) -> String {
    let console = match arch {
        Arch::X86_64 => "ttyS0",
        Arch::Aarch64 => "ttyAMA0",
    };
    // Linux runs `rdinit=` from an initramfs (`init=` only for a real root); `panic=-1` with
    // QEMU's `-no-reboot` ends the run even if PID 1 exits instead of powering off.
    format!("console={console} quiet rdinit={PROBE} init={PROBE} panic=-1")
}

/// The initramfs for Linux: Levitate's, plus a second cpio archive (Linux unpacks
/// concatenated ones) with the KVM modules in `/lib/modules/bench/`, which the probe loads.
fn with_modules(
    initrd: &std::path::Path,
    modules: &[std::path::PathBuf],
    out_dir: &std::path::Path,
    arch: Arch,
) -> Result<std::path::PathBuf> {
    if modules.is_empty() {
        return Ok(initrd.to_path_buf());
    }
    let mut entries = vec![
        cpio::Entry::dir("lib", 0o755),
        cpio::Entry::dir("lib/modules", 0o755),
        cpio::Entry::dir("lib/modules/bench", 0o755),
    ];
    for m in modules {
        let name = m.file_name().unwrap_or_default().to_string_lossy();
        let data = fs::read(m).with_context(|| format!("reading {}", m.display()))?;
        entries.push(cpio::Entry::file(
            &format!("lib/modules/bench/{name}"),
            0o644,
            data,
        ));
    }
    let mut bytes = fs::read(initrd).with_context(|| format!("reading {}", initrd.display()))?;
    bytes.extend(cpio::archive(&entries)?);
    let path = out_dir.join(format!("{arch}-linux-initrd.cpio"));
    fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The interpreter's host-native speed, from its `mips` example (the CPU-time figures).
fn interp_mips(ws: &Workspace) -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "run",
            "-q",
            "--release",
            "-p",
            "hv-interp",
            "--example",
            "mips",
        ])
        .current_dir(&ws.root)
        .output();
    match out {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let pick = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key))
                    .map_or("?".to_string(), |v| v.trim().to_string())
            };
            format!(
                "{} MIPS (compute loop), {} MIPS (mixed loop)",
                pick("interp MIPS:"),
                pick("mixed-loop MIPS:")
            )
        }
        Ok(out) => format!("not measured ({})", out.status),
        Err(e) => format!("not measured ({e})"),
    }
}

fn boot(spec: &Spec, timeout: Duration, log: &std::path::Path) -> Result<Run> {
    let capture = qemu::run_captured(spec, timeout, log)?;
    let run = report::parse_run(capture.lines.iter().map(|l| (l.at, l.text.as_str())));
    if !run.done {
        eprintln!(
            "xtask: bench: the probe did not finish ({}); see {}",
            if capture.timed_out {
                "timed out"
            } else {
                "QEMU exited"
            },
            log.display()
        );
    }
    Ok(run)
}

pub fn run(args: &BenchArgs) -> Result<ExitCode> {
    let ws = Workspace::locate()?;
    let arches: Vec<Arch> = match args.arch {
        Some(arch) => vec![arch],
        None => Arch::ALL.to_vec(),
    };
    let out_dir = ws.out_dir("bench")?;
    let timeout = Duration::from_secs(args.timeout);
    let mut all_done = true;
    let interp = interp_mips(&ws);
    for arch in arches {
        prereq::ensure(&prereq::for_run(arch, false, true))?;
        let kernel = build::kernel(&ws, arch, !args.debug)?;
        let initrd = initramfs::build(&ws, &kernel)?;
        eprintln!("xtask: initramfs {}", initrd.summary());
        let linux = linux::get(&ws, arch)?;
        eprintln!("xtask: bench: Linux is {}", linux.package);
        let levitate_spec = spec(arch, &kernel.image, &initrd.path, format!("init={PROBE}"));
        let linux_initrd = with_modules(&initrd.path, &linux.modules, &out_dir, arch)?;
        let linux_spec = spec(arch, &linux.image, &linux_initrd, linux_cmdline(arch));
        let (mut lev_runs, mut linux_runs) = (Vec::new(), Vec::new());
        for i in 0..args.runs {
            // Interleaved, so a change in host load hits both kernels alike.
            for (name, spec, runs) in [
                ("levitate", &levitate_spec, &mut lev_runs),
                ("linux", &linux_spec, &mut linux_runs),
            ] {
                let log = out_dir.join(format!("{arch}-{name}-{i}.log"));
                eprintln!("xtask: bench: {arch} {name} run {}/{}", i + 1, args.runs);
                runs.push(boot(spec, timeout, &log)?);
            }
        }
        let (lev, lin) = (report::median(&lev_runs), report::median(&linux_runs));
        all_done &= lev.done && lin.done;
        let mut text = report::table(arch.name(), &lev, &lin, args.runs as usize);
        text.push_str(&format!(
            "\nThe KVM rows run x86 real-mode guests: Levitate's interpreter (itself emulated by \
             TCG here) against Linux's kvm-amd on QEMU's emulated SVM; on an aarch64 Linux, whose \
             KVM runs arm64 guests, they say why they could not run.\n\
             x86 interpreter on the host CPU (`cargo run --release -p hv-interp --example mips`): \
             {interp}\n"
        ));
        text.push_str(&format!(
            "\nLinux: Debian {} ({}), `{}`\nLevitate: {} kernel, `init={PROBE}`\n",
            linux.package,
            linux.image.display(),
            linux_cmdline(arch),
            if args.debug { "debug" } else { "release" },
        ));
        let path = out_dir.join(format!("{arch}.txt"));
        fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        println!("{text}");
        eprintln!("xtask: bench: wrote {}", path.display());
    }
    // Numbers are reported either way; the status says whether every boot ran to the end.
    Ok(if all_done {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
