//! Physical memory bring-up: frames from the firmware's map, the rest of RAM in the direct map,
//! and the kernel heap.

use crate::A;
use arch_api::{Arch, BootInfo, PAGE_SIZE, PageFlags, PhysRange};
use buddy_system_allocator::{Heap, LockedHeapWithRescue};
use core::alloc::{GlobalAlloc, Layout};
use mm::frame::{FrameAllocator, FrameMeta};
use mm::page_table::{PageTable, TableMemory};
use sched::IrqSpinLock;

/// All free physical frames.
pub static FRAMES: IrqSpinLock<FrameAllocator, A> = IrqSpinLock::new(FrameAllocator::new());

/// What `init` set up, for the banner.
pub struct Stats {
    pub usable_bytes: u64,
    pub free_frames: u64,
    pub heap_bytes: u64,
}

/// Virtual address of physical address `pa` in the direct map.
pub fn phys_to_virt(pa: u64) -> u64 {
    pa + A::direct_map_offset()
}

/// Page-table pages reached through the direct map and allocated from [`FRAMES`].
pub struct KernelTables;

impl TableMemory for KernelTables {
    fn read(&self, table: u64, index: usize) -> u64 {
        // SAFETY: page-table pages are frames of RAM, which is all in the direct map; index < 512.
        unsafe { core::ptr::read_volatile((phys_to_virt(table) as *const u64).add(index)) }
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        // SAFETY: as in `read`; the walker owns the entry it writes.
        unsafe { core::ptr::write_volatile((phys_to_virt(table) as *mut u64).add(index), value) }
    }

    fn alloc_table(&mut self) -> Option<u64> {
        let pa = FRAMES.lock().alloc_frame()?;
        zero_frame(pa);
        Some(pa)
    }

    fn free_table(&mut self, table: u64) {
        // Only tables this walker allocated come back here.
        let _ = FRAMES.lock().free(table, 0);
    }
}

/// The page table the CPU uses now for kernel addresses.
pub fn kernel_page_table() -> PageTable<<A as Arch>::PageTable, KernelTables> {
    PageTable::from_root(A::page_table_root(), KernelTables)
}

fn zero_frame(pa: u64) {
    // SAFETY: `pa` is a frame just taken from the allocator, so nobody else uses it, and it
    // is in the direct map.
    unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE as usize) }
}

/// Usable RAM minus reserved ranges (and the zero page), page aligned, as separate pieces.
fn usable_pieces(boot: &BootInfo, out: &mut [PhysRange; 64]) -> usize {
    let mut n = 0;
    for ram in boot.ram() {
        let mut start = ram.start.max(PAGE_SIZE).next_multiple_of(PAGE_SIZE);
        let end = ram.end & !(PAGE_SIZE - 1);
        while start < end {
            // The first reserved range that overlaps what is left of this RAM range.
            let hole = boot
                .reserved()
                .iter()
                .filter(|r| r.overlaps(&PhysRange::new(start, end)))
                .min_by_key(|r| r.start);
            let piece_end = hole.map_or(end, |h| h.start.max(start) & !(PAGE_SIZE - 1));
            if piece_end > start && n < out.len() {
                out[n] = PhysRange::new(start, piece_end);
                n += 1;
            }
            match hole {
                Some(h) => start = h.end.next_multiple_of(PAGE_SIZE).max(piece_end),
                None => break,
            }
        }
    }
    n
}

/// Hand `piece` to the frame allocator, keeping its first frames for the metadata.
fn add_piece(piece: PhysRange) {
    let frames = piece.len() / PAGE_SIZE;
    let meta_frames = FrameAllocator::meta_bytes(frames).div_ceil(PAGE_SIZE);
    if frames <= meta_frames {
        return;
    }
    let managed = frames - meta_frames;
    let meta_va = phys_to_virt(piece.start) as *mut FrameMeta;
    // SAFETY: the metadata frames are usable RAM that nothing else owns (not reserved, never
    // handed out since they are outside the managed range), direct-mapped, and big enough for
    // `managed` records; they stay ours forever, hence 'static.
    let meta = unsafe { core::slice::from_raw_parts_mut(meta_va, managed as usize) };
    let start = piece.start + meta_frames * PAGE_SIZE;
    if let Err(e) = FRAMES.lock().add_region(start, meta) {
        log::warn!(
            "memory: dropped [{:#x}-{:#x}): {:?}",
            piece.start,
            piece.end,
            e
        );
    }
}

/// Bring up the frame allocator, the direct map of all RAM, and the heap.
pub fn init(boot: &BootInfo) -> Stats {
    let mut pieces = [PhysRange::default(); 64];
    let n = usable_pieces(boot, &mut pieces);
    let pt = kernel_page_table();
    let mapped = |pa: u64| pt.translate(phys_to_virt(pa)).is_some_and(|t| t.pa == pa);
    // First the RAM the boot code already direct-mapped (split at 2 MiB granularity), which
    // then provides the page tables for mapping the rest.
    let mut later = [PhysRange::default(); 64];
    let mut n_later = 0;
    for p in &pieces[..n] {
        let mut s = p.start;
        while s < p.end {
            let is_mapped = mapped(s);
            let mut e = s;
            while e < p.end && mapped(e) == is_mapped {
                e = ((e >> 21) + 1) << 21;
            }
            let e = e.min(p.end);
            if is_mapped {
                add_piece(PhysRange::new(s, e));
            } else if n_later < later.len() {
                later[n_later] = PhysRange::new(s, e);
                n_later += 1;
            }
            s = e;
        }
    }
    let mut pt = kernel_page_table();
    for p in &later[..n_later] {
        match pt.map_range(
            phys_to_virt(p.start),
            p.start,
            p.len(),
            PageFlags::KERNEL_DATA,
        ) {
            Ok(_) => add_piece(*p),
            Err(e) => log::warn!(
                "memory: cannot direct-map [{:#x}-{:#x}): {:?}",
                p.start,
                p.end,
                e
            ),
        }
    }
    let total = FRAMES.lock().total_frames();
    // Start the heap with 1/16 of memory, at least 1 MiB and at most 8 MiB; it grows on demand.
    let order = (total / 16).clamp(256, 2048).ilog2() as usize;
    let heap_bytes = match FRAMES.lock().alloc(order) {
        Some(pa) => {
            let bytes = (PAGE_SIZE << order) as usize;
            // SAFETY: the block was just allocated for the heap alone and is direct-mapped.
            unsafe { HEAP.0.lock().init(phys_to_virt(pa) as usize, bytes) };
            bytes as u64
        }
        None => panic!("memory: no {} KiB block for the kernel heap", 4 << order),
    };
    Stats {
        usable_bytes: boot.ram_bytes(),
        free_frames: FRAMES.lock().free_frames(),
        heap_bytes,
    }
}

/// When the heap runs out, add a block of frames big enough for the request (at least 1 MiB).
fn grow_heap(heap: &mut Heap<32>, layout: &Layout) {
    let need = (layout.size() + layout.align()).max(1 << 20) as u64;
    let order = need.div_ceil(PAGE_SIZE).next_power_of_two().ilog2() as usize;
    // `try_lock`: never wait for the frame lock from inside the heap lock.
    let Some(mut frames) = FRAMES.try_lock() else {
        return;
    };
    if let Some(pa) = frames.alloc(order) {
        // SAFETY: a fresh block owned by nobody else, direct-mapped, added once.
        unsafe {
            heap.add_to_heap(
                phys_to_virt(pa) as usize,
                (phys_to_virt(pa) + (PAGE_SIZE << order)) as usize,
            )
        };
    }
}

/// The kernel heap: a buddy heap that masks interrupts while it works, so interrupt handlers
/// may allocate.
pub struct KernelHeap(LockedHeapWithRescue<32>);

// SAFETY: delegates to the buddy heap, which upholds the GlobalAlloc contract; masking
// interrupts around the calls changes nothing about the memory returned.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let was = A::irq_save_disable();
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.alloc(layout) };
        A::irq_restore(was);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let was = A::irq_save_disable();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) };
        A::irq_restore(was);
    }
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(LockedHeapWithRescue::new(grow_heap));

/// Bytes the heap manages and bytes in use.
pub fn heap_usage() -> (usize, usize) {
    // Masked like every other holder of the heap lock: an interrupt handler may allocate.
    let was = A::irq_save_disable();
    let usage = {
        let h = HEAP.0.lock();
        (h.stats_total_bytes(), h.stats_alloc_actual())
    };
    A::irq_restore(was);
    usage
}

/// The bytes of frame `pa` through the direct map.
///
/// # Safety
/// The caller must own the frame (or hold a reference that keeps it allocated) and must not
/// create overlapping mutable views of it.
unsafe fn frame_bytes<'a>(pa: u64) -> &'a mut [u8] {
    // SAFETY: per the contract, the frame is allocated and direct-mapped, PAGE_SIZE long.
    unsafe { core::slice::from_raw_parts_mut(phys_to_virt(pa) as *mut u8, PAGE_SIZE as usize) }
}

impl mm::vm::PageMemory for KernelTables {
    fn alloc_page(&mut self) -> Option<u64> {
        let pa = FRAMES.lock().alloc_frame()?;
        zero_frame(pa);
        Some(pa)
    }

    fn get_page(&mut self, pa: u64) {
        if let Err(e) = FRAMES.lock().get(pa) {
            log::error!("memory: reference to frame {pa:#x} refused: {e:?}");
        }
    }

    fn put_page(&mut self, pa: u64) -> bool {
        FRAMES.lock().put(pa).unwrap_or_else(|e| {
            log::error!("memory: release of frame {pa:#x} refused: {e:?}");
            false
        })
    }

    fn page_refs(&self, pa: u64) -> u32 {
        FRAMES.lock().ref_count(pa)
    }

    fn copy_page(&mut self, dst: u64, src: u64) {
        // SAFETY: the address space holds references on both frames; they differ.
        let (d, s) = unsafe { (frame_bytes(dst), frame_bytes(src)) };
        d.copy_from_slice(s);
    }

    fn write_page(&mut self, pa: u64, offset: usize, data: &[u8]) {
        // SAFETY: the address space holds a reference on the frame.
        let page = unsafe { frame_bytes(pa) };
        page[offset..offset + data.len()].copy_from_slice(data);
    }

    fn read_page(&self, pa: u64, offset: usize, out: &mut [u8]) {
        // SAFETY: the address space holds a reference on the frame.
        let page = unsafe { frame_bytes(pa) };
        out.copy_from_slice(&page[offset..offset + out.len()]);
    }

    fn fill_page(
        &mut self,
        pa: u64,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<(), syscall::Errno>,
    ) -> Result<(), syscall::Errno> {
        // SAFETY: the address space holds a reference on the frame, which is not mapped yet.
        fill(unsafe { frame_bytes(pa) })
    }
}

/// File pages of the root tmpfs (its page cache) as frames: handles are physical addresses
/// with the frame allocator's reference counts, the same counts user mappings hold, so a
/// page `mmap`ped from a file stays allocated while mapped, whatever the file does.
pub struct FramePages;

impl vfs::PageProvider for FramePages {
    fn alloc(&self) -> Option<u64> {
        let pa = FRAMES.lock().alloc_frame()?;
        zero_frame(pa);
        Some(pa)
    }

    fn get(&self, page: u64) {
        mm::vm::PageMemory::get_page(&mut KernelTables, page);
    }

    fn put(&self, page: u64) {
        mm::vm::PageMemory::put_page(&mut KernelTables, page);
    }

    fn read(&self, page: u64, offset: usize, out: &mut [u8]) {
        mm::vm::PageMemory::read_page(&KernelTables, page, offset, out);
    }

    fn write(&self, page: u64, offset: usize, data: &[u8]) {
        mm::vm::PageMemory::write_page(&mut KernelTables, page, offset, data);
    }

    fn zero(&self, page: u64, offset: usize, len: usize) {
        // SAFETY: the file holds a reference on the frame.
        let bytes = unsafe { frame_bytes(page) };
        bytes[offset..offset + len].fill(0);
    }

    fn physical(&self) -> bool {
        true
    }
}
