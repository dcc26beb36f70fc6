//! The per-process fd table (`struct files_struct`): lowest free fd, `FD_CLOEXEC` per fd, the
//! `RLIMIT_NOFILE` limit. Not locked itself: the process keeps it behind its lock, shared by
//! `CLONE_FILES` threads and copied by [`FdTable::clone`] for `fork`.

use crate::file::OpenFile;
use alloc::sync::Arc;
use alloc::vec::Vec;
use syscall::{Errno, Result};

/// Default `RLIMIT_NOFILE` soft limit.
pub const DEFAULT_NOFILE: usize = 1024;
/// Hard ceiling of the limit (Linux's `sysctl fs.nr_open` default).
pub const NR_OPEN: usize = 1 << 20;

#[derive(Clone)]
struct Slot {
    file: Arc<OpenFile>,
    cloexec: bool,
}

/// An fd table.
#[derive(Clone)]
pub struct FdTable {
    slots: Vec<Option<Slot>>,
    limit: usize,
}

impl Default for FdTable {
    fn default() -> FdTable {
        FdTable::new()
    }
}

impl FdTable {
    /// An empty table with the default limit.
    pub fn new() -> FdTable {
        FdTable {
            slots: Vec::new(),
            limit: DEFAULT_NOFILE,
        }
    }

    /// The limit (`RLIMIT_NOFILE` soft value): fds are below it.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Sets the limit (`EPERM` above [`NR_OPEN`]). Open fds above it stay open, as on Linux.
    pub fn set_limit(&mut self, limit: usize) -> Result<()> {
        if limit > NR_OPEN {
            return Err(Errno::EPERM);
        }
        self.limit = limit;
        Ok(())
    }

    /// Installs `file` at the lowest free fd (`EMFILE` if none is below the limit).
    pub fn insert(&mut self, file: Arc<OpenFile>, cloexec: bool) -> Result<usize> {
        self.insert_from(0, file, cloexec)
    }

    /// Installs `file` at the lowest free fd `>= min` (`fcntl(F_DUPFD)`): `EINVAL` if `min`
    /// is at or over the limit, `EMFILE` if no fd is free below it.
    pub fn insert_from(&mut self, min: usize, file: Arc<OpenFile>, cloexec: bool) -> Result<usize> {
        if min >= self.limit {
            return Err(if min == 0 {
                Errno::EMFILE
            } else {
                Errno::EINVAL
            });
        }
        let fd = (min..self.limit)
            .find(|&fd| self.slots.get(fd).is_none_or(|s| s.is_none()))
            .ok_or(Errno::EMFILE)?;
        self.put(fd, Slot { file, cloexec });
        Ok(fd)
    }

    fn put(&mut self, fd: usize, slot: Slot) -> Option<Arc<OpenFile>> {
        if fd >= self.slots.len() {
            self.slots.resize(fd + 1, None);
        }
        self.slots[fd].replace(slot).map(|s| s.file)
    }

    /// The file at `fd` (`EBADF`). Negative fds are the caller's `EBADF`.
    pub fn get(&self, fd: usize) -> Result<&Arc<OpenFile>> {
        self.slots
            .get(fd)
            .and_then(|s| s.as_ref())
            .map(|s| &s.file)
            .ok_or(Errno::EBADF)
    }

    /// Removes `fd` and returns its file (the caller drops it outside its lock).
    pub fn remove(&mut self, fd: usize) -> Result<Arc<OpenFile>> {
        let slot = self
            .slots
            .get_mut(fd)
            .and_then(|s| s.take())
            .ok_or(Errno::EBADF)?;
        while self.slots.last().is_some_and(|s| s.is_none()) {
            self.slots.pop();
        }
        Ok(slot.file)
    }

    /// `dup`: the lowest free fd, without `FD_CLOEXEC`.
    pub fn dup(&mut self, fd: usize) -> Result<usize> {
        let file = self.get(fd)?.clone();
        self.insert(file, false)
    }

    /// `dup2`/`dup3`: makes `new` refer to `old`'s file, closing what `new` held (returned, to
    /// drop outside the lock). `EBADF` if `old` is not open or `new` is at or over the limit.
    /// `dup3` (`is_dup3`) with `old == new` is `EINVAL`; `dup2` then checks `old` and does
    /// nothing. `FD_CLOEXEC` of `new` is `cloexec` (always false for `dup2`).
    pub fn dup3(
        &mut self,
        old: usize,
        new: usize,
        cloexec: bool,
        is_dup3: bool,
    ) -> Result<Option<Arc<OpenFile>>> {
        if is_dup3 && old == new {
            return Err(Errno::EINVAL);
        }
        let file = self.get(old)?.clone();
        if new >= self.limit {
            return Err(Errno::EBADF);
        }
        if old == new {
            return Ok(None);
        }
        Ok(self.put(new, Slot { file, cloexec }))
    }

    /// `FD_CLOEXEC` of `fd`.
    pub fn cloexec(&self, fd: usize) -> Result<bool> {
        self.slots
            .get(fd)
            .and_then(|s| s.as_ref())
            .map(|s| s.cloexec)
            .ok_or(Errno::EBADF)
    }

    /// Sets `FD_CLOEXEC` of `fd` (`F_SETFD`).
    pub fn set_cloexec(&mut self, fd: usize, cloexec: bool) -> Result<()> {
        let slot = self
            .slots
            .get_mut(fd)
            .and_then(|s| s.as_mut())
            .ok_or(Errno::EBADF)?;
        slot.cloexec = cloexec;
        Ok(())
    }

    /// The `execve` sweep: closes every `FD_CLOEXEC` fd; returns their files to drop.
    pub fn close_on_exec(&mut self) -> Vec<Arc<OpenFile>> {
        let mut closed = Vec::new();
        for slot in self.slots.iter_mut() {
            if slot.as_ref().is_some_and(|s| s.cloexec) {
                closed.extend(slot.take().map(|s| s.file));
            }
        }
        while self.slots.last().is_some_and(|s| s.is_none()) {
            self.slots.pop();
        }
        closed
    }

    /// Open fds in increasing order (`/proc/self/fd`).
    pub fn fds(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(fd, s)| s.as_ref().map(|_| fd))
    }

    /// Number of open fds.
    pub fn len(&self) -> usize {
        self.fds().count()
    }

    /// No fd is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes everything (exit); returns the files to drop.
    pub fn clear(&mut self) -> Vec<Arc<OpenFile>> {
        self.slots.drain(..).flatten().map(|s| s.file).collect()
    }
}
