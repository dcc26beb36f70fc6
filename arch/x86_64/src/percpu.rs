//! Per-CPU data reached through the GS base: a self pointer, the CPU index, scratch slots for
//! the future SYSCALL entry, and the CPU's TSS and GDT. Only the boot CPU's block exists so far;
//! an AP would get its own block and run [`init_cpu`] on it.

use core::arch::asm;
use core::cell::UnsafeCell;

use crate::cpu;
use crate::gdt::{GDT_ENTRIES, Tss};

/// `IA32_GS_BASE` (Intel SDM vol. 4, table 2-2).
const MSR_GS_BASE: u32 = 0xc000_0101;
/// `IA32_KERNEL_GS_BASE`, swapped in by `swapgs`.
const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;

/// One CPU's block. The first fields have fixed offsets that assembly uses (`%gs:0`, `%gs:8`).
#[repr(C, align(64))]
pub struct PerCpu {
    /// Virtual address of this block, so `mov %gs:0` turns GS into a plain pointer.
    self_ptr: UnsafeCell<u64>,
    /// Index of this CPU (0 for the boot CPU).
    cpu_id: UnsafeCell<u64>,
    /// Scratch slot for the user stack pointer on SYSCALL entry.
    pub user_rsp: UnsafeCell<u64>,
    /// Kernel stack pointer to load on SYSCALL entry.
    pub kernel_rsp: UnsafeCell<u64>,
    /// Task-state segment: IST stacks and the ring-0 stack.
    pub tss: UnsafeCell<Tss>,
    /// This CPU's GDT (the TSS descriptor differs per CPU).
    pub gdt: UnsafeCell<[u64; GDT_ENTRIES]>,
}

// SAFETY: each block is written only by its own CPU (during `init_cpu`, before interrupts are
// enabled, and later only by that CPU's own code paths), so sharing the static is sound.
unsafe impl Sync for PerCpu {}

impl PerCpu {
    const fn new() -> Self {
        Self {
            self_ptr: UnsafeCell::new(0),
            cpu_id: UnsafeCell::new(0),
            user_rsp: UnsafeCell::new(0),
            kernel_rsp: UnsafeCell::new(0),
            tss: UnsafeCell::new(Tss::new()),
            gdt: UnsafeCell::new([0; GDT_ENTRIES]),
        }
    }
}

static BOOT_CPU: PerCpu = PerCpu::new();

/// Point GS at the boot CPU's block. Must run before anything calls [`cpu_id`] or [`current`].
pub fn init_boot_cpu() {
    // SAFETY: BOOT_CPU is the boot CPU's own block and this is its first use, on that CPU,
    // with interrupts disabled.
    unsafe { init_cpu(&BOOT_CPU, 0) };
}

/// Fill `block` for CPU `id` and make it this CPU's GS base.
///
/// # Safety
/// `block` must not be in use by another CPU, and interrupts must be disabled.
unsafe fn init_cpu(block: &'static PerCpu, id: u64) {
    let addr = block as *const PerCpu as u64;
    // SAFETY: per the contract nobody else accesses the block now.
    unsafe {
        *block.self_ptr.get() = addr;
        *block.cpu_id.get() = id;
    }
    // SAFETY: the GS base MSRs exist on every x86_64 CPU; the kernel GS base is zero until
    // user mode exists (swapgs is not used before that).
    unsafe {
        cpu::wrmsr(MSR_GS_BASE, addr);
        cpu::wrmsr(MSR_KERNEL_GS_BASE, 0);
    }
}

/// The calling CPU's block.
pub fn current() -> &'static PerCpu {
    let p: u64;
    // SAFETY: GS points at a PerCpu whose first field is its own address (set by `init_cpu`
    // at the very start of boot).
    unsafe { asm!("mov {}, gs:[0]", out(reg) p, options(nostack, readonly, preserves_flags)) };
    // SAFETY: `p` is the address of a `'static` PerCpu, see above.
    unsafe { &*(p as *const PerCpu) }
}

/// Index of the calling CPU.
pub fn cpu_id() -> usize {
    let id: u64;
    // SAFETY: GS points at this CPU's PerCpu; offset 8 is `cpu_id` (repr(C)).
    unsafe { asm!("mov {}, gs:[8]", out(reg) id, options(nostack, readonly, preserves_flags)) };
    id as usize
}
