//! The `exceptions` guest, `hv/guests/asm/exceptions.S`: see [`levitate_guests::guest`].

#![cfg_attr(target_os = "none", no_std, no_main)]

levitate_guests::guest!("exceptions");
