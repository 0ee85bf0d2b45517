/* executor/sync_waitq.h - private to the sync primitives (executor/sync_*.c):
 * the intrusive FIFO of waiting futures that every primitive shares.
 *
 * A waiter node lives inside the waiting future (ax_sync_waiter), so
 * queueing allocates nothing. Every field is read and written under the
 * owning primitive's spinlock, except `own`, which only the future's owner
 * touches, so its fast paths (done already, never queued) take no lock.
 * The side that wakes a waiter moves its waker out under the lock and
 * wakes it after releasing it: once the lock is released the waiter may be
 * dropped and its memory reused, so nothing may touch the node after
 * that. */
#ifndef AX_EXECUTOR_SYNC_WAITQ_H
#define AX_EXECUTOR_SYNC_WAITQ_H

#include <stdint.h>

#include "axon/error.h"
#include "axon/future.h"
#include "axon/sync.h"
#include "reactor/spin.h"

#pragma GCC visibility push(hidden)

/* ax__waiter.state, under the primitive's lock. */
enum {
    AX__W_IDLE = 0, /* not in a queue */
    AX__W_QUEUED,   /* in a wait queue with a waker */
    AX__W_WOKEN,    /* taken off the queue by the other side; err says why */
};

/* ax__waiter.own, the owner's private view. */
enum {
    AX__O_IDLE = 0, /* never polled, or polled without being queued */
    AX__O_WAITING,  /* queued at some point: look at state under the lock */
    AX__O_DONE,     /* poll returned AX_READY (or dropped): nothing to release */
};

typedef struct ax__waiter {
    struct ax__waiter *next, *prev;
    ax_waker waker;
    uint8_t state; /* AX__W_*, under the lock */
    uint8_t own;   /* AX__O_*, owner only */
    uint8_t kind;  /* what the primitive needs: reader/writer, notify kind */
    int32_t err;   /* outcome given by the waking side (0 = granted) */
    uintptr_t arg; /* permits wanted, generation, owning receiver... */
} ax__waiter;

_Static_assert(sizeof(ax__waiter) <= sizeof(ax_sync_waiter), "ax_sync_waiter too small");

typedef struct ax__waitq {
    ax__waiter *head, *tail;
} ax__waitq;

static inline ax__waiter *ax__waiter_of(ax_sync_waiter *s) {
    return (ax__waiter *)(void *)s;
}

static inline void ax__waiter_init(ax_sync_waiter *s, uint8_t kind, uintptr_t arg) {
    ax__waiter *w = ax__waiter_of(s);
    *w = (ax__waiter){.kind = kind, .arg = arg};
}

/* Queues w at the back with a clone of the poller's waker. */
static inline void ax__waitq_push(ax__waitq *q, ax__waiter *w, const ax_waker *wk) {
    w->waker = ax_waker_clone(wk);
    w->state = AX__W_QUEUED;
    w->own = AX__O_WAITING;
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail)
        q->tail->next = w;
    else
        q->head = w;
    q->tail = w;
}

static inline void ax__waitq_unlink(ax__waitq *q, ax__waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        q->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        q->tail = w->prev;
    w->next = w->prev = NULL;
}

/* For a dropped waiter, under the queue's lock: if w still waits in q,
 * takes it out, moves its waker to *mine (drop it after unlocking) and
 * returns true; returns false if w was already woken, in which case what it
 * was granted must be handed on by the caller. */
static inline bool ax__waitq_leave(ax__waitq *q, ax__waiter *w, ax_waker *mine) {
    if (w->state != AX__W_QUEUED) return false;
    ax__waitq_unlink(q, w);
    *mine = w->waker;
    return true;
}

/* Takes the head off the queue, marks it woken with err, and moves its
 * waker into *out for the caller to wake after unlocking. */
static inline void ax__waitq_wake_head(ax__waitq *q, int32_t err, ax_waker *out) {
    ax__waiter *w = q->head;
    ax__waitq_unlink(q, w);
    w->state = AX__W_WOKEN;
    w->err = err;
    *out = w->waker;
    w->waker.vtable = NULL;
}

/* A queued waiter polled again, possibly by another waker (select, or a
 * future moved between owners): keep the newest. The replaced waker goes to
 * *old, to be dropped after unlocking. */
static inline void ax__waiter_update(ax__waiter *w, const ax_waker *wk, ax_waker *old) {
    if (!ax_waker_will_wake(&w->waker, wk)) {
        *old = w->waker;
        w->waker = ax_waker_clone(wk);
    }
}

/* Wakers collected under a lock, woken after it is released. Operations
 * that wake many waiters (close, notify_waiters, broadcast send) fill a
 * batch, unlock, wake it, and relock to continue. */
#define AX__WAKE_BATCH 32
typedef struct ax__wakebatch {
    unsigned n;
    ax_waker w[AX__WAKE_BATCH];
} ax__wakebatch;

static inline int ax__wakebatch_full(const ax__wakebatch *b) {
    return b->n == AX__WAKE_BATCH;
}

static inline void ax__wakebatch_take_head(ax__wakebatch *b, ax__waitq *q, int32_t err) {
    ax__waitq_wake_head(q, err, &b->w[b->n++]);
}

/* Wakes and empties the batch. Call without the lock. */
void ax__wakebatch_run(ax__wakebatch *b);

#pragma GCC visibility pop
#endif
