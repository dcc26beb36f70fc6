//! `/dev/kvm` in the Linux personality: the device and the VM and vCPU files, and the
//! [`hv::Host`] the `hv` ioctl layer runs against (the calling thread: its user memory, fd
//! table, signals and address space).
//!
//! The ioctls need the whole calling process (new fds, guest memory resolved through its
//! address space, pending signals), which a [`vfs::FileOps::ioctl`] does not see, so `ioctl`
//! finds these files by type ([`of`]) and calls [`ioctl`] here instead.

use crate::kernel::Kernel;
use crate::process::Task;
use alloc::boxed::Box;
use alloc::sync::Arc;
use core::any::Any;
use hv::{KvmFile, Page};
use mm::vm::{PageMemory, PageSource};
use syscall::{Errno, Result};
use vfs::anon::AnonInode;
use vfs::{CharDevice, FileOps, OpenFile, OpenFlags};

/// Major and minor of `/dev/kvm` (`misc` device 232).
pub const KVM_MAJOR: u32 = 10;
pub const KVM_MINOR: u32 = 232;

/// What a KVM file is.
pub enum KvmObject {
    /// `/dev/kvm` itself.
    System,
    /// A VM fd.
    Vm(Arc<hv::Vm>),
    /// A vCPU fd.
    Vcpu(Arc<hv::Vcpu>),
}

/// The file object of `/dev/kvm`, a VM fd or a vCPU fd. Reads and writes are `EINVAL`, as
/// on Linux's KVM files.
pub struct KvmOps(pub KvmObject);

impl FileOps for KvmOps {
    fn read(&self, _offset: u64, _buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::EINVAL)
    }

    fn write(&self, _offset: u64, _buf: &[u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::EINVAL)
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl CharDevice for KvmOps {}

/// The `/dev/kvm` device to register (char 10:232).
pub fn device() -> Arc<dyn CharDevice> {
    Arc::new(KvmOps(KvmObject::System))
}

/// The KVM object behind `file`, if it is one.
pub fn of(file: &OpenFile) -> Option<&KvmObject> {
    file.ops()?
        .as_any()?
        .downcast_ref::<KvmOps>()
        .map(|ops| &ops.0)
}

/// A KVM ioctl from `task`.
pub fn ioctl<K: Kernel>(task: &Arc<Task<K>>, obj: &KvmObject, cmd: u32, arg: u64) -> Result<usize> {
    let mut host = KvmHost { task };
    match obj {
        KvmObject::System => hv::System::new(K::kvm_backends()).ioctl(&mut host, cmd, arg),
        KvmObject::Vm(vm) => vm.ioctl(&mut host, cmd, arg),
        KvmObject::Vcpu(vcpu) => vcpu.ioctl(&mut host, cmd, arg),
    }
}

/// What `mmap` of a KVM file maps: a vCPU fd's `kvm_run` page; `ENODEV` for the others, as
/// on Linux; `None` for files that are not KVM's.
pub fn map_source(file: &OpenFile) -> Option<Result<Arc<dyn PageSource>>> {
    Some(match of(file)? {
        KvmObject::Vcpu(v) => Ok(Arc::new(RunPage(v.clone()))),
        KvmObject::System | KvmObject::Vm(_) => Err(Errno::ENODEV),
    })
}

/// The `kvm_run` page as a mapping's page source: page 0 of the vCPU fd is the vCPU's own
/// frame, shared (a private mapping copies it on the first write, as any file page). The
/// mapping keeps the vCPU alive, as Linux's mapping keeps the file open.
struct RunPage(Arc<hv::Vcpu>);

impl PageSource for RunPage {
    fn read_page(&self, _offset: u64, _page: &mut [u8]) -> Result<()> {
        Err(Errno::EFAULT)
    }

    fn cached_page(&self, offset: u64, mem: &mut dyn PageMemory) -> Option<Result<u64>> {
        if offset != 0 {
            // Past the `kvm_run` page: the access is SIGBUS, as Linux's fault handler says.
            return Some(Err(Errno::EFAULT));
        }
        let pa = self.0.run_page();
        mem.get_page(pa);
        Some(Ok(pa))
    }
}

/// The calling thread as the KVM ioctls see it.
struct KvmHost<'a, K: Kernel> {
    task: &'a Arc<Task<K>>,
}

impl<K: Kernel> hv::Host for KvmHost<'_, K> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.task.process.user().read(addr, buf)
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        self.task.process.user().write(addr, data)
    }

    fn install(&mut self, file: KvmFile) -> Result<usize> {
        let obj = match file {
            KvmFile::Vm(vm) => KvmObject::Vm(vm),
            KvmFile::Vcpu(vcpu) => KvmObject::Vcpu(vcpu),
        };
        let inode = Arc::new(AnonInode::new(0o600));
        let file = OpenFile::with_ops(None, inode, Arc::new(KvmOps(obj)), OpenFlags::RDWR);
        self.task.process.files.lock().insert(file, true)
    }

    fn interrupted(&mut self) -> bool {
        crate::signal::interrupted(self.task)
    }

    fn relax(&mut self) {
        K::sched().yield_now();
    }

    fn pin(&mut self, addr: u64, write: bool) -> Option<Box<dyn Page>> {
        let pa = {
            let mut vm = self.task.process.vm.lock();
            vm.handle_fault(addr, write, false).ok()?;
            let pa = vm.translate(addr)?.pa;
            // Under the address-space lock, so that no munmap frees the frame in between.
            K::page_memory().get_page(pa);
            pa
        };
        Some(K::page_ref(pa))
    }

    fn alloc_page(&mut self) -> Option<Box<dyn Page>> {
        K::page_memory().alloc_page().map(K::page_ref)
    }

    fn owner(&self) -> u64 {
        self.task.process.vm.lock().root()
    }

    fn user_end(&self) -> u64 {
        self.task.process.vm.lock().layout().user_end
    }
}
