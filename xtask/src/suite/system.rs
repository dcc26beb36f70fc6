//! QEMU system tests: the boots run per architecture, one after another.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::arch::Arch;
use crate::build::{self, Kernel};
use crate::cli::TestArgs;
use crate::grub;
use crate::initramfs;
use crate::qemu::{self, Boot, Spec};
use crate::suite::Tally;
use crate::suite::check::{self, Exit, Expect, Kind};
use crate::suite::host::print_tail;
use crate::workspace::Workspace;

/// One boot of the kernel.
struct BootConfig {
    /// Names the boot in test names (`x86_64/<name>/<case>`) and its log file.
    name: String,
    mem: &'static str,
    smp: u32,
    cmdline: &'static str,
    /// x86_64: boot a GRUB ISO (Multiboot2) instead of PVH `-kernel`.
    grub: bool,
    /// aarch64: enter at EL1.
    el1: bool,
    expect: Expect,
}

impl BootConfig {
    fn new(name: String, mem: &'static str, cmdline: &'static str, kind: Kind) -> Self {
        BootConfig {
            name,
            mem,
            smp: 1,
            cmdline,
            grub: false,
            el1: false,
            expect: Expect {
                kind,
                cpus: Some(1),
                protocol: None,
                shows: None,
            },
        }
    }
}

fn boots(arch: Arch) -> Vec<BootConfig> {
    // aarch64's banner names the exception level the kernel runs at (`GICv3 at EL2 (VHE)`).
    let (prefix, protocol, shows) = match arch {
        Arch::X86_64 => ("pvh", "pvh", None),
        Arch::Aarch64 => ("el2", "dtb", Some("at EL2")),
    };
    let named = |suffix: &str| format!("{prefix}-{suffix}");
    let all = Kind::Tests { case: None };
    let frames = || Kind::Tests {
        case: Some("frames"),
    };
    let mut boots = vec![
        BootConfig {
            smp: 2,
            ..BootConfig::new(named("256M-smp2"), "256M", "test=all", all.clone())
        },
        BootConfig::new(named("64M"), "64M", "test=frames", frames()),
        BootConfig::new(named("4G"), "4G", "test=frames", frames()),
        BootConfig::new(named("panic"), "256M", "test=panic", Kind::Panic),
        BootConfig::new(
            named("fatal_fault"),
            "256M",
            "test=fatal_fault",
            Kind::FatalFault,
        ),
    ];
    for boot in &mut boots {
        boot.expect.cpus = Some(boot.smp);
        boot.expect.protocol = Some(protocol);
        boot.expect.shows = shows;
    }
    match arch {
        Arch::X86_64 => {
            let mut grub = BootConfig::new("grub-256M".into(), "256M", "test=all", all);
            grub.grub = true;
            grub.expect.protocol = Some("multiboot2");
            boots.push(grub);
        }
        Arch::Aarch64 => {
            let mut el1 = BootConfig::new("el1-256M".into(), "256M", "test=all", all);
            el1.el1 = true;
            el1.expect.protocol = Some(protocol);
            el1.expect.shows = Some("at EL1");
            boots.push(el1);
        }
    }
    boots
}

pub fn run(ws: &Workspace, arch: Arch, args: &TestArgs, tally: &mut Tally) -> Result<()> {
    println!("== {arch}: building the kernel");
    let kernel = match build::kernel(ws, arch, args.release) {
        Ok(kernel) => kernel,
        Err(err) => {
            tally.record(
                &format!("{arch}/build"),
                false,
                &format!("{err:#}; boots skipped"),
            );
            return Ok(());
        }
    };
    // Every boot carries the initramfs, as `cargo xtask run` does. If it cannot be built, that
    // is one failed test and the boots go on without it, so kernel failures still show.
    println!("== {arch}: building the initramfs");
    let started = Instant::now();
    let initrd = match initramfs::build(ws, &kernel) {
        Ok(initramfs) => {
            let took = format!("{:.1} s", started.elapsed().as_secs_f64());
            tally.record(
                &format!("{arch}/initramfs"),
                true,
                &format!("{took}; {}", initramfs.summary()),
            );
            Some(initramfs.path)
        }
        Err(err) => {
            tally.record(
                &format!("{arch}/initramfs"),
                false,
                &format!("{err:#}; booting without an initrd"),
            );
            None
        }
    };
    let logs = ws.out_dir("xtask-logs")?;
    let timeout = Duration::from_secs(args.timeout);
    for boot in boots(arch) {
        let prefix = format!("{arch}/{}", boot.name);
        let spec = match spec(ws, &kernel, initrd.as_deref(), &boot) {
            Ok(spec) => spec,
            Err(err) => {
                tally.record(&format!("{prefix}/boot"), false, &format!("{err:#}"));
                continue;
            }
        };
        let log = logs.join(format!("{arch}-{}.log", boot.name));
        println!("== {prefix}: {}", spec.display());
        let capture = match qemu::run_captured(&spec, timeout, &log) {
            Ok(capture) => capture,
            Err(err) => {
                tally.record(&format!("{prefix}/boot"), false, &format!("{err:#}"));
                continue;
            }
        };
        let exit = Exit {
            status: capture.status,
            timed_out: capture.timed_out,
        };
        let outcomes = check::analyze(arch, &capture.lines, exit, &boot.expect);
        let status = match capture.status {
            Some(code) => format!("exit status {code}"),
            None if capture.timed_out => "timed out".to_string(),
            None => "killed".to_string(),
        };
        println!(
            "   {status} after {:.1} s; serial log {}",
            capture.elapsed.as_secs_f64(),
            log.display()
        );
        let mut any_failed = false;
        for outcome in &outcomes {
            any_failed |= !outcome.passed;
            tally.record(
                &format!("{prefix}/{}", outcome.name),
                outcome.passed,
                &outcome.detail,
            );
        }
        if any_failed {
            print_tail(&log);
        }
    }
    // The interactive lane needs BusyBox from the initramfs.
    if let Some(initrd) = &initrd {
        crate::suite::tty::run(&kernel, initrd, &logs, Duration::from_secs(15), tally);
        // ~6 s per arch when the kernel is healthy; the bound leaves room for a loaded host.
        crate::suite::applets::run(&kernel, initrd, &logs, Duration::from_secs(90), tally);
        if arch == Arch::X86_64 {
            crate::suite::applets::host(ws, tally);
        }
        crate::suite::userland::run(&kernel, initrd, &logs, tally);
    }
    Ok(())
}

fn spec(ws: &Workspace, kernel: &Kernel, initrd: Option<&Path>, boot: &BootConfig) -> Result<Spec> {
    let mut spec = Spec::new(kernel.arch, kernel);
    spec.mem = boot.mem.to_string();
    spec.smp = boot.smp;
    spec.el1 = boot.el1;
    if boot.grub {
        let name = format!("test-{}", boot.name);
        let iso = grub::iso(ws, kernel, initrd, &name, boot.cmdline)?;
        spec.boot = Boot::Cdrom(iso);
    } else {
        spec.append = Some(boot.cmdline.to_string());
        spec.initrd = initrd.map(Path::to_path_buf);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_matrix() {
        let x86: Vec<String> = boots(Arch::X86_64).into_iter().map(|b| b.name).collect();
        assert_eq!(
            x86,
            [
                "pvh-256M-smp2",
                "pvh-64M",
                "pvh-4G",
                "pvh-panic",
                "pvh-fatal_fault",
                "grub-256M"
            ]
        );
        let arm: Vec<String> = boots(Arch::Aarch64).into_iter().map(|b| b.name).collect();
        assert_eq!(
            arm,
            [
                "el2-256M-smp2",
                "el2-64M",
                "el2-4G",
                "el2-panic",
                "el2-fatal_fault",
                "el1-256M"
            ]
        );
        let smp = &boots(Arch::X86_64)[0];
        assert_eq!(
            (smp.smp, smp.expect.cpus, smp.cmdline),
            (2, Some(2), "test=all")
        );
    }
}
