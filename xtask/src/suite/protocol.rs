//! The kernel's test protocol on the serial console.
//!
//! ```text
//! KTEST BEGIN <name>
//! KTEST PASS <name>
//! KTEST FAIL <name>: <reason>
//! KTEST CLOCK start
//! KTEST CLOCK end ticks=<n> hz=<hz> mono_ns=<ns>
//! KTEST SUMMARY passed=<n> failed=<m>
//! ```
//!
//! A record may follow other text on its line (a log prefix, a terminal escape): parsing starts
//! at the first `KTEST `.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Begin(String),
    Pass(String),
    Fail { name: String, reason: String },
    ClockStart,
    ClockEnd { ticks: u64, hz: u64, mono_ns: u64 },
    Summary { passed: u64, failed: u64 },
}

/// `None` for a line that carries no `KTEST ` record, `Some(Err)` for a malformed one.
pub fn parse(line: &str) -> Option<Result<Event, String>> {
    let start = line.find("KTEST ")?;
    let record = line[start + "KTEST ".len()..].trim();
    Some(parse_record(record).ok_or_else(|| format!("malformed record `KTEST {record}`")))
}

fn parse_record(record: &str) -> Option<Event> {
    let (verb, rest) = record.split_once(' ').unwrap_or((record, ""));
    let rest = rest.trim();
    match verb {
        "BEGIN" => name(rest).map(Event::Begin),
        "PASS" => name(rest).map(Event::Pass),
        "FAIL" => {
            let (test, reason) = rest.split_once(':').unwrap_or((rest, ""));
            Some(Event::Fail {
                name: name(test)?,
                reason: reason.trim().to_string(),
            })
        }
        "CLOCK" if rest == "start" => Some(Event::ClockStart),
        "CLOCK" => {
            let fields = rest.strip_prefix("end ")?;
            Some(Event::ClockEnd {
                ticks: field(fields, "ticks")?,
                hz: field(fields, "hz")?,
                mono_ns: field(fields, "mono_ns")?,
            })
        }
        "SUMMARY" => Some(Event::Summary {
            passed: field(rest, "passed")?,
            failed: field(rest, "failed")?,
        }),
        _ => None,
    }
}

/// A test name: one word, no spaces.
fn name(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty() && !text.contains(char::is_whitespace)).then(|| text.to_string())
}

/// The value of `key=<u64>` among space-separated fields.
fn field(fields: &str, key: &str) -> Option<u64> {
    fields.split_whitespace().find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        if k == key { v.parse().ok() } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Event {
        parse(line).expect("a record").expect("well formed")
    }

    #[test]
    fn parses_every_record() {
        assert_eq!(ok("KTEST BEGIN heap"), Event::Begin("heap".into()));
        assert_eq!(ok("KTEST PASS heap\r"), Event::Pass("heap".into()));
        assert_eq!(
            ok("KTEST FAIL frames: freed 12 of 13: leak"),
            Event::Fail {
                name: "frames".into(),
                reason: "freed 12 of 13: leak".into()
            }
        );
        assert_eq!(
            ok("KTEST FAIL frames"),
            Event::Fail {
                name: "frames".into(),
                reason: String::new()
            }
        );
        assert_eq!(ok("KTEST CLOCK start"), Event::ClockStart);
        assert_eq!(
            ok("KTEST CLOCK end ticks=200 hz=100 mono_ns=2000123456"),
            Event::ClockEnd {
                ticks: 200,
                hz: 100,
                mono_ns: 2_000_123_456
            }
        );
        assert_eq!(
            ok("KTEST SUMMARY passed=6 failed=0"),
            Event::Summary {
                passed: 6,
                failed: 0
            }
        );
    }

    #[test]
    fn tolerates_prefixes() {
        assert_eq!(
            ok("[ 1.234 INFO] KTEST PASS paging"),
            Event::Pass("paging".into())
        );
        assert_eq!(ok("\x1b[0mKTEST BEGIN clock"), Event::Begin("clock".into()));
    }

    #[test]
    fn ignores_other_lines() {
        assert_eq!(parse("Levitate 0.1.0 booted via PVH"), None);
        assert_eq!(parse("KTESTS are fun"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn rejects_malformed_records() {
        for line in [
            "KTEST BEGIN",
            "KTEST PASS two words",
            "KTEST CLOCK end ticks=200 hz=100",
            "KTEST CLOCK end ticks=x hz=100 mono_ns=1",
            "KTEST CLOCK stop",
            "KTEST SUMMARY passed=1",
            "KTEST WHAT now",
        ] {
            assert!(matches!(parse(line), Some(Err(_))), "{line}");
        }
    }
}
