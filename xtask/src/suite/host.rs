//! Host checks: rustfmt, clippy (host crates, and the kernel crates per architecture), and
//! `cargo test` on every crate that builds for the host.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::arch::Arch;
use crate::suite::Tally;
use crate::workspace::Workspace;

/// Packages that only build for the bare-metal targets.
const KERNEL_ONLY: [&str; 3] = ["levitate", "arch-x86_64", "arch-aarch64"];

pub fn run(ws: &Workspace, arches: &[Arch], tally: &mut Tally) -> Result<()> {
    let logs = ws.out_dir("xtask-logs")?;
    let crates = host_crates(ws)?;
    let mut package_args = Vec::new();
    for name in &crates {
        package_args.extend(["-p".to_string(), name.clone()]);
    }
    println!("== host crates: {}", crates.join(" "));

    let mut fmt = ws.cargo();
    fmt.args(["fmt", "--all", "--check", "--", "--color", "never"]);
    check(tally, "host/fmt", fmt, &logs.join("host-fmt.log"))?;

    let mut clippy = ws.cargo();
    clippy
        .arg("clippy")
        .args(&package_args)
        .args(["--all-targets", "--", "-D", "warnings"]);
    check(tally, "host/clippy", clippy, &logs.join("host-clippy.log"))?;

    for &arch in arches {
        let mut clippy = ws.cargo();
        clippy
            .args([
                "clippy",
                "-p",
                "levitate",
                "-p",
                arch.crate_name(),
                "--target",
                arch.triple(),
            ])
            .args(["--", "-D", "warnings"]);
        let log = logs.join(format!("host-clippy-{arch}.log"));
        check(tally, &format!("host/clippy-{arch}"), clippy, &log)?;
    }

    let mut test = ws.cargo();
    test.arg("test").args(&package_args).arg("--no-fail-fast");
    let log = logs.join("host-cargo-test.log");
    let started = Instant::now();
    let out = capture(test, &log)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (passed, failed) = stdout
        .lines()
        .filter_map(test_result)
        .fold((0, 0), |acc, (p, f)| (acc.0 + p, acc.1 + f));
    println!(
        "cargo test (host crates): {passed} passed, {failed} failed ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    tally.add_counts(passed, failed);
    if !out.status.success() {
        for line in stdout
            .lines()
            .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
        {
            println!("  {line}");
        }
        if failed == 0 {
            // It failed before running tests (a build error): count that once.
            tally.record(
                "host/cargo-test",
                false,
                &format!("cargo test failed ({})", out.status),
            );
        }
        print_tail(&log);
    }
    Ok(())
}

/// Run `cmd`; one test that passes if it exits successfully.
fn check(tally: &mut Tally, name: &str, cmd: Command, log: &Path) -> Result<()> {
    let started = Instant::now();
    let out = capture(cmd, log)?;
    let took = format!("{:.1} s", started.elapsed().as_secs_f64());
    if out.status.success() {
        tally.record(name, true, &took);
    } else {
        tally.record(
            name,
            false,
            &format!("{} after {took}; log {}", out.status, log.display()),
        );
        print_tail(log);
    }
    Ok(())
}

/// Run `cmd` with its output captured into `log` (stdout, then stderr).
fn capture(mut cmd: Command, log: &Path) -> Result<Output> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let mut text = format!("# {cmd:?}\n").into_bytes();
    text.extend_from_slice(&out.stdout);
    text.extend_from_slice(&out.stderr);
    fs::write(log, text).with_context(|| format!("writing {}", log.display()))?;
    Ok(out)
}

/// Print the last lines of a log, for a failure.
pub fn print_tail(log: &Path) {
    const TAIL: usize = 40;
    match fs::read(log) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(TAIL);
            println!(
                "---- last {} lines of {} ----",
                lines.len() - from,
                log.display()
            );
            for line in &lines[from..] {
                println!("| {line}");
            }
            println!("----");
        }
        Err(err) => println!("(cannot read {}: {err})", log.display()),
    }
}

/// Workspace members that build and test on the host: all but the kernel-only ones. A crate
/// says otherwise with `[package.metadata.xtask] host = false` (it cannot build for the host)
/// or `host = true` (a kernel crate whose pure parts have host tests).
fn host_crates(ws: &Workspace) -> Result<Vec<String>> {
    let out = ws
        .cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        anyhow::bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    Ok(host_crates_of(&metadata))
}

fn host_crates_of(metadata: &serde_json::Value) -> Vec<String> {
    let Some(packages) = metadata["packages"].as_array() else {
        return Vec::new();
    };
    let mut names: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            let host = p["metadata"]["xtask"]["host"]
                .as_bool()
                .unwrap_or(!KERNEL_ONLY.contains(&name));
            host.then(|| name.to_string())
        })
        .collect();
    names.sort();
    names
}

/// `(passed, failed)` from libtest's `test result: ok. 3 passed; 0 failed; ...` line.
fn test_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut passed = None;
    let mut failed = None;
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        match what {
            "passed" => passed = n.parse().ok(),
            "failed" => failed = n.parse().ok(),
            _ => {}
        }
    }
    Some((passed?, failed?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libtest_summaries() {
        assert_eq!(
            test_result(
                "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            test_result(
                "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out"
            ),
            Some((3, 2))
        );
        assert_eq!(test_result("test foo ... ok"), None);
        assert_eq!(test_result("test result: garbage"), None);
    }

    #[test]
    fn host_crates_skip_kernel_only_ones() {
        let metadata = serde_json::json!({"packages": [
            {"name": "mm", "metadata": null},
            {"name": "levitate", "metadata": null},
            {"name": "arch-x86_64", "metadata": null},
            {"name": "arch-api", "metadata": null},
            {"name": "arch-aarch64", "metadata": {"xtask": {"host": true}}},
            {"name": "boot-shim", "metadata": {"xtask": {"host": false}}},
            {"name": "xtask", "metadata": {"xtask": {"host": true}}},
        ]});
        assert_eq!(
            host_crates_of(&metadata),
            ["arch-aarch64", "arch-api", "mm", "xtask"]
        );
    }
}
