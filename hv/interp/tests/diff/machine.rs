//! The interpreter side of the differential test and the layout both machines share: guest
//! memory image, segment setups per mode, running a case (the KVM side is `kvm.rs`).

use crate::common::{VecMem, flat};
use crate::forms::Mode;
use hv::abi::x86::{KvmDtable, KvmSegment, KvmSregs};
use hv_interp::{Exit, KvmRegs, Vcpu};

pub const MEM_SIZE: usize = 4 << 20;
/// Where each case's code goes.
pub const CODE: u64 = 0x1_0000;
/// The data area memory operands point into.
pub const DATA: u64 = 0x2_0000;
pub const DATA_LEN: usize = 0x2000;
/// The stack page (RSP starts near its top).
pub const STACK: u64 = 0x7_f000;
pub const STACK_LEN: usize = 0x1000;
const GDT: u64 = 0x500;
const IDT64: u64 = 0x5000;
const IDT32: u64 = 0x5800;
/// Exception stubs: vector v at `STUBS + 16 v` does `mov al, v; out 0xee, al; hlt`.
const STUBS: u64 = 0x6000;
/// Port the exception stubs report on.
pub const EXC_PORT: u16 = 0xee;

/// How a run ended, comparable across the two machines.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum End {
    Hlt,
    Out(u16, Vec<u8>),
    Shutdown,
    Other(String),
}

/// The next `len` bytes of the stream every port or MMIO read of a case takes from, so
/// both machines see the same data however they split string I/O into exits.
pub fn read_data(counter: &mut usize, len: usize) -> Vec<u8> {
    let v = (0..len)
        .map(|i| (0x5a + 7 * (*counter + i)) as u8)
        .collect();
    *counter += len;
    v
}

/// Records an `IN` of `len` bytes from `port`, merged with an `IN` from the same port just
/// before (KVM exits once for a whole REP INS; the interpreter once per element).
pub fn push_in(events: &mut Vec<String>, port: u16, len: usize) {
    let prefix = format!("in {port:#x} ");
    if let Some(last) = events.last_mut()
        && let Some(n) = last
            .strip_prefix(&prefix)
            .and_then(|n| n.parse::<usize>().ok())
    {
        *last = format!("{prefix}{}", n + len);
        return;
    }
    events.push(format!("{prefix}{len}"));
}

/// Registers, exits and memory after one case: `events` lists the I/O and MMIO exits the run
/// went through, `exit` the one that ended it.
pub struct Outcome {
    pub events: Vec<String>,
    pub exit: End,
    pub regs: KvmRegs,
    pub data: Vec<u8>,
    pub stack: Vec<u8>,
}

/// Page tables (identity, 2 MiB pages over the 4 MiB of RAM), GDT, IDTs, IVT and stubs.
pub fn setup_image(m: &mut VecMem) {
    m.put(0x1000, &0x2007u64.to_le_bytes());
    m.put(0x2000, &0x3007u64.to_le_bytes());
    // The first 2 MiB through 4 KiB pages (PT at 0x4000); the data area's second page is
    // read-only (CR0.WP is set), so stores there take #PF(P|W).
    m.put(0x3000, &0x4007u64.to_le_bytes());
    for i in 0..512u64 {
        let flags = if i == (DATA >> 12) + 1 { 5 } else { 7 };
        m.put(0x4000 + i * 8, &((i << 12) | flags).to_le_bytes());
    }
    m.put(0x3008, &((1u64 << 21) | 0x87).to_le_bytes());
    // 4-6 MiB is mapped but has no RAM behind it: MMIO.
    m.put(0x3010, &((2u64 << 21) | 0x87).to_le_bytes());
    // 0x20/0x28/0x30: 16-bit code at CODE, data at DATA, stack at STACK & !0xffff.
    let gdt: [u64; 8] = [
        0,
        0x00af_9b00_0000_ffff,
        0x00cf_9300_0000_ffff,
        0x00cf_9b00_0000_ffff,
        0x0000_9b01_0000_ffff,
        0x0000_9302_0000_ffff,
        0x0000_9307_0000_ffff,
        // 0x38: flat read-only data.
        0x00cf_9100_0000_ffff,
    ];
    for (i, d) in gdt.iter().enumerate() {
        m.put(GDT + i as u64 * 8, &d.to_le_bytes());
    }
    for v in 0..32u64 {
        let stub = STUBS + v * 16;
        m.put(stub, &[0xb0, v as u8, 0xe6, EXC_PORT as u8, 0xf4]);
        let lo = (stub & 0xffff) | (8 << 16) | (0x8eu64 << 40) | (((stub >> 16) & 0xffff) << 48);
        m.put(IDT64 + v * 16, &lo.to_le_bytes());
        m.put(IDT64 + v * 16 + 8, &(stub >> 32).to_le_bytes());
        let lo32 =
            (stub & 0xffff) | (0x18 << 16) | (0x8eu64 << 40) | (((stub >> 16) & 0xffff) << 48);
        m.put(IDT32 + v * 8, &lo32.to_le_bytes());
        // Real mode: segment STUBS >> 4, offset 16 v.
        let ivt = ((STUBS >> 4) << 16) | (v * 16);
        m.put(v * 4, &(ivt as u32).to_le_bytes());
    }
}

fn real(sel: u16, code: bool) -> KvmSegment {
    KvmSegment {
        base: u64::from(sel) << 4,
        limit: 0xffff,
        selector: sel,
        type_: if code { 0xb } else { 0x3 },
        present: 1,
        s: 1,
        ..KvmSegment::default()
    }
}

/// Segment and control registers of each test mode.
pub fn sregs_for(mode: Mode) -> KvmSregs {
    let tr = KvmSegment {
        type_: 0xb,
        present: 1,
        limit: 0x67,
        ..KvmSegment::default()
    };
    let ldt = KvmSegment {
        type_: 2,
        present: 1,
        limit: 0xffff,
        ..KvmSegment::default()
    };
    let gdt = KvmDtable {
        base: GDT,
        limit: 63,
        padding: [0; 3],
    };
    match mode {
        Mode::Prot16 => {
            let mut s = sregs_for(Mode::Prot);
            let seg16 = |sel: u16, base: u64, code: bool| KvmSegment {
                base,
                db: 0,
                g: 0,
                limit: 0xffff,
                ..flat(sel, code, false)
            };
            s.cs = seg16(0x20, CODE, true);
            s.ds = seg16(0x28, DATA, false);
            s.es = s.ds;
            s.ss = seg16(0x30, STACK & !0xffff, false);
            s
        }
        Mode::Compat => {
            let mut s = sregs_for(Mode::Long);
            s.cs = flat(0x18, true, false);
            s
        }
        Mode::Long => {
            let d = flat(0x10, false, false);
            KvmSregs {
                cs: flat(8, true, true),
                ds: d,
                es: d,
                fs: d,
                gs: d,
                ss: d,
                tr,
                ldt,
                gdt,
                idt: KvmDtable {
                    base: IDT64,
                    limit: 32 * 16 - 1,
                    padding: [0; 3],
                },
                cr0: 0x8001_0031,
                cr3: 0x1000,
                cr4: 0x20,
                efer: 0x500,
                ..KvmSregs::default()
            }
        }
        Mode::Prot => {
            let d = flat(0x10, false, false);
            KvmSregs {
                cs: flat(0x18, true, false),
                ds: d,
                es: d,
                fs: d,
                gs: d,
                ss: d,
                tr,
                ldt,
                gdt,
                idt: KvmDtable {
                    base: IDT32,
                    limit: 32 * 8 - 1,
                    padding: [0; 3],
                },
                cr0: 0x31,
                ..KvmSregs::default()
            }
        }
        Mode::Real => KvmSregs {
            cs: real((CODE >> 4) as u16, true),
            ds: real((DATA >> 4) as u16, false),
            es: real((DATA >> 4) as u16, false),
            fs: real(0, false),
            gs: real(0, false),
            ss: real((STACK >> 4) as u16 & 0xf000, false),
            tr,
            ldt,
            gdt,
            idt: KvmDtable {
                base: 0,
                limit: 0x3ff,
                padding: [0; 3],
            },
            cr0: 0x30,
            ..KvmSregs::default()
        },
    }
}

/// Runs one case under the interpreter.
pub fn interp_run(v: &mut Vcpu, mem: &mut VecMem, sregs: &KvmSregs, regs: &KvmRegs) -> Outcome {
    v.set_sregs(sregs).expect("valid sregs");
    v.set_regs(regs);
    let mut events = Vec::new();
    let mut counter = 0;
    let exit = loop {
        let e = v.run(mem, 100_000, false);
        if events.len() >= 64 {
            break End::Other(format!("{e:?} after too many exits"));
        }
        match e {
            Exit::Io {
                port,
                size,
                write: true,
                data,
            } if port != EXC_PORT => {
                events.push(format!("out {port:#x} {:02x?}", &data[..usize::from(size)]));
            }
            Exit::Io {
                port,
                size,
                write: true,
                data,
            } => break End::Out(port, data[..usize::from(size)].to_vec()),
            Exit::Io {
                port,
                size,
                write: false,
                ..
            } => {
                push_in(&mut events, port, usize::from(size));
                v.complete(&read_data(&mut counter, usize::from(size)));
            }
            Exit::Mmio {
                gpa,
                len,
                write: true,
                data,
            } => events.push(format!(
                "mmio write {gpa:#x} {:02x?}",
                &data[..usize::from(len)]
            )),
            Exit::Mmio {
                gpa,
                len,
                write: false,
                ..
            } => {
                events.push(format!("mmio read {gpa:#x} {len}"));
                v.complete(&read_data(&mut counter, usize::from(len)));
            }
            Exit::Hlt => break End::Hlt,
            Exit::Shutdown => break End::Shutdown,
            e => break End::Other(format!("{e:?}")),
        }
    };
    Outcome {
        events,
        exit,
        regs: v.regs(),
        data: mem.0[DATA as usize..DATA as usize + DATA_LEN].to_vec(),
        stack: mem.0[STACK as usize..STACK as usize + STACK_LEN].to_vec(),
    }
}
