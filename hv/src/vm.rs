//! The VM object behind a VM fd: memory slots, the vCPU ids, the backend choice, and the VM
//! ioctls with Linux's semantics.

use crate::abi::*;
use crate::backend::Backend;
use crate::host::{Host, KvmFile, read_struct};
use crate::memory::{Slot, Slots};
use crate::vcpu::Vcpu;
use alloc::collections::BTreeSet;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Mutex;
use syscall::{Errno, Result};

/// Slot ids per VM (`KVM_CAP_NR_MEMSLOTS`); Linux x86 has 32764, a VMM needs a handful.
pub const NR_MEMSLOTS: u32 = 509;
/// vCPUs per VM (`KVM_CAP_NR_VCPUS`, `KVM_CAP_MAX_VCPUS`).
pub const MAX_VCPUS: u32 = 64;
/// vCPU ids are below this (`KVM_CAP_MAX_VCPU_ID`).
pub const MAX_VCPU_ID: u32 = 1024;
/// Most CPUID entries `KVM_SET_CPUID2` takes (Linux's `KVM_MAX_CPUID_ENTRIES`).
pub const MAX_CPUID_ENTRIES: u32 = 256;
/// Most MSRs one `KVM_GET_MSRS`/`KVM_SET_MSRS` takes (Linux's `MAX_IO_MSRS`).
pub const MAX_IO_MSRS: u32 = 256;
/// Highest `KVM_SET_TSS_ADDR` (the three pages must fit below 4 GiB).
const MAX_TSS_ADDR: u64 = 0xffff_d000;

/// `KVM_CHECK_EXTENSION` (system and VM fds): what this device implements, truthfully;
/// `backends` is the bit set of backends present (the Levitate capability's answer).
pub fn check_extension(cap: u64, backends: u64) -> u64 {
    let Ok(cap) = u32::try_from(cap) else {
        return 0;
    };
    match cap {
        KVM_CAP_LEVITATE_BACKEND => backends,
        KVM_CAP_USER_MEMORY
        | KVM_CAP_SET_TSS_ADDR
        | KVM_CAP_SET_IDENTITY_MAP_ADDR
        | KVM_CAP_EXT_CPUID
        | KVM_CAP_DESTROY_MEMORY_REGION_WORKS
        | KVM_CAP_JOIN_MEMORY_REGIONS_WORKS
        | KVM_CAP_READONLY_MEM
        | KVM_CAP_IMMEDIATE_EXIT
        | KVM_CAP_SYNC_MMU
        | KVM_CAP_ENABLE_CAP_VM
        | KVM_CAP_CHECK_EXTENSION_VM => 1,
        KVM_CAP_NR_MEMSLOTS => NR_MEMSLOTS.into(),
        KVM_CAP_NR_VCPUS | KVM_CAP_MAX_VCPUS => MAX_VCPUS.into(),
        KVM_CAP_MAX_VCPU_ID => MAX_VCPU_ID.into(),
        _ => 0,
    }
}

struct State {
    slots: Slots,
    vcpu_ids: BTreeSet<u32>,
    tss_addr: Option<u64>,
    identity_map_addr: Option<u64>,
    /// The backend vCPUs get (an index into `backends`).
    backend: usize,
}

/// A VM. It lives while a VM fd, a vCPU (fd or `kvm_run` mapping) or a run refers to it.
pub struct Vm {
    backends: &'static [&'static dyn Backend],
    owner: u64,
    user_end: u64,
    state: Mutex<State>,
    /// Bumped on every slot change: vCPUs flush their translation caches when it moves.
    slot_generation: AtomicU64,
}

impl Vm {
    /// A VM of the process `owner` (see [`Host::owner`]) with the first of `backends`.
    pub fn new(backends: &'static [&'static dyn Backend], owner: u64, user_end: u64) -> Vm {
        Vm {
            backends,
            owner,
            user_end,
            state: Mutex::new(State {
                slots: Slots::default(),
                vcpu_ids: BTreeSet::new(),
                tss_addr: None,
                identity_map_addr: None,
                backend: 0,
            }),
            slot_generation: AtomicU64::new(1),
        }
    }

    /// The bit set of backends present.
    pub fn backend_bits(&self) -> u64 {
        self.backends.iter().fold(0, |m, b| m | b.id())
    }

    /// The backend new vCPUs get.
    pub fn backend(&self) -> Option<&'static dyn Backend> {
        self.backends.get(self.state.lock().backend).copied()
    }

    pub(crate) fn owner(&self) -> u64 {
        self.owner
    }

    pub(crate) fn slot_generation(&self) -> u64 {
        self.slot_generation.load(Ordering::Acquire)
    }

    /// The slot holding guest page `gfn`.
    pub fn find_slot(&self, gfn: u64) -> Option<Slot> {
        self.state.lock().slots.find(gfn)
    }

    /// Number of slots.
    pub fn slot_count(&self) -> usize {
        self.state.lock().slots.len()
    }

    /// `KVM_SET_TSS_ADDR`, `KVM_SET_IDENTITY_MAP_ADDR` as recorded.
    pub fn tss_and_identity_map(&self) -> (Option<u64>, Option<u64>) {
        let s = self.state.lock();
        (s.tss_addr, s.identity_map_addr)
    }

    /// `KVM_SET_USER_MEMORY_REGION`.
    pub fn set_memory_region(&self, r: &KvmUserspaceMemoryRegion) -> Result<()> {
        let changed = self.state.lock().slots.set(r, NR_MEMSLOTS, self.user_end)?;
        if changed {
            self.slot_generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// `KVM_CREATE_VCPU`'s checks and bookkeeping: `EINVAL` for an id at or over
    /// [`MAX_VCPU_ID`] or past [`MAX_VCPUS`], `EEXIST` for an id in use. Returns the backend.
    pub fn reserve_vcpu(&self, id: u64) -> Result<&'static dyn Backend> {
        let id = u32::try_from(id)
            .ok()
            .filter(|&id| id < MAX_VCPU_ID)
            .ok_or(Errno::EINVAL)?;
        let mut s = self.state.lock();
        if s.vcpu_ids.len() >= MAX_VCPUS as usize {
            return Err(Errno::EINVAL);
        }
        if s.vcpu_ids.contains(&id) {
            return Err(Errno::EEXIST);
        }
        let backend = *self.backends.get(s.backend).ok_or(Errno::ENODEV)?;
        s.vcpu_ids.insert(id);
        Ok(backend)
    }

    /// `KVM_ENABLE_CAP(KVM_CAP_LEVITATE_BACKEND)`: `args[0]` is one backend bit present here;
    /// `EINVAL` otherwise, or once vCPUs exist.
    pub fn select_backend(&self, bit: u64) -> Result<()> {
        let mut s = self.state.lock();
        if !s.vcpu_ids.is_empty() || !bit.is_power_of_two() {
            return Err(Errno::EINVAL);
        }
        s.backend = self
            .backends
            .iter()
            .position(|b| b.id() == bit)
            .ok_or(Errno::EINVAL)?;
        Ok(())
    }

    /// A VM fd ioctl.
    pub fn ioctl(self: &Arc<Self>, host: &mut dyn Host, cmd: u32, arg: u64) -> Result<usize> {
        if host.owner() != self.owner {
            return Err(Errno::EIO);
        }
        match cmd {
            KVM_CHECK_EXTENSION => Ok(check_extension(arg, self.backend_bits()) as usize),
            KVM_SET_USER_MEMORY_REGION => {
                let r: KvmUserspaceMemoryRegion = read_struct(host, arg)?;
                self.set_memory_region(&r).map(|()| 0)
            }
            KVM_CREATE_VCPU => {
                let backend = self.reserve_vcpu(arg)?;
                let vcpu = Vcpu::new(self.clone(), arg as u32, backend, host);
                let vcpu = match vcpu {
                    Ok(v) => v,
                    Err(e) => {
                        self.state.lock().vcpu_ids.remove(&(arg as u32));
                        return Err(e);
                    }
                };
                let fd = host.install(KvmFile::Vcpu(Arc::new(vcpu)));
                if fd.is_err() {
                    self.state.lock().vcpu_ids.remove(&(arg as u32));
                }
                fd
            }
            x86::KVM_SET_TSS_ADDR => {
                if arg > MAX_TSS_ADDR {
                    return Err(Errno::EINVAL);
                }
                self.state.lock().tss_addr = Some(arg);
                Ok(0)
            }
            x86::KVM_SET_IDENTITY_MAP_ADDR => {
                if !self.state.lock().vcpu_ids.is_empty() {
                    return Err(Errno::EINVAL);
                }
                let addr: u64 = read_struct(host, arg)?;
                self.state.lock().identity_map_addr = Some(addr);
                Ok(0)
            }
            KVM_ENABLE_CAP => {
                let cap: KvmEnableCap = read_struct(host, arg)?;
                if cap.flags != 0 || cap.cap != KVM_CAP_LEVITATE_BACKEND {
                    return Err(Errno::EINVAL);
                }
                self.select_backend(cap.args[0]).map(|()| 0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }
}
