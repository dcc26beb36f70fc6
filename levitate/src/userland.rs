//! Bringing up user space: the root filesystem (tmpfs with the initramfs unpacked into it,
//! devtmpfs on /dev), the console device, and PID 1. Also the one `linux::Kernel` of this
//! kernel.

use crate::memory::{KernelTables, phys_to_virt};
use crate::{A, SCHED, TICK_HZ};
use alloc::sync::Arc;
use arch_api::{Arch, BootInfo, ExitStatus};
use devfs::{Csprng, DevFs, EntropySource};
use linux::exec::elf::Machine;
use spin::{Mutex, Once};
use syscall::{Errno, Result};
use vfs::{
    Clock, Cred, DeviceRegistry, EmptyPath, Events, FileOps, Lookup, Path, Timespec, UserMem, Vfs,
};

static VFS: Once<Vfs> = Once::new();
static RNG: Once<Arc<Csprng>> = Once::new();

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
        // No RTC driver yet: the wall clock starts at the epoch at boot.
        A::now_ns()
    }
    fn tick_hz() -> u64 {
        u64::from(TICK_HZ)
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

/// The serial console as a terminal: output goes to the arch console. Input needs the UART
/// receive path, which does not exist yet, so reads wait for data that never comes (or say
/// EAGAIN when non-blocking).
struct Console {
    termios: Mutex<[u8; 36]>,
    winsize: Mutex<[u8; 8]>,
}

const TCGETS: u32 = 0x5401;
const TCSETS: u32 = 0x5402;
const TCSETSW: u32 = 0x5403;
const TCSETSF: u32 = 0x5404;
const TIOCGPGRP: u32 = 0x540f;
const TIOCSPGRP: u32 = 0x5410;
const TIOCGWINSZ: u32 = 0x5413;
const TIOCSWINSZ: u32 = 0x5414;

impl Console {
    fn new() -> Self {
        // Linux's defaults for a serial console: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD|
        // HUPCL, ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN, and the usual c_cc.
        let mut t = [0u8; 36];
        t[0..4].copy_from_slice(&0x0500u32.to_le_bytes());
        t[4..8].copy_from_slice(&0x0005u32.to_le_bytes());
        t[8..12].copy_from_slice(&0x04bfu32.to_le_bytes());
        t[12..16].copy_from_slice(&0x8a3bu32.to_le_bytes());
        let cc: [u8; 17] = [3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0];
        t[17..17 + cc.len()].copy_from_slice(&cc);
        let mut w = [0u8; 8];
        w[0..2].copy_from_slice(&24u16.to_le_bytes());
        w[2..4].copy_from_slice(&80u16.to_le_bytes());
        Console {
            termios: Mutex::new(t),
            winsize: Mutex::new(w),
        }
    }
}

impl FileOps for Console {
    fn read(&self, _offset: u64, _buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        Err(Errno::EAGAIN)
    }

    fn write(&self, _offset: u64, buf: &[u8], _nonblock: bool) -> Result<usize> {
        // ONLCR: the terminal turns "\n" into "\r\n".
        for line in buf.split_inclusive(|&b| b == b'\n') {
            match line.strip_suffix(b"\n") {
                Some(text) => {
                    A::console_write(text);
                    A::console_write(b"\r\n");
                }
                None => A::console_write(line),
            }
        }
        Ok(buf.len())
    }

    fn poll(&self) -> Events {
        Events::OUT | Events::WRNORM
    }

    fn ioctl(&self, cmd: u32, arg: usize, user: &dyn UserMem) -> Result<usize> {
        match cmd {
            TCGETS => user.write(arg, &*self.termios.lock()).map(|_| 0),
            TCSETS | TCSETSW | TCSETSF => {
                let mut t = [0u8; 36];
                user.read(arg, &mut t)?;
                *self.termios.lock() = t;
                Ok(0)
            }
            TIOCGWINSZ => user.write(arg, &*self.winsize.lock()).map(|_| 0),
            TIOCSWINSZ => {
                let mut w = [0u8; 8];
                user.read(arg, &mut w)?;
                *self.winsize.lock() = w;
                Ok(0)
            }
            // Job control comes with sessions; until then PID 1's group owns the terminal.
            TIOCGPGRP => user.write(arg, &1i32.to_le_bytes()).map(|_| 0),
            TIOCSPGRP => Ok(0),
            _ => Err(Errno::ENOTTY),
        }
    }
}

impl vfs::CharDevice for Console {}

/// Build the root filesystem: tmpfs at /, the initramfs unpacked into it, devtmpfs on /dev.
fn mount_root(boot: &BootInfo) -> Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(KernelClock);
    let registry = Arc::new(DeviceRegistry::new());
    let root_fs = tmpfs::TmpFs::new(clock.clone(), vfs::types::makedev(0, 1));
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
    let dev = DevFs::new(clock, vfs::types::makedev(0, 2), registry);
    let rng = Csprng::new(Arc::new(TimerJitter));
    RNG.call_once(|| rng.clone());
    dev.register_memory_devices(rng)?;
    let console = Arc::new(Console::new());
    dev.register(b"console", 5, 1, 0o600, console.clone())?;
    dev.register(b"ttyS0", 4, 64, 0o620, console.clone())?;
    dev.register(b"tty", 5, 0, 0o666, console)?;
    let target = vfs.resolve(&lookup, Path::new(b"/dev", EmptyPath::Deny)?, true)?;
    vfs.mount(&target, dev, b"devtmpfs")?;
    Ok(())
}

/// Start user space: returns whether PID 1 is running.
pub fn start(boot: &BootInfo) -> bool {
    if let Err(e) = mount_root(boot) {
        log::error!("root filesystem: {e}");
        return false;
    }
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
        Ok(_) => {
            log::info!("started {init} as PID 1");
            true
        }
        Err(e) => {
            log::error!("cannot start {init}: {e}");
            false
        }
    }
}
