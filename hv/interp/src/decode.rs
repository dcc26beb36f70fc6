//! The decoded-instruction cache. An entry keeps the instruction's raw bytes next to iced-x86's
//! decode and is used only while memory still holds those bytes, so guest or VMM writes to
//! code need no invalidation hook.
//!
//! The compare is skipped for an entry already compared in the current *epoch*. A new epoch
//! starts at each `run`, on TLB flushes, serializing instructions and event delivery (the
//! points where x86 requires cross-modifying code to be noticed), and when the guest writes
//! to a page that holds code compared in this epoch (self-modifying code).

use crate::fast::{Fast, classify};
use crate::mem::Acc;
use crate::state::Vcpu;
use crate::{Fault, GuestMemory, PAGE_SIZE, R, exc};
use alloc::boxed::Box;
use alloc::vec;
use iced_x86::{Code, Decoder, DecoderError, DecoderOptions, Instruction};

const ENTRIES: usize = 2048;

/// One decoded instruction and the bytes it came from. The fields the hot loop reads come
/// first and fill one cache line.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Entry {
    /// `epoch << 8 | user << 7 | bits` when the bytes were last compared with memory in
    /// that epoch at that CPL class and code size; 0 when they must be compared.
    key: u64,
    /// Linear address of the first byte.
    lin: u64,
    /// RIP it was decoded at (branch targets and RIP-relative operands depend on it).
    rip: u64,
    /// RIP after the instruction.
    pub next: u64,
    pub fast: Fast,
    /// Code size (16, 32, 64); 0 marks an empty entry.
    bits: u32,
    len: u8,
    /// Address size in bytes (2, 4, 8).
    pub asz: u8,
    /// The instruction's bytes, zero-padded, and a mask of the `len` valid ones.
    bytes: u128,
    bmask: u128,
    pub ins: Instruction,
}

/// The key an entry checked in this epoch carries.
#[inline(always)]
fn key(epoch: u64, user: bool, bits: u32) -> u64 {
    (epoch << 8) | (u64::from(user) << 7) | u64::from(bits)
}

/// A direct-mapped table of [`Entry`]s keyed by linear RIP.
pub(crate) struct ICache {
    e: Box<[Entry]>,
}

impl ICache {
    pub fn new() -> ICache {
        let empty = Entry {
            key: 0,
            lin: 0,
            rip: 0,
            next: 0,
            fast: Fast::General,
            bits: 0,
            len: 0,
            asz: 0,
            bytes: 0,
            bmask: 0,
            ins: Instruction::default(),
        };
        ICache {
            e: vec![empty; ENTRIES].into_boxed_slice(),
        }
    }
}

/// The address size (in bytes) of an instruction of code size `bits` whose encoding starts
/// with `bytes`: the default, flipped by a 67h prefix.
fn address_size(bits: u32, bytes: &[u8]) -> u8 {
    let mut a67 = false;
    for &b in bytes {
        match b {
            0x67 => a67 = true,
            0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 | 0x66 | 0xf0 | 0xf2 | 0xf3 => {}
            _ => break,
        }
    }
    match (bits, a67) {
        (64, false) => 8,
        (64, true) | (32, false) | (16, true) => 4,
        _ => 2,
    }
}

impl Vcpu {
    /// The instruction at CS:RIP, from the cache when memory still holds its bytes.
    /// Returns the cache slot, whose `ins` and `asz` the caller reads.
    #[inline(always)]
    pub(crate) fn fetch(&mut self, mem: &mut dyn GuestMemory) -> R<usize> {
        let bits = self.code_bits();
        let rip = self.rip;
        let lin = self.fetch_lin(rip)?;
        let user = self.user();
        let slot = ((lin ^ (lin >> 12)) as usize) % ENTRIES;
        {
            let e = &self.icache.e[slot];
            if e.key == key(self.epoch, user, bits) && e.lin == lin && e.rip == rip {
                return Ok(slot);
            }
        }
        let gpa = self.translate(mem, lin, Acc::Fetch, user)?;
        let off = (gpa & 0xfff) as usize;
        {
            let e = &self.icache.e[slot];
            if e.lin == lin && e.rip == rip && e.bits == bits {
                let Some(p) = mem.page(gpa & !0xfff, false) else {
                    return Err(self.internal());
                };
                let now = if off + 16 <= PAGE_SIZE {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(&p[off..off + 16]);
                    u128::from_le_bytes(b)
                } else {
                    let mut b = [0u8; 16];
                    let n = usize::from(e.len).min(PAGE_SIZE - off);
                    b[..n].copy_from_slice(&p[off..off + n]);
                    u128::from_le_bytes(b)
                };
                if now & e.bmask == e.bytes {
                    self.validated(slot, gpa, user);
                    return Ok(slot);
                }
            }
        }
        self.decode_into(mem, slot, lin, gpa, bits, user)?;
        Ok(slot)
    }

    /// Fetches and decodes the instruction at `lin` (physical `gpa`) into `slot`.
    fn decode_into(
        &mut self,
        mem: &mut dyn GuestMemory,
        slot: usize,
        lin: u64,
        gpa: u64,
        bits: u32,
        user: bool,
    ) -> R<()> {
        let mut buf = [0u8; 15];
        let off = (gpa & 0xfff) as usize;
        let first = (PAGE_SIZE - off).min(15);
        match mem.page(gpa & !0xfff, false) {
            Some(p) => buf[..first].copy_from_slice(&p[off..off + first]),
            None => return Err(self.internal()),
        }
        let mut avail = first;
        // The next page's fault counts only if the instruction really extends into it.
        let mut next_fault: Option<Fault> = None;
        if first < 15 {
            let lin2 = lin.wrapping_add(first as u64);
            let limit_ok =
                self.long64() || self.fetch_lin(self.rip.wrapping_add(first as u64)).is_ok();
            if !limit_ok {
                next_fault = Some(exc::gp(0));
            } else {
                match self.translate(mem, lin2, Acc::Fetch, user) {
                    Ok(g2) => match mem.page(g2 & !0xfff, false) {
                        Some(p) => {
                            buf[first..].copy_from_slice(&p[..15 - first]);
                            avail = 15;
                        }
                        None => next_fault = Some(self.internal()),
                    },
                    Err(f) => next_fault = Some(f),
                }
            }
        }
        let mut dec = Decoder::with_ip(bits, &buf[..avail], self.rip, DecoderOptions::NONE);
        let ins = dec.decode();
        if dec.last_error() == DecoderError::NoMoreBytes {
            if let Some(f) = next_fault {
                return Err(f);
            }
        } else if let Some(Fault::Exit) = next_fault {
            // The instruction fitted: drop the internal-error exit queued for the next page.
            self.exits.pop_back();
        }
        let len = ins.len();
        if ins.code() == Code::INVALID || len == 0 {
            return Err(exc::ud());
        }
        if !self.long64() {
            let cs = &self.seg[crate::state::CS];
            if self.rip.wrapping_add(len as u64 - 1) > u64::from(cs.limit) {
                return Err(exc::gp(0));
            }
        }
        let e = &mut self.icache.e[slot];
        e.lin = lin;
        e.rip = self.rip;
        e.bits = bits;
        e.len = len as u8;
        e.asz = address_size(bits, &buf[..len]);
        let mut b = [0u8; 16];
        b[..len].copy_from_slice(&buf[..len]);
        e.bmask = if len >= 16 {
            u128::MAX
        } else {
            (1u128 << (len * 8)) - 1
        };
        e.bytes = u128::from_le_bytes(b);
        e.next = ins.next_ip();
        e.fast = classify(&ins, usize::from(e.asz));
        e.ins = ins;
        // Entries spanning a page boundary are decoded afresh each time (the check above
        // compares one page only).
        if off + len > PAGE_SIZE {
            e.bits = 0;
        }
        self.validated(slot, gpa, user);
        Ok(())
    }

    /// The cache slot of the instruction at CS:RIP if it was checked in this epoch, without
    /// touching memory; `None` sends the caller to [`Vcpu::fetch`].
    #[inline(always)]
    pub(crate) fn fetch_quick(&self, bits: u32, user: bool) -> Option<usize> {
        let rip = self.rip;
        let lin = if bits == 64 {
            rip
        } else {
            self.fetch_lin(rip).ok()?
        };
        let slot = ((lin ^ (lin >> 12)) as usize) % ENTRIES;
        let e = &self.icache.e[slot];
        (e.key == key(self.epoch, user, bits) && e.lin == lin && e.rip == rip).then_some(slot)
    }

    /// Records that `slot` matched memory (page `gpa`) in this epoch.
    fn validated(&mut self, slot: usize, gpa: u64, user: bool) {
        let e = &mut self.icache.e[slot];
        // Entries spanning a page boundary are compared every time.
        e.key = if e.bits != 0 {
            key(self.epoch, user, e.bits)
        } else {
            0
        };
        let h = ((gpa >> 12) & 4095) as usize;
        self.code_pages[h / 64] |= 1 << (h % 64);
    }

    /// Starts a new epoch: every entry is compared with memory again before use.
    pub(crate) fn new_epoch(&mut self) {
        self.epoch += 1;
        self.code_pages = [0; 64];
    }

    /// Flushes the TLB (and so starts a new epoch).
    pub(crate) fn flush_tlb(&mut self) {
        self.tlb.flush();
        self.new_epoch();
    }

    /// Notes a guest write to RAM page `gpa`: a new epoch if it holds checked code.
    #[inline(always)]
    pub(crate) fn wrote(&mut self, gpa: u64) {
        let h = ((gpa >> 12) & 4095) as usize;
        if self.code_pages[h / 64] & (1 << (h % 64)) != 0 {
            self.new_epoch();
        }
    }

    /// The decoded instruction in `slot` (a copy: execution may refill the cache).
    #[inline(always)]
    pub(crate) fn cached(&self, slot: usize) -> (Instruction, usize) {
        let e = &self.icache.e[slot];
        (e.ins, usize::from(e.asz))
    }

    /// The classified form and next RIP of the instruction in `slot`.
    #[inline(always)]
    pub(crate) fn cached_fast(&self, slot: usize) -> (Fast, u64) {
        let e = &self.icache.e[slot];
        (e.fast, e.next)
    }
}
