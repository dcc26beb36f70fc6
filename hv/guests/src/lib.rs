//! Small x86 test guests for `vmrun`. Each binary is assembly (`asm/<name>.S` plus
//! `asm/common.S`) when built for `x86_64-unknown-none`; xtask turns the flat ones into raw
//! images with `llvm-objcopy -O binary` and packs them into the initramfs under `/guests/`.

#![no_std]

/// What a guest binary built for the host prints: the real guests are bare-metal images.
pub const HOST_STUB: &str =
    "this is an x86 guest image for vmrun; `cargo xtask build` builds the real one";
