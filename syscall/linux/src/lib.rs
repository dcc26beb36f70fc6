//! The Linux personality: how Linux programs are loaded and served.
//!
//! Generic over [`Kernel`], which names the arch and the kernel services (scheduler, page
//! memory, the VFS). The kernel binary instantiates it once.
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod cputime;
pub mod exec;
mod kernel;
pub mod kvm;
mod process;
mod procview;
mod signal;
mod sys;
pub mod sysrq;
mod uaccess;

pub use cputime::tick as cpu_tick;
pub use kernel::Kernel;
pub use process::{Process, Task, spawn_init};
pub use procview::ProcView;
pub use signal::{signal_group, signal_process};
pub use sys::unimplemented_count;
