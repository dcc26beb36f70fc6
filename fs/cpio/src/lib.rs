//! A zero-copy parser of cpio "newc" (`070701`) and "crc" (`070702`) archives, the format of
//! Linux's initramfs (`Documentation/driver-api/early-userspace/buffer-format.rst`).
//!
//! Each entry is a 110-byte ASCII header (the magic, then 13 fields of 8 hex digits), the name
//! with its NUL (`namesize` counts the NUL), zero padding to a multiple of 4 bytes, then
//! `filesize` bytes of data (a symlink's data is its target) and zero padding to a multiple of 4.
//! The entry named `TRAILER!!!` ends the archive. In "crc" archives the `check` field holds the
//! 32-bit sum of a regular file's data bytes.
//!
//! Hard links: the archive repeats the entry for each name with the same `ino` and carries the
//! data in one of them only (the last, with GNU cpio); the others have `filesize` 0. Linking them
//! up is the unpacker's job, as in Linux's `init/initramfs.c`.
//!
//! Hostile input never panics: every inconsistency is an [`Error`] naming its offset.

#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

use core::fmt;

/// Length of an entry header.
pub const HEADER_LEN: usize = 110;
/// Magic of the "newc" format.
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of the "crc" format (newc with a data checksum).
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Name of the entry that ends an archive.
pub const TRAILER: &[u8] = b"TRAILER!!!";

/// Mask of the file type bits of `mode`.
pub const S_IFMT: u32 = 0o170_000;

/// Which of the two formats an entry is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `070701`.
    Newc,
    /// `070702`: `check` is the sum of the data bytes.
    Crc,
}

/// The file type bits of `mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// `S_IFREG`.
    Regular,
    /// `S_IFDIR`.
    Directory,
    /// `S_IFLNK`: the data is the target.
    Symlink,
    /// `S_IFCHR`: see `rdev_major`/`rdev_minor`.
    CharDevice,
    /// `S_IFBLK`: see `rdev_major`/`rdev_minor`.
    BlockDevice,
    /// `S_IFIFO`.
    Fifo,
    /// `S_IFSOCK`.
    Socket,
    /// Any other value of the type bits.
    Unknown(u32),
}

impl FileType {
    /// The type encoded in `mode`.
    pub const fn from_mode(mode: u32) -> FileType {
        match mode & S_IFMT {
            0o100_000 => FileType::Regular,
            0o040_000 => FileType::Directory,
            0o120_000 => FileType::Symlink,
            0o020_000 => FileType::CharDevice,
            0o060_000 => FileType::BlockDevice,
            0o010_000 => FileType::Fifo,
            0o140_000 => FileType::Socket,
            other => FileType::Unknown(other),
        }
    }
}

/// One archive member, borrowing its name and data from the archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Offset of the entry's header in the archive.
    pub offset: usize,
    /// Which magic the header had.
    pub format: Format,
    /// Inode number (shared by hard links).
    pub ino: u32,
    /// Type and permission bits, as `st_mode`.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Link count.
    pub nlink: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: u32,
    /// Major number of the device that held the file.
    pub dev_major: u32,
    /// Minor number of the device that held the file.
    pub dev_minor: u32,
    /// Major number of a device special file.
    pub rdev_major: u32,
    /// Minor number of a device special file.
    pub rdev_minor: u32,
    /// The `check` field (the data checksum in the crc format, else normally 0).
    pub check: u32,
    /// The name, without its terminating NUL.
    pub name: &'a [u8],
    /// The data (`filesize` bytes).
    pub data: &'a [u8],
}

impl Entry<'_> {
    /// The file type from `mode`.
    pub const fn file_type(&self) -> FileType {
        FileType::from_mode(self.mode)
    }

    /// The permission bits of `mode` (with set-uid, set-gid and sticky).
    pub const fn permissions(&self) -> u32 {
        self.mode & 0o7777
    }
}

/// A header field, to say which one was not hexadecimal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// `c_ino`.
    Ino,
    /// `c_mode`.
    Mode,
    /// `c_uid`.
    Uid,
    /// `c_gid`.
    Gid,
    /// `c_nlink`.
    Nlink,
    /// `c_mtime`.
    Mtime,
    /// `c_filesize`.
    FileSize,
    /// `c_devmajor`.
    DevMajor,
    /// `c_devminor`.
    DevMinor,
    /// `c_rdevmajor`.
    RdevMajor,
    /// `c_rdevminor`.
    RdevMinor,
    /// `c_namesize`.
    NameSize,
    /// `c_check`.
    Check,
}

/// The header fields in archive order.
const FIELDS: [Field; 13] = [
    Field::Ino,
    Field::Mode,
    Field::Uid,
    Field::Gid,
    Field::Nlink,
    Field::Mtime,
    Field::FileSize,
    Field::DevMajor,
    Field::DevMinor,
    Field::RdevMajor,
    Field::RdevMinor,
    Field::NameSize,
    Field::Check,
];

/// What is wrong with an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The header does not start with `070701` or `070702`.
    BadMagic,
    /// A header field holds something other than 8 hex digits.
    BadHex(Field),
    /// The archive ends inside a header.
    TruncatedHeader,
    /// The archive ends inside the name or its padding.
    TruncatedName,
    /// The archive ends inside the data or its padding.
    TruncatedData,
    /// `namesize` is 0, or the name's last byte is not NUL.
    NameNotTerminated,
    /// The name holds a NUL before its end.
    NameHasNul,
    /// The name is empty (just the NUL).
    EmptyName,
    /// An offset computed from `namesize` or `filesize` does not fit in `usize`.
    SizeOverflow,
    /// A crc-format regular file whose data does not sum to `check`.
    ChecksumMismatch {
        /// The header's `check`.
        expected: u32,
        /// The sum of the data bytes.
        actual: u32,
    },
    /// The archive ends between entries without a `TRAILER!!!` entry.
    MissingTrailer,
}

/// An error with the offset of the header of the entry it was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// Offset of the entry's header (or of where it should have been).
    pub offset: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpio: ")?;
        match self.kind {
            ErrorKind::BadMagic => write!(f, "bad magic")?,
            ErrorKind::BadHex(field) => write!(f, "field {field:?} is not 8 hex digits")?,
            ErrorKind::TruncatedHeader => write!(f, "truncated header")?,
            ErrorKind::TruncatedName => write!(f, "truncated name")?,
            ErrorKind::TruncatedData => write!(f, "truncated data")?,
            ErrorKind::NameNotTerminated => write!(f, "name not NUL-terminated")?,
            ErrorKind::NameHasNul => write!(f, "NUL inside name")?,
            ErrorKind::EmptyName => write!(f, "empty name")?,
            ErrorKind::SizeOverflow => write!(f, "size overflows")?,
            ErrorKind::ChecksumMismatch { expected, actual } => {
                write!(f, "checksum {actual:#x}, header says {expected:#x}")?
            }
            ErrorKind::MissingTrailer => write!(f, "no TRAILER!!! entry")?,
        }
        write!(f, " at offset {}", self.offset)
    }
}

impl core::error::Error for Error {}

/// Rounds `n` up to a multiple of 4, or `None` on overflow.
const fn align4(n: usize) -> Option<usize> {
    match n.checked_add(3) {
        Some(m) => Some(m & !3),
        None => None,
    }
}

/// Parses 8 ASCII hex digits (either case).
fn parse_hex(digits: &[u8]) -> Option<u32> {
    if digits.len() != 8 {
        return None;
    }
    digits.iter().try_fold(0u32, |acc, &b| {
        let digit = (b as char).to_digit(16)?;
        Some((acc << 4) | digit)
    })
}

/// Iterator over the entries of one archive, ending at `TRAILER!!!` (which it does not yield)
/// or at the first error (which it yields).
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    archive: &'a [u8],
    offset: usize,
    /// Past the trailer or an error: yield nothing more.
    done: bool,
    /// Offset just past the trailer entry (and its padding), once seen.
    end: Option<usize>,
}

impl<'a> Reader<'a> {
    /// Reads the archive starting at `archive[0]`.
    pub const fn new(archive: &'a [u8]) -> Reader<'a> {
        Reader {
            archive,
            offset: 0,
            done: false,
            end: None,
        }
    }

    /// The bytes after the trailer, once the iterator has reached it: the block padding, or
    /// further archives (Linux's initramfs may be several archives concatenated, with NUL
    /// padding between them).
    pub fn rest(&self) -> Option<&'a [u8]> {
        self.end.map(|end| self.archive.get(end..).unwrap_or(&[]))
    }

    fn fail(&mut self, offset: usize, kind: ErrorKind) -> Option<Result<Entry<'a>, Error>> {
        self.done = true;
        Some(Err(Error { offset, kind }))
    }

    /// Parses the entry at `self.offset`: `Ok(None)` for the trailer.
    fn parse(&self) -> Result<(Option<Entry<'a>>, usize), ErrorKind> {
        let at = self.offset;
        let archive = self.archive;
        if at == archive.len() {
            return Err(ErrorKind::MissingTrailer);
        }
        let header = archive
            .get(at..)
            .and_then(|rest| rest.get(..HEADER_LEN))
            .ok_or(ErrorKind::TruncatedHeader)?;
        let format = match &header[..6] {
            m if m == MAGIC_NEWC => Format::Newc,
            m if m == MAGIC_CRC => Format::Crc,
            _ => return Err(ErrorKind::BadMagic),
        };
        let mut values = [0u32; 13];
        for (i, (value, field)) in values.iter_mut().zip(FIELDS).enumerate() {
            let digits = &header[6 + 8 * i..6 + 8 * (i + 1)];
            *value = parse_hex(digits).ok_or(ErrorKind::BadHex(field))?;
        }
        let [
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            filesize,
            dev_major,
            dev_minor,
            rdev_major,
            rdev_minor,
            namesize,
            check,
        ] = values;

        let name_start = at + HEADER_LEN;
        let name_end = usize::try_from(namesize)
            .ok()
            .and_then(|n| name_start.checked_add(n))
            .ok_or(ErrorKind::SizeOverflow)?;
        let data_start = align4(name_end).ok_or(ErrorKind::SizeOverflow)?;
        if data_start > archive.len() {
            return Err(ErrorKind::TruncatedName);
        }
        let name = match &archive[name_start..name_end] {
            [name @ .., 0] => name,
            _ => return Err(ErrorKind::NameNotTerminated),
        };
        if name.contains(&0) {
            return Err(ErrorKind::NameHasNul);
        }
        if name.is_empty() {
            return Err(ErrorKind::EmptyName);
        }

        let data_end = usize::try_from(filesize)
            .ok()
            .and_then(|n| data_start.checked_add(n))
            .ok_or(ErrorKind::SizeOverflow)?;
        let next = align4(data_end).ok_or(ErrorKind::SizeOverflow)?;
        if next > archive.len() {
            return Err(ErrorKind::TruncatedData);
        }
        let data = &archive[data_start..data_end];

        if name == TRAILER {
            return Ok((None, next));
        }
        if format == Format::Crc && FileType::from_mode(mode) == FileType::Regular {
            let actual = data
                .iter()
                .fold(0u32, |sum, &b| sum.wrapping_add(u32::from(b)));
            if actual != check {
                return Err(ErrorKind::ChecksumMismatch {
                    expected: check,
                    actual,
                });
            }
        }
        let entry = Entry {
            offset: at,
            format,
            ino,
            mode,
            uid,
            gid,
            nlink,
            mtime,
            dev_major,
            dev_minor,
            rdev_major,
            rdev_minor,
            check,
            name,
            data,
        };
        Ok((Some(entry), next))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.parse() {
            Ok((Some(entry), next)) => {
                self.offset = next;
                Some(Ok(entry))
            }
            Ok((None, next)) => {
                self.done = true;
                self.end = Some(next);
                None
            }
            Err(kind) => self.fail(self.offset, kind),
        }
    }
}

impl core::iter::FusedIterator for Reader<'_> {}

/// Skips the NUL padding that may separate concatenated archives (Linux's initramfs allows it
/// between archives, in multiples of 4 bytes); returns the rest, empty if only padding was left.
pub fn skip_padding(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(zeros & !3..).unwrap_or(&[])
}

#[cfg(test)]
mod tests;
