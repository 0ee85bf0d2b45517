/* executor/scheduler.c - run queues, the worker loop and parking.
 *
 * Where a runnable task goes:
 *   - woken by a task running on one of its runtime's workers: that
 *     worker's LIFO slot (it is likely hot in cache and the waker is about
 *     to suspend); the previous occupant moves to the back of the queue;
 *   - spawned, yielding, or woken by a timer or I/O event on a worker: the
 *     back of the local queue;
 *   - from any other thread, or when the local queue is full: the global
 *     injection queue, and one parked worker is woken.
 * A worker takes the LIFO slot first (at most AX__LIFO_MAX times in a row,
 * so two tasks waking each other cannot starve the queue), then every
 * AX__GLOBAL_EVERY ticks the injection queue, then its local queue, then
 * the injection queue again. With nothing to run it fires due timers, then
 * either blocks in the reactor (one worker at a time) or sleeps on the
 * park condition variable until its next timer.
 */
#include "executor/internal.h"

#include <errno.h>
#include <time.h>

#define AX__LIFO_MAX          3
#define AX__GLOBAL_EVERY      61
#define AX__MAINTENANCE_EVERY 61u

/* initial-exec: one %fs-relative load instead of a __tls_get_addr call
 * (the library is built -fPIC); one pointer of static TLS is affordable
 * even when libaxon.so is loaded with dlopen. */
static __thread ax__worker *ax__tls_worker __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) ax__worker *ax__worker_current(void) {
    ax__worker *w = ax__tls_worker;
    /* Keep the compiler from caching the thread-local address across a
     * fiber switch in callers that inline this. */
    __asm__ __volatile__("" ::: "memory");
    return w;
}

void ax__worker_set_current(ax__worker *w) {
    ax__tls_worker = w;
}

static void ax__inject_push(ax_runtime *rt, ax_task *t) {
    t->next = NULL;
    pthread_mutex_lock(&rt->inject_lock);
    if (rt->inject_tail)
        rt->inject_tail->next = t;
    else
        rt->inject_head = t;
    rt->inject_tail = t;
    atomic_fetch_add_explicit(&rt->inject_len, 1, memory_order_seq_cst);
    pthread_mutex_unlock(&rt->inject_lock);
}

static ax_task *ax__inject_pop(ax_runtime *rt) {
    if (!atomic_load_explicit(&rt->inject_len, memory_order_relaxed)) return NULL;
    pthread_mutex_lock(&rt->inject_lock);
    ax_task *t = rt->inject_head;
    if (t) {
        rt->inject_head = t->next;
        if (!rt->inject_head) rt->inject_tail = NULL;
        atomic_fetch_sub_explicit(&rt->inject_len, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&rt->inject_lock);
    return t;
}

static bool ax__lq_push(ax__worker *w, ax_task *t) {
    if (w->lq_tail - w->lq_head == AX__LQ_CAP) return false;
    w->lq[w->lq_tail++ & (AX__LQ_CAP - 1)] = t;
    return true;
}

static ax_task *ax__lq_pop(ax__worker *w) {
    if (w->lq_head == w->lq_tail) return NULL;
    return w->lq[w->lq_head++ & (AX__LQ_CAP - 1)];
}

/* Wakes one sleeping worker, or the one blocked in the reactor. The
 * seq_cst pairs with the sleeper's own check of inject_len (Dekker style),
 * so a wake-up cannot fall between its check and its sleep. */
void ax__unpark_one(ax_runtime *rt) {
    if (atomic_load_explicit(&rt->sleepers, memory_order_seq_cst)) {
        AX__COUNT_SHARED(&rt->foreign_stats, unparks);
        pthread_mutex_lock(&rt->park_lock);
        pthread_cond_signal(&rt->park_cond);
        pthread_mutex_unlock(&rt->park_lock);
        return;
    }
    if (atomic_load_explicit(&rt->in_reactor_wait, memory_order_seq_cst))
        ax__reactor_notify(rt->reactor);
}

void ax__unpark_all(ax_runtime *rt) {
    pthread_mutex_lock(&rt->park_lock);
    pthread_cond_broadcast(&rt->park_cond);
    pthread_mutex_unlock(&rt->park_lock);
    ax__reactor_notify(rt->reactor);
}

/* A full local queue hands its older half and t to the global queue in one
 * locked splice, so a burst of spawns costs one lock per 128 tasks. */
static void ax__lq_overflow(ax__worker *w, ax_task *t) {
    ax_task *head = NULL, **link = &head, *tail = t;
    size_t n = 1;
    for (uint32_t i = 0; i < AX__LQ_CAP / 2; i++, n++) {
        *link = ax__lq_pop(w);
        link = &(*link)->next;
    }
    *link = t;
    t->next = NULL;
    ax_runtime *rt = w->rt;
    pthread_mutex_lock(&rt->inject_lock);
    if (rt->inject_tail)
        rt->inject_tail->next = head;
    else
        rt->inject_head = head;
    rt->inject_tail = tail;
    atomic_fetch_add_explicit(&rt->inject_len, n, memory_order_seq_cst);
    pthread_mutex_unlock(&rt->inject_lock);
    ax__unpark_one(rt);
}

void ax__schedule_back(ax__worker *w, ax_task *t) {
    if (!ax__lq_push(w, t)) ax__lq_overflow(w, t);
}

void ax__schedule(ax_task *t) {
    ax_runtime *rt = t->rt;
    ax__worker *w = ax__worker_current();
    if (w && w->rt == rt) {
        uint32_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
        /* A task woken by the running task (a message, a join) goes to the
         * LIFO slot: it is hot in cache and the waker is about to suspend.
         * New tasks, and wakes from timers and the reactor, go to the back
         * of the queue so they run in the order they became ready. */
        if ((s & AX__T_STARTED) && w->current && w->current != t) {
            ax_task *prev = w->lifo;
            w->lifo = t;
            if (!prev) return;
            t = prev;
        }
        ax__schedule_back(w, t);
        return;
    }
    ax__inject_push(rt, t);
    ax__unpark_one(rt);
}

ax_task *ax__next_task(ax__worker *w) {
    ax_task *t;
    if (w->lifo && w->lifo_streak < AX__LIFO_MAX) {
        t = w->lifo;
        w->lifo = NULL;
        w->lifo_streak++;
        return t;
    }
    w->lifo_streak = 0;
    if (w->lifo) { /* streak exhausted: the slot's task waits its turn */
        t = w->lifo;
        w->lifo = NULL;
        if (!ax__lq_push(w, t)) ax__inject_push(w->rt, t);
    }
    if (w->ticks % AX__GLOBAL_EVERY == 0 && (t = ax__inject_pop(w->rt))) return t;
    if ((t = ax__lq_pop(w))) return t;
    return ax__inject_pop(w->rt);
}

static void ax__count_reactor(ax__worker *w, int events) {
    AX__COUNT(&w->stats, reactor_polls);
    if (events > 0) AX__COUNT_N(&w->stats, reactor_events, (uint64_t)events);
}

/* Blocks until there may be work: in the reactor if no other worker is
 * there, else on the condition variable; both bounded by the next timer. */
static void ax__park(ax__worker *w) {
    ax_runtime *rt = w->rt;
    int timeout = ax__timers_timeout_ms(w);
    bool expected = false;
    if (atomic_compare_exchange_strong(&rt->reactor_busy, &expected, true)) {
        atomic_store_explicit(&rt->in_reactor_wait, true, memory_order_seq_cst);
        bool work = atomic_load_explicit(&rt->inject_len, memory_order_seq_cst) ||
                    atomic_load_explicit(&rt->stop, memory_order_seq_cst);
        ax__count_reactor(w, ax__reactor_poll(rt->reactor, work ? 0 : timeout));
        atomic_store_explicit(&rt->in_reactor_wait, false, memory_order_relaxed);
        atomic_store_explicit(&rt->reactor_busy, false, memory_order_release);
        return;
    }
    pthread_mutex_lock(&rt->park_lock);
    if (!atomic_load_explicit(&rt->inject_len, memory_order_seq_cst) &&
        !atomic_load_explicit(&rt->stop, memory_order_acquire)) {
        /* Announce the sleep before the last look at the queue: a producer
         * either sees the sleeper or its push is seen here (seq_cst). */
        atomic_fetch_add_explicit(&rt->sleepers, 1, memory_order_seq_cst);
        AX__COUNT(&w->stats, parks);
        if (atomic_load_explicit(&rt->inject_len, memory_order_seq_cst)) {
        } else if (timeout < 0) {
            pthread_cond_wait(&rt->park_cond, &rt->park_lock);
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)timeout * 1000000u;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&rt->park_cond, &rt->park_lock, &ts);
        }
        atomic_fetch_sub_explicit(&rt->sleepers, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&rt->park_lock);
}

bool ax__maintenance_due(const ax__worker *w) {
    return w->ticks - w->last_maintenance >= AX__MAINTENANCE_EVERY;
}

bool ax__worker_has_work(const ax__worker *w) {
    return w->lifo || w->lq_head != w->lq_tail ||
           atomic_load_explicit(&w->rt->inject_len, memory_order_relaxed) || ax__maintenance_due(w);
}

/* Tasks usually switch straight to one another (task.c: ax__task_leave);
 * control comes back here when a worker has nothing ready, and every
 * AX__MAINTENANCE_EVERY tasks so that a busy worker still serves its timers
 * and the reactor. */
void ax__worker_main(ax__worker *w) {
    ax_runtime *rt = w->rt;
    ax__worker_set_current(w);
    ax__fiber_init_thread(&w->sched);
    for (;;) {
        ax__finish_prev(w);
        if (ax__maintenance_due(w)) {
            w->last_maintenance = w->ticks;
            ax__timers_run(w);
            bool expected = false;
            if (atomic_compare_exchange_strong(&rt->reactor_busy, &expected, true)) {
                ax__count_reactor(w, ax__reactor_poll(rt->reactor, 0));
                atomic_store_explicit(&rt->reactor_busy, false, memory_order_release);
            }
        }
        ax_task *t = ax__next_runnable(w);
        if (t) {
            w->ticks++;
            ax__switch_to(w, NULL, t, false);
            continue;
        }
        if (ax__timers_run(w)) continue;
        if (atomic_load_explicit(&rt->stop, memory_order_acquire)) break;
        ax__park(w);
        ax__timers_run(w);
    }
    ax__worker_set_current(NULL);
}
