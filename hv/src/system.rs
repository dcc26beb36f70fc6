//! The `/dev/kvm` fd: the system ioctls.

use crate::abi::x86::{KVM_GET_MSR_INDEX_LIST, KVM_GET_SUPPORTED_CPUID, KvmCpuid2, KvmMsrList};
use crate::abi::*;
use crate::backend::Backend;
use crate::host::{Host, KvmFile, read_struct, write_struct};
use crate::vm::{MAX_CPUID_ENTRIES, Vm, check_extension};
use alloc::sync::Arc;
use syscall::{Errno, Result};
use zerocopy::IntoBytes;

/// Size of the `kvm_run` mapping of a vCPU fd: one page, with `KVM_EXIT_IO` data inside it.
pub const VCPU_MMAP_SIZE: usize = 4096;

/// What an open `/dev/kvm` serves: the backends of this kernel.
pub struct System {
    backends: &'static [&'static dyn Backend],
}

impl System {
    /// The device over `backends` (the first is the default of new VMs).
    pub const fn new(backends: &'static [&'static dyn Backend]) -> System {
        System { backends }
    }

    /// The bit set of backends present.
    pub fn backend_bits(&self) -> u64 {
        self.backends.iter().fold(0, |m, b| m | b.id())
    }

    /// A system ioctl. Unknown ones are `EINVAL`, as x86 Linux answers on `/dev/kvm`.
    pub fn ioctl(&self, host: &mut dyn Host, cmd: u32, arg: u64) -> Result<usize> {
        match cmd {
            KVM_GET_API_VERSION if arg == 0 => Ok(KVM_API_VERSION as usize),
            KVM_GET_VCPU_MMAP_SIZE if arg == 0 => Ok(VCPU_MMAP_SIZE),
            KVM_CHECK_EXTENSION => Ok(check_extension(arg, self.backend_bits()) as usize),
            KVM_CREATE_VM if arg == 0 => {
                if self.backends.is_empty() {
                    return Err(Errno::ENODEV);
                }
                let vm = Vm::new(self.backends, host.owner(), host.user_end());
                host.install(KvmFile::Vm(Arc::new(vm)))
            }
            KVM_GET_SUPPORTED_CPUID => {
                let mut header: KvmCpuid2 = read_struct(host, arg)?;
                let entries = self
                    .backends
                    .first()
                    .map(|b| b.supported_cpuid())
                    .unwrap_or_default();
                if header.nent < entries.len() as u32 || header.nent == 0 {
                    return Err(Errno::E2BIG);
                }
                let at = arg.checked_add(size_of::<KvmCpuid2>() as u64);
                host.write(at.ok_or(Errno::EFAULT)?, entries.as_bytes())?;
                header.nent = (entries.len() as u32).min(MAX_CPUID_ENTRIES);
                write_struct(host, arg, &header).map(|()| 0)
            }
            KVM_GET_MSR_INDEX_LIST => {
                let mut header: KvmMsrList = read_struct(host, arg)?;
                let list = self
                    .backends
                    .first()
                    .map_or(&[][..], |b| b.msr_index_list());
                let room = header.nmsrs;
                header.nmsrs = list.len() as u32;
                write_struct(host, arg, &header)?;
                if room < list.len() as u32 {
                    return Err(Errno::E2BIG);
                }
                let at = arg.checked_add(size_of::<KvmMsrList>() as u64);
                host.write(at.ok_or(Errno::EFAULT)?, list.as_bytes())
                    .map(|()| 0)
            }
            _ => Err(Errno::EINVAL),
        }
    }
}
