//! Exception fixups: a table of (faulting instruction, recovery address) pairs, gathered by the
//! linker into `.ex_table`. When a #PF or #GP hits an instruction listed here, the trap handler
//! resumes at its recovery address instead of reporting a crash. [`probe_read`] is the first
//! user; user-memory copies will add their own entries the same way.

use core::arch::global_asm;

use arch_api::Fault;

#[repr(C)]
struct Entry {
    fault_ip: u64,
    fixup_ip: u64,
}

unsafe extern "C" {
    static __ex_table_start: Entry;
    static __ex_table_end: Entry;
}

/// The recovery address for a fault at `ip`, if `ip` is a listed instruction.
pub fn find_fixup(ip: u64) -> Option<u64> {
    // The linker script brackets `.ex_table` with these symbols.
    let (start, end) = (&raw const __ex_table_start, &raw const __ex_table_end);
    let count = (end as usize - start as usize) / core::mem::size_of::<Entry>();
    // SAFETY: `.ex_table` holds `count` entries between the two symbols, in read-only data.
    let table = unsafe { core::slice::from_raw_parts(start, count) };
    table.iter().find(|e| e.fault_ip == ip).map(|e| e.fixup_ip)
}

// u64 x86_probe_read(u64 addr, u64 *out): returns u64::MAX and stores the value, or, after a
// fault, returns the vector and stores the fault address (the trap handler put them in RAX and
// RDX before resuming at the fixup; for #GP, which reports no address, `addr` itself).
global_asm!(
    r#"
    .text
    .globl x86_probe_read
x86_probe_read:
    movq $-1, %rax
probe_read_insn:
    movq (%rdi), %rdx
    movq %rdx, (%rsi)
    ret
probe_read_fixup:
    cmpq $13, %rax
    jne 1f
    movq %rdi, %rdx
1:  movq %rdx, (%rsi)
    ret

    .pushsection .ex_table, "a"
    .p2align 3
    .quad probe_read_insn, probe_read_fixup
    .popsection
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    fn x86_probe_read(addr: u64, out: *mut u64) -> u64;
}

/// Read 8 bytes at `addr`, returning the fault instead of crashing.
pub fn probe_read(addr: u64) -> Result<u64, Fault> {
    let mut out = 0u64;
    // SAFETY: `x86_probe_read` only loads from `addr` (any fault is caught through the
    // exception table) and stores into `out`, which is valid.
    let status = unsafe { x86_probe_read(addr, &mut out) };
    if status == u64::MAX {
        Ok(out)
    } else {
        Err(Fault {
            kind: status,
            addr: out,
        })
    }
}
