# fault: triple-faults on purpose. In protected mode it loads an empty IDT (limit 0) and
# executes ud2: #UD cannot be delivered (#GP), nor can #GP (#DF), nor #DF: shutdown. vmrun
# reports it and exits with status 3.
.section .text.entry, "ax"
.code16
.global _start
_start:
    cli
    cld
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $STACK_TOP, %sp
    ENTER_PROTECTED pm32

.code32
pm32:
    PM32_SEGMENTS
    mov $msg_start, %esi
    call puts32
    lidt empty_idt
    ud2
    # Not reached.
    EXIT 1

.section .rodata, "a"
.p2align 3
empty_idt:
    .word 0
    .long 0
msg_start:
    .asciz "fault: empty IDT, raising #UD: expect a triple fault\n"
