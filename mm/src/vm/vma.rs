//! One virtual memory area: a page-aligned range with one protection and one backing.

use alloc::sync::Arc;

use super::PageSource;

/// The file behind a file-backed mapping.
#[derive(Clone)]
pub struct FileMap {
    pub source: Arc<dyn PageSource>,
    /// File offset of the VMA's first page.
    pub offset: u64,
    /// Whether a shared mapping may be made writable (the file was opened for writing);
    /// private mappings may always be written.
    pub may_write: bool,
}

impl core::fmt::Debug for FileMap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FileMap")
            .field("offset", &self.offset)
            .field("may_write", &self.may_write)
            .finish_non_exhaustive()
    }
}

/// `[start, end)` of user memory with one protection and one backing.
#[derive(Clone, Debug)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    /// `PROT_READ | PROT_WRITE | PROT_EXEC` bits.
    pub prot: u32,
    /// `MAP_SHARED` (writes visible to every process mapping it) rather than private.
    pub shared: bool,
    /// `MAP_GROWSDOWN`: faults just below it extend it (stacks).
    pub grows_down: bool,
    /// The file behind it; `None` for anonymous memory.
    pub file: Option<FileMap>,
}

impl Vma {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// File offset of the page at `va`.
    pub fn file_offset(&self, va: u64) -> Option<u64> {
        self.file.as_ref().map(|f| f.offset + (va - self.start))
    }

    /// Cut at `at` (strictly inside): `self` keeps `[start, at)`, the result is `[at, end)`.
    pub fn split(&mut self, at: u64) -> Vma {
        debug_assert!(self.start < at && at < self.end);
        let mut upper = self.clone();
        upper.start = at;
        if let Some(f) = upper.file.as_mut() {
            f.offset += at - self.start;
        }
        self.end = at;
        upper
    }

    /// Whether `next` directly follows `self` and could be one VMA with it.
    pub fn can_merge(&self, next: &Vma) -> bool {
        self.end == next.start
            && self.prot == next.prot
            && self.shared == next.shared
            && self.grows_down == next.grows_down
            && match (&self.file, &next.file) {
                (None, None) => true,
                (Some(a), Some(b)) => {
                    Arc::ptr_eq(&a.source, &b.source)
                        && a.may_write == b.may_write
                        && a.offset + self.len() == b.offset
                }
                _ => false,
            }
    }
}
