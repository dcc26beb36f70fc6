//! Bringing up user space: the root filesystem (tmpfs with the initramfs unpacked into it,
//! devtmpfs on /dev), the console device, and PID 1. Also the one `linux::Kernel` of this
//! kernel.

use crate::memory::{KernelTables, phys_to_virt};
use crate::{A, SCHED, TICK_HZ};
use alloc::sync::Arc;
use alloc::vec::Vec;
use arch_api::{Arch, BootInfo, ExitStatus};
use core::sync::atomic::{AtomicU64, Ordering};
use devfs::{Csprng, DevFs, EntropySource};
use linux::exec::elf::Machine;
use spin::Once;
use syscall::{Errno, Result};
use vfs::mount::ms;
use vfs::{Clock, Cred, DeviceRegistry, EmptyPath, Lookup, Path, Timespec, Vfs};

static VFS: Once<Vfs> = Once::new();
static RNG: Once<Arc<Csprng>> = Once::new();
static PROC: Once<Arc<linux::ProcView<Levitate>>> = Once::new();

/// The wall clock minus the monotonic clock, in nanoseconds (wrapping): `CLOCK_REALTIME` is
/// the monotonic clock plus this. Set from the RTC at boot and by `clock_settime`.
static REALTIME_OFFSET_NS: AtomicU64 = AtomicU64::new(0);

/// Start the wall clock from the platform's real-time clock (at the epoch without one).
fn init_wall_clock() {
    match A::rtc_seconds() {
        Some(secs) => {
            <Levitate as linux::Kernel>::set_realtime_ns(secs.saturating_mul(1_000_000_000));
            log::info!("rtc: wall clock {secs} s since the epoch");
        }
        None => log::info!("rtc: no real-time clock; the wall clock starts at the epoch"),
    }
}

/// The serial console's device as Linux names it: the 8250 driver's `ttyS0` (4:64) on x86,
/// the PL011 driver's `ttyAMA0` (204:64) on arm64.
fn serial_device() -> (&'static str, u32, u32) {
    match <Levitate as linux::Kernel>::MACHINE {
        Machine::X86_64 => ("ttyS0", 4, 64),
        Machine::Aarch64 => ("ttyAMA0", 204, 64),
    }
}

/// `console=` as Linux reads it: `name[,options]`, possibly several times, the last one
/// becoming `/dev/console`. This machine has one console, the serial line `serial`: naming it
/// (with any baud options: QEMU's UART ignores the rate) is accepted; another name is
/// reported, and the console stays on the serial line rather than going nowhere.
fn check_console_args(boot: &BootInfo, serial: &str) {
    for arg in boot.cmdline.split_ascii_whitespace() {
        let Some(value) = arg.strip_prefix("console=") else {
            continue;
        };
        let name = value.split(',').next().unwrap_or(value);
        if name == serial {
            log::debug!("console: {value} is the serial console");
        } else {
            log::warn!("console={value}: no such console here; /dev/console stays on {serial}");
        }
    }
}

/// PID 1, while it lives (for the SysRq task dump).
pub fn init_process() -> Option<Arc<linux::Process<Levitate>>> {
    PROC.get().and_then(|view| view.init())
}

/// (total, free) KiB of RAM, for /proc/meminfo.
fn memory_kib() -> (u64, u64) {
    let frames = crate::memory::FRAMES.lock();
    (frames.total_frames() * 4, frames.free_frames() * 4)
}

/// The kernel as the Linux personality sees it.
pub struct Levitate;

impl linux::Kernel for Levitate {
    type Arch = A;
    type Mem = KernelTables;
    #[cfg(target_arch = "x86_64")]
    const MACHINE: Machine = Machine::X86_64;
    #[cfg(target_arch = "aarch64")]
    const MACHINE: Machine = Machine::Aarch64;
    const PLATFORM: &'static str = A::NAME;

    fn sched() -> &'static sched::Scheduler<A> {
        &SCHED
    }
    fn page_memory() -> KernelTables {
        KernelTables
    }
    fn vfs() -> &'static Vfs {
        VFS.get().expect("user space runs only after the VFS is up")
    }
    fn fill_random(buf: &mut [u8]) {
        match RNG.get() {
            Some(rng) => rng.fill(buf),
            None => TimerJitter.fill(buf),
        }
    }
    fn realtime_ns() -> u64 {
        A::now_ns().wrapping_add(REALTIME_OFFSET_NS.load(Ordering::Relaxed))
    }
    fn set_realtime_ns(ns: u64) {
        REALTIME_OFFSET_NS.store(ns.wrapping_sub(A::now_ns()), Ordering::Relaxed);
    }
    fn memory() -> (u64, u64) {
        let (total, free) = memory_kib();
        (total * 1024, free * 1024)
    }
    fn tick_hz() -> u64 {
        u64::from(TICK_HZ)
    }
    fn power_off() -> ! {
        A::exit(ExitStatus::Success)
    }
    fn kvm_backends() -> &'static [&'static dyn hv::Backend] {
        crate::kvm::backends()
    }
    fn page_ref(pa: u64) -> alloc::boxed::Box<dyn hv::Page> {
        alloc::boxed::Box::new(crate::kvm::FramePage::adopt(pa))
    }
    fn init_exited(status: i32) -> ! {
        log::info!(
            "init exited with wait status {status:#x} ({} calls to unimplemented syscalls); powering off",
            linux::unimplemented_count()
        );
        A::exit(if status == 0 {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        })
    }
}

/// Seeds the CSPRNG from the low bits of the clock around timer interrupts. Weak, until the
/// arches expose their hardware generators (RDRAND, RNDR).
struct TimerJitter;

impl EntropySource for TimerJitter {
    fn fill(&self, buf: &mut [u8]) {
        let mut x = A::now_ns() ^ 0x9e37_79b9_7f4a_7c15 ^ SCHED.ticks().rotate_left(32);
        for b in buf.iter_mut() {
            // splitmix64 over fresh clock reads: spreads whatever jitter there is.
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15 ^ A::now_ns());
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *b = (z ^ (z >> 31)) as u8;
        }
    }
}

struct KernelClock;

impl Clock for KernelClock {
    fn now(&self) -> Timespec {
        let ns = <Levitate as linux::Kernel>::realtime_ns();
        Timespec {
            sec: (ns / 1_000_000_000) as i64,
            nsec: (ns % 1_000_000_000) as u32,
        }
    }
}

/// Build the root filesystem: tmpfs at /, the initramfs unpacked into it, devtmpfs on /dev.
fn mount_root(boot: &BootInfo) -> Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(KernelClock);
    let registry = Arc::new(DeviceRegistry::new());
    let root_fs = tmpfs::TmpFs::with_pages(
        clock.clone(),
        vfs::types::makedev(0, 1),
        Arc::new(crate::memory::FramePages),
    );
    let vfs = VFS.call_once(|| Vfs::new(root_fs, b"rootfs", registry.clone()));
    if let Some(r) = boot.initrd {
        // SAFETY: the initrd range is reserved (never handed out) and direct-mapped; nothing
        // writes to it.
        let archive = unsafe {
            core::slice::from_raw_parts(phys_to_virt(r.start) as *const u8, r.len() as usize)
        };
        match vfs::initramfs::unpack(&vfs.root().inode, archive) {
            Ok(s) => log::info!(
                "initramfs: {} entries unpacked ({} KiB)",
                s.unpacked,
                r.len() / 1024
            ),
            Err(e) => log::error!("initramfs: {e:?}; continuing with what was unpacked"),
        }
    }
    let root = vfs.root();
    let cred = Cred::ROOT;
    let lookup = Lookup {
        root: &root,
        start: &root,
        cred: &cred,
    };
    match vfs.mkdir(&lookup, Path::new(b"/dev", EmptyPath::Deny)?, 0o755) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    vfs.register_fs_type(Arc::new(crate::fstypes::Tmpfs {
        clock: clock.clone(),
        pages: Arc::new(crate::memory::FramePages),
    }));
    let dev = DevFs::new(clock, vfs::types::makedev(0, 2), registry);
    let rng = Csprng::new(Arc::new(TimerJitter));
    RNG.call_once(|| rng.clone());
    dev.register_memory_devices(rng)?;
    let console = crate::tty::console();
    let (name, major, minor) = serial_device();
    check_console_args(boot, name);
    dev.register(b"console", 5, 1, 0o600, console.clone())?;
    dev.register(name.as_bytes(), major, minor, 0o620, console.clone())?;
    dev.register(b"tty", 5, 0, 0o666, console)?;
    let devpts = crate::tty::devpts();
    dev.register(b"ptmx", 5, 2, 0o666, devpts.ptmx())?;
    // /dev/kvm, world read-write as Linux distributions make it.
    dev.register(
        b"kvm",
        linux::kvm::KVM_MAJOR,
        linux::kvm::KVM_MINOR,
        0o666,
        linux::kvm::device(),
    )?;
    let target = vfs.resolve(&lookup, Path::new(b"/dev", EmptyPath::Deny)?, true)?;
    // Mount flags and options as a Linux distribution's (systemd's) /proc/mounts shows them.
    let devtmpfs = Arc::new(crate::fstypes::Shared {
        name: "devtmpfs",
        fs: dev.clone(),
        known: &[],
        shown: b"mode=755",
    });
    vfs.register_fs_type(devtmpfs.clone());
    vfs.mount_fs(
        &target,
        dev,
        b"devtmpfs",
        ms::NOSUID | ms::RELATIME,
        0,
        b"mode=755".to_vec(),
        Some(devtmpfs),
    )?;
    // Pseudo-terminal slaves on /dev/pts, as Linux distributions mount devpts.
    vfs.mkdir(&lookup, Path::new(b"/dev/pts", EmptyPath::Deny)?, 0o755)?;
    let target = vfs.resolve(&lookup, Path::new(b"/dev/pts", EmptyPath::Deny)?, true)?;
    let devpts_type = Arc::new(crate::fstypes::Shared {
        name: "devpts",
        fs: devpts.clone(),
        known: crate::fstypes::DEVPTS_OPTIONS,
        shown: b"mode=600,ptmxmode=000",
    });
    vfs.register_fs_type(devpts_type.clone());
    vfs.mount_fs(
        &target,
        devpts,
        b"devpts",
        ms::NOSUID | ms::NOEXEC | ms::RELATIME,
        0,
        b"mode=600,ptmxmode=000".to_vec(),
        Some(devpts_type),
    )?;

    match vfs.mkdir(&lookup, Path::new(b"/proc", EmptyPath::Deny)?, 0o555) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(e),
    }
    let view = PROC
        .call_once(|| linux::ProcView::new(memory_kib, boot.cmdline, 1))
        .clone();
    let procfs = procfs::ProcFs::new(view, vfs::types::makedev(0, 3));
    let target = vfs.resolve(&lookup, Path::new(b"/proc", EmptyPath::Deny)?, true)?;
    let proc_type = Arc::new(crate::fstypes::Shared {
        name: "proc",
        fs: procfs.clone(),
        known: crate::fstypes::PROC_OPTIONS,
        shown: b"",
    });
    vfs.register_fs_type(proc_type.clone());
    vfs.mount_fs(
        &target,
        procfs,
        b"proc",
        ms::NOSUID | ms::NODEV | ms::NOEXEC | ms::RELATIME,
        0,
        Vec::new(),
        Some(proc_type),
    )?;
    Ok(())
}

/// Start user space: returns whether PID 1 is running.
pub fn start(boot: &BootInfo) -> bool {
    init_wall_clock();
    if let Err(e) = mount_root(boot) {
        log::error!("root filesystem: {e}");
        return false;
    }
    crate::tty::start_input();
    if boot.initrd.is_none() && boot.cmdline_value("init").is_none() {
        log::info!("no initramfs and no init= on the command line: no user space to start");
        return false;
    }
    let init = boot.cmdline_value("init").unwrap_or("/init");
    let argv: [&[u8]; 1] = [init.as_bytes()];
    let envp: [&[u8]; 3] = [
        b"HOME=/",
        b"TERM=linux",
        b"PATH=/sbin:/usr/sbin:/bin:/usr/bin",
    ];
    match linux::spawn_init::<Levitate>(init.as_bytes(), &argv, &envp) {
        Ok(task) => {
            if let Some(view) = PROC.get() {
                view.set_init(&task.process);
            }
            log::info!("started {init} as PID 1");
            true
        }
        Err(e) => {
            log::error!("cannot start {init}: {e}");
            false
        }
    }
}
