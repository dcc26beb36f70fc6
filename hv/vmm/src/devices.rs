//! The guest's devices: COM1 (vm-superio's 16550 model, output to a writer), the debug-exit
//! port and the MMIO test device. Everything else reads as all ones and ignores writes.

use std::io::Write;

use vm_superio::serial::NoEvents;
use vm_superio::{Serial, Trigger};

/// COM1's eight registers.
pub const COM1: u16 = 0x3f8;
/// An OUT here ends vmrun with the low byte of the value as exit status (QEMU's isa-debug-exit
/// uses the same port, but QEMU exits with `value << 1 | 1`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;
/// The MMIO test device: a 4 KiB window.
pub const MMIO_BASE: u64 = 0xd000_0000;
pub const MMIO_SIZE: u64 = 0x1000;
/// Read-only at +0 (32 bits): "LVMM" in memory order.
pub const MMIO_ID: u32 = 0x4d4d_564c;
/// Read/write 64-bit scratch register.
pub const MMIO_SCRATCH: u64 = 0x8;
/// Read-only: the complement of the scratch register.
pub const MMIO_NOT_SCRATCH: u64 = 0x10;

/// The serial model wants an interrupt line; the guests poll, so it goes nowhere.
pub struct NoIrq;

impl Trigger for NoIrq {
    type E = std::io::Error;

    fn trigger(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// All devices of one VM.
pub struct Devices<W: Write> {
    serial: Serial<NoIrq, NoEvents, W>,
    scratch: u64,
}

impl<W: Write> Devices<W> {
    pub fn new(out: W) -> Self {
        Devices {
            serial: Serial::new(NoIrq, out),
            scratch: 0,
        }
    }

    /// The serial output (for tests).
    #[cfg(test)]
    pub fn output(&self) -> &W {
        self.serial.writer()
    }

    /// `in` from `port`: fill `data`.
    pub fn io_in(&mut self, port: u16, data: &mut [u8]) {
        data.fill(0xff);
        if let Some(offset) = com1_offset(port)
            && let Some(first) = data.first_mut()
        {
            *first = self.serial.read(offset);
        }
    }

    /// `out` to `port`; `Some(status)` when the guest asked to exit.
    pub fn io_out(&mut self, port: u16, data: &[u8]) -> Option<u8> {
        if port == DEBUG_EXIT_PORT {
            return Some(data.first().copied().unwrap_or(0));
        }
        if let Some(offset) = com1_offset(port) {
            // `rep outsb` arrives as one exit with every byte (KVM's `count` > 1): each is a
            // write to the same register. A failed write to stdout (a closed pipe) must not
            // stop the guest.
            for &byte in data {
                let _ = self.serial.write(offset, byte);
            }
        }
        None
    }

    /// An MMIO read of `data.len()` bytes at `addr`.
    pub fn mmio_read(&mut self, addr: u64, data: &mut [u8]) {
        let Some(offset) = mmio_offset(addr, data.len()) else {
            data.fill(0xff);
            return;
        };
        let regs = self.registers();
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = regs.get(offset + i).copied().unwrap_or(0);
        }
    }

    /// An MMIO write: only the scratch register's bytes take it.
    pub fn mmio_write(&mut self, addr: u64, data: &[u8]) {
        let Some(offset) = mmio_offset(addr, data.len()) else {
            return;
        };
        let mut scratch = self.scratch.to_le_bytes();
        for (i, &byte) in data.iter().enumerate() {
            if let Some(at) = (offset + i).checked_sub(MMIO_SCRATCH as usize)
                && let Some(slot) = scratch.get_mut(at)
            {
                *slot = byte;
            }
        }
        self.scratch = u64::from_le_bytes(scratch);
    }

    /// The register file as bytes: ID, padding, scratch, complement.
    fn registers(&self) -> [u8; MMIO_NOT_SCRATCH as usize + 8] {
        const SCRATCH: usize = MMIO_SCRATCH as usize;
        const NOT_SCRATCH: usize = MMIO_NOT_SCRATCH as usize;
        let mut regs = [0u8; NOT_SCRATCH + 8];
        regs[..4].copy_from_slice(&MMIO_ID.to_le_bytes());
        regs[SCRATCH..SCRATCH + 8].copy_from_slice(&self.scratch.to_le_bytes());
        regs[NOT_SCRATCH..].copy_from_slice(&(!self.scratch).to_le_bytes());
        regs
    }
}

fn com1_offset(port: u16) -> Option<u8> {
    let offset = port.checked_sub(COM1)?;
    u8::try_from(offset).ok().filter(|&o| o < 8)
}

/// The offset of an access inside the test device, if it lies wholly inside.
fn mmio_offset(addr: u64, len: usize) -> Option<usize> {
    let offset = addr.checked_sub(MMIO_BASE)?;
    let end = offset.checked_add(len as u64)?;
    if end > MMIO_SIZE {
        return None;
    }
    usize::try_from(offset).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_prints_and_reports_an_empty_transmitter() {
        let mut dev = Devices::new(Vec::new());
        for &b in b"hi\n" {
            assert_eq!(dev.io_out(COM1, &[b]), None);
        }
        assert_eq!(dev.output(), b"hi\n");
        let mut lsr = [0u8];
        dev.io_in(COM1 + 5, &mut lsr);
        assert_eq!(lsr[0] & 0x20, 0x20);
    }

    #[test]
    fn unknown_ports_read_ones() {
        let mut dev = Devices::new(Vec::new());
        let mut data = [0u8; 4];
        dev.io_in(0x80, &mut data);
        assert_eq!(data, [0xff; 4]);
        assert_eq!(dev.io_out(0x80, &[1]), None);
        assert_eq!(dev.io_out(DEBUG_EXIT_PORT, &[7, 1]), Some(7));
        assert!(dev.output().is_empty());
    }

    #[test]
    fn mmio_device() {
        let mut dev = Devices::new(Vec::new());
        let mut word = [0u8; 4];
        dev.mmio_read(MMIO_BASE, &mut word);
        assert_eq!(u32::from_le_bytes(word), MMIO_ID);
        dev.mmio_write(MMIO_BASE + 8, &0xdead_beefu32.to_le_bytes());
        dev.mmio_read(MMIO_BASE + 8, &mut word);
        assert_eq!(u32::from_le_bytes(word), 0xdead_beef);
        dev.mmio_read(MMIO_BASE + 0x10, &mut word);
        assert_eq!(u32::from_le_bytes(word), 0x2152_4110);
        dev.mmio_write(MMIO_BASE + 0xb, &[0x5a]);
        dev.mmio_read(MMIO_BASE + 8, &mut word);
        assert_eq!(u32::from_le_bytes(word), 0x5aad_beef);
        // The ID is read-only; past the registers reads 0; outside the window all ones.
        dev.mmio_write(MMIO_BASE, &[0; 4]);
        dev.mmio_read(MMIO_BASE, &mut word);
        assert_eq!(u32::from_le_bytes(word), MMIO_ID);
        dev.mmio_read(MMIO_BASE + 0x100, &mut word);
        assert_eq!(word, [0; 4]);
        dev.mmio_read(0xe000_0000, &mut word);
        assert_eq!(word, [0xff; 4]);
        dev.mmio_read(MMIO_BASE + MMIO_SIZE - 2, &mut word);
        assert_eq!(word, [0xff; 4]);
    }
}
