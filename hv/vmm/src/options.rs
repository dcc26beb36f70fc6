//! Command line and `--config` file: the same keys either way, flags win over the file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use serde::Deserialize;

/// Guest RAM when neither `--mem` nor the config file says.
pub const DEFAULT_MEM: u64 = 16 << 20;
/// The most RAM a guest gets: RAM is one slot from 0, below the MMIO test device.
pub const MAX_MEM: u64 = 3 << 30;
/// The least RAM a guest gets (the first 64 KiB hold the real-mode stack and boot structures).
pub const MIN_MEM: u64 = 64 << 10;

/// Run an x86 guest through /dev/kvm (Linux KVM or Levitate).
///
/// IMAGE (or --kernel) is an ELF with a PVH note, started in 32-bit protected mode at its
/// XEN_ELFNOTE_PHYS32_ENTRY with EBX pointing to an hvm_start_info; or a flat binary named
/// *.bin, loaded at 0x8000 and started in real mode at 0000:8000 with SP=0x7000.
///
/// The guest's COM1 (port 0x3f8) goes to stdout. An OUT to port 0xf4 ends vmrun with the low
/// byte of the value as exit status. HLT ends the run with status 0 unless interrupts are
/// enabled and --timer-hz is set. An MMIO test device sits at 0xd0000000: ID 0x4d4d564c
/// ("LVMM") at +0, a 64-bit scratch register at +8, its complement at +0x10. Unclaimed ports
/// and MMIO read as all ones and ignore writes.
///
/// Exit status: the guest's debug-exit value; 0 for HLT; 1 setup error (no /dev/kvm, bad
/// image, too little memory); 2 usage error; 3 guest shutdown (triple fault); 4
/// KVM_EXIT_INTERNAL_ERROR; 5 KVM_EXIT_FAIL_ENTRY; 6 any other unexpected exit.
#[derive(Parser, Debug, Default, PartialEq)]
#[command(name = "vmrun", version)]
pub struct Cli {
    /// The guest image (same as --kernel).
    #[arg(value_name = "IMAGE")]
    pub image: Option<PathBuf>,
    /// The guest image: ELF with a PVH note, or a flat real-mode *.bin.
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// An initrd, passed to a PVH guest as hvm_start_info's first module.
    #[arg(long, value_name = "PATH")]
    pub initrd: Option<PathBuf>,
    /// The command line a PVH guest finds through hvm_start_info.
    #[arg(long, value_name = "TEXT")]
    pub cmdline: Option<String>,
    /// Guest RAM: bytes, or with a K/M/G suffix (default 16M).
    #[arg(long, value_name = "SIZE")]
    pub mem: Option<String>,
    /// A TOML file with any of the keys kernel, initrd, cmdline, mem, backend, timer-hz
    /// (relative paths are relative to the file).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Which KVM backend runs the guest (Levitate's KVM_CAP_LEVITATE_BACKEND); on Linux only
    /// auto and hw exist.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Inject external interrupt vector 0x20 N times a second (when the guest can take it;
    /// a SIGALRM kicks a vCPU that does not exit).
    #[arg(long, value_name = "N")]
    pub timer_hz: Option<u32>,
    /// The KVM device to open.
    #[arg(long, value_name = "PATH", default_value = "/dev/kvm")]
    pub kvm_device: PathBuf,
    /// Print what vmrun chose (backend, image, memory) on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

/// The backend a VM asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The kernel's default: hardware where present, else the interpreter.
    #[default]
    Auto,
    /// Levitate's x86 interpreter.
    Interp,
    /// Hardware virtualization (always, on Linux).
    Hw,
}

/// The `--config` file.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    kernel: Option<PathBuf>,
    initrd: Option<PathBuf>,
    cmdline: Option<String>,
    mem: Option<MemValue>,
    backend: Option<Backend>,
    timer_hz: Option<u32>,
}

/// `mem = "16M"` or `mem = 16777216`.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(untagged)]
enum MemValue {
    Text(String),
    Bytes(u64),
}

/// Everything a run needs, merged and checked.
#[derive(Debug, PartialEq)]
pub struct Options {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
    pub mem: u64,
    pub backend: Backend,
    pub timer_hz: Option<u32>,
    pub kvm_device: PathBuf,
    pub verbose: bool,
}

impl Cli {
    /// Parse `args` (with the program name first); clap's own errors exit with status 2.
    pub fn parse_from_args(args: impl IntoIterator<Item = OsString>) -> Cli {
        Cli::parse_from(args)
    }

    /// Merge with the config file, if any, and check the values.
    pub fn resolve(self) -> Result<Options> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --config {}", path.display()))?;
                let dir = path.parent().unwrap_or(Path::new(""));
                parse_config(&text, dir)
                    .with_context(|| format!("bad --config {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        if self.image.is_some() && self.kernel.is_some() {
            bail!("give the image either as IMAGE or as --kernel, not both");
        }
        let kernel =
            self.image.or(self.kernel).or(file.kernel).context(
                "no guest image: give IMAGE, --kernel or `kernel` in --config (see --help)",
            )?;
        let mem = match (self.mem, file.mem) {
            (Some(text), _) | (None, Some(MemValue::Text(text))) => {
                parse_size(&text).with_context(|| format!("bad memory size {text:?}"))?
            }
            (None, Some(MemValue::Bytes(bytes))) => bytes,
            (None, None) => DEFAULT_MEM,
        };
        if !(MIN_MEM..=MAX_MEM).contains(&mem) {
            bail!(
                "memory size {mem:#x} out of range: from {} KiB to {} GiB",
                MIN_MEM >> 10,
                MAX_MEM >> 30
            );
        }
        let timer_hz = self.timer_hz.or(file.timer_hz);
        if let Some(hz) = timer_hz
            && !(1..=10_000).contains(&hz)
        {
            bail!("--timer-hz {hz}: from 1 to 10000");
        }
        Ok(Options {
            kernel,
            initrd: self.initrd.or(file.initrd),
            cmdline: self.cmdline.or(file.cmdline).unwrap_or_default(),
            // Whole pages: KVM memory slots are page-granular.
            mem: mem.next_multiple_of(4096),
            backend: self.backend.or(file.backend).unwrap_or_default(),
            timer_hz,
            kvm_device: self.kvm_device,
            verbose: self.verbose,
        })
    }
}

/// Parse a config file; relative paths in it are taken relative to `dir`.
fn parse_config(text: &str, dir: &Path) -> Result<FileConfig> {
    let mut config: FileConfig = toml::from_str(text)?;
    for path in [&mut config.kernel, &mut config.initrd]
        .into_iter()
        .flatten()
    {
        if path.is_relative() {
            *path = dir.join(&*path);
        }
    }
    Ok(config)
}

/// `4096`, `64K`, `16M`, `1G` (also `16MiB`, `16m`): a byte count.
pub fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let number: u64 = number.parse().context("expected a number")?;
    let shift = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => bail!("unknown size suffix {other:?} (use K, M or G)"),
    };
    number
        .checked_mul(1 << shift)
        .context("size does not fit in 64 bits")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let all = std::iter::once("vmrun").chain(args.iter().copied());
        Cli::try_parse_from(all).expect("parses")
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").ok(), Some(4096));
        assert_eq!(parse_size("64K").ok(), Some(64 << 10));
        assert_eq!(parse_size("16M").ok(), Some(16 << 20));
        assert_eq!(parse_size("16MiB").ok(), Some(16 << 20));
        assert_eq!(parse_size("2g").ok(), Some(2 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("12T").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
    }

    #[test]
    fn flags() {
        let opts = cli(&[
            "--mem",
            "32M",
            "--timer-hz",
            "100",
            "--backend",
            "interp",
            "g.bin",
        ])
        .resolve()
        .expect("valid");
        assert_eq!(opts.kernel, PathBuf::from("g.bin"));
        assert_eq!(opts.mem, 32 << 20);
        assert_eq!(opts.timer_hz, Some(100));
        assert_eq!(opts.backend, Backend::Interp);
        assert_eq!(opts.kvm_device, PathBuf::from("/dev/kvm"));
        let opts = cli(&["--kernel", "k.elf", "--cmdline", "a b"])
            .resolve()
            .expect("valid");
        assert_eq!(
            (opts.kernel, opts.cmdline, opts.mem, opts.backend),
            (
                "k.elf".into(),
                "a b".to_string(),
                DEFAULT_MEM,
                Backend::Auto
            )
        );
    }

    #[test]
    fn bad_flags() {
        assert!(cli(&[]).resolve().is_err());
        assert!(cli(&["--kernel", "a", "b"]).resolve().is_err());
        assert!(cli(&["--mem", "1K", "a"]).resolve().is_err());
        assert!(cli(&["--mem", "8G", "a"]).resolve().is_err());
        assert!(cli(&["--timer-hz", "0", "a"]).resolve().is_err());
        assert!(Cli::try_parse_from(["vmrun", "--backend", "magic"]).is_err());
        assert!(Cli::try_parse_from(["vmrun", "--nope"]).is_err());
    }

    #[test]
    fn memory_rounds_up_to_pages() {
        let opts = cli(&["--mem", "100000", "a"]).resolve().expect("valid");
        assert_eq!(opts.mem, 102_400);
    }

    #[test]
    fn config_file_keys_and_relative_paths() {
        let text = "kernel = \"hello.elf\"\ninitrd = \"/abs/initrd\"\ncmdline = \"console=ttyS0\"\n\
                    mem = \"32M\"\nbackend = \"hw\"\ntimer-hz = 50\n";
        let config = parse_config(text, Path::new("/guests")).expect("parses");
        assert_eq!(
            config,
            FileConfig {
                kernel: Some("/guests/hello.elf".into()),
                initrd: Some("/abs/initrd".into()),
                cmdline: Some("console=ttyS0".into()),
                mem: Some(MemValue::Text("32M".into())),
                backend: Some(Backend::Hw),
                timer_hz: Some(50),
            }
        );
        let bytes = parse_config("mem = 65536", Path::new("")).expect("parses");
        assert_eq!(bytes.mem, Some(MemValue::Bytes(65536)));
        assert!(parse_config("kernal = \"typo\"", Path::new("")).is_err());
        assert!(parse_config("backend = \"fast\"", Path::new("")).is_err());
        assert!(parse_config("mem = [", Path::new("")).is_err());
    }

    #[test]
    fn flags_override_the_config_file() {
        let path = std::env::temp_dir().join(format!("vmrun-test-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "kernel = \"a.bin\"\nmem = \"32M\"\ncmdline = \"file\"\n",
        )
        .expect("write");
        let config = path.to_string_lossy().into_owned();
        let opts = cli(&["--config", &config, "--mem", "64M"])
            .resolve()
            .expect("valid");
        let dir = path.parent().expect("temp dir");
        assert_eq!(opts.kernel, dir.join("a.bin"));
        assert_eq!((opts.mem, opts.cmdline.as_str()), (64 << 20, "file"));
        let _ = std::fs::remove_file(&path);
        assert!(cli(&["--config", &config]).resolve().is_err());
    }
}
