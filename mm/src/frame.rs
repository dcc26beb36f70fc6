//! Physical frame allocator: a binary buddy system over the firmware's usable RAM.
//!
//! Every frame has a small [`FrameMeta`] record; the records of a region are stored in the first
//! frames of that region (the caller carves them out), so the allocator needs no heap. Free
//! blocks of order `k` (2^k frames, aligned to 2^k frames in physical address) sit on a doubly
//! linked list per region and order, threaded through the metadata by index, which makes both
//! allocation and the buddy merge on free O(orders).

use arch_api::PAGE_SIZE;

/// Orders 0 ..= MAX_ORDER: the largest block is 2^18 frames = 1 GiB.
pub const MAX_ORDER: usize = 18;
const ORDERS: usize = MAX_ORDER + 1;
/// Most regions one allocator manages (one per piece of usable RAM).
pub const MAX_REGIONS: usize = 64;
const NONE: u32 = u32::MAX;

/// Bookkeeping for one physical frame.
///
/// While a block is free, `next`/`prev` link it into its free list. While it is allocated, the
/// first frame's `next` holds the block's reference count (see [`FrameAllocator::get`]), and
/// the other frames of the block keep `next == NONE`.
#[derive(Clone, Copy, Debug)]
pub struct FrameMeta {
    next: u32,
    prev: u32,
    order: u8,
    free: bool,
}

impl FrameMeta {
    pub const EMPTY: Self = Self {
        next: NONE,
        prev: NONE,
        order: 0,
        free: false,
    };
}

/// Why a frame operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The address is not in any region, or not aligned to the block size.
    NotManaged,
    /// The block is already free (double free), or was allocated with another order.
    NotAllocated,
    /// Region table full or metadata slice too small.
    TooMany,
}

struct Region {
    start_pfn: u64,
    meta: &'static mut [FrameMeta],
    heads: [u32; ORDERS],
}

impl Region {
    fn frames(&self) -> u64 {
        self.meta.len() as u64
    }

    fn contains(&self, pfn: u64) -> bool {
        pfn >= self.start_pfn && pfn < self.start_pfn + self.frames()
    }

    fn push(&mut self, idx: u32, order: usize) {
        let head = self.heads[order];
        self.meta[idx as usize] = FrameMeta {
            next: head,
            prev: NONE,
            order: order as u8,
            free: true,
        };
        if head != NONE {
            self.meta[head as usize].prev = idx;
        }
        self.heads[order] = idx;
    }

    fn unlink(&mut self, idx: u32) {
        let FrameMeta {
            next, prev, order, ..
        } = self.meta[idx as usize];
        if prev == NONE {
            self.heads[order as usize] = next;
        } else {
            self.meta[prev as usize].next = next;
        }
        if next != NONE {
            self.meta[next as usize].prev = prev;
        }
        self.meta[idx as usize] = FrameMeta::EMPTY;
    }

    fn pop(&mut self, order: usize) -> Option<u32> {
        let idx = self.heads[order];
        if idx == NONE {
            return None;
        }
        self.unlink(idx);
        Some(idx)
    }
}

/// The physical frame allocator. Addresses are physical, sizes in frames of [`PAGE_SIZE`].
pub struct FrameAllocator {
    regions: [Option<Region>; MAX_REGIONS],
    count: usize,
    total: u64,
    free: u64,
}

impl Default for FrameAllocator {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameAllocator {
    pub const fn new() -> Self {
        Self {
            regions: [const { None }; MAX_REGIONS],
            count: 0,
            total: 0,
            free: 0,
        }
    }

    /// Bytes of metadata needed to manage `frames` frames.
    pub const fn meta_bytes(frames: u64) -> u64 {
        frames * core::mem::size_of::<FrameMeta>() as u64
    }

    /// Frames in all regions.
    pub fn total_frames(&self) -> u64 {
        self.total
    }

    /// Frames currently free.
    pub fn free_frames(&self) -> u64 {
        self.free
    }

    /// Manage the frames starting at physical address `start` (page aligned), one per entry of
    /// `meta`, which must live outside those frames. All of them start free.
    pub fn add_region(
        &mut self,
        start: u64,
        meta: &'static mut [FrameMeta],
    ) -> Result<(), FrameError> {
        if !start.is_multiple_of(PAGE_SIZE)
            || meta.len() >= NONE as usize
            || self.count == MAX_REGIONS
        {
            return Err(FrameError::TooMany);
        }
        let frames = meta.len() as u64;
        meta.fill(FrameMeta::EMPTY);
        let mut region = Region {
            start_pfn: start / PAGE_SIZE,
            meta,
            heads: [NONE; ORDERS],
        };
        // Cut the range into the largest naturally aligned blocks.
        let mut pfn = region.start_pfn;
        let end = region.start_pfn + frames;
        while pfn < end {
            let mut order = (pfn.trailing_zeros() as usize).min(MAX_ORDER);
            while pfn + (1u64 << order) > end {
                order -= 1;
            }
            region.push((pfn - region.start_pfn) as u32, order);
            pfn += 1u64 << order;
        }
        self.regions[self.count] = Some(region);
        self.count += 1;
        self.total += frames;
        self.free += frames;
        Ok(())
    }

    /// Allocate 2^order contiguous frames aligned to their size; returns the physical address.
    pub fn alloc(&mut self, order: usize) -> Option<u64> {
        if order > MAX_ORDER {
            return None;
        }
        for found in order..ORDERS {
            for region in self.regions[..self.count].iter_mut().flatten() {
                let Some(idx) = region.pop(found) else {
                    continue;
                };
                // Split: keep the lower half, free the upper halves.
                let mut o = found;
                while o > order {
                    o -= 1;
                    region.push(idx + (1u32 << o), o);
                }
                let m = &mut region.meta[idx as usize];
                m.order = order as u8;
                m.free = false;
                m.next = 1;
                self.free -= 1u64 << order;
                return Some((region.start_pfn + idx as u64) * PAGE_SIZE);
            }
        }
        None
    }

    /// Allocate one frame.
    pub fn alloc_frame(&mut self) -> Option<u64> {
        self.alloc(0)
    }

    /// The allocated block whose first frame is at `pa`: (region index, frame index).
    fn allocated_head(&self, pa: u64) -> Option<(usize, usize)> {
        if !pa.is_multiple_of(PAGE_SIZE) {
            return None;
        }
        let pfn = pa / PAGE_SIZE;
        let (r, region) = self.regions[..self.count]
            .iter()
            .enumerate()
            .find_map(|(i, r)| r.as_ref().filter(|r| r.contains(pfn)).map(|r| (i, r)))?;
        let idx = (pfn - region.start_pfn) as usize;
        let m = region.meta[idx];
        (!m.free && m.next != NONE).then_some((r, idx))
    }

    /// References held on the allocated block starting at `pa` (an allocation starts with 1);
    /// 0 if `pa` is free, not managed, or not the first frame of a block.
    pub fn ref_count(&self, pa: u64) -> u32 {
        match self.allocated_head(pa) {
            Some((r, idx)) => self.regions[r].as_ref().map_or(0, |r| r.meta[idx].next),
            None => 0,
        }
    }

    /// Take one more reference on the allocated block starting at `pa` (copy-on-write and
    /// shared mappings); returns the new count.
    pub fn get(&mut self, pa: u64) -> Result<u32, FrameError> {
        let (r, idx) = self.allocated_head(pa).ok_or(FrameError::NotAllocated)?;
        let m = &mut self.regions[r].as_mut().ok_or(FrameError::NotManaged)?.meta[idx];
        if m.next >= NONE - 1 {
            return Err(FrameError::TooMany);
        }
        m.next += 1;
        Ok(m.next)
    }

    /// Drop one reference on the allocated block starting at `pa`; the block is freed when the
    /// last one goes. Returns whether it was freed.
    pub fn put(&mut self, pa: u64) -> Result<bool, FrameError> {
        let (r, idx) = self.allocated_head(pa).ok_or(FrameError::NotAllocated)?;
        let m = &mut self.regions[r].as_mut().ok_or(FrameError::NotManaged)?.meta[idx];
        m.next -= 1;
        if m.next > 0 {
            return Ok(false);
        }
        let order = m.order as usize;
        self.free(pa, order)?;
        Ok(true)
    }

    /// Free a block returned by [`FrameAllocator::alloc`] with the same `order`, whatever its
    /// reference count.
    pub fn free(&mut self, pa: u64, order: usize) -> Result<(), FrameError> {
        let pfn = pa / PAGE_SIZE;
        if !pa.is_multiple_of(PAGE_SIZE) || order > MAX_ORDER || !pfn.is_multiple_of(1u64 << order)
        {
            return Err(FrameError::NotManaged);
        }
        let region = self.regions[..self.count]
            .iter_mut()
            .flatten()
            .find(|r| r.contains(pfn))
            .ok_or(FrameError::NotManaged)?;
        let mut idx = (pfn - region.start_pfn) as u32;
        let m = region.meta[idx as usize];
        if m.free || m.order as usize != order {
            return Err(FrameError::NotAllocated);
        }
        // Interior frames of free blocks keep no stale count.
        region.meta[idx as usize] = FrameMeta::EMPTY;
        let mut o = order;
        while o < MAX_ORDER {
            let buddy_pfn = (region.start_pfn + idx as u64) ^ (1u64 << o);
            if !region.contains(buddy_pfn) || !region.contains(buddy_pfn + (1u64 << o) - 1) {
                break;
            }
            let b = (buddy_pfn - region.start_pfn) as u32;
            let bm = region.meta[b as usize];
            if !bm.free || bm.order as usize != o {
                break;
            }
            region.unlink(b);
            idx = idx.min(b);
            o += 1;
        }
        region.push(idx, o);
        self.free += 1u64 << order;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec;
    use std::vec::Vec;

    fn meta(frames: usize) -> &'static mut [FrameMeta] {
        Box::leak(vec![FrameMeta::EMPTY; frames].into_boxed_slice())
    }

    #[test]
    fn exhaust_and_reuse_twice() {
        let mut fa = FrameAllocator::new();
        fa.add_region(0x1000, meta(1000)).unwrap();
        fa.add_region(0x1_0000_0000, meta(513)).unwrap();
        let total = fa.total_frames();
        assert_eq!(total, 1513);
        for _ in 0..2 {
            let mut got = Vec::new();
            while let Some(pa) = fa.alloc_frame() {
                got.push(pa);
            }
            assert_eq!(got.len() as u64, total);
            assert_eq!(fa.free_frames(), 0);
            got.sort();
            got.dedup();
            assert_eq!(got.len() as u64, total, "a frame was handed out twice");
            for pa in got.iter().rev() {
                fa.free(*pa, 0).unwrap();
            }
            assert_eq!(fa.free_frames(), total);
        }
        // Everything merged back: only the second region holds a whole 512-frame block.
        assert_eq!(fa.alloc(9), Some(0x1_0000_0000));
    }

    #[test]
    fn blocks_are_aligned_and_merge() {
        let mut fa = FrameAllocator::new();
        fa.add_region(0x3000, meta(61)).unwrap(); // pfn 3..64
        let a = fa.alloc(3).unwrap();
        assert_eq!(a / PAGE_SIZE % 8, 0);
        let b = fa.alloc(4).unwrap();
        assert_eq!(b / PAGE_SIZE % 16, 0);
        assert_eq!(fa.free_frames(), 61 - 8 - 16);
        fa.free(a, 3).unwrap();
        fa.free(b, 4).unwrap();
        assert_eq!(fa.free_frames(), 61);
        assert_eq!(fa.alloc(5), Some(32 * PAGE_SIZE));
    }

    #[test]
    fn bad_frees_are_refused() {
        let mut fa = FrameAllocator::new();
        fa.add_region(0, meta(16)).unwrap();
        let a = fa.alloc_frame().unwrap();
        assert_eq!(fa.free(a, 1), Err(FrameError::NotAllocated));
        fa.free(a, 0).unwrap();
        assert_eq!(fa.free(a, 0), Err(FrameError::NotAllocated));
        assert_eq!(fa.free(0x100_0000, 0), Err(FrameError::NotManaged));
        assert_eq!(fa.free(123, 0), Err(FrameError::NotManaged));
        assert_eq!(fa.alloc(MAX_ORDER + 1), None);
    }

    #[test]
    fn reference_counts() {
        let mut fa = FrameAllocator::new();
        fa.add_region(0x10_0000, meta(64)).unwrap();
        let a = fa.alloc_frame().unwrap();
        let b = fa.alloc(2).unwrap();
        assert_eq!(fa.ref_count(a), 1);
        assert_eq!(fa.ref_count(b), 1);
        // Interior frames of a block, free frames and foreign addresses have no count.
        assert_eq!(fa.ref_count(b + PAGE_SIZE), 0);
        assert_eq!(fa.get(b + PAGE_SIZE), Err(FrameError::NotAllocated));
        assert_eq!(fa.ref_count(0x4000_0000), 0);
        assert_eq!(fa.get(a), Ok(2));
        assert_eq!(fa.get(a), Ok(3));
        assert_eq!(fa.ref_count(a), 3);
        assert_eq!(fa.put(a), Ok(false));
        assert_eq!(fa.put(a), Ok(false));
        assert_eq!(fa.free_frames(), 64 - 1 - 4);
        assert_eq!(fa.put(a), Ok(true));
        assert_eq!(fa.ref_count(a), 0);
        assert_eq!(fa.put(a), Err(FrameError::NotAllocated));
        assert_eq!(fa.get(a), Err(FrameError::NotAllocated));
        // A multi-frame block is freed whole, with its order.
        fa.get(b).unwrap();
        assert_eq!(fa.put(b), Ok(false));
        assert_eq!(fa.put(b), Ok(true));
        assert_eq!(fa.free_frames(), 64);
        // Re-allocation starts at 1 again; `free` ignores the count.
        let c = fa.alloc_frame().unwrap();
        fa.get(c).unwrap();
        assert_eq!(fa.ref_count(c), 2);
        fa.free(c, 0).unwrap();
        assert_eq!(fa.ref_count(c), 0);
        assert_eq!(fa.alloc(6), Some(0x10_0000));
    }
}
