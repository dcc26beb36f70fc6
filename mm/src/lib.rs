//! Memory management, arch-neutral and host-testable.
//!
//! - [`frame`]: the physical frame allocator, a buddy system whose bookkeeping lives in the RAM it
//!   manages, so it works before the kernel heap exists and never allocates from it.
//! - [`page_table`]: one page-table walker (map, unmap, protect, translate) for every arch,
//!   parameterised by the arch's [`arch_api::PageTableFormat`] and by how page-table pages are
//!   reached ([`page_table::TableMemory`]).
#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod frame;
pub mod page_table;

pub use arch_api::{PAGE_SIZE, PageFlags};
