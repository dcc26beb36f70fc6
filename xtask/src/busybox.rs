//! BusyBox for the initramfs: Debian's busybox source package built static against musl, for
//! each architecture, and cached under `<target>/busybox/`.
//!
//! Recipe (see `.teams/0010-userland-images.md`): `apt-get source busybox`; `make defconfig`
//! in a build tree of its own (`O=`); `CONFIG_STATIC=y` and `CONFIG_TC` off (its traffic-control
//! code needs kernel headers musl does not provide); `CC` is musl's gcc wrapper with
//! `-idirafter DIR`, where DIR links the Linux UAPI headers (`linux`, `asm`, `asm-generic`,
//! `mtd`, `scsi`) that musl does not ship. aarch64 is the same cross-compiled: musl's wrapper
//! from `musl-dev:arm64` drives Debian's `aarch64-linux-gnu-gcc`, with the arm64 `asm`
//! headers from `linux-libc-dev:arm64`.
//!
//! Layout: `source/` (the unpacked Debian source, shared), `<arch>/headers/`, `<arch>/build/`
//! (the `O=` tree), `<arch>/busybox`, `<arch>/applets.txt` (`busybox --list-full`), and
//! `<arch>/recipe.txt`: the full recipe text of the cached result. A build runs only when the
//! recipe text differs from the stored one or an output is missing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::arch::Arch;
use crate::elf;
use crate::prereq;
use crate::workspace::Workspace;

/// Bump when the recipe changes in a way the recipe text below does not show.
const RECIPE_VERSION: u32 = 1;

/// Options changed from `make defconfig`: (name, enabled).
const CONFIG: [(&str, bool); 2] = [("CONFIG_STATIC", true), ("CONFIG_TC", false)];

/// Kernel UAPI header directories BusyBox includes and musl lacks, all found in /usr/include
/// except `asm`, which is per architecture.
const UAPI_DIRS: [&str; 4] = ["linux", "asm-generic", "mtd", "scsi"];

/// A built BusyBox.
pub struct BusyBox {
    pub binary: PathBuf,
    /// `busybox --list-full`: one path per applet, relative to `/` (`bin/ls`, `usr/bin/awk`).
    pub applets: Vec<String>,
}

/// How each architecture's BusyBox is compiled.
struct Toolchain {
    /// musl's gcc wrapper.
    cc: &'static str,
    /// Prefix of binutils (`strip`, `ar`...) for a cross build; empty for a native one.
    cross_compile: &'static str,
    /// The architecture's `asm` UAPI headers.
    asm: &'static str,
    /// How to run the result on this (x86_64) host: a user-mode emulator, or nothing.
    runner: Option<&'static str>,
}

fn toolchain(arch: Arch) -> Toolchain {
    match arch {
        Arch::X86_64 => Toolchain {
            cc: "musl-gcc",
            cross_compile: "",
            asm: "/usr/include/x86_64-linux-gnu/asm",
            runner: None,
        },
        Arch::Aarch64 => Toolchain {
            cc: "aarch64-linux-musl-gcc",
            cross_compile: "aarch64-linux-gnu-",
            asm: "/usr/include/aarch64-linux-gnu/asm",
            runner: Some("qemu-aarch64"),
        },
    }
}

/// The host packages the BusyBox build of `arch` needs.
pub fn needs(arch: Arch) -> Vec<prereq::Need> {
    use prereq::{Need, Probe};
    let mut needs = vec![
        // `apt-get source` unpacks with dpkg-source (dpkg-dev), which needs bzip2 and xz.
        Need {
            what: Probe::Exe("dpkg-source"),
            packages: &["dpkg-dev"],
        },
        Need {
            what: Probe::Exe("bzip2"),
            packages: &["bzip2"],
        },
        Need {
            what: Probe::Exe("xz"),
            packages: &["xz-utils"],
        },
        Need {
            what: Probe::Exe("make"),
            packages: &["make"],
        },
    ];
    needs.extend(match arch {
        Arch::X86_64 => vec![
            Need {
                what: Probe::Exe("gcc"),
                packages: &["gcc"],
            },
            Need {
                what: Probe::Exe("musl-gcc"),
                packages: &["musl-tools"],
            },
            Need {
                what: Probe::Path("/usr/include/x86_64-linux-gnu/asm"),
                packages: &["linux-libc-dev"],
            },
        ],
        Arch::Aarch64 => vec![
            // musl-dev:arm64 ships the `aarch64-linux-musl-gcc` wrapper and pulls in Debian's
            // cross gcc (gcc-aarch64-linux-gnu), named here too so a probe failure is clear.
            Need {
                what: Probe::Exe("aarch64-linux-musl-gcc"),
                packages: &["musl-dev:arm64"],
            },
            Need {
                what: Probe::Exe("aarch64-linux-gnu-gcc"),
                packages: &["gcc-aarch64-linux-gnu"],
            },
            Need {
                what: Probe::Path("/usr/include/aarch64-linux-gnu/asm"),
                packages: &["linux-libc-dev:arm64"],
            },
            // Runs the arm64 binary for its applet list and a smoke test.
            Need {
                what: Probe::Exe("qemu-aarch64"),
                packages: &["qemu-user"],
            },
        ],
    });
    needs
}

/// BusyBox for `arch`, from the cache or built now.
pub fn get(ws: &Workspace, arch: Arch) -> Result<BusyBox> {
    let root = ws.out_dir("busybox")?;
    let dir = root.join(arch.name());
    let binary = dir.join("busybox");
    let applets_file = dir.join("applets.txt");
    let recipe_file = dir.join("recipe.txt");
    let tools = toolchain(arch);
    // Reading the source directory is cheap; fetching happens only when it is missing.
    let source = source_dir(&root)?;
    let recipe = recipe_text(&source, &tools)?;
    let cached = fs::read_to_string(&recipe_file).ok();
    if cached.as_deref() != Some(recipe.as_str()) || !binary.exists() || !applets_file.exists() {
        eprintln!(
            "== {arch}: building BusyBox (log: {})",
            dir.join("build.log").display()
        );
        let started = std::time::Instant::now();
        // The recipe file goes first so an interrupted build is never taken for a cached one.
        let _ = fs::remove_file(&recipe_file);
        build(&source, &dir, &tools, arch)?;
        fs::write(&recipe_file, &recipe)
            .with_context(|| format!("writing {}", recipe_file.display()))?;
        eprintln!(
            "   BusyBox for {arch} built in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    let list = fs::read_to_string(&applets_file)
        .with_context(|| format!("reading {}", applets_file.display()))?;
    Ok(BusyBox {
        binary,
        applets: parse_applets(&list)?,
    })
}

/// What makes a cached BusyBox valid: the source package version and every build input.
fn recipe_text(source: &Path, tools: &Toolchain) -> Result<String> {
    let name = source
        .file_name()
        .and_then(|n| n.to_str())
        .context("BusyBox source directory has no name")?;
    let config: Vec<String> = CONFIG
        .iter()
        .map(|(opt, on)| format!("{opt}={}", if *on { "y" } else { "n" }))
        .collect();
    Ok(format!(
        "recipe {RECIPE_VERSION}\nsource {name} ({})\nconfig defconfig {}\ncc {} -idirafter \
         headers\ncross_compile {}\nasm {}\n",
        debian_version(source)?,
        config.join(" "),
        tools.cc,
        tools.cross_compile,
        tools.asm
    ))
}

/// The Debian version of the unpacked source (first line of `debian/changelog`).
fn debian_version(source: &Path) -> Result<String> {
    let changelog = source.join("debian/changelog");
    let text = fs::read_to_string(&changelog)
        .with_context(|| format!("reading {}", changelog.display()))?;
    text.lines()
        .next()
        .and_then(|line| Some(line.split_once('(')?.1.split_once(')')?.0.to_string()))
        .with_context(|| format!("no version on the first line of {}", changelog.display()))
}

/// The unpacked Debian source (`<root>/source/busybox-<version>`), fetched if missing.
fn source_dir(root: &Path) -> Result<PathBuf> {
    let source = root.join("source");
    if let Some(dir) = unpacked(&source)? {
        return Ok(dir);
    }
    prereq::ensure_deb_src()?;
    // Fetch into a scratch directory and rename, so a half-fetched source is never used.
    let scratch = root.join("source.partial");
    if scratch.exists() {
        fs::remove_dir_all(&scratch).with_context(|| format!("removing {}", scratch.display()))?;
    }
    fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    eprintln!("== fetching Debian's busybox source package (apt-get source busybox)");
    let out = Command::new("apt-get")
        .args(["source", "--only-source", "busybox"])
        .current_dir(&scratch)
        .output()
        .context("running apt-get source busybox")?;
    if !out.status.success() {
        bail!(
            "apt-get source busybox failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if source.exists() {
        fs::remove_dir_all(&source).with_context(|| format!("removing {}", source.display()))?;
    }
    fs::rename(&scratch, &source)
        .with_context(|| format!("renaming {} to {}", scratch.display(), source.display()))?;
    unpacked(&source)?.with_context(|| {
        format!(
            "apt-get source left no busybox-* directory in {}",
            source.display()
        )
    })
}

/// The `busybox-*` directory in `source`, if it has been fetched.
fn unpacked(source: &Path) -> Result<Option<PathBuf>> {
    if !source.exists() {
        return Ok(None);
    }
    for entry in fs::read_dir(source).with_context(|| format!("reading {}", source.display()))? {
        let entry = entry.with_context(|| format!("reading {}", source.display()))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("busybox-") && entry.path().join("Makefile").exists()
        {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

fn build(source: &Path, dir: &Path, tools: &Toolchain, arch: Arch) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let headers = dir.join("headers");
    link_headers(&headers, tools.asm)?;
    let tree = dir.join("build");
    if tree.exists() {
        fs::remove_dir_all(&tree).with_context(|| format!("removing {}", tree.display()))?;
    }
    fs::create_dir_all(&tree).with_context(|| format!("creating {}", tree.display()))?;
    let log = dir.join("build.log");
    // Each build gets a fresh log (`make` below appends to it, step after step).
    if log.exists() {
        fs::remove_file(&log).with_context(|| format!("removing {}", log.display()))?;
    }
    let mut defconfig = Command::new("make");
    defconfig
        .arg("-C")
        .arg(source)
        .arg(format!("O={}", tree.display()))
        .arg("defconfig");
    make(defconfig, &log, "make defconfig")?;
    let config_path = tree.join(".config");
    let config = fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    fs::write(&config_path, edit_config(&config, &CONFIG)?)
        .with_context(|| format!("writing {}", config_path.display()))?;
    let headers_text = headers.to_str().context("non-UTF-8 target directory")?;
    if headers_text.contains(char::is_whitespace) {
        // make splits CC on blanks.
        bail!("the target directory {headers_text:?} contains a blank; BusyBox's CC cannot");
    }
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut compile = Command::new("make");
    compile
        .arg("-C")
        .arg(&tree)
        .arg(format!("-j{jobs}"))
        .arg(format!("CC={} -idirafter {headers_text}", tools.cc));
    if !tools.cross_compile.is_empty() {
        compile.arg(format!("CROSS_COMPILE={}", tools.cross_compile));
    }
    compile.arg("busybox");
    make(compile, &log, "make busybox")?;

    let built = tree.join("busybox");
    let bytes = fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    elf::check_static(&bytes, arch).with_context(|| format!("checking {}", built.display()))?;
    smoke_test(&built, tools)?;
    let list = run(&built, tools, &["--list-full"])?;
    parse_applets(&list)?;
    fs::write(dir.join("applets.txt"), list).context("writing applets.txt")?;
    fs::copy(&built, dir.join("busybox")).context("copying busybox out of its build tree")?;
    Ok(())
}

/// Run the binary the way the initramfs will (`sh -c` with a loop) and check its output.
fn smoke_test(busybox: &Path, tools: &Toolchain) -> Result<()> {
    let out = run(
        busybox,
        tools,
        &["sh", "-c", "for i in 1 2; do echo $i; done; echo hi"],
    )?;
    if out != "1\n2\nhi\n" {
        bail!("{} sh printed {out:?}", busybox.display());
    }
    Ok(())
}

/// Run `busybox args...` on the host (through the user-mode emulator for a foreign arch).
fn run(busybox: &Path, tools: &Toolchain, args: &[&str]) -> Result<String> {
    let mut cmd = match tools.runner {
        Some(runner) => {
            let mut cmd = Command::new(runner);
            cmd.arg(busybox);
            cmd
        }
        None => Command::new(busybox),
    };
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} {}", busybox.display(), args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "{} {} failed ({}): {}",
            busybox.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).context("busybox printed non-UTF-8")
}

/// Run one make step with its output appended to `log`; on failure, show the log's tail.
fn make(mut cmd: Command, log: &Path, what: &str) -> Result<()> {
    let file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let err = file.try_clone().context("duplicating the log handle")?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .status()
        .with_context(|| format!("running {what}"))?;
    if !status.success() {
        crate::suite::print_tail(log);
        bail!("BusyBox {what} failed ({status}); log {}", log.display());
    }
    Ok(())
}

/// `dir/<name>` -> the host's UAPI header directories.
fn link_headers(dir: &Path, asm: &str) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut links: Vec<(&str, String)> = UAPI_DIRS
        .iter()
        .map(|name| (*name, format!("/usr/include/{name}")))
        .collect();
    links.push(("asm", asm.to_string()));
    for (name, target) in links {
        if !Path::new(&target).is_dir() {
            bail!("{target} is missing (Debian package linux-libc-dev for this architecture)");
        }
        std::os::unix::fs::symlink(&target, dir.join(name))
            .with_context(|| format!("linking {}/{name}", dir.display()))?;
    }
    Ok(())
}

/// `.config` with each option set: `NAME=y` to enable, `# NAME is not set` to disable.
fn edit_config(config: &str, options: &[(&str, bool)]) -> Result<String> {
    let mut out = String::with_capacity(config.len());
    let mut found = vec![false; options.len()];
    for line in config.lines() {
        let name = line
            .strip_prefix("# ")
            .and_then(|rest| rest.strip_suffix(" is not set"))
            .or_else(|| line.split_once('=').map(|(name, _)| name));
        match options.iter().position(|(opt, _)| Some(*opt) == name) {
            Some(i) => {
                found[i] = true;
                let (opt, on) = options[i];
                if on {
                    out.push_str(&format!("{opt}=y\n"));
                } else {
                    out.push_str(&format!("# {opt} is not set\n"));
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    // An option missing from defconfig means the source changed under the recipe: say so
    // rather than build something else.
    if let Some(i) = found.iter().position(|f| !f) {
        bail!("BusyBox defconfig has no {}", options[i].0);
    }
    Ok(out)
}

/// The applet paths of `busybox --list-full`, checked to be relative paths in the usual four
/// directories or at the root (defconfig's `linuxrc`); they become symlinks in the initramfs.
fn parse_applets(list: &str) -> Result<Vec<String>> {
    let mut applets = Vec::new();
    for line in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (dir, name) = line.rsplit_once('/').unwrap_or(("", line));
        if !["", "bin", "sbin", "usr/bin", "usr/sbin"].contains(&dir) || name.is_empty() {
            bail!("unexpected applet path {line:?} from busybox --list-full");
        }
        applets.push(line.to_string());
    }
    if applets.is_empty() {
        bail!("busybox --list-full listed no applets");
    }
    Ok(applets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFCONFIG: &str = "#\n# Build Options\n#\n# CONFIG_STATIC is not set\n\
                             CONFIG_PIE=n\nCONFIG_TC=y\nCONFIG_FEATURE_TC_INGRESS=y\n";

    #[test]
    fn config_is_edited_both_ways() {
        let edited = edit_config(DEFCONFIG, &CONFIG).expect("edits");
        assert_eq!(
            edited,
            "#\n# Build Options\n#\nCONFIG_STATIC=y\nCONFIG_PIE=n\n# CONFIG_TC is not set\n\
             CONFIG_FEATURE_TC_INGRESS=y\n"
        );
        // Idempotent: editing again changes nothing.
        assert_eq!(edit_config(&edited, &CONFIG).expect("edits"), edited);
    }

    #[test]
    fn missing_option_is_an_error() {
        let err = edit_config("CONFIG_TC=y\n", &CONFIG).expect_err("no CONFIG_STATIC");
        assert!(err.to_string().contains("CONFIG_STATIC"), "{err}");
    }

    #[test]
    fn applet_list() {
        let applets = parse_applets("linuxrc\nbin/ash\nusr/bin/[\nsbin/init\nusr/sbin/chroot\n\n")
            .expect("parses");
        assert_eq!(
            applets,
            [
                "linuxrc",
                "bin/ash",
                "usr/bin/[",
                "sbin/init",
                "usr/sbin/chroot"
            ]
        );
        assert!(parse_applets("").is_err());
        assert!(parse_applets("bin/\n").is_err());
        assert!(parse_applets("/bin/ash\n").is_err());
        assert!(parse_applets("opt/bin/x\n").is_err());
    }

    #[test]
    fn recipe_names_version_and_toolchain() {
        let dir = std::env::temp_dir().join(format!("xtask-bb-{}", std::process::id()));
        let source = dir.join("busybox-1.35.0");
        fs::create_dir_all(source.join("debian")).expect("mkdir");
        fs::write(
            source.join("debian/changelog"),
            "busybox (1:1.35.0-4+deb12u1) bookworm-security; urgency=medium\n",
        )
        .expect("write");
        let text = recipe_text(&source, &toolchain(Arch::Aarch64)).expect("recipe");
        assert!(
            text.contains("source busybox-1.35.0 (1:1.35.0-4+deb12u1)\n"),
            "{text}"
        );
        assert!(text.contains("CONFIG_STATIC=y CONFIG_TC=n"), "{text}");
        assert!(text.contains("cc aarch64-linux-musl-gcc"), "{text}");
        assert_ne!(
            text,
            recipe_text(&source, &toolchain(Arch::X86_64)).expect("recipe")
        );
        let _ = fs::remove_dir_all(dir);
    }
}
