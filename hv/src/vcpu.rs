//! The vCPU object behind a vCPU fd: its backend, its `kvm_run` page, its translation cache,
//! the vCPU ioctls and the `KVM_RUN` loop.
//!
//! `KVM_RUN` runs the guest on the calling thread in chunks of [`RUN_BUDGET`] instructions.
//! Kernel code is preemptible, so the timer switches away from a guest that loops forever like
//! from any thread; between chunks a pending unblocked signal ends the run with
//! `KVM_EXIT_INTR` and `EINTR`, as Linux does.

use crate::abi::x86::*;
use crate::abi::*;
use crate::backend::{Backend, Exit, PAGE_SIZE, VcpuBackend};
use crate::host::{Host, Page, read_struct, write_struct};
use crate::memory::{GuestMap, Tlb};
use crate::vm::{MAX_CPUID_ENTRIES, MAX_IO_MSRS, Vm};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use spin::{Mutex, MutexGuard};
use syscall::{Errno, Result};
use zerocopy::{FromBytes, IntoBytes};

/// Instructions per chunk of `KVM_RUN` between two looks at pending signals.
pub const RUN_BUDGET: u64 = 20_000;
/// Where `KVM_EXIT_IO` data lives in the `kvm_run` page (`kvm_run.io.data_offset`): right
/// after `struct kvm_run`, in the same page.
pub const IO_DATA_OFFSET: usize = 0xa00;
const _: () = assert!(size_of::<KvmRun>() <= IO_DATA_OFFSET && IO_DATA_OFFSET + 8 <= PAGE_SIZE);

/// An exit whose data the VMM supplies before the next `KVM_RUN`.
#[derive(Clone, Copy, Debug)]
enum Pending {
    /// `IN`: `size` bytes at [`IO_DATA_OFFSET`].
    In { size: usize },
    /// MMIO read: `len` bytes of `kvm_run.mmio.data`.
    MmioRead { len: usize },
}

struct Inner {
    backend: Box<dyn VcpuBackend>,
    run: Box<dyn Page>,
    pending: Option<Pending>,
    tlb: Tlb,
}

/// A vCPU.
pub struct Vcpu {
    vm: Arc<Vm>,
    id: u32,
    run_pa: u64,
    inner: Mutex<Inner>,
}

impl Vcpu {
    /// vCPU `id` of `vm` on `backend`, with a fresh `kvm_run` page.
    pub(crate) fn new(
        vm: Arc<Vm>,
        id: u32,
        backend: &dyn Backend,
        host: &mut dyn Host,
    ) -> Result<Vcpu> {
        let run = host.alloc_page().ok_or(Errno::ENOMEM)?;
        Ok(Vcpu {
            vm,
            id,
            run_pa: run.pa(),
            inner: Mutex::new(Inner {
                backend: backend.new_vcpu(),
                run,
                pending: None,
                tlb: Tlb::default(),
            }),
        })
    }

    /// The vCPU id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The VM.
    pub fn vm(&self) -> &Arc<Vm> {
        &self.vm
    }

    /// Physical address of the `kvm_run` page (the vCPU holds a reference on it while alive;
    /// a mapping takes its own).
    pub fn run_page(&self) -> u64 {
        self.run_pa
    }

    /// Runs `f` on the `kvm_run` page (what the VMM's mapping shows).
    pub fn with_run_page<R>(&self, f: impl FnOnce(&mut [u8; PAGE_SIZE]) -> R) -> R {
        f(self.inner.lock().run.bytes())
    }

    /// Frames the translation cache pins now (0 outside `KVM_RUN`).
    pub fn pinned(&self) -> usize {
        self.inner.lock().tlb.len()
    }

    /// Waits for the vCPU (another thread may be in `KVM_RUN` on it).
    fn lock(&self, host: &mut dyn Host) -> MutexGuard<'_, Inner> {
        loop {
            if let Some(g) = self.inner.try_lock() {
                return g;
            }
            host.relax();
        }
    }

    /// A vCPU fd ioctl. Unknown ones are `EINVAL`, as Linux answers on vCPU fds.
    pub fn ioctl(&self, host: &mut dyn Host, cmd: u32, arg: u64) -> Result<usize> {
        if host.owner() != self.vm.owner() {
            return Err(Errno::EIO);
        }
        let mut inner = self.lock(host);
        let me = &mut *inner;
        let b = &mut me.backend;
        match cmd {
            KVM_RUN if arg == 0 => self.run(me, host),
            KVM_GET_REGS => write_struct(host, arg, &b.regs()).map(|()| 0),
            KVM_SET_REGS => {
                b.set_regs(&read_struct(host, arg)?);
                Ok(0)
            }
            KVM_GET_SREGS => write_struct(host, arg, &b.sregs()).map(|()| 0),
            KVM_SET_SREGS => {
                let s: KvmSregs = read_struct(host, arg)?;
                b.set_sregs(&s).map(|()| 0).map_err(|_| Errno::EINVAL)
            }
            KVM_GET_FPU => write_struct(host, arg, &b.fpu()).map(|()| 0),
            KVM_SET_FPU => {
                b.set_fpu(&read_struct(host, arg)?);
                Ok(0)
            }
            KVM_SET_CPUID2 => {
                let header: KvmCpuid2 = read_struct(host, arg)?;
                if header.nent > MAX_CPUID_ENTRIES {
                    return Err(Errno::E2BIG);
                }
                let mut entries = vec![KvmCpuidEntry2::default(); header.nent as usize];
                host.read(array_at::<KvmCpuid2>(arg)?, entries.as_mut_bytes())?;
                b.set_cpuid(&entries);
                Ok(0)
            }
            KVM_GET_MSRS | KVM_SET_MSRS => {
                let header: KvmMsrs = read_struct(host, arg)?;
                if header.nmsrs >= MAX_IO_MSRS {
                    return Err(Errno::E2BIG);
                }
                let at = array_at::<KvmMsrs>(arg)?;
                let mut entries = vec![KvmMsrEntry::default(); header.nmsrs as usize];
                host.read(at, entries.as_mut_bytes())?;
                // As Linux: stop at the first MSR that fails; return how many were done.
                let mut done = 0;
                for e in entries.iter_mut() {
                    let ok = if cmd == KVM_GET_MSRS {
                        b.msr(e.index).map(|v| e.data = v).is_some()
                    } else {
                        b.set_msr(e.index, e.data)
                    };
                    if !ok {
                        break;
                    }
                    done += 1;
                }
                if cmd == KVM_GET_MSRS {
                    host.write(at, entries.as_bytes())?;
                }
                Ok(done)
            }
            KVM_INTERRUPT => {
                let irq: KvmInterrupt = read_struct(host, arg)?;
                let vector = u8::try_from(irq.irq).map_err(|_| Errno::EINVAL)?;
                if b.queue_interrupt(vector) {
                    Ok(0)
                } else {
                    Err(Errno::ENXIO)
                }
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// `KVM_RUN`.
    fn run(&self, me: &mut Inner, host: &mut dyn Host) -> Result<usize> {
        let page = me.run.bytes();
        let mut run = KvmRun::read_from_prefix(&page[..])
            .map(|(r, _)| r)
            .map_err(|_| Errno::EFAULT)?;
        // Finish the IN or MMIO read of the last exit with what the VMM put in the page.
        if let Some(p) = me.pending.take() {
            let data = match p {
                Pending::In { size } => page[IO_DATA_OFFSET..IO_DATA_OFFSET + size].to_vec(),
                Pending::MmioRead { len } => run.exit_mmio().data[..len].to_vec(),
            };
            me.backend.complete(&data);
        }
        if run.immediate_exit != 0 {
            return Err(Errno::EINTR);
        }
        me.tlb.flush();
        let mut result = Ok(0);
        let mut io_out = None;
        loop {
            if host.interrupted() {
                run.exit_reason = KVM_EXIT_INTR;
                result = Err(Errno::EINTR);
                break;
            }
            let mut map = GuestMap {
                vm: &self.vm,
                tlb: &mut me.tlb,
                host: &mut *host,
                fault: false,
            };
            let irq_window = run.request_interrupt_window != 0;
            let exit = me.backend.run(&mut map, RUN_BUDGET, irq_window);
            if map.fault {
                result = Err(Errno::EFAULT);
                break;
            }
            match exit {
                Exit::Budget => continue,
                Exit::Io {
                    port,
                    size,
                    write,
                    data,
                } => {
                    let size = usize::from(size).clamp(1, 4);
                    run.exit_reason = KVM_EXIT_IO;
                    run.set_exit_io(KvmRunExitIo {
                        direction: if write {
                            KVM_EXIT_IO_OUT
                        } else {
                            KVM_EXIT_IO_IN
                        },
                        size: size as u8,
                        port,
                        count: 1,
                        data_offset: IO_DATA_OFFSET as u64,
                    });
                    if write {
                        io_out = Some((data, size));
                    } else {
                        me.pending = Some(Pending::In { size });
                    }
                }
                Exit::Mmio {
                    gpa,
                    len,
                    write,
                    data,
                } => {
                    let len = usize::from(len).clamp(1, 8);
                    run.exit_reason = KVM_EXIT_MMIO;
                    let mut mmio = KvmRunExitMmio {
                        phys_addr: gpa,
                        len: len as u32,
                        is_write: write.into(),
                        ..KvmRunExitMmio::default()
                    };
                    if write {
                        mmio.data[..len].copy_from_slice(&data[..len]);
                    } else {
                        me.pending = Some(Pending::MmioRead { len });
                    }
                    run.set_exit_mmio(mmio);
                }
                Exit::Hlt => run.exit_reason = KVM_EXIT_HLT,
                Exit::Shutdown => run.exit_reason = KVM_EXIT_SHUTDOWN,
                Exit::IrqWindowOpen => run.exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN,
                Exit::Internal { suberror } => {
                    run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
                    run.set_exit_internal(KvmRunExitInternal {
                        suberror,
                        ..KvmRunExitInternal::default()
                    });
                }
            }
            break;
        }
        me.tlb.flush();
        run.if_flag = me.backend.interrupt_flag().into();
        run.ready_for_interrupt_injection = me.backend.ready_for_interrupt().into();
        let sregs = me.backend.sregs();
        run.cr8 = sregs.cr8;
        run.apic_base = sregs.apic_base;
        let page = me.run.bytes();
        // Cannot fail: the page is larger than `kvm_run` (checked at compile time above).
        let _ = run.write_to_prefix(&mut page[..]);
        if let Some((data, size)) = io_out {
            page[IO_DATA_OFFSET..IO_DATA_OFFSET + size].copy_from_slice(&data[..size]);
        }
        result
    }
}

/// The user address of the flexible array after a `T` header at `arg`.
fn array_at<T>(arg: u64) -> Result<u64> {
    arg.checked_add(size_of::<T>() as u64).ok_or(Errno::EFAULT)
}
