//! Calendar arithmetic for real-time clocks that count in dates (the PC's CMOS clock).

/// Seconds since 1970-01-01 00:00:00 UTC of a proleptic Gregorian UTC date and time;
/// `None` for a field out of range or a date before the epoch.
pub fn unix_seconds(year: u32, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> Option<u64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    // Days from the epoch by the civil-from-days inverse: years start in March, so the leap
    // day is the last day of the year and needs no special case.
    let (y, m) = if month <= 2 {
        (i64::from(year) - 1, month + 9)
    } else {
        (i64::from(year), month - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * i64::from(m) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec);
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::unix_seconds;

    #[test]
    fn known_dates() {
        assert_eq!(unix_seconds(1970, 1, 1, 0, 0, 0), Some(0));
        assert_eq!(unix_seconds(2000, 3, 1, 0, 0, 0), Some(951_868_800));
        assert_eq!(unix_seconds(2024, 2, 29, 12, 34, 56), Some(1_709_210_096));
        assert_eq!(unix_seconds(2026, 11, 25, 23, 59, 59), Some(1_795_651_199));
        assert_eq!(unix_seconds(1969, 12, 31, 23, 59, 59), None);
        assert_eq!(unix_seconds(2026, 13, 1, 0, 0, 0), None);
        assert_eq!(unix_seconds(2026, 1, 1, 24, 0, 0), None);
    }
}
