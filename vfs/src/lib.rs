//! Levitate's virtual file system, arch-neutral and host-tested.
//!
//! - [`path`]: Linux pathname rules; [`walk`]: the walk over mounts and symlinks;
//! - [`Inode`]/[`FileSystem`]: what filesystems implement (tmpfs, devtmpfs live in `fs/`);
//! - [`Vfs`]: the mount table and the `*at` operations with Linux's errnos ([`ops`]);
//! - [`OpenFile`], [`FdTable`]: open file descriptions and per-process fd tables;
//! - [`pipe`], [`poll`]: pipes and FIFOs, readiness and waiters (nothing here blocks);
//! - [`tty`], [`pty`]: the line discipline, pseudo-terminal pairs and `devpts`;
//! - [`CharDevice`]/[`DeviceRegistry`]: drivers behind device nodes;
//! - [`initramfs`]: unpacking a cpio archive into any directory.
//!
//! Locks are `spin` locks taken in thread context only: never call into the VFS from an
//! interrupt handler.

#![no_std]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod anon;
pub mod device;
pub mod dirent;
pub mod fd;
pub mod file;
pub mod flock;
pub mod initramfs;
pub mod inode;
pub mod mount;
pub mod ops;
pub mod path;
pub mod perm;
pub mod pipe;
pub mod poll;
pub mod pty;
pub mod tty;
pub mod types;
pub mod walk;

pub use device::{CharDevice, DeviceRegistry};
pub use fd::FdTable;
pub use file::{OpenFile, OpenFlags};
pub use inode::{FileOps, FileSystem, Inode, PageProvider, RenameFlags, UserMem, same_inode};
pub use mount::{Mount, PathRef, Vfs};
pub use path::{Component, EmptyPath, Last, NAME_MAX, PATH_MAX, Path};
pub use poll::{Events, Pollee, Waiter, WaiterKey};
pub use types::{
    Clock, Cred, DirEntry, FileType, Metadata, NewNode, SetAttr, SetTime, StatFs, Timespec,
};
pub use walk::{Jump, Lookup, Parent};
