/* executor/sync_once.c - run an initialisation exactly once.
 *
 * `state` is read without the lock on the fast path (acquire, pairing with
 * the release that publishes DONE), so a done once costs one load. While
 * fn runs, later callers wait on the queue. Success wakes them all; failure
 * wakes one, which takes its turn to run its own fn (and a waiter that is
 * dropped after such a wake passes it on, so a turn is never lost). */
#include <stdatomic.h>

#include "axon/task.h"
#include "executor/sync_waitq.h"

enum { ONCE_INIT = 0, ONCE_RUNNING = 1, ONCE_DONE = 2 };

typedef struct ax__once {
    _Atomic uint32_t state;
    ax__spin lock;
    ax__waitq q;
} ax__once;

_Static_assert(sizeof(ax__once) <= sizeof(ax_once), "ax_once too small");

static ax__once *on(ax_once *o) {
    return (ax__once *)(void *)o;
}

void ax_once_init(ax_once *o) {
    ax__once *x = on(o);
    atomic_init(&x->state, ONCE_INIT);
    x->lock = (ax__spin)AX__SPIN_INIT;
    x->q = (ax__waitq){0};
}

bool ax_once_is_done(const ax_once *o) {
    return atomic_load_explicit(&on((ax_once *)o)->state, memory_order_acquire) == ONCE_DONE;
}

/* A future that is ready when the once is no longer RUNNING. Private: it
 * is only ever awaited by ax_once_call. */
typedef struct once_wait {
    ax_future base;
    ax_sync_waiter waiter;
    ax__once *o;
} once_wait;

/* Under the lock, after a failed run: give one waiter its turn. */
static void pass_turn_locked(ax__once *x, ax_waker *wake) {
    if (x->q.head) ax__waitq_wake_head(&x->q, 0, wake);
}

static ax_poll once_wait_poll(ax_future *f, ax_context *cx) {
    once_wait *ow = (once_wait *)f;
    ax__waiter *w = ax__waiter_of(&ow->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__once *x = ow->o;
    ax_waker old = {0};
    ax_poll p = AX_PENDING;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_IDLE) {
        if (atomic_load_explicit(&x->state, memory_order_relaxed) != ONCE_RUNNING)
            p = AX_READY;
        else
            ax__waitq_push(&x->q, w, cx->waker);
    } else if (w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
    } else {
        p = AX_READY;
    }
    if (p == AX_READY) w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&old);
    f->result = 0;
    return p;
}

static void once_wait_drop(ax_future *f) {
    once_wait *ow = (once_wait *)f;
    ax__waiter *w = ax__waiter_of(&ow->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__once *x = ow->o;
    ax_waker mine = {0}, wake = {0};
    ax__spin_lock(&x->lock);
    if (!ax__waitq_leave(&x->q, w, &mine) &&
        atomic_load_explicit(&x->state, memory_order_relaxed) == ONCE_INIT) {
        pass_turn_locked(x, &wake);
    }
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&mine);
    ax_waker_wake(&wake);
}

static const ax_future_vtable once_wait_vtable = {once_wait_poll, once_wait_drop};

/* Runs fn as the initialiser and publishes the outcome. */
static int run_init(ax__once *x, int (*fn)(void *), void *arg) {
    int r = fn(arg);
    ax__wakebatch b;
    b.n = 0;
    ax_waker wake = {0};
    ax__spin_lock(&x->lock);
    if (r >= 0) {
        atomic_store_explicit(&x->state, ONCE_DONE, memory_order_release);
        for (;;) {
            while (x->q.head && !ax__wakebatch_full(&b)) ax__wakebatch_take_head(&b, &x->q, 0);
            bool more = x->q.head != NULL;
            ax__spin_unlock(&x->lock);
            ax__wakebatch_run(&b);
            if (!more) break;
            ax__spin_lock(&x->lock);
        }
        return 0;
    }
    atomic_store_explicit(&x->state, ONCE_INIT, memory_order_relaxed);
    pass_turn_locked(x, &wake);
    ax__spin_unlock(&x->lock);
    ax_waker_wake(&wake);
    return r;
}

int ax_once_call(ax_once *o, int (*fn)(void *arg), void *arg) {
    ax__once *x = on(o);
    if (atomic_load_explicit(&x->state, memory_order_acquire) == ONCE_DONE) return 0;
    if (ax_current_task_id() == 0) return AX_ENOTASK;
    for (;;) {
        ax__spin_lock(&x->lock);
        uint32_t s = atomic_load_explicit(&x->state, memory_order_relaxed);
        if (s == ONCE_INIT) atomic_store_explicit(&x->state, ONCE_RUNNING, memory_order_relaxed);
        ax__spin_unlock(&x->lock);
        if (s == ONCE_DONE) return 0; /* the spinlock ordered us after fn */
        if (s == ONCE_INIT) return run_init(x, fn, arg);
        once_wait ow = {.base = {.vtable = &once_wait_vtable}, .o = x};
        ax__waiter_init(&ow.waiter, 0, 0);
        intptr_t r = ax_await(&ow.base);
        if (r < 0) return (int)r;
    }
}
