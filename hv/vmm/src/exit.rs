//! What vmrun does with each exit: a free function over kvm-ioctls' borrowed `VcpuExit`, so
//! tests feed it made-up exits without a guest (the shape of Firecracker's `handle_kvm_exit`).

use std::io::Write;

use kvm_ioctls::VcpuExit;

use crate::devices::Devices;

/// vmrun's exit statuses besides the guest's own debug-exit value.
pub mod status {
    /// HLT with no way to wake up.
    pub const HALTED: u8 = 0;
    /// Setup failed: no /dev/kvm, a bad image, too little memory, an ioctl error.
    pub const SETUP: u8 = 1;
    /// Bad command line or config file (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// `KVM_EXIT_SHUTDOWN`: the guest triple-faulted.
    pub const SHUTDOWN: u8 = 3;
    /// `KVM_EXIT_INTERNAL_ERROR`.
    pub const INTERNAL_ERROR: u8 = 4;
    /// `KVM_EXIT_FAIL_ENTRY`.
    pub const FAIL_ENTRY: u8 = 5;
    /// Any other exit vmrun does not handle.
    pub const UNEXPECTED: u8 = 6;
}

/// What the run loop does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Run the vCPU again.
    Continue,
    /// The guest executed HLT.
    Halt,
    /// The guest wrote this value to the debug-exit port.
    DebugExit(u8),
    /// `KVM_EXIT_IRQ_WINDOW_OPEN`: an interrupt can be injected now.
    IrqWindow,
    /// `KVM_EXIT_INTR`: a signal interrupted the run.
    Interrupted,
    Shutdown,
    /// `KVM_EXIT_INTERNAL_ERROR`; the details are in `kvm_run`.
    InternalError,
    FailEntry {
        reason: u64,
        cpu: u32,
    },
    Unexpected(String),
}

pub fn handle_exit<W: Write>(devices: &mut Devices<W>, exit: VcpuExit<'_>) -> Action {
    match exit {
        VcpuExit::IoIn(port, data) => {
            devices.io_in(port, data);
            Action::Continue
        }
        VcpuExit::IoOut(port, data) => devices
            .io_out(port, data)
            .map_or(Action::Continue, Action::DebugExit),
        VcpuExit::MmioRead(addr, data) => {
            devices.mmio_read(addr, data);
            Action::Continue
        }
        VcpuExit::MmioWrite(addr, data) => {
            devices.mmio_write(addr, data);
            Action::Continue
        }
        VcpuExit::Hlt => Action::Halt,
        VcpuExit::IrqWindowOpen => Action::IrqWindow,
        VcpuExit::Intr => Action::Interrupted,
        VcpuExit::Shutdown => Action::Shutdown,
        VcpuExit::InternalError => Action::InternalError,
        VcpuExit::FailEntry(reason, cpu) => Action::FailEntry { reason, cpu },
        VcpuExit::SystemEvent(ty, data) => {
            Action::Unexpected(format!("KVM_EXIT_SYSTEM_EVENT type {ty} data {data:x?}"))
        }
        other => Action::Unexpected(format!("{other:?}")),
    }
}

/// The name of a `KVM_INTERNAL_ERROR_*` suberror.
pub fn suberror_name(suberror: u32) -> &'static str {
    match suberror {
        hv::abi::KVM_INTERNAL_ERROR_EMULATION => "emulation failure",
        hv::abi::KVM_INTERNAL_ERROR_SIMUL_EX => "exception while delivering an exception",
        hv::abi::KVM_INTERNAL_ERROR_DELIVERY_EV => "exit during event delivery",
        hv::abi::KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON => "unexpected hardware exit",
        _ => "unknown suberror",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{COM1, DEBUG_EXIT_PORT, MMIO_BASE, MMIO_ID};

    #[test]
    fn port_and_mmio_exits() {
        let mut dev = Devices::new(Vec::new());
        assert_eq!(
            handle_exit(&mut dev, VcpuExit::IoOut(COM1, b"A")),
            Action::Continue
        );
        assert_eq!(dev.output(), b"A");
        // `rep outsb` of three bytes: one exit, every byte printed.
        handle_exit(&mut dev, VcpuExit::IoOut(COM1, b"bcd"));
        assert_eq!(dev.output(), b"Abcd");
        let mut data = [0u8; 2];
        assert_eq!(
            handle_exit(&mut dev, VcpuExit::IoIn(0x60, &mut data)),
            Action::Continue
        );
        assert_eq!(data, [0xff, 0xff]);
        let mut word = [0u8; 4];
        handle_exit(&mut dev, VcpuExit::MmioRead(MMIO_BASE, &mut word));
        assert_eq!(u32::from_le_bytes(word), MMIO_ID);
        assert_eq!(
            handle_exit(&mut dev, VcpuExit::IoOut(DEBUG_EXIT_PORT, &[42])),
            Action::DebugExit(42)
        );
    }

    #[test]
    fn terminal_exits() {
        let mut dev = Devices::new(Vec::new());
        assert_eq!(handle_exit(&mut dev, VcpuExit::Hlt), Action::Halt);
        assert_eq!(handle_exit(&mut dev, VcpuExit::Shutdown), Action::Shutdown);
        assert_eq!(
            handle_exit(&mut dev, VcpuExit::FailEntry(0x80000021, 1)),
            Action::FailEntry {
                reason: 0x80000021,
                cpu: 1
            }
        );
        assert_eq!(
            handle_exit(&mut dev, VcpuExit::InternalError),
            Action::InternalError
        );
        assert!(matches!(
            handle_exit(&mut dev, VcpuExit::Debug(Default::default())),
            Action::Unexpected(_)
        ));
        assert_eq!(suberror_name(1), "emulation failure");
    }
}
