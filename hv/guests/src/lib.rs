//! Small x86 test guests for `vmrun`. Each binary is assembly (`asm/<name>.S` plus
//! `asm/common.S`) when built for `x86_64-unknown-none`; xtask turns the flat ones into raw
//! images with `llvm-objcopy -O binary` and packs them into the initramfs under `/guests/`.

#![no_std]

/// What a guest binary built for the host prints: the real guests are bare-metal images.
pub const HOST_STUB: &str =
    "this is an x86 guest image for vmrun; `cargo xtask build` builds the real one";

/// The whole of a guest binary `src/bin/<name>.rs`: `asm/common.S` and `asm/<name>.S` with a
/// panic handler when built for `x86_64-unknown-none`, a `main` printing [`HOST_STUB`] on the
/// host. The binary itself only adds `#![cfg_attr(target_os = "none", no_std, no_main)]`.
#[macro_export]
macro_rules! guest {
    ($name:literal) => {
        #[cfg(target_os = "none")]
        core::arch::global_asm!(
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/asm/common.S")),
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/asm/", $name, ".S")),
            options(att_syntax)
        );

        #[cfg(target_os = "none")]
        #[panic_handler]
        fn panic(_: &core::panic::PanicInfo) -> ! {
            loop {}
        }

        #[cfg(not(target_os = "none"))]
        fn main() {
            println!("{}", $crate::HOST_STUB);
        }
    };
}
