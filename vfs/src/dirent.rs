//! `linux_dirent64` records, as `getdents64` returns them:
//! `d_ino: u64, d_off: i64, d_reclen: u16, d_type: u8, d_name: [u8]` with a NUL, the record
//! padded to a multiple of 8 bytes. `d_off` is the cookie to resume after the record.

use crate::types::DirEntry;

/// Offset of `d_name` in the record.
pub const NAME_OFFSET: usize = 19;

/// Length of the record for a name of `name_len` bytes.
pub const fn dirent64_len(name_len: usize) -> usize {
    (NAME_OFFSET + name_len + 1 + 7) & !7
}

/// Writes the record of `entry` at the start of `buf` (little- or big-endian as the CPU, since
/// the process reads it natively). `None` if it does not fit.
pub fn encode_dirent64(buf: &mut [u8], entry: &DirEntry<'_>) -> Option<usize> {
    let len = dirent64_len(entry.name.len());
    let record = buf.get_mut(..len)?;
    record[0..8].copy_from_slice(&entry.ino.to_ne_bytes());
    record[8..16].copy_from_slice(&(entry.next as i64).to_ne_bytes());
    record[16..18].copy_from_slice(&(len as u16).to_ne_bytes());
    record[18] = entry.kind.dirent_type();
    let name_end = NAME_OFFSET + entry.name.len();
    record[NAME_OFFSET..name_end].copy_from_slice(entry.name);
    record[name_end..].fill(0);
    Some(len)
}

/// One decoded record (for tests and in-kernel users).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dirent64 {
    /// `d_ino`.
    pub ino: u64,
    /// `d_off`.
    pub off: i64,
    /// `d_type`.
    pub kind: u8,
    /// The name without its NUL.
    pub name: alloc::vec::Vec<u8>,
}

/// Decodes the records in `buf` (what `getdents64` filled). `None` on a malformed record.
pub fn decode_dirents64(mut buf: &[u8]) -> Option<alloc::vec::Vec<Dirent64>> {
    let mut out = alloc::vec::Vec::new();
    while !buf.is_empty() {
        let reclen = usize::from(u16::from_ne_bytes(buf.get(16..18)?.try_into().ok()?));
        if reclen < NAME_OFFSET + 1 || !reclen.is_multiple_of(8) {
            return None;
        }
        let record = buf.get(..reclen)?;
        let name = &record[NAME_OFFSET..];
        let nul = name.iter().position(|&b| b == 0)?;
        out.push(Dirent64 {
            ino: u64::from_ne_bytes(record[0..8].try_into().ok()?),
            off: i64::from_ne_bytes(record[8..16].try_into().ok()?),
            kind: record[18],
            name: name[..nul].to_vec(),
        });
        buf = &buf[reclen..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::FileType;

    #[test]
    fn record_layout_is_linux_dirent64() {
        let entry = DirEntry {
            ino: 0x0102_0304_0506_0708,
            kind: FileType::Symlink,
            name: b"abcde",
            next: 9,
        };
        let mut buf = [0xffu8; 32];
        // 19 + 5 + NUL = 25 → 32.
        assert_eq!(encode_dirent64(&mut buf[..31], &entry), None);
        assert_eq!(encode_dirent64(&mut buf, &entry), Some(32));
        assert_eq!(&buf[0..8], &0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(&buf[8..16], &9i64.to_ne_bytes());
        assert_eq!(&buf[16..18], &32u16.to_ne_bytes());
        assert_eq!(buf[18], 10, "DT_LNK");
        assert_eq!(&buf[19..24], b"abcde");
        assert!(buf[24..].iter().all(|&b| b == 0), "NUL and zero padding");
        assert_eq!(dirent64_len(1), 24);
        assert_eq!(dirent64_len(4), 24);
        assert_eq!(dirent64_len(5), 32);
        assert_eq!(dirent64_len(255), 280);
        let back = decode_dirents64(&buf).unwrap();
        assert_eq!(
            (back[0].name.as_slice(), back[0].off, back[0].kind),
            (&b"abcde"[..], 9, 10)
        );
        assert_eq!(decode_dirents64(&buf[..20]), None);
    }
}
