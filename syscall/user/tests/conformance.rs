//! The conformance programs and the fuzzer, run natively on the host's Linux: every check
//! must pass there, which shows the programs assert Linux's behaviour and not Levitate's.

use std::process::Command;

fn run(exe: &str, args: &[&str]) -> String {
    let out = Command::new(exe)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {exe}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{exe} {args:?} failed ({}):\n{text}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn conform(exe: &str, area: &str) {
    let text = run(exe, &[]);
    assert!(!text.contains("FAIL "), "{text}");
    let passes = text.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(passes >= 10, "only {passes} checks ran:\n{text}");
    assert!(text.contains(&format!("DONE {area} ")), "{text}");
}

#[test]
fn conform_process() {
    conform(env!("CARGO_BIN_EXE_conform-process"), "process");
}

#[test]
fn conform_memory() {
    conform(env!("CARGO_BIN_EXE_conform-memory"), "memory");
}

#[test]
fn conform_files() {
    conform(env!("CARGO_BIN_EXE_conform-files"), "files");
}

#[test]
fn conform_time() {
    conform(env!("CARGO_BIN_EXE_conform-time"), "time");
}

#[test]
fn conform_signals() {
    conform(env!("CARGO_BIN_EXE_conform-signals"), "signals");
}

/// On a pty pair the program opens itself: the host's CI has no controlling terminal.
#[test]
fn conform_tty() {
    conform(env!("CARGO_BIN_EXE_conform-tty"), "tty");
}

/// A short fuzz run on the host: the program survives and reports. It drops root in its
/// fuzzing children and works in a fresh temp directory (see its module comment).
#[test]
fn sysfuzz_survives_on_host() {
    let text = run(env!("CARGO_BIN_EXE_sysfuzz"), &["2000"]);
    assert!(text.contains("FUZZ DONE iterations=2000 "), "{text}");
}

/// `/dev/kvm` against the host's real KVM: proves the checks assert Linux's behaviour. Skips,
/// saying so, where the host has no `/dev/kvm`.
#[test]
fn conform_kvm() {
    let text = run(env!("CARGO_BIN_EXE_conform-kvm"), &[]);
    if text.contains("SKIP kvm") {
        println!("{text}");
        return;
    }
    assert!(!text.contains("FAIL "), "{text}");
    assert!(text.contains("DONE kvm "), "{text}");
}

/// A short `/dev/kvm` fuzz run against the host's real KVM: the fuzzer itself is sane there.
#[test]
fn kvmfuzz_survives_on_host() {
    let text = run(env!("CARGO_BIN_EXE_kvmfuzz"), &["1000"]);
    assert!(
        text.contains("FUZZ DONE iterations=0") || text.contains("FUZZ DONE iterations=1000 "),
        "{text}"
    );
}
