//! brk, mmap, munmap, mprotect, mremap, madvise: thin over `mm::vm::AddressSpace`.

use crate::kernel::Kernel;
use crate::process::Process;
use alloc::sync::Arc;
use mm::vm::{MAP_ANONYMOUS, MapFile, PageMemory, PageSource};
use syscall::{Errno, Result};
use vfs::OpenFile;

/// File pages for mmap, read through the open file.
struct FileSource(Arc<OpenFile>);

/// `file` as the page source of a mapping (mmap, and execve's segments).
pub(crate) fn file_source(file: Arc<OpenFile>) -> Arc<dyn PageSource> {
    Arc::new(FileSource(file))
}

impl PageSource for FileSource {
    fn read_page(&self, offset: u64, page: &mut [u8]) -> Result<()> {
        let size = self.0.metadata().size;
        if offset >= size.div_ceil(4096) * 4096 {
            return Err(Errno::EFAULT);
        }
        page.fill(0);
        let mut done = 0;
        while done < page.len() {
            let n = self
                .0
                .pread(&mut page[done..], (offset + done as u64) as i64)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(())
    }

    /// The file's page-cache frame (tmpfs in the kernel), so shared mappings write through.
    fn cached_page(&self, offset: u64, _mem: &mut dyn PageMemory) -> Option<Result<u64>> {
        self.0.cached_page(offset)
    }

    fn coherent(&self) -> bool {
        self.0.has_page_cache()
    }
}

pub fn brk<K: Kernel>(p: &Process<K>, addr: u64) -> Result<usize> {
    Ok(p.vm.lock().brk(addr) as usize)
}

pub fn mmap<K: Kernel>(
    p: &Process<K>,
    addr: u64,
    len: u64,
    prot: u32,
    flags: u32,
    fd: i32,
    off: u64,
) -> Result<usize> {
    let file = if flags & MAP_ANONYMOUS != 0 {
        None
    } else {
        let f = p.file(usize::try_from(fd).map_err(|_| Errno::EBADF)?)?;
        if !f.flags().readable() {
            return Err(Errno::EACCES);
        }
        let may_write = f.flags().writable();
        let source = match crate::kvm::map_source(&f) {
            Some(kvm) => kvm?,
            None => Arc::new(FileSource(f)),
        };
        Some(MapFile {
            source,
            offset: off,
            may_write,
        })
    };
    Ok(p.vm.lock().mmap(addr, len, prot, flags, file)? as usize)
}

pub fn munmap<K: Kernel>(p: &Process<K>, addr: u64, len: u64) -> Result<usize> {
    p.vm.lock().munmap(addr, len).map(|_| 0)
}

pub fn mprotect<K: Kernel>(p: &Process<K>, addr: u64, len: u64, prot: u32) -> Result<usize> {
    p.vm.lock().mprotect(addr, len, prot).map(|_| 0)
}

pub fn mremap<K: Kernel>(
    p: &Process<K>,
    old: u64,
    old_len: u64,
    new_len: u64,
    flags: u32,
    new_addr: u64,
) -> Result<usize> {
    Ok(p.vm.lock().mremap(old, old_len, new_len, flags, new_addr)? as usize)
}

/// `msync`: file pages live in the page cache, shared with the mappings, so there is nothing
/// to write back; Linux's argument and range checks.
pub fn msync<K: Kernel>(p: &Process<K>, addr: u64, len: u64, flags: u32) -> Result<usize> {
    p.vm.lock().msync(addr, len, flags).map(|_| 0)
}

/// Advice is only advice: accept the values Linux knows, on page-aligned ranges.
pub fn madvise(addr: u64, _len: u64, advice: u32) -> Result<usize> {
    if !addr.is_multiple_of(4096) {
        return Err(Errno::EINVAL);
    }
    match advice {
        0..=4 | 8..=25 | 100..=101 => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
