//! Guest paging: 32-bit with 4 KiB and 4 MiB pages, PAE with NX, accessed/dirty bits, #PF
//! error codes and MMIO behind a mapping.

use super::*;

/// 32-bit protected mode with a flat GDT at 0x500, a 32-bit IDT at 0x5800 whose #PF gate
/// goes to 0x6000, and paging from `cr3` (with WP).
fn prot_paged(m: &mut VecMem, rip: u64, page_root: u64, cr4_bits: u64, efer: u64) -> Vcpu {
    let gdt: [u64; 3] = [0, 0x00cf_9b00_0000_ffff, 0x00cf_9300_0000_ffff];
    for (i, d) in gdt.iter().enumerate() {
        m.put(0x500 + i as u64 * 8, &d.to_le_bytes());
    }
    let stub = 0x6000u64;
    let gate = (stub & 0xffff) | (8 << 16) | (0x8eu64 << 40) | ((stub >> 16) << 48);
    m.put(0x5800 + 14 * 8, &gate.to_le_bytes());
    let handler = asm(32, stub, |a| {
        a.pop(ebx).unwrap();
        a.mov(eax, cr2).unwrap();
        a.out(0x80, eax).unwrap();
        a.hlt().unwrap();
    });
    m.put(stub, &handler);
    let mut v = Vcpu::new();
    let d = KvmSegment {
        selector: 16,
        ..flat(16, false, false)
    };
    let s = KvmSregs {
        cs: flat(8, true, false),
        ds: d,
        es: d,
        fs: d,
        gs: d,
        ss: d,
        tr: KvmSegment {
            type_: 0xb,
            present: 1,
            limit: 0x67,
            ..KvmSegment::default()
        },
        gdt: hv::abi::x86::KvmDtable {
            base: 0x500,
            limit: 23,
            padding: [0; 3],
        },
        idt: hv::abi::x86::KvmDtable {
            base: 0x5800,
            limit: 0xff,
            padding: [0; 3],
        },
        cr0: 0x8001_0011,
        cr3: page_root,
        cr4: cr4_bits,
        efer,
        ..KvmSregs::default()
    };
    v.set_sregs(&s).unwrap();
    v.set_regs(&KvmRegs {
        rip,
        rsp: 0x9000,
        rflags: 2,
        ..KvmRegs::default()
    });
    v
}

#[test]
fn paging_32bit_pse_ad_bits_and_write_protect() {
    let mut m = VecMem::new(0x10_0000);
    let (pd, pt0, pt1) = (0x10000u64, 0x11000u64, 0x12000u64);
    m.put(pd, &((pt0 | 3) as u32).to_le_bytes());
    for i in 0..256u64 {
        m.put(pt0 + i * 4, &(((i << 12) | 3) as u32).to_le_bytes());
    }
    // 0x40000000 -> 0x20000 (RW), 0x40001000 -> 0x21000 (read-only).
    m.put(pd + 256 * 4, &((pt1 | 3) as u32).to_le_bytes());
    m.put(pt1, &(0x20003u32).to_le_bytes());
    m.put(pt1 + 4, &(0x21001u32).to_le_bytes());
    // 0x40400000: a 4 MiB page at 0x400000, past RAM (MMIO).
    m.put(pd + 257 * 4, &(0x40_0083u32).to_le_bytes());
    m.put(0x21000, &0x55u32.to_le_bytes());
    let code = asm(32, 0x4000, |a| {
        a.mov(dword_ptr(0x4000_0010), 0x1234).unwrap();
        a.mov(ecx, dword_ptr(0x4000_0010)).unwrap();
        a.mov(edx, dword_ptr(0x4000_1000)).unwrap();
        a.mov(esi, dword_ptr(0x4040_1000)).unwrap();
        a.mov(dword_ptr(0x4000_1000), 1).unwrap();
    });
    m.put(0x4000, &code);
    let mut v = prot_paged(&mut m, 0x4000, pd, 0x10, 0);
    assert_eq!(
        v.run(&mut m, 100, false),
        Exit::Mmio {
            gpa: 0x40_1000,
            len: 4,
            write: false,
            data: [0; 8]
        }
    );
    v.complete(&[9, 0, 0, 0]);
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x80, 0x4000_1000));
    let r = v.regs();
    assert_eq!((r.rcx, r.rdx, r.rsi, r.rbx), (0x1234, 0x55, 9, 3));
    assert_eq!(m.0[0x20010], 0x34);
    // Accessed and dirty bits: the RW page is dirty, the read-only one only accessed.
    assert_eq!(m.0[pt1 as usize] & 0x60, 0x60);
    assert_eq!(m.0[pt1 as usize + 4] & 0x60, 0x20);
    assert_eq!(m.0[pd as usize + 256 * 4] & 0x20, 0x20);
}

#[test]
fn pae_nx_fetch_fault() {
    let mut m = VecMem::new(0x10_0000);
    let (pdpt, pd) = (0x10000u64, 0x11000u64);
    m.put(pdpt, &(pd | 1).to_le_bytes());
    m.put(pd, &0x83u64.to_le_bytes());
    m.put(pd + 8, &(0x20_0083u64 | (1 << 63)).to_le_bytes());
    let code = asm(32, 0x4000, |a| {
        a.mov(eax, 0x20_0000).unwrap();
        a.jmp(eax).unwrap();
    });
    m.put(0x4000, &code);
    let mut v = prot_paged(&mut m, 0x4000, pdpt, 0x20, 0x800);
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x80, 0x20_0000));
    assert_eq!(v.regs().rbx, 0x11);
    // Without EFER.NXE the XD bit is reserved; here it is simply ignored.
    let _ = v;
}
