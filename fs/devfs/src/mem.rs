//! `/dev/null`, `/dev/zero`, `/dev/full` (Linux's `drivers/char/mem.c`).

use syscall::{Errno, Result};
use vfs::{CharDevice, FileOps};

/// `/dev/null`: reads end at once, writes vanish.
pub struct Null;
/// `/dev/zero`: reads give zeros, writes vanish.
pub struct Zero;
/// `/dev/full`: reads give zeros, writes (even empty ones) fail with `ENOSPC`.
pub struct Full;

impl FileOps for Null {
    fn read(&self, _offset: u64, _buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        Ok(0)
    }
    fn write(&self, _offset: u64, buf: &[u8], _nonblock: bool) -> Result<usize> {
        Ok(buf.len())
    }
    fn seek_noop(&self) -> bool {
        true
    }
}

impl FileOps for Zero {
    fn read(&self, _offset: u64, buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _offset: u64, buf: &[u8], _nonblock: bool) -> Result<usize> {
        Ok(buf.len())
    }
    fn seek_noop(&self) -> bool {
        true
    }
}

impl FileOps for Full {
    fn read(&self, _offset: u64, buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write(&self, _offset: u64, _buf: &[u8], _nonblock: bool) -> Result<usize> {
        // Even an empty write: Linux's `write_full` returns -ENOSPC unconditionally.
        Err(Errno::ENOSPC)
    }
    fn seek_noop(&self) -> bool {
        true
    }
}

impl CharDevice for Null {}
impl CharDevice for Zero {}
impl CharDevice for Full {}
