//! The hardware side of the differential test: one KVM VM with one vCPU through kvm-ioctls,
//! running a case on the same memory image as the interpreter.

use crate::machine::{
    DATA, DATA_LEN, EXC_PORT, End, MEM_SIZE, Outcome, STACK, STACK_LEN, push_in, read_data,
};
use hv::abi::x86::{KvmSegment, KvmSregs};
use hv_interp::{KvmCpuidEntry2, KvmRegs};
use kvm_bindings::{
    KVM_MAX_CPUID_ENTRIES, kvm_regs, kvm_segment, kvm_sregs, kvm_userspace_memory_region,
};
use kvm_ioctls::{VcpuExit, VcpuFd, VmFd};

/// One KVM VM with one vCPU and 4 MiB of anonymous memory.
pub struct Kvm {
    kvm: kvm_ioctls::Kvm,
    _vm: VmFd,
    vcpu: VcpuFd,
    mem: *mut u8,
}

fn kseg(s: &KvmSegment) -> kvm_segment {
    kvm_segment {
        base: s.base,
        limit: s.limit,
        selector: s.selector,
        type_: s.type_,
        present: s.present,
        dpl: s.dpl,
        db: s.db,
        s: s.s,
        l: s.l,
        g: s.g,
        avl: s.avl,
        unusable: s.unusable,
        padding: 0,
    }
}

impl Kvm {
    /// Opens `/dev/kvm` and builds the VM, or `None` when there is no KVM here.
    pub fn open() -> Option<Kvm> {
        let kvm = kvm_ioctls::Kvm::new().ok()?;
        let vm = kvm.create_vm().ok()?;
        // SAFETY: an anonymous private mapping with no address hint; the result is checked.
        let mem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                MEM_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if mem == libc::MAP_FAILED {
            return None;
        }
        let region = kvm_userspace_memory_region {
            slot: 0,
            guest_phys_addr: 0,
            memory_size: MEM_SIZE as u64,
            userspace_addr: mem as u64,
            flags: 0,
        };
        // SAFETY: the region is a live mapping of MEM_SIZE bytes that outlives the VM (it is
        // never unmapped).
        unsafe { vm.set_user_memory_region(region) }.ok()?;
        let _ = vm.set_tss_address(0xfffb_d000);
        let vcpu = vm.create_vcpu(0).ok()?;
        let cpuid = kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES).ok()?;
        vcpu.set_cpuid2(&cpuid).ok()?;
        Some(Kvm {
            kvm,
            _vm: vm,
            vcpu,
            mem: mem.cast(),
        })
    }

    /// The CPUID the VM's vCPU sees, for the interpreter to use too.
    pub fn cpuid(&self) -> Vec<KvmCpuidEntry2> {
        let c = self
            .kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .expect("cpuid");
        c.as_slice()
            .iter()
            .map(|e| KvmCpuidEntry2 {
                function: e.function,
                index: e.index,
                flags: e.flags,
                eax: e.eax,
                ebx: e.ebx,
                ecx: e.ecx,
                edx: e.edx,
                padding: [0; 3],
            })
            .collect()
    }

    /// Copies `b` into guest memory at `at`.
    pub fn write(&mut self, at: u64, b: &[u8]) {
        assert!(at as usize + b.len() <= MEM_SIZE);
        // SAFETY: in bounds of the MEM_SIZE mapping (checked above); the vCPU is not running.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.mem.add(at as usize), b.len()) }
    }

    fn read(&self, at: u64, len: usize) -> Vec<u8> {
        assert!(at as usize + len <= MEM_SIZE);
        let mut v = vec![0u8; len];
        // SAFETY: in bounds of the mapping; the vCPU is not running.
        unsafe { std::ptr::copy_nonoverlapping(self.mem.add(at as usize), v.as_mut_ptr(), len) }
        v
    }

    /// `len` bytes of guest memory at `at`.
    pub fn read_range(&self, at: u64, len: usize) -> Vec<u8> {
        self.read(at, len)
    }

    /// Loads the whole initial image.
    pub fn load_image(&mut self, img: &[u8]) {
        self.write(0, img);
    }

    /// Runs one case on the hardware.
    pub fn run(&mut self, s: &KvmSregs, r: &KvmRegs) -> Outcome {
        let mut ks: kvm_sregs = self.vcpu.get_sregs().expect("get_sregs");
        ks.cs = kseg(&s.cs);
        ks.ds = kseg(&s.ds);
        ks.es = kseg(&s.es);
        ks.fs = kseg(&s.fs);
        ks.gs = kseg(&s.gs);
        ks.ss = kseg(&s.ss);
        ks.tr = kseg(&s.tr);
        ks.ldt = kseg(&s.ldt);
        ks.gdt.base = s.gdt.base;
        ks.gdt.limit = s.gdt.limit;
        ks.idt.base = s.idt.base;
        ks.idt.limit = s.idt.limit;
        ks.cr0 = s.cr0;
        ks.cr2 = s.cr2;
        ks.cr3 = s.cr3;
        ks.cr4 = s.cr4;
        ks.efer = s.efer;
        self.vcpu.set_sregs(&ks).expect("set_sregs");
        let kr = kvm_regs {
            rax: r.rax,
            rbx: r.rbx,
            rcx: r.rcx,
            rdx: r.rdx,
            rsi: r.rsi,
            rdi: r.rdi,
            rsp: r.rsp,
            rbp: r.rbp,
            r8: r.r8,
            r9: r.r9,
            r10: r.r10,
            r11: r.r11,
            r12: r.r12,
            r13: r.r13,
            r14: r.r14,
            r15: r.r15,
            rip: r.rip,
            rflags: r.rflags,
        };
        self.vcpu.set_regs(&kr).expect("set_regs");
        let mut events = Vec::new();
        let mut counter = 0;
        let exit = loop {
            if events.len() >= 64 {
                break End::Other("too many exits".into());
            }
            match self.vcpu.run() {
                Ok(VcpuExit::Hlt) => break End::Hlt,
                Ok(VcpuExit::IoOut(port, data)) if port != EXC_PORT => {
                    events.push(format!("out {port:#x} {data:02x?}"))
                }
                Ok(VcpuExit::IoOut(port, data)) => break End::Out(port, data.to_vec()),
                Ok(VcpuExit::IoIn(port, data)) => {
                    push_in(&mut events, port, data.len());
                    data.copy_from_slice(&read_data(&mut counter, data.len()));
                }
                Ok(VcpuExit::MmioWrite(gpa, data)) => {
                    events.push(format!("mmio write {gpa:#x} {data:02x?}"))
                }
                Ok(VcpuExit::MmioRead(gpa, data)) => {
                    events.push(format!("mmio read {gpa:#x} {}", data.len()));
                    data.copy_from_slice(&read_data(&mut counter, data.len()));
                }
                Ok(VcpuExit::Shutdown) => break End::Shutdown,
                Ok(VcpuExit::InternalError) => break End::Other("InternalError".into()),
                Ok(e) => break End::Other(format!("{e:?}")),
                Err(e) => break End::Other(format!("error {e}")),
            }
        };
        let g = self.vcpu.get_regs().expect("get_regs");
        Outcome {
            events,
            exit,
            regs: KvmRegs {
                rax: g.rax,
                rbx: g.rbx,
                rcx: g.rcx,
                rdx: g.rdx,
                rsi: g.rsi,
                rdi: g.rdi,
                rsp: g.rsp,
                rbp: g.rbp,
                r8: g.r8,
                r9: g.r9,
                r10: g.r10,
                r11: g.r11,
                r12: g.r12,
                r13: g.r13,
                r14: g.r14,
                r15: g.r15,
                rip: g.rip,
                rflags: g.rflags,
            },
            data: self.read(DATA, DATA_LEN),
            stack: self.read(STACK, STACK_LEN),
        }
    }
}
