//! Conformance checks for memory: anonymous and file mappings, private and shared mappings
//! across fork, shared file mappings through the page cache (coherent with read/write, other
//! mappings and processes), msync, shared futexes across processes, munmap and mprotect
//! (faults observed as a child's SIGSEGV), brk, mremap.
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

/// A shared read-write mapping of `len` bytes of `fd` from its start.
fn shared(len: usize, fd: i32) -> Result<*mut u8, String> {
    map(
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED,
        fd,
    )
}

/// A shared anonymous read-write mapping (one that `fork` does not copy).
fn shared_anon(len: usize) -> Result<*mut u8, String> {
    map(
        len,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_SHARED | libc::MAP_ANONYMOUS,
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
        let p = shared_anon(PAGE)?;
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
        let (fd, p) = shared_file(&dir, "shared", &[b'a'; PAGE], PAGE)?;
        // The mapping stays valid after close.
        close(fd);
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
    r.check("mmap-file-shared-sees-write", || {
        let (fd, p) = shared_file(&dir, "seen", b"0123456789", PAGE)?;
        eq("mapping shows the file", peek(p.wrapping_add(4)), b'4')?;
        pwrite(fd, b"AB", 3)?;
        eq("write() seen in the mapping", peek(p.wrapping_add(3)), b'A')?;
        eq("second byte", peek(p.wrapping_add(4)), b'B')?;
        poke(p.wrapping_add(7), b'x');
        eq(
            "read() sees the mapping",
            pread(fd, 10, 0)?.as_slice(),
            b"012AB56x89".as_slice(),
        )?;
        close(fd);
        unmap(p, PAGE)
    });
    r.check("mmap-file-shared-kept-after-munmap", || {
        let (fd, p) = shared_file(&dir, "kept", &[b'.'; 3 * PAGE], 3 * PAGE)?;
        close(fd);
        poke(p.wrapping_add(2 * PAGE + 1), b'K');
        unmap(p, 3 * PAGE)?;
        let back = std::fs::read(format!("{dir}/kept")).map_err(|e| e.to_string())?;
        eq("length", back.len(), 3 * PAGE)?;
        eq("byte written before munmap", back[2 * PAGE + 1], b'K')
    });
    r.check("mmap-file-shared-fork", || {
        let (fd, p) = shared_file(&dir, "forked", &[0; PAGE], PAGE)?;
        let path = format!("{dir}/forked");
        let end = in_child(|| {
            poke(p.wrapping_add(10), 0x11);
            // An independent mapping of the same file in the child.
            let cpath = c(&path);
            // SAFETY: NUL-terminated path.
            let fd2 = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR) };
            let Ok(q) = shared(PAGE, fd2) else {
                return 3;
            };
            poke(q.wrapping_add(20), 0x22);
            i32::from(peek(q.wrapping_add(10)))
        })?;
        eq(
            "child saw its inherited write in its own mapping",
            end,
            End::Exited(0x11),
        )?;
        eq(
            "parent mapping sees the child's own mapping",
            peek(p.wrapping_add(20)),
            0x22,
        )?;
        eq("read() sees both", pread(fd, 21, 0)?[10..].to_vec(), {
            let mut v = vec![0u8; 11];
            v[0] = 0x11;
            v[10] = 0x22;
            v
        })?;
        // Two independent mappings in one process are the same page.
        let q = map(PAGE, libc::PROT_READ, libc::MAP_SHARED, fd)?;
        poke(p.wrapping_add(30), 0x33);
        eq("second mapping", peek(q.wrapping_add(30)), 0x33)?;
        close(fd);
        unmap(q, PAGE)?;
        unmap(p, PAGE)
    });
    r.check("mmap-file-private-cow", || {
        let (fd, _) = shared_file(&dir, "private", b"abcdef", 0)?;
        let q = map(
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE,
            fd,
        )?;
        eq("private mapping", peek(q.wrapping_add(1)), b'b')?;
        poke(q.wrapping_add(2), b'C');
        pwrite(fd, b"X", 2)?;
        eq("own copy after its write", peek(q.wrapping_add(2)), b'C')?;
        eq(
            "file unchanged by it",
            pread(fd, 6, 0)?.as_slice(),
            b"abXdef".as_slice(),
        )?;
        close(fd);
        unmap(q, PAGE)
    });
    r.check("mmap-file-truncate-grow-then-map", || {
        let (fd, _) = shared_file(&dir, "grown", b"", 0)?;
        // SAFETY: `fd` is ours.
        let ret = unsafe { libc::ftruncate(fd, (3 * PAGE) as libc::off_t) };
        expect_ok("ftruncate", ret as i64)?;
        let p = shared(3 * PAGE, fd)?;
        eq("hole reads zero", peek(p.wrapping_add(PAGE + 5)), 0)?;
        poke(p.wrapping_add(2 * PAGE + 9), b'g');
        eq(
            "read() past the hole",
            pread(fd, 1, (2 * PAGE + 9) as i64)?.as_slice(),
            b"g".as_slice(),
        )?;
        eq("size unchanged", file_size(fd)?, (3 * PAGE) as i64)?;
        close(fd);
        unmap(p, 3 * PAGE)
    });
    r.check("mmap-file-shared-past-eof", || {
        let (fd, p) = shared_file(&dir, "tail", &[b'y'; 100], PAGE)?;
        eq("tail of the page reads zero", peek(p.wrapping_add(150)), 0)?;
        poke(p.wrapping_add(200), b'!');
        eq("size unchanged", file_size(fd)?, 100)?;
        eq("read() stops at the size", pread(fd, 300, 0)?.len(), 100)?;
        close(fd);
        unmap(p, PAGE)
    });
    r.check("mmap-file-truncate-sigbus", || {
        let (fd, p) = shared_file(&dir, "cut", &[b'c'; 2 * PAGE], 2 * PAGE)?;
        eq("first page", peek(p.wrapping_add(150)), b'c')?;
        // SAFETY: `fd` is ours.
        let ret = unsafe { libc::ftruncate(fd, 100) };
        expect_ok("ftruncate", ret as i64)?;
        eq(
            "cut part of the last page reads zero",
            peek(p.wrapping_add(150)),
            0,
        )?;
        eq("kept part", peek(p.wrapping_add(99)), b'c')?;
        let end = in_child(|| i32::from(peek(p.wrapping_add(PAGE + 1))))?;
        eq("page past the new end", end, End::Signaled(libc::SIGBUS))?;
        close(fd);
        unmap(p, 2 * PAGE)
    });
    r.check("msync-errors", || {
        let p = anon(2 * PAGE)?;
        let ms = |addr: *mut u8, len: usize, flags: i32| {
            // SAFETY: msync only looks at the range; raw call for exact errnos.
            unsafe { libc::syscall(libc::SYS_msync, addr, len, flags) }
        };
        expect_ok("msync(MS_ASYNC)", ms(p, PAGE, libc::MS_ASYNC))?;
        expect_ok("msync(MS_SYNC, 1 byte)", ms(p, 1, libc::MS_SYNC))?;
        expect_ok("msync(0)", ms(p, 2 * PAGE, 0))?;
        expect_errno(
            "unaligned",
            ms(p.wrapping_add(1), PAGE, libc::MS_SYNC),
            libc::EINVAL,
        )?;
        expect_errno(
            "MS_ASYNC|MS_SYNC",
            ms(p, PAGE, libc::MS_ASYNC | libc::MS_SYNC),
            libc::EINVAL,
        )?;
        expect_errno("unknown flag", ms(p, PAGE, 8), libc::EINVAL)?;
        unmap(p.wrapping_add(PAGE), PAGE)?;
        expect_errno(
            "range with a hole",
            ms(p, 2 * PAGE, libc::MS_SYNC),
            libc::ENOMEM,
        )?;
        expect_errno(
            "unmapped",
            ms(p.wrapping_add(PAGE), PAGE, libc::MS_ASYNC),
            libc::ENOMEM,
        )?;
        unmap(p, PAGE)
    });
    r.check("futex-shared-fork", || {
        let p = shared_anon(PAGE)?;
        futex_across_fork(p.wrapping_add(64), || Ok(p.wrapping_add(64)))?;
        unmap(p, PAGE)
    });
    r.check("futex-shared-file", || {
        let (fd, p) = shared_file(&dir, "futex", &[0; PAGE], PAGE)?;
        // The child waits in a mapping of its own (same file page, another address).
        futex_across_fork(p.wrapping_add(128), || {
            shared(PAGE, fd).map(|q| q.wrapping_add(128))
        })?;
        close(fd);
        unmap(p, PAGE)
    });
    let _ = std::fs::remove_dir_all(&dir);
    r.finish()
}

/// A child waits (FUTEX_WAIT, shared, 5 s timeout) on the word `child_word()` gives it, which
/// must be the same memory as `word` in the parent; the parent wakes it through `word`.
fn futex_across_fork(word: *mut u8, child_word: impl FnOnce() -> Result<*mut u8, String>) -> Check {
    // SAFETY: fork in a single-threaded program; the child only waits and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed with {}", util::name(util::errno())));
    }
    if pid == 0 {
        let code = match child_word() {
            Ok(w) => {
                let timeout = libc::timespec {
                    tv_sec: 5,
                    tv_nsec: 0,
                };
                // SAFETY: `w` is a 4-aligned word in a live shared mapping; `timeout` lives.
                let ret = unsafe {
                    libc::syscall(libc::SYS_futex, w, libc::FUTEX_WAIT, 0, &timeout, 0, 0)
                };
                if ret == 0 { 0 } else { 100 + util::errno() }
            }
            Err(_) => 99,
        };
        // SAFETY: `_exit` ends the child without running the parent's atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut woken = 0;
    for _ in 0..400 {
        // SAFETY: `word` is a 4-aligned word in a live shared mapping.
        woken = unsafe { libc::syscall(libc::SYS_futex, word, libc::FUTEX_WAKE, 1, 0, 0, 0) };
        if woken != 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let end = util::wait_for(pid)?;
    eq("FUTEX_WAKE from the parent woke", woken, 1)?;
    eq("child's FUTEX_WAIT", end, End::Exited(0))
}

/// A file `name` in `dir` holding `data`, open read-write, and a shared read-write mapping
/// of its first `len` bytes (none if `len` is 0).
fn shared_file(dir: &str, name: &str, data: &[u8], len: usize) -> Result<(i32, *mut u8), String> {
    let path = format!("{dir}/{name}");
    std::fs::write(&path, data).map_err(|e| e.to_string())?;
    let cpath = c(&path);
    // SAFETY: NUL-terminated path.
    let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDWR) };
    let fd = expect_ok("open", fd as i64)? as i32;
    if len == 0 {
        return Ok((fd, std::ptr::null_mut()));
    }
    match shared(len, fd) {
        Ok(p) => Ok((fd, p)),
        Err(e) => {
            close(fd);
            Err(e)
        }
    }
}

fn close(fd: i32) {
    // SAFETY: `fd` is a descriptor the check opened and no longer uses.
    unsafe { libc::close(fd) };
}

fn pwrite(fd: i32, data: &[u8], offset: i64) -> Check {
    // SAFETY: `data` is a live buffer of the given length.
    let n = unsafe { libc::pwrite(fd, data.as_ptr().cast(), data.len(), offset) };
    eq("pwrite", n as usize, data.len())
}

fn pread(fd: i32, len: usize, offset: i64) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` is a live buffer of `len` bytes.
    let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), len, offset) };
    let n = expect_ok("pread", n as i64)? as usize;
    buf.truncate(n);
    Ok(buf)
}

fn file_size(fd: i32) -> Result<i64, String> {
    // SAFETY: an all-zero `stat` is a valid value; fstat overwrites it.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer.
    let ret = unsafe { libc::fstat(fd, &mut st) };
    expect_ok("fstat", ret as i64)?;
    Ok(st.st_size)
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
