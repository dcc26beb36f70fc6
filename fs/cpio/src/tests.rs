//! Host tests: archives from the real `cpio` tool, hand-made corrupt archives, and random input.

use super::*;
use std::format;
use std::string::String;
use std::vec::Vec;

/// Builds one entry by hand: fields in archive order except `namesize` and `filesize`, which
/// are computed unless given.
struct Raw<'n> {
    magic: &'n [u8; 6],
    mode: u32,
    name: &'n [u8],
    data: &'n [u8],
    namesize: Option<u32>,
    filesize: Option<u32>,
    check: u32,
}

impl<'n> Raw<'n> {
    fn file(name: &'n [u8], data: &'n [u8]) -> Raw<'n> {
        Raw {
            magic: MAGIC_NEWC,
            mode: 0o100_644,
            name,
            data,
            namesize: None,
            filesize: None,
            check: 0,
        }
    }

    fn push(&self, out: &mut Vec<u8>) {
        let namesize = self.namesize.unwrap_or(self.name.len() as u32 + 1);
        let filesize = self.filesize.unwrap_or(self.data.len() as u32);
        out.extend_from_slice(self.magic);
        let fields = [
            7,
            self.mode,
            1000,
            100,
            1,
            0x6000_0000,
            filesize,
            8,
            1,
            0,
            0,
            namesize,
            self.check,
        ];
        for f in fields {
            out.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        out.extend_from_slice(self.name);
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(self.data);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
}

fn trailer(out: &mut Vec<u8>) {
    Raw {
        mode: 0,
        ..Raw::file(TRAILER, b"")
    }
    .push(out);
}

/// A small archive: a directory, a file, an empty file, a symlink, then the trailer.
fn small_archive() -> Vec<u8> {
    let mut a = Vec::new();
    Raw {
        mode: 0o040_755,
        ..Raw::file(b"dir", b"")
    }
    .push(&mut a);
    Raw::file(b"dir/hello", b"hello, world\n").push(&mut a);
    Raw::file(b"empty", b"").push(&mut a);
    Raw {
        mode: 0o120_777,
        ..Raw::file(b"link", b"dir/hello")
    }
    .push(&mut a);
    trailer(&mut a);
    a
}

fn collect(archive: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
    Reader::new(archive).collect()
}

fn first_error(archive: &[u8]) -> Error {
    match collect(archive) {
        Err(e) => e,
        Ok(entries) => panic!("no error; {} entries", entries.len()),
    }
}

#[test]
fn parses_a_hand_made_archive() {
    let a = small_archive();
    let mut reader = Reader::new(&a);
    let entries: Vec<Entry<'_>> = reader.by_ref().map(|e| e.unwrap()).collect();
    let names: Vec<&[u8]> = entries.iter().map(|e| e.name).collect();
    assert_eq!(names, [&b"dir"[..], b"dir/hello", b"empty", b"link"]);
    assert_eq!(entries[0].file_type(), FileType::Directory);
    assert_eq!(entries[1].data, b"hello, world\n");
    assert_eq!(entries[1].permissions(), 0o644);
    assert_eq!(entries[1].uid, 1000);
    assert_eq!(entries[1].gid, 100);
    assert_eq!(entries[1].mtime, 0x6000_0000);
    assert_eq!((entries[1].dev_major, entries[1].dev_minor), (8, 1));
    assert_eq!(entries[2].data, b"");
    assert_eq!(entries[3].file_type(), FileType::Symlink);
    assert_eq!(entries[3].data, b"dir/hello");
    assert_eq!(entries[0].offset, 0);
    assert!(entries.iter().all(|e| e.offset % 4 == 0));
    assert_eq!(reader.rest(), Some(&[][..]));
    assert_eq!(reader.next(), None);
}

#[test]
fn lower_case_hex_is_accepted() {
    let mut a = Vec::new();
    Raw::file(b"f", b"abc").push(&mut a);
    trailer(&mut a);
    a[6 + 8..6 + 16].copy_from_slice(b"000081a4");
    let entries = collect(&a).unwrap();
    assert_eq!(entries[0].mode, 0o100_644);
}

#[test]
fn every_truncation_is_an_error() {
    let a = small_archive();
    for len in 0..a.len() {
        let err = first_error(&a[..len]);
        assert!(err.offset <= len, "{len}: {err}");
    }
    let shown = std::format!("{}", first_error(&a[..50]));
    assert_eq!(shown, "cpio: truncated header at offset 0");
    assert_eq!(
        first_error(&a[..0]),
        Error {
            offset: 0,
            kind: ErrorKind::MissingTrailer
        }
    );
    assert_eq!(first_error(&a[..50]).kind, ErrorKind::TruncatedHeader);
    assert_eq!(
        first_error(&a[..HEADER_LEN + 2]).kind,
        ErrorKind::TruncatedName
    );
    // dir (116 bytes) then dir/hello's header and name: cut inside its data.
    assert_eq!(
        first_error(&a[..116 + 120 + 5]).kind,
        ErrorKind::TruncatedData
    );
    // Cut exactly between entries: no trailer.
    assert_eq!(
        first_error(&a[..116]),
        Error {
            offset: 116,
            kind: ErrorKind::MissingTrailer
        }
    );
}

#[test]
fn corrupt_headers_are_typed_errors() {
    let good = small_archive();

    let mut bad = good.clone();
    bad[5] = b'7';
    assert_eq!(first_error(&bad).kind, ErrorKind::BadMagic);
    let mut old = good.clone();
    old[..6].copy_from_slice(b"070707");
    assert_eq!(first_error(&old).kind, ErrorKind::BadMagic);

    for (i, field) in FIELDS.iter().enumerate() {
        for junk in [b'g', b' ', b'x', b'-', 0, 0xff] {
            let mut bad = good.clone();
            bad[6 + 8 * i + 3] = junk;
            assert_eq!(first_error(&bad).kind, ErrorKind::BadHex(*field), "{i}");
        }
    }

    // The second entry's name is "dir/hello"; overwrite its NUL.
    let mut bad = good.clone();
    bad[116 + HEADER_LEN + 9] = b'!';
    assert_eq!(first_error(&bad).kind, ErrorKind::NameNotTerminated);
    let mut bad = good.clone();
    bad[116 + HEADER_LEN + 3] = 0;
    assert_eq!(
        first_error(&bad),
        Error {
            offset: 116,
            kind: ErrorKind::NameHasNul
        }
    );
}

#[test]
fn bad_sizes_are_typed_errors() {
    let mut a = Vec::new();
    Raw {
        namesize: Some(0),
        ..Raw::file(b"", b"")
    }
    .push(&mut a);
    assert_eq!(first_error(&a).kind, ErrorKind::NameNotTerminated);

    let mut a = Vec::new();
    Raw::file(b"", b"").push(&mut a);
    trailer(&mut a);
    assert_eq!(first_error(&a).kind, ErrorKind::EmptyName);

    let mut a = Vec::new();
    Raw {
        namesize: Some(u32::MAX),
        ..Raw::file(b"f", b"")
    }
    .push(&mut a);
    assert_eq!(first_error(&a).kind, ErrorKind::TruncatedName);

    let mut a = Vec::new();
    Raw {
        filesize: Some(u32::MAX),
        ..Raw::file(b"f", b"data")
    }
    .push(&mut a);
    trailer(&mut a);
    assert_eq!(first_error(&a).kind, ErrorKind::TruncatedData);

    assert_eq!(align4(usize::MAX), None);
    assert_eq!(align4(usize::MAX - 3), Some(usize::MAX - 3));
    assert_eq!(align4(5), Some(8));
}

#[test]
fn crc_format_checks_regular_file_data() {
    let data = b"checksummed data";
    let sum: u32 = data.iter().map(|&b| u32::from(b)).sum();
    let mut a = Vec::new();
    Raw {
        magic: MAGIC_CRC,
        check: sum,
        ..Raw::file(b"f", data)
    }
    .push(&mut a);
    Raw {
        magic: MAGIC_CRC,
        mode: 0o120_777,
        ..Raw::file(b"l", b"f")
    }
    .push(&mut a);
    trailer(&mut a);
    let entries = collect(&a).unwrap();
    assert_eq!(entries[0].format, Format::Crc);
    assert_eq!(entries[0].check, sum);

    let mut bad = Vec::new();
    Raw {
        magic: MAGIC_CRC,
        check: sum + 1,
        ..Raw::file(b"f", data)
    }
    .push(&mut bad);
    trailer(&mut bad);
    assert_eq!(
        first_error(&bad).kind,
        ErrorKind::ChecksumMismatch {
            expected: sum + 1,
            actual: sum
        }
    );
}

#[test]
fn concatenated_archives() {
    let mut a = small_archive();
    a.extend_from_slice(&[0; 8]);
    let mut second = Vec::new();
    Raw::file(b"late", b"x").push(&mut second);
    trailer(&mut second);
    a.extend_from_slice(&second);

    let mut reader = Reader::new(&a);
    assert_eq!(reader.by_ref().count(), 4);
    let rest = skip_padding(reader.rest().unwrap());
    let late = collect(rest).unwrap();
    assert_eq!(late[0].name, b"late");
    assert_eq!(skip_padding(&[0; 12]), &[] as &[u8]);
}

/// A tiny xorshift64 generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Runs the reader to its end; it must stop after at most one item per 112 bytes (+ 1).
fn drain(archive: &[u8]) {
    let mut items = 0;
    for item in Reader::new(archive) {
        items += 1;
        if let Ok(e) = item {
            assert!(e.offset + HEADER_LEN + e.name.len() + e.data.len() < archive.len());
        }
    }
    assert!(items <= archive.len() / 112 + 1);
}

#[test]
fn random_input_never_panics() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let good = small_archive();
    for _ in 0..20_000 {
        // Mutations of a valid archive reach deep into the parser...
        let mut a = good.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(a.len());
            a[i] = match rng.below(4) {
                0 => rng.next() as u8,
                1 => b"0123456789abcdefF"[rng.below(17)],
                2 => 0,
                _ => b'f',
            };
        }
        let cut = rng.below(a.len() + 1);
        drain(&a[..cut]);
        drain(&a);
        // ...and plain noise, with or without a valid magic.
        let len = rng.below(400);
        let mut noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        drain(&noise);
        if noise.len() >= 6 {
            noise[..6].copy_from_slice(MAGIC_NEWC);
            drain(&noise);
        }
    }
}

/// Major and minor of a Linux `dev_t` (glibc's encoding).
fn major_minor(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Archives a directory tree with the real `cpio` tool in `format` and checks every entry
/// against the file system.
fn check_real_cpio(format: &str, magic: Format) {
    use std::os::unix::fs::{MetadataExt, symlink};
    use std::process::{Command, Stdio};

    if Command::new("cpio")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        std::println!("skipped: no `cpio` tool (apt-get install cpio)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("levitate-cpio-{}-{format}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    std::fs::write(dir.join("sub/hello.txt"), b"hello from cpio\n").unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("five"), b"12345").unwrap();
    let big: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
    std::fs::write(dir.join("sub/big.bin"), &big).unwrap();
    symlink("sub/hello.txt", dir.join("link")).unwrap();

    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "find . | LC_ALL=C sort | cpio -o -H {format} --quiet"
        ))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let archive = out.stdout;
    assert_eq!(archive.len() % 512, 0, "cpio pads to 512-byte blocks");

    let mut reader = Reader::new(&archive);
    let mut names = Vec::new();
    for entry in reader.by_ref() {
        let entry = entry.unwrap();
        assert_eq!(entry.format, magic);
        let name = std::str::from_utf8(entry.name).unwrap();
        let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert_eq!(entry.mode, meta.mode(), "{name}");
        assert_eq!(entry.uid, meta.uid(), "{name}");
        assert_eq!(entry.gid, meta.gid(), "{name}");
        assert_eq!(entry.mtime as i64, meta.mtime(), "{name}");
        assert_eq!(entry.nlink as u64, meta.nlink(), "{name}");
        assert_eq!((entry.dev_major, entry.dev_minor), major_minor(meta.dev()));
        match entry.file_type() {
            FileType::Regular => {
                assert_eq!(entry.data, std::fs::read(dir.join(name)).unwrap(), "{name}")
            }
            FileType::Symlink => assert_eq!(entry.data, b"sub/hello.txt"),
            FileType::Directory => assert!(entry.data.is_empty()),
            other => panic!("{name}: {other:?}"),
        }
        names.push(String::from(name));
    }
    let rest = reader.rest().expect("trailer reached");
    assert!(rest.iter().all(|&b| b == 0), "block padding is zeros");
    // GNU cpio drops the leading "./" that find prints.
    assert_eq!(
        names,
        [
            ".",
            "empty",
            "five",
            "link",
            "sub",
            "sub/big.bin",
            "sub/deeper",
            "sub/hello.txt"
        ]
    );

    // Every cut before the end of the trailer is an error, never a panic.
    let end = archive.len() - rest.len();
    for len in 0..end {
        assert!(collect(&archive[..len]).is_err(), "{len}");
    }
    // Cuts inside the block padding still read the whole archive.
    assert_eq!(collect(&archive[..end]).unwrap().len(), names.len());

    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn real_cpio_newc() {
    check_real_cpio("newc", Format::Newc);
}

#[test]
fn real_cpio_crc() {
    check_real_cpio("crc", Format::Crc);
}
