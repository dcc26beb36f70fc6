//! Conformance checks for memory: anonymous and file mappings, private and shared mappings
//! across fork, munmap and mprotect (faults observed as a child's SIGSEGV), brk, mremap.
//! Prints `PASS memory/<name>` or `FAIL memory/<name>: why`; exits 0 iff all passed.

#[path = "../conform/util.rs"]
mod util;

use std::process::ExitCode;
use util::{Check, End, Report, c, eq, expect_errno, expect_ok, in_child, scratch};

const PAGE: usize = 4096;

/// mmap with the given flags, anonymous unless `fd` >= 0.
fn map(len: usize, prot: i32, flags: i32, fd: i32) -> Result<*mut u8, String> {
    // SAFETY: no fixed address: the kernel picks a free range, nothing existing is replaced.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) };
    if p == libc::MAP_FAILED {
        return Err(format!("mmap failed with {}", util::name(util::errno())));
    }
    Ok(p.cast())
}

fn anon(len: usize) -> Result<*mut u8, String> {
    map(
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        -1,
    )
}

fn unmap(p: *mut u8, len: usize) -> Check {
    // SAFETY: `p..p+len` is a mapping this check made and no longer uses.
    let ret = unsafe { libc::munmap(p.cast(), len) };
    expect_ok("munmap", ret as i64).map(|_| ())
}

/// Read a byte through a raw pointer the check mapped.
fn peek(p: *const u8) -> u8 {
    // SAFETY: callers pass addresses inside a live readable mapping (or expect a fault in a
    // child, which is the point of the check).
    unsafe { std::ptr::read_volatile(p) }
}

fn poke(p: *mut u8, v: u8) {
    // SAFETY: as for `peek`, for writable mappings.
    unsafe { std::ptr::write_volatile(p, v) }
}

fn main() -> ExitCode {
    let mut r = Report::new("memory");
    let dir = scratch("memory");

    r.check("mmap-anon-zeroed-writable", || {
        let p = anon(4 * PAGE)?;
        for i in (0..4 * PAGE).step_by(512) {
            eq("fresh byte", peek(p.wrapping_add(i)), 0)?;
            poke(p.wrapping_add(i), (i / 512) as u8);
        }
        eq("written byte", peek(p.wrapping_add(3 * PAGE)), 24)?;
        unmap(p, 4 * PAGE)
    });
    r.check("mmap-private-fork-cow", || {
        let p = anon(PAGE)?;
        poke(p, 1);
        let end = in_child(|| {
            poke(p, 2);
            i32::from(peek(p))
        })?;
        eq("child saw its write", end, End::Exited(2))?;
        eq("parent keeps its value", peek(p), 1)?;
        unmap(p, PAGE)
    });
    r.check("mmap-shared-fork", || {
        let p = map(
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
        )?;
        let end = in_child(|| {
            poke(p.wrapping_add(100), 0x55);
            0
        })?;
        eq("child", end, End::Exited(0))?;
        eq(
            "parent sees the child's write",
            peek(p.wrapping_add(100)),
            0x55,
        )?;
        unmap(p, PAGE)
    });
    r.check("munmap-then-access-segv", || {
        let p = anon(2 * PAGE)?;
        unmap(p, 2 * PAGE)?;
        let end = in_child(|| i32::from(peek(p.wrapping_add(PAGE))))?;
        eq(
            "child touching unmapped memory",
            end,
            End::Signaled(libc::SIGSEGV),
        )
    });
    r.check("munmap-partial", || {
        let p = anon(3 * PAGE)?;
        poke(p, 1);
        poke(p.wrapping_add(2 * PAGE), 3);
        unmap(p.wrapping_add(PAGE), PAGE)?;
        eq("first page kept", peek(p), 1)?;
        eq("last page kept", peek(p.wrapping_add(2 * PAGE)), 3)?;
        let end = in_child(|| i32::from(peek(p.wrapping_add(PAGE))))?;
        eq("hole", end, End::Signaled(libc::SIGSEGV))?;
        unmap(p, 3 * PAGE)
    });
    r.check("null-deref-segv", || {
        let end = in_child(|| i32::from(peek(std::ptr::null())))?;
        eq("child reading address 0", end, End::Signaled(libc::SIGSEGV))
    });
    r.check("mprotect-readonly", || {
        let p = anon(PAGE)?;
        poke(p, 9);
        // SAFETY: `p` is a page this check mapped.
        let ret = unsafe { libc::mprotect(p.cast(), PAGE, libc::PROT_READ) };
        expect_ok("mprotect(PROT_READ)", ret as i64)?;
        eq("still readable", peek(p), 9)?;
        let end = in_child(|| {
            poke(p, 1);
            0
        })?;
        eq(
            "child writing a read-only page",
            end,
            End::Signaled(libc::SIGSEGV),
        )?;
        // SAFETY: as above.
        let ret = unsafe { libc::mprotect(p.cast(), PAGE, libc::PROT_READ | libc::PROT_WRITE) };
        expect_ok("mprotect(PROT_READ|PROT_WRITE)", ret as i64)?;
        poke(p, 10);
        eq("writable again", peek(p), 10)?;
        unmap(p, PAGE)
    });
    r.check("mprotect-none", || {
        let p = anon(PAGE)?;
        // SAFETY: as above.
        let ret = unsafe { libc::mprotect(p.cast(), PAGE, libc::PROT_NONE) };
        expect_ok("mprotect(PROT_NONE)", ret as i64)?;
        let end = in_child(|| i32::from(peek(p)))?;
        eq(
            "child reading a PROT_NONE page",
            end,
            End::Signaled(libc::SIGSEGV),
        )?;
        unmap(p, PAGE)
    });
    r.check("mprotect-unaligned-einval", || {
        let p = anon(PAGE)?;
        // Raw: musl's mprotect() rounds the address down to a page itself, glibc's does not.
        // SAFETY: an unaligned address is refused before anything changes.
        let ret =
            unsafe { libc::syscall(libc::SYS_mprotect, p.wrapping_add(1), 16, libc::PROT_READ) };
        expect_errno("mprotect(p+1)", ret, libc::EINVAL)?;
        unmap(p, PAGE)
    });
    r.check("mmap-einval", || {
        // SAFETY: invalid requests; nothing is mapped.
        let zero = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                0,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        eq("mmap(len 0)", zero, libc::MAP_FAILED)?;
        eq("errno", util::errno(), libc::EINVAL)?;
        // SAFETY: as above: neither MAP_PRIVATE nor MAP_SHARED.
        let neither = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ,
                libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        eq("mmap(no type)", neither, libc::MAP_FAILED)?;
        eq("errno", util::errno(), libc::EINVAL)
    });
    r.check("munmap-unaligned-einval", || {
        // SAFETY: refused (unaligned) before anything is unmapped.
        let ret = unsafe { libc::munmap(PAGE as *mut libc::c_void, 1) };
        expect_ok("munmap(page 1, 1)", ret as i64).map(|_| ())?;
        // SAFETY: as above.
        let ret = unsafe { libc::munmap(0x1001 as *mut libc::c_void, PAGE) };
        expect_errno("munmap(0x1001)", ret as i64, libc::EINVAL)
    });
    r.check("mmap-fixed-replaces", || {
        let p = anon(2 * PAGE)?;
        poke(p.wrapping_add(PAGE), 7);
        // SAFETY: MAP_FIXED over the second page of our own mapping `p`.
        let q = unsafe {
            libc::mmap(
                p.wrapping_add(PAGE).cast(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        eq("address", q.cast::<u8>(), p.wrapping_add(PAGE))?;
        eq("fresh page", peek(p.wrapping_add(PAGE)), 0)?;
        unmap(p, 2 * PAGE)
    });
    r.check("mmap-file-private", || {
        let path = format!("{dir}/data");
        let mut data = vec![0u8; 2 * PAGE];
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        std::fs::write(&path, &data).map_err(|e| e.to_string())?;
        let cpath = c(&path);
        // SAFETY: NUL-terminated path.
        let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDONLY) };
        let fd = expect_ok("open", fd as i64)? as i32;
        let p = map(
            2 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE,
            fd,
        )?;
        // SAFETY: `fd` is ours; the mapping stays valid after close.
        unsafe { libc::close(fd) };
        eq("byte 5000", peek(p.wrapping_add(5000)), (5000 % 251) as u8)?;
        poke(p.wrapping_add(10), 0xee);
        let back = std::fs::read(&path).map_err(|e| e.to_string())?;
        eq("private write stays out of the file", back[10], 10)?;
        unmap(p, 2 * PAGE)
    });
    r.check("brk", brk);
    r.check("mremap-grow", || {
        let p = anon(PAGE)?;
        poke(p.wrapping_add(17), 0x42);
        // SAFETY: remaps our own mapping `p`; may move it (MAYMOVE), `p` is not used after.
        let q = unsafe { libc::mremap(p.cast(), PAGE, 3 * PAGE, libc::MREMAP_MAYMOVE) };
        if q == libc::MAP_FAILED {
            return Err(format!("mremap: {}", util::name(util::errno())));
        }
        let q = q.cast::<u8>();
        eq("content kept", peek(q.wrapping_add(17)), 0x42)?;
        eq("new page zeroed", peek(q.wrapping_add(2 * PAGE + 5)), 0)?;
        poke(q.wrapping_add(2 * PAGE + 5), 1);
        unmap(q, 3 * PAGE)
    });
    r.check("mremap-shrink", || {
        let p = anon(3 * PAGE)?;
        poke(p, 3);
        // SAFETY: shrinks our own mapping in place.
        let q = unsafe { libc::mremap(p.cast(), 3 * PAGE, PAGE, 0) };
        eq("same address", q.cast::<u8>(), p)?;
        eq("content kept", peek(p), 3)?;
        let end = in_child(|| i32::from(peek(p.wrapping_add(2 * PAGE))))?;
        eq(
            "child touching the released tail",
            end,
            End::Signaled(libc::SIGSEGV),
        )?;
        unmap(p, PAGE)
    });
    r.check("munmap-mprotect-errors", || {
        let p = anon(PAGE)?;
        // SAFETY: a zero length is refused before anything changes.
        let zero = unsafe { libc::munmap(p.cast(), 0) };
        expect_errno("munmap(len 0)", zero as i64, libc::EINVAL)?;
        unmap(p, PAGE)?;
        // SAFETY: the range is no longer mapped: refused.
        let ret = unsafe { libc::mprotect(p.cast(), PAGE, libc::PROT_READ) };
        expect_errno("mprotect(unmapped)", ret as i64, libc::ENOMEM)
    });
    r.check("mmap-file-shared", || {
        let path = format!("{dir}/shared");
        std::fs::write(&path, vec![b'a'; PAGE]).map_err(|e| e.to_string())?;
        let cpath = c(&path);
        // SAFETY: NUL-terminated path.
        let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR) };
        let fd = expect_ok("open", fd as i64)? as i32;
        let p = map(
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
        );
        // SAFETY: `fd` is ours; the mapping stays valid after close.
        unsafe { libc::close(fd) };
        let p = p?;
        poke(p.wrapping_add(3), b'Z');
        // SAFETY: `p` is the page mapped above.
        let ret = unsafe { libc::msync(p.cast(), PAGE, libc::MS_SYNC) };
        expect_ok("msync", ret as i64)?;
        let back = std::fs::read(&path).map_err(|e| e.to_string())?;
        eq("file sees the shared write", &back[..5], b"aaaZa")?;
        unmap(p, PAGE)
    });
    r.check("mmap-file-past-eof-sigbus", || {
        let path = format!("{dir}/short");
        std::fs::write(&path, b"tiny").map_err(|e| e.to_string())?;
        let cpath = c(&path);
        // SAFETY: NUL-terminated path.
        let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDONLY) };
        let fd = expect_ok("open", fd as i64)? as i32;
        let p = map(2 * PAGE, libc::PROT_READ, libc::MAP_PRIVATE, fd);
        // SAFETY: `fd` is ours.
        unsafe { libc::close(fd) };
        let p = p?;
        eq(
            "tail of the last page reads zero",
            peek(p.wrapping_add(100)),
            0,
        )?;
        let end = in_child(|| i32::from(peek(p.wrapping_add(PAGE))))?;
        eq("page past EOF", end, End::Signaled(libc::SIGBUS))?;
        unmap(p, 2 * PAGE)
    });
    let _ = std::fs::remove_dir_all(&dir);
    r.finish()
}

/// brk through the raw syscall (libc's `sbrk` wrappers differ): query, grow, use, shrink.
fn brk() -> Check {
    // SAFETY: brk(0) only queries the break.
    let cur = unsafe { libc::syscall(libc::SYS_brk, 0) } as usize;
    if cur == 0 {
        return Err("brk(0) returned 0".into());
    }
    // SAFETY: grows the heap by two pages above the current break, which nothing uses.
    let grown = unsafe { libc::syscall(libc::SYS_brk, cur + 2 * PAGE) } as usize;
    eq("brk(cur + 2 pages)", grown, cur + 2 * PAGE)?;
    let p = cur as *mut u8;
    eq("new heap byte", peek(p.wrapping_add(PAGE)), 0)?;
    poke(p.wrapping_add(PAGE), 5);
    eq("written", peek(p.wrapping_add(PAGE)), 5)?;
    // SAFETY: gives back exactly the pages grown above.
    let back = unsafe { libc::syscall(libc::SYS_brk, cur) } as usize;
    eq("brk(cur)", back, cur)?;
    // SAFETY: a query again.
    let now = unsafe { libc::syscall(libc::SYS_brk, 0) } as usize;
    eq("brk(0) after shrink", now, cur)
}
