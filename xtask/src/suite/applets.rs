//! The BusyBox applet lane: `/usr/share/levitate/applets.sh` (from
//! `syscall/user/scenarios/`) runs as init and checks well over 100 applets and the shell's
//! own features against the output real BusyBox gives on Linux. Each `PASS`/`FAIL` line it
//! prints is one test here (`<arch>/applets/<name>`); `<arch>/applets/summary` requires its
//! summary line, a clean power-off and at least [`MIN_APPLETS`] distinct applets passing.
//!
//! The same script also runs on the host under the x86_64 BusyBox we built, with a PATH that
//! holds nothing but its applets (`host/applets-on-linux`): that proves every expectation is
//! Linux's behaviour, including the checks Levitate skips for a known kernel gap.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::arch::{Arch, Verdict};
use crate::build::Kernel;
use crate::initramfs::{SCENARIO_DIR, SCENARIOS};
use crate::qemu::{self, Spec};
use crate::suite::Tally;
use crate::suite::host::print_tail;
use crate::workspace::Workspace;

/// The scenario script's name in [`SCENARIOS`].
const SCRIPT: &str = "applets.sh";

/// Issue 3 asks for at least this many distinct applets used the way people use them.
const MIN_APPLETS: usize = 100;

/// What the script printed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Report {
    /// Each check: name, passed, and for a failure what it got and wanted.
    checks: Vec<(String, bool, String)>,
    /// Checks held back by a kernel gap: name and reason.
    skipped: Vec<(String, String)>,
    /// `SUMMARY applets passed=N failed=M`.
    summary: Option<(u64, u64)>,
}

impl Report {
    /// Applets with at least one passing check (`applet/<applet>[/<variant>]`).
    fn applets_passed(&self) -> usize {
        let names: BTreeSet<&str> = self
            .checks
            .iter()
            .filter(|(_, passed, _)| *passed)
            .filter_map(|(name, _, _)| name.strip_prefix("applet/"))
            .map(|rest| rest.split('/').next().unwrap_or(rest))
            .collect();
        names.len()
    }

    fn passed(&self) -> usize {
        self.checks.iter().filter(|(_, passed, _)| *passed).count()
    }
}

/// Parse the script's records; other text (kernel log lines, applets' stderr) is ignored. A
/// record may follow other text on its line (a log prefix), like the kernel's `KTEST` ones.
fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Report {
    let mut report = Report::default();
    for line in lines {
        let line = line.trim_end_matches('\r');
        // The earliest record word on the line: a failure's detail may quote "PASS ".
        let first = [
            ("PASS ", Some(true)),
            ("FAIL ", Some(false)),
            ("SKIP ", None),
        ]
        .into_iter()
        .filter_map(|(word, passed)| line.find(word).map(|at| (at, word, passed)))
        .min_by_key(|(at, _, _)| *at);
        if let Some((at, word, passed)) = first {
            let rest = &line[at + word.len()..];
            let (name, detail) = rest.split_once(": ").unwrap_or((rest, ""));
            let name = name.trim();
            // Only the script's names: `applet/...` or `shell/...`, one word.
            let ours = (name.starts_with("applet/") || name.starts_with("shell/"))
                && !name.contains(char::is_whitespace);
            match passed {
                _ if !ours => {}
                Some(passed) => report
                    .checks
                    .push((name.to_string(), passed, detail.to_string())),
                None => report.skipped.push((name.to_string(), detail.to_string())),
            }
        }
        if let Some(at) = line.find("SUMMARY applets ") {
            let fields = &line[at + "SUMMARY applets ".len()..];
            let field = |key: &str| {
                fields.split_whitespace().find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    if k == key { v.parse().ok() } else { None }
                })
            };
            if let (Some(p), Some(f)) = (field("passed"), field("failed")) {
                report.summary = Some((p, f));
            }
        }
    }
    report
}

/// Whether the summary agrees with the records and says all passed.
fn summary_problem(report: &Report) -> Option<String> {
    let failed = report.checks.len() - report.passed();
    match report.summary {
        None => Some("no `SUMMARY applets` line".into()),
        Some((p, f)) if p as usize != report.passed() || f as usize != failed => Some(format!(
            "summary says passed={p} failed={f}, the records {} and {failed}",
            report.passed()
        )),
        Some((_, f)) if f > 0 => Some(format!("{f} check(s) failed")),
        Some(_) if report.applets_passed() < MIN_APPLETS => Some(format!(
            "only {} distinct applets passed (want at least {MIN_APPLETS})",
            report.applets_passed()
        )),
        Some(_) => None,
    }
}

fn script() -> Result<&'static str> {
    SCENARIOS
        .iter()
        .find(|(name, _)| *name == SCRIPT)
        .map(|(_, text)| *text)
        .context("applets.sh is not among the initramfs scenarios")
}

/// Boot `kernel` with the script as init and record every check as a test.
pub fn run(kernel: &Kernel, initrd: &Path, logs: &Path, timeout: Duration, tally: &mut Tally) {
    let arch: Arch = kernel.arch;
    let mut spec = Spec::new(arch, kernel);
    spec.append = Some(format!("init=/{SCENARIO_DIR}/{SCRIPT}"));
    spec.initrd = Some(initrd.to_path_buf());
    println!("== {arch}/applets: {}", spec.display());
    let log = logs.join(format!("{arch}-applets.log"));
    let capture = match qemu::run_captured(&spec, timeout, &log) {
        Ok(capture) => capture,
        Err(err) => {
            tally.record(&format!("{arch}/applets/boot"), false, &format!("{err:#}"));
            return;
        }
    };
    let report = parse(capture.lines.iter().map(|l| l.text.as_str()));
    let mut failed = false;
    for (name, passed, detail) in &report.checks {
        failed |= !passed;
        tally.record(&format!("{arch}/applets/{name}"), *passed, detail);
    }
    let mut problems: Vec<String> = summary_problem(&report).into_iter().collect();
    if capture.timed_out {
        problems.push(format!("timed out after {timeout:?}"));
    } else if arch.verdict(capture.status) != Verdict::Success {
        problems.push(format!(
            "QEMU exit status {:?}, not the success power-off",
            capture.status
        ));
    }
    let skipped: Vec<&str> = report.skipped.iter().map(|(n, _)| n.as_str()).collect();
    let detail = if problems.is_empty() {
        format!(
            "{} checks, {} distinct applets in {:.1} s; skipped for kernel gaps: {}",
            report.passed(),
            report.applets_passed(),
            capture.elapsed.as_secs_f64(),
            if skipped.is_empty() {
                "none".to_string()
            } else {
                skipped.join(" ")
            }
        )
    } else {
        problems.join("; ")
    };
    failed |= !problems.is_empty();
    tally.record(
        &format!("{arch}/applets/summary"),
        problems.is_empty(),
        &detail,
    );
    if failed {
        print_tail(&log);
    }
}

/// Run the script on the host under our x86_64 BusyBox (nothing else on PATH), with the
/// kernel-gap checks enabled: every check must pass, as it is Linux's behaviour by definition.
pub fn host(ws: &Workspace, tally: &mut Tally) {
    let name = "host/applets-on-linux";
    if std::env::consts::ARCH != "x86_64" || std::env::consts::OS != "linux" {
        println!("== {name}: skipped (needs an x86_64 Linux host)");
        return;
    }
    let started = Instant::now();
    match host_run(ws) {
        Ok(report) => {
            let problem = summary_problem(&report);
            let detail = match &problem {
                None => format!(
                    "{} checks, {} distinct applets in {:.1} s",
                    report.passed(),
                    report.applets_passed(),
                    started.elapsed().as_secs_f64()
                ),
                Some(p) => {
                    let failures: Vec<String> = report
                        .checks
                        .iter()
                        .filter(|(_, passed, _)| !passed)
                        .map(|(n, _, d)| format!("{n}: {d}"))
                        .collect();
                    format!("{p}; {}", failures.join("; "))
                }
            };
            tally.record(name, problem.is_none(), &detail);
        }
        Err(err) => tally.record(name, false, &format!("{err:#}")),
    }
}

fn host_run(ws: &Workspace) -> Result<Report> {
    let busybox = crate::busybox::get(ws, Arch::X86_64)?;
    let dir = ws.out_dir("applets-host")?;
    // A fresh tree each run: bin/ holds the applet links, work/ the script's files.
    let _ = fs::remove_dir_all(&dir);
    let bin = dir.join("bin");
    let work = dir.join("work");
    for d in [&bin, &work] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let list = Command::new(&busybox.binary)
        .arg("--list")
        .output()
        .with_context(|| format!("running {} --list", busybox.binary.display()))?;
    if !list.status.success() {
        bail!("busybox --list failed ({})", list.status);
    }
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        let link = bin.join(applet);
        std::os::unix::fs::symlink(&busybox.binary, &link)
            .with_context(|| format!("linking {}", link.display()))?;
    }
    let script_path = dir.join(SCRIPT);
    fs::write(&script_path, script()?)
        .with_context(|| format!("writing {}", script_path.display()))?;
    let out_path = dir.join("output.txt");
    let out =
        fs::File::create(&out_path).with_context(|| format!("creating {}", out_path.display()))?;
    let err = out.try_clone().context("duplicating the output file")?;
    let mut child = Command::new(bin.join("sh"))
        .arg(&script_path)
        .arg(&work)
        .env_clear()
        .env("PATH", &bin)
        .env("HOME", &work)
        .env("APPLETS_ALL", "1")
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .context("starting the script under BusyBox sh")?;
    // The script takes ~2 s on the host; its slowest checks sleep 1 s.
    let until = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().context("waiting for the script")? {
            break status;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            bail!("still running after 60 s; output in {}", out_path.display());
        }
        thread::sleep(Duration::from_millis(20));
    };
    let text =
        fs::read_to_string(&out_path).with_context(|| format!("reading {}", out_path.display()))?;
    let report = parse(text.lines());
    if !status.success() && summary_problem(&report).is_none() {
        bail!("the script exited {status} although every check passed");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records_among_other_output() {
        let out = [
            "[    0.12] INFO  started /usr/share/levitate/applets.sh as PID 1",
            "PASS applet/sort",
            "PASS applet/sort/n\r",
            "cp: can't preserve times",
            "FAIL applet/cmp: got [a: b] want [c]",
            "FAIL applet/grep: got [PASS applet/x] want []",
            "SKIP applet/df: kernel gap: statfs is ENOSYS",
            "PASS shell/trap-exit",
            "PASS the word PASS in prose",
            "SUMMARY applets passed=3 failed=1",
        ];
        let report = parse(out);
        assert_eq!(
            report.checks,
            [
                ("applet/sort".to_string(), true, String::new()),
                ("applet/sort/n".into(), true, String::new()),
                ("applet/cmp".into(), false, "got [a: b] want [c]".into()),
                (
                    "applet/grep".into(),
                    false,
                    "got [PASS applet/x] want []".into()
                ),
                ("shell/trap-exit".into(), true, String::new()),
            ]
        );
        assert_eq!(
            report.skipped,
            [(
                "applet/df".to_string(),
                "kernel gap: statfs is ENOSYS".to_string()
            )]
        );
        assert_eq!(report.applets_passed(), 1);
        assert!(summary_problem(&report).is_some_and(|p| p.contains("records")));
    }

    #[test]
    fn summary_must_match_and_cover_enough_applets() {
        let mut report = parse(["PASS applet/a", "SUMMARY applets passed=2 failed=0"]);
        assert!(summary_problem(&report).is_some_and(|p| p.contains("records")));
        report.summary = Some((1, 0));
        assert!(summary_problem(&report).is_some_and(|p| p.contains("distinct applets")));
        report.summary = None;
        assert!(summary_problem(&report).is_some_and(|p| p.contains("no `SUMMARY")));
        let many: Vec<String> = (0..MIN_APPLETS)
            .map(|i| format!("PASS applet/a{i}"))
            .collect();
        let mut lines: Vec<&str> = many.iter().map(String::as_str).collect();
        let summary = format!("SUMMARY applets passed={MIN_APPLETS} failed=0");
        lines.push(&summary);
        assert_eq!(summary_problem(&parse(lines)), None);
    }

    #[test]
    fn the_script_is_packed_and_names_its_checks() {
        let text = script().expect("applets.sh");
        assert!(text.starts_with("#!/bin/sh\n"));
        assert!(text.contains("SUMMARY applets passed="));
    }
}
