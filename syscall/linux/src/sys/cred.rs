//! Process credentials and the uid/gid system calls, with the rules of Linux's `kernel/sys.c`
//! and `kernel/groups.c`.
//!
//! Credentials are per process (POSIX), not per thread as in Linux: musl and glibc make every
//! thread of a process take the same ids (their `set*id` wrappers signal each thread), so the
//! only difference is a raw `set*id` syscall from one thread, which here changes all.
//!
//! Capabilities are not modelled separately: a process whose effective uid is 0 has
//! `CAP_SETUID`, `CAP_SETGID`, `CAP_KILL`, ... and one whose fsuid is 0 has
//! `CAP_DAC_OVERRIDE` (`vfs::perm`). That is what Linux's `cap_emulate_setxuid` gives a
//! process without file capabilities or securebits.

use crate::kernel::Kernel;
use crate::process::Process;
use alloc::sync::Arc;
use alloc::vec::Vec;
use syscall::{Errno, Result};
use vfs::Cred;

/// Linux's `NGROUPS_MAX`.
pub const NGROUPS_MAX: usize = 65536;

/// `(uid_t)-1`: "leave unchanged" for the `setre*`/`setres*` calls, invalid elsewhere.
const KEEP: u32 = u32::MAX;

/// A process's user and group ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    /// Real user id.
    pub uid: u32,
    /// Effective user id (0: privileged).
    pub euid: u32,
    /// Saved set-user-id.
    pub suid: u32,
    /// Real group id.
    pub gid: u32,
    /// Effective group id.
    pub egid: u32,
    /// Saved set-group-id.
    pub sgid: u32,
    /// What file permission checks use: fsuid, fsgid and the supplementary groups.
    pub fs: Cred,
}

impl Creds {
    /// Every id 0, no supplementary groups (PID 1).
    pub const fn root() -> Creds {
        Creds {
            uid: 0,
            euid: 0,
            suid: 0,
            gid: 0,
            egid: 0,
            sgid: 0,
            fs: Cred::ROOT,
        }
    }

    /// Whether the process has the capabilities of root (effective uid 0).
    pub fn privileged(&self) -> bool {
        self.euid == 0
    }

    /// The identity `access`/`faccessat` check with: the real ids.
    pub fn real(&self) -> Cred {
        Cred {
            uid: self.uid,
            gid: self.gid,
            groups: self.fs.groups.clone(),
        }
    }

    /// The effective ids (`faccessat2` with `AT_EACCESS`).
    pub fn effective(&self) -> Cred {
        Cred {
            uid: self.euid,
            gid: self.egid,
            groups: self.fs.groups.clone(),
        }
    }

    /// Linux's `kill_ok_by_cred`: the sender's real or effective uid is the target's real or
    /// saved uid, or the sender has `CAP_KILL`.
    pub fn may_signal(&self, target: &Creds) -> bool {
        self.privileged()
            || self.euid == target.suid
            || self.euid == target.uid
            || self.uid == target.suid
            || self.uid == target.uid
    }

    /// What `execve` of a file with `mode`, `owner` and `group` makes of these ids
    /// (`bprm_fill_uid` and `cap_bprm_creds_from_file`): set-user-ID gives the file's owner as
    /// effective uid, set-group-ID (with group execute) its group as effective gid, unless
    /// the mount is `nosuid`; then saved and fs ids follow the effective ones. Returns the new
    /// ids and whether the exec is "secure" (`AT_SECURE`: effective differs from real).
    pub fn after_exec(&self, mode: u32, owner: u32, group: u32, nosuid: bool) -> (Creds, bool) {
        let mut new = self.clone();
        if !nosuid {
            if mode & vfs::types::S_ISUID != 0 {
                new.euid = owner;
            }
            if mode & (vfs::types::S_ISGID | 0o010) == vfs::types::S_ISGID | 0o010 {
                new.egid = group;
            }
        }
        new.suid = new.euid;
        new.fs.uid = new.euid;
        new.sgid = new.egid;
        new.fs.gid = new.egid;
        let secure = new.euid != new.uid || new.egid != new.gid;
        (new, secure)
    }
}

/// Which of the two id families a call works on.
#[derive(Clone, Copy)]
enum Ids {
    User,
    Group,
}

/// The (real, effective, saved, fs) ids of one family, read or written together.
struct Four<'a> {
    real: &'a mut u32,
    eff: &'a mut u32,
    saved: &'a mut u32,
    fs: &'a mut u32,
}

fn four(c: &mut Creds, which: Ids) -> Four<'_> {
    match which {
        Ids::User => Four {
            real: &mut c.uid,
            eff: &mut c.euid,
            saved: &mut c.suid,
            fs: &mut c.fs.uid,
        },
        Ids::Group => Four {
            real: &mut c.gid,
            eff: &mut c.egid,
            saved: &mut c.sgid,
            fs: &mut c.fs.gid,
        },
    }
}

/// Replace the caller's credentials with what `change` makes of a copy (nothing on error).
fn update<K: Kernel>(
    p: &Process<K>,
    change: impl FnOnce(&mut Creds, bool) -> Result<usize>,
) -> Result<usize> {
    let mut slot = p.cred.lock();
    let mut new = Creds::clone(&slot);
    let privileged = slot.privileged();
    let result = change(&mut new, privileged)?;
    if new != **slot {
        *slot = Arc::new(new);
    }
    Ok(result)
}

/// `getuid`, `geteuid`, `getgid`, `getegid`.
pub fn get<K: Kernel>(p: &Process<K>, group: bool, effective: bool) -> Result<usize> {
    let c = p.creds();
    Ok(match (group, effective) {
        (false, false) => c.uid,
        (false, true) => c.euid,
        (true, false) => c.gid,
        (true, true) => c.egid,
    } as usize)
}

/// `setuid`/`setgid`: privileged, all four ids; otherwise the effective (and fs) id, to the
/// real or saved one only (EPERM). `-1` is EINVAL.
fn set_one<K: Kernel>(p: &Process<K>, which: Ids, id: u32) -> Result<usize> {
    if id == KEEP {
        return Err(Errno::EINVAL);
    }
    update(p, |c, privileged| {
        let f = four(c, which);
        if privileged {
            *f.real = id;
            *f.saved = id;
        } else if id != *f.real && id != *f.saved {
            return Err(Errno::EPERM);
        }
        *f.eff = id;
        *f.fs = id;
        Ok(0)
    })
}

pub fn setuid<K: Kernel>(p: &Process<K>, uid: u32) -> Result<usize> {
    set_one(p, Ids::User, uid)
}

pub fn setgid<K: Kernel>(p: &Process<K>, gid: u32) -> Result<usize> {
    set_one(p, Ids::Group, gid)
}

/// `setreuid`/`setregid`: unprivileged, the real id may become the real or effective one, the
/// effective id the real, effective or saved one. The saved id takes the new effective id when
/// the real id is set or the effective id becomes something other than the old real id.
fn set_re<K: Kernel>(p: &Process<K>, which: Ids, real: u32, eff: u32) -> Result<usize> {
    update(p, |c, privileged| {
        let f = four(c, which);
        let (old_real, old_eff, old_saved) = (*f.real, *f.eff, *f.saved);
        if real != KEEP {
            if !privileged && real != old_real && real != old_eff {
                return Err(Errno::EPERM);
            }
            *f.real = real;
        }
        if eff != KEEP {
            if !privileged && eff != old_real && eff != old_eff && eff != old_saved {
                return Err(Errno::EPERM);
            }
            *f.eff = eff;
        }
        if real != KEEP || (eff != KEEP && eff != old_real) {
            *f.saved = *f.eff;
        }
        *f.fs = *f.eff;
        Ok(0)
    })
}

pub fn setreuid<K: Kernel>(p: &Process<K>, ruid: u32, euid: u32) -> Result<usize> {
    set_re(p, Ids::User, ruid, euid)
}

pub fn setregid<K: Kernel>(p: &Process<K>, rgid: u32, egid: u32) -> Result<usize> {
    set_re(p, Ids::Group, rgid, egid)
}

/// `setresuid`/`setresgid`: unprivileged, each id given may only become one of the current
/// real, effective or saved ids. The fs id follows the effective one.
fn set_res<K: Kernel>(p: &Process<K>, which: Ids, ids: [u32; 3]) -> Result<usize> {
    update(p, |c, privileged| {
        let f = four(c, which);
        let old = [*f.real, *f.eff, *f.saved];
        if !privileged && ids.iter().any(|&id| id != KEEP && !old.contains(&id)) {
            return Err(Errno::EPERM);
        }
        for (slot, id) in [f.real, f.eff, f.saved].into_iter().zip(ids) {
            if id != KEEP {
                *slot = id;
            }
        }
        *f.fs = *f.eff;
        Ok(0)
    })
}

pub fn setresuid<K: Kernel>(p: &Process<K>, ruid: u32, euid: u32, suid: u32) -> Result<usize> {
    set_res(p, Ids::User, [ruid, euid, suid])
}

pub fn setresgid<K: Kernel>(p: &Process<K>, rgid: u32, egid: u32, sgid: u32) -> Result<usize> {
    set_res(p, Ids::Group, [rgid, egid, sgid])
}

/// `getresuid`/`getresgid`: the three ids, each to its pointer (EFAULT).
fn get_res<K: Kernel>(p: &Process<K>, which: Ids, at: [u64; 3]) -> Result<usize> {
    let mut c = Creds::clone(&p.creds());
    let f = four(&mut c, which);
    for (addr, id) in at.into_iter().zip([*f.real, *f.eff, *f.saved]) {
        p.user().write_u32(addr, id)?;
    }
    Ok(0)
}

pub fn getresuid<K: Kernel>(p: &Process<K>, r: u64, e: u64, s: u64) -> Result<usize> {
    get_res(p, Ids::User, [r, e, s])
}

pub fn getresgid<K: Kernel>(p: &Process<K>, r: u64, e: u64, s: u64) -> Result<usize> {
    get_res(p, Ids::Group, [r, e, s])
}

/// `setfsuid`/`setfsgid`: always returns the old fs id; changes it when the new one is the
/// real, effective, saved or current fs id, or the caller is privileged (silently not
/// otherwise, and not for `-1`).
fn set_fs<K: Kernel>(p: &Process<K>, which: Ids, id: u32) -> Result<usize> {
    update(p, |c, privileged| {
        let f = four(c, which);
        let old = *f.fs;
        if id != KEEP && (privileged || [*f.real, *f.eff, *f.saved, old].contains(&id)) {
            *f.fs = id;
        }
        Ok(old as usize)
    })
}

pub fn setfsuid<K: Kernel>(p: &Process<K>, uid: u32) -> Result<usize> {
    set_fs(p, Ids::User, uid)
}

pub fn setfsgid<K: Kernel>(p: &Process<K>, gid: u32) -> Result<usize> {
    set_fs(p, Ids::Group, gid)
}

/// `getgroups`: with `size` 0 the count, else the groups (EINVAL if `size` is negative or
/// smaller than the count, EFAULT).
pub fn getgroups<K: Kernel>(p: &Process<K>, size: i32, list: u64) -> Result<usize> {
    let c = p.creds();
    let groups = &c.fs.groups;
    let size = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    if size == 0 {
        return Ok(groups.len());
    }
    if size < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_le_bytes()).collect();
    p.user().write(list, &bytes)?;
    Ok(groups.len())
}

/// `setgroups`: privileged only (EPERM, checked first, as Linux), at most `NGROUPS_MAX`
/// (EINVAL, also for a negative size or a `-1` group), EFAULT. Stored sorted, as Linux does.
pub fn setgroups<K: Kernel>(p: &Process<K>, size: i32, list: u64) -> Result<usize> {
    if !p.creds().privileged() {
        return Err(Errno::EPERM);
    }
    let size = usize::try_from(size).map_err(|_| Errno::EINVAL)?;
    if size > NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let bytes = if size == 0 {
        Vec::new()
    } else {
        p.user().read_vec(list, size * 4)?
    };
    let mut groups: Vec<u32> = bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect();
    if groups.contains(&KEEP) {
        return Err(Errno::EINVAL);
    }
    groups.sort_unstable();
    update(p, |c, privileged| {
        if !privileged {
            return Err(Errno::EPERM);
        }
        c.fs.groups = groups;
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_applies_set_id_bits() {
        let user = Creds {
            uid: 1000,
            euid: 1000,
            suid: 1000,
            gid: 100,
            egid: 100,
            sgid: 100,
            fs: Cred::user(1000, 100),
        };
        let (c, secure) = user.after_exec(vfs::types::S_ISUID | 0o755, 0, 0, false);
        assert_eq!((c.uid, c.euid, c.suid, c.fs.uid), (1000, 0, 0, 0));
        assert_eq!((c.gid, c.egid), (100, 100));
        assert!(secure);
        let (c, _) = user.after_exec(vfs::types::S_ISUID | 0o755, 0, 0, true);
        assert_eq!(c, user);
        // Set-group-ID needs group execute (without it, it means mandatory locking).
        let (c, _) = user.after_exec(vfs::types::S_ISGID | 0o705, 0, 7, false);
        assert_eq!(c.egid, 100);
        let (c, secure) = user.after_exec(vfs::types::S_ISGID | 0o715, 0, 7, false);
        assert_eq!((c.egid, c.sgid, c.fs.gid), (7, 7, 7));
        assert!(secure);
        // A plain exec makes saved = effective.
        let odd = Creds {
            euid: 5,
            fs: Cred::user(6, 100),
            ..user.clone()
        };
        let (c, secure) = odd.after_exec(0o755, 0, 0, false);
        assert_eq!((c.uid, c.euid, c.suid, c.fs.uid), (1000, 5, 5, 5));
        assert!(secure);
    }

    #[test]
    fn signal_permission() {
        let a = Creds {
            uid: 1,
            euid: 2,
            suid: 3,
            gid: 0,
            egid: 0,
            sgid: 0,
            fs: Cred::user(2, 0),
        };
        let target = |uid, suid| Creds {
            uid,
            suid,
            euid: 99,
            ..a.clone()
        };
        assert!(a.may_signal(&target(1, 50)));
        assert!(a.may_signal(&target(50, 2)));
        assert!(a.may_signal(&target(2, 50)));
        assert!(!a.may_signal(&target(3, 50)));
        // The target's effective uid does not count.
        assert!(!a.may_signal(&target(50, 50)));
        assert!(Creds::root().may_signal(&target(50, 50)));
    }
}
