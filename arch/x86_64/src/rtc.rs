//! The PC's CMOS real-time clock (MC146818: ports 0x70/0x71), read once at boot for the wall
//! clock. Register facts: seconds 0x00, minutes 0x02, hours 0x04, day 0x07, month 0x08,
//! year 0x09, status A 0x0a (bit 7: update in progress), status B 0x0b (bit 2: binary rather
//! than BCD, bit 1: 24-hour), century 0x32 (the ACPI FADT's usual `century` index).

use crate::cpu::{inb, outb};

const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;
/// Keep NMIs enabled (bit 7 of the index port clear).
const STATUS_A_UIP: u8 = 0x80;
const STATUS_B_BINARY: u8 = 0x04;
const STATUS_B_24H: u8 = 0x02;
/// An update can take up to ~2 ms; polls before giving up on a stuck or absent clock.
const SPIN_LIMIT: u32 = 1_000_000;

fn read(reg: u8) -> u8 {
    // SAFETY: the CMOS index/data ports belong to the RTC, which only this module drives;
    // selecting a register and reading it has no other effect.
    unsafe {
        outb(INDEX, reg);
        inb(DATA)
    }
}

/// Date and time fields as read, before BCD and 12-hour decoding.
#[derive(PartialEq, Eq, Clone, Copy)]
struct Raw([u8; 7]);

fn read_raw() -> Option<Raw> {
    for _ in 0..SPIN_LIMIT {
        if read(0x0a) & STATUS_A_UIP == 0 {
            return Some(Raw([
                read(0x00),
                read(0x02),
                read(0x04),
                read(0x07),
                read(0x08),
                read(0x09),
                read(0x32),
            ]));
        }
        core::hint::spin_loop();
    }
    None
}

/// Seconds since the epoch, or `None` without a sane clock (an absent device reads 0xff).
pub fn seconds() -> Option<u64> {
    // Two equal reads in a row: no update ran in between.
    let mut raw = read_raw()?;
    for _ in 0..8 {
        let again = read_raw()?;
        if again == raw {
            break;
        }
        raw = again;
    }
    let status_b = read(0x0b);
    let bcd = |v: u8| {
        if status_b & STATUS_B_BINARY != 0 {
            u32::from(v)
        } else {
            u32::from(v >> 4) * 10 + u32::from(v & 0x0f)
        }
    };
    let [sec, min, hour_raw, day, month, year, century] = raw.0;
    let pm = hour_raw & 0x80 != 0;
    let mut hour = bcd(hour_raw & 0x7f);
    if status_b & STATUS_B_24H == 0 {
        hour = (hour % 12) + if pm { 12 } else { 0 };
    }
    let century = match bcd(century) {
        c @ 19..=99 => c,
        _ => 20,
    };
    arch_api::calendar::unix_seconds(
        century * 100 + bcd(year),
        bcd(month),
        bcd(day),
        hour,
        bcd(min),
        bcd(sec),
    )
}
