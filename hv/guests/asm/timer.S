# timer: long mode with an IDT whose vector 0x20 counts ticks. STI, then HLT in a loop,
# printing each tick once the main loop sees it, up to 5; then 3 more while spinning without
# any exit (vmrun must kick the vCPU out of KVM_RUN to inject them). Run with
# `vmrun --timer-hz N`: vmrun injects vector 0x20 through KVM_INTERRUPT. (Long mode, not 32-bit protected mode: Linux's KVM
# emulator, which the host's KVM uses outside 64-bit mode, cannot emulate a protected-mode IRET.)
.set TICKS, 5
.set BUSY_TICKS, 8

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
    ENTER_LONG lm64

.code64
lm64:
    LM64_SEGMENTS
    # 64-bit interrupt gate for vector 0x20 (Intel SDM Vol. 3A, 6.14.1).
    lea timer_isr(%rip), %rax
    lea idt + 0x20 * 16(%rip), %rdx
    mov %ax, (%rdx)
    movw $SEL_CODE64, 2(%rdx)
    movw $0x8e00, 4(%rdx)
    shr $16, %rax
    mov %ax, 6(%rdx)
    shr $16, %rax
    mov %eax, 8(%rdx)
    movl $0, 12(%rdx)
    lidt idt_desc(%rip)
    lea msg_start(%rip), %rsi
    call puts64

    xor %ebx, %ebx
    sti
2:
    hlt
3:
    mov ticks(%rip), %eax
    cmp %eax, %ebx
    jae 2b
    inc %ebx
    lea msg_tick(%rip), %rsi
    call puts64
    mov %rbx, %rdi
    mov $1, %esi
    call puthex64
    lea msg_newline(%rip), %rsi
    call puts64
    cmp $TICKS, %ebx
    jb 3b

    lea msg_busy(%rip), %rsi
    call puts64
4:
    pause
    mov ticks(%rip), %eax
    cmp %eax, %ebx
    jae 4b
    inc %ebx
    lea msg_tick(%rip), %rsi
    call puts64
    mov %rbx, %rdi
    mov $1, %esi
    call puthex64
    lea msg_newline(%rip), %rsi
    call puts64
    cmp $BUSY_TICKS, %ebx
    jb 4b
    cli
    lea msg_done(%rip), %rsi
    call puts64
    EXIT 0

timer_isr:
    incl ticks(%rip)
    iretq

.section .data, "aw"
.p2align 3
idt_desc:
    .word 256 * 16 - 1
    .quad idt
ticks:
    .long 0

.section .bss, "aw", @nobits
.p2align 4
idt:
    .skip 256 * 16

.section .rodata, "a"
msg_start:
    .asciz "timer: long mode, IDT loaded, waiting for 5 ticks on vector 0x20\n"
msg_tick:
    .asciz "timer: tick "
msg_busy:
    .asciz "timer: spinning without exits for 3 more\n"
msg_done:
    .asciz "timer: 8 ticks, done\n"
