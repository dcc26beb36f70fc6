//! User mode end to end, before processes exist: a tiny per-arch program (in `user_<arch>.rs`)
//! runs in a fresh user address space, and this test plays kernel for it.
//!
//! The program, at [`CODE_VA`] with its stack below [`STACK_TOP`] and `tls` = [`DATA_VA`]:
//! 1. `write(1, msg, len)` of the message in its code page; the test copies it with
//!    `copy_from_user` and returns `len`;
//! 2. `getpid()`: the test returns 1234 and the program checks it (exit code 99 if wrong);
//! 3. loads 8 bytes from [`LAZY_VA`] (unmapped: a page fault, the test maps a page holding 7);
//! 4. loads 8 bytes at its TLS pointer (the test put 100 there);
//! 5. executes an undefined instruction (the test skips it: `ip += ILLEGAL_LEN`);
//! 6. spins until the 8 bytes at `DATA_VA + 8` become non-zero (the test sets them after it
//!    has seen 3 interrupt exits);
//! 7. `exit_group(len + lazy + tls)`, i.e. 16 + 7 + 100 = 123.

#[cfg(target_arch = "aarch64")]
use super::user_aarch64 as prog;
#[cfg(target_arch = "x86_64")]
use super::user_x86_64 as prog;

use super::{Outcome, check};
use crate::A;
use crate::memory::{FRAMES, KernelTables, phys_to_virt};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use arch_api::{Arch, PAGE_SIZE, PageFlags, UserContext, UserException, UserExit};
use mm::page_table::{PageSize, PageTable};

pub const CODE_VA: u64 = 0x40_0000;
pub const DATA_VA: u64 = 0x50_0000;
pub const LAZY_VA: u64 = 0x60_0000;
pub const STACK_TOP: u64 = 0x7fff_0000;
/// The message the program writes.
pub const MESSAGE: &[u8] = b"hello from user\n";

const USER_RX: PageFlags = PageFlags {
    write: false,
    exec: true,
    user: true,
    device: false,
    global: false,
};
const USER_RW: PageFlags = PageFlags {
    write: true,
    exec: false,
    user: true,
    device: false,
    global: false,
};

type UserTable = PageTable<<A as Arch>::PageTable, KernelTables>;

/// A user address space for a test: a fresh root, pages mapped on request, and everything
/// freed on drop (after switching to no user space, so the root is never live when freed).
pub struct TestSpace {
    pub pt: UserTable,
    pub root: u64,
}

impl TestSpace {
    pub fn new() -> Result<TestSpace, String> {
        let root = FRAMES.lock().alloc_frame().ok_or("out of frames")?;
        // SAFETY: a fresh frame, ours alone, in the direct map.
        unsafe { core::ptr::write_bytes(phys_to_virt(root) as *mut u8, 0, PAGE_SIZE as usize) };
        A::init_user_root(root);
        Ok(TestSpace {
            pt: UserTable::from_root(root, KernelTables),
            root,
        })
    }

    /// Map a new page at `va` holding `contents` (zeros after them); returns its frame.
    pub fn map(&mut self, va: u64, flags: PageFlags, contents: &[u8]) -> Result<u64, String> {
        self.map_filled(va, flags, 0, contents)
    }

    /// Map a new page at `va` filled with `fill`, then `contents` at its start.
    pub fn map_filled(
        &mut self,
        va: u64,
        flags: PageFlags,
        fill: u8,
        contents: &[u8],
    ) -> Result<u64, String> {
        let pa = FRAMES.lock().alloc_frame().ok_or("out of frames")?;
        // SAFETY: a fresh frame, ours alone, in the direct map.
        let page = unsafe {
            core::slice::from_raw_parts_mut(phys_to_virt(pa) as *mut u8, PAGE_SIZE as usize)
        };
        page.fill(fill);
        page[..contents.len()].copy_from_slice(contents);
        if let Err(e) = self.pt.map(va, pa, PageSize::Size4K, flags) {
            let _ = FRAMES.lock().free(pa, 0);
            return Err(format!("map {va:#x}: {e:?}"));
        }
        Ok(pa)
    }

    /// Make this the active user address space.
    pub fn activate(&self) {
        // SAFETY: the root was made by init_user_root and maps only frames this space owns.
        unsafe { A::activate_user_root(Some(self.root)) };
    }
}

impl Drop for TestSpace {
    fn drop(&mut self) {
        // SAFETY: `None` maps no user memory at all.
        unsafe { A::activate_user_root(None) };
        let mut leaves = Vec::new();
        self.pt
            .clear_below(A::USER_END, &mut |pa, _| leaves.push(pa));
        let mut frames = FRAMES.lock();
        for pa in leaves {
            let _ = frames.free(pa, 0);
        }
        let _ = frames.free(self.root, 0);
    }
}

pub fn user_mode() -> Outcome {
    let mut space = TestSpace::new()?;
    run_program(&mut space)
}

fn run_program(space: &mut TestSpace) -> Outcome {
    check(
        prog::CODE.len() <= PAGE_SIZE as usize - MESSAGE.len(),
        || String::from("program too big"),
    )?;
    let mut code = Vec::from(prog::CODE);
    code.extend_from_slice(MESSAGE);
    space.map(CODE_VA, USER_RX, &code)?;
    let data = space.map(DATA_VA, USER_RW, &100u64.to_le_bytes())?;
    space.map(STACK_TOP - PAGE_SIZE, USER_RW, &[])?;
    space.activate();

    let mut ctx = <A as Arch>::UserContext::new(CODE_VA, STACK_TOP);
    ctx.set_tls(DATA_VA);
    let (mut written, mut interrupts, mut faults, mut illegal) = (0usize, 0, 0, 0);
    for _ in 0..100_000 {
        match A::run_user(&mut ctx) {
            UserExit::Syscall => {
                let [a0, a1, a2, ..] = ctx.syscall_args();
                match ctx.syscall_number() {
                    prog::SYS_WRITE => {
                        check(a0 == 1 && a2 == MESSAGE.len(), || {
                            format!("write({a0}, _, {a2})")
                        })?;
                        let mut buf = [0u8; 16];
                        A::copy_from_user(&mut buf, a1 as u64)
                            .map_err(|f| format!("copy_from_user: {f:?}"))?;
                        check(buf == MESSAGE, || format!("user wrote {buf:?}"))?;
                        written = a2;
                        ctx.set_syscall_return(a2);
                    }
                    prog::SYS_GETPID => ctx.set_syscall_return(1234),
                    prog::SYS_EXIT_GROUP => {
                        check(a0 == 123, || format!("exit code {a0}, expected 123"))?;
                        check(written == MESSAGE.len(), || {
                            String::from("write never happened")
                        })?;
                        check(faults == 1 && illegal == 1, || {
                            format!("{faults} faults, {illegal} #UD")
                        })?;
                        check(interrupts >= 3, || format!("{interrupts} interrupt exits"))?;
                        return copy_checks();
                    }
                    n => return Err(format!("unexpected syscall {n}")),
                }
            }
            UserExit::PageFault { addr, write, .. } => {
                check(addr == LAZY_VA && !write && faults == 0, || {
                    format!("page fault at {addr:#x} write={write}")
                })?;
                space.map(LAZY_VA, USER_RW, &7u64.to_le_bytes())?;
                faults += 1;
            }
            UserExit::Exception(UserException::IllegalInstruction) => {
                illegal += 1;
                ctx.set_ip(ctx.ip() + prog::ILLEGAL_LEN);
            }
            UserExit::Exception(e) => return Err(format!("exception {e:?} at {:#x}", ctx.ip())),
            UserExit::Interrupt => {
                interrupts += 1;
                if interrupts == 3 {
                    // SAFETY: the data frame is ours; the program only reads this word.
                    unsafe { ((phys_to_virt(data) + 8) as *mut u64).write_volatile(1) };
                }
            }
        }
    }
    Err(String::from("the program never exited"))
}

/// Hostile pointers to the copy primitives fail cleanly.
fn copy_checks() -> Outcome {
    let mut buf = [0u8; 8];
    check(
        A::copy_from_user(&mut buf, DATA_VA).is_ok() && buf == 100u64.to_le_bytes(),
        || format!("copy_from_user of DATA_VA gave {buf:?}"),
    )?;
    check(A::copy_to_user(DATA_VA + 16, b"abc").is_ok(), || {
        String::from("copy_to_user of DATA_VA failed")
    })?;
    check(A::copy_from_user(&mut buf, 0x10).is_err(), || {
        String::from("read of 0x10 succeeded")
    })?;
    check(A::copy_to_user(CODE_VA, b"x").is_err(), || {
        String::from("write to read-only code succeeded")
    })?;
    check(
        A::copy_from_user(&mut buf, A::USER_END - 4).is_err(),
        || String::from("read across USER_END"),
    )?;
    let kernel = &buf as *const _ as u64;
    check(A::copy_from_user(&mut buf, kernel).is_err(), || {
        String::from("read of a kernel address")
    })?;
    check(A::copy_to_user(u64::MAX - 2, b"abcd").is_err(), || {
        String::from("wrapping range accepted")
    })?;
    Ok(())
}
