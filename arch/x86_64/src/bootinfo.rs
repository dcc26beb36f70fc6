//! Fill the static [`arch_api::BootInfo`] from the loader's information (parsed by
//! [`crate::bootparse`]). Runs before the identity map is removed and reads everything
//! through the direct map, which covers the first 4 GiB at this point; both protocols hand over
//! 32-bit addresses.

use arch_api::{BootInfo, PhysRange};
use spin::Once;

use crate::bootparse::{self, PhysMem, page_up};
use crate::paging::{DIRECT_MAP_OFFSET, KERNEL_VMA};

/// End of what the boot page tables map in the direct map.
const BOOT_MAPPED_END: u64 = 0x1_0000_0000;
/// Longest command line kept.
const CMDLINE_MAX: usize = 4096;
/// Size of an ACPI 2.0 RSDP.
const RSDP_LEN: usize = 36;

static BOOT_INFO: Once<BootInfo> = Once::new();
static CMDLINE: Once<Cmdline> = Once::new();
/// Multiboot2 hands over a copy of the RSDP inside its information structure, which is not
/// kept: keep a copy in the kernel image and report that copy's physical address.
static RSDP_COPY: Once<[u8; RSDP_LEN]> = Once::new();

struct Cmdline {
    bytes: [u8; CMDLINE_MAX],
    len: usize,
}

unsafe extern "C" {
    static __kernel_phys_start: u8;
    static __kernel_phys_end: u8;
}

/// The first 4 GiB of physical memory, through the boot direct map.
struct BootDirectMap;

impl PhysMem for BootDirectMap {
    fn read(&self, pa: u64, buf: &mut [u8]) -> bool {
        match pa.checked_add(buf.len() as u64) {
            Some(end) if end <= BOOT_MAPPED_END => {}
            _ => return false,
        }
        let src = (pa + DIRECT_MAP_OFFSET) as *const u8;
        // SAFETY: the boot direct map covers [0, 4 GiB) and `pa..end` lies inside it; the
        // loader put its structures in memory (nothing else writes it during boot), and `buf`
        // cannot overlap it (it is on the kernel stack or in the kernel image).
        unsafe { core::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), buf.len()) };
        true
    }
}

/// Parse the boot information at physical address `info` left by the loader identified by
/// `magic`. Halts with a console message if neither protocol is recognised.
pub fn parse(magic: u32, info: u64) -> &'static BootInfo {
    BOOT_INFO.call_once(|| {
        let Some(parsed) = bootparse::parse(&BootDirectMap, magic, info) else {
            crate::console::write(
                b"levitate: unknown boot protocol (neither PVH nor Multiboot2)\n",
            );
            crate::cpu::halt_forever();
        };
        let mut boot = parsed.boot;
        if let Some(pa) = parsed.cmdline {
            boot.cmdline = copy_cmdline(pa);
        }
        if let Some(pa) = parsed.rsdp_copy {
            let copy = RSDP_COPY.call_once(|| {
                let mut bytes = [0u8; RSDP_LEN];
                // A short (ACPI 1.0, 20-byte) RSDP leaves zeros, which validation ignores.
                BootDirectMap.read(pa, &mut bytes);
                bytes
            });
            boot.rsdp = Some(copy.as_ptr() as u64 - KERNEL_VMA);
        }
        // Linker-script symbols: only their addresses (the image's physical bounds) mean anything.
        let (start, end) = (&raw const __kernel_phys_start, &raw const __kernel_phys_end);
        boot.add_reserved(PhysRange::new(start as u64, end as u64));
        if let Some(initrd) = boot.initrd {
            boot.add_reserved(PhysRange::new(initrd.start & !0xfff, page_up(initrd.end)));
        }
        boot
    })
}

/// Copy the NUL-terminated string at `pa` into the static command-line buffer.
fn copy_cmdline(pa: u64) -> &'static str {
    let c = CMDLINE.call_once(|| {
        let mut c = Cmdline {
            bytes: [0; CMDLINE_MAX],
            len: 0,
        };
        while c.len < CMDLINE_MAX {
            match BootDirectMap.u8(pa + c.len as u64) {
                Some(0) | None => break,
                Some(b) => {
                    c.bytes[c.len] = b;
                    c.len += 1;
                }
            }
        }
        c
    });
    match core::str::from_utf8(&c.bytes[..c.len]) {
        Ok(s) => s.trim(),
        // Keep the valid prefix rather than nothing.
        Err(e) => core::str::from_utf8(&c.bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}
