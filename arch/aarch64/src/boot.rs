//! First Rust code on the boot CPU: runs at the link address on the entry code's tables,
//! reads the device tree, builds the final page tables, fills [`BootInfo`] and enters the
//! kernel.

use arch_api::{BootInfo, PhysRange};

use crate::{console, cpu, dtb, mmu, psci, timer, user};

unsafe extern "Rust" {
    fn levitate_main(boot: &'static BootInfo) -> !;
}

static BOOT_INFO: spin::Once<BootInfo> = spin::Once::new();

/// Called by the entry code with the DTB's and the image's physical addresses and the
/// exception level chosen (2: EL2 with VHE, 1: EL1). Runs with all of DAIF masked on the
/// boot stack.
pub extern "C" fn boot_main(dtb_pa: u64, load_pa: u64, el: u64) -> ! {
    cpu::init_this_cpu(el as u8, 0);
    user::init_cpu();
    timer::init_clock();
    // SAFETY: unmasking SError reporting; the vectors are installed (entry code).
    unsafe { core::arch::asm!("msr daifclr, #4", options(nomem, nostack)) };

    let (start, end) = mmu::kernel_range();
    let image = PhysRange::new(load_pa, load_pa + (end - start));
    let mut info = BootInfo::new("DTB");
    dtb::fill_boot_info(dtb_pa, image, &mut info);
    // SAFETY: once, on the boot CPU, still on the entry code's tables; load_pa is where the
    // entry code found itself.
    unsafe { mmu::init_kernel_tables(load_pa, info.ram()) };

    let fdt = dtb::get();
    if let Some(uart) = fdt.as_ref().and_then(dtb::console_uart) {
        console::set_uart(uart);
    }
    psci::set_conduit(fdt.as_ref().and_then(dtb::psci_method));

    let info = BOOT_INFO.call_once(|| info);
    // SAFETY: `levitate_main` is defined by the kernel binary with exactly this signature
    // (arch_api's documented contract).
    unsafe { levitate_main(info) }
}
