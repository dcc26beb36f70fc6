//! Unit tests with a Vec-backed guest memory: modes, exits, exceptions, interrupts.

use crate::*;
use alloc::vec::Vec;
use hv::abi::x86::{KvmSegment, KvmSregs};
use iced_x86::code_asm::*;

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{VecMem, flat};

fn asm(bits: u32, at: u64, f: impl FnOnce(&mut CodeAssembler)) -> Vec<u8> {
    let mut a = CodeAssembler::new(bits).unwrap();
    f(&mut a);
    a.assemble(at).unwrap()
}

/// A real-mode vCPU at 0:`ip` with flat real-mode segments.
fn real_cpu(ip: u64) -> Vcpu {
    let mut v = Vcpu::new();
    let mut s = v.sregs();
    s.cs.selector = 0;
    s.cs.base = 0;
    v.set_sregs(&s).unwrap();
    let mut r = v.regs();
    r.rip = ip;
    r.rsp = 0x7000;
    v.set_regs(&r);
    v
}

/// A 64-bit vCPU with identity paging of the first 1 GiB (2 MiB pages at 0x1000..0x3fff).
pub(crate) fn long_cpu(mem: &mut VecMem, rip: u64) -> Vcpu {
    let (pml4, pdpt, pd) = (0x1000u64, 0x2000u64, 0x3000u64);
    mem.put(pml4, &(pdpt | 7).to_le_bytes());
    mem.put(pdpt, &(pd | 7).to_le_bytes());
    for i in 0..512u64 {
        mem.put(pd + i * 8, &((i << 21) | 0x87).to_le_bytes());
    }
    let gdt: [u64; 3] = [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff];
    for (i, d) in gdt.iter().enumerate() {
        mem.put(0x500 + i as u64 * 8, &d.to_le_bytes());
    }
    let mut v = Vcpu::new();
    let s = KvmSregs {
        gdt: hv::abi::x86::KvmDtable {
            base: 0x500,
            limit: 23,
            padding: [0; 3],
        },
        cs: flat(8, true, true),
        ds: flat(16, false, false),
        es: flat(16, false, false),
        fs: flat(16, false, false),
        gs: flat(16, false, false),
        ss: flat(16, false, false),
        tr: KvmSegment {
            type_: 0xb,
            present: 1,
            limit: 0x67,
            ..KvmSegment::default()
        },
        ldt: KvmSegment {
            type_: 2,
            present: 1,
            limit: 0xffff,
            ..KvmSegment::default()
        },
        cr0: 0x8000_0011,
        cr3: pml4,
        cr4: 0x20,
        efer: 0x500,
        ..KvmSregs::default()
    };
    v.set_sregs(&s).unwrap();
    v.set_regs(&KvmRegs {
        rip,
        rsp: 0x8_0000,
        rflags: 2,
        ..KvmRegs::default()
    });
    v
}

fn out_exit(e: Exit) -> (u16, u64) {
    match e {
        Exit::Io {
            port,
            write: true,
            data,
            size,
        } => (port, mem::le(&data[..usize::from(size)])),
        e => panic!("expected OUT, got {e:?}"),
    }
}

#[test]
fn reset_state() {
    let v = Vcpu::new();
    let s = v.sregs();
    assert_eq!(
        (s.cs.selector, s.cs.base, s.cs.limit),
        (0xf000, 0xffff_0000, 0xffff)
    );
    assert_eq!(v.regs().rip, 0xfff0);
    assert_eq!(v.regs().rflags, 2);
    assert_eq!(s.cr0, 0x6000_0010);
    assert_eq!(v.regs().rdx, 0x600);
}

#[test]
fn real_mode_io_and_hlt() {
    let mut m = VecMem::new(0x10000);
    let code = asm(16, 0x7c00, |a| {
        a.mov(ax, 0x1234).unwrap();
        a.add(ax, 0x1111).unwrap();
        a.out(0x10, al).unwrap();
        a.in_(al, 0x60).unwrap();
        a.mov(dx, 0x3f8).unwrap();
        a.out(dx, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x7c00, &code);
    let mut v = real_cpu(0x7c00);
    assert_eq!(out_exit(v.run(&mut m, 1000, false)), (0x10, 0x45));
    assert_eq!(
        v.run(&mut m, 1000, false),
        Exit::Io {
            port: 0x60,
            size: 1,
            write: false,
            data: [0; 8]
        }
    );
    v.complete(&[0x5a]);
    assert_eq!(out_exit(v.run(&mut m, 1000, false)), (0x3f8, 0x5a));
    assert_eq!(v.run(&mut m, 1000, false), Exit::Hlt);
    assert_eq!(v.run(&mut m, 1, false), Exit::Budget);
}

#[test]
fn mmio_read_and_write() {
    let mut m = VecMem::new(0x10000);
    let code = asm(64, 0x4000, |a| {
        a.mov(rbx, 0x3000_0000u64).unwrap();
        a.mov(eax, dword_ptr(rbx + 8)).unwrap();
        a.add(eax, 1).unwrap();
        a.mov(dword_ptr(rbx + 16), eax).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4000, &code);
    let mut v = long_cpu(&mut m, 0x4000);
    assert_eq!(
        v.run(&mut m, 100, false),
        Exit::Mmio {
            gpa: 0x3000_0008,
            len: 4,
            write: false,
            data: [0; 8]
        }
    );
    v.complete(&0x41u32.to_le_bytes());
    match v.run(&mut m, 100, false) {
        Exit::Mmio {
            gpa: 0x3000_0010,
            len: 4,
            write: true,
            data,
        } => assert_eq!(&data[..4], &0x42u32.to_le_bytes()),
        e => panic!("{e:?}"),
    }
    assert_eq!(v.run(&mut m, 100, false), Exit::Hlt);
}

#[test]
fn boot_real_to_protected_to_long() {
    let mut m = VecMem::new(0x20_0000);
    // GDT at 0x500: null, 32-bit code (8), data (16), 64-bit code (24).
    let gdt: [u64; 4] = [
        0,
        0x00cf_9a00_0000_ffff,
        0x00cf_9200_0000_ffff,
        0x00af_9a00_0000_ffff,
    ];
    for (i, d) in gdt.iter().enumerate() {
        m.put(0x500 + i as u64 * 8, &d.to_le_bytes());
    }
    m.put(0x600, &[31, 0]);
    m.put(0x602, &0x500u32.to_le_bytes());
    // Page tables for long mode: identity 2 MiB pages.
    m.put(0x1000, &(0x2003u64).to_le_bytes());
    m.put(0x2000, &(0x3003u64).to_le_bytes());
    m.put(0x3000, &(0x83u64).to_le_bytes());
    let real = asm(16, 0x7c00, |a| {
        a.cli().unwrap();
        a.lgdt(ptr(0x600)).unwrap();
        a.mov(eax, cr0).unwrap();
        a.or(eax, 1).unwrap();
        a.mov(cr0, eax).unwrap();
        a.db(&[0x66, 0xea]).unwrap();
        a.dd(&[0x8000]).unwrap();
        a.dw(&[8]).unwrap();
    });
    m.put(0x7c00, &real);
    let prot = asm(32, 0x8000, |a| {
        a.mov(ax, 16).unwrap();
        a.mov(ds, ax).unwrap();
        a.mov(ss, ax).unwrap();
        a.mov(esp, 0x9000).unwrap();
        a.mov(eax, 0x32).unwrap();
        a.out(0x80, al).unwrap();
        a.mov(eax, 0x1000).unwrap();
        a.mov(cr3, eax).unwrap();
        a.mov(eax, cr4).unwrap();
        a.or(eax, 0x20).unwrap();
        a.mov(cr4, eax).unwrap();
        a.mov(ecx, 0xc000_0080u32).unwrap();
        a.rdmsr().unwrap();
        a.or(eax, 0x100).unwrap();
        a.wrmsr().unwrap();
        a.mov(eax, cr0).unwrap();
        a.or(eax, 0x8000_0000u32).unwrap();
        a.mov(cr0, eax).unwrap();
        a.db(&[0xea]).unwrap();
        a.dd(&[0x9000]).unwrap();
        a.dw(&[24]).unwrap();
    });
    m.put(0x8000, &prot);
    let long = asm(64, 0x9000, |a| {
        a.mov(rax, 0x1_0000_0064u64).unwrap();
        a.push(rax).unwrap();
        a.pop(rbx).unwrap();
        a.shr(rbx, 32).unwrap();
        a.lea(eax, ptr(rbx + 0x63)).unwrap();
        a.out(0x80, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x9000, &long);
    let mut v = real_cpu(0x7c00);
    assert_eq!(out_exit(v.run(&mut m, 1000, false)), (0x80, 0x32));
    assert_eq!(out_exit(v.run(&mut m, 1000, false)), (0x80, 0x64));
    let s = v.sregs();
    assert_eq!(s.efer & 0x500, 0x500);
    assert_eq!(s.cs.l, 1);
    assert_eq!(v.run(&mut m, 1000, false), Exit::Hlt);
}

#[test]
fn real_mode_divide_error_through_ivt() {
    let mut m = VecMem::new(0x10000);
    // IVT[0] -> 0:0x7e00, which outputs and halts.
    m.put(0, &0x7e00u32.to_le_bytes());
    let handler = asm(16, 0x7e00, |a| {
        a.mov(al, 0xde).unwrap();
        a.out(0x80, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x7e00, &handler);
    let code = asm(16, 0x7c00, |a| {
        a.xor(cl, cl).unwrap();
        a.div(cl).unwrap();
    });
    m.put(0x7c00, &code);
    let mut v = real_cpu(0x7c00);
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x80, 0xde));
    // The frame holds the faulting IP (0x7c02).
    assert_eq!(&m.0[0x6ffa..0x6ffc], &0x7c02u16.to_le_bytes());
}

/// A 64-bit IDT at 0x5000 whose vector `v` gate points at `target`.
fn idt64(m: &mut VecMem, v: &mut Vcpu, vec: u8, target: u64) {
    let lo = (target & 0xffff) | (8 << 16) | (0x8eu64 << 40) | (((target >> 16) & 0xffff) << 48);
    let hi = target >> 32;
    m.put(0x5000 + u64::from(vec) * 16, &lo.to_le_bytes());
    m.put(0x5008 + u64::from(vec) * 16, &hi.to_le_bytes());
    let mut s = v.sregs();
    s.idt.base = 0x5000;
    s.idt.limit = 0xfff;
    v.set_sregs(&s).unwrap();
}

#[test]
fn long_mode_page_fault_and_triple_fault() {
    let mut m = VecMem::new(0x10_0000);
    let code = asm(64, 0x4000, |a| {
        // Unmap the 2 MiB page at 2 MiB and touch it.
        a.mov(qword_ptr(0x3008), 0).unwrap();
        a.mov(rax, qword_ptr(0x20_0010)).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4000, &code);
    let handler = asm(64, 0x4800, |a| {
        a.pop(rax).unwrap();
        a.mov(rbx, cr2).unwrap();
        a.out(0x80, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4800, &handler);
    let mut v = long_cpu(&mut m, 0x4000);
    idt64(&mut m, &mut v, 14, 0x4800);
    assert_eq!(out_exit(v.run(&mut m, 100, false)).1, 0);
    assert_eq!(v.regs().rbx, 0x20_0010);
    assert_eq!(v.sregs().cr2, 0x20_0010);
    // With no IDT at all, the same fault is a triple fault.
    let mut v = long_cpu(&mut m, 0x4000);
    m.put(0x3008, &((1u64 << 21) | 0x87).to_le_bytes());
    assert_eq!(v.run(&mut m, 100, false), Exit::Shutdown);
}

#[test]
fn interrupts_sti_shadow_hlt_and_window() {
    let mut m = VecMem::new(0x10_0000);
    let code = asm(64, 0x4000, |a| {
        a.sti().unwrap();
        a.hlt().unwrap();
        a.mov(al, 2).unwrap();
        a.out(0x80, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4000, &code);
    let handler = asm(64, 0x4800, |a| {
        a.mov(al, 1).unwrap();
        a.out(0x80, al).unwrap();
        a.iretq().unwrap();
    });
    m.put(0x4800, &handler);
    let mut v = long_cpu(&mut m, 0x4000);
    idt64(&mut m, &mut v, 0x20, 0x4800);
    assert_eq!(v.run(&mut m, 100, false), Exit::Hlt);
    assert!(v.ready_for_interrupt());
    v.queue_interrupt(0x20).unwrap();
    assert_eq!(v.queue_interrupt(0x21), Err(InterruptPending));
    assert_eq!(v.sregs().interrupt_bitmap[0], 1 << 0x20);
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x80, 1));
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x80, 2));
    assert_eq!(v.run(&mut m, 100, false), Exit::Hlt);
    assert_eq!(v.run(&mut m, 100, true), Exit::IrqWindowOpen);
}

#[test]
fn rep_movs_and_budget() {
    let mut m = VecMem::new(0x10_0000);
    for i in 0..0x100u32 {
        m.0[0x6000 + i as usize] = i as u8;
    }
    let code = asm(64, 0x4000, |a| {
        a.mov(esi, 0x6000).unwrap();
        a.mov(edi, 0x7000).unwrap();
        a.mov(ecx, 0x100).unwrap();
        a.rep().movsb().unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4000, &code);
    let mut v = long_cpu(&mut m, 0x4000);
    assert_eq!(v.run(&mut m, 50, false), Exit::Budget);
    assert_eq!(v.run(&mut m, 1000, false), Exit::Hlt);
    assert_eq!(&m.0[0x7000..0x7100], &m.0[0x6000..0x6100]);
    assert_eq!(v.regs().rcx, 0);
}

#[test]
fn set_sregs_rejects_nonsense() {
    let mut v = Vcpu::new();
    let mut s = v.sregs();
    s.cr0 |= 1 << 31;
    assert_eq!(v.set_sregs(&s), Err(InvalidState));
    let mut s = v.sregs();
    s.efer = 0x400;
    assert_eq!(v.set_sregs(&s), Err(InvalidState));
    let mut s = v.sregs();
    s.interrupt_bitmap[1] = 1 << 3;
    s.apic_base = 0xfee0_0d00;
    v.set_sregs(&s).unwrap();
    assert_eq!(v.sregs(), s);
}

#[test]
fn ud_for_unknown_and_self_modifying_code() {
    let mut m = VecMem::new(0x10_0000);
    let code = asm(64, 0x4000, |a| {
        // Overwrite the next instruction (a UD2) with OUT 0x80, AL; NOP.
        a.mov(word_ptr(0x4010), 0x80e6).unwrap();
        a.jmp(0x4010).unwrap();
    });
    m.put(0x4000, &code);
    m.put(0x4010, &[0x0f, 0x0b, 0xf4]);
    let mut v = long_cpu(&mut m, 0x4010);
    // First run hits UD2 with no IDT: shutdown. Then the patched code runs.
    assert_eq!(v.run(&mut m, 10, false), Exit::Shutdown);
    let mut v = long_cpu(&mut m, 0x4000);
    assert_eq!(out_exit(v.run(&mut m, 10, false)).0, 0x80);
    let _ = m.u64(0);
}

mod paging;
mod privilege;

#[test]
fn vcpu_stays_small() {
    // The kernel may build a Vcpu on a small stack: the big tables live on the heap.
    assert!(core::mem::size_of::<Vcpu>() < 4096);
    // A decode-cache entry's hot part is one cache line.
    assert_eq!(core::mem::size_of::<crate::fast::Fast>(), 32);
}

#[test]
fn interrupt_taken_right_after_sti_shadow_and_single_step() {
    let mut m = VecMem::new(0x10_0000);
    let code = asm(64, 0x4000, |a| {
        a.sti().unwrap();
        a.inc(ecx).unwrap();
        a.inc(ecx).unwrap();
        a.inc(ecx).unwrap();
        a.jmp(0x4000 + 1).unwrap();
    });
    m.put(0x4000, &code);
    let handler = asm(64, 0x4800, |a| {
        a.mov(eax, ecx).unwrap();
        a.out(0x80, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4800, &handler);
    let mut v = long_cpu(&mut m, 0x4000);
    idt64(&mut m, &mut v, 0x30, 0x4800);
    idt64(&mut m, &mut v, 1, 0x4800);
    // Warm the decode cache so the fast path is taken.
    v.queue_interrupt(0x30).unwrap();
    let mut r = v.regs();
    r.rflags = 2;
    v.set_regs(&r);
    // STI's shadow covers exactly one instruction: one INC runs, then the interrupt.
    assert_eq!(out_exit(v.run(&mut m, 1000, false)), (0x80, 1));
    // With TF set, #DB comes after one instruction.
    let mut v = long_cpu(&mut m, 0x4001);
    idt64(&mut m, &mut v, 1, 0x4800);
    let mut r = v.regs();
    r.rflags = 2 | 0x100;
    v.set_regs(&r);
    assert_eq!(out_exit(v.run(&mut m, 1000, false)), (0x80, 1));
    assert_eq!(v.sregs().cr0 & 1, 1);
}

#[test]
fn page_crossing_mmio_read_and_ram_mmio_write() {
    let mut m = VecMem::new(0x10_0000);
    let code = asm(64, 0x4000, |a| {
        a.mov(rbx, 0x3000_0ffeu64).unwrap();
        a.mov(eax, dword_ptr(rbx)).unwrap();
        // RAM up to 0xfffff, MMIO from 0x100000.
        a.mov(rcx, 0xf_fffeu64).unwrap();
        a.mov(dword_ptr(rcx), eax).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4000, &code);
    // Map 0x100000 (past RAM) too: the identity map covers it already.
    let mut v = long_cpu(&mut m, 0x4000);
    let read = |gpa, len| Exit::Mmio {
        gpa,
        len,
        write: false,
        data: [0; 8],
    };
    assert_eq!(v.run(&mut m, 100, false), read(0x3000_0ffe, 2));
    v.complete(&[0x11, 0x22]);
    assert_eq!(v.run(&mut m, 100, false), read(0x3000_1000, 2));
    v.complete(&[0x33, 0x44]);
    match v.run(&mut m, 100, false) {
        Exit::Mmio {
            gpa: 0x10_0000,
            len: 2,
            write: true,
            data,
        } => assert_eq!(&data[..2], &[0x33, 0x44]),
        e => panic!("{e:?}"),
    }
    assert_eq!(v.regs().rax, 0x4433_2211);
    assert_eq!(&m.0[0xf_fffe..], &[0x11, 0x22]);
    assert_eq!(v.run(&mut m, 100, false), Exit::Hlt);
}
