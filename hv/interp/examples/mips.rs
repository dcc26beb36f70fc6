//! Host-native speed of the interpreter: a 64-bit guest compute loop (ALU, loads, stores,
//! a taken branch) under identity paging. `cargo run --release -p hv-interp --example mips`.

#[allow(dead_code)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::{VecMem, flat};
use hv::abi::x86::{KvmSegment, KvmSregs};
use hv_interp::{Exit, KvmRegs, Vcpu};
use std::time::Instant;

fn main() {
    let mut ram = VecMem::new(4 << 20);
    ram.put(0x1000, &0x2003u64.to_le_bytes());
    ram.put(0x2000, &0x3003u64.to_le_bytes());
    ram.put(0x3000, &0x83u64.to_le_bytes());
    // 0x10000: mov ecx, N; l: add rax, rcx; mov [0x20000+rcx*8&..], rax; xor rdx, rax;
    //          mov rbx, [rsi]; dec ecx; jnz l; hlt
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000_000);
    let mut code = vec![0xb9];
    code.extend_from_slice(&n.to_le_bytes());
    code.extend_from_slice(&[
        0xbe, 0x00, 0x00, 0x02, 0x00, // mov esi, 0x20000
        0x48, 0x01, 0xc8, // l: add rax, rcx
        0x48, 0x89, 0x06, // mov [rsi], rax
        0x48, 0x31, 0xc2, // xor rdx, rax
        0x48, 0x8b, 0x1e, // mov rbx, [rsi]
        0xff, 0xc9, // dec ecx
        0x75, 0xf0, // jnz l
        0xf4, // hlt
    ]);
    ram.put(0x10000, &code);
    let mut v = Vcpu::new();
    let d = flat(0x10, false, false);
    let s = KvmSregs {
        cs: flat(8, true, true),
        ds: d,
        es: d,
        ss: d,
        fs: d,
        gs: d,
        tr: KvmSegment {
            type_: 0xb,
            present: 1,
            limit: 0x67,
            ..KvmSegment::default()
        },
        cr0: 0x8000_0011,
        cr3: 0x1000,
        cr4: 0x20,
        efer: 0x500,
        ..KvmSregs::default()
    };
    v.set_sregs(&s).expect("sregs");
    v.set_regs(&KvmRegs {
        rip: 0x10000,
        rsp: 0x8_0000,
        rflags: 2,
        ..KvmRegs::default()
    });
    let (n1, wall1, cpu1) = measure(&mut v, &mut ram);
    println!("compute loop: {n1} instructions in {wall1:.3} s wall, {cpu1:.3} s on CPU");
    println!("wall-clock MIPS: {:.0}", n1 as f64 / wall1 / 1e6);
    // CPU time of this thread: the figure that does not depend on other load on the host.
    println!("interp MIPS: {:.0}", n1 as f64 / cpu1 / 1e6);

    // A mixed loop: CALL/RET, PUSH/POP, MOVZX, a shift, SETcc, REP STOSB of 16 bytes.
    let mut code = vec![0xb9];
    code.extend_from_slice(&(n / 4).to_le_bytes());
    code.extend_from_slice(&[
        0xe8, 0x02, 0x00, 0x00, 0x00, // l: call f
        0xeb, 0x1c, // jmp tail
        0x51, // f: push rcx
        0x0f, 0xb6, 0xc1, // movzx eax, cl
        0xc1, 0xe0, 0x03, // shl eax, 3
        0x0f, 0x94, 0xc2, // sete dl
        0xbf, 0x00, 0x00, 0x03, 0x00, // mov edi, 0x30000
        0x51, // push rcx
        0xb9, 0x10, 0x00, 0x00, 0x00, // mov ecx, 16
        0xf3, 0xaa, // rep stosb
        0x59, // pop rcx
        0x59, // pop rcx
        0xc3, // ret
        0x90, 0x90, // padding to tail
        0xff, 0xc9, // tail: dec ecx
        0x75, 0xd9, // jnz l
        0xf4, // hlt
    ]);
    ram.put(0x10000, &code);
    v.set_regs(&KvmRegs {
        rip: 0x10000,
        rsp: 0x8_0000,
        rflags: 2,
        ..KvmRegs::default()
    });
    let before = v.retired();
    let (n2, wall2, cpu2) = measure(&mut v, &mut ram);
    let n2 = n2 - before;
    println!("mixed loop: {n2} instructions, {cpu2:.3} s on CPU, {wall2:.3} s wall");
    println!("mixed-loop MIPS: {:.0}", n2 as f64 / cpu2 / 1e6);
}

/// Runs to HLT: (retired instructions, wall seconds, CPU seconds).
fn measure(v: &mut Vcpu, ram: &mut VecMem) -> (u64, f64, f64) {
    let t = Instant::now();
    let c = cpu_time();
    loop {
        match v.run(ram, 10_000_000, false) {
            Exit::Budget => continue,
            Exit::Hlt => break,
            e => panic!("unexpected exit {e:?}"),
        }
    }
    (v.retired(), t.elapsed().as_secs_f64(), cpu_time() - c)
}

/// Seconds of CPU time this thread has used.
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux knows.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime");
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}
