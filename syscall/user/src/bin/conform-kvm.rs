//! Conformance checks for `/dev/kvm`: the system, VM and vCPU ioctls with Linux's errnos, a
//! tiny real-mode guest (port I/O with an `IN` completed by the VMM, memory shared both ways,
//! MMIO exits, `HLT`), `KVM_EXIT_INTR`/`EINTR` for a signal during a guest that loops forever
//! (sent by another thread, which must get the CPU while the guest spins: preemption), and
//! 100 VMs killed with SIGKILL while running, after which the free memory must be what it
//! was (on Levitate; Linux's MemFree moves on its own). Prints `PASS kvm/<name>` or
//! `FAIL kvm/<name>: why`; exits 0 iff all passed. The same binary passes on the host's real
//! KVM; without `/dev/kvm` it says `SKIP` and exits 0.

#[path = "../conform/util.rs"]
mod util;

#[path = "../conform/kvm.rs"]
mod kvm;

use hv::abi::x86::*;
use hv::abi::*;
use kvm::{Fd, Guest, Mapping, ioctl_buf, ioctl_raw, ioctl_struct, open_kvm};
use std::process::ExitCode;
use std::time::Duration;
use util::{Check, End, KERNEL_ADDR, Report, eq, name};

/// `Err(errno)` of an ioctl must be `want`.
fn want_err(what: &str, got: Result<i64, i32>, want: i32) -> Check {
    match got {
        Ok(v) => Err(format!("{what} returned {v}, want {}", name(want))),
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!("{what}: {}, want {}", name(e), name(want))),
    }
}

/// The ioctl must succeed.
fn want_ok(what: &str, got: Result<i64, i32>) -> Result<i64, String> {
    got.map_err(|e| format!("{what} failed with {}", name(e)))
}

fn region(slot: u32, gpa: u64, size: u64, ua: u64) -> KvmUserspaceMemoryRegion {
    KvmUserspaceMemoryRegion {
        slot,
        flags: 0,
        guest_phys_addr: gpa,
        memory_size: size,
        userspace_addr: ua,
    }
}

fn set_region(vm: &Fd, mut r: KvmUserspaceMemoryRegion) -> Result<i64, i32> {
    ioctl_struct(vm.0, KVM_SET_USER_MEMORY_REGION, &mut r)
}

fn new_vm(kvm: &Fd) -> Result<Fd, String> {
    Ok(Fd(
        want_ok("KVM_CREATE_VM", ioctl_raw(kvm.0, KVM_CREATE_VM, 0))? as i32,
    ))
}

/// The serial-port guest, at 0x1000: `mov dx,0x3f8; mov al,'A'; out dx,al; in al,dx;
/// mov [0x2000],al; mov al,[0x3000]; mov bl,al; hlt`.
const SERIAL_GUEST: &[u8] = &[
    0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xec, 0xa2, 0x00, 0x20, 0xa0, 0x00, 0x30, 0x88, 0xc3, 0xf4,
];

/// The MMIO guest: `mov ax,0x2000; mov ds,ax; mov byte [0],0x7b; mov al,[4]; hlt`: a write
/// and a read at 0x20000.., above the 64 KiB slot.
const MMIO_GUEST: &[u8] = &[
    0xb8, 0x00, 0x20, 0x8e, 0xd8, 0xc6, 0x06, 0x00, 0x00, 0x7b, 0xa0, 0x04, 0x00, 0xf4,
];

/// The read-only slot guest: `mov ax,0x1000; mov ds,ax; mov al,[0]; mov byte [0],0x55; hlt`
/// against a read-only slot at 0x10000: the read is served from the VMM's page, the write
/// exits as MMIO.
const READONLY_GUEST: &[u8] = &[
    0xb8, 0x00, 0x10, 0x8e, 0xd8, 0xa0, 0x00, 0x00, 0xc6, 0x06, 0x00, 0x00, 0x55, 0xf4,
];

/// `jmp $`.
const LOOP_GUEST: &[u8] = &[0xeb, 0xfe];

fn serial_guest() -> Check {
    let g = Guest::new(SERIAL_GUEST, 0x1000)?;
    let run = want_ok("KVM_RUN", g.run().map(|_| 0)).map(|_| g.run.run())?;
    eq("exit reason (OUT)", run.exit_reason, KVM_EXIT_IO)?;
    let io = run.exit_io();
    eq(
        "io (direction, size, port, count)",
        (io.direction, io.size, io.port, io.count),
        (KVM_EXIT_IO_OUT, 1, 0x3f8, 1),
    )?;
    eq("OUT data", g.run.read(io.data_offset as usize), b'A')?;
    // The VMM writes guest memory while the guest is stopped; the guest reads it next.
    g.mem.write(0x3000, &[0x5a]);
    let run = g.run().map_err(|e| format!("KVM_RUN: {}", name(e)))?;
    eq("exit reason (IN)", run.exit_reason, KVM_EXIT_IO)?;
    let io = run.exit_io();
    eq(
        "io (direction, size, port)",
        (io.direction, io.size, io.port),
        (KVM_EXIT_IO_IN, 1, 0x3f8),
    )?;
    g.run.write(io.data_offset as usize, b"z");
    let run = g.run().map_err(|e| format!("KVM_RUN: {}", name(e)))?;
    eq("exit reason (HLT)", run.exit_reason, KVM_EXIT_HLT)?;
    let regs = g.regs().map_err(|e| format!("KVM_GET_REGS: {}", name(e)))?;
    eq(
        "rip after hlt",
        regs.rip,
        0x1000 + SERIAL_GUEST.len() as u64,
    )?;
    eq("al (from the VMM's write)", regs.rax & 0xff, 0x5a)?;
    eq("bl", regs.rbx & 0xff, 0x5a)?;
    eq("dx", regs.rdx & 0xffff, 0x3f8)?;
    // The guest's store of the IN value is in the VMM's memory.
    eq("guest write seen by the VMM", g.mem.read(0x2000), b'z')
}

fn mmio_guest() -> Check {
    let g = Guest::new(MMIO_GUEST, 0x1000)?;
    let run = g.run().map_err(|e| format!("KVM_RUN: {}", name(e)))?;
    eq("exit reason (write)", run.exit_reason, KVM_EXIT_MMIO)?;
    let m = run.exit_mmio();
    eq(
        "mmio write (addr, len, is_write, data)",
        (m.phys_addr, m.len, m.is_write, m.data[0]),
        (0x20000, 1, 1, 0x7b),
    )?;
    let run = g.run().map_err(|e| format!("KVM_RUN: {}", name(e)))?;
    eq("exit reason (read)", run.exit_reason, KVM_EXIT_MMIO)?;
    let m = run.exit_mmio();
    eq(
        "mmio read (addr, len, is_write)",
        (m.phys_addr, m.len, m.is_write),
        (0x20004, 1, 0),
    )?;
    // The read's data goes in kvm_run.mmio.data: offset 32 (exit) + 8 (phys_addr).
    g.run.write(32 + 8, &[0x99]);
    let run = g.run().map_err(|e| format!("KVM_RUN: {}", name(e)))?;
    eq("exit reason (HLT)", run.exit_reason, KVM_EXIT_HLT)?;
    let regs = g.regs().map_err(|e| format!("KVM_GET_REGS: {}", name(e)))?;
    eq("al from the MMIO read", regs.rax & 0xff, 0x99)
}

/// `out 0x10, al; jmp back`: one port exit per iteration.
const PIO_LOOP_GUEST: &[u8] = &[0xe6, 0x10, 0xeb, 0xfc];

/// Times PIO exit round trips and VM set-up (printed as `NOTE` lines, for 0019's numbers);
/// passes when every exit is the expected `OUT`.
fn timings() -> Check {
    const EXITS: u32 = 2000;
    let g = Guest::new(PIO_LOOP_GUEST, 0x1000)?;
    let start = std::time::Instant::now();
    for i in 0..EXITS {
        let run = g.run().map_err(|e| format!("KVM_RUN {i}: {}", name(e)))?;
        let io = run.exit_io();
        eq(
            "exit",
            (run.exit_reason, io.port, io.direction),
            (KVM_EXIT_IO, 0x10, KVM_EXIT_IO_OUT),
        )?;
    }
    let per_exit = start.elapsed() / EXITS;
    drop(g);
    let start = std::time::Instant::now();
    for _ in 0..20 {
        drop(Guest::new(LOOP_GUEST, 0x1000)?);
    }
    let per_vm = start.elapsed() / 20;
    println!(
        "NOTE kvm/timings: PIO exit round trip {per_exit:?}; VM+slot+vCPU+mmap+close {per_vm:?}"
    );
    Ok(())
}

fn readonly_slot() -> Check {
    let g = Guest::new(READONLY_GUEST, 0x1000)?;
    let rom = Mapping::new(0x1000, None).map_err(|e| format!("mmap: {}", name(e)))?;
    rom.write(0, &[0x77]);
    let mut r = region(1, 0x10000, 0x1000, rom.ptr as u64);
    r.flags = KVM_MEM_READONLY;
    want_ok("read-only slot", set_region(&g.vm, r))?;
    let run = g.run().map_err(|e| format!("KVM_RUN: {}", name(e)))?;
    eq("exit reason (write)", run.exit_reason, KVM_EXIT_MMIO)?;
    let m = run.exit_mmio();
    eq(
        "mmio write (addr, len, is_write, data)",
        (m.phys_addr, m.len, m.is_write, m.data[0]),
        (0x10000, 1, 1, 0x55),
    )?;
    let run = g.run().map_err(|e| format!("KVM_RUN: {}", name(e)))?;
    eq("exit reason (HLT)", run.exit_reason, KVM_EXIT_HLT)?;
    let regs = g.regs().map_err(|e| format!("KVM_GET_REGS: {}", name(e)))?;
    eq("al read from the read-only slot", regs.rax & 0xff, 0x77)?;
    eq("read-only memory unchanged", rom.read(0), 0x77)
}

extern "C" fn on_signal(_: libc::c_int) {}

/// SIGUSR1 runs a no-op handler without SA_RESTART.
fn catch_sigusr1() -> Check {
    // SAFETY: a zeroed sigaction with a valid handler address and an empty mask.
    let ret = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut())
    };
    if ret != 0 {
        return Err(format!("sigaction: {}", name(util::errno())));
    }
    Ok(())
}

fn gettid() -> i64 {
    // SAFETY: no arguments.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

fn signal_interrupts_run() -> Check {
    catch_sigusr1()?;
    let g = Guest::new(LOOP_GUEST, 0x1000)?;
    // SAFETY: no arguments.
    let (pid, tid) = (unsafe { libc::getpid() }, gettid());
    // The sender needs the CPU while the guest spins in KVM_RUN: on one CPU that is preemption.
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        // SAFETY: a signal to our own main thread, which handles it.
        unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) };
    });
    let got = ioctl_raw(g.vcpu.0, KVM_RUN, 0);
    let _ = sender.join();
    want_err("KVM_RUN with a signal", got, libc::EINTR)?;
    eq("exit reason", g.run.run().exit_reason, KVM_EXIT_INTR)?;
    // immediate_exit: EINTR at once, without running the guest.
    g.run.write(1, &[1]);
    want_err(
        "KVM_RUN with immediate_exit",
        ioctl_raw(g.vcpu.0, KVM_RUN, 0),
        libc::EINTR,
    )
}

/// Reads MemFree (KiB) from /proc/meminfo without allocating.
fn mem_free() -> Option<u64> {
    let mut buf = [0u8; 1024];
    // SAFETY: NUL-terminated path; `buf` is a valid buffer for read.
    let n = unsafe {
        let fd = libc::open(c"/proc/meminfo".as_ptr(), libc::O_RDONLY);
        if fd < 0 {
            return None;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let text = std::str::from_utf8(buf.get(..usize::try_from(n).ok()?)?).ok()?;
    let line = text.lines().find(|l| l.starts_with("MemFree:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One VMM killed while its guest loops: fork, the child builds the VM and runs the endless
/// guest after telling us through a pipe, we SIGKILL it and reap it.
fn kill_one_vmm() -> Check {
    let mut fds = [0i32; 2];
    // SAFETY: valid out-array.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: {}", name(util::errno())));
    }
    // SAFETY: the child only uses the pipe, the KVM fds and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let code = match Guest::new(LOOP_GUEST, 0x1000) {
            Ok(g) => {
                g.mem.write(0x8000, &[1; 64]);
                // SAFETY: one byte from a live buffer to our pipe.
                unsafe { libc::write(fds[1], [1u8].as_ptr().cast(), 1) };
                let _ = ioctl_raw(g.vcpu.0, KVM_RUN, 0);
                3
            }
            Err(_) => 2,
        };
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    // SAFETY: closing our copy of the write end.
    unsafe { libc::close(fds[1]) };
    let mut b = [0u8; 1];
    // SAFETY: one byte into a live buffer.
    let n = unsafe { libc::read(fds[0], b.as_mut_ptr().cast(), 1) };
    // SAFETY: our fd.
    unsafe { libc::close(fds[0]) };
    // Let the guest spin for a moment inside KVM_RUN before the kill.
    std::thread::sleep(Duration::from_millis(2));
    // SAFETY: our own child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let end = util::wait_for(pid)?;
    if n != 1 {
        return Err(format!("the child could not build its VM ({end:?})"));
    }
    eq("child end", end, End::Signaled(libc::SIGKILL))
}

fn kill9_frees_everything(levitate: bool) -> Check {
    for _ in 0..5 {
        kill_one_vmm()?;
    }
    let before = mem_free();
    for i in 0..100 {
        kill_one_vmm().map_err(|e| format!("cycle {i}: {e}"))?;
    }
    let after = mem_free();
    println!("NOTE kvm/kill9-frees-everything: MemFree {before:?} -> {after:?} KiB");
    if !levitate {
        // Linux's MemFree moves on its own (page cache, other processes): not compared.
        return Ok(());
    }
    eq("MemFree (KiB) after 100 killed VMMs", after, before)
}

fn main() -> ExitCode {
    let kvm = match open_kvm() {
        Ok(fd) => fd,
        Err(e) => {
            println!("SKIP kvm: cannot open /dev/kvm ({})", name(e));
            println!("DONE kvm passed=0 failed=0");
            return ExitCode::SUCCESS;
        }
    };
    let levitate = kvm::levitate_backends(&kvm) != 0;
    let mut r = Report::new("kvm");
    let k = kvm.0;
    r.check("device-node", || {
        // SAFETY: a zeroed stat is a valid out-buffer; the path is a NUL-terminated literal.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::stat(c"/dev/kvm".as_ptr(), &mut st) } != 0 {
            return Err(format!("stat: {}", name(util::errno())));
        }
        eq("char device", st.st_mode & libc::S_IFMT, libc::S_IFCHR)?;
        eq(
            "major:minor",
            (libc::major(st.st_rdev), libc::minor(st.st_rdev)),
            (10, 232),
        )?;
        // Distributions make it 0666 (udev's kvm rule); the host here may keep root's 0600.
        if levitate {
            eq("mode", st.st_mode & 0o7777, 0o666)?;
        }
        Ok(())
    });
    r.check("api-version", || {
        eq(
            "KVM_GET_API_VERSION",
            ioctl_raw(k, KVM_GET_API_VERSION, 0),
            Ok(12),
        )?;
        want_err(
            "KVM_GET_API_VERSION(1)",
            ioctl_raw(k, KVM_GET_API_VERSION, 1),
            libc::EINVAL,
        )
    });
    r.check("check-extension", || {
        let cap = |c: u32| ioctl_raw(k, KVM_CHECK_EXTENSION, c.into());
        eq("KVM_CAP_USER_MEMORY", cap(KVM_CAP_USER_MEMORY), Ok(1))?;
        eq("KVM_CAP_SET_TSS_ADDR", cap(KVM_CAP_SET_TSS_ADDR), Ok(1))?;
        eq("KVM_CAP_IMMEDIATE_EXIT", cap(KVM_CAP_IMMEDIATE_EXIT), Ok(1))?;
        eq("KVM_CAP_READONLY_MEM", cap(KVM_CAP_READONLY_MEM), Ok(1))?;
        eq(
            "unknown capability",
            ioctl_raw(k, KVM_CHECK_EXTENSION, 0x7fff_fff0),
            Ok(0),
        )?;
        for c in [
            KVM_CAP_NR_MEMSLOTS,
            KVM_CAP_NR_VCPUS,
            KVM_CAP_MAX_VCPUS,
            KVM_CAP_MAX_VCPU_ID,
        ] {
            if want_ok("count capability", cap(c))? < 1 {
                return Err(format!("capability {c} is 0"));
            }
        }
        // Levitate's own capability: absent (0) on Linux, the interpreter bit here.
        let backends = cap(KVM_CAP_LEVITATE_BACKEND);
        if levitate {
            eq(
                "KVM_CAP_LEVITATE_BACKEND has the interpreter",
                backends.map(|b| b as u64 & LEVITATE_BACKEND_INTERP),
                Ok(LEVITATE_BACKEND_INTERP),
            )
        } else {
            eq("KVM_CAP_LEVITATE_BACKEND on Linux", backends, Ok(0))
        }
    });
    r.check("vcpu-mmap-size", || {
        let size = want_ok(
            "KVM_GET_VCPU_MMAP_SIZE",
            ioctl_raw(k, KVM_GET_VCPU_MMAP_SIZE, 0),
        )?;
        if (size as usize) < size_of::<KvmRun>() || size % 4096 != 0 {
            return Err(format!("size {size}"));
        }
        want_err(
            "with an argument",
            ioctl_raw(k, KVM_GET_VCPU_MMAP_SIZE, 1),
            libc::EINVAL,
        )
    });
    r.check("create-vm", || {
        let vm = new_vm(&kvm)?;
        // SAFETY: F_GETFD on our fd.
        let flags = unsafe { libc::fcntl(vm.0, libc::F_GETFD) };
        eq(
            "FD_CLOEXEC on the VM fd",
            flags & libc::FD_CLOEXEC,
            libc::FD_CLOEXEC,
        )?;
        want_err(
            "KVM_CREATE_VM(type 1)",
            ioctl_raw(k, KVM_CREATE_VM, 1),
            libc::EINVAL,
        )
    });
    r.check("supported-cpuid", || {
        let mut buf = vec![0u8; 8 + 256 * size_of::<KvmCpuidEntry2>()];
        want_err(
            "nent 0",
            ioctl_buf(k, KVM_GET_SUPPORTED_CPUID, &mut buf),
            libc::E2BIG,
        )?;
        buf[..4].copy_from_slice(&256u32.to_ne_bytes());
        want_ok("nent 256", ioctl_buf(k, KVM_GET_SUPPORTED_CPUID, &mut buf))?;
        let nent = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if nent > 256 {
            return Err(format!("nent {nent}"));
        }
        want_err(
            "bad pointer",
            ioctl_raw(k, KVM_GET_SUPPORTED_CPUID, KERNEL_ADDR as u64),
            libc::EFAULT,
        )
    });
    r.check("msr-index-list", || {
        let mut head = KvmMsrList { nmsrs: 0 };
        match ioctl_struct(k, KVM_GET_MSR_INDEX_LIST, &mut head) {
            Ok(_) => eq("an empty list", head.nmsrs, 0),
            Err(libc::E2BIG) => {
                let n = head.nmsrs as usize;
                if n == 0 {
                    return Err("E2BIG with nmsrs 0".into());
                }
                let mut buf = vec![0u8; 4 + 4 * n];
                buf[..4].copy_from_slice(&(n as u32).to_ne_bytes());
                want_ok("with room", ioctl_buf(k, KVM_GET_MSR_INDEX_LIST, &mut buf)).map(|_| ())
            }
            Err(e) => Err(format!("nmsrs 0: {}", name(e))),
        }
    });
    r.check("system-errors", || {
        want_err(
            "unknown system ioctl",
            ioctl_raw(k, ioctl::io(KVMIO, 0x77), 0),
            libc::EINVAL,
        )?;
        want_err(
            "KVM_RUN on /dev/kvm",
            ioctl_raw(k, KVM_RUN, 0),
            libc::EINVAL,
        )?;
        want_err(
            "KVM_RUN on a bad fd",
            ioctl_raw(9999, KVM_RUN, 0),
            libc::EBADF,
        )?;
        // SAFETY: NUL-terminated literal path.
        let null = Fd(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) });
        want_err(
            "KVM_RUN on /dev/null",
            ioctl_raw(null.0, KVM_RUN, 0),
            libc::ENOTTY,
        )
    });
    r.check("memory-slots", || {
        let vm = new_vm(&kvm)?;
        let mem = Mapping::new(0x20000, None).map_err(|e| format!("mmap: {}", name(e)))?;
        let ua = mem.ptr as u64;
        want_ok("slot 0", set_region(&vm, region(0, 0, 0x10000, ua)))?;
        want_ok("slot 0 again", set_region(&vm, region(0, 0, 0x10000, ua)))?;
        want_err(
            "overlap",
            set_region(&vm, region(1, 0x8000, 0x10000, ua + 0x10000)),
            libc::EEXIST,
        )?;
        want_err(
            "gpa unaligned",
            set_region(&vm, region(1, 0x10001, 0x1000, ua)),
            libc::EINVAL,
        )?;
        want_err(
            "size unaligned",
            set_region(&vm, region(1, 0x10000, 0x1001, ua)),
            libc::EINVAL,
        )?;
        want_err(
            "address unaligned",
            set_region(&vm, region(1, 0x10000, 0x1000, ua + 1)),
            libc::EINVAL,
        )?;
        let mut r = region(1, 0x10000, 0x1000, ua);
        r.flags = 1 << 7;
        want_err("unknown flag", set_region(&vm, r), libc::EINVAL)?;
        want_err(
            "address space 2",
            set_region(&vm, region(2 << 16, 0x10000, 0x1000, ua)),
            libc::EINVAL,
        )?;
        let slots = want_ok(
            "NR_MEMSLOTS",
            ioctl_raw(k, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS.into()),
        )?;
        want_err(
            "slot id past the limit",
            set_region(&vm, region(slots as u32, 0x10000, 0x1000, ua)),
            libc::EINVAL,
        )?;
        want_err(
            "resize",
            set_region(&vm, region(0, 0, 0x20000, ua)),
            libc::EINVAL,
        )?;
        want_ok("move", set_region(&vm, region(0, 0x100000, 0x10000, ua)))?;
        want_ok(
            "second slot",
            set_region(&vm, region(1, 0, 0x10000, ua + 0x10000)),
        )?;
        want_ok("delete", set_region(&vm, region(0, 0, 0, 0)))?;
        want_err(
            "delete again",
            set_region(&vm, region(0, 0, 0, 0)),
            libc::EINVAL,
        )?;
        want_ok(
            "re-create",
            set_region(&vm, region(0, 0x100000, 0x10000, ua)),
        )?;
        want_err(
            "bad pointer",
            ioctl_raw(vm.0, KVM_SET_USER_MEMORY_REGION, KERNEL_ADDR as u64),
            libc::EFAULT,
        )
    });
    r.check("vcpus", || {
        let vm = new_vm(&kvm)?;
        let v = Fd(want_ok("vCPU 0", ioctl_raw(vm.0, KVM_CREATE_VCPU, 0))? as i32);
        want_err(
            "vCPU 0 again",
            ioctl_raw(vm.0, KVM_CREATE_VCPU, 0),
            libc::EEXIST,
        )?;
        let max = want_ok(
            "MAX_VCPU_ID",
            ioctl_raw(k, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPU_ID.into()),
        )?;
        want_err(
            "id at the limit",
            ioctl_raw(vm.0, KVM_CREATE_VCPU, max as u64),
            libc::EINVAL,
        )?;
        want_ok("vCPU 1", ioctl_raw(vm.0, KVM_CREATE_VCPU, 1)).map(|fd| drop(Fd(fd as i32)))?;
        want_err(
            "unknown VM ioctl",
            ioctl_raw(vm.0, ioctl::io(KVMIO, 0x77), 0),
            libc::ENOTTY,
        )?;
        want_err(
            "KVM_CREATE_VM on a VM fd",
            ioctl_raw(vm.0, KVM_CREATE_VM, 0),
            libc::ENOTTY,
        )?;
        want_err(
            "unknown vCPU ioctl",
            ioctl_raw(v.0, ioctl::io(KVMIO, 0x77), 0),
            libc::EINVAL,
        )?;
        want_err("KVM_RUN(1)", ioctl_raw(v.0, KVM_RUN, 1), libc::EINVAL)?;
        want_err(
            "GET_REGS to the kernel half",
            ioctl_raw(v.0, KVM_GET_REGS, KERNEL_ADDR as u64),
            libc::EFAULT,
        )?;
        want_err(
            "SET_REGS from nowhere",
            ioctl_raw(v.0, KVM_SET_REGS, util::UNMAPPED_ADDR as u64),
            libc::EFAULT,
        )?;
        let mut irq = KvmInterrupt { irq: 256 };
        want_err(
            "KVM_INTERRUPT 256",
            ioctl_struct(v.0, KVM_INTERRUPT, &mut irq),
            libc::EINVAL,
        )?;
        let mut head = KvmMsrs {
            nmsrs: 100_000,
            pad: 0,
        };
        want_err(
            "GET_MSRS too many",
            ioctl_struct(v.0, KVM_GET_MSRS, &mut head),
            libc::E2BIG,
        )?;
        let mut cpuid = KvmCpuid2 {
            nent: 100_000,
            padding: 0,
        };
        want_err(
            "SET_CPUID2 too many",
            ioctl_struct(v.0, KVM_SET_CPUID2, &mut cpuid),
            libc::E2BIG,
        )?;
        let mut sregs = KvmSregs::default();
        want_ok("GET_SREGS", ioctl_struct(v.0, KVM_GET_SREGS, &mut sregs))?;
        sregs.cr0 = 1 << 31; // PG without PE
        want_err(
            "SET_SREGS with CR0.PG and no PE",
            ioctl_struct(v.0, KVM_SET_SREGS, &mut sregs),
            libc::EINVAL,
        )?;
        // mmap: the vCPU's kvm_run, not the VM's or the system's.
        let size = want_ok("mmap size", ioctl_raw(k, KVM_GET_VCPU_MMAP_SIZE, 0))? as usize;
        let run = Mapping::new(size, Some(v.0)).map_err(|e| format!("mmap vCPU: {}", name(e)))?;
        eq("fresh exit_reason", run.run().exit_reason, 0)?;
        eq(
            "mmap of the VM fd",
            Mapping::new(4096, Some(vm.0)).map(|_| ()),
            Err(libc::ENODEV),
        )
    });
    r.check("backend-capability", || {
        let vm = new_vm(&kvm)?;
        let mut cap =
            KvmEnableCap::new(KVM_CAP_LEVITATE_BACKEND, [LEVITATE_BACKEND_INTERP, 0, 0, 0]);
        let got = ioctl_struct(vm.0, KVM_ENABLE_CAP, &mut cap);
        if !levitate {
            return want_err("ENABLE_CAP of an unknown capability", got, libc::EINVAL);
        }
        want_ok("select the interpreter", got)?;
        let mut bad = KvmEnableCap::new(KVM_CAP_LEVITATE_BACKEND, [1 << 40, 0, 0, 0]);
        want_err(
            "a backend not present",
            ioctl_struct(vm.0, KVM_ENABLE_CAP, &mut bad),
            libc::EINVAL,
        )?;
        let _v = Fd(want_ok("vCPU", ioctl_raw(vm.0, KVM_CREATE_VCPU, 0))? as i32);
        want_err(
            "after a vCPU",
            ioctl_struct(vm.0, KVM_ENABLE_CAP, &mut cap),
            libc::EINVAL,
        )
    });
    r.check("fork-child-gets-eio", || {
        let vm = new_vm(&kvm)?;
        let (k, vmfd) = (kvm.0, vm.0);
        let end = util::in_child(|| {
            let ok = ioctl_raw(vmfd, KVM_CREATE_VCPU, 0) == Err(libc::EIO)
                && ioctl_raw(k, KVM_GET_API_VERSION, 0) == Ok(12);
            if ok { 0 } else { 1 }
        })?;
        eq(
            "child (EIO on the VM fd, the system fd works)",
            end,
            End::Exited(0),
        )
    });
    r.check("serial-guest", serial_guest);
    r.check("mmio-guest", mmio_guest);
    r.check("readonly-slot", readonly_slot);
    r.check("signal-interrupts-run", signal_interrupts_run);
    r.check("timings", timings);
    r.check("kill9-frees-everything", || {
        kill9_frees_everything(levitate)
    });
    r.finish()
}
