//! The asm-generic `struct termios`: its flag bits, `c_cc` indices, and its user-visible
//! encoding.

/// Size of `c_cc` in the asm-generic `struct termios`.
pub const NCCS: usize = 19;
/// `c_cc` indices.
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VERASE: usize = 2;
pub const VKILL: usize = 3;
pub const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
pub const VSTART: usize = 8;
pub const VSTOP: usize = 9;
pub const VSUSP: usize = 10;
pub const VEOL: usize = 11;
pub const VREPRINT: usize = 12;
pub const VWERASE: usize = 14;
pub const VLNEXT: usize = 15;
pub const VEOL2: usize = 16;

/// `c_iflag` bits.
pub const IGNBRK: u32 = 0o1;
pub const ISTRIP: u32 = 0o40;
pub const INLCR: u32 = 0o100;
pub const IGNCR: u32 = 0o200;
pub const ICRNL: u32 = 0o400;
pub const IXON: u32 = 0o2000;
pub const IUTF8: u32 = 0o40000;
/// `c_oflag` bits.
pub const OPOST: u32 = 0o1;
pub const OLCUC: u32 = 0o2;
pub const ONLCR: u32 = 0o4;
pub const OCRNL: u32 = 0o10;
/// `c_cflag` of the default: B38400 | CS8 | CREAD | HUPCL (`tty_std_termios`).
pub const CFLAG_DEFAULT: u32 = 0o17 | 0o60 | 0o200 | 0o2000;
/// `c_lflag` bits.
pub const ISIG: u32 = 0o1;
pub const ICANON: u32 = 0o2;
pub const ECHO: u32 = 0o10;
pub const ECHOE: u32 = 0o20;
pub const ECHOK: u32 = 0o40;
pub const ECHONL: u32 = 0o100;
pub const NOFLSH: u32 = 0o200;
pub const ECHOCTL: u32 = 0o1000;
pub const ECHOKE: u32 = 0o4000;
/// Background writers get SIGTTOU.
pub const TOSTOP: u32 = 0o400;
pub const IEXTEN: u32 = 0o100000;

/// The asm-generic `struct termios` (36 bytes, little-endian fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
}

impl Termios {
    /// Bytes in the user-visible structure.
    pub const SIZE: usize = 36;

    /// What Linux gives a serial console: `ICRNL|IXON`, `OPOST|ONLCR`, `ISIG|ICANON|ECHO|
    /// ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN`, ^C ^\ ^? ^U ^D, VMIN 1, ^Q ^S ^Z ^R ^O ^W ^V.
    pub const fn linux_default() -> Termios {
        Termios {
            iflag: ICRNL | IXON,
            oflag: OPOST | ONLCR,
            cflag: CFLAG_DEFAULT,
            lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
            line: 0,
            cc: [
                3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
            ],
        }
    }

    /// The user-visible encoding.
    pub fn to_bytes(&self) -> [u8; Termios::SIZE] {
        let mut b = [0u8; Termios::SIZE];
        b[0..4].copy_from_slice(&self.iflag.to_le_bytes());
        b[4..8].copy_from_slice(&self.oflag.to_le_bytes());
        b[8..12].copy_from_slice(&self.cflag.to_le_bytes());
        b[12..16].copy_from_slice(&self.lflag.to_le_bytes());
        b[16] = self.line;
        b[17..].copy_from_slice(&self.cc);
        b
    }

    /// Decodes the user-visible encoding.
    pub fn from_bytes(b: &[u8; Termios::SIZE]) -> Termios {
        let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(&b[17..]);
        Termios {
            iflag: word(0),
            oflag: word(4),
            cflag: word(8),
            lflag: word(12),
            line: b[16],
            cc,
        }
    }

    pub(super) fn l(&self, bit: u32) -> bool {
        self.lflag & bit != 0
    }

    pub(super) fn i(&self, bit: u32) -> bool {
        self.iflag & bit != 0
    }

    /// Whether `c` is the (enabled) special character at `index`: a `c_cc` slot of 0 is
    /// `_POSIX_VDISABLE` and matches nothing.
    pub(super) fn is(&self, index: usize, c: u8) -> bool {
        self.cc[index] != 0 && self.cc[index] == c
    }
}
