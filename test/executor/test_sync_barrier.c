/* Barrier: one leader per round, reuse over many rounds across workers,
 * a withdrawn arrival (timeout, cancellation, dropped future). */
#include <criterion/criterion.h>

#include <stdint.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

Test(sync_barrier, last_arrival_leads) {
    ax_barrier b;
    cr_assert_eq(ax_barrier_init(&b, 0), AX_EINVAL);
    cr_assert_eq(ax_barrier_init(&b, 3), 0);
    cwaker c[3];
    ax_barrier_wait_future f[3];
    for (int i = 0; i < 3; i++) {
        cw_init(&c[i]);
        ax_barrier_wait_future_init(&f[i], &b);
    }
    cr_assert_eq(cw_poll(&c[0], &f[0]), AX_PENDING);
    cr_assert_eq(cw_poll(&c[1], &f[1]), AX_PENDING);
    cr_assert_eq(cw_poll(&c[2], &f[2]), AX_READY);
    cr_assert_eq(f[2].base.result, AX_BARRIER_LEADER);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(cw_wakes(&c[i]), 1);
        cr_assert_eq(cw_poll(&c[i], &f[i]), AX_READY);
        cr_assert_eq(f[i].base.result, 0);
    }
    for (int i = 0; i < 3; i++) ax_future_drop(&f[i].base);
    /* a barrier of one: everyone leads */
    cr_assert_eq(ax_barrier_init(&b, 1), 0);
    ax_barrier_wait_future_init(&f[0], &b);
    cr_assert_eq(cw_poll(&c[0], &f[0]), AX_READY);
    cr_assert_eq(f[0].base.result, AX_BARRIER_LEADER);
    ax_future_drop(&f[0].base);
    for (int i = 0; i < 3; i++) cr_assert_eq(cw_refs(&c[i]), 0);
}

Test(sync_barrier, dropped_waiter_withdraws) {
    ax_barrier b;
    cr_assert_eq(ax_barrier_init(&b, 2), 0);
    cwaker c1, c2, c3;
    cw_init(&c1);
    cw_init(&c2);
    cw_init(&c3);
    ax_barrier_wait_future f1, f2, f3;
    ax_barrier_wait_future_init(&f1, &b);
    ax_barrier_wait_future_init(&f2, &b);
    ax_barrier_wait_future_init(&f3, &b);
    cr_assert_eq(cw_poll(&c1, &f1), AX_PENDING);
    ax_future_drop(&f1.base); /* gave up */
    cr_assert_eq(cw_poll(&c2, &f2), AX_PENDING, "the withdrawn arrival does not count");
    cr_assert_eq(cw_poll(&c3, &f3), AX_READY);
    cr_assert_eq(f3.base.result, AX_BARRIER_LEADER);
    cr_assert_eq(cw_poll(&c2, &f2), AX_READY);
    ax_future_drop(&f2.base);
    ax_future_drop(&f3.base);
    cr_assert_eq(cw_wakes(&c1), 0);
    cr_assert_eq(cw_refs(&c1) + cw_refs(&c2) + cw_refs(&c3), 0);
}

#define PARTIES 5
#define ROUNDS  200

static ax_barrier B;
static atomic_int leaders, arrived_round[ROUNDS];

static void *party(void *arg) {
    for (int r = 0; r < ROUNDS; r++) {
        atomic_fetch_add(&arrived_round[r], 1);
        int res = ax_barrier_wait(&B, AX_NO_DEADLINE);
        cr_assert(res == 0 || res == AX_BARRIER_LEADER);
        cr_assert_eq(atomic_load(&arrived_round[r]), PARTIES, "nobody passes early");
        if (res == AX_BARRIER_LEADER) atomic_fetch_add(&leaders, 1);
    }
    return NULL;
}

static void *rounds_main(void *arg) {
    cr_assert_eq(ax_barrier_init(&B, PARTIES), 0);
    ax_task *t[PARTIES];
    for (int i = 0; i < PARTIES; i++) cr_assert_eq(ax_spawn(&t[i], party, NULL), 0);
    for (int i = 0; i < PARTIES; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    cr_assert_eq(atomic_load(&leaders), ROUNDS, "exactly one leader per round");
    return NULL;
}

Test(sync_barrier, reusable_rounds_two_workers, .init = rt_two, .fini = rt_done, .timeout = 60) {
    cr_assert_eq(ax_run(rt, rounds_main, NULL, NULL), 0);
}

static void *blocked_party(void *arg) {
    return (void *)(intptr_t)ax_barrier_wait(arg, AX_NO_DEADLINE);
}

static void *cancel_main(void *arg) {
    ax_barrier b;
    cr_assert_eq(ax_barrier_init(&b, 2), 0);
    cr_assert_eq(ax_barrier_wait(&b, ax_deadline_in_ms(15)), AX_ETIMEDOUT);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, blocked_party, &b), 0);
    wait_started(t);
    settle();
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    /* both withdrew: a fresh pair meets normally */
    cr_assert_eq(ax_spawn(&t, blocked_party, &b), 0);
    int r = ax_barrier_wait(&b, ax_deadline_in_ms(2000));
    void *other;
    cr_assert_eq(ax_join(t, &other), 0);
    cr_assert(r >= 0 && (intptr_t)other >= 0);
    cr_assert_eq(r + (int)(intptr_t)other, AX_BARRIER_LEADER, "one leader of the two");
    return NULL;
}

Test(sync_barrier, timeout_and_cancel_withdraw, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, cancel_main, NULL, NULL), 0);
}
