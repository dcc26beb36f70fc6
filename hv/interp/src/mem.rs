//! Guest paging and memory access (SDM Vol. 3A ch. 4): the page walk for 32-bit, PAE and
//! 4-level paging with U/S, R/W, NX and SMEP checks and accessed/dirty updates, a small
//! software TLB of linear-to-physical translations, and linear/physical reads and writes
//! that turn unbacked guest-physical pages into MMIO exits.

use crate::state::{PendingRead, Vcpu, cr0, cr4, efer};
use crate::{Exit, Fault, GuestMemory, INTERNAL_ERROR_EMULATION, PAGE_SIZE, R, exc};
use alloc::boxed::Box;
use alloc::vec;

/// What an access does, for permission checks and the #PF error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acc {
    Read = 0,
    Write = 1,
    Fetch = 2,
}

const TLB_SIZE: usize = 256;
/// Tag bit: the entry is valid.
const VALID: u64 = 1;
/// Tag bit: translated for a user-mode (CPL 3) access.
const USER: u64 = 2;
/// Physical-address bits of a paging-structure entry (MAXPHYADDR 52).
const ADDR: u64 = 0x000f_ffff_ffff_f000;

/// Cached translations, one direct-mapped table per access kind, so a write entry exists only
/// once a walk has set the dirty bit. Flushed on CR0/CR3/CR4/EFER writes, INVLPG and at the
/// start of each `run` (the VMM may have changed page tables).
pub(crate) struct Tlb {
    /// `[kind * TLB_SIZE + index]`, on the heap so a `Vcpu` stays small.
    tags: Box<[u64]>,
    pages: Box<[u64]>,
}

impl Tlb {
    pub fn new() -> Tlb {
        Tlb {
            tags: vec![0; 3 * TLB_SIZE].into_boxed_slice(),
            pages: vec![0; 3 * TLB_SIZE].into_boxed_slice(),
        }
    }

    pub fn flush(&mut self) {
        self.tags.fill(0);
    }
}

/// Page-fault error code bits (SDM Vol. 3A 4.7).
mod pf {
    pub const P: u32 = 1;
    pub const W: u32 = 2;
    pub const U: u32 = 4;
    pub const I: u32 = 16;
}

impl Vcpu {
    /// Linear address `lin` to guest-physical, through the TLB or a page walk.
    #[inline(always)]
    pub(crate) fn translate(
        &mut self,
        mem: &mut dyn GuestMemory,
        lin: u64,
        acc: Acc,
        user: bool,
    ) -> R<u64> {
        if self.cr0 & cr0::PG == 0 {
            return Ok(lin & 0xffff_ffff);
        }
        let page = lin & !0xfff;
        let tag = page | VALID | if user { USER } else { 0 };
        let i = (acc as usize) * TLB_SIZE + ((lin >> 12) as usize) % TLB_SIZE;
        if self.tlb.tags.get(i) == Some(&tag) {
            return Ok(self.tlb.pages.get(i).copied().unwrap_or(0) | (lin & 0xfff));
        }
        let gpa = self.walk(mem, lin, acc, user)?;
        if let (Some(t), Some(p)) = (self.tlb.tags.get_mut(i), self.tlb.pages.get_mut(i)) {
            *t = tag;
            *p = gpa & !0xfff;
        }
        Ok(gpa)
    }

    /// Raises #PF for `lin` with error code `code` (CR2 is written now, as KVM's emulator
    /// does).
    fn page_fault(&mut self, lin: u64, code: u32) -> Fault {
        self.cr2 = lin;
        Fault::Exc(exc::PF, Some(code))
    }

    /// Walks the guest page tables for `lin` (SDM Vol. 3A 4.3-4.5).
    fn walk(&mut self, mem: &mut dyn GuestMemory, lin: u64, acc: Acc, user: bool) -> R<u64> {
        let nxe = self.efer & efer::NXE != 0;
        let mut code = 0;
        if acc == Acc::Write {
            code |= pf::W;
        }
        if user {
            code |= pf::U;
        }
        if acc == Acc::Fetch && (nxe || self.cr4 & cr4::SMEP != 0) {
            code |= pf::I;
        }
        let (levels, esize): (u32, u64) = if self.efer & efer::LMA != 0 {
            (4, 8)
        } else if self.cr4 & cr4::PAE != 0 {
            (3, 8)
        } else {
            (2, 4)
        };
        let mut table = if levels == 3 {
            self.cr3 & 0xffff_ffe0
        } else {
            self.cr3 & ADDR
        };
        let (mut w, mut u, mut nx) = (true, true, false);
        // Entries walked, to set their accessed bits once the walk succeeds.
        let mut touched: [(u64, u64); 4] = [(0, 0); 4];
        let mut level = levels;
        let (frame, offset_bits) = loop {
            let shift = if esize == 4 {
                12 + 10 * (level - 1)
            } else {
                12 + 9 * (level - 1)
            };
            let idx_mask = if levels == 3 && level == 3 {
                3
            } else if esize == 4 {
                0x3ff
            } else {
                0x1ff
            };
            let idx = (lin >> shift) & idx_mask;
            let ea = table + idx * esize;
            let e = self.phys_read_raw(mem, ea, esize as usize);
            if e & 1 == 0 {
                return Err(self.page_fault(lin, code));
            }
            let pdpte = levels == 3 && level == 3;
            if !pdpte {
                w &= e & 2 != 0;
                u &= e & 4 != 0;
            }
            if nxe && esize == 8 && e >> 63 != 0 {
                nx = true;
            }
            touched[(levels - level) as usize] = (ea, e);
            let large = !pdpte
                && e & 0x80 != 0
                && ((level == 2 && (esize == 8 || self.cr4 & cr4::PSE != 0))
                    || (level == 3 && levels == 4));
            if level == 1 || large {
                let base = if esize == 4 && large {
                    (e & 0xffc0_0000) | (((e >> 13) & 0xff) << 32)
                } else if large {
                    e & ADDR & !((1u64 << shift) - 1)
                } else {
                    e & ADDR
                };
                break (base, shift);
            }
            table = e & ADDR;
            level -= 1;
        };
        let sup_wp = self.cr0 & cr0::WP != 0;
        let denied = (user && !u)
            || (acc == Acc::Write && !w && (user || sup_wp))
            || (acc == Acc::Fetch && nx)
            || (acc == Acc::Fetch && !user && u && self.cr4 & cr4::SMEP != 0);
        if denied {
            return Err(self.page_fault(lin, code | pf::P));
        }
        let n = (levels - level + 1) as usize;
        for (k, &(ea, e)) in touched.iter().take(n).enumerate() {
            let mut ne = e | 0x20;
            if k == n - 1 && acc == Acc::Write {
                ne |= 0x40;
            }
            if ne != e {
                self.phys_write_raw(mem, ea, esize as usize, ne);
                self.wrote(ea);
            }
        }
        Ok(frame | (lin & ((1u64 << offset_bits) - 1)))
    }

    /// Reads a paging structure or descriptor from RAM; unbacked memory reads as zero.
    pub(crate) fn phys_read_raw(
        &mut self,
        mem: &mut dyn GuestMemory,
        gpa: u64,
        size: usize,
    ) -> u64 {
        let off = (gpa & 0xfff) as usize;
        match mem.page(gpa & !0xfff, false) {
            Some(p) if off + size <= PAGE_SIZE => le(&p[off..off + size]),
            _ => 0,
        }
    }

    /// Writes a paging-structure entry back to RAM (unbacked memory ignores it).
    fn phys_write_raw(&mut self, mem: &mut dyn GuestMemory, gpa: u64, size: usize, v: u64) {
        let off = (gpa & 0xfff) as usize;
        if let Some(p) = mem.page(gpa & !0xfff, true)
            && off + size <= PAGE_SIZE
        {
            p[off..off + size].copy_from_slice(&v.to_le_bytes()[..size]);
        }
    }

    /// Reads `size` (1..=8) bytes at linear `lin`.
    #[inline(always)]
    pub(crate) fn read_lin(
        &mut self,
        mem: &mut dyn GuestMemory,
        lin: u64,
        size: usize,
        user: bool,
    ) -> R<u64> {
        let size = size.clamp(1, 8);
        let off = (lin & 0xfff) as usize;
        if off + size <= PAGE_SIZE {
            let gpa = self.translate(mem, lin, Acc::Read, user)?;
            if let Some(p) = mem.page(gpa & !0xfff, false) {
                return Ok(load(p, off, size));
            }
            return self.mmio_read(gpa, size);
        }
        // Crosses a page: translate both halves before touching either; each half may be
        // RAM or MMIO (two exits, as under KVM).
        let first = PAGE_SIZE - off;
        let g1 = self.translate(mem, lin, Acc::Read, user)?;
        let g2 = self.translate(mem, lin.wrapping_add(first as u64), Acc::Read, user)?;
        let lo = self.read_piece(mem, g1, first)?;
        let hi = self.read_piece(mem, g2, size - first)?;
        Ok(lo | (hi << (first * 8)))
    }

    /// Reads `n` bytes at `gpa`, all in one page: RAM or MMIO.
    fn read_piece(&mut self, mem: &mut dyn GuestMemory, gpa: u64, n: usize) -> R<u64> {
        let off = (gpa & 0xfff) as usize;
        match mem.page(gpa & !0xfff, false) {
            Some(p) => Ok(le(&p[off..off + n])),
            None => self.mmio_read(gpa, n),
        }
    }

    /// Writes the low `size` (1..=8) bytes of `v` at linear `lin`.
    #[inline(always)]
    pub(crate) fn write_lin(
        &mut self,
        mem: &mut dyn GuestMemory,
        lin: u64,
        size: usize,
        v: u64,
        user: bool,
    ) -> R<()> {
        let size = size.clamp(1, 8);
        let off = (lin & 0xfff) as usize;
        if off + size <= PAGE_SIZE {
            let gpa = self.translate(mem, lin, Acc::Write, user)?;
            if let Some(p) = mem.page(gpa & !0xfff, true) {
                store(p, off, size, v);
                self.wrote(gpa);
                return Ok(());
            }
            self.mmio_write(gpa, size, v);
            return Ok(());
        }
        let first = PAGE_SIZE - off;
        let g1 = self.translate(mem, lin, Acc::Write, user)?;
        let g2 = self.translate(mem, lin.wrapping_add(first as u64), Acc::Write, user)?;
        self.write_piece(mem, g1, first, v);
        self.write_piece(mem, g2, size - first, v >> (first * 8));
        Ok(())
    }

    /// Writes the low `n` bytes of `v` at `gpa`, all in one page: RAM or an MMIO exit.
    fn write_piece(&mut self, mem: &mut dyn GuestMemory, gpa: u64, n: usize, v: u64) {
        let off = (gpa & 0xfff) as usize;
        match mem.page(gpa & !0xfff, true) {
            Some(p) => {
                p[off..off + n].copy_from_slice(&v.to_le_bytes()[..n]);
                self.wrote(gpa);
            }
            None => self.mmio_write(gpa, n, v),
        }
    }

    /// Checks that `size` bytes at `lin` can be written (so multi-part stores such as far
    /// calls and exception frames fault before changing anything).
    pub(crate) fn probe_write(
        &mut self,
        mem: &mut dyn GuestMemory,
        lin: u64,
        size: usize,
        user: bool,
    ) -> R<()> {
        self.translate(mem, lin, Acc::Write, user)?;
        let last = lin.wrapping_add(size.max(1) as u64 - 1);
        if (last ^ lin) & !0xfff != 0 {
            self.translate(mem, last, Acc::Write, user)?;
        }
        Ok(())
    }

    /// A read of unbacked memory: the value `complete` supplied when this is the instruction's
    /// second run, else an MMIO exit.
    fn mmio_read(&mut self, gpa: u64, size: usize) -> R<u64> {
        if size > 8 {
            return Err(self.internal());
        }
        let matches = |p: &Option<PendingRead>| matches!(p, Some(p) if !p.io && p.addr == gpa && usize::from(p.len) == size);
        if matches(&self.completed_read)
            && let Some(p) = self.completed_read.take()
        {
            return Ok(le(&p.data[..size]));
        }
        if matches(&self.pending_read)
            && let Some(p) = self.pending_read.take()
        {
            // Kept in case a later read of this instruction exits and it runs again.
            self.completed_read = Some(p);
            return Ok(le(&p.data[..size]));
        }
        self.pending_read = Some(PendingRead {
            addr: gpa,
            io: false,
            len: size as u8,
            data: [0; 8],
        });
        self.exits.push_back(Exit::Mmio {
            gpa,
            len: size as u8,
            write: false,
            data: [0; 8],
        });
        Err(Fault::Exit)
    }

    /// A write to unbacked memory: queued as an MMIO exit; the instruction completes.
    fn mmio_write(&mut self, gpa: u64, size: usize, v: u64) {
        self.exits.push_back(Exit::Mmio {
            gpa,
            len: size as u8,
            write: true,
            data: v.to_le_bytes(),
        });
    }

    /// Stops with `KVM_EXIT_INTERNAL_ERROR` (emulation failure).
    pub(crate) fn internal(&mut self) -> Fault {
        self.exits.push_back(Exit::Internal {
            suberror: INTERNAL_ERROR_EMULATION,
        });
        Fault::Exit
    }
}

/// Little-endian value of up to 8 bytes.
#[inline(always)]
pub(crate) fn le(b: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = b.len().min(8);
    buf[..n].copy_from_slice(&b[..n]);
    u64::from_le_bytes(buf)
}

/// Reads `size` (1, 2, 4 or 8; others byte by byte) bytes at `off` of a page, with
/// fixed-size copies the compiler turns into single loads.
#[inline(always)]
fn load(p: &[u8; PAGE_SIZE], off: usize, size: usize) -> u64 {
    match size {
        1 => u64::from(p[off]),
        2 => u64::from(u16::from_le_bytes([p[off], p[off + 1]])),
        4 => {
            let mut b = [0u8; 4];
            b.copy_from_slice(&p[off..off + 4]);
            u64::from(u32::from_le_bytes(b))
        }
        8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&p[off..off + 8]);
            u64::from_le_bytes(b)
        }
        _ => le(&p[off..off + size]),
    }
}

/// Writes the low `size` bytes of `v` at `off` of a page (see [`load`]).
#[inline(always)]
fn store(p: &mut [u8; PAGE_SIZE], off: usize, size: usize, v: u64) {
    match size {
        1 => p[off] = v as u8,
        2 => p[off..off + 2].copy_from_slice(&(v as u16).to_le_bytes()),
        4 => p[off..off + 4].copy_from_slice(&(v as u32).to_le_bytes()),
        8 => p[off..off + 8].copy_from_slice(&v.to_le_bytes()),
        _ => p[off..off + size].copy_from_slice(&v.to_le_bytes()[..size]),
    }
}
