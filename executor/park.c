/* executor/park.c - putting idle workers to sleep and waking them.
 *
 * One idle worker at a time blocks in the reactor (reactor_busy), so I/O
 * events and cross-thread wake-ups through the eventfd reach it; the others
 * sleep on a futex word of their own and sit on the runtime's idle list, so
 * a wake-up picks exactly one of them (no thundering herd, no condition
 * variable shared by all). Every sleep is bounded by the worker's next
 * timer.
 *
 * Lost wake-ups: work pushed to the global queue from outside must reach a
 * worker. The pusher bumps inject_len and then reads `sleepers`; the sleeper
 * bumps `sleepers` and then reads inject_len; both with seq_cst, so at least
 * one of them sees the other (Dekker). Work pushed to a worker's own queue
 * needs no such care: its owner is awake and will run it anyway; waking a
 * sleeper for it only buys parallelism.
 *
 * Off Linux there is no futex in a public API: the park word is waited on
 * through a small table of mutex + condition variable buckets hashed by
 * the word's address (see the #else branch below); the protocol above is
 * unchanged. On Windows the word is waited on with WaitOnAddress /
 * WakeByAddressSingle.
 */
#include "executor/blocking.h"
#include "executor/internal.h"

#ifdef _WIN32
#include <windows.h>

/* Windows: WaitOnAddress / WakeByAddressSingle, the same word protocol. */
static void ax__futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms) {
    WaitOnAddress((volatile VOID *)word, &expected, sizeof expected,
                  timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
}

static void ax__futex_wake(_Atomic uint32_t *word) {
    WakeByAddressSingle((PVOID)word);
}
#else
#include <errno.h>
#include <time.h>
#include <unistd.h>

/* AX_PARK_CONDVAR builds the portable parking on Linux too, so that the
 * macOS/BSD path runs under the Linux test suite. */
#if defined(__linux__) && !defined(AX_PARK_CONDVAR)
#include <linux/futex.h>
#include <sys/syscall.h>

static void ax__futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms) {
    struct timespec ts, *tsp = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tsp = &ts;
    }
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_PRIVATE, expected, tsp, NULL, 0);
}

static void ax__futex_wake(_Atomic uint32_t *word) {
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#else
#include "reactor/os_unix.h"

/* futex emulation: a waiter sleeps on the bucket of its word's address
 * while the word still holds `expected`; a waker changes the word first
 * (ax__idle_pop stores 0), then takes the bucket's lock and broadcasts,
 * so a waiter either sees the new value before it sleeps or is asleep
 * when the broadcast comes. Words sharing a bucket wake each other
 * spuriously and recheck. The table is shared by every runtime of the
 * process, but holds no runtime state: only locks. */
#define AX__PARK_BUCKETS 64

static struct ax__park_bucket {
    pthread_mutex_t lock;
    pthread_cond_t cond;
} ax__park_table[AX__PARK_BUCKETS];
static pthread_once_t ax__park_once = PTHREAD_ONCE_INIT;

static void ax__park_table_init(void) {
    for (int i = 0; i < AX__PARK_BUCKETS; i++) {
        pthread_mutex_init(&ax__park_table[i].lock, NULL);
        ax__cond_init_mono(&ax__park_table[i].cond);
    }
}

static struct ax__park_bucket *ax__park_bucket_of(_Atomic uint32_t *word) {
    pthread_once(&ax__park_once, ax__park_table_init);
    uintptr_t a = (uintptr_t)word;
    return &ax__park_table[((a >> 6) ^ (a >> 12)) % AX__PARK_BUCKETS];
}

static void ax__futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms) {
    struct ax__park_bucket *b = ax__park_bucket_of(word);
    struct timespec abs;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &abs);
        abs.tv_sec += timeout_ms / 1000;
        abs.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (abs.tv_nsec >= 1000000000L) {
            abs.tv_sec++;
            abs.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&b->lock);
    /* One wait, like FUTEX_WAIT: the caller rechecks the word and the time. */
    if (atomic_load_explicit(word, memory_order_acquire) == expected) {
        if (timeout_ms < 0)
            pthread_cond_wait(&b->cond, &b->lock);
        else
            ax__cond_timedwait_mono(&b->cond, &b->lock, &abs);
    }
    pthread_mutex_unlock(&b->lock);
}

static void ax__futex_wake(_Atomic uint32_t *word) {
    struct ax__park_bucket *b = ax__park_bucket_of(word);
    pthread_mutex_lock(&b->lock);
    pthread_mutex_unlock(&b->lock);
    pthread_cond_broadcast(&b->cond);
}
#endif /* __linux__ && !AX_PARK_CONDVAR */
#endif /* _WIN32 */

/* Takes one worker off the idle list (under park_lock), or NULL. */
static ax__worker *ax__idle_pop(ax_runtime *rt, bool searcher) {
    ax__worker *x = rt->idle;
    if (x) {
        rt->idle = x->idle_next;
        /* Counted as searching before it wakes, so that the next pushes do
         * not wake another worker for the same work. */
        if (searcher && !x->searching) {
            x->searching = true;
            atomic_fetch_add_explicit(&rt->searching, 1, memory_order_relaxed);
        }
        atomic_fetch_sub_explicit(&rt->sleepers, 1, memory_order_relaxed);
        atomic_store_explicit(&x->park_state, 0, memory_order_release);
    }
    return x;
}

bool ax__unpark_one(ax_runtime *rt, bool searcher) {
    if (rt->current_thread) { /* the host waits on the reactor's descriptor */
        ax__reactor_notify(rt->reactor);
        return true;
    }
    if (atomic_load_explicit(&rt->sleepers, memory_order_seq_cst)) {
        pthread_mutex_lock(&rt->park_lock);
        ax__worker *x = ax__idle_pop(rt, searcher);
        pthread_mutex_unlock(&rt->park_lock);
        if (x) {
            AX__COUNT_SHARED(&rt->foreign_stats, unparks);
            ax__futex_wake(&x->park_state);
            return true;
        }
    }
    if (atomic_load_explicit(&rt->in_reactor_wait, memory_order_seq_cst)) {
        ax__reactor_notify(rt->reactor);
        return true;
    }
    return false;
}

void ax__expect_work(ax_runtime *rt, ax_instant until, bool wake) {
    if (rt->current_thread || rt->nworkers < 2) return; /* nobody to spin beside the waker */
    atomic_store_explicit(&rt->expect_until, until, memory_order_relaxed);
    if (wake && !atomic_load_explicit(&rt->searching, memory_order_seq_cst))
        ax__unpark_one(rt, true);
}

void ax__unpark_all(ax_runtime *rt) {
    pthread_mutex_lock(&rt->park_lock);
    ax__worker *x;
    while ((x = ax__idle_pop(rt, false))) ax__futex_wake(&x->park_state);
    pthread_mutex_unlock(&rt->park_lock);
    ax__reactor_notify(rt->reactor);
}

static void ax__count_reactor(ax__worker *w, int events) {
    AX__COUNT(&w->stats, reactor_polls);
    if (events > 0) AX__COUNT_N(&w->stats, reactor_events, (uint64_t)events);
}

/* Publishes when this parked worker will wake by itself. Called after the
 * worker made itself wakeable (sleeper or reactor waiter), and the timeout
 * is computed after that too; ax__timer_arm stores the wheel first and
 * reads idle_wake_tick after (all seq_cst), so either the parker sees the
 * new timer or the armer sees the parker and wakes it. */
#define AX__PARK_PEEK_MS 1

/* Called once the sleep is announced (sleepers or in_reactor_wait, both
 * seq_cst). Tasks queued on another worker are a hint only: their owner is
 * awake. But it may be held by a task that never suspends, and a worker
 * that queued them just before the announcement found nobody to wake (it
 * fences between its push and its look at the sleepers, as this does
 * between the announcement and its look at the queues: one of the two
 * sees the other). So with work queued elsewhere, sleep at most
 * AX__PARK_PEEK_MS and look again; an idle runtime has nothing queued and
 * sleeps until its next timer. While the blocking pool holds jobs back, a
 * worker sleeps at most AX__PARK_PEEK_MS too, so that pool threads may
 * leave the tasks whose jobs ended in the global queue without waking it
 * (ax__blocking_defers_wake, which needs a sleeper due that soon); but
 * each such sleep that ends with nothing to run doubles the next, up to
 * 128 ms (AX__PARK_PEEK_SHIFT_MAX): with jobs stuck behind the bound, the peeks had
 * cost 4% of a CPU doing nothing (4 FIFO opens holding the bound, 60
 * stats queued, 3 s), and a sleeper due later makes pushers wake a worker
 * as usual. (The look came before the announcement
 * once, and a worker slept for good beside a batch taken from the global
 * queue behind such a task: task::injected_batch_taken_stolen_and_joined_from_outside.) */
#define AX__PARK_PEEK_SHIFT_MAX 7

static int ax__idle_timeout(ax__worker *w) {
    atomic_thread_fence(memory_order_seq_cst);
    int cap = -1;
    if (ax__queued_elsewhere(w)) {
        cap = AX__PARK_PEEK_MS;
    } else if (ax__blocking_held(w->rt)) {
        cap = AX__PARK_PEEK_MS << w->peek_shift;
        if (w->peek_shift < AX__PARK_PEEK_SHIFT_MAX) w->peek_shift++;
    }
    int timeout = ax__timers_timeout_ms(w);
    if (cap >= 0 && (timeout < 0 || timeout > cap)) timeout = cap;
    uint64_t tick = timeout < 0 ? UINT64_MAX : ax__tick_now(w->rt) + (uint64_t)timeout;
    atomic_store_explicit(&w->wakes_by, tick, memory_order_seq_cst);
    uint64_t cur = atomic_load_explicit(&w->rt->idle_wake_tick, memory_order_seq_cst);
    while (tick < cur &&
           !atomic_compare_exchange_weak_explicit(&w->rt->idle_wake_tick, &cur, tick,
                                                  memory_order_seq_cst, memory_order_seq_cst)) {
    }
    return timeout;
}

/* Too late is harmless (an extra wake), too early is not: forget it. */
static void ax__idle_woke(ax__worker *w) {
    atomic_store_explicit(&w->wakes_by, UINT64_MAX, memory_order_seq_cst);
    atomic_store_explicit(&w->rt->idle_wake_tick, UINT64_MAX, memory_order_relaxed);
}

bool ax__sleeper_looks_soon(ax_runtime *rt) {
    uint64_t soon = ax__tick_now(rt) + AX__PARK_PEEK_MS;
    for (unsigned v = 0; v < rt->nworkers; v++)
        if (atomic_load_explicit(&rt->workers[v].wakes_by, memory_order_seq_cst) <= soon)
            return true;
    return false;
}

#define AX__REACTOR_BATCH 32

bool ax__reactor_try_poll(ax__worker *w, int timeout_ms) {
    ax_runtime *rt = w->rt;
    bool expected = false;
    if (!atomic_compare_exchange_strong(&rt->reactor_busy, &expected, true)) return false;
    bool idle = timeout_ms != 0; /* announced as a sleeper: undone by ax__idle_woke */
    if (idle) {
        atomic_store_explicit(&rt->in_reactor_wait, true, memory_order_seq_cst);
        timeout_ms = ax__idle_timeout(w);
        if (atomic_load_explicit(&rt->inject_len, memory_order_seq_cst) ||
            atomic_load_explicit(&rt->stop, memory_order_seq_cst))
            timeout_ms = 0;
    }
    /* Take no more events than the local queue has room for: the tasks
     * they wake go to its back, and a surplus would overflow to the global
     * queue, costing a lock and serving those connections late (epoll
     * keeps the rest queued, in order, for the next poll). */
    int room = (int)(AX__LQ_CAP - ax__lq_len(&w->lq)) - (w->lifo != NULL);
    /* And at most AX__REACTOR_BATCH: every task an event wakes is touched
     * twice, when woken and when run, and between the two passes the whole
     * batch's task structs, stacks and handles must stay in cache. Batches
     * of 32 kept an echo server at 1,024 connections ~8% cheaper per
     * message than batches of 256 (bench/echo); the extra epoll_wait per 32
     * events costs less than the misses it saves. */
    if (room > AX__REACTOR_BATCH) room = AX__REACTOR_BATCH;
    if (room < 1 && timeout_ms == 0) {
        atomic_store_explicit(&rt->reactor_busy, false, memory_order_release);
        return true;
    }
    ax__count_reactor(w, ax__reactor_poll_max(rt->reactor, timeout_ms, room));
    if (idle) ax__idle_woke(w);
    atomic_store_explicit(&rt->in_reactor_wait, false, memory_order_relaxed);
    atomic_store_explicit(&rt->reactor_busy, false, memory_order_release);
    return true;
}

void ax__park(ax__worker *w) {
    ax_runtime *rt = w->rt;
    ax__stacks_trim(w);                      /* idle: give back the stacks a burst left cached */
    if (ax__reactor_try_poll(w, -1)) return; /* -1: until the next timer */
    pthread_mutex_lock(&rt->park_lock);
    /* Announce the sleep before the last look at the global queue. */
    atomic_fetch_add_explicit(&rt->sleepers, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&rt->inject_len, memory_order_seq_cst) ||
        atomic_load_explicit(&rt->stop, memory_order_acquire)) {
        atomic_fetch_sub_explicit(&rt->sleepers, 1, memory_order_relaxed);
        pthread_mutex_unlock(&rt->park_lock);
        return;
    }
    atomic_store_explicit(&w->park_state, 1, memory_order_relaxed);
    w->idle_next = rt->idle;
    rt->idle = w;
    pthread_mutex_unlock(&rt->park_lock);
    AX__COUNT(&w->stats, parks);
    int timeout = ax__idle_timeout(w);
    ax__futex_wait(&w->park_state, 1, timeout);
    ax__idle_woke(w);
    if (atomic_load_explicit(&w->park_state, memory_order_acquire)) {
        /* Timed out (or woke spuriously): take ourselves off the list,
         * unless a waker got there first. */
        pthread_mutex_lock(&rt->park_lock);
        if (atomic_load_explicit(&w->park_state, memory_order_relaxed)) {
            ax__worker **p = &rt->idle;
            while (*p != w) p = &(*p)->idle_next;
            *p = w->idle_next;
            atomic_fetch_sub_explicit(&rt->sleepers, 1, memory_order_relaxed);
            atomic_store_explicit(&w->park_state, 0, memory_order_relaxed);
        }
        pthread_mutex_unlock(&rt->park_lock);
    }
}
