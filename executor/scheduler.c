/* executor/scheduler.c - where runnable tasks go, how a worker finds its
 * next task, and the worker loop.
 *
 * Where a runnable task goes:
 *   - woken by a task running on one of its runtime's workers: that
 *     worker's LIFO slot (it is likely hot in cache and the waker is about
 *     to suspend); the previous occupant moves to the back of the queue;
 *   - spawned, yielding, or woken by a timer or I/O event on a worker: the
 *     back of that worker's local queue (executor/local_queue.h), from which
 *     idle workers may steal;
 *   - from any other thread, or when the local queue is full: the global
 *     injection queue, and one parked worker is woken.
 *
 * How a worker finds work, in order:
 *   1. the LIFO slot, at most AX__LIFO_MAX times in a row, so two tasks
 *      waking each other cannot starve the queue;
 *   2. every AX__GLOBAL_EVERY tasks, the global queue first (fairness for
 *      tasks injected from outside);
 *   3. its local queue, then the global queue;
 *   4. stealing: half of another worker's queue, visiting the others from a
 *      random start. At most half of the workers search at once, so a burst
 *      of idle workers does not hammer the busy ones' queues; the last
 *      searcher to find work wakes another parked worker, so the search
 *      goes on while work remains.
 * With nothing found, a worker spins for a short, time-bounded while
 * (AX__SPIN_NS, shortened while spins keep finding nothing; none while
 * the blocking pool holds file jobs back: it steals a short queue at once
 * then) looking again — a wake-up that
 * arrives meanwhile costs no futex round trip — and then parks (park.c). Every
 * AX__MAINTENANCE_EVERY tasks a busy worker also serves its timers and polls the reactor, so I/O
 * and timers never wait behind a long run queue.
 */
#include "executor/blocking.h"
#include "executor/internal.h"

#include <time.h>

#define AX__LIFO_MAX     3
#define AX__GLOBAL_EVERY 61
#define AX__SPIN_NS      50000u /* 50 µs: below any futex wake-up */
/* Each spin that finds nothing, with nothing queued anywhere, halves the
 * next one, down to AX__SPIN_NS >> AX__SPIN_SHIFT_MAX (1.6 µs); one that
 * finds work, or a park that ends within AX__SPIN_NS (a full spin would
 * have caught it), restores it, and a spin that sees tasks queued on
 * another worker always lasts AX__SPIN_NS (they may be stuck behind a
 * task that holds that worker, which takes AX__STUCK_NS to tell; while
 * the blocking pool holds jobs back it takes them at once instead). A
 * worker whose tasks wait on long jobs (a 1 MiB pwrite on the blocking
 * pool, a quiet socket) then stops taking the CPU from the threads doing
 * the work: spinning its full 50 µs before every park cost a file write
 * 18% of its only CPU (bench/fs, pinned). */
#define AX__SPIN_SHIFT_MAX 5

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

/* Appends the list head..tail (n tasks) to the global queue. */
static void ax__inject_list(ax_runtime *rt, ax_task *head, ax_task *tail, size_t n) {
    tail->next = NULL;
    pthread_mutex_lock(&rt->inject_lock);
    if (rt->inject_tail)
        rt->inject_tail->next = head;
    else
        rt->inject_head = head;
    rt->inject_tail = tail;
    atomic_fetch_add_explicit(&rt->inject_len, n, memory_order_seq_cst);
    pthread_mutex_unlock(&rt->inject_lock);
}

static void ax__notify_idle(ax_runtime *rt);

/* Takes a task from the global queue, and with it a fair share of what
 * waits there (up to half a local queue), so workers draining a burst of
 * injected work take the lock once per batch, not once per task. */
static ax_task *ax__inject_pop(ax__worker *w) {
    ax_runtime *rt = w->rt;
    size_t len = atomic_load_explicit(&rt->inject_len, memory_order_relaxed);
    if (!len) return NULL;
    size_t want = len / rt->nworkers + 1;
    size_t room = AX__LQ_CAP / 2 - ax__lq_len(&w->lq);
    if (room > AX__LQ_CAP / 2) room = 0;
    if (want > room + 1) want = room + 1;
    pthread_mutex_lock(&rt->inject_lock);
    ax_task *first = rt->inject_head, *t = first;
    size_t n = 0;
    for (; t && n < want; n++) {
        /* Read next first: once pushed, t may be stolen, run, joined and
         * freed before this line (TSan saw it in blocking::the_bound_holds_and_the_rest_queue). */
        ax_task *next = t->next;
        if (n) ax__lq_push(&w->lq, t);
        t = next;
    }
    rt->inject_head = t;
    if (!t) rt->inject_tail = NULL;
    atomic_fetch_sub_explicit(&rt->inject_len, n, memory_order_relaxed);
    pthread_mutex_unlock(&rt->inject_lock);
    if (n > 1 && rt->nworkers > 1) {
        /* The rest wait here behind first, which may hold this thread for
         * long: an idle worker must come and look, as in ax__take_back
         * (without this, a worker that had just looked at the queues slept
         * on while they waited behind a task that never suspends). */
        atomic_thread_fence(memory_order_seq_cst);
        ax__notify_idle(rt);
    }
    return first;
}

/* A full local queue hands its older half and t to the global queue in one
 * locked splice, so a burst of spawns costs one lock per 128 tasks. */
static void ax__lq_overflow(ax__worker *w, ax_task *t) {
    ax_task *moved[AX__LQ_CAP / 2];
    size_t n = ax__lq_steal(&w->lq, moved, AX__LQ_CAP / 2);
    for (size_t i = 0; i + 1 < n; i++) moved[i]->next = moved[i + 1];
    if (n) moved[n - 1]->next = t;
    ax__inject_list(w->rt, n ? moved[0] : t, t, n + 1);
    ax__unpark_one(w->rt, false);
}

/* New work on a worker's own queue: if a worker is idle (asleep on its
 * futex, or blocked in the reactor) and none is searching, wake one so it
 * can steal. A hint only (see park.c), so relaxed loads suffice; the
 * reactor waiter's flag is cleared by the first notifier, so a burst of
 * spawns writes the eventfd once. */
static void ax__notify_idle(ax_runtime *rt) {
    if (atomic_load_explicit(&rt->searching, memory_order_relaxed)) return;
    if (atomic_load_explicit(&rt->sleepers, memory_order_relaxed)) {
        ax__unpark_one(rt, true);
    } else if (atomic_load_explicit(&rt->in_reactor_wait, memory_order_relaxed) &&
               atomic_exchange_explicit(&rt->in_reactor_wait, false, memory_order_acq_rel)) {
        ax__reactor_notify(rt->reactor);
    }
}

/* A task woken while it left its worker, requeued from the context that
 * runs next (see ax__finish_prev). When a task runs next, the owner is
 * busy and the requeued task waits behind it however few tasks are queued:
 * wake an idle worker to steal it. */
void ax__schedule_requeue(ax__worker *w, ax_task *t) {
    if (!ax__lq_push(&w->lq, t))
        ax__lq_overflow(w, t);
    else if (w->rt->nworkers > 1 && (w->current || ax__lq_len(&w->lq) + (w->lifo != NULL) > 1)) {
        atomic_thread_fence(memory_order_seq_cst); /* as in ax__take_back */
        ax__notify_idle(w->rt);
    }
}

/* Another worker is worth waking only when more than one task waits here:
 * the owner is about to run a lone task itself (a spawned child its parent
 * joins next, say), and moving it to another thread would only add a
 * cross-thread hand-off (tokio applies the same rule). */
void ax__schedule_back(ax__worker *w, ax_task *t) {
    if (!ax__lq_push(&w->lq, t))
        ax__lq_overflow(w, t);
    else if (w->rt->nworkers > 1 && ax__lq_len(&w->lq) + (w->lifo != NULL) > 1)
        ax__notify_idle(w->rt);
}

void ax__schedule(ax_task *t) {
    ax_runtime *rt = t->rt;
    ax__worker *w = ax__worker_current();
    if (w && w->rt == rt) {
        /* A task the running task just spawned or woke (a message, a join)
         * goes to the LIFO slot: it is hot in cache and its maker is about
         * to wait for it. For spawns this also keeps fork-join depth-first
         * (Go's runnext does the same), so suspended parents, each holding
         * a stack, stay few. Wakes from timers and the reactor go to the
         * back of the queue, in the order they became ready. */
        if (w->current && w->current != t) {
            ax_task *prev = w->lifo;
            w->lifo = t;
            if (!prev) return;
            t = prev;
        }
        ax__schedule_back(w, t);
        return;
    }
    t->next = NULL;
    ax__inject_list(rt, t, t, 1);
    /* A searching worker looks at the global queue before it sleeps (it
     * announces the sleep, then looks: park.c), or wakes another when it
     * finds other work (ax__search_end): waking one more would only have
     * two race for one task, and cost the loser a futex round trip. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&rt->searching, memory_order_relaxed)) return;
    /* A pool thread waking the task of a job that ended, while the pool
     * holds back more jobs than tasks wait here: the pool has work without
     * that task's next job, so a worker is woken once for a batch, not
     * once per job (64 tasks deleting files: 15.9 -> 13.0 µs of CPU per
     * delete, bench/fs). */
    if (ax__blocking_defers_wake(rt)) return;
    ax__unpark_one(rt, false);
}

static uint32_t ax__rand(ax__worker *w) {
    uint32_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return w->rng = x;
}

/* Tasks w may run without stealing: its LIFO slot, its queue, the global
 * queue (relaxed: a hint). */
static bool ax__tasks_here(const ax__worker *w) {
    return w->lifo || ax__lq_len(&w->lq) ||
           atomic_load_explicit(&w->rt->inject_len, memory_order_relaxed);
}

/* Stops counting w as a searcher. When the last searcher stops because it
 * found work and more is in sight (pushers skip the wake-up while someone
 * searches), it keeps one other worker looking; a searcher that gives up
 * wakes nobody (else two idle workers would wake each other forever), nor
 * does one that took the only task there was: a task woken by a pool job
 * about to end, say, which a pre-woken searcher caught (ax__expect_work),
 * woke the worker in the reactor for nothing once per 1 MiB file write. */
static void ax__search_end(ax__worker *w, bool found) {
    if (!w->searching) return;
    w->searching = false;
    if (atomic_fetch_sub_explicit(&w->rt->searching, 1, memory_order_acq_rel) == 1 && found &&
        (ax__tasks_here(w) || ax__queued_elsewhere(w)))
        ax__notify_idle(w->rt);
}

/* A victim queue this long is stolen from at once; a shorter one only once
 * its head has not moved for AX__STUCK_NS (see ax__spin_for_work). */
#define AX__STEAL_EAGER 8u

/* Steals half of some other worker's queue: runs the first task, queues
 * the rest locally. Only from queues of at least AX__STEAL_EAGER tasks,
 * unless the spin found a stuck one (w->steal_any). */
static ax_task *ax__steal(ax__worker *w) {
    ax_runtime *rt = w->rt;
    unsigned n = rt->nworkers;
    if (n < 2) return NULL;
    uint32_t min_len = w->steal_any ? 1 : AX__STEAL_EAGER;
    w->steal_any = false;
    if (!w->searching) {
        if (2 * atomic_load_explicit(&rt->searching, memory_order_relaxed) >= n) return NULL;
        atomic_fetch_add_explicit(&rt->searching, 1, memory_order_acq_rel);
        w->searching = true;
    }
    unsigned start = ax__rand(w) % n;
    for (unsigned i = 0; i < n; i++) {
        ax__worker *v = &rt->workers[(start + i) % n];
        if (v == w || ax__lq_len(&v->lq) < min_len) continue;
        ax_task *got[AX__LQ_CAP / 2];
        size_t k = ax__lq_steal(&v->lq, got, AX__LQ_CAP / 2);
        if (!k) continue;
        AX__COUNT(&w->stats, steals);
        AX__COUNT_N(&w->stats, stolen, k);
        for (size_t j = 1; j < k; j++) ax__lq_push(&w->lq, got[j]); /* our queue is empty */
        return got[0];
    }
    return NULL;
}

static ax_task *ax__find_task(ax__worker *w) {
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
        ax__schedule_back(w, t);
    }
    if (w->ticks % AX__GLOBAL_EVERY == 0 && (t = ax__inject_pop(w))) return t;
    if ((t = ax__lq_pop(&w->lq))) return t;
    if ((t = ax__inject_pop(w))) return t;
    return ax__steal(w);
}

bool ax__take_back(ax__worker *w, ax_task *t) {
    bool got;
    if (w->lifo == t) {
        w->lifo = NULL;
        got = true;
    } else {
        got = ax__lq_pop_tail_if(&w->lq, t);
    }
    if (!got) return false;
    /* The joiner is about to run t on this thread. What else waits here
     * must be stealable meanwhile (the LIFO slot is not: a sibling spawned
     * after t, say), and an idle worker should come and look. */
    if (w->lifo) {
        ax_task *l = w->lifo;
        w->lifo = NULL;
        if (!ax__lq_push(&w->lq, l)) ax__lq_overflow(w, l);
    }
    if (w->rt->nworkers > 1 && ax__lq_len(&w->lq)) {
        /* This thread is about to be held by t: a lost wake-up here would
         * leave the queued task waiting for it. Pairs with the fence a
         * parking worker issues before it last looks at the queues (a
         * searcher that just gave up must see the push, or we its exit). */
        atomic_thread_fence(memory_order_seq_cst);
        ax__notify_idle(w->rt);
    }
    return true;
}

ax_task *ax__next_task(ax__worker *w) {
    ax_task *t = ax__find_task(w);
    /* A worker with work is no longer searching, however it found it;
     * otherwise the count would keep others from being woken. And a
     * short queue the spin chose to take is no reason to take another
     * later. */
    if (t) w->steal_any = false;
    if (t && w->searching) ax__search_end(w, true);
    return t;
}

bool ax__maintenance_due(const ax__worker *w) {
    return w->ticks - w->last_maintenance >= AX__MAINTENANCE_EVERY;
}

bool ax__queued_elsewhere(const ax__worker *w) {
    for (unsigned v = 0; v < w->rt->nworkers; v++)
        if (&w->rt->workers[v] != w && ax__lq_len(&w->rt->workers[v].lq)) return true;
    return false;
}

bool ax__worker_has_work(const ax__worker *w) {
    return ax__tasks_here(w) || ax__maintenance_due(w);
}

/* How long the head of a short victim queue must stay put, with tasks
 * behind it, before a spinning worker steals: a queue its owner keeps
 * taking from (tasks passing messages to each other, yielding in turn) is
 * being served, and stealing from it would only split partners across
 * threads, so that every message costs a cross-thread wake-up; a queue
 * whose head does not move (a fork-join parent working at the tail, a
 * task holding the thread) is not being served. */
#define AX__STUCK_NS     20000u
#define AX__SPIN_TRACKED 64 /* victims whose queue heads the spin tracks */
#define AX__SPIN_PAUSES  16 /* between two looks: do not hammer the victims' lines */

static bool ax__spin_found(ax__worker *w) {
    w->spin_shift = 0;
    return true;
}

/* Waits up to AX__SPIN_NS for work to show up without sleeping: the
 * global queue, a victim with AX__STEAL_EAGER queued tasks, or a victim
 * whose queue head has not moved for AX__STUCK_NS, or has not moved while
 * its owner took tasks back from the tail. Costs CPU only right
 * after the worker ran out of work, never while it is idle for longer. */
static bool ax__spin_for_work(ax__worker *w) {
    ax_runtime *rt = w->rt;
    unsigned n = rt->nworkers;
    if (n < 2) return false;
    /* File jobs held back by the fs bound: the pool threads are the
     * bottleneck and will keep completing jobs, and their wake-ups come in
     * batches (ax__blocking_defers_wake). A spin would only take CPU from
     * them (with 64 tasks doing small-file work it took 30% of all CPU
     * time, bench/fs), and so would watching a short queue of another
     * worker for AX__STUCK_NS: take its tasks now, even if its owner is
     * serving them (tasks passing messages may be split across threads
     * meanwhile; 64 tasks deleting files had an idle worker watch the
     * other's queue, filled from a batch of woken tasks, 0.7 times per
     * file, ~4 µs each). */
    bool held = ax__blocking_held(rt) != 0;
    if (held && !ax__queued_elsewhere(w)) return false;
    /* Only a searcher spins (at most half the workers), so the steal the
     * spin leads to is never refused by the searcher limit. */
    if (!w->searching) {
        if (2 * atomic_load_explicit(&rt->searching, memory_order_relaxed) >= n) return false;
        atomic_fetch_add_explicit(&rt->searching, 1, memory_order_acq_rel);
        w->searching = true;
    }
    if (held) {
        w->steal_any = true;
        return ax__spin_found(w);
    }
    uint64_t head[AX__SPIN_TRACKED];
    ax_instant since[AX__SPIN_TRACKED];
    ax_instant start = ax_now(), now = start;
    for (unsigned v = 0; v < n && v < AX__SPIN_TRACKED; v++) {
        head[v] = atomic_load_explicit(&rt->workers[v].lq.head, memory_order_relaxed);
        since[v] = start;
    }
    /* Tasks queued elsewhere may be stuck behind a hog: a spin that sees
     * some lasts its full time, long enough to tell (AX__STUCK_NS). */
    bool watching = false;
    for (;;) {
        if (atomic_load_explicit(&rt->inject_len, memory_order_relaxed)) return ax__spin_found(w);
        for (unsigned v = 0; v < n; v++) {
            const ax__worker *x = &rt->workers[v];
            if (x == w) continue;
            uint32_t len = ax__lq_len(&x->lq);
            if (len >= AX__STEAL_EAGER) return ax__spin_found(w);
            if (len) watching = true;
            if (!len || v >= AX__SPIN_TRACKED) continue;
            uint64_t h = atomic_load_explicit(&x->lq.head, memory_order_relaxed);
            if (AX__LQ_HEAD(h) != AX__LQ_HEAD(head[v])) {
                head[v] = h;
                since[v] = now;
            } else if (h != head[v] || now - since[v] >= AX__STUCK_NS) {
                /* Stuck; or the owner takes tasks back from the tail for
                 * help-first joins while the head stays: a fork-join
                 * working depth first, whose oldest tasks are the largest
                 * subtrees, ready for a thief. */
                w->steal_any = true;
                return ax__spin_found(w);
            }
        }
        if (atomic_load_explicit(&rt->stop, memory_order_relaxed)) return false;
        for (int i = 0; i < AX__SPIN_PAUSES; i++) ax__cpu_relax();
        now = ax_now();
        if (now - start >= (watching ? AX__SPIN_NS : AX__SPIN_NS >> w->spin_shift)) {
            /* A pool job said it ends by then, and its waiter runs next. */
            if (now < atomic_load_explicit(&rt->expect_until, memory_order_relaxed)) continue;
            if (!watching && w->spin_shift < AX__SPIN_SHIFT_MAX) w->spin_shift++;
            return false;
        }
    }
}

static void ax__maintenance(ax__worker *w) {
    w->last_maintenance = w->ticks;
    ax__timers_run(w);
    ax__reactor_try_poll(w, 0);
}

/* One pass of the worker loop: runs tasks until none is ready, then serves
 * timers; returns false when the worker should block (park) or stop. */
bool ax__worker_tick(ax__worker *w) {
    ax__finish_prev(w);
    if (ax__maintenance_due(w)) ax__maintenance(w);
    ax_task *t = ax__next_runnable(w);
    if (t) {
        w->ticks++;
        ax__switch_to(w, NULL, t, false);
        return true;
    }
    return ax__timers_run(w) > 0;
}

/* Tasks usually switch straight to one another (task.c: ax__task_leave);
 * control comes back here when a worker has nothing ready, and every
 * AX__MAINTENANCE_EVERY tasks. */
void ax__worker_main(ax__worker *w) {
    ax_runtime *rt = w->rt;
    ax__worker_set_current(w);
    ax__fiber_init_thread(&w->sched);
    w->rng = 0x9e3779b9u * (w->index + 1);
    bool spun = false; /* a spin that found nothing to take ends the idle spell */
    for (;;) {
        if (ax__worker_tick(w)) {
            spun = false;
            w->peek_shift = 0;
            continue;
        }
        if (atomic_load_explicit(&rt->stop, memory_order_acquire)) break;
        if (!spun && ax__spin_for_work(w)) {
            spun = true;
            continue;
        }
        spun = false;
        ax__search_end(w, false);
        if (ax__timers_run_all(w)) continue;
        ax_instant parked = ax_now();
        ax__park(w);
        /* Woken sooner than a full spin would have lasted: spinning again
         * would have caught it without the futex round trip. */
        if (ax_now() - parked < AX__SPIN_NS) w->spin_shift = 0;
        ax__timers_run_all(w);
    }
    ax__search_end(w, false);
    ax__worker_set_current(NULL);
}
