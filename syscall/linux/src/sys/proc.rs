//! set_tid_address, set_robust_list, uname, sethostname, setdomainname, arch_prctl, prlimit64,
//! getrandom.

use crate::exec::elf::Machine;
use crate::kernel::Kernel;
use crate::process::{Process, Regs, Task};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use arch_api::UserContext;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};

pub fn set_tid_address<K: Kernel>(t: &Arc<Task<K>>, addr: u64) -> Result<usize> {
    t.clear_child_tid.store(addr, Ordering::Relaxed);
    Ok(t.tid() as usize)
}

/// The robust futex list is only walked at thread exit, which does not need it yet; the size
/// check is Linux's.
pub fn set_robust_list(len: usize) -> Result<usize> {
    if len != 24 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// `uname -r` (and `/proc/sys/kernel/osrelease`).
pub const UTS_RELEASE: &str = "6.1.0-levitate";
/// `uname -v` (and `/proc/sys/kernel/version`).
pub const UTS_VERSION: &str = concat!("#1 SMP PREEMPT Levitate ", env!("CARGO_PKG_VERSION"));

/// A uts name field: 64 bytes and a length (the 65th byte of `struct utsname` is the NUL).
struct UtsName {
    bytes: [u8; 64],
    len: usize,
}

impl UtsName {
    const fn new(s: &[u8]) -> Self {
        let mut bytes = [0u8; 64];
        let mut i = 0;
        while i < s.len() && i < 64 {
            bytes[i] = s[i];
            i += 1;
        }
        UtsName { bytes, len: i }
    }
    fn get(&self) -> Vec<u8> {
        self.bytes[..self.len].to_vec()
    }
}

/// The node and domain names: sethostname/setdomainname, uname, `kernel.hostname` and
/// `kernel.domainname` in /proc/sys share them (one UTS namespace).
static NODENAME: spin::Mutex<UtsName> = spin::Mutex::new(UtsName::new(b"levitate"));
static DOMAINNAME: spin::Mutex<UtsName> = spin::Mutex::new(UtsName::new(b"(none)"));

pub(crate) fn hostname() -> Vec<u8> {
    NODENAME.lock().get()
}

pub(crate) fn domainname() -> Vec<u8> {
    DOMAINNAME.lock().get()
}

/// Set the host (`domain` false) or domain name: EINVAL past 64 bytes, as Linux (every process
/// is root here, so no EPERM).
pub(crate) fn set_uts_name(domain: bool, name: &[u8]) -> Result<()> {
    if name.len() > 64 {
        return Err(Errno::EINVAL);
    }
    *if domain { &DOMAINNAME } else { &NODENAME }.lock() = UtsName::new(name);
    Ok(())
}

/// sethostname / setdomainname: the length is an `int`; negative or past 64 is EINVAL.
pub fn set_name<K: Kernel>(p: &Process<K>, domain: bool, name: u64, len: usize) -> Result<usize> {
    let len = len as i32;
    if !(0..=64).contains(&len) {
        return Err(Errno::EINVAL);
    }
    let bytes = p.user().read_vec(name, len as usize)?;
    set_uts_name(domain, &bytes)?;
    Ok(0)
}

pub fn uname<K: Kernel>(p: &Process<K>, buf: u64) -> Result<usize> {
    let (node, domain) = (hostname(), domainname());
    let fields: [&[u8]; 6] = [
        b"Linux",
        &node,
        UTS_RELEASE.as_bytes(),
        UTS_VERSION.as_bytes(),
        // Linux's UTS_MACHINE32 under `linux32`.
        match (K::MACHINE, super::prio::linux32(p)) {
            (Machine::X86_64, true) => b"i686",
            (Machine::Aarch64, true) => b"armv8l",
            _ => K::PLATFORM.as_bytes(),
        },
        &domain,
    ];
    let mut out = vec![0u8; 65 * 6];
    for (i, f) in fields.iter().enumerate() {
        let n = f.len().min(64);
        out[65 * i..65 * i + n].copy_from_slice(&f[..n]);
    }
    p.user().write(buf, &out)?;
    Ok(0)
}

const ARCH_SET_GS: u32 = 0x1001;
const ARCH_SET_FS: u32 = 0x1002;
const ARCH_GET_FS: u32 = 0x1003;
const ARCH_GET_GS: u32 = 0x1004;

pub fn arch_prctl<K: Kernel>(
    p: &Process<K>,
    regs: &mut Regs<K>,
    code: u32,
    addr: u64,
) -> Result<usize> {
    match code {
        ARCH_SET_FS => {
            if addr >= 0x0000_8000_0000_0000 {
                return Err(Errno::EPERM);
            }
            regs.set_tls(addr);
            Ok(0)
        }
        ARCH_GET_FS => p.user().write_u64(addr, regs.tls()).map(|_| 0),
        // GS is not used by Linux user space on x86_64; keep it unsupported but well-formed.
        ARCH_SET_GS | ARCH_GET_GS => Err(Errno::EINVAL),
        _ => Err(Errno::EINVAL),
    }
}

const RLIM_INFINITY: u64 = u64::MAX;
const RLIMIT_STACK: u32 = 3;
const RLIMIT_NOFILE: u32 = 7;
const RLIM_NLIMITS: u32 = 16;

pub fn prlimit64<K: Kernel>(
    p: &Process<K>,
    pid: usize,
    res: u32,
    new: u64,
    old: u64,
) -> Result<usize> {
    if pid != 0 && pid != p.pid as usize {
        return Err(Errno::ESRCH);
    }
    if res >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let current = match res {
        RLIMIT_STACK => (8 << 20, RLIM_INFINITY),
        RLIMIT_NOFILE => {
            let n = p.files.lock().limit() as u64;
            (n, n)
        }
        _ => (RLIM_INFINITY, RLIM_INFINITY),
    };
    if old != 0 {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&current.0.to_le_bytes());
        b[8..].copy_from_slice(&current.1.to_le_bytes());
        p.user().write(old, &b)?;
    }
    if new != 0 {
        let b = p.user().read_vec(new, 16)?;
        let cur = u64::from_le_bytes(b[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let max = u64::from_le_bytes(b[8..].try_into().map_err(|_| Errno::EFAULT)?);
        if cur > max {
            return Err(Errno::EINVAL);
        }
        if res == RLIMIT_NOFILE {
            p.files.lock().set_limit(cur.min(1 << 20) as usize)?;
        }
    }
    Ok(0)
}

pub fn getrandom<K: Kernel>(p: &Process<K>, buf: u64, len: usize, flags: u32) -> Result<usize> {
    if flags & !0x7 != 0 {
        return Err(Errno::EINVAL);
    }
    let mut b = vec![0u8; len.min(1 << 20)];
    K::fill_random(&mut b);
    p.user().write(buf, &b)?;
    Ok(b.len())
}

/// `sysinfo`: uptime, memory and process count (no swap, no load average yet).
pub fn sysinfo<K: Kernel>(p: &Process<K>, info: u64, mem: (u64, u64), procs: u16) -> Result<usize> {
    use arch_api::Arch;
    // struct sysinfo (64-bit): uptime, loads[3], totalram, freeram, sharedram, bufferram,
    // totalswap, freeswap (longs), procs (u16, padded), totalhigh, freehigh, mem_unit (u32).
    let mut b = [0u8; 112];
    let mut put = |off: usize, v: u64| b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(0, K::Arch::now_ns() / 1_000_000_000);
    put(32, mem.0);
    put(40, mem.1);
    b[80..82].copy_from_slice(&procs.to_le_bytes());
    b[104..108].copy_from_slice(&1u32.to_le_bytes());
    p.user().write(info, &b)?;
    Ok(0)
}

const REBOOT_MAGIC1: u32 = 0xfee1_dead;
const REBOOT_MAGIC2: [u32; 4] = [672_274_793, 85_072_278, 369_367_448, 537_993_216];
const RB_AUTOBOOT: u32 = 0x0123_4567;
const RB_HALT_SYSTEM: u32 = 0xcdef_0123;
const RB_POWER_OFF: u32 = 0x4321_fedc;
const RB_ENABLE_CAD: u32 = 0x89ab_cdef;
const RB_DISABLE_CAD: u32 = 0;

/// `reboot`: Linux's magic numbers and commands; every process is root for now.
pub fn reboot<K: Kernel>(magic1: u32, magic2: u32, cmd: u32) -> Result<usize> {
    if magic1 != REBOOT_MAGIC1 || !REBOOT_MAGIC2.contains(&magic2) {
        return Err(Errno::EINVAL);
    }
    match cmd {
        RB_POWER_OFF | RB_HALT_SYSTEM | RB_AUTOBOOT => {
            log::info!("reboot({cmd:#x}): powering off");
            K::power_off()
        }
        RB_ENABLE_CAD | RB_DISABLE_CAD => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// ESRCH unless `pid` is 0, the caller, or another live process (any may be asked about).
fn affinity_target<K: Kernel>(t: &Arc<Task<K>>, pid: u32) -> Result<()> {
    if pid == 0
        || pid == t.process.pid
        || super::wait::all_processes(t).iter().any(|q| q.pid == pid)
    {
        Ok(())
    } else {
        Err(Errno::ESRCH)
    }
}

/// One CPU runs user code for now: the affinity mask is CPU 0.
const ONLINE_CPUS: u64 = 1;

pub fn sched_getaffinity<K: Kernel>(
    t: &Arc<Task<K>>,
    pid: u32,
    len: usize,
    mask: u64,
) -> Result<usize> {
    let p = &t.process;
    affinity_target(t, pid)?;
    // Linux: the buffer must hold the kernel's mask (one long here) and be a whole number of
    // longs.
    if len < 8 || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    p.user().write_u64(mask, ONLINE_CPUS)?;
    Ok(8)
}

pub fn sched_setaffinity<K: Kernel>(
    t: &Arc<Task<K>>,
    pid: u32,
    len: usize,
    mask: u64,
) -> Result<usize> {
    let p = &t.process;
    affinity_target(t, pid)?;
    // Linux's `check_same_owner`: the caller's euid is the target's uid or euid, or it has
    // CAP_SYS_NICE.
    let me = p.creds();
    if let Some(target) = super::wait::all_processes(t)
        .iter()
        .find(|q| pid != 0 && q.pid == pid)
    {
        let them = target.creds();
        if !me.privileged() && me.euid != them.uid && me.euid != them.euid {
            return Err(Errno::EPERM);
        }
    }
    let mut buf = [0u8; 8];
    let n = len.min(8);
    p.user().read(mask, &mut buf[..n])?;
    // A mask with no online CPU in it is refused, as on Linux.
    if u64::from_le_bytes(buf) & ONLINE_CPUS == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
