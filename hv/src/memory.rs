//! Memory slots and the per-vCPU translation cache.
//!
//! A slot maps guest-physical pages to a range of the VMM's own user memory. Nothing is
//! copied: at run time a guest page is resolved gpa → user address → frame through the
//! calling process's address space ([`Host::pin`], which faults the page in as a user access
//! would, breaking copy-on-write for a write), and the backend works on the frame itself, so
//! guest writes are visible to the VMM at once and the other way round. A small cache per vCPU
//! ([`Tlb`]) keeps the frames it resolved, each with a reference so the frame cannot be freed
//! under it; it is flushed at each `KVM_RUN` entry and exit and whenever the slots change, so
//! no frame stays pinned outside `KVM_RUN`.

use crate::abi::{KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, KvmUserspaceMemoryRegion};
use crate::backend::{GuestMemory, PAGE_SIZE};
use crate::host::{Host, Page};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use syscall::{Errno, Result};

/// Flags `KVM_SET_USER_MEMORY_REGION` accepts.
pub const VALID_FLAGS: u32 = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY;
/// Largest slot size in pages (Linux's `KVM_MEM_MAX_NR_PAGES`, 2^31 - 1).
pub const MAX_SLOT_PAGES: u64 = (1 << 31) - 1;
/// Entries of the translation cache (direct-mapped by guest page number).
pub const TLB_ENTRIES: usize = 64;

const PAGE: u64 = PAGE_SIZE as u64;

/// One memory slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub base_gfn: u64,
    pub pages: u64,
    pub user_addr: u64,
    pub flags: u32,
}

impl Slot {
    fn contains(&self, gfn: u64) -> bool {
        gfn >= self.base_gfn && gfn - self.base_gfn < self.pages
    }

    fn overlaps(&self, base: u64, pages: u64) -> bool {
        base < self.base_gfn + self.pages && self.base_gfn < base + pages
    }
}

/// The slots of a VM, by slot id.
#[derive(Default, Debug)]
pub struct Slots {
    slots: BTreeMap<u16, Slot>,
}

impl Slots {
    /// `KVM_SET_USER_MEMORY_REGION` with Linux's checks (`kvm_set_memory_region`): `EINVAL`
    /// for unknown flags, a slot id at or over `nr_slots` (or another address space), sizes or
    /// addresses that are not page aligned, user memory past `user_end`, a gpa range that
    /// wraps, deleting a slot that does not exist, or changing the size, user address or
    /// read-only flag of one; `EEXIST` for a new or moved slot overlapping another. Size 0
    /// deletes. Returns whether anything changed.
    pub fn set(
        &mut self,
        r: &KvmUserspaceMemoryRegion,
        nr_slots: u32,
        user_end: u64,
    ) -> Result<bool> {
        if r.flags & !VALID_FLAGS != 0 {
            return Err(Errno::EINVAL);
        }
        let (as_id, id) = (r.slot >> 16, r.slot & 0xffff);
        if as_id != 0 || id >= nr_slots {
            return Err(Errno::EINVAL);
        }
        let id = id as u16;
        if !r.memory_size.is_multiple_of(PAGE)
            || !r.guest_phys_addr.is_multiple_of(PAGE)
            || !r.userspace_addr.is_multiple_of(PAGE)
            || r.userspace_addr
                .checked_add(r.memory_size)
                .is_none_or(|end| end > user_end)
            || r.guest_phys_addr.checked_add(r.memory_size).is_none()
            || r.memory_size / PAGE > MAX_SLOT_PAGES
        {
            return Err(Errno::EINVAL);
        }
        let base = r.guest_phys_addr / PAGE;
        let pages = r.memory_size / PAGE;
        if pages == 0 {
            return self.slots.remove(&id).map(|_| true).ok_or(Errno::EINVAL);
        }
        if let Some(old) = self.slots.get(&id) {
            if r.userspace_addr != old.user_addr
                || pages != old.pages
                || (r.flags ^ old.flags) & KVM_MEM_READONLY != 0
            {
                return Err(Errno::EINVAL);
            }
            if base == old.base_gfn && r.flags == old.flags {
                return Ok(false);
            }
        }
        let moved = self.slots.get(&id).is_none_or(|old| old.base_gfn != base);
        if moved
            && self
                .slots
                .iter()
                .any(|(&other, s)| other != id && s.overlaps(base, pages))
        {
            return Err(Errno::EEXIST);
        }
        self.slots.insert(
            id,
            Slot {
                base_gfn: base,
                pages,
                user_addr: r.userspace_addr,
                flags: r.flags,
            },
        );
        Ok(true)
    }

    /// The slot holding guest page `gfn`.
    pub fn find(&self, gfn: u64) -> Option<Slot> {
        self.slots.values().find(|s| s.contains(gfn)).copied()
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// No slot.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

struct Entry {
    gfn: u64,
    writable: bool,
    page: Box<dyn Page>,
}

/// The translation cache of one vCPU: guest page → pinned frame.
pub struct Tlb {
    entries: [Option<Entry>; TLB_ENTRIES],
    /// The VM's slot generation the entries were made under.
    generation: u64,
}

impl Default for Tlb {
    fn default() -> Tlb {
        Tlb {
            entries: [const { None }; TLB_ENTRIES],
            generation: 0,
        }
    }
}

impl Tlb {
    /// Drops every entry and its frame reference.
    pub fn flush(&mut self) {
        self.entries = [const { None }; TLB_ENTRIES];
    }

    /// Entries in use.
    pub fn len(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// No entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A vCPU's view of guest memory during one `KVM_RUN`: the VM's slots, the cache, and the
/// calling process to resolve misses.
pub struct GuestMap<'a> {
    pub(crate) vm: &'a crate::Vm,
    pub(crate) tlb: &'a mut Tlb,
    pub(crate) host: &'a mut dyn Host,
    /// A slot's user memory could not be accessed: `KVM_RUN` fails with `EFAULT`, as Linux's
    /// does when it cannot get the page behind a slot.
    pub(crate) fault: bool,
}

impl GuestMemory for GuestMap<'_> {
    fn page(&mut self, gpa: u64, write: bool) -> Option<&mut [u8; PAGE_SIZE]> {
        let gfn = gpa / PAGE;
        let generation = self.vm.slot_generation();
        if self.tlb.generation != generation {
            self.tlb.flush();
            self.tlb.generation = generation;
        }
        // Direct-mapped by the low bits of the guest page number.
        let index = (gfn % TLB_ENTRIES as u64) as usize;
        let hit = self.tlb.entries[index]
            .as_ref()
            .is_some_and(|e| e.gfn == gfn && (e.writable || !write));
        if !hit {
            let slot = self.vm.find_slot(gfn)?;
            if write && slot.flags & KVM_MEM_READONLY != 0 {
                return None;
            }
            let addr = slot.user_addr + (gfn - slot.base_gfn) * PAGE;
            let Some(page) = self.host.pin(addr, write) else {
                self.fault = true;
                return None;
            };
            // Replacing the entry drops the old frame reference.
            self.tlb.entries[index] = Some(Entry {
                gfn,
                writable: write,
                page,
            });
        }
        self.tlb.entries[index].as_mut().map(|e| e.page.bytes())
    }
}
