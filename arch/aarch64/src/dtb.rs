//! What the flattened device tree says: RAM, command line, initrd, console, GIC, timer, PSCI,
//! CPUs (Devicetree Specification v0.4; Linux bindings for `arm,gic-v3`, `arm,armv8-timer`,
//! `arm,psci`, `arm,pl011`).

use core::sync::atomic::{AtomicU64, Ordering};

use arch_api::{BootInfo, PhysRange};
use fdt::Fdt;
use fdt::node::FdtNode;

use crate::mmu::phys_to_virt;

/// Physical address of the device tree (0 until `boot` records it).
static DTB_PA: AtomicU64 = AtomicU64::new(0);

/// Longest command line kept; longer ones are cut at a word boundary.
const CMDLINE_MAX: usize = 1024;

struct Cmdline {
    buf: [u8; CMDLINE_MAX],
    len: usize,
}

static CMDLINE: spin::Once<Cmdline> = spin::Once::new();

/// The parsed device tree at physical address `pa`, read through the direct map.
fn open(pa: u64) -> Option<Fdt<'static>> {
    if pa == 0 {
        return None;
    }
    // SAFETY: `pa` is the loader's DTB (x0 at entry), which is reserved in BootInfo and so is
    // never reused; it is mapped Normal by the direct map for the whole run.
    unsafe { Fdt::from_ptr(phys_to_virt(pa) as *const u8) }.ok()
}

/// The boot device tree, if the loader passed one.
pub fn get() -> Option<Fdt<'static>> {
    open(DTB_PA.load(Ordering::Relaxed))
}

/// Physical RAM ranges from every node with `device_type = "memory"`.
pub fn for_each_ram(fdt: &Fdt<'_>, mut f: impl FnMut(PhysRange)) {
    for node in fdt.all_nodes() {
        let is_memory = node.property("device_type").and_then(|p| p.as_str()) == Some("memory");
        if !is_memory {
            continue;
        }
        for r in node.reg().into_iter().flatten() {
            let start = r.starting_address as u64;
            f(PhysRange::new(start, start + r.size.unwrap_or(0) as u64));
        }
    }
}

/// Fill `info` from the device tree at `dtb_pa`; `image` is the kernel's physical extent.
pub fn fill_boot_info(dtb_pa: u64, image: PhysRange, info: &mut BootInfo) {
    info.add_reserved(image);
    DTB_PA.store(dtb_pa, Ordering::Relaxed);
    let Some(fdt) = open(dtb_pa) else {
        log::warn!("no valid device tree at {dtb_pa:#x}; assuming 128 MiB at 0x4000_0000");
        info.add_ram(PhysRange::new(0x4000_0000, 0x4800_0000));
        return;
    };
    info.dtb = Some(dtb_pa);
    for_each_ram(&fdt, |r| {
        if !info.add_ram(r) {
            log::warn!("RAM range {:#x}..{:#x} dropped", r.start, r.end);
        }
    });
    info.add_reserved(PhysRange::new(dtb_pa, dtb_pa + fdt.total_size() as u64));
    // Firmware-owned memory: /reserved-memory children and the header's reservation block.
    let firmware = fdt
        .find_node("/reserved-memory")
        .into_iter()
        .flat_map(|n| n.children());
    for r in firmware.filter_map(first_reg) {
        info.add_reserved(PhysRange::new(r.0, r.0 + r.1));
    }
    for r in fdt.memory_reservations() {
        let start = r.address() as u64;
        info.add_reserved(PhysRange::new(start, start + r.size() as u64));
    }

    let chosen = fdt.find_node("/chosen");
    let prop = |name: &str| chosen.and_then(|c| c.property(name));
    if let Some(args) = prop("bootargs").and_then(|p| p.as_str()) {
        let c = CMDLINE.call_once(|| {
            let mut c = Cmdline {
                buf: [0; CMDLINE_MAX],
                len: 0,
            };
            let mut len = args.len().min(CMDLINE_MAX);
            while !args.is_char_boundary(len) {
                len -= 1;
            }
            c.buf[..len].copy_from_slice(&args.as_bytes()[..len]);
            c.len = len;
            c
        });
        info.cmdline = core::str::from_utf8(&c.buf[..c.len]).unwrap_or("");
    }
    let start = prop("linux,initrd-start").and_then(|p| p.as_usize());
    let end = prop("linux,initrd-end").and_then(|p| p.as_usize());
    if let (Some(start), Some(end)) = (start, end) {
        let r = PhysRange::new(start as u64, end as u64);
        if !r.is_empty() {
            info.initrd = Some(r);
            info.add_reserved(r);
        }
    }
}

pub fn first_reg(node: FdtNode<'_, '_>) -> Option<(u64, u64)> {
    let r = node.reg()?.next()?;
    Some((r.starting_address as u64, r.size.unwrap_or(0) as u64))
}

fn is_compatible(node: FdtNode<'_, '_>, with: &str) -> bool {
    node.compatible()
        .is_some_and(|c| c.all().any(|s| s == with))
}

/// Physical address of the console PL011: `/chosen` stdout-path, else the first `arm,pl011`.
pub fn console_uart(fdt: &Fdt<'_>) -> Option<u64> {
    let stdout = fdt
        .find_node("/chosen")
        .and_then(|c| c.property("stdout-path"))
        .and_then(|p| p.as_str())
        .map(|path| path.split(':').next().unwrap_or(path))
        .and_then(|path| fdt.find_node(path))
        .filter(|n| is_compatible(*n, "arm,pl011"));
    let node = stdout.or_else(|| fdt.find_compatible(&["arm,pl011"]))?;
    first_reg(node).map(|(pa, _)| pa)
}

/// GICv3 distributor and redistributor regions (physical base, size).
pub struct GicRegions {
    pub dist: (u64, u64),
    pub redist: (u64, u64),
}

pub fn gic_v3(fdt: &Fdt<'_>) -> Option<GicRegions> {
    let node = fdt.find_compatible(&["arm,gic-v3"])?;
    let mut regs = node.reg()?;
    let mut next = || {
        regs.next()
            .map(|r| (r.starting_address as u64, r.size.unwrap_or(0) as u64))
    };
    Some(GicRegions {
        dist: next()?,
        redist: next()?,
    })
}

/// The `arm,armv8-timer` PPI at `index` in its `interrupts` (0 secure phys, 1 non-secure phys,
/// 2 virtual, 3 hypervisor phys), as a GIC INTID (PPI n is INTID 16 + n).
pub fn timer_ppi(fdt: &Fdt<'_>, index: usize) -> Option<u32> {
    let node = fdt.find_compatible(&["arm,armv8-timer", "arm,armv7-timer"])?;
    let cells = node.property("interrupts")?.value;
    // Three cells per interrupt (type, number, flags) with the GIC's #interrupt-cells = 3.
    let at = (index * 3 + 1) * 4;
    let bytes: [u8; 4] = cells.get(at..at + 4)?.try_into().ok()?;
    Some(16 + u32::from_be_bytes(bytes))
}

/// Number of `/cpus/cpu@*` nodes.
pub fn cpu_count(fdt: &Fdt<'_>) -> u32 {
    fdt.cpus().count() as u32
}

/// The PSCI `method` property: "smc" or "hvc".
pub fn psci_method(fdt: &Fdt<'_>) -> Option<&'static str> {
    let node = fdt.find_compatible(&["arm,psci-1.0", "arm,psci-0.2", "arm,psci"])?;
    match node.property("method")?.as_str()? {
        "smc" => Some("smc"),
        "hvc" => Some("hvc"),
        _ => None,
    }
}
