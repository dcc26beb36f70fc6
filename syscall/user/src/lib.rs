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

#[cfg(test)]
mod tests {
    use super::*;

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
