//! Levitate's `/dev/kvm`.
//!
//! So far the ABI layer ([`abi`]): Linux's ioctl encoding, the KVM ioctl numbers of the subset
//! Levitate implements, and the `#[repr(C)]` structs they carry, written from `linux/kvm.h` and
//! `asm/kvm.h` and checked field by field against `kvm-bindings` in host tests. The VM and vCPU
//! objects, memory slots and backends will stand on it.

#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod abi;
