//! Host tests of pty pairs and devpts: what Linux does, as measured on the host.

use super::*;
use crate::inode::FileSystem;
use crate::tty::{ECHO, FIONREAD, ICANON, TCGETS, TIOCSWINSZ, Termios, VMIN, VTIME};
use alloc::vec;
use alloc::vec::Vec;
use std::sync::Mutex as StdMutex;

fn now() -> u64 {
    0
}

/// User memory: one flat buffer, addresses are offsets.
struct Mem(StdMutex<Vec<u8>>);

impl UserMem for Mem {
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<()> {
        let m = self.0.lock().unwrap();
        buf.copy_from_slice(m.get(addr..addr + buf.len()).ok_or(Errno::EFAULT)?);
        Ok(())
    }
    fn write(&self, addr: usize, data: &[u8]) -> Result<()> {
        let mut m = self.0.lock().unwrap();
        m.get_mut(addr..addr + data.len())
            .ok_or(Errno::EFAULT)?
            .copy_from_slice(data);
        Ok(())
    }
}

struct Rig {
    pts: Arc<DevPts>,
    sigs: Arc<StdMutex<Vec<(i32, u32)>>>,
    mem: Mem,
}

fn rig() -> Rig {
    let sigs = Arc::new(StdMutex::new(Vec::new()));
    let s = sigs.clone();
    let signal: SignalFn = Arc::new(move |pg, sig| s.lock().unwrap().push((pg, sig)));
    Rig {
        pts: DevPts::new(77, signal, now),
        sigs,
        mem: Mem(StdMutex::new(vec![0u8; 64])),
    }
}

impl Rig {
    fn open_master(&self) -> Arc<dyn FileOps> {
        use crate::device::CharDevice;
        self.pts
            .ptmx()
            .open(OpenFlags::RDWR)
            .unwrap()
            .expect("a master")
    }
    fn number(&self, master: &Arc<dyn FileOps>) -> u32 {
        master.ioctl(TIOCGPTN, 0, &self.mem).unwrap();
        let mut b = [0u8; 4];
        self.mem.read(0, &mut b).unwrap();
        u32::from_le_bytes(b)
    }
    fn unlock(&self, master: &Arc<dyn FileOps>) {
        self.mem.write(4, &0i32.to_le_bytes()).unwrap();
        master.ioctl(TIOCSPTLCK, 4, &self.mem).unwrap();
    }
    /// The first pair: a master, unlocked, and its slave `0`.
    fn pair(&self) -> (Arc<dyn FileOps>, Arc<dyn FileOps>) {
        let m = self.open_master();
        self.unlock(&m);
        let s = self.open_slave(0).unwrap();
        (m, s)
    }
    /// Makes `slave` the controlling terminal of the session led by `pid` (its own process
    /// group, which becomes the foreground group).
    fn make_controlling(&self, slave: &Arc<dyn FileOps>, pid: i32) {
        let groups = |_| true;
        let leader = crate::tty::Caller {
            pid,
            pgid: pid,
            sid: pid,
            privileged: false,
            pgrp_in_session: &groups,
            session_alive: &groups,
        };
        slave
            .tty()
            .unwrap()
            .job_ioctl(crate::tty::TIOCSCTTY, 0, &self.mem, &leader)
            .unwrap();
    }
    fn open_slave(&self, n: u32) -> Result<Arc<dyn FileOps>> {
        let name = alloc::format!("{n}");
        let node = self.pts.root().lookup(name.as_bytes())?;
        node.open(OpenFlags::RDWR)
            .expect("slave nodes open themselves")
    }
    /// The devpts root's entries from `cookie` on.
    fn names(&self, cookie: u64) -> Vec<Vec<u8>> {
        let mut names = Vec::new();
        self.pts
            .root()
            .readdir(cookie, &mut |e| {
                names.push(e.name.to_vec());
                true
            })
            .unwrap();
        names
    }
}

fn read(f: &Arc<dyn FileOps>, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let n = f.read(0, &mut buf, false)?;
    buf.truncate(n);
    Ok(buf)
}

use crate::file::OpenFlags;

#[test]
fn pair_lock_echo_and_output() {
    let r = rig();
    let m = r.open_master();
    assert_eq!(r.number(&m), 0);
    // A fresh master: writable, nothing to read, no hang-up.
    assert_eq!(m.poll(), Events::OUT | Events::WRNORM);
    assert_eq!(read(&m, 10), Err(Errno::EAGAIN));
    assert_eq!(r.open_slave(0).err(), Some(Errno::EIO));
    r.unlock(&m);
    let s = r.open_slave(0).unwrap();
    assert!(s.tty().is_some());
    assert!(m.tty().is_none());
    assert_eq!(r.names(0), [&b"."[..], b"..", b"ptmx", b"0"]);
    // Master input goes through the slave's canonical mode; the echo comes back.
    m.write(0, b"ab\x7fc\r", false).unwrap();
    assert_eq!(read(&m, 100).unwrap(), b"ab\x08 \x08c\r\n");
    assert_eq!(read(&s, 100).unwrap(), b"ac\n");
    // Slave output reaches the master after ONLCR.
    s.write(0, b"hi\n", false).unwrap();
    m.ioctl(FIONREAD, 8, &r.mem).unwrap();
    let mut b = [0u8; 4];
    r.mem.read(8, &mut b).unwrap();
    assert_eq!(i32::from_le_bytes(b), 4);
    assert!(m.poll().contains(Events::IN));
    assert_eq!(read(&m, 100).unwrap(), b"hi\r\n");
    // termios ioctls on the master are the slave's.
    m.ioctl(TCGETS, 16, &r.mem).unwrap();
    let mut t = [0u8; 36];
    r.mem.read(16, &mut t).unwrap();
    let want = Termios {
        cflag: SLAVE_CFLAG,
        ..Termios::linux_default()
    };
    assert_eq!(Termios::from_bytes(&t), want);
}

#[test]
fn raw_mode_and_flow_control() {
    let r = rig();
    let (m, s) = r.pair();
    let mut t = s.tty().unwrap().termios();
    t.lflag &= !(ICANON | ECHO);
    t.cc[VMIN] = 1;
    t.cc[VTIME] = 0;
    s.tty().unwrap().set_termios(t);
    m.write(0, b"x", false).unwrap();
    assert_eq!(read(&s, 10).unwrap(), b"x");
    // The master's writes stop at MAX_INPUT queued bytes.
    let big = vec![b'q'; MAX_INPUT + 100];
    assert_eq!(m.write(0, &big, false), Ok(MAX_INPUT));
    assert_eq!(m.write(0, b"z", false), Err(Errno::EAGAIN));
    assert!(!m.poll().contains(Events::OUT));
    assert_eq!(read(&s, 10).unwrap().len(), 10);
    assert!(m.poll().contains(Events::OUT));
    // The slave's writes stop when the master's buffer is full.
    t.oflag = 0;
    s.tty().unwrap().set_termios(t);
    let mut sent = 0;
    while let Ok(n) = s.write(0, &big, false) {
        sent += n;
    }
    assert_eq!(sent, MASTER_BUF);
    assert!(!s.poll().contains(Events::OUT));
    assert_eq!(read(&m, 100).unwrap().len(), 100);
    assert!(s.poll().contains(Events::OUT));
}

#[test]
fn window_size_signals_the_foreground_group() {
    let r = rig();
    let (m, s) = r.pair();
    r.make_controlling(&s, 9);
    r.mem.write(8, &[30, 0, 100, 0, 0, 0, 0, 0]).unwrap();
    m.ioctl(TIOCSWINSZ, 8, &r.mem).unwrap();
    m.ioctl(TIOCSWINSZ, 8, &r.mem).unwrap(); // unchanged: no second signal
    assert_eq!(*r.sigs.lock().unwrap(), [(9, crate::tty::SIGWINCH)]);
    // ^C from the master signals the slave's foreground group.
    m.write(0, b"\x03", false).unwrap();
    assert_eq!(r.sigs.lock().unwrap()[1], (9, crate::tty::SIGINT));
}

#[test]
fn master_close_hangs_up_the_slave() {
    let r = rig();
    let (m, s) = r.pair();
    r.make_controlling(&s, 5);
    drop(m);
    assert_eq!(*r.sigs.lock().unwrap(), [(5, SIGHUP), (5, SIGCONT)]);
    assert_eq!(read(&s, 10).unwrap(), b"");
    assert_eq!(s.write(0, b"x", false), Err(Errno::EIO));
    assert_eq!(s.ioctl(TCGETS, 0, &r.mem), Err(Errno::EIO));
    assert!(s.poll().contains(Events::HUP | Events::ERR | Events::IN));
    assert!(s.tty().is_none());
    // The node is gone; the number stays taken until the slave closes too.
    assert_eq!(r.open_slave(0).err(), Some(Errno::ENOENT));
    let m2 = r.open_master();
    assert_eq!(r.number(&m2), 1);
    drop(s);
    let m3 = r.open_master();
    assert_eq!(r.number(&m3), 0);
    assert_eq!(r.pts.open_ptys(), [0, 1]);
}

#[test]
fn slave_close_gives_the_master_eio_after_the_data() {
    let r = rig();
    let (m, s) = r.pair();
    let s2 = r.open_slave(0).unwrap();
    s.write(0, b"bye", false).unwrap();
    drop(s);
    assert!(!m.poll().contains(Events::HUP));
    drop(s2);
    assert!(m.poll().contains(Events::HUP));
    assert_eq!(read(&m, 10).unwrap(), b"bye");
    assert_eq!(read(&m, 10), Err(Errno::EIO));
    // Opening the slave again clears it.
    let _s = r.open_slave(0).unwrap();
    assert_eq!(read(&m, 10), Err(Errno::EAGAIN));
}

#[test]
fn devpts_names_and_bad_lookups() {
    let r = rig();
    let _m: Vec<_> = (0..3).map(|_| r.open_master()).collect();
    for bad in [
        &b"00"[..],
        b"01",
        b"x",
        b"-1",
        b"+1",
        b"3",
        b"99999999999",
        b"",
    ] {
        assert_eq!(r.pts.root().lookup(bad).err(), Some(Errno::ENOENT));
    }
    let node = r.pts.root().lookup(b"2").unwrap();
    let meta = node.metadata();
    assert_eq!(meta.rdev, crate::types::makedev(PTS_MAJOR, 2));
    assert_eq!(meta.mode, crate::types::S_IFCHR | 0o620);
    assert_eq!(r.pts.fs_type(), "devpts");
    // Resuming a listing after an entry.
    assert_eq!(r.names(4), [&b"1"[..], b"2"]);
}
