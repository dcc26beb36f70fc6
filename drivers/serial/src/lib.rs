//! Serial UART drivers used for the kernel console.
#![no_std]

/// What a UART's receiver delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rx {
    Byte(u8),
    /// A break condition (the line held low for a whole character): Linux's serial console
    /// takes it as the start of a magic SysRq sequence.
    Break,
}

pub mod pl011;
pub mod uart16550;
