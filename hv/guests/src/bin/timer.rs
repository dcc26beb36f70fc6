//! The `timer` guest, `hv/guests/asm/timer.S`: see [`levitate_guests::guest`].

#![cfg_attr(target_os = "none", no_std, no_main)]

levitate_guests::guest!("timer");
