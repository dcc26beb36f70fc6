# fault: triple-faults on purpose. In protected mode it loads an empty IDT (limit 0) and
# executes ud2: #UD cannot be delivered (#GP), nor can #GP (#DF), nor #DF: shutdown. vmrun
# reports it and exits with status 3.
REAL_MODE_ENTRY
    REAL_TO_PROTECTED
    PUTS32 msg_start
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
