//! Copies between the kernel and the calling process's memory.
//!
//! The arch copy primitives fail (never crash) on an unmapped or protected page; since user
//! memory is demand-paged, a failed copy asks the address space to fault the page in and
//! tries again, and only a fault the address space refuses becomes `EFAULT`.

use crate::kernel::Kernel;
use crate::process::Process;
use alloc::vec;
use alloc::vec::Vec;
use arch_api::Arch;
use syscall::{Errno, Result};

/// Most attempts to fault pages in for one copy (each success maps at least one new page).
const MAX_FAULT_RETRIES: usize = 1024;

/// The memory of one process, as seen from its own syscalls (its address space is active).
pub struct User<'a, K: Kernel> {
    pub process: &'a Process<K>,
}

impl<K: Kernel> User<'_, K> {
    fn fault_in(&self, addr: u64, write: bool) -> Result<()> {
        self.process
            .vm
            .lock()
            .handle_fault(addr, write, false)
            .map_err(|_| Errno::EFAULT)
    }

    /// Copy `buf.len()` bytes from user address `addr`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        for _ in 0..MAX_FAULT_RETRIES {
            match K::Arch::copy_from_user(buf, addr) {
                Ok(()) => return Ok(()),
                Err(f) if f.addr >= addr && f.addr < addr.saturating_add(buf.len() as u64) => {
                    self.fault_in(f.addr, false)?
                }
                Err(_) => return Err(Errno::EFAULT),
            }
        }
        Err(Errno::EFAULT)
    }

    /// Copy `data` to user address `addr`.
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<()> {
        for _ in 0..MAX_FAULT_RETRIES {
            match K::Arch::copy_to_user(addr, data) {
                Ok(()) => return Ok(()),
                Err(f) if f.addr >= addr && f.addr < addr.saturating_add(data.len() as u64) => {
                    self.fault_in(f.addr, true)?
                }
                Err(_) => return Err(Errno::EFAULT),
            }
        }
        Err(Errno::EFAULT)
    }

    /// Read `len` bytes into a new vector.
    pub fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    pub fn write_u64(&self, addr: u64, v: u64) -> Result<()> {
        self.write(addr, &v.to_le_bytes())
    }

    pub fn write_u32(&self, addr: u64, v: u32) -> Result<()> {
        self.write(addr, &v.to_le_bytes())
    }

    /// A NUL-terminated string of at most `max` bytes (without the NUL): `ENAMETOOLONG`
    /// past that, `EFAULT` if unreadable.
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        let mut at = addr;
        loop {
            // Never read across a page boundary in one go: the next page may not exist even
            // though the string ends before it.
            let to_page_end = (4096 - (at % 4096)) as usize;
            let n = chunk.len().min(to_page_end);
            self.read(at, &mut chunk[..n])?;
            if let Some(end) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..end]);
                return Ok(out);
            }
            out.extend_from_slice(&chunk[..n]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            at = at.checked_add(n as u64).ok_or(Errno::EFAULT)?;
        }
    }

    /// A NULL-terminated array of string pointers (argv, envp), bounded in count and bytes.
    pub fn read_cstr_array(&self, addr: u64) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut total = 0;
        for i in 0..=crate::exec::stack::MAX_ARG_BYTES / 8 {
            let p = self.read_u64(addr + 8 * i as u64)?;
            if p == 0 {
                return Ok(out);
            }
            let s = self.read_cstr(p, crate::exec::stack::MAX_ARG_BYTES)?;
            total += s.len() + 1 + 8;
            if total > crate::exec::stack::MAX_ARG_BYTES {
                return Err(Errno::E2BIG);
            }
            out.push(s);
        }
        Err(Errno::E2BIG)
    }
}

impl<K: Kernel> vfs::UserMem for User<'_, K> {
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<()> {
        User::read(self, addr as u64, buf)
    }

    fn write(&self, addr: usize, data: &[u8]) -> Result<()> {
        User::write(self, addr as u64, data)
    }
}
