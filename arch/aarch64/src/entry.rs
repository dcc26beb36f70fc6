//! The arm64 Image header and the position-independent entry code (MMU off).
//!
//! Layout of the Image (see `levitate/link-aarch64.ld`): the file starts at `__kernel_start`
//! (linked at [`crate::mmu::KERNEL_BASE`]) with the 64-byte header defined by the Linux
//! document `Documentation/arch/arm64/booting.rst`:
//!
//! | offset | field       | value                                                     |
//! |--------|-------------|-----------------------------------------------------------|
//! | 0x00   | code0       | `b primary_entry`                                         |
//! | 0x04   | code1       | 0                                                         |
//! | 0x08   | text_offset | 0 (load at a 2 MiB-aligned address)                       |
//! | 0x10   | image_size  | `__image_size` = text + rodata + data + bss, page aligned |
//! | 0x18   | flags       | 0xa: little-endian, 4 KiB pages, placement anywhere       |
//! | 0x20   | res2..res4  | 0                                                         |
//! | 0x38   | magic       | "ARM\x64"                                                 |
//! | 0x3c   | res5        | 0 (no PE/COFF header)                                     |
//!
//! The loader enters at offset 0 with the MMU and D-cache off, x0 = physical address of the
//! device tree, at EL2 or EL1. The code below, until the jump to `__boot_high`, runs at the
//! physical load address and so only uses PC-relative addressing (`adr`/`adrp`); literal-pool
//! loads (`ldr xN, =sym`) are used only for constants and for link-time (high) addresses.
//!
//! Steps: pick the exception level (stay at EL2 with VHE, drop from non-VHE EL2 to EL1, or
//! stay at EL1), enable FP/SIMD (the Rust target uses it), move the device tree out of the way
//! if it lies where bss will be, zero bss, build the boot page tables (identity map of the GiB
//! holding the image in TTBR0; kernel image at `KERNEL_BASE` with 2 MiB blocks, device GiB 0,
//! and the GiBs of the image and the DTB in the direct map, all in TTBR1), enable the MMU,
//! switch to the boot stack at its high address, and call [`crate::boot::boot_main`], which
//! builds the final tables and drops the identity map.
//!
//! With HCR_EL2.E2H = 1, the `*_EL1` system-register names used at EL2 (SCTLR, TCR, MAIR,
//! TTBR0/1, VBAR, ELR, SPSR, ESR, FAR, CPACR) access the `*_EL2` registers (Arm ARM D5.6.2
//! "Virtualization Host Extensions"), so the same code serves EL2 (VHE) and EL1.

use crate::mmu;

/// Size of the boot CPU's stack (also the stack `levitate_main` runs on).
pub const BOOT_STACK_SIZE: usize = 128 * 1024;

/// HCR_EL2 for running the host kernel at EL2: E2H (VHE), TGE (EL0 belongs to EL2), RW.
const HCR_VHE: u64 = (1 << 34) | (1 << 31) | (1 << 27);
/// HCR_EL2 before dropping to EL1: only RW (EL1 is AArch64), no traps.
const HCR_EL1_HOST: u64 = 1 << 31;
/// SCTLR_EL1 (and SCTLR_EL2 with E2H) RES1 bits of Armv8.0: 29, 28, 23, 22, 20, 11.
const SCTLR_RES1: u64 = (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11);
/// SCTLR with the MMU on: M, C, SA, I, plus DZE/UCT/UCI so EL0 may use DC ZVA and read CTR,
/// SA0 so a misaligned EL0 stack pointer faults (SIGBUS on Linux) like the kernel's, and
/// nTWI/nTWE so EL0's WFI/WFE just wait (an interrupt ends the wait and exits to the kernel)
/// instead of trapping, which Linux programs never see either.
const SCTLR_MMU_ON: u64 = SCTLR_RES1
    | 1
    | (1 << 2)
    | (1 << 3)
    | (1 << 4)
    | (1 << 12)
    | (1 << 14)
    | (1 << 15)
    | (1 << 16)
    | (1 << 18)
    | (1 << 26);
/// CPACR_EL1.FPEN = 0b11 (also CPTR_EL2.FPEN with E2H): FP/SIMD not trapped.
const CPACR_FPEN: u64 = 3 << 20;
/// CPTR_EL2 without E2H: RES1 bits 13:12 and 9:0, TFP (bit 10) clear.
const CPTR_EL2_NO_TRAPS: u64 = 0x33ff;
/// SPSR for the eret to EL1: EL1h, D, A, I, F masked.
const SPSR_EL1H_MASKED: u64 = 0x3c5;

core::arch::global_asm!(
    r#"
    .section .text.head, "ax"
    .global _start
_start:
    b       __primary_entry
    .long   0
    .quad   0
    .quad   __image_size
    .quad   0xa
    .quad   0
    .quad   0
    .quad   0
    .ascii  "ARM\x64"
    .long   0

    .section .text.boot, "ax"
__primary_entry:
    mov     x19, x0
    adr     x20, _start
    msr     daifset, #0xf
    msr     spsel, #1
    mrs     x0, CurrentEL
    ubfx    x0, x0, #2, #2
    cmp     x0, #2
    b.eq    __at_el2
    cmp     x0, #1
    b.eq    __at_el1
    b       __boot_halt

__at_el2:
    mrs     x1, ID_AA64MMFR1_EL1
    ubfx    x1, x1, #8, #4
    cbz     x1, __drop_to_el1
    ldr     x0, ={hcr_vhe}
    msr     hcr_el2, x0
    isb
    msr     tpidr_el2, xzr
    mov     x0, #{cpacr_fpen}
    msr     cptr_el2, x0
    msr     cntvoff_el2, xzr
    mov     x21, #2
    b       __el_chosen

__drop_to_el1:
    ldr     x0, ={hcr_el1}
    msr     hcr_el2, x0
    mov     x0, #3
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #{cptr_no_traps}
    msr     cptr_el2, x0
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    mrs     x0, ID_AA64PFR0_EL1
    ubfx    x0, x0, #24, #4
    cbz     x0, 1f
    mov     x0, #0xf
    msr     icc_sre_el2, x0
    isb
1:  ldr     x0, ={sctlr_off}
    msr     sctlr_el1, x0
    mov     x0, #{spsr_el1h}
    msr     spsr_el2, x0
    adr     x0, __at_el1
    msr     elr_el2, x0
    eret

__at_el1:
    mov     x0, #{cpacr_fpen}
    msr     cpacr_el1, x0
    mov     x21, #1

__el_chosen:
    msr     tpidr_el1, xzr
    isb
    /* Move the DTB past the image if it overlaps bss (the loader only knew the file size). */
    cbz     x19, 2f
    ldr     w2, [x19, #4]
    rev     w2, w2
    adrp    x3, __bss_start
    add     x3, x3, :lo12:__bss_start
    adrp    x4, __kernel_end
    add     x5, x19, x2
    cmp     x19, x4
    b.hs    2f
    cmp     x5, x3
    b.ls    2f
    add     x2, x2, #7
    bic     x2, x2, #7
1:  subs    x2, x2, #8
    ldr     x6, [x19, x2]
    str     x6, [x4, x2]
    b.ne    1b
    mov     x19, x4
2:
    /* Zero bss (16-byte aligned at both ends by the linker script). */
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
1:  cmp     x0, x1
    b.hs    2f
    stp     xzr, xzr, [x0], #16
    b       1b
2:
    ldr     x4, ={normal_block}
    /* TTBR0: identity map of the GiB holding the image. */
    adrp    x0, __boot_l0_low
    adrp    x1, __boot_l1_low
    lsr     x2, x20, #39
    and     x2, x2, #511
    orr     x3, x1, #3
    str     x3, [x0, x2, lsl #3]
    lsr     x2, x20, #30
    lsl     x3, x2, #30
    and     x2, x2, #511
    orr     x3, x3, x4
    str     x3, [x1, x2, lsl #3]
    /* TTBR1 root: slot 0 = direct map, slot 511 = kernel image. */
    adrp    x0, __boot_l0_high
    adrp    x1, __boot_l1_dm
    orr     x3, x1, #3
    str     x3, [x0]
    adrp    x2, __boot_l1_kernel
    orr     x3, x2, #3
    str     x3, [x0, #4088]
    /* Direct map: GiB 0 (devices), the GiB of the image, the GiB of the DTB (one level-1
       table: both must lie below 512 GiB, as on virt). */
    ldr     x3, ={device_block}
    str     x3, [x1]
    lsr     x2, x20, #30
    and     x2, x2, #511
    lsl     x3, x2, #30
    orr     x3, x3, x4
    str     x3, [x1, x2, lsl #3]
    lsr     x2, x19, #30
    and     x2, x2, #511
    cbz     x2, 1f
    lsl     x3, x2, #30
    orr     x3, x3, x4
    str     x3, [x1, x2, lsl #3]
1:
    /* Kernel image: L1[510] -> L2, L2[i] = 2 MiB blocks from the load address. */
    adrp    x0, __boot_l1_kernel
    adrp    x1, __boot_l2_kernel
    orr     x3, x1, #3
    str     x3, [x0, #4080]
    ldr     x2, =__image_size
    sub     x2, x2, #1
    lsr     x2, x2, #21
    add     x2, x2, #1
    orr     x3, x20, x4
    mov     x5, #0x200000
1:  str     x3, [x1], #8
    add     x3, x3, x5
    subs    x2, x2, #1
    b.ne    1b

    /* MMU on: MAIR, TCR (IPS from the CPU's PA range, at most 48 bits), TTBRs, SCTLR. */
    ldr     x0, ={mair}
    msr     mair_el1, x0
    ldr     x0, ={tcr}
    mrs     x1, ID_AA64MMFR0_EL1
    and     x1, x1, #7
    cmp     x1, #5
    mov     x2, #5
    csel    x1, x1, x2, ls
    bfi     x0, x1, #32, #3
    msr     tcr_el1, x0
    adrp    x0, __boot_l0_low
    msr     ttbr0_el1, x0
    adrp    x0, __boot_l0_high
    msr     ttbr1_el1, x0
    isb
    tlbi    vmalle1
    ic      iallu
    dsb     nsh
    isb
    ldr     x0, ={sctlr_on}
    msr     sctlr_el1, x0
    isb

    /* Now at the identity address with the MMU on: continue at the link address. */
    ldr     x0, =__boot_stack_top
    mov     sp, x0
    ldr     x0, =__boot_high
    br      x0

__boot_high:
    ldr     x0, =__vectors
    msr     vbar_el1, x0
    isb
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    mov     x29, xzr
    mov     x30, xzr
    bl      {boot_main}
__boot_halt:
    wfe
    b       __boot_halt
    .ltorg

    .section .bss.boot_tables, "aw", @nobits
    .balign 4096
    .global __boot_l0_low
__boot_l0_low:      .space 4096
__boot_l1_low:      .space 4096
__boot_l0_high:     .space 4096
__boot_l1_dm:       .space 4096
__boot_l1_kernel:   .space 4096
__boot_l2_kernel:   .space 4096
    .balign 16
__boot_stack:       .space {stack_size}
    .global __boot_stack_top
__boot_stack_top:
"#,
    hcr_vhe = const HCR_VHE,
    hcr_el1 = const HCR_EL1_HOST,
    cpacr_fpen = const CPACR_FPEN,
    cptr_no_traps = const CPTR_EL2_NO_TRAPS,
    sctlr_off = const SCTLR_RES1,
    sctlr_on = const SCTLR_MMU_ON,
    spsr_el1h = const SPSR_EL1H_MASKED,
    normal_block = const mmu::BOOT_NORMAL_BLOCK,
    device_block = const mmu::BOOT_DEVICE_BLOCK,
    mair = const mmu::MAIR_VALUE,
    tcr = const mmu::TCR_VALUE,
    stack_size = const BOOT_STACK_SIZE,
    boot_main = sym crate::boot::boot_main,
);
