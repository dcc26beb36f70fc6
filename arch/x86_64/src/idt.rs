//! The interrupt descriptor table (Intel SDM vol. 3A §6.14.1, 64-bit IDT gate descriptors).
//! Every vector points at its entry stub in [`crate::traps`].

use core::arch::asm;
use core::cell::UnsafeCell;

use crate::gdt::{IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI, KERNEL_CS};
use crate::traps;

const VECTORS: usize = 256;
/// Present, DPL 0, 64-bit interrupt gate (IF cleared on entry).
const INTERRUPT_GATE: u8 = 0x8e;
/// The same with DPL 3, so `int3` in user code raises #BP rather than #GP. Every other
/// vector stays DPL 0: `int n` from user code is a #GP, it cannot fake a device interrupt.
const USER_INTERRUPT_GATE: u8 = 0xee;

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    type_attr: u8,
    offset_mid: u16,
    offset_high: u32,
    _reserved: u32,
}

impl Gate {
    const MISSING: Gate = Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        type_attr: 0,
        offset_mid: 0,
        offset_high: 0,
        _reserved: 0,
    };

    fn new(handler: u64, ist: u8) -> Gate {
        Gate {
            offset_low: handler as u16,
            selector: KERNEL_CS,
            ist,
            type_attr: INTERRUPT_GATE,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            _reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; VECTORS]>);

// SAFETY: written once by the boot CPU in `init` before interrupts are enabled and before any
// other CPU runs; read-only (by the CPU) afterwards.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new([Gate::MISSING; VECTORS]));

#[repr(C, packed(2))]
struct DescriptorPointer {
    limit: u16,
    base: u64,
}

/// Fill the IDT (once) and load it on this CPU.
pub fn init() {
    // SAFETY: single-threaded boot with interrupts off (see the Sync impl); the table is not
    // loaded yet, so the CPU cannot be reading it.
    let table = unsafe { &mut *IDT.0.get() };
    for (vector, gate) in table.iter_mut().enumerate() {
        let ist = match vector {
            2 => IST_NMI,
            8 => IST_DOUBLE_FAULT,
            18 => IST_MACHINE_CHECK,
            _ => 0,
        };
        *gate = Gate::new(traps::stub_address(vector), ist);
        if vector == traps::VEC_BREAKPOINT as usize {
            gate.type_attr = USER_INTERRUPT_GATE;
        }
    }
    load();
}

/// Load the (already filled) IDT on this CPU.
pub fn load() {
    let pointer = DescriptorPointer {
        limit: (core::mem::size_of::<[Gate; VECTORS]>() - 1) as u16,
        base: IDT.0.get() as u64,
    };
    // SAFETY: the IDT is 'static and every gate points at a valid entry stub.
    unsafe { asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags)) };
}
