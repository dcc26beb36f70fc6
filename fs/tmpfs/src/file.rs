//! Regular file data: a sparse map of 4 KiB pages; a missing page reads as zeros.

use crate::{PAGE_SIZE, Shared};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::collections::btree_map::Entry;
use alloc::vec;
use syscall::{Errno, Result};

/// Largest file size (`MAX_LFS_FILESIZE`).
const MAX_SIZE: u64 = i64::MAX as u64;

#[derive(Default)]
pub(crate) struct FileData {
    pages: BTreeMap<u64, Box<[u8]>>,
    size: u64,
}

impl FileData {
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn page_count(&self) -> u64 {
        self.pages.len() as u64
    }

    pub(crate) fn read(&self, offset: u64, buf: &mut [u8]) -> usize {
        if offset >= self.size {
            return 0;
        }
        let len = buf
            .len()
            .min(usize::try_from(self.size - offset).unwrap_or(usize::MAX));
        let mut done = 0;
        while done < len {
            let pos = offset + done as u64;
            let index = pos / PAGE_SIZE as u64;
            let in_page = (pos % PAGE_SIZE as u64) as usize;
            let n = (PAGE_SIZE - in_page).min(len - done);
            let out = &mut buf[done..done + n];
            match self.pages.get(&index) {
                Some(page) => out.copy_from_slice(&page[in_page..in_page + n]),
                None => out.fill(0),
            }
            done += n;
        }
        len
    }

    /// Writes `data` at `offset`; a short count when the filesystem fills up midway,
    /// `ENOSPC` if not even one byte fit, `EFBIG` past the largest size.
    pub(crate) fn write(&mut self, shared: &Shared, offset: u64, data: &[u8]) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= MAX_SIZE {
            return Err(Errno::EFBIG);
        }
        let len = data
            .len()
            .min(usize::try_from(MAX_SIZE - offset).unwrap_or(usize::MAX));
        let mut done = 0;
        while done < len {
            let pos = offset + done as u64;
            let index = pos / PAGE_SIZE as u64;
            let in_page = (pos % PAGE_SIZE as u64) as usize;
            let n = (PAGE_SIZE - in_page).min(len - done);
            let page = match self.pages.entry(index) {
                Entry::Occupied(page) => page.into_mut(),
                Entry::Vacant(slot) => {
                    if let Err(e) = shared.charge_page() {
                        if done == 0 {
                            return Err(e);
                        }
                        break;
                    }
                    slot.insert(vec![0; PAGE_SIZE].into_boxed_slice())
                }
            };
            page[in_page..in_page + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        self.size = self.size.max(offset + done as u64);
        Ok(done)
    }

    /// Sets the size: pages past it are freed and the tail of the last one zeroed (so a later
    /// growth reads zeros); growing allocates nothing.
    pub(crate) fn truncate(&mut self, shared: &Shared, size: u64) -> Result<()> {
        if size > MAX_SIZE {
            return Err(Errno::EFBIG);
        }
        if size < self.size {
            let first_gone = size.div_ceil(PAGE_SIZE as u64);
            let gone = self.pages.split_off(&first_gone);
            shared.uncharge_pages(gone.len() as u64);
            let in_page = (size % PAGE_SIZE as u64) as usize;
            if in_page != 0
                && let Some(page) = self.pages.get_mut(&(size / PAGE_SIZE as u64))
            {
                page[in_page..].fill(0);
            }
        }
        self.size = size;
        Ok(())
    }
}
