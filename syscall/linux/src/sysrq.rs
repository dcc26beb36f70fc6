//! What the magic SysRq keys print about processes (`t`: every task, where it waits).
//!
//! Written for a kernel that may be stuck: every lock is only tried, and a busy one is
//! reported instead of waited for.

use crate::kernel::Kernel;
use crate::process::{NOT_IN_SYSCALL, Process};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::Ordering;
use syscall::Sysno;

/// One line per process and one per thread: pid, name, state, and for each thread its
/// scheduler state and the syscall it is in.
pub fn show_tasks<K: Kernel>(init: &Arc<Process<K>>) -> String {
    let mut out = String::new();
    let mut stack = alloc::vec![init.clone()];
    let mut seen = 0usize;
    while let Some(p) = stack.pop() {
        seen += 1;
        if seen > 4096 {
            let _ = writeln!(out, "  ... (more processes)");
            break;
        }
        describe(&mut out, &p);
        match p.children.try_lock() {
            Some(children) => stack.extend(children.iter().rev().cloned()),
            None => {
                let _ = writeln!(out, "    (children list locked)");
            }
        }
    }
    out
}

fn describe<K: Kernel>(out: &mut String, p: &Arc<Process<K>>) {
    let name = p
        .name
        .try_lock()
        .map(|n| String::from_utf8_lossy(&n).into_owned())
        .unwrap_or_else(|| String::from("?"));
    let state = if p.exit_status.try_lock().is_some_and(|s| s.is_some()) {
        "zombie"
    } else if p.stopped.load(Ordering::Relaxed) {
        "stopped"
    } else {
        "live"
    };
    let _ = writeln!(
        out,
        "  pid {} ({name}) {state} pgid {} sid {}",
        p.pid,
        p.pgid.load(Ordering::Relaxed),
        p.sid.load(Ordering::Relaxed)
    );
    let Some(threads) = p.threads.try_lock() else {
        let _ = writeln!(out, "    (thread list locked)");
        return;
    };
    let threads: Vec<_> = threads.iter().cloned().collect();
    for t in threads {
        let sched_state = t
            .thread
            .get()
            .map(|th| alloc::format!("{:?}", th.state()))
            .unwrap_or_else(|| String::from("not started"));
        let nr = t.in_syscall.load(Ordering::Relaxed);
        let place = if nr == NOT_IN_SYSCALL {
            String::from("user mode")
        } else {
            let name = usize::try_from(nr)
                .ok()
                .and_then(|i| Sysno::ALL.get(i))
                .map_or("?", |s| s.name());
            alloc::format!("in {name}")
        };
        let _ = writeln!(
            out,
            "    tid {} {sched_state}, {place}, pending {:#x}, blocked {:#x}",
            t.tid(),
            t.pending.try_lock().map_or(0, |s| s.set),
            t.sigmask.load(Ordering::Relaxed)
        );
    }
}
