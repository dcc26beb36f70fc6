//! The serial terminal lane: boot as `cargo xtask run` does (no `init=`: the initramfs's
//! `/init` starts a login ash) and use the shell over the console the way a person would, keystroke by keystroke, through QEMU's stdin (`-nographic` puts
//! the serial port on stdio). Each step waits a bounded time for its output. Covers the
//! kernel's line discipline (canonical erase/kill/^D under ash's `read` and `cat`), ash's
//! own raw-mode editing, vi, ^C at the prompt and of a running job, and power-off on `exit`.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::arch::{Arch, Verdict};
use crate::build::Kernel;
use crate::qemu::Spec;
use crate::suite::Tally;
use crate::suite::host::print_tail;

/// Time between typed bytes: a human's pace, and one interrupt per byte.
const KEY_GAP: Duration = Duration::from_millis(15);

/// A running QEMU with its serial console in our hands.
struct Session {
    child: Child,
    stdin: ChildStdin,
    rx: Receiver<Vec<u8>>,
    /// Output since the last `mark`, carriage returns removed.
    seen: Vec<u8>,
    /// Everything, as received.
    log: Vec<u8>,
    step: Duration,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len().max(1)).any(|w| w == needle)
}

impl Session {
    fn start(spec: &Spec, step: Duration) -> Result<Session> {
        let mut child = Command::new(spec.arch.qemu())
            .args(spec.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", spec.arch.qemu()))?;
        let stdin = child.stdin.take().context("QEMU stdin")?;
        let mut stdout = child.stdout.take().context("QEMU stdout")?;
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Ok(Session {
            child,
            stdin,
            rx,
            seen: Vec::new(),
            log: Vec::new(),
            step,
        })
    }

    fn mark(&mut self) {
        self.seen.clear();
    }

    /// Wait up to `limit` for `done` to hold on the output since the mark.
    fn wait(&mut self, limit: Duration, what: &str, done: impl Fn(&[u8]) -> bool) -> Result<()> {
        let until = Instant::now() + limit;
        while !done(&self.seen) {
            let left = until.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => {
                    self.log.extend_from_slice(&bytes);
                    self.seen.extend(bytes.iter().filter(|&&b| b != b'\r'));
                }
                Err(_) => {
                    let tail = &self.seen[self.seen.len().saturating_sub(200)..];
                    return Err(anyhow!(
                        "no {what} within {limit:?}; last output {:?}",
                        String::from_utf8_lossy(tail)
                    ));
                }
            }
        }
        Ok(())
    }

    fn expect(&mut self, text: &[u8]) -> Result<()> {
        let what = format!("{:?}", String::from_utf8_lossy(text));
        self.wait(self.step, &what, |seen| contains(seen, text))
    }

    /// ash's prompt (`/etc/profile`'s `root@levitate:/tmp# `, or the default `/ # `) at the
    /// end of the output.
    fn prompt(&mut self, limit: Duration) -> Result<()> {
        self.wait(limit, "shell prompt", |seen| seen.ends_with(b"# "))
    }

    fn type_keys(&mut self, keys: &[u8]) -> Result<()> {
        for &k in keys {
            self.stdin.write_all(&[k])?;
            self.stdin.flush()?;
            thread::sleep(KEY_GAP);
        }
        Ok(())
    }

    /// Type `line` and Enter, expect `out`, then the next prompt.
    fn run(&mut self, line: &[u8], out: &[u8]) -> Result<()> {
        self.mark();
        self.type_keys(line)?;
        self.type_keys(b"\r")?;
        self.expect(out)?;
        self.prompt(self.step)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Step = fn(&mut Session) -> Result<()>;

/// The scenario, in order: each step starts at a prompt and leaves one.
const STEPS: &[(&str, Step)] = &[
    ("echo", |s| s.run(b"echo hello", b"\nhello\n")),
    ("pipeline", |s| {
        s.run(b"echo abc def | tr a-z A-Z | wc -w", b"\n2\n")
    }),
    ("cd-pwd", |s| s.run(b"cd /tmp && pwd", b"\n/tmp\n")),
    // ash's editor (raw mode): two wrong letters rubbed out with Backspace (DEL).
    ("backspace", |s| {
        s.run(b"echo heXX\x7f\x7fllo", b"\nhello\n")
    }),
    ("ctrl-c-prompt", |s| {
        s.mark();
        s.type_keys(b"\x03")?;
        s.prompt(s.step)?;
        s.mark();
        s.type_keys(b"echo wrong\x03")?;
        s.prompt(s.step)?;
        s.run(b"echo right", b"\nright\n")?;
        if contains(&s.seen, b"wrong\n") {
            return Err(anyhow!("the line abandoned with ^C ran"));
        }
        Ok(())
    }),
    // The kernel's canonical mode: `read` takes a line from the tty itself, so KILL (^U),
    // ERASE (^? and ^H) are the line discipline's.
    ("canonical-erase-kill", |s| {
        s.mark();
        s.type_keys(b"read v; echo got=$v.\r")?;
        thread::sleep(Duration::from_millis(300));
        s.type_keys(b"junk\x15abX\x7fd\x08e\r")?;
        s.expect(b"got=abe.\n")?;
        s.prompt(s.step)
    }),
    ("cat-ctrl-d", |s| {
        s.mark();
        s.type_keys(b"cat\r")?;
        thread::sleep(Duration::from_millis(300));
        s.type_keys(b"one line\r")?;
        s.expect(b"one line\none line\n")?;
        s.type_keys(b"\x04")?;
        s.prompt(s.step)
    }),
    // Raw mode with escape-sequence timing: ESC must stand alone long enough for vi's poll
    // timeout to see it as a key.
    ("vi-raw-mode", |s| {
        s.mark();
        s.type_keys(b"vi /tmp/v\r")?;
        s.expect(b"/tmp/v")?;
        s.type_keys(b"ihello vi")?;
        thread::sleep(Duration::from_millis(300));
        s.type_keys(b"\x1b")?;
        thread::sleep(Duration::from_millis(300));
        s.type_keys(b":wq\r")?;
        s.prompt(s.step)?;
        s.run(b"cat /tmp/v", b"\nhello vi\n")
    }),
    // Magic SysRq over the serial line, as the harness uses on a timeout: a break (QEMU's
    // `Ctrl-a b`), then `t` lists the tasks and the syscall each one waits in.
    ("sysrq-show-tasks", |s| {
        s.run(b"sleep 100 &", b"sleep 100 &\n")?;
        s.mark();
        s.type_keys(b"\x01b")?;
        thread::sleep(Duration::from_millis(200));
        s.type_keys(b"t")?;
        s.expect(b"sysrq: show tasks")?;
        s.expect(b"(sleep) live")?;
        s.expect(b"in nanosleep")?;
        s.run(b"kill %1; echo killed", b"\nkilled\n")
    }),
    // Job control: a background job reading the terminal is stopped by SIGTTIN; writing it
    // with TOSTOP set, by SIGTTOU (ash reports which).
    ("sigttin-background-read", |s| {
        s.run(b"cat &", b"cat &\n")?;
        thread::sleep(Duration::from_millis(500));
        s.run(b"jobs", b"Stopped (tty input)")?;
        s.run(b"kill -9 %%; echo killed", b"\nkilled\n")
    }),
    ("sigttou-tostop-write", |s| {
        s.run(b"stty tostop; (sleep 0.2; echo bg-out) &", b"&\n")?;
        thread::sleep(Duration::from_millis(800));
        s.run(b"jobs", b"Stopped (tty output)")?;
        s.run(b"kill -9 %%; stty -tostop; echo ok", b"\nok\n")?;
        if contains(&s.seen, b"bg-out\n") {
            return Err(anyhow!("the background write went through despite TOSTOP"));
        }
        Ok(())
    }),
    // VMs are processes: two guests run at once, `ps` lists both VMMs, `kill -9` ends one
    // while the other runs its guest (which spins without exits for a while, so the
    // scheduler must preempt it) to the end of its transcript.
    ("vms-as-processes", |s| {
        s.run(
            b"vmrun --timer-hz 4 /guests/timer.bin > /tmp/vm.out & vmrun --timer-hz 4 /guests/timer.bin > /dev/null &",
            b"&\n",
        )?;
        thread::sleep(Duration::from_millis(800));
        s.run(b"ps | grep -c '[v]mrun'", b"\n2\n")?;
        s.run(b"kill -9 %%; echo killed", b"\nkilled\n")?;
        s.run(
            b"wait %1; echo status $?; tail -1 /tmp/vm.out",
            b"status 0\ntimer: 8 ticks, done\n",
        )
    }),
    // ^Z stops the foreground job (SIGTSTP to its process group), `fg` continues it in the
    // foreground: the subshell's echo must come after the resume, not before.
    ("ctrl-z-fg", |s| {
        s.mark();
        s.type_keys(b"(sleep 1; echo resumed)\r")?;
        thread::sleep(Duration::from_millis(500));
        s.type_keys(b"\x1a")?;
        s.expect(b"Stopped")?;
        s.prompt(s.step)?;
        if contains(&s.seen, b"resumed\n") {
            return Err(anyhow!("the job finished before ^Z stopped it"));
        }
        s.run(b"jobs", b"Stopped")?;
        s.run(b"fg", b"resumed\n")
    }),
    // ^Z, then `bg`: the stopped job runs on in the background until it is killed.
    ("ctrl-z-bg", |s| {
        s.mark();
        s.type_keys(b"sleep 100\r")?;
        thread::sleep(Duration::from_millis(500));
        s.type_keys(b"\x1a")?;
        s.expect(b"Stopped")?;
        s.prompt(s.step)?;
        s.run(b"bg", b"sleep 100")?;
        s.run(b"jobs", b"Running")?;
        s.run(b"kill %1; wait; echo gone", b"\ngone\n")
    }),
    ("ctrl-c-sleep", |s| {
        s.mark();
        s.type_keys(b"sleep 100\r")?;
        thread::sleep(Duration::from_millis(800));
        s.type_keys(b"\x03")?;
        s.prompt(s.step)?;
        s.run(b"echo after", b"\nafter\n")
    }),
];

/// Run the lane for `arch`; results go to `tally` as `<arch>/tty/<step>`.
pub fn run(kernel: &Kernel, initrd: &Path, logs: &Path, step: Duration, tally: &mut Tally) {
    let arch: Arch = kernel.arch;
    let mut spec = Spec::new(arch, kernel);
    // No `init=`: the kernel runs `/init`, as for `cargo xtask run`.
    spec.append = None;
    spec.initrd = Some(initrd.to_path_buf());
    println!("== {arch}/tty: {}", spec.display());
    let log = logs.join(format!("{arch}-tty.log"));
    let mut failed = false;
    let mut session = match Session::start(&spec, step) {
        Ok(s) => s,
        Err(e) => {
            tally.record(&format!("{arch}/tty/boot"), false, &format!("{e:#}"));
            return;
        }
    };
    let booted = session.prompt(step * 4).and_then(|()| {
        if contains(&session.seen, b"BusyBox ash. Type 'exit' to power off.") {
            Ok(())
        } else {
            Err(anyhow!("no banner from /init before the prompt"))
        }
    });
    failed |= booted.is_err();
    tally.record(
        &format!("{arch}/tty/prompt"),
        booted.is_ok(),
        &booted.err().map(|e| format!("{e:#}")).unwrap_or_default(),
    );
    if !failed {
        for (name, step_fn) in STEPS {
            let r = step_fn(&mut session);
            failed |= r.is_err();
            let detail = r.err().map(|e| format!("{e:#}")).unwrap_or_default();
            tally.record(&format!("{arch}/tty/{name}"), detail.is_empty(), &detail);
        }
        session.mark();
        let off = session
            .type_keys(b"exit\r")
            .and_then(|()| session.expect(b"powering off"))
            .and_then(|()| wait_exit(&mut session.child, step))
            .and_then(|code| match arch.verdict(code) {
                Verdict::Success => Ok(()),
                _ => Err(anyhow!("QEMU exit status {code:?}")),
            });
        failed |= off.is_err();
        let detail = off.err().map(|e| format!("{e:#}")).unwrap_or_default();
        tally.record(
            &format!("{arch}/tty/exit-powers-off"),
            detail.is_empty(),
            &detail,
        );
    }
    let _ = std::fs::write(&log, &session.log);
    drop(session);
    if failed {
        print_tail(&log);
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Result<Option<i32>> {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        if Instant::now() >= until {
            return Err(anyhow!("QEMU still running {limit:?} after exit"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}
