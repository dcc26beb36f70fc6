//! What the Linux personality needs from the kernel that hosts it.

use crate::exec::elf::Machine;
use arch_api::Arch;
use mm::vm::PageMemory;
use sched::Scheduler;
use vfs::Vfs;

/// The kernel services, named once by the kernel binary.
pub trait Kernel: Sized + Send + Sync + 'static {
    type Arch: Arch;
    /// Access to physical pages for user address spaces (cheap to create).
    type Mem: PageMemory + Send + Sync + 'static;
    /// ELF machine of user programs.
    const MACHINE: Machine;
    /// `AT_PLATFORM` and `uname -m`.
    const PLATFORM: &'static str;

    fn sched() -> &'static Scheduler<Self::Arch>;
    fn page_memory() -> Self::Mem;
    fn vfs() -> &'static Vfs;
    /// Fill `buf` with unpredictable bytes.
    fn fill_random(buf: &mut [u8]);
    /// Nanoseconds since the Unix epoch (`CLOCK_REALTIME`).
    fn realtime_ns() -> u64;
    /// Set the wall clock (`clock_settime(CLOCK_REALTIME)`, `settimeofday`).
    fn set_realtime_ns(ns: u64);
    /// (total, free) bytes of RAM.
    fn memory() -> (u64, u64);
    /// Timer ticks per second of [`Kernel::sched`]'s tick.
    fn tick_hz() -> u64;
    /// `reboot(RB_POWER_OFF/RB_HALT_SYSTEM/RB_AUTOBOOT)`: stop the machine (a restart also
    /// stops it: under QEMU with `-no-reboot` that is what a reset does).
    fn power_off() -> !;
    /// The `/dev/kvm` backends of this kernel, the default first (the x86 interpreter on
    /// every arch).
    fn kvm_backends() -> &'static [&'static dyn hv::Backend];
    /// Adopts one reference the caller holds on physical page `pa` as an [`hv::Page`] (its
    /// bytes through the direct map; dropping it puts the reference).
    fn page_ref(pa: u64) -> alloc::boxed::Box<dyn hv::Page>;
    /// Called when PID 1 exits: Linux panics; we report and stop the machine.
    fn init_exited(status: i32) -> !;
}
