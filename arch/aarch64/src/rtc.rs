//! The PL031 real-time clock the device tree names (`arm,pl031`; QEMU virt has one): its data
//! register RTCDR (offset 0) counts seconds since the epoch.

use crate::dtb;
use crate::mmu::{map_device, phys_to_virt};

/// PrimeCell peripheral ID bytes at 0xfe0..0xfec: 0x31, 0x10, 0x?4, 0x00 for a PL031.
const PERIPH_ID0: u64 = 0xfe0;

/// Seconds since the epoch, or `None` without a PL031.
pub fn seconds() -> Option<u64> {
    let fdt = dtb::get()?;
    let node = fdt.find_compatible(&["arm,pl031"])?;
    let (pa, len) = dtb::first_reg(node)?;
    if len < 0x1000 {
        return None;
    }
    map_device(pa, len);
    let base = phys_to_virt(pa);
    // SAFETY: the device tree says a PL031 sits at `pa`; `map_device` mapped it as Device
    // memory in the direct map; reading its ID and data registers has no side effect.
    let (id, seconds) = unsafe {
        (
            ((base + PERIPH_ID0) as *const u32).read_volatile(),
            (base as *const u32).read_volatile(),
        )
    };
    (id & 0xff == 0x31).then_some(u64::from(seconds))
}
