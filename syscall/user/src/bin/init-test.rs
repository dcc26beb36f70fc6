//! A first PID 1: reports argv and the environment on stdout, writes one line to stderr, and
//! exits 0. Each line starts with `init-test:` so a test can pick them out of the console log.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Lossy, so a non-UTF-8 argument is still reported rather than aborting PID 1.
    let args: Vec<String> = std::env::args_os()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let env: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    let mut stdout = std::io::stdout().lock();
    let report = levitate_user::init_report(&args, &env);
    if stdout
        .write_all(report.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::FAILURE;
    }
    // stderr is the second console fd the kernel must set up; a failure there is reported by
    // the exit status, since there is nowhere else to say it.
    if writeln!(std::io::stderr(), "init-test: stderr ok").is_err() {
        return ExitCode::FAILURE;
    }
    if writeln!(
        stdout,
        "init-test: pid={} done, exiting 0",
        std::process::id()
    )
    .is_err()
    {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
