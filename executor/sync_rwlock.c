/* executor/sync_rwlock.c - the async reader-writer lock, FIFO-fair.
 *
 * `state` is -1 while a writer holds the lock, else the number of readers.
 * Waiters queue in arrival order; admit() hands the lock to the head: one
 * writer, or every reader up to the next writer. A reader never passes a
 * queued writer, so writers cannot starve. */
#include "executor/sync_waitq.h"

enum { RW_READ = 0, RW_WRITE = 1 };

typedef struct ax__rwlock {
    ax__spin lock;
    int32_t state;
    ax__waitq q;
} ax__rwlock;

_Static_assert(sizeof(ax__rwlock) <= sizeof(ax_rwlock), "ax_rwlock too small");

static ax__rwlock *rw(ax_rwlock *l) {
    return (ax__rwlock *)(void *)l;
}

void ax_rwlock_init(ax_rwlock *l) {
    *rw(l) = (ax__rwlock){.lock = AX__SPIN_INIT};
}

/* Under the lock: grants the head of the queue whatever it can have now.
 * Fills b; returns with b full only if more may be admitted. */
static void admit(ax__rwlock *x, ax__wakebatch *b) {
    while (x->q.head && !ax__wakebatch_full(b)) {
        if (x->q.head->kind == RW_WRITE) {
            if (x->state != 0) return;
            x->state = -1;
            ax__wakebatch_take_head(b, &x->q, 0);
            return;
        }
        if (x->state < 0) return;
        x->state++;
        ax__wakebatch_take_head(b, &x->q, 0);
    }
}

/* Admits everything admissible, waking in batches outside the lock. Called
 * with the lock held; returns with it released. */
static void admit_all_unlock(ax__rwlock *x) {
    ax__wakebatch b;
    b.n = 0;
    for (;;) {
        admit(x, &b);
        bool more = ax__wakebatch_full(&b);
        ax__spin_unlock(&x->lock);
        ax__wakebatch_run(&b);
        if (!more) return;
        ax__spin_lock(&x->lock);
    }
}

int ax_rwlock_try_read(ax_rwlock *l) {
    ax__rwlock *x = rw(l);
    int r = AX_EAGAIN;
    ax__spin_lock(&x->lock);
    if (x->state >= 0 && !x->q.head) {
        x->state++;
        r = 0;
    }
    ax__spin_unlock(&x->lock);
    return r;
}

int ax_rwlock_try_write(ax_rwlock *l) {
    ax__rwlock *x = rw(l);
    int r = AX_EAGAIN;
    ax__spin_lock(&x->lock);
    if (x->state == 0 && !x->q.head) {
        x->state = -1;
        r = 0;
    }
    ax__spin_unlock(&x->lock);
    return r;
}

static void release_locked(ax__rwlock *x, uint8_t kind) {
    if (kind == RW_WRITE)
        x->state = 0;
    else
        x->state--;
}

void ax_rwlock_read_unlock(ax_rwlock *l) {
    ax__rwlock *x = rw(l);
    ax__spin_lock(&x->lock);
    release_locked(x, RW_READ);
    admit_all_unlock(x);
}

void ax_rwlock_write_unlock(ax_rwlock *l) {
    ax__rwlock *x = rw(l);
    ax__spin_lock(&x->lock);
    release_locked(x, RW_WRITE);
    admit_all_unlock(x);
}

static ax_poll rw_poll(ax_future *f, ax_context *cx) {
    ax_rwlock_future *rf = (ax_rwlock_future *)f;
    ax__waiter *w = ax__waiter_of(&rf->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__rwlock *x = rw(rf->l);
    ax_waker old = {0};
    ax_poll p = AX_PENDING;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_IDLE) {
        bool free_now = w->kind == RW_WRITE ? x->state == 0 : x->state >= 0;
        if (free_now && !x->q.head) {
            if (w->kind == RW_WRITE)
                x->state = -1;
            else
                x->state++;
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

static void rw_drop(ax_future *f) {
    ax_rwlock_future *rf = (ax_rwlock_future *)f;
    ax__waiter *w = ax__waiter_of(&rf->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__rwlock *x = rw(rf->l);
    ax_waker mine = {0};
    ax__spin_lock(&x->lock);
    /* A writer leaving the head may let the readers behind it in. */
    if (!ax__waitq_leave(&x->q, w, &mine)) release_locked(x, w->kind);
    w->own = AX__O_DONE;
    admit_all_unlock(x);
    ax_waker_drop(&mine);
}

static const ax_future_vtable rw_vtable = {rw_poll, rw_drop};

static void rw_future_init(ax_rwlock_future *f, ax_rwlock *l, uint8_t kind) {
    f->base.vtable = &rw_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, kind, 0);
    f->l = l;
}

void ax_rwlock_read_future_init(ax_rwlock_future *f, ax_rwlock *l) {
    rw_future_init(f, l, RW_READ);
}

void ax_rwlock_write_future_init(ax_rwlock_future *f, ax_rwlock *l) {
    rw_future_init(f, l, RW_WRITE);
}

int ax_rwlock_read(ax_rwlock *l, ax_instant deadline) {
    ax_rwlock_future f;
    ax_rwlock_read_future_init(&f, l);
    return (int)ax_await_until(&f.base, deadline);
}

int ax_rwlock_write(ax_rwlock *l, ax_instant deadline) {
    ax_rwlock_future f;
    ax_rwlock_write_future_init(&f, l);
    return (int)ax_await_until(&f.base, deadline);
}
