# protected: real mode -> 32-bit protected mode with its own GDT and a far jump; checks CR0.PE,
# CS, 32-bit MUL/DIV and memory above 1 MiB (out of real mode's reach).
REAL_MODE_ENTRY
    PUTS16 msg_real
    REAL_TO_PROTECTED
    PUTS32 msg_pm

    mov $msg_pe, %esi
    mov %cr0, %eax
    test $1, %eax
    jz fail32
    mov $msg_cs, %esi
    mov %cs, %eax
    and $0xffff, %eax
    cmp $SEL_CODE32, %eax
    jne fail32

    mov $0x12345678, %eax
    mov $0x9abc, %ecx
    mul %ecx
    mov %eax, %edi
    mov %edx, %ebx
    PUTS32 msg_mul
    mov %ebx, %eax
    mov $8, %ecx
    call puthex32
    mov %edi, %eax
    call puthex32
    PUTS32 msg_newline
    mov $msg_mul_bad, %esi
    cmp $0xb00, %ebx
    jne fail32
    cmp $0xda73b020, %edi
    jne fail32
    # Divide back.
    mov %ebx, %edx
    mov %edi, %eax
    mov $0x9abc, %ecx
    div %ecx
    mov $msg_div_bad, %esi
    cmp $0x12345678, %eax
    jne fail32
    test %edx, %edx
    jne fail32

    # Memory at 2 MiB.
    movl $0xcafef00d, 0x200000
    mov 0x200000, %eax
    mov $msg_high_bad, %esi
    cmp $0xcafef00d, %eax
    jne fail32
    PUTS32 msg_done
    EXIT 0

.section .rodata, "a"
msg_real:
    .asciz "protected: real mode, loading the GDT\n"
msg_pm:
    .asciz "protected: 32-bit protected mode, CS=0x08\n"
msg_mul:
    .asciz "protected: 0x12345678 * 0x9abc = 0x"
msg_done:
    .asciz "protected: div and memory at 2 MiB ok\n"
msg_pe:
    .asciz "CR0.PE is clear"
msg_cs:
    .asciz "CS is not 0x08"
msg_mul_bad:
    .asciz "wrong product"
msg_div_bad:
    .asciz "wrong quotient"
msg_high_bad:
    .asciz "memory at 2 MiB reads back wrong"
