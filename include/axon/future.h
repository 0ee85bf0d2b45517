/* axon/future.h - the stackless future protocol under every task.
 *
 * A future is a value that can be polled: poll() returns AX_READY when the
 * outcome is known (then `result` holds it) or AX_PENDING after arranging for
 * the context's waker to be woken when polling again is worthwhile. Leaf
 * operations (timers, I/O readiness, join, signals) are futures; a task waits
 * for one with ax_await(), a plain thread with ax_block_on().
 *
 * Wakers are reference counted like Rust's: a future that needs to wake
 * later clones the waker it was given (ax_waker_clone) and later either wakes
 * it (ax_waker_wake, which releases the clone) or drops it (ax_waker_drop).
 * Waking is thread-safe and may happen after the future was abandoned; a
 * waker whose target has finished ignores the wake.
 *
 * Rules for code that runs inside a task (they hold because a task may
 * resume on another worker thread after any suspension):
 *   - never read errno or any thread-local variable after a suspension point
 *     without re-reading it through a function call; glibc declares
 *     __errno_location() const, so the compiler may reuse the address it
 *     computed before the suspension, which is the old thread's errno;
 *   - never hold a pthread mutex (or any lock that is not Axon's own async
 *     lock) across a suspension point: the unlock could happen on another
 *     thread, and the worker would be blocked for every other task.
 * A suspension point is any call that may suspend: ax_await*, ax_yield,
 * ax_join, ax_sleep*, ax_wait_readable/writable, ax_signal_wait.
 */
#ifndef AXON_FUTURE_H
#define AXON_FUTURE_H

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_runtime ax_runtime;

/* Monotonic time in nanoseconds since an unspecified start (CLOCK_MONOTONIC
 * on Unix). Deadlines are instants; AX_NO_DEADLINE means "wait forever". */
typedef uint64_t ax_instant;
#define AX_NO_DEADLINE ((ax_instant)0)

typedef enum ax_poll { AX_PENDING = 0, AX_READY = 1 } ax_poll;

typedef struct ax_waker_vtable {
    /* Takes a new reference; returns the data pointer for the clone. */
    void *(*clone)(void *data);
    /* Wakes and releases this reference. */
    void (*wake)(void *data);
    /* Wakes and keeps this reference. */
    void (*wake_by_ref)(void *data);
    /* Releases this reference without waking. */
    void (*drop)(void *data);
} ax_waker_vtable;

/* A handle that reschedules whoever is waiting. Copying the struct does not
 * take a reference: use ax_waker_clone for a waker you keep. */
typedef struct ax_waker {
    const ax_waker_vtable *vtable;
    void *data;
} ax_waker;

/* What poll() receives: the waker to wake, and the runtime the poll happens
 * on (leaf futures find their timer wheel and reactor through it). */
typedef struct ax_context {
    const ax_waker *waker;
    ax_runtime *runtime;
} ax_context;

typedef struct ax_future ax_future;

typedef struct ax_future_vtable {
    /* Advances the future. On AX_READY, f->result holds the outcome. Polling
     * a future again after it returned AX_READY returns AX_READY with the
     * same result. Required. */
    ax_poll (*poll)(ax_future *f, ax_context *cx);
    /* Releases what the future holds (registered wakers, timers). Called
     * once when the owner is done with the future, ready or not; after it
     * returns the future's memory may be reused and no wake will touch it.
     * May be NULL when there is nothing to release. */
    void (*drop)(ax_future *f);
} ax_future_vtable;

/* Every future starts with this header. `result` is valid after AX_READY:
 * a non-negative value or a negative AX_E* code; each future documents its
 * own meaning. */
struct ax_future {
    const ax_future_vtable *vtable;
    intptr_t result;
};

static inline ax_waker ax_waker_clone(const ax_waker *w) {
    ax_waker c = {w->vtable, w->vtable->clone(w->data)};
    return c;
}
/* Wakes and releases w; w is empty afterwards. */
static inline void ax_waker_wake(ax_waker *w) {
    if (w->vtable) {
        const ax_waker_vtable *vt = w->vtable;
        w->vtable = NULL;
        vt->wake(w->data);
    }
}
static inline void ax_waker_wake_by_ref(const ax_waker *w) {
    if (w->vtable) w->vtable->wake_by_ref(w->data);
}
/* Releases w without waking; w is empty afterwards. Empty wakers are fine. */
static inline void ax_waker_drop(ax_waker *w) {
    if (w->vtable) {
        const ax_waker_vtable *vt = w->vtable;
        w->vtable = NULL;
        vt->drop(w->data);
    }
}
/* True when both wake the same target (a future may then skip re-cloning). */
static inline bool ax_waker_will_wake(const ax_waker *a, const ax_waker *b) {
    return a->vtable == b->vtable && a->data == b->data;
}

static inline ax_poll ax_future_poll(ax_future *f, ax_context *cx) {
    return f->vtable->poll(f, cx);
}
static inline void ax_future_drop(ax_future *f) {
    if (f->vtable->drop) f->vtable->drop(f);
}

/* Suspends the current task until f is ready and returns f->result; drops f
 * before returning. Returns AX_ECANCELED (and drops f unfinished) if the task
 * is or becomes cancelled, AX_ENOTASK outside a task. Thread: task only. */
intptr_t ax_await(ax_future *f);

/* Like ax_await, but gives up at `deadline` (AX_NO_DEADLINE: never) and
 * returns AX_ETIMEDOUT, dropping f unfinished. The deadline uses the task's
 * own timer storage; no allocation. Thread: task only. */
intptr_t ax_await_until(ax_future *f, ax_instant deadline);

/* Drives f to completion from a plain thread (not a worker of rt), parking
 * the thread between polls. Returns f->result and drops f. Thread-safe; must
 * not be called from inside a task (returns AX_EBUSY there). */
intptr_t ax_block_on(ax_runtime *rt, ax_future *f);

#ifdef __cplusplus
}
#endif
#endif
