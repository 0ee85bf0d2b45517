/* Async mutex and rwlock: mutual exclusion under contention across two
 * workers with suspensions inside the critical section, FIFO hand-off,
 * unlock from another thread, deadlines, cancellation of blocked lockers,
 * a granted-then-dropped waiter handing the lock on, reader sharing and
 * writer preference. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdint.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

#define LOCKERS 16
#define ROUNDS  500

typedef struct shared {
    ax_mutex m;
    ax_rwlock l;
    long counter; /* deliberately not atomic */
    int order[LOCKERS];
    int next;
    atomic_int readers_in, writers_in, max_readers;
} shared;

static shared S;

static void *locker(void *arg) {
    for (int i = 0; i < ROUNDS; i++) {
        cr_assert_eq(ax_mutex_lock(&S.m, AX_NO_DEADLINE), 0);
        long c = S.counter;
        if (i % 7 == 0) ax_yield(); /* suspend inside the critical section */
        S.counter = c + 1;
        ax_mutex_unlock(&S.m);
    }
    return NULL;
}

static void *exclusion_main(void *arg) {
    ax_mutex_init(&S.m);
    S.counter = 0;
    ax_task *t[LOCKERS];
    for (int i = 0; i < LOCKERS; i++) cr_assert_eq(ax_spawn(&t[i], locker, NULL), 0);
    for (int i = 0; i < LOCKERS; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    cr_assert_eq(S.counter, (long)LOCKERS * ROUNDS);
    cr_assert_eq(ax_mutex_try_lock(&S.m), 0, "unlocked at the end");
    ax_mutex_unlock(&S.m);
    return NULL;
}

Test(sync_mutex, mutual_exclusion_two_workers, .init = rt_two, .fini = rt_done, .timeout = 60) {
    cr_assert_eq(ax_run(rt, exclusion_main, NULL, NULL), 0);
}

Test(sync_mutex, try_lock_and_fifo_handoff) {
    ax_mutex m = AX_MUTEX_INIT;
    cr_assert_eq(ax_mutex_try_lock(&m), 0);
    cr_assert_eq(ax_mutex_try_lock(&m), AX_EAGAIN);
    cwaker c[3];
    ax_mutex_lock_future f[3];
    for (int i = 0; i < 3; i++) {
        cw_init(&c[i]);
        ax_mutex_lock_future_init(&f[i], &m);
        cr_assert_eq(cw_poll(&c[i], &f[i]), AX_PENDING);
    }
    for (int i = 0; i < 3; i++) {
        ax_mutex_unlock(&m);
        cr_assert_eq(cw_wakes(&c[i]), 1, "waiter %d is next", i);
        cr_assert_eq(ax_mutex_try_lock(&m), AX_EAGAIN, "handed over, not released: no barging");
        for (int k = i + 1; k < 3; k++) cr_assert_eq(cw_poll(&c[k], &f[k]), AX_PENDING);
        cr_assert_eq(cw_poll(&c[i], &f[i]), AX_READY);
        cr_assert_eq(f[i].base.result, 0);
        ax_future_drop(&f[i].base); /* after READY: the lock stays held */
        cr_assert_eq(ax_mutex_try_lock(&m), AX_EAGAIN);
    }
    ax_mutex_unlock(&m);
    cr_assert_eq(ax_mutex_try_lock(&m), 0);
    ax_mutex_unlock(&m);
    for (int i = 0; i < 3; i++) cr_assert_eq(cw_refs(&c[i]), 0);
}

Test(sync_mutex, granted_waiter_dropped_hands_lock_on) {
    ax_mutex m;
    ax_mutex_init(&m);
    cr_assert_eq(ax_mutex_try_lock(&m), 0);
    cwaker c1, c2;
    cw_init(&c1);
    cw_init(&c2);
    ax_mutex_lock_future f1, f2;
    ax_mutex_lock_future_init(&f1, &m);
    ax_mutex_lock_future_init(&f2, &m);
    cr_assert_eq(cw_poll(&c1, &f1), AX_PENDING);
    cr_assert_eq(cw_poll(&c2, &f2), AX_PENDING);
    ax_mutex_unlock(&m); /* granted to f1 */
    ax_future_drop(&f1.base);
    cr_assert_eq(cw_wakes(&c2), 1, "f1's lock went to f2");
    cr_assert_eq(cw_poll(&c2, &f2), AX_READY);
    ax_future_drop(&f2.base);
    ax_mutex_unlock(&m);
    /* a queued waiter dropped before the grant just leaves */
    cr_assert_eq(ax_mutex_try_lock(&m), 0);
    ax_mutex_lock_future_init(&f1, &m);
    cr_assert_eq(cw_poll(&c1, &f1), AX_PENDING);
    ax_future_drop(&f1.base);
    ax_mutex_unlock(&m);
    cr_assert_eq(ax_mutex_try_lock(&m), 0, "released, not handed to the dropped waiter");
    ax_mutex_unlock(&m);
    cr_assert_eq(cw_refs(&c1) + cw_refs(&c2), 0);
}

static void *order_locker(void *arg) {
    cr_assert_eq(ax_mutex_lock(&S.m, AX_NO_DEADLINE), 0);
    S.order[S.next++] = (int)(intptr_t)arg;
    ax_mutex_unlock(&S.m);
    return NULL;
}

static void *fifo_main(void *arg) {
    ax_mutex_init(&S.m);
    S.next = 0;
    cr_assert_eq(ax_mutex_lock(&S.m, AX_NO_DEADLINE), 0);
    ax_task *t[8];
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(ax_spawn(&t[i], order_locker, (void *)(intptr_t)i), 0);
        wait_started(t[i]);
        settle(); /* let it queue before the next one */
    }
    ax_mutex_unlock(&S.m);
    for (int i = 0; i < 8; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    for (int i = 0; i < 8; i++) cr_assert_eq(S.order[i], i, "waiters served in arrival order");
    return NULL;
}

Test(sync_mutex, waiters_served_in_order, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, fifo_main, NULL, NULL), 0);
}

static void *unlock_from_thread(void *arg) {
    ax_mutex_unlock(arg);
    return NULL;
}

static void *blocked_locker(void *arg) {
    return (void *)(intptr_t)ax_mutex_lock(arg, AX_NO_DEADLINE);
}

static void *timeout_cancel_main(void *arg) {
    ax_mutex m = AX_MUTEX_INIT;
    cr_assert_eq(ax_mutex_lock(&m, AX_NO_DEADLINE), 0);
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_mutex_lock(&m, ax_deadline_in_ms(20)), AX_ETIMEDOUT);
    cr_assert_geq(ax_now() - t0, 20 * 1000000ull);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, blocked_locker, &m), 0);
    wait_started(t);
    settle();
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    /* unlocked by a plain thread: the lock belongs to no thread */
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, unlock_from_thread, &m), 0);
    pthread_join(th, NULL);
    cr_assert_eq(ax_mutex_lock(&m, ax_deadline_in_ms(1000)), 0, "consistent after both");
    ax_mutex_unlock(&m);
    return NULL;
}

Test(sync_mutex, timeout_cancel_and_foreign_unlock, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, timeout_cancel_main, NULL, NULL), 0);
}

/* ---- rwlock ---- */

Test(sync_rwlock, readers_share_writer_excludes) {
    ax_rwlock l = AX_RWLOCK_INIT;
    cr_assert_eq(ax_rwlock_try_read(&l), 0);
    cr_assert_eq(ax_rwlock_try_read(&l), 0);
    cr_assert_eq(ax_rwlock_try_write(&l), AX_EAGAIN);
    ax_rwlock_read_unlock(&l);
    ax_rwlock_read_unlock(&l);
    cr_assert_eq(ax_rwlock_try_write(&l), 0);
    cr_assert_eq(ax_rwlock_try_read(&l), AX_EAGAIN);
    cr_assert_eq(ax_rwlock_try_write(&l), AX_EAGAIN);
    ax_rwlock_write_unlock(&l);
    cr_assert_eq(ax_rwlock_try_read(&l), 0);
    ax_rwlock_read_unlock(&l);
}

Test(sync_rwlock, queued_writer_blocks_new_readers_then_batch) {
    ax_rwlock l;
    ax_rwlock_init(&l);
    cr_assert_eq(ax_rwlock_try_read(&l), 0);
    cwaker cw, cr1, cr2, cw2;
    cw_init(&cw);
    cw_init(&cr1);
    cw_init(&cr2);
    cw_init(&cw2);
    ax_rwlock_future w, r1, r2, w2;
    ax_rwlock_write_future_init(&w, &l);
    ax_rwlock_read_future_init(&r1, &l);
    ax_rwlock_read_future_init(&r2, &l);
    ax_rwlock_write_future_init(&w2, &l);
    cr_assert_eq(cw_poll(&cw, &w), AX_PENDING);
    cr_assert_eq(cw_poll(&cr1, &r1), AX_PENDING, "a reader behind a queued writer waits");
    cr_assert_eq(cw_poll(&cr2, &r2), AX_PENDING);
    cr_assert_eq(cw_poll(&cw2, &w2), AX_PENDING);
    cr_assert_eq(ax_rwlock_try_read(&l), AX_EAGAIN, "writers do not starve");
    ax_rwlock_read_unlock(&l);
    cr_assert_eq(cw_wakes(&cw), 1);
    cr_assert_eq(cw_wakes(&cr1), 0);
    cr_assert_eq(cw_poll(&cw, &w), AX_READY);
    ax_future_drop(&w.base);
    ax_rwlock_write_unlock(&l);
    cr_assert_eq(cw_wakes(&cr1), 1, "both readers at the head are admitted together");
    cr_assert_eq(cw_wakes(&cr2), 1);
    cr_assert_eq(cw_wakes(&cw2), 0);
    cr_assert_eq(cw_poll(&cr1, &r1), AX_READY);
    cr_assert_eq(cw_poll(&cr2, &r2), AX_READY);
    ax_future_drop(&r1.base);
    ax_future_drop(&r2.base);
    ax_rwlock_read_unlock(&l);
    cr_assert_eq(cw_wakes(&cw2), 0);
    ax_rwlock_read_unlock(&l);
    cr_assert_eq(cw_wakes(&cw2), 1);
    /* granted writer dropped unseen: the lock becomes free */
    ax_future_drop(&w2.base);
    cr_assert_eq(ax_rwlock_try_write(&l), 0);
    ax_rwlock_write_unlock(&l);
    cr_assert_eq(cw_refs(&cw) + cw_refs(&cr1) + cw_refs(&cr2) + cw_refs(&cw2), 0);
}

Test(sync_rwlock, dropped_queued_writer_admits_readers_behind) {
    ax_rwlock l = AX_RWLOCK_INIT;
    cr_assert_eq(ax_rwlock_try_read(&l), 0);
    cwaker cw, cr;
    cw_init(&cw);
    cw_init(&cr);
    ax_rwlock_future w, r;
    ax_rwlock_write_future_init(&w, &l);
    ax_rwlock_read_future_init(&r, &l);
    cr_assert_eq(cw_poll(&cw, &w), AX_PENDING);
    cr_assert_eq(cw_poll(&cr, &r), AX_PENDING);
    ax_future_drop(&w.base); /* the writer times out */
    cr_assert_eq(cw_wakes(&cr), 1, "the reader no longer waits behind anybody");
    cr_assert_eq(cw_poll(&cr, &r), AX_READY);
    ax_future_drop(&r.base);
    ax_rwlock_read_unlock(&l);
    ax_rwlock_read_unlock(&l);
    cr_assert_eq(ax_rwlock_try_write(&l), 0);
    ax_rwlock_write_unlock(&l);
    cr_assert_eq(cw_refs(&cw) + cw_refs(&cr), 0);
}

static void *rw_worker(void *arg) {
    int writer = (int)(intptr_t)arg;
    for (int i = 0; i < 300; i++) {
        if (writer) {
            cr_assert_eq(ax_rwlock_write(&S.l, AX_NO_DEADLINE), 0);
            cr_assert_eq(atomic_fetch_add(&S.writers_in, 1), 0);
            cr_assert_eq(atomic_load(&S.readers_in), 0);
            long c = S.counter;
            if (i % 5 == 0) ax_yield();
            S.counter = c + 1;
            atomic_fetch_sub(&S.writers_in, 1);
            ax_rwlock_write_unlock(&S.l);
        } else {
            cr_assert_eq(ax_rwlock_read(&S.l, AX_NO_DEADLINE), 0);
            int n = atomic_fetch_add(&S.readers_in, 1) + 1;
            cr_assert_eq(atomic_load(&S.writers_in), 0);
            int m = atomic_load(&S.max_readers);
            while (n > m && !atomic_compare_exchange_weak(&S.max_readers, &m, n)) {
            }
            (void)S.counter;
            if (i % 3 == 0) ax_yield();
            atomic_fetch_sub(&S.readers_in, 1);
            ax_rwlock_read_unlock(&S.l);
        }
    }
    return NULL;
}

static void *rw_stress_main(void *arg) {
    ax_rwlock_init(&S.l);
    S.counter = 0;
    ax_task *t[12];
    for (int i = 0; i < 12; i++)
        cr_assert_eq(ax_spawn(&t[i], rw_worker, (void *)(intptr_t)(i % 4 == 0)), 0);
    for (int i = 0; i < 12; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    cr_assert_eq(S.counter, 3 * 300);
    cr_assert_gt(atomic_load(&S.max_readers), 1, "readers did share the lock");
    return NULL;
}

Test(sync_rwlock, stress_two_workers, .init = rt_two, .fini = rt_done, .timeout = 60) {
    cr_assert_eq(ax_run(rt, rw_stress_main, NULL, NULL), 0);
}

static void *blocked_writer(void *arg) {
    return (void *)(intptr_t)ax_rwlock_write(arg, AX_NO_DEADLINE);
}

static void *rw_cancel_main(void *arg) {
    ax_rwlock l = AX_RWLOCK_INIT;
    cr_assert_eq(ax_rwlock_read(&l, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_rwlock_write(&l, ax_deadline_in_ms(15)), AX_ETIMEDOUT);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, blocked_writer, &l), 0);
    wait_started(t);
    settle();
    cr_assert_eq(ax_rwlock_try_read(&l), AX_EAGAIN, "the writer is queued");
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(ax_rwlock_read(&l, ax_deadline_in_ms(1000)), 0, "readers flow again");
    ax_rwlock_read_unlock(&l);
    ax_rwlock_read_unlock(&l);
    cr_assert_eq(ax_rwlock_write(&l, ax_deadline_in_ms(1000)), 0);
    ax_rwlock_write_unlock(&l);
    return NULL;
}

Test(sync_rwlock, timeout_and_cancel, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, rw_cancel_main, NULL, NULL), 0);
}
