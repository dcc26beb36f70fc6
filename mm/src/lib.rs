//! Memory management, arch-neutral and host-testable.
//!
//! - [`frame`]: the physical frame allocator, a buddy system whose bookkeeping lives in the RAM it
//!   manages, so it works before the kernel heap exists and never allocates from it.
//! - [`page_table`]: one page-table walker (map, unmap, protect, translate) for every arch,
//!   parameterised by the arch's [`arch_api::PageTableFormat`] and by how page-table pages are
//!   reached ([`page_table::TableMemory`]).
//! - [`vm`]: user address spaces: VMAs, `mmap`/`munmap`/`mprotect`/`mremap`/`brk`, page
//!   faults, copy-on-write `fork`, reached through [`vm::PageMemory`].
#![no_std]
#![deny(unsafe_code)]

extern crate alloc;

#[cfg(test)]
extern crate std;

pub mod frame;
pub mod page_table;
pub mod vm;

pub use arch_api::{PAGE_SIZE, PageFlags};
