//! What the KVM programs share: fds closed on drop, raw ioctls with the `hv` crate's ABI
//! structs, mappings, and a VM with 64 KiB of memory at gpa 0 and one real-mode vCPU.
//! Included with `#[path]` (it needs a little unsafe for the raw calls).

#![allow(dead_code)]

use hv::abi::x86::*;
use hv::abi::*;
use std::ffi::c_void;
use zerocopy::{FromBytes, IntoBytes};

/// An fd closed on drop.
pub struct Fd(pub i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the fd was returned by open/ioctl and is owned by this value alone.
        unsafe { libc::close(self.0) };
    }
}

/// `errno` of the last failed call.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `ioctl(fd, cmd, arg)` with an integer (or raw pointer) argument: the value or the errno.
pub fn ioctl_raw(fd: i32, cmd: u32, arg: u64) -> Result<i64, i32> {
    // SAFETY: the kernel validates `arg`; a bad pointer is EFAULT, never our memory corrupted
    // unless the caller passes a pointer to its own memory of the size the command encodes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_ioctl,
            fd as libc::c_long,
            cmd as libc::c_ulong,
            arg,
        )
    };
    if r < 0 { Err(errno()) } else { Ok(r) }
}

/// `ioctl` with a buffer at least as large as what `cmd` reads or writes.
pub fn ioctl_buf(fd: i32, cmd: u32, buf: &mut [u8]) -> Result<i64, i32> {
    assert!(
        buf.len() >= ioctl::size(cmd),
        "buffer too short for the ioctl"
    );
    ioctl_raw(fd, cmd, buf.as_mut_ptr() as u64)
}

/// `ioctl` with a struct argument of exactly the command's size.
pub fn ioctl_struct<T: IntoBytes + FromBytes>(fd: i32, cmd: u32, arg: &mut T) -> Result<i64, i32> {
    assert_eq!(ioctl::size(cmd), size_of::<T>());
    ioctl_buf(fd, cmd, arg.as_mut_bytes())
}

/// A mapping unmapped on drop.
pub struct Mapping {
    pub ptr: *mut u8,
    pub len: usize,
}

impl Mapping {
    /// Anonymous private memory, or `len` bytes of `fd` at offset 0 shared.
    pub fn new(len: usize, fd: Option<i32>) -> Result<Mapping, i32> {
        let (flags, fd) = match fd {
            Some(fd) => (libc::MAP_SHARED, fd),
            None => (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1),
        };
        // SAFETY: a fresh mapping where the kernel chooses; nothing else is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(Mapping { ptr: p.cast(), len })
    }

    pub fn read(&self, at: usize) -> u8 {
        assert!(at < self.len);
        // SAFETY: in bounds of a live mapping; volatile because the guest writes it.
        unsafe { self.ptr.add(at).read_volatile() }
    }

    pub fn write(&self, at: usize, bytes: &[u8]) {
        assert!(at + bytes.len() <= self.len);
        for (i, b) in bytes.iter().enumerate() {
            // SAFETY: in bounds of a live mapping.
            unsafe { self.ptr.add(at + i).write_volatile(*b) };
        }
    }

    /// The `kvm_run` this mapping (of a vCPU fd) shows.
    pub fn run(&self) -> KvmRun {
        let mut run = KvmRun::zeroed();
        let n = size_of::<KvmRun>().min(self.len);
        for (i, b) in run.as_mut_bytes()[..n].iter_mut().enumerate() {
            *b = self.read(i);
        }
        run
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: exactly what mmap returned.
        unsafe { libc::munmap(self.ptr.cast::<c_void>(), self.len) };
    }
}

/// `open("/dev/kvm")`, or the errno.
pub fn open_kvm() -> Result<Fd, i32> {
    // SAFETY: NUL-terminated literal path.
    let fd = unsafe { libc::open(c"/dev/kvm".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 { Err(errno()) } else { Ok(Fd(fd)) }
}

/// Guest memory size of [`Guest`].
pub const MEM: usize = 0x10000;

/// A VM with [`MEM`] bytes at gpa 0, one vCPU in real mode with `CS = 0`, its `kvm_run`.
pub struct Guest {
    pub kvm: Fd,
    pub vm: Fd,
    pub vcpu: Fd,
    pub mem: Mapping,
    pub run: Mapping,
}

impl Guest {
    /// Builds it; `code` is copied to `entry` and the vCPU starts there.
    pub fn new(code: &[u8], entry: u64) -> Result<Guest, String> {
        fn e(what: &'static str) -> impl Fn(i32) -> String {
            move |e| format!("{what}: {}", super::util::name(e))
        }
        let kvm = open_kvm().map_err(e("open /dev/kvm"))?;
        let vm = Fd(ioctl_raw(kvm.0, KVM_CREATE_VM, 0).map_err(e("KVM_CREATE_VM"))? as i32);
        ioctl_raw(vm.0, KVM_SET_TSS_ADDR, 0xfffb_d000).map_err(e("KVM_SET_TSS_ADDR"))?;
        let mem = Mapping::new(MEM, None).map_err(e("mmap"))?;
        mem.write(entry as usize, code);
        let mut region = KvmUserspaceMemoryRegion {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: MEM as u64,
            userspace_addr: mem.ptr as u64,
        };
        ioctl_struct(vm.0, KVM_SET_USER_MEMORY_REGION, &mut region)
            .map_err(e("KVM_SET_USER_MEMORY_REGION"))?;
        let vcpu = Fd(ioctl_raw(vm.0, KVM_CREATE_VCPU, 0).map_err(e("KVM_CREATE_VCPU"))? as i32);
        let size = ioctl_raw(kvm.0, KVM_GET_VCPU_MMAP_SIZE, 0).map_err(e("MMAP_SIZE"))?;
        let run = Mapping::new(size as usize, Some(vcpu.0)).map_err(e("mmap vcpu"))?;
        let mut sregs = KvmSregs::default();
        ioctl_struct(vcpu.0, KVM_GET_SREGS, &mut sregs).map_err(e("KVM_GET_SREGS"))?;
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        sregs.ds.base = 0;
        sregs.ds.selector = 0;
        ioctl_struct(vcpu.0, KVM_SET_SREGS, &mut sregs).map_err(e("KVM_SET_SREGS"))?;
        let mut regs = KvmRegs {
            rip: entry,
            rflags: 2,
            ..KvmRegs::default()
        };
        ioctl_struct(vcpu.0, KVM_SET_REGS, &mut regs).map_err(e("KVM_SET_REGS"))?;
        Ok(Guest {
            kvm,
            vm,
            vcpu,
            mem,
            run,
        })
    }

    /// `KVM_RUN`, then the `kvm_run` page.
    pub fn run(&self) -> Result<KvmRun, i32> {
        ioctl_raw(self.vcpu.0, KVM_RUN, 0)?;
        Ok(self.run.run())
    }

    pub fn regs(&self) -> Result<KvmRegs, i32> {
        let mut regs = KvmRegs::default();
        ioctl_struct(self.vcpu.0, KVM_GET_REGS, &mut regs)?;
        Ok(regs)
    }
}

/// The Levitate backends present (0 on Linux, which does not know the capability).
pub fn levitate_backends(kvm: &Fd) -> i64 {
    ioctl_raw(kvm.0, KVM_CHECK_EXTENSION, KVM_CAP_LEVITATE_BACKEND.into()).unwrap_or(0)
}
