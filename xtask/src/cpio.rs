//! A writer for the cpio "newc" format (SVR4 without checksums, magic `070701`), the format
//! Linux's initramfs unpacker reads (Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Each member is a 110-byte ASCII header (the magic, then 13 fields of 8 hex digits), the
//! NUL-terminated name, padding to a multiple of 4, the data, padding to a multiple of 4. The
//! archive ends with a member named `TRAILER!!!`. Archives are deterministic: owner root, mtime
//! 0, inode numbers counted from 1, so equal inputs give equal bytes (which is how the
//! initramfs decides whether to rewrite its file).

use anyhow::{Result, bail};

/// File-type bits of `st_mode`, as Linux defines them.
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

/// What one member of the archive is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(String),
    /// A character device with this major and minor number.
    CharDev(u32, u32),
}

/// One member: a path relative to the archive's root (no leading `/`), permission bits, kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    /// Permission bits only (e.g. `0o755`, `0o1777`); the type bits come from `kind`.
    pub perm: u32,
    pub kind: Kind,
}

impl Entry {
    pub fn dir(path: &str, perm: u32) -> Self {
        Self::new(path, perm, Kind::Dir)
    }

    pub fn file(path: &str, perm: u32, data: Vec<u8>) -> Self {
        Self::new(path, perm, Kind::File(data))
    }

    pub fn symlink(path: &str, target: &str) -> Self {
        Self::new(path, 0o777, Kind::Symlink(target.to_string()))
    }

    pub fn char_dev(path: &str, perm: u32, major: u32, minor: u32) -> Self {
        Self::new(path, perm, Kind::CharDev(major, minor))
    }

    fn new(path: &str, perm: u32, kind: Kind) -> Self {
        Entry {
            path: path.to_string(),
            perm,
            kind,
        }
    }

    fn mode(&self) -> u32 {
        let kind = match self.kind {
            Kind::Dir => S_IFDIR,
            Kind::File(_) => S_IFREG,
            Kind::Symlink(_) => S_IFLNK,
            Kind::CharDev(..) => S_IFCHR,
        };
        kind | (self.perm & 0o7777)
    }

    fn data(&self) -> &[u8] {
        match &self.kind {
            Kind::File(data) => data,
            Kind::Symlink(target) => target.as_bytes(),
            Kind::Dir | Kind::CharDev(..) => &[],
        }
    }
}

/// The name of the member that ends an archive.
const TRAILER: &str = "TRAILER!!!";

/// The archive holding `entries` in order, padded to a multiple of 512 bytes as GNU cpio does.
///
/// Fails on a name that is empty, absolute, contains `..` or NUL, or appears twice, and on a
/// member larger than the format's 32-bit size field: the kernel would misplace or reject such
/// members at boot, where the error is far harder to read.
pub fn archive(entries: &[Entry]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (index, entry) in entries.iter().enumerate() {
        check_path(&entry.path)?;
        if !seen.insert(entry.path.as_str()) {
            bail!("cpio: {} appears twice", entry.path);
        }
        let (rdev_major, rdev_minor) = match entry.kind {
            Kind::CharDev(major, minor) => (major, minor),
            _ => (0, 0),
        };
        let nlink = if entry.kind == Kind::Dir { 2 } else { 1 };
        let data = entry.data();
        let size = u32::try_from(data.len())
            .map_err(|_| anyhow::anyhow!("cpio: {} is over 4 GiB", entry.path))?;
        // Inode 0 is avoided: some readers take it for "no inode".
        let ino = u32::try_from(index + 1)?;
        let header = Header {
            ino,
            mode: entry.mode(),
            nlink,
            size,
            rdev_major,
            rdev_minor,
        };
        header.write(&mut out, &entry.path);
        out.extend_from_slice(data);
        pad(&mut out, 4);
    }
    Header {
        ino: 0,
        mode: 0,
        nlink: 1,
        size: 0,
        rdev_major: 0,
        rdev_minor: 0,
    }
    .write(&mut out, TRAILER);
    pad(&mut out, 512);
    Ok(out)
}

fn check_path(path: &str) -> Result<()> {
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\0')
        || path.split('/').any(|part| part.is_empty() || part == "..")
    {
        bail!("cpio: bad member name {path:?}");
    }
    Ok(())
}

/// The header fields this writer varies; the others are 0 (uid, gid, mtime, device, check).
struct Header {
    ino: u32,
    mode: u32,
    nlink: u32,
    size: u32,
    rdev_major: u32,
    rdev_minor: u32,
}

impl Header {
    fn write(&self, out: &mut Vec<u8>, name: &str) {
        // The name size counts the terminating NUL.
        let namesize = name.len() + 1;
        let fields = [
            self.ino,
            self.mode,
            0, // uid
            0, // gid
            self.nlink,
            0, // mtime
            self.size,
            0, // devmajor
            0, // devminor
            self.rdev_major,
            self.rdev_minor,
            namesize as u32,
            0, // check: only the `070702` variant uses it
        ];
        out.extend_from_slice(b"070701");
        for field in fields {
            out.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        pad(out, 4);
    }
}

fn pad(out: &mut Vec<u8>, align: usize) {
    out.resize(out.len().next_multiple_of(align), 0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    fn sample() -> Vec<Entry> {
        vec![
            Entry::dir("bin", 0o755),
            Entry::file("bin/hello", 0o755, b"#!/bin/sh\necho hi\n".to_vec()),
            Entry::symlink("bin/sh", "/bin/busybox"),
            Entry::dir("tmp", 0o1777),
            Entry::dir("dev", 0o755),
            Entry::char_dev("dev/console", 0o600, 5, 1),
            Entry::file("empty", 0o644, Vec::new()),
        ]
    }

    #[test]
    fn header_layout() {
        let bytes = archive(&[Entry::file("a", 0o644, b"xyz".to_vec())]).expect("archive");
        let header = std::str::from_utf8(&bytes[..110]).expect("ASCII header");
        assert_eq!(
            header,
            "070701\
             00000001000081A4000000000000000000000001\
             00000000000000030000000000000000\
             000000000000000000000002\
             00000000"
        );
        // Name "a\0" ends at 112, already aligned; data follows, then one byte of padding.
        assert_eq!(&bytes[110..116], b"a\0xyz\0");
        assert_eq!(&bytes[116..122], b"070701");
        assert_eq!(bytes.len() % 512, 0);
    }

    #[test]
    fn members_are_aligned_and_end_with_the_trailer() {
        let bytes = archive(&sample()).expect("archive");
        let mut offset = 0;
        let mut names = Vec::new();
        loop {
            assert_eq!(offset % 4, 0);
            let header = &bytes[offset..offset + 110];
            assert_eq!(&header[..6], b"070701");
            let field = |i: usize| {
                let text = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i]).expect("hex");
                usize::from_str_radix(text, 16).expect("hex")
            };
            let (size, namesize) = (field(6), field(11));
            let name = &bytes[offset + 110..offset + 110 + namesize - 1];
            names.push(String::from_utf8(name.to_vec()).expect("name"));
            offset = (offset + 110 + namesize).next_multiple_of(4);
            offset = (offset + size).next_multiple_of(4);
            if names.last().map(String::as_str) == Some(TRAILER) {
                break;
            }
        }
        assert_eq!(names.len(), sample().len() + 1);
        assert!(bytes[offset..].iter().all(|&b| b == 0));
    }

    #[test]
    fn rejects_bad_names() {
        for bad in ["", "/bin", "a/../b", "a//b", "a/", "nul\0"] {
            assert!(archive(&[Entry::dir(bad, 0o755)]).is_err(), "{bad:?}");
        }
        let twice = [Entry::dir("a", 0o755), Entry::dir("a", 0o755)];
        assert!(archive(&twice).is_err());
    }

    #[test]
    fn same_input_same_bytes() {
        assert_eq!(
            archive(&sample()).expect("archive"),
            archive(&sample()).expect("archive")
        );
    }

    /// Run GNU cpio with `args`, the archive on its stdin; its stdout.
    fn gnu_cpio(args: &[&str], bytes: &[u8]) -> String {
        let mut child = Command::new("cpio")
            .args(args)
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cpio starts");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("cpio reads");
        let out = child.wait_with_output().expect("cpio ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "cpio failed: {stderr}");
        assert!(stderr.is_empty(), "cpio warned: {stderr}");
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// GNU cpio must list exactly what was written, with the right types, modes and targets,
    /// and give back a file's bytes.
    #[test]
    fn gnu_cpio_reads_it() {
        if !crate::prereq::on_path("cpio") {
            eprintln!("skipped: `cpio` is not installed (Debian package cpio)");
            return;
        }
        let bytes = archive(&sample()).expect("archive");
        let listing = gnu_cpio(&["-itv", "--quiet"], &bytes);
        let hello = gnu_cpio(&["-i", "--quiet", "--to-stdout", "bin/hello"], &bytes);
        assert_eq!(hello, "#!/bin/sh\necho hi\n");
        // Keep the mode, the size (or device numbers) and the name: the columns are mode,
        // links, owner, group, size or `major, minor`, a three-column date, the name.
        let rows: Vec<String> = listing
            .lines()
            .map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                let (size, name_at) = if cols[0].starts_with('c') {
                    (format!("{}{}", cols[4], cols[5]), 9)
                } else {
                    (cols[4].to_string(), 8)
                };
                format!("{} {size} {}", cols[0], cols[name_at..].join(" "))
            })
            .collect();
        assert_eq!(
            rows,
            [
                "drwxr-xr-x 0 bin",
                "-rwxr-xr-x 18 bin/hello",
                "lrwxrwxrwx 12 bin/sh -> /bin/busybox",
                "drwxrwxrwt 0 tmp",
                "drwxr-xr-x 0 dev",
                "crw------- 5,1 dev/console",
                "-rw-r--r-- 0 empty",
            ],
            "{listing}"
        );
    }
}
