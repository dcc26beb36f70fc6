//! Ring changes: interrupts from CPL 3 through the TSS, IRETQ outward, #GP for privileged
//! instructions in user mode, SYSCALL/SYSRET, MSRs and CPUID.

use super::*;

/// 64-bit GDT at 0x500: kernel code 8, kernel data 0x10, user data 0x1b, user code 0x23.
fn ring_gdt(m: &mut VecMem, v: &mut Vcpu) {
    let gdt: [u64; 5] = [
        0,
        0x00af_9b00_0000_ffff,
        0x00cf_9300_0000_ffff,
        0x00cf_f300_0000_ffff,
        0x00af_fb00_0000_ffff,
    ];
    for (i, d) in gdt.iter().enumerate() {
        m.put(0x500 + i as u64 * 8, &d.to_le_bytes());
    }
    let mut s = v.sregs();
    s.gdt.limit = 39;
    // A 64-bit TSS at 0x7000 whose RSP0 is 0x9000.
    s.tr = KvmSegment {
        base: 0x7000,
        limit: 0x67,
        type_: 0xb,
        present: 1,
        ..KvmSegment::default()
    };
    m.put(0x7004, &0x9000u64.to_le_bytes());
    // No I/O permission bitmap (its base is past the limit).
    m.put(0x7066, &0x68u16.to_le_bytes());
    v.set_sregs(&s).unwrap();
}

/// Gate `vec` of a 64-bit IDT at 0x5000 to `target` with DPL `dpl`.
fn gate64(m: &mut VecMem, v: &mut Vcpu, vec: u8, target: u64, dpl: u64) {
    let lo = (target & 0xffff)
        | (8 << 16)
        | ((0x8e | (dpl << 5)) << 40)
        | (((target >> 16) & 0xffff) << 48);
    m.put(0x5000 + u64::from(vec) * 16, &lo.to_le_bytes());
    m.put(0x5008 + u64::from(vec) * 16, &(target >> 32).to_le_bytes());
    let mut s = v.sregs();
    s.idt.base = 0x5000;
    s.idt.limit = 0xfff;
    v.set_sregs(&s).unwrap();
}

#[test]
fn user_mode_interrupts_and_iret() {
    let mut m = VecMem::new(0x10_0000);
    let kernel = asm(64, 0x4000, |a| {
        a.push(0x1b).unwrap();
        a.push(0x6000).unwrap();
        a.push(0x202).unwrap();
        a.push(0x23).unwrap();
        a.push(0x4400).unwrap();
        a.iretq().unwrap();
    });
    m.put(0x4000, &kernel);
    let user = asm(64, 0x4400, |a| {
        a.int(0x80).unwrap();
        a.mov(al, 7).unwrap();
        a.out(0x80, al).unwrap();
    });
    m.put(0x4400, &user);
    let syscall_handler = asm(64, 0x4800, |a| {
        a.mov(rbx, qword_ptr(rsp + 24)).unwrap();
        a.mov(rcx, qword_ptr(rsp + 32)).unwrap();
        a.mov(rdx, rsp).unwrap();
        a.out(0x80, al).unwrap();
        a.iretq().unwrap();
    });
    m.put(0x4800, &syscall_handler);
    let gp_handler = asm(64, 0x4900, |a| {
        a.pop(rax).unwrap();
        a.out(0x81, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4900, &gp_handler);
    let mut v = long_cpu(&mut m, 0x4000);
    ring_gdt(&mut m, &mut v);
    gate64(&mut m, &mut v, 0x80, 0x4800, 3);
    gate64(&mut m, &mut v, 13, 0x4900, 0);
    assert_eq!(out_exit(v.run(&mut m, 100, false)).0, 0x80);
    let r = v.regs();
    assert_eq!((r.rbx, r.rcx, r.rdx), (0x6000, 0x1b, 0x9000 - 40));
    assert_eq!(v.cpl(), 0);
    // Back in user mode, OUT with IOPL 0 is #GP(0).
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x81, 0));
    assert_eq!(v.sregs().cs.selector, 8);
    assert_eq!(v.regs().rflags & 0x200, 0);
}

#[test]
fn syscall_sysret_round_trip() {
    let mut m = VecMem::new(0x10_0000);
    let kernel = asm(64, 0x4000, |a| {
        a.mov(ecx, 0x4400).unwrap();
        a.mov(r11d, 0x2).unwrap();
        a.sysretq().unwrap();
    });
    m.put(0x4000, &kernel);
    let user = asm(64, 0x4400, |a| {
        a.mov(eax, 60).unwrap();
        a.syscall().unwrap();
    });
    m.put(0x4400, &user);
    let entry = asm(64, 0x4800, |a| {
        a.out(0x80, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4800, &entry);
    let mut v = long_cpu(&mut m, 0x4000);
    ring_gdt(&mut m, &mut v);
    assert!(v.set_msr(0xc000_0080, 0xd01));
    assert!(v.set_msr(0xc000_0081, (0x10u64 << 48) | (8 << 32)));
    assert!(v.set_msr(0xc000_0082, 0x4800));
    assert!(v.set_msr(0xc000_0084, 0x200));
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x80, 60));
    let r = v.regs();
    assert_eq!(r.rcx, 0x4400 + 7);
    assert_eq!(v.cpl(), 0);
    assert_eq!(v.sregs().cs.selector, 8);
    assert_eq!(v.sregs().ss.selector, 0x10);
    assert_eq!(v.msr(0xc000_0082), Some(0x4800));
    assert!(!v.set_msr(0x1234, 0));
    assert!(!v.set_msr(0xc000_0082, 0x8000_0000_0000_0000));
}

#[test]
fn wrmsr_unknown_is_gp_and_cpuid_default() {
    let mut m = VecMem::new(0x10_0000);
    let code = asm(64, 0x4000, |a| {
        a.xor(eax, eax).unwrap();
        a.cpuid().unwrap();
        a.mov(ecx, 0x1234).unwrap();
        a.wrmsr().unwrap();
    });
    m.put(0x4000, &code);
    let handler = asm(64, 0x4800, |a| {
        a.out(0x80, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4800, &handler);
    let mut v = long_cpu(&mut m, 0x4000);
    gate64(&mut m, &mut v, 13, 0x4800, 0);
    let (_, low) = out_exit(v.run(&mut m, 100, false));
    assert_eq!(low & 0xff, 7);
    assert_eq!(v.regs().rbx, 0x756e_6547);
    assert!(!msr_index_list().is_empty());
    assert!(supported_cpuid().iter().any(|e| e.function == 0x8000_0001));
}

#[test]
fn lar_lsl_verr_verw() {
    let mut m = VecMem::new(0x10_0000);
    let code = asm(64, 0x4000, |a| {
        a.mov(ecx, 0x10).unwrap();
        a.lsl(eax, ecx).unwrap();
        a.mov(ecx, 8).unwrap();
        a.lar(ebx, ecx).unwrap();
        a.verw(cx).unwrap();
        a.setz(dl).unwrap();
        a.mov(ecx, 0x40).unwrap();
        a.lsl(esi, ecx).unwrap();
        a.setz(dh).unwrap();
        a.mov(ecx, 0x10).unwrap();
        a.verw(cx).unwrap();
        a.setz(cl).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4000, &code);
    let mut v = long_cpu(&mut m, 0x4000);
    assert_eq!(v.run(&mut m, 100, false), Exit::Hlt);
    let r = v.regs();
    assert_eq!(r.rax, 0xffff_ffff);
    assert_eq!(r.rbx, 0x00a0_9b00);
    assert_eq!(r.rdx & 0xffff, 0);
    assert_eq!(r.rcx & 0xff, 1);
}

#[test]
fn double_fault_on_ist_stack() {
    let mut m = VecMem::new(0x10_0000);
    // The kernel stack points at an unmapped address: the #PF from the load cannot push
    // its frame, which makes a #DF, delivered on IST1.
    let code = asm(64, 0x4000, |a| {
        a.mov(rsp, 0x8000_0000u64).unwrap();
        a.mov(rax, qword_ptr(0x4000_0000u64)).unwrap();
    });
    m.put(0x4000, &code);
    let handler = asm(64, 0x4800, |a| {
        a.pop(rbx).unwrap();
        a.mov(rcx, rsp).unwrap();
        a.out(0x88, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4800, &handler);
    let mut v = long_cpu(&mut m, 0x4000);
    ring_gdt(&mut m, &mut v);
    gate64(&mut m, &mut v, 14, 0x4900, 0);
    gate64(&mut m, &mut v, 8, 0x4800, 0);
    // IST1 = 0xa000 for vector 8.
    m.put(0x5000 + 8 * 16 + 4, &[1]);
    m.put(0x7000 + 0x24, &0xa000u64.to_le_bytes());
    assert_eq!(out_exit(v.run(&mut m, 100, false)).0, 0x88);
    let r = v.regs();
    // Error code 0, then RIP, CS, RFLAGS, RSP, SS: the stack is 0xa000 - 6 * 8 + 8.
    assert_eq!((r.rbx, r.rcx), (0, 0xa000 - 40));
    assert_eq!(v.sregs().cr2, 0x8000_0000 - 8);
}

#[test]
fn io_permission_bitmap() {
    let mut m = VecMem::new(0x10_0000);
    let kernel = asm(64, 0x4000, |a| {
        a.push(0x1b).unwrap();
        a.push(0x6000).unwrap();
        a.push(0x2).unwrap();
        a.push(0x23).unwrap();
        a.push(0x4400).unwrap();
        a.iretq().unwrap();
    });
    m.put(0x4000, &kernel);
    let user = asm(64, 0x4400, |a| {
        a.mov(al, 5).unwrap();
        a.out(0x80, al).unwrap();
        a.out(0x81, al).unwrap();
    });
    m.put(0x4400, &user);
    let gp_handler = asm(64, 0x4900, |a| {
        a.mov(al, 0xd).unwrap();
        a.out(0x99, al).unwrap();
        a.hlt().unwrap();
    });
    m.put(0x4900, &gp_handler);
    let mut v = long_cpu(&mut m, 0x4000);
    ring_gdt(&mut m, &mut v);
    gate64(&mut m, &mut v, 13, 0x4900, 0);
    // A bitmap at TSS offset 0x68 covering ports 0-0xff: only port 0x80 allowed.
    m.put(0x7066, &0x68u16.to_le_bytes());
    m.put(0x7068, &[0xff; 32]);
    m.put(0x7068 + 0x10, &[0xfe]);
    let mut s = v.sregs();
    s.tr.limit = 0x68 + 32;
    v.set_sregs(&s).unwrap();
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x80, 5));
    assert_eq!(out_exit(v.run(&mut m, 100, false)), (0x99, 0xd));
}
