//! tmpfs mount options (Linux's `shmem_parse_one`/`shmem_show_options`): `size=` (bytes with
//! a `k`/`m`/`g`/`t`/`p`/`e` suffix, or `N%` of RAM), `nr_blocks=`, `nr_inodes=`, `mode=`
//! (octal), `uid=`, `gid=`; `huge=`, `mpol=`, `inode32`, `inode64`, `noswap` are accepted and
//! have no effect. Anything else is `EINVAL`, as on Linux.

use alloc::vec::Vec;
use syscall::{Errno, Result};

const PAGE_SIZE: u64 = 4096;

/// Parsed tmpfs options; `None` fields keep the default (or, on remount, the old value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Data pages allowed (`size=`/`nr_blocks=`; 0 = unlimited).
    pub max_pages: Option<u64>,
    /// Inodes allowed (`nr_inodes=`; 0 = unlimited).
    pub max_inodes: Option<u64>,
    /// Root directory permission bits.
    pub mode: Option<u32>,
    /// Root directory owner.
    pub uid: Option<u32>,
    /// Root directory group.
    pub gid: Option<u32>,
}

/// `simple_strtoull(s, 0)` + `memparse`'s suffixes: the value and what follows it.
fn memparse(s: &[u8]) -> Result<(u64, &[u8])> {
    let (radix, digits) = if let Some(rest) = s.strip_prefix(b"0x").or(s.strip_prefix(b"0X")) {
        (16, rest)
    } else if s.len() > 1 && s[0] == b'0' {
        (8, &s[1..])
    } else {
        (10, s)
    };
    let end = digits
        .iter()
        .position(|&c| !(c as char).is_digit(radix))
        .unwrap_or(digits.len());
    if end == 0 && radix != 8 {
        return Err(Errno::EINVAL);
    }
    let mut value: u64 = 0;
    for &c in &digits[..end] {
        let d = (c as char).to_digit(radix).ok_or(Errno::EINVAL)?;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(Errno::EINVAL)?;
    }
    let rest = &digits[end..];
    let shift = match rest.first() {
        Some(b'k' | b'K') => 10,
        Some(b'm' | b'M') => 20,
        Some(b'g' | b'G') => 30,
        Some(b't' | b'T') => 40,
        Some(b'p' | b'P') => 50,
        Some(b'e' | b'E') => 60,
        _ => 0,
    };
    if shift == 0 {
        return Ok((value, rest));
    }
    let value = value.checked_mul(1 << shift).ok_or(Errno::EINVAL)?;
    Ok((value, &rest[1..]))
}

fn decimal(s: &[u8]) -> Result<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(Errno::EINVAL);
    }
    core::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or(Errno::EINVAL)
}

/// Parses `data` (a comma-separated option string) for a machine with `total_pages` pages of
/// RAM (for `size=N%`).
pub fn parse(data: &[u8], total_pages: u64) -> Result<Options> {
    let mut o = Options::default();
    for (key, value) in vfs::mount::options(data) {
        match (key, value) {
            (b"size", Some(v)) => {
                let (bytes, rest) = memparse(v)?;
                let bytes = match rest {
                    b"" => bytes,
                    b"%" => {
                        bytes
                            .checked_mul(PAGE_SIZE)
                            .and_then(|b| b.checked_mul(total_pages))
                            .ok_or(Errno::EINVAL)?
                            / 100
                    }
                    _ => return Err(Errno::EINVAL),
                };
                o.max_pages = Some(bytes.div_ceil(PAGE_SIZE));
            }
            (b"nr_blocks", Some(v)) => match memparse(v)? {
                (n, b"") => o.max_pages = Some(n),
                _ => return Err(Errno::EINVAL),
            },
            (b"nr_inodes", Some(v)) => match memparse(v)? {
                (n, b"") => o.max_inodes = Some(n),
                _ => return Err(Errno::EINVAL),
            },
            (b"mode", Some(v)) => {
                let text = core::str::from_utf8(v).map_err(|_| Errno::EINVAL)?;
                let mode = u32::from_str_radix(text, 8).map_err(|_| Errno::EINVAL)?;
                o.mode = Some(mode & 0o7777);
            }
            (b"uid", Some(v)) => o.uid = Some(decimal(v)?),
            (b"gid", Some(v)) => o.gid = Some(decimal(v)?),
            (b"huge", Some(b"never" | b"always" | b"within_size" | b"advise")) => {}
            (b"mpol", Some(_)) => {}
            (b"inode32" | b"inode64" | b"noswap", None) => {}
            _ => return Err(Errno::EINVAL),
        }
    }
    Ok(o)
}

/// The default size and inode limits of a tmpfs on a machine with `total_pages` pages (half
/// of RAM each, as Linux).
pub fn defaults(total_pages: u64) -> (u64, u64) {
    (total_pages / 2, total_pages / 2)
}

/// The `/proc/mounts` options of a tmpfs with these limits and root owner/mode, as Linux's
/// `shmem_show_options` prints them: only what differs from the defaults.
pub fn show(
    total_pages: u64,
    max_pages: u64,
    max_inodes: u64,
    mode: u32,
    uid: u32,
    gid: u32,
) -> Vec<u8> {
    let (def_pages, def_inodes) = defaults(total_pages);
    let mut out = alloc::string::String::new();
    let mut push = |s: alloc::string::String| {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&s);
    };
    if max_pages != def_pages {
        push(alloc::format!("size={}k", max_pages * (PAGE_SIZE / 1024)));
    }
    if max_inodes != def_inodes {
        push(alloc::format!("nr_inodes={max_inodes}"));
    }
    if mode & 0o7777 != 0o1777 {
        push(alloc::format!("mode={:03o}", mode & 0o7777));
    }
    if uid != 0 {
        push(alloc::format!("uid={uid}"));
    }
    if gid != 0 {
        push(alloc::format!("gid={gid}"));
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_linux_options() {
        let o = parse(b"size=1m,mode=755,uid=1000,gid=100,nr_inodes=10k", 1000).unwrap();
        assert_eq!(o.max_pages, Some(256));
        assert_eq!(o.max_inodes, Some(10240));
        assert_eq!(o.mode, Some(0o755));
        assert_eq!((o.uid, o.gid), (Some(1000), Some(100)));
        assert_eq!(parse(b"size=50%", 1000).unwrap().max_pages, Some(500));
        assert_eq!(parse(b"size=4097", 1000).unwrap().max_pages, Some(2));
        assert_eq!(parse(b"size=0x2000", 1000).unwrap().max_pages, Some(2));
        assert_eq!(parse(b"rw,nosuid", 1000), Err(Errno::EINVAL));
        assert_eq!(
            parse(b"ro,,size=1k,inode64,huge=never", 1000)
                .unwrap()
                .max_pages,
            Some(1)
        );
        for bad in [
            &b"size"[..],
            b"size=",
            b"size=1q",
            b"size=k",
            b"mode=9",
            b"uid=-1",
            b"uid=x",
            b"bogus",
            b"huge=maybe",
            b"size=99999999999999999999",
            b"size=16e",
        ] {
            assert_eq!(
                parse(bad, 1000),
                Err(Errno::EINVAL),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
        assert_eq!(parse(b"", 1000), Ok(Options::default()));
    }

    #[test]
    fn shows_what_differs() {
        assert_eq!(show(1000, 500, 500, 0o1777, 0, 0), b"");
        assert_eq!(
            show(1000, 256, 500, 0o755, 1, 2),
            b"size=1024k,mode=755,uid=1,gid=2"
        );
    }
}
