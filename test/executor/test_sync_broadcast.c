/* broadcast channels: every receiver sees every message, a lagging
 * receiver learns how many it missed and resumes at the oldest retained
 * one, close semantics, waiting receivers across workers, cancellation. */
#include <criterion/criterion.h>

#include <stdint.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

Test(sync_broadcast, every_receiver_gets_every_message) {
    ax_broadcast_tx *tx;
    cr_assert_eq(ax_broadcast_new(&tx, sizeof(int), 8), 0);
    int v = 1;
    cr_assert_eq(ax_broadcast_send(tx, &v), AX_ECLOSED, "no receiver: not stored");
    ax_broadcast_rx *a, *b;
    cr_assert_eq(ax_broadcast_subscribe(tx, &a), 0);
    cr_assert_eq(ax_broadcast_subscribe(tx, &b), 0);
    for (int i = 0; i < 5; i++) cr_assert_eq(ax_broadcast_send(tx, &i), 2);
    ax_broadcast_rx *late;
    cr_assert_eq(ax_broadcast_subscribe(tx, &late), 0);
    cr_assert_eq(ax_broadcast_try_recv(late, &v, NULL), AX_EAGAIN, "sees only later messages");
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(ax_broadcast_try_recv(a, &v, NULL), 0);
        cr_assert_eq(v, i);
    }
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(ax_broadcast_try_recv(b, &v, NULL), 0);
        cr_assert_eq(v, i);
    }
    cr_assert_eq(ax_broadcast_try_recv(a, &v, NULL), AX_EAGAIN);
    ax_broadcast_rx_release(late);
    ax_broadcast_rx_release(a);
    ax_broadcast_rx_release(b);
    ax_broadcast_tx_release(tx);
}

Test(sync_broadcast, lagging_receiver_learns_missed_count) {
    ax_broadcast_tx *tx;
    ax_broadcast_rx *fast, *slow;
    cr_assert_eq(ax_broadcast_new(&tx, sizeof(int), 4), 0);
    cr_assert_eq(ax_broadcast_subscribe(tx, &fast), 0);
    cr_assert_eq(ax_broadcast_subscribe(tx, &slow), 0);
    int v;
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(ax_broadcast_send(tx, &i), 2);
        cr_assert_eq(ax_broadcast_try_recv(fast, &v, NULL), 0);
        cr_assert_eq(v, i);
    }
    uint64_t missed = 0;
    v = -1;
    cr_assert_eq(ax_broadcast_try_recv(slow, &v, &missed), AX_BROADCAST_LAGGED);
    cr_assert_eq(missed, 6, "10 sent, 4 retained");
    cr_assert_eq(v, -1, "nothing copied on a lag");
    for (int i = 6; i < 10; i++) {
        cr_assert_eq(ax_broadcast_try_recv(slow, &v, &missed), 0, "resumes at the oldest");
        cr_assert_eq(v, i);
    }
    cr_assert_eq(ax_broadcast_try_recv(slow, &v, &missed), AX_EAGAIN);
    /* lag again, missed may be NULL */
    for (int i = 10; i < 15; i++) ax_broadcast_send(tx, &i);
    cr_assert_eq(ax_broadcast_try_recv(slow, &v, NULL), AX_BROADCAST_LAGGED);
    cr_assert_eq(ax_broadcast_try_recv(slow, &v, NULL), 0);
    cr_assert_eq(v, 11);
    ax_broadcast_rx_release(fast);
    ax_broadcast_rx_release(slow);
    ax_broadcast_tx_release(tx);
}

Test(sync_broadcast, close_after_drain_and_waiters_woken) {
    ax_broadcast_tx *tx;
    ax_broadcast_rx *a, *b;
    cr_assert_eq(ax_broadcast_new(&tx, sizeof(int), 4), 0);
    ax_broadcast_tx *tx2 = ax_broadcast_tx_clone(tx);
    cr_assert_eq(ax_broadcast_subscribe(tx, &a), 0);
    cr_assert_eq(ax_broadcast_subscribe(tx, &b), 0);
    cwaker c;
    cw_init(&c);
    int out = -1;
    ax_broadcast_recv_future f;
    ax_broadcast_recv_future_init(&f, b, &out);
    cr_assert_eq(cw_poll(&c, &f), AX_PENDING);
    int v = 9;
    cr_assert_eq(ax_broadcast_send(tx2, &v), 2);
    cr_assert_eq(cw_wakes(&c), 1);
    ax_broadcast_tx_release(tx2);
    ax_broadcast_tx_release(tx);
    cr_assert_eq(cw_poll(&c, &f), AX_READY);
    cr_assert_eq(f.base.result, 0);
    cr_assert_eq(out, 9);
    ax_future_drop(&f.base);
    ax_broadcast_recv_future_init(&f, b, &out);
    cr_assert_eq(cw_poll(&c, &f), AX_READY);
    cr_assert_eq(f.base.result, AX_ECLOSED);
    ax_future_drop(&f.base);
    cr_assert_eq(ax_broadcast_try_recv(a, &v, NULL), 0, "drains what it has not seen");
    cr_assert_eq(ax_broadcast_try_recv(a, &v, NULL), AX_ECLOSED);
    cr_assert_eq(cw_refs(&c), 0);
    ax_broadcast_rx_release(a);
    ax_broadcast_rx_release(b);
}

Test(sync_broadcast, dropped_waiting_receiver_unlinks) {
    ax_broadcast_tx *tx;
    ax_broadcast_rx *a;
    cr_assert_eq(ax_broadcast_new(&tx, sizeof(int), 2), 0);
    cr_assert_eq(ax_broadcast_subscribe(tx, &a), 0);
    cwaker c;
    cw_init(&c);
    int out;
    ax_broadcast_recv_future f;
    ax_broadcast_recv_future_init(&f, a, &out);
    cr_assert_eq(cw_poll(&c, &f), AX_PENDING);
    ax_future_drop(&f.base);
    int v = 1;
    cr_assert_eq(ax_broadcast_send(tx, &v), 1);
    cr_assert_eq(cw_wakes(&c), 0);
    cr_assert_eq(cw_refs(&c), 0);
    cr_assert_eq(ax_broadcast_try_recv(a, &out, NULL), 0);
    ax_broadcast_rx_release(a);
    ax_broadcast_tx_release(tx);
}

#define BC_RECEIVERS 3
#define BC_MSGS      20000

typedef struct bc_ctx {
    ax_broadcast_rx *rx;
} bc_ctx;

static void *bc_receiver(void *arg) {
    bc_ctx *c = arg;
    uint64_t expect = 0, v, missed, lagged = 0;
    int r;
    while ((r = ax_broadcast_recv(c->rx, &v, &missed, AX_NO_DEADLINE)) != AX_ECLOSED) {
        if (r == AX_BROADCAST_LAGGED) {
            expect += missed;
            lagged += missed;
            continue;
        }
        cr_assert_eq(r, 0);
        cr_assert_eq(v, expect, "in order, nothing skipped without a lag report");
        expect++;
    }
    cr_assert_eq(expect, BC_MSGS, "every message seen or reported missed");
    ax_broadcast_rx_release(c->rx);
    return (void *)(uintptr_t)lagged;
}

static void *bc_stress_main(void *arg) {
    ax_broadcast_tx *tx;
    cr_assert_eq(ax_broadcast_new(&tx, sizeof(uint64_t), 64), 0);
    bc_ctx c[BC_RECEIVERS];
    ax_task *t[BC_RECEIVERS];
    for (int i = 0; i < BC_RECEIVERS; i++) {
        cr_assert_eq(ax_broadcast_subscribe(tx, &c[i].rx), 0);
        cr_assert_eq(ax_spawn(&t[i], bc_receiver, &c[i]), 0);
    }
    for (uint64_t i = 0; i < BC_MSGS; i++) {
        cr_assert_geq(ax_broadcast_send(tx, &i), 1);
        if (i % 16 == 0) ax_yield();
    }
    ax_broadcast_tx_release(tx);
    for (int i = 0; i < BC_RECEIVERS; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    return NULL;
}

Test(sync_broadcast, stress_three_receivers_two_workers, .init = rt_two, .fini = rt_done,
     .timeout = 60) {
    cr_assert_eq(ax_run(rt, bc_stress_main, NULL, NULL), 0);
}

static void *bc_blocked(void *arg) {
    uint64_t v;
    return (void *)(intptr_t)ax_broadcast_recv(arg, &v, NULL, AX_NO_DEADLINE);
}

static void *bc_cancel_main(void *arg) {
    ax_broadcast_tx *tx;
    ax_broadcast_rx *a;
    cr_assert_eq(ax_broadcast_new(&tx, sizeof(uint64_t), 4), 0);
    cr_assert_eq(ax_broadcast_subscribe(tx, &a), 0);
    uint64_t v = 3;
    cr_assert_eq(ax_broadcast_recv(a, &v, NULL, ax_deadline_in_ms(15)), AX_ETIMEDOUT);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, bc_blocked, a), 0);
    wait_started(t);
    settle();
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(ax_broadcast_send(tx, &v), 1);
    v = 0;
    cr_assert_eq(ax_broadcast_recv(a, &v, NULL, ax_deadline_in_ms(1000)), 0);
    cr_assert_eq(v, 3);
    ax_broadcast_rx_release(a);
    ax_broadcast_tx_release(tx);
    return NULL;
}

Test(sync_broadcast, timeout_and_cancel, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, bc_cancel_main, NULL, NULL), 0);
}
