//! The object model with a fake backend and a fake process: slots, vCPU ids, capabilities,
//! the system ioctls, and `KVM_RUN`'s exits, completions, signals and memory.

use crate::abi::x86::*;
use crate::abi::*;
use crate::backend::{Backend, Exit, GuestMemory, InvalidState, PAGE_SIZE, VcpuBackend};
use crate::host::{Host, KvmFile, Page};
use crate::*;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::collections::BTreeMap;
use syscall::{Errno, Result};
use zerocopy::{FromBytes, IntoBytes};

/// Frames pinned right now, across all fake pages.
static PINNED: AtomicUsize = AtomicUsize::new(0);

type Frame = &'static spin::Mutex<[u8; PAGE_SIZE]>;

/// A pinned fake frame: holds the frame's lock while pinned, so the test cannot read it
/// until the pin is dropped.
struct FakePage(spin::MutexGuard<'static, [u8; PAGE_SIZE]>, u64);

impl Page for FakePage {
    fn bytes(&mut self) -> &mut [u8; PAGE_SIZE] {
        &mut self.0
    }
    fn pa(&self) -> u64 {
        self.1
    }
}

impl Drop for FakePage {
    fn drop(&mut self) {
        PINNED.fetch_sub(1, Ordering::SeqCst);
    }
}

fn frame() -> Frame {
    Box::leak(Box::new(spin::Mutex::new([0u8; PAGE_SIZE])))
}

/// A fake process: flat user memory for the ioctl arguments, user pages by address, fds.
struct FakeHost {
    mem: Vec<u8>,
    pages: BTreeMap<u64, Frame>,
    files: Vec<KvmFile>,
    signal_after: Option<usize>,
    owner: u64,
}

/// Where the argument area starts in the fake user memory.
const ARG: u64 = 0x1000;

impl FakeHost {
    fn new() -> FakeHost {
        FakeHost {
            mem: vec![0; 0x10000],
            pages: BTreeMap::new(),
            files: Vec::new(),
            signal_after: None,
            owner: 7,
        }
    }
    fn put<T: IntoBytes + zerocopy::Immutable>(&mut self, v: &T) -> u64 {
        let b = v.as_bytes();
        self.mem[ARG as usize..ARG as usize + b.len()].copy_from_slice(b);
        ARG
    }
    fn get<T: FromBytes>(&self, at: u64) -> T {
        T::read_from_prefix(&self.mem[at as usize..]).unwrap().0
    }
    fn vm(&self, fd: usize) -> Arc<Vm> {
        match &self.files[fd] {
            KvmFile::Vm(v) => v.clone(),
            KvmFile::Vcpu(_) => panic!("not a VM"),
        }
    }
    fn vcpu(&self, fd: usize) -> Arc<Vcpu> {
        match &self.files[fd] {
            KvmFile::Vcpu(v) => v.clone(),
            KvmFile::Vm(_) => panic!("not a vCPU"),
        }
    }
}

impl Host for FakeHost {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let end = (addr as usize)
            .checked_add(buf.len())
            .ok_or(Errno::EFAULT)?;
        buf.copy_from_slice(self.mem.get(addr as usize..end).ok_or(Errno::EFAULT)?);
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<()> {
        let end = (addr as usize)
            .checked_add(data.len())
            .ok_or(Errno::EFAULT)?;
        self.mem
            .get_mut(addr as usize..end)
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(data);
        Ok(())
    }
    fn install(&mut self, file: KvmFile) -> Result<usize> {
        self.files.push(file);
        Ok(self.files.len() - 1)
    }
    fn interrupted(&mut self) -> bool {
        match &mut self.signal_after {
            Some(0) => true,
            Some(n) => {
                *n -= 1;
                false
            }
            None => false,
        }
    }
    fn pin(&mut self, addr: u64, _write: bool) -> Option<Box<dyn Page>> {
        let f = *self.pages.get(&addr)?;
        PINNED.fetch_add(1, Ordering::SeqCst);
        Some(Box::new(FakePage(f.lock(), addr)))
    }
    fn alloc_page(&mut self) -> Option<Box<dyn Page>> {
        PINNED.fetch_add(1, Ordering::SeqCst);
        Some(Box::new(FakePage(frame().lock(), 0x5000)))
    }
    fn owner(&self) -> u64 {
        self.owner
    }
    fn user_end(&self) -> u64 {
        0x7fff_ffff_f000
    }
}

/// A scripted guest: each run first increments the byte at gpa 0x10 (so memory is reached),
/// then returns the next scripted exit (or `Budget` forever once they are used up).
struct FakeVcpu {
    script: Vec<Exit>,
    completed: Arc<spin::Mutex<Vec<u8>>>,
    regs: KvmRegs,
}

impl VcpuBackend for FakeVcpu {
    fn regs(&self) -> KvmRegs {
        self.regs
    }
    fn set_regs(&mut self, regs: &KvmRegs) {
        self.regs = *regs;
    }
    fn sregs(&self) -> KvmSregs {
        KvmSregs {
            cr8: 3,
            ..KvmSregs::default()
        }
    }
    fn set_sregs(&mut self, s: &KvmSregs) -> core::result::Result<(), InvalidState> {
        if s.cr0 & (1 << 31) != 0 && s.cr0 & 1 == 0 {
            return Err(InvalidState);
        }
        Ok(())
    }
    fn fpu(&self) -> KvmFpu {
        KvmFpu::default()
    }
    fn set_fpu(&mut self, _: &KvmFpu) {}
    fn set_cpuid(&mut self, _: &[KvmCpuidEntry2]) {}
    fn msr(&self, index: u32) -> Option<u64> {
        (index == 0x174).then_some(0x10)
    }
    fn set_msr(&mut self, index: u32, _: u64) -> bool {
        index == 0x174
    }
    fn queue_interrupt(&mut self, _: u8) -> bool {
        true
    }
    fn interrupt_flag(&self) -> bool {
        true
    }
    fn ready_for_interrupt(&self) -> bool {
        true
    }
    fn complete(&mut self, data: &[u8]) {
        self.completed.lock().extend_from_slice(data);
    }
    fn run(&mut self, mem: &mut dyn GuestMemory, _budget: u64, _irq: bool) -> Exit {
        match mem.page(0x10, true) {
            Some(p) => p[0x10] += 1,
            None => {
                return Exit::Mmio {
                    gpa: 0x10,
                    len: 1,
                    write: true,
                    data: [1, 0, 0, 0, 0, 0, 0, 0],
                };
            }
        }
        if self.script.is_empty() {
            Exit::Budget
        } else {
            self.script.remove(0)
        }
    }
}

struct FakeBackend(u64);

static SCRIPT: spin::Mutex<Vec<Exit>> = spin::Mutex::new(Vec::new());
static COMPLETED: spin::Once<Arc<spin::Mutex<Vec<u8>>>> = spin::Once::new();

impl Backend for FakeBackend {
    fn id(&self) -> u64 {
        self.0
    }
    fn supported_cpuid(&self) -> Vec<KvmCpuidEntry2> {
        vec![KvmCpuidEntry2::default(); 3]
    }
    fn msr_index_list(&self) -> &'static [u32] {
        &[0x10, 0x174, 0x175]
    }
    fn new_vcpu(&self) -> Box<dyn VcpuBackend> {
        Box::new(FakeVcpu {
            script: core::mem::take(&mut *SCRIPT.lock()),
            completed: COMPLETED
                .call_once(|| Arc::new(spin::Mutex::new(Vec::new())))
                .clone(),
            regs: KvmRegs::default(),
        })
    }
}

static INTERP: FakeBackend = FakeBackend(LEVITATE_BACKEND_INTERP);
static BACKENDS: [&dyn Backend; 1] = [&INTERP];
static SYSTEM: System = System::new(&BACKENDS);
/// Serialises the tests that use the global script.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn region(slot: u32, gpa: u64, size: u64, ua: u64) -> KvmUserspaceMemoryRegion {
    KvmUserspaceMemoryRegion {
        slot,
        flags: 0,
        guest_phys_addr: gpa,
        memory_size: size,
        userspace_addr: ua,
    }
}

fn new_vm(h: &mut FakeHost) -> Arc<Vm> {
    let fd = SYSTEM.ioctl(h, KVM_CREATE_VM, 0).unwrap();
    h.vm(fd)
}

#[test]
fn slots_follow_linux_rules() {
    let mut h = FakeHost::new();
    let vm = new_vm(&mut h);
    let set = |r| vm.set_memory_region(&r);
    assert_eq!(set(region(0, 0, 0x10000, 0x40000)), Ok(()));
    // Same slot again: nothing changes.
    assert_eq!(set(region(0, 0, 0x10000, 0x40000)), Ok(()));
    // Alignment of size, gpa, user address.
    assert_eq!(set(region(1, 0x10000, 0x1001, 0x80000)), Err(Errno::EINVAL));
    assert_eq!(set(region(1, 0x10001, 0x1000, 0x80000)), Err(Errno::EINVAL));
    assert_eq!(set(region(1, 0x10000, 0x1000, 0x80001)), Err(Errno::EINVAL));
    // Overlap with slot 0.
    assert_eq!(set(region(1, 0x8000, 0x10000, 0x80000)), Err(Errno::EEXIST));
    // Unknown flags, other address spaces, slot ids past the limit.
    let mut r = region(1, 0x10000, 0x1000, 0x80000);
    r.flags = 4;
    assert_eq!(set(r), Err(Errno::EINVAL));
    assert_eq!(
        set(region(1 << 16, 0x10000, 0x1000, 0x80000)),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        set(region(NR_MEMSLOTS, 0x10000, 0x1000, 0x80000)),
        Err(Errno::EINVAL)
    );
    // User memory past the user half; a gpa range that wraps.
    assert_eq!(
        set(region(1, 0x10000, 0x2000, 0x7fff_ffff_f000)),
        Err(Errno::EINVAL)
    );
    assert_eq!(set(region(1, !0xfff, 0x2000, 0x80000)), Err(Errno::EINVAL));
    // Changing the size or user address of slot 0 is refused; moving it is allowed.
    assert_eq!(set(region(0, 0, 0x20000, 0x40000)), Err(Errno::EINVAL));
    assert_eq!(set(region(0, 0, 0x10000, 0x50000)), Err(Errno::EINVAL));
    assert_eq!(set(region(0, 0x100000, 0x10000, 0x40000)), Ok(()));
    assert_eq!(vm.find_slot(0x100).map(|s| s.user_addr), Some(0x40000));
    assert_eq!(vm.find_slot(0), None);
    // Delete (size 0), then deleting again is EINVAL.
    assert_eq!(set(region(0, 0, 0, 0)), Ok(()));
    assert_eq!(vm.slot_count(), 0);
    assert_eq!(set(region(0, 0, 0, 0)), Err(Errno::EINVAL));
    // Through the ioctl, a bad pointer is EFAULT.
    assert_eq!(
        vm.ioctl(&mut h, KVM_SET_USER_MEMORY_REGION, 0xffff_0000),
        Err(Errno::EFAULT)
    );
}

#[test]
fn vcpu_ids_and_backend_choice() {
    let _g = SERIAL.lock();
    let mut h = FakeHost::new();
    let vm = new_vm(&mut h);
    let mut cap = KvmEnableCap::new(KVM_CAP_LEVITATE_BACKEND, [LEVITATE_BACKEND_HW, 0, 0, 0]);
    let at = h.put(&cap);
    assert_eq!(vm.ioctl(&mut h, KVM_ENABLE_CAP, at), Err(Errno::EINVAL));
    cap.args[0] = LEVITATE_BACKEND_INTERP;
    let at = h.put(&cap);
    assert_eq!(vm.ioctl(&mut h, KVM_ENABLE_CAP, at), Ok(0));
    let fd = vm.ioctl(&mut h, KVM_CREATE_VCPU, 0).unwrap();
    assert_eq!(h.vcpu(fd).id(), 0);
    assert_eq!(vm.ioctl(&mut h, KVM_CREATE_VCPU, 0), Err(Errno::EEXIST));
    assert_eq!(
        vm.ioctl(&mut h, KVM_CREATE_VCPU, MAX_VCPU_ID.into()),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        vm.ioctl(&mut h, KVM_CREATE_VCPU, u64::MAX),
        Err(Errno::EINVAL)
    );
    // After the first vCPU the backend is fixed.
    assert_eq!(vm.ioctl(&mut h, KVM_ENABLE_CAP, at), Err(Errno::EINVAL));
    for id in 1..MAX_VCPUS {
        vm.ioctl(&mut h, KVM_CREATE_VCPU, id.into()).unwrap();
    }
    assert_eq!(
        vm.ioctl(&mut h, KVM_CREATE_VCPU, MAX_VCPUS.into()),
        Err(Errno::EINVAL)
    );
    // Another process (a forked child) gets EIO on VM and vCPU fds.
    h.owner = 8;
    assert_eq!(vm.ioctl(&mut h, KVM_CHECK_EXTENSION, 0), Err(Errno::EIO));
    assert_eq!(h.vcpu(fd).ioctl(&mut h, KVM_RUN, 0), Err(Errno::EIO));
}

#[test]
fn capabilities_and_system_ioctls() {
    let mut h = FakeHost::new();
    let cap = |c: u32| SYSTEM.ioctl(&mut FakeHost::new(), KVM_CHECK_EXTENSION, c.into());
    assert_eq!(cap(KVM_CAP_USER_MEMORY), Ok(1));
    assert_eq!(cap(KVM_CAP_IMMEDIATE_EXIT), Ok(1));
    assert_eq!(cap(KVM_CAP_IRQCHIP), Ok(0));
    assert_eq!(cap(KVM_CAP_NR_MEMSLOTS), Ok(NR_MEMSLOTS as usize));
    assert_eq!(
        cap(KVM_CAP_LEVITATE_BACKEND),
        Ok(LEVITATE_BACKEND_INTERP as usize)
    );
    assert_eq!(SYSTEM.ioctl(&mut h, KVM_CHECK_EXTENSION, u64::MAX), Ok(0));
    assert_eq!(SYSTEM.ioctl(&mut h, KVM_GET_API_VERSION, 0), Ok(12));
    assert_eq!(
        SYSTEM.ioctl(&mut h, KVM_GET_API_VERSION, 1),
        Err(Errno::EINVAL)
    );
    assert_eq!(SYSTEM.ioctl(&mut h, KVM_GET_VCPU_MMAP_SIZE, 0), Ok(4096));
    assert_eq!(SYSTEM.ioctl(&mut h, KVM_CREATE_VM, 1), Err(Errno::EINVAL));
    assert_eq!(SYSTEM.ioctl(&mut h, KVM_RUN, 0), Err(Errno::EINVAL));
    // Lists: E2BIG when there is no room (MSRs: with the count needed).
    let at = h.put(&KvmMsrList { nmsrs: 1 });
    assert_eq!(
        SYSTEM.ioctl(&mut h, KVM_GET_MSR_INDEX_LIST, at),
        Err(Errno::E2BIG)
    );
    assert_eq!(h.get::<KvmMsrList>(at).nmsrs, 3);
    assert_eq!(SYSTEM.ioctl(&mut h, KVM_GET_MSR_INDEX_LIST, at), Ok(0));
    assert_eq!(h.get::<u32>(at + 8), 0x174);
    let at = h.put(&KvmCpuid2 {
        nent: 2,
        padding: 0,
    });
    assert_eq!(
        SYSTEM.ioctl(&mut h, KVM_GET_SUPPORTED_CPUID, at),
        Err(Errno::E2BIG)
    );
    let at = h.put(&KvmCpuid2 {
        nent: 8,
        padding: 0,
    });
    assert_eq!(SYSTEM.ioctl(&mut h, KVM_GET_SUPPORTED_CPUID, at), Ok(0));
    assert_eq!(h.get::<KvmCpuid2>(at).nent, 3);
    assert_eq!(
        SYSTEM.ioctl(&mut h, KVM_GET_SUPPORTED_CPUID, 0xffff_fff0),
        Err(Errno::EFAULT)
    );
    // VM fds answer ENOTTY to what they do not know.
    let vm = new_vm(&mut h);
    assert_eq!(vm.ioctl(&mut h, KVM_GET_API_VERSION, 0), Err(Errno::ENOTTY));
    assert_eq!(vm.ioctl(&mut h, KVM_SET_TSS_ADDR, 0xfffb_d000), Ok(0));
    assert_eq!(
        vm.ioctl(&mut h, KVM_SET_TSS_ADDR, 1 << 32),
        Err(Errno::EINVAL)
    );
    let at = h.put(&0xfffb_c000u64);
    assert_eq!(vm.ioctl(&mut h, KVM_SET_IDENTITY_MAP_ADDR, at), Ok(0));
    assert_eq!(
        vm.tss_and_identity_map(),
        (Some(0xfffb_d000), Some(0xfffb_c000))
    );
}

fn vcpu_with(h: &mut FakeHost, script: Vec<Exit>) -> (Arc<Vm>, Arc<Vcpu>, Frame) {
    *SCRIPT.lock() = script;
    let vm = new_vm(h);
    let page = frame();
    h.pages.insert(0x40000, page);
    vm.set_memory_region(&region(0, 0, 0x1000, 0x40000))
        .unwrap();
    let fd = vm.ioctl(h, KVM_CREATE_VCPU, 0).unwrap();
    (vm, h.vcpu(fd), page)
}

fn kvm_run(v: &Vcpu) -> KvmRun {
    v.with_run_page(|p| KvmRun::read_from_prefix(&p[..]).unwrap().0)
}

#[test]
fn run_exits_completions_and_memory() {
    let _g = SERIAL.lock();
    let mut h = FakeHost::new();
    let out = Exit::Io {
        port: 0x3f8,
        size: 1,
        write: true,
        data: [b'A', 0, 0, 0, 0, 0, 0, 0],
    };
    let inp = Exit::Io {
        port: 0x3f8,
        size: 1,
        write: false,
        data: [0; 8],
    };
    let (_vm, v, page) = vcpu_with(&mut h, vec![out, inp, Exit::Hlt]);
    let pinned_before = PINNED.load(Ordering::SeqCst);
    assert_eq!(v.ioctl(&mut h, KVM_RUN, 0), Ok(0));
    let run = kvm_run(&v);
    assert_eq!(run.exit_reason, KVM_EXIT_IO);
    let io = run.exit_io();
    assert_eq!((io.direction, io.size, io.port, io.count), (1, 1, 0x3f8, 1));
    assert_eq!(v.with_run_page(|p| p[io.data_offset as usize]), b'A');
    assert_eq!(
        (run.if_flag, run.ready_for_interrupt_injection, run.cr8),
        (1, 1, 3)
    );
    // No frame stays pinned outside KVM_RUN; the guest's write reached the VMM's page.
    assert_eq!(PINNED.load(Ordering::SeqCst), pinned_before);
    assert_eq!(v.pinned(), 0);
    assert_eq!(page.lock()[0x10], 1);
    // The VMM's write is what the guest sees next.
    page.lock()[0x10] = 40;
    assert_eq!(v.ioctl(&mut h, KVM_RUN, 0), Ok(0));
    assert_eq!(page.lock()[0x10], 41);
    let run = kvm_run(&v);
    assert_eq!(run.exit_io().direction, KVM_EXIT_IO_IN);
    // The IN is completed from the page at the next entry.
    v.with_run_page(|p| p[IO_DATA_OFFSET] = b'z');
    assert_eq!(v.ioctl(&mut h, KVM_RUN, 0), Ok(0));
    assert_eq!(kvm_run(&v).exit_reason, KVM_EXIT_HLT);
    assert_eq!(COMPLETED.get().unwrap().lock().last(), Some(&b'z'));
    // Then the guest loops: a signal after a few chunks ends the run with EINTR.
    h.signal_after = Some(5);
    assert_eq!(v.ioctl(&mut h, KVM_RUN, 0), Err(Errno::EINTR));
    assert_eq!(kvm_run(&v).exit_reason, KVM_EXIT_INTR);
    assert_eq!(page.lock()[0x10], 47);
    // immediate_exit: EINTR at once, the guest does not run.
    h.signal_after = None;
    v.with_run_page(|p| p[1] = 1);
    assert_eq!(v.ioctl(&mut h, KVM_RUN, 0), Err(Errno::EINTR));
    assert_eq!(page.lock()[0x10], 47);
    assert_eq!(v.ioctl(&mut h, KVM_RUN, 1), Err(Errno::EINVAL));
    assert_eq!(PINNED.load(Ordering::SeqCst), pinned_before);
}

#[test]
fn vcpu_state_ioctls() {
    let _g = SERIAL.lock();
    let mut h = FakeHost::new();
    let (vm, v, _) = vcpu_with(&mut h, vec![]);
    let regs = KvmRegs {
        rip: 0x1234,
        ..KvmRegs::default()
    };
    let at = h.put(&regs);
    assert_eq!(v.ioctl(&mut h, KVM_SET_REGS, at), Ok(0));
    assert_eq!(v.ioctl(&mut h, KVM_GET_REGS, 0x3000), Ok(0));
    assert_eq!(h.get::<KvmRegs>(0x3000).rip, 0x1234);
    assert_eq!(
        v.ioctl(&mut h, KVM_GET_REGS, 0xffff_ff00),
        Err(Errno::EFAULT)
    );
    let bad = KvmSregs {
        cr0: 1 << 31,
        ..KvmSregs::default()
    };
    let at = h.put(&bad);
    assert_eq!(v.ioctl(&mut h, KVM_SET_SREGS, at), Err(Errno::EINVAL));
    // MSRs: the count done, stopping at the first unknown one.
    let mut buf = KvmMsrs { nmsrs: 3, pad: 0 }.as_bytes().to_vec();
    for index in [0x174u32, 0xdead, 0x174] {
        buf.extend_from_slice(
            KvmMsrEntry {
                index,
                ..KvmMsrEntry::default()
            }
            .as_bytes(),
        );
    }
    h.mem[ARG as usize..ARG as usize + buf.len()].copy_from_slice(&buf);
    assert_eq!(v.ioctl(&mut h, KVM_GET_MSRS, ARG), Ok(1));
    assert_eq!(h.get::<KvmMsrEntry>(ARG + 8).data, 0x10);
    assert_eq!(v.ioctl(&mut h, KVM_SET_MSRS, ARG), Ok(1));
    let at = h.put(&KvmMsrs {
        nmsrs: MAX_IO_MSRS,
        pad: 0,
    });
    assert_eq!(v.ioctl(&mut h, KVM_GET_MSRS, at), Err(Errno::E2BIG));
    let at = h.put(&KvmCpuid2 {
        nent: MAX_CPUID_ENTRIES + 1,
        padding: 0,
    });
    assert_eq!(v.ioctl(&mut h, KVM_SET_CPUID2, at), Err(Errno::E2BIG));
    let at = h.put(&KvmInterrupt { irq: 256 });
    assert_eq!(v.ioctl(&mut h, KVM_INTERRUPT, at), Err(Errno::EINVAL));
    let at = h.put(&KvmInterrupt { irq: 32 });
    assert_eq!(v.ioctl(&mut h, KVM_INTERRUPT, at), Ok(0));
    assert_eq!(v.ioctl(&mut h, KVM_GET_API_VERSION, 0), Err(Errno::EINVAL));
    // Unbacked memory is an MMIO exit; a slot change is seen by the next run.
    vm.set_memory_region(&region(0, 0, 0, 0)).unwrap();
    assert_eq!(v.ioctl(&mut h, KVM_RUN, 0), Ok(0));
    let run = kvm_run(&v);
    assert_eq!(run.exit_reason, KVM_EXIT_MMIO);
    let mmio = run.exit_mmio();
    assert_eq!(
        (mmio.phys_addr, mmio.len, mmio.is_write, mmio.data[0]),
        (0x10, 1, 1, 1)
    );
    // A slot whose user memory is gone: EFAULT, as Linux.
    vm.set_memory_region(&region(0, 0, 0x1000, 0x90000))
        .unwrap();
    assert_eq!(v.ioctl(&mut h, KVM_RUN, 0), Err(Errno::EFAULT));
}
