//! In-kernel tests, selected with `test=` on the command line and reported on the console in
//! the protocol `cargo xtask test` reads (`KTEST BEGIN/PASS/FAIL/SUMMARY`, `KTEST CLOCK`).

use crate::memory::{self, FRAMES, phys_to_virt};
use crate::{A, SCHED, TICK_HZ, kprintln};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch_api::{Arch, PAGE_SIZE, PageFlags};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use mm::frame::MAX_ORDER;
use mm::page_table::PageSize;

mod user;
#[cfg(target_arch = "aarch64")]
mod user_aarch64;
#[cfg(target_arch = "x86_64")]
mod user_x86_64;

type Outcome = Result<(), String>;

struct Case {
    name: &'static str,
    run: fn() -> Outcome,
}

const CASES: &[Case] = &[
    Case {
        name: "exceptions",
        run: exceptions,
    },
    Case {
        name: "frames",
        run: frames,
    },
    Case {
        name: "heap",
        run: heap,
    },
    Case {
        name: "paging",
        run: paging,
    },
    Case {
        name: "preemption",
        run: preemption,
    },
    Case {
        name: "clock",
        run: clock,
    },
    Case {
        name: "user",
        run: user::user_mode,
    },
    #[cfg(target_arch = "x86_64")]
    Case {
        name: "user_hostile",
        run: user_x86_64::hostile,
    },
    #[cfg(target_arch = "x86_64")]
    Case {
        name: "user_switch",
        run: user_x86_64::switching,
    },
    #[cfg(target_arch = "aarch64")]
    Case {
        name: "user_exits",
        run: user_aarch64::exits::user_exits,
    },
];

pub(crate) fn check(cond: bool, what: impl FnOnce() -> String) -> Outcome {
    if cond { Ok(()) } else { Err(what()) }
}

/// Run the cases named by `selection` ("all", or names separated by commas). The special
/// names `panic` and `fatal_fault` crash the kernel on purpose, to test failure reporting.
/// Returns whether every case passed.
pub fn run(selection: &str) -> bool {
    match selection {
        "panic" => panic!("deliberate panic (test=panic)"),
        "fatal_fault" => {
            log::info!("reading unmapped address 0xdead0000 without a fixup");
            // SAFETY: deliberately unsound: this read faults, and the fault must be reported
            // as an unhandled exception that ends the kernel.
            let v = unsafe { core::ptr::read_volatile(0xdead_0000 as *const u64) };
            panic!("read of 0xdead0000 did not fault (got {v:#x})");
        }
        _ => {}
    }
    let (mut passed, mut failed) = (0, 0);
    for name in selection.split(',') {
        let selected: Vec<&Case> = CASES
            .iter()
            .filter(|c| name == "all" || c.name == name)
            .collect();
        if selected.is_empty() {
            kprintln!("KTEST FAIL {name}: no such test");
            failed += 1;
        }
        for case in selected {
            kprintln!("KTEST BEGIN {}", case.name);
            match (case.run)() {
                Ok(()) => {
                    kprintln!("KTEST PASS {}", case.name);
                    passed += 1;
                }
                Err(why) => {
                    kprintln!("KTEST FAIL {}: {}", case.name, why);
                    failed += 1;
                }
            }
        }
    }
    kprintln!("KTEST SUMMARY passed={passed} failed={failed}");
    failed == 0
}

/// A breakpoint is reported and resumed; a read of an unmapped address comes back as a fault.
fn exceptions() -> Outcome {
    let before = A::breakpoint();
    let after = A::breakpoint();
    check(after == before + 1, || {
        format!("breakpoint count {before} then {after}")
    })?;
    match A::probe_read(0xdead_0000) {
        Err(f) => check(f.addr == 0xdead_0000, || {
            format!("fault reported at {:#x}", f.addr)
        })?,
        Ok(v) => return Err(format!("read of 0xdead0000 returned {v:#x}")),
    }
    static VALUE: u64 = 0x1234_5678_9abc_def0;
    let got = A::probe_read(&VALUE as *const u64 as u64);
    check(got == Ok(VALUE), || {
        format!("probe of a mapped value gave {got:?}")
    })
}

/// Allocate every free frame (largest blocks first), write to each frame through the direct
/// map, free them all, and do it twice: the count must match and nothing may be lost.
fn frames() -> Outcome {
    let mut fa = FRAMES.lock();
    let free_before = fa.free_frames();
    let mut counts = [0u64; 2];
    for count in &mut counts {
        // The allocated blocks form a list threaded through their own first words:
        // [next block pa | order], so the test itself needs no memory.
        let mut head = u64::MAX;
        for order in (0..=MAX_ORDER).rev() {
            while let Some(pa) = fa.alloc(order) {
                for f in 0..(1u64 << order) {
                    let va = phys_to_virt(pa + f * PAGE_SIZE) as *mut u64;
                    // SAFETY: the frame is ours until freed below, and direct-mapped.
                    unsafe { va.add(1).write_volatile(pa + f) };
                }
                // SAFETY: as above.
                unsafe { (phys_to_virt(pa) as *mut u64).write_volatile(head) };
                head = pa | order as u64;
                *count += 1 << order;
            }
        }
        let exhausted = fa.free_frames();
        while head != u64::MAX {
            let (pa, order) = (head & !(PAGE_SIZE - 1), (head & (PAGE_SIZE - 1)) as usize);
            for f in 0..(1u64 << order) {
                let va = phys_to_virt(pa + f * PAGE_SIZE) as *const u64;
                // SAFETY: still ours, direct-mapped.
                let v = unsafe { va.add(1).read_volatile() };
                check(v == pa + f, || {
                    format!("frame {:#x} lost its contents", pa + f * PAGE_SIZE)
                })?;
            }
            // SAFETY: still ours, direct-mapped.
            let next = unsafe { (phys_to_virt(pa) as *const u64).read_volatile() };
            fa.free(pa, order)
                .map_err(|e| format!("free of {pa:#x} order {order}: {e:?}"))?;
            head = next;
        }
        check(exhausted == 0, || {
            format!("{exhausted} frames left after exhaustion")
        })?;
    }
    let free_after = fa.free_frames();
    drop(fa);
    check(
        counts[0] == free_before && counts[1] == free_before && free_after == free_before,
        || format!("free {free_before}, allocated {counts:?}, free after {free_after}"),
    )?;
    log::info!("frames: allocated and freed all {free_before} free frames twice");
    Ok(())
}

/// Many allocations of mixed sizes, and one larger than the heap, which makes it grow.
fn heap() -> Outcome {
    let (total_before, _) = memory::heap_usage();
    let mut boxes: Vec<Box<[u8]>> = Vec::new();
    for i in 0..2000usize {
        let size = 1 + (i * 37) % 3000;
        boxes.push(alloc::vec![(i % 251) as u8; size].into_boxed_slice());
    }
    for (i, b) in boxes.iter().enumerate() {
        check(b.iter().all(|&x| x == (i % 251) as u8), || {
            format!("box {i} corrupted")
        })?;
    }
    drop(boxes);
    let big_len = total_before * 2;
    let big = alloc::vec![0xa5u8; big_len];
    check(big.iter().step_by(4096).all(|&x| x == 0xa5), || {
        String::from("big vec corrupted")
    })?;
    let (total_after, _) = memory::heap_usage();
    drop(big);
    check(total_after > total_before, || {
        format!("heap did not grow: {total_before} -> {total_after}")
    })
}

/// Map, use, protect and unmap pages in the kernel page table through the arch-neutral walker.
fn paging() -> Outcome {
    const TEST_VA: u64 = 0xffff_c000_0000_0000;
    let frame = FRAMES.lock().alloc_frame().ok_or("no frame")?;
    let mut pt = memory::kernel_page_table();
    pt.map(TEST_VA, frame, PageSize::Size4K, PageFlags::KERNEL_DATA)
        .map_err(|e| format!("map: {e:?}"))?;
    // SAFETY: TEST_VA now maps `frame`, which we own.
    unsafe { (TEST_VA as *mut u64).write_volatile(0x5eed) };
    // SAFETY: the same frame through the direct map.
    let via_direct = unsafe { (phys_to_virt(frame) as *const u64).read_volatile() };
    check(via_direct == 0x5eed, || {
        format!("direct map sees {via_direct:#x}")
    })?;
    let t = pt.translate(TEST_VA + 8).ok_or("translate failed")?;
    check(t.pa == frame + 8 && t.flags.write, || {
        format!("translation {t:?}")
    })?;
    pt.protect(TEST_VA, PageFlags::KERNEL_RODATA)
        .map_err(|e| format!("protect: {e:?}"))?;
    let t = pt
        .translate(TEST_VA)
        .ok_or("translate after protect failed")?;
    check(!t.flags.write, || {
        String::from("still writable after protect")
    })?;
    check(A::probe_read(TEST_VA) == Ok(0x5eed), || {
        String::from("read-only page not readable")
    })?;
    pt.unmap(TEST_VA).map_err(|e| format!("unmap: {e:?}"))?;
    check(A::probe_read(TEST_VA).is_err(), || {
        String::from("unmapped page still readable")
    })?;
    let _ = FRAMES.lock().free(frame, 0);

    // A 2 MiB block.
    let block = FRAMES.lock().alloc(9).ok_or("no 2 MiB block")?;
    let va = TEST_VA + (2 << 20);
    pt.map(va, block, PageSize::Size2M, PageFlags::KERNEL_DATA)
        .map_err(|e| format!("map 2M: {e:?}"))?;
    let t = pt.translate(va + 0x12_3456).ok_or("translate 2M failed")?;
    check(
        t.size == PageSize::Size2M && t.pa == block + 0x12_3456,
        || format!("2M translation {t:?}"),
    )?;
    // SAFETY: the block is ours and now mapped at `va`.
    unsafe { ((va + 0x10_0000) as *mut u64).write_volatile(7) };
    let seen = A::probe_read(phys_to_virt(block) + 0x10_0000);
    check(seen == Ok(7), || format!("2M block read back {seen:?}"))?;
    pt.unmap(va).map_err(|e| format!("unmap 2M: {e:?}"))?;
    check(A::probe_read(va + 0x10_0000).is_err(), || {
        String::from("unmapped block still readable")
    })?;
    let _ = FRAMES.lock().free(block, 9);
    Ok(())
}

/// Two threads that never yield both make progress while a third sleeps.
fn preemption() -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let (stop, counters) = (stop.clone(), counters.clone());
            SCHED.spawn(&format!("spin{i}"), move || {
                while !stop.load(Ordering::Relaxed) {
                    counters[i].fetch_add(1, Ordering::Relaxed);
                    core::hint::spin_loop();
                }
            })
        })
        .collect();
    let switches = SCHED.switches();
    let mut result = Ok(());
    for round in 0..5 {
        let before = [
            counters[0].load(Ordering::Relaxed),
            counters[1].load(Ordering::Relaxed),
        ];
        SCHED.sleep_ticks(10);
        let after = [
            counters[0].load(Ordering::Relaxed),
            counters[1].load(Ordering::Relaxed),
        ];
        if after[0] == before[0] || after[1] == before[1] {
            result = Err(format!(
                "round {round}: a spinner starved ({before:?} -> {after:?})"
            ));
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in &threads {
        SCHED.join(t);
    }
    result?;
    let n = SCHED.switches() - switches;
    check(n >= 10, || format!("only {n} context switches"))?;
    log::info!(
        "preemption: spinners at {} and {}, {} switches",
        counters[0].load(Ordering::Relaxed),
        counters[1].load(Ordering::Relaxed),
        n
    );
    Ok(())
}

/// Two seconds of timer ticks, bracketed by lines the host times; the tick count and the
/// monotonic clock must agree with each other here and with the host's clock there.
fn clock() -> Outcome {
    let hz = u64::from(TICK_HZ);
    let t0 = SCHED.ticks();
    while SCHED.ticks() == t0 {
        A::wait_for_interrupt();
    }
    let (start_ticks, start_ns) = (SCHED.ticks(), A::now_ns());
    kprintln!("KTEST CLOCK start");
    while SCHED.ticks() < start_ticks + 2 * hz {
        A::wait_for_interrupt();
    }
    let (ticks, ns) = (SCHED.ticks() - start_ticks, A::now_ns() - start_ns);
    kprintln!("KTEST CLOCK end ticks={ticks} hz={hz} mono_ns={ns}");
    let by_ticks = ticks * 1_000_000_000 / hz;
    let diff = by_ticks.abs_diff(ns);
    check(diff * 20 <= by_ticks, || {
        format!("ticks say {by_ticks} ns, clock says {ns} ns")
    })
}
