//! The x86_64 program of the user-mode test (see `user.rs` for what it does and why).
//!
//! Hand-assembled with GNU as 2.40 (`as --64`, Intel syntax) and checked with `objdump -d`;
//! the source is beside the bytes, offsets in the right column. Besides the steps `user.rs`
//! lists, the program keeps a value in XMM3 across all its exits and ends with exit code 98
//! if it changed: that checks the FXSAVE/FXRSTOR of the user FP state. `msg` is the end of
//! the code, where the test appends the message (so `lea` reaches it RIP-relative).
//!
//! Below the program: more x86_64 user-mode checks ([`hostile`], [`switching`]).

use super::user::{CODE_VA, DATA_VA, STACK_TOP, TestSpace};
use super::{Outcome, check};
use crate::memory::phys_to_virt;
use crate::{A, SCHED};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use arch_api::{Arch, PAGE_SIZE, PageFlags, UserContext as _, UserException, UserExit};

/// `write`, `getpid`, `exit_group` in the x86_64 Linux numbering.
pub const SYS_WRITE: usize = 1;
pub const SYS_GETPID: usize = 39;
pub const SYS_EXIT_GROUP: usize = 231;

/// Length of the undefined instruction (`ud2`) the test steps over.
pub const ILLEGAL_LEN: u64 = 2;

#[rustfmt::skip]
pub const CODE: &[u8] = &[
    0x48, 0xb8, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // 00: movabs rax, 0x0123456789abcdef
    0x66, 0x48, 0x0f, 0x6e, 0xd8,                               // 0a: movq xmm3, rax
    0xb8, 0x01, 0x00, 0x00, 0x00,                               // 0f: mov eax, 1          ; write
    0xbf, 0x01, 0x00, 0x00, 0x00,                               // 14: mov edi, 1
    0x48, 0x8d, 0x35, 0x6a, 0x00, 0x00, 0x00,                   // 19: lea rsi, [rip + msg]
    0xba, 0x10, 0x00, 0x00, 0x00,                               // 20: mov edx, 16
    0x0f, 0x05,                                                 // 25: syscall
    0x49, 0x89, 0xc4,                                           // 27: mov r12, rax
    0xb8, 0x27, 0x00, 0x00, 0x00,                               // 2a: mov eax, 39         ; getpid
    0x0f, 0x05,                                                 // 2f: syscall
    0x48, 0x3d, 0xd2, 0x04, 0x00, 0x00,                         // 31: cmp rax, 1234
    0x74, 0x07,                                                 // 37: je 1f
    0xbf, 0x63, 0x00, 0x00, 0x00,                               // 39: mov edi, 99
    0xeb, 0x41,                                                 // 3e: jmp 3f
    0x4c, 0x8b, 0x2c, 0x25, 0x00, 0x00, 0x60, 0x00,             // 40: 1: mov r13, qword ptr [0x600000]  ; LAZY_VA
    0x64, 0x4c, 0x8b, 0x34, 0x25, 0x00, 0x00, 0x00, 0x00,       // 48: mov r14, qword ptr fs:[0]   ; TLS = DATA_VA
    0x0f, 0x0b,                                                 // 51: ud2
    0xf3, 0x90,                                                 // 53: 2: pause
    0x64, 0x48, 0x83, 0x3c, 0x25, 0x08, 0x00, 0x00, 0x00, 0x00, // 55: cmp qword ptr fs:[8], 0
    0x74, 0xf2,                                                 // 5f: je 2b
    0x66, 0x48, 0x0f, 0x7e, 0xd8,                               // 61: movq rax, xmm3
    0x48, 0xb9, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // 66: movabs rcx, 0x0123456789abcdef
    0xbf, 0x62, 0x00, 0x00, 0x00,                               // 70: mov edi, 98
    0x48, 0x39, 0xc8,                                           // 75: cmp rax, rcx
    0x75, 0x07,                                                 // 78: jne 3f
    0x4b, 0x8d, 0x3c, 0x2c,                                     // 7a: lea rdi, [r12 + r13]
    0x4c, 0x01, 0xf7,                                           // 7e: add rdi, r14
    0xb8, 0xe7, 0x00, 0x00, 0x00,                               // 81: 3: mov eax, 231     ; exit_group
    0x0f, 0x05,                                                 // 86: syscall
    0x0f, 0x0b,                                                 // 88: ud2
                                                                // 8a: msg:
];

// ---------------------------------------------------------------------------------------------
// More x86_64 user-mode checks: hostile instructions, state the kernel changes between
// entries, and two user threads preempted by the tick. They are cases of their own
// (`user_hostile`, `user_switch`) once `ktest/mod.rs` lists them; until then nothing calls them.
// Each program is in its own fresh address space: code at CODE_VA, a data page at DATA_VA
// (the TLS base), a stack page below STACK_TOP.

type Ctx = <A as Arch>::UserContext;

/// A user address space holding one program.
struct Space {
    space: TestSpace,
    /// Physical address of the data page.
    data: u64,
}

impl Space {
    /// `code` at CODE_VA; the data page starts with `tls0` and holds `tls1` at offset 16.
    fn new(code: &[u8], tls0: u64, tls1: u64) -> Result<Space, String> {
        let mut space = TestSpace::new()?;
        let rx = PageFlags {
            write: false,
            exec: true,
            user: true,
            device: false,
            global: false,
        };
        let rw = PageFlags {
            exec: false,
            write: true,
            ..rx
        };
        let mut data = [0u8; 24];
        data[..8].copy_from_slice(&tls0.to_le_bytes());
        data[16..].copy_from_slice(&tls1.to_le_bytes());
        space.map(CODE_VA, rx, code)?;
        let data = space.map(DATA_VA, rw, &data)?;
        space.map(STACK_TOP - PAGE_SIZE, rw, &[])?;
        Ok(Space { space, data })
    }

    /// Set the word at `offset` of the data page (the program only reads it).
    fn poke(&self, offset: u64, value: u64) {
        // SAFETY: the data frame is ours and in the direct map; offset < 4096 - 8.
        unsafe { ((phys_to_virt(self.data) + offset) as *mut u64).write_volatile(value) };
    }

    /// Run `ctx` here until it exits for another reason than an interrupt. The root is
    /// activated with interrupts masked right before each entry: a preemption in between
    /// could leave another thread's root active.
    fn run(&self, ctx: &mut Ctx) -> UserExit {
        loop {
            let was = A::irq_save_disable();
            self.space.activate();
            let exit = A::run_user(ctx);
            A::irq_restore(was);
            if exit != UserExit::Interrupt {
                return exit;
            }
        }
    }
}

fn fresh() -> Ctx {
    let mut ctx = Ctx::new(CODE_VA, STACK_TOP);
    ctx.set_tls(DATA_VA);
    ctx
}

/// Run `code` from a fresh context changed by `setup`; the first non-interrupt exit.
fn run_one(code: &[u8], setup: impl FnOnce(&mut Ctx)) -> Result<(UserExit, Ctx), String> {
    let space = Space::new(code, 0, 0)?;
    let mut ctx = fresh();
    setup(&mut ctx);
    Ok((space.run(&mut ctx), ctx))
}

/// Every kind of user misbehaviour becomes an exit, never a kernel fault.
pub fn hostile() -> Outcome {
    use UserException::*;
    let gp = UserExit::Exception(ProtectionFault);
    let cases: [(&str, &[u8], UserExit, u64); 9] = [
        ("int 0x40", INT40, gp, 0),
        ("hlt", HLT, gp, 0),
        ("mov cr3", CR3, gp, 0),
        ("div by 0", DIV0, UserExit::Exception(DivideError), 2),
        ("int3", INT3, UserExit::Exception(Breakpoint), 1),
        (
            "x87 1/0 unmasked",
            X87_FAULT,
            UserExit::Exception(FloatingPoint),
            14,
        ),
        (
            "single step",
            SINGLE_STEP,
            UserExit::Exception(Breakpoint),
            11,
        ),
        (
            "jump to kernel text",
            JMP_KERNEL,
            UserExit::PageFault {
                addr: 0xffff_ffff_8020_0000,
                write: false,
                exec: true,
                present: true,
            },
            0xffff_ffff_8020_0000 - CODE_VA,
        ),
        (
            "write to the direct map",
            WRITE_KERNEL,
            UserExit::PageFault {
                addr: 0xffff_8000_0010_0000,
                write: true,
                exec: false,
                present: true,
            },
            10,
        ),
    ];
    for (name, code, want, ip) in cases {
        let (got, ctx) = run_one(code, |_| {})?;
        check(got == want && ctx.ip() == CODE_VA.wrapping_add(ip), || {
            format!(
                "{name}: {got:?} at {:#x}, expected {want:?} at +{ip:#x}",
                ctx.ip()
            )
        })?;
    }
    // Where CPUs differ (QEMU 7.2 TCG raises no #AC and no #XM, reports the #GP of a
    // non-canonical jump at the target; SYSENTER is #UD on AMD, #GP on Intel) any exception
    // will do, as long as the kernel survives and never re-enters at a non-canonical RIP.
    for (name, code) in [
        ("misaligned load with AC", ALIGN),
        ("SSE 1/0 unmasked", SSE_FAULT),
        ("jump to 2^47", JMP_NONCANON),
        ("sysenter", SYSENTER),
    ] {
        let (got, ctx) = run_one(code, |_| {})?;
        log::info!("{name}: {got:?} at {:#x}", ctx.ip());
        check(matches!(got, UserExit::Exception(_)), || {
            format!("{name}: {got:?}")
        })?;
        let again = run_one(code, |c| *c = ctx.clone())?.0;
        check(matches!(again, UserExit::Exception(_)), || {
            format!("{name} again: {again:?}")
        })?;
    }
    // SYSCALL from 32-bit code: an illegal instruction, reported at the instruction, and the
    // 32-bit mode survives in the context (a RIP beyond 4 GiB is then refused).
    let (got, ctx) = run_one(COMPAT_SYSCALL, |_| {})?;
    check(
        got == UserExit::Exception(IllegalInstruction) && ctx.ip() == CODE_VA + 6,
        || format!("compat syscall: {got:?} at {:#x}", ctx.ip()),
    )?;
    let (got, _) = run_one(HLT, |c| {
        *c = ctx.clone();
        c.set_ip(0x1_0040_0000);
    })?;
    check(got == gp, || format!("32-bit code above 4 GiB: {got:?}"))?;
    // Contexts the CPU would refuse in ring 0 are refused before entry.
    let bad: [(&str, u64, u64, u64); 4] = [
        ("rip 2^47", 1 << 47, STACK_TOP, 0),
        ("rip in the kernel", 0xffff_ffff_8020_0000, STACK_TOP, 0),
        ("rsp non-canonical", CODE_VA, 1 << 47, 0),
        ("tls non-canonical", CODE_VA, STACK_TOP, 1 << 47),
    ];
    for (name, ip, sp, tls) in bad {
        let (got, _) = run_one(HLT, |c| {
            c.set_ip(ip);
            c.set_sp(sp);
            c.set_tls(tls);
        })?;
        check(got == gp, || format!("{name}: {got:?}"))?;
    }
    let (got, _) = run_one(HLT, |c| {
        c.fx_mut().0[24..28].copy_from_slice(&u32::MAX.to_le_bytes());
        c.rflags = u64::MAX;
    })?;
    check(got == gp, || format!("all-ones MXCSR and RFLAGS: {got:?}"))?;
    flags_across_syscall()?;
    state_between_entries()?;
    syscall_cost()
}

/// NT and AC set by user code across a system call (NT would make the kernel's IRETQ fault).
fn flags_across_syscall() -> Outcome {
    let space = Space::new(NT_SYSCALL, 0, 0)?;
    let mut ctx = fresh();
    let first = space.run(&mut ctx);
    let second = space.run(&mut ctx);
    check(
        first == UserExit::Syscall && second == UserExit::Exception(UserException::ProtectionFault),
        || format!("NT: {first:?}, {second:?}"),
    )?;
    let space = Space::new(AC_SYSCALL, 0, 0)?;
    let mut ctx = fresh();
    let mut flags = 0;
    for _ in 0..2 {
        if space.run(&mut ctx) != UserExit::Syscall {
            return Err(String::from("AC program did not make its system calls"));
        }
        flags = ctx.syscall_args()[0];
        ctx.set_syscall_return(0);
    }
    check(flags & 0x4_0200 == 0x4_0200, || {
        format!("RFLAGS after a syscall with AC: {flags:#x}")
    })
}

/// TLS, FP state and RIP changed by the kernel between entries are what user code sees.
fn state_between_entries() -> Outcome {
    let space = Space::new(STATE, 100, 0x77)?;
    let mut ctx = fresh();
    let mut seen = Vec::new();
    loop {
        match space.run(&mut ctx) {
            UserExit::Syscall => {
                seen.push((ctx.syscall_number(), ctx.syscall_args()[0]));
                match ctx.syscall_number() {
                    500 => ctx.set_tls(DATA_VA + 16),
                    501 => ctx.set_tls(DATA_VA),
                    // XMM0 is at offset 160 of the FXSAVE area.
                    502 => ctx.fx_mut().0[160..168].copy_from_slice(&0x5555u64.to_le_bytes()),
                    504 => ctx.set_ip(ctx.ip() + 1),
                    231 => break,
                    _ => {}
                }
            }
            e => return Err(format!("state program: {e:?} at {:#x}", ctx.ip())),
        }
    }
    let want = [
        (500, 0),
        (501, 0x77),
        (502, 100),
        (503, 0x5555),
        (504, 0x5555),
        (231, 42),
    ];
    check(seen == want, || format!("state program saw {seen:x?}"))
}

/// Log the round trip of a trivial system call (compare with Linux's getppid in DESIGN.md).
/// The root is activated once: a CR3 load per entry (as `Space::run` does) costs ~5 µs
/// under QEMU TCG and would be all that is measured. No other thread has a user root during
/// the tests, so a preemption cannot leave another one active.
fn syscall_cost() -> Outcome {
    let space = Space::new(GETPID_LOOP, 0, 0)?;
    let mut ctx = fresh();
    space.space.activate();
    let (mut calls, start) = (0u64, A::now_ns());
    loop {
        match A::run_user(&mut ctx) {
            UserExit::Interrupt => {}
            UserExit::Syscall if ctx.syscall_number() == 39 => {
                calls += 1;
                ctx.set_syscall_return(1);
            }
            _ => break,
        }
    }
    let ns = A::now_ns() - start;
    check(calls == 100_000, || format!("{calls} getpid calls"))?;
    log::info!("user: {calls} getpid round trips, {} ns each", ns / calls);
    Ok(())
}

/// Two threads spin in user mode, each checking its RBX, R15, XMM5 and TLS word against its
/// own values while the tick switches between them from user mode.
pub fn switching() -> Outcome {
    use alloc::sync::Arc;
    use core::sync::atomic::{AtomicU64, Ordering};
    let results: Arc<[AtomicU64; 2]> = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let switches = SCHED.switches();
    let threads: Vec<_> = (0..2u64)
        .map(|i| {
            let results = results.clone();
            SCHED.spawn(&format!("user{i}"), move || {
                let id = 0x1111 * (i + 1);
                let r = spin_thread(id).unwrap_or_else(|e| {
                    log::error!("{e}");
                    0
                });
                results[i as usize].store(r, Ordering::Relaxed);
            })
        })
        .collect();
    for t in &threads {
        SCHED.join(t);
    }
    let got = [
        results[0].load(Ordering::Relaxed),
        results[1].load(Ordering::Relaxed),
    ];
    let n = SCHED.switches() - switches;
    check(got == [0x1111, 0x2222] && n >= 20, || {
        format!("results {got:x?}, {n} switches")
    })
}

fn spin_thread(id: u64) -> Result<u64, String> {
    let space = Space::new(SWITCH, id, 0)?;
    let mut ctx = fresh();
    ctx.rbx = id;
    let mut interrupts = 0;
    loop {
        let was = A::irq_save_disable();
        space.space.activate();
        let exit = A::run_user(&mut ctx);
        A::irq_restore(was);
        match exit {
            UserExit::Interrupt => {
                interrupts += 1;
                if interrupts == 50 {
                    space.poke(8, 1);
                }
            }
            UserExit::Syscall => return Ok(ctx.syscall_args()[0] as u64),
            e => return Err(format!("thread {id:#x}: {e:?}")),
        }
    }
}

// The programs (GNU as 2.40, Intel syntax; `as --64` then `objcopy -O binary`).
// int 0x40
const INT40: &[u8] = &[0xcd, 0x40];
// hlt
const HLT: &[u8] = &[0xf4];
// int3; hlt
const INT3: &[u8] = &[0xcc, 0xf4];
// xor ecx, ecx; div ecx
const DIV0: &[u8] = &[0x31, 0xc9, 0xf7, 0xf1];
// mov rax, cr3
const CR3: &[u8] = &[0x0f, 0x20, 0xd8];
// movabs rax, 0xffffffff80200000; jmp rax
const JMP_KERNEL: &[u8] = &[
    0x48, 0xb8, 0x00, 0x00, 0x20, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe0,
];
// movabs rax, 0x0000800000000000; jmp rax
const JMP_NONCANON: &[u8] = &[
    0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0xff, 0xe0,
];
// movabs rax, 0xffff800000100000; mov qword ptr [rax], rax
const WRITE_KERNEL: &[u8] = &[
    0x48, 0xb8, 0x00, 0x00, 0x10, 0x00, 0x00, 0x80, 0xff, 0xff, 0x48, 0x89, 0x00,
];
// pushfq; or dword ptr [rsp], 0x40000; popfq; mov rax, qword ptr [rsp - 15]; hlt
const ALIGN: &[u8] = &[
    0x9c, 0x81, 0x0c, 0x24, 0x00, 0x00, 0x04, 0x00, 0x9d, 0x48, 0x8b, 0x44, 0x24, 0xf1, 0xf4,
];
//   push 0x1d80
//   ldmxcsr [rsp]
//   xorps xmm0, xmm0
//   mov eax, 1
//   cvtsi2ss xmm1, eax
//   divss xmm1, xmm0
//   hlt
const SSE_FAULT: &[u8] = &[
    0x68, 0x80, 0x1d, 0x00, 0x00, 0x0f, 0xae, 0x14, 0x24, 0x0f, 0x57, 0xc0, 0xb8, 0x01, 0x00, 0x00,
    0x00, 0xf3, 0x0f, 0x2a, 0xc8, 0xf3, 0x0f, 0x5e, 0xc8, 0xf4,
];
// push 0x37b; fldcw [rsp]; fld1; fldz; fdivp st(1), st; fwait; hlt
const X87_FAULT: &[u8] = &[
    0x68, 0x7b, 0x03, 0x00, 0x00, 0xd9, 0x2c, 0x24, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0x9b, 0xf4,
];
// pushfq; or qword ptr [rsp], 0x100; popfq; nop; nop
const SINGLE_STEP: &[u8] = &[
    0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x90, 0x90,
];
// sysenter
const SYSENTER: &[u8] = &[0x0f, 0x34];
// jmp fword ptr [rip + 2f]; 1: .code32; syscall; .code64; 2: .long 0x400006; .short 0x1b
const COMPAT_SYSCALL: &[u8] = &[
    0xff, 0x2d, 0x02, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x06, 0x00, 0x40, 0x00, 0x1b, 0x00,
];
// pushfq; or qword ptr [rsp], 0x4000; popfq; mov eax, 39; syscall; hlt
const NT_SYSCALL: &[u8] = &[
    0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x40, 0x00, 0x00, 0x9d, 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f,
    0x05, 0xf4,
];
//   pushfq
//   or dword ptr [rsp], 0x40000
//   popfq
//   mov eax, 39
//   syscall
//   pushfq
//   pop rdi
//   mov eax, 231
//   syscall
const AC_SYSCALL: &[u8] = &[
    0x9c, 0x81, 0x0c, 0x24, 0x00, 0x00, 0x04, 0x00, 0x9d, 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05,
    0x9c, 0x5f, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
];
//   mov eax, 500
//   syscall
//   mov rdi, qword ptr fs:[0]
//   mov eax, 501
//   syscall
//   mov rdi, qword ptr fs:[0]
//   mov eax, 502
//   syscall
//   movq rdi, xmm0
//   mov eax, 503
//   syscall
//   mov eax, 504
//   syscall
//   hlt
//   mov edi, 42
//   mov eax, 231
//   syscall
const STATE: &[u8] = &[
    0xb8, 0xf4, 0x01, 0x00, 0x00, 0x0f, 0x05, 0x64, 0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x00, 0x00,
    0xb8, 0xf5, 0x01, 0x00, 0x00, 0x0f, 0x05, 0x64, 0x48, 0x8b, 0x3c, 0x25, 0x00, 0x00, 0x00, 0x00,
    0xb8, 0xf6, 0x01, 0x00, 0x00, 0x0f, 0x05, 0x66, 0x48, 0x0f, 0x7e, 0xc7, 0xb8, 0xf7, 0x01, 0x00,
    0x00, 0x0f, 0x05, 0xb8, 0xf8, 0x01, 0x00, 0x00, 0x0f, 0x05, 0xf4, 0xbf, 0x2a, 0x00, 0x00, 0x00,
    0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
];
//   movq xmm5, rbx
//   mov r15, rbx
//   2:  mov rax, qword ptr fs:[0]
//   cmp rax, rbx
//   jne 3f
//   movq rax, xmm5
//   cmp rax, rbx
//   jne 3f
//   cmp r15, rbx
//   jne 3f
//   cmp qword ptr fs:[8], 0
//   je 2b
//   mov rdi, rbx
//   mov eax, 231
//   syscall
//   3:  mov edi, 0xbad
//   mov eax, 231
//   syscall
const SWITCH: &[u8] = &[
    0x66, 0x48, 0x0f, 0x6e, 0xeb, 0x49, 0x89, 0xdf, 0x64, 0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00,
    0x00, 0x48, 0x39, 0xd8, 0x75, 0x25, 0x66, 0x48, 0x0f, 0x7e, 0xe8, 0x48, 0x39, 0xd8, 0x75, 0x1b,
    0x49, 0x39, 0xdf, 0x75, 0x16, 0x64, 0x48, 0x83, 0x3c, 0x25, 0x08, 0x00, 0x00, 0x00, 0x00, 0x74,
    0xd7, 0x48, 0x89, 0xdf, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xbf, 0xad, 0x0b, 0x00, 0x00,
    0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
];
//   mov r12d, 100000
//   2:  mov eax, 39
//   syscall
//   dec r12
//   jnz 2b
//   mov edi, 0
//   mov eax, 231
//   syscall
const GETPID_LOOP: &[u8] = &[
    0x41, 0xbc, 0xa0, 0x86, 0x01, 0x00, 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x49, 0xff, 0xcc,
    0x75, 0xf4, 0xbf, 0x00, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
];
