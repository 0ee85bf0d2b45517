/* executor/sync_semaphore.c - the async counting semaphore, FIFO-fair.
 *
 * Released permits go to the head of the queue first: a waiter wanting
 * more than is available holds back the ones behind it, so large requests
 * are never starved by a stream of small ones. Granted permits are taken
 * off the count when granted; a waiter dropped before it saw the grant
 * gives them back, which grants the next waiters. */
#include "executor/sync_waitq.h"

typedef struct ax__sem {
    ax__spin lock;
    uint32_t closed;
    size_t permits;
    ax__waitq q;
} ax__sem;

_Static_assert(sizeof(ax__sem) <= sizeof(ax_semaphore), "ax_semaphore too small");

static ax__sem *sm(ax_semaphore *s) {
    return (ax__sem *)(void *)s;
}

void ax_semaphore_init(ax_semaphore *s, size_t permits) {
    *sm(s) = (ax__sem){.lock = AX__SPIN_INIT, .permits = permits};
}

/* Under the lock: grants waiters from the head; with the lock held on
 * entry, returns with it released after waking them in batches. */
static void grant_unlock(ax__sem *x) {
    ax__wakebatch b;
    b.n = 0;
    for (;;) {
        while (x->q.head && x->q.head->arg <= x->permits && !ax__wakebatch_full(&b)) {
            x->permits -= x->q.head->arg;
            ax__wakebatch_take_head(&b, &x->q, 0);
        }
        bool more = ax__wakebatch_full(&b);
        ax__spin_unlock(&x->lock);
        ax__wakebatch_run(&b);
        if (!more) return;
        ax__spin_lock(&x->lock);
    }
}

int ax_semaphore_try_acquire(ax_semaphore *s, size_t n) {
    ax__sem *x = sm(s);
    int r = AX_EAGAIN;
    ax__spin_lock(&x->lock);
    if (x->closed) {
        r = AX_ECLOSED;
    } else if (!x->q.head && x->permits >= n) {
        x->permits -= n;
        r = 0;
    }
    ax__spin_unlock(&x->lock);
    return r;
}

void ax_semaphore_release(ax_semaphore *s, size_t n) {
    ax__sem *x = sm(s);
    ax__spin_lock(&x->lock);
    x->permits += n;
    grant_unlock(x);
}

void ax_semaphore_close(ax_semaphore *s) {
    ax__sem *x = sm(s);
    ax__wakebatch b;
    b.n = 0;
    ax__spin_lock(&x->lock);
    x->closed = 1;
    for (;;) {
        while (x->q.head && !ax__wakebatch_full(&b)) ax__wakebatch_take_head(&b, &x->q, AX_ECLOSED);
        bool more = x->q.head != NULL;
        ax__spin_unlock(&x->lock);
        ax__wakebatch_run(&b);
        if (!more) return;
        ax__spin_lock(&x->lock);
    }
}

size_t ax_semaphore_available(const ax_semaphore *s) {
    ax__sem *x = sm((ax_semaphore *)s);
    ax__spin_lock(&x->lock);
    size_t n = x->permits;
    ax__spin_unlock(&x->lock);
    return n;
}

static ax_poll sem_poll(ax_future *f, ax_context *cx) {
    ax_semaphore_acquire_future *af = (ax_semaphore_acquire_future *)f;
    ax__waiter *w = ax__waiter_of(&af->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__sem *x = sm(af->s);
    ax_waker old = {0};
    ax_poll p = AX_PENDING;
    int r = 0;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_IDLE) {
        if (x->closed) {
            r = AX_ECLOSED;
            p = AX_READY;
        } else if (!x->q.head && x->permits >= w->arg) {
            x->permits -= w->arg;
            p = AX_READY;
        } else {
            ax__waitq_push(&x->q, w, cx->waker);
        }
    } else if (w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
    } else {
        r = w->err;
        p = AX_READY;
    }
    if (p == AX_READY) w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&old);
    if (p == AX_READY) f->result = r;
    return p;
}

static void sem_drop(ax_future *f) {
    ax_semaphore_acquire_future *af = (ax_semaphore_acquire_future *)f;
    ax__waiter *w = ax__waiter_of(&af->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__sem *x = sm(af->s);
    ax_waker mine = {0};
    ax__spin_lock(&x->lock);
    /* Leaving the head may let smaller requests behind it through. */
    if (!ax__waitq_leave(&x->q, w, &mine) && w->err == 0) {
        x->permits += w->arg; /* granted, never collected */
    }
    w->own = AX__O_DONE;
    grant_unlock(x);
    ax_waker_drop(&mine);
}

static const ax_future_vtable sem_vtable = {sem_poll, sem_drop};

void ax_semaphore_acquire_future_init(ax_semaphore_acquire_future *f, ax_semaphore *s, size_t n) {
    f->base.vtable = &sem_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, 0, n);
    f->s = s;
}

int ax_semaphore_acquire(ax_semaphore *s, size_t n, ax_instant deadline) {
    ax_semaphore_acquire_future f;
    ax_semaphore_acquire_future_init(&f, s, n);
    return (int)ax_await_until(&f.base, deadline);
}
