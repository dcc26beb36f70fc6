//! Per-CPU data reached through the GS base: a self pointer, the CPU index, the slots the
//! SYSCALL entry and the user-mode trap path use, and the CPU's TSS and GDT. Only the boot CPU's block exists so far;
//! an AP would get its own block and run [`init_cpu`] on it.

use core::arch::asm;
use core::cell::UnsafeCell;

use crate::cpu;
use crate::gdt::{GDT_ENTRIES, Tss};

/// `IA32_GS_BASE` (Intel SDM vol. 4, table 2-2).
const MSR_GS_BASE: u32 = 0xc000_0101;
/// `IA32_FS_BASE`.
const MSR_FS_BASE: u32 = 0xc000_0100;
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
    /// Kernel stack pointer to load on SYSCALL entry: where `run_user` left its frame.
    pub kernel_rsp: UnsafeCell<u64>,
    /// The `UserContext` of the user code running on this CPU (set by `run_user`), where a
    /// trap from ring 3 saves the state that a thread switch would otherwise clobber.
    pub user_ctx: UnsafeCell<u64>,
    /// User state this CPU holds in its registers (see `user::LiveExt`): the `Ext` (0: none),
    /// its token, whether user code changed the registers since, and the FS and user GS
    /// bases in the MSRs when not.
    pub ext_owner: UnsafeCell<u64>,
    pub ext_token: UnsafeCell<u64>,
    pub ext_dirty: UnsafeCell<u64>,
    pub fs_loaded: UnsafeCell<u64>,
    pub gs_loaded: UnsafeCell<u64>,
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
            user_ctx: UnsafeCell::new(0),
            ext_owner: UnsafeCell::new(0),
            ext_token: UnsafeCell::new(0),
            ext_dirty: UnsafeCell::new(0),
            fs_loaded: UnsafeCell::new(0),
            gs_loaded: UnsafeCell::new(0),
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
    // SAFETY: the FS/GS base MSRs exist on every x86_64 CPU; the kernel GS base is zero until
    // user mode runs (swapgs is not used before that), and the kernel never uses FS.
    unsafe {
        cpu::wrmsr(MSR_GS_BASE, addr);
        cpu::wrmsr(MSR_KERNEL_GS_BASE, 0);
        // Known starting values for the caches `fs_loaded`/`gs_loaded` (both 0).
        cpu::wrmsr(MSR_FS_BASE, 0);
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

/// `%gs:` offsets of the fields the assembly entry paths use.
pub const USER_RSP_OFFSET: usize = core::mem::offset_of!(PerCpu, user_rsp);
pub const KERNEL_RSP_OFFSET: usize = core::mem::offset_of!(PerCpu, kernel_rsp);
pub const USER_CTX_OFFSET: usize = core::mem::offset_of!(PerCpu, user_ctx);
/// `%gs:` offset of TSS.RSP0, the stack the CPU loads on an interrupt from ring 3.
pub const TSS_RSP0_OFFSET: usize =
    core::mem::offset_of!(PerCpu, tss) + core::mem::offset_of!(crate::gdt::Tss, rsp);
