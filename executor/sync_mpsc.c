/* executor/sync_mpsc.c - the multi-producer, single-consumer channel.
 *
 * One spinlock guards everything; it is held for the bookkeeping and one
 * element copy, never across an allocation (a new block for an unbounded
 * channel is allocated with the lock released) or a wake.
 *
 * Bounded backpressure works like a semaphore of slots: a slot freed by a
 * receive is reserved for the first waiting sender (`reserved`), which
 * copies its message in when it next polls, so a newcomer cannot take it
 * (try_send also fails while senders wait). A sender dropped holding a
 * reservation passes it to the next one. A send therefore either returns 0
 * and the message is in the channel, or fails and it is not.
 *
 * Receivers are only told to look again; a message is copied out by the
 * receive that returns it, so a dropped receive future loses nothing. */
#include <stdlib.h>
#include <string.h>

#include "executor/internal.h"
#include "executor/sync_waitq.h"

#define SPARE_BLOCKS 4

typedef struct blk {
    struct blk *next;
    unsigned char data[];
} blk;

typedef struct ax__mpsc {
    ax__spin lock;
    uint8_t closed;  /* sends fail */
    uint8_t rx_gone; /* receiver released */
    uint32_t senders;
    size_t esz;
    size_t cap; /* 0: unbounded */
    size_t len;
    size_t reserved; /* slots promised to woken senders */
    /* bounded: a ring of cap elements */
    unsigned char *ring;
    size_t head;
    /* unbounded: a list of blocks of bcap elements */
    blk *hb, *tb;
    size_t hi, ti, bcap;
    blk *spare;
    unsigned nspare;
    ax__waitq recvq, sendq;
} ax__mpsc;

static ax__mpsc *ch_tx(const ax_mpsc_tx *tx) {
    return (ax__mpsc *)(void *)tx;
}
static ax__mpsc *ch_rx(const ax_mpsc_rx *rx) {
    return (ax__mpsc *)(void *)rx;
}

int ax_mpsc_new(ax_mpsc_tx **tx, ax_mpsc_rx **rx, size_t elem_size, size_t capacity) {
    size_t bcap = 0;
    if (capacity) {
        if (elem_size && capacity > SIZE_MAX / elem_size) return AX_EINVAL;
    } else {
        /* Blocks of about 4 KiB, at least 8 elements. */
        bcap = elem_size == 0 ? 1024 : elem_size >= 512 ? 8 : 4096 / elem_size;
        if (elem_size > (SIZE_MAX - sizeof(blk)) / bcap) return AX_EINVAL;
    }
    ax__mpsc *x = calloc(1, sizeof(*x));
    if (!x) return AX_ENOMEM;
    if (capacity) {
        x->ring = malloc(elem_size && capacity ? elem_size * capacity : 1);
        if (!x->ring) {
            free(x);
            return AX_ENOMEM;
        }
    }
    x->lock = (ax__spin)AX__SPIN_INIT;
    x->senders = 1;
    x->esz = elem_size;
    x->cap = capacity;
    x->bcap = bcap;
    *tx = (ax_mpsc_tx *)(void *)x;
    *rx = (ax_mpsc_rx *)(void *)x;
    return 0;
}

static void free_chain(blk *b) {
    while (b) {
        blk *n = b->next;
        free(b);
        b = n;
    }
}

static void mpsc_free(ax__mpsc *x) {
    free_chain(x->hb);
    free_chain(x->spare);
    free(x->ring);
    free(x);
}

/* Under the lock: true when a send may copy in now (space and, for an
 * unbounded channel, a block to write to). */
static bool has_room(const ax__mpsc *x) {
    if (x->cap) return x->len + x->reserved < x->cap;
    return x->tb && x->ti < x->bcap ? true : x->spare != NULL;
}

/* Unbounded only: with the lock held, makes sure a block is at hand,
 * allocating without the lock. Returns 0 or AX_ENOMEM, lock held. */
static int ensure_block(ax__mpsc *x) {
    while (!has_room(x)) {
        ax__spin_unlock(&x->lock);
        blk *b = malloc(sizeof(blk) + x->esz * x->bcap);
        ax__spin_lock(&x->lock);
        if (!b) return AX_ENOMEM;
        b->next = x->spare;
        x->spare = b;
        x->nspare++;
    }
    return 0;
}

/* Under the lock, with room: copies msg in and wakes a receiver. */
static void push_locked(ax__mpsc *x, const void *msg, ax_waker *wake) {
    unsigned char *dst;
    if (x->cap) {
        size_t i = x->head + x->len;
        if (i >= x->cap) i -= x->cap;
        dst = x->ring + i * x->esz;
    } else {
        if (!x->tb || x->ti == x->bcap) {
            blk *b = x->spare;
            x->spare = b->next;
            x->nspare--;
            b->next = NULL;
            if (x->tb)
                x->tb->next = b;
            else
                x->hb = b;
            x->tb = b;
            x->ti = 0;
        }
        dst = x->tb->data + x->ti++ * x->esz;
    }
    if (x->esz) memcpy(dst, msg, x->esz);
    x->len++;
    if (x->recvq.head) ax__waitq_wake_head(&x->recvq, 0, wake);
}

/* Under the lock, with len > 0: copies the oldest message out. Fills
 * wakes (a sender granted the freed slot, another receiver if messages
 * remain) and *dead (a block to free after unlocking). */
static void pop_locked(ax__mpsc *x, void *out, ax_waker wakes[2], blk **dead) {
    const unsigned char *src;
    if (x->cap) {
        src = x->ring + x->head * x->esz;
        if (++x->head == x->cap) x->head = 0;
    } else {
        src = x->hb->data + x->hi++ * x->esz;
    }
    if (x->esz) memcpy(out, src, x->esz);
    x->len--;
    if (!x->cap) {
        if (x->len == 0) {
            x->hi = x->ti = 0; /* head and tail share the block: rewind it */
        } else if (x->hi == x->bcap) {
            blk *old = x->hb;
            x->hb = old->next;
            x->hi = 0;
            if (x->nspare < SPARE_BLOCKS) {
                old->next = x->spare;
                x->spare = old;
                x->nspare++;
            } else {
                *dead = old;
            }
        }
    } else if (x->sendq.head && !x->closed && x->len + x->reserved < x->cap) {
        x->reserved++;
        ax__waitq_wake_head(&x->sendq, 0, &wakes[0]);
    }
    if (x->len && x->recvq.head) ax__waitq_wake_head(&x->recvq, 0, &wakes[1]);
}

/* Called with the lock held: closes the channel, failing waiting senders
 * and waking receivers so they drain. Returns with the lock released. */
static void close_unlock(ax__mpsc *x) {
    ax__wakebatch b;
    b.n = 0;
    x->closed = 1;
    for (;;) {
        while (x->sendq.head && !ax__wakebatch_full(&b))
            ax__wakebatch_take_head(&b, &x->sendq, AX_ECLOSED);
        while (x->recvq.head && !ax__wakebatch_full(&b)) ax__wakebatch_take_head(&b, &x->recvq, 0);
        bool more = x->sendq.head || x->recvq.head;
        ax__spin_unlock(&x->lock);
        ax__wakebatch_run(&b);
        if (!more) return;
        ax__spin_lock(&x->lock);
    }
}

ax_mpsc_tx *ax_mpsc_tx_clone(ax_mpsc_tx *tx) {
    ax__mpsc *x = ch_tx(tx);
    ax__spin_lock(&x->lock);
    x->senders++;
    ax__spin_unlock(&x->lock);
    return tx;
}

void ax_mpsc_tx_release(ax_mpsc_tx *tx) {
    ax__mpsc *x = ch_tx(tx);
    ax__spin_lock(&x->lock);
    bool last = --x->senders == 0;
    bool dead = last && x->rx_gone;
    if (last)
        close_unlock(x);
    else
        ax__spin_unlock(&x->lock);
    if (dead) mpsc_free(x);
}

void ax_mpsc_close(ax_mpsc_rx *rx) {
    ax__mpsc *x = ch_rx(rx);
    ax__spin_lock(&x->lock);
    close_unlock(x);
}

void ax_mpsc_rx_release(ax_mpsc_rx *rx) {
    ax__mpsc *x = ch_rx(rx);
    ax__spin_lock(&x->lock);
    x->rx_gone = 1;
    /* Discard what is buffered; its blocks are freed below. */
    blk *chain = x->hb;
    x->hb = x->tb = NULL;
    x->hi = x->ti = 0;
    x->len = 0;
    x->head = 0;
    bool dead = x->senders == 0;
    close_unlock(x);
    free_chain(chain);
    if (dead) mpsc_free(x);
}

bool ax_mpsc_is_closed(const ax_mpsc_tx *tx) {
    ax__mpsc *x = ch_tx(tx);
    ax__spin_lock(&x->lock);
    bool c = x->closed;
    ax__spin_unlock(&x->lock);
    return c;
}

size_t ax_mpsc_len(const ax_mpsc_rx *rx) {
    ax__mpsc *x = ch_rx(rx);
    ax__spin_lock(&x->lock);
    size_t n = x->len;
    ax__spin_unlock(&x->lock);
    return n;
}

int ax_mpsc_try_send(ax_mpsc_tx *tx, const void *msg) {
    ax__mpsc *x = ch_tx(tx);
    ax_waker wake = {0};
    int r = 0;
    ax__spin_lock(&x->lock);
    if (x->closed)
        r = AX_ECLOSED;
    else if (x->cap && (x->sendq.head || !has_room(x)))
        r = AX_EAGAIN;
    else if (!x->cap)
        r = ensure_block(x);
    if (r == 0 && x->closed) r = AX_ECLOSED; /* ensure_block may have unlocked */
    if (r == 0) push_locked(x, msg, &wake);
    ax__spin_unlock(&x->lock);
    ax_waker_wake(&wake);
    return r;
}

int ax_mpsc_try_recv(ax_mpsc_rx *rx, void *out) {
    ax__mpsc *x = ch_rx(rx);
    ax_waker wakes[2] = {{0}, {0}};
    blk *dead = NULL;
    int r = 0;
    ax__spin_lock(&x->lock);
    if (x->len)
        pop_locked(x, out, wakes, &dead);
    else
        r = x->closed ? AX_ECLOSED : AX_EAGAIN;
    ax__spin_unlock(&x->lock);
    free(dead);
    ax_waker_wake(&wakes[0]);
    ax_waker_wake(&wakes[1]);
    return r;
}

static ax_poll send_poll(ax_future *f, ax_context *cx) {
    ax_mpsc_send_future *sf = (ax_mpsc_send_future *)f;
    ax__waiter *w = ax__waiter_of(&sf->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__mpsc *x = ch_tx(sf->tx);
    ax_waker old = {0}, wake = {0};
    ax_poll p = AX_READY;
    int r = 0;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_IDLE) {
        if (x->closed) {
            r = AX_ECLOSED;
        } else if (x->cap) {
            if (!x->sendq.head && has_room(x)) {
                push_locked(x, sf->msg, &wake);
            } else {
                ax__waitq_push(&x->sendq, w, cx->waker);
                p = AX_PENDING;
            }
        } else {
            r = ensure_block(x);
            if (r == 0 && x->closed) r = AX_ECLOSED;
            if (r == 0) push_locked(x, sf->msg, &wake);
        }
    } else if (w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
        p = AX_PENDING;
    } else if ((r = w->err) == 0) {
        x->reserved--; /* our slot */
        if (x->closed)
            r = AX_ECLOSED;
        else
            push_locked(x, sf->msg, &wake);
    }
    if (p == AX_READY) w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&old);
    ax_waker_wake(&wake);
    if (p == AX_READY) f->result = r;
    return p;
}

static void send_drop(ax_future *f) {
    ax_mpsc_send_future *sf = (ax_mpsc_send_future *)f;
    ax__waiter *w = ax__waiter_of(&sf->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__mpsc *x = ch_tx(sf->tx);
    ax_waker mine = {0}, wake = {0};
    ax__spin_lock(&x->lock);
    if (!ax__waitq_leave(&x->sendq, w, &mine) && w->err == 0) {
        x->reserved--; /* a slot we never used: hand it on */
        if (x->sendq.head && !x->closed) {
            x->reserved++;
            ax__waitq_wake_head(&x->sendq, 0, &wake);
        }
    }
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&mine);
    ax_waker_wake(&wake);
}

static const ax_future_vtable send_vtable = {send_poll, send_drop};

void ax_mpsc_send_future_init(ax_mpsc_send_future *f, ax_mpsc_tx *tx, const void *msg) {
    f->base.vtable = &send_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, 0, 0);
    f->tx = tx;
    f->msg = msg;
}

int ax_mpsc_send(ax_mpsc_tx *tx, const void *msg, ax_instant deadline) {
    /* A bounded channel with room and no queued senders takes the message
     * without building a future: the common case of a busy channel. */
    ax__mpsc *x = ch_tx(tx);
    ax_task *t = x->cap ? ax__fast_path_task() : NULL;
    if (t) {
        ax_waker wake = {0};
        bool sent = false;
        ax__spin_lock(&x->lock);
        if (!x->closed && !x->sendq.head && has_room(x)) {
            push_locked(x, msg, &wake);
            sent = true;
        }
        ax__spin_unlock(&x->lock);
        if (sent) {
            ax_waker_wake(&wake);
            ax__fast_path_done(t);
            return 0;
        }
    }
    ax_mpsc_send_future f;
    ax_mpsc_send_future_init(&f, tx, msg);
    return (int)ax_await_until(&f.base, deadline);
}

static ax_poll recv_poll(ax_future *f, ax_context *cx) {
    ax_mpsc_recv_future *rf = (ax_mpsc_recv_future *)f;
    ax__waiter *w = ax__waiter_of(&rf->waiter);
    if (w->own == AX__O_DONE) return AX_READY;
    ax__mpsc *x = ch_rx(rf->rx);
    ax_waker old = {0};
    ax_waker wakes[2] = {{0}, {0}};
    blk *dead = NULL;
    ax_poll p = AX_READY;
    int r = 0;
    ax__spin_lock(&x->lock);
    if (w->own == AX__O_WAITING && w->state == AX__W_QUEUED) {
        ax__waiter_update(w, cx->waker, &old);
        p = AX_PENDING;
    } else if (x->len) {
        pop_locked(x, rf->out, wakes, &dead);
    } else if (x->closed) {
        r = AX_ECLOSED;
    } else {
        /* Never polled, or woken but another receiver was first. */
        ax__waitq_push(&x->recvq, w, cx->waker);
        p = AX_PENDING;
    }
    if (p == AX_READY) w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    free(dead);
    ax_waker_drop(&old);
    ax_waker_wake(&wakes[0]);
    ax_waker_wake(&wakes[1]);
    if (p == AX_READY) f->result = r;
    return p;
}

static void recv_drop(ax_future *f) {
    ax_mpsc_recv_future *rf = (ax_mpsc_recv_future *)f;
    ax__waiter *w = ax__waiter_of(&rf->waiter);
    if (w->own != AX__O_WAITING) return;
    ax__mpsc *x = ch_rx(rf->rx);
    ax_waker mine = {0}, wake = {0};
    ax__spin_lock(&x->lock);
    if (!ax__waitq_leave(&x->recvq, w, &mine) && x->len && x->recvq.head) {
        ax__waitq_wake_head(&x->recvq, 0, &wake); /* our wake-up, unused */
    }
    w->own = AX__O_DONE;
    ax__spin_unlock(&x->lock);
    ax_waker_drop(&mine);
    ax_waker_wake(&wake);
}

static const ax_future_vtable recv_vtable = {recv_poll, recv_drop};

void ax_mpsc_recv_future_init(ax_mpsc_recv_future *f, ax_mpsc_rx *rx, void *out) {
    f->base.vtable = &recv_vtable;
    f->base.result = 0;
    ax__waiter_init(&f->waiter, 0, 0);
    f->rx = rx;
    f->out = out;
}

int ax_mpsc_recv(ax_mpsc_rx *rx, void *out, ax_instant deadline) {
    /* A message already there is taken without building a future. */
    ax__mpsc *x = ch_rx(rx);
    ax_task *t = ax__fast_path_task();
    if (t) {
        ax_waker wakes[2] = {{0}, {0}};
        blk *dead = NULL;
        bool got = false;
        ax__spin_lock(&x->lock);
        if (x->len) {
            pop_locked(x, out, wakes, &dead);
            got = true;
        }
        ax__spin_unlock(&x->lock);
        if (got) {
            free(dead);
            ax_waker_wake(&wakes[0]);
            ax_waker_wake(&wakes[1]);
            ax__fast_path_done(t);
            return 0;
        }
    }
    ax_mpsc_recv_future f;
    ax_mpsc_recv_future_init(&f, rx, out);
    return (int)ax_await_until(&f.base, deadline);
}
