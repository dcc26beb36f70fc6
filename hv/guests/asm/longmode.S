# longmode: real mode -> protected mode -> long mode (PAE, EFER.LME, paging with its own page
# tables). Checks EFER.LMA, 64-bit multiply and divide, and memory through a second mapping:
# virtual 1 GiB is mapped to physical 2 MiB with a PD of its own.
REAL_MODE_ENTRY
    PUTS16 msg_real
    REAL_TO_PROTECTED
    PUTS32 msg_pm
    PROTECTED_TO_LONG
    PUTS64 msg_lm

    lea msg_lma(%rip), %rsi
    mov $0xc0000080, %ecx
    rdmsr
    test $0x400, %eax
    jz fail64

    mov $0x123456789, %rax
    mov $0x1000, %rcx
    imul %rcx, %rax
    mov %rax, %rbx
    PUTS64 msg_mul
    PUTHEX64 %rbx, 16
    PUTS64 msg_newline
    lea msg_mul_bad(%rip), %rsi
    mov $0x123456789000, %rax
    cmp %rax, %rbx
    jne fail64

    mov $0xfedcba9876543210, %rax
    xor %edx, %edx
    mov $0x10001, %rcx
    div %rcx
    mov %rax, %rbx
    mov %rdx, %r12
    PUTS64 msg_div
    PUTHEX64 %rbx, 16
    PUTS64 msg_rem
    PUTHEX64 %r12, 4
    PUTS64 msg_newline
    lea msg_div_bad(%rip), %rsi
    mov $0xfedbbbbcba97, %rax
    cmp %rax, %rbx
    jne fail64
    cmp $0x7779, %r12
    jne fail64

    # PDPT[1] -> PD at 0x4000, whose entry 0 maps physical 2 MiB as a 2 MiB page.
    movq $0x4003, 0x2008
    movq $0x200083, 0x4000
    mov %cr3, %rax
    mov %rax, %cr3
    mov $0x1122334455667788, %rax
    mov %rax, 0x40000010
    mov 0x200010, %rbx
    lea msg_alias_bad(%rip), %rsi
    cmp %rax, %rbx
    jne fail64
    movl $0x600df00d, 0x200020
    mov 0x40000020, %eax
    cmp $0x600df00d, %eax
    jne fail64
    PUTS64 msg_alias
    PUTHEX64 %rbx, 16
    PUTS64 msg_newline
    EXIT 0

.section .rodata, "a"
msg_real:
    .asciz "longmode: real mode\n"
msg_pm:
    .asciz "longmode: protected mode, building page tables\n"
msg_lm:
    .asciz "longmode: 64-bit mode, EFER.LMA set\n"
msg_mul:
    .asciz "longmode: 0x123456789 * 0x1000 = 0x"
msg_div:
    .asciz "longmode: 0xfedcba9876543210 / 0x10001 = 0x"
msg_rem:
    .asciz " rem 0x"
msg_alias:
    .asciz "longmode: virtual 1 GiB aliases physical 2 MiB: 0x"
msg_lma:
    .asciz "EFER.LMA is clear"
msg_mul_bad:
    .asciz "wrong product"
msg_div_bad:
    .asciz "wrong quotient or remainder"
msg_alias_bad:
    .asciz "the alias mapping does not reach physical 2 MiB"
