//! Directory entries and rename.

use crate::TmpInode;
use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use syscall::{Errno, Result};
use vfs::inode::RenameFlags;
use vfs::{DirEntry, FileType, Timespec};

/// Cookie of the first real entry (0 is `.`, 1 is `..`).
const FIRST_COOKIE: u64 = 2;

/// The entries of a directory, by name and by cookie. A new entry always gets a cookie higher
/// than any before, so a `readdir` resumed from a cookie sees every entry that stayed, once.
pub(crate) struct DirData {
    by_cookie: BTreeMap<u64, (Vec<u8>, Arc<TmpInode>)>,
    by_name: BTreeMap<Vec<u8>, u64>,
    next_cookie: u64,
    parent: Weak<TmpInode>,
    /// Removed by `rmdir`: nothing may be created in it any more.
    dead: bool,
}

impl DirData {
    pub(crate) fn new(parent: Weak<TmpInode>) -> DirData {
        DirData {
            by_cookie: BTreeMap::new(),
            by_name: BTreeMap::new(),
            next_cookie: FIRST_COOKIE,
            parent,
            dead: false,
        }
    }

    pub(crate) fn parent(&self) -> Option<Arc<TmpInode>> {
        self.parent.upgrade()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    pub(crate) fn is_dead(&self) -> bool {
        self.dead
    }

    pub(crate) fn kill(&mut self) {
        self.dead = true;
    }

    pub(crate) fn get(&self, name: &[u8]) -> Option<Arc<TmpInode>> {
        let cookie = self.by_name.get(name)?;
        self.by_cookie.get(cookie).map(|(_, i)| i.clone())
    }

    /// Adds `name` (`EEXIST` if present, `ENOENT` if the directory is dead).
    pub(crate) fn insert(&mut self, name: &[u8], inode: Arc<TmpInode>) -> Result<()> {
        if self.dead {
            return Err(Errno::ENOENT);
        }
        if self.by_name.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        self.by_name.insert(name.to_vec(), cookie);
        self.by_cookie.insert(cookie, (name.to_vec(), inode));
        Ok(())
    }

    /// Removes `name`, returning its inode.
    pub(crate) fn remove(&mut self, name: &[u8]) -> Option<Arc<TmpInode>> {
        let cookie = self.by_name.remove(name)?;
        self.by_cookie.remove(&cookie).map(|(_, i)| i)
    }

    /// Points `name` at `inode` in place (same cookie), returning the old inode.
    fn replace(&mut self, name: &[u8], inode: Arc<TmpInode>) -> Option<Arc<TmpInode>> {
        let cookie = self.by_name.get(name)?;
        let slot = self.by_cookie.get_mut(cookie)?;
        Some(core::mem::replace(&mut slot.1, inode))
    }

    pub(crate) fn list(
        &self,
        ino: u64,
        parent_ino: u64,
        cookie: u64,
        sink: &mut dyn FnMut(&DirEntry<'_>) -> bool,
    ) {
        let dots: [(&[u8], u64); 2] = [(b".", ino), (b"..", parent_ino)];
        for (i, (name, ino)) in dots.iter().enumerate() {
            let i = i as u64;
            if cookie <= i {
                let entry = DirEntry {
                    ino: *ino,
                    kind: FileType::Directory,
                    name,
                    next: i + 1,
                };
                if !sink(&entry) {
                    return;
                }
            }
        }
        for (&c, (name, inode)) in self.by_cookie.range(cookie.max(FIRST_COOKIE)..) {
            let entry = DirEntry {
                ino: inode.ino,
                kind: inode.kind,
                name,
                next: c + 1,
            };
            if !sink(&entry) {
                return;
            }
        }
    }
}

/// Whether `dir` is `ancestor` or below it (walks the parent links; the caller holds the
/// namespace lock, so they do not change meanwhile).
fn is_within(dir: &Arc<TmpInode>, ancestor: &Arc<TmpInode>) -> bool {
    let mut cur = dir.clone();
    loop {
        if Arc::ptr_eq(&cur, ancestor) {
            return true;
        }
        let parent = match cur.dir() {
            Ok(d) => d.lock().parent(),
            Err(_) => None,
        };
        match parent {
            Some(p) => cur = p,
            None => return false,
        }
    }
}

fn set_parent(inode: &Arc<TmpInode>, parent: &Arc<TmpInode>) {
    if let Ok(d) = inode.dir() {
        d.lock().parent = Arc::downgrade(parent);
    }
}

/// `rename` with the namespace lock held. Directory locks are taken one at a time.
pub(crate) fn rename(
    old_dir: &Arc<TmpInode>,
    old_name: &[u8],
    new_dir: &Arc<TmpInode>,
    new_name: &[u8],
    flags: RenameFlags,
    now: Timespec,
) -> Result<()> {
    let same_dir = Arc::ptr_eq(old_dir, new_dir);
    let source = old_dir.dir()?.lock().get(old_name).ok_or(Errno::ENOENT)?;
    let target = new_dir.dir()?.lock().get(new_name);
    if new_dir.dir()?.lock().is_dead() {
        return Err(Errno::ENOENT);
    }
    if flags.has(RenameFlags::NOREPLACE) && target.is_some() {
        return Err(Errno::EEXIST);
    }
    if let Some(target) = &target
        && Arc::ptr_eq(target, &source)
    {
        return Ok(());
    }
    let source_is_dir = source.is_dir();
    if source_is_dir && !same_dir && is_within(new_dir, &source) {
        return Err(Errno::EINVAL);
    }
    if flags.has(RenameFlags::EXCHANGE) {
        let target = target.ok_or(Errno::ENOENT)?;
        let target_is_dir = target.is_dir();
        if target_is_dir && !same_dir && is_within(old_dir, &target) {
            return Err(Errno::EINVAL);
        }
        if same_dir {
            let mut d = old_dir.dir()?.lock();
            d.replace(old_name, target.clone());
            d.replace(new_name, source.clone());
        } else {
            old_dir.dir()?.lock().replace(old_name, target.clone());
            new_dir.dir()?.lock().replace(new_name, source.clone());
            if source_is_dir != target_is_dir {
                let delta = if source_is_dir { 1 } else { -1 };
                new_dir.add_links(delta, now);
                old_dir.add_links(-delta, now);
            }
            if source_is_dir {
                set_parent(&source, new_dir);
            }
            if target_is_dir {
                set_parent(&target, old_dir);
            }
        }
        source.touch_ctime(now);
        target.touch_ctime(now);
        old_dir.touch(now);
        new_dir.touch(now);
        return Ok(());
    }
    if let Some(target) = &target {
        match (source_is_dir, target.is_dir()) {
            (true, false) => return Err(Errno::ENOTDIR),
            (false, true) => return Err(Errno::EISDIR),
            (true, true) => {
                let t = target.dir()?.lock();
                if !t.is_empty() {
                    return Err(Errno::ENOTEMPTY);
                }
            }
            (false, false) => {}
        }
    }
    // The new name first, so it never goes missing.
    {
        let mut nd = new_dir.dir()?.lock();
        match nd.replace(new_name, source.clone()) {
            Some(_) => {}
            None => nd.insert(new_name, source.clone())?,
        }
    }
    old_dir.dir()?.lock().remove(old_name);
    if let Some(target) = target {
        if target.is_dir() {
            if let Ok(t) = target.dir() {
                t.lock().kill();
            }
            target.meta.lock().nlink = 0;
            new_dir.add_links(-1, now);
        } else {
            target.add_links(-1, now);
        }
        target.touch_ctime(now);
    }
    if source_is_dir && !same_dir {
        set_parent(&source, new_dir);
        old_dir.add_links(-1, now);
        new_dir.add_links(1, now);
    }
    source.touch_ctime(now);
    old_dir.touch(now);
    new_dir.touch(now);
    Ok(())
}

impl TmpInode {
    fn touch_ctime(&self, now: Timespec) {
        self.meta.lock().ctime = now;
    }
}
