//! `mmap`, `munmap`, `mprotect` and `brk`, with Linux's argument checks and error numbers
//! (checked against Linux 6.18 on the host; the cases are in the tests).

use alloc::sync::Arc;
use arch_api::{PAGE_SIZE, PageTableFormat};
use syscall::Errno;

use super::{
    AddressSpace, FileMap, MAP_ANONYMOUS, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_FIXED,
    MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_NORESERVE,
    MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_STACK, MAP_SYNC, MAP_TYPE,
    PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_NONE, PROT_READ, PROT_SEM, PROT_WRITE,
    PageMemory, PageSource, Vma, page_down, page_up,
};

/// `madvise` advice that drops pages.
pub const MADV_DONTNEED: u32 = 4;
pub const MADV_FREE: u32 = 8;

/// `msync` flags.
pub const MS_ASYNC: u32 = 1;
pub const MS_INVALIDATE: u32 = 2;
pub const MS_SYNC: u32 = 4;

/// Flags `MAP_SHARED_VALIDATE` accepts; others give EOPNOTSUPP.
const KNOWN_FLAGS: u32 = MAP_TYPE
    | MAP_FIXED
    | MAP_ANONYMOUS
    | MAP_GROWSDOWN
    | MAP_DENYWRITE
    | MAP_EXECUTABLE
    | MAP_LOCKED
    | MAP_NORESERVE
    | MAP_POPULATE
    | MAP_NONBLOCK
    | MAP_STACK
    | MAP_HUGETLB
    | MAP_SYNC
    | MAP_FIXED_NOREPLACE;

/// The file behind an `mmap` call.
#[derive(Clone)]
pub struct MapFile {
    pub source: Arc<dyn PageSource>,
    /// Byte offset in the file (must be page aligned).
    pub offset: u64,
    /// The file is open for writing (needed for a writable shared mapping).
    pub may_write: bool,
}

impl<F: PageTableFormat, M: PageMemory> AddressSpace<F, M> {
    /// `mmap(addr, len, prot, flags, fd, offset)`; `file` is `None` for `MAP_ANONYMOUS` (and
    /// ignored then). Returns the mapping's address.
    pub fn mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: u32,
        flags: u32,
        file: Option<MapFile>,
    ) -> Result<u64, Errno> {
        let anon = flags & MAP_ANONYMOUS != 0;
        let offset = if anon {
            0
        } else {
            file.as_ref().map_or(0, |f| f.offset)
        };
        if !offset.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_up(len).ok_or(Errno::ENOMEM)?;
        if len > self.layout.user_end {
            return Err(Errno::ENOMEM);
        }
        let shared = match flags & MAP_TYPE {
            MAP_SHARED => true,
            MAP_PRIVATE => false,
            MAP_SHARED_VALIDATE if !anon => {
                if flags & !KNOWN_FLAGS != 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                true
            }
            _ => return Err(Errno::EINVAL),
        };
        let grows_down = flags & MAP_GROWSDOWN != 0;
        if shared && grows_down {
            return Err(Errno::EINVAL);
        }
        let file = if anon {
            None
        } else {
            let f = file.ok_or(Errno::EBADF)?;
            if offset.checked_add(len).is_none() {
                return Err(Errno::EOVERFLOW);
            }
            if shared && prot & PROT_WRITE != 0 && !f.may_write {
                return Err(Errno::EACCES);
            }
            Some(FileMap {
                source: f.source,
                offset,
                may_write: f.may_write || !shared,
            })
        };
        let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
        let start = if fixed {
            if !addr.is_multiple_of(PAGE_SIZE) {
                return Err(Errno::EINVAL);
            }
            if addr > self.layout.user_end - len {
                return Err(Errno::ENOMEM);
            }
            if addr < self.layout.min_addr {
                return Err(Errno::EPERM);
            }
            if flags & MAP_FIXED_NOREPLACE != 0 && !self.is_free(addr, addr + len) {
                return Err(Errno::EEXIST);
            }
            self.remove_range(addr, addr + len);
            addr
        } else {
            let hint = page_down(addr).max(self.layout.min_addr);
            if addr != 0 && hint <= self.layout.user_end - len && self.is_free(hint, hint + len) {
                hint
            } else {
                self.find_gap(len).ok_or(Errno::ENOMEM)?
            }
        };
        let vma = Vma {
            start,
            end: start + len,
            prot: prot & (PROT_READ | PROT_WRITE | PROT_EXEC),
            shared,
            grows_down,
            file,
        };
        let populate = Self::shares_by_populate(&vma) || flags & MAP_POPULATE != 0;
        self.insert(vma);
        // Shared mappings are populated now so that `fork` shares their pages.
        if populate && let Err(e) = self.populate_range(start, start + len) {
            self.remove_range(start, start + len);
            return Err(e.errno());
        }
        Ok(start)
    }

    /// `munmap(addr, len)`: unmapping nothing is not an error.
    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = page_up(len)
            .and_then(|l| addr.checked_add(l))
            .filter(|e| *e <= self.layout.user_end)
            .ok_or(Errno::EINVAL)?;
        self.remove_range(addr, end);
        Ok(())
    }

    /// `mprotect(addr, len, prot)`. As in Linux, VMAs before a hole keep their new protection
    /// when the hole makes the call fail with ENOMEM.
    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE)
            || prot
                & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP)
                != 0
        {
            return Err(Errno::EINVAL);
        }
        if prot & (PROT_GROWSDOWN | PROT_GROWSUP) != 0 {
            // Only meaningful on growable stacks, which we do not extend this way.
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let end = page_up(len)
            .and_then(|l| addr.checked_add(l))
            .ok_or(Errno::ENOMEM)?;
        let prot = prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
        let mut cur = addr;
        let mut result = Ok(());
        while cur < end {
            let Some(vma) = self.vma_at(cur) else {
                result = Err(Errno::ENOMEM);
                break;
            };
            if vma.shared
                && prot & PROT_WRITE != 0
                && vma.file.as_ref().is_some_and(|f| !f.may_write)
            {
                result = Err(Errno::EACCES);
                break;
            }
            let stop = vma.end.min(end);
            self.split_at(cur);
            self.split_at(stop);
            if let Some(v) = self.vmas.get_mut(&cur) {
                v.prot = prot;
            }
            self.reprotect(cur, stop);
            cur = stop;
        }
        self.merge_range(addr, cur);
        result
    }

    /// `brk(addr)`: returns the new break, or the current one if `addr` is 0, below the
    /// initial break, collides with another mapping, or memory is short. Nothing moves before
    /// [`AddressSpace::init_brk`].
    pub fn brk(&mut self, addr: u64) -> u64 {
        if self.brk_start == 0 || addr < self.brk_start || addr > self.layout.user_end {
            return self.brk;
        }
        let (Some(old_top), Some(new_top)) = (page_up(self.brk), page_up(addr)) else {
            return self.brk;
        };
        if new_top < old_top {
            self.remove_range(new_top, old_top);
        } else if new_top > old_top {
            // Linux keeps a page between the break and the next mapping.
            let next_start = self
                .vmas
                .range(old_top..)
                .next()
                .map_or(self.layout.user_end, |(_, v)| v.start);
            if !self.is_free(old_top, new_top) || new_top + PAGE_SIZE > next_start {
                return self.brk;
            }
            self.insert(Vma {
                start: old_top,
                end: new_top,
                prot: PROT_READ | PROT_WRITE,
                shared: false,
                grows_down: false,
                file: None,
            });
        }
        self.brk = addr;
        addr
    }

    /// `msync`: with file pages in a shared page cache there is nothing to write back, so this
    /// is Linux's validation: `EINVAL` for unknown flags, `MS_ASYNC | MS_SYNC` or an unaligned
    /// address; `ENOMEM` if the (page-rounded) range wraps or any part of it is unmapped; a
    /// length of 0 (or one that rounds to 0) succeeds.
    pub fn msync(&self, addr: u64, len: u64, flags: u32) -> Result<(), Errno> {
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0
            || !addr.is_multiple_of(PAGE_SIZE)
            || (flags & MS_ASYNC != 0 && flags & MS_SYNC != 0)
        {
            return Err(Errno::EINVAL);
        }
        // Linux rounds the length up modulo 2^64: `u64::MAX` becomes 0.
        let len = len.wrapping_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        let end = addr.wrapping_add(len);
        if end < addr {
            return Err(Errno::ENOMEM);
        }
        let mut cur = addr;
        while cur < end {
            cur = self.vma_at(cur).ok_or(Errno::ENOMEM)?.end;
        }
        Ok(())
    }

    /// `madvise(addr, len, advice)`. `MADV_DONTNEED` and `MADV_FREE` drop the pages of private
    /// mappings (the next touch sees zeros, or the file again); on shared mappings, whose
    /// pages we cannot re-create, they do nothing. Other known advice is accepted and ignored.
    /// A hole in the range gives ENOMEM after the mapped parts were handled, as in Linux.
    pub fn madvise(&mut self, addr: u64, len: u64, advice: u32) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) || !matches!(advice, 0..=4 | 8..=23) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let end = page_up(len)
            .and_then(|l| addr.checked_add(l))
            .ok_or(Errno::EINVAL)?;
        let mut cur = addr;
        let mut hole = false;
        while cur < end {
            let next = self
                .vma_at(cur)
                .or_else(|| self.vmas.range(cur..end).next().map(|e| e.1));
            let Some(v) = next.cloned() else {
                hole = true;
                break;
            };
            if v.start > cur {
                hole = true;
            }
            let (from, to) = (v.start.max(cur), v.end.min(end));
            if matches!(advice, MADV_DONTNEED | MADV_FREE) && !v.shared {
                self.unmap_pages(from, to);
            }
            cur = to;
        }
        if hole { Err(Errno::ENOMEM) } else { Ok(()) }
    }

    /// Whether `[addr, addr + len)` is mapped and allows reading (and writing, if `write`):
    /// the check behind EFAULT for user pointers.
    pub fn access_ok(&self, addr: u64, len: u64, write: bool) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let mut cur = addr;
        while cur < end {
            let Some(v) = self.vma_at(cur) else {
                return false;
            };
            let ok = if write {
                v.prot & PROT_WRITE != 0
            } else {
                v.prot != PROT_NONE
            };
            if !ok {
                return false;
            }
            cur = v.end;
        }
        true
    }
}
