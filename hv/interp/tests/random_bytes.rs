//! Robustness: random 64-byte code pages in every mode, run for a bounded budget. The
//! interpreter must never panic and every run must end in a clean [`Exit`].

#[allow(dead_code)]
mod common;
#[allow(dead_code)]
#[path = "diff/forms.rs"]
mod forms;
#[allow(dead_code)]
#[path = "diff/forms_more.rs"]
mod forms_more;
#[allow(dead_code)]
#[path = "diff/machine.rs"]
mod machine;

use common::VecMem;
use forms::{Mode, Rng};
use hv_interp::{Exit, KvmRegs, Vcpu};
use machine::{CODE, setup_image, sregs_for};

const PAGES: usize = 2000;

#[test]
fn random_code_never_panics() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut pristine = VecMem::new(1 << 20);
    setup_image(&mut pristine);
    let mut compat = sregs_for(Mode::Long);
    compat.cs.l = 0;
    compat.cs.db = 1;
    compat.cs.selector = 0x18;
    let modes = [
        ("long", sregs_for(Mode::Long), CODE),
        ("compat", compat, CODE),
        ("prot", sregs_for(Mode::Prot), CODE),
        ("real", sregs_for(Mode::Real), 0),
    ];
    let mut mem = VecMem::new(1 << 20);
    for (name, sregs, ip) in modes {
        let mut tally = std::collections::BTreeMap::new();
        for _ in 0..PAGES {
            mem.0.copy_from_slice(&pristine.0);
            let mut code = [0u8; 64];
            rng.fill(&mut code);
            mem.put(CODE, &code);
            let mut v = Vcpu::new();
            v.set_sregs(&sregs).expect("sregs");
            let mut regs = KvmRegs {
                rip: ip,
                rsp: if ip == 0 { 0xff00 } else { 0x7_ff00 },
                rflags: 2,
                ..KvmRegs::default()
            };
            for r in [
                &mut regs.rax,
                &mut regs.rbx,
                &mut regs.rcx,
                &mut regs.rdx,
                &mut regs.rsi,
                &mut regs.rdi,
            ] {
                *r = forms::edge(&mut rng);
            }
            v.set_regs(&regs);
            let mut last = Exit::Budget;
            for _ in 0..16 {
                last = v.run(&mut mem, 2_000, false);
                match last {
                    Exit::Io { write: false, .. } | Exit::Mmio { write: false, .. } => {
                        v.complete(&[0; 8])
                    }
                    Exit::Io { .. } | Exit::Mmio { .. } | Exit::Budget => {}
                    Exit::Hlt | Exit::Shutdown | Exit::Internal { .. } | Exit::IrqWindowOpen => {
                        break;
                    }
                }
            }
            let key = match last {
                Exit::Io { .. } => "io",
                Exit::Mmio { .. } => "mmio",
                Exit::Hlt => "hlt",
                Exit::Shutdown => "shutdown",
                Exit::Internal { .. } => "internal",
                Exit::IrqWindowOpen => "irq-window",
                Exit::Budget => "budget",
            };
            *tally.entry(key).or_insert(0usize) += 1;
        }
        println!("random bytes, {name}: {PAGES} pages, last exits {tally:?}");
    }
}
