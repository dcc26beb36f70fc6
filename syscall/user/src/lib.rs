//! Levitate's own userland programs (`src/bin/`), built as static musl executables and packed
//! into the initramfs under `/usr/bin/`. The library holds what they share, kept pure so the
//! host tests can check it.

#![forbid(unsafe_code)]

/// What `hello` prints.
pub const HELLO: &str = "hello from levitate userland";

/// The report `init-test` writes to stdout: one line per argument and per environment
/// variable, so a kernel test can see that the initial stack reached `main` intact.
pub fn init_report(args: &[String], env: &[(String, String)]) -> String {
    let mut out = format!("init-test: argc={}\n", args.len());
    for (i, arg) in args.iter().enumerate() {
        out.push_str(&format!("init-test: argv[{i}]={arg}\n"));
    }
    out.push_str(&format!("init-test: envc={}\n", env.len()));
    for (key, value) in env {
        out.push_str(&format!("init-test: env {key}={value}\n"));
    }
    out
}

/// Linux errno numbers the programs name in their reports.
const ERRNO_NAMES: [(i32, &str); 30] = [
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::ESRCH, "ESRCH"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::ENXIO, "ENXIO"),
    (libc::E2BIG, "E2BIG"),
    (libc::EBADF, "EBADF"),
    (libc::ECHILD, "ECHILD"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EACCES, "EACCES"),
    (libc::EFAULT, "EFAULT"),
    (libc::EEXIST, "EEXIST"),
    (libc::ENOTDIR, "ENOTDIR"),
    (libc::EISDIR, "EISDIR"),
    (libc::EINVAL, "EINVAL"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENOTTY, "ENOTTY"),
    (libc::ESPIPE, "ESPIPE"),
    (libc::ERANGE, "ERANGE"),
    (libc::ENAMETOOLONG, "ENAMETOOLONG"),
    (libc::ENOSYS, "ENOSYS"),
    (libc::EOPNOTSUPP, "EOPNOTSUPP"),
    (libc::EPIPE, "EPIPE"),
    (libc::ENOEXEC, "ENOEXEC"),
    (libc::ENOTEMPTY, "ENOTEMPTY"),
    (libc::ELOOP, "ELOOP"),
    (libc::EXDEV, "EXDEV"),
    (libc::ENOSPC, "ENOSPC"),
];

/// The symbolic name of errno `e` (`EINVAL`), or `E<number>` for one not in the table.
pub fn errno_name(e: i32) -> String {
    ERRNO_NAMES
        .iter()
        .find(|(n, _)| *n == e)
        .map_or_else(|| format!("E{e}"), |(_, s)| (*s).to_string())
}

/// The fuzzers' PRNG: xorshift64*, small, fast and reproducible from a seed (which must not be
/// 0, xorshift's fixpoint).
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 for `n` = 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Fill `b` with random bytes, eight from each draw.
    pub fn fill(&mut self, b: &mut [u8]) {
        for c in b.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn errno_names() {
        assert_eq!(super::errno_name(libc::EINVAL), "EINVAL");
        assert_eq!(super::errno_name(libc::ENOSPC), "ENOSPC");
        assert_eq!(super::errno_name(4095), "E4095");
    }

    use super::*;

    #[test]
    fn rng_is_reproducible_and_bounded() {
        let (mut a, mut b) = (Rng(1), Rng(1));
        for _ in 0..100 {
            let x = a.below(10);
            assert!(x < 10);
            assert_eq!(x, b.below(10));
        }
        assert_eq!(a.below(0), 0);
    }

    #[test]
    fn report_lists_args_and_env() {
        let args = ["/init".to_string(), "x y".to_string()];
        let env = [("TERM".to_string(), "linux".to_string())];
        assert_eq!(
            init_report(&args, &env),
            "init-test: argc=2\ninit-test: argv[0]=/init\ninit-test: argv[1]=x y\n\
             init-test: envc=1\ninit-test: env TERM=linux\n"
        );
        assert_eq!(
            init_report(&[], &[]),
            "init-test: argc=0\ninit-test: envc=0\n"
        );
    }
}
