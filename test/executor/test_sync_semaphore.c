/* Semaphore: permits counted exactly, FIFO with large requests, close,
 * deadlines, cancellation, granted-then-dropped waiters returning their
 * permits, and a concurrency limit held under contention. */
#include <criterion/criterion.h>

#include <stdint.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

Test(sync_semaphore, try_acquire_release_counts) {
    ax_semaphore s;
    ax_semaphore_init(&s, 3);
    cr_assert_eq(ax_semaphore_try_acquire(&s, 2), 0);
    cr_assert_eq(ax_semaphore_available(&s), 1);
    cr_assert_eq(ax_semaphore_try_acquire(&s, 2), AX_EAGAIN);
    cr_assert_eq(ax_semaphore_try_acquire(&s, 1), 0);
    cr_assert_eq(ax_semaphore_try_acquire(&s, 0), 0);
    ax_semaphore_release(&s, 3);
    cr_assert_eq(ax_semaphore_available(&s), 3);
    ax_semaphore_release(&s, 2); /* adding permits beyond the start is allowed */
    cr_assert_eq(ax_semaphore_available(&s), 5);
}

Test(sync_semaphore, large_request_at_head_is_not_starved) {
    ax_semaphore s;
    ax_semaphore_init(&s, 1);
    cwaker cb, cs;
    cw_init(&cb);
    cw_init(&cs);
    ax_semaphore_acquire_future big, small;
    ax_semaphore_acquire_future_init(&big, &s, 3);
    ax_semaphore_acquire_future_init(&small, &s, 1);
    cr_assert_eq(cw_poll(&cb, &big), AX_PENDING);
    cr_assert_eq(cw_poll(&cs, &small), AX_PENDING, "FIFO: not past the big request");
    cr_assert_eq(ax_semaphore_try_acquire(&s, 1), AX_EAGAIN, "nor may a newcomer");
    ax_semaphore_release(&s, 1);
    cr_assert_eq(cw_wakes(&cb), 0);
    ax_semaphore_release(&s, 1);
    cr_assert_eq(cw_wakes(&cb), 1, "three permits: the big one goes first");
    cr_assert_eq(cw_wakes(&cs), 0);
    cr_assert_eq(ax_semaphore_available(&s), 0);
    cr_assert_eq(cw_poll(&cb, &big), AX_READY);
    cr_assert_eq(big.base.result, 0);
    ax_future_drop(&big.base);
    ax_semaphore_release(&s, 3);
    cr_assert_eq(cw_wakes(&cs), 1);
    cr_assert_eq(cw_poll(&cs, &small), AX_READY);
    ax_future_drop(&small.base);
    cr_assert_eq(ax_semaphore_available(&s), 2);
    cr_assert_eq(cw_refs(&cb) + cw_refs(&cs), 0);
}

Test(sync_semaphore, dropped_waiters_leak_no_permits) {
    ax_semaphore s;
    ax_semaphore_init(&s, 0);
    cwaker c1, c2;
    cw_init(&c1);
    cw_init(&c2);
    ax_semaphore_acquire_future a, b;
    ax_semaphore_acquire_future_init(&a, &s, 2);
    ax_semaphore_acquire_future_init(&b, &s, 1);
    cr_assert_eq(cw_poll(&c1, &a), AX_PENDING);
    cr_assert_eq(cw_poll(&c2, &b), AX_PENDING);
    ax_semaphore_release(&s, 2); /* granted to a */
    cr_assert_eq(cw_wakes(&c1), 1);
    ax_future_drop(&a.base); /* never collected: the 2 permits come back */
    cr_assert_eq(cw_wakes(&c2), 1, "and satisfy the next waiter");
    cr_assert_eq(cw_poll(&c2, &b), AX_READY);
    ax_future_drop(&b.base);
    cr_assert_eq(ax_semaphore_available(&s), 1);
    /* a queued head that leaves lets a smaller request behind it through */
    ax_semaphore_acquire_future_init(&a, &s, 5);
    ax_semaphore_acquire_future_init(&b, &s, 1);
    cr_assert_eq(cw_poll(&c1, &a), AX_PENDING);
    cr_assert_eq(cw_poll(&c2, &b), AX_PENDING);
    ax_future_drop(&a.base);
    cr_assert_eq(cw_wakes(&c2), 2);
    cr_assert_eq(cw_poll(&c2, &b), AX_READY);
    ax_future_drop(&b.base);
    cr_assert_eq(ax_semaphore_available(&s), 0);
    cr_assert_eq(cw_refs(&c1) + cw_refs(&c2), 0);
}

Test(sync_semaphore, close_fails_waiters_and_acquires) {
    ax_semaphore s;
    ax_semaphore_init(&s, 0);
    cwaker c;
    cw_init(&c);
    ax_semaphore_acquire_future a;
    ax_semaphore_acquire_future_init(&a, &s, 1);
    cr_assert_eq(cw_poll(&c, &a), AX_PENDING);
    ax_semaphore_close(&s);
    cr_assert_eq(cw_wakes(&c), 1);
    cr_assert_eq(cw_poll(&c, &a), AX_READY);
    cr_assert_eq(a.base.result, AX_ECLOSED);
    ax_future_drop(&a.base);
    ax_semaphore_release(&s, 4);
    cr_assert_eq(ax_semaphore_try_acquire(&s, 1), AX_ECLOSED);
    ax_semaphore_acquire_future_init(&a, &s, 1);
    cr_assert_eq(cw_poll(&c, &a), AX_READY);
    cr_assert_eq(a.base.result, AX_ECLOSED);
    ax_future_drop(&a.base);
    ax_semaphore_close(&s); /* idempotent */
    cr_assert_eq(cw_refs(&c), 0);
}

#define LIMIT 3

static ax_semaphore S;
static atomic_int inside, peak, done_count;

static void *limited(void *arg) {
    for (int i = 0; i < 200; i++) {
        size_t n = 1 + (size_t)(i % 2);
        cr_assert_eq(ax_semaphore_acquire(&S, n, AX_NO_DEADLINE), 0);
        int now = atomic_fetch_add(&inside, (int)n) + (int)n;
        cr_assert_leq(now, LIMIT);
        int p = atomic_load(&peak);
        while (now > p && !atomic_compare_exchange_weak(&peak, &p, now)) {
        }
        if (i % 4 == 0) ax_yield();
        atomic_fetch_sub(&inside, (int)n);
        ax_semaphore_release(&S, n);
    }
    atomic_fetch_add(&done_count, 1);
    return NULL;
}

static void *limit_main(void *arg) {
    ax_semaphore_init(&S, LIMIT);
    ax_task *t[10];
    for (int i = 0; i < 10; i++) cr_assert_eq(ax_spawn(&t[i], limited, NULL), 0);
    for (int i = 0; i < 10; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    cr_assert_eq(atomic_load(&done_count), 10);
    cr_assert_eq(ax_semaphore_available(&S), LIMIT, "every permit came back");
    return NULL;
}

Test(sync_semaphore, limits_concurrency_two_workers, .init = rt_two, .fini = rt_done,
     .timeout = 60) {
    cr_assert_eq(ax_run(rt, limit_main, NULL, NULL), 0);
}

static void *blocked_acquire(void *arg) {
    return (void *)(intptr_t)ax_semaphore_acquire(arg, 2, AX_NO_DEADLINE);
}

static void *cancel_main(void *arg) {
    ax_semaphore s;
    ax_semaphore_init(&s, 1);
    cr_assert_eq(ax_semaphore_acquire(&s, 2, ax_deadline_in_ms(15)), AX_ETIMEDOUT);
    cr_assert_eq(ax_semaphore_available(&s), 1);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, blocked_acquire, &s), 0);
    wait_started(t);
    settle();
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    ax_semaphore_release(&s, 1);
    cr_assert_eq(ax_semaphore_acquire(&s, 2, ax_deadline_in_ms(1000)), 0);
    cr_assert_eq(ax_semaphore_available(&s), 0);
    /* a task blocked in acquire learns about a close */
    cr_assert_eq(ax_spawn(&t, blocked_acquire, &s), 0);
    wait_started(t);
    settle();
    ax_semaphore_close(&s);
    void *r;
    cr_assert_eq(ax_join(t, &r), 0);
    cr_assert_eq((intptr_t)r, AX_ECLOSED);
    return NULL;
}

Test(sync_semaphore, timeout_cancel_close, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, cancel_main, NULL, NULL), 0);
}
