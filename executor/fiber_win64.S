/* executor/fiber_win64.S - context switch for the x86-64 Windows ABI
 * (mingw-w64, PE/COFF). Besides the System V set it saves rdi, rsi and
 * xmm6-xmm15 (callee-saved on Windows) and the three Thread Information
 * Block words that describe the running stack: StackBase (gs:0x08),
 * StackLimit (gs:0x10) and DeallocationStack (gs:0x1478). Each fiber keeps
 * its own, so structured exception handling, stack probes and the system's
 * guard-page handling see the fiber's stack, not the thread's.
 *
 * A suspended context is its stack pointer; the stack holds, from low to
 * high (8-byte slots):
 *
 *     sp+0    x87 control word (2 bytes), pad, MXCSR at sp+4
 *     sp+8    xmm6 .. xmm15 (16 bytes each, up to sp+168)
 *     sp+168  StackLimit
 *     sp+176  StackBase
 *     sp+184  DeallocationStack
 *     sp+192  r15
 *     sp+200  r14
 *     sp+208  r13   (first entry: arg)
 *     sp+216  r12   (first entry: entry function)
 *     sp+224  rsi
 *     sp+232  rdi
 *     sp+240  rbx
 *     sp+248  rbp   (first entry: 0)
 *     sp+256  return address (first entry: ax__fiber_trampoline)
 *
 * executor/fiber.c builds that frame for a new fiber; keep the two in step.
 */

    .text

/* void ax__fiber_swap(void **save_sp (rcx), void *new_sp (rdx)) */
    .globl ax__fiber_swap
    .def ax__fiber_swap; .scl 2; .type 32; .endef
    .p2align 4
ax__fiber_swap:
    pushq %rbp
    pushq %rbx
    pushq %rdi
    pushq %rsi
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $192, %rsp
    fnstcw (%rsp)
    stmxcsr 4(%rsp)
    movups %xmm6, 8(%rsp)
    movups %xmm7, 24(%rsp)
    movups %xmm8, 40(%rsp)
    movups %xmm9, 56(%rsp)
    movups %xmm10, 72(%rsp)
    movups %xmm11, 88(%rsp)
    movups %xmm12, 104(%rsp)
    movups %xmm13, 120(%rsp)
    movups %xmm14, 136(%rsp)
    movups %xmm15, 152(%rsp)
    movq %gs:0x10, %rax
    movq %rax, 168(%rsp)
    movq %gs:0x08, %rax
    movq %rax, 176(%rsp)
    movq %gs:0x1478, %rax
    movq %rax, 184(%rsp)

    movq %rsp, (%rcx)
    movq %rdx, %rsp

    movq 168(%rsp), %rax
    movq %rax, %gs:0x10
    movq 176(%rsp), %rax
    movq %rax, %gs:0x08
    movq 184(%rsp), %rax
    movq %rax, %gs:0x1478
    fldcw (%rsp)
    ldmxcsr 4(%rsp)
    movups 8(%rsp), %xmm6
    movups 24(%rsp), %xmm7
    movups 40(%rsp), %xmm8
    movups 56(%rsp), %xmm9
    movups 72(%rsp), %xmm10
    movups 88(%rsp), %xmm11
    movups 104(%rsp), %xmm12
    movups 120(%rsp), %xmm13
    movups 136(%rsp), %xmm14
    movups 152(%rsp), %xmm15
    addq $192, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rsi
    popq %rdi
    popq %rbx
    popq %rbp
    ret

/* First code a new fiber runs, reached by the `ret` of ax__fiber_swap with
 * r12 = entry, r13 = arg and rsp 16-byte aligned on two zero slots. It
 * reserves the 32-byte home area the callee may use (plus 16 to stay
 * aligned) and says so in its unwind data, so an unwinder walking up from
 * entry finds the zero return address above and stops there. entry must
 * not return; if it does, ud2 faults loudly. */
    .globl ax__fiber_trampoline
    .def ax__fiber_trampoline; .scl 2; .type 32; .endef
    .p2align 4
    .seh_proc ax__fiber_trampoline
ax__fiber_trampoline:
    subq $48, %rsp
    .seh_stackalloc 48
    .seh_endprologue
    movq %r13, %rcx
    callq *%r12
    ud2
    .seh_endproc
