# exceptions: first #BP (int3) in real mode through an IVT at 0 (IDTR base 0, limit 0x3ff): the
# handler checks the saved IP is the instruction after int3 (a trap). Then long mode with a
# 64-bit IDT: #DE (div by zero), #UD (ud2) and #PF (write to an unmapped page), checking for
# each the vector, the error code, the RIP the CPU saved (the faulting instruction) and for #PF
# CR2; the handler records them and resumes at `resume_rip`. (#BP is raised in real mode because
# Linux's KVM emulator, which the host's KVM uses for software interrupts, delivers INT n only in
# real mode: an int3 in long mode ends in KVM_EXIT_INTERNAL_ERROR there.)
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
    mov $msg_rm_bp, %si
    call puts16
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
    ENTER_LONG lm64

.code64
lm64:
    LM64_SEGMENTS
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
    lea msg_start(%rip), %rsi
    call puts64

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
    lea msg_cr2(%rip), %rsi
    call puts64
    mov last_cr2(%rip), %rdi
    mov $16, %esi
    call puthex64
    lea msg_newline(%rip), %rsi
    call puts64
    lea msg_cr2_bad(%rip), %rsi
    cmpq $0x40000000, last_cr2(%rip)
    jne fail64

    lea msg_done(%rip), %rsi
    call puts64
    EXIT 0

# report: print "<name at RSI> vector=XX error=XXXX" and check the recorded vector (R12), error
# code (R13), exception count (R14) and saved RIP (R15).
report:
    call puts64
    lea msg_vector(%rip), %rsi
    call puts64
    mov last_vector(%rip), %rdi
    mov $2, %esi
    call puthex64
    lea msg_error(%rip), %rsi
    call puts64
    mov last_error(%rip), %rdi
    mov $4, %esi
    call puthex64
    lea msg_newline(%rip), %rsi
    call puts64
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

# set_gate: IDT entry EDI -> handler RSI (64-bit interrupt gate, DPL 0).
set_gate:
    mov %rdi, %rax
    shl $4, %rax
    lea idt(%rip), %rdx
    add %rax, %rdx
    mov %rsi, %rax
    mov %ax, (%rdx)
    movw $SEL_CODE64, 2(%rdx)
    movw $0x8e00, 4(%rdx)
    shr $16, %rax
    mov %ax, 6(%rdx)
    shr $16, %rax
    mov %eax, 8(%rdx)
    movl $0, 12(%rdx)
    ret

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
.p2align 3
idt_desc:
    .word 256 * 16 - 1
    .quad idt
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

.section .bss, "aw", @nobits
.p2align 4
idt:
    .skip 256 * 16

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
