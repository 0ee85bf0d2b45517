/* reactor/spin.h - internal (used by reactor/ and the layers above): a tiny test-and-test-and-set
 * spinlock for critical sections of a few instructions (waker slots, wheel insert/cancel) where a
 * pthread mutex would cost more than the work it guards. Never held across a fiber switch or a
 * system call. */
#ifndef AX_REACTOR_SPIN_H
#define AX_REACTOR_SPIN_H

#include <stdatomic.h>

typedef struct ax__spin {
    atomic_int locked;
} ax__spin;

#define AX__SPIN_INIT                                                                              \
    { 0 }

static inline void ax__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline void ax__spin_lock(ax__spin *s) {
    for (;;) {
        if (!atomic_exchange_explicit(&s->locked, 1, memory_order_acquire)) return;
        while (atomic_load_explicit(&s->locked, memory_order_relaxed)) ax__cpu_relax();
    }
}

static inline void ax__spin_unlock(ax__spin *s) {
    atomic_store_explicit(&s->locked, 0, memory_order_release);
}

#endif
