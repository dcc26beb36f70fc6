//! Stopping the machine, backtraces and CPU-state dumps.

use core::arch::asm;

use arch_api::ExitStatus;

use crate::{console, cpu, extable, paging};

/// QEMU's isa-debug-exit device (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`): writing
/// v makes QEMU exit with status (v << 1) | 1.
const DEBUG_EXIT_PORT: u16 = 0xf4;
/// Bochs' shutdown port: writing the bytes of "Shutdown" ends the simulation.
const BOCHS_SHUTDOWN_PORT: u16 = 0x8900;

const MAX_FRAMES: usize = 64;

pub fn exit(status: ExitStatus) -> ! {
    crate::irq_save_disable();
    console::flush();
    let code = match status {
        ExitStatus::Success => 0x10, // QEMU exit status 33
        ExitStatus::Failure => 0x11, // QEMU exit status 35
    };
    // SAFETY: writing to isa-debug-exit / the Bochs shutdown port only stops the emulator;
    // on hardware without them the writes go nowhere, and we halt below.
    unsafe {
        cpu::outb(DEBUG_EXIT_PORT, code);
        for b in b"Shutdown" {
            cpu::outw(BOCHS_SHUTDOWN_PORT, u16::from(*b));
        }
    }
    cpu::halt_forever()
}

/// Walk the frame-pointer chain starting at the caller of this function.
#[inline(never)]
pub fn backtrace(f: &mut dyn FnMut(u64)) {
    let mut rbp: u64;
    // SAFETY: reads RBP, which frame pointers (forced on for the kernel) make our frame base.
    unsafe { asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack, preserves_flags)) };
    for _ in 0..MAX_FRAMES {
        // Stack frames live in the kernel image or the direct map, 8-byte aligned.
        if rbp < paging::DIRECT_MAP_OFFSET || !rbp.is_multiple_of(8) {
            break;
        }
        // A corrupt chain must not bring the kernel down: read through the fault-catching path.
        let (Ok(next), Ok(ret)) = (extable::probe_read(rbp), extable::probe_read(rbp + 8)) else {
            break;
        };
        if ret < paging::KERNEL_VMA {
            break;
        }
        f(ret);
        if next == rbp {
            break;
        }
        rbp = next;
    }
}

/// Log the control registers.
pub fn dump_cpu_state() {
    log::info!(
        "CPU {}: ring {} CR0={:#x} CR2={:#x} CR3={:#x} CR4={:#x} EFER={:#x} RFLAGS={:#x}",
        crate::percpu::cpu_id(),
        current_ring(),
        cpu::read_cr0(),
        cpu::read_cr2(),
        cpu::read_cr3(),
        cpu::read_cr4(),
        cpu::read_efer(),
        cpu::read_rflags(),
    );
}

fn current_ring() -> u16 {
    let cs: u16;
    // SAFETY: reading CS has no side effects.
    unsafe { asm!("mov {:x}, cs", out(reg) cs, options(nomem, nostack, preserves_flags)) };
    cs & 3
}
