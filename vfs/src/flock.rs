//! `flock(2)`: advisory whole-file locks. A lock belongs to an open file description (every
//! fd `dup`ed or inherited from it shares it) and goes away with its last close, as on Linux.

use crate::poll::Pollee;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use spin::{Mutex, Once};
use syscall::{Errno, Result};

/// What `flock` asks for (`LOCK_SH`, `LOCK_EX`, `LOCK_UN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlockOp {
    Shared,
    Exclusive,
    Unlock,
}

/// `LOCK_SH`, `LOCK_EX`, `LOCK_NB`, `LOCK_UN`.
const LOCK_SH: u32 = 1;
const LOCK_EX: u32 = 2;
const LOCK_NB: u32 = 4;
const LOCK_UN: u32 = 8;

impl FlockOp {
    /// The operation and whether it must not block; `EINVAL` for anything else (Linux also
    /// refuses the obsolete `LOCK_MAND` forms).
    pub fn parse(operation: u32) -> Result<(FlockOp, bool)> {
        let nonblock = operation & LOCK_NB != 0;
        let op = match operation & !LOCK_NB {
            LOCK_SH => FlockOp::Shared,
            LOCK_EX => FlockOp::Exclusive,
            LOCK_UN => FlockOp::Unlock,
            _ => return Err(Errno::EINVAL),
        };
        Ok((op, nonblock))
    }
}

/// A file's lock holders, by owner (an open file description's address).
#[derive(Default)]
struct Holders {
    exclusive: Option<usize>,
    shared: Vec<usize>,
}

/// Every flock lock in the system, by file (`st_dev`, `st_ino`).
pub struct Flocks {
    files: Mutex<BTreeMap<(u64, u64), Holders>>,
    /// Notified whenever a lock is released, so blocked lockers try again.
    released: Pollee,
}

impl Flocks {
    fn new() -> Flocks {
        Flocks {
            files: Mutex::new(BTreeMap::new()),
            released: Pollee::new(),
        }
    }

    /// The system's table.
    pub fn get() -> &'static Flocks {
        static FLOCKS: Once<Flocks> = Once::new();
        FLOCKS.call_once(Flocks::new)
    }

    /// Where a blocked `flock` waits for a release.
    pub fn released(&self) -> &Pollee {
        &self.released
    }

    /// Apply `op` for `owner` on `file` if it can be done now; `EWOULDBLOCK` if another owner's
    /// lock is in the way. A conversion (shared to exclusive or back) keeps the owner's lock
    /// until the new one is granted.
    pub fn try_apply(&self, file: (u64, u64), owner: usize, op: FlockOp) -> Result<()> {
        let mut files = self.files.lock();
        let holders = files.entry(file).or_default();
        let others_shared = holders.shared.iter().any(|&o| o != owner);
        let other_exclusive = holders.exclusive.is_some_and(|o| o != owner);
        let mut released = false;
        match op {
            FlockOp::Shared => {
                if other_exclusive {
                    return Err(Errno::EAGAIN);
                }
                released = holders.exclusive.take().is_some();
                if !holders.shared.contains(&owner) {
                    holders.shared.push(owner);
                }
            }
            FlockOp::Exclusive => {
                if other_exclusive || others_shared {
                    return Err(Errno::EAGAIN);
                }
                holders.shared.retain(|&o| o != owner);
                holders.exclusive = Some(owner);
            }
            FlockOp::Unlock => {
                let before = holders.shared.len() + usize::from(holders.exclusive.is_some());
                holders.shared.retain(|&o| o != owner);
                if holders.exclusive == Some(owner) {
                    holders.exclusive = None;
                }
                released = before != holders.shared.len();
            }
        }
        if holders.exclusive.is_none() && holders.shared.is_empty() {
            files.remove(&file);
        }
        drop(files);
        if released {
            self.released.notify();
        }
        Ok(())
    }

    /// Drop every lock `owner` holds on `file` (its last close).
    pub fn release(&self, file: (u64, u64), owner: usize) {
        let _ = self.try_apply(file, owner, FlockOp::Unlock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: (u64, u64) = (1, 42);

    #[test]
    fn parse_operations() {
        assert_eq!(FlockOp::parse(1), Ok((FlockOp::Shared, false)));
        assert_eq!(FlockOp::parse(2 | 4), Ok((FlockOp::Exclusive, true)));
        assert_eq!(FlockOp::parse(8), Ok((FlockOp::Unlock, false)));
        assert_eq!(FlockOp::parse(3), Err(Errno::EINVAL));
        assert_eq!(FlockOp::parse(0), Err(Errno::EINVAL));
        assert_eq!(FlockOp::parse(32), Err(Errno::EINVAL));
    }

    #[test]
    fn shared_and_exclusive_exclude_each_other() {
        let t = Flocks::new();
        t.try_apply(F, 1, FlockOp::Shared).unwrap();
        t.try_apply(F, 2, FlockOp::Shared).unwrap();
        assert_eq!(t.try_apply(F, 3, FlockOp::Exclusive), Err(Errno::EAGAIN));
        // An upgrade waits for the other reader too.
        assert_eq!(t.try_apply(F, 1, FlockOp::Exclusive), Err(Errno::EAGAIN));
        t.release(F, 2);
        t.try_apply(F, 1, FlockOp::Exclusive).unwrap();
        assert_eq!(t.try_apply(F, 2, FlockOp::Shared), Err(Errno::EAGAIN));
        // A downgrade lets readers in.
        t.try_apply(F, 1, FlockOp::Shared).unwrap();
        t.try_apply(F, 2, FlockOp::Shared).unwrap();
    }

    #[test]
    fn locks_are_per_file_and_vanish_when_released() {
        let t = Flocks::new();
        t.try_apply(F, 1, FlockOp::Exclusive).unwrap();
        t.try_apply((1, 43), 2, FlockOp::Exclusive).unwrap();
        t.try_apply(F, 1, FlockOp::Unlock).unwrap();
        t.try_apply(F, 2, FlockOp::Exclusive).unwrap();
        t.release(F, 2);
        t.release((1, 43), 2);
        assert!(t.files.lock().is_empty());
        // Unlocking what is not held is fine, as on Linux.
        t.try_apply(F, 9, FlockOp::Unlock).unwrap();
    }
}
