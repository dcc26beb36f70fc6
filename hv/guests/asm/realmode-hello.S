# realmode-hello: real mode only. Prints through OUT to the UART, then copies its greeting to
# 0600:0000 with `rep movsb` (through ES's segment base) and compares it back with
# `repe cmpsb`.
REAL_MODE_ENTRY
    PUTS16 msg_hello

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
    PUTS16 msg_ok
    EXIT 0
5:
    PUTS16 msg_bad
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
