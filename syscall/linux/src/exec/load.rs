//! Loading an executable into a fresh address space: segments, break, stack and arguments.

use super::elf::{self, LoadPlan};
use super::stack::{self, StackInput};
use crate::kernel::Kernel;
use crate::process::Vm;
use mm::vm::{MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE};
use syscall::{Errno, Result};

/// Size of the initial stack mapping (pages are faulted in as used).
pub const STACK_SIZE: u64 = 8 << 20;
/// Gap left between the stack top and the end of the user half.
const STACK_GAP: u64 = 1 << 20;

const PAGE: u64 = 4096;

/// Where a static-PIE executable is placed (like Linux's ELF_ET_DYN_BASE, 2/3 of the space).
fn pie_base(user_end: u64) -> u64 {
    (user_end / 3 * 2) & !(PAGE * 512 - 1)
}

/// Where the program starts.
pub struct Entry {
    pub ip: u64,
    pub sp: u64,
}

/// Map `file` (an ELF executable) into the empty `vm` and build its initial stack.
pub fn load<K: Kernel>(
    vm: &mut Vm<K>,
    file: &[u8],
    argv: &[&[u8]],
    envp: &[&[u8]],
    execfn: &[u8],
) -> Result<Entry> {
    let layout = vm.layout();
    let plan: LoadPlan = elf::plan(file, K::MACHINE, pie_base(layout.user_end), layout.user_end)?;
    for seg in &plan.segments {
        let start = seg.vaddr & !(PAGE - 1);
        let end = (seg.vaddr + seg.mem_size).div_ceil(PAGE) * PAGE;
        let prot = if seg.prot.read { PROT_READ } else { 0 }
            | if seg.prot.write { PROT_WRITE } else { 0 }
            | if seg.prot.exec { PROT_EXEC } else { 0 };
        vm.mmap(
            start,
            end - start,
            prot,
            MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
            None,
        )?;
        let bytes = file
            .get(seg.file_offset as usize..(seg.file_offset + seg.file_size) as usize)
            .ok_or(Errno::ENOEXEC)?;
        vm.write_bytes(seg.vaddr, bytes, true)?;
    }
    vm.init_brk(plan.brk_start);

    let top = (layout.user_end - STACK_GAP) & !(PAGE - 1);
    vm.mmap(
        top - STACK_SIZE,
        STACK_SIZE,
        PROT_READ | PROT_WRITE,
        MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
        None,
    )?;
    let mut random = [0u8; 16];
    K::fill_random(&mut random);
    let auxv = [
        (stack::AT_PHDR, plan.phdr),
        (stack::AT_PHENT, plan.phent),
        (stack::AT_PHNUM, plan.phnum),
        (stack::AT_PAGESZ, PAGE),
        (stack::AT_BASE, 0),
        (stack::AT_FLAGS, 0),
        (stack::AT_ENTRY, plan.entry),
        (stack::AT_UID, 0),
        (stack::AT_EUID, 0),
        (stack::AT_GID, 0),
        (stack::AT_EGID, 0),
        (stack::AT_HWCAP, 0),
        (stack::AT_CLKTCK, 100),
        (stack::AT_SECURE, 0),
    ];
    let input = StackInput {
        argv,
        envp,
        auxv: &auxv,
        random,
        platform: K::PLATFORM.as_bytes(),
        execfn,
    };
    let image = stack::build(top, &input)?;
    vm.write_bytes(image.sp, &image.bytes, false)?;
    Ok(Entry {
        ip: plan.entry,
        sp: image.sp,
    })
}
