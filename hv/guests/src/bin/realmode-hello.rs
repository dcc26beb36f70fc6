//! The `realmode-hello` guest, `hv/guests/asm/realmode-hello.S`: see [`levitate_guests::guest`].

#![cfg_attr(target_os = "none", no_std, no_main)]

levitate_guests::guest!("realmode-hello");
