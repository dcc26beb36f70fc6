# exceptions: first #BP (int3) in real mode through an IVT at 0 (IDTR base 0, limit 0x3ff): the
# handler checks the saved IP is the instruction after int3 (a trap). Then long mode with a
# 64-bit IDT: #DE (div by zero), #UD (ud2) and #PF (write to an unmapped page), checking for
# each the vector, the error code, the RIP the CPU saved (the faulting instruction) and for #PF
# CR2; the handler records them and resumes at `resume_rip`. (#BP is raised in real mode because
# Linux's KVM emulator, which the host's KVM uses for software interrupts, delivers INT n only in
# real mode: an int3 in long mode ends in KVM_EXIT_INTERNAL_ERROR there.)
REAL_MODE_ENTRY

    lidt rm_idt
    movw $rm_bp_isr, 3 * 4
    movw $0, 3 * 4 + 2
    int3
rm_after_int3:
    mov $msg_rm_bp_bad, %si
    cmpw $1, rm_bp_count
    jne 5f
    cmpw $rm_after_int3, rm_bp_ip
    jne 5f
    PUTS16 msg_rm_bp
    ENTER_PROTECTED pm32
5:
    call puts16
    EXIT 1

# Real-mode #BP handler: record the saved IP (at SP on entry), count, return.
rm_bp_isr:
    push %bp
    mov %sp, %bp
    mov 2(%bp), %ax
    mov %ax, rm_bp_ip
    incw rm_bp_count
    pop %bp
    iret

.code32
pm32:
    PM32_SEGMENTS
    PROTECTED_TO_LONG
    mov $0, %edi
    lea isr_de(%rip), %rsi
    call set_gate
    mov $6, %edi
    lea isr_ud(%rip), %rsi
    call set_gate
    mov $14, %edi
    lea isr_pf(%rip), %rsi
    call set_gate
    lidt idt_desc(%rip)
    PUTS64 msg_start

    # #DE
    lea 4f(%rip), %rax
    mov %rax, resume_rip(%rip)
    lea 3f(%rip), %r15
    xor %edx, %edx
    mov $1, %eax
    xor %ecx, %ecx
3:
    div %ecx
4:
    mov $0, %r12
    mov $0, %r13
    mov $1, %r14
    lea name_de(%rip), %rsi
    call report

    # #UD
    lea 4f(%rip), %rax
    mov %rax, resume_rip(%rip)
    lea 3f(%rip), %r15
3:
    ud2
4:
    mov $6, %r12
    mov $0, %r13
    mov $2, %r14
    lea name_ud(%rip), %rsi
    call report

    # #PF: a supervisor write to a not-present page (PDPT[1] is empty): error code W=1.
    lea 4f(%rip), %rax
    mov %rax, resume_rip(%rip)
    lea 3f(%rip), %r15
3:
    movq $1, 0x40000000
4:
    mov $14, %r12
    mov $2, %r13
    mov $3, %r14
    lea name_pf(%rip), %rsi
    call report
    PUTS64 msg_cr2
    PUTHEX64 last_cr2(%rip), 16
    PUTS64 msg_newline
    lea msg_cr2_bad(%rip), %rsi
    cmpq $0x40000000, last_cr2(%rip)
    jne fail64

    PUTS64 msg_done
    EXIT 0

# report: print "<name at RSI> vector=XX error=XXXX" and check the recorded vector (R12), error
# code (R13), exception count (R14) and saved RIP (R15).
report:
    call puts64
    PUTS64 msg_vector
    PUTHEX64 last_vector(%rip), 2
    PUTS64 msg_error
    PUTHEX64 last_error(%rip), 4
    PUTS64 msg_newline
    lea msg_count_bad(%rip), %rsi
    cmp exc_count(%rip), %r14
    jne fail64
    lea msg_vector_bad(%rip), %rsi
    cmp last_vector(%rip), %r12
    jne fail64
    lea msg_error_bad(%rip), %rsi
    cmp last_error(%rip), %r13
    jne fail64
    lea msg_rip_bad(%rip), %rsi
    cmp last_rip(%rip), %r15
    jne fail64
    ret

IDT64

isr_de:
    pushq $0
    pushq $0
    jmp isr_common
isr_ud:
    pushq $0
    pushq $6
    jmp isr_common
isr_pf:
    pushq $14
    jmp isr_common

# Stack: vector, error code, RIP, CS, RFLAGS, RSP, SS.
isr_common:
    push %rax
    mov 8(%rsp), %rax
    mov %rax, last_vector(%rip)
    mov 16(%rsp), %rax
    mov %rax, last_error(%rip)
    mov 24(%rsp), %rax
    mov %rax, last_rip(%rip)
    mov %cr2, %rax
    mov %rax, last_cr2(%rip)
    incq exc_count(%rip)
    mov resume_rip(%rip), %rax
    mov %rax, 24(%rsp)
    pop %rax
    add $16, %rsp
    iretq

.section .data, "aw"
resume_rip:
    .quad 0
last_vector:
    .quad 0xff
last_error:
    .quad 0xffff
last_rip:
    .quad 0
last_cr2:
    .quad 0
exc_count:
    .quad 0
rm_idt:
    .word 0x3ff
    .long 0
rm_bp_ip:
    .word 0
rm_bp_count:
    .word 0

.section .rodata, "a"
msg_start:
    .asciz "exceptions: long mode, IDT loaded\n"
name_de:
    .asciz "exceptions: #DE"
msg_rm_bp:
    .asciz "exceptions: real mode #BP via IVT vector 3, saved IP after int3 ok\n"
msg_rm_bp_bad:
    .asciz "FAIL: real mode #BP not taken once, or wrong saved IP\n"
name_ud:
    .asciz "exceptions: #UD"
name_pf:
    .asciz "exceptions: #PF"
msg_vector:
    .asciz " vector=0x"
msg_error:
    .asciz " error=0x"
msg_cr2:
    .asciz "exceptions: #PF cr2=0x"
msg_done:
    .asciz "exceptions: all resumed\n"
msg_count_bad:
    .asciz "the exception did not happen exactly once"
msg_vector_bad:
    .asciz "wrong vector"
msg_error_bad:
    .asciz "wrong error code"
msg_rip_bad:
    .asciz "wrong saved RIP"
msg_cr2_bad:
    .asciz "wrong CR2"
