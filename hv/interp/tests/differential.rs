//! Differential test: thousands of generated instruction cases run once under the host's
//! real `/dev/kvm` and once under the interpreter, from the same registers and memory; all
//! GPRs, RIP, RFLAGS (less the flags the SDM leaves undefined for the form), the exit and the
//! touched memory must match. Skips (visibly) where `/dev/kvm` cannot be opened; x86 hosts
//! only.

#![cfg(target_arch = "x86_64")]

#[allow(dead_code)]
mod common;
#[path = "diff/forms.rs"]
mod forms;
#[path = "diff/forms_more.rs"]
mod forms_more;
#[path = "diff/kvm.rs"]
mod kvm;
#[path = "diff/machine.rs"]
mod machine;

use common::VecMem;
use forms::{Gen, Mode, Rng};
use hv_interp::{KvmRegs, Vcpu};
use kvm::Kvm;
use machine::{Outcome, interp_run, setup_image};

/// Cases per form in each mode (real mode runs under KVM's own emulator: keep it small).
const PER_FORM_64: usize = 60;
const PER_FORM_32: usize = 30;
const PER_FORM_16: usize = 8;

#[test]
fn differential_against_kvm() {
    let Some(mut kvm) = Kvm::open() else {
        println!("SKIP differential: /dev/kvm not available");
        return;
    };
    let start = std::time::Instant::now();
    let mut img = VecMem::new(machine::MEM_SIZE);
    setup_image(&mut img);
    kvm.load_image(&img.0);
    let cpuid = kvm.cpuid();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut cases = 0usize;
    let mut forms_run = 0usize;
    let mut failures: Vec<String> = Vec::new();
    let mut by_form = std::collections::BTreeMap::new();
    let mut total_bad = 0usize;
    let mut skipped = 0usize;
    let mut skipped_forms = std::collections::BTreeMap::new();
    for (mode, per_form) in [
        (Mode::Long, PER_FORM_64),
        (Mode::Compat, PER_FORM_32 / 2),
        (Mode::Prot, PER_FORM_32),
        (Mode::Prot16, PER_FORM_16 * 2),
        (Mode::Real, PER_FORM_16),
    ] {
        let sregs = machine::sregs_for(mode);
        for form in forms::all().iter().filter(|f| f.modes & mode.bit() != 0) {
            forms_run += 1;
            let mut done = 0;
            let mut attempts = 0;
            while done < per_form && attempts < per_form * 4 {
                attempts += 1;
                let mut g = Gen::new(&mut rng, mode);
                if (form.make)(&mut g).is_err() {
                    continue;
                }
                let Some(case) = g.finish(machine::CODE) else {
                    continue;
                };
                done += 1;
                cases += 1;
                let mut data = vec![0u8; machine::DATA_LEN];
                rng.fill(&mut data);
                // Hardware run.
                kvm.write(machine::CODE, &case.code);
                kvm.write(machine::DATA, &data);
                kvm.write(machine::STACK, &[0u8; machine::STACK_LEN]);
                let hw = kvm.run(&sregs, &case.regs);
                if hw.exit == machine::End::Other("InternalError".into()) {
                    // The host's KVM could not emulate it (nested KVM traps some
                    // instructions to its emulator, which lacks them): nothing to compare.
                    skipped += 1;
                    *skipped_forms
                        .entry(format!("{:?} {}", mode, form.name))
                        .or_insert(0usize) += 1;
                    continue;
                }
                // Interpreter run on the same image.
                img.put(machine::CODE, &case.code);
                img.put(machine::DATA, &data);
                img.put(machine::STACK, &[0u8; machine::STACK_LEN]);
                let mut v = Vcpu::new();
                v.set_cpuid(&cpuid);
                let sw = interp_run(&mut v, &mut img, &sregs, &case.regs);
                // This host writes the frames of faults taken in 16-bit protected mode at SS
                // base 0 rather than at SS:SP (INT n frames land right): registers and exits
                // are compared, the stack is not.
                let frame_quirk = mode == Mode::Prot16
                    && hw.exit == sw.exit
                    && matches!(&hw.exit, machine::End::Out(p, _) if *p == machine::EXC_PORT);
                let (hw, mut sw) = (hw, sw);
                if frame_quirk {
                    sw.stack = hw.stack.clone();
                }
                if let Some(diff) = compare(&hw, &sw, case.undef | form.undef) {
                    let n = by_form
                        .entry(format!("{:?} {}", mode, form.name))
                        .or_insert(0usize);
                    *n += 1;
                    total_bad += 1;
                    if *n <= 2 {
                        failures.push(format!(
                            "{:?} {}: code {:02x?}\n  in:  {}\n  {}",
                            mode,
                            form.name,
                            &case.code[..case.len],
                            fmt_regs(&case.regs),
                            diff
                        ));
                    }
                }
            }
        }
    }
    // Accessed/dirty bits the page walks left in the guest's page tables (never reset, so
    // they accumulate identically when every walk behaves the same).
    let tables = kvm.read_range(0x1000, 0x4000);
    if tables[..] != img.0[0x1000..0x5000] {
        total_bad += 1;
        failures.push(format!(
            "page tables differ: hw {:02x?} sw {:02x?}",
            &tables[0x2000..0x2020],
            &img.0[0x3000..0x3020]
        ));
    }
    let elapsed = start.elapsed();
    for f in &failures {
        println!("MISMATCH {f}");
    }
    let names: Vec<String> = skipped_forms
        .iter()
        .map(|(k, n)| format!("{k} ({n})"))
        .collect();
    println!(
        "differential: the host KVM could not run: {}",
        names.join(", ")
    );
    for (name, n) in &by_form {
        println!("mismatched form: {name}: {n}");
    }
    if failures.is_empty() {
        println!(
            "differential: {} cases, {forms_run} forms, all matched ({skipped} more the host KVM could not run; {elapsed:.2?})",
            cases - skipped
        );
    }
    assert!(
        failures.is_empty(),
        "differential: {total_bad} of {cases} cases mismatched"
    );
}

fn fmt_regs(r: &KvmRegs) -> String {
    format!(
        "rax={:x} rbx={:x} rcx={:x} rdx={:x} rsi={:x} rdi={:x} rsp={:x} rbp={:x} r8={:x} r9={:x} r10={:x} r11={:x} r12={:x} r13={:x} r14={:x} r15={:x} rip={:x} fl={:x}",
        r.rax,
        r.rbx,
        r.rcx,
        r.rdx,
        r.rsi,
        r.rdi,
        r.rsp,
        r.rbp,
        r.r8,
        r.r9,
        r.r10,
        r.r11,
        r.r12,
        r.r13,
        r.r14,
        r.r15,
        r.rip,
        r.rflags
    )
}

/// The first difference between the hardware and interpreter outcomes, if any.
fn compare(hw: &Outcome, sw: &Outcome, undef: u64) -> Option<String> {
    let mut d = String::new();
    if hw.events != sw.events {
        d += &format!("events hw {:?} sw {:?}; ", hw.events, sw.events);
    }
    if hw.exit != sw.exit {
        d += &format!("exit hw {:?} sw {:?}; ", hw.exit, sw.exit);
    }
    let mut a = hw.regs;
    let mut b = sw.regs;
    a.rflags &= !undef;
    b.rflags &= !undef;
    if a != b {
        d += &format!(
            "\n  hw:  {}\n  sw:  {}",
            fmt_regs(&hw.regs),
            fmt_regs(&sw.regs)
        );
    }
    for (name, x, y) in [
        ("data", &hw.data, &sw.data),
        ("stack", &hw.stack, &sw.stack),
    ] {
        if let Some(i) = x.iter().zip(y.iter()).position(|(p, q)| p != q) {
            d += &format!(
                "\n  {name}[{i:#x}] hw {:02x?} sw {:02x?}",
                &x[i..(i + 8).min(x.len())],
                &y[i..(i + 8).min(y.len())]
            );
        }
    }
    (!d.is_empty()).then_some(d)
}
