/* Combinators through the public API, on one and on two workers: all, race,
 * any, all_settled (small groups, which poll every child, and large ones,
 * which use per-child wakers), timeout, delay, retry, nesting, 1,000
 * children without a task spawned, cancellation, and wakes that arrive after
 * the combinator is gone. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "axon.h"
#include "axon/combinators.h"
#include "test/executor/fixtures.h"

#define MS 1000000ull

/* Every test body runs on one worker and on two. */
#define BOTH(suite, name)                                                                          \
    static void *name##_main(void *arg);                                                           \
    Test(suite, name##_1w, .init = rt_one, .fini = rt_done) {                                      \
        cr_assert_eq(ax_run(rt, name##_main, NULL, NULL), 0);                                      \
    }                                                                                              \
    Test(suite, name##_2w, .init = rt_two, .fini = rt_done) {                                      \
        cr_assert_eq(ax_run(rt, name##_main, NULL, NULL), 0);                                      \
    }                                                                                              \
    static void *name##_main(void *arg)

static void sleep_ms_thread(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* ---- a future completed by hand from any thread; counts polls and drops */

typedef struct manual {
    ax_future base;
    pthread_mutex_t lock;
    bool ready;
    intptr_t value;
    ax_waker waker;
    atomic_int polls;
    atomic_int drops;
} manual;

static ax_poll manual_poll(ax_future *f, ax_context *cx) {
    manual *m = (manual *)f;
    atomic_fetch_add(&m->polls, 1);
    ax_waker old = {0};
    pthread_mutex_lock(&m->lock);
    if (m->ready) {
        pthread_mutex_unlock(&m->lock);
        f->result = m->value;
        return AX_READY;
    }
    if (!ax_waker_will_wake(&m->waker, cx->waker)) {
        old = m->waker;
        m->waker = ax_waker_clone(cx->waker);
    }
    pthread_mutex_unlock(&m->lock);
    ax_waker_drop(&old);
    return AX_PENDING;
}

static void manual_drop(ax_future *f) {
    manual *m = (manual *)f;
    pthread_mutex_lock(&m->lock);
    ax_waker w = m->waker;
    m->waker.vtable = NULL;
    pthread_mutex_unlock(&m->lock);
    ax_waker_drop(&w);
    atomic_fetch_add(&m->drops, 1);
}

static const ax_future_vtable manual_vtable = {manual_poll, manual_drop};

static void manual_init(manual *m, intptr_t value) {
    m->base.vtable = &manual_vtable;
    m->base.result = 0;
    pthread_mutex_init(&m->lock, NULL);
    m->ready = false;
    m->value = value;
    m->waker.vtable = NULL;
    m->waker.data = NULL;
    atomic_init(&m->polls, 0);
    atomic_init(&m->drops, 0);
}

/* Any thread. */
static void manual_complete(manual *m) {
    pthread_mutex_lock(&m->lock);
    m->ready = true;
    ax_waker w = m->waker;
    m->waker.vtable = NULL;
    pthread_mutex_unlock(&m->lock);
    ax_waker_wake(&w);
}

static void manual_fini(manual *m) {
    pthread_mutex_destroy(&m->lock);
}

/* ---- a future whose wake is already in flight when it is dropped, like a
 * timer that copied its waker out just as its owner gave up on it: the
 * first poll hands a waker clone to a thread that wakes it ms later. */

typedef struct late {
    ax_future base;
    bool started;
    unsigned ms;
    ax_waker waker;
    pthread_t thread;
} late;

static void *late_thread(void *arg) {
    late *l = arg;
    sleep_ms_thread(l->ms);
    ax_waker_wake(&l->waker);
    return NULL;
}

static ax_poll late_poll(ax_future *f, ax_context *cx) {
    late *l = (late *)f;
    if (!l->started) {
        l->started = true;
        l->waker = ax_waker_clone(cx->waker);
        cr_assert_eq(pthread_create(&l->thread, NULL, late_thread, l), 0);
    }
    return AX_PENDING;
}

/* Deliberately leaves the in-flight wake alone. */
static const ax_future_vtable late_vtable = {late_poll, NULL};

static void late_init(late *l, unsigned ms) {
    l->base.vtable = &late_vtable;
    l->base.result = 0;
    l->started = false;
    l->ms = ms;
    l->waker.vtable = NULL;
}

static void late_join(late *l) {
    if (l->started) pthread_join(l->thread, NULL);
}

static uint64_t tasks_spawned(void) {
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    return m.tasks_spawned;
}

/* ---- all ---- */

static void check_all_in_order(size_t n) {
    static const unsigned ms[] = {30, 5, 20, 1, 15, 0, 25, 10, 3};
    ax_delay_future d[9];
    ax_future *c[9];
    intptr_t res[9];
    for (size_t i = 0; i < n; i++) {
        ax_delay_future_init(&d[i], ms[i], (intptr_t)(i * 10 + 1));
        c[i] = &d[i].base;
        res[i] = -1;
    }
    ax_all_future all;
    ax_all_future_init(&all, c, n, res);
    cr_assert_eq(ax_await(&all.base), 0);
    cr_assert_eq(all.index, AX_NO_INDEX);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(res[i], (intptr_t)(i * 10 + 1), "results[%zu]", i);
        cr_assert_eq(c[i]->result, (intptr_t)(i * 10 + 1), "children[%zu]->result", i);
    }
}

BOTH(combinators, all_results_in_input_order) {
    check_all_in_order(3); /* polled together */
    check_all_in_order(9); /* per-child wakers */
    /* the suspending form, and no children */
    ax_delay_future a, b;
    ax_delay_future_init(&a, 10, 1);
    ax_delay_future_init(&b, 2, 2);
    ax_future *c[] = {&a.base, &b.base};
    intptr_t r[2];
    cr_assert_eq(ax_all(c, 2, r), 0);
    cr_assert_eq(r[0], 1);
    cr_assert_eq(r[1], 2);
    cr_assert_eq(ax_all(NULL, 0, NULL), 0);
    return NULL;
}

static void check_all_fails_fast(size_t n_manual) {
    enum { MAXM = 6 };
    ax_delay_future ok, bad, slow;
    manual m[MAXM];
    ax_future *c[3 + MAXM];
    intptr_t res[3 + MAXM];
    size_t n = 0;
    /* `ok` is ready at the first poll and `bad` later, whatever the load:
     * the order in which they settle does not depend on timing */
    ax_delay_future_init(&ok, 0, 1);
    ax_delay_future_init(&bad, 15, AX_EIO);
    ax_delay_future_init(&slow, 5000, 3);
    c[n++] = &ok.base;
    c[n++] = &bad.base;
    for (size_t i = 0; i < n_manual; i++) {
        manual_init(&m[i], 0);
        c[n++] = &m[i].base;
    }
    c[n++] = &slow.base;
    ax_all_future all;
    ax_all_future_init(&all, c, n, res);
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_await(&all.base), AX_EIO);
    cr_assert_lt(ax_now() - t0, 3000 * MS, "did not wait for the slow child");
    cr_assert_eq(all.index, 1);
    cr_assert_eq(res[0], 1);
    cr_assert_eq(res[1], AX_EIO);
    for (size_t i = 0; i < n_manual; i++) {
        cr_assert_eq(atomic_load(&m[i].drops), 1, "pending child %zu dropped once", i);
        cr_assert_eq(res[2 + i], AX_ECANCELED);
        cr_assert_eq(m[i].base.result, AX_ECANCELED);
        manual_fini(&m[i]);
    }
    cr_assert_eq(res[n - 1], AX_ECANCELED);
    cr_assert_eq(slow.base.result, AX_ECANCELED);
}

BOTH(combinators, all_fails_fast_and_drops_the_rest) {
    check_all_fails_fast(1); /* 4 children */
    check_all_fails_fast(6); /* 9 children */
    return NULL;
}

/* ---- race ---- */

static void check_race(size_t n, size_t fast) {
    ax_delay_future d[8];
    ax_future *c[8];
    for (size_t i = 0; i < n; i++) {
        ax_delay_future_init(&d[i], i == fast ? 5 : 5000, (intptr_t)(100 + i));
        c[i] = &d[i].base;
    }
    ax_race_future race;
    ax_race_future_init(&race, c, n);
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_await(&race.base), (intptr_t)(100 + fast));
    cr_assert_lt(ax_now() - t0, 3000 * MS);
    cr_assert_eq(race.index, fast);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(c[i]->result, i == fast ? (intptr_t)(100 + fast) : AX_ECANCELED);
}

BOTH(combinators, race_reports_the_winner_index) {
    check_race(2, 1);
    check_race(8, 5);
    /* a failure that settles first wins the race too */
    ax_delay_future a, b;
    manual m;
    manual_init(&m, 0);
    ax_delay_future_init(&a, 3000, 1);
    ax_delay_future_init(&b, 3, AX_ECONNRESET);
    ax_future *c[] = {&a.base, &m.base, &b.base};
    size_t w = 99;
    cr_assert_eq(ax_race(c, 3, &w), AX_ECONNRESET);
    cr_assert_eq(w, 2);
    cr_assert_eq(atomic_load(&m.drops), 1);
    manual_fini(&m);
    /* a race of nothing would never end */
    cr_assert_eq(ax_race(NULL, 0, &w), AX_EINVAL);
    cr_assert_eq(w, AX_NO_INDEX);
    return NULL;
}

/* ---- any ---- */

static void check_any(size_t extra) {
    ax_delay_future d[4];
    manual m[6];
    ax_future *c[10];
    intptr_t res[10];
    /* d[0] fails at the first poll, d[1] soon after; the success comes
     * long after both (timers due at once may be seen in any order) */
    ax_delay_future_init(&d[0], 0, AX_EIO);
    ax_delay_future_init(&d[1], 2, AX_ECONNREFUSED);
    ax_delay_future_init(&d[2], 300, 42);
    ax_delay_future_init(&d[3], 5000, 7);
    size_t n = 0;
    for (int i = 0; i < 4; i++) c[n++] = &d[i].base;
    for (size_t i = 0; i < extra; i++) {
        manual_init(&m[i], 0);
        c[n++] = &m[i].base;
    }
    ax_any_future any;
    ax_any_future_init(&any, c, n, res);
    cr_assert_eq(ax_await(&any.base), 42);
    cr_assert_eq(any.index, 2);
    cr_assert_eq(res[0], AX_EIO);
    cr_assert_eq(res[1], AX_ECONNREFUSED);
    cr_assert_eq(res[2], 42);
    cr_assert_eq(res[3], AX_ECANCELED);
    for (size_t i = 0; i < extra; i++) {
        cr_assert_eq(atomic_load(&m[i].drops), 1);
        manual_fini(&m[i]);
    }
}

BOTH(combinators, any_skips_failures) {
    check_any(0);
    check_any(6);
    return NULL;
}

static void check_any_all_failed(size_t n) {
    ax_delay_future d[8];
    ax_future *c[8];
    intptr_t res[8];
    for (size_t i = 0; i < n; i++) {
        ax_delay_future_init(&d[i], (i * 7) % 5, -(intptr_t)(i + 1));
        c[i] = &d[i].base;
    }
    size_t w = 0;
    cr_assert_eq(ax_any(c, n, &w, res), AX_EFAILED);
    cr_assert_eq(w, AX_NO_INDEX);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(res[i], -(intptr_t)(i + 1));
        cr_assert_eq(c[i]->result, -(intptr_t)(i + 1));
    }
}

BOTH(combinators, any_all_failed) {
    check_any_all_failed(3);
    check_any_all_failed(8);
    cr_assert_eq(ax_any(NULL, 0, NULL, NULL), AX_EFAILED);
    return NULL;
}

/* ---- all_settled ---- */

static void check_settled(size_t n) {
    ax_delay_future d[8];
    ax_future *c[8];
    intptr_t res[8];
    for (size_t i = 0; i < n; i++) {
        intptr_t v = i % 2 ? -(intptr_t)(i + 1) : (intptr_t)i;
        ax_delay_future_init(&d[i], (i * 3) % 7, v);
        c[i] = &d[i].base;
    }
    ax_all_settled_future s;
    ax_all_settled_future_init(&s, c, n, res);
    cr_assert_eq(ax_await(&s.base), 0);
    cr_assert_eq(s.index, AX_NO_INDEX);
    for (size_t i = 0; i < n; i++) {
        intptr_t v = i % 2 ? -(intptr_t)(i + 1) : (intptr_t)i;
        cr_assert_eq(res[i], v);
        cr_assert_eq(c[i]->result, v);
    }
}

BOTH(combinators, all_settled_collects_every_result) {
    check_settled(4);
    check_settled(8);
    /* results may be NULL: each child's result field still holds it */
    ax_delay_future a, b;
    ax_delay_future_init(&a, 1, AX_EIO);
    ax_delay_future_init(&b, 2, 5);
    ax_future *c[] = {&a.base, &b.base};
    cr_assert_eq(ax_all_settled(c, 2, NULL), 0);
    cr_assert_eq(a.base.result, AX_EIO);
    cr_assert_eq(b.base.result, 5);
    cr_assert_eq(ax_all_settled(NULL, 0, NULL), 0);
    return NULL;
}

/* ---- timeout and delay ---- */

BOTH(combinators, timeout_fires_and_drops_the_child) {
    manual m;
    manual_init(&m, 1);
    ax_timeout_future tf;
    ax_instant t0 = ax_now();
    ax_timeout_future_init(&tf, &m.base, ax_deadline_in_ms(20));
    cr_assert_eq(ax_await(&tf.base), AX_ETIMEDOUT);
    cr_assert_geq(ax_now() - t0, 20 * MS, "a timeout never fires early");
    cr_assert(tf.elapsed);
    cr_assert_eq(atomic_load(&m.drops), 1);
    cr_assert_eq(m.base.result, AX_ECANCELED);
    manual_fini(&m);
    /* the suspending form; a deadline already past */
    manual_init(&m, 1);
    cr_assert_eq(ax_timeout(&m.base, ax_now() - MS), AX_ETIMEDOUT);
    cr_assert_eq(atomic_load(&m.drops), 1);
    manual_fini(&m);
    return NULL;
}

BOTH(combinators, timeout_does_not_fire_when_the_child_wins) {
    ax_delay_future d;
    ax_timeout_future tf;
    ax_delay_future_init(&d, 5, 9);
    ax_timeout_future_init(&tf, &d.base, ax_deadline_in_ms(5000));
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_await(&tf.base), 9);
    cr_assert_lt(ax_now() - t0, 3000 * MS);
    cr_assert(!tf.elapsed);
    /* a child that itself times out is told apart by `elapsed` */
    ax_delay_future_init(&d, 1, AX_ETIMEDOUT);
    ax_timeout_future_init(&tf, &d.base, ax_deadline_in_ms(5000));
    cr_assert_eq(ax_await(&tf.base), AX_ETIMEDOUT);
    cr_assert(!tf.elapsed);
    /* no deadline */
    ax_delay_future_init(&d, 3, 4);
    cr_assert_eq(ax_timeout(&d.base, AX_NO_DEADLINE), 4);
    return NULL;
}

BOTH(combinators, delay_yields_its_value_after_ms) {
    ax_delay_future d;
    ax_instant t0 = ax_now();
    ax_delay_future_init(&d, 20, 77);
    cr_assert_eq(ax_await(&d.base), 77);
    cr_assert_geq(ax_now() - t0, 20 * MS);
    ax_delay_future_init(&d, 0, AX_EPIPE);
    cr_assert_eq(ax_await(&d.base), AX_EPIPE);
    return NULL;
}

/* ---- retry ---- */

typedef struct op {
    ax_delay_future d;        /* one storage for every attempt */
    unsigned fail_first;      /* attempts that fail before one succeeds */
    intptr_t err;             /* what they fail with */
    int make_error_at;        /* make() fails at this attempt (0: never) */
    ax_instant at[64];        /* when each attempt was made */
    uint64_t delay[64];       /* the delays on_retry reported */
    intptr_t errs[64];        /* and the errors */
    unsigned made, retries;   /* calls to make and on_retry */
    atomic_uint started;      /* made, for other tasks to watch */
    bool only_eio_retryable;  /* the retryable predicate */
    const ax_retry_policy *p; /* to check jitter bounds */
} op;

static int op_make(void *arg, unsigned attempt, ax_future **out) {
    op *o = arg;
    cr_assert_eq(attempt, o->made + 1, "attempts are numbered from 1");
    if (o->make_error_at && (int)attempt == o->make_error_at) return AX_ENOMEM;
    if (o->made < 64) o->at[o->made] = ax_now();
    o->made++;
    atomic_fetch_add(&o->started, 1);
    ax_delay_future_init(&o->d, 1, attempt <= o->fail_first ? o->err : (intptr_t)(1000 + attempt));
    *out = &o->d.base;
    return 0;
}

static bool op_retryable(void *arg, intptr_t err) {
    op *o = arg;
    return o->only_eio_retryable ? err == AX_EIO : err != AX_ECANCELED;
}

static void op_on_retry(void *arg, unsigned attempt, intptr_t err, uint64_t delay_ms) {
    op *o = arg;
    cr_assert_eq(attempt, o->made);
    if (o->retries < 64) {
        o->delay[o->retries] = delay_ms;
        o->errs[o->retries] = err;
    }
    o->retries++;
}

static const ax_retry_ops op_ops = {op_make, op_retryable, op_on_retry};

BOTH(combinators_retry, succeeds_after_failures_with_growing_delays) {
    ax_retry_policy p = {
        .max_attempts = 6, .initial_delay_ms = 10, .max_delay_ms = 25, .factor = 2.0, .jitter = 0};
    op o = {.fail_first = 4, .err = AX_EIO};
    ax_retry_future rf;
    ax_retry_future_init(&rf, &p, &op_ops, &o);
    cr_assert_eq(ax_await(&rf.base), 1005);
    cr_assert_eq(rf.attempts, 5);
    cr_assert_eq(o.made, 5);
    cr_assert_eq(o.retries, 4);
    static const uint64_t want[] = {10, 20, 25, 25}; /* doubling, capped */
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_eq(o.delay[i], want[i], "delay %u", i);
        cr_assert_eq(o.errs[i], AX_EIO);
        /* the attempt took >= 1 ms, then the backoff */
        cr_assert_geq(o.at[i + 1] - o.at[i], (want[i] + 1) * MS, "gap %u too short", i);
    }
    return NULL;
}

BOTH(combinators_retry, gives_up_after_max_attempts) {
    ax_retry_policy p = {.max_attempts = 3, .initial_delay_ms = 2, .factor = 3.0, .jitter = 0};
    op o = {.fail_first = 100, .err = AX_ECONNREFUSED};
    cr_assert_eq(ax_retry(&p, &op_ops, &o), AX_ECONNREFUSED);
    cr_assert_eq(o.made, 3);
    cr_assert_eq(o.retries, 2);
    cr_assert_eq(o.delay[0], 2);
    cr_assert_eq(o.delay[1], 6);
    return NULL;
}

BOTH(combinators_retry, does_not_retry_a_non_retryable_error) {
    ax_retry_policy p = {.max_attempts = 5, .initial_delay_ms = 1};
    op o = {.fail_first = 100, .err = AX_EACCES, .only_eio_retryable = true};
    cr_assert_eq(ax_retry(&p, &op_ops, &o), AX_EACCES);
    cr_assert_eq(o.made, 1);
    cr_assert_eq(o.retries, 0);
    /* the default predicate retries everything but AX_ECANCELED */
    static const ax_retry_ops no_pred = {op_make, NULL, op_on_retry};
    op c = {.fail_first = 100, .err = AX_ECANCELED};
    cr_assert_eq(ax_retry(&p, &no_pred, &c), AX_ECANCELED);
    cr_assert_eq(c.made, 1);
    op e = {.fail_first = 2, .err = AX_EAGAIN};
    cr_assert_eq(ax_retry(&p, &no_pred, &e), 1003);
    return NULL;
}

BOTH(combinators_retry, jitter_stays_within_bounds) {
    static const double jit[] = {1.0, 0.5};
    for (int j = 0; j < 2; j++) {
        ax_retry_policy p = {.max_attempts = 7,
                             .initial_delay_ms = 4,
                             .max_delay_ms = 16,
                             .factor = 2.0,
                             .jitter = jit[j]};
        unsigned below_base = 0, total = 0;
        for (int run = 0; run < 6; run++) {
            op o = {.fail_first = 100, .err = AX_EIO};
            cr_assert_eq(ax_retry(&p, &op_ops, &o), AX_EIO);
            cr_assert_eq(o.made, 7);
            cr_assert_eq(o.retries, 6);
            uint64_t base = 4;
            for (unsigned i = 0; i < 6; i++) {
                uint64_t lo = (uint64_t)((double)base * (1.0 - jit[j]));
                cr_assert_leq(o.delay[i], base, "delay %u above its base", i);
                cr_assert_geq(o.delay[i], lo, "delay %u below base * (1 - jitter)", i);
                cr_assert_geq(o.at[i + 1] - o.at[i], (o.delay[i] + 1) * MS, "slept less");
                below_base += o.delay[i] < base;
                total++;
                base = base * 2 > 16 ? 16 : base * 2;
            }
        }
        cr_assert_gt(below_base, total / 4, "jitter %g: the delays are randomised", jit[j]);
    }
    return NULL;
}

BOTH(combinators_retry, zero_delays_unlimited_attempts_and_make_errors) {
    /* no delay, no cap on attempts: yields between attempts */
    ax_retry_policy p = {0};
    op o = {.fail_first = 30, .err = AX_EAGAIN};
    cr_assert_eq(ax_retry(&p, &op_ops, &o), 1031);
    cr_assert_eq(o.made, 31);
    for (unsigned i = 0; i < 30; i++) cr_assert_eq(o.delay[i], 0);
    /* make() failing ends the retry with its code */
    op m = {.fail_first = 100, .err = AX_EIO, .make_error_at = 3};
    cr_assert_eq(ax_retry(&p, &op_ops, &m), AX_ENOMEM);
    cr_assert_eq(m.made, 2);
    /* defaults, and a missing make() */
    ax_retry_policy d;
    ax_retry_policy_init(&d);
    cr_assert_eq(d.max_attempts, 3);
    cr_assert_eq(d.initial_delay_ms, 100);
    cr_assert_eq(d.max_delay_ms, 10000);
    cr_assert(d.factor == 2.0 && d.jitter == 1.0);
    static const ax_retry_ops none = {NULL, NULL, NULL};
    cr_assert_eq(ax_retry(NULL, &none, NULL), AX_EINVAL);
    return NULL;
}

/* Retries inside a large group: their zero-delay yields wake the group's
 * per-child wakers while the group is polling them. */
BOTH(combinators_retry, retries_inside_a_group) {
    enum { N = 6 };
    op o[N];
    ax_retry_future rf[N];
    ax_future *c[N];
    intptr_t res[N];
    ax_retry_policy zero = {0}, two = {.initial_delay_ms = 2, .jitter = 1.0};
    for (int i = 0; i < N; i++) {
        o[i] = (op){.fail_first = (unsigned)i, .err = AX_EAGAIN};
        ax_retry_future_init(&rf[i], i % 2 ? &two : &zero, &op_ops, &o[i]);
        c[i] = &rf[i].base;
    }
    cr_assert_eq(ax_all(c, N, res), 0);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(res[i], 1000 + i + 1);
        cr_assert_eq(o[i].made, (unsigned)i + 1);
    }
    return NULL;
}

/* A retry that is cancelled mid-backoff and mid-attempt drops what it holds. */
static void *retry_forever(void *arg) {
    ax_retry_policy p = {.initial_delay_ms = 5};
    return (void *)ax_retry(&p, &op_ops, arg);
}

BOTH(combinators_retry, cancellation_drops_the_attempt) {
    op o = {.fail_first = 1000000, .err = AX_EIO};
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, retry_forever, &o), 0);
    while (atomic_load(&o.started) < 2) cr_assert_eq(ax_sleep(1), 0);
    ax_abort(t);
    void *v = NULL;
    cr_assert_eq(ax_join(t, &v), AX_ECANCELED);
    cr_assert_eq((intptr_t)v, AX_ECANCELED);
    cr_assert_geq(o.made, 2);
    return NULL;
}

/* ---- nesting ---- */

BOTH(combinators, nested_combinators) {
    /* all_settled of [race, any, timeout, all of 6 races (per-child wakers
     * at both levels)] */
    ax_delay_future r0, r1, a0, a1, slow;
    ax_delay_future_init(&r0, 5000, 1);
    ax_delay_future_init(&r1, 5, 2);
    ax_future *rc[] = {&r0.base, &r1.base};
    ax_race_future race;
    ax_race_future_init(&race, rc, 2);

    ax_delay_future_init(&a0, 1, AX_EIO);
    ax_delay_future_init(&a1, 10, 4);
    ax_future *ac[] = {&a0.base, &a1.base};
    ax_any_future any;
    ax_any_future_init(&any, ac, 2, NULL);

    ax_delay_future_init(&slow, 5000, 3);
    ax_timeout_future to;
    ax_timeout_future_init(&to, &slow.base, ax_deadline_in_ms(20));

    ax_delay_future inner[6][2];
    ax_future *ic[6][2];
    ax_race_future races[6];
    ax_future *rcs[6];
    intptr_t inner_res[6];
    for (int i = 0; i < 6; i++) {
        ax_delay_future_init(&inner[i][0], (unsigned)(i * 3 + 1), 10 * i);
        ax_delay_future_init(&inner[i][1], 2000, -1);
        ic[i][0] = &inner[i][0].base;
        ic[i][1] = &inner[i][1].base;
        ax_race_future_init(&races[i], ic[i], 2);
        rcs[i] = &races[i].base;
    }
    ax_all_future all;
    ax_all_future_init(&all, rcs, 6, inner_res);

    ax_future *top[] = {&race.base, &any.base, &to.base, &all.base};
    intptr_t res[4];
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_all_settled(top, 4, res), 0);
    cr_assert_lt(ax_now() - t0, 1500 * MS);
    cr_assert_eq(res[0], 2);
    cr_assert_eq(race.index, 1);
    cr_assert_eq(res[1], 4);
    cr_assert_eq(any.index, 1);
    cr_assert_eq(res[2], AX_ETIMEDOUT);
    cr_assert(to.elapsed);
    cr_assert_eq(res[3], 0);
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(inner_res[i], 10 * i);
        cr_assert_eq(races[i].index, 0);
    }
    return NULL;
}

/* ---- 1,000 children, no task spawned ---- */

#define THOUSAND 1000

BOTH(combinators, all_over_1000_sleeps_spawns_no_task) {
    ax_delay_future *d = malloc(THOUSAND * sizeof(*d));
    ax_future **c = malloc(THOUSAND * sizeof(*c));
    intptr_t *res = malloc(THOUSAND * sizeof(*res));
    cr_assert(d && c && res);
    for (size_t i = 0; i < THOUSAND; i++) {
        ax_delay_future_init(&d[i], 1 + (i * 7919) % 40, (intptr_t)i);
        c[i] = &d[i].base;
    }
    uint64_t before = tasks_spawned();
    cr_assert_eq(ax_all(c, THOUSAND, res), 0);
    cr_assert_eq(tasks_spawned(), before, "all spawned a task");
    for (size_t i = 0; i < THOUSAND; i++) cr_assert_eq(res[i], (intptr_t)i);
    free(d);
    free(c);
    free(res);
    return NULL;
}

typedef struct completer {
    manual *m;
    size_t n;
} completer;

/* Completes every future in a shuffled order, from a plain thread. */
static void *complete_shuffled(void *arg) {
    completer *k = arg;
    size_t *order = malloc(k->n * sizeof(*order));
    for (size_t i = 0; i < k->n; i++) order[i] = i;
    uint64_t x = 88172645463325252ull;
    for (size_t i = k->n; i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < k->n; i++) {
        manual_complete(&k->m[order[i]]);
        if (i % 100 == 0) sleep_ms_thread(1);
    }
    free(order);
    return NULL;
}

BOTH(combinators, all_over_1000_woken_from_a_thread_polls_only_the_woken) {
    manual *m = malloc(THOUSAND * sizeof(*m));
    ax_future **c = malloc(THOUSAND * sizeof(*c));
    intptr_t *res = malloc(THOUSAND * sizeof(*res));
    cr_assert(m && c && res);
    for (size_t i = 0; i < THOUSAND; i++) {
        manual_init(&m[i], (intptr_t)(i * 2));
        c[i] = &m[i].base;
    }
    uint64_t before = tasks_spawned();
    completer k = {m, THOUSAND};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, complete_shuffled, &k), 0);
    cr_assert_eq(ax_all(c, THOUSAND, res), 0);
    pthread_join(th, NULL);
    cr_assert_eq(tasks_spawned(), before, "all spawned a task");
    long polls = 0;
    for (size_t i = 0; i < THOUSAND; i++) {
        cr_assert_eq(res[i], (intptr_t)(i * 2));
        cr_assert_eq(atomic_load(&m[i].drops), 1, "child %zu dropped once", i);
        int p = atomic_load(&m[i].polls);
        cr_assert(p >= 1 && p <= 2, "child %zu polled %d times: only woken children are polled", i,
                  p);
        polls += p;
        manual_fini(&m[i]);
    }
    cr_assert_leq(polls, 2 * THOUSAND);
    free(m);
    free(c);
    free(res);
    return NULL;
}

typedef struct striper {
    manual *m;
    size_t n, first, step;
} striper;

/* Completes m[first], m[first + step], ... from a plain thread. */
static void *complete_stripe(void *arg) {
    striper *k = arg;
    for (size_t i = k->first; i < k->n; i += k->step) {
        manual_complete(&k->m[i]);
        if (i % 7 == 0) sched_yield();
    }
    return NULL;
}

/* Four threads wake children at once while the group registers its waker
 * and reads the ready bits: every child is seen, none twice. */
BOTH(combinators, concurrent_wakes_from_threads) {
    enum { N = 96, THREADS = 4 };
    static manual m[N];
    ax_future *c[N];
    intptr_t res[N];
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < N; i++) {
            manual_init(&m[i], (intptr_t)i);
            c[i] = &m[i].base;
        }
        pthread_t th[THREADS];
        striper k[THREADS];
        for (size_t t = 0; t < THREADS; t++) {
            k[t] = (striper){m, N, t, THREADS};
            cr_assert_eq(pthread_create(&th[t], NULL, complete_stripe, &k[t]), 0);
        }
        cr_assert_eq(ax_all(c, N, res), 0);
        for (size_t t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
        for (size_t i = 0; i < N; i++) {
            cr_assert_eq(res[i], (intptr_t)i);
            cr_assert_eq(atomic_load(&m[i].drops), 1);
            cr_assert_leq(atomic_load(&m[i].polls), 2);
            manual_fini(&m[i]);
        }
    }
    return NULL;
}

/* ---- cancellation ---- */

typedef struct cancel_case {
    manual *m;
    size_t n;
} cancel_case;

static void *await_all_of(void *arg) {
    cancel_case *cc = arg;
    ax_future *c[16];
    intptr_t res[16];
    for (size_t i = 0; i < cc->n; i++) c[i] = &cc->m[i].base;
    int r = ax_all(c, cc->n, res);
    for (size_t i = 0; i < cc->n; i++) cr_assert_eq(res[i], AX_ECANCELED);
    return (void *)(intptr_t)r;
}

static void check_cancel(size_t n) {
    manual m[16];
    for (size_t i = 0; i < n; i++) manual_init(&m[i], 1);
    cancel_case cc = {m, n};
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, await_all_of, &cc), 0);
    /* wait until the group has polled every child (the task runs) */
    for (size_t i = 0; i < n; i++)
        while (atomic_load(&m[i].polls) == 0) cr_assert_eq(ax_sleep(1), 0);
    cr_assert_eq(ax_sleep(5), 0);
    for (size_t i = 0; i < n; i++) cr_assert_eq(atomic_load(&m[i].drops), 0);
    ax_abort(t);
    void *v = NULL;
    cr_assert_eq(ax_join(t, &v), AX_ECANCELED);
    cr_assert_eq((intptr_t)v, AX_ECANCELED, "ax_all returned AX_ECANCELED");
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(atomic_load(&m[i].drops), 1, "child %zu dropped once", i);
        cr_assert_eq(m[i].base.result, AX_ECANCELED);
        manual_fini(&m[i]);
    }
}

BOTH(combinators, cancelling_the_awaiting_task_drops_every_child) {
    check_cancel(3);
    check_cancel(16);
    return NULL;
}

/* ---- wakes after the combinator is gone ---- */

static void check_late_wakes(size_t n_late) {
    late l[8];
    ax_delay_future quick;
    ax_future *c[9];
    for (size_t i = 0; i < n_late; i++) {
        late_init(&l[i], 30 + 5 * (unsigned)i);
        c[i] = &l[i].base;
    }
    ax_delay_future_init(&quick, 1, 7);
    c[n_late] = &quick.base;
    size_t w;
    cr_assert_eq(ax_race(c, n_late + 1, &w), 7);
    cr_assert_eq(w, n_late);
    /* The race is gone; its child wakers fire now, from plain threads. */
    for (size_t i = 0; i < n_late; i++) late_join(&l[i]);
}

BOTH(combinators, child_woken_after_the_combinator_finished) {
    check_late_wakes(2); /* the wakes reach this task's waker */
    check_late_wakes(8); /* they reach the group's per-child wakers */
    return NULL;
}

/* The same from a plain thread with ax_block_on, and a dropped group. */
Test(combinators, block_on_and_late_wakes_from_threads, .init = rt_two, .fini = rt_done) {
    late l[6];
    ax_delay_future quick;
    ax_future *c[7];
    for (size_t i = 0; i < 6; i++) {
        late_init(&l[i], 20);
        c[i] = &l[i].base;
    }
    ax_delay_future_init(&quick, 2, 5);
    c[6] = &quick.base;
    ax_any_future any;
    ax_any_future_init(&any, c, 7, NULL);
    cr_assert_eq(ax_block_on(rt, &any.base), 5);
    cr_assert_eq(any.index, 6);
    for (size_t i = 0; i < 6; i++) late_join(&l[i]);

    /* a group dropped unfinished (poll once by hand, then drop) */
    for (size_t i = 0; i < 6; i++) {
        late_init(&l[i], 10);
        c[i] = &l[i].base;
    }
    ax_all_future all;
    ax_all_future_init(&all, c, 6, NULL);
    ax_timeout_future tf;
    ax_timeout_future_init(&tf, &all.base, ax_deadline_in_ms(1));
    cr_assert_eq(ax_block_on(rt, &tf.base), AX_ETIMEDOUT);
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(l[i].base.result, AX_ECANCELED);
        late_join(&l[i]);
    }
    /* a settled child is a shell: polling it returns its result, dropping
     * it again does nothing */
    cr_assert_eq(ax_block_on(rt, &quick.base), 5);
}

/* A group that is never polled still drops its children. */
Test(combinators, dropping_an_unpolled_group_drops_its_children) {
    manual m[6];
    ax_future *c[6];
    for (int i = 0; i < 6; i++) {
        manual_init(&m[i], 0);
        c[i] = &m[i].base;
    }
    ax_race_future race;
    ax_race_future_init(&race, c, 6);
    ax_future_drop(&race.base);
    ax_future_drop(&race.base); /* finished: a second drop is harmless */
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(atomic_load(&m[i].drops), 1);
        manual_fini(&m[i]);
    }
    cr_assert_eq(race.index, AX_NO_INDEX);
}
