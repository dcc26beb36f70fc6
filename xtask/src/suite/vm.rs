//! The VMM lanes: `vmrun` running the `hv/guests` guests.
//!
//! - Host (`host/vmrun/<guest>`): the x86_64 musl `vmrun` on the host's `/dev/kvm`, each
//!   guest's stdout compared with `hv/guests/<name>.expected` and its exit status with the one
//!   in [`GUESTS`]; plus the error cases (`host/vmrun/error/<case>`) and clippy of vmrun for
//!   aarch64 (`host/clippy-vmrun-aarch64`). Without `/dev/kvm` it prints a SKIP line.
//! - Levitate (`<arch>/vm/<guest>`): boots the kernel with `/guests/run-all.sh` as init and
//!   compares the transcripts between its markers with the same files; it also runs
//!   `longmode` with `--backend interp` (`<arch>/vm/longmode-interp`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::arch::{Arch, Verdict};
use crate::build;
use crate::guests::{self, ALL_DONE, BEGIN, END, GUEST_DIR, GUESTS, RUN_ALL, levitate_runs};
use crate::initramfs;
use crate::qemu::{self, Spec};
use crate::suite::Tally;
use crate::suite::host::print_tail;
use crate::workspace::Workspace;

/// Each host run of vmrun is killed after this.
const HOST_TIMEOUT: Duration = Duration::from_secs(20);
/// The whole Levitate boot running every guest.
const LEVITATE_TIMEOUT: Duration = Duration::from_secs(180);
/// The host lane.
pub fn host(ws: &Workspace, tally: &mut Tally) -> Result<()> {
    println!("== host/vmrun: vmrun on the host's /dev/kvm");
    let logs = ws.out_dir("xtask-logs")?;
    clippy_aarch64(ws, &logs, tally)?;
    if !Path::new("/dev/kvm").exists() {
        println!("SKIP host/vmrun: /dev/kvm not available");
        return Ok(());
    }
    let vmrun = match build_vmrun(ws, Arch::X86_64) {
        Ok(path) => path,
        Err(err) => {
            tally.record("host/vmrun/build", false, &format!("{err:#}"));
            return Ok(());
        }
    };
    if let Err(err) = guests::build(ws) {
        tally.record("host/vmrun/guests", false, &format!("{err:#}"));
        return Ok(());
    }
    let dir = guests::dir(ws);
    for guest in GUESTS {
        let name = format!("host/vmrun/{}", guest.name);
        let mut cmd = Command::new(&vmrun);
        cmd.args(guest.args).arg(dir.join(guest.file));
        let result = guest
            .expected(ws)
            .and_then(|want| run_bounded(cmd, HOST_TIMEOUT).map(|run| (want, run)));
        match result {
            Ok((want, run)) => {
                let problem = judge(&run.stdout, run.status, &want, guest.status, run.timed_out);
                let detail = match &problem {
                    None => format!("{:.2} s", run.elapsed.as_secs_f64()),
                    Some(p) => format!("{p}; stderr: {}", run.stderr.trim()),
                };
                tally.record(&name, problem.is_none(), &detail);
            }
            Err(err) => tally.record(&name, false, &format!("{err:#}")),
        }
    }
    errors(&vmrun, &dir, tally)
}

/// The clear-error cases: arguments, exit status, a piece of the one-line stderr message.
fn errors(vmrun: &Path, dir: &Path, tally: &mut Tally) -> Result<()> {
    let bad = dir.join("not-an-image.elf");
    std::fs::write(&bad, "this is text, not an ELF\n")
        .with_context(|| format!("writing {}", bad.display()))?;
    let path = |file: &str| dir.join(file).to_string_lossy().into_owned();
    let cases: Vec<(&str, Vec<String>, i32, String)> = vec![
        ("usage", vec![], 2, "no guest image".into()),
        (
            "missing-image",
            vec!["/nonexistent/guest.bin".into()],
            1,
            "cannot open /nonexistent/guest.bin: No such file or directory".into(),
        ),
        (
            "bad-image",
            vec![bad.to_string_lossy().into_owned()],
            1,
            "not an ELF file".into(),
        ),
        (
            "mem-too-small",
            vec!["--mem".into(), "1M".into(), path("hello.elf")],
            1,
            "too little memory for the image".into(),
        ),
        (
            "backend-interp-on-linux",
            vec![
                "--backend".into(),
                "interp".into(),
                path("realmode-hello.bin"),
            ],
            1,
            "no interpreter backend".into(),
        ),
        (
            "missing-kvm",
            vec![
                "--kvm-device".into(),
                "/nonexistent/kvm".into(),
                path("realmode-hello.bin"),
            ],
            1,
            "vmrun: cannot open /nonexistent/kvm: No such file or directory".into(),
        ),
    ];
    for (case, args, status, message) in cases {
        let name = format!("host/vmrun/error/{case}");
        let mut cmd = Command::new(vmrun);
        cmd.args(&args);
        match run_bounded(cmd, HOST_TIMEOUT) {
            Ok(run) => {
                let stderr = run.stderr.trim();
                let problem = if run.status != Some(status) {
                    Some(format!("exit status {:?}, want {status}", run.status))
                } else if !stderr.contains(&message) {
                    Some(format!("stderr lacks {message:?}"))
                } else if stderr.contains("panicked") || stderr.lines().count() != 1 {
                    Some("want exactly one line on stderr, no panic".into())
                } else if !run.stdout.is_empty() {
                    Some("printed to stdout".into())
                } else {
                    None
                };
                let detail = problem.unwrap_or_default();
                let detail = if detail.is_empty() {
                    stderr.to_string()
                } else {
                    format!("{detail}; stderr: {stderr}")
                };
                tally.record(&name, detail == stderr, &detail);
            }
            Err(err) => tally.record(&name, false, &format!("{err:#}")),
        }
    }
    Ok(())
}

/// Whether a run printed `want` and ended with `want_status`; `None` if so.
fn judge(
    got: &str,
    status: Option<i32>,
    want: &str,
    want_status: i32,
    timed_out: bool,
) -> Option<String> {
    if timed_out {
        return Some("timed out".into());
    }
    if let Some(diff) = first_difference(got, want) {
        return Some(diff);
    }
    if status != Some(want_status) {
        return Some(format!("exit status {status:?}, want {want_status}"));
    }
    None
}

/// The first line where `got` and `want` differ, described.
fn first_difference(got: &str, want: &str) -> Option<String> {
    let got: Vec<&str> = got.lines().map(|l| l.trim_end_matches('\r')).collect();
    let want: Vec<&str> = want.lines().collect();
    for i in 0..got.len().max(want.len()) {
        let (g, w) = (got.get(i), want.get(i));
        if g != w {
            return Some(format!(
                "line {}: got {:?}, want {:?}",
                i + 1,
                g.copied().unwrap_or("<end>"),
                w.copied().unwrap_or("<end>")
            ));
        }
    }
    None
}

/// `cargo clippy -p vmrun --target aarch64-unknown-linux-musl`: the aarch64 build has its own
/// code path (`hv/vmm/src/hostarch.rs`) that host clippy does not see.
fn clippy_aarch64(ws: &Workspace, logs: &Path, tally: &mut Tally) -> Result<()> {
    let started = Instant::now();
    let out = ws
        .cargo()
        .args(["clippy", "-p", "vmrun", "--all-targets", "--target"])
        .arg(Arch::Aarch64.user_triple())
        .args(["--", "-D", "warnings"])
        .output()
        .context("running cargo clippy")?;
    let log = logs.join("host-clippy-vmrun-aarch64.log");
    let mut text = out.stdout.clone();
    text.extend_from_slice(&out.stderr);
    std::fs::write(&log, text).with_context(|| format!("writing {}", log.display()))?;
    let took = format!("{:.1} s", started.elapsed().as_secs_f64());
    tally.record(
        "host/clippy-vmrun-aarch64",
        out.status.success(),
        &if out.status.success() {
            took
        } else {
            format!("{} after {took}; log {}", out.status, log.display())
        },
    );
    if !out.status.success() {
        print_tail(&log);
    }
    Ok(())
}

/// `cargo build -p vmrun --release --target <arch>-unknown-linux-musl`; the binary's path.
fn build_vmrun(ws: &Workspace, arch: Arch) -> Result<PathBuf> {
    let status = ws
        .cargo()
        .args(["build", "-q", "-p", "vmrun", "--release", "--target"])
        .arg(arch.user_triple())
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build of vmrun for {arch} failed ({status})");
    }
    Ok(ws.target_dir.join(arch.user_triple()).join("release/vmrun"))
}

/// What one bounded run gave.
struct Run {
    stdout: String,
    stderr: String,
    status: Option<i32>,
    timed_out: bool,
    elapsed: Duration,
}

/// Run `cmd` with stdin closed, killing it after `timeout`.
fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<Run> {
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let mut out = child.stdout.take().context("no stdout pipe")?;
    let mut err = child.stderr.take().context("no stderr pipe")?;
    let out_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_reader = thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for vmrun")? {
            break status.code();
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    Ok(Run {
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        status,
        timed_out,
        elapsed: started.elapsed(),
    })
}

/// Transcripts between the script's markers: `(name, lines, status)`.
fn transcripts<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> (Vec<(String, String, Option<i32>)>, bool) {
    let mut found = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut done = false;
    for line in lines {
        let line = line.trim_end_matches('\r');
        if let Some(at) = line.find(BEGIN) {
            current = Some((line[at + BEGIN.len()..].trim().to_string(), String::new()));
        } else if let Some(at) = line.find(END) {
            let rest = &line[at + END.len()..];
            let (name, status) = rest.split_once(" status=").unwrap_or((rest, ""));
            if let Some((open, mut text)) = current.take()
                && open == name
            {
                // Output without a final newline lands before the marker on its line.
                text.push_str(&line[..at]);
                found.push((open, text, status.trim().parse().ok()));
            }
        } else if line.contains(ALL_DONE) {
            done = true;
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    (found, done)
}

/// The Levitate lane for `arch`.
pub fn levitate(ws: &Workspace, arch: Arch, release: bool, tally: &mut Tally) -> Result<()> {
    let prefix = format!("{arch}/vm");
    let kernel = match build::kernel(ws, arch, release) {
        Ok(kernel) => kernel,
        Err(err) => {
            tally.record(&format!("{prefix}/build"), false, &format!("{err:#}"));
            return Ok(());
        }
    };
    let initrd = match initramfs::build(ws, &kernel) {
        Ok(initramfs) => initramfs.path,
        Err(err) => {
            tally.record(&format!("{prefix}/initramfs"), false, &format!("{err:#}"));
            return Ok(());
        }
    };
    let logs = ws.out_dir("xtask-logs")?;
    let mut spec = Spec::new(arch, &kernel);
    spec.append = Some(format!("init=/{GUEST_DIR}/{RUN_ALL}"));
    spec.initrd = Some(initrd);
    println!("== {prefix}: {}", spec.display());
    let log = logs.join(format!("{arch}-vm.log"));
    let capture = match qemu::run_captured(&spec, LEVITATE_TIMEOUT, &log) {
        Ok(capture) => capture,
        Err(err) => {
            tally.record(&format!("{prefix}/boot"), false, &format!("{err:#}"));
            return Ok(());
        }
    };
    let (found, done) = transcripts(capture.lines.iter().map(|l| l.text.as_str()));
    let mut any_failed = false;
    for guest in levitate_runs() {
        let name = format!("{prefix}/{}", guest.name);
        let problem = match (
            found.iter().find(|(n, _, _)| n == guest.name),
            guest.expected(ws),
        ) {
            (_, Err(err)) => Some(format!("{err:#}")),
            (None, _) => Some("no transcript (the run did not get there)".into()),
            (Some((_, text, status)), Ok(want)) => judge(text, *status, &want, guest.status, false),
        };
        any_failed |= problem.is_some();
        tally.record(&name, problem.is_none(), &problem.unwrap_or_default());
    }
    let boot = if capture.timed_out {
        Some(format!("timed out after {LEVITATE_TIMEOUT:?}"))
    } else if !done {
        Some("the script did not finish".into())
    } else if arch.verdict(capture.status) != Verdict::Success {
        Some(format!("QEMU exit status {:?}", capture.status))
    } else {
        None
    };
    any_failed |= boot.is_some();
    let detail = boot
        .clone()
        .unwrap_or_else(|| format!("{:.1} s", capture.elapsed.as_secs_f64()));
    tally.record(&format!("{prefix}/boot"), boot.is_none(), &detail);
    if any_failed {
        print_tail(&log);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_between_markers() {
        let lines = [
            "[ 0.1] kernel says hi",
            "VMRUN-BEGIN mmio",
            "mmio: id = 0x4d4d564c\r",
            "VMRUN-END mmio status=0",
            "VMRUN-BEGIN fault",
            "partialVMRUN-END fault status=3",
            "VMRUN-STDERR fault: vmrun: guest shut down (triple fault)",
            "VMRUN-BEGIN timer",
            "VMRUN-ALL-DONE",
        ];
        let (found, done) = transcripts(lines);
        assert!(done);
        assert_eq!(
            found,
            [
                (
                    "mmio".to_string(),
                    "mmio: id = 0x4d4d564c\n".to_string(),
                    Some(0)
                ),
                ("fault".to_string(), "partial".to_string(), Some(3)),
            ]
        );
    }

    #[test]
    fn judging() {
        assert_eq!(judge("a\nb\n", Some(0), "a\nb\n", 0, false), None);
        assert!(judge("a\n", Some(0), "a\nb\n", 0, false).is_some_and(|p| p.contains("line 2")));
        assert!(judge("a\nb\n", Some(1), "a\nb\n", 0, false).is_some_and(|p| p.contains("status")));
        assert!(judge("a\nb\n", Some(0), "a\nb\n", 0, true).is_some());
        assert_eq!(judge("a\r\n", Some(3), "a\n", 3, false), None);
    }
}
