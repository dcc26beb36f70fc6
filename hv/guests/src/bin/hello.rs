//! The `hello` guest (see `hv/guests/asm/hello.S`): x86 assembly when built for
//! x86_64-unknown-none, a stub on the host.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
core::arch::global_asm!(
    include_str!("../../asm/common.S"),
    include_str!("../../asm/hello.S"),
    options(att_syntax)
);

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[cfg(not(target_os = "none"))]
fn main() {
    println!("{}", levitate_guests::HOST_STUB);
}
