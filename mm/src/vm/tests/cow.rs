//! fork, copy-on-write, shared mappings, teardown.

use std::boxed::Box;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use crate::frame::{FrameAllocator, FrameMeta};

use super::*;
use crate::vm::*;

const P: u64 = PAGE_SIZE;
const RW: u32 = PROT_READ | PROT_WRITE;
const ANON: u32 = MAP_PRIVATE | MAP_ANONYMOUS;

fn read_u8(a: &mut As, addr: u64) -> u8 {
    let mut b = [0u8];
    a.read_bytes(addr, &mut b, false).unwrap();
    b[0]
}

#[test]
fn fork_copy_on_write() {
    let mem = HostMem::default();
    let mut parent = new_as(&mem);
    let x = parent.mmap(0, 4 * P, RW, ANON, None).unwrap();
    let ro = parent.mmap(0, P, PROT_READ, ANON, None).unwrap();
    parent.write_bytes(x, &[1], false).unwrap();
    parent.write_bytes(x + P, &[2], false).unwrap();
    parent.write_bytes(ro, &[3], true).unwrap();
    parent.init_brk(0x40_0000);
    parent.brk(0x40_2000);
    let pa0 = parent.translate(x).unwrap().pa;
    let pages = mem.live_pages();

    let mut child = parent.fork(table(&mem)).unwrap();
    assert_eq!(mem.live_pages(), pages, "fork copies no page");
    assert_eq!(mem.refs(pa0), 2);
    assert!(!parent.translate(x).unwrap().flags.write);
    assert!(!child.translate(x).unwrap().flags.write);
    assert_eq!(child.current_brk(), 0x40_2000);
    assert_eq!(child.vmas().count(), parent.vmas().count());
    check_refcounts(&mem, &[&parent, &child]);

    // A write in the parent copies; the child keeps the old bytes.
    parent.handle_fault(x, true, false).unwrap();
    parent.write_bytes(x, &[10], false).unwrap();
    assert_eq!(read_u8(&mut child, x), 1);
    assert_eq!(read_u8(&mut parent, x), 10);
    assert_ne!(parent.translate(x).unwrap().pa, pa0);
    assert_eq!(mem.refs(pa0), 1);
    // The child is now the only owner: its write fault just makes the entry writable.
    child.handle_fault(x, true, false).unwrap();
    assert_eq!(child.translate(x).unwrap().pa, pa0);
    assert!(child.translate(x).unwrap().flags.write);
    // Writes through write_bytes break COW too.
    child.write_bytes(x + P, &[20], false).unwrap();
    assert_eq!(read_u8(&mut parent, x + P), 2);
    // Read-only private pages stay shared.
    assert_eq!(child.handle_fault(ro, true, false), Err(FaultError::AccErr));
    assert_eq!(mem.refs(parent.translate(ro).unwrap().pa), 2);
    // A page first touched after the fork is private to each.
    child.write_bytes(x + 3 * P, &[30], false).unwrap();
    assert_eq!(read_u8(&mut parent, x + 3 * P), 0);
    check_refcounts(&mem, &[&parent, &child]);

    // A grandchild, then drop in an odd order.
    let grandchild = child.fork(table(&mem)).unwrap();
    check_refcounts(&mem, &[&parent, &child, &grandchild]);
    drop(child);
    check_refcounts(&mem, &[&parent, &grandchild]);
    drop(parent);
    check_refcounts(&mem, &[&grandchild]);
    drop(grandchild);
    assert_eq!(mem.used(), 0, "pages or tables leaked");
}

#[test]
fn fork_shares_shared_mappings() {
    let mem = HostMem::default();
    let mut parent = new_as(&mem);
    let s = parent
        .mmap(0, 2 * P, RW, MAP_SHARED | MAP_ANONYMOUS, None)
        .unwrap();
    assert_eq!(
        mem.live_pages(),
        2,
        "shared anonymous memory is populated at mmap"
    );
    let src: Arc<dyn PageSource> = Arc::new(File(vec![5; 3 * P as usize]));
    let file = MapFile {
        source: src,
        offset: 0,
        may_write: true,
    };
    let f = parent
        .mmap(0, 3 * P, RW, MAP_SHARED, Some(file.clone()))
        .unwrap();
    let pf = parent.mmap(0, 3 * P, RW, MAP_PRIVATE, Some(file)).unwrap();
    parent.write_bytes(pf, &[6], false).unwrap();
    let mut child = parent.fork(table(&mem)).unwrap();
    assert!(child.translate(s).unwrap().flags.write);
    child.write_bytes(s + P + 7, &[42], false).unwrap();
    assert_eq!(read_u8(&mut parent, s + P + 7), 42);
    parent.write_bytes(f + 2 * P, &[43], false).unwrap();
    assert_eq!(read_u8(&mut child, f + 2 * P), 43);
    // Private file pages are copy-on-write like anonymous ones.
    child.write_bytes(pf, &[7], false).unwrap();
    assert_eq!(read_u8(&mut parent, pf), 6);
    assert_eq!(read_u8(&mut child, pf + P), 5);
    check_refcounts(&mem, &[&parent, &child]);
    // munmap in one leaves the other's view alone.
    parent.munmap(s, 2 * P).unwrap();
    assert_eq!(read_u8(&mut child, s + P + 7), 42);
    check_refcounts(&mem, &[&parent, &child]);
    drop(parent);
    drop(child);
    assert_eq!(mem.used(), 0);
}

#[test]
fn clear_for_exec_and_fork_failure() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    for i in 0..8 {
        let x = a
            .mmap(0x1000_0000 * (i + 1), 3 * P, RW, ANON | MAP_FIXED, None)
            .unwrap();
        a.populate(x, 3 * P, true).unwrap();
    }
    assert_eq!(mem.live_pages(), 24);
    // Fork fails half-way: the partial child is freed, the parent still works.
    let used = mem.used();
    mem.set_limit(used + 6);
    assert!(a.fork(table(&mem)).is_err());
    assert_eq!(mem.used(), used);
    mem.set_limit(0);
    check_refcounts(&mem, &[&a]);
    a.write_bytes(0x1000_0000, &[1], false).unwrap();
    // exec: clear keeps only the root.
    a.clear();
    assert_eq!(mem.live_pages(), 0);
    assert_eq!(mem.live_tables(), 1);
    assert_eq!(a.vmas().count(), 0);
    let x = a.mmap(0, P, RW, ANON, None).unwrap();
    a.write_bytes(x, &[1], false).unwrap();
    drop(a);
    assert_eq!(mem.used(), 0);
}

/// Page memory over the real [`FrameAllocator`], contents in a map: proves the reference
/// counts of `frame` are what address spaces need.
#[derive(Clone)]
struct FrameMem(Rc<RefCell<(FrameAllocator, Contents)>>);

type Contents = HashMap<u64, Box<[u8; 4096]>>;

impl FrameMem {
    fn new(frames: usize) -> Self {
        let mut fa = FrameAllocator::new();
        let meta = Box::leak(vec![FrameMeta::EMPTY; frames].into_boxed_slice());
        fa.add_region(0x10_0000, meta).unwrap();
        Self(Rc::new(RefCell::new((fa, HashMap::new()))))
    }
    fn free_frames(&self) -> u64 {
        self.0.borrow().0.free_frames()
    }
    fn alloc(&self) -> Option<u64> {
        let mut m = self.0.borrow_mut();
        let pa = m.0.alloc_frame()?;
        m.1.insert(pa, Box::new([0; 4096]));
        Some(pa)
    }
}

impl TableMemory for FrameMem {
    fn read(&self, t: u64, i: usize) -> u64 {
        let m = self.0.borrow();
        u64::from_le_bytes(m.1[&t][i * 8..i * 8 + 8].try_into().unwrap())
    }
    fn write(&mut self, t: u64, i: usize, v: u64) {
        let mut m = self.0.borrow_mut();
        m.1.get_mut(&t).unwrap()[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
    }
    fn alloc_table(&mut self) -> Option<u64> {
        self.alloc()
    }
    fn free_table(&mut self, t: u64) {
        let mut m = self.0.borrow_mut();
        m.1.remove(&t);
        m.0.free(t, 0).unwrap();
    }
}

impl PageMemory for FrameMem {
    fn alloc_page(&mut self) -> Option<u64> {
        self.alloc()
    }
    fn get_page(&mut self, pa: u64) {
        self.0.borrow_mut().0.get(pa).unwrap();
    }
    fn put_page(&mut self, pa: u64) -> bool {
        let mut m = self.0.borrow_mut();
        let freed = m.0.put(pa).unwrap();
        if freed {
            m.1.remove(&pa);
        }
        freed
    }
    fn page_refs(&self, pa: u64) -> u32 {
        self.0.borrow().0.ref_count(pa)
    }
    fn copy_page(&mut self, dst: u64, src: u64) {
        let mut m = self.0.borrow_mut();
        let data = *m.1[&src];
        **m.1.get_mut(&dst).unwrap() = data;
    }
    fn write_page(&mut self, pa: u64, offset: usize, data: &[u8]) {
        let mut m = self.0.borrow_mut();
        m.1.get_mut(&pa).unwrap()[offset..offset + data.len()].copy_from_slice(data);
    }
    fn read_page(&self, pa: u64, offset: usize, out: &mut [u8]) {
        out.copy_from_slice(&self.0.borrow().1[&pa][offset..offset + out.len()]);
    }
}

#[test]
fn fork_over_the_frame_allocator_on_aarch64_layout() {
    let mem = FrameMem::new(256);
    let free = mem.free_frames();
    let layout = Layout::new(USER_END_AARCH64);
    let mut a: AddressSpace<Fmt, FrameMem> =
        AddressSpace::new(PageTable::new(mem.clone()).unwrap(), layout);
    let top = USER_END_AARCH64 - 2 * P;
    a.mmap(top, 2 * P, RW, ANON | MAP_FIXED | MAP_GROWSDOWN, None)
        .unwrap();
    let x = a.mmap(0, 8 * P, RW, ANON, None).unwrap();
    a.populate(x, 8 * P, true).unwrap();
    a.write_bytes(top + P, b"stack", false).unwrap();
    let mut b = a.fork(PageTable::new(mem.clone()).unwrap()).unwrap();
    let pa = a.translate(x).unwrap().pa;
    assert_eq!(mem.page_refs(pa), 2);
    b.write_bytes(x, &[1], false).unwrap();
    assert_eq!(mem.page_refs(pa), 1);
    b.handle_fault(top - P, true, false).unwrap();
    let mut s = [0u8; 5];
    b.read_bytes(top + P, &mut s, false).unwrap();
    assert_eq!(&s, b"stack");
    drop(a);
    assert_eq!(mem.page_refs(pa), 0);
    b.clear();
    drop(b);
    assert_eq!(mem.free_frames(), free, "frames leaked");
    assert!(mem.0.borrow().1.is_empty());
}

/// A file with a page cache: frames are allocated on first use and shared by every mapping.
struct CachedFile {
    data: Vec<u8>,
    cache: std::sync::Mutex<std::collections::BTreeMap<u64, u64>>,
    /// Answer [`PageSource::coherent`] (shared mappings then fault in lazily).
    coherent: bool,
}

impl CachedFile {
    /// Drop the cache's own references (eviction).
    fn release(&self, mem: &mut HostMem) {
        for (_, pa) in std::mem::take(&mut *self.cache.lock().unwrap()) {
            mem.put_page(pa);
        }
    }
}

impl PageSource for CachedFile {
    fn read_page(&self, _offset: u64, _page: &mut [u8]) -> Result<(), Errno> {
        unreachable!("cached_page serves every page")
    }
    fn cached_page(&self, offset: u64, mem: &mut dyn PageMemory) -> Option<Result<u64, Errno>> {
        let mut cache = self.cache.lock().unwrap();
        if let Some(pa) = cache.get(&offset) {
            mem.get_page(*pa);
            return Some(Ok(*pa));
        }
        if offset >= self.data.len() as u64 {
            return Some(Err(Errno::EIO));
        }
        let pa = mem.alloc_page()?;
        let off = offset as usize;
        let n = (self.data.len() - off).min(P as usize);
        mem.write_page(pa, 0, &self.data[off..off + n]);
        cache.insert(offset, pa);
        mem.get_page(pa);
        Some(Ok(pa))
    }
    fn coherent(&self) -> bool {
        self.coherent
    }
}

#[test]
fn page_cache_sources_are_coherent() {
    let mut mem = HostMem::default();
    let file = Arc::new(CachedFile {
        data: vec![4; 2 * P as usize],
        cache: Default::default(),
        coherent: false,
    });
    let map = |shared: bool| {
        (
            if shared { MAP_SHARED } else { MAP_PRIVATE },
            Some(MapFile {
                source: file.clone(),
                offset: 0,
                may_write: true,
            }),
        )
    };
    let mut a = new_as(&mem);
    let mut b = new_as(&mem);
    let (fl, f) = map(true);
    let sa = a.mmap(0, 3 * P, RW, fl, f).unwrap();
    let (fl, f) = map(true);
    let sb = b.mmap(0x3000_0000, 2 * P, RW, fl, f).unwrap();
    // Two unrelated processes share the cache page: writes are visible to each other.
    a.write_bytes(sa + P, &[9], false).unwrap();
    assert_eq!(read_u8(&mut b, sb + P), 9);
    let cache_pa = a.translate(sa).unwrap().pa;
    assert_eq!(b.translate(sb).unwrap().pa, cache_pa);
    assert_eq!(mem.refs(cache_pa), 3);
    assert_eq!(
        a.handle_fault(sa + 2 * P, false, false),
        Err(FaultError::Bus)
    );
    // A private mapping maps the cache page read-only and copies on write.
    let (fl, f) = map(false);
    let pa = a.mmap(0, 2 * P, RW, fl, f).unwrap();
    assert_eq!(read_u8(&mut a, pa + P), 9);
    assert_eq!(read_u8(&mut a, pa), 4);
    assert!(!a.translate(pa).unwrap().flags.write);
    assert_eq!(a.translate(pa).unwrap().pa, cache_pa);
    a.handle_fault(pa, true, false).unwrap();
    assert_ne!(a.translate(pa).unwrap().pa, cache_pa);
    a.write_bytes(pa, &[1], false).unwrap();
    assert_eq!(read_u8(&mut b, sb), 4);
    // A write fault on an absent private page copies at once.
    let (fl, f) = map(false);
    let q = a.mmap(0, P, RW, fl, f).unwrap();
    a.handle_fault(q, true, false).unwrap();
    let t = a.translate(q).unwrap();
    assert!(t.pa != cache_pa && t.flags.write);
    assert_eq!(mem.refs(cache_pa), 3);
    a.write_bytes(q, &[2], false).unwrap();
    assert_eq!(read_u8(&mut b, sb), 4);
    let c = b.fork(table(&mem)).unwrap();
    assert_eq!(mem.refs(cache_pa), 4);
    drop((a, b, c));
    file.release(&mut mem);
    assert_eq!(mem.used(), 0);
}

#[test]
fn coherent_caches_are_mapped_lazily() {
    let mut mem = HostMem::default();
    let file = Arc::new(CachedFile {
        data: vec![6; 2 * P as usize],
        cache: Default::default(),
        coherent: true,
    });
    let map = || {
        Some(MapFile {
            source: file.clone(),
            offset: 0,
            may_write: true,
        })
    };
    let mut a = new_as(&mem);
    let sa = a.mmap(0, 3 * P, RW, MAP_SHARED, map()).unwrap();
    assert_eq!(a.resident_pages(), 0, "nothing populated at mmap");
    // A child forked before any touch still shares the pages: both fault in the cache frame.
    let mut c = a.fork(table(&mem)).unwrap();
    c.write_bytes(sa + P, &[8], false).unwrap();
    assert_eq!(read_u8(&mut a, sa + P), 8);
    assert_eq!(
        a.translate(sa + P).unwrap().pa,
        c.translate(sa + P).unwrap().pa
    );
    assert_eq!(a.resident_pages(), 1);
    // Past the end of the file: SIGBUS on touch, as before.
    assert_eq!(
        c.handle_fault(sa + 2 * P, true, false),
        Err(FaultError::Bus)
    );
    // Growing in place by mremap populates nothing either.
    let mut b = new_as(&mem);
    let sb = b.mmap(0x3000_0000, P, RW, MAP_SHARED, map()).unwrap();
    assert_eq!(b.mremap(sb, P, 2 * P, 0, 0), Ok(sb));
    assert_eq!(b.resident_pages(), 0);
    assert_eq!(read_u8(&mut b, sb + P), 8);
    drop((a, b, c));
    file.release(&mut mem);
    assert_eq!(mem.used(), 0);
}
