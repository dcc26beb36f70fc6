//! PSCI (Arm DEN 0022 "Power State Coordination Interface") and semihosting exit.

use core::sync::atomic::{AtomicU8, Ordering};

/// SYSTEM_OFF (SMC32 function ID).
const SYSTEM_OFF: u64 = 0x8400_0008;
/// PSCI_VERSION.
const PSCI_VERSION: u64 = 0x8400_0000;

const CONDUIT_SMC: u8 = 1;
const CONDUIT_HVC: u8 = 2;
static CONDUIT: AtomicU8 = AtomicU8::new(0);

/// Use the conduit the device tree names ("smc" or "hvc"); without one, SMC at EL2 (HVC
/// would trap to ourselves) and HVC at EL1.
pub fn set_conduit(method: Option<&str>) {
    let c = match method {
        Some("smc") => CONDUIT_SMC,
        Some("hvc") => CONDUIT_HVC,
        _ if crate::cpu::at_el2() => CONDUIT_SMC,
        _ => CONDUIT_HVC,
    };
    CONDUIT.store(c, Ordering::Relaxed);
}

/// "SMC" or "HVC".
pub fn conduit_name() -> &'static str {
    if CONDUIT.load(Ordering::Relaxed) == CONDUIT_SMC {
        "SMC"
    } else {
        "HVC"
    }
}

/// Call PSCI function `fid` with up to three arguments (SMC Calling Convention, DEN 0028).
fn call(fid: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    let mut r0 = fid;
    if CONDUIT.load(Ordering::Relaxed) == CONDUIT_SMC {
        // SAFETY: a PSCI call into firmware; x0-x3 in, x0 out, x4-x17 may be clobbered by an
        // SMCCC v1.0 implementation, so they are declared clobbered.
        unsafe {
            core::arch::asm!("smc #0", inout("x0") r0, inout("x1") a1 => _,
                inout("x2") a2 => _, inout("x3") a3 => _, clobber_abi("C"), options(nostack));
        }
    } else {
        // SAFETY: as above, through the hypervisor conduit.
        unsafe {
            core::arch::asm!("hvc #0", inout("x0") r0, inout("x1") a1 => _,
                inout("x2") a2 => _, inout("x3") a3 => _, clobber_abi("C"), options(nostack));
        }
    }
    r0
}

/// PSCI version as (major, minor).
pub fn version() -> (u16, u16) {
    let v = call(PSCI_VERSION, 0, 0, 0);
    ((v >> 16) as u16, v as u16)
}

/// Power the machine off (QEMU exits with status 0). Returns only if PSCI refused.
pub fn system_off() {
    call(SYSTEM_OFF, 0, 0, 0);
}

/// Semihosting SYS_EXIT with ADP_Stopped_ApplicationExit and `code` (QEMU with
/// `-semihosting-config enable=on` exits with `code`). Returns if semihosting is off: the
/// `hlt` is then an undefined instruction, which the exception table turns into a return.
pub fn semihosting_exit(code: u64) {
    /// SYS_EXIT operation number.
    const SYS_EXIT: u64 = 0x18;
    /// ADP_Stopped_ApplicationExit reason code.
    const APPLICATION_EXIT: u64 = 0x2_0026;
    let block = [APPLICATION_EXIT, code];
    // SAFETY: `__arch_semihosting` traps to QEMU, which reads the two-word parameter block
    // x1 points to (valid for the call); if semihosting is off the trap is fixed up to return.
    unsafe { __arch_semihosting(SYS_EXIT, block.as_ptr()) };
}

unsafe extern "C" {
    fn __arch_semihosting(op: u64, param: *const u64) -> u64;
}

core::arch::global_asm!(
    r#"
    .section .text.semihosting, "ax"
    .global __arch_semihosting
__arch_semihosting:
1:  hlt     #0xf000
2:  ret
    .pushsection __ex_table, "a"
    .balign 8
    .quad   1b, 2b
    .popsection
"#
);
