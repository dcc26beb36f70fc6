//! Output processing (`OPOST`) on the way to the driver.

use super::{OCRNL, OLCUC, ONLCR, OPOST, Tty};

impl Tty {
    /// Output processing (`OPOST`: `ONLCR`, `OCRNL`, `OLCUC`), then the driver.
    pub(super) fn output(&self, bytes: &[u8], oflag: u32) {
        if oflag & OPOST == 0 {
            self.driver.write(bytes);
            return;
        }
        let mut out = [0u8; 256];
        let mut n = 0;
        for &b in bytes {
            if n + 2 > out.len() {
                self.driver.write(&out[..n]);
                n = 0;
            }
            match b {
                b'\n' if oflag & ONLCR != 0 => {
                    out[n] = b'\r';
                    out[n + 1] = b'\n';
                    n += 2;
                }
                b'\r' if oflag & OCRNL != 0 => {
                    out[n] = b'\n';
                    n += 1;
                }
                b'a'..=b'z' if oflag & OLCUC != 0 => {
                    out[n] = b.to_ascii_uppercase();
                    n += 1;
                }
                _ => {
                    out[n] = b;
                    n += 1;
                }
            }
        }
        if n > 0 {
            self.driver.write(&out[..n]);
        }
    }
}
