//! Random operation sequences against a page-granular model, with leak and refcount checks.

use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use super::*;
use crate::vm::*;

const P: u64 = PAGE_SIZE;
/// The window the operations touch: 48 pages (with a few outside it to exercise splits).
const BASE: u64 = 0x1000_0000;
const PAGES: u64 = 48;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one page of one address space should look like.
#[derive(Clone, Copy, PartialEq, Debug)]
struct Page {
    prot: u32,
    shared: bool,
    /// The byte at offset 7 of the page (the one the test writes).
    byte: u8,
    /// Group id of shared pages: pages with the same id are one physical page.
    id: u32,
    /// Page index in [`file`] for file mappings.
    file: Option<u64>,
}

/// The byte every position of page `k` of the test file holds.
fn fbyte(k: u64) -> u8 {
    (k as u8).wrapping_mul(37) | 1
}

fn file() -> Arc<dyn PageSource> {
    let mut data = vec![0u8; 128 * P as usize];
    for (i, b) in data.iter_mut().enumerate() {
        *b = fbyte(i as u64 / P);
    }
    Arc::new(File(data))
}

type Model = Vec<Option<Page>>;

struct Proc {
    space: As,
    model: Model,
    brk: u64,
}

/// Whether `m` continues the VMA of `base` at `k` pages after it.
fn continues(m: Option<Page>, base: Page, k: u64) -> bool {
    m.is_some_and(|m| {
        (m.prot, m.shared) == (base.prot, base.shared) && m.file == base.file.map(|o| o + k)
    })
}

const BRK_START: u64 = BASE + 32 * P;

fn prot_of(r: &mut Rng) -> u32 {
    [
        PROT_NONE,
        PROT_READ,
        PROT_READ | PROT_WRITE,
        PROT_READ | PROT_EXEC,
    ][r.below(4) as usize]
}

fn check(p: &mut Proc) {
    check_invariants(&p.space);
    for i in 0..PAGES {
        let va = BASE + i * P;
        let want = p.model[i as usize];
        let vma = p.space.vma_at(va).cloned();
        assert_eq!(
            vma.as_ref().map(|v| v.prot),
            want.map(|w| w.prot),
            "prot at page {i}"
        );
        assert_eq!(vma.as_ref().map(|v| v.shared), want.map(|w| w.shared));
        if let Some(w) = want {
            let mut b = [0u8];
            p.space.read_bytes(va + 7, &mut b, true).unwrap();
            assert_eq!(b[0], w.byte, "byte at page {i}");
        }
    }
}

/// Runs one sequence; returns (moves, forks) done, to show the interesting paths ran.
fn run(seed: u64, steps: usize) -> (usize, usize) {
    let mem = HostMem::default();
    let mut r = Rng(seed);
    let mut procs = vec![Proc {
        space: new_as(&mem),
        model: vec![None; PAGES as usize],
        brk: BRK_START,
    }];
    procs[0].space.init_brk(BRK_START);
    let mut next_id = 1u32;
    let src = file();
    let (mut moves, mut forks) = (0, 0);
    for _ in 0..steps {
        let pi = r.below(procs.len() as u64) as usize;
        let first = r.below(PAGES);
        let n = 1 + r.below((PAGES - first).min(8));
        let (start, len) = (BASE + first * P, n * P);
        let range = first as usize..(first + n) as usize;
        let nprocs = procs.len();
        let p = &mut procs[pi];
        let op = r.below(16);
        if std::env::var("MM_TRACE").is_ok() {
            std::eprintln!("seed {seed:#x} proc {pi} op {op} first {first} n {n}");
        }
        match op {
            0 | 1 => {
                let prot = prot_of(&mut r);
                let shared = r.below(4) == 0;
                let kind = if shared { MAP_SHARED } else { MAP_PRIVATE };
                let fpage = (r.below(3) == 0).then(|| r.below(64));
                let (flags, f) = match fpage {
                    Some(o) => (
                        kind | MAP_FIXED,
                        Some(MapFile {
                            source: src.clone(),
                            offset: o * P,
                            may_write: true,
                        }),
                    ),
                    None => (kind | MAP_FIXED | MAP_ANONYMOUS, None),
                };
                assert_eq!(p.space.mmap(start, len, prot, flags, f), Ok(start));
                for (k, m) in p.model[range].iter_mut().enumerate() {
                    let id = next_id;
                    next_id += 1;
                    let file = fpage.map(|o| o + k as u64);
                    *m = Some(Page {
                        prot,
                        shared,
                        byte: file.map_or(0, fbyte),
                        id,
                        file,
                    });
                }
            }
            2 => {
                p.space.munmap(start, len).unwrap();
                p.model[range].fill(None);
            }
            3 => {
                let prot = prot_of(&mut r);
                let res = p.space.mprotect(start, len, prot);
                let mut expect = Ok(());
                for m in &mut p.model[range] {
                    match m {
                        Some(pg) => pg.prot = prot,
                        None => {
                            expect = Err(Errno::ENOMEM);
                            break;
                        }
                    }
                }
                assert_eq!(res, expect);
            }
            4..=6 => {
                // A user write: fault, then store.
                let i = first as usize;
                let va = start + 7;
                let byte = r.below(255) as u8 + 1;
                let res = p.space.handle_fault(va, true, false);
                match p.model[i] {
                    None => assert_eq!(res, Err(FaultError::MapErr)),
                    Some(pg) if pg.prot & PROT_WRITE == 0 => {
                        assert_eq!(res, Err(FaultError::AccErr))
                    }
                    Some(pg) => {
                        res.unwrap();
                        let t = p.space.translate(va).unwrap();
                        assert!(t.flags.write && t.flags.user);
                        p.space.write_bytes(va, &[byte], false).unwrap();
                        if pg.shared {
                            // Every process holding this page sees the byte.
                            for m in procs.iter_mut().flat_map(|q| q.model.iter_mut()).flatten() {
                                if m.id == pg.id {
                                    m.byte = byte;
                                }
                            }
                        } else if let Some(m) = procs[pi].model[i].as_mut() {
                            m.byte = byte;
                        }
                    }
                }
            }
            7 => {
                let i = first as usize;
                let res = p.space.handle_fault(start, false, false);
                match p.model[i] {
                    None => assert_eq!(res, Err(FaultError::MapErr)),
                    Some(pg) if pg.prot == PROT_NONE => assert_eq!(res, Err(FaultError::AccErr)),
                    Some(_) => res.unwrap(),
                }
            }
            8 if nprocs < 4 => {
                let child = p.space.fork(table(&mem)).unwrap();
                forks += 1;
                let (model, brk) = (p.model.clone(), p.brk);
                procs.push(Proc {
                    space: child,
                    model,
                    brk,
                });
            }
            9 | 10 => {
                // Move a uniform run (one VMA) to a disjoint place, maybe resized.
                let run = &p.model[range.clone()];
                let uniform = run.iter().enumerate().all(|(k, m)| {
                    m.is_some_and(|m| {
                        run[0].is_some_and(|f| {
                            (m.prot, m.shared) == (f.prot, f.shared)
                                && m.file == f.file.map(|o| o + k as u64)
                        })
                    })
                });
                let n2 = 1 + r.below(8);
                let dst = r.below(PAGES - n2 + 1);
                let disjoint = dst + n2 <= first || first + n <= dst;
                if uniform && disjoint {
                    let to = BASE + dst * P;
                    let flags = MREMAP_MAYMOVE | MREMAP_FIXED;
                    assert_eq!(p.space.mremap(start, len, n2 * P, flags, to), Ok(to));
                    moves += 1;
                    let moved: Vec<_> = p.model[range.clone()].to_vec();
                    p.model[range].fill(None);
                    let tmpl = moved[0].unwrap();
                    for k in 0..n2 as usize {
                        p.model[dst as usize + k] = match moved.get(k) {
                            Some(m) => *m,
                            None => {
                                let id = next_id;
                                next_id += 1;
                                let file = tmpl.file.map(|o| o + k as u64);
                                Some(Page {
                                    byte: file.map_or(0, fbyte),
                                    id,
                                    file,
                                    ..tmpl
                                })
                            }
                        };
                    }
                }
            }
            11 => {
                let res = p.space.madvise(start, len, MADV_DONTNEED);
                let mut expect = Ok(());
                for m in &mut p.model[range] {
                    match m {
                        Some(pg) if !pg.shared => pg.byte = pg.file.map_or(0, fbyte),
                        Some(_) => {}
                        None => expect = Err(Errno::ENOMEM),
                    }
                }
                assert_eq!(res, expect);
            }
            12 | 13 => {
                let target = BASE + (24 + r.below(24)) * P + r.below(3) * 100;
                let page = |a: u64| (a.div_ceil(P) - BASE / P) as usize;
                let (old_top, new_top) = (page(p.brk), page(target));
                if target >= BRK_START {
                    if new_top <= old_top {
                        p.model[new_top..old_top].fill(None);
                        p.brk = target;
                    } else {
                        let free = p.model[old_top..new_top].iter().all(Option::is_none);
                        let next = p.model[old_top..].iter().position(Option::is_some);
                        if free && next.is_none_or(|i| new_top < old_top + i) {
                            for m in &mut p.model[old_top..new_top] {
                                let id = next_id;
                                next_id += 1;
                                *m = Some(Page {
                                    prot: PROT_READ | PROT_WRITE,
                                    shared: false,
                                    byte: 0,
                                    id,
                                    file: None,
                                });
                            }
                            p.brk = target;
                        }
                    }
                }
                assert_eq!(p.space.brk(target), p.brk);
            }
            14 => {
                // mremap in place: shrink, or grow if the VMA ends here and room follows.
                let n2 = 1 + r.below((PAGES - first).min(8));
                let res = p.space.mremap(start, len, n2 * P, 0, 0);
                let (f, e, e2) = (first as usize, (first + n) as usize, (first + n2) as usize);
                let expect = match p.model[f] {
                    None => Err(Errno::EFAULT),
                    Some(_) if n2 <= n => {
                        p.model[e2..e].fill(None);
                        Ok(start)
                    }
                    Some(base) => {
                        let covered = (0..n).all(|k| continues(p.model[f + k as usize], base, k));
                        let at_end = e == PAGES as usize || !continues(p.model[e], base, n);
                        if !covered {
                            Err(Errno::EFAULT)
                        } else if at_end && p.model[e..e2].iter().all(Option::is_none) {
                            for k in n..n2 {
                                let id = next_id;
                                next_id += 1;
                                let file = base.file.map(|o| o + k);
                                p.model[f + k as usize] = Some(Page {
                                    byte: file.map_or(0, fbyte),
                                    id,
                                    file,
                                    ..base
                                });
                            }
                            Ok(start)
                        } else {
                            Err(Errno::ENOMEM)
                        }
                    }
                };
                assert_eq!(res, expect);
            }
            _ if nprocs > 1 => {
                procs.swap_remove(pi);
            }
            _ => {}
        }
        for q in procs.iter_mut() {
            check(q);
        }
        let spaces: Vec<&As> = procs.iter().map(|q| &q.space).collect();
        check_refcounts(&mem, &spaces);
    }
    drop(procs);
    assert_eq!(mem.used(), 0, "seed {seed:#x} leaked");
    (moves, forks)
}

#[test]
fn random_sequences_match_the_model() {
    let (mut moves, mut forks) = (0, 0);
    // MM_SEEDS=n runs more sequences by hand.
    let seeds = std::env::var("MM_SEEDS").map_or(40u64, |s| s.parse().unwrap_or(40));
    for seed in 1..=seeds {
        let (m, f) = run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1, 300);
        moves += m;
        forks += f;
    }
    assert!(moves > 200 && forks > 100, "moves {moves}, forks {forks}");
}

/// Random calls with random arguments under a random memory limit: whatever fails, the
/// structures stay consistent and nothing leaks.
#[test]
fn random_calls_under_memory_pressure_leak_nothing() {
    let mut oom = 0;
    for seed in 1..=30u64 {
        let mem = HostMem::default();
        let mut r = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        let src = file();
        let mut spaces = vec![new_as(&mem)];
        spaces[0].init_brk(BRK_START);
        for _ in 0..400 {
            let limit = if r.below(3) == 0 {
                mem.used() + r.below(6) as usize
            } else {
                0
            };
            mem.set_limit(limit);
            let i = r.below(spaces.len() as u64) as usize;
            let a = &mut spaces[i];
            let addr = BASE + r.below(PAGES) * P;
            let len = (1 + r.below(8)) * P;
            let prot = prot_of(&mut r);
            match r.below(9) {
                0 => {
                    let flags = [MAP_PRIVATE, MAP_SHARED][r.below(2) as usize] | MAP_FIXED;
                    let f = (r.below(2) == 0).then(|| MapFile {
                        source: src.clone(),
                        offset: r.below(64) * P,
                        may_write: true,
                    });
                    let anon = if f.is_none() { MAP_ANONYMOUS } else { 0 };
                    oom += (a.mmap(addr, len, prot, flags | anon | MAP_POPULATE, f)
                        == Err(Errno::ENOMEM)) as usize;
                }
                1 => {
                    let _ = a.munmap(addr, len);
                }
                2 => {
                    let _ = a.mprotect(addr, len, prot);
                }
                3 => {
                    oom += (a.populate(addr, len, r.below(2) == 0) == Err(Errno::ENOMEM)) as usize;
                }
                4 => {
                    oom += (a.handle_fault(addr + 5, r.below(2) == 0, false)
                        == Err(FaultError::OutOfMemory)) as usize;
                }
                5 => {
                    let to = BASE + r.below(PAGES) * P;
                    let flags = [0, MREMAP_MAYMOVE, MREMAP_MAYMOVE | MREMAP_FIXED];
                    let new_len = (1 + r.below(8)) * P;
                    oom += (a.mremap(addr, len, new_len, flags[r.below(3) as usize], to)
                        == Err(Errno::ENOMEM)) as usize;
                }
                6 => {
                    a.brk(BRK_START + r.below(16) * P);
                }
                7 if spaces.len() < 3 => {
                    let child = crate::page_table::PageTable::new(mem.clone())
                        .map_err(|_| Errno::ENOMEM)
                        .and_then(|t| spaces[i].fork(t));
                    match child {
                        Ok(child) => spaces.push(child),
                        Err(_) => oom += 1,
                    }
                }
                _ if spaces.len() > 1 => {
                    spaces.swap_remove(i);
                }
                _ => {}
            }
            mem.set_limit(0);
            for a in &spaces {
                check_invariants(a);
            }
            check_refcounts(&mem, &spaces.iter().collect::<Vec<_>>());
        }
        drop(spaces);
        assert_eq!(mem.used(), 0, "seed {seed} leaked");
    }
    assert!(oom > 300, "only {oom} out-of-memory failures");
}
