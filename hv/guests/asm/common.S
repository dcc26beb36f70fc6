# Shared by every guest: constants, the UART and debug-exit routines for each CPU mode, a GDT
# and the mode-switch macros. AT&T syntax; local labels use the digits 2-9 only (rustc's
# `binary_asm_labels` lint rejects labels made of 0s and 1s).
#
# Memory map below the image (flat guests load at 0x8000): page tables at 0x1000-0x4fff
# (PML4, PDPT, PD for 0-32 MiB, a spare PD), scratch at 0x6000, stack top at 0x7000.

.set COM1, 0x3f8
.set COM1_LSR, 0x3fd
.set LSR_THR_EMPTY, 0x20
.set DEBUG_EXIT, 0xf4
.set STACK_TOP, 0x7000

.set SEL_CODE32, 0x08
.set SEL_DATA, 0x10
.set SEL_CODE64, 0x18

# vmrun ends with the low byte of an OUT to port 0xf4 as its exit status.
.macro EXIT code
    mov $\code, %al
    outb %al, $DEBUG_EXIT
    cli
    hlt
.endm

# PUTS16/PUTS32/PUTS64 msg: print the NUL-terminated string at `msg` through SI/ESI/RSI.
.macro PUTS16 msg
    mov $\msg, %si
    call puts16
.endm

.macro PUTS32 msg
    mov $\msg, %esi
    call puts32
.endm

.macro PUTS64 msg
    lea \msg(%rip), %rsi
    call puts64
.endm

# PUTHEX64 value, digits: `value` (an operand for MOV to RDI) in `digits` hex digits.
.macro PUTHEX64 value, digits
    mov \value, %rdi
    mov $\digits, %esi
    call puthex64
.endm

# The start of every flat guest (`_start`, the image's first byte): real mode, interrupts off,
# DF clear, DS = ES = SS = 0 and the stack at STACK_TOP. Leaves `.text.entry` and 16-bit code.
.macro REAL_MODE_ENTRY
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
.endm

# Real mode -> 32-bit protected mode with our GDT; continues at `target` (.code32).
.macro ENTER_PROTECTED target
    cli
    lgdtl gdt_desc
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $SEL_CODE32, $\target
.endm

# The flat data segment in DS, ES, FS, GS and SS (32- and 64-bit code alike).
.macro DATA_SEGMENTS
    mov $SEL_DATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
.endm

# First thing at the 32-bit target: flat data segments and the stack.
.macro PM32_SEGMENTS
    DATA_SEGMENTS
    mov $STACK_TOP, %esp
.endm

# ENTER_PROTECTED and PM32_SEGMENTS, continuing right after the macro in 32-bit code.
.macro REAL_TO_PROTECTED
    ENTER_PROTECTED .Lpm32_\@
.code32
.Lpm32_\@:
    PM32_SEGMENTS
.endm

# 32-bit protected mode -> 64-bit long mode: identity-map 0-32 MiB with 2 MiB pages, PAE,
# EFER.LME, CR0.PG, then a far jump to the 64-bit code segment at `target` (.code64).
.macro ENTER_LONG target
    mov $0x1000, %edi
    xor %eax, %eax
    mov $(4 * 1024), %ecx
    cld
    rep stosl
    movl $0x2003, 0x1000
    movl $0x3003, 0x2000
    mov $0x3000, %edi
    mov $0x83, %eax
    mov $16, %ecx
2:
    mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 2b
    mov $0x1000, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $0xc0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000000, %eax
    mov %eax, %cr0
    ljmp $SEL_CODE64, $\target
.endm

# First thing at the 64-bit target: flat data segments and the stack.
.macro LM64_SEGMENTS
    DATA_SEGMENTS
    mov $STACK_TOP, %rsp
.endm

# ENTER_LONG and LM64_SEGMENTS, continuing right after the macro in 64-bit code.
.macro PROTECTED_TO_LONG
    ENTER_LONG .Llm64_\@
.code64
.Llm64_\@:
    LM64_SEGMENTS
.endm

# For guests that take exceptions or interrupts in long mode: where it stands in 64-bit code,
# `set_gate` (IDT entry EDI -> handler RSI: a 64-bit interrupt gate, DPL 0, Intel SDM Vol. 3A,
# 6.14.1); in .data, `idt_desc` (LIDT's operand) first; in .bss, the 256-entry `idt`.
.macro IDT64
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
.pushsection .data, "aw"
.p2align 3
idt_desc:
    .word 256 * 16 - 1
    .quad idt
.popsection
.pushsection .bss, "aw", @nobits
.p2align 4
idt:
    .skip 256 * 16
.popsection
.endm

.section .text, "ax"

# ---- 16-bit ----
.code16
# putc16: write AL to the UART once it can take a byte.
putc16:
    push %dx
    push %ax
    mov $COM1_LSR, %dx
2:
    inb %dx, %al
    test $LSR_THR_EMPTY, %al
    jz 2b
    pop %ax
    mov $COM1, %dx
    outb %al, %dx
    pop %dx
    ret

# puts16: write the NUL-terminated string at DS:SI.
puts16:
    push %ax
    push %si
2:
    lodsb
    test %al, %al
    jz 3f
    call putc16
    jmp 2b
3:
    pop %si
    pop %ax
    ret

# ---- 32-bit ----
.code32
putc32:
    push %edx
    push %eax
    mov $COM1_LSR, %dx
2:
    inb %dx, %al
    test $LSR_THR_EMPTY, %al
    jz 2b
    pop %eax
    mov $COM1, %dx
    outb %al, %dx
    pop %edx
    ret

puts32:
    push %eax
    push %esi
2:
    lodsb
    test %al, %al
    jz 3f
    call putc32
    jmp 2b
3:
    pop %esi
    pop %eax
    ret

# puthex32: EAX in ECX hex digits (1-8), most significant first.
puthex32:
    pushal
    mov %eax, %edx
    mov %ecx, %ebx
2:
    test %ebx, %ebx
    jz 4f
    dec %ebx
    mov %ebx, %ecx
    shl $2, %ecx
    mov %edx, %eax
    shr %cl, %eax
    and $0xf, %eax
    cmp $10, %al
    jb 3f
    add $0x27, %al
3:
    add $0x30, %al
    call putc32
    jmp 2b
4:
    popal
    ret

# fail32: print "FAIL: " and the string at ESI, then exit with status 1.
fail32:
    push %esi
    mov $msg_fail, %esi
    call puts32
    pop %esi
    call puts32
    mov $0x0a, %al
    call putc32
    EXIT 1

# ---- 64-bit ----
.code64
putc64:
    push %rdx
    push %rax
    mov $COM1_LSR, %dx
2:
    inb %dx, %al
    test $LSR_THR_EMPTY, %al
    jz 2b
    pop %rax
    mov $COM1, %dx
    outb %al, %dx
    pop %rdx
    ret

puts64:
    push %rax
    push %rsi
2:
    lodsb
    test %al, %al
    jz 3f
    call putc64
    jmp 2b
3:
    pop %rsi
    pop %rax
    ret

# puthex64: RDI in ESI hex digits (1-16), most significant first.
puthex64:
    push %rax
    push %rcx
    push %rbx
    mov %esi, %ebx
2:
    test %ebx, %ebx
    jz 4f
    dec %ebx
    mov %ebx, %ecx
    shl $2, %ecx
    mov %rdi, %rax
    shr %cl, %rax
    and $0xf, %eax
    cmp $10, %al
    jb 3f
    add $0x27, %al
3:
    add $0x30, %al
    call putc64
    jmp 2b
4:
    pop %rbx
    pop %rcx
    pop %rax
    ret

fail64:
    push %rsi
    lea msg_fail(%rip), %rsi
    call puts64
    pop %rsi
    call puts64
    mov $0x0a, %al
    call putc64
    EXIT 1

.section .rodata, "a"
msg_fail:
    .asciz "FAIL: "
msg_newline:
    .asciz "\n"

# Null, 32-bit code, flat data, 64-bit code; accessed bits preset so the CPU never writes here.
.p2align 3
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff
    .quad 0x00cf93000000ffff
    .quad 0x00af9b000000ffff
gdt_end:
gdt_desc:
    .word gdt_end - gdt - 1
    .long gdt
