//! Where the workspace and its build outputs live, and how to call cargo.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

pub struct Workspace {
    /// The directory holding the workspace `Cargo.toml`.
    pub root: PathBuf,
    /// Cargo's target directory: `$CARGO_TARGET_DIR` if set, else `<root>/target`.
    pub target_dir: PathBuf,
}

impl Workspace {
    pub fn locate() -> Result<Self> {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .context("xtask's manifest directory has no parent")?
            .to_path_buf();
        let target_dir = match env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    env::current_dir()
                        .context("reading the current directory")?
                        .join(dir)
                }
            }
            _ => root.join("target"),
        };
        Ok(Workspace { root, target_dir })
    }

    /// A `cargo` command run at the workspace root (the cargo that started xtask, if known).
    pub fn cargo(&self) -> Command {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root);
        cmd
    }

    /// A directory for xtask's own outputs (logs, ISO trees), created on demand.
    pub fn out_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.target_dir.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    }
}
