/* executor/sync_mutex.c - the async mutex: FIFO hand-off, no barging.
 *
 * Unlocking with waiters does not clear `locked`: the lock passes straight
 * to the first waiter (marked WOKEN with err 0), so a task that arrives
 * later cannot take it first. A waiter dropped after the hand-off but
 * before it saw it unlocks again, which passes the lock to the next one. */
#include "executor/sync_waitq.h"

typedef struct ax__mutex {
    ax__spin lock;
    uint32_t locked;
    ax__waitq q;
} ax__mutex;

_Static_assert(sizeof(ax__mutex) <= sizeof(ax_mutex), "ax_mutex too small");

static ax__mutex *mx(ax_mutex *m) {
    return (ax__mutex *)(void *)m;
}

void ax_mutex_init(ax_mutex *m) {
    *mx(m) = (ax__mutex){.lock = AX__SPIN_INIT};
}

int ax_mutex_try_lock(ax_mutex *m) {
    ax__mutex *x = mx(m);
    int r = AX_EAGAIN;
    ax__spin_lock(&x->lock);
    if (!x->locked) {
        x->locked = 1;
        r = 0;
    }
    ax__spin_unlock(&x->lock);
    return r;
}

/* Under the lock: hand over to the first waiter, or release. */
static void mutex_release_locked(ax__mutex *x, ax_waker *wake) {
    if (x->q.head)
        ax__waitq_wake_head(&x->q, 0, wake);
    else
        x->locked = 0;
}

void ax_mutex_unlock(ax_mutex *m) {
    ax__mutex *x = mx(m);
    ax_waker wake = {0};
    ax__spin_lock(&x->lock);
    mutex_release_locked(x, &wake);
    ax__spin_unlock(&x->lock);
    ax_waker_wake(&wake);
}

static ax_poll mutex_poll(ax_future *f, ax_context *cx) {
    ax_mutex_lock_future *lf = (ax_mutex_lock_future *)f;
    ax__waiter *w = ax__waiter_of(&lf->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__mutex *x = mx(lf->m);
    ax_waker old = {0};
    ax_poll p = AX_PENDING;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_IDLE) {
        if (!x->locked) {
            x->locked = 1; /* unlocked implies no waiters */
            p = AX_READY;
        } else {
            ax__waitq_push(&x->q, w, cx->waker);
        }
    } else if (w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
    } else {
        p = AX_READY; /* WOKEN: the lock was handed to us */
    }
    if (p == AX_READY) w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&old);
    if (p == AX_READY) f->result = 0;
    return p;
}

static void mutex_drop(ax_future *f) {
    ax_mutex_lock_future *lf = (ax_mutex_lock_future *)f;
    ax__waiter *w = ax__waiter_of(&lf->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__mutex *x = mx(lf->m);
    ax_waker mine = {0}, wake = {0};
    ax__spin_lock(&x->lock);
    if (!ax__waitq_leave(&x->q, w, &mine)) {
        mutex_release_locked(x, &wake); /* granted but never collected */
    }
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&mine);
    ax_waker_wake(&wake);
}

static const ax_future_vtable mutex_vtable = {mutex_poll, mutex_drop};

void ax_mutex_lock_future_init(ax_mutex_lock_future *f, ax_mutex *m) {
    f->base.vtable = &mutex_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, 0, 0);
    f->m = m;
}

int ax_mutex_lock(ax_mutex *m, ax_instant deadline) {
    ax_mutex_lock_future f;
    ax_mutex_lock_future_init(&f, m);
    return (int)ax_await_until(&f.base, deadline);
}
