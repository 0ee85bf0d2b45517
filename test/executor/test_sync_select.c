/* select: the index of the ready future, waiting for the first to become
 * ready, deadlines, losers dropped without losing anything (a lock, a
 * message), fairness of the unbiased form and order of the biased one. */
#include <criterion/criterion.h>

#include <stdint.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

typedef struct two {
    ax_mpsc_tx *tx[2];
    ax_mpsc_rx *rx[2];
} two;

static void two_new(two *t) {
    for (int i = 0; i < 2; i++) cr_assert_eq(ax_mpsc_new(&t->tx[i], &t->rx[i], sizeof(int), 4), 0);
}
static void two_free(two *t) {
    for (int i = 0; i < 2; i++) {
        ax_mpsc_tx_release(t->tx[i]);
        ax_mpsc_rx_release(t->rx[i]);
    }
}

static void *picks_ready_main(void *arg) {
    two t;
    two_new(&t);
    int v = 5, out[2] = {-1, -1};
    cr_assert_eq(ax_mpsc_try_send(t.tx[1], &v), 0);
    ax_mpsc_recv_future r[2];
    for (int i = 0; i < 2; i++) ax_mpsc_recv_future_init(&r[i], t.rx[i], &out[i]);
    ax_future *fs[2] = {&r[0].base, &r[1].base};
    cr_assert_eq(ax_select(fs, 2, AX_NO_DEADLINE), 1);
    cr_assert_eq(r[1].base.result, 0);
    cr_assert_eq(out[1], 5);
    cr_assert_eq(out[0], -1);
    two_free(&t);
    return NULL;
}

Test(sync_select, returns_index_of_ready_future, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, picks_ready_main, NULL, NULL), 0);
}

static void *send_on_one_later(void *arg) {
    two *t = arg;
    ax_sleep(10);
    int v = 8;
    cr_assert_eq(ax_mpsc_send(t->tx[1], &v, AX_NO_DEADLINE), 0);
    return NULL;
}

static void *waits_main(void *arg) {
    two t;
    two_new(&t);
    ax_task *s;
    cr_assert_eq(ax_spawn(&s, send_on_one_later, &t), 0);
    int out[2] = {-1, -1};
    ax_mpsc_recv_future r[2];
    for (int i = 0; i < 2; i++) ax_mpsc_recv_future_init(&r[i], t.rx[i], &out[i]);
    ax_future *fs[2] = {&r[0].base, &r[1].base};
    cr_assert_eq(ax_select(fs, 2, ax_deadline_in_ms(5000)), 1);
    cr_assert_eq(out[1], 8);
    cr_assert_eq(ax_join(s, NULL), 0);
    /* the loser was dropped: a later message on channel 0 is still there */
    int v = 4;
    cr_assert_eq(ax_mpsc_try_send(t.tx[0], &v), 0);
    cr_assert_eq(ax_mpsc_try_recv(t.rx[0], &v), 0);
    cr_assert_eq(v, 4);
    two_free(&t);
    return NULL;
}

Test(sync_select, waits_for_first_across_workers, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, waits_main, NULL, NULL), 0);
}

static void *timeout_main(void *arg) {
    two t;
    two_new(&t);
    int out[2];
    ax_mpsc_recv_future r[2];
    for (int i = 0; i < 2; i++) ax_mpsc_recv_future_init(&r[i], t.rx[i], &out[i]);
    ax_future *fs[2] = {&r[0].base, &r[1].base};
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_select(fs, 2, ax_deadline_in_ms(20)), AX_ETIMEDOUT);
    cr_assert_geq(ax_now() - t0, 20 * 1000000ull);
    /* both were dropped: sends now wake nobody and are received later */
    int v = 1;
    cr_assert_eq(ax_mpsc_try_send(t.tx[0], &v), 0);
    cr_assert_eq(ax_mpsc_try_recv(t.rx[0], &v), 0);
    cr_assert_eq(ax_select(fs, 0, AX_NO_DEADLINE), AX_EINVAL);
    two_free(&t);
    return NULL;
}

Test(sync_select, deadline_and_empty_set, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, timeout_main, NULL, NULL), 0);
}

static void *losing_lock_main(void *arg) {
    ax_mutex m = AX_MUTEX_INIT;
    cr_assert_eq(ax_mutex_try_lock(&m), 0);
    ax_sleep_future sleep;
    ax_sleep_future_init(&sleep, ax_deadline_in_ms(10));
    ax_mutex_lock_future lf;
    ax_mutex_lock_future_init(&lf, &m);
    ax_future *fs[2] = {&lf.base, &sleep.base};
    cr_assert_eq(ax_select(fs, 2, AX_NO_DEADLINE), 1, "the sleep wins: the lock is held");
    ax_mutex_unlock(&m);
    cr_assert_eq(ax_mutex_try_lock(&m), 0, "the losing lock future left the queue");
    ax_mutex_unlock(&m);
    /* and a winning lock future keeps the lock */
    ax_sleep_future_init(&sleep, ax_deadline_in_ms(1000));
    ax_mutex_lock_future_init(&lf, &m);
    cr_assert_eq(ax_select(fs, 2, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_mutex_try_lock(&m), AX_EAGAIN, "the winner holds the lock");
    ax_mutex_unlock(&m);
    return NULL;
}

Test(sync_select, losers_dropped_winner_keeps_result, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, losing_lock_main, NULL, NULL), 0);
}

Test(sync_select, granted_loser_hands_lock_on) {
    /* A lock future is granted while select is deciding on another winner:
     * dropping the loser must pass the lock on, not leak it. */
    ax_mutex m = AX_MUTEX_INIT;
    cr_assert_eq(ax_mutex_try_lock(&m), 0);
    ax_notify n = AX_NOTIFY_INIT;
    ax_notify_future nf;
    ax_notify_future_init(&nf, &n);
    ax_mutex_lock_future lf;
    ax_mutex_lock_future_init(&lf, &m);
    ax_future *fs[2] = {&nf.base, &lf.base};
    ax_select_future sf;
    ax_select_future_init(&sf, fs, 2, true);
    cwaker c;
    cw_init(&c);
    cr_assert_eq(cw_poll(&c, &sf), AX_PENDING);
    ax_notify_one(&n);
    ax_mutex_unlock(&m); /* the lock is handed to lf */
    cr_assert_eq(cw_poll(&c, &sf), AX_READY);
    cr_assert_eq(sf.base.result, 0, "biased: the notify, index 0, wins");
    ax_future_drop(&sf.base);
    cr_assert_eq(ax_mutex_try_lock(&m), 0, "the granted loser released the lock");
    ax_mutex_unlock(&m);
    cr_assert_eq(cw_refs(&c), 0);
}

static void *fairness_main(void *arg) {
    two t;
    two_new(&t);
    int wins[2] = {0, 0}, v = 0, out[2];
    for (int i = 0; i < 400; i++) {
        /* keep both channels non-empty: both futures are ready at once */
        while (ax_mpsc_len(t.rx[0]) < 2) ax_mpsc_try_send(t.tx[0], &v);
        while (ax_mpsc_len(t.rx[1]) < 2) ax_mpsc_try_send(t.tx[1], &v);
        ax_mpsc_recv_future r[2];
        for (int k = 0; k < 2; k++) ax_mpsc_recv_future_init(&r[k], t.rx[k], &out[k]);
        ax_future *fs[2] = {&r[0].base, &r[1].base};
        int w = ax_select(fs, 2, AX_NO_DEADLINE);
        cr_assert(w == 0 || w == 1);
        wins[w]++;
    }
    cr_assert_gt(wins[0], 100, "unbiased select spreads the wins (%d/%d)", wins[0], wins[1]);
    cr_assert_gt(wins[1], 100, "unbiased select spreads the wins (%d/%d)", wins[0], wins[1]);
    for (int i = 0; i < 50; i++) {
        ax_mpsc_recv_future r[2];
        for (int k = 0; k < 2; k++) ax_mpsc_recv_future_init(&r[k], t.rx[k], &out[k]);
        ax_future *fs[2] = {&r[0].base, &r[1].base};
        cr_assert_eq(ax_select_biased(fs, 2, AX_NO_DEADLINE), 0, "biased: in order");
        ax_mpsc_try_send(t.tx[0], &v);
    }
    two_free(&t);
    return NULL;
}

Test(sync_select, random_start_unless_biased, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, fairness_main, NULL, NULL), 0);
}

static void *select_forever(void *arg) {
    two *t = arg;
    int out[2];
    ax_mpsc_recv_future r[2];
    for (int i = 0; i < 2; i++) ax_mpsc_recv_future_init(&r[i], t->rx[i], &out[i]);
    ax_future *fs[2] = {&r[0].base, &r[1].base};
    return (void *)(intptr_t)ax_select(fs, 2, AX_NO_DEADLINE);
}

static void *cancel_main(void *arg) {
    two t;
    two_new(&t);
    ax_task *s;
    cr_assert_eq(ax_spawn(&s, select_forever, &t), 0);
    wait_started(s);
    settle();
    ax_abort(s);
    cr_assert_eq(ax_join(s, NULL), AX_ECANCELED);
    int v = 2;
    cr_assert_eq(ax_mpsc_try_send(t.tx[0], &v), 0);
    cr_assert_eq(ax_mpsc_recv(t.rx[0], &v, ax_deadline_in_ms(1000)), 0);
    two_free(&t);
    return NULL;
}

Test(sync_select, cancelled_while_waiting, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, cancel_main, NULL, NULL), 0);
}
