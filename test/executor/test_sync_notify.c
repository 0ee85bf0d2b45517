/* Notify: the stored permit of notify_one, notify_waiters waking only the
 * present waiters (including futures created but not yet polled), a
 * notified future dropped unseen passing the notification on, and
 * waiting tasks across workers with deadlines and cancellation. */
#include <criterion/criterion.h>

#include <stdint.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

Test(sync_notify, notify_one_stores_one_permit) {
    ax_notify n = AX_NOTIFY_INIT;
    ax_notify_one(&n);
    ax_notify_one(&n); /* permits do not accumulate */
    cwaker c;
    cw_init(&c);
    ax_notify_future f;
    ax_notify_future_init(&f, &n);
    cr_assert_eq(cw_poll(&c, &f), AX_READY, "the stored permit is consumed at once");
    ax_future_drop(&f.base);
    ax_notify_future_init(&f, &n);
    cr_assert_eq(cw_poll(&c, &f), AX_PENDING, "only one was stored");
    ax_notify_one(&n);
    cr_assert_eq(cw_wakes(&c), 1);
    cr_assert_eq(cw_poll(&c, &f), AX_READY);
    ax_future_drop(&f.base);
    cr_assert_eq(cw_refs(&c), 0);
}

Test(sync_notify, notify_waiters_wakes_present_stores_nothing) {
    ax_notify n;
    ax_notify_init(&n);
    cwaker c[3];
    ax_notify_future f[3];
    for (int i = 0; i < 3; i++) {
        cw_init(&c[i]);
        ax_notify_future_init(&f[i], &n);
    }
    cr_assert_eq(cw_poll(&c[0], &f[0]), AX_PENDING);
    cr_assert_eq(cw_poll(&c[1], &f[1]), AX_PENDING);
    /* f[2] exists but was never polled: it counts as present */
    ax_notify_waiters(&n);
    cr_assert_eq(cw_wakes(&c[0]), 1);
    cr_assert_eq(cw_wakes(&c[1]), 1);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(cw_poll(&c[i], &f[i]), AX_READY, "future %d notified", i);
        ax_future_drop(&f[i].base);
    }
    ax_notify_future_init(&f[0], &n);
    cr_assert_eq(cw_poll(&c[0], &f[0]), AX_PENDING, "notify_waiters stores no permit");
    ax_future_drop(&f[0].base);
    for (int i = 0; i < 3; i++) cr_assert_eq(cw_refs(&c[i]), 0);
}

Test(sync_notify, notified_future_dropped_passes_it_on) {
    ax_notify n = AX_NOTIFY_INIT;
    cwaker c1, c2;
    cw_init(&c1);
    cw_init(&c2);
    ax_notify_future f1, f2;
    ax_notify_future_init(&f1, &n);
    ax_notify_future_init(&f2, &n);
    cr_assert_eq(cw_poll(&c1, &f1), AX_PENDING);
    cr_assert_eq(cw_poll(&c2, &f2), AX_PENDING);
    ax_notify_one(&n);
    cr_assert_eq(cw_wakes(&c1), 1);
    cr_assert_eq(cw_wakes(&c2), 0);
    ax_future_drop(&f1.base);
    cr_assert_eq(cw_wakes(&c2), 1, "forwarded to the next waiter");
    ax_future_drop(&f2.base); /* dropped too: now it becomes the permit */
    ax_notify_future_init(&f1, &n);
    cr_assert_eq(cw_poll(&c1, &f1), AX_READY, "the notification survived as the permit");
    ax_future_drop(&f1.base);
    cr_assert_eq(cw_refs(&c1) + cw_refs(&c2), 0);
}

static ax_notify N;
static atomic_int woke;

static void *waiter(void *arg) {
    int r = ax_notify_wait(&N, AX_NO_DEADLINE);
    if (r == 0) atomic_fetch_add(&woke, 1);
    return (void *)(intptr_t)r;
}

static void *tasks_main(void *arg) {
    ax_notify_init(&N);
    cr_assert_eq(ax_notify_wait(&N, ax_deadline_in_ms(15)), AX_ETIMEDOUT);
    ax_task *t[6];
    for (int i = 0; i < 6; i++) cr_assert_eq(ax_spawn(&t[i], waiter, NULL), 0);
    for (int i = 0; i < 6; i++) wait_started(t[i]);
    settle();
    ax_abort(t[5]);
    cr_assert_eq(ax_join(t[5], NULL), AX_ECANCELED);
    ax_notify_one(&N);
    while (atomic_load(&woke) < 1) ax_sleep(1);
    /* a slow worker may not have queued every waiter yet: notify again
     * until all have been woken (each call wakes whoever is present) */
    while (atomic_load(&woke) < 5) {
        ax_notify_waiters(&N);
        ax_sleep(1);
    }
    for (int i = 0; i < 5; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    cr_assert_eq(atomic_load(&woke), 5);
    return NULL;
}

Test(sync_notify, tasks_across_workers, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, tasks_main, NULL, NULL), 0);
}

/* The usual "check, then wait" pattern cannot miss a notify_waiters. */
static atomic_int flag;
static atomic_int seen;

static void *setter(void *arg) {
    for (int i = 1; i <= 2000; i++) {
        atomic_store(&flag, i);
        ax_notify_waiters(&N);
        while (atomic_load(&seen) < i) ax_yield();
    }
    return NULL;
}

static void *checker(void *arg) {
    for (int want = 1; want <= 2000; want++) {
        for (;;) {
            ax_notify_future f;
            ax_notify_future_init(&f, &N);
            if (atomic_load(&flag) >= want) {
                ax_future_drop(&f.base);
                break;
            }
            cr_assert_eq(ax_await_until(&f.base, ax_deadline_in_ms(5000)), 0, "lost wake-up");
        }
        atomic_store(&seen, want);
    }
    return NULL;
}

static void *pattern_main(void *arg) {
    ax_notify_init(&N);
    ax_task *a, *b;
    cr_assert_eq(ax_spawn(&a, checker, NULL), 0);
    cr_assert_eq(ax_spawn(&b, setter, NULL), 0);
    cr_assert_eq(ax_join(a, NULL), 0);
    cr_assert_eq(ax_join(b, NULL), 0);
    return NULL;
}

Test(sync_notify, check_then_wait_never_misses, .init = rt_two, .fini = rt_done, .timeout = 60) {
    cr_assert_eq(ax_run(rt, pattern_main, NULL, NULL), 0);
}
