/* executor/sync_oneshot.c - a single value from one sender to one receiver.
 *
 * Both handles point at one allocation, freed by whichever side is released
 * last. The value is stored inline after the header. */
#include <stdlib.h>
#include <string.h>

#include "executor/sync_waitq.h"

enum { OS_EMPTY = 0, OS_FULL, OS_TAKEN };

typedef struct ax__oneshot {
    ax__spin lock;
    uint8_t value;   /* OS_* */
    uint8_t tx_gone; /* sent, or released without sending */
    uint8_t rx_gone;
    size_t esz;
    ax__waitq q;
    unsigned char data[];
} ax__oneshot;

static ax__oneshot *os_tx(const ax_oneshot_tx *tx) {
    return (ax__oneshot *)(void *)tx;
}
static ax__oneshot *os_rx(const ax_oneshot_rx *rx) {
    return (ax__oneshot *)(void *)rx;
}

int ax_oneshot_new(ax_oneshot_tx **tx, ax_oneshot_rx **rx, size_t elem_size) {
    if (elem_size > SIZE_MAX - sizeof(ax__oneshot)) return AX_EINVAL;
    ax__oneshot *x = calloc(1, sizeof(*x) + elem_size);
    if (!x) return AX_ENOMEM;
    x->lock = (ax__spin)AX__SPIN_INIT;
    x->esz = elem_size;
    *tx = (ax_oneshot_tx *)(void *)x;
    *rx = (ax_oneshot_rx *)(void *)x;
    return 0;
}

/* Called with the lock held: the sender is done (sent or not); wakes the
 * receiver, frees the channel if the receiver is gone too. */
static void tx_done_unlock(ax__oneshot *x) {
    ax__wakebatch b;
    b.n = 0;
    x->tx_gone = 1;
    bool dead = x->rx_gone; /* then nobody can be waiting either */
    for (;;) {
        while (x->q.head && !ax__wakebatch_full(&b)) ax__wakebatch_take_head(&b, &x->q, 0);
        bool more = x->q.head != NULL;
        ax__spin_unlock(&x->lock);
        ax__wakebatch_run(&b);
        if (!more) break;
        ax__spin_lock(&x->lock);
    }
    if (dead) free(x);
}

int ax_oneshot_send(ax_oneshot_tx *tx, const void *msg) {
    ax__oneshot *x = os_tx(tx);
    ax__spin_lock(&x->lock);
    int r = AX_ECLOSED;
    if (!x->rx_gone) {
        if (x->esz) memcpy(x->data, msg, x->esz);
        x->value = OS_FULL;
        r = 0;
    }
    tx_done_unlock(x);
    return r;
}

void ax_oneshot_tx_release(ax_oneshot_tx *tx) {
    ax__oneshot *x = os_tx(tx);
    ax__spin_lock(&x->lock);
    tx_done_unlock(x);
}

bool ax_oneshot_tx_is_closed(const ax_oneshot_tx *tx) {
    ax__oneshot *x = os_tx(tx);
    ax__spin_lock(&x->lock);
    bool c = x->rx_gone;
    ax__spin_unlock(&x->lock);
    return c;
}

void ax_oneshot_rx_release(ax_oneshot_rx *rx) {
    ax__oneshot *x = os_rx(rx);
    ax__spin_lock(&x->lock);
    x->rx_gone = 1;
    bool dead = x->tx_gone;
    ax__spin_unlock(&x->lock);
    if (dead) free(x);
}

/* Under the lock: 0 (value copied), AX_EAGAIN or AX_ECLOSED. */
static int take_locked(ax__oneshot *x, void *out) {
    if (x->value == OS_FULL) {
        if (x->esz) memcpy(out, x->data, x->esz);
        x->value = OS_TAKEN;
        return 0;
    }
    return x->value == OS_TAKEN || x->tx_gone ? AX_ECLOSED : AX_EAGAIN;
}

int ax_oneshot_try_recv(ax_oneshot_rx *rx, void *out) {
    ax__oneshot *x = os_rx(rx);
    ax__spin_lock(&x->lock);
    int r = take_locked(x, out);
    ax__spin_unlock(&x->lock);
    return r;
}

static ax_poll os_poll(ax_future *f, ax_context *cx) {
    ax_oneshot_recv_future *rf = (ax_oneshot_recv_future *)f;
    ax__waiter *w = ax__waiter_of(&rf->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__oneshot *x = os_rx(rf->rx);
    ax_waker old = {0};
    ax_poll p = AX_READY;
    int r = 0;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_WAITING && w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
        p = AX_PENDING;
    } else if ((r = take_locked(x, rf->out)) == AX_EAGAIN) {
        ax__waitq_push(&x->q, w, cx->waker);
        p = AX_PENDING;
    }
    if (p == AX_READY) w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&old);
    if (p == AX_READY) f->result = r;
    return p;
}

static void os_drop(ax_future *f) {
    ax_oneshot_recv_future *rf = (ax_oneshot_recv_future *)f;
    ax__waiter *w = ax__waiter_of(&rf->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__oneshot *x = os_rx(rf->rx);
    ax_waker mine = {0};
    ax__spin_lock(&x->lock);
    ax__waitq_leave(&x->q, w, &mine);
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&mine);
}

static const ax_future_vtable os_vtable = {os_poll, os_drop};

void ax_oneshot_recv_future_init(ax_oneshot_recv_future *f, ax_oneshot_rx *rx, void *out) {
    f->base.vtable = &os_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, 0, 0);
    f->rx = rx;
    f->out = out;
}

int ax_oneshot_recv(ax_oneshot_rx *rx, void *out, ax_instant deadline) {
    ax_oneshot_recv_future f;
    ax_oneshot_recv_future_init(&f, rx, out);
    return (int)ax_await_until(&f.base, deadline);
}
