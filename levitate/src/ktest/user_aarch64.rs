//! The aarch64 program of the `user` test (see `user.rs` for what it does), as A64 machine
//! code. Position independent: it addresses its message, which the test appends right after
//! [`CODE`], with `adr`. Besides the steps `user.rs` lists, it keeps values in a callee-saved
//! register, on its stack, in d8 and in the upper half of v31 across the interrupt exits and
//! exits with 99 if any of them changed, so a kernel that loses user GPR, SP or FP/SIMD state
//! fails the test.
//!
//! Assembled with `llvm-mc --triple=aarch64 -filetype=obj` and read back with `llvm-objdump
//! -d`; the source is the comment beside each word. `msg` is the first byte after the code.
//!
//! [`exits`] holds a second, aarch64-only test (`user_exits`) of the exits, copies and
//! address-space switches the portable program cannot reach.

/// The program's instructions, one little-endian word each.
const WORDS: [u32; 38] = [
    0xd280_0020, // _start: mov x0, #1
    0x1000_04a1, // adr x1, msg
    0xd280_0202, // mov x2, #16
    0xd280_0808, // mov x8, #64
    0xd400_0001, // svc #0
    0xaa00_03f3, // mov x19, x0
    0xd280_1588, // mov x8, #172
    0xd400_0001, // svc #0
    0xd280_9a41, // mov x1, #1234
    0xeb01_001f, // cmp x0, x1
    0x5400_0301, // b.ne bad
    0xd2a0_0c01, // mov x1, #0x600000
    0xf940_0034, // ldr x20, [x1]
    0xd53b_d041, // mrs x1, tpidr_el0
    0xf940_0035, // ldr x21, [x1]
    0xf81f_0ff5, // str x21, [sp, #-16]!
    0x9e67_0268, // fmov d8, x19
    0x4e08_0e9f, // dup v31.2d, x20
    0x0000_0000, // udf #0
    0xf940_0422, // 1: ldr x2, [x1, #8]
    0xb4ff_ffe2, // cbz x2, 1b
    0xf841_07e3, // ldr x3, [sp], #16
    0xeb15_007f, // cmp x3, x21
    0x5400_0161, // b.ne bad
    0x9e66_0103, // fmov x3, d8
    0xeb13_007f, // cmp x3, x19
    0x5400_0101, // b.ne bad
    0x4e18_3fe3, // mov x3, v31.d[1]
    0xeb14_007f, // cmp x3, x20
    0x5400_00a1, // b.ne bad
    0x8b14_0260, // add x0, x19, x20
    0x8b15_0000, // add x0, x0, x21
    0xd280_0bc8, // mov x8, #94
    0xd400_0001, // svc #0
    0xd280_0c60, // bad: mov x0, #99
    0xd280_0bc8, // mov x8, #94
    0xd400_0001, // svc #0
    0x17ff_fffd, // b bad
];

/// The program's bytes (A64 instructions are little-endian words).
pub const CODE: &[u8] = &{
    let mut bytes = [0u8; WORDS.len() * 4];
    let mut i = 0;
    while i < WORDS.len() {
        let b = WORDS[i].to_le_bytes();
        bytes[4 * i] = b[0];
        bytes[4 * i + 1] = b[1];
        bytes[4 * i + 2] = b[2];
        bytes[4 * i + 3] = b[3];
        i += 1;
    }
    bytes
};

/// Length of `udf #0`, which the test skips after the IllegalInstruction exit.
pub const ILLEGAL_LEN: u64 = 4;

/// Linux aarch64 system call numbers (the generic table, `asm-generic/unistd.h`).
pub const SYS_WRITE: usize = 64;
pub const SYS_GETPID: usize = 172;
pub const SYS_EXIT_GROUP: usize = 94;

/// A second test, `user_exits` (aarch64 only): every exit kind the `user` program does not
/// reach, the EL0 permission checks of the copy primitives, PAN, and two kernel threads in
/// user mode being preempted by each other.
pub mod exits {
    use super::super::user::{CODE_VA, DATA_VA, STACK_TOP, TestSpace};
    use super::super::{Outcome, check};
    use crate::memory::phys_to_virt;
    use crate::{A, SCHED};
    use alloc::format;
    use alloc::string::String;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use arch_api::{Arch, PAGE_SIZE, PageFlags, UserContext as _, UserException, UserExit};
    use core::sync::atomic::{AtomicU64, Ordering};

    type Ctx = <A as Arch>::UserContext;

    /// Snippets, each entered at its own offset with registers set up by the test.
    const SNIPPETS: [u32; 23] = [
        0xd420_0020, // 0x00: brk #1
        0xf900_0020, // 0x04: str x0, [x1]
        0xf940_0020, // 0x08: ldr x0, [x1]
        0xd61f_0020, // 0x0c: br x1
        0xf940_03e0, // 0x10: ldr x0, [sp]
        0xd538_1000, // 0x14: mrs x0, sctlr_el1
        0xc85f_7c20, // 0x18: ldxr x0, [x1]
        0xd400_0001, // 0x1c: svc #0
        0xd420_0040, // 0x20: brk #2
        0xd51b_d041, // 0x24: msr tpidr_el0, x1
        0xd420_0060, // 0x28: brk #3
        0x9100_0673, // 0x2c: spin: add x19, x19, #1
        0xeb14_027f, // 0x30: cmp x19, x20
        0x54ff_ffc3, // 0x34: b.lo spin
        0xaa13_03e0, // 0x38: mov x0, x19
        0xd280_0bc8, // 0x3c: mov x8, #94
        0xd400_0001, // 0x40: svc #0
        0xd53b_e040, // 0x44: mrs x0, cntvct_el0
        0xd53b_e001, // 0x48: mrs x1, cntfrq_el0
        0xd420_0080, // 0x4c: brk #4
        0xd503_207f, // 0x50: wfi
        0xd503_205f, // 0x54: wfe
        0xd420_00a0, // 0x58: brk #5
    ];
    const AT_BRK: u64 = 0x00;
    const AT_STORE: u64 = 0x04;
    const AT_LOAD: u64 = 0x08;
    const AT_BRANCH: u64 = 0x0c;
    const AT_MRS: u64 = 0x14;
    const AT_LDXR: u64 = 0x18;
    const AT_SVC: u64 = 0x1c;
    const AT_TLS: u64 = 0x24;
    const AT_SPIN: u64 = 0x2c;
    const AT_COUNTER: u64 = 0x44;
    const AT_WAIT: u64 = 0x50;

    /// Read-only user page, a page mapped in the user root but for the kernel only, and a
    /// hole, right after the writable data page.
    const RO_VA: u64 = DATA_VA + 0x1000;
    const KERNEL_ONLY_VA: u64 = DATA_VA + 0x2000;
    const UNMAPPED_VA: u64 = DATA_VA + 0x3000;

    const USER_RX: PageFlags = PageFlags {
        write: false,
        exec: true,
        user: true,
        device: false,
        global: false,
    };
    const USER_RW: PageFlags = PageFlags {
        exec: false,
        write: true,
        ..USER_RX
    };
    const USER_RO: PageFlags = PageFlags {
        write: false,
        ..USER_RW
    };
    const KERNEL_RW: PageFlags = PageFlags {
        user: false,
        ..USER_RW
    };

    pub fn user_exits() -> Outcome {
        let mut space = TestSpace::new()?;
        let code_pa = setup(&mut space)?;
        space.activate();
        exits(code_pa)?;
        copies()?;
        two_threads()?;
        // Last: it leaves no user space active.
        two_spaces(&space)
    }

    /// Map the test's pages; returns the physical address of the code page.
    fn setup(space: &mut TestSpace) -> Result<u64, String> {
        let code = space.map(CODE_VA, USER_RX, &[])?;
        for (i, w) in SNIPPETS.iter().enumerate() {
            // SAFETY: the code frame is ours and not yet visible to user code.
            unsafe { (phys_to_virt(code) as *mut u32).add(i).write_volatile(*w) };
        }
        space.map_filled(DATA_VA, USER_RW, 0xd0, &[])?;
        space.map_filled(RO_VA, USER_RO, 0x0e, &[])?;
        space.map_filled(KERNEL_ONLY_VA, KERNEL_RW, 0x55, &[])?;
        space.map(STACK_TOP - PAGE_SIZE, USER_RW, &[])?;
        Ok(code)
    }

    /// Run from `CODE_VA + at` with `x1` (and `sp`) until the first exit that is not an
    /// interrupt.
    fn run_at(at: u64, x1: u64, sp: u64) -> (Ctx, UserExit) {
        let mut ctx = Ctx::new(CODE_VA + at, sp);
        ctx.x[1] = x1;
        let exit = run(&mut ctx);
        (ctx, exit)
    }

    fn run(ctx: &mut Ctx) -> UserExit {
        loop {
            match A::run_user(ctx) {
                UserExit::Interrupt => continue,
                exit => return exit,
            }
        }
    }

    fn expect(what: &str, got: (Ctx, UserExit), exit: UserExit, pc: u64) -> Outcome {
        let (ctx, got) = got;
        check(got == exit && ctx.pc == pc, || {
            format!(
                "{what}: {got:?} at {:#x}, expected {exit:?} at {pc:#x}",
                ctx.pc
            )
        })
    }

    fn fault(addr: u64, write: bool, exec: bool, present: bool) -> UserExit {
        UserExit::PageFault {
            addr,
            write,
            exec,
            present,
        }
    }

    fn exits(code_pa: u64) -> Outcome {
        let exc = UserExit::Exception;
        let kernel_va = exits as *const () as u64;
        // The kernel's direct-map alias of the user's own code page.
        let direct_map = phys_to_virt(code_pa);
        let at = |off| CODE_VA + off;
        let s = STACK_TOP;
        expect(
            "brk",
            run_at(AT_BRK, 0, s),
            exc(UserException::Breakpoint),
            at(AT_BRK),
        )?;
        let store = run_at(AT_STORE, RO_VA, s);
        expect(
            "store to RO",
            store,
            fault(RO_VA, true, false, true),
            at(AT_STORE),
        )?;
        let load = run_at(AT_LOAD, UNMAPPED_VA, s);
        expect(
            "load of a hole",
            load,
            fault(UNMAPPED_VA, false, false, false),
            at(AT_LOAD),
        )?;
        let load = run_at(AT_LOAD, KERNEL_ONLY_VA, s);
        expect(
            "load of a kernel-only page",
            load,
            fault(KERNEL_ONLY_VA, false, false, true),
            at(AT_LOAD),
        )?;
        let load = run_at(AT_LOAD, direct_map, s);
        expect(
            "load of the direct map",
            load,
            fault(direct_map, false, false, true),
            at(AT_LOAD),
        )?;
        let jump = run_at(AT_BRANCH, DATA_VA, s);
        expect(
            "jump to data",
            jump,
            fault(DATA_VA, false, true, true),
            DATA_VA,
        )?;
        let jump = run_at(AT_BRANCH, UNMAPPED_VA, s);
        expect(
            "jump to a hole",
            jump,
            fault(UNMAPPED_VA, false, true, false),
            UNMAPPED_VA,
        )?;
        let jump = run_at(AT_BRANCH, kernel_va, s);
        expect(
            "jump to kernel text",
            jump,
            fault(kernel_va, false, true, true),
            kernel_va,
        )?;
        let odd = CODE_VA + 2;
        let jump = run_at(AT_BRANCH, odd, s);
        expect("misaligned jump", jump, exc(UserException::Alignment), odd)?;
        // A load through a misaligned SP (offset 0x10 with sp = s - 8) should be an Alignment
        // exit (SCTLR.SA0 is set), but QEMU 7.2 does not implement SP alignment checking: it
        // just loads. Real hardware would check it; QEMU cannot.
        let mrs = run_at(AT_MRS, 0, s);
        expect(
            "mrs sctlr_el1",
            mrs,
            exc(UserException::IllegalInstruction),
            at(AT_MRS),
        )?;
        let ldxr = run_at(AT_LDXR, DATA_VA + 1, s);
        expect(
            "misaligned ldxr",
            ldxr,
            exc(UserException::Alignment),
            at(AT_LDXR),
        )?;

        let mut ctx = Ctx::new(at(AT_SVC), s);
        for i in 0..6 {
            ctx.x[i] = i as u64 + 1;
        }
        ctx.x[8] = 4242;
        let exit = run(&mut ctx);
        check(
            exit == UserExit::Syscall && ctx.pc == at(AT_SVC + 4),
            || format!("svc: {exit:?} at {:#x}", ctx.pc),
        )?;
        check(
            ctx.syscall_number() == 4242 && ctx.syscall_args() == [1, 2, 3, 4, 5, 6],
            || {
                format!(
                    "svc: number {} args {:?}",
                    ctx.syscall_number(),
                    ctx.syscall_args()
                )
            },
        )?;
        // The cost of a null system call round trip (EL0 -> kernel -> EL0), for the record.
        const ROUNDS: u64 = 20_000;
        let t0 = A::now_ns();
        for _ in 0..ROUNDS {
            ctx.pc = at(AT_SVC);
            run(&mut ctx);
        }
        log::info!(
            "user_exits: svc round trip {} ns",
            (A::now_ns() - t0) / ROUNDS
        );
        ctx.pc = at(AT_SVC + 4);
        ctx.set_syscall_return(77);
        let exit = run(&mut ctx);
        check(
            exit == exc(UserException::Breakpoint) && ctx.x[..6] == [77, 2, 3, 4, 5, 6],
            || format!("after svc: {exit:?}, x0..x5 = {:?}", &ctx.x[..6]),
        )?;

        let (ctx, exit) = run_at(AT_TLS, 0x1234_5678, s);
        check(
            exit == exc(UserException::Breakpoint) && ctx.tls() == 0x1234_5678,
            || format!("msr tpidr_el0: {exit:?}, tls {:#x}", ctx.tls()),
        )?;

        // WFI and WFE do not trap: they wait for the next interrupt (or event) and go on.
        let (ctx, exit) = run_at(AT_WAIT, 0, s);
        check(
            exit == exc(UserException::Breakpoint) && ctx.esr & 0xffff == 5,
            || format!("wfi/wfe: {exit:?} at {:#x}", ctx.pc),
        )?;

        // User code may read the virtual counter and its frequency (as on Linux).
        let (first, _) = run_at(AT_COUNTER, 0, s);
        let (ctx, exit) = run_at(AT_COUNTER, 0, s);
        check(
            exit == exc(UserException::Breakpoint) && ctx.x[0] > first.x[0] && ctx.x[1] > 0,
            || {
                format!(
                    "counter: {exit:?}, cntvct {:#x} then {:#x}, cntfrq {}",
                    first.x[0], ctx.x[0], ctx.x[1]
                )
            },
        )
    }

    /// The copy primitives check EL0's permissions (a page only the kernel may access fails,
    /// also at EL2), cross pages, and PAN stops plain kernel accesses to user pages.
    fn copies() -> Outcome {
        let mut buf = [0u8; 13];
        check(
            A::copy_from_user(&mut buf[..8], KERNEL_ONLY_VA).is_err(),
            || String::from("copy_from_user of a kernel-only page succeeded"),
        )?;
        check(A::copy_to_user(KERNEL_ONLY_VA, b"x").is_err(), || {
            String::from("copy_to_user to a kernel-only page succeeded")
        })?;
        A::copy_from_user(&mut buf, RO_VA - 5).map_err(|f| format!("cross-page read: {f:?}"))?;
        check(
            buf == [0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 14, 14, 14, 14, 14, 14, 14, 14],
            || format!("cross-page read gave {buf:?}"),
        )?;
        // A fault reports the first inaccessible byte, even for an access that straddles two
        // pages, and everything before it is copied.
        let across = A::copy_to_user(RO_VA - 4, b"12345678");
        check(matches!(across, Err(f) if f.addr == RO_VA), || {
            format!("write across into a read-only page: {across:?}")
        })?;
        let mut head = [0u8; 4];
        A::copy_from_user(&mut head, RO_VA - 4).map_err(|f| format!("read back: {f:?}"))?;
        check(&head == b"1234", || format!("partial write left {head:?}"))?;
        let mut big = [0u8; 24];
        let across = A::copy_from_user(&mut big, STACK_TOP - 12);
        check(matches!(across, Err(f) if f.addr == STACK_TOP), || {
            format!("read across into a hole: {across:?}")
        })?;
        A::copy_to_user(DATA_VA + 3, b"hello, world!")
            .map_err(|f| format!("copy_to_user: {f:?}"))?;
        A::copy_from_user(&mut buf, DATA_VA + 3).map_err(|f| format!("copy_from_user: {f:?}"))?;
        check(&buf == b"hello, world!", || format!("read back {buf:?}"))?;
        let probe = A::probe_read(DATA_VA);
        if arch_aarch64::pan_enabled() {
            check(probe.is_err(), || {
                format!("PAN on, but a kernel load of user memory gave {probe:?}")
            })
        } else {
            check(probe.is_ok(), || {
                format!("no PAN, but a kernel load of user memory gave {probe:?}")
            })
        }
    }

    /// `brk #7`: the whole code of the second address space.
    const BRK7: u32 = 0xd420_00e0;

    /// A second address space maps a different page at `CODE_VA`: switching roots must drop
    /// the first one's translations (the TLB flush of `activate_user_root`), both ways.
    fn two_spaces(a: &TestSpace) -> Outcome {
        let mut b = TestSpace::new()?;
        b.map(CODE_VA, USER_RX, &BRK7.to_le_bytes())?;
        let mut imms = [0; 3];
        for (i, space) in [&b, a, &b].into_iter().enumerate() {
            space.activate();
            let (ctx, exit) = run_at(AT_BRK, 0, STACK_TOP);
            check(
                exit == UserExit::Exception(UserException::Breakpoint),
                || format!("space {i}: {exit:?}"),
            )?;
            imms[i] = ctx.esr & 0xffff;
        }
        check(imms == [7, 1, 7], || {
            format!("brk immediates {imms:?}, expected [7, 1, 7]")
        })
    }

    /// Two threads spin in user mode in the same address space; the tick preempts them from
    /// EL0 and switches between them inside the user exit path. Each must finish its own count.
    fn two_threads() -> Outcome {
        const TARGETS: [u64; 2] = [100_000_000, 120_000_000];
        let results: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
        let switches = SCHED.switches();
        let threads: Vec<_> = (0..2)
            .map(|i| {
                let results = results.clone();
                SCHED.spawn(&format!("user{i}"), move || {
                    let mut ctx = Ctx::new(CODE_VA + AT_SPIN, STACK_TOP);
                    ctx.x[20] = TARGETS[i];
                    let mut interrupts = 0;
                    let code = loop {
                        match A::run_user(&mut ctx) {
                            UserExit::Interrupt => interrupts += 1,
                            UserExit::Syscall if ctx.syscall_number() == 94 => break ctx.x[0],
                            _ => break u64::MAX,
                        }
                    };
                    results[i].store(code, Ordering::Relaxed);
                    results[2 + i].store(interrupts, Ordering::Relaxed);
                })
            })
            .collect();
        for t in &threads {
            SCHED.join(t);
        }
        let got: [u64; 4] = core::array::from_fn(|i| results[i].load(Ordering::Relaxed));
        let n = SCHED.switches() - switches;
        log::info!(
            "user_exits: counts {:?}, interrupt exits {:?}, {n} switches",
            &got[..2],
            &got[2..]
        );
        check(got[..2] == TARGETS, || {
            format!("threads exited with {:?}", &got[..2])
        })?;
        check(got[2] > 0 && got[3] > 0 && n >= 4, || {
            format!("interrupt exits {:?}, {n} switches", &got[2..])
        })
    }
}
