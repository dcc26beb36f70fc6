//! 16550-compatible UART (as on PC COM ports): polled transmit, interrupt-driven receive.
//!
//! Register map from the National Semiconductor PC16550D datasheet: THR/RBR 0, IER 1,
//! IIR/FCR 2, LCR 3, MCR 4, LSR 5; DLL/DLM at 0/1 while LCR.DLAB is set.

use crate::Rx;

/// Access to the UART's eight byte-wide registers (port I/O on x86, MMIO elsewhere).
pub trait Registers {
    /// Read register `offset` (0..8).
    fn read(&self, offset: u8) -> u8;
    /// Write register `offset` (0..8).
    fn write(&self, offset: u8, value: u8);
}

const THR: u8 = 0;
const RBR: u8 = 0;
const IER: u8 = 1;
const IIR: u8 = 2;
const FCR: u8 = 2;
const LCR: u8 = 3;
const MCR: u8 = 4;
const LSR: u8 = 5;
const DLL: u8 = 0;
const DLM: u8 = 1;

const LCR_DLAB: u8 = 0x80;
/// 8 data bits, no parity, 1 stop bit.
const LCR_8N1: u8 = 0x03;
/// Enable and clear both FIFOs, receive trigger at 14 bytes.
const FCR_ENABLE_CLEAR: u8 = 0xc7;
/// DTR and RTS asserted; OUT2 off until receive interrupts are wanted.
const MCR_DTR_RTS: u8 = 0x03;
/// OUT2: on PC boards it gates the UART's interrupt output onto the IRQ line.
const MCR_OUT2: u8 = 0x08;
/// IER: received data available (and, with the FIFO, character timeout) interrupt.
const IER_RX: u8 = 0x01;
/// Data ready: the receive buffer (or FIFO) holds a byte.
const LSR_DR: u8 = 0x01;
/// Break interrupt: the byte at the head of the FIFO (a 0) came from a break condition.
const LSR_BI: u8 = 0x10;
/// FIFOs on, receive trigger level 1 byte, nothing cleared (bytes typed early are kept): every
/// key interrupts at once instead of after the character timeout.
const FCR_ENABLE_RX1: u8 = 0x01;
/// Most bytes one `drain` takes: a 16550 FIFO holds 16, so more means the device is absent
/// (an unconnected port reads 0xff, which has DR set) and the loop must stop.
const DRAIN_LIMIT: usize = 64;
/// Transmit holding register empty: room for one more byte.
const LSR_THRE: u8 = 0x20;
/// Transmitter empty: the last byte has left the shift register.
const LSR_TEMT: u8 = 0x40;

/// The 1.8432 MHz clock divided by 16.
const BASE_BAUD: u32 = 115_200;

/// Polls before a missing or stuck UART is given up on, so a machine without one still boots.
const SPIN_LIMIT: u32 = 1_000_000;

pub struct Uart16550<R: Registers> {
    regs: R,
}

impl<R: Registers> Uart16550<R> {
    pub const fn new(regs: R) -> Self {
        Self { regs }
    }

    /// Program `baud` 8N1 with FIFOs on and interrupts off.
    pub fn init(&self, baud: u32) {
        let divisor = (BASE_BAUD / baud.clamp(1, BASE_BAUD)) as u16;
        self.regs.write(IER, 0);
        self.regs.write(LCR, LCR_DLAB);
        self.regs.write(DLL, divisor as u8);
        self.regs.write(DLM, (divisor >> 8) as u8);
        self.regs.write(LCR, LCR_8N1);
        self.regs.write(FCR, FCR_ENABLE_CLEAR);
        self.regs.write(MCR, MCR_DTR_RTS);
    }

    /// Send one byte, waiting for room in the transmitter.
    pub fn write_byte(&self, byte: u8) {
        self.wait_for(LSR_THRE);
        self.regs.write(THR, byte);
    }

    /// Send `bytes`, turning `\n` into `\r\n` for terminals.
    pub fn write_bytes(&self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }

    /// Turn on the receive-data interrupt (trigger level 1) and the interrupt output.
    pub fn enable_rx_interrupt(&self) {
        self.regs.write(FCR, FCR_ENABLE_RX1);
        self.regs.write(MCR, MCR_DTR_RTS | MCR_OUT2);
        self.regs.write(IER, IER_RX);
    }

    /// Interrupt handler body: read IIR (acknowledging the interrupt), then hand every byte
    /// waiting in the receiver to `f` while LSR.DR says one is there (a break as
    /// [`Rx::Break`]). Returns the count.
    pub fn drain(&self, mut f: impl FnMut(Rx)) -> usize {
        let _ = self.regs.read(IIR);
        let mut n = 0;
        loop {
            let lsr = self.regs.read(LSR);
            if n >= DRAIN_LIMIT || lsr & LSR_DR == 0 {
                break;
            }
            let byte = self.regs.read(RBR);
            f(if lsr & LSR_BI != 0 {
                Rx::Break
            } else {
                Rx::Byte(byte)
            });
            n += 1;
        }
        n
    }

    /// Wait until everything written has left the UART (before powering off).
    pub fn flush(&self) {
        self.wait_for(LSR_TEMT);
    }

    fn wait_for(&self, bit: u8) {
        for _ in 0..SPIN_LIMIT {
            if self.regs.read(LSR) & bit != 0 {
                return;
            }
            core::hint::spin_loop();
        }
    }
}
