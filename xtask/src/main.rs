//! `cargo xtask`: build, run and test Levitate.
//!
//! `cargo xtask` is an alias (see `.cargo/config.toml`) for `cargo run --package xtask --`, the
//! usual "xtask" pattern: the project's tooling is a plain Rust program, so a fresh machine needs
//! nothing but rustup and the Debian packages this program installs itself.

#![forbid(unsafe_code)]

mod arch;
mod bench;
mod build;
mod busybox;
mod cli;
mod cpio;
mod elf;
mod grub;
mod guests;
mod initramfs;
mod prereq;
mod qemu;
mod suite;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Build(args) => cmd_build(&args),
        cli::Command::Run(args) => cmd_run(&args),
        cli::Command::Test(args) => suite::run(&args),
        cli::Command::Bench(args) => bench::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn cmd_build(args: &cli::BuildArgs) -> anyhow::Result<ExitCode> {
    let ws = workspace::Workspace::locate()?;
    prereq::ensure(&prereq::for_build(args.arch))?;
    let kernel = build::kernel(&ws, args.arch, args.release)?;
    let initramfs = initramfs::build(&ws, &kernel)?;
    eprintln!("xtask: initramfs {}", initramfs.summary());
    println!("{}", kernel.image.display());
    println!("{}", initramfs.path.display());
    Ok(ExitCode::SUCCESS)
}

fn cmd_run(args: &cli::RunArgs) -> anyhow::Result<ExitCode> {
    let arch = args.build.arch;
    if args.grub && arch != arch::Arch::X86_64 {
        anyhow::bail!("--grub is for x86_64 (Multiboot2); aarch64 boots the Image directly");
    }
    if args.el1 && arch != arch::Arch::Aarch64 {
        anyhow::bail!("--el1 is for aarch64");
    }
    let ws = workspace::Workspace::locate()?;
    let build_initramfs = args.initrd.is_none() && !args.no_initrd;
    prereq::ensure(&prereq::for_run(arch, args.grub, build_initramfs))?;
    let kernel = build::kernel(&ws, arch, args.build.release)?;
    let initrd = match &args.initrd {
        Some(path) if !path.is_file() => anyhow::bail!("--initrd {}: no such file", path.display()),
        Some(path) => Some(path.clone()),
        None if args.no_initrd => None,
        None => {
            let initramfs = initramfs::build(&ws, &kernel)?;
            println!("xtask: initramfs {}", initramfs.summary());
            Some(initramfs.path)
        }
    };
    let mut spec = qemu::Spec::new(arch, &kernel);
    spec.mem.clone_from(&args.mem);
    spec.smp = args.smp;
    spec.el1 = args.el1;
    spec.gdb = args.gdb;
    spec.hold_on_reset = false;
    spec.extra.clone_from(&args.qemu_args);
    if args.grub {
        let cmdline = args.append.as_deref().unwrap_or("");
        let iso = grub::iso(&ws, &kernel, initrd.as_deref(), "run", cmdline)?;
        spec.boot = qemu::Boot::Cdrom(iso);
    } else {
        spec.append.clone_from(&args.append);
        spec.initrd = initrd;
    }
    if let Some(port) = args.gdb {
        println!(
            "xtask: QEMU waits for gdb; in another terminal run:\n  {} {} -ex 'target remote :{port}'",
            arch.gdb(),
            kernel.elf.display()
        );
        if !prereq::on_path(arch.gdb()) {
            println!(
                "xtask: {} is not installed: apt-get install {}",
                arch.gdb(),
                arch.gdb()
            );
        }
    }
    qemu::run_interactive(&spec)
}
