//! `fork`: a copy of an address space that shares pages copy-on-write.

use arch_api::PageTableFormat;
use syscall::Errno;

use super::{AddressSpace, PageMemory};
use crate::page_table::{PageSize, PageTable};

impl<F: PageTableFormat, M: PageMemory> AddressSpace<F, M> {
    /// A child address space over `child` (an empty table prepared by the kernel, with the
    /// kernel half where the arch needs it) holding the same VMAs and break. Private pages are
    /// shared read-only in both until a write fault copies them; `MAP_SHARED` pages are shared
    /// for real. Every shared page gains one reference per mapping. On ENOMEM the child is
    /// dropped (freeing what it took) and the parent is left valid (some of its pages may have
    /// become read-only; faults restore them).
    pub fn fork(&mut self, child: PageTable<F, M>) -> Result<Self, Errno> {
        let mut out = AddressSpace::new(child, self.layout);
        out.vmas = self.vmas.clone();
        out.brk_start = self.brk_start;
        out.brk = self.brk;
        for (va, t) in self.leaves(0, self.layout.user_end) {
            let Some(vma) = self.vma_at(va) else { continue };
            let mut flags = t.flags;
            if !vma.shared && flags.write {
                flags.write = false;
                let _ = self.table.protect(va, flags);
            }
            self.table.memory_mut().get_page(t.pa);
            if out.table.map(va, t.pa, PageSize::Size4K, flags).is_err() {
                self.table.memory_mut().put_page(t.pa);
                return Err(Errno::ENOMEM);
            }
        }
        Ok(out)
    }
}
