/* executor/timer.c - the runtime's timers on the per-worker wheels: sleep
 * futures, intervals, and the expiry service the worker loop calls.
 *
 * A timer is filed in the wheel of the worker that arms it (a plain thread
 * uses worker 0 and wakes the workers so the new deadline is seen). Cancels
 * may come from another thread, since a task can resume elsewhere: the
 * entry remembers its wheel and every wheel has a spinlock. Expiry copies
 * the wakers out under the lock and wakes them after releasing it, so a
 * timer whose owner disarms it concurrently is never touched after the
 * owner's disarm returns.
 */
#include "executor/internal.h"

#include <time.h>
#ifdef _WIN32
#include <windows.h>
#endif

#define AX__NS_PER_MS  1000000u
#define AX__FIRE_BATCH 64

_Static_assert(sizeof(ax__timer_entry) <= sizeof(ax_timer_storage),
               "ax_timer_storage must hold a timer entry");

/* The public storage is opaque; only this file views it as an entry (the
 * library is built with -fno-strict-aliasing, like most systems code that
 * hands out opaque storage). */
static ax__timer_entry *ax__entry_of(ax_sleep_future *s) {
    return (ax__timer_entry *)(void *)&s->timer;
}

/* A sleep future is 64 bytes: the future header and the 48-byte entry.
 * Until it is armed the deadline waits in the node's `when`; while armed,
 * `result` (meaningless before AX_READY) holds the wheel's worker. */
_Static_assert(sizeof(ax_sleep_future) == 64, "a sleep future is 64 bytes");
#define AX__SLEEP_DONE 1u

static ax__worker *ax__sleep_wheel(const ax_sleep_future *s) {
    return (ax__worker *)(uintptr_t)s->base.result;
}

#ifdef _WIN32
/* QueryPerformanceCounter: monotonic, its frequency fixed at boot. The
 * frequency is read once; a racing first read stores the same value. */
ax_instant ax_now(void) {
    static _Atomic int64_t freq;
    int64_t f = atomic_load_explicit(&freq, memory_order_relaxed);
    if (!f) {
        LARGE_INTEGER q;
        QueryPerformanceFrequency(&q);
        f = q.QuadPart > 0 ? q.QuadPart : 1;
        atomic_store_explicit(&freq, f, memory_order_relaxed);
    }
    LARGE_INTEGER c;
    QueryPerformanceCounter(&c);
    uint64_t t = (uint64_t)c.QuadPart, uf = (uint64_t)f;
    return (ax_instant)(t / uf * 1000000000u + t % uf * 1000000000u / uf);
}
#else
ax_instant ax_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ax_instant)ts.tv_sec * 1000000000u + (ax_instant)ts.tv_nsec;
}
#endif

ax_instant ax_deadline_in_ms(uint64_t ms) {
    return ax_now() + ms * AX__NS_PER_MS;
}

uint64_t ax__tick_now(const ax_runtime *rt) {
    return (ax_now() - rt->start) / AX__NS_PER_MS;
}

/* Rounded up, so a timer never fires before its deadline. */
uint64_t ax__tick_of(const ax_runtime *rt, ax_instant deadline) {
    if (deadline <= rt->start) return 0;
    return (deadline - rt->start + AX__NS_PER_MS - 1) / AX__NS_PER_MS;
}

static void ax__wheel_note_next(ax__worker *w) {
    atomic_store_explicit(&w->wheel_next, ax__wheel_next_expiry(&w->wheel), memory_order_release);
}

/* A new timer earlier than every parked worker's own wake-up: wake one,
 * which then sleeps until this timer at most (see park.c). Costs one fence
 * and only when some worker is idle. */
static void ax__timer_notify_idle(ax_runtime *rt, uint64_t when) {
    if (rt->nworkers < 2) return;
    if (!atomic_load_explicit(&rt->sleepers, memory_order_relaxed) &&
        !atomic_load_explicit(&rt->in_reactor_wait, memory_order_relaxed))
        return;
    atomic_thread_fence(memory_order_seq_cst);
    if (when < atomic_load_explicit(&rt->idle_wake_tick, memory_order_seq_cst))
        ax__unpark_one(rt, false);
}

ax__worker *ax__timer_arm(ax_runtime *rt, ax__timer_entry *e, ax_instant deadline,
                          const ax_waker *wk) {
    ax__worker *w = ax__worker_current();
    bool foreign = !w || w->rt != rt;
    if (foreign) {
        w = &rt->workers[0];
        AX__COUNT_SHARED(&rt->foreign_stats, timers_armed);
    } else {
        AX__COUNT(&w->stats, timers_armed);
    }
    ax__timer_init(&e->node);
    e->waker = ax_waker_clone(wk);
    uint64_t when = ax__tick_of(rt, deadline);
    ax__spin_lock(&w->wheel_lock);
    ax__wheel_insert(&w->wheel, &e->node, when);
    ax__wheel_note_next(w);
    ax__spin_unlock(&w->wheel_lock);
    /* Worker 0 may be asleep with a later timeout than this deadline. */
    if (foreign)
        ax__unpark_all(rt);
    else
        ax__timer_notify_idle(rt, when);
    return w;
}

void ax__timer_disarm(ax__worker *w, ax__timer_entry *e) {
    ax__spin_lock(&w->wheel_lock);
    ax__wheel_cancel(&w->wheel, &e->node);
    ax_waker wk = e->waker; /* empty if expiry already took it */
    e->waker.vtable = NULL;
    ax__wheel_note_next(w);
    ax__spin_unlock(&w->wheel_lock);
    ax_waker_drop(&wk);
}

/* Fires the due timers of `owner`'s wheel from the worker `runner`: the
 * owner itself, or an idle worker standing in for one whose thread is
 * held by a task that does not suspend (its timers must not wait for it). */
static size_t ax__wheel_fire(ax__worker *runner, ax__worker *owner, uint64_t now) {
    if (now < atomic_load_explicit(&owner->wheel_next, memory_order_acquire)) return 0;
    size_t fired = 0;
    for (;;) {
        ax_waker batch[AX__FIRE_BATCH];
        size_t n = 0;
        ax__spin_lock(&owner->wheel_lock);
        ax__timer *list = ax__wheel_advance(&owner->wheel, now);
        while (list) {
            ax__timer *next = list->next;
            if (n < AX__FIRE_BATCH) {
                ax__timer_entry *e = (ax__timer_entry *)list;
                batch[n++] = e->waker;
                e->waker.vtable = NULL;
            } else {
                /* Beyond one batch: put it back as due; the next pass takes
                 * it. The entry's memory is only safe while it is in the
                 * wheel or under the lock. */
                ax__wheel_insert(&owner->wheel, list, now);
            }
            list = next;
        }
        ax__wheel_note_next(owner);
        ax__spin_unlock(&owner->wheel_lock);
        /* Counted before the wakes: a woken task may finish, and its
         * joiner read the metrics, before this thread got further. */
        AX__COUNT_N(&runner->stats, timers_fired, n);
        for (size_t i = 0; i < n; i++) ax_waker_wake(&batch[i]);
        fired += n;
        if (n < AX__FIRE_BATCH) return fired;
    }
}

size_t ax__timers_run(ax__worker *w) {
    return ax__wheel_fire(w, w, ax__tick_now(w->rt));
}

size_t ax__timers_run_all(ax__worker *w) {
    ax_runtime *rt = w->rt;
    uint64_t now = ax__tick_now(rt);
    size_t fired = ax__wheel_fire(w, w, now);
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (&rt->workers[i] != w) fired += ax__wheel_fire(w, &rt->workers[i], now);
    return fired;
}

/* An idle worker sleeps until the earliest timer of any wheel, so a wheel
 * whose worker is held by a long-running task is still served on time. */
int ax__timers_timeout_ms(ax__worker *w) {
    ax_runtime *rt = w->rt;
    uint64_t next = UINT64_MAX;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        uint64_t n = atomic_load_explicit(&rt->workers[i].wheel_next, memory_order_acquire);
        if (n < next) next = n;
    }
    if (next == UINT64_MAX) return -1;
    ax_instant due = rt->start + next * AX__NS_PER_MS, now = ax_now();
    if (due <= now) return 0;
    uint64_t ms = (due - now + AX__NS_PER_MS - 1) / AX__NS_PER_MS;
    return ms > 86400000u ? 86400000 : (int)ms;
}

/* Sleep futures. */
/* Once armed, the wheel decides readiness: a timer fires only at or after
 * its deadline (ticks round up), so an expired timer needs no clock read,
 * which costs more than the rest of the poll on some machines. */
static ax_poll ax__sleep_ready(ax_sleep_future *s) {
    ax__entry_of(s)->node.flags = AX__SLEEP_DONE;
    s->base.result = 0;
    return AX_READY;
}

static ax_poll ax__sleep_poll(ax_future *f, ax_context *cx) {
    ax_sleep_future *s = (ax_sleep_future *)f;
    ax__timer_entry *e = ax__entry_of(s);
    ax__worker *w = ax__sleep_wheel(s);
    if (w) {
        ax_waker old = {0};
        ax__spin_lock(&w->wheel_lock);
        bool armed = ax__timer_armed(&e->node);
        if (armed && !ax_waker_will_wake(&e->waker, cx->waker)) {
            old = e->waker;
            e->waker = ax_waker_clone(cx->waker);
        }
        ax__spin_unlock(&w->wheel_lock);
        ax_waker_drop(&old);
        if (armed) return AX_PENDING;
        ax__timer_disarm(w, e); /* expired: forget the wheel */
        return ax__sleep_ready(s);
    }
    if (e->node.flags & AX__SLEEP_DONE) return AX_READY;
    ax_instant deadline = e->node.when;
    if (ax_now() >= deadline) return ax__sleep_ready(s);
    s->base.result = (intptr_t)(uintptr_t)ax__timer_arm(cx->runtime, e, deadline, cx->waker);
    return AX_PENDING;
}

static void ax__sleep_drop(ax_future *f) {
    ax_sleep_future *s = (ax_sleep_future *)f;
    ax__worker *w = ax__sleep_wheel(s);
    if (w) {
        ax__timer_disarm(w, ax__entry_of(s));
        s->base.result = 0;
    }
}

static const ax_future_vtable ax__sleep_vtable = {ax__sleep_poll, ax__sleep_drop};

void ax_sleep_future_init(ax_sleep_future *s, ax_instant deadline) {
    ax__timer_entry *e = ax__entry_of(s);
    s->base.vtable = &ax__sleep_vtable;
    s->base.result = 0;
    ax__timer_init(&e->node);
    e->node.when = deadline;
    e->waker.vtable = NULL;
}

int ax_sleep_until(ax_instant deadline) {
    ax_sleep_future s;
    ax_sleep_future_init(&s, deadline);
    return (int)ax_await(&s.base);
}

int ax_sleep(uint64_t ms) {
    return ax_sleep_until(ax_deadline_in_ms(ms));
}

int ax_interval_init(ax_interval *iv, uint64_t period_ms) {
    if (!period_ms) return AX_EINVAL;
    iv->period_ns = period_ms * AX__NS_PER_MS;
    iv->next = ax_now() + iv->period_ns;
    return 0;
}

int64_t ax_interval_tick(ax_interval *iv) {
    int err = ax_sleep_until(iv->next);
    if (err) return err;
    ax_instant now = ax_now();
    uint64_t missed = now >= iv->next + iv->period_ns ? (now - iv->next) / iv->period_ns : 0;
    iv->next += (missed + 1) * iv->period_ns;
    return (int64_t)missed;
}
