/* executor/fiber.h - private: execution contexts, stacks and the stack
 * overflow reporter. Only executor/ includes this.
 *
 * A fiber is a saved stack pointer; ax__fiber_switch saves the callee-saved
 * registers of the current context on its stack, stores the stack pointer in
 * `from`, and resumes `to`. The switch is annotated for AddressSanitizer
 * (__sanitizer_start/finish_switch_fiber) and ThreadSanitizer
 * (__tsan_switch_to_fiber) when those are enabled, so both see each stack as
 * its own.
 */
#ifndef AX_EXECUTOR_FIBER_H
#define AX_EXECUTOR_FIBER_H

#include <stddef.h>
#include <stdint.h>

/* Internal symbols stay out of libaxon.so's dynamic symbol table, so calls
 * between the library's files are direct, not through the PLT. */
#pragma GCC visibility push(hidden)

/* One mmap'd stack: [map, map + guard) is PROT_NONE, the rest usable. */
typedef struct ax__stack {
    struct ax__stack *next; /* free-list link while pooled */
    char *map;              /* start of the mapping (the guard page) */
    size_t map_size;        /* guard + usable */
    size_t guard_size;
} ax__stack;

/* A per-worker cache of stacks of one size. Not thread-safe: one owner. */
typedef struct ax__stack_pool {
    ax__stack *free;
    unsigned count, max;
    size_t usable; /* usable bytes per stack, page multiple */
} ax__stack_pool;

void ax__stack_pool_init(ax__stack_pool *p, size_t usable, unsigned max_cached);
/* Pops a cached stack or maps a new one (guard page below). Returns 0 or
 * AX_ENOMEM (mmap/mprotect failed, e.g. vm.max_map_count reached). */
int ax__stack_get(ax__stack_pool *p, ax__stack **out);
/* Returns s to the cache, or unmaps it if the cache is full. */
void ax__stack_put(ax__stack_pool *p, ax__stack *s);
/* Unmaps cached stacks until at most `keep` are left; returns how many. */
unsigned ax__stack_pool_trim(ax__stack_pool *p, unsigned keep);
/* Unmaps one stack that belongs to no pool. */
void ax__stack_free(ax__stack *s);
/* Unmaps every cached stack. */
void ax__stack_pool_destroy(ax__stack_pool *p);
static inline char *ax__stack_lo(const ax__stack *s) {
    return s->map + s->guard_size;
}
static inline char *ax__stack_hi(const ax__stack *s) {
    return s->map + s->map_size;
}

typedef struct ax__fiber {
    void *sp;        /* saved stack pointer while not running */
    const void *lo;  /* lowest usable stack address (for ASan) */
    size_t size;     /* usable stack size (for ASan) */
    void *tsan;      /* TSan fiber handle, or NULL */
    void *asan_fake; /* ASan fake-stack save slot */
} ax__fiber;

/* Describes the calling thread's own stack as a fiber, so it can be
 * switched away from and back to. */
void ax__fiber_init_thread(ax__fiber *f);

/* Prepares f to run entry(arg) on stack s the first time it is switched
 * to. entry must never return: it ends by switching away with
 * ax__fiber_switch_final. */
void ax__fiber_init(ax__fiber *f, ax__stack *s, void (*entry)(void *), void *arg);

/* Saves the current context into from and resumes to. Returns when some
 * later switch resumes from. */
void ax__fiber_switch(ax__fiber *from, ax__fiber *to);

/* Like ax__fiber_switch, but the current fiber is finished and will never be
 * resumed (tells ASan to drop its fake stack). from is still written. */
void ax__fiber_switch_final(ax__fiber *from, ax__fiber *to);

/* Releases sanitizer state of a fiber that will not run again (the TSan
 * fiber). Call from another fiber after the final switch. */
void ax__fiber_destroy(ax__fiber *f);

/* Stack overflow reporting.
 * ax__overflow_install installs (once per process; reference counted) a
 * SIGSEGV/SIGBUS handler that runs on an alternate stack and, when the
 * faulting address lies in the guard page of the stack the thread is
 * running, writes "axon: stack overflow in task <id> (stack
 * <lo>-<hi>)\n" to stderr, then re-raises with the previous disposition
 * (chaining to a handler the host installed before, else the default action,
 * so the process dies with SIGSEGV). Faults elsewhere go straight to the
 * previous handler. ax__overflow_uninstall drops the reference and restores
 * the previous handler at zero. Both are thread-safe. Returns 0 or an AX_E*.
 */
int ax__overflow_install(void);
void ax__overflow_uninstall(void);
/* Per thread that runs fibers: map and register an alternate signal stack
 * (and remove it again). Returns 0 or AX_ENOMEM. */
int ax__overflow_thread_init(void);
void ax__overflow_thread_exit(void);
/* Tells the handler which stack the calling thread is running now (guard
 * page bounds and task id); NULL/0 when it runs its own thread stack. Cheap:
 * three thread-local stores. */
void ax__overflow_set_current(const ax__stack *s, uint64_t task_id);

#pragma GCC visibility pop

#endif
