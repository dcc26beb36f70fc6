# realmode-hello: real mode only. Prints through OUT to the UART, then copies its greeting to
# 0600:0000 with `rep movsb` (through ES's segment base) and compares it back with
# `repe cmpsb`.
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
    mov $msg_hello, %si
    call puts16

    mov $0x600, %ax
    mov %ax, %es
    xor %di, %di
    mov $msg_hello, %si
    mov $(msg_hello_end - msg_hello), %cx
    rep movsb
    xor %di, %di
    mov $msg_hello, %si
    mov $(msg_hello_end - msg_hello), %cx
    repe cmpsb
    jne 5f
    # The copy is at linear 0x6000: read its first byte through DS.
    mov 0x6000, %al
    cmp msg_hello, %al
    jne 5f
    mov $msg_ok, %si
    call puts16
    EXIT 0
5:
    mov $msg_bad, %si
    call puts16
    EXIT 1

.section .rodata, "a"
msg_hello:
    .ascii "Hello from real mode!\n"
msg_hello_end:
    .byte 0
msg_ok:
    .asciz "realmode-hello: segmented rep movsb/cmpsb ok\n"
msg_bad:
    .asciz "FAIL: realmode-hello: the copy differs\n"
