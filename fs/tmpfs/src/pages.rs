//! [`HeapPages`]: a [`PageProvider`] over the heap, for host tests and for tmpfs instances
//! whose files are never mapped from a page cache (devtmpfs).

use crate::PAGE_SIZE;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use spin::Mutex;
use vfs::PageProvider;

/// Pages in boxes, reference counted; handles are sequence numbers (not physical, so
/// [`vfs::Inode::cached_page`] is not offered over them).
#[derive(Default)]
pub struct HeapPages {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pages: BTreeMap<u64, (Box<[u8; PAGE_SIZE]>, u32)>,
    next: u64,
}

impl HeapPages {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages allocated and not yet freed.
    pub fn live(&self) -> usize {
        self.inner.lock().pages.len()
    }

    /// References held on `page` (0 once freed).
    pub fn refs(&self, page: u64) -> u32 {
        self.inner.lock().pages.get(&page).map_or(0, |p| p.1)
    }

    fn with(&self, page: u64, f: impl FnOnce(&mut [u8; PAGE_SIZE])) {
        match self.inner.lock().pages.get_mut(&page) {
            Some(p) => f(&mut p.0),
            None => debug_assert!(false, "heap page {page} used after it was freed"),
        }
    }
}

impl PageProvider for HeapPages {
    fn alloc(&self) -> Option<u64> {
        let mut inner = self.inner.lock();
        inner.next += 1;
        let id = inner.next;
        inner.pages.insert(id, (Box::new([0; PAGE_SIZE]), 1));
        Some(id)
    }

    fn get(&self, page: u64) {
        if let Some(p) = self.inner.lock().pages.get_mut(&page) {
            p.1 += 1;
        }
    }

    fn put(&self, page: u64) {
        let mut inner = self.inner.lock();
        let last = match inner.pages.get_mut(&page) {
            Some(p) => {
                p.1 -= 1;
                p.1 == 0
            }
            None => false,
        };
        if last {
            inner.pages.remove(&page);
        }
    }

    fn read(&self, page: u64, offset: usize, out: &mut [u8]) {
        self.with(page, |p| {
            out.copy_from_slice(&p[offset..offset + out.len()])
        });
    }

    fn write(&self, page: u64, offset: usize, data: &[u8]) {
        self.with(page, |p| {
            p[offset..offset + data.len()].copy_from_slice(data)
        });
    }

    fn zero(&self, page: u64, offset: usize, len: usize) {
        self.with(page, |p| p[offset..offset + len].fill(0));
    }
}

/// A [`HeapPages`] that claims to be physical, so tests can exercise
/// [`vfs::Inode::cached_page`] (the handles are still only names).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct MappablePages(pub(crate) HeapPages);

#[cfg(test)]
impl PageProvider for MappablePages {
    fn alloc(&self) -> Option<u64> {
        self.0.alloc()
    }
    fn get(&self, page: u64) {
        self.0.get(page)
    }
    fn put(&self, page: u64) {
        self.0.put(page)
    }
    fn read(&self, page: u64, offset: usize, out: &mut [u8]) {
        self.0.read(page, offset, out)
    }
    fn write(&self, page: u64, offset: usize, data: &[u8]) {
        self.0.write(page, offset, data)
    }
    fn zero(&self, page: u64, offset: usize, len: usize) {
        self.0.zero(page, offset, len)
    }
    fn physical(&self) -> bool {
        true
    }
}
