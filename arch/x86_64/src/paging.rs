//! 4-level page-table entry format (Intel SDM vol. 3A §4.5, tables 4-14 to 4-20) and the
//! boot-time address-space fix-ups.

use arch_api::{PageFlags, PageTableFormat};

#[cfg(target_os = "none")]
use crate::cpu;

/// Virtual address of physical address 0 in the direct map (PML4 slot 256).
pub const DIRECT_MAP_OFFSET: u64 = 0xffff_8000_0000_0000;
/// Virtual address of physical address 0 in the kernel-image window (top 2 GiB).
pub const KERNEL_VMA: u64 = 0xffff_ffff_8000_0000;

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;
const ACCESSED: u64 = 1 << 5;
const DIRTY: u64 = 1 << 6;
/// PS: a leaf at level 1 (2 MiB) or 2 (1 GiB). At level 0 this bit is PAT instead.
const HUGE: u64 = 1 << 7;
const GLOBAL: u64 = 1 << 8;
const NO_EXECUTE: u64 = 1 << 63;
/// Bits 12..51: the physical address of a 4 KiB-aligned table or page.
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// The x86_64 entry encoding, used by `mm`'s generic walker.
pub struct X86PageTable;

impl PageTableFormat for X86PageTable {
    fn is_valid(pte: u64) -> bool {
        pte & PRESENT != 0
    }

    fn is_table(pte: u64, level: usize) -> bool {
        level > 0 && pte & PRESENT != 0 && pte & HUGE == 0
    }

    fn make_table(pa: u64) -> u64 {
        // Access rights are the intersection of all levels, so tables grant everything and the
        // leaf decides (user access included).
        (pa & ADDRESS_MASK) | PRESENT | WRITABLE | USER
    }

    fn make_leaf(pa: u64, flags: PageFlags, level: usize) -> u64 {
        // A and D preset: the CPU would otherwise set them with a locked write on first use.
        let mut pte = (pa & ADDRESS_MASK) | PRESENT | ACCESSED | DIRTY;
        if level > 0 {
            pte |= HUGE;
        }
        if flags.write {
            pte |= WRITABLE;
        }
        if !flags.exec {
            pte |= NO_EXECUTE;
        }
        if flags.user {
            pte |= USER;
        }
        if flags.device {
            pte |= CACHE_DISABLE | WRITE_THROUGH;
        }
        if flags.global {
            pte |= GLOBAL;
        }
        pte
    }

    fn address(pte: u64) -> u64 {
        pte & ADDRESS_MASK
    }

    fn flags(pte: u64) -> PageFlags {
        PageFlags {
            write: pte & WRITABLE != 0,
            exec: pte & NO_EXECUTE == 0,
            user: pte & USER != 0,
            device: pte & CACHE_DISABLE != 0,
            global: pte & GLOBAL != 0,
        }
    }

    fn flush(va: u64) {
        x86_64::instructions::tlb::flush(x86_64::VirtAddr::new_truncate(va));
    }
}

/// End of the user half (exclusive): PML4 slots 0..256, the lower canonical half.
pub const USER_END: u64 = 0x0000_8000_0000_0000;
/// First PML4 slot of the kernel half.
const KERNEL_HALF: usize = 256;

/// Physical address of the kernel's own PML4 (the boot PML4), recorded by
/// [`populate_kernel_half`]; 0 until then.
#[cfg(target_os = "none")]
static KERNEL_ROOT: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

#[cfg(target_os = "none")]
/// Physical address of the kernel's PML4: the one CR3 holds when no user address space is
/// active, whose kernel half every user root shares.
pub fn root() -> u64 {
    match KERNEL_ROOT.load(core::sync::atomic::Ordering::Relaxed) {
        0 => cpu::read_cr3() & ADDRESS_MASK,
        r => r,
    }
}

/// Empty PDPTs for the kernel-half PML4 slots the boot tables leave empty (all but the
/// direct map and the kernel window), so that no kernel mapping ever adds a PML4 entry:
/// user roots copy the 256 kernel entries once and see every later kernel mapping.
#[cfg(target_os = "none")]
const SPARE_PDPTS: usize = 256 - 2;

#[cfg(target_os = "none")]
#[repr(C, align(4096))]
struct SparePdpts(core::cell::UnsafeCell<[[u64; 512]; SPARE_PDPTS]>);

// SAFETY: written (zeroed by the .bss clear) before paging uses them; afterwards only the MMU
// and `mm`'s walker (through the direct map, under the kernel's page-table discipline) touch
// them.
#[cfg(target_os = "none")]
unsafe impl Sync for SparePdpts {}

#[cfg(target_os = "none")]
static SPARE: SparePdpts = SparePdpts(core::cell::UnsafeCell::new([[0; 512]; SPARE_PDPTS]));

/// Point every empty kernel-half PML4 slot of the boot PML4 (the active one) at an empty
/// PDPT, and remember that PML4 as the kernel root. Supervisor-only at the PML4 level (no
/// U/S bit), so whatever is mapped below can never be reached from user mode.
#[cfg(target_os = "none")]
pub fn populate_kernel_half() {
    let pml4_pa = cpu::read_cr3() & ADDRESS_MASK;
    let pml4 = (pml4_pa + DIRECT_MAP_OFFSET) as *mut u64;
    let spare = SPARE.0.get() as *const [u64; 512];
    let mut used = 0;
    for slot in KERNEL_HALF..512 {
        // SAFETY: the active PML4 is a RAM page in the direct map; slot < 512.
        let entry = unsafe { pml4.add(slot) };
        // SAFETY: as above; boot is single-threaded, nothing else writes the PML4 now.
        if unsafe { entry.read_volatile() } & PRESENT != 0 {
            continue;
        }
        assert!(
            used < SPARE_PDPTS,
            "more empty kernel PML4 slots than spare PDPTs"
        );
        // SAFETY: `used` < SPARE_PDPTS; only the address is taken.
        let pdpt_pa = unsafe { spare.add(used) } as u64 - KERNEL_VMA;
        used += 1;
        // SAFETY: as above. The new PDPT is zeroed (.bss), so the entry maps nothing yet.
        unsafe { entry.write_volatile(pdpt_pa | PRESENT | WRITABLE) };
    }
    KERNEL_ROOT.store(pml4_pa, core::sync::atomic::Ordering::Relaxed);
}

/// Copy the kernel half of the kernel root into the (zeroed) user root at physical `root`.
#[cfg(target_os = "none")]
pub fn init_user_root(user_root: u64) {
    let kernel = (root() + DIRECT_MAP_OFFSET) as *const u64;
    let user = (user_root + DIRECT_MAP_OFFSET) as *mut u64;
    // SAFETY: both are RAM pages in the direct map (the caller gives a frame it owns for the
    // user root); the kernel half's entries never change after `populate_kernel_half`.
    unsafe {
        core::ptr::copy_nonoverlapping(
            kernel.add(KERNEL_HALF),
            user.add(KERNEL_HALF),
            512 - KERNEL_HALF,
        );
    }
}

/// Load CR3 with a user root, or the kernel root for `None`.
///
/// # Safety
/// As [`arch_api::Arch::activate_user_root`]: `user_root` made by [`init_user_root`].
#[cfg(target_os = "none")]
pub unsafe fn activate_user_root(user_root: Option<u64>) {
    let pa = user_root.unwrap_or_else(root);
    // SAFETY: forwarded to the caller; the kernel half is the kernel root's, so the running
    // code, its stack and data stay mapped (and global kernel pages stay in the TLB).
    unsafe { cpu::write_cr3(pa & ADDRESS_MASK) };
}

#[cfg(target_os = "none")]
/// Make `root` the active PML4.
///
/// # Safety
/// `root` must map the kernel image, the direct map and the current stack as before.
pub unsafe fn activate(root: u64) {
    // SAFETY: forwarded to the caller.
    unsafe { cpu::write_cr3(root & ADDRESS_MASK) };
}

#[cfg(target_os = "none")]
/// Drop the boot identity map (PML4 slot 0), so that low addresses fault from now on.
pub fn remove_identity_map() {
    let pml4 = (root() + DIRECT_MAP_OFFSET) as *mut u64;
    // SAFETY: the boot PML4 is reachable through the direct map; slot 0 holds only the
    // temporary identity map, which nothing uses any more (code, stack and data are all in
    // the higher half). Reloading CR3 flushes the stale translations.
    unsafe {
        pml4.write_volatile(0);
        cpu::write_cr3(cpu::read_cr3());
    }
}

/// Page tables for the kernel window: one page directory and up to this many page tables
/// (each maps 2 MiB of the image with 4 KiB pages; beyond that, 2 MiB pages with all rights).
#[cfg(target_os = "none")]
const KERNEL_PTS: usize = 16;

#[cfg(target_os = "none")]
#[repr(C, align(4096))]
struct KernelTables(core::cell::UnsafeCell<[[u64; 512]; 1 + KERNEL_PTS]>);

// SAFETY: written once by the boot CPU in `protect_kernel_image` before anything else runs;
// afterwards only the MMU (and `mm`'s walker, through the direct map) reads them.
#[cfg(target_os = "none")]
unsafe impl Sync for KernelTables {}

#[cfg(target_os = "none")]
static KERNEL_TABLES: KernelTables =
    KernelTables(core::cell::UnsafeCell::new([[0; 512]; 1 + KERNEL_PTS]));

#[cfg(target_os = "none")]
unsafe extern "C" {
    static __kernel_phys_start: u8;
    static __kernel_virt_start: u8;
    static __rodata_start: u8;
    static __data_start: u8;
    static __kernel_virt_end: u8;
}

/// Remap the kernel window (PML4 511, PDPT 510, until now the first GiB with 2 MiB RWX pages)
/// with 4 KiB pages and per-section rights: text RX, read-only data R+NX, data and .bss RW+NX,
/// the low-linked boot sections R+NX; nothing outside the image, and not the page at `guard`
/// (the boot stack's guard page). All global.
#[cfg(target_os = "none")]
pub fn protect_kernel_image(guard: u64) {
    let va_of = |p: *const u8| p as u64;
    let phys_start = va_of(&raw const __kernel_phys_start);
    let text = va_of(&raw const __kernel_virt_start);
    let rodata = va_of(&raw const __rodata_start);
    let data = va_of(&raw const __data_start);
    let end = va_of(&raw const __kernel_virt_end);
    let image_start = KERNEL_VMA + phys_start;
    let rights = |va: u64| -> Option<PageFlags> {
        match va {
            _ if va < image_start || va >= end || va == guard => None,
            _ if va < text => Some(PageFlags::KERNEL_RODATA),
            _ if va < rodata => Some(PageFlags::KERNEL_CODE),
            _ if va < data => Some(PageFlags::KERNEL_RODATA),
            _ => Some(PageFlags::KERNEL_DATA),
        }
    };
    // SAFETY: single-threaded boot, and the tables are not yet reachable by the MMU (see the
    // Sync impl).
    let tables = unsafe { &mut *KERNEL_TABLES.0.get() };
    let (pd, pts) = tables
        .split_first_mut()
        .expect("at least the page directory");
    const BLOCK: u64 = 2 << 20;
    let mut next_pt = 0;
    let mut block = image_start & !(BLOCK - 1);
    while block < end {
        let slot = ((block >> 21) & 511) as usize;
        if let Some(pt) = pts.get_mut(next_pt) {
            next_pt += 1;
            for (i, pte) in pt.iter_mut().enumerate() {
                let va = block + i as u64 * arch_api::PAGE_SIZE;
                *pte = rights(va).map_or(0, |f| X86PageTable::make_leaf(va - KERNEL_VMA, f, 0));
            }
            pd[slot] = X86PageTable::make_table(pt.as_ptr() as u64 - KERNEL_VMA);
        } else {
            let all = PageFlags {
                write: true,
                exec: true,
                user: false,
                device: false,
                global: true,
            };
            pd[slot] = X86PageTable::make_leaf(block - KERNEL_VMA, all, 1);
        }
        block += BLOCK;
    }
    // Kernel-only tables: no user bit anywhere on this path.
    pd.iter_mut().for_each(|e| *e &= !USER);
    let pdpt = (read_entry(root(), 511) & ADDRESS_MASK) + DIRECT_MAP_OFFSET;
    let pd_pa = pd.as_ptr() as u64 - KERNEL_VMA;
    // SAFETY: `pdpt` is the boot kernel-window PDPT in the direct map. The new directory maps
    // every page the kernel uses at the same physical address as before, so switching the
    // entry is invisible to running code; the CR3 reload drops the old (non-global) entries.
    unsafe {
        ((pdpt as *mut u64).add(510)).write_volatile((pd_pa & ADDRESS_MASK) | PRESENT | WRITABLE);
        cpu::write_cr3(cpu::read_cr3());
    }
}

/// Entry `index` of the table at physical `table`, read through the direct map.
#[cfg(target_os = "none")]
fn read_entry(table: u64, index: usize) -> u64 {
    // SAFETY: page tables are in RAM covered by the direct map; `index` < 512.
    unsafe {
        ((table + DIRECT_MAP_OFFSET) as *const u64)
            .add(index)
            .read_volatile()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type F = X86PageTable;

    #[test]
    fn leaf_encodings() {
        let pte = F::make_leaf(0x1234_5000, PageFlags::KERNEL_DATA, 0);
        assert_eq!(pte, 0x8000_0000_1234_5000 | 0x163);
        assert!(F::is_valid(pte));
        assert_eq!(F::address(pte), 0x1234_5000);
        assert_eq!(F::flags(pte), PageFlags::KERNEL_DATA);

        let code = F::make_leaf(0x20_0000, PageFlags::KERNEL_CODE, 1);
        assert_eq!(code & NO_EXECUTE, 0);
        assert_ne!(code & HUGE, 0);
        assert!(!F::is_table(code, 1));
        assert_eq!(F::flags(code), PageFlags::KERNEL_CODE);

        let dev = F::make_leaf(0xfee0_0000, PageFlags::KERNEL_DEVICE, 0);
        assert_eq!(
            dev & (CACHE_DISABLE | WRITE_THROUGH),
            CACHE_DISABLE | WRITE_THROUGH
        );
        assert_eq!(dev & HUGE, 0, "bit 7 at level 0 is PAT, not PS");
        assert_eq!(F::flags(dev), PageFlags::KERNEL_DEVICE);

        let user = PageFlags {
            write: false,
            exec: true,
            user: true,
            device: false,
            global: false,
        };
        let gig = F::make_leaf(0x4000_0000, user, 2);
        assert_eq!(F::flags(gig), user);
        assert_eq!(F::address(gig), 0x4000_0000);
    }

    #[test]
    fn tables() {
        let t = F::make_table(0x7000);
        assert!(F::is_valid(t));
        assert!(F::is_table(t, 1) && F::is_table(t, 3));
        assert_eq!(F::address(t), 0x7000);
        assert!(!F::is_valid(0));
        assert!(!F::is_table(0, 2));
    }
}
