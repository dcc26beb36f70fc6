//! Stage 1 translation: descriptor encoding, the kernel's final page tables, TLB maintenance.
//!
//! Configuration (Arm ARM D8 "The AArch64 Virtual Memory System Architecture"): 4 KiB granule,
//! 48-bit virtual addresses in both halves (T0SZ = T1SZ = 16), four levels, tables walked with
//! inner-shareable write-back caching. The kernel lives in the TTBR1 half:
//!
//! | virtual range                                  | maps                               |
//! |------------------------------------------------|------------------------------------|
//! | `DIRECT_MAP_OFFSET + pa` (0xffff_0000_...)     | all physical memory, 1 GiB blocks  |
//! | `KERNEL_BASE + (pa - load address)`            | the kernel image, 4 KiB pages, W^X |
//!
//! In the direct map, a GiB that overlaps RAM is Normal memory, every other GiB below the end
//! of RAM is Device-nGnRnE; device GiBs above RAM are added on demand ([`map_device`]).
//! TTBR0 (the low half) holds the active user address space ([`activate_user`]), or an empty
//! table, so that low addresses fault, while none is active.
//!
//! Levels are numbered as in [`arch_api::PageTableFormat`]: 0 = 4 KiB page table (Arm level
//! 3), 1 = 2 MiB blocks (Arm level 2), 2 = 1 GiB blocks (Arm level 1), 3 = root (Arm level 0).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::registers::{Readable, TTBR1_EL1, Writeable};
use arch_api::{ENTRIES_PER_TABLE, PAGE_SIZE, PageFlags, PageTableFormat};

/// Virtual address of physical address 0 in the direct map.
pub const DIRECT_MAP_OFFSET: u64 = 0xffff_0000_0000_0000;
/// Link address of the kernel image (start of the top 2 GiB).
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// MAIR index of Device-nGnRnE memory.
const ATTR_DEVICE: u64 = 0;
/// MAIR index of Normal write-back read/write-allocate memory.
const ATTR_NORMAL: u64 = 1;
/// MAIR: attr0 = 0x00 Device-nGnRnE, attr1 = 0xff Normal WB, attr2 = 0x44 Normal non-cacheable.
pub const MAIR_VALUE: u64 = 0x44_ff_00;

const T0SZ: u64 = 16;
const T1SZ: u64 = 16 << 16;
/// Inner and outer write-back write-allocate walks, inner shareable, for both halves.
const TCR_WALK0: u64 = (1 << 8) | (1 << 10) | (3 << 12);
const TCR_WALK1: u64 = (1 << 24) | (1 << 26) | (3 << 28);
/// TG1 = 0b10: 4 KiB granule for TTBR1 (TG0 = 0b00 is 4 KiB for TTBR0).
const TCR_TG1_4K: u64 = 2 << 30;
/// TCR value without IPS (the entry code inserts the CPU's physical address size).
pub const TCR_VALUE: u64 = T0SZ | T1SZ | TCR_WALK0 | TCR_WALK1 | TCR_TG1_4K;

const DESC_VALID: u64 = 1;
/// Bit 1: table (levels above the leaf) or page (leaf level); clear for a block.
const DESC_TABLE_OR_PAGE: u64 = 1 << 1;
const DESC_ATTR_SHIFT: u64 = 2;
/// AP[1]: accessible from EL0.
const DESC_AP_USER: u64 = 1 << 6;
/// AP[2]: read-only.
const DESC_AP_RO: u64 = 1 << 7;
/// SH = 0b11: inner shareable.
const DESC_SH_INNER: u64 = 3 << 8;
/// Access flag: set, so first access does not fault.
const DESC_AF: u64 = 1 << 10;
/// Not global: the TLB entry is tagged with the ASID.
const DESC_NG: u64 = 1 << 11;
/// Privileged execute-never.
const DESC_PXN: u64 = 1 << 53;
/// Unprivileged execute-never.
const DESC_UXN: u64 = 1 << 54;
/// Output address bits [47:12].
const DESC_ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

/// Boot-time 1 GiB / 2 MiB block, Normal memory, RWX (the entry code's tables).
pub const BOOT_NORMAL_BLOCK: u64 =
    DESC_VALID | (ATTR_NORMAL << DESC_ATTR_SHIFT) | DESC_SH_INNER | DESC_AF;
/// Boot-time 1 GiB block of Device memory, never executable.
pub const BOOT_DEVICE_BLOCK: u64 =
    DESC_VALID | (ATTR_DEVICE << DESC_ATTR_SHIFT) | DESC_AF | DESC_PXN | DESC_UXN;

const GIB: u64 = 1 << 30;
const BLOCK_2M: u64 = 1 << 21;

/// The aarch64 stage 1 descriptor format (4 KiB granule).
pub struct Aarch64PageTable;

impl PageTableFormat for Aarch64PageTable {
    fn is_valid(pte: u64) -> bool {
        pte & DESC_VALID != 0
    }

    fn is_table(pte: u64, level: usize) -> bool {
        level > 0 && pte & (DESC_VALID | DESC_TABLE_OR_PAGE) == DESC_VALID | DESC_TABLE_OR_PAGE
    }

    fn make_table(pa: u64) -> u64 {
        (pa & DESC_ADDR_MASK) | DESC_VALID | DESC_TABLE_OR_PAGE
    }

    fn make_leaf(pa: u64, flags: PageFlags, level: usize) -> u64 {
        let kind = if level == 0 {
            DESC_VALID | DESC_TABLE_OR_PAGE
        } else {
            DESC_VALID
        };
        let mut d = (pa & DESC_ADDR_MASK) | kind | DESC_AF;
        if flags.device {
            d |= ATTR_DEVICE << DESC_ATTR_SHIFT;
        } else {
            d |= (ATTR_NORMAL << DESC_ATTR_SHIFT) | DESC_SH_INNER;
        }
        if !flags.write {
            d |= DESC_AP_RO;
        }
        if flags.user {
            d |= DESC_AP_USER;
        }
        // Code is executable at one privilege only: the kernel never runs user pages and EL0
        // never runs kernel pages.
        d |= match (flags.exec, flags.user) {
            (false, _) => DESC_PXN | DESC_UXN,
            (true, false) => DESC_UXN,
            (true, true) => DESC_PXN,
        };
        if !flags.global {
            d |= DESC_NG;
        }
        d
    }

    fn address(pte: u64) -> u64 {
        pte & DESC_ADDR_MASK
    }

    fn flags(pte: u64) -> PageFlags {
        let user = pte & DESC_AP_USER != 0;
        let xn = if user { DESC_UXN } else { DESC_PXN };
        PageFlags {
            write: pte & DESC_AP_RO == 0,
            exec: pte & xn == 0,
            user,
            device: (pte >> DESC_ATTR_SHIFT) & 7 == ATTR_DEVICE,
            global: pte & DESC_NG == 0,
        }
    }

    fn flush(va: u64) {
        // SAFETY: TLB maintenance has no memory-safety effect; the DSB before it makes the
        // descriptor store visible to the walker, the DSB + ISB after it complete the
        // invalidation before later accesses. With E2H = TGE = 1 the *E1 operations act on the
        // EL2&0 regime.
        unsafe {
            core::arch::asm!(
                "dsb ishst",
                "tlbi vaae1is, {page}",
                "dsb ish",
                "isb",
                page = in(reg) (va >> 12) & ((1 << 44) - 1),
                options(nostack, preserves_flags),
            );
        }
    }
}

/// Invalidate every TLB entry of the current regime on all CPUs.
pub fn flush_all() {
    // SAFETY: as in `flush`: TLB maintenance only.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        );
    }
}

/// Physical load address of the kernel image (set once by `boot`).
static KERNEL_PHYS: AtomicU64 = AtomicU64::new(0);
/// Physical address of the kernel's TTBR1 root.
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);
/// Physical address of the empty table TTBR0 holds when no user address space is active.
static EMPTY_ROOT: AtomicU64 = AtomicU64::new(0);

/// End of RAM (exclusive), as direct-mapped by `init_kernel_tables`.
static RAM_END: AtomicU64 = AtomicU64::new(0);

/// Whether `[va, va + len)` lies in the kernel image or in the direct map of RAM: memory that
/// is always mapped (for walking frame records without faulting).
pub fn is_kernel_memory(va: u64, len: u64) -> bool {
    let (start, end) = kernel_range();
    let dm_end = phys_to_virt(RAM_END.load(Ordering::Relaxed));
    let Some(last) = va.checked_add(len) else {
        return false;
    };
    (va >= start && last <= end) || (va >= DIRECT_MAP_OFFSET && last <= dm_end)
}

/// Physical address of a direct-map or kernel-image virtual address.
pub fn virt_to_phys(va: u64) -> u64 {
    if va >= KERNEL_BASE {
        va - KERNEL_BASE + KERNEL_PHYS.load(Ordering::Relaxed)
    } else {
        va - DIRECT_MAP_OFFSET
    }
}

/// Direct-map virtual address of physical address `pa`.
pub const fn phys_to_virt(pa: u64) -> u64 {
    pa + DIRECT_MAP_OFFSET
}

/// Pages for the kernel's own tables, taken before any frame allocator exists. The root, the
/// direct map's level-1 table, the kernel's level-1, level-2 and one level-3 table per 2 MiB of
/// image, and the empty TTBR0 table.
const POOL_PAGES: usize = 24;

#[repr(C, align(4096))]
struct TablePool(UnsafeCell<[[u64; ENTRIES_PER_TABLE]; POOL_PAGES]>);

// SAFETY: pages are handed out once each by `POOL_NEXT` (an atomic bump index), so no two
// users share one; after that they are only written through raw pointers by the page-table
// code, which the kernel serialises.
unsafe impl Sync for TablePool {}

static POOL: TablePool = TablePool(UnsafeCell::new([[0; ENTRIES_PER_TABLE]; POOL_PAGES]));
static POOL_NEXT: AtomicUsize = AtomicUsize::new(0);

/// A zeroed page-table page from the static pool: (virtual pointer, physical address).
fn alloc_table() -> (*mut u64, u64) {
    let i = POOL_NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(i < POOL_PAGES, "boot page-table pool exhausted");
    // The pool lives in bss, which the entry code zeroed; each page is handed out once.
    let va = POOL
        .0
        .get()
        .cast::<[u64; ENTRIES_PER_TABLE]>()
        .wrapping_add(i)
        .cast::<u64>();
    (va, virt_to_phys(va as u64))
}

/// Pointer to entry `index` of the table at physical address `table_pa`.
fn entry(table_pa: u64, index: usize) -> *mut u64 {
    (phys_to_virt(table_pa) as *mut u64).wrapping_add(index)
}

fn index(va: u64, level: usize) -> usize {
    ((va >> (12 + 9 * level)) & 511) as usize
}

/// Map `va` to `pa` with a leaf at `level` in the tree rooted at `root`, creating tables from
/// the boot pool. An existing entry is replaced.
///
/// # Safety
/// `root` must be a page table built by this module, reachable through the direct map, and
/// the mapping must not pull memory in use out from under the kernel.
unsafe fn map(root: u64, va: u64, pa: u64, flags: PageFlags, level: usize) {
    let mut table = root;
    for l in (level + 1..=3).rev() {
        let e = entry(table, index(va, l));
        // SAFETY: `e` points into a page-table page reached through the direct map (the
        // caller's contract); the kernel serialises page-table edits.
        let pte = unsafe { e.read_volatile() };
        table = if Aarch64PageTable::is_table(pte, l) {
            Aarch64PageTable::address(pte)
        } else {
            let (_, pa) = alloc_table();
            // SAFETY: as above.
            unsafe { e.write_volatile(Aarch64PageTable::make_table(pa)) };
            pa
        };
    }
    let e = entry(table, index(va, level));
    // SAFETY: as above.
    unsafe { e.write_volatile(Aarch64PageTable::make_leaf(pa, flags, level)) };
}

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
}

/// Link-time address of a linker-script symbol.
macro_rules! sym_addr {
    ($s:ident) => {
        (&raw const $s) as u64
    };
}

/// Virtual `[start, end)` of the kernel image, bss included.
pub fn kernel_range() -> (u64, u64) {
    (sym_addr!(__kernel_start), sym_addr!(__kernel_end))
}

/// Build the final kernel tables (direct map of `[0, ram_end)`, W^X image), switch TTBR1 to
/// them and TTBR0 to an empty table.
///
/// `ram` lists the RAM ranges (for Normal vs Device attributes of each GiB).
///
/// # Safety
/// Call once, on the boot CPU, while running on the boot tables set up by the entry code, with
/// `load_pa` the image's physical load address.
pub unsafe fn init_kernel_tables(load_pa: u64, ram: &[arch_api::PhysRange]) {
    KERNEL_PHYS.store(load_pa, Ordering::Relaxed);
    let (_, root) = alloc_table();
    let ram_end = ram.iter().map(|r| r.end).max().unwrap_or(0);
    RAM_END.store(ram_end, Ordering::Relaxed);
    let gibs = ram_end.div_ceil(GIB);
    for g in 0..gibs {
        let (start, end) = (g * GIB, (g + 1) * GIB);
        let is_ram = ram.iter().any(|r| r.start < end && start < r.end);
        let flags = if is_ram {
            PageFlags::KERNEL_DATA
        } else {
            PageFlags::KERNEL_DEVICE
        };
        // SAFETY: `root` is new and not yet active.
        unsafe { map(root, phys_to_virt(start), start, flags, 2) };
    }
    let text = sym_addr!(__text_end);
    let rodata = sym_addr!(__rodata_end);
    let (start, end) = kernel_range();
    let mut va = start;
    while va < end {
        let flags = if va < text {
            PageFlags::KERNEL_CODE
        } else if va < rodata {
            PageFlags::KERNEL_RODATA
        } else {
            PageFlags::KERNEL_DATA
        };
        // Whole 2 MiB stretches of data/bss get one block (the load address is 2 MiB aligned,
        // as is KERNEL_BASE), so a large bss does not exhaust the pool.
        let block = va >= rodata && va % BLOCK_2M == 0 && va + BLOCK_2M <= end;
        let (level, step) = if block { (1, BLOCK_2M) } else { (0, PAGE_SIZE) };
        // SAFETY: `root` is not yet active.
        unsafe { map(root, va, va - start + load_pa, flags, level) };
        va += step;
    }
    let (_, empty) = alloc_table();
    EMPTY_ROOT.store(empty, Ordering::Relaxed);
    KERNEL_ROOT.store(root, Ordering::Relaxed);
    // SAFETY: the new root maps the image at the same addresses with the same memory type,
    // and the direct map (stack, DTB, devices) as before; nothing uses TTBR0 any more: the
    // code runs at its link address and the stack is the boot stack in the image.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "msr ttbr1_el1, {root}",
            "msr ttbr0_el1, {empty}",
            "isb",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            root = in(reg) root,
            empty = in(reg) empty,
            options(nostack, preserves_flags),
        );
    }
}

/// Physical address of the kernel (TTBR1) root table.
pub fn root() -> u64 {
    TTBR1_EL1.get() & DESC_ADDR_MASK
}

/// Install `root` in TTBR1 and flush the TLB.
///
/// # Safety
/// `root` must map the kernel image, the direct map and the current stack.
pub unsafe fn activate(root: u64) {
    KERNEL_ROOT.store(root, Ordering::Relaxed);
    // SAFETY: the caller vouches that the new tree maps everything in use; the barriers make
    // earlier table writes visible before the switch.
    unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
    TTBR1_EL1.set(root);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    flush_all();
}

/// Install `root` (or the empty table) in TTBR0, the user half, and drop this CPU's TLB
/// entries of the previous user address space.
///
/// User address spaces do not use ASIDs yet: all run with ASID 0 in TTBR0 and map only
/// non-global (nG) pages, so `tlbi aside1` with ASID 0 removes exactly the old user
/// translations and keeps the kernel's global ones. Other CPUs need nothing: each flushes its
/// own TLB when it switches, and unmaps are broadcast (`flush`).
///
/// # Safety
/// `root` must be a page table whose entries are all user mappings of memory the caller owns
/// (TTBR0 never maps the kernel).
pub unsafe fn activate_user(root: Option<u64>) {
    let table = root.unwrap_or_else(|| EMPTY_ROOT.load(Ordering::Relaxed));
    // SAFETY: TTBR0 only translates the user half, which the kernel reaches only through the
    // fault-tolerant copy functions; the DSB makes the caller's table stores visible to the
    // walker first, the ISBs order the register write and the invalidation. With E2H = 1
    // the names reach TTBR0_EL2 and the EL2&0 regime.
    unsafe {
        core::arch::asm!(
            "dsb ishst",
            "msr ttbr0_el1, {table}",
            "isb",
            "tlbi aside1, xzr",
            "dsb nsh",
            "isb",
            table = in(reg) table & DESC_ADDR_MASK,
            options(nostack, preserves_flags),
        );
    }
}

/// Make sure the direct map covers `[pa, pa + len)`; GiBs not mapped yet are added as Device
/// memory (MMIO found in the device tree above the end of RAM).
pub fn map_device(pa: u64, len: u64) {
    let root = KERNEL_ROOT.load(Ordering::Relaxed);
    if root == 0 {
        // Still on the boot tables (which map GiB 0, where virt's devices are).
        return;
    }
    let mut g = pa / GIB;
    while g * GIB < pa + len {
        let va = phys_to_virt(g * GIB);
        let l1 = entry(root, index(va, 3));
        // SAFETY: `root` is the live kernel root built by `init_kernel_tables`, reachable via
        // the direct map; only an empty direct-map slot is filled, so no mapping in use
        // changes.
        unsafe {
            let mapped = Aarch64PageTable::is_valid(l1.read_volatile()) && {
                let table = Aarch64PageTable::address(l1.read_volatile());
                Aarch64PageTable::is_valid(entry(table, index(va, 2)).read_volatile())
            };
            if !mapped {
                map(root, va, g * GIB, PageFlags::KERNEL_DEVICE, 2);
            }
        }
        g += 1;
    }
    flush_all();
}
