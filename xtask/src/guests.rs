//! The x86 test guests of `hv/guests` for `vmrun`: building them, what each expects, and their
//! place in the initramfs (`/guests/<file>` plus the script the Levitate VM lane runs as init).
//!
//! The guests are assembly in a `no_std` crate built for `x86_64-unknown-none` with a linker
//! script each; the flat ones become raw images through `llvm-objcopy -O binary`, the PVH one
//! stays an ELF (stripped). Only the pinned Rust toolchain is needed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::cpio::Entry;
use crate::workspace::Workspace;

const PACKAGE: &str = "levitate-guests";
const TARGET: &str = "x86_64-unknown-none";
/// Where the guests live in the image.
pub const GUEST_DIR: &str = "guests";
/// The Levitate lane's init script, in [`GUEST_DIR`].
pub const RUN_ALL: &str = "run-all.sh";

/// One guest run: its name (the cargo binary for [`GUESTS`]), its file in `/guests/`, vmrun's
/// options for it, the transcript it must print (`hv/guests/<transcript>.expected`) and the
/// exit status vmrun must end with.
pub struct Guest {
    pub name: &'static str,
    pub file: &'static str,
    pub args: &'static [&'static str],
    pub transcript: &'static str,
    pub status: i32,
}

/// What `hello.elf` is given (and prints back).
pub const HELLO_CMDLINE: &str = "console=ttyS0 hello";

pub const GUESTS: &[Guest] = &[
    Guest {
        name: "realmode-hello",
        file: "realmode-hello.bin",
        args: &[],
        transcript: "realmode-hello",
        status: 0,
    },
    Guest {
        name: "protected",
        file: "protected.bin",
        args: &[],
        transcript: "protected",
        status: 0,
    },
    Guest {
        name: "longmode",
        file: "longmode.bin",
        args: &[],
        transcript: "longmode",
        status: 0,
    },
    Guest {
        name: "mmio",
        file: "mmio.bin",
        args: &[],
        transcript: "mmio",
        status: 0,
    },
    Guest {
        name: "exceptions",
        file: "exceptions.bin",
        args: &[],
        transcript: "exceptions",
        status: 0,
    },
    Guest {
        name: "timer",
        file: "timer.bin",
        args: &["--timer-hz", "100"],
        transcript: "timer",
        status: 0,
    },
    // vmrun's status for KVM_EXIT_SHUTDOWN.
    Guest {
        name: "fault",
        file: "fault.bin",
        args: &[],
        transcript: "fault",
        status: 3,
    },
    Guest {
        name: "hello",
        file: "hello.elf",
        args: &["--cmdline", HELLO_CMDLINE],
        transcript: "hello",
        status: 0,
    },
];

/// Runs only the Levitate lane makes (Linux has no interpreter backend).
pub const LEVITATE_EXTRA: &[Guest] = &[Guest {
    name: "longmode-interp",
    file: "longmode.bin",
    args: &["--backend", "interp"],
    transcript: "longmode",
    status: 0,
}];

/// Every run of the Levitate lane, in [`RUN_ALL`] order.
pub fn levitate_runs() -> impl Iterator<Item = &'static Guest> {
    GUESTS.iter().chain(LEVITATE_EXTRA)
}

/// Each run in [`RUN_ALL`] is killed after this many seconds (BusyBox `timeout`), so one hung
/// guest fails alone.
const RUN_TIMEOUT_SECS: u32 = 30;

impl Guest {
    /// The transcript it must print: `hv/guests/<transcript>.expected`.
    pub fn expected(&self, ws: &Workspace) -> Result<String> {
        let path = ws
            .root
            .join(format!("hv/guests/{}.expected", self.transcript));
        fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
    }
}

/// Build every guest; `(file name, bytes)` in [`GUESTS`] order. Copies land in
/// `<target>/guests/` too, for running them by hand.
pub fn build(ws: &Workspace) -> Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = ws.cargo();
    cmd.args(["build", "-p", PACKAGE, "--release", "--target", TARGET])
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().context("starting cargo build of the guests")?;
    let stdout = child.stdout.take().context("cargo build has no stdout")?;
    let mut built = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo build output")?;
        if let Some(bin) = executable(&line) {
            built.push(bin);
        }
    }
    let status = child.wait().context("waiting for cargo build")?;
    if !status.success() {
        bail!("cargo build of {PACKAGE} failed ({status})");
    }
    let out_dir = ws.out_dir(GUEST_DIR)?;
    let objcopy = crate::build::llvm_objcopy()?;
    let mut files = Vec::new();
    for guest in GUESTS {
        let elf = built
            .iter()
            .find(|(name, _)| name == guest.name)
            .map(|(_, path)| path)
            .with_context(|| format!("cargo built no `{}` guest", guest.name))?;
        let out = out_dir.join(guest.file);
        let how: &[&str] = if guest.file.ends_with(".bin") {
            &["-O", "binary"]
        } else {
            &["--strip-all"]
        };
        let status = Command::new(&objcopy)
            .args(how)
            .arg(elf)
            .arg(&out)
            .status()
            .with_context(|| format!("running {}", objcopy.display()))?;
        if !status.success() {
            bail!("llvm-objcopy {} failed ({status})", elf.display());
        }
        let bytes = fs::read(&out).with_context(|| format!("reading {}", out.display()))?;
        files.push((guest.file.to_string(), bytes));
    }
    Ok(files)
}

/// The built guest files' directory (after [`build`]).
pub fn dir(ws: &Workspace) -> PathBuf {
    ws.target_dir.join(GUEST_DIR)
}

/// `(name, executable)` of a binary in a `compiler-artifact` message.
fn executable(line: &str) -> Option<(String, PathBuf)> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg["reason"] != "compiler-artifact" {
        return None;
    }
    let name = msg["target"]["name"].as_str()?;
    let exe = msg["executable"].as_str()?;
    Some((name.to_string(), PathBuf::from(exe)))
}

/// `/guests/` with every guest and [`RUN_ALL`], for the initramfs.
pub fn initramfs_entries(ws: &Workspace) -> Result<Vec<Entry>> {
    let mut entries = vec![Entry::dir(GUEST_DIR, 0o755)];
    for (file, bytes) in build(ws)? {
        entries.push(Entry::file(&format!("{GUEST_DIR}/{file}"), 0o644, bytes));
    }
    entries.push(Entry::file(
        &format!("{GUEST_DIR}/{RUN_ALL}"),
        0o755,
        run_all_script().into_bytes(),
    ));
    Ok(entries)
}

/// Marker lines of [`run_all_script`].
pub const BEGIN: &str = "VMRUN-BEGIN ";
pub const END: &str = "VMRUN-END ";
pub const ALL_DONE: &str = "VMRUN-ALL-DONE";

/// A shell script (init in the Levitate lane) that runs every guest under `vmrun` and prints
/// each transcript between `VMRUN-BEGIN <name>` and `VMRUN-END <name> status=<n>`; vmrun's
/// stderr follows as `VMRUN-STDERR <name>: ...` lines.
pub fn run_all_script() -> String {
    let mut s = String::from(
        "#!/bin/sh\n# Generated by xtask (xtask/src/guests.rs): runs each /guests/ image under vmrun.\n\
         export PATH=/usr/bin:/bin:/usr/sbin:/sbin\n",
    );
    for guest in levitate_runs() {
        let args: Vec<String> = guest.args.iter().map(|a| format!("'{a}'")).collect();
        s.push_str(&format!(
            "echo '{BEGIN}{name}'\n\
             timeout {RUN_TIMEOUT_SECS} /usr/bin/vmrun {args} /{GUEST_DIR}/{file} 2>/tmp/vmrun.err\n\
             echo \"{END}{name} status=$?\"\n\
             sed 's/^/VMRUN-STDERR {name}: /' /tmp/vmrun.err\n",
            name = guest.name,
            args = args.join(" "),
            file = guest.file,
        ));
    }
    s.push_str(&format!("echo '{ALL_DONE}'\nexit 0\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guest_has_a_binary_and_a_transcript() {
        let ws = Workspace::locate().expect("workspace");
        let build_rs = fs::read_to_string(ws.root.join("hv/guests/build.rs")).expect("build.rs");
        for guest in levitate_runs() {
            assert!(guest.expected(&ws).is_ok(), "{}", guest.name);
        }
        for guest in GUESTS {
            assert_eq!(guest.name, guest.transcript);
            assert!(
                build_rs.contains(&format!("\"{}\"", guest.name)),
                "{} is not linked in hv/guests/build.rs",
                guest.name
            );
            let src = ws.root.join(format!("hv/guests/src/bin/{}.rs", guest.name));
            assert!(src.is_file(), "{}", src.display());
        }
    }

    #[test]
    fn script_runs_every_guest_between_markers() {
        let script = run_all_script();
        assert!(script.starts_with("#!/bin/sh\n"));
        for guest in levitate_runs() {
            assert!(script.contains(&format!("echo '{BEGIN}{}'", guest.name)));
            assert!(script.contains(&format!("/{GUEST_DIR}/{} 2>", guest.file)));
        }
        assert!(script.contains("'--timer-hz' '100'"));
        assert!(
            script.contains("timeout 30 /usr/bin/vmrun '--backend' 'interp' /guests/longmode.bin")
        );
        assert!(script.ends_with(&format!("echo '{ALL_DONE}'\nexit 0\n")));
    }
}
