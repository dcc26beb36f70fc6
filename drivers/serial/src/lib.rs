//! Serial UART drivers used for the kernel console.
#![no_std]

pub mod pl011;
pub mod uart16550;
