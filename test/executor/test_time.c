/* Runtime timers through the public API: sleeps never fire early, fire in
 * deadline order, deadlines on awaits, intervals, sleeps on plain threads. */
#include <criterion/criterion.h>

#include <stdatomic.h>
#include <stdint.h>

#include "axon.h"
#include "test/executor/fixtures.h"

#define MS 1000000ull

static void *sleep_not_early(void *arg) {
    for (uint64_t ms = 0; ms < 30; ms += 7) {
        ax_instant t0 = ax_now();
        cr_assert_eq(ax_sleep(ms), 0);
        cr_assert_geq(ax_now() - t0, ms * MS, "ax_sleep(%llu) woke early", (unsigned long long)ms);
    }
    ax_instant d = ax_deadline_in_ms(15);
    cr_assert_eq(ax_sleep_until(d), 0);
    cr_assert_geq(ax_now(), d);
    cr_assert_eq(ax_sleep_until(ax_now() - 5 * MS), 0, "a past deadline returns at once");
    return NULL;
}

Test(time, sleep_never_early, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, sleep_not_early, NULL, NULL), 0);
}

static int order[64];
static atomic_int order_n;
static void *sleep_and_record(void *arg) {
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_sleep((uint64_t)(intptr_t)arg), 0);
    cr_assert_geq(ax_now() - t0, (uint64_t)(intptr_t)arg * MS, "woke early");
    order[atomic_fetch_add(&order_n, 1)] = (int)(intptr_t)arg;
    return NULL;
}

/* Deadlines spread over level 0 and level 1 of the wheel (64 ms). Timers
 * that are both overdue when the worker gets to them are equally ready, so
 * order is only checked between deadlines 20 ms or more apart. */
static void *ordering_main(void *arg) {
    static const int ms[] = {90, 3, 70, 1, 65, 40, 2, 130, 64, 63, 10, 0};
    const int n = (int)(sizeof(ms) / sizeof(ms[0]));
    ax_task *h[sizeof(ms) / sizeof(ms[0])];
    for (int i = 0; i < n; i++)
        cr_assert_eq(ax_spawn(&h[i], sleep_and_record, (void *)(intptr_t)ms[i]), 0);
    for (int i = 0; i < n; i++) cr_assert_eq(ax_join(h[i], NULL), 0);
    cr_assert_eq(atomic_load(&order_n), n);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            cr_assert_lt(order[i], order[j] + 20, "timer %d ms fired before %d ms", order[i],
                         order[j]);
    return NULL;
}

Test(time, sleeps_fire_in_deadline_order, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, ordering_main, NULL, NULL), 0);
}

static void *await_deadline(void *arg) {
    ax_sleep_future s;
    ax_sleep_future_init(&s, ax_deadline_in_ms(10000));
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_await_until(&s.base, ax_deadline_in_ms(20)), AX_ETIMEDOUT);
    uint64_t took = ax_now() - t0;
    cr_assert_geq(took, 20 * MS);
    cr_assert_lt(took, 2000 * MS);
    /* a future that finishes first wins over the deadline */
    ax_sleep_future_init(&s, ax_deadline_in_ms(5));
    cr_assert_eq(ax_await_until(&s.base, ax_deadline_in_ms(5000)), 0);
    return NULL;
}

Test(time, await_until_times_out, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, await_deadline, NULL, NULL), 0);
}

static void *interval_main(void *arg) {
    ax_interval iv;
    cr_assert_eq(ax_interval_init(&iv, 0), AX_EINVAL);
    cr_assert_eq(ax_interval_init(&iv, 5), 0);
    ax_instant t0 = ax_now();
    for (int i = 0; i < 4; i++) cr_assert_geq(ax_interval_tick(&iv), 0);
    cr_assert_geq(ax_now() - t0, 20 * MS);
    /* fall behind by several periods: the missed ticks are reported */
    ax_instant busy = ax_now() + 23 * MS;
    while (ax_now() < busy) {
    }
    cr_assert_geq(ax_interval_tick(&iv), 3);
    return NULL;
}

Test(time, interval_ticks_and_reports_missed, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, interval_main, NULL, NULL), 0);
}

Test(time, sleep_future_on_plain_thread, .init = rt_two, .fini = rt_done) {
    ax_sleep_future s;
    ax_instant d = ax_deadline_in_ms(15);
    ax_sleep_future_init(&s, d);
    cr_assert_eq(ax_block_on(rt, &s.base), 0);
    cr_assert_geq(ax_now(), d);
}

/* Many timers armed and cancelled by tasks on two workers, some of them
 * cancelled from another worker after the task moved. */
static atomic_int fired;
static void *short_sleep(void *arg) {
    if (ax_sleep((uint64_t)(intptr_t)arg % 7) == 0) atomic_fetch_add(&fired, 1);
    return NULL;
}

static void *timer_storm(void *arg) {
    ax_task *h[2000];
    for (int i = 0; i < 2000; i++)
        cr_assert_eq(ax_spawn(&h[i], short_sleep, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 2000; i += 3) ax_abort(h[i]);
    for (int i = 0; i < 2000; i++) ax_join(h[i], NULL);
    cr_assert_geq(atomic_load(&fired), 2000 - 667);
    return NULL;
}

Test(time, timer_storm_two_workers, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, timer_storm, NULL, NULL), 0);
}

Test(time, now_is_monotonic) {
    ax_instant a = ax_now(), b = ax_now();
    cr_assert_leq(a, b);
    cr_assert_geq(ax_deadline_in_ms(10), b + 10 * MS);
}

/* The sleep future's life cycle through the future protocol itself: fused
 * after READY, drop in every state, re-poll with another waker. */
static void *sleep_future_protocol(void *arg) {
    cr_assert_leq(sizeof(ax_sleep_future), 64, "a timer the caller holds is at most 64 bytes");
    ax_sleep_future s;
    ax_sleep_future_init(&s, ax_deadline_in_ms(5));
    ax_future_drop(&s.base); /* never polled */
    ax_sleep_future_init(&s, ax_now() - 1);
    ax_context cx = {NULL, ax_current_runtime()};
    cr_assert_eq(ax_future_poll(&s.base, &cx), AX_READY, "a past deadline is ready at once");
    cr_assert_eq(s.base.result, 0);
    cr_assert_eq(ax_future_poll(&s.base, &cx), AX_READY, "fused: ready stays ready");
    ax_future_drop(&s.base);
    /* armed, then expired through the wheel, then polled twice */
    ax_sleep_future_init(&s, ax_deadline_in_ms(3));
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_await(&s.base), 0);
    cr_assert_geq(ax_now() - t0, 3 * MS);
    /* armed and dropped before expiry: the timer is gone, nothing wakes us */
    ax_sleep_future_init(&s, ax_deadline_in_ms(2));
    ax_sleep_future early;
    ax_sleep_future_init(&early, ax_deadline_in_ms(1000));
    cr_assert_eq(ax_await_until(&early.base, ax_deadline_in_ms(1)), AX_ETIMEDOUT);
    return NULL;
}

Test(time, sleep_future_protocol, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, sleep_future_protocol, NULL, NULL), 0);
}
