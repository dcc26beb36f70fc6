//! Host tests for address spaces: page memory is a `HashMap` of boxed pages with reference
//! counts, so every test can prove that nothing leaks.

use std::boxed::Box;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::vec::Vec;

use arch_api::{PAGE_SIZE, PageFlags, PageTableFormat};
use syscall::Errno;

use super::{AddressSpace, Layout, PageMemory, PageSource, USER_END_X86_64};
use crate::page_table::{PageTable, TableMemory};

mod cow;
mod maps;
mod random;

/// A made-up entry format: bit 0 valid, bit 1 table, bit 2 write, bit 3 exec, bit 4 user.
pub struct Fmt;

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
pub struct Inner {
    tables: HashMap<u64, Box<[u64; 512]>>,
    pages: HashMap<u64, (Box<[u8; PAGE_SIZE as usize]>, u32)>,
    next: u64,
    /// Most pages + tables alive at once; 0 means no limit.
    pub limit: usize,
}

impl Inner {
    fn next_pa(&mut self) -> Option<u64> {
        if self.limit != 0 && self.tables.len() + self.pages.len() >= self.limit {
            return None;
        }
        self.next += PAGE_SIZE;
        Some(self.next)
    }
}

/// Host page memory shared by every address space of a test (as physical memory is).
#[derive(Clone, Default)]
pub struct HostMem(pub Rc<RefCell<Inner>>);

impl HostMem {
    pub fn live_pages(&self) -> usize {
        self.0.borrow().pages.len()
    }
    pub fn live_tables(&self) -> usize {
        self.0.borrow().tables.len()
    }
    pub fn set_limit(&self, limit: usize) {
        self.0.borrow_mut().limit = limit;
    }
    /// Pages + tables alive now.
    pub fn used(&self) -> usize {
        self.live_pages() + self.live_tables()
    }
    pub fn refs(&self, pa: u64) -> u32 {
        self.0.borrow().pages.get(&pa).map_or(0, |p| p.1)
    }
}

impl TableMemory for HostMem {
    fn read(&self, t: u64, i: usize) -> u64 {
        self.0.borrow().tables[&t][i]
    }
    fn write(&mut self, t: u64, i: usize, v: u64) {
        self.0.borrow_mut().tables.get_mut(&t).unwrap()[i] = v;
    }
    fn alloc_table(&mut self) -> Option<u64> {
        let mut m = self.0.borrow_mut();
        let pa = m.next_pa()?;
        m.tables.insert(pa, Box::new([0; 512]));
        Some(pa)
    }
    fn free_table(&mut self, t: u64) {
        assert!(self.0.borrow_mut().tables.remove(&t).is_some());
    }
}

impl PageMemory for HostMem {
    fn alloc_page(&mut self) -> Option<u64> {
        let mut m = self.0.borrow_mut();
        let pa = m.next_pa()?;
        m.pages.insert(pa, (Box::new([0; PAGE_SIZE as usize]), 1));
        Some(pa)
    }
    fn get_page(&mut self, pa: u64) {
        self.0.borrow_mut().pages.get_mut(&pa).unwrap().1 += 1;
    }
    fn put_page(&mut self, pa: u64) -> bool {
        let mut m = self.0.borrow_mut();
        let p = m.pages.get_mut(&pa).expect("put of a free page");
        p.1 -= 1;
        if p.1 == 0 {
            m.pages.remove(&pa);
            return true;
        }
        false
    }
    fn page_refs(&self, pa: u64) -> u32 {
        self.refs(pa)
    }
    fn copy_page(&mut self, dst: u64, src: u64) {
        let mut m = self.0.borrow_mut();
        let data = *m.pages[&src].0;
        *m.pages.get_mut(&dst).unwrap().0 = data;
    }
    fn write_page(&mut self, pa: u64, offset: usize, data: &[u8]) {
        let mut m = self.0.borrow_mut();
        m.pages.get_mut(&pa).unwrap().0[offset..offset + data.len()].copy_from_slice(data);
    }
    fn read_page(&self, pa: u64, offset: usize, out: &mut [u8]) {
        let m = self.0.borrow();
        out.copy_from_slice(&m.pages[&pa].0[offset..offset + out.len()]);
    }
}

pub type As = AddressSpace<Fmt, HostMem>;

pub fn new_as(mem: &HostMem) -> As {
    AddressSpace::new(
        PageTable::new(mem.clone()).unwrap(),
        Layout::new(USER_END_X86_64),
    )
}

pub fn table(mem: &HostMem) -> PageTable<Fmt, HostMem> {
    PageTable::new(mem.clone()).unwrap()
}

/// A file held in memory; reads past its end fail.
pub struct File(pub Vec<u8>);

impl PageSource for File {
    fn read_page(&self, offset: u64, page: &mut [u8]) -> Result<(), Errno> {
        let off = offset as usize;
        if off >= self.0.len() {
            return Err(Errno::EIO);
        }
        let n = (self.0.len() - off).min(page.len());
        page[..n].copy_from_slice(&self.0[off..off + n]);
        page[n..].fill(0);
        Ok(())
    }
}

/// Structural checks: VMAs sorted, page aligned, disjoint, inside the user half, no two
/// mergeable neighbours; every present page lies in a VMA.
pub fn check_invariants(a: &As) {
    let vmas: Vec<_> = a.vmas().cloned().collect();
    for v in &vmas {
        assert!(v.start < v.end && v.start % PAGE_SIZE == 0 && v.end % PAGE_SIZE == 0);
        assert!(v.end <= a.layout().user_end);
    }
    for w in vmas.windows(2) {
        assert!(w[0].end <= w[1].start, "overlap {:?}", w);
        assert!(!w[0].can_merge(&w[1]), "unmerged {:?}", w);
    }
    a.table()
        .for_each_leaf(0, a.layout().user_end, &mut |va, _| {
            assert!(a.vma_at(va).is_some(), "stray page at {va:#x}")
        });
}

/// Every page's reference count equals the number of entries mapping it in `spaces`.
pub fn check_refcounts(mem: &HostMem, spaces: &[&As]) {
    let mut count: HashMap<u64, u32> = HashMap::new();
    for a in spaces {
        a.table()
            .for_each_leaf(0, a.layout().user_end, &mut |_, t| {
                *count.entry(t.pa).or_default() += 1
            });
    }
    assert_eq!(count.len(), mem.live_pages(), "pages alive but unmapped");
    for (pa, n) in count {
        assert_eq!(mem.refs(pa), n, "refcount of {pa:#x}");
    }
}
