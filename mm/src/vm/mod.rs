//! User address spaces: VMAs, the `mmap` family, `brk`, page faults, copy-on-write `fork`.
//!
//! An [`AddressSpace`] owns a [`PageTable`] (user half) and a `BTreeMap` of [`Vma`]s keyed by
//! start address. Pages are 4 KiB; every page-table entry that maps a user page holds one
//! reference on its frame ([`PageMemory::get_page`] / [`PageMemory::put_page`]), so a page
//! shared by `fork` (copy-on-write or `MAP_SHARED`) is freed when its last mapping goes.
//!
//! Protection is kept in the VMA; the entries follow it, except that a private page whose frame
//! has more than one reference is mapped read-only until a write fault copies it. `PROT_NONE`
//! pages stay mapped as kernel-only entries (user access faults as a protection violation) so
//! their contents survive an `mprotect` round trip.
//!
//! `MAP_SHARED` mappings are populated when created, so `fork` shares their frames (except
//! over a coherent page cache, [`PageSource::coherent`], where faults find the shared frame
//! anyway). File pages
//! come from the [`PageSource`]: from its page cache if it has one
//! ([`PageSource::cached_page`]: shared mappings share the cache frame, so writes through them
//! are the file's data, coherent with `read`/`write` and every other mapping; private ones map
//! it read-only and copy it on the first write). In the kernel, tmpfs files have one (frames
//! from `vfs::PageProvider`, `.teams/0021-page-cache.md`). A source without one gets its pages
//! copied into pages of the mapping's own (then a shared file mapping is a snapshot: writes do
//! not reach the file). `msync` only validates: there is nothing to write back. Page-table
//! pages are reclaimed only by [`AddressSpace::clear`] and drop. See
//! `.teams/0009-address-spaces.md`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use arch_api::{PAGE_SIZE, PageFlags, PageTableFormat};
use syscall::Errno;

use crate::page_table::{PageSize, PageTable, TableMemory, Translation};

mod fault;
mod fork;
mod map;
mod remap;
mod vma;

#[cfg(test)]
mod tests;

pub use fault::FaultError;
pub use map::{MADV_DONTNEED, MADV_FREE, MS_ASYNC, MS_INVALIDATE, MS_SYNC, MapFile};
pub use vma::{FileMap, Vma};

/// `PROT_*` bits (same on every Linux arch).
pub const PROT_NONE: u32 = 0;
pub const PROT_READ: u32 = 1;
pub const PROT_WRITE: u32 = 2;
pub const PROT_EXEC: u32 = 4;
pub const PROT_SEM: u32 = 8;
pub const PROT_GROWSDOWN: u32 = 0x0100_0000;
pub const PROT_GROWSUP: u32 = 0x0200_0000;

/// `MAP_*` flags (x86_64 and aarch64 share these values).
pub const MAP_SHARED: u32 = 0x01;
pub const MAP_PRIVATE: u32 = 0x02;
pub const MAP_SHARED_VALIDATE: u32 = 0x03;
pub const MAP_TYPE: u32 = 0x0f;
pub const MAP_FIXED: u32 = 0x10;
pub const MAP_ANONYMOUS: u32 = 0x20;
pub const MAP_GROWSDOWN: u32 = 0x0100;
pub const MAP_DENYWRITE: u32 = 0x0800;
pub const MAP_EXECUTABLE: u32 = 0x1000;
pub const MAP_LOCKED: u32 = 0x2000;
pub const MAP_NORESERVE: u32 = 0x4000;
pub const MAP_POPULATE: u32 = 0x8000;
pub const MAP_NONBLOCK: u32 = 0x1_0000;
pub const MAP_STACK: u32 = 0x2_0000;
pub const MAP_HUGETLB: u32 = 0x4_0000;
pub const MAP_SYNC: u32 = 0x8_0000;
pub const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;

/// `mremap` flags.
pub const MREMAP_MAYMOVE: u32 = 1;
pub const MREMAP_FIXED: u32 = 2;
pub const MREMAP_DONTUNMAP: u32 = 4;

/// End of the user half on x86_64: Linux's `TASK_SIZE` for 4-level paging, one page below
/// 2^47, so that no user instruction ends at the canonical boundary (a `syscall` there would
/// leave a non-canonical RCX for `sysret`). Errnos for huge lengths match Linux with it.
pub const USER_END_X86_64: u64 = 0x0000_7fff_ffff_f000;
/// End of the user half on aarch64 (48-bit VA through TTBR0).
pub const USER_END_AARCH64: u64 = 1 << 48;

/// Where a file-backed mapping's pages come from. The kernel implements it over vfs files.
pub trait PageSource: Send + Sync {
    /// Fill `page` (one page) with the contents at byte `offset` (page aligned). Bytes past the
    /// end of the file must be zero; an offset wholly past the end is an error (the fault
    /// becomes SIGBUS).
    fn read_page(&self, offset: u64, page: &mut [u8]) -> Result<(), Errno>;

    /// A page-cache frame holding the page at `offset`, with one reference taken for the
    /// caller (through `mem.get_page`; the mapping drops it on unmap). With it, `MAP_SHARED`
    /// mappings share the cache page (coherent with each other and with `read`/`write` through
    /// the cache) and private mappings map it read-only and copy on the first write, as in
    /// Linux. `None` (the default): no cache, `read_page` fills a page of the mapping's own.
    fn cached_page(&self, offset: u64, mem: &mut dyn PageMemory) -> Option<Result<u64, Errno>> {
        let _ = (offset, mem);
        None
    }

    /// Whether [`PageSource::cached_page`] serves every page, one frame per file page for
    /// every mapping (a page cache). Then `MAP_SHARED` mappings are not populated at mmap: a
    /// fault in any process (a fork child included) finds the same frame, so pages are
    /// allocated on first touch as in Linux, and a page past a truncated end that was never
    /// touched faults as SIGBUS. Default `false`.
    fn coherent(&self) -> bool {
        false
    }

    /// The object behind the source, so the kernel can find its file again (e.g. for
    /// `/proc/<pid>/maps`) by downcasting.
    fn as_any(&self) -> Option<&dyn core::any::Any> {
        None
    }
}

/// What user pages need from memory, beyond page-table pages. Physical addresses throughout;
/// the kernel implements it over the frame allocator ([`crate::frame::FrameAllocator::get`]
/// and `put`) and the direct map.
pub trait PageMemory: TableMemory {
    /// A zeroed page holding one reference, or `None` if memory is exhausted.
    fn alloc_page(&mut self) -> Option<u64>;
    /// Take one more reference on a page.
    fn get_page(&mut self, pa: u64);
    /// Drop one reference; frees the page when it was the last. Returns whether it was freed.
    fn put_page(&mut self, pa: u64) -> bool;
    /// References held on a page.
    fn page_refs(&self, pa: u64) -> u32;
    /// Copy page `src` into page `dst`.
    fn copy_page(&mut self, dst: u64, src: u64);
    /// Write `data` into page `pa` at byte `offset` (`offset + data.len() <= PAGE_SIZE`).
    fn write_page(&mut self, pa: u64, offset: usize, data: &[u8]);
    /// Read `out.len()` bytes of page `pa` from byte `offset`.
    fn read_page(&self, pa: u64, offset: usize, out: &mut [u8]);
    /// Fill page `pa` through `fill`, which gets a page-sized buffer. The default goes through
    /// a stack buffer and [`PageMemory::write_page`]; the kernel can hand out the page itself.
    fn fill_page(
        &mut self,
        pa: u64,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let mut buf = [0u8; PAGE_SIZE as usize];
        fill(&mut buf)?;
        self.write_page(pa, 0, &buf);
        Ok(())
    }
}

/// Where things go in a new address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// First address past the user half ([`USER_END_X86_64`], [`USER_END_AARCH64`]).
    pub user_end: u64,
    /// Mappings without a usable hint are placed top-down below this address.
    pub mmap_base: u64,
    /// Lowest address a mapping may use (Linux's `vm.mmap_min_addr`, 64 KiB by default).
    pub min_addr: u64,
    /// Largest size a `MAP_GROWSDOWN` mapping grows to on faults (RLIMIT_STACK, 8 MiB).
    pub stack_limit: u64,
}

impl Layout {
    /// Linux-like defaults for `user_end`: `mmap_base` 1 GiB plus 8 MiB of stack below the top.
    pub const fn new(user_end: u64) -> Self {
        Self {
            user_end,
            mmap_base: user_end - (1 << 30) - (8 << 20),
            min_addr: 0x1_0000,
            stack_limit: 8 << 20,
        }
    }
}

pub(crate) const fn page_down(a: u64) -> u64 {
    a & !(PAGE_SIZE - 1)
}

/// `a` rounded up to a page, or `None` on overflow.
pub(crate) const fn page_up(a: u64) -> Option<u64> {
    match a.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(page_down(v)),
        None => None,
    }
}

/// A process's user address space.
pub struct AddressSpace<F: PageTableFormat, M: PageMemory> {
    table: PageTable<F, M>,
    vmas: BTreeMap<u64, Vma>,
    layout: Layout,
    brk_start: u64,
    brk: u64,
}

impl<F: PageTableFormat, M: PageMemory> AddressSpace<F, M> {
    /// An empty address space over `table`, whose user half (below `layout.user_end`) must be
    /// empty; anything above it (the kernel half on x86_64) is left alone. The address space
    /// owns the root table and frees it when dropped (switch away from it first).
    pub fn new(table: PageTable<F, M>, layout: Layout) -> Self {
        Self {
            table,
            vmas: BTreeMap::new(),
            layout,
            brk_start: 0,
            brk: 0,
        }
    }

    /// The root table's physical address (for CR3 / TTBR0).
    pub fn root(&self) -> u64 {
        self.table.root()
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The page table, e.g. for the memory accessor's statistics in tests.
    pub fn table(&self) -> &PageTable<F, M> {
        &self.table
    }

    /// Every VMA, in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.values()
    }

    /// The VMA containing `addr`.
    pub fn vma_at(&self, addr: u64) -> Option<&Vma> {
        self.vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// Where the mapping at `addr` is, if a page is present: physical address and flags.
    pub fn translate(&self, addr: u64) -> Option<Translation> {
        self.table.translate(addr)
    }

    /// Bytes covered by VMAs (`VmSize`, `ps`'s VSZ).
    pub fn virtual_size(&self) -> u64 {
        self.vmas.values().map(Vma::len).sum()
    }

    /// Pages present in the page table (`VmRSS` in pages, shared ones included).
    pub fn resident_pages(&self) -> u64 {
        let mut n = 0;
        self.table
            .for_each_leaf(0, self.layout.user_end, &mut |_, _| n += 1);
        n
    }

    /// Set the program break's start (page-rounded end of the loaded image); `brk` grows from
    /// here and never goes below it.
    pub fn init_brk(&mut self, addr: u64) {
        let a = page_up(addr).unwrap_or(addr);
        self.brk_start = a;
        self.brk = a;
    }

    /// The current program break.
    pub fn current_brk(&self) -> u64 {
        self.brk
    }

    /// Unmap everything below `user_end` and free every page and page-table page it used,
    /// keeping the root (for `execve`).
    pub fn clear(&mut self) {
        let mut pages = Vec::new();
        self.table
            .clear_below(self.layout.user_end, &mut |pa, size| {
                debug_assert_eq!(size, PageSize::Size4K);
                pages.push(pa)
            });
        let mem = self.table.memory_mut();
        for pa in pages {
            mem.put_page(pa);
        }
        self.vmas.clear();
        self.brk_start = 0;
        self.brk = 0;
    }

    /// Whether no VMA overlaps `[start, end)`.
    fn is_free(&self, start: u64, end: u64) -> bool {
        self.vmas
            .range(..end)
            .next_back()
            .is_none_or(|(_, v)| v.end <= start)
    }

    /// Split the VMA that strictly contains `addr` (if any) so that a VMA starts at `addr`.
    fn split_at(&mut self, addr: u64) {
        let Some((&start, v)) = self.vmas.range_mut(..addr).next_back() else {
            return;
        };
        if v.end > addr && start < addr {
            let upper = v.split(addr);
            self.vmas.insert(addr, upper);
        }
    }

    /// Leaves present in `[start, end)`.
    fn leaves(&self, start: u64, end: u64) -> Vec<(u64, Translation)> {
        let mut out = Vec::new();
        self.table
            .for_each_leaf(start, end, &mut |va, t| out.push((va, t)));
        out
    }

    /// Unmap the pages present in `[start, end)` and drop their references.
    fn unmap_pages(&mut self, start: u64, end: u64) {
        for (va, _) in self.leaves(start, end) {
            if let Ok((pa, _)) = self.table.unmap(va) {
                self.table.memory_mut().put_page(pa);
            }
        }
    }

    /// Remove every mapping in `[start, end)` (page aligned), splitting VMAs at the edges.
    /// Never reaches past the user half, whatever a caller computed: the page tables there
    /// are the kernel's.
    fn remove_range(&mut self, start: u64, end: u64) {
        let end = end.min(self.layout.user_end);
        if start >= end {
            return;
        }
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.vmas.range(start..end).map(|(k, _)| *k).collect();
        for k in keys {
            self.vmas.remove(&k);
        }
        self.unmap_pages(start, end);
    }

    /// Insert a VMA over a free range and merge it with compatible neighbours.
    fn insert(&mut self, vma: Vma) {
        let (start, end) = (vma.start, vma.end);
        self.vmas.insert(start, vma);
        self.merge_range(start, end);
    }

    /// Merge compatible adjacent VMAs from the one before `start` to the one at `end`.
    fn merge_range(&mut self, start: u64, end: u64) {
        let first = self
            .vmas
            .range(..start)
            .next_back()
            .map_or(start, |(k, _)| *k);
        let keys: Vec<u64> = self.vmas.range(first..=end).map(|(k, _)| *k).collect();
        let mut cur = None::<u64>;
        for k in keys {
            if let Some(c) = cur {
                let can = self.vmas[&c].can_merge(&self.vmas[&k]);
                if can {
                    let next = self.vmas.remove(&k).map_or(k, |v| v.end);
                    if let Some(v) = self.vmas.get_mut(&c) {
                        v.end = next;
                    }
                    continue;
                }
            }
            cur = Some(k);
        }
    }

    /// Entry flags for a page of `vma`; `exclusive` says whether a private page may be written
    /// (its frame has no other reference).
    fn pte_flags(vma: &Vma, exclusive: bool) -> PageFlags {
        PageFlags {
            write: vma.prot & PROT_WRITE != 0 && (vma.shared || exclusive),
            exec: vma.prot & PROT_EXEC != 0,
            user: vma.prot != PROT_NONE,
            device: false,
            global: false,
        }
    }

    /// Re-derive the entries of present pages in `[start, end)` from their VMA.
    fn reprotect(&mut self, start: u64, end: u64) {
        for (va, t) in self.leaves(start, end) {
            let Some(vma) = self.vma_at(va) else { continue };
            let exclusive = self.table.memory().page_refs(t.pa) == 1;
            let flags = Self::pte_flags(vma, exclusive);
            if flags != t.flags {
                let _ = self.table.protect(va, flags);
            }
        }
    }

    /// Whether a new shared range of `vma` must be populated now for `fork` to share its
    /// pages: shared, and not backed by a coherent page cache ([`PageSource::coherent`]).
    fn shares_by_populate(vma: &Vma) -> bool {
        vma.shared && !vma.file.as_ref().is_some_and(|f| f.source.coherent())
    }

    /// Make `[start, end)` (page aligned, inside VMAs) present, as reads would. Pages the
    /// file cannot provide stay absent (touching them raises SIGBUS later, as in Linux); only
    /// running out of memory is an error.
    fn populate_range(&mut self, start: u64, end: u64) -> Result<(), FaultError> {
        let mut va = start;
        while va < end {
            match self.resolve(va, false) {
                Ok(_) | Err(FaultError::Bus) => {}
                Err(e) => return Err(e),
            }
            va += PAGE_SIZE;
        }
        Ok(())
    }

    /// A free range of `len` bytes: top-down below `mmap_base`, else bottom-up above it.
    fn find_gap(&self, len: u64) -> Option<u64> {
        let Layout {
            user_end,
            mmap_base,
            min_addr,
            ..
        } = self.layout;
        let mut hi = mmap_base;
        for (_, v) in self.vmas.range(..mmap_base).rev() {
            if v.end < hi && hi - v.end >= len {
                return Some(hi - len);
            }
            hi = hi.min(v.start);
        }
        if hi >= min_addr.saturating_add(len) {
            return Some(hi - len);
        }
        let mut lo = mmap_base;
        for (_, v) in self.vmas.range(..user_end) {
            if v.end <= lo {
                continue;
            }
            if v.start >= lo && v.start - lo >= len {
                return Some(lo);
            }
            lo = lo.max(v.end);
        }
        (user_end.saturating_sub(lo) >= len).then_some(lo)
    }
}

impl<F: PageTableFormat, M: PageMemory> Drop for AddressSpace<F, M> {
    fn drop(&mut self) {
        self.clear();
        let root = self.table.root();
        self.table.memory_mut().free_table(root);
    }
}
