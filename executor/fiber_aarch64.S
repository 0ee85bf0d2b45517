/* executor/fiber_aarch64.S - context switch for AArch64 (AAPCS64: Linux, BSD,
 * and Apple's arm64 ABI, which differs here only in what the assembler
 * sees: Mach-O symbols take a leading underscore (AX_SYM), hiding is
 * .private_extern instead of ELF's .hidden, and there is no .type, .size
 * or .note.GNU-stack; make check-macos-compile assembles and links it for
 * aarch64-macos).
 *
 * A suspended context is its stack pointer; the stack holds a 160-byte frame:
 *
 *     sp+0    x19 (first entry: entry function)   sp+8   x20 (first entry: arg)
 *     sp+16   x21 .. sp+72 x28
 *     sp+80   x29 (first entry: 0, ends frame-record chains)
 *     sp+88   x30 (first entry: ax__fiber_trampoline)
 *     sp+96   d8 .. sp+152 d15
 *
 * executor/fiber.c builds that frame for a new fiber; keep the two in step.
 * x18 is the platform register (reserved on Apple, where the kernel may
 * change it at any time, and on Windows): never read, saved or written.
 * FPCR is not switched: the brief's register set is the AAPCS64 callee-saved
 * set, and writing FPCR is slow on several cores.
 */

#if defined(__APPLE__)
#define AX_SYM(name) _##name
.macro ax_func_begin name
    .globl \name
    .private_extern \name
    .p2align 4
\name:
.endm
.macro ax_func_end name
.endm
#else
#define AX_SYM(name) name
.macro ax_func_begin name
    .globl \name
    .hidden \name
    .type \name, %function
    .p2align 4
\name:
.endm
.macro ax_func_end name
    .size \name, . - \name
.endm
#endif

#define AX_FRAME 160

    .text

/* void ax__fiber_swap(void **save_sp, void *new_sp)
 * Saves the current context, stores its stack pointer in *save_sp, and
 * resumes the context whose stack pointer is new_sp. */
ax_func_begin AX_SYM(ax__fiber_swap)
    .cfi_startproc
    sub sp, sp, #AX_FRAME
    .cfi_adjust_cfa_offset AX_FRAME
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    .cfi_rel_offset x19, 0
    .cfi_rel_offset x20, 8
    .cfi_rel_offset x21, 16
    .cfi_rel_offset x22, 24
    .cfi_rel_offset x23, 32
    .cfi_rel_offset x24, 40
    .cfi_rel_offset x25, 48
    .cfi_rel_offset x26, 56
    .cfi_rel_offset x27, 64
    .cfi_rel_offset x28, 72
    .cfi_rel_offset x29, 80
    .cfi_rel_offset x30, 88
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]

    mov x9, sp
    str x9, [x0]
    mov sp, x1

    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    add sp, sp, #AX_FRAME
    .cfi_adjust_cfa_offset -AX_FRAME
    .cfi_restore x19
    .cfi_restore x20
    .cfi_restore x21
    .cfi_restore x22
    .cfi_restore x23
    .cfi_restore x24
    .cfi_restore x25
    .cfi_restore x26
    .cfi_restore x27
    .cfi_restore x28
    .cfi_restore x29
    .cfi_restore x30
    ret
    .cfi_endproc
ax_func_end AX_SYM(ax__fiber_swap)

/* First code a new fiber runs, reached by the `ret` of ax__fiber_swap with
 * x19 = entry, x20 = arg and sp 16-byte aligned. The return address is
 * marked undefined so debuggers and unwinders stop here. entry must not
 * return; if it does, brk traps loudly. */
ax_func_begin AX_SYM(ax__fiber_trampoline)
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x20
    blr x19
    brk #0x1
    .cfi_endproc
ax_func_end AX_SYM(ax__fiber_trampoline)

#if defined(__ELF__)
    .section .note.GNU-stack,"",%progbits
#endif
