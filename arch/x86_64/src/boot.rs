//! Boot entry: the PVH ELF note and the Multiboot2 header both lead to 32-bit protected-mode
//! code that builds the boot page tables, enters long mode and calls [`boot_main`] on a
//! higher-half stack. `boot_main` parses the loader's information, sets up the CPU and calls
//! the kernel's `levitate_main`.
//!
//! References: Xen `arch-x86/hvm/start_info.h` (PVH), Multiboot2 specification §3.1, Intel SDM
//! vol. 3A §10.8.5 (initializing IA-32e mode).

use core::arch::global_asm;

use crate::bootparse::PVH_MAGIC;
use crate::{bootinfo, console, cpu, gdt, idt, paging, percpu, time, user};

/// Size of the stack `boot_main` and `levitate_main` run on.
const BOOT_STACK_SIZE: usize = 64 * 1024;

/// Stack of the boot CPU, which becomes its first thread. The page below it is left unmapped
/// by [`paging::protect_kernel_image`], so an overflow faults (and, with no stack left to take
/// the #PF, ends in a reported double fault) instead of corrupting .bss.
#[repr(C, align(4096))]
struct BootStack {
    guard: [u8; 4096],
    stack: [u8; BOOT_STACK_SIZE],
}

/// Offset of the initial stack pointer from the start of [`BOOT_STACK`].
const BOOT_STACK_TOP: usize = core::mem::size_of::<BootStack>();

// Mutable so that it lands in .bss, not in read-only data; only the CPU touches it (as a stack).
#[unsafe(no_mangle)]
static mut BOOT_STACK: BootStack = BootStack {
    guard: [0; 4096],
    stack: [0; BOOT_STACK_SIZE],
};

// Page-table bits used by the 32-bit code: P|RW, and P|RW|PS for 2 MiB pages; PCD|PWT for the
// top 32 MiB below 4 GiB, where the LAPIC, IOAPIC, HPET and firmware flash live.
global_asm!(
    r#"

    /* Multiboot2 header: magic, architecture 0 (i386), length, checksum, then tags. */
    .section .multiboot2, "a"
    .p2align 3
mb2_header:
    .long 0xe85250d6
    .long 0
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (0xe85250d6 + (mb2_header_end - mb2_header))
    /* Entry address tag (type 3): our 32-bit entry, not the ELF (virtual) e_entry. */
    .p2align 3
    .short 3, 0
    .long 12
    .long mb2_start32
    /* End tag. */
    .p2align 3
    .short 0, 0
    .long 8
mb2_header_end:

    /* PVH: XEN_ELFNOTE_PHYS32_ENTRY (18), owner "Xen", 32-bit physical entry address. */
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .p2align 2
    .long pvh_start32
    .p2align 2

    /* Boot page tables: PML4, one PDPT shared by the identity and direct maps, one PDPT for the
       kernel's top 2 GiB, and four page directories mapping 0..4 GiB with 2 MiB pages. */
    .section .boot.bss, "aw", @nobits
    .p2align 12
    .globl boot_pml4
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
boot_tables_end:

    .section .boot.rodata, "a"
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit kernel code */
    .quad 0x00cf92000000ffff    /* 0x10: kernel data */
boot_gdt_end:
boot_gdtr:
    .short boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .boot.text, "ax"
    .code32

    .globl pvh_start32
pvh_start32:
    /* EBX = hvm_start_info physical address. */
    movl ${pvh_magic}, %ebp
    jmp boot_common32

    .globl mb2_start32
mb2_start32:
    /* EAX = Multiboot2 magic, EBX = boot information physical address. */
    movl %eax, %ebp
    jmp boot_common32

boot_common32:
    cli
    cld
    /* From here EBP = magic, ESI = information address (CPUID clobbers EBX). */
    movl %ebx, %esi

    /* Long mode and NX are required: stop with a message on COM1 otherwise. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode
    testl $(1 << 20), %edx
    jz no_long_mode

    /* Zero the tables: loaders clear NOBITS, but being sure is cheap. */
    movl $boot_pml4, %edi
    movl $((boot_tables_end - boot_pml4) / 4), %ecx
    xorl %eax, %eax
    rep stosl

    /* 2048 page-directory entries: entry i maps i * 2 MiB. */
    movl $boot_pd, %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    cmpl $2032, %ecx
    jb 2f
    orl $0x18, %eax
2:  movl %eax, (%edi, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 1b

    /* PDPT: four entries, one per page directory. */
    movl $boot_pd + 0x003, %eax
    movl %eax, boot_pdpt_low
    addl $4096, %eax
    movl %eax, boot_pdpt_low + 8
    addl $4096, %eax
    movl %eax, boot_pdpt_low + 16
    addl $4096, %eax
    movl %eax, boot_pdpt_low + 24

    /* 0xffffffff80000000 + pa (PML4 511, PDPT 510) maps the first GiB: the kernel image. */
    movl $boot_pd + 0x003, %eax
    movl %eax, boot_pdpt_high + 510 * 8

    /* PML4: 0 = identity (temporary), 256 = direct map (NX), 511 = kernel. */
    movl $boot_pdpt_low + 0x003, %eax
    movl %eax, boot_pml4
    movl %eax, boot_pml4 + 256 * 8
    movl $0x80000000, boot_pml4 + 256 * 8 + 4
    movl $boot_pdpt_high + 0x003, %eax
    movl %eax, boot_pml4 + 511 * 8

    movl $boot_pml4, %eax
    movl %eax, %cr3

    /* CR4.PAE */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4

    /* EFER.LME | EFER.NXE */
    movl $0xc0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr

    /* CR0.PG | CR0.WP | CR0.PE */
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax
    movl %eax, %cr0

    lgdt boot_gdtr
    ljmp $0x08, $boot_long64

no_long_mode:
    movl $no_long_mode_msg, %esi
1:  lodsb
    testb %al, %al
    jz 3f
    movw $0x3fd, %dx
2:  inb %dx, %al
    testb $0x20, %al
    jz 2b
    movb -1(%esi), %al
    movw $0x3f8, %dx
    outb %al, %dx
    jmp 1b
3:  cli
    hlt
    jmp 3b

    .code64
boot_long64:
    movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %ss
    xorl %eax, %eax
    movl %eax, %fs
    movl %eax, %gs
    movabsq $boot_high64, %rax
    jmp *%rax

    .section .boot.rodata, "a"
no_long_mode_msg:
    .asciz "levitate: this CPU lacks long mode or NX\r\n"

    .text
boot_high64:
    /* Clear .bss (the boot stack is in it, so before the first push). */
    movabsq $__bss_start, %rdi
    movabsq $__bss_end, %rcx
    subq %rdi, %rcx
    shrq $3, %rcx
    xorl %eax, %eax
    rep stosq

    movabsq $BOOT_STACK + {stack_top}, %rsp
    movl %ebp, %edi
    movl %esi, %esi
    xorl %ebp, %ebp
    call {boot_main}
    ud2
    "#,
    pvh_magic = const PVH_MAGIC,
    stack_top = const BOOT_STACK_TOP,
    boot_main = sym boot_main,
    options(att_syntax)
);

unsafe extern "Rust" {
    fn levitate_main(boot: &'static arch_api::BootInfo) -> !;
}

/// First Rust code on the boot CPU: long mode, paging with the boot tables, interrupts off.
/// `magic` says which loader ran and `info` is the physical address of its information block.
extern "C" fn boot_main(magic: u32, info: u32) -> ! {
    time::record_boot_tsc();
    percpu::init_boot_cpu();
    console::init();
    gdt::init();
    idt::init();
    cpu::enable_features();
    let boot = bootinfo::parse(magic, u64::from(info));
    paging::remove_identity_map();
    // The guard page is the first field.
    paging::protect_kernel_image(&raw const BOOT_STACK as u64);
    paging::populate_kernel_half();
    user::init_cpu();
    // SAFETY: `levitate_main` is defined by the kernel binary with exactly this signature, and
    // everything it may rely on (console, traps, boot information, direct map) is set up.
    unsafe { levitate_main(boot) }
}
