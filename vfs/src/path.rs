//! Pathnames with Linux semantics (see path_resolution(7) and `fs/namei.c`).
//!
//! A [`Path`] is a checked, borrowed byte string. Its [`components`](Path::components) are what
//! the walk visits, in order; `..` and symlinks are resolved by the walk, not here, because
//! `a/../b` names a different file than `b` when `a` is a symlink. [`Path::normalize_into`] is
//! the purely lexical form, for paths already known to contain no symlinks.
//!
//! Linux's rules kept here:
//! - a path is at most `PATH_MAX - 1` bytes (the terminating NUL counts): else `ENAMETOOLONG`;
//! - the empty path is `ENOENT`, unless the call has `AT_EMPTY_PATH` ([`EmptyPath::Allow`]);
//! - repeated slashes are one separator, a leading slash makes the path absolute, and `..` of
//!   the root is the root;
//! - a trailing slash (or a last component `.` or `..`) means the result must be a directory;
//! - a component longer than `NAME_MAX` is `ENAMETOOLONG`, reported when the walk reaches it,
//!   so `missing/<256 bytes>` is `ENOENT` as on Linux.

use core::fmt;
use syscall::{Errno, Result};

/// Longest path, counting the terminating NUL (`include/uapi/linux/limits.h`).
pub const PATH_MAX: usize = 4096;
/// Longest component (`include/uapi/linux/limits.h`).
pub const NAME_MAX: usize = 255;

/// Whether an empty path is accepted (the `AT_EMPTY_PATH` flag of the `*at` calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmptyPath {
    /// Empty means `ENOENT` (the default).
    Deny,
    /// Empty means the file `dirfd` refers to.
    Allow,
}

/// A checked pathname: no NUL byte, shorter than [`PATH_MAX`], not empty unless allowed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Path<'a> {
    bytes: &'a [u8],
}

/// One step of a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component<'a> {
    /// `.`: stay.
    CurDir,
    /// `..`: the parent (the root's parent is the root; mount crossings are the walk's job).
    ParentDir,
    /// A name to look up, 1..=[`NAME_MAX`] bytes, without `/` or NUL.
    Normal(&'a [u8]),
}

/// What the last component of a path is, as `fs/namei.c`'s `LAST_*` types tell the calls that
/// create, remove or rename (for example `mkdir("a/.")` is `EEXIST`, `rmdir("a/.")` `EINVAL`,
/// `rmdir("/")` `EBUSY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last<'a> {
    /// The path is `/` (any number of slashes).
    Root,
    /// Ends in `.`.
    Dot,
    /// Ends in `..`.
    DotDot,
    /// Ends in a name.
    Normal(&'a [u8]),
    /// The empty path accepted through [`EmptyPath::Allow`]: the `dirfd` itself.
    Empty,
}

impl<'a> Path<'a> {
    /// Checks `bytes` (the path without its terminating NUL).
    ///
    /// Errors: `ENOENT` if empty (and `empty` is [`EmptyPath::Deny`]), `ENAMETOOLONG` if
    /// `bytes.len() >= PATH_MAX`, `EINVAL` if it holds a NUL byte (which a user path, read up to
    /// its NUL, cannot).
    pub fn new(bytes: &'a [u8], empty: EmptyPath) -> Result<Path<'a>> {
        if bytes.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if bytes.is_empty() && empty == EmptyPath::Deny {
            return Err(Errno::ENOENT);
        }
        if bytes.contains(&0) {
            return Err(Errno::EINVAL);
        }
        Ok(Path { bytes })
    }

    /// Takes the path from the user memory `buf` that starts at the path pointer, as
    /// `strncpy_from_user(.., PATH_MAX)` does: the path ends at the first NUL.
    ///
    /// Errors: `ENAMETOOLONG` if the first `PATH_MAX` bytes hold no NUL; `EFAULT` if `buf` is
    /// shorter than that and holds no NUL (the string runs into unreadable memory); and the
    /// errors of [`Path::new`].
    pub fn from_nul_terminated(buf: &'a [u8], empty: EmptyPath) -> Result<Path<'a>> {
        let window = &buf[..buf.len().min(PATH_MAX)];
        match window.iter().position(|&b| b == 0) {
            Some(len) => Path::new(&window[..len], empty),
            None if window.len() == PATH_MAX => Err(Errno::ENAMETOOLONG),
            None => Err(Errno::EFAULT),
        }
    }

    /// The bytes as given.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The empty path, accepted only through [`EmptyPath::Allow`].
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Starts at the root (else at the cwd or `dirfd`).
    pub fn is_absolute(&self) -> bool {
        self.bytes.first() == Some(&b'/')
    }

    /// Ends in a slash after a component, such as `a/` (not `/` alone): the walk's result must
    /// be a directory, else `ENOTDIR`.
    pub fn has_trailing_slash(&self) -> bool {
        self.bytes.last() == Some(&b'/') && self.bytes.iter().any(|&b| b != b'/')
    }

    /// The result must be a directory: a trailing slash, or a last component `.` or `..`, or
    /// the root.
    pub fn must_be_dir(&self) -> bool {
        self.has_trailing_slash() || matches!(self.last(), Last::Root | Last::Dot | Last::DotDot)
    }

    /// The components in walk order; repeated slashes and the leading and trailing slashes
    /// yield nothing. A name longer than [`NAME_MAX`] yields `Err(ENAMETOOLONG)` in its place.
    pub fn components(&self) -> Components<'a> {
        Components { rest: self.bytes }
    }

    /// The last component's kind (see [`Last`]).
    pub fn last(&self) -> Last<'a> {
        if self.bytes.is_empty() {
            return Last::Empty;
        }
        let trimmed = trim_trailing_slashes(self.bytes);
        if trimmed.is_empty() {
            return Last::Root;
        }
        let start = trimmed
            .iter()
            .rposition(|&b| b == b'/')
            .map_or(0, |i| i + 1);
        match &trimmed[start..] {
            b"." => Last::Dot,
            b".." => Last::DotDot,
            name => Last::Normal(name),
        }
    }

    /// Splits into the path of the parent directory and the last component, as the calls that
    /// create or remove a name need (`mkdirat`, `unlinkat`, `renameat2`, ...).
    ///
    /// The parent is `None` when the walk for it is empty: the last component is relative to
    /// the cwd or `dirfd` (`"name"`, `"name/"`), or the path is the root. Otherwise it is a
    /// non-empty path; `"/name"` gives `"/"`.
    pub fn split_last(&self) -> (Option<Path<'a>>, Last<'a>) {
        let last = self.last();
        let trimmed = trim_trailing_slashes(self.bytes);
        let parent = match last {
            Last::Root | Last::Empty => None,
            Last::Dot | Last::DotDot | Last::Normal(_) => {
                match trimmed.iter().rposition(|&b| b == b'/') {
                    None => None,
                    Some(slash) => {
                        let head = trim_trailing_slashes(&trimmed[..slash]);
                        // "/name" and "//name": the parent is the root itself.
                        let head = if head.is_empty() { &trimmed[..1] } else { head };
                        Some(Path { bytes: head })
                    }
                }
            }
        };
        (parent, last)
    }

    /// Writes the lexical normal form into `out` and returns it: one slash between names, no
    /// `.`, each `..` removing the name before it (at the root, nothing; at the start of a
    /// relative path, kept), no trailing slash; `"."` for a relative path that cancels out and
    /// `""` for the empty path.
    ///
    /// Only correct when no component is a symlink; the real walk resolves `..` on dentries.
    /// Errors: `ENAMETOOLONG` for a name longer than [`NAME_MAX`] or if `out` is too small.
    pub fn normalize_into<'b>(&self, out: &'b mut [u8]) -> Result<&'b [u8]> {
        let absolute = self.is_absolute();
        let mut len = 0;
        // Bytes of `out` that are leading `..` components of a relative path (never removed).
        let mut fixed = 0;
        if absolute {
            push(out, &mut len, b"/")?;
            fixed = 1;
        }
        for component in self.components() {
            match component? {
                Component::CurDir => {}
                Component::ParentDir => {
                    if len > fixed {
                        // Drop the last name and the slash before it.
                        let cut = out[fixed..len]
                            .iter()
                            .rposition(|&b| b == b'/')
                            .map_or(fixed, |i| fixed + i);
                        len = cut;
                    } else if !absolute {
                        if len > 0 {
                            push(out, &mut len, b"/")?;
                        }
                        push(out, &mut len, b"..")?;
                        fixed = len;
                    }
                }
                Component::Normal(name) => {
                    if len > 0 && out[len - 1] != b'/' {
                        push(out, &mut len, b"/")?;
                    }
                    push(out, &mut len, name)?;
                }
            }
        }
        if len == 0 && !self.is_empty() {
            push(out, &mut len, b".")?;
        }
        Ok(&out[..len])
    }
}

/// Appends `bytes` to `out[..*len]`, or `ENAMETOOLONG` if it does not fit.
fn push(out: &mut [u8], len: &mut usize, bytes: &[u8]) -> Result<()> {
    let end = len.checked_add(bytes.len()).ok_or(Errno::ENAMETOOLONG)?;
    out.get_mut(*len..end)
        .ok_or(Errno::ENAMETOOLONG)?
        .copy_from_slice(bytes);
    *len = end;
    Ok(())
}

fn trim_trailing_slashes(mut bytes: &[u8]) -> &[u8] {
    while let [head @ .., b'/'] = bytes {
        bytes = head;
    }
    bytes
}

impl fmt::Debug for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path(\"{}\")", self.bytes.escape_ascii())
    }
}

/// Iterator over a path's [`Component`]s.
#[derive(Clone, Debug)]
pub struct Components<'a> {
    rest: &'a [u8],
}

impl<'a> Components<'a> {
    /// What is left to walk, without leading slashes (empty when done).
    pub fn rest(&self) -> &'a [u8] {
        let start = self
            .rest
            .iter()
            .position(|&b| b != b'/')
            .unwrap_or(self.rest.len());
        &self.rest[start..]
    }

    /// Whether no component is left (trailing slashes do not count): the one just returned
    /// was the last, which is where `O_CREAT`, `O_NOFOLLOW` and friends apply.
    pub fn is_done(&self) -> bool {
        self.rest().is_empty()
    }
}

impl<'a> Iterator for Components<'a> {
    type Item = Result<Component<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest();
        if rest.is_empty() {
            self.rest = rest;
            return None;
        }
        let end = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let (name, tail) = rest.split_at(end);
        self.rest = tail;
        Some(match name {
            b"." => Ok(Component::CurDir),
            b".." => Ok(Component::ParentDir),
            name if name.len() > NAME_MAX => Err(Errno::ENAMETOOLONG),
            name => Ok(Component::Normal(name)),
        })
    }
}

impl core::iter::FusedIterator for Components<'_> {}

#[cfg(test)]
mod tests;
