//! The initramfs QEMU passes with `-initrd`: BusyBox and its applet links, our own Rust
//! programs, and the few files a Linux userland expects, as one cpio newc archive at
//! `target/<kernel triple>/<profile>/initramfs.cpio` (next to the kernel it goes with).
//!
//! The archive is built in memory (a few MiB) and written only when its bytes differ from the
//! file's, so its mtime changes exactly when some input did and a warm build writes nothing.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::arch::Arch;
use crate::build::Kernel;
use crate::busybox;
use crate::cpio::{self, Entry};
use crate::elf;
use crate::workspace::Workspace;

/// The package of our userland programs; each of its binaries lands in `/usr/bin/`.
const USER_PACKAGE: &str = "levitate-user";

/// `/init`, which the kernel runs as PID 1 when the command line names no `init=` (Linux's
/// `rdinit=/init` for an initramfs): what `cargo xtask run` lands in. Leaving the shell ends
/// PID 1, and the kernel powers off with success.
const INIT: &str = "\
#!/bin/sh
# Levitate's default PID 1: an interactive BusyBox login shell on the console.
# `exit` or ^D ends it and powers the machine off. Boot with init=<program> to run another.
echo \"Levitate $(uname -r) on $(uname -m): BusyBox ash. Type 'exit' to power off.\"
cd /root
exec /bin/sh -l
";

/// A written (or already up-to-date) initramfs.
pub struct Initramfs {
    pub path: PathBuf,
    pub bytes: usize,
    pub applets: usize,
    pub programs: Vec<String>,
    /// Whether the file was (re)written by this call.
    pub written: bool,
}

/// Build everything that goes in and write the archive for `kernel`.
pub fn build(ws: &Workspace, kernel: &Kernel) -> Result<Initramfs> {
    let arch = kernel.arch;
    let busybox = busybox::get(ws, arch)?;
    let busybox_bytes = fs::read(&busybox.binary)
        .with_context(|| format!("reading {}", busybox.binary.display()))?;
    let mut programs = Vec::new();
    for (name, path) in user_programs(ws, arch)? {
        let path = stripped(&path)?;
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        elf::check_static(&bytes, arch).with_context(|| format!("checking {}", path.display()))?;
        programs.push((name, bytes));
    }
    let names: Vec<String> = programs.iter().map(|(name, _)| name.clone()).collect();
    let mut entries = layout(busybox_bytes, &busybox.applets, programs)?;
    entries.extend(crate::guests::initramfs_entries(ws)?);
    let archive = cpio::archive(&entries)?;
    let dir = kernel
        .elf
        .parent()
        .context("the kernel ELF has no parent directory")?;
    let path = dir.join("initramfs.cpio");
    let written = write_if_changed(&path, &archive)?;
    Ok(Initramfs {
        path,
        bytes: archive.len(),
        applets: busybox.applets.len(),
        programs: names,
        written,
    })
}

impl Initramfs {
    /// One line for the console.
    pub fn summary(&self) -> String {
        format!(
            "{} ({} KiB, {} BusyBox applets, /usr/bin: {}; {})",
            self.path.display(),
            self.bytes / 1024,
            self.applets,
            self.programs.join(" "),
            if self.written { "written" } else { "unchanged" }
        )
    }
}

/// `cargo build -p levitate-user --target <arch>-unknown-linux-musl --release`: each binary's
/// name and path, as cargo reports them.
fn user_programs(ws: &Workspace, arch: Arch) -> Result<Vec<(String, PathBuf)>> {
    let mut cmd = ws.cargo();
    cmd.args([
        "build",
        "-p",
        USER_PACKAGE,
        "-p",
        "vmrun",
        "--release",
        "--target",
    ])
    .arg(arch.user_triple())
    .arg("--message-format=json-render-diagnostics")
    .stdout(Stdio::piped());
    let mut child = cmd.spawn().context("starting cargo build")?;
    let stdout = child.stdout.take().context("cargo build has no stdout")?;
    let mut programs = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo build output")?;
        if let Some(program) = binary_of(&line) {
            programs.push(program);
        }
    }
    let status = child.wait().context("waiting for cargo build")?;
    if !status.success() {
        bail!("cargo build of {USER_PACKAGE} for {arch} failed ({status})");
    }
    if programs.is_empty() {
        bail!("cargo build of {USER_PACKAGE} reported no binaries");
    }
    programs.sort();
    Ok(programs)
}

/// A copy of `exe` without symbols or debug info, in `stripped/` beside it. The release
/// profile keeps line tables (`debug = 1`), which make a 300 KiB program 4.5 MiB; the
/// unstripped one stays where cargo put it, for gdb.
fn stripped(exe: &Path) -> Result<PathBuf> {
    let dir = exe
        .parent()
        .context("a cargo executable has no parent directory")?
        .join("stripped");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = dir.join(exe.file_name().context("a cargo executable has no name")?);
    let objcopy = crate::build::llvm_objcopy()?;
    let status = std::process::Command::new(&objcopy)
        .arg("--strip-all")
        .arg(exe)
        .arg(&out)
        .status()
        .with_context(|| format!("running {}", objcopy.display()))?;
    if !status.success() {
        bail!(
            "llvm-objcopy --strip-all {} failed ({status})",
            exe.display()
        );
    }
    Ok(out)
}

/// A binary target's name and executable from a `compiler-artifact` message.
fn binary_of(line: &str) -> Option<(String, PathBuf)> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" {
        return None;
    }
    let kinds = msg["target"]["kind"].as_array()?;
    if !kinds.iter().any(|kind| kind == "bin") {
        return None;
    }
    let name = msg["target"]["name"].as_str()?;
    let exe = msg["executable"].as_str()?;
    Some((name.to_string(), PathBuf::from(exe)))
}

/// Every member of the archive, parents before children.
fn layout(
    busybox: Vec<u8>,
    applets: &[String],
    programs: Vec<(String, Vec<u8>)>,
) -> Result<Vec<Entry>> {
    let mut entries = vec![
        Entry::dir("bin", 0o755),
        Entry::dir("dev", 0o755),
        // Linux opens /dev/console for PID 1's stdio before devtmpfs is mounted; its default
        // initramfs carries the same node.
        Entry::char_dev("dev/console", 0o600, 5, 1),
        Entry::dir("etc", 0o755),
        Entry::file("etc/passwd", 0o644, PASSWD.into()),
        Entry::file("etc/group", 0o644, GROUP.into()),
        Entry::file("etc/profile", 0o644, PROFILE.into()),
        Entry::dir("proc", 0o555),
        Entry::dir("root", 0o700),
        Entry::dir("sbin", 0o755),
        Entry::dir("sys", 0o555),
        // Sticky and world-writable, as everywhere.
        Entry::dir("tmp", 0o1777),
        Entry::dir("usr", 0o755),
        Entry::dir("usr/bin", 0o755),
        Entry::dir("usr/sbin", 0o755),
        Entry::dir("usr/share", 0o755),
        Entry::dir(SCENARIO_DIR, 0o755),
        Entry::file("bin/busybox", 0o755, busybox),
    ];
    let mut links: Vec<&str> = applets.iter().map(String::as_str).collect();
    // ash is `sh` in defconfig already; keep /bin/sh even if a config drops that link.
    if !links.contains(&"bin/sh") {
        links.push("bin/sh");
    }
    let program_paths: Vec<String> = programs
        .iter()
        .map(|(name, _)| format!("usr/bin/{name}"))
        .collect();
    for link in links {
        if link == "bin/busybox" {
            continue;
        }
        if program_paths.iter().any(|p| p == link) {
            bail!("{link} is both a BusyBox applet and one of our programs: rename the program");
        }
        entries.push(Entry::symlink(link, "/bin/busybox"));
    }
    for ((_, bytes), path) in programs.into_iter().zip(&program_paths) {
        entries.push(Entry::file(path, 0o755, bytes));
    }
    for (name, text) in SCENARIOS {
        let path = format!("{SCENARIO_DIR}/{name}");
        entries.push(Entry::file(&path, 0o755, text.as_bytes().to_vec()));
    }
    entries.push(Entry::file("init", 0o755, INIT.as_bytes().to_vec()));
    Ok(entries)
}

/// Where the shell scenarios live in the image (`init=/usr/share/levitate/<name>` runs one).
pub const SCENARIO_DIR: &str = "usr/share/levitate";

/// Shell scenarios, compiled in so that editing one rebuilds xtask and then the archive.
pub const SCENARIOS: [(&str, &str); 1] = [(
    "applets.sh",
    include_str!("../../syscall/user/scenarios/applets.sh"),
)];

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";
const PROFILE: &str = "\
# Read by login shells (ash -l). The PATH is Linux's usual one for root.
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
export HOME=/root
export PS1='\\u@levitate:\\w\\$ '
";

/// Write `bytes` to `path` unless it holds them already; `true` if it wrote. The write goes
/// through a temporary file and a rename, so QEMU never sees half an archive.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let tmp = path.with_extension("cpio.partial");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::Kind;

    fn sample() -> Vec<Entry> {
        let applets = [
            "bin/ash".to_string(),
            "usr/bin/awk".into(),
            "sbin/init".into(),
        ];
        let programs = vec![
            ("hello".to_string(), b"h".to_vec()),
            ("init-test".to_string(), b"i".to_vec()),
        ];
        layout(b"bb".to_vec(), &applets, programs).expect("layout")
    }

    fn find<'a>(entries: &'a [Entry], path: &str) -> &'a Entry {
        entries
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} missing"))
    }

    #[test]
    fn has_what_linux_userland_expects() {
        let entries = sample();
        for dir in [
            "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root",
        ] {
            assert_eq!(find(&entries, dir).kind, Kind::Dir, "{dir}");
        }
        assert_eq!(find(&entries, "tmp").perm, 0o1777);
        assert_eq!(find(&entries, "dev/console").kind, Kind::CharDev(5, 1));
        let link = |path| Kind::Symlink(String::from(path));
        assert_eq!(find(&entries, "bin/sh").kind, link("/bin/busybox"));
        assert_eq!(find(&entries, "usr/bin/awk").kind, link("/bin/busybox"));
        assert!(
            matches!(&find(&entries, "init").kind, Kind::File(text) if text.starts_with(b"#!/bin/sh\n") && text.ends_with(b"exec /bin/sh -l\n"))
        );
        assert_eq!(find(&entries, "init").perm, 0o755);
        assert_eq!(
            find(&entries, "usr/bin/hello").kind,
            Kind::File(b"h".to_vec())
        );
        assert_eq!(find(&entries, "bin/busybox").perm, 0o755);
        let applets = find(&entries, "usr/share/levitate/applets.sh");
        assert_eq!(applets.perm, 0o755);
        assert!(matches!(&applets.kind, Kind::File(text) if text.starts_with(b"#!/bin/sh\n")));
        let Kind::File(profile) = &find(&entries, "etc/profile").kind else {
            panic!("profile is not a file")
        };
        let profile = String::from_utf8_lossy(profile);
        assert!(profile.contains("export PATH=") && profile.contains("PS1="));
        assert!(cpio::archive(&entries).is_ok());
    }

    #[test]
    fn parents_come_first() {
        let entries = sample();
        for (i, entry) in entries.iter().enumerate() {
            if let Some((parent, _)) = entry.path.rsplit_once('/') {
                let at = entries.iter().position(|e| e.path == parent);
                assert!(
                    at.is_some_and(|at| at < i),
                    "{} before its parent",
                    entry.path
                );
            }
        }
    }

    #[test]
    fn program_may_not_shadow_an_applet() {
        let applets = ["usr/bin/hello".to_string()];
        let programs = vec![("hello".to_string(), Vec::new())];
        assert!(layout(Vec::new(), &applets, programs).is_err());
    }

    #[test]
    fn finds_binaries_in_cargo_output() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"init-test","kind":["bin"]},"executable":"/t/x86_64-unknown-linux-musl/release/init-test"}"#;
        assert_eq!(
            binary_of(line),
            Some((
                "init-test".to_string(),
                PathBuf::from("/t/x86_64-unknown-linux-musl/release/init-test")
            ))
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"levitate_user","kind":["lib"]},"executable":null}"#;
        assert_eq!(binary_of(lib), None);
    }

    #[test]
    fn rewrites_only_on_change() {
        let path =
            std::env::temp_dir().join(format!("xtask-initramfs-{}.cpio", std::process::id()));
        assert!(write_if_changed(&path, b"one").expect("write"));
        assert!(!write_if_changed(&path, b"one").expect("same"));
        assert!(write_if_changed(&path, b"two").expect("changed"));
        assert_eq!(fs::read(&path).expect("read"), b"two");
        let _ = fs::remove_file(path);
    }
}
