/* executor/local_queue.h - private: a worker's bounded run queue.
 *
 * A ring of AX__LQ_CAP task pointers with one producer (the owning worker,
 * at the tail) and many consumers (the owner, and thieves from other
 * workers, at the head). The owner takes tasks in FIFO order, so a task that
 * yields goes behind everything already queued. Every consumer claims slots
 * with a CAS on `head`, the owner included; a thief claims half the queue in
 * one CAS. Slots are read before the claim, so they are atomics: a thief
 * whose CAS then fails may have read a slot the owner was rewriting.
 * (A Chase-Lev deque would save the owner's CAS, but pops at the tail, that
 * is LIFO, which the LIFO slot already covers without the starvation.)
 */
#ifndef AX_EXECUTOR_LOCAL_QUEUE_H
#define AX_EXECUTOR_LOCAL_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AX__LQ_CAP 256 /* power of two */

typedef struct ax_task ax_task;

typedef struct ax__local_queue {
    _Atomic uint32_t head; /* next slot to take; consumers CAS it */
    _Atomic uint32_t tail; /* next slot to fill; the owner alone stores it */
    ax_task *_Atomic slot[AX__LQ_CAP];
} ax__local_queue;

static inline uint32_t ax__lq_len(const ax__local_queue *q) {
    return atomic_load_explicit(&q->tail, memory_order_acquire) -
           atomic_load_explicit(&q->head, memory_order_acquire);
}

/* Owner only. False when full. */
static inline bool ax__lq_push(ax__local_queue *q, ax_task *t) {
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail - head >= AX__LQ_CAP) return false;
    atomic_store_explicit(&q->slot[tail & (AX__LQ_CAP - 1)], t, memory_order_relaxed);
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    return true;
}

/* Owner only: the oldest task, or NULL. */
static inline ax_task *ax__lq_pop(ax__local_queue *q) {
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    while (head != tail) {
        ax_task *t = atomic_load_explicit(&q->slot[head & (AX__LQ_CAP - 1)], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&q->head, &head, head + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return t;
    }
    return NULL;
}

/* Any thread: claims up to `max` of the oldest tasks, half the queue
 * (rounded up) at most, into out[]. Returns how many. */
static inline size_t ax__lq_steal(ax__local_queue *q, ax_task **out, size_t max) {
    for (;;) {
        uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
        uint32_t len = tail - head;
        if (len == 0 || len > AX__LQ_CAP) {
            if (len == 0) return 0;
            continue; /* torn read of head and tail: look again */
        }
        size_t n = len - len / 2;
        if (n > max) n = max;
        for (size_t i = 0; i < n; i++)
            out[i] =
                atomic_load_explicit(&q->slot[(head + i) & (AX__LQ_CAP - 1)], memory_order_relaxed);
        if (atomic_compare_exchange_strong_explicit(&q->head, &head, head + (uint32_t)n,
                                                    memory_order_acq_rel, memory_order_relaxed))
            return n;
    }
}

#endif
