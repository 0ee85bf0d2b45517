/* executor/fiber_x86_64.S - context switch for x86-64 System V (Linux, BSD,
 * macOS; on Mach-O with underscore-prefixed symbols and .private_extern,
 * without ELF's .type/.size/.note.GNU-stack, assembled and linked for
 * x86_64-macos by make check-macos-compile). The Windows x64 ABI
 * (xmm6-xmm15, TIB stack limits) needs its own file.
 *
 * A suspended context is its stack pointer; the stack holds, from low to high:
 *
 *     sp+0   x87 control word (2 bytes), pad, MXCSR at sp+4
 *     sp+8   r15
 *     sp+16  r14
 *     sp+24  r13   (first entry: arg)
 *     sp+32  r12   (first entry: entry function)
 *     sp+40  rbx
 *     sp+48  rbp   (first entry: 0, ends frame-pointer chains)
 *     sp+56  return address (first entry: ax__fiber_trampoline)
 *
 * executor/fiber.c builds that frame for a new fiber; keep the two in step.
 * Only the control bits of MXCSR and the x87 control word are callee-saved
 * by the ABI, but saving whole words is simpler and as cheap.
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
    .type \name, @function
    .p2align 4
\name:
.endm
.macro ax_func_end name
    .size \name, . - \name
.endm
#endif

    .text

/* void ax__fiber_swap(void **save_sp, void *new_sp)
 * Saves the current context, stores its stack pointer in *save_sp, and
 * resumes the context whose stack pointer is new_sp. The CFI stays right
 * after the stack switch because both stacks hold the same frame layout. */
ax_func_begin AX_SYM(ax__fiber_swap)
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    fnstcw (%rsp)
    stmxcsr 4(%rsp)

    movq %rsp, (%rdi)
    movq %rsi, %rsp

    fldcw (%rsp)
    ldmxcsr 4(%rsp)
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    ret
    .cfi_endproc
ax_func_end AX_SYM(ax__fiber_swap)

/* First code a new fiber runs, reached by the `ret` of ax__fiber_swap with
 * r12 = entry, r13 = arg and rsp 16-byte aligned, so entry's call sees the
 * ABI alignment. The return address is marked undefined: debuggers and
 * unwinders stop here instead of walking into whatever lies above the stack.
 * entry must not return; if it does, ud2 faults loudly. */
ax_func_begin AX_SYM(ax__fiber_trampoline)
    .cfi_startproc
    .cfi_undefined %rip
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
ax_func_end AX_SYM(ax__fiber_trampoline)

#if defined(__ELF__)
    .section .note.GNU-stack,"",@progbits
#endif
