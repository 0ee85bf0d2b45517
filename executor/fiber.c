/* executor/fiber.c - fibers over the per-ABI switch in fiber_<arch>.S, with
 * the AddressSanitizer and ThreadSanitizer annotations. Without sanitizers
 * ax__fiber_switch is a tail call into the assembly.
 */
#include "executor/fiber.h"

#include <stdint.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AX_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define AX_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(AX_ASAN)
#define AX_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(AX_TSAN)
#define AX_TSAN 1
#endif

#define AX_HIDDEN __attribute__((visibility("hidden")))

/* fiber_<arch>.S. Hidden, so the shared library calls them directly. */
AX_HIDDEN void ax__fiber_swap(void **save_sp, void *new_sp);
AX_HIDDEN void ax__fiber_trampoline(void);

#ifdef AX_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif
#ifdef AX_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* The initial frame ax__fiber_swap pops for a new fiber (see the .S file),
 * in 8-byte slots from the new stack pointer up, followed by two spare slots
 * below the top: the trampoline's stack pointer lands 16-byte aligned on
 * them, and the ASan build keeps the real entry and arg there. */
#if defined(_WIN64)
/* fiber_win64.S: xmm6-xmm15, the TIB stack words, rsi and rdi as well. */
enum {
    FRAME_SLOTS = 33,
    SLOT_ENTRY = 27,
    SLOT_ARG = 26,
    SLOT_RET = 32,
    SLOT_FPU = 0,
    SLOT_TIB_LIMIT = 21,
    SLOT_TIB_BASE = 22,
    SLOT_TIB_DEALLOC = 23
};
#define FPU_INIT ((uint64_t)0x1f80 << 32 | 0x037f)
#elif defined(__x86_64__)
enum { FRAME_SLOTS = 8, SLOT_ENTRY = 4, SLOT_ARG = 3, SLOT_RET = 7, SLOT_FPU = 0 };
/* x87 control word 0x037f (all exceptions masked, extended precision, round
 * to nearest) and MXCSR 0x1f80 (the same for SSE): the ABI's initial state,
 * so a new fiber does not inherit whatever rounding mode its creator set. */
#define FPU_INIT ((uint64_t)0x1f80 << 32 | 0x037f)
#elif defined(__aarch64__)
enum { FRAME_SLOTS = 20, SLOT_ENTRY = 0, SLOT_ARG = 1, SLOT_RET = 11 };
#else
#error "executor/fiber.c: no context switch for this architecture"
#endif

#ifdef AX_ASAN
/* A new fiber must tell ASan it arrived before running user code, so under
 * ASan the trampoline calls asan_start, which finds the real entry in the
 * spare slots at the top of the stack. */
struct start {
    void (*entry)(void *);
    void *arg;
};

/* The fiber being left, so the one arriving can learn its stack bounds.
 * Touched only in noinline functions: a fiber may resume on another thread,
 * and a thread-local address must never be cached across a switch. */
static __thread ax__fiber *asan_leaving;

__attribute__((noinline)) static void asan_leave(ax__fiber *from, void **fake,
                                                 const ax__fiber *to) {
    asan_leaving = from;
    __sanitizer_start_switch_fiber(fake, to->lo, to->size);
}

/* A thread fiber's bounds are learned here, from ASan itself, when the thread
 * first switches away: exactly the bounds ASan had for it. */
__attribute__((noinline)) static void asan_arrive(void *fake) {
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(fake, &lo, &size);
    ax__fiber *prev = asan_leaving;
    asan_leaving = NULL;
    if (prev && !prev->lo) {
        prev->lo = lo;
        prev->size = size;
    }
}

static void asan_start(void *p) {
    struct start *s = p;
    asan_arrive(NULL);
    s->entry(s->arg);
    __builtin_trap();
}
#endif

void ax__fiber_init_thread(ax__fiber *f) {
    f->sp = NULL;
    /* lo == NULL marks a thread fiber (ASan fills it in at the first switch
     * away; TSan builds keep it NULL so ax__fiber_destroy leaves the
     * thread's own TSan state alone). */
    f->lo = NULL;
    f->size = 0;
    f->asan_fake = NULL;
#ifdef AX_TSAN
    f->tsan = __tsan_get_current_fiber();
#else
    f->tsan = NULL;
#endif
}

void ax__fiber_init(ax__fiber *f, ax__stack *s, void (*entry)(void *), void *arg) {
    char *lo = ax__stack_lo(s);
    uintptr_t hi = (uintptr_t)ax__stack_hi(s) & ~(uintptr_t)15;
    void **top = (void **)hi - 2;
    void **frame = top - FRAME_SLOTS;

#ifdef AX_ASAN
    /* Frames of the stack's previous fiber never returned, so their redzones
     * are still poisoned; a new fiber must start clean. */
    __asan_unpoison_memory_region(lo, hi - (uintptr_t)lo);
    struct start *st = (struct start *)top;
    st->entry = entry;
    st->arg = arg;
    entry = asan_start;
    arg = st;
#else
    top[0] = NULL;
    top[1] = NULL;
#endif
    /* Every other register starts at zero; a zero frame pointer ends
     * frame-pointer walks (profilers, ASan's unwinder) at the trampoline. */
    for (int i = 0; i < FRAME_SLOTS; i++) frame[i] = NULL;
    frame[SLOT_ENTRY] = (void *)entry;
    frame[SLOT_ARG] = arg;
    frame[SLOT_RET] = (void *)ax__fiber_trampoline;
#if defined(__x86_64__)
    frame[SLOT_FPU] = (void *)(uintptr_t)FPU_INIT;
#endif
#if defined(_WIN64)
    /* The stack as Windows sees it while the fiber runs (stack_win.c):
     * committed down to lo, guard pages below, the allocation at map. */
    frame[SLOT_TIB_LIMIT] = lo;
    frame[SLOT_TIB_BASE] = (void *)hi;
    frame[SLOT_TIB_DEALLOC] = s->map;
#endif

    f->sp = frame;
    f->lo = lo;
    f->size = hi - (uintptr_t)lo;
    f->asan_fake = NULL;
#ifdef AX_TSAN
    f->tsan = __tsan_create_fiber(0);
#else
    f->tsan = NULL;
#endif
}

/* TSan: flag 0 (not __tsan_switch_to_fiber_no_sync) makes each switch a
 * happens-before edge, as it is: the fibers of one thread hand data to each
 * other through the scheduler without atomics. */
void ax__fiber_switch(ax__fiber *from, ax__fiber *to) {
#ifdef AX_ASAN
    asan_leave(from, &from->asan_fake, to);
#endif
#ifdef AX_TSAN
    __tsan_switch_to_fiber(to->tsan, 0);
#endif
    ax__fiber_swap(&from->sp, to->sp);
#ifdef AX_ASAN
    asan_arrive(from->asan_fake);
#endif
}

void ax__fiber_switch_final(ax__fiber *from, ax__fiber *to) {
#ifdef AX_ASAN
    /* A NULL save slot tells ASan this stack is done: its fake stack is freed. */
    asan_leave(NULL, NULL, to);
#endif
#ifdef AX_TSAN
    __tsan_switch_to_fiber(to->tsan, 0);
#endif
    ax__fiber_swap(&from->sp, to->sp);
    __builtin_trap(); /* a finished fiber was resumed */
}

void ax__fiber_destroy(ax__fiber *f) {
#ifdef AX_TSAN
    if (f->tsan && f->lo) __tsan_destroy_fiber(f->tsan);
#endif
    f->tsan = NULL;
    f->asan_fake = NULL;
}
