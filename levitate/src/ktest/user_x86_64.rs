//! The x86_64 program of the user-mode test (see `user.rs` for what it does and why).
//!
//! Hand-assembled with GNU as 2.40 (`as --64`, Intel syntax) and checked with `objdump -d`;
//! the source is beside the bytes, offsets in the right column. Besides the steps `user.rs`
//! lists, the program keeps a value in XMM3 across all its exits and ends with exit code 98
//! if it changed: that checks the FXSAVE/FXRSTOR of the user FP state. `msg` is the end of
//! the code, where the test appends the message (so `lea` reaches it RIP-relative).

/// `write`, `getpid`, `exit_group` in the x86_64 Linux numbering.
pub const SYS_WRITE: usize = 1;
pub const SYS_GETPID: usize = 39;
pub const SYS_EXIT_GROUP: usize = 231;

/// Length of the undefined instruction (`ud2`) the test steps over.
pub const ILLEGAL_LEN: u64 = 2;

#[rustfmt::skip]
pub const CODE: &[u8] = &[
    0x48, 0xb8, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // 00: movabs rax, 0x0123456789abcdef
    0x66, 0x48, 0x0f, 0x6e, 0xd8,                               // 0a: movq xmm3, rax
    0xb8, 0x01, 0x00, 0x00, 0x00,                               // 0f: mov eax, 1          ; write
    0xbf, 0x01, 0x00, 0x00, 0x00,                               // 14: mov edi, 1
    0x48, 0x8d, 0x35, 0x6a, 0x00, 0x00, 0x00,                   // 19: lea rsi, [rip + msg]
    0xba, 0x10, 0x00, 0x00, 0x00,                               // 20: mov edx, 16
    0x0f, 0x05,                                                 // 25: syscall
    0x49, 0x89, 0xc4,                                           // 27: mov r12, rax
    0xb8, 0x27, 0x00, 0x00, 0x00,                               // 2a: mov eax, 39         ; getpid
    0x0f, 0x05,                                                 // 2f: syscall
    0x48, 0x3d, 0xd2, 0x04, 0x00, 0x00,                         // 31: cmp rax, 1234
    0x74, 0x07,                                                 // 37: je 1f
    0xbf, 0x63, 0x00, 0x00, 0x00,                               // 39: mov edi, 99
    0xeb, 0x41,                                                 // 3e: jmp 3f
    0x4c, 0x8b, 0x2c, 0x25, 0x00, 0x00, 0x60, 0x00,             // 40: 1: mov r13, qword ptr [0x600000]  ; LAZY_VA
    0x64, 0x4c, 0x8b, 0x34, 0x25, 0x00, 0x00, 0x00, 0x00,       // 48: mov r14, qword ptr fs:[0]   ; TLS = DATA_VA
    0x0f, 0x0b,                                                 // 51: ud2
    0xf3, 0x90,                                                 // 53: 2: pause
    0x64, 0x48, 0x83, 0x3c, 0x25, 0x08, 0x00, 0x00, 0x00, 0x00, // 55: cmp qword ptr fs:[8], 0
    0x74, 0xf2,                                                 // 5f: je 2b
    0x66, 0x48, 0x0f, 0x7e, 0xd8,                               // 61: movq rax, xmm3
    0x48, 0xb9, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // 66: movabs rcx, 0x0123456789abcdef
    0xbf, 0x62, 0x00, 0x00, 0x00,                               // 70: mov edi, 98
    0x48, 0x39, 0xc8,                                           // 75: cmp rax, rcx
    0x75, 0x07,                                                 // 78: jne 3f
    0x4b, 0x8d, 0x3c, 0x2c,                                     // 7a: lea rdi, [r12 + r13]
    0x4c, 0x01, 0xf7,                                           // 7e: add rdi, r14
    0xb8, 0xe7, 0x00, 0x00, 0x00,                               // 81: 3: mov eax, 231     ; exit_group
    0x0f, 0x05,                                                 // 86: syscall
    0x0f, 0x0b,                                                 // 88: ud2
                                                                // 8a: msg:
];
