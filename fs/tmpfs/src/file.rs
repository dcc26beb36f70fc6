//! Regular file data: a sparse map of 4 KiB pages from the filesystem's [`PageProvider`]
//! (its page cache); a missing page reads as zeros.
//!
//! The file holds one reference on each of its pages. `mmap` takes more
//! ([`FileData::cached_page`]), so a page truncated away while mapped stays allocated until
//! its last mapping goes; it is no longer the file's (writes through the old mapping reach
//! nothing). Linux zaps such mappings instead (a later touch is `SIGBUS`).
//!
//! Bytes past the end of the file inside the last page are kept zero whenever the size
//! moves over them (growth by `write` or `truncate`), since a shared mapping may have
//! written there: they must not appear as file data.

use crate::{PAGE_SIZE, Shared};
use alloc::collections::BTreeMap;
use syscall::{Errno, Result};

/// Largest file size (`MAX_LFS_FILESIZE`).
const MAX_SIZE: u64 = i64::MAX as u64;

#[derive(Default)]
pub(crate) struct FileData {
    /// Page index → page handle of the provider.
    pages: BTreeMap<u64, u64>,
    size: u64,
}

impl FileData {
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn page_count(&self) -> u64 {
        self.pages.len() as u64
    }

    pub(crate) fn read(&self, shared: &Shared, offset: u64, buf: &mut [u8]) -> usize {
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
                Some(&page) => shared.provider.read(page, in_page, out),
                None => out.fill(0),
            }
            done += n;
        }
        len
    }

    /// The page at `index`, allocated (and charged) if it is a hole.
    fn page(&mut self, shared: &Shared, index: u64) -> Result<u64> {
        if let Some(&page) = self.pages.get(&index) {
            return Ok(page);
        }
        shared.charge_page()?;
        let Some(page) = shared.provider.alloc() else {
            shared.uncharge_pages(1);
            return Err(Errno::ENOMEM);
        };
        self.pages.insert(index, page);
        Ok(page)
    }

    /// Zeroes the bytes of the last page past the current size (see the module doc) before
    /// the size grows to `new_size`.
    fn clear_tail(&self, shared: &Shared, new_size: u64) {
        let in_page = (self.size % PAGE_SIZE as u64) as usize;
        if new_size <= self.size || in_page == 0 {
            return;
        }
        if let Some(&page) = self.pages.get(&(self.size / PAGE_SIZE as u64)) {
            shared.provider.zero(page, in_page, PAGE_SIZE - in_page);
        }
    }

    /// Writes `data` at `offset`; a short count when the filesystem fills up midway,
    /// `ENOSPC` if not even one byte fit (`ENOMEM` when memory ran out), `EFBIG` past the
    /// largest size.
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
        self.clear_tail(shared, offset + len as u64);
        let mut done = 0;
        while done < len {
            let pos = offset + done as u64;
            let index = pos / PAGE_SIZE as u64;
            let in_page = (pos % PAGE_SIZE as u64) as usize;
            let n = (PAGE_SIZE - in_page).min(len - done);
            let page = match self.page(shared, index) {
                Ok(page) => page,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            shared.provider.write(page, in_page, &data[done..done + n]);
            done += n;
        }
        self.size = self.size.max(offset + done as u64);
        Ok(done)
    }

    /// Sets the size: pages past it are released and the tail of the last one zeroed (so a
    /// later growth reads zeros); growing allocates nothing.
    pub(crate) fn truncate(&mut self, shared: &Shared, size: u64) -> Result<()> {
        if size > MAX_SIZE {
            return Err(Errno::EFBIG);
        }
        if size < self.size {
            let first_gone = size.div_ceil(PAGE_SIZE as u64);
            let gone = self.pages.split_off(&first_gone);
            shared.uncharge_pages(gone.len() as u64);
            for page in gone.into_values() {
                shared.provider.put(page);
            }
            let in_page = (size % PAGE_SIZE as u64) as usize;
            if in_page != 0
                && let Some(&page) = self.pages.get(&(size / PAGE_SIZE as u64))
            {
                shared.provider.zero(page, in_page, PAGE_SIZE - in_page);
            }
        } else {
            self.clear_tail(shared, size);
        }
        self.size = size;
        Ok(())
    }

    /// The page holding byte `offset` (page aligned) with one reference taken for the
    /// caller; a hole gets a zeroed page. `EFAULT` wholly past the end of the file.
    pub(crate) fn cached_page(&mut self, shared: &Shared, offset: u64) -> Result<u64> {
        if offset >= self.size.div_ceil(PAGE_SIZE as u64) * PAGE_SIZE as u64 {
            return Err(Errno::EFAULT);
        }
        let page = self.page(shared, offset / PAGE_SIZE as u64)?;
        shared.provider.get(page);
        Ok(page)
    }

    /// Drops the file's references on its pages (the inode is going away).
    pub(crate) fn release(&mut self, shared: &Shared) {
        let pages = core::mem::take(&mut self.pages);
        shared.uncharge_pages(pages.len() as u64);
        for page in pages.into_values() {
            shared.provider.put(page);
        }
    }
}
