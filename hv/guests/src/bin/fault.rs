//! The `fault` guest, `hv/guests/asm/fault.S`: see [`levitate_guests::guest`].

#![cfg_attr(target_os = "none", no_std, no_main)]

levitate_guests::guest!("fault");
