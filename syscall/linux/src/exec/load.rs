//! Loading an executable into a fresh address space: segments, break, stack and arguments.

use super::elf::{self, LoadPlan, Segment};
use super::stack::{self, StackInput};
use crate::kernel::Kernel;
use crate::process::Vm;
use alloc::sync::Arc;
use mm::vm::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MapFile, PROT_EXEC, PROT_READ, PROT_WRITE, PageSource,
};
use syscall::{Errno, Result};
use vfs::OpenFile;

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

/// The ids the new program starts with, for its auxiliary vector (`AT_UID`... `AT_SECURE`).
#[derive(Clone, Copy, Default)]
pub struct AuxIds {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    /// A set-id exec (effective ids differ from the real ones).
    pub secure: bool,
}

/// Map the ELF executable open as `file` into the empty `vm` and build its initial stack.
/// `head` is the start of the file (at least [`elf::head_len`] bytes, or all of a shorter
/// file), `source` the file as a page source. Segments are mapped privately from the file
/// (demand paging; with a page cache the pages are shared until written, as in Linux); the
/// rest of the last file page of a segment with .bss is zeroed, the .bss pages past it are
/// anonymous. A segment whose address and offset disagree modulo the page size (a linker
/// would not make one) is copied instead.
#[allow(clippy::too_many_arguments)]
pub fn load_file<K: Kernel>(
    vm: &mut Vm<K>,
    file: &OpenFile,
    source: Arc<dyn PageSource>,
    head: &[u8],
    argv: &[&[u8]],
    envp: &[&[u8]],
    execfn: &[u8],
    ids: AuxIds,
) -> Result<Entry> {
    let layout = vm.layout();
    let size = file.metadata().size;
    let plan = elf::plan_head(
        head,
        size,
        K::MACHINE,
        pie_base(layout.user_end),
        layout.user_end,
    )?;
    for seg in &plan.segments {
        if seg.file_size == 0 || seg.vaddr % PAGE != seg.file_offset % PAGE {
            map_anonymous::<K>(vm, seg)?;
            // A page at a time: the segment's size comes from the file (a sparse tmpfs file
            // can claim terabytes), so it must never size a kernel buffer.
            let mut chunk = [0u8; PAGE as usize];
            let mut done = 0u64;
            while done < seg.file_size {
                let want = (seg.file_size - done).min(PAGE) as usize;
                let at = i64::try_from(seg.file_offset + done).map_err(|_| Errno::ENOEXEC)?;
                let n = match file.pread(&mut chunk[..want], at)? {
                    0 => return Err(Errno::ENOEXEC),
                    n => n,
                };
                vm.write_bytes(seg.vaddr + done, &chunk[..n], true)?;
                done += n as u64;
            }
            continue;
        }
        let start = seg.vaddr & !(PAGE - 1);
        let file_end = seg.vaddr + seg.file_size;
        let mapped_end = file_end.div_ceil(PAGE) * PAGE;
        let end = (seg.vaddr + seg.mem_size).div_ceil(PAGE) * PAGE;
        let prot = prot_of(seg);
        let map = MapFile {
            source: source.clone(),
            offset: seg.file_offset & !(PAGE - 1),
            may_write: false,
        };
        vm.mmap(
            start,
            mapped_end - start,
            prot,
            MAP_FIXED | MAP_PRIVATE,
            Some(map),
        )?;
        if seg.mem_size > seg.file_size && file_end < mapped_end {
            // .bss starts inside the last file page: the file's bytes after it must not show.
            let zeros = [0u8; PAGE as usize];
            vm.write_bytes(file_end, &zeros[..(mapped_end - file_end) as usize], true)?;
        }
        if end > mapped_end {
            vm.mmap(
                mapped_end,
                end - mapped_end,
                prot,
                MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
                None,
            )?;
        }
    }
    finish::<K>(vm, &plan, argv, envp, execfn, ids)
}

fn prot_of(seg: &Segment) -> u32 {
    (if seg.prot.read { PROT_READ } else { 0 })
        | if seg.prot.write { PROT_WRITE } else { 0 }
        | if seg.prot.exec { PROT_EXEC } else { 0 }
}

/// An anonymous mapping covering `seg`'s pages.
fn map_anonymous<K: Kernel>(vm: &mut Vm<K>, seg: &Segment) -> Result<()> {
    let start = seg.vaddr & !(PAGE - 1);
    let end = (seg.vaddr + seg.mem_size).div_ceil(PAGE) * PAGE;
    vm.mmap(
        start,
        end - start,
        prot_of(seg),
        MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
        None,
    )?;
    Ok(())
}

/// The break, the stack and its contents, once the segments are in.
fn finish<K: Kernel>(
    vm: &mut Vm<K>,
    plan: &LoadPlan,
    argv: &[&[u8]],
    envp: &[&[u8]],
    execfn: &[u8],
    ids: AuxIds,
) -> Result<Entry> {
    let layout = vm.layout();
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
        (stack::AT_UID, u64::from(ids.uid)),
        (stack::AT_EUID, u64::from(ids.euid)),
        (stack::AT_GID, u64::from(ids.gid)),
        (stack::AT_EGID, u64::from(ids.egid)),
        (stack::AT_HWCAP, 0),
        (stack::AT_CLKTCK, 100),
        (stack::AT_SECURE, u64::from(ids.secure)),
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
