/* executor/sync_notify.c - tokio-style Notify.
 *
 * notify_one wakes the head waiter or stores one permit. notify_waiters
 * bumps `gen` and wakes the waiters present; a future remembers `gen` at
 * init, so one created before the bump but not yet queued sees the change
 * on its first poll and is notified too. Waiters queued after a bump carry
 * the new generation and sit behind the older ones (the queue is FIFO), so
 * notify_waiters stops at the first of them even when it relocks between
 * batches. */
#include <stdatomic.h>

#include "executor/sync_waitq.h"

enum { NOTIFIED_ONE = 1, NOTIFIED_ALL = 2 };

typedef struct ax__notify {
    ax__spin lock;
    uint32_t permit;
    _Atomic uint64_t gen;
    ax__waitq q;
} ax__notify;

_Static_assert(sizeof(ax__notify) <= sizeof(ax_notify), "ax_notify too small");

static ax__notify *nt(ax_notify *n) {
    return (ax__notify *)(void *)n;
}

void ax_notify_init(ax_notify *n) {
    ax__notify *x = nt(n);
    x->lock = (ax__spin)AX__SPIN_INIT;
    x->permit = 0;
    atomic_init(&x->gen, 0);
    x->q = (ax__waitq){0};
}

/* Under the lock: wake the head with a notify_one, or store the permit. */
static void notify_one_locked(ax__notify *x, ax_waker *wake) {
    if (x->q.head) {
        x->q.head->kind = NOTIFIED_ONE;
        ax__waitq_wake_head(&x->q, 0, wake);
    } else {
        x->permit = 1;
    }
}

void ax_notify_one(ax_notify *n) {
    ax__notify *x = nt(n);
    ax_waker wake = {0};
    ax__spin_lock(&x->lock);
    notify_one_locked(x, &wake);
    ax__spin_unlock(&x->lock);
    ax_waker_wake(&wake);
}

void ax_notify_waiters(ax_notify *n) {
    ax__notify *x = nt(n);
    ax__wakebatch b;
    b.n = 0;
    ax__spin_lock(&x->lock);
    uint64_t gen = atomic_load_explicit(&x->gen, memory_order_relaxed) + 1;
    /* Release pairs with the acquire at future init: a waiter that reads the
     * new generation also sees what the notifier wrote before notifying. */
    atomic_store_explicit(&x->gen, gen, memory_order_release);
    for (;;) {
        while (x->q.head && x->q.head->arg < gen && !ax__wakebatch_full(&b)) {
            x->q.head->kind = NOTIFIED_ALL;
            ax__wakebatch_take_head(&b, &x->q, 0);
        }
        bool more = ax__wakebatch_full(&b);
        ax__spin_unlock(&x->lock);
        ax__wakebatch_run(&b);
        if (!more) return;
        ax__spin_lock(&x->lock);
    }
}

static ax_poll notify_poll(ax_future *f, ax_context *cx) {
    ax_notify_future *nf = (ax_notify_future *)f;
    ax__waiter *w = ax__waiter_of(&nf->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__notify *x = nt(nf->n);
    ax_waker old = {0};
    ax_poll p = AX_PENDING;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_IDLE) {
        if (atomic_load_explicit(&x->gen, memory_order_relaxed) != w->arg) {
            p = AX_READY;
        } else if (x->permit) {
            x->permit = 0;
            p = AX_READY;
        } else {
            ax__waitq_push(&x->q, w, cx->waker);
        }
    } else if (w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
    } else {
        p = AX_READY;
    }
    if (p == AX_READY) w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&old);
    if (p == AX_READY) f->result = 0;
    return p;
}

static void notify_drop(ax_future *f) {
    ax_notify_future *nf = (ax_notify_future *)f;
    ax__waiter *w = ax__waiter_of(&nf->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__notify *x = nt(nf->n);
    ax_waker mine = {0}, wake = {0};
    ax__spin_lock(&x->lock);
    if (!ax__waitq_leave(&x->q, w, &mine) && w->kind == NOTIFIED_ONE) {
        notify_one_locked(x, &wake); /* never seen: pass it on */
    }
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&mine);
    ax_waker_wake(&wake);
}

static const ax_future_vtable notify_vtable = {notify_poll, notify_drop};

void ax_notify_future_init(ax_notify_future *f, ax_notify *n) {
    f->base.vtable = &notify_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, 0, atomic_load_explicit(&nt(n)->gen, memory_order_acquire));
    f->n = n;
}

int ax_notify_wait(ax_notify *n, ax_instant deadline) {
    ax_notify_future f;
    ax_notify_future_init(&f, n);
    return (int)ax_await_until(&f.base, deadline);
}
