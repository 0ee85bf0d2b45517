/* executor/sync_broadcast.c - every receiver sees every message.
 *
 * Messages are numbered from 0; the ring keeps numbers [tail - cap, tail)
 * at index number % cap. A receiver keeps the number of its next message:
 * behind the oldest retained one it has lagged, and learns by how much.
 * Send overwrites and never waits, so a slow receiver cannot hold anyone
 * back. Waiting receivers are all caught up (next == tail); a send wakes
 * them all, and a receiver that queues again is caught up with the new tail,
 * so the wake loop stops at the first waiter with nothing to read even when
 * it relocks between batches. */
#include <stdlib.h>
#include <string.h>

#include "executor/sync_waitq.h"

typedef struct ax__bcast {
    ax__spin lock;
    uint32_t senders;
    size_t receivers;
    size_t esz, cap;
    uint64_t tail; /* number of the next message */
    unsigned char *ring;
    ax__waitq q;
} ax__bcast;

struct ax_broadcast_rx {
    ax__bcast *ch;
    uint64_t next;
};

static ax__bcast *bc(const ax_broadcast_tx *tx) {
    return (ax__bcast *)(void *)tx;
}

int ax_broadcast_new(ax_broadcast_tx **tx, size_t elem_size, size_t capacity) {
    if (capacity == 0 || (elem_size && capacity > SIZE_MAX / elem_size)) return AX_EINVAL;
    ax__bcast *x = calloc(1, sizeof(*x));
    if (!x) return AX_ENOMEM;
    x->ring = malloc(elem_size && capacity ? elem_size * capacity : 1);
    if (!x->ring) {
        free(x);
        return AX_ENOMEM;
    }
    x->lock = (ax__spin)AX__SPIN_INIT;
    x->senders = 1;
    x->esz = elem_size;
    x->cap = capacity;
    *tx = (ax_broadcast_tx *)(void *)x;
    return 0;
}

static void bcast_free(ax__bcast *x) {
    free(x->ring);
    free(x);
}

ax_broadcast_tx *ax_broadcast_tx_clone(ax_broadcast_tx *tx) {
    ax__bcast *x = bc(tx);
    ax__spin_lock(&x->lock);
    x->senders++;
    ax__spin_unlock(&x->lock);
    return tx;
}

/* Called with the lock held: wakes every waiter with something to read
 * (all of them once the channel is closed). Returns with the lock
 * released. */
static void wake_readers_unlock(ax__bcast *x) {
    ax__wakebatch b;
    b.n = 0;
    for (;;) {
        while (x->q.head && !ax__wakebatch_full(&b)) {
            ax_broadcast_rx *r = (ax_broadcast_rx *)x->q.head->arg;
            if (x->senders && r->next >= x->tail) break;
            ax__wakebatch_take_head(&b, &x->q, 0);
        }
        bool more = ax__wakebatch_full(&b);
        ax__spin_unlock(&x->lock);
        ax__wakebatch_run(&b);
        if (!more) return;
        ax__spin_lock(&x->lock);
    }
}

void ax_broadcast_tx_release(ax_broadcast_tx *tx) {
    ax__bcast *x = bc(tx);
    ax__spin_lock(&x->lock);
    bool last = --x->senders == 0;
    bool dead = last && x->receivers == 0;
    if (last)
        wake_readers_unlock(x);
    else
        ax__spin_unlock(&x->lock);
    if (dead) bcast_free(x);
}

int ax_broadcast_subscribe(ax_broadcast_tx *tx, ax_broadcast_rx **rx) {
    ax__bcast *x = bc(tx);
    ax_broadcast_rx *r = malloc(sizeof(*r));
    if (!r) return AX_ENOMEM;
    r->ch = x;
    ax__spin_lock(&x->lock);
    r->next = x->tail;
    x->receivers++;
    ax__spin_unlock(&x->lock);
    *rx = r;
    return 0;
}

void ax_broadcast_rx_release(ax_broadcast_rx *rx) {
    ax__bcast *x = rx->ch;
    ax__spin_lock(&x->lock);
    bool dead = --x->receivers == 0 && x->senders == 0;
    ax__spin_unlock(&x->lock);
    free(rx);
    if (dead) bcast_free(x);
}

int ax_broadcast_send(ax_broadcast_tx *tx, const void *msg) {
    ax__bcast *x = bc(tx);
    ax__spin_lock(&x->lock);
    if (x->receivers == 0) {
        ax__spin_unlock(&x->lock);
        return AX_ECLOSED;
    }
    if (x->esz) memcpy(x->ring + (x->tail % x->cap) * x->esz, msg, x->esz);
    x->tail++;
    size_t n = x->receivers;
    wake_readers_unlock(x);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* Under the lock: 0, AX_BROADCAST_LAGGED, AX_EAGAIN or AX_ECLOSED. */
static int recv_locked(ax__bcast *x, ax_broadcast_rx *r, void *out, uint64_t *missed) {
    uint64_t oldest = x->tail > x->cap ? x->tail - x->cap : 0;
    if (r->next < oldest) {
        if (missed) *missed = oldest - r->next;
        r->next = oldest;
        return AX_BROADCAST_LAGGED;
    }
    if (r->next < x->tail) {
        if (x->esz) memcpy(out, x->ring + (r->next % x->cap) * x->esz, x->esz);
        r->next++;
        return 0;
    }
    return x->senders ? AX_EAGAIN : AX_ECLOSED;
}

int ax_broadcast_try_recv(ax_broadcast_rx *rx, void *out, uint64_t *missed) {
    ax__bcast *x = rx->ch;
    ax__spin_lock(&x->lock);
    int r = recv_locked(x, rx, out, missed);
    ax__spin_unlock(&x->lock);
    return r;
}

static ax_poll bc_poll(ax_future *f, ax_context *cx) {
    ax_broadcast_recv_future *rf = (ax_broadcast_recv_future *)f;
    ax__waiter *w = ax__waiter_of(&rf->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__bcast *x = rf->rx->ch;
    ax_waker old = {0};
    ax_poll p = AX_READY;
    int r = 0;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_WAITING && w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
        p = AX_PENDING;
    } else if ((r = recv_locked(x, rf->rx, rf->out, &rf->missed)) == AX_EAGAIN) {
        ax__waitq_push(&x->q, w, cx->waker);
        p = AX_PENDING;
    }
    if (p == AX_READY) w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&old);
    if (p == AX_READY) f->result = r;
    return p;
}

static void bc_drop(ax_future *f) {
    ax_broadcast_recv_future *rf = (ax_broadcast_recv_future *)f;
    ax__waiter *w = ax__waiter_of(&rf->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__bcast *x = rf->rx->ch;
    ax_waker mine = {0};
    ax__spin_lock(&x->lock);
    ax__waitq_leave(&x->q, w, &mine);
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&mine);
}

static const ax_future_vtable bc_vtable = {bc_poll, bc_drop};

void ax_broadcast_recv_future_init(ax_broadcast_recv_future *f, ax_broadcast_rx *rx, void *out) {
    f->base.vtable = &bc_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, 0, (uintptr_t)rx);
    f->rx = rx;
    f->out = out;
    f->missed = 0;
}

int ax_broadcast_recv(ax_broadcast_rx *rx, void *out, uint64_t *missed, ax_instant deadline) {
    ax_broadcast_recv_future f;
    ax_broadcast_recv_future_init(&f, rx, out);
    intptr_t r = ax_await_until(&f.base, deadline);
    if (r == AX_BROADCAST_LAGGED && missed) *missed = f.missed;
    return (int)r;
}
