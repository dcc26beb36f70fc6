//! set_tid_address, set_robust_list, uname, arch_prctl, prlimit64, getrandom.

use crate::exec::elf::Machine;
use crate::kernel::Kernel;
use crate::process::{Process, Regs, Task};
use alloc::sync::Arc;
use alloc::vec;
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

pub fn uname<K: Kernel>(p: &Process<K>, buf: u64) -> Result<usize> {
    let fields: [&[u8]; 6] = [
        b"Linux",
        b"levitate",
        b"6.1.0-levitate",
        concat!("#1 SMP PREEMPT Levitate ", env!("CARGO_PKG_VERSION")).as_bytes(),
        // Linux's UTS_MACHINE32 under `linux32`.
        match (K::MACHINE, super::prio::linux32(p)) {
            (Machine::X86_64, true) => b"i686",
            (Machine::Aarch64, true) => b"armv8l",
            _ => K::PLATFORM.as_bytes(),
        },
        b"(none)",
    ];
    let mut out = vec![0u8; 65 * 6];
    for (i, f) in fields.iter().enumerate() {
        out[65 * i..65 * i + f.len()].copy_from_slice(f);
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

/// `getgroups`: the supplementary groups of the caller.
pub fn getgroups<K: Kernel>(p: &Process<K>, size: usize, list: u64) -> Result<usize> {
    let groups = &p.cred.groups;
    if size == 0 {
        return Ok(groups.len());
    }
    if size < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: alloc::vec::Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    p.user().write(list, &bytes)?;
    Ok(groups.len())
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
    let mut buf = [0u8; 8];
    let n = len.min(8);
    p.user().read(mask, &mut buf[..n])?;
    // A mask with no online CPU in it is refused, as on Linux.
    if u64::from_le_bytes(buf) & ONLINE_CPUS == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}
