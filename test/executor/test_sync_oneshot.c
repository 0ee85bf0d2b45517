/* oneshot channels: value delivery either way round, sender or receiver
 * released first, try_recv, deadlines and cancellation. */
#include <criterion/criterion.h>

#include <stdint.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

Test(sync_oneshot, send_then_recv_once) {
    ax_oneshot_tx *tx;
    ax_oneshot_rx *rx;
    cr_assert_eq(ax_oneshot_new(&tx, &rx, sizeof(uint64_t)), 0);
    uint64_t v = 0;
    cr_assert_eq(ax_oneshot_try_recv(rx, &v), AX_EAGAIN);
    cr_assert_not(ax_oneshot_tx_is_closed(tx));
    uint64_t in = 0xfeedface;
    cr_assert_eq(ax_oneshot_send(tx, &in), 0); /* tx is consumed */
    cr_assert_eq(ax_oneshot_try_recv(rx, &v), 0);
    cr_assert_eq(v, 0xfeedface);
    cr_assert_eq(ax_oneshot_try_recv(rx, &v), AX_ECLOSED, "taken once only");
    ax_oneshot_rx_release(rx);
}

Test(sync_oneshot, sender_dropped_closes) {
    ax_oneshot_tx *tx;
    ax_oneshot_rx *rx;
    cr_assert_eq(ax_oneshot_new(&tx, &rx, sizeof(int)), 0);
    cwaker c;
    cw_init(&c);
    int v = -1;
    ax_oneshot_recv_future f;
    ax_oneshot_recv_future_init(&f, rx, &v);
    cr_assert_eq(cw_poll(&c, &f), AX_PENDING);
    ax_oneshot_tx_release(tx);
    cr_assert_eq(cw_wakes(&c), 1);
    cr_assert_eq(cw_poll(&c, &f), AX_READY);
    cr_assert_eq(f.base.result, AX_ECLOSED);
    ax_future_drop(&f.base);
    cr_assert_eq(v, -1);
    cr_assert_eq(cw_refs(&c), 0);
    ax_oneshot_rx_release(rx);
}

Test(sync_oneshot, receiver_dropped_fails_send) {
    ax_oneshot_tx *tx;
    ax_oneshot_rx *rx;
    cr_assert_eq(ax_oneshot_new(&tx, &rx, sizeof(int)), 0);
    ax_oneshot_rx_release(rx);
    cr_assert(ax_oneshot_tx_is_closed(tx));
    int v = 3;
    cr_assert_eq(ax_oneshot_send(tx, &v), AX_ECLOSED);
}

Test(sync_oneshot, dropped_waiting_future_then_value) {
    ax_oneshot_tx *tx;
    ax_oneshot_rx *rx;
    cr_assert_eq(ax_oneshot_new(&tx, &rx, sizeof(int)), 0);
    cwaker c;
    cw_init(&c);
    int v = -1;
    ax_oneshot_recv_future f;
    ax_oneshot_recv_future_init(&f, rx, &v);
    cr_assert_eq(cw_poll(&c, &f), AX_PENDING);
    ax_future_drop(&f.base);
    cr_assert_eq(cw_refs(&c), 0);
    int in = 11;
    cr_assert_eq(ax_oneshot_send(tx, &in), 0);
    cr_assert_eq(cw_wakes(&c), 0, "a dropped future is not woken");
    cr_assert_eq(ax_oneshot_try_recv(rx, &v), 0, "the value waits for the next receive");
    cr_assert_eq(v, 11);
    ax_oneshot_rx_release(rx);
}

typedef struct os_pair {
    ax_oneshot_tx *tx;
    ax_oneshot_rx *rx;
} os_pair;

static void *send_later(void *arg) {
    os_pair *p = arg;
    ax_sleep(10);
    int v = 77;
    cr_assert_eq(ax_oneshot_send(p->tx, &v), 0);
    return NULL;
}

static void *recv_waits_main(void *arg) {
    os_pair p;
    cr_assert_eq(ax_oneshot_new(&p.tx, &p.rx, sizeof(int)), 0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, send_later, &p), 0);
    int v = 0;
    cr_assert_eq(ax_oneshot_recv(p.rx, &v, AX_NO_DEADLINE), 0);
    cr_assert_eq(v, 77);
    cr_assert_eq(ax_join(t, NULL), 0);
    ax_oneshot_rx_release(p.rx);
    return NULL;
}

Test(sync_oneshot, recv_waits_for_send_across_workers, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, recv_waits_main, NULL, NULL), 0);
}

static void *blocked_recv(void *arg) {
    os_pair *p = arg;
    int v;
    return (void *)(intptr_t)ax_oneshot_recv(p->rx, &v, AX_NO_DEADLINE);
}

static void *timeout_cancel_main(void *arg) {
    os_pair p;
    cr_assert_eq(ax_oneshot_new(&p.tx, &p.rx, sizeof(int)), 0);
    int v = 0;
    cr_assert_eq(ax_oneshot_recv(p.rx, &v, ax_deadline_in_ms(15)), AX_ETIMEDOUT);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, blocked_recv, &p), 0);
    wait_started(t);
    settle();
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    v = 5;
    cr_assert_eq(ax_oneshot_send(p.tx, &v), 0);
    v = 0;
    cr_assert_eq(ax_oneshot_recv(p.rx, &v, ax_deadline_in_ms(1000)), 0);
    cr_assert_eq(v, 5);
    ax_oneshot_rx_release(p.rx);
    return NULL;
}

Test(sync_oneshot, timeout_and_cancel, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, timeout_cancel_main, NULL, NULL), 0);
}
