//! Linux's ioctl number encoding (`include/uapi/asm-generic/ioctl.h`), which x86_64 and
//! aarch64 share: bits 0-7 the number, 8-15 the type, 16-29 the argument size, 30-31 the
//! direction (as seen from userspace: `READ` means the kernel writes the argument).

/// Bits of the number field.
pub const NRBITS: u32 = 8;
/// Bits of the type field.
pub const TYPEBITS: u32 = 8;
/// Bits of the size field.
pub const SIZEBITS: u32 = 14;
/// Bits of the direction field.
pub const DIRBITS: u32 = 2;

/// Shift of the number field.
pub const NRSHIFT: u32 = 0;
/// Shift of the type field.
pub const TYPESHIFT: u32 = NRSHIFT + NRBITS;
/// Shift of the size field.
pub const SIZESHIFT: u32 = TYPESHIFT + TYPEBITS;
/// Shift of the direction field.
pub const DIRSHIFT: u32 = SIZESHIFT + SIZEBITS;

/// No argument data (`_IOC_NONE`).
pub const NONE: u32 = 0;
/// Userspace writes the argument, the kernel reads it (`_IOC_WRITE`).
pub const WRITE: u32 = 1;
/// The kernel writes the argument, userspace reads it (`_IOC_READ`).
pub const READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`. A size that does not fit the 14-bit field fails to compile
/// when used in a constant.
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(dir < 1 << DIRBITS, "ioctl direction out of range");
    assert!(
        size < 1 << SIZEBITS,
        "ioctl argument too large for the size field"
    );
    (dir << DIRSHIFT)
        | ((ty as u32) << TYPESHIFT)
        | ((nr as u32) << NRSHIFT)
        | ((size as u32) << SIZESHIFT)
}

/// `_IO(type, nr)`: no argument, or an integer argument passed by value.
pub const fn io(ty: u8, nr: u8) -> u32 {
    ioc(NONE, ty, nr, 0)
}

/// `_IOR(type, nr, T)`: the kernel writes a `T` to the argument pointer.
pub const fn ior<T>(ty: u8, nr: u8) -> u32 {
    ioc(READ, ty, nr, size_of::<T>())
}

/// `_IOW(type, nr, T)`: the kernel reads a `T` from the argument pointer.
pub const fn iow<T>(ty: u8, nr: u8) -> u32 {
    ioc(WRITE, ty, nr, size_of::<T>())
}

/// `_IOWR(type, nr, T)`: the kernel reads and writes a `T` at the argument pointer.
pub const fn iowr<T>(ty: u8, nr: u8) -> u32 {
    ioc(READ | WRITE, ty, nr, size_of::<T>())
}

/// `_IOC_DIR(cmd)`.
pub const fn dir(cmd: u32) -> u32 {
    (cmd >> DIRSHIFT) & ((1 << DIRBITS) - 1)
}

/// `_IOC_TYPE(cmd)`.
pub const fn ty(cmd: u32) -> u8 {
    (cmd >> TYPESHIFT) as u8
}

/// `_IOC_NR(cmd)`.
pub const fn nr(cmd: u32) -> u8 {
    (cmd >> NRSHIFT) as u8
}

/// `_IOC_SIZE(cmd)`.
pub const fn size(cmd: u32) -> usize {
    ((cmd >> SIZESHIFT) & ((1 << SIZEBITS) - 1)) as usize
}
