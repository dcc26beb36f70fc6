//! `/dev/kvm`'s backends in this kernel: the x86 interpreter (`hv-interp`) behind `hv`'s
//! backend trait (on both arches: an aarch64 Levitate runs x86 guests through it), and guest
//! and `kvm_run` pages reached through the direct map.

use crate::memory::{FRAMES, phys_to_virt};
use alloc::boxed::Box;
use alloc::vec::Vec;
use hv::abi::LEVITATE_BACKEND_INTERP;
use hv::abi::x86::{KvmCpuidEntry2, KvmFpu, KvmRegs, KvmSregs};
use hv::backend::{InvalidState, PAGE_SIZE};
use hv::{Backend, Exit, GuestMemory, VcpuBackend};

/// A reference on a frame, with its bytes through the direct map.
pub struct FramePage(u64);

impl FramePage {
    /// Adopts one reference the caller holds on the frame at `pa`.
    pub fn adopt(pa: u64) -> FramePage {
        FramePage(pa)
    }
}

impl hv::Page for FramePage {
    fn bytes(&mut self) -> &mut [u8; PAGE_SIZE] {
        // SAFETY: the reference this value holds keeps the frame allocated, and all RAM is in
        // the direct map. The frame may be mapped in user space (guest memory, the `kvm_run`
        // page) and pinned by other vCPUs too: like any MAP_SHARED page its bytes change under
        // other views, and callers only copy plain bytes in and out of it.
        unsafe { &mut *(phys_to_virt(self.0) as *mut [u8; PAGE_SIZE]) }
    }

    fn pa(&self) -> u64 {
        self.0
    }
}

impl Drop for FramePage {
    fn drop(&mut self) {
        if let Err(e) = FRAMES.lock().put(self.0) {
            log::error!("kvm: release of frame {:#x} refused: {e:?}", self.0);
        }
    }
}

/// The interpreter backend.
struct Interp;

impl Backend for Interp {
    fn id(&self) -> u64 {
        LEVITATE_BACKEND_INTERP
    }
    fn supported_cpuid(&self) -> Vec<KvmCpuidEntry2> {
        hv_interp::supported_cpuid()
    }
    fn msr_index_list(&self) -> &'static [u32] {
        hv_interp::msr_index_list()
    }
    fn new_vcpu(&self) -> Box<dyn VcpuBackend> {
        Box::new(InterpVcpu(hv_interp::Vcpu::new()))
    }
}

static INTERP: Interp = Interp;
static BACKENDS: [&dyn Backend; 1] = [&INTERP];

/// The backends, the default first.
pub fn backends() -> &'static [&'static dyn Backend] {
    &BACKENDS
}

struct InterpVcpu(hv_interp::Vcpu);

impl VcpuBackend for InterpVcpu {
    fn regs(&self) -> KvmRegs {
        self.0.regs()
    }
    fn set_regs(&mut self, regs: &KvmRegs) {
        self.0.set_regs(regs)
    }
    fn sregs(&self) -> KvmSregs {
        self.0.sregs()
    }
    fn set_sregs(&mut self, sregs: &KvmSregs) -> Result<(), InvalidState> {
        self.0.set_sregs(sregs)
    }
    fn fpu(&self) -> KvmFpu {
        self.0.fpu()
    }
    fn set_fpu(&mut self, fpu: &KvmFpu) {
        self.0.set_fpu(fpu)
    }
    fn set_cpuid(&mut self, entries: &[KvmCpuidEntry2]) {
        self.0.set_cpuid(entries)
    }
    fn msr(&self, index: u32) -> Option<u64> {
        self.0.msr(index)
    }
    fn set_msr(&mut self, index: u32, value: u64) -> bool {
        self.0.set_msr(index, value)
    }
    fn queue_interrupt(&mut self, vector: u8) -> bool {
        self.0.queue_interrupt(vector).is_ok()
    }
    fn interrupt_flag(&self) -> bool {
        self.0.interrupt_flag()
    }
    fn ready_for_interrupt(&self) -> bool {
        self.0.ready_for_interrupt()
    }
    fn complete(&mut self, data: &[u8]) {
        self.0.complete(data)
    }
    fn run(&mut self, mem: &mut dyn GuestMemory, budget: u64, irq_window: bool) -> Exit {
        self.0.run(mem, budget, irq_window)
    }
}
