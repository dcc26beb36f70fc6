//! Page faults (demand zero, file fill, copy-on-write, stack growth) and the kernel's helpers
//! for touching user memory through the page tables.

use arch_api::{PAGE_SIZE, PageTableFormat};
use syscall::Errno;

use super::{AddressSpace, PROT_EXEC, PROT_NONE, PROT_WRITE, PageMemory, page_down};
use crate::page_table::{MapError, PageSize};

/// Why a fault could not be resolved: what the kernel should do to the faulting thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No mapping there: SIGSEGV with `SEGV_MAPERR`.
    MapErr,
    /// The mapping forbids this access: SIGSEGV with `SEGV_ACCERR`.
    AccErr,
    /// The backing file could not provide the page (e.g. past its end): SIGBUS (`BUS_ADRERR`).
    Bus,
    /// No memory for the page or a page table: the kernel's out-of-memory path (SIGKILL).
    OutOfMemory,
}

impl FaultError {
    /// The error a system call reports when it meets this fault on a user buffer.
    pub fn errno(self) -> Errno {
        match self {
            FaultError::OutOfMemory => Errno::ENOMEM,
            _ => Errno::EFAULT,
        }
    }
}

impl From<MapError> for FaultError {
    fn from(_: MapError) -> Self {
        FaultError::OutOfMemory
    }
}

impl<F: PageTableFormat, M: PageMemory> AddressSpace<F, M> {
    /// Resolve a user page fault at `addr` (`write`/`exec`: the kind of access). `Ok` means
    /// the access can be retried. Spurious faults (already allowed) succeed.
    pub fn handle_fault(&mut self, addr: u64, write: bool, exec: bool) -> Result<(), FaultError> {
        if addr >= self.layout.user_end {
            return Err(FaultError::MapErr);
        }
        if self.vma_at(addr).is_none() {
            self.grow_stack(addr)?;
        }
        let vma = self.vma_at(addr).ok_or(FaultError::MapErr)?;
        let allowed = if write {
            vma.prot & PROT_WRITE != 0
        } else if exec {
            vma.prot & PROT_EXEC != 0
        } else {
            // PROT_WRITE and PROT_EXEC imply reading, as on x86 and aarch64 Linux.
            vma.prot != PROT_NONE
        };
        if !allowed {
            return Err(FaultError::AccErr);
        }
        self.resolve(addr, write).map(|_| ())
    }

    /// Extend a `MAP_GROWSDOWN` mapping just above `addr` down to it, within `stack_limit`.
    fn grow_stack(&mut self, addr: u64) -> Result<(), FaultError> {
        let page = page_down(addr);
        let Some((&start, next)) = self.vmas.range(addr..).next() else {
            return Err(FaultError::MapErr);
        };
        if !next.grows_down || next.end - page > self.layout.stack_limit {
            return Err(FaultError::MapErr);
        }
        // Keep a guard page between the stack and whatever lies below it.
        let below_end = self
            .vmas
            .range(..start)
            .next_back()
            .map_or(0, |(_, v)| v.end);
        if page < below_end + PAGE_SIZE || page < self.layout.min_addr {
            return Err(FaultError::MapErr);
        }
        if let Some(mut v) = self.vmas.remove(&start) {
            v.start = page;
            self.vmas.insert(page, v);
        }
        Ok(())
    }

    /// Make the page at `addr` present; if `write`, also give this address space its own
    /// copy of a private page (breaking copy-on-write). Protection is not checked here: the
    /// entry gets the VMA's flags. Returns the page's physical address.
    pub(super) fn resolve(&mut self, addr: u64, write: bool) -> Result<u64, FaultError> {
        let va = page_down(addr);
        let vma = self.vma_at(va).ok_or(FaultError::MapErr)?.clone();
        if let Some(t) = self.table.translate(va) {
            let refs = self.table.memory().page_refs(t.pa);
            if write && !vma.shared && refs > 1 {
                let mem = self.table.memory_mut();
                let copy = mem.alloc_page().ok_or(FaultError::OutOfMemory)?;
                mem.copy_page(copy, t.pa);
                // The entry exists, so replacing it needs no new table page.
                let _ = self.table.unmap(va);
                self.table
                    .map(va, copy, PageSize::Size4K, Self::pte_flags(&vma, true))?;
                self.table.memory_mut().put_page(t.pa);
                return Ok(copy);
            }
            let flags = Self::pte_flags(&vma, refs == 1);
            if flags != t.flags {
                let _ = self.table.protect(va, flags);
            }
            return Ok(t.pa);
        }
        if let Some(f) = vma.file.as_ref() {
            let offset = f.offset + (va - vma.start);
            let cached = f.source.cached_page(offset, self.table.memory_mut());
            if let Some(r) = cached {
                let pa = r.map_err(|e| match e {
                    Errno::ENOMEM => FaultError::OutOfMemory,
                    _ => FaultError::Bus,
                })?;
                let refs = self.table.memory().page_refs(pa);
                let flags = Self::pte_flags(&vma, refs == 1);
                if let Err(e) = self.table.map(va, pa, PageSize::Size4K, flags) {
                    self.table.memory_mut().put_page(pa);
                    return Err(e.into());
                }
                if write && !vma.shared && refs > 1 {
                    // A private mapping writes to its own copy of the cache page.
                    return self.resolve(addr, write);
                }
                return Ok(pa);
            }
        }
        let mem = self.table.memory_mut();
        let page = mem.alloc_page().ok_or(FaultError::OutOfMemory)?;
        if let Some(f) = vma.file.as_ref() {
            let offset = f.offset + (va - vma.start);
            let source = f.source.clone();
            if mem
                .fill_page(page, &mut |buf| source.read_page(offset, buf))
                .is_err()
            {
                mem.put_page(page);
                return Err(FaultError::Bus);
            }
        }
        let flags = Self::pte_flags(&vma, true);
        if let Err(e) = self.table.map(va, page, PageSize::Size4K, flags) {
            self.table.memory_mut().put_page(page);
            return Err(e.into());
        }
        Ok(page)
    }

    /// Fault in `[addr, addr + len)` as user accesses of the given kind would (for `read()`
    /// into fresh memory, `MAP_POPULATE`, the ELF loader). EFAULT if any part is unmapped or
    /// forbids the access, ENOMEM if memory ran out.
    pub fn populate(&mut self, addr: u64, len: u64, write: bool) -> Result<(), Errno> {
        let end = addr.checked_add(len).ok_or(Errno::EFAULT)?;
        let mut va = page_down(addr);
        while va < end {
            let vma = self.vma_at(va).ok_or(Errno::EFAULT)?;
            let ok = if write {
                vma.prot & PROT_WRITE != 0
            } else {
                vma.prot != PROT_NONE
            };
            if !ok {
                return Err(Errno::EFAULT);
            }
            self.resolve(va, write).map_err(FaultError::errno)?;
            va += PAGE_SIZE;
        }
        Ok(())
    }

    /// Copy `data` to user address `addr` through the page tables, faulting pages in (and
    /// breaking copy-on-write) as needed. With `force`, VMA protection is ignored (the ELF
    /// loader fills read-only text); without it, a non-writable part gives EFAULT. Unmapped
    /// addresses always give EFAULT. The address space need not be active.
    pub fn write_bytes(&mut self, addr: u64, data: &[u8], force: bool) -> Result<(), Errno> {
        addr.checked_add(data.len() as u64).ok_or(Errno::EFAULT)?;
        let mut done = 0;
        while done < data.len() {
            let va = addr + done as u64;
            let vma = self.vma_at(va).ok_or(Errno::EFAULT)?;
            if !force && vma.prot & PROT_WRITE == 0 {
                return Err(Errno::EFAULT);
            }
            let off = (va % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - off).min(data.len() - done);
            let pa = self.resolve(va, true).map_err(FaultError::errno)?;
            self.table
                .memory_mut()
                .write_page(pa, off, &data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Copy from user address `addr` into `out` through the page tables. Absent anonymous
    /// pages read as zeros without being allocated; file pages are faulted in. With `force`,
    /// `PROT_NONE` is ignored.
    pub fn read_bytes(&mut self, addr: u64, out: &mut [u8], force: bool) -> Result<(), Errno> {
        addr.checked_add(out.len() as u64).ok_or(Errno::EFAULT)?;
        let mut done = 0;
        while done < out.len() {
            let va = addr + done as u64;
            let vma = self.vma_at(va).ok_or(Errno::EFAULT)?;
            if !force && vma.prot == PROT_NONE {
                return Err(Errno::EFAULT);
            }
            let anon = vma.file.is_none();
            let off = (va % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - off).min(out.len() - done);
            let chunk = &mut out[done..done + n];
            match self.table.translate(page_down(va)) {
                Some(t) => self.table.memory().read_page(t.pa, off, chunk),
                None if anon => chunk.fill(0),
                None => {
                    let pa = self.resolve(va, false).map_err(FaultError::errno)?;
                    self.table.memory().read_page(pa, off, chunk);
                }
            }
            done += n;
        }
        Ok(())
    }
}
