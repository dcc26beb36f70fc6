//! Linux syscall ABI for Levitate: error numbers and the per-arch syscall tables.
//!
//! Arch-neutral and host-tested; the syscall implementations (one family per file) will grow
//! here on top of `vfs`, `mm` and `sched`.

#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

mod errno;
mod table;

pub use errno::{Errno, Result};
pub use table::{Arch, Sysno, TABLE_LEN, aarch64, x86_64};

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub use table::NATIVE;

#[cfg(test)]
mod tests;
