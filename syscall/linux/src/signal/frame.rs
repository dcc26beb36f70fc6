//! The signal frames of each arch, laid out as Linux lays them out (the uapi headers'
//! `struct rt_sigframe`, `ucontext`, `sigcontext`), and rt_sigreturn, which reads them back
//! without trusting them.
//!
//! x86_64 (`arch/x86/include/asm/sigframe.h`, `uapi/asm/sigcontext.h`), from the frame start:
//! `pretcode` 0, `uc` 8 (uc_flags 8, uc_link 16, uc_stack 24, uc_mcontext 48, uc_sigmask 304),
//! `info` 312, 440 bytes in all; the 512-byte FXSAVE image the sigcontext's `fpstate` points
//! to lies above it, 64-byte aligned. The handler starts with RSP = frame start, so that the
//! `ret` of the handler pops `pretcode` (the SA_RESTORER trampoline, `rt_sigreturn`).
//!
//! aarch64 (`arch/arm64/include/uapi/asm/sigcontext.h`, `ucontext.h`): `info` 0, `uc` 128
//! (uc_flags 128, uc_link 136, uc_stack 144, uc_sigmask 168 padded to 128 bytes of sigset,
//! uc_mcontext 304: fault_address 304, regs[31] 312, sp 560, pc 568, pstate 576, __reserved
//! 592..4688), then a frame record {x29, x30} at 4688 that x29 points to; SP = frame start.

use super::{SigInfo, UNBLOCKABLE};
use crate::exec::elf::Machine;
use crate::kernel::Kernel;
use crate::process::{Regs, SigAction, Task};
use alloc::sync::Arc;
use alloc::vec;
use arch_api::UserContext;
use core::sync::atomic::Ordering;
use syscall::{Errno, Result};

const SS_ONSTACK: u32 = 1;
const SS_DISABLE: u32 = 2;
const SS_AUTODISARM: u32 = 1 << 31;

const X86_FRAME: usize = 440;
const X86_UC: usize = 8;
const X86_MCTX: usize = 48;
const X86_SIGMASK: usize = 304;
const X86_INFO: usize = 312;
const X86_FPSTATE_PTR: usize = X86_MCTX + 184;
const X86_USER_CS: u16 = 0x33;
const X86_USER_SS: u16 = 0x2b;
/// UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS: the sigcontext's ss slot is meaningful.
const X86_UC_FLAGS: u64 = 2 | 4;
/// The System V ABI's red zone below RSP, which a signal frame must not overwrite.
const X86_RED_ZONE: u64 = 128;
const RFLAGS_TF: u64 = 1 << 8;
const RFLAGS_DF: u64 = 1 << 10;

const A64_INFO: usize = 0;
const A64_UC: usize = 128;
const A64_SIGMASK: usize = 168;
const A64_MCTX: usize = 304;
const A64_RESERVED: usize = 592;
const A64_RESERVED_END: usize = A64_RESERVED + 4096;
const A64_FRAME: usize = A64_RESERVED_END + 16;
const FPSIMD_MAGIC: u32 = 0x4650_8001;
const FPSIMD_SIZE: usize = 528;

fn put(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn get(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(w)
}

fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Where the frame goes (the alternate stack for SA_ONSTACK), and the `uc_stack` to save.
fn stack_for<K: Kernel>(task: &Task<K>, sp: u64, action: &SigAction) -> (u64, [u64; 3], bool) {
    let (ss_sp, ss_flags, ss_size) = *task.altstack.lock();
    let enabled = ss_flags & SS_DISABLE == 0 && ss_size != 0;
    let on_alt = enabled && sp > ss_sp && sp - ss_sp <= ss_size;
    let flags = if !enabled {
        SS_DISABLE
    } else if on_alt {
        SS_ONSTACK
    } else {
        ss_flags & SS_AUTODISARM
    };
    let saved = [ss_sp, u64::from(flags), ss_size];
    if action.flags & super::SA_ONSTACK != 0 && enabled && !on_alt {
        if ss_flags & SS_AUTODISARM != 0 {
            *task.altstack.lock() = (0, SS_DISABLE, 0);
        }
        (ss_sp.wrapping_add(ss_size), saved, true)
    } else {
        (sp, saved, false)
    }
}

/// Build the frame for a handler of `info` on the user stack and point `regs` at the handler.
pub(super) fn setup<K: Kernel>(
    task: &Arc<Task<K>>,
    regs: &mut Regs<K>,
    info: &SigInfo,
    action: &SigAction,
    oldmask: u64,
) -> Result<()> {
    // musl always passes SA_RESTORER: without a vDSO there is no other way back.
    if action.restorer == 0 {
        return Err(Errno::EFAULT);
    }
    let (sp, uc_stack, switched) = stack_for(task, regs.sp(), action);
    let user = task.process.user();
    match K::MACHINE {
        Machine::X86_64 => {
            let sp = if switched {
                sp
            } else {
                sp.wrapping_sub(X86_RED_ZONE)
            };
            let fp = sp.wrapping_sub(512) & !63;
            let frame = (fp.wrapping_sub(X86_FRAME as u64) & !15).wrapping_sub(8);
            let mut b = vec![0u8; X86_FRAME];
            put(&mut b, 0, action.restorer);
            put(&mut b, X86_UC, X86_UC_FLAGS);
            put(&mut b, X86_UC + 16, uc_stack[0]);
            put(&mut b, X86_UC + 24, uc_stack[1]);
            put(&mut b, X86_UC + 32, uc_stack[2]);
            for i in 0..18 {
                put(&mut b, X86_MCTX + 8 * i, regs.signal_reg(i));
            }
            b[X86_MCTX + 144..X86_MCTX + 146].copy_from_slice(&X86_USER_CS.to_le_bytes());
            b[X86_MCTX + 150..X86_MCTX + 152].copy_from_slice(&X86_USER_SS.to_le_bytes());
            // trapno: 14 for page faults, as Linux reports; err stays 0.
            if info.signo == super::SIGSEGV && info.code > 0 {
                put(&mut b, X86_MCTX + 160, 14);
            }
            put(&mut b, X86_MCTX + 168, oldmask);
            put(&mut b, X86_MCTX + 176, info.addr);
            put(&mut b, X86_FPSTATE_PTR, fp);
            put(&mut b, X86_SIGMASK, oldmask);
            b[X86_INFO..X86_INFO + 128].copy_from_slice(&info.to_bytes());
            let mut fx = [0u8; 512];
            regs.fp_state(&mut fx);
            // Bytes 464..512 carry the XSAVE software marker when there is one; there is not.
            fx[464..].fill(0);
            user.write(fp, &fx)?;
            user.write(frame, &b)?;
            regs.set_call_args(
                u64::from(info.signo),
                frame + X86_INFO as u64,
                frame + X86_UC as u64,
            );
            regs.set_signal_reg(13, 0);
            let flags = regs.signal_reg(17) & !(RFLAGS_DF | RFLAGS_TF);
            regs.set_signal_reg(17, flags);
            // The handler starts with a clean FPU, as on Linux.
            let mut clean = [0u8; 512];
            Regs::<K>::default().fp_state(&mut clean);
            regs.set_fp_state(&clean);
            regs.set_sp(frame);
            regs.set_ip(action.handler);
        }
        Machine::Aarch64 => {
            let frame = sp.wrapping_sub(A64_FRAME as u64) & !15;
            let mut b = vec![0u8; A64_FRAME];
            b[A64_INFO..A64_INFO + 128].copy_from_slice(&info.to_bytes());
            put(&mut b, A64_UC + 16, uc_stack[0]);
            put(&mut b, A64_UC + 24, uc_stack[1]);
            put(&mut b, A64_UC + 32, uc_stack[2]);
            put(&mut b, A64_SIGMASK, oldmask);
            put(&mut b, A64_MCTX, info.addr);
            for i in 0..34 {
                put(&mut b, A64_MCTX + 8 + 8 * i, regs.signal_reg(i));
            }
            b[A64_RESERVED..A64_RESERVED + 4].copy_from_slice(&FPSIMD_MAGIC.to_le_bytes());
            b[A64_RESERVED + 4..A64_RESERVED + 8]
                .copy_from_slice(&(FPSIMD_SIZE as u32).to_le_bytes());
            let mut fpsimd = [0u8; 520];
            regs.fp_state(&mut fpsimd);
            // fpsr, fpcr, then the vregs 16-byte aligned at record offset 16.
            b[A64_RESERVED + 8..A64_RESERVED + 16].copy_from_slice(&fpsimd[..8]);
            b[A64_RESERVED + 16..A64_RESERVED + 16 + 512].copy_from_slice(&fpsimd[8..]);
            // The terminator record that follows is all zeros already.
            put(&mut b, A64_RESERVED_END, regs.signal_reg(29));
            put(&mut b, A64_RESERVED_END + 8, regs.signal_reg(30));
            user.write(frame, &b)?;
            regs.set_call_args(
                u64::from(info.signo),
                frame + A64_INFO as u64,
                frame + A64_UC as u64,
            );
            regs.set_signal_reg(29, frame + A64_RESERVED_END as u64);
            regs.set_return_address(action.restorer);
            regs.set_sp(frame);
            regs.set_ip(action.handler);
        }
    }
    Ok(())
}

/// rt_sigreturn: restore what [`setup`] saved, from wherever the stack pointer says the frame
/// is. Any inconsistency is EFAULT, and the caller turns it into a fatal SIGSEGV as Linux does.
/// Returns the restored return-value register, so that the dispatcher's store of the result
/// keeps it.
pub fn sigreturn<K: Kernel>(task: &Arc<Task<K>>, regs: &mut Regs<K>) -> Result<usize> {
    let user = task.process.user();
    let mut next = regs.clone();
    let mask = match K::MACHINE {
        Machine::X86_64 => {
            // `ret` into the restorer popped `pretcode`: RSP is at `uc`.
            let uc = regs.sp();
            let b = user.read_vec(uc, X86_FRAME - X86_UC)?;
            let m = X86_MCTX - X86_UC;
            let cs = u16::from_le_bytes([b[m + 144], b[m + 145]]);
            let ss = u16::from_le_bytes([b[m + 150], b[m + 151]]);
            // Only the 64-bit user selectors: no kernel or 32-bit state comes back this way.
            if cs != X86_USER_CS || (ss != X86_USER_SS && ss != 0) {
                return Err(Errno::EFAULT);
            }
            for i in 0..18 {
                next.set_signal_reg(i, get(&b, m + 8 * i));
            }
            let fp = get(&b, X86_FPSTATE_PTR - X86_UC);
            if fp != 0 {
                next.set_fp_state(&user.read_vec(fp, 512)?);
            } else {
                let mut clean = [0u8; 512];
                Regs::<K>::default().fp_state(&mut clean);
                next.set_fp_state(&clean);
            }
            restore_altstack(task, &b[16..40]);
            get(&b, X86_SIGMASK - X86_UC)
        }
        Machine::Aarch64 => {
            let frame = regs.sp();
            if !frame.is_multiple_of(16) {
                return Err(Errno::EFAULT);
            }
            let b = user.read_vec(frame, A64_RESERVED_END)?;
            let pstate = get(&b, A64_MCTX + 8 + 8 * 33);
            // EL0t (M[4:0] = 0, AArch64) with D, A, I, F clear, and nothing else privileged.
            if pstate & 0x3df != 0 {
                return Err(Errno::EFAULT);
            }
            for i in 0..34 {
                next.set_signal_reg(i, get(&b, A64_MCTX + 8 + 8 * i));
            }
            next.set_fp_state(&fpsimd_record(&b)?);
            restore_altstack(task, &b[A64_UC + 16..A64_UC + 40]);
            get(&b, A64_SIGMASK)
        }
    };
    task.sigmask.store(mask & !UNBLOCKABLE, Ordering::Relaxed);
    *regs = next;
    let ret = match K::MACHINE {
        Machine::X86_64 => regs.signal_reg(13),
        Machine::Aarch64 => regs.signal_reg(0),
    };
    Ok(ret as usize)
}

/// Find the fpsimd_context record in `__reserved` and return its fpsr, fpcr and vregs in the
/// [`UserContext::fp_state`] layout. Linux refuses a frame without it.
fn fpsimd_record(b: &[u8]) -> Result<[u8; 520]> {
    let mut off = A64_RESERVED;
    while off + 8 <= A64_RESERVED_END {
        let magic = get32(b, off);
        let size = get32(b, off + 4) as usize;
        if magic == 0 && size == 0 {
            break;
        }
        if size < 8 || !size.is_multiple_of(16) || off + size > A64_RESERVED_END {
            return Err(Errno::EFAULT);
        }
        if magic == FPSIMD_MAGIC {
            if size != FPSIMD_SIZE {
                return Err(Errno::EFAULT);
            }
            let mut out = [0u8; 520];
            out[..8].copy_from_slice(&b[off + 8..off + 16]);
            out[8..].copy_from_slice(&b[off + 16..off + 16 + 512]);
            return Ok(out);
        }
        off += size;
    }
    Err(Errno::EFAULT)
}

/// The saved `uc_stack` becomes the alternate stack again (what SS_AUTODISARM disarmed), as
/// Linux's `restore_altstack`; an invalid one is ignored.
fn restore_altstack<K: Kernel>(task: &Task<K>, st: &[u8]) {
    let (sp, flags, size) = (get(st, 0), get32(st, 8), get(st, 16));
    if flags & SS_ONSTACK != 0 {
        return;
    }
    if flags & SS_DISABLE != 0 {
        *task.altstack.lock() = (0, SS_DISABLE, 0);
    } else if size >= 2048 {
        *task.altstack.lock() = (sp, flags & SS_AUTODISARM, size);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved_with(records: &[(u32, u32)]) -> alloc::vec::Vec<u8> {
        let mut b = vec![0u8; A64_RESERVED_END];
        let mut off = A64_RESERVED;
        for &(magic, size) in records {
            b[off..off + 4].copy_from_slice(&magic.to_le_bytes());
            b[off + 4..off + 8].copy_from_slice(&size.to_le_bytes());
            off += size as usize;
        }
        b
    }

    #[test]
    fn fpsimd_record_found_after_other_records() {
        let mut b = reserved_with(&[(0x4553_5201, 32), (FPSIMD_MAGIC, FPSIMD_SIZE as u32)]);
        let rec = A64_RESERVED + 32;
        b[rec + 8..rec + 12].copy_from_slice(&7u32.to_le_bytes());
        b[rec + 16] = 0xaa;
        let fp = fpsimd_record(&b).unwrap();
        assert_eq!(&fp[..4], &7u32.to_le_bytes());
        assert_eq!(fp[8], 0xaa);
    }

    #[test]
    fn hostile_reserved_areas_are_refused() {
        // No record at all, a wrong fpsimd size, a size running off the end, a zero size.
        assert!(fpsimd_record(&reserved_with(&[])).is_err());
        assert!(fpsimd_record(&reserved_with(&[(FPSIMD_MAGIC, 512)])).is_err());
        assert!(fpsimd_record(&reserved_with(&[(1, 8192)])).is_err());
        assert!(fpsimd_record(&reserved_with(&[(1, 0)])).is_err());
        assert!(fpsimd_record(&reserved_with(&[(1, 24)])).is_err());
    }
}
