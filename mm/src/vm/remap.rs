//! `mremap`: shrink, grow in place, or move (page-table entries move, data is not copied).

use arch_api::{PAGE_SIZE, PageTableFormat};
use syscall::Errno;

use super::{
    AddressSpace, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PageMemory, Vma, page_up,
};
use crate::page_table::PageSize;

impl<F: PageTableFormat, M: PageMemory> AddressSpace<F, M> {
    /// `mremap(old, old_len, new_len, flags, new_addr)`; returns the mapping's new address.
    /// Not supported: `MREMAP_DONTUNMAP` and `old_len == 0` (duplicating a shared mapping),
    /// both EINVAL.
    pub fn mremap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u32,
        new_addr: u64,
    ) -> Result<u64, Errno> {
        if flags & !(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) != 0
            || flags & MREMAP_DONTUNMAP != 0
            || (flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0)
            || !old.is_multiple_of(PAGE_SIZE)
        {
            return Err(Errno::EINVAL);
        }
        let user_end = self.layout.user_end;
        let old_len = page_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_up(new_len)
            .filter(|l| *l != 0 && *l <= user_end)
            .ok_or(Errno::EINVAL)?;
        if old_len == 0 {
            return Err(Errno::EINVAL);
        }
        // The old range must lie in the user half (Linux: EINVAL), or a shrink would unmap
        // page tables past it: the syscall fuzzer's `mremap(sandbox, 1 << 62, small, 0)` freed
        // the kernel half's tables and panicked the kernel.
        let old_end = old
            .checked_add(old_len)
            .filter(|e| *e <= user_end)
            .ok_or(Errno::EINVAL)?;
        if flags & MREMAP_FIXED != 0 {
            if !new_addr.is_multiple_of(PAGE_SIZE)
                || new_addr > user_end - new_len
                || (new_addr < old_end && old < new_addr + new_len)
            {
                return Err(Errno::EINVAL);
            }
            self.vma_at(old).ok_or(Errno::EFAULT)?;
            self.remove_range(new_addr, new_addr + new_len);
            let keep = old_len.min(new_len);
            self.remove_range(old + keep, old_end);
            self.vma_covering(old, old + keep)?;
            self.move_mapping(old, keep, new_addr, new_len)?;
            return Ok(new_addr);
        }
        self.vma_at(old).ok_or(Errno::EFAULT)?;
        if new_len <= old_len {
            self.remove_range(old + new_len, old_end);
            return Ok(old);
        }
        let vma = self.vma_covering(old, old_end)?;
        let grow_end = old.checked_add(new_len).filter(|e| *e <= user_end);
        if let Some(grow_end) = grow_end
            && old_end == vma.end
            && self.is_free(old_end, grow_end)
        {
            let start = vma.start;
            if let Some(v) = self.vmas.get_mut(&start) {
                v.end = grow_end;
            }
            if Self::shares_by_populate(&self.vmas[&start])
                && let Err(e) = self.populate_range(old_end, grow_end)
            {
                self.remove_range(old_end, grow_end);
                return Err(e.errno());
            }
            self.merge_range(start, grow_end);
            return Ok(old);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::ENOMEM);
        }
        let to = self.find_gap(new_len).ok_or(Errno::ENOMEM)?;
        self.move_mapping(old, old_len, to, new_len)?;
        Ok(to)
    }

    /// The VMA holding all of `[start, end)`, else EFAULT.
    fn vma_covering(&self, start: u64, end: u64) -> Result<Vma, Errno> {
        self.vma_at(start)
            .filter(|v| end <= v.end)
            .cloned()
            .ok_or(Errno::EFAULT)
    }

    /// Move `[old, old + len)` (inside one VMA) to a free range at `to` of `new_len >= len`
    /// bytes, carrying its present pages' entries. On ENOMEM nothing has changed.
    fn move_mapping(&mut self, old: u64, len: u64, to: u64, new_len: u64) -> Result<(), Errno> {
        let leaves = self.leaves(old, old + len);
        // Map at the destination first: a failing table allocation is undone by unmapping.
        for (i, (va, t)) in leaves.iter().enumerate() {
            let dst = to + (va - old);
            if self
                .table
                .map(dst, t.pa, PageSize::Size4K, t.flags)
                .is_err()
            {
                for (va, _) in &leaves[..i] {
                    let _ = self.table.unmap(to + (va - old));
                }
                return Err(Errno::ENOMEM);
            }
        }
        for (va, _) in &leaves {
            let _ = self.table.unmap(*va);
        }
        self.split_at(old);
        self.split_at(old + len);
        let Some(mut vma) = self.vmas.remove(&old) else {
            return Err(Errno::EFAULT);
        };
        vma.start = to;
        vma.end = to + new_len;
        let shared = Self::shares_by_populate(&vma);
        self.insert(vma);
        if shared && new_len > len {
            // The move is done and cannot be reported as failed: pages that could not be
            // allocated now are faulted in later (then not shared with earlier children,
            // which do not map this part anyway).
            let _ = self.populate_range(to + len, to + new_len);
        }
        Ok(())
    }
}
