//! Host tests of the line discipline: editing, echo bytes, signals, raw mode, output.

use super::*;
use alloc::sync::Arc;
use alloc::vec;
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex as StdMutex;

/// The fake monotonic clock of these tests (ns); only `vtime_timers` moves it.
static NOW: AtomicU64 = AtomicU64::new(1_000_000_000);

fn fake_now() -> u64 {
    NOW.load(Ordering::Relaxed)
}

/// A tty whose output and signals are recorded.
struct Rig {
    tty: Tty,
    out: Arc<StdMutex<Vec<u8>>>,
    sigs: Arc<StdMutex<Vec<(i32, u32)>>>,
}

fn rig() -> Rig {
    let out = Arc::new(StdMutex::new(Vec::new()));
    let sigs = Arc::new(StdMutex::new(Vec::new()));
    let (o, s) = (out.clone(), sigs.clone());
    let tty = Tty::new(
        Box::new(move |b: &[u8]| o.lock().unwrap().extend_from_slice(b)),
        Box::new(move |pg, sig| s.lock().unwrap().push((pg, sig))),
        fake_now,
    );
    Rig { tty, out, sigs }
}

impl Rig {
    fn take_out(&self) -> Vec<u8> {
        core::mem::take(&mut *self.out.lock().unwrap())
    }
    fn read(&self, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        let n = self.tty.read(0, &mut buf, false)?;
        buf.truncate(n);
        Ok(buf)
    }
    fn set(&self, f: impl FnOnce(&mut Termios)) {
        let mut t = self.tty.termios();
        f(&mut t);
        self.tty.set_termios(t);
    }
}

/// User memory for ioctl tests: one flat buffer, addresses are offsets.
struct Mem(StdMutex<Vec<u8>>);

impl UserMem for Mem {
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<()> {
        let m = self.0.lock().unwrap();
        let src = m.get(addr..addr + buf.len()).ok_or(Errno::EFAULT)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write(&self, addr: usize, data: &[u8]) -> Result<()> {
        let mut m = self.0.lock().unwrap();
        let dst = m.get_mut(addr..addr + data.len()).ok_or(Errno::EFAULT)?;
        dst.copy_from_slice(data);
        Ok(())
    }
}

#[test]
fn termios_layout_and_default() {
    let t = Termios::linux_default();
    let b = t.to_bytes();
    assert_eq!(b.len(), 36);
    // Linux's `tty_std_termios`, as `stty -g` shows it: 500:5:4bf:8a3b:3:1c:7f:15:4:0:1:0:11:13:1a...
    assert_eq!(&b[0..4], &0x500u32.to_le_bytes());
    assert_eq!(&b[4..8], &5u32.to_le_bytes());
    assert_eq!(&b[8..12], &0x4bfu32.to_le_bytes());
    assert_eq!(&b[12..16], &0x8a3bu32.to_le_bytes());
    assert_eq!(&b[17..24], &[3, 28, 127, 21, 4, 0, 1]);
    assert_eq!(Termios::from_bytes(&b), t);
}

#[test]
fn canonical_line_with_echo_and_crnl() {
    let r = rig();
    r.tty.input(b"echo hi");
    assert_eq!(r.read(100), Err(Errno::EAGAIN));
    assert!(!r.tty.poll().contains(Events::IN));
    r.tty.input(b"\r");
    assert!(r.tty.poll().contains(Events::IN));
    assert_eq!(r.take_out(), b"echo hi\r\n");
    assert_eq!(r.read(100).unwrap(), b"echo hi\n");
    assert_eq!(r.read(100), Err(Errno::EAGAIN));
}

#[test]
fn one_line_per_read_and_partial_reads() {
    let r = rig();
    r.tty.input(b"abcdef\nxy\n");
    assert_eq!(r.read(4).unwrap(), b"abcd");
    assert_eq!(r.read(100).unwrap(), b"ef\n");
    assert_eq!(r.read(100).unwrap(), b"xy\n");
}

#[test]
fn erase_kill_werase_and_their_echo() {
    let r = rig();
    r.tty.input(b"lx\x7fs\x08");
    assert_eq!(r.take_out(), b"lx\x08 \x08s\x08 \x08");
    r.tty.input(b"s -la\n");
    assert_eq!(r.read(100).unwrap(), b"ls -la\n");
    r.take_out();
    // ECHOKE erases the whole line visually.
    r.tty.input(b"ab\x15");
    assert_eq!(r.take_out(), b"ab\x08 \x08\x08 \x08");
    r.tty.input(b"one two  \x17three\n");
    assert_eq!(r.read(100).unwrap(), b"one three\n");
    // Erasing at the start of a line does nothing.
    r.take_out();
    r.tty.input(b"\x7f\x7f");
    assert_eq!(r.take_out(), b"");
    // A control character echoed as ^X takes two columns to erase.
    r.tty.input(b"\x01\x7f");
    assert_eq!(r.take_out(), b"^A\x08 \x08\x08 \x08");
}

#[test]
fn kill_without_echoke_uses_echok() {
    let r = rig();
    r.set(|t| t.lflag &= !ECHOKE);
    r.tty.input(b"abc\x15");
    assert_eq!(r.take_out(), b"abc^U\r\n");
    r.tty.input(b"d\n");
    assert_eq!(r.read(10).unwrap(), b"d\n");
}

#[test]
fn eof_returns_buffer_or_zero() {
    let r = rig();
    r.tty.input(b"abc\x04");
    assert_eq!(r.read(10).unwrap(), b"abc");
    r.tty.input(b"\x04");
    assert!(r.tty.poll().contains(Events::IN));
    assert_eq!(r.read(10).unwrap(), b"");
    assert_eq!(r.read(10), Err(Errno::EAGAIN));
    // ^D echoes nothing.
    assert_eq!(r.take_out(), b"abc");
}

#[test]
fn eol_ends_a_line_and_input_mapping() {
    let r = rig();
    r.set(|t| t.cc[VEOL] = b';');
    r.tty.input(b"a;b\n");
    assert_eq!(r.read(10).unwrap(), b"a;");
    assert_eq!(r.read(10).unwrap(), b"b\n");
    r.set(|t| t.iflag = (t.iflag & !ICRNL) | IGNCR);
    r.tty.input(b"x\r\n");
    assert_eq!(r.read(10).unwrap(), b"x\n");
    r.set(|t| t.iflag = (t.iflag & !IGNCR) | INLCR | ICRNL);
    r.tty.input(b"y\n\r");
    assert_eq!(r.read(10).unwrap(), b"y\r\n");
}

#[test]
fn lnext_quotes_the_next_character() {
    let r = rig();
    r.tty.input(b"a\x16\x7f\x16\x03\n");
    assert_eq!(r.read(10).unwrap(), b"a\x7f\x03\n");
    assert!(r.sigs.lock().unwrap().is_empty());
}

#[test]
fn signal_characters() {
    let r = rig();
    r.tty.input(b"partial\x03");
    assert_eq!(*r.sigs.lock().unwrap(), [(1, SIGINT)]);
    assert_eq!(r.take_out(), b"partial^C");
    // The partial line was flushed.
    r.tty.input(b"x\n");
    assert_eq!(r.read(10).unwrap(), b"x\n");
    let mem = Mem(StdMutex::new(vec![0u8; 64]));
    mem.write(0, &42i32.to_le_bytes()).unwrap();
    r.tty.ioctl(TIOCSPGRP, 0, &mem).unwrap();
    r.tty.input(b"\x1c\x1a");
    assert_eq!(
        *r.sigs.lock().unwrap(),
        [(1, SIGINT), (42, SIGQUIT), (42, SIGTSTP)]
    );
    // NOFLSH keeps the input; no ISIG makes ^C an ordinary byte.
    r.set(|t| t.lflag |= NOFLSH);
    r.tty.input(b"keep\x03\n");
    assert_eq!(r.read(10).unwrap(), b"keep\n");
    r.set(|t| t.lflag &= !ISIG);
    r.tty.input(b"\x03\n");
    assert_eq!(r.read(10).unwrap(), b"\x03\n");
    assert_eq!(r.sigs.lock().unwrap().len(), 4);
}

#[test]
fn raw_mode_vmin_vtime() {
    let r = rig();
    r.set(|t| {
        t.lflag &= !(ICANON | ECHO);
        t.cc[VMIN] = 1;
        t.cc[VTIME] = 0;
    });
    assert_eq!(r.read(10), Err(Errno::EAGAIN));
    r.tty.input(b"\x7fq\r");
    assert_eq!(r.read(10).unwrap(), b"\x7fq\n");
    assert_eq!(r.take_out(), b"");
    // VMIN 3: not ready until three bytes wait (or fewer if the read wants fewer).
    r.set(|t| t.cc[VMIN] = 3);
    r.tty.input(b"ab");
    assert!(!r.tty.poll().contains(Events::IN));
    assert_eq!(r.read(10), Err(Errno::EAGAIN));
    assert_eq!(r.read(1).unwrap(), b"a");
    r.tty.input(b"cd");
    assert!(r.tty.poll().contains(Events::IN));
    assert_eq!(r.read(10).unwrap(), b"bcd");
    // VMIN 0, VTIME 0: a pure poll.
    r.set(|t| t.cc[VMIN] = 0);
    assert_eq!(r.read(10).unwrap(), b"");
    // VMIN 5, VTIME > 0: poll says IN at one byte (Linux), the read wants 5 or its timer.
    r.set(|t| {
        t.cc[VMIN] = 5;
        t.cc[VTIME] = 1;
    });
    assert_eq!(r.read(10), Err(Errno::EAGAIN));
    r.tty.input(b"z");
    assert!(r.tty.poll().contains(Events::IN));
    assert_eq!(r.read(10), Err(Errno::EAGAIN));
    assert_eq!(r.read(1).unwrap(), b"z");
}

#[test]
fn vtime_timers() {
    let r = rig();
    let mut buf = [0u8; 10];
    // Canonical mode and VTIME 0 have no timer.
    assert_eq!(r.tty.read_deadline(5), None);
    r.set(|t| {
        t.lflag &= !(ICANON | ECHO);
        t.cc[VMIN] = 0;
        t.cc[VTIME] = 3;
    });
    // VMIN 0: the whole read waits VTIME from its start, then returns 0.
    assert_eq!(r.read(10), Err(Errno::EAGAIN));
    assert_eq!(r.tty.read_deadline(7), Some(7 + 300_000_000));
    assert_eq!(r.tty.read_expired(&mut buf), Ok(0));
    r.tty.input(b"k");
    assert_eq!(r.read(10).unwrap(), b"k");
    // VMIN 4: no timer before the first byte, then VTIME after the latest byte.
    r.set(|t| t.cc[VMIN] = 4);
    assert_eq!(r.tty.read_deadline(7), None);
    assert_eq!(r.tty.read_expired(&mut buf), Err(Errno::EAGAIN));
    let t0 = fake_now();
    r.tty.input(b"ab");
    assert_eq!(r.read(10), Err(Errno::EAGAIN));
    // A read begun after the byte came counts from its own start.
    assert_eq!(r.tty.read_deadline(t0 + 5), Some(t0 + 5 + 300_000_000));
    assert_eq!(r.tty.read_deadline(t0 - 5), Some(t0 + 300_000_000));
    NOW.store(t0 + 100_000_000, Ordering::Relaxed);
    r.tty.input(b"c");
    assert_eq!(r.tty.read_deadline(t0), Some(t0 + 400_000_000));
    assert_eq!(r.tty.read_expired(&mut buf), Ok(3));
    assert_eq!(&buf[..3], b"abc");
    // Enough bytes complete it without the timer.
    r.tty.input(b"1234");
    assert_eq!(r.read(10).unwrap(), b"1234");
}

#[test]
fn controlling_terminal_ioctls() {
    let mem = Mem(StdMutex::new(vec![0u8; 16]));
    let groups = |pg: i32| pg == 40 || pg == 41;
    let alive = |sid: i32| sid != 60;
    let caller = |pid, pgid, sid| Caller {
        pid,
        pgid,
        sid,
        privileged: false,
        pgrp_in_session: &groups,
        session_alive: &alive,
    };
    let tty = Tty::with_driver(
        Box::new(Callbacks {
            writer: Box::new(|_| {}),
            signal: Box::new(|_, _| {}),
        }),
        fake_now,
    );
    // No session yet: only TIOCSCTTY by a session leader works.
    assert_eq!(
        tty.job_ioctl(TIOCGPGRP, 0, &mem, &caller(40, 40, 40)),
        Err(Errno::ENOTTY)
    );
    assert_eq!(
        tty.job_ioctl(TIOCSCTTY, 0, &mem, &caller(41, 40, 40)),
        Err(Errno::EPERM)
    );
    assert_eq!(
        tty.job_ioctl(TIOCSCTTY, 0, &mem, &caller(40, 40, 40)),
        Ok(0)
    );
    assert_eq!(tty.job_control(), (40, 40, false));
    // Another session cannot take it, nor ask about it.
    assert_eq!(
        tty.job_ioctl(TIOCSCTTY, 0, &mem, &caller(50, 50, 50)),
        Err(Errno::EPERM)
    );
    assert_eq!(
        tty.job_ioctl(TIOCGSID, 0, &mem, &caller(50, 50, 50)),
        Err(Errno::ENOTTY)
    );
    assert_eq!(tty.job_ioctl(TIOCGSID, 0, &mem, &caller(41, 41, 40)), Ok(0));
    let mut b = [0u8; 4];
    mem.read(0, &mut b).unwrap();
    assert_eq!(i32::from_le_bytes(b), 40);
    mem.write(4, &41i32.to_le_bytes()).unwrap();
    assert_eq!(
        tty.job_ioctl(TIOCSPGRP, 4, &mem, &caller(40, 40, 40)),
        Ok(0)
    );
    assert_eq!(tty.job_control().0, 41);
    mem.write(4, &99i32.to_le_bytes()).unwrap();
    assert_eq!(
        tty.job_ioctl(TIOCSPGRP, 4, &mem, &caller(40, 40, 40)),
        Err(Errno::EPERM)
    );
    // The leader gives it up.
    assert_eq!(
        tty.job_ioctl(TIOCNOTTY, 0, &mem, &caller(40, 40, 40)),
        Ok(0)
    );
    assert_eq!(tty.job_control(), (0, 0, false));
    // A terminal whose session died is free to take.
    assert_eq!(
        tty.job_ioctl(TIOCSCTTY, 0, &mem, &caller(60, 60, 60)),
        Ok(0)
    );
    assert_eq!(
        tty.job_ioctl(TIOCSCTTY, 0, &mem, &caller(40, 40, 40)),
        Ok(0)
    );
    assert_eq!(tty.hangup(), (40, 40));
}

#[test]
fn mode_switch_carries_input() {
    let r = rig();
    r.tty.input(b"line\npart");
    r.set(|t| t.lflag &= !ICANON);
    assert_eq!(r.read(100).unwrap(), b"line\npart");
    r.tty.input(b"ab");
    r.set(|t| t.lflag |= ICANON);
    r.tty.input(b"c\n");
    assert_eq!(r.read(100).unwrap(), b"abc\n");
}

#[test]
fn output_processing() {
    let r = rig();
    r.tty.write(0, b"a\nb\n", false).unwrap();
    assert_eq!(r.take_out(), b"a\r\nb\r\n");
    r.set(|t| t.oflag &= !OPOST);
    r.tty.write(0, b"a\nb", false).unwrap();
    assert_eq!(r.take_out(), b"a\nb");
    r.set(|t| t.oflag = OPOST | OCRNL | OLCUC);
    r.tty.write(0, b"x\r", false).unwrap();
    assert_eq!(r.take_out(), b"X\n");
    // Long writes are chunked without losing bytes.
    r.set(|t| t.oflag = OPOST | ONLCR);
    let big = [b'\n'; 1000];
    r.tty.write(0, &big, false).unwrap();
    assert_eq!(r.take_out().len(), 2000);
}

#[test]
fn echonl_and_no_echo() {
    let r = rig();
    r.set(|t| t.lflag = (t.lflag & !ECHO) | ECHONL);
    r.tty.input(b"secret\n");
    assert_eq!(r.take_out(), b"\r\n");
    assert_eq!(r.read(100).unwrap(), b"secret\n");
}

#[test]
fn ioctls() {
    let r = rig();
    let mem = Mem(StdMutex::new(vec![0u8; 64]));
    r.tty.ioctl(TCGETS, 0, &mem).unwrap();
    let mut b = [0u8; 36];
    mem.read(0, &mut b).unwrap();
    let mut t = Termios::from_bytes(&b);
    assert_eq!(t, Termios::linux_default());
    t.lflag &= !ECHO;
    mem.write(0, &t.to_bytes()).unwrap();
    r.tty.input(b"pending");
    r.tty.ioctl(TCSETSF, 0, &mem).unwrap();
    assert_eq!(r.tty.termios(), t);
    r.tty.input(b"x\n");
    assert_eq!(r.read(100).unwrap(), b"x\n");
    r.tty.ioctl(TIOCGWINSZ, 8, &mem).unwrap();
    let mut w = [0u8; 8];
    mem.read(8, &mut w).unwrap();
    assert_eq!(&w[..4], &[24, 0, 80, 0]);
    mem.write(8, &[50, 0, 132, 0, 0, 0, 0, 0]).unwrap();
    r.tty.ioctl(TIOCSWINSZ, 8, &mem).unwrap();
    assert_eq!(*r.sigs.lock().unwrap(), [(1, SIGWINCH)]);
    r.tty.ioctl(TIOCGWINSZ, 16, &mem).unwrap();
    mem.read(16, &mut w).unwrap();
    assert_eq!(&w[..4], &[50, 0, 132, 0]);
    r.tty.ioctl(TIOCGPGRP, 24, &mem).unwrap();
    let mut p = [0u8; 4];
    mem.read(24, &mut p).unwrap();
    assert_eq!(i32::from_le_bytes(p), 1);
    mem.write(24, &(-3i32).to_le_bytes()).unwrap();
    assert_eq!(r.tty.ioctl(TIOCSPGRP, 24, &mem), Err(Errno::EINVAL));
    r.tty.input(b"ab\ncd\n");
    r.tty.ioctl(FIONREAD, 28, &mem).unwrap();
    mem.read(28, &mut p).unwrap();
    assert_eq!(i32::from_le_bytes(p), 6);
    assert_eq!(r.tty.ioctl(TCFLSH, 0, &mem), Ok(0));
    assert_eq!(r.tty.readable_bytes(), 0);
    assert_eq!(r.tty.ioctl(TCFLSH, 7, &mem), Err(Errno::EINVAL));
    assert_eq!(r.tty.ioctl(TCXONC, 1, &mem), Ok(0));
    assert_eq!(r.tty.ioctl(TIOCSCTTY, 0, &mem), Ok(0));
    assert_eq!(r.tty.ioctl(TIOCNOTTY, 0, &mem), Ok(0));
    assert_eq!(r.tty.ioctl(TCGETS, 60, &mem), Err(Errno::EFAULT));
    assert_eq!(r.tty.ioctl(0x1234, 0, &mem), Err(Errno::ENOTTY));
}

#[test]
fn long_lines_are_capped_and_garbage_never_panics() {
    let r = rig();
    let long = vec![b'a'; MAX_CANON + 100];
    r.tty.input(&long);
    r.tty.input(b"\n");
    let line = r.read(MAX_CANON * 2).unwrap();
    assert_eq!(line.len(), MAX_CANON);
    assert_eq!(line.last(), Some(&b'\n'));
    // Every byte value in every mode, including UTF-8 erase of partial sequences.
    r.set(|t| t.iflag |= IUTF8 | ISTRIP);
    let all: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    r.tty.input(&all);
    r.set(|t| t.lflag &= !ICANON);
    r.tty.input(&all);
    r.set(|t| t.lflag |= ICANON);
    r.tty.input(&all);
    let _ = r.read(10000);
}

#[test]
fn utf8_erase_removes_whole_characters() {
    let r = rig();
    r.set(|t| t.iflag |= IUTF8);
    r.tty.input("aé".as_bytes());
    r.take_out();
    r.tty.input(b"\x7f\n");
    assert_eq!(r.take_out(), b"\x08 \x08\r\n");
    assert_eq!(r.read(10).unwrap(), b"a\n");
}

#[test]
fn ring_wraps_and_reports_drops() {
    let ring = InputRing::new();
    let mut out = [0u8; 700];
    for round in 0..5u8 {
        for i in 0..600 {
            assert!(ring.push(round.wrapping_add(i as u8)));
        }
        assert_eq!(ring.pop_into(&mut out), 600);
        assert!(
            out[..600]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == round.wrapping_add(i as u8))
        );
    }
    assert!(ring.is_empty());
    for _ in 0..RING_SIZE {
        assert!(ring.push(1));
    }
    assert!(!ring.push(2));
    assert_eq!(ring.dropped(), 1);
}

#[test]
fn ring_across_threads() {
    let ring = Arc::new(InputRing::new());
    let producer = {
        let ring = ring.clone();
        std::thread::spawn(move || {
            for i in 0..100_000u32 {
                while !ring.push(i as u8) {
                    std::thread::yield_now();
                }
            }
        })
    };
    let mut expect = 0u32;
    let mut buf = [0u8; 97];
    while expect < 100_000 {
        let n = ring.pop_into(&mut buf);
        for &b in &buf[..n] {
            assert_eq!(b, expect as u8);
            expect += 1;
        }
    }
    producer.join().unwrap();
}
