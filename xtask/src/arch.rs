//! The two architectures Levitate builds for, and what differs between them outside the kernel.

use std::fmt;

use clap::ValueEnum;

/// A kernel architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Arch {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "aarch64")]
    Aarch64,
}

/// What a QEMU exit status says about the kernel's own verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The kernel asked to exit with success.
    Success,
    /// The kernel asked to exit with failure (panic, fatal exception, failed test).
    Failure,
    /// Anything else: killed (a test boot that triple-faults pauses until its timeout), a
    /// triple fault with `-no-reboot`, QEMU error, Ctrl-A X.
    Other,
}

impl Arch {
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// The bare-metal Rust target the kernel is built for.
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-none",
            Arch::Aarch64 => "aarch64-unknown-none",
        }
    }

    /// The Rust target our userland programs are built for (static musl).
    pub fn user_triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-musl",
            Arch::Aarch64 => "aarch64-unknown-linux-musl",
        }
    }

    /// The workspace package of the arch crate.
    pub fn crate_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "arch-x86_64",
            Arch::Aarch64 => "arch-aarch64",
        }
    }

    pub fn qemu(self) -> &'static str {
        match self {
            Arch::X86_64 => "qemu-system-x86_64",
            Arch::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// The gdb that understands this architecture on a Debian x86_64 host.
    pub fn gdb(self) -> &'static str {
        match self {
            Arch::X86_64 => "gdb",
            Arch::Aarch64 => "gdb-multiarch",
        }
    }

    /// The QEMU exit status the kernel produces for a verdict (`None` for [`Verdict::Other`]).
    pub fn status_of(self, verdict: Verdict) -> Option<i32> {
        match (self, verdict) {
            (Arch::X86_64, Verdict::Success) => Some(33),
            (Arch::X86_64, Verdict::Failure) => Some(35),
            (Arch::Aarch64, Verdict::Success) => Some(0),
            (Arch::Aarch64, Verdict::Failure) => Some(1),
            (_, Verdict::Other) => None,
        }
    }

    /// Map QEMU's exit status to the kernel's verdict.
    ///
    /// x86_64 exits through `isa-debug-exit` (iobase 0xf4): QEMU exits with `(value << 1) | 1`,
    /// and the kernel writes 0x10 for success (33) and 0x11 for failure (35). aarch64 powers off
    /// through PSCI SYSTEM_OFF for success (0) and uses semihosting SYS_EXIT for failure (1).
    pub fn verdict(self, status: Option<i32>) -> Verdict {
        match (self, status) {
            (Arch::X86_64, Some(33)) | (Arch::Aarch64, Some(0)) => Verdict::Success,
            (Arch::X86_64, Some(35)) | (Arch::Aarch64, Some(1)) => Verdict::Failure,
            _ => Verdict::Other,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_mapping() {
        assert_eq!(Arch::X86_64.verdict(Some(33)), Verdict::Success);
        assert_eq!(Arch::X86_64.verdict(Some(35)), Verdict::Failure);
        assert_eq!(Arch::X86_64.verdict(Some(0)), Verdict::Other);
        assert_eq!(Arch::X86_64.verdict(None), Verdict::Other);
        assert_eq!(Arch::Aarch64.verdict(Some(0)), Verdict::Success);
        assert_eq!(Arch::Aarch64.verdict(Some(1)), Verdict::Failure);
        assert_eq!(Arch::Aarch64.verdict(Some(33)), Verdict::Other);
        for arch in Arch::ALL {
            for verdict in [Verdict::Success, Verdict::Failure] {
                assert_eq!(arch.verdict(arch.status_of(verdict)), verdict);
            }
        }
    }
}
