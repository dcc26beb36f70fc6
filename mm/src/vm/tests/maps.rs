//! mmap, munmap, mprotect, mremap, brk, faults. Expected errnos were checked against Linux
//! 6.18 on the host with raw syscalls (see `.teams/0009-address-spaces.md`).

use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::vm::*;

const P: u64 = PAGE_SIZE;
const RW: u32 = PROT_READ | PROT_WRITE;
const ANON: u32 = MAP_PRIVATE | MAP_ANONYMOUS;

fn spans(a: &As) -> Vec<(u64, u64, u32)> {
    a.vmas().map(|v| (v.start, v.end, v.prot)).collect()
}

#[test]
fn mmap_argument_errors() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let end = a.layout().user_end;
    let e = |r: Result<u64, Errno>| r.unwrap_err();
    assert_eq!(e(a.mmap(0, 0, RW, ANON, None)), Errno::EINVAL);
    assert_eq!(e(a.mmap(0, P, RW, MAP_ANONYMOUS, None)), Errno::EINVAL);
    assert_eq!(e(a.mmap(0, P, RW, 4 | MAP_ANONYMOUS, None)), Errno::EINVAL);
    assert_eq!(
        e(a.mmap(0, P, RW, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, None)),
        Errno::EINVAL
    );
    assert_eq!(
        e(a.mmap(0x1000_0001, P, RW, ANON | MAP_FIXED, None)),
        Errno::EINVAL
    );
    assert_eq!(
        e(a.mmap(0x1000_0001, P, RW, ANON | MAP_FIXED_NOREPLACE, None)),
        Errno::EINVAL
    );
    assert_eq!(e(a.mmap(0, 1 << 47, RW, ANON, None)), Errno::ENOMEM);
    assert_eq!(e(a.mmap(0, u64::MAX, RW, ANON, None)), Errno::ENOMEM);
    assert_eq!(
        e(a.mmap(end - P, 2 * P, RW, ANON | MAP_FIXED, None)),
        Errno::ENOMEM
    );
    assert_eq!(
        e(a.mmap(0x1000, P, RW, ANON | MAP_FIXED, None)),
        Errno::EPERM
    );
    assert_eq!(
        e(a.mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN, None)),
        Errno::EINVAL
    );
    assert_eq!(e(a.mmap(0, P, RW, MAP_PRIVATE, None)), Errno::EBADF);
    let file = || {
        Some(MapFile {
            source: Arc::new(File(vec![1; 100])),
            offset: 0,
            may_write: false,
        })
    };
    let mut odd = file();
    odd.as_mut().unwrap().offset = 123;
    assert_eq!(e(a.mmap(0, P, RW, MAP_PRIVATE, odd)), Errno::EINVAL);
    assert_eq!(
        e(a.mmap(0, P, RW, MAP_SHARED_VALIDATE | 0x4000_0000, file())),
        Errno::EOPNOTSUPP
    );
    assert_eq!(e(a.mmap(0, P, RW, MAP_SHARED, file())), Errno::EACCES);
    // Unknown flags are ignored without MAP_SHARED_VALIDATE.
    a.mmap(0, P, RW, ANON | 0x4000_0000, None).unwrap();
    // The hint is rounded down, raised to min_addr, and used when free.
    assert_eq!(a.mmap(0x2000_0123, P, RW, ANON, None), Ok(0x2000_0000));
    assert_eq!(a.mmap(0x1000, P, PROT_READ, ANON, None), Ok(0x1_0000));
    // An occupied hint is ignored; MAP_FIXED_NOREPLACE refuses.
    let b = a.mmap(0x2000_0000, P, RW, ANON, None).unwrap();
    assert_ne!(b, 0x2000_0000);
    assert_eq!(
        e(a.mmap(0x2000_0000, P, RW, ANON | MAP_FIXED_NOREPLACE, None)),
        Errno::EEXIST
    );
    assert_eq!(
        e(a.mmap(
            0x2000_0000,
            P,
            RW,
            ANON | MAP_FIXED | MAP_FIXED_NOREPLACE,
            None
        )),
        Errno::EEXIST
    );
    drop(a);
    assert_eq!(mem.used(), 0);
}

#[test]
fn top_down_placement_and_merging() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let base = a.layout().mmap_base;
    let x = a.mmap(0, 3 * P, RW, ANON, None).unwrap();
    assert_eq!(x, base - 3 * P);
    let y = a.mmap(0, 2 * P, RW, ANON, None).unwrap();
    assert_eq!(y, x - 2 * P);
    // Same protection and anonymous: one VMA.
    assert_eq!(spans(&a), [(y, base, RW)]);
    let z = a.mmap(0, P, PROT_READ, ANON, None).unwrap();
    assert_eq!(spans(&a), [(z, y, PROT_READ), (y, base, RW)]);
    // A hole is reused top-down; above mmap_base is the fallback.
    a.munmap(x, P).unwrap();
    assert_eq!(a.mmap(0, P, RW, ANON, None), Ok(x));
    let mut small = Layout::new(USER_END_X86_64);
    small.min_addr = small.mmap_base - 4 * P;
    let mut b = AddressSpace::new(table(&mem), small);
    assert_eq!(
        b.mmap(0, 4 * P, RW, ANON, None),
        Ok(small.mmap_base - 4 * P)
    );
    assert_eq!(b.mmap(0, P, RW, ANON, None), Ok(small.mmap_base));
    check_invariants(&a);
    check_invariants(&b);
}

#[test]
fn demand_zero_and_bytes() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let x = a.mmap(0, 4 * P, RW, ANON, None).unwrap();
    assert_eq!(mem.live_pages(), 0);
    let mut buf = [0xffu8; 16];
    a.read_bytes(x + P - 8, &mut buf, false).unwrap();
    assert_eq!(buf, [0; 16]);
    assert_eq!(
        mem.live_pages(),
        0,
        "reading absent anonymous pages allocates nothing"
    );
    a.handle_fault(x + 5, false, false).unwrap();
    assert_eq!(mem.live_pages(), 1);
    let t = a.translate(x).unwrap();
    assert!(t.flags.write && t.flags.user && !t.flags.exec);
    a.write_bytes(x + P - 3, b"hello", false).unwrap();
    assert_eq!(mem.live_pages(), 2);
    let mut out = [0u8; 5];
    a.read_bytes(x + P - 3, &mut out, false).unwrap();
    assert_eq!(&out, b"hello");
    assert_eq!(
        a.write_bytes(x + 4 * P - 2, b"abc", false),
        Err(Errno::EFAULT)
    );
    a.populate(x, 4 * P, true).unwrap();
    assert_eq!(mem.live_pages(), 4);
    assert_eq!((a.resident_pages(), a.virtual_size()), (4, 4 * P));
    assert_eq!(a.populate(x, 5 * P, false), Err(Errno::EFAULT));
    check_refcounts(&mem, &[&a]);
    drop(a);
    assert_eq!(mem.used(), 0);
}

#[test]
fn fault_kinds() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let r = a.mmap(0, P, PROT_READ, ANON, None).unwrap();
    let x = a.mmap(0, P, PROT_READ | PROT_EXEC, ANON, None).unwrap();
    let n = a.mmap(0, P, PROT_NONE, ANON, None).unwrap();
    let w = a.mmap(0, P, PROT_WRITE, ANON, None).unwrap();
    assert_eq!(
        a.handle_fault(0x5000, false, false),
        Err(FaultError::MapErr)
    );
    assert_eq!(
        a.handle_fault(USER_END_X86_64 + 5, false, false),
        Err(FaultError::MapErr)
    );
    assert_eq!(a.handle_fault(r, true, false), Err(FaultError::AccErr));
    assert_eq!(a.handle_fault(r, false, true), Err(FaultError::AccErr));
    assert_eq!(a.handle_fault(n, false, false), Err(FaultError::AccErr));
    a.handle_fault(r, false, false).unwrap();
    a.handle_fault(x, false, true).unwrap();
    a.handle_fault(w, false, false).unwrap(); // write implies read
    assert!(a.translate(x).unwrap().flags.exec);
    assert!(!a.translate(r).unwrap().flags.write);
    // The loader writes read-only text with `force`; users get EFAULT.
    assert_eq!(a.write_bytes(r, b"x", false), Err(Errno::EFAULT));
    a.write_bytes(r, b"text", true).unwrap();
    assert!(!a.translate(r).unwrap().flags.write);
    let mut b = [0u8; 4];
    assert_eq!(a.read_bytes(n, &mut b, false), Err(Errno::EFAULT));
    a.read_bytes(r, &mut b, false).unwrap();
    assert_eq!(&b, b"text");
    // Spurious faults succeed.
    a.handle_fault(r, false, false).unwrap();
    check_refcounts(&mem, &[&a]);
}

#[test]
fn fixed_replaces_and_munmap_splits() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let x = a
        .mmap(0x4000_0000, 8 * P, RW, ANON | MAP_FIXED, None)
        .unwrap();
    a.populate(x, 8 * P, true).unwrap();
    assert_eq!(mem.live_pages(), 8);
    // MAP_FIXED over pages 2..4 with another protection: three VMAs, old pages freed.
    a.mmap(x + 2 * P, 2 * P, PROT_READ, ANON | MAP_FIXED, None)
        .unwrap();
    assert_eq!(
        spans(&a),
        [
            (x, x + 2 * P, RW),
            (x + 2 * P, x + 4 * P, PROT_READ),
            (x + 4 * P, x + 8 * P, RW)
        ]
    );
    assert_eq!(mem.live_pages(), 6);
    // munmap in the middle of the last VMA.
    a.munmap(x + 5 * P, 2 * P).unwrap();
    assert_eq!(
        spans(&a),
        [
            (x, x + 2 * P, RW),
            (x + 2 * P, x + 4 * P, PROT_READ),
            (x + 4 * P, x + 5 * P, RW),
            (x + 7 * P, x + 8 * P, RW)
        ]
    );
    assert_eq!(mem.live_pages(), 4);
    assert_eq!(
        a.handle_fault(x + 6 * P, false, false),
        Err(FaultError::MapErr)
    );
    assert_eq!(a.munmap(x + 1, P), Err(Errno::EINVAL));
    assert_eq!(a.munmap(x, 0), Err(Errno::EINVAL));
    let end = a.layout().user_end;
    assert_eq!(a.munmap(end - P, 2 * P), Err(Errno::EINVAL));
    assert_eq!(a.munmap(x, u64::MAX - P), Err(Errno::EINVAL));
    assert_eq!(a.munmap(0x5000_0000, P), Ok(()));
    // Filling the hole with the same kind merges everything back.
    a.mmap(x + 5 * P, 2 * P, RW, ANON | MAP_FIXED, None)
        .unwrap();
    a.mmap(x + 2 * P, 2 * P, RW, ANON | MAP_FIXED, None)
        .unwrap();
    assert_eq!(spans(&a), [(x, x + 8 * P, RW)]);
    a.munmap(x, 8 * P).unwrap();
    assert_eq!(mem.live_pages(), 0);
    check_invariants(&a);
}

#[test]
fn mprotect_across_vmas() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let x = 0x4000_0000;
    a.mmap(x, 4 * P, RW, ANON | MAP_FIXED, None).unwrap();
    a.mmap(x + 4 * P, 2 * P, PROT_READ, ANON | MAP_FIXED, None)
        .unwrap();
    a.mmap(x + 7 * P, P, RW, ANON | MAP_FIXED, None).unwrap();
    a.populate(x, 6 * P, false).unwrap();
    a.write_bytes(x + 3 * P, b"keep", false).unwrap();
    assert_eq!(a.mprotect(x + 1, P, PROT_READ), Err(Errno::EINVAL));
    assert_eq!(a.mprotect(x, P, 0x10), Err(Errno::EINVAL));
    assert_eq!(
        a.mprotect(x, P, PROT_READ | PROT_GROWSDOWN),
        Err(Errno::EINVAL)
    );
    assert_eq!(a.mprotect(0x5000_0000, 0, PROT_READ), Ok(()));
    assert_eq!(a.mprotect(0x5000_0000, P, PROT_READ), Err(Errno::ENOMEM));
    assert_eq!(a.mprotect(x, u64::MAX - P, PROT_READ), Err(Errno::ENOMEM));
    // Pages 2..5 across two VMAs become read-only; entries follow.
    a.mprotect(x + 2 * P, 3 * P, PROT_READ).unwrap();
    assert_eq!(
        spans(&a),
        [
            (x, x + 2 * P, RW),
            (x + 2 * P, x + 6 * P, PROT_READ),
            (x + 7 * P, x + 8 * P, RW)
        ]
    );
    assert!(!a.translate(x + 3 * P).unwrap().flags.write);
    assert!(a.translate(x + P).unwrap().flags.write);
    assert_eq!(
        a.handle_fault(x + 3 * P, true, false),
        Err(FaultError::AccErr)
    );
    // Across the hole at page 6: ENOMEM, but the part before the hole changed (as Linux).
    assert_eq!(a.mprotect(x, 8 * P, PROT_NONE), Err(Errno::ENOMEM));
    assert_eq!(spans(&a)[0], (x, x + 6 * P, PROT_NONE));
    assert!(!a.translate(x).unwrap().flags.user);
    assert_eq!(a.handle_fault(x, false, false), Err(FaultError::AccErr));
    // PROT_NONE kept the data.
    a.mprotect(x, 6 * P, RW).unwrap();
    let mut b = [0u8; 4];
    a.read_bytes(x + 3 * P, &mut b, false).unwrap();
    assert_eq!(&b, b"keep");
    assert!(a.translate(x + 3 * P).unwrap().flags.write);
    check_invariants(&a);
    check_refcounts(&mem, &[&a]);
}

#[test]
fn brk_grows_and_shrinks() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    a.init_brk(0x40_0123);
    let b0 = a.current_brk();
    assert_eq!(b0, 0x40_1000);
    assert_eq!(a.brk(0), b0);
    assert_eq!(a.brk(0x1000), b0);
    assert_eq!(a.brk(b0 + 1), b0 + 1);
    assert_eq!(spans(&a), [(b0, b0 + P, RW)]);
    assert_eq!(a.brk(b0 + 10 * P), b0 + 10 * P);
    a.write_bytes(b0 + 9 * P, b"top", false).unwrap();
    assert_eq!(spans(&a), [(b0, b0 + 10 * P, RW)]);
    assert_eq!(a.brk(b0 + 2 * P + 5), b0 + 2 * P + 5);
    assert_eq!(spans(&a), [(b0, b0 + 3 * P, RW)]);
    assert_eq!(mem.live_pages(), 0);
    // Growing into another mapping (or to within a page of it) fails.
    a.mmap(b0 + 6 * P, P, RW, ANON | MAP_FIXED, None).unwrap();
    assert_eq!(a.brk(b0 + 6 * P), b0 + 2 * P + 5);
    assert_eq!(a.brk(b0 + 5 * P), b0 + 5 * P);
    assert_eq!(a.brk(1 << 47), b0 + 5 * P);
    assert_eq!(a.brk(b0), b0);
    assert_eq!(spans(&a), [(b0 + 6 * P, b0 + 7 * P, RW)]);
    check_invariants(&a);
}

#[test]
fn file_mappings() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let mut data = vec![0u8; 2 * P as usize + 100];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i / P as usize + 1) as u8;
    }
    let src: Arc<dyn PageSource> = Arc::new(File(data));
    let f = |offset, may_write| {
        Some(MapFile {
            source: src.clone(),
            offset,
            may_write,
        })
    };
    // Private, offset one page, four pages long (one past EOF).
    let x = a.mmap(0, 4 * P, RW, MAP_PRIVATE, f(P, false)).unwrap();
    assert_eq!(mem.live_pages(), 0);
    let mut b = [0u8; 2];
    a.read_bytes(x + P + 99, &mut b, false).unwrap();
    assert_eq!(b, [3, 0]);
    a.write_bytes(x, &[9], false).unwrap();
    a.read_bytes(x, &mut b, false).unwrap();
    assert_eq!(b, [9, 2]);
    assert_eq!(
        a.handle_fault(x + 2 * P, false, false),
        Err(FaultError::Bus)
    );
    // Splitting keeps offsets right.
    a.munmap(x, P).unwrap();
    a.mprotect(x + P, P, PROT_READ).unwrap();
    assert_eq!(a.vma_at(x + P).unwrap().file_offset(x + P), Some(2 * P));
    // Shared: populated at once (within the file); may_write is required for PROT_WRITE.
    let s = a
        .mmap(0, 2 * P, PROT_READ, MAP_SHARED, f(0, false))
        .unwrap();
    assert!(a.translate(s + P).is_some());
    assert_eq!(a.mprotect(s, P, RW), Err(Errno::EACCES));
    // Pages past the end of the file stay absent and fault with SIGBUS.
    let before = mem.live_pages();
    let t = a
        .mmap(0, 4 * P, PROT_READ, MAP_SHARED, f(0, false))
        .unwrap();
    assert_eq!(mem.live_pages(), before + 3);
    assert_eq!(
        a.handle_fault(t + 3 * P, false, false),
        Err(FaultError::Bus)
    );
    let w = a.mmap(0, P, RW, MAP_SHARED, f(0, true)).unwrap();
    a.write_bytes(w, &[7], false).unwrap();
    check_invariants(&a);
    check_refcounts(&mem, &[&a]);
    drop(a);
    assert_eq!(mem.used(), 0);
}

#[test]
fn mremap_cases() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let x = 0x4000_0000;
    a.mmap(x, 4 * P, RW, ANON | MAP_FIXED, None).unwrap();
    a.mmap(x + 6 * P, P, PROT_READ, ANON | MAP_FIXED, None)
        .unwrap();
    a.write_bytes(x + P, b"moved", false).unwrap();
    let pa = a.translate(x + P).unwrap().pa;
    let e = |r: Result<u64, Errno>| r.unwrap_err();
    assert_eq!(e(a.mremap(x, P, 2 * P, 8, 0)), Errno::EINVAL);
    assert_eq!(
        e(a.mremap(x, P, 2 * P, MREMAP_FIXED, 0x5000_0000)),
        Errno::EINVAL
    );
    assert_eq!(
        e(a.mremap(x + 1, P, 2 * P, MREMAP_MAYMOVE, 0)),
        Errno::EINVAL
    );
    assert_eq!(e(a.mremap(x, P, 0, MREMAP_MAYMOVE, 0)), Errno::EINVAL);
    assert_eq!(e(a.mremap(x, 0, P, MREMAP_MAYMOVE, 0)), Errno::EINVAL);
    assert_eq!(e(a.mremap(x, P, 1 << 47, MREMAP_MAYMOVE, 0)), Errno::EINVAL);
    assert_eq!(
        e(a.mremap(0x5000_0000, P, 2 * P, MREMAP_MAYMOVE, 0)),
        Errno::EFAULT
    );
    assert_eq!(e(a.mremap(0x5000_0000, 2 * P, P, 0, 0)), Errno::EFAULT);
    assert_eq!(
        e(a.mremap(x + 3 * P, 4 * P, 8 * P, MREMAP_MAYMOVE, 0)),
        Errno::EFAULT
    );
    assert_eq!(e(a.mremap(x, 3 * P, 5 * P, 0, 0)), Errno::ENOMEM);
    // An old range reaching past the user half: EINVAL, nothing unmapped (it once freed the
    // kernel half's page tables).
    assert_eq!(e(a.mremap(x, 1 << 62, P, 0, 0)), Errno::EINVAL);
    assert_eq!(e(a.mremap(x, u64::MAX - P, P, 0, 0)), Errno::EINVAL);
    assert_eq!(spans(&a)[0], (x, x + 4 * P, RW));
    let fx = MREMAP_MAYMOVE | MREMAP_FIXED;
    assert_eq!(e(a.mremap(x, P, P, fx, 0x5000_0001)), Errno::EINVAL);
    assert_eq!(e(a.mremap(x, 2 * P, 2 * P, fx, x + P)), Errno::EINVAL);
    // Grow in place into the free page after it (4 -> 6 pages).
    assert_eq!(a.mremap(x, 4 * P, 6 * P, 0, 0), Ok(x));
    assert_eq!(spans(&a)[0], (x, x + 6 * P, RW));
    // Grow with a move: the page moves, not its data.
    let y = a.mremap(x, 6 * P, 16 * P, MREMAP_MAYMOVE, 0).unwrap();
    assert_ne!(y, x);
    assert_eq!(a.translate(y + P).unwrap().pa, pa);
    assert!(a.translate(x + P).is_none());
    assert_eq!(a.vma_at(y).unwrap().end, y + 16 * P);
    // Shrink (even across a hole after the shrunk part, as Linux).
    assert_eq!(a.mremap(y, 32 * P, 2 * P, 0, 0), Ok(y));
    assert_eq!(a.vma_at(y).unwrap().end, y + 2 * P);
    // Fixed move onto an existing mapping replaces it.
    assert_eq!(a.mremap(y, 2 * P, 2 * P, fx, x + 6 * P), Ok(x + 6 * P));
    let mut b = [0u8; 5];
    a.read_bytes(x + 7 * P, &mut b, false).unwrap();
    assert_eq!(&b, b"moved");
    assert_eq!(spans(&a), [(x + 6 * P, x + 8 * P, RW)]);
    check_invariants(&a);
    check_refcounts(&mem, &[&a]);
    drop(a);
    assert_eq!(mem.used(), 0);
}

#[test]
fn stack_grows_down() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let top = 0x7000_0000;
    a.mmap(top - P, P, RW, ANON | MAP_FIXED | MAP_GROWSDOWN, None)
        .unwrap();
    a.handle_fault(top - 3 * P + 8, true, false).unwrap();
    assert_eq!(a.vma_at(top - 3 * P).unwrap().start, top - 3 * P);
    assert_eq!(
        a.handle_fault(top - (9 << 20), true, false),
        Err(FaultError::MapErr)
    );
    a.mmap(top - 6 * P, P, RW, ANON | MAP_FIXED, None).unwrap();
    // A guard page must stay between the stack and the mapping below.
    assert_eq!(
        a.handle_fault(top - 5 * P, false, false),
        Err(FaultError::MapErr)
    );
    a.handle_fault(top - 4 * P, false, false).unwrap();
    check_invariants(&a);
}

#[test]
fn out_of_memory_is_clean() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let x = a.mmap(0, 64 * P, RW, ANON, None).unwrap();
    let used = mem.used();
    mem.set_limit(used + 5);
    assert_eq!(a.populate(x, 64 * P, true), Err(Errno::ENOMEM));
    assert_eq!(mem.used(), used + 5);
    let absent = (0..64)
        .map(|i| x + i * P)
        .find(|v| a.translate(*v).is_none());
    assert_eq!(
        a.handle_fault(absent.unwrap(), true, false),
        Err(FaultError::OutOfMemory)
    );
    assert_eq!(
        a.mmap(0, 8 * P, RW, MAP_SHARED | MAP_ANONYMOUS, None),
        Err(Errno::ENOMEM)
    );
    mem.set_limit(0);
    check_invariants(&a);
    check_refcounts(&mem, &[&a]);
    drop(a);
    assert_eq!(mem.used(), 0);
}

#[test]
fn madvise_and_access_ok() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let x = 0x4000_0000;
    a.mmap(x, 8 * P, RW, ANON | MAP_FIXED, None).unwrap();
    a.write_bytes(x, b"hello", false).unwrap();
    a.munmap(x + 4 * P, P).unwrap();
    a.write_bytes(x + 5 * P, b"world", false).unwrap();
    let s = a.mmap(0, P, RW, MAP_SHARED | MAP_ANONYMOUS, None).unwrap();
    a.write_bytes(s, b"shared", false).unwrap();
    assert_eq!(a.madvise(x + 1, P, MADV_DONTNEED), Err(Errno::EINVAL));
    assert_eq!(a.madvise(x, P, 999), Err(Errno::EINVAL));
    assert_eq!(a.madvise(0x5000_0000, 0, MADV_DONTNEED), Ok(()));
    assert_eq!(a.madvise(0x5000_0000, P, MADV_DONTNEED), Err(Errno::ENOMEM));
    assert_eq!(
        a.madvise(x, u64::MAX - P, MADV_DONTNEED),
        Err(Errno::EINVAL)
    );
    // Across the hole: ENOMEM, yet both sides were dropped (as Linux).
    assert_eq!(a.madvise(x, 8 * P, MADV_DONTNEED), Err(Errno::ENOMEM));
    let mut b = [1u8; 5];
    a.read_bytes(x, &mut b, false).unwrap();
    assert_eq!(b, [0; 5]);
    a.read_bytes(x + 5 * P, &mut b, false).unwrap();
    assert_eq!(b, [0; 5]);
    assert_eq!(a.madvise(s, 100, MADV_DONTNEED), Ok(()));
    let mut c = [0u8; 6];
    a.read_bytes(s, &mut c, false).unwrap();
    assert_eq!(&c, b"shared");
    assert_eq!(mem.live_pages(), 1);
    assert_eq!(a.madvise(x, P, 3), Ok(()));
    // access_ok follows VMAs and protection.
    assert!(a.access_ok(x, 4 * P, true));
    assert!(!a.access_ok(x, 5 * P, false));
    assert!(a.access_ok(x + 4 * P, 0, false));
    a.mprotect(x, P, PROT_READ).unwrap();
    assert!(!a.access_ok(x + P - 1, 2, true));
    assert!(a.access_ok(x + P - 1, 2, false));
    assert!(!a.access_ok(u64::MAX, 2, false));
}

#[test]
fn msync_checks() {
    let mem = HostMem::default();
    let mut a = new_as(&mem);
    let x = 0x4000_0000;
    a.mmap(x, 4 * P, RW, ANON | MAP_FIXED, None).unwrap();
    a.munmap(x + 2 * P, P).unwrap();
    assert_eq!(a.msync(x, P, MS_SYNC), Ok(()));
    assert_eq!(a.msync(x, 1, MS_ASYNC | MS_INVALIDATE), Ok(()));
    assert_eq!(a.msync(x, 2 * P, 0), Ok(()));
    assert_eq!(a.msync(x + 1, P, MS_SYNC), Err(Errno::EINVAL));
    assert_eq!(a.msync(x, P, MS_SYNC | MS_ASYNC), Err(Errno::EINVAL));
    assert_eq!(a.msync(x, P, 8), Err(Errno::EINVAL));
    // Flags are checked before the range.
    assert_eq!(a.msync(0x5000_0001, P, 8), Err(Errno::EINVAL));
    assert_eq!(a.msync(x, 3 * P, MS_SYNC), Err(Errno::ENOMEM));
    assert_eq!(a.msync(x + P, 3 * P, MS_ASYNC), Err(Errno::ENOMEM));
    assert_eq!(a.msync(0x5000_0000, P, MS_ASYNC), Err(Errno::ENOMEM));
    assert_eq!(a.msync(0x5000_0000, 0, MS_ASYNC), Ok(()));
    // The length rounds up modulo 2^64 (to 0: nothing to do); a range that wraps: ENOMEM.
    assert_eq!(a.msync(x, u64::MAX, MS_SYNC), Ok(()));
    assert_eq!(a.msync(x, u64::MAX - 2 * P, MS_SYNC), Err(Errno::ENOMEM));
}
