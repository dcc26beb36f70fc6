//! The userland conformance lane: boot each conformance program (and the syscall fuzzer) as
//! PID 1 with `init=/usr/bin/<program>`, turn its `PASS <area>/<check>` and
//! `FAIL <area>/<check>: why` lines into tests, and require the kernel's report that init
//! exited followed by the success exit (the kernel powers off with success iff init exits 0).
//! The same programs pass natively on the host (`syscall/user/tests/conformance.rs`).

use std::path::Path;
use std::time::Duration;

use crate::arch::Verdict;
use crate::build::Kernel;
use crate::qemu::{self, Spec};
use crate::suite::Tally;
use crate::suite::host::print_tail;

/// The programs, with their boot timeout. The fuzzer runs 20000 calls (its default).
const PROGRAMS: &[(&str, u64)] = &[
    ("conform-process", 60),
    ("conform-memory", 60),
    ("conform-files", 60),
    ("conform-time", 60),
    ("conform-signals", 60),
    ("conform-fpu", 60),
    ("conform-tty", 60),
    ("sysfuzz", 120),
    ("conform-kvm", 120),
    ("kvmfuzz", 120),
];

/// Checks that fail on Levitate for a reason recorded in `.teams/0014-conformance.md`. They
/// are reported as `GAP`, not counted; their program then exits with failure, which the
/// exit test accepts only when every failed check is listed here.
const KNOWN_GAPS: &[&str] = &[];

/// What one program's serial output says.
#[derive(Debug, Default, PartialEq)]
struct Parsed {
    /// `(area/check, Ok or Err(why))` in output order.
    checks: Vec<(String, Result<(), String>)>,
    /// The `DONE <area> ...` or `FUZZ DONE ...` line.
    done: Option<String>,
    /// The kernel's "init exited with wait status ..." line.
    init_exit: Option<String>,
    /// Other lines worth showing (fuzzer chunk reports, kernel panics).
    notes: Vec<String>,
}

fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Parsed {
    let mut p = Parsed::default();
    for line in lines {
        // The kernel log may prefix lines; the programs' own lines start at a marker.
        if let Some(rest) = line.strip_prefix("PASS ") {
            p.checks.push((rest.trim().to_string(), Ok(())));
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (name, why) = rest.split_once(": ").unwrap_or((rest, ""));
            p.checks
                .push((name.trim().to_string(), Err(why.to_string())));
        } else if line.starts_with("DONE ") || line.starts_with("FUZZ DONE ") {
            p.done = Some(line.to_string());
        } else if line.starts_with("FUZZ chunk ") || line.contains("panic") {
            p.notes.push(line.to_string());
        } else if let Some(at) = line.find("init exited with wait status") {
            p.init_exit = Some(line[at..].to_string());
        }
    }
    p
}

/// Run the lane for the kernel's arch; results go to `tally` as
/// `<arch>/userland/<area>/<check>` and `<arch>/userland/<program>/exit`.
pub fn run(kernel: &Kernel, initrd: &Path, logs: &Path, tally: &mut Tally) {
    let arch = kernel.arch;
    for &(program, timeout) in PROGRAMS {
        let mut spec = Spec::new(arch, kernel);
        spec.append = Some(format!("init=/usr/bin/{program}"));
        spec.initrd = Some(initrd.to_path_buf());
        let log = logs.join(format!("{arch}-userland-{program}.log"));
        println!("== {arch}/userland/{program}: {}", spec.display());
        let capture = match qemu::run_captured(&spec, Duration::from_secs(timeout), &log) {
            Ok(capture) => capture,
            Err(err) => {
                tally.record(
                    &format!("{arch}/userland/{program}/boot"),
                    false,
                    &format!("{err:#}"),
                );
                continue;
            }
        };
        let parsed = parse(capture.lines.iter().map(|l| l.text.as_str()));
        let mut any_failed = false;
        let mut gap_failed = false;
        for (name, result) in &parsed.checks {
            let gap = KNOWN_GAPS.contains(&name.as_str());
            match (result, gap) {
                (Err(why), true) => {
                    gap_failed = true;
                    println!("GAP {arch}/userland/{name}: {why} (known gap, not counted)");
                }
                (Ok(()), true) => {
                    println!("NOTE {arch}/userland/{name} passes: drop it from KNOWN_GAPS");
                    tally.record(&format!("{arch}/userland/{name}"), true, "");
                }
                (result, false) => {
                    any_failed |= result.is_err();
                    let why = result.clone().err().unwrap_or_default();
                    tally.record(&format!("{arch}/userland/{name}"), result.is_ok(), &why);
                }
            }
        }
        for note in &parsed.notes {
            println!("   {note}");
        }
        let verdict = arch.verdict(capture.status);
        let exit = match (&parsed.done, &parsed.init_exit, verdict) {
            _ if capture.timed_out => Err(format!("timed out after {timeout} s")),
            (None, _, _) => Err("the program did not finish (no DONE line)".to_string()),
            (_, None, _) => Err("no 'init exited' report from the kernel".to_string()),
            (Some(_), Some(_), Verdict::Success) if !gap_failed => Ok(()),
            (Some(_), Some(_), Verdict::Failure) if gap_failed && !any_failed => Ok(()),
            (Some(_), Some(line), v) => {
                Err(format!("{line}; QEMU status {:?} ({v:?})", capture.status))
            }
        };
        let detail = match &exit {
            Ok(()) => format!(
                "{:.1} s; {}",
                capture.elapsed.as_secs_f64(),
                parsed.done.as_deref().unwrap_or_default()
            ),
            Err(why) => why.clone(),
        };
        any_failed |= exit.is_err();
        tally.record(
            &format!("{arch}/userland/{program}/exit"),
            exit.is_ok(),
            &detail,
        );
        if any_failed {
            print_tail(&log);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_checks_and_reports() {
        let out = [
            "[    0.1] levitate: booting",
            "PASS files/open",
            "FAIL files/rename: rename failed with ENOSYS",
            "DONE files passed=1 failed=1",
            "[    0.5] init exited with wait status 0x100 (0 calls); powering off",
        ];
        let p = parse(out);
        assert_eq!(
            p.checks,
            [
                ("files/open".to_string(), Ok(())),
                (
                    "files/rename".to_string(),
                    Err("rename failed with ENOSYS".to_string())
                )
            ]
        );
        assert_eq!(p.done.as_deref(), Some("DONE files passed=1 failed=1"));
        assert!(p.init_exit.is_some_and(|l| l.starts_with("init exited")));
    }

    #[test]
    fn gaps_are_named_like_checks() {
        for gap in KNOWN_GAPS {
            assert!(gap.contains('/'), "{gap}");
        }
    }
}
