//! Arm PL011 UART: polled transmit, interrupt-driven receive.
//!
//! Register offsets and bits from the Arm PrimeCell UART (PL011) Technical Reference Manual,
//! section 3.2 "Summary of registers". The firmware (or QEMU) leaves the UART enabled with a
//! usable baud rate, so this driver only moves bytes.

use crate::Rx;

/// Data register: a write queues one byte for transmission, a read takes one received byte.
const DR: usize = 0x00;
/// DR: break error (the "byte" is a break condition).
const DR_BE: u32 = 1 << 10;
/// Flag register.
const FR: usize = 0x18;
/// FR: receive FIFO empty.
const FR_RXFE: u32 = 1 << 4;
/// FR: transmit FIFO full.
const FR_TXFF: u32 = 1 << 5;
/// Interrupt mask set/clear register: a 1 bit lets that interrupt out.
const IMSC: usize = 0x38;
/// Interrupt clear register.
const ICR: usize = 0x44;
/// Receive (FIFO level reached) and receive timeout interrupts.
const INT_RX: u32 = 1 << 4;
const INT_RT: u32 = 1 << 6;
/// Most bytes one `drain` takes (the FIFO holds 32): a bound against a device that never
/// reports its FIFO empty.
const DRAIN_LIMIT: usize = 64;
/// FR: UART busy transmitting (the last byte has not left the shift register yet).
const FR_BUSY: u32 = 1 << 3;

/// One PL011 at a fixed, mapped MMIO address.
#[derive(Clone, Copy, Debug)]
pub struct Pl011 {
    base: usize,
}

impl Pl011 {
    /// A driver for the PL011 whose registers are mapped at virtual address `base`.
    ///
    /// # Safety
    /// `base` must be the virtual address of a PL011's register block, mapped as device memory
    /// for as long as the returned value (or a copy) is used.
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    /// Virtual address of the register block.
    pub const fn base(&self) -> usize {
        self.base
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract says `base` maps a PL011; `offset` is one of its registers,
        // 4-byte aligned.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Send one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(&self, byte: u8) {
        while self.read(FR) & FR_TXFF != 0 {
            core::hint::spin_loop();
        }
        self.write(DR, u32::from(byte));
    }

    /// Send bytes as they are (no newline translation).
    pub fn write_bytes(&self, bytes: &[u8]) {
        for &b in bytes {
            self.write_byte(b);
        }
    }

    /// Wait until every queued byte has left the UART (before powering off).
    pub fn flush(&self) {
        while self.read(FR) & FR_BUSY != 0 {
            core::hint::spin_loop();
        }
    }

    /// A received byte, if one is waiting.
    pub fn read_byte(&self) -> Option<u8> {
        match self.receive() {
            Some(Rx::Byte(b)) => Some(b),
            Some(Rx::Break) => Some(0),
            None => None,
        }
    }

    /// What the receiver holds, if anything: DR bit 10 (BE) marks a break.
    fn receive(&self) -> Option<Rx> {
        if self.read(FR) & FR_RXFE != 0 {
            return None;
        }
        let dr = self.read(DR);
        Some(if dr & DR_BE != 0 {
            Rx::Break
        } else {
            Rx::Byte((dr & 0xff) as u8)
        })
    }

    /// Let the receive and receive-timeout interrupts out (UARTIMSC RXIM | RTIM).
    pub fn enable_rx_interrupts(&self) {
        self.write(ICR, INT_RX | INT_RT);
        self.write(IMSC, self.read(IMSC) | INT_RX | INT_RT);
    }

    /// Interrupt handler body: clear the receive interrupts (UARTICR), then hand every
    /// received byte to `f` while FR.RXFE is clear. Clearing first means a byte arriving
    /// during the loop raises the interrupt again instead of going unnoticed. Returns the count.
    pub fn drain(&self, mut f: impl FnMut(Rx)) -> usize {
        self.write(ICR, INT_RX | INT_RT);
        let mut n = 0;
        while n < DRAIN_LIMIT {
            match self.receive() {
                Some(b) => f(b),
                None => break,
            }
            n += 1;
        }
        n
    }
}
