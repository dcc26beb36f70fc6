//! Open files, getdents64, fd tables, pipes, FIFOs, devices and waiters.

mod common;

use common::{World, p};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use syscall::{Arch, Errno};
use vfs::dirent::{decode_dirents64, dirent64_len};
use vfs::file::{SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET};
use vfs::pipe::{FIONREAD, PIPE_BUF, PIPE_SIZE};
use vfs::{Events, FdTable, OpenFile, OpenFlags, UserMem, Waiter};

struct Counter(AtomicUsize);
impl Waiter for Counter {
    fn wake(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// User memory as a byte array at address 0x1000.
struct FakeUser(std::sync::Mutex<Vec<u8>>);
impl UserMem for FakeUser {
    fn read(&self, addr: usize, buf: &mut [u8]) -> syscall::Result<()> {
        let mem = self.0.lock().unwrap();
        let at = addr.checked_sub(0x1000).ok_or(Errno::EFAULT)?;
        buf.copy_from_slice(mem.get(at..at + buf.len()).ok_or(Errno::EFAULT)?);
        Ok(())
    }
    fn write(&self, addr: usize, data: &[u8]) -> syscall::Result<()> {
        let mut mem = self.0.lock().unwrap();
        let at = addr.checked_sub(0x1000).ok_or(Errno::EFAULT)?;
        mem.get_mut(at..at + data.len())
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(data);
        Ok(())
    }
}

fn fionread(file: &OpenFile) -> i32 {
    let user = FakeUser(std::sync::Mutex::new(vec![0; 4]));
    file.ioctl(FIONREAD, 0x1000, &user).unwrap();
    i32::from_ne_bytes(user.0.lock().unwrap()[..4].try_into().unwrap())
}

#[test]
fn read_write_seek_and_access_modes() {
    let w = World::new();
    w.create(b"f", b"hello world").unwrap();
    let ro = w.open(b"f", OpenFlags::RDONLY).unwrap();
    assert_eq!(ro.write(b"x"), Err(Errno::EBADF));
    assert_eq!(ro.truncate(0), Err(Errno::EINVAL));
    let mut buf = [0u8; 5];
    assert_eq!(ro.read(&mut buf), Ok(5));
    assert_eq!(&buf, b"hello");
    assert_eq!(ro.lseek(0, SEEK_CUR), Ok(5));
    assert_eq!(fionread(&ro), 6);
    assert_eq!(ro.pread(&mut buf, 6), Ok(5));
    assert_eq!(&buf, b"world");
    assert_eq!(ro.lseek(0, SEEK_CUR), Ok(5), "pread leaves the offset");
    assert_eq!(ro.lseek(-1, SEEK_SET), Err(Errno::EINVAL));
    assert_eq!(ro.lseek(-2, SEEK_END), Ok(9));
    assert_eq!(ro.lseek(3, SEEK_DATA), Ok(3));
    assert_eq!(ro.lseek(3, SEEK_HOLE), Ok(11));
    assert_eq!(ro.lseek(11, SEEK_DATA), Err(Errno::ENXIO));
    assert_eq!(ro.lseek(0, 7), Err(Errno::EINVAL));
    assert_eq!(ro.pread(&mut buf, -1), Err(Errno::EINVAL));
    let wo = w.open(b"f", OpenFlags::WRONLY).unwrap();
    assert_eq!(wo.read(&mut buf), Err(Errno::EBADF));
    // Writing past the end leaves a hole of zeros.
    assert_eq!(wo.lseek(20, SEEK_SET), Ok(20));
    assert_eq!(wo.write(b"!"), Ok(1));
    let all = w.read_all(b"f").unwrap();
    assert_eq!(all.len(), 21);
    assert_eq!(&all[11..20], &[0; 9]);
    let app = w
        .open(b"f", OpenFlags::WRONLY.with(OpenFlags::APPEND))
        .unwrap();
    app.write(b"A").unwrap();
    app.pwrite(b"B", 0).unwrap();
    assert_eq!(
        &w.read_all(b"f").unwrap()[20..],
        b"!AB",
        "pwrite appends under O_APPEND, as on Linux"
    );
    let path_only = w.open(b"f", OpenFlags::PATH).unwrap();
    assert_eq!(path_only.read(&mut buf), Err(Errno::EBADF));
    assert_eq!(path_only.metadata().size, 23);
    let trunc = w
        .open(b"f", OpenFlags::RDWR.with(OpenFlags::TRUNC))
        .unwrap();
    assert_eq!(trunc.metadata().size, 0);
    assert_eq!(w.open(b"/", OpenFlags::WRONLY).err(), Some(Errno::EISDIR));
    assert_eq!(
        w.open(b"f", OpenFlags::DIRECTORY).err(),
        Some(Errno::ENOTDIR)
    );
    let dir = w.open(b"/", OpenFlags::RDONLY).unwrap();
    assert_eq!(dir.read(&mut buf), Err(Errno::EISDIR));
    assert_eq!(dir.lseek(0, SEEK_END), Err(Errno::EINVAL));
    // F_SETFL changes only the status flags.
    ro.set_status_flags(OpenFlags::NONBLOCK.with(OpenFlags::WRONLY));
    assert_eq!(ro.flags(), OpenFlags::NONBLOCK);
}

#[test]
fn open_flags_convert_per_arch() {
    // arm64: O_DIRECTORY 0o40000, O_NOFOLLOW 0o100000 (arch/arm64/include/uapi/asm/fcntl.h).
    let f = OpenFlags::from_linux(0o40000 | 0o100000 | 0o2, Arch::Aarch64);
    assert!(f.contains(OpenFlags::DIRECTORY) && f.contains(OpenFlags::NOFOLLOW));
    assert!(!f.contains(OpenFlags::DIRECT));
    assert_eq!(f.to_linux(Arch::Aarch64), 0o40000 | 0o100000 | 0o2);
    let x = OpenFlags::from_linux(0o200000, Arch::X86_64);
    assert_eq!(x, OpenFlags::DIRECTORY);
    assert_eq!(OpenFlags::DIRECT.to_linux(Arch::Aarch64), 0o200000);
}

#[test]
fn getdents64_records_and_small_buffers() {
    let w = World::new();
    w.mkdir(b"d").unwrap();
    for name in ["a", "bb", "a-much-longer-name"] {
        w.create(format!("d/{name}").as_bytes(), b"").unwrap();
    }
    let d = w
        .open(b"d", OpenFlags::RDONLY.with(OpenFlags::DIRECTORY))
        .unwrap();
    let mut tiny = [0u8; 10];
    assert_eq!(d.getdents64(&mut tiny), Err(Errno::EINVAL));
    let mut one = [0u8; 24];
    assert_eq!(
        d.getdents64(&mut one),
        Ok(24),
        "`.` needs exactly 24 bytes (host fact)"
    );
    let rec = &decode_dirents64(&one).unwrap()[0];
    assert_eq!((rec.name.as_slice(), rec.kind, rec.off), (&b"."[..], 4, 1));
    let mut buf = [0u8; 4096];
    let n = d.getdents64(&mut buf).unwrap();
    let recs = decode_dirents64(&buf[..n]).unwrap();
    let names: Vec<_> = recs
        .iter()
        .map(|r| String::from_utf8(r.name.clone()).unwrap())
        .collect();
    assert_eq!(names, ["..", "a", "bb", "a-much-longer-name"]);
    assert_eq!(recs[1].kind, 8, "DT_REG");
    assert_eq!(
        n,
        dirent64_len(2) + dirent64_len(1) + dirent64_len(2) + dirent64_len(18)
    );
    assert_eq!(d.getdents64(&mut buf), Ok(0));
    // Rewind with lseek to a cookie.
    d.lseek(recs[2].off, SEEK_SET).unwrap();
    let n = d.getdents64(&mut buf).unwrap();
    assert_eq!(
        decode_dirents64(&buf[..n]).unwrap()[0].name,
        b"a-much-longer-name"
    );
    let f = w.open(b"d/a", OpenFlags::RDONLY).unwrap();
    assert_eq!(f.getdents64(&mut buf), Err(Errno::ENOTDIR));
}

#[test]
fn getdents64_of_a_directory_being_modified() {
    let w = World::new();
    w.mkdir(b"d").unwrap();
    for i in 0..100 {
        w.create(format!("d/f{i:03}").as_bytes(), b"").unwrap();
    }
    let d = w.open(b"d", OpenFlags::RDONLY).unwrap();
    let mut seen = std::collections::BTreeMap::new();
    let mut buf = [0u8; 200];
    let mut round = 0;
    loop {
        let n = d.getdents64(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for r in decode_dirents64(&buf[..n]).unwrap() {
            *seen.entry(String::from_utf8(r.name).unwrap()).or_insert(0) += 1;
        }
        // Between calls: remove one not yet seen, one seen, and add new names.
        let l = w.lookup();
        let _ = w
            .vfs
            .unlink(&l, p(format!("d/f{:03}", 99 - round).as_bytes()));
        let _ = w.vfs.unlink(&l, p(format!("d/f{:03}", round).as_bytes()));
        if round < 5 {
            w.create(format!("d/new{round}").as_bytes(), b"").unwrap();
        }
        round += 1;
        assert!(round < 1000, "the listing ends");
    }
    assert!(seen.values().all(|&c| c == 1), "no entry twice: {seen:?}");
    assert!(seen.contains_key("new4"), "entries added later are seen");
    // Every entry that existed throughout was seen.
    for i in round..(100 - round) {
        assert!(seen.contains_key(&format!("f{i:03}")), "f{i:03} missed");
    }
}

#[test]
fn fd_table_semantics() {
    let w = World::new();
    w.create(b"f", b"x").unwrap();
    let file = || w.open(b"f", OpenFlags::RDONLY).unwrap();
    let mut t = FdTable::new();
    assert_eq!(t.insert(file(), false), Ok(0));
    assert_eq!(t.insert(file(), true), Ok(1));
    assert_eq!(t.insert(file(), false), Ok(2));
    t.remove(1).unwrap();
    assert_eq!(t.remove(1).err(), Some(Errno::EBADF));
    assert_eq!(t.dup(2), Ok(1), "lowest free");
    assert!(Arc::ptr_eq(t.get(1).unwrap(), t.get(2).unwrap()));
    assert_eq!(t.cloexec(1), Ok(false));
    assert_eq!(t.dup3(0, 0, false, true).err(), Some(Errno::EINVAL));
    assert_eq!(t.dup3(0, 0, false, false).map(|o| o.is_none()), Ok(true));
    assert_eq!(t.dup3(9, 0, false, false).err(), Some(Errno::EBADF));
    assert_eq!(t.dup3(0, 10, true, true).map(|o| o.is_none()), Ok(true));
    assert_eq!(t.cloexec(10), Ok(true));
    let replaced = t.dup3(0, 2, false, true).unwrap();
    assert!(replaced.is_some());
    assert_eq!(t.dup3(0, 1024, false, false).err(), Some(Errno::EBADF));
    assert_eq!(
        t.insert_from(1024, file(), false).err(),
        Some(Errno::EINVAL)
    );
    assert_eq!(t.insert_from(5, file(), false), Ok(5));
    let child = t.clone();
    assert_eq!(child.fds().collect::<Vec<_>>(), [0, 1, 2, 5, 10]);
    let closed = t.close_on_exec();
    assert_eq!(closed.len(), 1);
    assert_eq!(t.fds().collect::<Vec<_>>(), [0, 1, 2, 5]);
    t.set_limit(6).unwrap();
    assert_eq!(t.insert(file(), false), Ok(3));
    assert_eq!(t.insert(file(), false), Ok(4));
    assert_eq!(t.insert(file(), false).err(), Some(Errno::EMFILE));
    assert_eq!(t.set_limit(usize::MAX).err(), Some(Errno::EPERM));
    assert_eq!(t.clear().len(), 6);
    assert!(t.is_empty());
}

#[test]
fn pipes_eof_epipe_atomicity_and_wakeups() {
    let (r, wr) = OpenFile::new_pipe(OpenFlags::NONBLOCK);
    let waiter = Arc::new(Counter(AtomicUsize::new(0)));
    let key = r.pollee().unwrap().register(waiter.clone());
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf), Err(Errno::EAGAIN));
    assert_eq!(r.poll(), Events::EMPTY);
    assert!(wr.poll().contains(Events::OUT));
    assert_eq!(wr.write(b"abc"), Ok(3));
    assert_eq!(waiter.0.load(Ordering::Relaxed), 1);
    assert!(r.poll().contains(Events::IN));
    assert_eq!(fionread(&r), 3);
    assert_eq!(r.lseek(0, SEEK_SET), Err(Errno::ESPIPE));
    assert_eq!(r.pread(&mut buf, 0), Err(Errno::ESPIPE));
    assert_eq!(r.write(b"x"), Err(Errno::EBADF));
    assert_eq!(r.read(&mut buf), Ok(3));
    assert_eq!(r.metadata().mode, vfs::types::S_IFIFO | 0o600);
    // Fill: a big write is partial, a small one that does not fit is all-or-nothing.
    let big = vec![7u8; PIPE_SIZE + 100];
    assert_eq!(wr.write(&big), Ok(PIPE_SIZE));
    assert_eq!(wr.write(b"x"), Err(Errno::EAGAIN));
    assert!(!wr.poll().contains(Events::OUT));
    let mut out = vec![0u8; 10];
    r.read(&mut out).unwrap();
    assert_eq!(
        wr.write(&[1u8; PIPE_BUF]),
        Err(Errno::EAGAIN),
        "atomic: 10 bytes free"
    );
    assert_eq!(wr.write(&[1u8; 10]), Ok(10));
    // Ring wrap-around keeps the order.
    let mut rest = vec![0u8; PIPE_SIZE];
    assert_eq!(r.read(&mut rest), Ok(PIPE_SIZE));
    assert!(rest[..PIPE_SIZE - 10].iter().all(|&b| b == 7));
    assert!(rest[PIPE_SIZE - 10..].iter().all(|&b| b == 1));
    wr.write(b"tail").unwrap();
    drop(wr);
    assert!(r.poll().contains(Events::HUP | Events::IN));
    assert_eq!(r.read(&mut buf), Ok(4));
    assert_eq!(r.read(&mut buf), Ok(0), "EOF without writers");
    r.pollee().unwrap().unregister(key);
    let (r2, w2) = OpenFile::new_pipe(OpenFlags::default());
    drop(r2);
    assert_eq!(w2.write(b"x"), Err(Errno::EPIPE));
    assert!(w2.poll().contains(Events::ERR));
}

#[test]
fn fifos_and_device_nodes() {
    let w = World::new();
    let l = w.lookup();
    w.vfs
        .mknod(&l, p(b"fifo"), vfs::types::S_IFIFO | 0o644, 0)
        .unwrap();
    let nb = OpenFlags::NONBLOCK;
    assert_eq!(
        w.open(b"fifo", OpenFlags::WRONLY.with(nb)).err(),
        Some(Errno::ENXIO)
    );
    let r = w.open(b"fifo", OpenFlags::RDONLY.with(nb)).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(r.read(&mut buf), Ok(0), "no writer: EOF");
    assert_eq!(
        r.poll(),
        Events::EMPTY,
        "no POLLHUP before a writer came (w_counter)"
    );
    assert_eq!(r.pipe().unwrap().writers(), 0);
    let opened = r.pipe().unwrap().writers_opened();
    let wr = w.open(b"fifo", OpenFlags::WRONLY.with(nb)).unwrap();
    assert_eq!(r.pipe().unwrap().writers(), 1);
    // A blocked reader's open ends on this count, which outlives the writer.
    assert_eq!(r.pipe().unwrap().writers_opened(), opened + 1);
    assert_eq!(r.read(&mut buf), Err(Errno::EAGAIN));
    wr.write(b"hi").unwrap();
    assert_eq!(r.read(&mut buf), Ok(2));
    drop(wr);
    assert_eq!(r.poll(), Events::HUP, "the writer came and went");
    let rw = w.open(b"fifo", OpenFlags::RDWR.with(nb)).unwrap();
    rw.write(b"self").unwrap();
    assert_eq!(rw.read(&mut buf), Ok(4));
    assert_eq!(w.stat(b"fifo").unwrap().mode, vfs::types::S_IFIFO | 0o644);
    // A device node without a driver is ENXIO; with one (registered by number) it works.
    w.vfs
        .mknod(
            &l,
            p(b"null"),
            vfs::types::S_IFCHR | 0o666,
            vfs::types::makedev(1, 3),
        )
        .unwrap();
    assert_eq!(w.open(b"null", OpenFlags::RDWR).err(), Some(Errno::ENXIO));
    w.vfs
        .devices()
        .register_char(vfs::types::makedev(1, 3), Arc::new(devfs::mem::Null))
        .unwrap();
    let null = w.open(b"null", OpenFlags::RDWR).unwrap();
    assert_eq!(null.write(b"abc"), Ok(3));
    assert_eq!(null.read(&mut buf), Ok(0));
    assert_eq!(null.lseek(100, SEEK_SET), Ok(0), "null_lseek (host fact)");
    w.vfs
        .mknod(&l, p(b"blk"), vfs::types::S_IFBLK | 0o600, 0x800)
        .unwrap();
    assert_eq!(w.open(b"blk", OpenFlags::RDONLY).err(), Some(Errno::ENXIO));
}
