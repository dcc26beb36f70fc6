//! String instructions MOVS/STOS/LODS/CMPS/SCAS/INS/OUTS with REP/REPE/REPNE and DF (SDM
//! Vol. 2; Vol. 1 7.3.9). A REP instruction runs element by element, charging each to the
//! run budget; when the budget ends, an exit is queued or a fault hits, it stops with RIP
//! still on the instruction and the count registers describing the elements done, so it
//! resumes exactly where it left off.

use crate::alu::flags::*;
use crate::alu::{mask, sub};
use crate::mem::Acc;
use crate::state::{ES, Vcpu};
use crate::{GuestMemory, R};
use iced_x86::{Instruction, Mnemonic};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Movs,
    Stos,
    Lods,
    Cmps,
    Scas,
    Ins,
    Outs,
}

impl Vcpu {
    /// Writes address-sized register `idx` (SI/DI/CX at 16, 32 or 64 bits).
    #[inline(always)]
    fn set_areg(&mut self, idx: usize, v: u64, asz: usize) {
        self.gpr[idx] = if asz == 2 {
            (self.gpr[idx] & !0xffff) | (v & 0xffff)
        } else {
            v & mask(asz)
        };
    }

    /// One string instruction, all its repetitions included.
    pub(crate) fn string(
        &mut self,
        mem: &mut dyn GuestMemory,
        ins: &Instruction,
        asz: usize,
        m: Mnemonic,
        left: &mut u64,
    ) -> R<()> {
        use Mnemonic as M;
        let (kind, size) = match m {
            M::Movsb => (Kind::Movs, 1),
            M::Movsw => (Kind::Movs, 2),
            M::Movsd => (Kind::Movs, 4),
            M::Movsq => (Kind::Movs, 8),
            M::Stosb => (Kind::Stos, 1),
            M::Stosw => (Kind::Stos, 2),
            M::Stosd => (Kind::Stos, 4),
            M::Stosq => (Kind::Stos, 8),
            M::Lodsb => (Kind::Lods, 1),
            M::Lodsw => (Kind::Lods, 2),
            M::Lodsd => (Kind::Lods, 4),
            M::Lodsq => (Kind::Lods, 8),
            M::Cmpsb => (Kind::Cmps, 1),
            M::Cmpsw => (Kind::Cmps, 2),
            M::Cmpsd => (Kind::Cmps, 4),
            M::Cmpsq => (Kind::Cmps, 8),
            M::Scasb => (Kind::Scas, 1),
            M::Scasw => (Kind::Scas, 2),
            M::Scasd => (Kind::Scas, 4),
            M::Scasq => (Kind::Scas, 8),
            M::Insb => (Kind::Ins, 1),
            M::Insw => (Kind::Ins, 2),
            M::Insd => (Kind::Ins, 4),
            M::Outsb => (Kind::Outs, 1),
            M::Outsw => (Kind::Outs, 2),
            _ => (Kind::Outs, 4),
        };
        // MOVSD/CMPSD share mnemonics with SSE2 forms, which have register operands.
        if ins.op_count() > 0
            && ins.op_kind(0) == iced_x86::OpKind::Register
            && !matches!(kind, Kind::Lods | Kind::Scas | Kind::Ins | Kind::Outs)
        {
            return Err(crate::exc::ud());
        }
        if matches!(kind, Kind::Ins | Kind::Outs) {
            self.io_allowed(mem, self.gpr[2] as u16, size)?;
        }
        let rep = ins.has_rep_prefix() || ins.has_repne_prefix();
        if matches!(kind, Kind::Movs | Kind::Stos | Kind::Ins)
            && !(rep && self.gpr[1] & mask(asz) == 0)
        {
            self.writable(ES)?;
        }
        let repne = ins.has_repne_prefix();
        let src_seg = Self::mem_seg(ins);
        let delta = if self.flags & DF != 0 {
            (size as u64).wrapping_neg()
        } else {
            size as u64
        };
        let am = mask(asz);
        let user = self.user();
        loop {
            if rep && self.gpr[1] & am == 0 {
                return Ok(());
            }
            let si = self.gpr[6] & am;
            let di = self.gpr[7] & am;
            if rep && self.flags & DF == 0 && matches!(kind, Kind::Movs | Kind::Stos) {
                let count = self.gpr[1] & am;
                let n = self.bulk(
                    mem,
                    kind == Kind::Movs,
                    size,
                    si,
                    di,
                    count.min(*left + 1),
                    src_seg,
                    asz,
                );
                if n > 0 {
                    let bytes = n * size as u64;
                    if kind == Kind::Movs {
                        self.set_areg(6, si.wrapping_add(bytes), asz);
                    }
                    self.set_areg(7, di.wrapping_add(bytes), asz);
                    self.set_areg(1, count - n, asz);
                    *left -= n - 1;
                    if count == n {
                        return Ok(());
                    }
                    if *left == 0 {
                        self.rip = ins.ip();
                        return Ok(());
                    }
                    *left -= 1;
                    continue;
                }
            }
            match kind {
                Kind::Movs => {
                    let s = self.seg_lin(src_seg, si, size)?;
                    let v = self.read_lin(mem, s, size, user)?;
                    let d = self.seg_lin(ES, di, size)?;
                    self.write_lin(mem, d, size, v, user)?;
                    self.set_areg(6, si.wrapping_add(delta), asz);
                    self.set_areg(7, di.wrapping_add(delta), asz);
                }
                Kind::Stos => {
                    let d = self.seg_lin(ES, di, size)?;
                    self.write_lin(mem, d, size, self.gpr[0], user)?;
                    self.set_areg(7, di.wrapping_add(delta), asz);
                }
                Kind::Lods => {
                    let s = self.seg_lin(src_seg, si, size)?;
                    let v = self.read_lin(mem, s, size, user)?;
                    let r = [
                        iced_x86::Register::AL,
                        iced_x86::Register::AX,
                        iced_x86::Register::EAX,
                        iced_x86::Register::RAX,
                    ];
                    self.set_reg(r[size.trailing_zeros() as usize], v);
                    self.set_areg(6, si.wrapping_add(delta), asz);
                }
                Kind::Cmps => {
                    let s = self.seg_lin(src_seg, si, size)?;
                    let a = self.read_lin(mem, s, size, user)?;
                    let d = self.seg_lin(ES, di, size)?;
                    let b = self.read_lin(mem, d, size, user)?;
                    let (_, f) = sub(a, b, 0, size);
                    self.flags = (self.flags & !ARITH) | f;
                    self.set_areg(6, si.wrapping_add(delta), asz);
                    self.set_areg(7, di.wrapping_add(delta), asz);
                }
                Kind::Scas => {
                    let d = self.seg_lin(ES, di, size)?;
                    let b = self.read_lin(mem, d, size, user)?;
                    let (_, f) = sub(self.gpr[0], b, 0, size);
                    self.flags = (self.flags & !ARITH) | f;
                    self.set_areg(7, di.wrapping_add(delta), asz);
                }
                Kind::Ins => {
                    let d = self.seg_lin(ES, di, size)?;
                    // Check the destination before asking the VMM for the data.
                    self.probe_write(mem, d, size, user)?;
                    let v = self.port_in(self.gpr[2] as u16, size)?;
                    self.write_lin(mem, d, size, v, user)?;
                    self.set_areg(7, di.wrapping_add(delta), asz);
                }
                Kind::Outs => {
                    let s = self.seg_lin(src_seg, si, size)?;
                    let v = self.read_lin(mem, s, size, user)?;
                    self.port_out(self.gpr[2] as u16, size, v);
                    self.set_areg(6, si.wrapping_add(delta), asz);
                }
            }
            if !rep {
                return Ok(());
            }
            let c = (self.gpr[1] & am).wrapping_sub(1) & am;
            self.set_areg(1, c, asz);
            if c == 0 {
                return Ok(());
            }
            if matches!(kind, Kind::Cmps | Kind::Scas) && ((self.flags & ZF != 0) == repne) {
                return Ok(());
            }
            if *left == 0 || !self.exits.is_empty() {
                self.rip = ins.ip();
                return Ok(());
            }
            *left -= 1;
        }
    }

    /// REP MOVS/STOS with DF clear over RAM: as many whole elements as fit in the current
    /// source and destination pages, at most `max`, copied or filled as a block. Returns
    /// how many were done; 0 leaves the work (and any fault or MMIO exit) to the
    /// element-by-element path.
    #[allow(clippy::too_many_arguments)]
    fn bulk(
        &mut self,
        mem: &mut dyn GuestMemory,
        movs: bool,
        size: usize,
        si: u64,
        di: u64,
        max: u64,
        src_seg: usize,
        asz: usize,
    ) -> u64 {
        let am = mask(asz);
        let sz = size as u64;
        let user = self.user();
        let page_room = |lin: u64| (0x1000 - (lin & 0xfff)) / sz;
        let (Ok(d0), Ok(s0)) = (self.seg_lin(ES, di, size), self.seg_lin(src_seg, si, size)) else {
            return 0;
        };
        let mut n = max.min(page_room(d0)).min((am - di) / sz + 1);
        if movs {
            n = n.min(page_room(s0)).min((am - si) / sz + 1);
        }
        // Limits of the last element, for segments that have them.
        if n < 2
            || self.seg_lin(ES, di + (n - 1) * sz, size).is_err()
            || (movs && self.seg_lin(src_seg, si + (n - 1) * sz, size).is_err())
        {
            return 0;
        }
        let Ok(dg) = self.translate(mem, d0, Acc::Write, user) else {
            return 0;
        };
        let bytes = (n * sz) as usize;
        let doff = (dg & 0xfff) as usize;
        if movs {
            let Ok(sg) = self.translate(mem, s0, Acc::Read, user) else {
                return 0;
            };
            // A forward copy onto an overlapping later destination repeats the source
            // pattern element by element: leave that to the slow path.
            if dg > sg && dg < sg + bytes as u64 {
                return 0;
            }
            let soff = (sg & 0xfff) as usize;
            let mut done = 0;
            let mut buf = [0u8; 256];
            while done < bytes {
                let k = (bytes - done).min(buf.len());
                match mem.page(sg & !0xfff, false) {
                    Some(p) => buf[..k].copy_from_slice(&p[soff + done..soff + done + k]),
                    None => return (done / size) as u64,
                }
                match mem.page(dg & !0xfff, true) {
                    Some(p) => p[doff + done..doff + done + k].copy_from_slice(&buf[..k]),
                    None => return (done / size) as u64,
                }
                done += k;
            }
        } else {
            let v = self.gpr[0].to_le_bytes();
            let Some(p) = mem.page(dg & !0xfff, true) else {
                return 0;
            };
            if size == 1 {
                p[doff..doff + bytes].fill(v[0]);
            } else {
                for c in p[doff..doff + bytes].chunks_exact_mut(size) {
                    c.copy_from_slice(&v[..size]);
                }
            }
        }
        self.wrote(dg);
        n
    }
}
