//! Kernel threads and the preemptive scheduler, arch-neutral.
//!
//! The scheduler is generic over [`arch_api::Arch`] for the context switch, interrupt masking
//! and the CPU index; the policy itself ([`RunQueue`]) is plain data and tested on the host.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod lock;
mod run_queue;
mod scheduler;
mod wait;

pub use lock::{IrqControl, IrqSpinLock, IrqSpinLockGuard};
pub use run_queue::RunQueue;
pub use scheduler::{MAX_CPUS, Scheduler, Thread, ThreadId, ThreadState};
pub use wait::WaitQueue;
