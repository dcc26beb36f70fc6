//! The probe's `/dev/kvm` rows: a port-I/O exit round trip, VM creation to teardown, and the
//! speed of a guest compute loop. The guests are x86 real-mode code, so on an aarch64 Linux
//! (whose KVM runs arm64 guests) these rows say why they could not run.

use super::{Failed, Probe, now_ns, per_iter};
use crate::kvm::{self, Guest};
use hv::abi::{KVM_EXIT_HLT, KVM_EXIT_IO};

/// Where the guests' code goes in guest memory (real mode, CS = 0).
const ENTRY: u64 = 0x1000;

/// `out 0x80, al; jmp $-2`: every KVM_RUN ends in one I/O exit.
const PIO_LOOP: [u8; 4] = [0xe6, 0x80, 0xeb, 0xfc];

/// `mov ecx, N; l: dec ecx; jnz l; hlt`, N patched in at bytes 2..6: 2N + 2 instructions.
const COUNT_LOOP: [u8; 11] = [
    0x66, 0xb9, 0, 0, 0, 0, // mov ecx, imm32
    0x66, 0x49, // dec ecx
    0x75, 0xfc, // jnz -4
    0xf4, // hlt
];

/// Iterations of the compute loop: 10 M guest instructions.
const LOOP_COUNT: u32 = 5_000_000;

fn setup(code: &[u8]) -> Result<Guest, Failed> {
    // The open first, for a meaningful errno (ENOENT without /dev/kvm).
    drop(kvm::open_kvm().map_err(|errno| Failed {
        call: "open /dev/kvm",
        errno,
    })?);
    Guest::new(code, ENTRY).map_err(|why| Failed {
        call: setup_call(&why),
        errno: errno_in(&why),
    })
}

/// The errno named at the end of [`Guest::new`]'s message (`"...: ENOTTY"`).
fn errno_in(why: &str) -> i32 {
    let name = why.rsplit(": ").next().unwrap_or(why);
    (1..200)
        .find(|&e| levitate_user::errno_name(e) == name)
        .unwrap_or(libc::EINVAL)
}

/// The failing ioctl's name from [`Guest::new`]'s message (`"KVM_SET_TSS_ADDR: ENOTTY"`).
fn setup_call(why: &str) -> &'static str {
    const CALLS: [&str; 8] = [
        "KVM_CREATE_VM",
        "KVM_SET_TSS_ADDR",
        "KVM_SET_USER_MEMORY_REGION",
        "KVM_CREATE_VCPU",
        "MMAP_SIZE",
        "mmap vcpu",
        "KVM_GET_SREGS",
        "KVM_SET_SREGS",
    ];
    CALLS
        .into_iter()
        .find(|c| why.starts_with(c))
        .unwrap_or("KVM setup")
}

/// One KVM_RUN that must end with `want`.
fn run_until(guest: &Guest, want: u32) -> Result<(), Failed> {
    let run = guest.run().map_err(|errno| Failed {
        call: "KVM_RUN",
        errno,
    })?;
    if run.exit_reason == want {
        Ok(())
    } else {
        Err(Failed {
            call: "KVM_RUN exit reason",
            errno: libc::EPROTO,
        })
    }
}

/// Guest OUT to userspace and back into the guest.
pub fn pio_exit() -> Probe {
    let guest = setup(&PIO_LOOP)?;
    for _ in 0..20 {
        run_until(&guest, KVM_EXIT_IO)?;
    }
    let ns = per_iter(2000, || run_until(&guest, KVM_EXIT_IO))?;
    Ok((ns / 1000.0, "us"))
}

/// KVM_CREATE_VM, a memory slot, a vCPU and its kvm_run mapping, then closing everything.
pub fn vm_create() -> Probe {
    drop(setup(&PIO_LOOP)?);
    let ns = per_iter(200, || setup(&PIO_LOOP).map(drop))?;
    Ok((ns / 1000.0, "us"))
}

/// Millions of guest instructions per second in a register loop.
pub fn guest_mips() -> Probe {
    let mut code = COUNT_LOOP;
    code[2..6].copy_from_slice(&LOOP_COUNT.to_le_bytes());
    let guest = setup(&code)?;
    let start = now_ns();
    run_until(&guest, KVM_EXIT_HLT)?;
    let ns = (now_ns() - start).max(1);
    let instructions = 2.0 * f64::from(LOOP_COUNT) + 2.0;
    Ok((instructions * 1000.0 / ns as f64, "Minstr/s"))
}

/// On a Linux booted for the bench: load the KVM modules it packed into the initramfs (in
/// dependency order; an x86_64 cloud kernel has KVM as modules) and mount devtmpfs, which
/// Linux does not do for an initramfs. Levitate has /dev/kvm already.
pub fn prepare() {
    if std::path::Path::new("/dev/kvm").exists() {
        return;
    }
    for module in ["irqbypass", "kvm", "kvm-amd"] {
        let path = format!("/lib/modules/bench/{module}.ko\0");
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            // SAFETY: a module file descriptor and empty NUL-terminated parameters.
            unsafe { libc::syscall(libc::SYS_finit_module, fd, c"".as_ptr(), 0) };
            // SAFETY: our own fd.
            unsafe { libc::close(fd) };
        }
    }
    // SAFETY: NUL-terminated literals; failure (already mounted) is harmless.
    unsafe {
        libc::mkdir(c"/dev".as_ptr(), 0o755);
        libc::mount(
            c"devtmpfs".as_ptr(),
            c"/dev".as_ptr(),
            c"devtmpfs".as_ptr(),
            0,
            std::ptr::null(),
        );
    }
}
