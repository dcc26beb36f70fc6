//! One VM with one vCPU: open KVM, pick the backend, map guest RAM, load the image, run.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kvm_bindings::{kvm_enable_cap, kvm_userspace_memory_region};
use kvm_ioctls::{Kvm, VcpuFd};
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use crate::boot;
use crate::devices::Devices;
use crate::exit::{Action, handle_exit, status, suberror_name};
use crate::hostarch;
use crate::image::Image;
use crate::options::{Backend, Options};

/// Where VMX keeps its real-mode TSS (three pages; Firecracker's choice, far above our RAM).
const TSS_ADDR: u64 = 0xfffb_d000;
/// The vector `--timer-hz` injects.
pub const TIMER_VECTOR: u32 = 0x20;
/// RFLAGS.IF.
const RFLAGS_IF: u64 = 1 << 9;

/// What to ask the kernel for, from what was requested and what `KVM_CHECK_EXTENSION
/// (KVM_CAP_LEVITATE_BACKEND)` said: the bit to enable (if any) and a description.
pub fn choose_backend(requested: Backend, available: u64) -> Result<(Option<u64>, String)> {
    use hv::abi::{LEVITATE_BACKEND_HW as HW, LEVITATE_BACKEND_INTERP as INTERP};
    if available == 0 {
        return match requested {
            Backend::Auto | Backend::Hw => Ok((
                None,
                "hw (KVM_CAP_LEVITATE_BACKEND absent: Linux KVM)".into(),
            )),
            Backend::Interp => bail!(
                "--backend interp: this KVM has no interpreter backend \
                 (KVM_CAP_LEVITATE_BACKEND absent: not Levitate); use --backend hw or auto"
            ),
        };
    }
    let names = |mask: u64| {
        let mut v = Vec::new();
        if mask & INTERP != 0 {
            v.push("interp");
        }
        if mask & HW != 0 {
            v.push("hw");
        }
        v.join(",")
    };
    let (bit, name) = match requested {
        Backend::Auto => {
            let name = if available & HW != 0 { "hw" } else { "interp" };
            return Ok((
                None,
                format!("{name} (auto; Levitate has {})", names(available)),
            ));
        }
        Backend::Interp => (INTERP, "interp"),
        Backend::Hw => (HW, "hw"),
    };
    if available & bit == 0 {
        bail!(
            "--backend {name}: this kernel has no {name} backend (it has {})",
            names(available)
        );
    }
    Ok((
        Some(bit),
        format!("{name} (Levitate has {})", names(available)),
    ))
}

/// Run the guest `opts` describes; the exit status.
pub fn run(opts: &Options) -> Result<u8> {
    let image = Image::read(&opts.kernel)?;
    image.check_fits(opts.mem)?;
    let initrd = match &opts.initrd {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            anyhow::anyhow!("cannot read {}: {}", path.display(), crate::os_text(&e))
        })?),
        None => None,
    };
    if initrd.is_some() && matches!(image, Image::Flat(_)) {
        bail!("--initrd is for PVH ELF guests; a flat image has no way to find it");
    }
    let device = CString::new(opts.kvm_device.as_os_str().as_bytes())
        .context("the KVM device path contains a NUL")?;
    let kvm = Kvm::new_with_path(&device).map_err(|e| {
        anyhow::anyhow!(
            "cannot open {}: {}",
            opts.kvm_device.display(),
            crate::os_text(&std::io::Error::from_raw_os_error(e.errno()))
        )
    })?;
    let available = kvm.check_extension_raw(hv::abi::KVM_CAP_LEVITATE_BACKEND.into());
    let (enable, backend) = choose_backend(opts.backend, u64::try_from(available).unwrap_or(0))?;
    // Guest RAM first: locals drop in reverse order, so it outlives the VM on every path.
    let size = usize::try_from(opts.mem).context("memory size")?;
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), size)])
        .map_err(|e| anyhow::anyhow!("cannot map {} bytes of guest memory: {e}", opts.mem))?;
    let host = mem
        .get_host_address(GuestAddress(0))
        .context("guest memory has no host mapping")?;
    let vm = kvm.create_vm_with_type(0).context("KVM_CREATE_VM")?;
    if let Some(bit) = enable {
        let mut cap = kvm_enable_cap {
            cap: hv::abi::KVM_CAP_LEVITATE_BACKEND,
            ..Default::default()
        };
        cap.args[0] = bit;
        vm.enable_cap(&cap)
            .context("KVM_ENABLE_CAP(KVM_CAP_LEVITATE_BACKEND)")?;
    }
    if opts.verbose {
        eprintln!("vmrun: backend {backend}");
    }
    let region = kvm_userspace_memory_region {
        slot: 0,
        flags: 0,
        guest_phys_addr: 0,
        memory_size: opts.mem,
        userspace_addr: host as u64,
    };
    // SAFETY: `host` maps `opts.mem` bytes that `mem` owns; `mem` was declared before `vm`, so
    // it stays mapped until the VM (and its vCPU) are gone, on every return path.
    unsafe { vm.set_user_memory_region(region) }.context("KVM_SET_USER_MEMORY_REGION")?;
    hostarch::set_tss_addr(&vm, TSS_ADDR)?;
    let mut vcpu = vm.create_vcpu(0).context("KVM_CREATE_VCPU")?;
    hostarch::setup_cpuid(&kvm, &vcpu)?;
    let entry = boot::setup(
        &mem,
        opts.mem,
        &vcpu,
        &image,
        initrd.as_deref(),
        &opts.cmdline,
    )?;
    if opts.verbose {
        eprintln!(
            "vmrun: {entry}; {} KiB RAM; timer {}",
            opts.mem >> 10,
            opts.timer_hz.map_or("off".to_string(), |hz| format!(
                "{hz} Hz, vector {TIMER_VECTOR:#x}"
            ))
        );
    }
    let mut devices = Devices::new(std::io::stdout());
    let mut timer = opts.timer_hz.map(Timer::new);
    let kicker = match &timer {
        Some(timer) => match Kicker::start(timer.period) {
            Ok(kicker) => Some(kicker),
            Err(err) => {
                if opts.verbose {
                    eprintln!("vmrun: no timer kicks ({err:#}): ticks arrive at exits only");
                }
                None
            }
        },
        None => None,
    };
    let code = run_loop(&mut vcpu, &mut devices, timer.as_mut());
    drop(kicker);
    let code = code?;
    let _ = std::io::stdout().flush();
    Ok(code)
}

fn run_loop<W: Write>(
    vcpu: &mut VcpuFd,
    devices: &mut Devices<W>,
    mut timer: Option<&mut Timer>,
) -> Result<u8> {
    loop {
        if let Some(timer) = timer.as_deref_mut() {
            timer.before_run(vcpu)?;
        }
        let exit = match vcpu.run() {
            Ok(exit) => exit,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
            Err(e) => return Err(e).context("KVM_RUN"),
        };
        match handle_exit(devices, exit) {
            Action::Continue | Action::IrqWindow | Action::Interrupted => {}
            Action::DebugExit(code) => return Ok(code),
            Action::Halt => {
                let regs = hostarch::get_regs(vcpu)?;
                match timer.as_deref_mut() {
                    Some(timer) if regs.rflags & RFLAGS_IF != 0 => timer.wait(),
                    _ => return Ok(status::HALTED),
                }
            }
            Action::Shutdown => {
                eprintln!("vmrun: guest shut down (triple fault)");
                return Ok(status::SHUTDOWN);
            }
            Action::InternalError => {
                let (suberror, data) = internal_error(vcpu);
                eprintln!(
                    "vmrun: KVM_EXIT_INTERNAL_ERROR: suberror {suberror} ({}), data {data:x?}{}",
                    suberror_name(suberror),
                    where_(vcpu)
                );
                return Ok(status::INTERNAL_ERROR);
            }
            Action::FailEntry { reason, cpu } => {
                eprintln!(
                    "vmrun: KVM_EXIT_FAIL_ENTRY: hardware entry failure reason {reason:#x} on cpu {cpu}{}",
                    where_(vcpu)
                );
                return Ok(status::FAIL_ENTRY);
            }
            Action::Unexpected(what) => {
                eprintln!("vmrun: unexpected exit {what}{}", where_(vcpu));
                return Ok(status::UNEXPECTED);
            }
        }
    }
}

/// The suberror and data of a `KVM_EXIT_INTERNAL_ERROR`.
fn internal_error(vcpu: &mut VcpuFd) -> (u32, Vec<u64>) {
    let run = vcpu.get_kvm_run();
    // SAFETY: the exit reason is KVM_EXIT_INTERNAL_ERROR, so `internal` is the union member the
    // kernel filled; every bit pattern is a valid `u32`/`u64` array.
    let internal = unsafe { run.__bindgen_anon_1.internal };
    let n = (internal.ndata as usize).min(internal.data.len());
    (internal.suberror, internal.data[..n].to_vec())
}

/// ` at rip=... cs=...` for an error report, if the registers can be read.
fn where_(vcpu: &VcpuFd) -> String {
    match (hostarch::get_regs(vcpu), hostarch::get_sregs(vcpu)) {
        (Ok(regs), Ok(sregs)) => format!(
            " at rip={:#x} cs={:#x} cr0={:#x} efer={:#x}",
            regs.rip, sregs.cs.selector, sregs.cr0, sregs.efer
        ),
        _ => String::new(),
    }
}

/// `--timer-hz`: a tick is due every `period`; it is injected as soon as the guest can take
/// an interrupt (at once, or after an interrupt window exit). Ticks coalesce: at most one is
/// pending. They are looked at on every exit; the [`Kicker`] makes sure there is one per
/// period even when the guest computes without exiting.
pub struct Timer {
    period: Duration,
    next: Instant,
    pending: bool,
}

impl Timer {
    pub fn new(hz: u32) -> Timer {
        let period = Duration::from_secs(1) / hz.max(1);
        Timer {
            period,
            next: Instant::now() + period,
            pending: false,
        }
    }

    /// Before each `KVM_RUN`: make a due tick pending, inject it if the guest is ready, else
    /// ask for an interrupt window exit.
    fn before_run(&mut self, vcpu: &mut VcpuFd) -> Result<()> {
        self.tick(Instant::now());
        let run = vcpu.get_kvm_run();
        if !self.pending {
            run.request_interrupt_window = 0;
            return Ok(());
        }
        if run.ready_for_interrupt_injection != 0 && run.if_flag != 0 {
            run.request_interrupt_window = 0;
            self.pending = false;
            hostarch::interrupt(vcpu, TIMER_VECTOR)
        } else {
            run.request_interrupt_window = 1;
            Ok(())
        }
    }

    /// Make a tick pending if one is due at `now`.
    fn tick(&mut self, now: Instant) {
        if now >= self.next {
            self.pending = true;
            self.next += self.period;
            // Behind by more than a period (a slow host): skip, don't burst.
            if self.next < now {
                self.next = now + self.period;
            }
        }
    }

    /// The guest halted with interrupts on: sleep until the next tick, unless one is pending.
    fn wait(&mut self) {
        if !self.pending {
            let now = Instant::now();
            if self.next > now {
                thread::sleep(self.next - now);
            }
        }
    }
}

/// Kicks the vCPU thread out of `KVM_RUN` once per timer period: a thread sends it SIGALRM,
/// whose handler does nothing and is installed without `SA_RESTART`, so `KVM_RUN` returns
/// `EINTR` (`KVM_EXIT_INTR`) and the run loop can inject a due tick. Stops when dropped.
struct Kicker {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

/// SIGALRM's handler: its only job is to interrupt `KVM_RUN`.
extern "C" fn on_kick(_: libc::c_int) {}

impl Kicker {
    fn start(period: Duration) -> Result<Kicker> {
        // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask" value; the handler
        // does nothing, so it is async-signal-safe; no SA_RESTART, so KVM_RUN is interrupted.
        let ret = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_kick as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut())
        };
        if ret != 0 {
            return Err(std::io::Error::last_os_error()).context("sigaction(SIGALRM)");
        }
        // SAFETY: getpid and gettid have no preconditions.
        let (pid, tid) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid)) };
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("vmrun-timer".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    thread::sleep(period);
                    // SAFETY: tgkill takes plain integers; `tid` is the vCPU thread of this
                    // process, which joins this thread (`Kicker::drop`) before it exits.
                    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGALRM) };
                }
            })
            .context("starting the timer thread")?;
        Ok(Kicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Kicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hv::abi::{LEVITATE_BACKEND_HW as HW, LEVITATE_BACKEND_INTERP as INTERP};

    #[test]
    fn backends_on_linux() {
        assert_eq!(choose_backend(Backend::Auto, 0).expect("auto").0, None);
        assert_eq!(choose_backend(Backend::Hw, 0).expect("hw").0, None);
        let err = choose_backend(Backend::Interp, 0).expect_err("no interp on Linux");
        assert!(format!("{err}").contains("not Levitate"), "{err}");
    }

    #[test]
    fn backends_on_levitate() {
        assert_eq!(
            choose_backend(Backend::Interp, INTERP).expect("interp").0,
            Some(INTERP)
        );
        assert_eq!(
            choose_backend(Backend::Hw, INTERP | HW).expect("hw").0,
            Some(HW)
        );
        let (bit, text) = choose_backend(Backend::Auto, INTERP).expect("auto");
        assert_eq!(bit, None);
        assert!(text.starts_with("interp"), "{text}");
        assert!(choose_backend(Backend::Hw, INTERP).is_err());
        assert!(choose_backend(Backend::Interp, HW).is_err());
    }

    #[test]
    fn ticks_coalesce() {
        let mut timer = Timer::new(100);
        let start = timer.next;
        timer.tick(start - Duration::from_millis(1));
        assert!(!timer.pending);
        timer.tick(start);
        assert!(timer.pending);
        assert_eq!(timer.next, start + Duration::from_millis(10));
        timer.pending = false;
        timer.tick(start + Duration::from_secs(1));
        assert!(timer.pending);
        assert_eq!(
            timer.next,
            start + Duration::from_secs(1) + Duration::from_millis(10)
        );
    }
}
