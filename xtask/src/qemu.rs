//! QEMU command lines, interactive runs, and captured runs with a timeout.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::arch::{Arch, Verdict};
use crate::build::Kernel;

/// How the firmware finds the kernel.
#[derive(Clone, Debug)]
pub enum Boot {
    /// `-kernel <image>` (PVH on x86_64, arm64 Image on aarch64).
    Kernel(PathBuf),
    /// `-cdrom <iso>`: a GRUB ISO (x86_64 Multiboot2); the command line is in its grub.cfg.
    Cdrom(PathBuf),
}

/// One QEMU invocation.
#[derive(Clone, Debug)]
pub struct Spec {
    pub arch: Arch,
    pub boot: Boot,
    pub mem: String,
    pub smp: u32,
    pub append: Option<String>,
    /// `-initrd <cpio>` for a `-kernel` boot (a GRUB ISO carries its initrd as a module).
    pub initrd: Option<PathBuf>,
    /// aarch64: enter at EL1 (no `virtualization=on`).
    pub el1: bool,
    pub gdb: Option<u16>,
    /// x86_64: when the guest resets (a triple fault, since the kernel stops QEMU through
    /// isa-debug-exit), pause instead of exiting, so that a timed-out test's monitor
    /// `info registers` ([`SYSRQ_ON_TIMEOUT`]) shows the faulting state. Test boots only: an
    /// interactive run or a Linux boot (which powers off through ACPI) wants `-no-reboot`.
    pub hold_on_reset: bool,
    pub extra: Vec<String>,
}

impl Spec {
    /// The defaults of `cargo xtask run`: 256M, 1 CPU, `-kernel`.
    pub fn new(arch: Arch, kernel: &Kernel) -> Self {
        Spec {
            arch,
            boot: Boot::Kernel(kernel.image.clone()),
            mem: "256M".into(),
            smp: 1,
            append: None,
            initrd: None,
            el1: false,
            gdb: None,
            hold_on_reset: true,
            extra: Vec::new(),
        }
    }

    /// The full argument list (without the program name, which is `arch.qemu()`).
    pub fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        let mut push = |items: &[&str]| args.extend(items.iter().map(|s| s.to_string()));
        match self.arch {
            Arch::X86_64 => push(&["-M", "q35", "-cpu", "max"]),
            Arch::Aarch64 if self.el1 => push(&["-M", "virt,gic-version=3", "-cpu", "max"]),
            Arch::Aarch64 => push(&["-M", "virt,virtualization=on,gic-version=3", "-cpu", "max"]),
        }
        push(&["-m", &self.mem, "-smp", &self.smp.to_string(), "-nographic"]);
        if self.hold_on_reset && self.arch == Arch::X86_64 {
            push(&["-action", "reboot=shutdown,shutdown=pause"]);
        } else {
            push(&["-no-reboot"]);
        }
        match self.arch {
            Arch::X86_64 => push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]),
            Arch::Aarch64 => push(&["-semihosting-config", "enable=on,target=native"]),
        }
        match &self.boot {
            Boot::Kernel(image) => push(&["-kernel", &image.to_string_lossy()]),
            Boot::Cdrom(iso) => push(&["-cdrom", &iso.to_string_lossy()]),
        }
        if let (Boot::Kernel(_), Some(initrd)) = (&self.boot, &self.initrd) {
            push(&["-initrd", &initrd.to_string_lossy()]);
        }
        if let (Boot::Kernel(_), Some(append)) = (&self.boot, &self.append) {
            push(&["-append", append]);
        }
        if let Some(port) = self.gdb {
            push(&["-S", "-gdb", &format!("tcp::{port}")]);
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    /// The command as a shell would show it, for logs.
    pub fn display(&self) -> String {
        let mut line = self.arch.qemu().to_string();
        for arg in self.args() {
            line.push(' ');
            if arg.is_empty() || arg.contains(|c: char| c.is_whitespace() || c == '"') {
                line.push_str(&format!("{arg:?}"));
            } else {
                line.push_str(&arg);
            }
        }
        line
    }
}

/// Boot with the serial console on this terminal; map the exit status to success or failure.
pub fn run_interactive(spec: &Spec) -> Result<ExitCode> {
    println!("xtask: {}", spec.display());
    let status = Command::new(spec.arch.qemu())
        .args(spec.args())
        .status()
        .with_context(|| format!("starting {}", spec.arch.qemu()))?;
    let code = status.code();
    let (verdict, exit) = match spec.arch.verdict(code) {
        // aarch64's success status is also what Ctrl-A X gives.
        Verdict::Success if code == Some(0) => (
            "the kernel powered off, or QEMU was quit",
            ExitCode::SUCCESS,
        ),
        Verdict::Success => ("the kernel reported success", ExitCode::SUCCESS),
        Verdict::Failure => ("the kernel reported failure", ExitCode::FAILURE),
        // Ctrl-A X, or a triple fault under -no-reboot on x86_64.
        Verdict::Other if code == Some(0) => {
            ("QEMU quit (Ctrl-A X, or a reset)", ExitCode::SUCCESS)
        }
        Verdict::Other => ("QEMU failed or was killed", ExitCode::FAILURE),
    };
    eprintln!("xtask: QEMU exited with {status}: {verdict}");
    Ok(exit)
}

/// A serial line and when it arrived, measured from the start of QEMU.
#[derive(Clone, Debug)]
pub struct Line {
    pub at: Duration,
    pub text: String,
}

/// What a captured boot produced.
#[derive(Debug)]
pub struct Capture {
    pub lines: Vec<Line>,
    /// QEMU's exit code; `None` if it was killed by a signal or by the timeout.
    pub status: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
}

/// What the harness types on a timed-out QEMU's console before killing it: `Ctrl-a b` makes
/// QEMU's `-nographic` mux send a break on the serial line, and the key after a break is a
/// magic SysRq command for Levitate (as for Linux): `t` lists every task and where it waits,
/// `m` the free memory. Then `Ctrl-a c` switches to QEMU's monitor for the CPU registers,
/// which name the spot even when the kernel is too stuck to answer SysRq (resolve the PC with
/// `llvm-addr2line -fe <kernel ELF>`). The answers land in the log: a hang in CI explains
/// itself.
const SYSRQ_ON_TIMEOUT: &[&[u8]] = &[
    b"\x01b",
    b"t",
    b"\x01b",
    b"m",
    b"\x01c",
    b"info registers\n",
];

/// How long to keep reading after the SysRq keys.
const SYSRQ_GRACE: Duration = Duration::from_secs(3);

/// Run QEMU, time-stamp each serial line as it arrives on QEMU's stdout, copy it to `log`
/// (QEMU's own stderr follows at the end), and once `timeout` has passed ask the kernel for
/// its task list ([`SYSRQ_ON_TIMEOUT`]) and kill QEMU.
pub fn run_captured(spec: &Spec, timeout: Duration, log: &Path) -> Result<Capture> {
    let mut cmd = Command::new(spec.arch.qemu());
    cmd.args(spec.args());
    capture(cmd, &spec.display(), timeout, log, SYSRQ_ON_TIMEOUT)
        .with_context(|| format!("running {}", spec.arch.qemu()))
}

/// [`run_captured`] for any command (`shown` is how the log names it); `on_timeout` is
/// written to its stdin, a piece at a time, when the timeout passes.
fn capture(
    mut cmd: Command,
    shown: &str,
    timeout: Duration,
    log: &Path,
    on_timeout: &[&[u8]],
) -> Result<Capture> {
    let mut log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    writeln!(log_file, "# {shown}").context("writing the serial log")?;
    let start = Instant::now();
    let mut child = cmd
        .stdin(if on_timeout.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the process")?;
    let mut stdin = child.stdin.take();
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let mut stderr = child.stderr.take().context("no stderr pipe")?;
    let (tx, rx) = mpsc::channel::<Line>();
    let reader = thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let at = start.elapsed();
                    let text = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\r', '\n'])
                        .to_string();
                    if tx.send(Line { at, text }).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let stderr_reader = thread::spawn(move || {
        let mut text = String::new();
        let mut bytes = Vec::new();
        if stderr.read_to_end(&mut bytes).is_ok() {
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    });

    let deadline = start + timeout;
    let mut lines = Vec::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                writeln!(log_file, "{}", line.text).context("writing the serial log")?;
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if timed_out && let Some(stdin) = stdin.as_mut() {
        writeln!(
            log_file,
            "# timed out: sending SysRq t and m, then `info registers`"
        )
        .context("writing the serial log")?;
        for keys in on_timeout {
            // Separate writes, a little apart: the break must reach the UART before its key.
            let _ = stdin.write_all(keys).and_then(|()| stdin.flush());
            thread::sleep(Duration::from_millis(200));
        }
        let grace = Instant::now() + SYSRQ_GRACE;
        while let Ok(line) = rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
            writeln!(log_file, "{}", line.text).context("writing the serial log")?;
        }
    }
    drop(stdin);
    let status = if timed_out {
        kill(&mut child)?
    } else {
        match wait_until(&mut child, deadline)? {
            Some(code) => code,
            None => {
                timed_out = true;
                None
            }
        }
    };
    let elapsed = start.elapsed();
    // The pipes close once QEMU is gone, so both readers end.
    let _ = reader.join();
    let stderr = stderr_reader.join().unwrap_or_default();
    if !stderr.is_empty() {
        writeln!(log_file, "# stderr:\n{stderr}").context("writing the serial log")?;
    }
    let status_text = match status {
        Some(code) => format!("exit status {code}"),
        None if timed_out => format!("killed after the {} s timeout", timeout.as_secs()),
        None => "killed by a signal".to_string(),
    };
    writeln!(log_file, "# {status_text}, {:.1} s", elapsed.as_secs_f64())
        .context("writing the serial log")?;
    Ok(Capture {
        lines,
        status,
        timed_out,
        elapsed,
    })
}

/// Wait for QEMU to exit on its own (it closed stdout): `Some(exit code)`, or `None` if it was
/// still running at `deadline` and has been killed.
fn wait_until(child: &mut Child, deadline: Instant) -> Result<Option<Option<i32>>> {
    loop {
        if let Some(status) = child.try_wait().context("waiting for QEMU")? {
            return Ok(Some(status.code()));
        }
        if Instant::now() >= deadline {
            kill(child)?;
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn kill(child: &mut Child) -> Result<Option<i32>> {
    // An error here means it already exited; `wait` below tells.
    let _ = child.kill();
    child.wait().context("waiting for the killed QEMU")?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(arch: Arch) -> Spec {
        Spec {
            arch,
            boot: Boot::Kernel(PathBuf::from("/k")),
            mem: "256M".into(),
            smp: 1,
            append: Some("test=all".into()),
            initrd: None,
            el1: false,
            gdb: None,
            hold_on_reset: true,
            extra: Vec::new(),
        }
    }

    #[test]
    fn x86_64_command_line() {
        assert_eq!(
            spec(Arch::X86_64).display(),
            "qemu-system-x86_64 -M q35 -cpu max -m 256M -smp 1 -nographic \
             -action reboot=shutdown,shutdown=pause \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel /k -append test=all"
        );
        let mut run = spec(Arch::X86_64);
        run.hold_on_reset = false;
        assert!(run.display().contains(" -nographic -no-reboot -device "));
    }

    #[test]
    fn aarch64_command_line() {
        let mut s = spec(Arch::Aarch64);
        s.gdb = Some(1234);
        s.extra = vec!["-d".into(), "int".into()];
        assert_eq!(
            s.args().join(" "),
            "-M virt,virtualization=on,gic-version=3 -cpu max -m 256M -smp 1 -nographic \
             -no-reboot -semihosting-config enable=on,target=native -kernel /k -append test=all \
             -S -gdb tcp::1234 -d int"
        );
        s.el1 = true;
        assert!(s.args().join(" ").starts_with("-M virt,gic-version=3 "));
    }

    fn temp_log(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("xtask-test-{}-{name}.log", std::process::id()))
    }

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn capture_time_stamps_lines_as_they_arrive() {
        let log = temp_log("stamps");
        let cmd = sh("printf 'one\\r\\n'; sleep 0.3; echo two; echo oops >&2; exit 3");
        let got = capture(cmd, "sh", Duration::from_secs(10), &log, &[]).expect("runs");
        let text: Vec<&str> = got.lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(text, ["one", "two"]);
        let gap = got.lines[1].at - got.lines[0].at;
        assert!(gap >= Duration::from_millis(250), "{gap:?}");
        assert_eq!((got.status, got.timed_out), (Some(3), false));
        let written = std::fs::read_to_string(&log).expect("log written");
        assert!(written.contains("one\ntwo\n# stderr:\noops\n"), "{written}");
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn capture_kills_at_the_timeout() {
        let log = temp_log("timeout");
        let cmd = sh("echo started; exec sleep 30");
        let got = capture(cmd, "sh", Duration::from_millis(300), &log, &[]).expect("runs");
        assert_eq!((got.status, got.timed_out), (None, true));
        assert_eq!(got.lines.len(), 1);
        assert!(got.elapsed < Duration::from_secs(5), "{:?}", got.elapsed);
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn cdrom_has_no_append() {
        let mut s = spec(Arch::X86_64);
        s.boot = Boot::Cdrom(PathBuf::from("/l.iso"));
        s.initrd = Some(PathBuf::from("/i.cpio"));
        let args = s.args().join(" ");
        assert!(args.contains("-cdrom /l.iso"));
        assert!(!args.contains("-append"));
        assert!(!args.contains("-initrd"));
    }

    #[test]
    fn initrd_follows_the_kernel() {
        let mut s = spec(Arch::Aarch64);
        s.initrd = Some(PathBuf::from("/t/initramfs.cpio"));
        assert!(
            s.args()
                .join(" ")
                .contains("-kernel /k -initrd /t/initramfs.cpio -append test=all")
        );
    }
}
