//! The initial user stack of a new program, as the Linux ABI lays it out:
//!
//! ```text
//! high:  strings (platform, argv, envp, execfn), 16 random bytes
//!        auxv pairs ending with AT_NULL
//!        envp pointers, NULL
//!        argv pointers, NULL
//! sp ->  argc                      (sp is 16-byte aligned)
//! ```

use alloc::vec;
use alloc::vec::Vec;
use syscall::Errno;

pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;
pub const AT_HWCAP2: u64 = 26;
pub const AT_EXECFN: u64 = 31;

/// Most bytes of arguments and environment, like Linux's default (a quarter of an 8 MiB stack
/// limit would be 2 MiB; we keep it smaller since the stack is in RAM).
pub const MAX_ARG_BYTES: usize = 256 * 1024;

/// What the caller knows about the program.
pub struct StackInput<'a> {
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    /// Aux vector entries other than AT_RANDOM, AT_PLATFORM, AT_EXECFN and AT_NULL.
    pub auxv: &'a [(u64, u64)],
    pub random: [u8; 16],
    pub platform: &'a [u8],
    pub execfn: &'a [u8],
}

/// The bytes to place so that they end at `top`, and the resulting stack pointer.
#[derive(Debug)]
pub struct StackImage {
    pub bytes: Vec<u8>,
    pub sp: u64,
}

/// Lay out the initial stack ending at `top` (exclusive).
pub fn build(top: u64, input: &StackInput) -> Result<StackImage, Errno> {
    let strings_len: usize = input
        .argv
        .iter()
        .chain(input.envp)
        .map(|s| s.len() + 1)
        .sum::<usize>()
        + input.platform.len()
        + 1
        + input.execfn.len()
        + 1;
    if strings_len > MAX_ARG_BYTES || input.argv.iter().chain(input.envp).any(|s| s.contains(&0)) {
        return Err(Errno::E2BIG);
    }
    let auxv_count = input.auxv.len() + 4; // + RANDOM, PLATFORM, EXECFN, NULL
    let words = 1 + input.argv.len() + 1 + input.envp.len() + 1 + 2 * auxv_count;
    // Strings and random bytes at the top, then the word area, 16-aligned at sp.
    let info_len = strings_len + 16;
    let info_start = top.checked_sub(info_len as u64).ok_or(Errno::E2BIG)?;
    let sp = (info_start - 8 * words as u64) & !15;
    let total = (top - sp) as usize;
    let mut bytes = vec![0u8; total];
    let at = |addr: u64| (addr - sp) as usize;

    // Strings.
    let mut cursor = info_start;
    let mut put_str = |s: &[u8], bytes: &mut [u8]| {
        let a = cursor;
        bytes[at(a)..at(a) + s.len()].copy_from_slice(s);
        cursor += s.len() as u64 + 1;
        a
    };
    let argv: Vec<u64> = input.argv.iter().map(|s| put_str(s, &mut bytes)).collect();
    let envp: Vec<u64> = input.envp.iter().map(|s| put_str(s, &mut bytes)).collect();
    let platform = put_str(input.platform, &mut bytes);
    let execfn = put_str(input.execfn, &mut bytes);
    let random = cursor;
    bytes[at(random)..at(random) + 16].copy_from_slice(&input.random);

    // Words.
    let mut w = sp;
    let mut put = |v: u64, bytes: &mut [u8]| {
        bytes[at(w)..at(w) + 8].copy_from_slice(&v.to_le_bytes());
        w += 8;
    };
    put(argv.len() as u64, &mut bytes);
    for a in argv.iter().chain([&0]) {
        put(*a, &mut bytes);
    }
    for e in envp.iter().chain([&0]) {
        put(*e, &mut bytes);
    }
    for &(k, v) in input.auxv {
        put(k, &mut bytes);
        put(v, &mut bytes);
    }
    for (k, v) in [
        (AT_RANDOM, random),
        (AT_PLATFORM, platform),
        (AT_EXECFN, execfn),
        (AT_NULL, 0),
    ] {
        put(k, &mut bytes);
        put(v, &mut bytes);
    }
    Ok(StackImage { bytes, sp })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(img: &StackImage, addr: u64) -> u64 {
        let o = (addr - img.sp) as usize;
        u64::from_le_bytes(img.bytes[o..o + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, addr: u64) -> &[u8] {
        let o = (addr - img.sp) as usize;
        let n = img.bytes[o..].iter().position(|&b| b == 0).unwrap();
        &img.bytes[o..o + n]
    }

    #[test]
    fn layout_reads_back() {
        let top = 0x7fff_f000;
        let input = StackInput {
            argv: &[b"/bin/sh", b"-c", b"echo hi"],
            envp: &[b"HOME=/", b"TERM=vt100"],
            auxv: &[(AT_PAGESZ, 4096), (AT_ENTRY, 0x40_1000)],
            random: [7; 16],
            platform: b"x86_64",
            execfn: b"/bin/sh",
        };
        let img = build(top, &input).unwrap();
        assert_eq!(img.sp % 16, 0);
        assert_eq!(img.sp + img.bytes.len() as u64, top);
        assert_eq!(word(&img, img.sp), 3);
        for (i, a) in input.argv.iter().enumerate() {
            assert_eq!(cstr(&img, word(&img, img.sp + 8 + 8 * i as u64)), *a);
        }
        assert_eq!(word(&img, img.sp + 8 * 4), 0);
        let envp = img.sp + 8 * 5;
        assert_eq!(cstr(&img, word(&img, envp)), b"HOME=/");
        assert_eq!(cstr(&img, word(&img, envp + 8)), b"TERM=vt100");
        assert_eq!(word(&img, envp + 16), 0);
        let mut aux = envp + 24;
        let mut seen = std::vec::Vec::new();
        loop {
            let (k, v) = (word(&img, aux), word(&img, aux + 8));
            if k == AT_NULL {
                break;
            }
            seen.push((k, v));
            aux += 16;
        }
        assert!(seen.contains(&(AT_PAGESZ, 4096)));
        let random = seen.iter().find(|(k, _)| *k == AT_RANDOM).unwrap().1;
        let o = (random - img.sp) as usize;
        assert_eq!(&img.bytes[o..o + 16], &[7; 16]);
        let platform = seen.iter().find(|(k, _)| *k == AT_PLATFORM).unwrap().1;
        assert_eq!(cstr(&img, platform), b"x86_64");
    }

    #[test]
    fn too_big_or_nul_is_e2big() {
        let big = std::vec![b'a'; MAX_ARG_BYTES];
        let input = StackInput {
            argv: &[&big],
            envp: &[],
            auxv: &[],
            random: [0; 16],
            platform: b"x",
            execfn: b"x",
        };
        assert_eq!(build(0x7fff_f000, &input).unwrap_err(), Errno::E2BIG);
        let input = StackInput {
            argv: &[b"a\0b"],
            envp: &[],
            auxv: &[],
            random: [0; 16],
            platform: b"x",
            execfn: b"x",
        };
        assert_eq!(build(0x7fff_f000, &input).unwrap_err(), Errno::E2BIG);
    }
}
