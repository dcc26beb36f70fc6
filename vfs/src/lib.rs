//! Levitate's virtual file system.
//!
//! So far the path layer: how Linux splits, checks and (lexically) normalises a pathname before
//! the walk over dentries that will stand on it.

#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod path;

pub use path::{Component, EmptyPath, Last, NAME_MAX, PATH_MAX, Path};
