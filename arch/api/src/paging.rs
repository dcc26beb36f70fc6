//! Page-table entry formats. Both x86_64 (4-level, 4 KiB) and aarch64 (4 KiB granule, 48-bit VA,
//! 4 levels) use 512-entry tables indexed by 9 VA bits per level, so one walker in `mm` serves
//! both; the arch only says how an entry is encoded.

/// Size of a base page.
pub const PAGE_SIZE: u64 = 4096;
/// Entries in one page-table page.
pub const ENTRIES_PER_TABLE: usize = 512;

/// Access rights and attributes of a mapping, arch-neutral.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageFlags {
    pub write: bool,
    pub exec: bool,
    pub user: bool,
    /// Device memory: uncached, no speculation (MMIO).
    pub device: bool,
    /// Present in every address space (kernel mappings).
    pub global: bool,
}

impl PageFlags {
    /// Kernel read/write data.
    pub const KERNEL_DATA: Self = Self {
        write: true,
        exec: false,
        user: false,
        device: false,
        global: true,
    };
    /// Kernel code.
    pub const KERNEL_CODE: Self = Self {
        write: false,
        exec: true,
        user: false,
        device: false,
        global: true,
    };
    /// Kernel read-only data.
    pub const KERNEL_RODATA: Self = Self {
        write: false,
        exec: false,
        user: false,
        device: false,
        global: true,
    };
    /// Kernel view of device registers.
    pub const KERNEL_DEVICE: Self = Self {
        write: true,
        exec: false,
        user: false,
        device: true,
        global: true,
    };
}

/// How one architecture encodes page-table entries.
///
/// Levels count from the leaf: level 0 maps 4 KiB pages, level 1 entries can map 2 MiB blocks,
/// level 2 entries 1 GiB blocks, level 3 is the root.
pub trait PageTableFormat {
    /// Whether the entry is valid (present).
    fn is_valid(pte: u64) -> bool;
    /// Whether a valid entry at `level` (> 0) points to a next-level table rather than a block.
    fn is_table(pte: u64, level: usize) -> bool;
    /// An entry pointing to the next-level table at physical address `pa`.
    fn make_table(pa: u64) -> u64;
    /// A leaf entry mapping `pa` at `level` (0: page, 1: 2 MiB block, 2: 1 GiB block).
    fn make_leaf(pa: u64, flags: PageFlags, level: usize) -> u64;
    /// Physical address an entry (table or leaf) points to.
    fn address(pte: u64) -> u64;
    /// Flags of a leaf entry.
    fn flags(pte: u64) -> PageFlags;
    /// Invalidate this CPU's TLB entry for `va` (and broadcast where the arch does so).
    fn flush(va: u64);
}
