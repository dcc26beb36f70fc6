//! GDT and TSS (Intel SDM vol. 3A §3.4.5 segment descriptors, §8.7 64-bit TSS).
//!
//! Selector order is fixed by SYSCALL/SYSRET (SDM vol. 2B, SYSRET): STAR[47:32] = kernel CS
//! with kernel SS = CS + 8; STAR[63:48] = base for SYSRET with user CS32 = base,
//! user SS = base + 8, user CS64 = base + 16.

use core::arch::asm;
use core::cell::UnsafeCell;

use crate::percpu;

pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_SS: u16 = 0x10;
/// 32-bit user code (compatibility mode), the SYSRET base.
pub const USER_CS32: u16 = 0x18 | 3;
pub const USER_SS: u16 = 0x20 | 3;
pub const USER_CS64: u16 = 0x28 | 3;
pub const TSS_SELECTOR: u16 = 0x30;

/// Null, 5 code/data descriptors, and the 16-byte TSS descriptor.
pub const GDT_ENTRIES: usize = 8;

/// IST slots (1-based in the IDT gate).
pub const IST_DOUBLE_FAULT: u8 = 1;
pub const IST_NMI: u8 = 2;
pub const IST_MACHINE_CHECK: u8 = 3;

const IST_STACK_SIZE: usize = 16 * 1024;

// Descriptor fields: G (4 KiB granularity), L (64-bit code), D/B (32-bit), P, DPL, S, type.
const CODE64_KERNEL: u64 = 0x00af_9a00_0000_ffff;
const DATA_KERNEL: u64 = 0x00cf_9200_0000_ffff;
const CODE32_USER: u64 = 0x00cf_fa00_0000_ffff;
const DATA_USER: u64 = 0x00cf_f200_0000_ffff;
const CODE64_USER: u64 = 0x00af_fa00_0000_ffff;

/// 64-bit task-state segment.
#[repr(C, packed(4))]
pub struct Tss {
    _reserved0: u32,
    /// Stack pointers loaded on a privilege change to ring 0..2.
    pub rsp: [u64; 3],
    _reserved1: u64,
    /// Interrupt stack table, IST1..IST7.
    pub ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    /// Offset of the I/O permission bitmap; past the limit means "none".
    pub iomap_base: u16,
}

impl Tss {
    pub const fn new() -> Self {
        Self {
            _reserved0: 0,
            rsp: [0; 3],
            _reserved1: 0,
            ist: [0; 7],
            _reserved2: 0,
            _reserved3: 0,
            iomap_base: core::mem::size_of::<Tss>() as u16,
        }
    }
}

impl Default for Tss {
    fn default() -> Self {
        Self::new()
    }
}

#[repr(C, align(16))]
struct IstStacks(UnsafeCell<[[u8; IST_STACK_SIZE]; 3]>);

// SAFETY: the stacks are only ever used by the CPU as exception stacks of the boot CPU; Rust
// code never reads or writes them, it only takes their address.
unsafe impl Sync for IstStacks {}

static BOOT_IST_STACKS: IstStacks = IstStacks(UnsafeCell::new([[0; IST_STACK_SIZE]; 3]));

#[repr(C, packed(2))]
struct DescriptorPointer {
    limit: u16,
    base: u64,
}

/// Build this CPU's GDT and TSS, load them, and reload every segment register.
pub fn init() {
    let block = percpu::current();
    let stacks = BOOT_IST_STACKS.0.get() as u64;
    let tss_ptr = block.tss.get();
    // SAFETY: the per-CPU block is only touched by this CPU and interrupts are disabled; the
    // TSS is not yet loaded, so the CPU does not read it concurrently.
    unsafe {
        let tss = &mut *tss_ptr;
        for (i, slot) in [IST_DOUBLE_FAULT, IST_NMI, IST_MACHINE_CHECK]
            .iter()
            .enumerate()
        {
            tss.ist[usize::from(*slot) - 1] = stacks + ((i + 1) * IST_STACK_SIZE) as u64;
        }
    }
    let tss_base = tss_ptr as u64;
    let tss_limit = (core::mem::size_of::<Tss>() - 1) as u64;
    // Available 64-bit TSS (type 9), present.
    let tss_low = (tss_limit & 0xffff)
        | ((tss_base & 0xff_ffff) << 16)
        | (0x89 << 40)
        | (((tss_limit >> 16) & 0xf) << 48)
        | (((tss_base >> 24) & 0xff) << 56);
    let tss_high = tss_base >> 32;
    let gdt_ptr = block.gdt.get();
    // SAFETY: as above, this CPU's own GDT, not loaded yet.
    unsafe {
        *gdt_ptr = [
            0,
            CODE64_KERNEL,
            DATA_KERNEL,
            CODE32_USER,
            DATA_USER,
            CODE64_USER,
            tss_low,
            tss_high,
        ];
    }
    let pointer = DescriptorPointer {
        limit: (core::mem::size_of::<[u64; GDT_ENTRIES]>() - 1) as u16,
        base: gdt_ptr as u64,
    };
    // SAFETY: the GDT is 'static and holds valid descriptors at the selectors loaded here; the
    // far return reloads CS with the 64-bit kernel code segment at the next instruction. FS
    // and GS are left alone: loading a selector would clear the GS base set by `percpu`.
    unsafe {
        asm!(
            "lgdt [{ptr}]",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {ss:x}",
            "mov es, {ss:x}",
            "mov ss, {ss:x}",
            "ltr {tss:x}",
            ptr = in(reg) &pointer,
            cs = in(reg) u64::from(KERNEL_CS),
            ss = in(reg) u64::from(KERNEL_SS),
            tss = in(reg) u64::from(TSS_SELECTOR),
            tmp = out(reg) _,
        );
    }
}
