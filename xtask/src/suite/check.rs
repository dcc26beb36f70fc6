//! Judging one captured boot: which tests it passed and failed.
//!
//! Every `KTEST PASS`/`KTEST FAIL` line is a test. Each boot adds a `boot` test for what the
//! harness expects of it (banner, exit status, summary, no unfinished case, no timeout, and for
//! the expected-failure boots the panic or exception report), and a `clock-vs-host` test when
//! the kernel ran its clock case.

use crate::arch::{Arch, Verdict};
use crate::qemu::Line;
use crate::suite::clock;
use crate::suite::protocol::{self, Event};

/// What a boot is expected to show.
#[derive(Clone, Debug)]
pub struct Expect {
    pub kind: Kind,
    /// The CPU count the banner's `cpus: <n>` must report.
    pub cpus: Option<u32>,
    /// A word the banner's `booted via <protocol>` must contain (case-insensitive).
    pub protocol: Option<&'static str>,
    /// Text some serial line must contain (for example `at EL2` from the aarch64 banner).
    pub shows: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub enum Kind {
    /// `test=all` (`case: None`) or `test=<case>`: cases run and report on serial.
    Tests { case: Option<&'static str> },
    /// `test=panic`: a deliberate panic with message and backtrace, then a failure exit.
    Panic,
    /// `test=fatal_fault`: an unhandled fault at 0xdead0000 reported, then a failure exit.
    FatalFault,
}

/// One test's result; `name` is relative to the boot (`preemption`, `boot`, `clock-vs-host`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Outcome {
    fn new(name: &str, result: Result<String, String>) -> Self {
        let passed = result.is_ok();
        let detail = result.unwrap_or_else(|err| err);
        Outcome {
            name: name.to_string(),
            passed,
            detail,
        }
    }
}

/// How QEMU ended.
#[derive(Clone, Copy, Debug)]
pub struct Exit {
    pub status: Option<i32>,
    pub timed_out: bool,
}

pub fn analyze(arch: Arch, lines: &[Line], exit: Exit, expect: &Expect) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    let mut problems = Vec::new();
    if exit.timed_out {
        problems.push("timed out: QEMU was killed".to_string());
    }
    check_banner(lines, expect, &mut problems);
    if let Some(text) = expect.shows {
        require(
            lines,
            &format!("line showing `{text}`"),
            |l| l.contains(text),
            &mut problems,
        );
    }
    let expected_verdict = match expect.kind {
        Kind::Tests { case } => {
            let failed = check_cases(lines, case, &mut outcomes, &mut problems);
            if let Some(clock) = check_clock(lines) {
                outcomes.push(clock);
            }
            if failed {
                Verdict::Failure
            } else {
                Verdict::Success
            }
        }
        Kind::Panic => {
            require(
                lines,
                "a `KERNEL PANIC` line",
                |l| l.contains("KERNEL PANIC"),
                &mut problems,
            );
            require(
                lines,
                "the message `deliberate panic`",
                |l| l.contains("deliberate panic"),
                &mut problems,
            );
            check_backtrace(lines, &mut problems);
            Verdict::Failure
        }
        Kind::FatalFault => {
            require(
                lines,
                "an `EXCEPTION ...` line naming address dead0000",
                |l| {
                    message(l).starts_with("EXCEPTION")
                        && l.to_ascii_lowercase().contains("dead0000")
                },
                &mut problems,
            );
            check_backtrace(lines, &mut problems);
            Verdict::Failure
        }
    };
    if !exit.timed_out && arch.verdict(exit.status) != expected_verdict {
        let status = exit
            .status
            .map_or("a signal".to_string(), |code| format!("status {code}"));
        let want = arch
            .status_of(expected_verdict)
            .map_or("?".to_string(), |code| code.to_string());
        let what = format!("{expected_verdict:?}").to_lowercase();
        problems.push(format!(
            "QEMU exited with {status}, expected {want} ({what})"
        ));
    }
    let boot = if problems.is_empty() {
        Ok(String::new())
    } else {
        Err(problems.join("; "))
    };
    outcomes.push(Outcome::new("boot", boot));
    outcomes
}

/// A line without the kernel logger's `[    1.234567] ERROR ` prefix, if it has one.
fn message(line: &str) -> &str {
    let line = line.trim_start();
    let Some(rest) = line
        .strip_prefix('[')
        .and_then(|l| l.split_once("] "))
        .map(|(_, r)| r)
    else {
        return line;
    };
    let rest = rest.trim_start();
    for level in ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"] {
        if let Some(msg) = rest.strip_prefix(level) {
            return msg.trim_start();
        }
    }
    rest
}

fn require(lines: &[Line], what: &str, pred: impl Fn(&str) -> bool, problems: &mut Vec<String>) {
    if !lines.iter().any(|line| pred(&line.text)) {
        problems.push(format!("no {what}"));
    }
}

/// `Levitate ... booted via <protocol>` and, if expected, `cpus: <n>`.
fn check_banner(lines: &[Line], expect: &Expect, problems: &mut Vec<String>) {
    let via = lines
        .iter()
        .filter(|line| line.text.contains("Levitate"))
        .find_map(|line| {
            line.text
                .split_once("booted via")
                .map(|(_, via)| via.trim())
        });
    match (via, expect.protocol) {
        (None, _) => problems.push("no banner `Levitate ... booted via <protocol>`".into()),
        (Some(via), Some(word)) if !via.to_lowercase().contains(&word.to_lowercase()) => {
            problems.push(format!("banner says booted via `{via}`, expected {word}"))
        }
        _ => {}
    }
    if let Some(want) = expect.cpus {
        match banner_cpus(lines) {
            Some(got) if got == want => {}
            Some(got) => problems.push(format!("banner reports cpus: {got}, expected {want}")),
            None => problems.push("no `cpus: <n>` in the banner".into()),
        }
    }
}

fn banner_cpus(lines: &[Line]) -> Option<u32> {
    lines.iter().find_map(|line| {
        let (_, rest) = line.text.split_once("cpus: ")?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// Turn PASS/FAIL lines into outcomes; check BEGIN pairing and the summary. Returns whether
/// the kernel reported any failure (so the expected exit status is the failure one).
fn check_cases(
    lines: &[Line],
    case: Option<&str>,
    outcomes: &mut Vec<Outcome>,
    problems: &mut Vec<String>,
) -> bool {
    let mut open: Vec<String> = Vec::new();
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut summary = None;
    for line in lines {
        let event = match protocol::parse(&line.text) {
            None => continue,
            Some(Err(err)) => {
                problems.push(err);
                continue;
            }
            Some(Ok(event)) => event,
        };
        match event {
            Event::Begin(name) => open.push(name),
            Event::Pass(name) => {
                open.retain(|n| *n != name);
                passed += 1;
                outcomes.push(Outcome::new(&name, Ok(String::new())));
            }
            Event::Fail { name, reason } => {
                open.retain(|n| *n != name);
                failed += 1;
                outcomes.push(Outcome::new(&name, Err(reason)));
            }
            Event::Summary { passed, failed } => summary = Some((passed, failed)),
            Event::ClockStart | Event::ClockEnd { .. } => {}
        }
    }
    for name in &open {
        problems.push(format!("case `{name}` began but never passed or failed"));
    }
    match summary {
        None => problems.push("no `KTEST SUMMARY` line".into()),
        Some(s) if s != (passed, failed) => problems.push(format!(
            "summary says passed={} failed={}, serial shows {passed} PASS and {failed} FAIL lines",
            s.0, s.1
        )),
        Some(_) => {}
    }
    match case {
        None if passed + failed == 0 => problems.push("test=all ran no case".into()),
        Some(case) if !outcomes.iter().any(|o| o.name == case) => {
            problems.push(format!("case `{case}` reported no result"))
        }
        _ => {}
    }
    failed > 0 || summary.is_some_and(|(_, f)| f > 0)
}

/// The host-timed clock check, if the kernel printed `KTEST CLOCK` lines.
fn check_clock(lines: &[Line]) -> Option<Outcome> {
    let mut start = None;
    let mut result = None;
    for line in lines {
        match protocol::parse(&line.text) {
            Some(Ok(Event::ClockStart)) => start = Some(line.at),
            Some(Ok(Event::ClockEnd { ticks, hz, mono_ns })) => {
                result = Some(match start.take() {
                    Some(at) => clock::check(line.at.saturating_sub(at), ticks, hz, mono_ns),
                    None => Err("`KTEST CLOCK end` without `KTEST CLOCK start`".into()),
                });
            }
            _ => {}
        }
    }
    let result = match (result, start) {
        (_, Some(_)) => Err("`KTEST CLOCK start` without `KTEST CLOCK end`".into()),
        (Some(result), None) => result,
        (None, None) => return None,
    };
    Some(Outcome::new("clock-vs-host", result))
}

/// A `backtrace:` line followed by at least one frame (a line with a hex address).
fn check_backtrace(lines: &[Line], problems: &mut Vec<String>) {
    let Some(at) = lines
        .iter()
        .position(|line| line.text.contains("backtrace:"))
    else {
        problems.push("no `backtrace:` line".into());
        return;
    };
    let frame = lines
        .get(at + 1)
        .is_some_and(|line| line.text.contains("0x"));
    if !frame {
        problems.push("`backtrace:` is not followed by a frame line".into());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn lines(text: &[(u64, &str)]) -> Vec<Line> {
        text.iter()
            .map(|&(ms, t)| Line {
                at: Duration::from_millis(ms),
                text: t.into(),
            })
            .collect()
    }

    const ALL: Expect = Expect {
        kind: Kind::Tests { case: None },
        cpus: Some(2),
        protocol: Some("pvh"),
        shows: None,
    };
    const OK: Exit = Exit {
        status: Some(33),
        timed_out: false,
    };

    fn good_run() -> Vec<Line> {
        lines(&[
            (100, "Levitate 0.1.0 (x86_64) booted via PVH"),
            (110, "cpus: 2, memory: 255 MiB"),
            (200, "KTEST BEGIN heap"),
            (210, "KTEST PASS heap"),
            (300, "KTEST BEGIN clock"),
            (310, "KTEST CLOCK start"),
            (
                2310,
                "KTEST CLOCK end ticks=2000 hz=1000 mono_ns=2000000000",
            ),
            (2320, "KTEST PASS clock"),
            (2400, "KTEST SUMMARY passed=2 failed=0"),
        ])
    }

    fn names(outcomes: &[Outcome]) -> Vec<(&str, bool)> {
        outcomes
            .iter()
            .map(|o| (o.name.as_str(), o.passed))
            .collect()
    }

    #[test]
    fn a_good_run_passes() {
        let out = analyze(Arch::X86_64, &good_run(), OK, &ALL);
        assert_eq!(
            names(&out),
            [
                ("heap", true),
                ("clock", true),
                ("clock-vs-host", true),
                ("boot", true)
            ],
            "{out:?}"
        );
    }

    #[test]
    fn a_failed_case_needs_the_failure_status() {
        let mut run = good_run();
        run[3].text = "KTEST FAIL heap: out of memory".into();
        run[8].text = "KTEST SUMMARY passed=1 failed=1".into();
        let out = analyze(
            Arch::X86_64,
            &run,
            Exit {
                status: Some(35),
                timed_out: false,
            },
            &ALL,
        );
        assert_eq!(
            out[0],
            Outcome {
                name: "heap".into(),
                passed: false,
                detail: "out of memory".into()
            }
        );
        assert!(out.last().is_some_and(|o| o.passed), "{out:?}");
        let out = analyze(Arch::X86_64, &run, OK, &ALL);
        assert!(
            out.last()
                .is_some_and(|o| !o.passed && o.detail.contains("status 33")),
            "{out:?}"
        );
    }

    #[test]
    fn harness_failures_fail_the_boot() {
        let run = good_run();
        let cases: [(&[Line], Exit, &str); 6] = [
            (
                &run[..5],
                Exit {
                    status: None,
                    timed_out: true,
                },
                "timed out",
            ),
            (&run[..8], OK, "no `KTEST SUMMARY`"),
            (&run[1..], OK, "no banner"),
            (
                &run,
                Exit {
                    status: Some(0),
                    timed_out: false,
                },
                "status 0",
            ),
            (
                &run,
                Exit {
                    status: None,
                    timed_out: false,
                },
                "a signal",
            ),
            (&run[2..], OK, "no `cpus: <n>`"),
        ];
        for (run, exit, want) in cases {
            let out = analyze(Arch::X86_64, run, exit, &ALL);
            let boot = out.last().expect("boot outcome");
            assert!(
                !boot.passed && boot.detail.contains(want),
                "{want}: {out:?}"
            );
        }
        let unfinished = analyze(Arch::X86_64, &run[..6], OK, &ALL);
        let boot = unfinished.last().expect("boot outcome");
        assert!(boot.detail.contains("`clock` began but never"), "{boot:?}");
        assert!(
            unfinished
                .iter()
                .any(|o| o.name == "clock-vs-host" && !o.passed)
        );
    }

    #[test]
    fn banner_protocol_and_cpus_are_checked() {
        let mut run = good_run();
        run[1].text = "cpus: 1".into();
        let boot = analyze(Arch::X86_64, &run, OK, &ALL).pop().expect("boot");
        assert!(boot.detail.contains("cpus: 1, expected 2"), "{boot:?}");
        let el1 = Expect {
            shows: Some("at EL1"),
            ..ALL
        };
        let boot = analyze(Arch::X86_64, &good_run(), OK, &el1)
            .pop()
            .expect("boot");
        assert!(boot.detail.contains("no line showing `at EL1`"), "{boot:?}");
        let grub = Expect {
            protocol: Some("multiboot2"),
            ..ALL
        };
        let boot = analyze(Arch::X86_64, &good_run(), OK, &grub)
            .pop()
            .expect("boot");
        assert!(boot.detail.contains("expected multiboot2"), "{boot:?}");
    }

    #[test]
    fn summary_must_match_the_lines() {
        let mut run = good_run();
        run[8].text = "KTEST SUMMARY passed=3 failed=0".into();
        let boot = analyze(Arch::X86_64, &run, OK, &ALL).pop().expect("boot");
        assert!(boot.detail.contains("summary says passed=3"), "{boot:?}");
    }

    #[test]
    fn a_single_case_must_report() {
        let one = Expect {
            kind: Kind::Tests {
                case: Some("frames"),
            },
            cpus: None,
            protocol: None,
            shows: None,
        };
        let run = lines(&[
            (1, "Levitate booted via PVH"),
            (2, "KTEST SUMMARY passed=0 failed=0"),
        ]);
        let boot = analyze(
            Arch::Aarch64,
            &run,
            Exit {
                status: Some(0),
                timed_out: false,
            },
            &one,
        )
        .pop()
        .expect("boot");
        assert!(
            boot.detail.contains("`frames` reported no result"),
            "{boot:?}"
        );
    }

    #[test]
    fn clock_is_timed_by_arrival() {
        let slow = lines(&[
            (0, "KTEST CLOCK start"),
            (
                3000,
                "KTEST CLOCK end ticks=2000 hz=1000 mono_ns=2000000000",
            ),
        ]);
        let out = check_clock(&slow).expect("a clock outcome");
        assert!(!out.passed, "{out:?}");
        assert_eq!(check_clock(&slow[..0]), None);
        assert!(check_clock(&slow[..1]).is_some_and(|o| !o.passed));
        assert!(check_clock(&slow[1..]).is_some_and(|o| !o.passed));
    }

    #[test]
    fn panic_boot() {
        let expect = Expect {
            kind: Kind::Panic,
            cpus: None,
            protocol: None,
            shows: None,
        };
        let fail = Exit {
            status: Some(1),
            timed_out: false,
        };
        let run = lines(&[
            (1, "Levitate 0.1.0 booted via linux-image"),
            (2, "KTEST BEGIN panic"),
            (
                3,
                "KERNEL PANIC at levitate/src/ktest.rs:10:5: deliberate panic",
            ),
            (4, "backtrace:"),
            (5, "  #0 0xffffffff80012345"),
        ]);
        let out = analyze(Arch::Aarch64, &run, fail, &expect);
        assert_eq!(names(&out), [("boot", true)], "{out:?}");
        let boot = analyze(Arch::Aarch64, &run[..4], fail, &expect)
            .pop()
            .expect("boot");
        assert!(boot.detail.contains("not followed by a frame"), "{boot:?}");
        let ok = Exit {
            status: Some(0),
            timed_out: false,
        };
        assert!(!analyze(Arch::Aarch64, &run, ok, &expect)[0].passed);
    }

    #[test]
    fn log_prefixes_are_stripped() {
        assert_eq!(message("[    0.123456] ERROR EXCEPTION x"), "EXCEPTION x");
        assert_eq!(message("[    0.1] INFO  hello"), "hello");
        assert_eq!(message("  EXCEPTION y"), "EXCEPTION y");
        assert_eq!(message("[not a prefix"), "[not a prefix");
    }

    #[test]
    fn fatal_fault_boot() {
        let expect = Expect {
            kind: Kind::FatalFault,
            cpus: None,
            protocol: None,
            shows: None,
        };
        let fail = Exit {
            status: Some(35),
            timed_out: false,
        };
        let run = lines(&[
            (1, "Levitate 0.1.0 booted via PVH"),
            (
                2,
                "[    0.123456] ERROR EXCEPTION page fault (vector 14) error=0x2 CR2=0xDEAD0000",
            ),
            (3, "backtrace:"),
            (4, "  0xffffffff80012345"),
        ]);
        assert!(analyze(Arch::X86_64, &run, fail, &expect)[0].passed);
        let boot = analyze(Arch::X86_64, &run[2..], fail, &expect)
            .pop()
            .expect("boot");
        assert!(boot.detail.contains("dead0000"), "{boot:?}");
    }
}
