//! `execve` building blocks: ELF load plans, the initial user stack, and loading.

pub mod elf;
pub mod load;
pub mod stack;
