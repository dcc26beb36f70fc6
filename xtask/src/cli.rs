//! Command-line interface.

use clap::{Args, Parser, Subcommand};

pub use crate::arch::Arch;

/// Build, run and test the Levitate kernel.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Build the kernel and the initramfs; print the path of the image QEMU boots, then the
    /// initramfs's.
    Build(BuildArgs),
    /// Build the kernel and the initramfs and boot them in QEMU with the serial console on this
    /// terminal (Ctrl-A X quits QEMU).
    Run(RunArgs),
    /// Run host checks and QEMU system tests; the last line is `N passed, M failed`.
    Test(TestArgs),
    /// Time the probe program as PID 1 in Levitate and in Debian's Linux, side by side.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Target architecture.
    #[arg(long, value_enum, default_value_t = Arch::X86_64)]
    pub arch: Arch,
    /// Build with the release profile.
    #[arg(long)]
    pub release: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Number of CPUs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub smp: u32,
    /// Guest RAM, in QEMU's syntax (64M, 4G, ...).
    #[arg(long, default_value = "256M")]
    pub mem: String,
    /// Kernel command line (for example `test=all`).
    #[arg(long, value_name = "CMDLINE")]
    pub append: Option<String>,
    /// Stop at the first instruction and wait for gdb on PORT (default 1234).
    #[arg(long, value_name = "PORT", num_args = 0..=1, require_equals = true,
          default_missing_value = "1234")]
    pub gdb: Option<u16>,
    /// x86_64: boot through GRUB and Multiboot2 from an ISO instead of PVH `-kernel`.
    #[arg(long)]
    pub grub: bool,
    /// aarch64: enter the kernel at EL1 (no `virtualization=on`).
    #[arg(long)]
    pub el1: bool,
    /// Boot with this cpio archive as the initrd instead of building the default initramfs.
    #[arg(long, value_name = "PATH", conflicts_with = "no_initrd")]
    pub initrd: Option<std::path::PathBuf>,
    /// Boot without an initrd (and build no initramfs).
    #[arg(long)]
    pub no_initrd: bool,
    /// Extra arguments passed to QEMU as they are (after `--`).
    #[arg(last = true, value_name = "QEMU_ARGS")]
    pub qemu_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// Test one architecture only (default: both).
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// Build the kernel with the release profile.
    #[arg(long)]
    pub release: bool,
    /// Skip the host checks (fmt, clippy, cargo test) and run only the QEMU system tests.
    #[arg(long)]
    pub no_host: bool,
    /// Seconds each QEMU boot may take before it is killed and counted as failed.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Benchmark one architecture only (default: both).
    #[arg(long, value_enum)]
    pub arch: Option<Arch>,
    /// Boots per kernel; each probe's median is reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=15))]
    pub runs: u32,
    /// Bench the debug kernel instead of the release one.
    #[arg(long)]
    pub debug: bool,
    /// Seconds each boot may take before it is killed.
    #[arg(long, default_value_t = 180, value_name = "SECS")]
    pub timeout: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn gdb_port_is_optional() {
        let cli = Cli::try_parse_from(["xtask", "run", "--gdb"]).expect("parses");
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.gdb, Some(1234));
        let cli = Cli::try_parse_from([
            "xtask",
            "run",
            "--gdb=4321",
            "--arch",
            "aarch64",
            "--",
            "-d",
            "int",
        ])
        .expect("parses");
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.gdb, Some(4321));
        assert_eq!(run.build.arch, Arch::Aarch64);
        assert_eq!(run.qemu_args, ["-d", "int"]);
        assert_eq!((run.initrd, run.no_initrd), (None, false));
    }

    #[test]
    fn initrd_options() {
        let cli = Cli::try_parse_from(["xtask", "run", "--initrd", "/tmp/x.cpio"]).expect("parses");
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.initrd, Some("/tmp/x.cpio".into()));
        let both = ["xtask", "run", "--initrd", "x", "--no-initrd"];
        assert!(Cli::try_parse_from(both).is_err());
    }
}
