//! Copies to and from user memory that never trust the pointer: the range must lie below
//! [`USER_END`], and a fault inside the copy (unmapped or read-only page) is caught through the
//! exception table ([`crate::extable`]) and returned as an error.
//!
//! With SMAP on (Intel SDM vol. 3A §4.6.1), supervisor accesses to user pages fault unless
//! RFLAGS.AC is set: the copy routine sets it (`stac`) for exactly the copy and clears it
//! (`clac`) on both the normal and the fault path. The trap entry clears AC as well, so an
//! interrupt in the middle of a copy does not run its handler (or another thread) with AC set.

use core::arch::global_asm;

use arch_api::Fault;

use crate::cpu::SMAP_ENABLED;
use crate::paging::USER_END;
use crate::traps::VEC_PAGE_FAULT;

// struct { status, addr } x86_copy_user(dst, src, len): status u64::MAX on success; after a
// fault, the vector and the fault address (the trap handler put them in RAX and RDX before
// resuming at the fixup). The pair comes back in RAX:RDX (System V: a 16-byte struct of two
// integers).
global_asm!(
    r#"
    .text
    .globl x86_copy_user
x86_copy_user:
    movq %rdx, %rcx
    testb $1, {smap}(%rip)
    jz 1f
    stac
1:
copy_user_insn:
    rep movsb
    movq $-1, %rax
copy_user_fixup:
    testb $1, {smap}(%rip)
    jz 2f
    clac
2:  ret

    .pushsection .ex_table, "a"
    .p2align 3
    .quad copy_user_insn, copy_user_fixup
    .popsection
    "#,
    smap = sym SMAP_ENABLED,
    options(att_syntax)
);

#[repr(C)]
struct CopyResult {
    status: u64,
    addr: u64,
}

unsafe extern "C" {
    fn x86_copy_user(dst: *mut u8, src: *const u8, len: usize) -> CopyResult;
}

/// Whether `[addr, addr + len)` lies in the user half without wrapping.
fn check_range(addr: u64, len: usize) -> Result<(), Fault> {
    match addr.checked_add(len as u64) {
        Some(end) if end <= USER_END => Ok(()),
        _ => Err(Fault {
            kind: VEC_PAGE_FAULT,
            addr,
        }),
    }
}

fn result(r: CopyResult) -> Result<(), Fault> {
    if r.status == u64::MAX {
        Ok(())
    } else {
        Err(Fault {
            kind: r.status,
            addr: r.addr,
        })
    }
}

/// Copy `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Fault> {
    check_range(src, dst.len())?;
    // SAFETY: `dst` is a valid kernel buffer of that length; the source is checked to be user
    // memory, where a fault is caught by the exception table and reported instead.
    result(unsafe { x86_copy_user(dst.as_mut_ptr(), src as *const u8, dst.len()) })
}

/// Copy `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Fault> {
    check_range(dst, src.len())?;
    // SAFETY: as in `copy_from_user`: the destination is checked to be user memory (so no
    // kernel data is overwritten) and faults there are caught.
    result(unsafe { x86_copy_user(dst as *mut u8, src.as_ptr(), src.len()) })
}
