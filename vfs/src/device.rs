//! Character devices, found by device number when a device node of any filesystem is opened
//! (so `mknod /tmp/n c 1 3` behaves like `/dev/null`, as on Linux).

use crate::file::OpenFlags;
use crate::inode::FileOps;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use spin::RwLock;
use syscall::{Errno, Result};

/// A character device driver. Its [`FileOps`] methods serve every open file unless
/// [`open`](CharDevice::open) returns a per-open object (a tty that tracks its opener, say).
pub trait CharDevice: FileOps {
    /// Called on each open. `Ok(None)`: the device itself is the file object.
    fn open(&self, _flags: OpenFlags) -> Result<Option<Arc<dyn FileOps>>> {
        Ok(None)
    }
}

/// Registered character devices by device number (`makedev(major, minor)`).
#[derive(Default)]
pub struct DeviceRegistry {
    chars: RwLock<BTreeMap<u64, Arc<dyn CharDevice>>>,
}

impl DeviceRegistry {
    /// No devices.
    pub fn new() -> DeviceRegistry {
        DeviceRegistry::default()
    }

    /// Registers `device` under `rdev`; `EBUSY` if the number is taken.
    pub fn register_char(&self, rdev: u64, device: Arc<dyn CharDevice>) -> Result<()> {
        let mut chars = self.chars.write();
        if chars.contains_key(&rdev) {
            return Err(Errno::EBUSY);
        }
        chars.insert(rdev, device);
        Ok(())
    }

    /// Removes the device at `rdev` (open files keep it alive).
    pub fn unregister_char(&self, rdev: u64) -> Option<Arc<dyn CharDevice>> {
        self.chars.write().remove(&rdev)
    }

    /// The device at `rdev`.
    pub fn char_device(&self, rdev: u64) -> Option<Arc<dyn CharDevice>> {
        self.chars.read().get(&rdev).cloned()
    }

    /// Opens the device at `rdev`: `ENXIO` if none is registered, as Linux says for a node
    /// without a driver.
    pub fn open_char(&self, rdev: u64, flags: OpenFlags) -> Result<Arc<dyn FileOps>> {
        let device = self.char_device(rdev).ok_or(Errno::ENXIO)?;
        match device.open(flags)? {
            Some(ops) => Ok(ops),
            None => Ok(device),
        }
    }
}
