//! `cargo xtask test`: host checks, then QEMU system tests per architecture, then one line
//! `N passed, M failed`.

mod applets;
mod check;
mod clock;
mod host;
mod protocol;
mod system;
mod tty;
mod userland;
mod vm;

pub use host::print_tail;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use crate::arch::Arch;
use crate::cli::TestArgs;
use crate::prereq;
use crate::workspace::Workspace;

pub fn run(args: &TestArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let arches = args.arch.map_or(Arch::ALL.to_vec(), |arch| vec![arch]);
    let ws = Workspace::locate()?;
    prereq::ensure(&prereq::for_test(&arches))?;
    let mut tally = Tally::default();
    if !args.no_host {
        host::run(&ws, &arches, &mut tally)?;
        vm::host(&ws, &mut tally)?;
    }
    for &arch in &arches {
        system::run(&ws, arch, args, &mut tally)?;
        vm::levitate(&ws, arch, args.release, &mut tally)?;
    }
    if !tally.failures.is_empty() {
        println!("failed:");
        for name in &tally.failures {
            println!("  {name}");
        }
    }
    println!("xtask test took {:.0} s", started.elapsed().as_secs_f64());
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The running count of tests, printed as they finish.
#[derive(Default)]
pub struct Tally {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
}

impl Tally {
    /// One named test.
    pub fn record(&mut self, name: &str, passed: bool, detail: &str) {
        let word = if passed { "PASS" } else { "FAIL" };
        if detail.is_empty() {
            println!("{word} {name}");
        } else {
            println!("{word} {name}: {detail}");
        }
        if passed {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.failures.push(name.to_string());
        }
    }

    /// Tests counted by another runner (`cargo test`).
    pub fn add_counts(&mut self, passed: u64, failed: u64) {
        self.passed += passed;
        self.failed += failed;
        if failed > 0 {
            self.failures.push(format!("{failed} host cargo test(s)"));
        }
    }
}
