//! What the ioctl layer needs from the process that calls it. The Linux personality implements
//! [`Host`] over the calling thread (its user copies, fd table, signals and address space);
//! host tests implement it over plain memory.

use crate::backend::PAGE_SIZE;
use crate::{Vcpu, Vm};
use alloc::boxed::Box;
use alloc::sync::Arc;
use syscall::Result;

/// A counted reference on one physical page, with access to its bytes (the kernel reaches
/// them through its direct map). Dropping it drops the reference.
pub trait Page: Send {
    /// The page's bytes. Other views may exist (the user mapping of the same frame, another
    /// vCPU): the contents are shared memory, as a `MAP_SHARED` page is.
    fn bytes(&mut self) -> &mut [u8; PAGE_SIZE];
    /// The physical address (for mapping the page into user space).
    fn pa(&self) -> u64;
}

/// A new file for [`Host::install`].
pub enum KvmFile {
    /// A VM fd (`anon_inode:kvm-vm`).
    Vm(Arc<Vm>),
    /// A vCPU fd (`anon_inode:kvm-vcpu`).
    Vcpu(Arc<Vcpu>),
}

/// The calling process, as the ioctls see it.
pub trait Host {
    /// Copies from user memory (`EFAULT`).
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()>;
    /// Copies to user memory (`EFAULT`).
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()>;
    /// Installs `file` at the lowest free fd, `O_RDWR | O_CLOEXEC` as Linux's KVM does.
    fn install(&mut self, file: KvmFile) -> Result<usize>;
    /// A signal the calling thread does not block is pending (or the process is dying).
    fn interrupted(&mut self) -> bool;
    /// Called while waiting for a vCPU another thread is using: give up the CPU.
    fn relax(&mut self) {}
    /// The page at user address `addr` (page aligned), faulted in as a user access would be
    /// (`write` breaks copy-on-write), with a reference taken; `None` if the address space
    /// refuses the access.
    fn pin(&mut self, addr: u64, write: bool) -> Option<Box<dyn Page>>;
    /// A zeroed page (`None`: out of memory).
    fn alloc_page(&mut self) -> Option<Box<dyn Page>>;
    /// Identifies the calling address space: VM and vCPU ioctls from another one (a forked
    /// child) fail with `EIO`, as Linux's `kvm->mm != current->mm` check.
    fn owner(&self) -> u64;
    /// End of the user half: slot memory must lie below it.
    fn user_end(&self) -> u64;
}

/// Reads a zerocopy struct from user memory.
pub(crate) fn read_struct<T: zerocopy::FromBytes + zerocopy::IntoBytes>(
    host: &mut dyn Host,
    addr: u64,
) -> Result<T> {
    let mut v = T::new_zeroed();
    host.read(addr, v.as_mut_bytes())?;
    Ok(v)
}

/// Writes a zerocopy struct to user memory.
pub(crate) fn write_struct<T: zerocopy::IntoBytes + zerocopy::Immutable>(
    host: &mut dyn Host,
    addr: u64,
    v: &T,
) -> Result<()> {
    host.write(addr, v.as_bytes())
}
