# timer: long mode with an IDT whose vector 0x20 counts ticks. STI, then HLT in a loop,
# printing each tick once the main loop sees it, up to 5; then 3 more while spinning without
# any exit (vmrun must kick the vCPU out of KVM_RUN to inject them). Run with
# `vmrun --timer-hz N`: vmrun injects vector 0x20 through KVM_INTERRUPT. (Long mode, not 32-bit protected mode: Linux's KVM
# emulator, which the host's KVM uses outside 64-bit mode, cannot emulate a protected-mode IRET.)
.set TICKS, 5
.set BUSY_TICKS, 8

REAL_MODE_ENTRY
    REAL_TO_PROTECTED
    PROTECTED_TO_LONG
    mov $0x20, %edi
    lea timer_isr(%rip), %rsi
    call set_gate
    lidt idt_desc(%rip)
    PUTS64 msg_start

    xor %ebx, %ebx
    sti
2:
    hlt
3:
    mov ticks(%rip), %eax
    cmp %eax, %ebx
    jae 2b
    inc %ebx
    PUTS64 msg_tick
    PUTHEX64 %rbx, 1
    PUTS64 msg_newline
    cmp $TICKS, %ebx
    jb 3b

    PUTS64 msg_busy
4:
    pause
    mov ticks(%rip), %eax
    cmp %eax, %ebx
    jae 4b
    inc %ebx
    PUTS64 msg_tick
    PUTHEX64 %rbx, 1
    PUTS64 msg_newline
    cmp $BUSY_TICKS, %ebx
    jb 4b
    cli
    PUTS64 msg_done
    EXIT 0

timer_isr:
    incl ticks(%rip)
    iretq

IDT64

.section .data, "aw"
ticks:
    .long 0

.section .rodata, "a"
msg_start:
    .asciz "timer: long mode, IDT loaded, waiting for 5 ticks on vector 0x20\n"
msg_tick:
    .asciz "timer: tick "
msg_busy:
    .asciz "timer: spinning without exits for 3 more\n"
msg_done:
    .asciz "timer: 8 ticks, done\n"
