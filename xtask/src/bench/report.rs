//! The probe's output protocol and the side-by-side table (pure, so it is host-tested).
//!
//! The probe prints `PROBE <name> <value> <unit>` per result, or `PROBE <name> n/a <reason>`
//! when a probe could not run; `PROBE pid ...` comes first and `PROBE done ...` last.

use std::fmt::Write as _;
use std::time::Duration;

/// The probes in table order, with the row label DESIGN.md uses. A probe missing from a run
/// still gets its row, so a hang or crash shows up as a gap instead of vanishing.
pub const PROBES: [(&str, &str); 12] = [
    ("getppid", "getppid syscall"),
    ("fork_exit", "fork+exit+wait"),
    ("fork_exec", "fork+exec+wait (BusyBox true)"),
    ("fork_exec_rust", "fork+exec+wait (Rust std)"),
    ("pipe_rtt", "pipe 1-byte round trip"),
    ("pipe_bw", "pipe bandwidth (64 KiB)"),
    ("tmpfs_create", "create+write+unlink tmpfs"),
    ("mmap_1m", "mmap+touch+munmap 1 MiB"),
    ("sched_yield", "sched_yield ping"),
    ("kvm_pio_exit", "KVM PIO exit round trip"),
    ("kvm_vm_create", "KVM_CREATE_VM..vCPU..close"),
    ("kvm_guest_loop", "guest compute loop under KVM"),
];

/// One probe's outcome in one kernel.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Value {
        value: f64,
        unit: String,
    },
    /// The probe ran and reported why it could not measure (`ENOSYS sched_yield`).
    Failed(String),
}

/// What one boot of the probe produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    pub results: Vec<(String, Outcome)>,
    /// From QEMU's start to the arrival of the probe's first line.
    pub boot: Option<Duration>,
    /// The probe printed `PROBE done`.
    pub done: bool,
}

impl Run {
    pub fn get(&self, name: &str) -> Option<&Outcome> {
        self.results.iter().find(|(n, _)| n == name).map(|(_, o)| o)
    }
}

/// Parse one serial line; `None` if it is not a probe record. Like the KTEST protocol, the
/// record may start mid-line (firmware output or a log prefix without a newline before it).
pub fn parse_line(line: &str) -> Option<(String, Outcome)> {
    let record = &line[line.find("PROBE ")?..];
    let mut words = record.split_whitespace().skip(1);
    let name = words.next()?.to_string();
    let value = words.next()?;
    let rest: Vec<&str> = words.collect();
    if value == "n/a" {
        return Some((name, Outcome::Failed(rest.join(" "))));
    }
    let value: f64 = value.parse().ok()?;
    let unit = rest.first()?.to_string();
    Some((name, Outcome::Value { value, unit }))
}

/// Collect a boot's records from its time-stamped lines.
pub fn parse_run<'a>(lines: impl IntoIterator<Item = (Duration, &'a str)>) -> Run {
    let mut run = Run::default();
    for (at, text) in lines {
        let Some((name, outcome)) = parse_line(text) else {
            continue;
        };
        run.boot.get_or_insert(at);
        match name.as_str() {
            "pid" => {}
            "done" => run.done = true,
            _ => run.results.push((name, outcome)),
        }
    }
    run
}

/// The median of several runs, probe by probe (an odd count gives a real sample). A probe
/// that failed in any run is shown with that run's reason: a failure is not averaged away.
pub fn median(runs: &[Run]) -> Run {
    let mut out = Run {
        done: runs.iter().all(|r| r.done),
        ..Run::default()
    };
    let mut boots: Vec<Duration> = runs.iter().filter_map(|r| r.boot).collect();
    boots.sort();
    out.boot = boots.get(boots.len() / 2).copied();
    for (name, _) in PROBES {
        let outcomes: Vec<&Outcome> = runs.iter().filter_map(|r| r.get(name)).collect();
        if let Some(failed) = outcomes.iter().find(|o| matches!(o, Outcome::Failed(_))) {
            out.results.push((name.to_string(), (*failed).clone()));
            continue;
        }
        let mut values: Vec<(f64, &str)> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Value { value, unit } => Some((*value, unit.as_str())),
                Outcome::Failed(_) => None,
            })
            .collect();
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(&(value, unit)) = values.get(values.len() / 2) {
            let unit = unit.to_string();
            out.results
                .push((name.to_string(), Outcome::Value { value, unit }));
        }
    }
    out
}

/// Levitate's time over Linux's: < 1 means Levitate is faster. Throughputs (per second) are
/// inverted so the ratio keeps that meaning. `None` if the units differ or a value is zero.
pub fn ratio(levitate: &Outcome, linux: &Outcome) -> Option<f64> {
    let (Outcome::Value { value: a, unit: ua }, Outcome::Value { value: b, unit: ub }) =
        (levitate, linux)
    else {
        return None;
    };
    if ua != ub || *a == 0.0 || *b == 0.0 {
        return None;
    }
    Some(if ua.ends_with("/s") { b / a } else { a / b })
}

fn cell(outcome: Option<&Outcome>, run: &Run) -> String {
    match outcome {
        Some(Outcome::Value { value, unit }) => format!("{value:.1} {unit}"),
        Some(Outcome::Failed(reason)) => format!("n/a: {reason}"),
        None if run.done => "n/a: not reported".into(),
        None => "n/a: no result (hung or crashed)".into(),
    }
}

/// The side-by-side table, as Markdown (readable as plain text too).
pub fn table(arch: &str, levitate: &Run, linux: &Run, runs: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{arch}: median of {runs} run(s); ratio = Levitate/Linux time (< 1: Levitate faster)"
    );
    let _ = writeln!(out);
    let rows = PROBES.iter().map(|(name, label)| {
        let a = levitate.get(name);
        let b = linux.get(name);
        let ratio = match (a, b) {
            (Some(a), Some(b)) => ratio(a, b).map(|r| format!("{r:.2}")),
            _ => None,
        };
        (
            label.to_string(),
            cell(a, levitate),
            cell(b, linux),
            ratio.unwrap_or_else(|| "-".into()),
        )
    });
    let boot = |run: &Run| match run.boot {
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
        None => "n/a: init never printed".into(),
    };
    let boot_ratio = match (levitate.boot, linux.boot) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".into(),
    };
    let mut all: Vec<(String, String, String, String)> = vec![(
        "probe".into(),
        "Levitate".into(),
        "Linux".into(),
        "ratio".into(),
    )];
    all.extend(rows);
    all.push((
        "boot to init (wall)".into(),
        boot(levitate),
        boot(linux),
        boot_ratio,
    ));
    let width = |f: fn(&(String, String, String, String)) -> &String| {
        all.iter().map(|r| f(r).chars().count()).max().unwrap_or(0)
    };
    let w = [
        width(|r| &r.0),
        width(|r| &r.1),
        width(|r| &r.2),
        width(|r| &r.3),
    ];
    for (i, (a, b, c, d)) in all.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {a:<w0$} | {b:>w1$} | {c:>w2$} | {d:>w3$} |",
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3]
        );
        if i == 0 {
            let _ = writeln!(
                out,
                "|{}|{}:|{}:|{}:|",
                "-".repeat(w[0] + 2),
                "-".repeat(w[1] + 1),
                "-".repeat(w[2] + 1),
                "-".repeat(w[3] + 1)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn parses_values_failures_and_noise() {
        assert_eq!(
            parse_line("Booting from ROM..PROBE getppid 389.5 ns"),
            Some((
                "getppid".into(),
                Outcome::Value {
                    value: 389.5,
                    unit: "ns".into()
                }
            ))
        );
        assert_eq!(
            parse_line("PROBE sched_yield n/a ENOSYS sched_yield"),
            Some((
                "sched_yield".into(),
                Outcome::Failed("ENOSYS sched_yield".into())
            ))
        );
        assert_eq!(parse_line("[    0.1] INFO started"), None);
        assert_eq!(parse_line("PROBE getppid fast ns"), None);
        assert_eq!(parse_line("PROBE getppid 3"), None);
    }

    #[test]
    fn run_takes_boot_time_from_the_first_record() {
        let lines = [
            (ms(100), "SeaBIOS"),
            (ms(900), "PROBE pid 1 pid"),
            (ms(950), "PROBE getppid 400.0 ns"),
            (ms(990), "PROBE pipe_bw n/a ENOMEM mmap"),
            (ms(999), "PROBE done 0 -"),
        ];
        let run = parse_run(lines);
        assert_eq!(run.boot, Some(ms(900)));
        assert!(run.done);
        assert_eq!(run.results.len(), 2);
        assert!(matches!(run.get("pipe_bw"), Some(Outcome::Failed(_))));
    }

    #[test]
    fn ratios_mean_time_even_for_throughput() {
        let v = |value, unit: &str| Outcome::Value {
            value,
            unit: unit.into(),
        };
        assert_eq!(ratio(&v(200.0, "ns"), &v(400.0, "ns")), Some(0.5));
        // Twice Linux's bandwidth is half its time.
        assert_eq!(ratio(&v(400.0, "MB/s"), &v(200.0, "MB/s")), Some(0.5));
        assert_eq!(ratio(&v(1.0, "ns"), &v(1.0, "us")), None);
        assert_eq!(ratio(&Outcome::Failed("x".into()), &v(1.0, "ns")), None);
    }

    #[test]
    fn median_keeps_failures_and_takes_middle_values() {
        let run = |ns: &str, boot| {
            let line = format!("PROBE getppid {ns} ns");
            parse_run([(ms(boot), line.as_str()), (ms(boot), "PROBE done 0 -")])
        };
        let m = median(&[run("3", 30), run("1", 10), run("2", 20)]);
        assert_eq!(m.boot, Some(ms(20)));
        assert_eq!(
            m.get("getppid"),
            Some(&Outcome::Value {
                value: 2.0,
                unit: "ns".into()
            })
        );
        let failed = parse_run([(ms(1), "PROBE getppid n/a ENOSYS getppid")]);
        let m = median(&[run("1", 10), failed]);
        assert_eq!(
            m.get("getppid"),
            Some(&Outcome::Failed("ENOSYS getppid".into()))
        );
        assert!(!m.done);
    }

    #[test]
    fn table_has_every_probe_and_boot() {
        let lev = parse_run([
            (ms(500), "PROBE pid 1 pid"),
            (ms(510), "PROBE getppid 200.0 ns"),
            (ms(520), "PROBE sched_yield n/a ENOSYS sched_yield"),
        ]);
        let linux = parse_run([
            (ms(2000), "PROBE pid 1 pid"),
            (ms(2010), "PROBE getppid 400.0 ns"),
            (ms(2020), "PROBE sched_yield 20.0 us"),
            (ms(2030), "PROBE done 0 -"),
        ]);
        let text = table("x86_64", &lev, &linux, 1);
        let line = |label: &str| {
            text.lines()
                .find(|l| l.contains(label))
                .unwrap_or_else(|| panic!("no row {label} in\n{text}"))
                .to_string()
        };
        assert!(line("getppid syscall").contains("200.0 ns"));
        assert!(line("getppid syscall").contains("0.50"));
        assert!(line("sched_yield ping").contains("n/a: ENOSYS sched_yield"));
        assert!(line("fork+exit+wait").contains("n/a: no result (hung or crashed)"));
        assert!(line("boot to init").contains("0.50 s"));
        assert!(line("boot to init").contains("0.25"));
        // Every row has the same width, so the text stays a readable table.
        let widths: Vec<usize> = text
            .lines()
            .filter(|l| l.starts_with('|'))
            .map(|l| l.chars().count())
            .collect();
        assert_eq!(widths.len(), PROBES.len() + 3);
        assert!(widths.windows(2).all(|w| w[0] == w[1]));
    }
}
