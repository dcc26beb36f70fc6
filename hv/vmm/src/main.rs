//! `vmrun`: run an x86 guest through `/dev/kvm`. One static musl program that runs unchanged
//! on Linux KVM and on Levitate; see `vmrun --help` and `hv/vmm/README.md`.

mod boot;
mod devices;
mod exit;
mod hostarch;
mod image;
mod options;
mod vm;

use std::process::ExitCode;

use exit::status;
use options::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse_from_args(std::env::args_os());
    let opts = match cli.resolve() {
        Ok(opts) => opts,
        Err(err) => {
            eprintln!("vmrun: {err:#}");
            return ExitCode::from(status::USAGE);
        }
    };
    match vm::run(&opts) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("vmrun: {err:#}");
            ExitCode::from(status::SETUP)
        }
    }
}

/// An OS error as `strerror` says it, without std's ` (os error N)` tail.
pub fn os_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
