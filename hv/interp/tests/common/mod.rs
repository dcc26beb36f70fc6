//! Guest memory and segments for the interpreter's unit tests, integration tests and examples,
//! each of which includes this file as a module: RAM as a `Vec` from guest-physical 0, and flat
//! segment descriptors.

use hv::abi::x86::KvmSegment;
use hv::backend::{GuestMemory, PAGE_SIZE};
use std::vec::Vec;

/// Guest RAM from address 0; everything above is MMIO.
pub struct VecMem(pub Vec<u8>);

impl VecMem {
    pub fn new(size: usize) -> VecMem {
        VecMem(std::vec![0; size])
    }
    pub fn put(&mut self, at: u64, b: &[u8]) {
        self.0[at as usize..at as usize + b.len()].copy_from_slice(b);
    }
    pub fn u64(&self, at: u64) -> u64 {
        u64::from_le_bytes(self.0[at as usize..at as usize + 8].try_into().unwrap())
    }
}

impl GuestMemory for VecMem {
    fn page(&mut self, gpa: u64, _write: bool) -> Option<&mut [u8; PAGE_SIZE]> {
        let i = usize::try_from(gpa).ok()? & !0xfff;
        self.0
            .get_mut(i..i.checked_add(PAGE_SIZE)?)?
            .try_into()
            .ok()
    }
}

/// A flat 4 GiB ring-0 segment at selector `sel`: execute/read code or read/write data, 64-bit
/// code when `long`, else 32-bit.
pub fn flat(sel: u16, code: bool, long: bool) -> KvmSegment {
    KvmSegment {
        base: 0,
        limit: 0xffff_ffff,
        selector: sel,
        type_: if code { 0xb } else { 0x3 },
        present: 1,
        dpl: 0,
        db: u8::from(!long),
        s: 1,
        l: u8::from(long),
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}
