# mmio: 32-bit protected mode; reads and writes vmrun's MMIO test device at 0xd0000000
# (ID at +0, a 64-bit scratch register at +8, its complement at +0x10) and an address no
# device claims (reads as all ones).
.set MMIO_BASE, 0xd0000000
.set MMIO_ID, 0x4d4d564c

REAL_MODE_ENTRY
    REAL_TO_PROTECTED
    PUTS32 msg_start

    mov MMIO_BASE, %eax
    mov $msg_id, %esi
    call show
    mov $msg_id_bad, %esi
    cmp $MMIO_ID, %eax
    jne fail32

    movl $0xdeadbeef, MMIO_BASE + 8
    mov MMIO_BASE + 8, %eax
    mov $msg_scratch, %esi
    call show
    mov $msg_scratch_bad, %esi
    cmp $0xdeadbeef, %eax
    jne fail32

    mov MMIO_BASE + 0x10, %eax
    mov $msg_not, %esi
    call show
    mov $msg_not_bad, %esi
    cmp $0x21524110, %eax
    jne fail32

    movb $0x5a, MMIO_BASE + 0xb
    mov MMIO_BASE + 8, %eax
    mov $msg_byte, %esi
    call show
    mov $msg_byte_bad, %esi
    cmp $0x5aadbeef, %eax
    jne fail32

    movzwl MMIO_BASE + 8, %eax
    mov $msg_word, %esi
    call show
    mov $msg_word_bad, %esi
    cmp $0xbeef, %eax
    jne fail32

    mov 0xe0000000, %eax
    mov $msg_none, %esi
    call show
    mov $msg_none_bad, %esi
    cmp $0xffffffff, %eax
    jne fail32

    PUTS32 msg_done
    EXIT 0

# show: print the label at ESI, then EAX as 8 hex digits and a newline; keeps EAX.
show:
    push %ecx
    call puts32
    mov $8, %ecx
    call puthex32
    PUTS32 msg_newline
    pop %ecx
    ret

.section .rodata, "a"
msg_start:
    .asciz "mmio: protected mode, device at 0xd0000000\n"
msg_id:
    .asciz "mmio: id = 0x"
msg_scratch:
    .asciz "mmio: scratch after 32-bit write = 0x"
msg_not:
    .asciz "mmio: complement = 0x"
msg_byte:
    .asciz "mmio: scratch after byte write at +0xb = 0x"
msg_word:
    .asciz "mmio: 16-bit read = 0x"
msg_none:
    .asciz "mmio: unclaimed address reads 0x"
msg_done:
    .asciz "mmio: all checks passed\n"
msg_id_bad:
    .asciz "wrong device id"
msg_scratch_bad:
    .asciz "scratch did not keep the write"
msg_not_bad:
    .asciz "complement register wrong"
msg_byte_bad:
    .asciz "byte write landed wrong"
msg_word_bad:
    .asciz "16-bit read wrong"
msg_none_bad:
    .asciz "unclaimed MMIO did not read as all ones"
