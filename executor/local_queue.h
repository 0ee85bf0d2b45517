/* executor/local_queue.h - private: a worker's bounded run queue.
 *
 * A ring of AX__LQ_CAP task pointers with one producer (the owning worker,
 * at the tail) and many consumers (the owner, and thieves from other
 * workers, at the head). The owner takes tasks in FIFO order, so a task that
 * yields goes behind everything already queued. Every consumer claims slots
 * with a CAS on `head`, the owner included; a thief claims half the queue in
 * one CAS. Slots are read before the claim, so they are atomics: a thief
 * whose CAS then fails may have read a slot the owner was rewriting.
 *
 * The owner may also take back the task it pushed last (ax__lq_pop_tail_if:
 * a join that runs its child at once). It lowers `tail` and then bumps a
 * counter kept in the high half of the head word with a CAS; a thief's
 * claim compares the whole word, so a thief that read `tail` before the
 * owner lowered it fails its CAS and looks again. A thief that read the
 * word after that bump sees the lowered tail. Without the counter a thief
 * holding a stale tail could claim, with one CAS, slots the owner had
 * already taken back (batch steals make the usual Chase-Lev argument
 * fail).
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
    /* Low 32 bits: the next slot to take (consumers CAS it). High 32 bits:
     * how many times the owner took a task back from the tail. */
    _Atomic uint64_t head;
    _Atomic uint32_t tail; /* next slot to fill; the owner alone stores it */
    ax_task *_Atomic slot[AX__LQ_CAP];
} ax__local_queue;

#define AX__LQ_HEAD(word) ((uint32_t)(word))
#define AX__LQ_TAKEN_BACK ((uint64_t)1 << 32)

/* Any thread: a hint (exact for the owner). */
static inline uint32_t ax__lq_len(const ax__local_queue *q) {
    uint32_t head = AX__LQ_HEAD(atomic_load_explicit(&q->head, memory_order_acquire));
    uint32_t len = atomic_load_explicit(&q->tail, memory_order_acquire) - head;
    return len > AX__LQ_CAP ? 0 : len; /* torn read, or a take-back losing a race */
}

/* Owner only. False when full. */
static inline bool ax__lq_push(ax__local_queue *q, ax_task *t) {
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t head = AX__LQ_HEAD(atomic_load_explicit(&q->head, memory_order_acquire));
    if (tail - head >= AX__LQ_CAP) return false;
    atomic_store_explicit(&q->slot[tail & (AX__LQ_CAP - 1)], t, memory_order_relaxed);
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    return true;
}

/* Owner only: the oldest task, or NULL. */
static inline ax_task *ax__lq_pop(ax__local_queue *q) {
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t word = atomic_load_explicit(&q->head, memory_order_acquire);
    while (AX__LQ_HEAD(word) != tail) {
        ax_task *t = atomic_load_explicit(&q->slot[AX__LQ_HEAD(word) & (AX__LQ_CAP - 1)],
                                          memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&q->head, &word, word + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return t;
    }
    return NULL;
}

/* Owner only: takes t back if it is the task pushed last and no thief has
 * claimed it. */
static inline bool ax__lq_pop_tail_if(ax__local_queue *q, const ax_task *t) {
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint64_t word = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t len = tail - AX__LQ_HEAD(word);
    if (len == 0 || len > AX__LQ_CAP ||
        atomic_load_explicit(&q->slot[(tail - 1) & (AX__LQ_CAP - 1)], memory_order_relaxed) != t)
        return false;
    if (len == 1) /* the only task: take it from the head, as a thief would */
        return atomic_compare_exchange_strong_explicit(&q->head, &word, word + 1,
                                                       memory_order_acq_rel, memory_order_acquire);
    /* Lower the tail first, then bump the take-back count: a thief that
     * read the head word before the bump fails its claim; one that read it
     * after sees the lowered tail. */
    atomic_store_explicit(&q->tail, tail - 1, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&q->head, &word, word + AX__LQ_TAKEN_BACK,
                                                  memory_order_acq_rel, memory_order_acquire)) {
        if (AX__LQ_HEAD(word) == tail) { /* a thief claimed everything, t included */
            atomic_store_explicit(&q->tail, tail, memory_order_release);
            return false;
        }
    }
    return true;
}

/* Any thread: claims up to `max` of the oldest tasks, half the queue
 * (rounded up) at most, into out[]. Returns how many. */
static inline size_t ax__lq_steal(ax__local_queue *q, ax_task **out, size_t max) {
    for (;;) {
        uint64_t word = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t head = AX__LQ_HEAD(word);
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
        /* n <= len < 2^32 - head never carries into the high half... except
         * when head wraps, which the carry then also bumps: harmless, the
         * count only has to change. */
        if (atomic_compare_exchange_strong_explicit(&q->head, &word, word + n, memory_order_acq_rel,
                                                    memory_order_relaxed))
            return n;
    }
}

#endif
