# hello: a PVH guest. An ELF64 whose XEN_ELFNOTE_PHYS32_ENTRY note names `pvh_start`, entered
# in 32-bit protected mode (paging off, flat segments) with EBX pointing to the hvm_start_info.
# Prints a greeting, checks the start info's magic and prints the command line and module count
# it names.
.set XEN_HVM_START_MAGIC, 0x336ec578

.section .note.Xen, "a", @note
.p2align 2
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
.p2align 2
    .long pvh_start

.section .text.entry, "ax"
.code32
.global pvh_start
pvh_start:
    cli
    cld
    mov $stack_top, %esp
    mov %ebx, %ebp
    PUTS32 msg_hello
    mov $msg_magic_bad, %esi
    cmpl $XEN_HVM_START_MAGIC, (%ebp)
    jne fail32
    PUTS32 msg_magic
    PUTS32 msg_cmdline
    mov 24(%ebp), %esi
    test %esi, %esi
    jz 2f
    call puts32
2:
    PUTS32 msg_newline
    PUTS32 msg_modules
    mov 12(%ebp), %eax
    mov $1, %ecx
    call puthex32
    PUTS32 msg_newline
    EXIT 0

.section .rodata, "a"
msg_hello:
    .asciz "hello from a PVH guest\n"
msg_magic:
    .asciz "hello: hvm_start_info magic ok\n"
msg_cmdline:
    .asciz "hello: cmdline: "
msg_modules:
    .asciz "hello: modules: "
msg_magic_bad:
    .asciz "EBX does not point to an hvm_start_info"

.section .bss, "aw", @nobits
.p2align 4
stack:
    .skip 4096
stack_top:
