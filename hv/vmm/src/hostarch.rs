//! What differs between the x86_64 and the aarch64 build of vmrun. The guest is x86 either way;
//! on an aarch64 host (Levitate's interpreter) kvm-ioctls and kvm-bindings have no x86
//! register ioctls or structs, and linux-loader has no ELF/PVH loader. So:
//!
//! - x86_64: kvm-ioctls' `get_regs`/`set_sregs`/..., kvm-bindings' structs, `set_cpuid2` from
//!   `KVM_GET_SUPPORTED_CPUID` (Linux rejects EFER.LME unless CPUID shows long mode), and
//!   linux-loader for the ELF and the `hvm_start_info`.
//! - elsewhere: the kernel's own ABI crate `hv` (`hv::abi::x86`: same field names and
//!   layouts, checked against kvm-bindings in its tests) through vmm-sys-util's raw ioctls, and
//!   vmrun's own ELF loader and start-info writer (`boot.rs`). The guest's CPUID is the
//!   backend's default.
//!
//! `KVM_INTERRUPT` has no kvm-ioctls wrapper on any arch: it is a raw ioctl on both.

use anyhow::{Context, Result};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::errno;

use crate::boot::StartInfoSpec;
use crate::image::ElfImage;

#[cfg(target_arch = "x86_64")]
pub use kvm_bindings::{kvm_regs as Regs, kvm_segment as Segment, kvm_sregs as Sregs};

#[cfg(not(target_arch = "x86_64"))]
pub use hv::abi::x86::{KvmRegs as Regs, KvmSegment as Segment, KvmSregs as Sregs};

/// `KVM_INTERRUPT`: queue external interrupt `vector` (api.rst 4.16; no in-kernel irqchip).
pub fn interrupt(vcpu: &VcpuFd, vector: u32) -> Result<()> {
    let irq = hv::abi::KvmInterrupt { irq: vector };
    // SAFETY: `vcpu` is a vCPU fd and KVM_INTERRUPT reads one `struct kvm_interrupt`, which
    // `irq` is (same layout, checked in hv's ABI tests); it writes nothing back.
    let ret =
        unsafe { vmm_sys_util::ioctl::ioctl_with_ref(vcpu, hv::abi::KVM_INTERRUPT.into(), &irq) };
    if ret < 0 {
        return Err(errno::Error::last()).context("KVM_INTERRUPT");
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::*;
    use linux_loader::configurator::pvh::PvhBootConfigurator;
    use linux_loader::configurator::{BootConfigurator, BootParams};
    use linux_loader::loader::KernelLoader;
    use linux_loader::loader::elf::start_info::{
        hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
    };
    use linux_loader::loader::elf::{Elf, PvhBootCapability};
    use vm_memory::GuestAddress;

    pub fn get_regs(vcpu: &VcpuFd) -> Result<Regs> {
        vcpu.get_regs().context("KVM_GET_REGS")
    }

    pub fn set_regs(vcpu: &VcpuFd, regs: &Regs) -> Result<()> {
        vcpu.set_regs(regs).context("KVM_SET_REGS")
    }

    pub fn get_sregs(vcpu: &VcpuFd) -> Result<Sregs> {
        vcpu.get_sregs().context("KVM_GET_SREGS")
    }

    pub fn set_sregs(vcpu: &VcpuFd, sregs: &Sregs) -> Result<()> {
        vcpu.set_sregs(sregs).context("KVM_SET_SREGS")
    }

    pub fn set_tss_addr(vm: &VmFd, addr: u64) -> Result<()> {
        let addr = usize::try_from(addr).context("TSS address")?;
        vm.set_tss_address(addr).context("KVM_SET_TSS_ADDR")
    }

    pub fn setup_cpuid(kvm: &Kvm, vcpu: &VcpuFd) -> Result<()> {
        let cpuid = kvm
            .get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES)
            .context("KVM_GET_SUPPORTED_CPUID")?;
        vcpu.set_cpuid2(&cpuid).context("KVM_SET_CPUID2")
    }

    /// linux-loader's ELF loader; the PVH entry it finds must be the one `image.rs` found.
    pub fn load_elf(mem: &GuestMemoryMmap, elf: &ElfImage) -> Result<u32> {
        let mut file = std::io::Cursor::new(elf.bytes.as_slice());
        let loaded = Elf::load(mem, None, &mut file, None)
            .map_err(|e| anyhow::anyhow!("linux-loader: {e}"))?;
        match loaded.pvh_boot_cap {
            PvhBootCapability::PvhEntryPresent(entry) if entry.0 == u64::from(elf.entry) => {
                Ok(elf.entry)
            }
            other => anyhow::bail!(
                "linux-loader found PVH entry {other:?}, vmrun's parser {:#x}",
                elf.entry
            ),
        }
    }

    /// linux-loader's PVH configurator writes the start info, memory map and module list.
    pub fn write_start_info(mem: &GuestMemoryMmap, spec: &StartInfoSpec) -> Result<()> {
        let mut info = hvm_start_info {
            magic: crate::boot::XEN_HVM_START_MAGIC,
            version: 1,
            cmdline_paddr: spec.cmdline,
            memmap_paddr: spec.memmap_addr,
            memmap_entries: u32::try_from(spec.memmap.len()).context("memory map")?,
            ..Default::default()
        };
        let memmap: Vec<hvm_memmap_table_entry> = spec
            .memmap
            .iter()
            .map(|&(addr, size, type_)| hvm_memmap_table_entry {
                addr,
                size,
                type_,
                reserved: 0,
            })
            .collect();
        let modules: Vec<hvm_modlist_entry> = spec
            .initrd
            .iter()
            .map(|&(paddr, size)| hvm_modlist_entry {
                paddr,
                size,
                ..Default::default()
            })
            .collect();
        if !modules.is_empty() {
            info.nr_modules = 1;
            info.modlist_paddr = spec.modlist_addr;
        }
        let mut params = BootParams::new::<hvm_start_info>(&info, GuestAddress(spec.info_addr));
        params.set_sections::<hvm_memmap_table_entry>(&memmap, GuestAddress(spec.memmap_addr));
        if !modules.is_empty() {
            params.set_modules::<hvm_modlist_entry>(&modules, GuestAddress(spec.modlist_addr));
        }
        PvhBootConfigurator::write_bootparams::<GuestMemoryMmap>(&params, mem)
            .map_err(|e| anyhow::anyhow!("writing the hvm_start_info: {e}"))
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod imp {
    use super::*;
    use vmm_sys_util::ioctl::{ioctl_with_mut_ref, ioctl_with_ref, ioctl_with_val};
    use zerocopy::FromZeros;

    fn check(ret: i32, what: &'static str) -> Result<()> {
        if ret < 0 {
            return Err(errno::Error::last()).context(what);
        }
        Ok(())
    }

    pub fn get_regs(vcpu: &VcpuFd) -> Result<Regs> {
        let mut regs = Regs::new_zeroed();
        // SAFETY: KVM_GET_REGS writes one `struct kvm_regs` (x86), which `Regs` is.
        let ret = unsafe { ioctl_with_mut_ref(vcpu, hv::abi::x86::KVM_GET_REGS.into(), &mut regs) };
        check(ret, "KVM_GET_REGS")?;
        Ok(regs)
    }

    pub fn set_regs(vcpu: &VcpuFd, regs: &Regs) -> Result<()> {
        // SAFETY: KVM_SET_REGS reads one `struct kvm_regs` (x86), which `Regs` is.
        let ret = unsafe { ioctl_with_ref(vcpu, hv::abi::x86::KVM_SET_REGS.into(), regs) };
        check(ret, "KVM_SET_REGS")
    }

    pub fn get_sregs(vcpu: &VcpuFd) -> Result<Sregs> {
        let mut sregs = Sregs::new_zeroed();
        // SAFETY: KVM_GET_SREGS writes one `struct kvm_sregs` (x86), which `Sregs` is.
        let ret =
            unsafe { ioctl_with_mut_ref(vcpu, hv::abi::x86::KVM_GET_SREGS.into(), &mut sregs) };
        check(ret, "KVM_GET_SREGS")?;
        Ok(sregs)
    }

    pub fn set_sregs(vcpu: &VcpuFd, sregs: &Sregs) -> Result<()> {
        // SAFETY: KVM_SET_SREGS reads one `struct kvm_sregs` (x86), which `Sregs` is.
        let ret = unsafe { ioctl_with_ref(vcpu, hv::abi::x86::KVM_SET_SREGS.into(), sregs) };
        check(ret, "KVM_SET_SREGS")
    }

    pub fn set_tss_addr(vm: &VmFd, addr: u64) -> Result<()> {
        // SAFETY: KVM_SET_TSS_ADDR takes its argument by value and touches no memory of ours.
        let ret = unsafe { ioctl_with_val(vm, hv::abi::x86::KVM_SET_TSS_ADDR.into(), addr) };
        check(ret, "KVM_SET_TSS_ADDR")
    }

    pub fn setup_cpuid(_kvm: &Kvm, _vcpu: &VcpuFd) -> Result<()> {
        Ok(())
    }

    pub fn load_elf(mem: &GuestMemoryMmap, elf: &ElfImage) -> Result<u32> {
        crate::boot::load_elf_own(mem, elf)
    }

    pub fn write_start_info(mem: &GuestMemoryMmap, spec: &StartInfoSpec) -> Result<()> {
        crate::boot::write_start_info_own(mem, spec)
    }
}

pub use imp::*;
