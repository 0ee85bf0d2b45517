/* mpsc channels: ordering, bounded backpressure and no barging, unbounded
 * growth, close semantics from both sides, deadlines, cancellation of
 * blocked sends and receives, futures dropped at every stage, senders on
 * plain threads, and a multi-producer stress with a checksum. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

Test(sync_mpsc, bounded_fifo_and_try_variants) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(int), 4), 0);
    for (int i = 0; i < 4; i++) cr_assert_eq(ax_mpsc_try_send(tx, &i), 0);
    int v = 99;
    cr_assert_eq(ax_mpsc_try_send(tx, &v), AX_EAGAIN, "full bounded channel");
    cr_assert_eq(ax_mpsc_len(rx), 4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, i);
    }
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), AX_EAGAIN);
    /* wrap around the ring a few times */
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(ax_mpsc_try_send(tx, &i), 0);
        cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
        cr_assert_eq(v, i);
    }
    ax_mpsc_tx_release(tx);
    ax_mpsc_rx_release(rx);
}

Test(sync_mpsc, unbounded_grows_and_reuses_blocks) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(uint64_t), 0), 0);
    for (int round = 0; round < 3; round++) {
        for (uint64_t i = 0; i < 100000; i++) cr_assert_eq(ax_mpsc_try_send(tx, &i), 0);
        cr_assert_eq(ax_mpsc_len(rx), 100000);
        for (uint64_t i = 0; i < 100000; i++) {
            uint64_t v;
            cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
            cr_assert_eq(v, i);
        }
        uint64_t v;
        cr_assert_eq(ax_mpsc_try_recv(rx, &v), AX_EAGAIN);
    }
    /* interleaved: the queue never empties, blocks are retired as read */
    uint64_t next_in = 0, next_out = 0;
    for (int i = 0; i < 5000; i++) {
        for (int k = 0; k < 3; k++, next_in++) cr_assert_eq(ax_mpsc_try_send(tx, &next_in), 0);
        for (int k = 0; k < 2; k++, next_out++) {
            uint64_t v;
            cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
            cr_assert_eq(v, next_out);
        }
    }
    /* released with messages still inside: freed without leaks (ASan) */
    ax_mpsc_rx_release(rx);
    ax_mpsc_tx_release(tx);
}

typedef struct point {
    double x, y, z;
    int id;
    char tag[12];
} point;

Test(sync_mpsc, struct_and_zero_size_elements) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(point), 8), 0);
    point p = {1.5, 2.5, 3.5, 7, "seven"}, q;
    cr_assert_eq(ax_mpsc_try_send(tx, &p), 0);
    memset(&p, 0, sizeof(p)); /* copied in: the sender's buffer is free */
    cr_assert_eq(ax_mpsc_try_recv(rx, &q), 0);
    cr_assert_eq(q.id, 7);
    cr_assert_eq(q.z, 3.5);
    cr_assert_str_eq(q.tag, "seven");
    ax_mpsc_tx_release(tx);
    ax_mpsc_rx_release(rx);

    cr_assert_eq(ax_mpsc_new(&tx, &rx, 0, 0), 0);
    for (int i = 0; i < 3000; i++) cr_assert_eq(ax_mpsc_try_send(tx, NULL), 0);
    for (int i = 0; i < 3000; i++) cr_assert_eq(ax_mpsc_try_recv(rx, NULL), 0);
    cr_assert_eq(ax_mpsc_try_recv(rx, NULL), AX_EAGAIN);
    ax_mpsc_tx_release(tx);
    cr_assert_eq(ax_mpsc_try_recv(rx, NULL), AX_ECLOSED);
    ax_mpsc_rx_release(rx);
}

Test(sync_mpsc, last_sender_release_closes_after_drain) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(int), 8), 0);
    ax_mpsc_tx *tx2 = ax_mpsc_tx_clone(tx);
    for (int i = 0; i < 3; i++) cr_assert_eq(ax_mpsc_try_send(i % 2 ? tx2 : tx, &i), 0);
    ax_mpsc_tx_release(tx);
    cr_assert_not(ax_mpsc_is_closed(tx2), "one sender is left");
    int v = 3;
    cr_assert_eq(ax_mpsc_try_send(tx2, &v), 0);
    ax_mpsc_tx_release(tx2);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0, "buffered messages survive the close");
        cr_assert_eq(v, i);
    }
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), AX_ECLOSED);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), AX_ECLOSED);
    ax_mpsc_rx_release(rx);
}

Test(sync_mpsc, receiver_release_fails_senders) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(int), 1), 0);
    int v = 1;
    cr_assert_eq(ax_mpsc_try_send(tx, &v), 0);
    cwaker c;
    cw_init(&c);
    ax_mpsc_send_future sf;
    ax_mpsc_send_future_init(&sf, tx, &v);
    cr_assert_eq(cw_poll(&c, &sf), AX_PENDING, "full: the send waits");
    ax_mpsc_rx_release(rx);
    cr_assert_eq(cw_wakes(&c), 1, "a waiting sender is woken by the receiver's release");
    cr_assert_eq(cw_poll(&c, &sf), AX_READY);
    cr_assert_eq(sf.base.result, AX_ECLOSED);
    ax_future_drop(&sf.base);
    cr_assert(ax_mpsc_is_closed(tx));
    cr_assert_eq(ax_mpsc_try_send(tx, &v), AX_ECLOSED);
    cr_assert_eq(cw_refs(&c), 0, "no waker clone leaked");
    ax_mpsc_tx_release(tx);
}

Test(sync_mpsc, receiver_close_keeps_buffer) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(int), 0), 0);
    int v = 5;
    cr_assert_eq(ax_mpsc_try_send(tx, &v), 0);
    ax_mpsc_close(rx);
    cr_assert_eq(ax_mpsc_try_send(tx, &v), AX_ECLOSED);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
    cr_assert_eq(v, 5);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), AX_ECLOSED);
    ax_mpsc_rx_release(rx); /* sender still alive: the channel outlives rx */
    ax_mpsc_tx_release(tx);
}

Test(sync_mpsc, freed_slot_goes_to_first_waiting_sender) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(int), 1), 0);
    int a = 1, b = 2, c = 3, v;
    cr_assert_eq(ax_mpsc_try_send(tx, &a), 0);
    cwaker w1, w2;
    cw_init(&w1);
    cw_init(&w2);
    ax_mpsc_send_future s1, s2;
    ax_mpsc_send_future_init(&s1, tx, &b);
    ax_mpsc_send_future_init(&s2, tx, &c);
    cr_assert_eq(cw_poll(&w1, &s1), AX_PENDING);
    cr_assert_eq(cw_poll(&w2, &s2), AX_PENDING);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(cw_wakes(&w1), 1);
    cr_assert_eq(cw_wakes(&w2), 0, "FIFO: the first waiter gets the slot");
    cr_assert_eq(ax_mpsc_try_send(tx, &v), AX_EAGAIN, "the freed slot is reserved: no barging");
    cr_assert_eq(cw_poll(&w2, &s2), AX_PENDING, "the second sender cannot take it either");
    cr_assert_eq(cw_poll(&w1, &s1), AX_READY);
    cr_assert_eq(s1.base.result, 0);
    ax_future_drop(&s1.base);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
    cr_assert_eq(v, 2);
    cr_assert_eq(cw_wakes(&w2), 1);
    cr_assert_eq(cw_poll(&w2, &s2), AX_READY);
    ax_future_drop(&s2.base);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
    cr_assert_eq(v, 3);
    cr_assert_eq(cw_refs(&w1) + cw_refs(&w2), 0);
    ax_mpsc_tx_release(tx);
    ax_mpsc_rx_release(rx);
}

Test(sync_mpsc, granted_sender_dropped_hands_slot_on) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(int), 1), 0);
    int a = 1, b = 2, c = 3, v;
    cr_assert_eq(ax_mpsc_try_send(tx, &a), 0);
    cwaker w1, w2;
    cw_init(&w1);
    cw_init(&w2);
    ax_mpsc_send_future s1, s2;
    ax_mpsc_send_future_init(&s1, tx, &b);
    ax_mpsc_send_future_init(&s2, tx, &c);
    cr_assert_eq(cw_poll(&w1, &s1), AX_PENDING);
    cr_assert_eq(cw_poll(&w2, &s2), AX_PENDING);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0); /* slot reserved for s1 */
    ax_future_drop(&s1.base);                  /* s1 gives up: cancelled, timed out */
    cr_assert_eq(cw_wakes(&w2), 1, "the reservation moved to the next sender");
    cr_assert_eq(cw_poll(&w2, &s2), AX_READY);
    cr_assert_eq(s2.base.result, 0);
    ax_future_drop(&s2.base);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
    cr_assert_eq(v, 3, "the dropped send never sent its message");
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), AX_EAGAIN);
    /* and with nobody behind it, the slot simply becomes free again */
    cr_assert_eq(ax_mpsc_try_send(tx, &a), 0);
    ax_mpsc_send_future_init(&s1, tx, &b);
    cr_assert_eq(cw_poll(&w1, &s1), AX_PENDING);
    cr_assert_eq(ax_mpsc_try_recv(rx, &v), 0);
    ax_future_drop(&s1.base);
    cr_assert_eq(ax_mpsc_try_send(tx, &c), 0, "no slot leaked");
    cr_assert_eq(cw_refs(&w1) + cw_refs(&w2), 0);
    ax_mpsc_tx_release(tx);
    ax_mpsc_rx_release(rx);
}

Test(sync_mpsc, woken_receiver_dropped_loses_nothing) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    cr_assert_eq(ax_mpsc_new(&tx, &rx, sizeof(int), 4), 0);
    cwaker w1, w2;
    cw_init(&w1);
    cw_init(&w2);
    int out1 = -1, out2 = -1, v = 42;
    ax_mpsc_recv_future r1, r2;
    ax_mpsc_recv_future_init(&r1, rx, &out1);
    ax_mpsc_recv_future_init(&r2, rx, &out2);
    cr_assert_eq(cw_poll(&w1, &r1), AX_PENDING);
    cr_assert_eq(cw_poll(&w2, &r2), AX_PENDING);
    cr_assert_eq(ax_mpsc_try_send(tx, &v), 0);
    cr_assert_eq(cw_wakes(&w1), 1);
    ax_future_drop(&r1.base); /* woken, never looked */
    cr_assert_eq(out1, -1);
    cr_assert_eq(cw_wakes(&w2), 1, "the unused wake-up is passed to the other receiver");
    cr_assert_eq(cw_poll(&w2, &r2), AX_READY);
    cr_assert_eq(r2.base.result, 0);
    cr_assert_eq(out2, 42);
    ax_future_drop(&r2.base);
    cr_assert_eq(cw_refs(&w1) + cw_refs(&w2), 0);
    ax_mpsc_tx_release(tx);
    ax_mpsc_rx_release(rx);
}

/* ---- in tasks ---- */

typedef struct chan {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
} chan;

static void *produce_ten(void *arg) {
    chan *c = arg;
    for (int i = 0; i < 10; i++) cr_assert_eq(ax_mpsc_send(c->tx, &i, AX_NO_DEADLINE), 0);
    return NULL;
}

static void *backpressure_main(void *arg) {
    chan c;
    cr_assert_eq(ax_mpsc_new(&c.tx, &c.rx, sizeof(int), 2), 0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, produce_ten, &c), 0);
    for (int i = 0; i < 2000 && ax_mpsc_len(c.rx) < 2; i++) ax_sleep(1);
    wait_started(t);
    settle();
    cr_assert_eq(ax_mpsc_len(c.rx), 2, "the producer is held at the capacity");
    cr_assert_eq(ax_task_status(t), AX_TASK_RUNNING, "and suspended, not finished");
    for (int i = 0; i < 10; i++) {
        int v;
        cr_assert_eq(ax_mpsc_recv(c.rx, &v, AX_NO_DEADLINE), 0);
        cr_assert_eq(v, i);
        cr_assert_leq(ax_mpsc_len(c.rx), 2);
    }
    cr_assert_eq(ax_join(t, NULL), 0);
    ax_mpsc_tx_release(c.tx);
    int v;
    cr_assert_eq(ax_mpsc_recv(c.rx, &v, AX_NO_DEADLINE), AX_ECLOSED);
    ax_mpsc_rx_release(c.rx);
    return NULL;
}

Test(sync_mpsc, send_suspends_when_full, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, backpressure_main, NULL, NULL), 0);
}

static void *deadlines_main(void *arg) {
    chan c;
    cr_assert_eq(ax_mpsc_new(&c.tx, &c.rx, sizeof(int), 1), 0);
    int v = 1;
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_mpsc_recv(c.rx, &v, ax_deadline_in_ms(20)), AX_ETIMEDOUT);
    cr_assert_geq(ax_now() - t0, 20 * 1000000ull);
    cr_assert_eq(ax_mpsc_send(c.tx, &v, ax_deadline_in_ms(20)), 0, "room: no wait");
    v = 2;
    t0 = ax_now();
    cr_assert_eq(ax_mpsc_send(c.tx, &v, ax_deadline_in_ms(20)), AX_ETIMEDOUT);
    cr_assert_geq(ax_now() - t0, 20 * 1000000ull);
    cr_assert_eq(ax_mpsc_len(c.rx), 1, "a timed-out send sent nothing");
    cr_assert_eq(ax_mpsc_recv(c.rx, &v, ax_deadline_in_ms(20)), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(ax_mpsc_try_send(c.tx, &v), 0, "the channel is usable after the timeouts");
    ax_mpsc_tx_release(c.tx);
    ax_mpsc_rx_release(c.rx);
    return NULL;
}

Test(sync_mpsc, deadlines, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, deadlines_main, NULL, NULL), 0);
}

static void *recv_one(void *arg) {
    chan *c = arg;
    int v;
    return (void *)(intptr_t)ax_mpsc_recv(c->rx, &v, AX_NO_DEADLINE);
}

static void *send_99(void *arg) {
    chan *c = arg;
    int v = 99;
    return (void *)(intptr_t)ax_mpsc_send(c->tx, &v, AX_NO_DEADLINE);
}

static void *cancel_main(void *arg) {
    chan c;
    cr_assert_eq(ax_mpsc_new(&c.tx, &c.rx, sizeof(int), 1), 0);
    /* a receiver blocked on an empty channel */
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, recv_one, &c), 0);
    wait_started(t);
    settle();
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    int v = 7;
    cr_assert_eq(ax_mpsc_try_send(c.tx, &v), 0);
    cr_assert_eq(ax_mpsc_recv(c.rx, &v, ax_deadline_in_ms(1000)), 0, "nothing stale queued");
    cr_assert_eq(v, 7);
    /* a sender blocked on a full channel */
    v = 1;
    cr_assert_eq(ax_mpsc_try_send(c.tx, &v), 0);
    cr_assert_eq(ax_spawn(&t, send_99, &c), 0);
    wait_started(t);
    settle();
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(ax_mpsc_recv(c.rx, &v, ax_deadline_in_ms(1000)), 0);
    cr_assert_eq(v, 1);
    cr_assert_eq(ax_mpsc_try_recv(c.rx, &v), AX_EAGAIN, "the cancelled send sent nothing");
    cr_assert_eq(ax_mpsc_try_send(c.tx, &v), 0, "and its slot is free");
    ax_mpsc_tx_release(c.tx);
    ax_mpsc_rx_release(c.rx);
    return NULL;
}

Test(sync_mpsc, cancel_blocked_recv_and_send, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, cancel_main, NULL, NULL), 0);
}

static void *close_wakes_main(void *arg) {
    chan c;
    cr_assert_eq(ax_mpsc_new(&c.tx, &c.rx, sizeof(int), 4), 0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, recv_one, &c), 0);
    wait_started(t);
    settle();
    ax_mpsc_tx_release(c.tx);
    void *r;
    cr_assert_eq(ax_join(t, &r), 0);
    cr_assert_eq((intptr_t)r, AX_ECLOSED, "a waiting receiver learns the close");
    ax_mpsc_rx_release(c.rx);
    return NULL;
}

Test(sync_mpsc, waiting_receiver_woken_by_close, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, close_wakes_main, NULL, NULL), 0);
}

/* ---- stress ---- */

#define PRODUCERS    4
#define PER_PRODUCER 100000

typedef struct stress {
    chan c;
    int id;
} stress;

static void *stress_producer(void *arg) {
    stress *s = arg;
    for (uint64_t i = 0; i < PER_PRODUCER; i++) {
        uint64_t m = ((uint64_t)s->id << 32) | i;
        cr_assert_eq(ax_mpsc_send(s->c.tx, &m, AX_NO_DEADLINE), 0);
    }
    ax_mpsc_tx_release(s->c.tx);
    return NULL;
}

static void *stress_main(void *arg) {
    size_t cap = (size_t)(uintptr_t)arg;
    chan c;
    cr_assert_eq(ax_mpsc_new(&c.tx, &c.rx, sizeof(uint64_t), cap), 0);
    stress s[PRODUCERS];
    ax_task *t[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        s[i] = (stress){{ax_mpsc_tx_clone(c.tx), c.rx}, i};
        cr_assert_eq(ax_spawn(&t[i], stress_producer, &s[i]), 0);
    }
    ax_mpsc_tx_release(c.tx);
    uint64_t next[PRODUCERS] = {0}, sum = 0, count = 0, m;
    int r;
    while ((r = ax_mpsc_recv(c.rx, &m, AX_NO_DEADLINE)) == 0) {
        uint32_t id = (uint32_t)(m >> 32), seq = (uint32_t)m;
        cr_assert_lt(id, PRODUCERS);
        cr_assert_eq(seq, next[id], "per-sender order");
        next[id]++;
        sum += seq;
        count++;
    }
    cr_assert_eq(r, AX_ECLOSED);
    cr_assert_eq(count, (uint64_t)PRODUCERS * PER_PRODUCER);
    cr_assert_eq(sum, (uint64_t)PRODUCERS * PER_PRODUCER * (PER_PRODUCER - 1) / 2);
    for (int i = 0; i < PRODUCERS; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    ax_mpsc_rx_release(c.rx);
    return NULL;
}

Test(sync_mpsc, stress_4_producers_bounded, .init = rt_two, .fini = rt_done, .timeout = 120) {
    cr_assert_eq(ax_run(rt, stress_main, (void *)(uintptr_t)64, NULL), 0);
}

Test(sync_mpsc, stress_4_producers_unbounded, .init = rt_two, .fini = rt_done, .timeout = 120) {
    cr_assert_eq(ax_run(rt, stress_main, (void *)(uintptr_t)0, NULL), 0);
}

/* ---- plain threads ---- */

#define THREAD_MSGS 20000

static void *thread_sender(void *arg) {
    stress *s = arg;
    for (uint64_t i = 0; i < THREAD_MSGS; i++) {
        uint64_t m = ((uint64_t)s->id << 32) | i;
        int r;
        while ((r = ax_mpsc_try_send(s->c.tx, &m)) == AX_EAGAIN) sched_yield();
        cr_assert_eq(r, 0);
    }
    ax_mpsc_tx_release(s->c.tx);
    return NULL;
}

static void *thread_recv_main(void *arg) {
    chan *c = arg;
    uint64_t count = 0, sum = 0, m;
    int r;
    while ((r = ax_mpsc_recv(c->rx, &m, AX_NO_DEADLINE)) == 0) {
        count++;
        sum += (uint32_t)m;
    }
    cr_assert_eq(r, AX_ECLOSED);
    cr_assert_eq(count, (uint64_t)PRODUCERS * THREAD_MSGS);
    cr_assert_eq(sum, (uint64_t)PRODUCERS * THREAD_MSGS * (THREAD_MSGS - 1) / 2);
    return NULL;
}

Test(sync_mpsc, try_send_from_plain_threads, .init = rt_two, .fini = rt_done, .timeout = 120) {
    chan c;
    cr_assert_eq(ax_mpsc_new(&c.tx, &c.rx, sizeof(uint64_t), 16), 0);
    stress s[PRODUCERS];
    pthread_t th[PRODUCERS];
    ax_task *rt_task;
    cr_assert_eq(ax_spawn_on(rt, &rt_task, thread_recv_main, &c), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        s[i] = (stress){{ax_mpsc_tx_clone(c.tx), c.rx}, i};
        cr_assert_eq(pthread_create(&th[i], NULL, thread_sender, &s[i]), 0);
    }
    ax_mpsc_tx_release(c.tx);
    for (int i = 0; i < PRODUCERS; i++) pthread_join(th[i], NULL);
    ax_join_future jf;
    ax_join_future_init(&jf, rt_task);
    cr_assert_eq(ax_block_on(rt, &jf.base), 0);
    ax_mpsc_rx_release(c.rx);
}

static void *late_send(void *arg) {
    chan *c = arg;
    ax_sleep(10);
    int v = 1234;
    cr_assert_eq(ax_mpsc_send(c->tx, &v, AX_NO_DEADLINE), 0);
    return NULL;
}

Test(sync_mpsc, block_on_recv_from_plain_thread, .init = rt_two, .fini = rt_done) {
    chan c;
    cr_assert_eq(ax_mpsc_new(&c.tx, &c.rx, sizeof(int), 1), 0);
    cr_assert_eq(ax_spawn_on(rt, NULL, late_send, &c), 0);
    int v = 0;
    ax_mpsc_recv_future rf;
    ax_mpsc_recv_future_init(&rf, c.rx, &v);
    cr_assert_eq(ax_block_on(rt, &rf.base), 0);
    cr_assert_eq(v, 1234);
    ax_mpsc_tx_release(c.tx);
    ax_mpsc_rx_release(c.rx);
}

#define ROUNDS 10000

typedef struct pingpong {
    chan ping, pong;
} pingpong;

static void *ponger(void *arg) {
    pingpong *p = arg;
    uint64_t v;
    while (ax_mpsc_recv(p->ping.rx, &v, AX_NO_DEADLINE) == 0) {
        v++;
        cr_assert_eq(ax_mpsc_send(p->pong.tx, &v, AX_NO_DEADLINE), 0);
    }
    return NULL;
}

static void *pingpong_main(void *arg) {
    pingpong p;
    cr_assert_eq(ax_mpsc_new(&p.ping.tx, &p.ping.rx, sizeof(uint64_t), 1), 0);
    cr_assert_eq(ax_mpsc_new(&p.pong.tx, &p.pong.rx, sizeof(uint64_t), 1), 0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, ponger, &p), 0);
    uint64_t v = 0;
    for (int i = 0; i < ROUNDS; i++) {
        cr_assert_eq(ax_mpsc_send(p.ping.tx, &v, AX_NO_DEADLINE), 0);
        cr_assert_eq(ax_mpsc_recv(p.pong.rx, &v, AX_NO_DEADLINE), 0);
    }
    cr_assert_eq(v, ROUNDS);
    ax_mpsc_tx_release(p.ping.tx);
    cr_assert_eq(ax_join(t, NULL), 0);
    ax_mpsc_rx_release(p.ping.rx);
    ax_mpsc_tx_release(p.pong.tx);
    ax_mpsc_rx_release(p.pong.rx);
    return NULL;
}

Test(sync_mpsc, ping_pong, .init = rt_two, .fini = rt_done, .timeout = 60) {
    cr_assert_eq(ax_run(rt, pingpong_main, NULL, NULL), 0);
}

/* A plain thread on the other end: it blocks in ax_block_on on send and
 * receive futures (backpressure and wake-ups through the thread parker). */
Test(sync_mpsc, ping_pong_with_plain_thread, .init = rt_two, .fini = rt_done, .timeout = 60) {
    pingpong p;
    cr_assert_eq(ax_mpsc_new(&p.ping.tx, &p.ping.rx, sizeof(uint64_t), 1), 0);
    cr_assert_eq(ax_mpsc_new(&p.pong.tx, &p.pong.rx, sizeof(uint64_t), 1), 0);
    ax_task *t;
    cr_assert_eq(ax_spawn_on(rt, &t, ponger, &p), 0);
    uint64_t v = 0;
    for (int i = 0; i < 2000; i++) {
        ax_mpsc_send_future sf;
        ax_mpsc_send_future_init(&sf, p.ping.tx, &v);
        cr_assert_eq(ax_block_on(rt, &sf.base), 0);
        ax_mpsc_recv_future rf;
        ax_mpsc_recv_future_init(&rf, p.pong.rx, &v);
        cr_assert_eq(ax_block_on(rt, &rf.base), 0);
    }
    cr_assert_eq(v, 2000);
    ax_mpsc_tx_release(p.ping.tx);
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    cr_assert_eq(ax_block_on(rt, &jf.base), 0);
    ax_mpsc_rx_release(p.ping.rx);
    ax_mpsc_tx_release(p.pong.tx);
    ax_mpsc_rx_release(p.pong.rx);
}

/* The fast paths (a bounded channel with room, a message already there)
 * skip the future but not the rules of an await: a cancelled task gets
 * AX_ECANCELED and moves nothing, and a task that never has to wait still
 * spends its budget, so others on its worker run. */
static atomic_int fast_other_ran;
static void *fast_other(void *arg) {
    atomic_store(&fast_other_ran, 1);
    return NULL;
}
static void *fast_cancelled(void *arg) {
    chan *c = arg;
    ax_abort(ax_task_self());
    int v = 7;
    cr_assert_eq(ax_mpsc_send(c->tx, &v, AX_NO_DEADLINE), AX_ECANCELED);
    cr_assert_eq(ax_mpsc_len(c->rx), 1, "only the message sent before the abort");
    cr_assert_eq(ax_mpsc_recv(c->rx, &v, AX_NO_DEADLINE), AX_ECANCELED);
    cr_assert_eq(ax_mpsc_len(c->rx), 1, "the cancelled receive took nothing");
    return NULL;
}
static void *fast_main(void *arg) {
    chan c;
    cr_assert_eq(ax_mpsc_new(&c.tx, &c.rx, sizeof(int), 4), 0);
    int v = 1;
    cr_assert_eq(ax_mpsc_send(c.tx, &v, AX_NO_DEADLINE), 0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, fast_cancelled, &c), 0);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(ax_mpsc_recv(c.rx, &v, AX_NO_DEADLINE), 0);
    cr_assert_eq(v, 1);

    /* One worker: the other task runs only if this one yields. */
    atomic_store(&fast_other_ran, 0);
    cr_assert_eq(ax_spawn(&t, fast_other, NULL), 0);
    for (int i = 0; i < 100000 && !atomic_load(&fast_other_ran); i++) {
        cr_assert_eq(ax_mpsc_send(c.tx, &i, AX_NO_DEADLINE), 0);
        cr_assert_eq(ax_mpsc_recv(c.rx, &v, AX_NO_DEADLINE), 0);
        cr_assert_eq(v, i);
    }
    cr_assert(atomic_load(&fast_other_ran), "a task whose sends and receives never wait yields");
    cr_assert_eq(ax_join(t, NULL), 0);
    ax_mpsc_tx_release(c.tx);
    ax_mpsc_rx_release(c.rx);
    return NULL;
}
Test(sync_mpsc, fast_paths_keep_cancel_and_budget, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, fast_main, NULL, NULL), 0);
}
