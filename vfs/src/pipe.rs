//! Pipes (`pipe2`) and FIFOs (`mknod S_IFIFO`): a 64 KiB ring with Linux's semantics, minus
//! the blocking (see [`crate::poll`]).
//!
//! - a read of an empty pipe is EOF (0) when no writer is left, else `EAGAIN`;
//! - a write with no reader left is `EPIPE` (the caller raises `SIGPIPE`);
//! - a write of at most [`PIPE_BUF`] bytes is atomic: all of it or `EAGAIN`; a longer one
//!   writes what fits (`EAGAIN` if nothing does). A blocking writer loops until done;
//! - every change wakes the pollee's waiters.

use crate::file::OpenFlags;
use crate::inode::{FileOps, UserMem};
use crate::poll::{Events, Pollee};
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use spin::Mutex;
use syscall::{Errno, Result};

/// Capacity of a pipe (Linux's default, 16 pages).
pub const PIPE_SIZE: usize = 65536;
/// Writes up to this size are atomic.
pub const PIPE_BUF: usize = 4096;
/// `ioctl(FIONREAD)`: bytes available to read, as an `int` (same number on both arches).
pub const FIONREAD: u32 = 0x541B;

struct Ring {
    /// Allocated on first write.
    buf: Vec<u8>,
    head: usize,
    len: usize,
    readers: usize,
    writers: usize,
    /// Write ends ever opened (Linux's `w_counter`): a reader reports `POLLHUP` only after a
    /// writer came and went since it opened.
    writers_opened: u64,
}

/// The shared part of a pipe: the ring, the count of open ends, the waiters.
pub struct Pipe {
    ring: Mutex<Ring>,
    pollee: Pollee,
}

impl Pipe {
    /// An empty pipe with no ends open.
    pub fn new() -> Arc<Pipe> {
        Arc::new(Pipe {
            ring: Mutex::new(Ring {
                buf: Vec::new(),
                head: 0,
                len: 0,
                readers: 0,
                writers: 0,
                writers_opened: 0,
            }),
            pollee: Pollee::new(),
        })
    }

    /// A new pipe's two ends, as `pipe2` returns them: (read end, write end).
    pub fn new_pair() -> (Arc<dyn FileOps>, Arc<dyn FileOps>) {
        let pipe = Pipe::new();
        // The reader first: its writer "comes" after it, so it sees POLLHUP when that goes.
        let reader = pipe.open_end(true, false);
        (reader, pipe.open_end(false, true))
    }

    /// Opens an end that reads and/or writes (both: a FIFO opened `O_RDWR`).
    pub fn open_end(self: &Arc<Self>, read: bool, write: bool) -> Arc<dyn FileOps> {
        let writers_seen = {
            let mut ring = self.ring.lock();
            ring.readers += usize::from(read);
            ring.writers += usize::from(write);
            ring.writers_opened += u64::from(write);
            // An O_RDWR end does not count itself.
            ring.writers_opened - u64::from(write && read)
        };
        self.pollee.notify();
        Arc::new(PipeEnd {
            pipe: self.clone(),
            read,
            write,
            writers_seen,
        })
    }

    /// Opens a FIFO as `open(2)` would, for its access mode. `ENXIO` for a write-only
    /// non-blocking open without readers. A blocking open that should wait for the other side
    /// is the caller's: wait on [`pollee`](Pipe::pollee) until [`readers`](Pipe::readers) or
    /// [`writers`](Pipe::writers) is non-zero.
    pub fn open_fifo(self: &Arc<Self>, flags: OpenFlags) -> Result<Arc<dyn FileOps>> {
        let (read, write) = (flags.readable(), flags.writable());
        if write && !read && flags.contains(OpenFlags::NONBLOCK) && self.readers() == 0 {
            return Err(Errno::ENXIO);
        }
        Ok(self.open_end(read, write))
    }

    /// Open read ends.
    pub fn readers(&self) -> usize {
        self.ring.lock().readers
    }

    /// Open write ends.
    pub fn writers(&self) -> usize {
        self.ring.lock().writers
    }

    /// Write ends ever opened: a reader's blocking FIFO open ends when this moves, even if
    /// the writer has come and gone before the reader runs again.
    pub fn writers_opened(&self) -> u64 {
        self.ring.lock().writers_opened
    }

    /// Bytes waiting to be read.
    pub fn len(&self) -> usize {
        self.ring.lock().len
    }

    /// Whether no byte is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The waiters of both ends.
    pub fn pollee(&self) -> &Pollee {
        &self.pollee
    }

    fn read(&self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = {
            let mut ring = self.ring.lock();
            if ring.len == 0 {
                return if ring.writers == 0 {
                    Ok(0)
                } else {
                    Err(Errno::EAGAIN)
                };
            }
            let n = buf.len().min(ring.len);
            let first = n.min(PIPE_SIZE - ring.head);
            let head = ring.head;
            buf[..first].copy_from_slice(&ring.buf[head..head + first]);
            buf[first..n].copy_from_slice(&ring.buf[..n - first]);
            ring.head = (head + n) % PIPE_SIZE;
            ring.len -= n;
            n
        };
        self.pollee.notify();
        Ok(n)
    }

    fn write(&self, data: &[u8]) -> Result<usize> {
        let n = {
            let mut ring = self.ring.lock();
            if ring.readers == 0 {
                return Err(Errno::EPIPE);
            }
            if data.is_empty() {
                return Ok(0);
            }
            let free = PIPE_SIZE - ring.len;
            if free == 0 || (data.len() <= PIPE_BUF && free < data.len()) {
                return Err(Errno::EAGAIN);
            }
            if ring.buf.is_empty() {
                ring.buf = vec![0; PIPE_SIZE];
            }
            let n = data.len().min(free);
            let tail = (ring.head + ring.len) % PIPE_SIZE;
            let first = n.min(PIPE_SIZE - tail);
            ring.buf[tail..tail + first].copy_from_slice(&data[..first]);
            ring.buf[..n - first].copy_from_slice(&data[first..n]);
            ring.len += n;
            n
        };
        self.pollee.notify();
        Ok(n)
    }

    fn events(&self, read: bool, write: bool, writers_seen: u64) -> Events {
        let ring = self.ring.lock();
        let mut events = Events::EMPTY;
        if read {
            if ring.len > 0 {
                events |= Events::IN | Events::RDNORM;
            }
            if ring.writers == 0 && ring.writers_opened != writers_seen {
                events |= Events::HUP;
            }
        }
        if write {
            if PIPE_SIZE - ring.len >= PIPE_BUF {
                events |= Events::OUT | Events::WRNORM;
            }
            if ring.readers == 0 {
                events |= Events::ERR;
            }
        }
        events
    }
}

/// One open end of a pipe or FIFO; closing it (dropping the last reference) updates the
/// counts and wakes the other side.
struct PipeEnd {
    pipe: Arc<Pipe>,
    read: bool,
    write: bool,
    /// `writers_opened` when this end was opened.
    writers_seen: u64,
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        {
            let mut ring = self.pipe.ring.lock();
            ring.readers -= usize::from(self.read);
            ring.writers -= usize::from(self.write);
        }
        self.pipe.pollee.notify();
    }
}

impl FileOps for PipeEnd {
    fn read(&self, _offset: u64, buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        if !self.read {
            return Err(Errno::EBADF);
        }
        self.pipe.read(buf)
    }

    fn write(&self, _offset: u64, buf: &[u8], _nonblock: bool) -> Result<usize> {
        if !self.write {
            return Err(Errno::EBADF);
        }
        self.pipe.write(buf)
    }

    fn poll(&self) -> Events {
        self.pipe.events(self.read, self.write, self.writers_seen)
    }

    fn pipe(&self) -> Option<&Arc<Pipe>> {
        Some(&self.pipe)
    }

    fn pollee(&self) -> Option<&Pollee> {
        Some(&self.pipe.pollee)
    }

    fn ioctl(&self, cmd: u32, arg: usize, user: &dyn UserMem) -> Result<usize> {
        match cmd {
            FIONREAD => {
                let n = i32::try_from(self.pipe.len()).unwrap_or(i32::MAX);
                user.write(arg, &n.to_ne_bytes())?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        }
    }
}
