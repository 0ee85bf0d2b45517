/* executor/sync_barrier.c - a reusable barrier with a leader.
 *
 * Each round has a generation number. The arrival that completes a round
 * becomes the leader, wakes the round's waiters and starts the next round
 * before it unlocks, so parties of the next round queue behind the old
 * ones with the new generation and are never released early, even while
 * the leader relocks between batches. A waiter that leaves before its round
 * completes takes its arrival back. */
#include "executor/sync_waitq.h"

typedef struct ax__barrier {
    ax__spin lock;
    uint32_t gen;
    uint32_t n;
    uint32_t arrived;
    ax__waitq q;
} ax__barrier;

_Static_assert(sizeof(ax__barrier) <= sizeof(ax_barrier), "ax_barrier too small");

static ax__barrier *br(ax_barrier *b) {
    return (ax__barrier *)(void *)b;
}

int ax_barrier_init(ax_barrier *b, size_t n) {
    if (n == 0 || n > UINT32_MAX) return AX_EINVAL;
    *br(b) = (ax__barrier){.lock = AX__SPIN_INIT, .n = (uint32_t)n};
    return 0;
}

/* Called with the lock held by the leader; releases the round `gen` and
 * returns with the lock released. */
static void release_round_unlock(ax__barrier *x, uint32_t gen) {
    ax__wakebatch b;
    b.n = 0;
    for (;;) {
        while (x->q.head && x->q.head->arg == gen && !ax__wakebatch_full(&b))
            ax__wakebatch_take_head(&b, &x->q, 0);
        bool more = ax__wakebatch_full(&b);
        ax__spin_unlock(&x->lock);
        ax__wakebatch_run(&b);
        if (!more) return;
        ax__spin_lock(&x->lock);
    }
}

static ax_poll barrier_poll(ax_future *f, ax_context *cx) {
    ax_barrier_wait_future *bf = (ax_barrier_wait_future *)f;
    ax__waiter *w = ax__waiter_of(&bf->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__barrier *x = br(bf->b);
    ax_waker old = {0};
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_IDLE) {
        if (++x->arrived == x->n) {
            uint32_t gen = x->gen;
            x->gen++;
            x->arrived = 0;
            w->own = AX__O_DONE;
            release_round_unlock(x, gen);
            f->result = AX_BARRIER_LEADER;
            return AX_READY;
        }
        w->arg = x->gen;
        ax__waitq_push(&x->q, w, cx->waker);
        ax__spin_unlock(&x->lock);
        return AX_PENDING;
    }
    if (w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
        ax__spin_unlock(&x->lock);
        ax_waker_drop(&old);
        return AX_PENDING;
    }
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    f->result = 0;
    return AX_READY;
}

static void barrier_drop(ax_future *f) {
    ax_barrier_wait_future *bf = (ax_barrier_wait_future *)f;
    ax__waiter *w = ax__waiter_of(&bf->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__barrier *x = br(bf->b);
    ax_waker mine = {0};
    ax__spin_lock(&x->lock);
    if (ax__waitq_leave(&x->q, w, &mine)) x->arrived--; /* its round is still open: withdraw */
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&mine);
}

static const ax_future_vtable barrier_vtable = {barrier_poll, barrier_drop};

void ax_barrier_wait_future_init(ax_barrier_wait_future *f, ax_barrier *b) {
    f->base.vtable = &barrier_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, 0, 0);
    f->b = b;
}

int ax_barrier_wait(ax_barrier *b, ax_instant deadline) {
    ax_barrier_wait_future f;
    ax_barrier_wait_future_init(&f, b);
    return (int)ax_await_until(&f.base, deadline);
}
