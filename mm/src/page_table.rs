//! The arch-neutral page-table walker: map, unmap, protect, translate.
//!
//! Both of our arches use four levels of 512-entry tables with 4 KiB pages; the entry encoding
//! comes from the arch ([`PageTableFormat`]) and access to table pages from [`TableMemory`]
//! (the kernel's direct map, or plain host memory in tests).

use arch_api::{ENTRIES_PER_TABLE, PAGE_SIZE, PageFlags, PageTableFormat};
use core::marker::PhantomData;

/// Levels of translation; level `LEVELS - 1` is the root.
pub const LEVELS: usize = 4;

/// Size of one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSize {
    Size4K,
    Size2M,
    Size1G,
}

impl PageSize {
    pub const fn bytes(self) -> u64 {
        match self {
            PageSize::Size4K => PAGE_SIZE,
            PageSize::Size2M => 2 << 20,
            PageSize::Size1G => 1 << 30,
        }
    }

    const fn level(self) -> usize {
        match self {
            PageSize::Size4K => 0,
            PageSize::Size2M => 1,
            PageSize::Size1G => 2,
        }
    }

    const fn from_level(level: usize) -> Self {
        match level {
            0 => PageSize::Size4K,
            1 => PageSize::Size2M,
            _ => PageSize::Size1G,
        }
    }
}

/// Why a page-table operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// Something is already mapped there (or a larger block covers it).
    AlreadyMapped,
    /// Nothing is mapped there.
    NotMapped,
    /// No frame for a page-table page.
    OutOfMemory,
    /// Address not aligned to the page size.
    Misaligned,
    /// The operation targets part of a larger block mapping.
    InsideBlock,
}

/// The result of a successful translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the translated virtual address (offset included).
    pub pa: u64,
    pub flags: PageFlags,
    /// Size of the mapping that covers it.
    pub size: PageSize,
}

/// How the walker reaches and obtains page-table pages (physical addresses throughout).
pub trait TableMemory {
    /// Read entry `index` of the table at `table`.
    fn read(&self, table: u64, index: usize) -> u64;
    /// Write entry `index` of the table at `table`.
    fn write(&mut self, table: u64, index: usize, value: u64);
    /// A new zeroed table page, or `None` if memory is exhausted.
    fn alloc_table(&mut self) -> Option<u64>;
    /// Give back a table page that no entry references any more.
    fn free_table(&mut self, table: u64);
}

/// A page-table hierarchy rooted at a physical address.
pub struct PageTable<F: PageTableFormat, M: TableMemory> {
    root: u64,
    mem: M,
    _format: PhantomData<fn() -> F>,
}

const fn index(va: u64, level: usize) -> usize {
    ((va >> (12 + 9 * level)) as usize) & (ENTRIES_PER_TABLE - 1)
}

impl<F: PageTableFormat, M: TableMemory> PageTable<F, M> {
    /// Wrap an existing hierarchy (e.g. the active kernel page table).
    pub fn from_root(root: u64, mem: M) -> Self {
        Self {
            root,
            mem,
            _format: PhantomData,
        }
    }

    /// A new, empty hierarchy.
    pub fn new(mut mem: M) -> Result<Self, MapError> {
        let root = mem.alloc_table().ok_or(MapError::OutOfMemory)?;
        Ok(Self::from_root(root, mem))
    }

    pub fn root(&self) -> u64 {
        self.root
    }

    /// Walk to the table holding the entry for `va` at `level`, creating tables if `create`.
    fn table_for(&mut self, va: u64, level: usize, create: bool) -> Result<u64, MapError> {
        let mut table = self.root;
        for l in (level + 1..LEVELS).rev() {
            let i = index(va, l);
            let pte = self.mem.read(table, i);
            if F::is_valid(pte) {
                if !F::is_table(pte, l) {
                    return Err(MapError::InsideBlock);
                }
                table = F::address(pte);
            } else if create {
                let next = self.mem.alloc_table().ok_or(MapError::OutOfMemory)?;
                self.mem.write(table, i, F::make_table(next));
                table = next;
            } else {
                return Err(MapError::NotMapped);
            }
        }
        Ok(table)
    }

    /// Find the leaf entry covering `va`: (table, index, level, entry).
    fn leaf(&self, va: u64) -> Option<(u64, usize, usize, u64)> {
        let mut table = self.root;
        for l in (0..LEVELS).rev() {
            let i = index(va, l);
            let pte = self.mem.read(table, i);
            if !F::is_valid(pte) {
                return None;
            }
            if l == 0 || !F::is_table(pte, l) {
                return Some((table, i, l, pte));
            }
            table = F::address(pte);
        }
        None
    }

    /// Map `va` to `pa` with one mapping of `size`.
    pub fn map(
        &mut self,
        va: u64,
        pa: u64,
        size: PageSize,
        flags: PageFlags,
    ) -> Result<(), MapError> {
        let bytes = size.bytes();
        if !va.is_multiple_of(bytes) || !pa.is_multiple_of(bytes) {
            return Err(MapError::Misaligned);
        }
        let level = size.level();
        let table = match self.table_for(va, level, true) {
            Err(MapError::InsideBlock) => return Err(MapError::AlreadyMapped),
            other => other?,
        };
        let i = index(va, level);
        if F::is_valid(self.mem.read(table, i)) {
            return Err(MapError::AlreadyMapped);
        }
        self.mem.write(table, i, F::make_leaf(pa, flags, level));
        Ok(())
    }

    /// Map `[va, va + len)` to `[pa, pa + len)` using the largest pages alignment allows,
    /// leaving alone any part that is already mapped (at the granularity of its mapping).
    /// Returns the number of bytes newly mapped.
    pub fn map_range(
        &mut self,
        va: u64,
        pa: u64,
        len: u64,
        flags: PageFlags,
    ) -> Result<u64, MapError> {
        if !va.is_multiple_of(PAGE_SIZE)
            || !pa.is_multiple_of(PAGE_SIZE)
            || !len.is_multiple_of(PAGE_SIZE)
        {
            return Err(MapError::Misaligned);
        }
        self.map_range_upto(va, pa, len, flags, PageSize::Size1G)
    }

    fn map_range_upto(
        &mut self,
        va: u64,
        pa: u64,
        len: u64,
        flags: PageFlags,
        max: PageSize,
    ) -> Result<u64, MapError> {
        let (mut off, mut mapped) = (0, 0);
        while off < len {
            let (v, p, left) = (va + off, pa + off, len - off);
            if let Some(t) = self.translate(v) {
                // Skip to the end of the existing mapping.
                let b = t.size.bytes();
                off += b - (v % b);
                continue;
            }
            let size = [PageSize::Size1G, PageSize::Size2M, PageSize::Size4K]
                .into_iter()
                .filter(|s| s.level() <= max.level())
                .find(|s| {
                    v.is_multiple_of(s.bytes()) && p.is_multiple_of(s.bytes()) && left >= s.bytes()
                })
                .unwrap_or(PageSize::Size4K);
            match self.map(v, p, size, flags) {
                Ok(()) => mapped += size.bytes(),
                // Smaller mappings already sit inside this block: fill around them.
                Err(MapError::AlreadyMapped) if size != PageSize::Size4K => {
                    let smaller = PageSize::from_level(size.level() - 1);
                    mapped += self.map_range_upto(v, p, size.bytes(), flags, smaller)?;
                }
                Err(e) => return Err(e),
            }
            off += size.bytes();
        }
        Ok(mapped)
    }

    /// Remove the mapping that starts at `va`; returns its physical address and size.
    /// Page-table pages left empty are not reclaimed here.
    pub fn unmap(&mut self, va: u64) -> Result<(u64, PageSize), MapError> {
        let (table, i, level, pte) = self.leaf(va).ok_or(MapError::NotMapped)?;
        let size = PageSize::from_level(level);
        if !va.is_multiple_of(size.bytes()) {
            return Err(MapError::InsideBlock);
        }
        self.mem.write(table, i, 0);
        F::flush(va);
        Ok((F::address(pte), size))
    }

    /// Change the flags of the mapping that starts at `va`.
    pub fn protect(&mut self, va: u64, flags: PageFlags) -> Result<PageSize, MapError> {
        let (table, i, level, pte) = self.leaf(va).ok_or(MapError::NotMapped)?;
        let size = PageSize::from_level(level);
        if !va.is_multiple_of(size.bytes()) {
            return Err(MapError::InsideBlock);
        }
        self.mem
            .write(table, i, F::make_leaf(F::address(pte), flags, level));
        F::flush(va);
        Ok(size)
    }

    /// Translate `va` to a physical address, with the mapping's flags and size.
    pub fn translate(&self, va: u64) -> Option<Translation> {
        let (_, _, level, pte) = self.leaf(va)?;
        let size = PageSize::from_level(level);
        Some(Translation {
            pa: F::address(pte) + (va % size.bytes()),
            flags: F::flags(pte),
            size,
        })
    }

    /// Tear down every mapping below `end` (a user half), calling `on_leaf` with each leaf's
    /// physical address and size, and free the table pages that held them. Table pages that
    /// also map addresses at or above `end` are kept, as is the root.
    pub fn clear_below(&mut self, end: u64, on_leaf: &mut dyn FnMut(u64, PageSize)) {
        let root = self.root;
        self.clear_table(root, LEVELS - 1, 0, end, on_leaf);
    }

    /// Clear the entries of `table` (at `level`, mapping from `base`) that lie below `end`;
    /// returns whether the whole table is now empty.
    fn clear_table(
        &mut self,
        table: u64,
        level: usize,
        base: u64,
        end: u64,
        on_leaf: &mut dyn FnMut(u64, PageSize),
    ) -> bool {
        let span = 1u64 << (12 + 9 * level);
        let mut empty = true;
        for i in 0..ENTRIES_PER_TABLE {
            let va = base + i as u64 * span;
            let pte = self.mem.read(table, i);
            if !F::is_valid(pte) {
                continue;
            }
            if va >= end {
                empty = false;
                continue;
            }
            if level > 0 && F::is_table(pte, level) {
                let child = F::address(pte);
                if self.clear_table(child, level - 1, va, end, on_leaf) {
                    self.mem.write(table, i, 0);
                    self.mem.free_table(child);
                } else {
                    empty = false;
                }
            } else if va.saturating_add(span) <= end {
                on_leaf(F::address(pte), PageSize::from_level(level));
                self.mem.write(table, i, 0);
            } else {
                empty = false;
            }
        }
        empty
    }

    /// Call `f(va, pte)` for every valid leaf entry whose mapping starts in `[start, end)`, in
    /// address order, skipping absent tables (so sparse ranges cost little).
    pub fn for_each_leaf(&self, start: u64, end: u64, f: &mut dyn FnMut(u64, Translation)) {
        self.walk_leaves(self.root, LEVELS - 1, 0, start, end, f);
    }

    fn walk_leaves(
        &self,
        table: u64,
        level: usize,
        base: u64,
        start: u64,
        end: u64,
        f: &mut dyn FnMut(u64, Translation),
    ) {
        let span = 1u64 << (12 + 9 * level);
        let first = if start > base {
            ((start - base) / span) as usize
        } else {
            0
        };
        for i in first..ENTRIES_PER_TABLE {
            let va = base + i as u64 * span;
            if va >= end {
                break;
            }
            let pte = self.mem.read(table, i);
            if !F::is_valid(pte) {
                continue;
            }
            if level > 0 && F::is_table(pte, level) {
                self.walk_leaves(F::address(pte), level - 1, va, start, end, f);
            } else if va >= start {
                let t = Translation {
                    pa: F::address(pte),
                    flags: F::flags(pte),
                    size: PageSize::from_level(level),
                };
                f(va, t);
            }
        }
    }

    /// The memory accessor.
    pub fn memory(&self) -> &M {
        &self.mem
    }

    /// The memory accessor, mutably (user-page operations go through it too).
    pub fn memory_mut(&mut self) -> &mut M {
        &mut self.mem
    }

    /// Give the memory accessor back (e.g. to read statistics in tests).
    pub fn into_memory(self) -> M {
        self.mem
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::collections::HashMap;

    /// A made-up entry format: bit 0 valid, bit 1 table, bit 2 write, bit 3 exec, bit 4 user.
    struct Fmt;
    impl PageTableFormat for Fmt {
        fn is_valid(pte: u64) -> bool {
            pte & 1 != 0
        }
        fn is_table(pte: u64, level: usize) -> bool {
            level > 0 && pte & 2 != 0
        }
        fn make_table(pa: u64) -> u64 {
            pa | 3
        }
        fn make_leaf(pa: u64, f: PageFlags, _level: usize) -> u64 {
            pa | 1 | (f.write as u64) << 2 | (f.exec as u64) << 3 | (f.user as u64) << 4
        }
        fn address(pte: u64) -> u64 {
            pte & !0xfff
        }
        fn flags(pte: u64) -> PageFlags {
            PageFlags {
                write: pte & 4 != 0,
                exec: pte & 8 != 0,
                user: pte & 16 != 0,
                ..Default::default()
            }
        }
        fn flush(_va: u64) {}
    }

    #[derive(Default)]
    struct Mem {
        tables: HashMap<u64, Box<[u64; 512]>>,
        next: u64,
        limit: usize,
    }
    impl TableMemory for Mem {
        fn read(&self, t: u64, i: usize) -> u64 {
            self.tables[&t][i]
        }
        fn write(&mut self, t: u64, i: usize, v: u64) {
            self.tables.get_mut(&t).unwrap()[i] = v;
        }
        fn alloc_table(&mut self) -> Option<u64> {
            if self.limit != 0 && self.tables.len() >= self.limit {
                return None;
            }
            self.next += 0x1000;
            self.tables.insert(self.next, Box::new([0; 512]));
            Some(self.next)
        }
        fn free_table(&mut self, t: u64) {
            self.tables.remove(&t);
        }
    }

    type Pt = PageTable<Fmt, Mem>;
    const RW: PageFlags = PageFlags::KERNEL_DATA;

    #[test]
    fn map_translate_unmap() {
        let mut pt = Pt::new(Mem::default()).unwrap();
        let va = 0xffff_8000_1234_5000;
        pt.map(va, 0x7000, PageSize::Size4K, RW).unwrap();
        let t = pt.translate(va + 0x10).unwrap();
        assert_eq!(t.pa, 0x7010);
        assert!(t.flags.write);
        assert_eq!(
            pt.map(va, 0x8000, PageSize::Size4K, RW),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(pt.unmap(va), Ok((0x7000, PageSize::Size4K)));
        assert_eq!(pt.translate(va), None);
        assert_eq!(pt.unmap(va), Err(MapError::NotMapped));
    }

    #[test]
    fn huge_pages_and_protect() {
        let mut pt = Pt::new(Mem::default()).unwrap();
        pt.map(0x4000_0000, 0x8000_0000, PageSize::Size1G, RW)
            .unwrap();
        pt.map(0x20_0000, 0x40_0000, PageSize::Size2M, RW).unwrap();
        let t = pt.translate(0x4000_0000 + 0x123_4567).unwrap();
        assert_eq!((t.pa, t.size), (0x8123_4567, PageSize::Size1G));
        assert_eq!(
            pt.map(0x4000_1000, 0, PageSize::Size4K, RW),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(
            pt.map(0x20_0001, 0, PageSize::Size4K, RW),
            Err(MapError::Misaligned)
        );
        assert_eq!(
            pt.protect(0x20_0000, PageFlags::KERNEL_RODATA),
            Ok(PageSize::Size2M)
        );
        assert!(!pt.translate(0x20_1000).unwrap().flags.write);
        assert_eq!(pt.unmap(0x20_1000), Err(MapError::InsideBlock));
    }

    #[test]
    fn map_range_uses_big_pages_and_skips_existing() {
        let mut pt = Pt::new(Mem::default()).unwrap();
        pt.map(0x4020_0000, 0x4020_0000, PageSize::Size4K, RW)
            .unwrap();
        // 0x3ff0_0000 .. 0x8100_0000: 4K pages up to 1 GiB, then a 1G page, then 2M pages.
        let len = 0x8100_0000 - 0x3ff0_0000;
        let mapped = pt.map_range(0x3ff0_0000, 0x3ff0_0000, len, RW).unwrap();
        assert_eq!(mapped, len - 0x1000);
        assert_eq!(pt.translate(0x3ff0_0000).unwrap().size, PageSize::Size4K);
        assert_eq!(pt.translate(0x4000_0000).unwrap().size, PageSize::Size2M);
        assert_eq!(pt.translate(0x4020_1000).unwrap().size, PageSize::Size4K);
        assert_eq!(pt.translate(0x8000_0000).unwrap().size, PageSize::Size2M);
        for va in (0x3ff0_0000u64..0x8100_0000).step_by(0x10_0000) {
            assert_eq!(pt.translate(va).unwrap().pa, va);
        }
        // Mapping it again maps nothing.
        assert_eq!(pt.map_range(0x3ff0_0000, 0x3ff0_0000, len, RW), Ok(0));
        assert_eq!(
            pt.map_range(0x100, 0, 0x1000, RW),
            Err(MapError::Misaligned)
        );
    }

    #[test]
    fn out_of_memory_is_an_error() {
        let mem = Mem {
            limit: 2,
            ..Default::default()
        };
        let mut pt = Pt::new(mem).unwrap();
        assert_eq!(
            pt.map(0x1000, 0x1000, PageSize::Size4K, RW),
            Err(MapError::OutOfMemory)
        );
    }

    #[test]
    fn clear_below_frees_user_half_only() {
        let mut pt = Pt::new(Mem::default()).unwrap();
        pt.map(0x40_0000, 0x1000, PageSize::Size4K, RW).unwrap();
        pt.map(0x7f_ffff_f000, 0x2000, PageSize::Size4K, RW)
            .unwrap();
        pt.map(0x4000_0000, 0x4000_0000, PageSize::Size1G, RW)
            .unwrap();
        pt.map(0xffff_8000_0000_0000, 0x3000, PageSize::Size4K, RW)
            .unwrap();
        let tables_before = pt.mem.tables.len();
        let mut leaves = std::vec::Vec::new();
        pt.clear_below(0x0000_8000_0000_0000, &mut |pa, size| {
            leaves.push((pa, size))
        });
        leaves.sort_by_key(|l| l.0);
        assert_eq!(
            leaves,
            [
                (0x1000, PageSize::Size4K),
                (0x2000, PageSize::Size4K),
                (0x4000_0000, PageSize::Size1G)
            ]
        );
        assert_eq!(pt.translate(0x40_0000), None);
        assert_eq!(pt.translate(0xffff_8000_0000_0000).unwrap().pa, 0x3000);
        // root + 3 tables for the kernel page stay; the user tables (PDPT, PD, PT) are gone.
        assert_eq!(pt.mem.tables.len(), 4);
        assert!(tables_before > 4);
    }

    #[test]
    fn for_each_leaf_visits_range_in_order() {
        let mut pt = Pt::new(Mem::default()).unwrap();
        for va in [0x1000u64, 0x5000, 0x20_0000, 0x7f_ffff_f000] {
            pt.map(va, va + 0x100_0000, PageSize::Size4K, RW).unwrap();
        }
        pt.map(0x4000_0000, 0x4000_0000, PageSize::Size1G, RW)
            .unwrap();
        let mut seen = std::vec::Vec::new();
        pt.for_each_leaf(0x2000, 0x7f_ffff_f000, &mut |va, t| seen.push((va, t.pa)));
        assert_eq!(
            seen,
            [
                (0x5000, 0x100_5000),
                (0x20_0000, 0x120_0000),
                (0x4000_0000, 0x4000_0000)
            ]
        );
        seen.clear();
        pt.for_each_leaf(0, u64::MAX, &mut |va, _| seen.push((va, 0)));
        assert_eq!(seen.len(), 5);
    }
}
