/* Help-first joins: ax_join of a child that this worker queued and has not
 * started runs it at once on this thread, the joiner waiting without
 * suspending. Results, failures and cancellation must be exactly what a
 * join that waits gives; a child that waits hands the joiner back. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "axon.h"
#include "axon/cancel.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"

/* ---- order: the joined child runs before its queued sibling -------------- */
static char order[8];
static atomic_int order_n;
static pthread_t parent_thread;
static atomic_bool child_on_parent_thread;
static atomic_bool child_sees_itself;

static void *log_letter(void *arg) {
    order[atomic_fetch_add(&order_n, 1)] = (char)(intptr_t)arg;
    if (pthread_equal(pthread_self(), parent_thread)) atomic_store(&child_on_parent_thread, true);
    return arg;
}

static ax_task *self_check_task;
static void *check_identity(void *arg) {
    atomic_store(&child_sees_itself, ax_current_task_id() == ax_task_id(self_check_task));
    return arg;
}

static void *order_main(void *arg) {
    (void)arg;
    parent_thread = pthread_self();
    ax_task *a, *b;
    cr_assert_eq(ax_spawn(&a, log_letter, (void *)'a'), 0);
    cr_assert_eq(ax_spawn(&b, log_letter, (void *)'b'), 0);
    /* b sits in the LIFO slot and would run first if the join waited. */
    cr_assert_eq(ax_task_status(a), AX_TASK_PENDING);
    void *va = NULL, *vb = NULL;
    cr_assert_eq(ax_join(a, &va), 0);
    cr_assert_eq(va, (void *)'a');
    cr_assert_eq(ax_join(b, &vb), 0);
    cr_assert_eq(vb, (void *)'b');
    cr_assert_eq(memcmp(order, "ab", 2), 0, "ran in order %.2s", order);
    cr_assert(atomic_load(&child_on_parent_thread));

    cr_assert_eq(ax_spawn(&self_check_task, check_identity, NULL), 0);
    cr_assert_eq(ax_join(self_check_task, NULL), 0);
    cr_assert(atomic_load(&child_sees_itself));
    return NULL;
}

Test(join_help, joined_child_runs_first_on_the_joiners_thread, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, order_main, NULL, NULL), 0);
}

/* ---- failures and aborts before the start -------------------------------- */
static atomic_int ran_count;

static void *exit_with_error(void *arg) {
    atomic_fetch_add(&ran_count, 1);
    ax_task_exit(arg, AX_EPIPE);
}

static void *count_run(void *arg) {
    atomic_fetch_add(&ran_count, 1);
    return arg;
}

static void *failure_main(void *arg) {
    (void)arg;
    ax_task *t;
    void *v = NULL;
    cr_assert_eq(ax_spawn(&t, exit_with_error, (void *)5), 0);
    cr_assert_eq(ax_join(t, &v), AX_EPIPE);
    cr_assert_eq(v, (void *)5);
    cr_assert_eq(ax_task_status(t), AX_TASK_FAILED);
    cr_assert_eq(atomic_load(&ran_count), 1);

    cr_assert_eq(ax_spawn(&t, count_run, NULL), 0);
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(ax_task_status(t), AX_TASK_CANCELLED);
    cr_assert_eq(atomic_load(&ran_count), 1, "an aborted child never starts");
    return NULL;
}

Test(join_help, exit_error_and_abort_before_start, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, failure_main, NULL, NULL), 0);
}

/* ---- a cancelled joiner does not run the child ---------------------------- */
static atomic_int join_code = 1;
static atomic_int child_status_at_join = -1;

static void *cancelled_joiner(void *arg) {
    (void)arg;
    while (!ax_is_cancelled()) ax_yield();
    ax_task *c; /* queued here, not started */
    cr_assert_eq(ax_spawn(&c, count_run, NULL), 0);
    atomic_store(&join_code, ax_join(c, NULL));
    atomic_store(&child_status_at_join, (int)ax_task_status(c));
    ax_shield_begin();
    cr_assert_eq(ax_join(c, NULL), 0); /* shielded: waits, and runs it */
    ax_shield_end();
    return NULL;
}

static void *cancelled_joiner_main(void *arg) {
    (void)arg;
    ax_task *p;
    cr_assert_eq(ax_spawn(&p, cancelled_joiner, NULL), 0);
    ax_yield(); /* p starts and spins */
    ax_abort(p);
    cr_assert_eq(ax_join(p, NULL), AX_ECANCELED);
    cr_assert_eq(atomic_load(&join_code), AX_ECANCELED);
    cr_assert_eq(atomic_load(&child_status_at_join), AX_TASK_PENDING);
    cr_assert_eq(atomic_load(&ran_count), 1);
    return NULL;
}

Test(join_help, cancelled_joiner_returns_at_once, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, cancelled_joiner_main, NULL, NULL), 0);
}

/* ---- a child that waits hands the joiner back ----------------------------- */
static ax_oneshot_tx *wait_tx;
static ax_oneshot_rx *wait_rx;
static ax_task *waiting_child;

static void *wait_for_value(void *arg) {
    (void)arg;
    int v = 0;
    int r = ax_oneshot_recv(wait_rx, &v, AX_NO_DEADLINE);
    return (void *)(intptr_t)(r ? r : v);
}

/* Joins a child that waits; returns the join's code. */
static void *join_waiting_child(void *arg) {
    (void)arg;
    cr_assert_eq(ax_spawn(&waiting_child, wait_for_value, NULL), 0);
    return (void *)(intptr_t)ax_join(waiting_child, NULL);
}

static void *waiting_main(void *arg) {
    (void)arg;
    cr_assert_eq(ax_oneshot_new(&wait_tx, &wait_rx, sizeof(int)), 0);
    ax_task *p;
    cr_assert_eq(ax_spawn(&p, join_waiting_child, NULL), 0);
    /* p runs its child, which waits; p then waits the usual way, and this
     * task gets the worker back. */
    while (!waiting_child || ax_task_status(waiting_child) != AX_TASK_RUNNING) ax_yield();
    cr_assert_eq(ax_task_status(p), AX_TASK_RUNNING);
    /* Cancelling the joiner ends its join now, though its child still waits. */
    ax_abort(p);
    void *code = NULL;
    cr_assert_eq(ax_join(p, &code), AX_ECANCELED);
    cr_assert_eq((int)(intptr_t)code, AX_ECANCELED);
    cr_assert_eq(ax_task_status(waiting_child), AX_TASK_RUNNING);
    int v = 42;
    cr_assert_eq(ax_oneshot_send(wait_tx, &v), 0);
    void *got = NULL;
    cr_assert_eq(ax_join(waiting_child, &got), 0);
    cr_assert_eq((int)(intptr_t)got, 42);
    ax_oneshot_rx_release(wait_rx);
    return NULL;
}

Test(join_help, waiting_child_hands_back_and_joiner_can_be_cancelled, .init = rt_one,
     .fini = rt_done) {
    cr_assert_eq(ax_run(rt, waiting_main, NULL, NULL), 0);
}

/* ---- nested: a grandchild waits, and the chain of joiners unwinds --------- */
static ax_oneshot_tx *deep_tx;
static ax_oneshot_rx *deep_rx;

static void *deep(void *arg) {
    intptr_t level = (intptr_t)arg;
    if (level == 0) {
        int v = 0;
        cr_assert_eq(ax_oneshot_recv(deep_rx, &v, AX_NO_DEADLINE), 0);
        return (void *)(intptr_t)v;
    }
    ax_task *c;
    void *r = NULL;
    cr_assert_eq(ax_spawn(&c, deep, (void *)(level - 1)), 0);
    cr_assert_eq(ax_join(c, &r), 0);
    return (void *)((intptr_t)r + 1);
}

static void *send_later(void *arg) {
    (void)arg;
    for (int i = 0; i < 10; i++) ax_yield();
    int v = 100;
    cr_assert_eq(ax_oneshot_send(deep_tx, &v), 0);
    return NULL;
}

static void *nested_main(void *arg) {
    (void)arg;
    cr_assert_eq(ax_oneshot_new(&deep_tx, &deep_rx, sizeof(int)), 0);
    ax_task *s, *d;
    cr_assert_eq(ax_spawn(&s, send_later, NULL), 0);
    cr_assert_eq(ax_spawn(&d, deep, (void *)8), 0);
    void *r = NULL;
    cr_assert_eq(ax_join(d, &r), 0);
    cr_assert_eq((intptr_t)r, 108);
    cr_assert_eq(ax_join(s, NULL), 0);
    ax_oneshot_rx_release(deep_rx);
    return NULL;
}

Test(join_help, nested_joins_unwind_when_the_innermost_waits, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, nested_main, NULL, NULL), 0);
}

/* ---- fork-join trees, and joins in reverse spawn order --------------------- */
static void *fib(void *arg) {
    intptr_t n = (intptr_t)arg;
    if (n < 2) return (void *)n;
    ax_task *a, *b;
    void *ra = NULL, *rb = NULL;
    cr_assert_eq(ax_spawn(&a, fib, (void *)(n - 1)), 0);
    cr_assert_eq(ax_spawn(&b, fib, (void *)(n - 2)), 0);
    cr_assert_eq(ax_join(a, &ra), 0);
    cr_assert_eq(ax_join(b, &rb), 0);
    return (void *)((intptr_t)ra + (intptr_t)rb);
}

static void *return_arg_task(void *arg) {
    return arg;
}

enum { FANOUT = 600 }; /* more than a local queue holds: some overflow */

static void *fanout_reverse(void *arg) {
    (void)arg;
    ax_task *t[FANOUT];
    for (intptr_t i = 0; i < FANOUT; i++)
        cr_assert_eq(ax_spawn(&t[i], return_arg_task, (void *)i), 0);
    for (intptr_t i = FANOUT; i-- > 0;) {
        void *v = NULL;
        cr_assert_eq(ax_join(t[i], &v), 0);
        cr_assert_eq((intptr_t)v, i);
    }
    return NULL;
}

static void *tree_main(void *arg) {
    (void)arg;
    void *r = NULL;
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, fib, (void *)20), 0);
    cr_assert_eq(ax_join(t, &r), 0);
    cr_assert_eq((intptr_t)r, 6765);
    ax_task *f[4];
    for (int i = 0; i < 4; i++) cr_assert_eq(ax_spawn(&f[i], fanout_reverse, NULL), 0);
    for (int i = 0; i < 4; i++) cr_assert_eq(ax_join(f[i], NULL), 0);
    return NULL;
}

Test(join_help, fork_join_tree_one_worker, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, tree_main, NULL, NULL), 0);
}

/* Two workers: the other one steals queued children while their parents
 * take others back from the tail. */
Test(join_help, fork_join_tree_two_workers, .init = rt_two, .fini = rt_done, .timeout = 120) {
    for (int i = 0; i < 5; i++) cr_assert_eq(ax_run(rt, tree_main, NULL, NULL), 0);
}

/* ---- a long stretch of joins does not starve the queue -------------------- */
static atomic_bool flag;

static void *set_flag(void *arg) {
    atomic_store(&flag, true);
    return arg;
}

static void *join_loop_main(void *arg) {
    (void)arg;
    ax_task *setter;
    cr_assert_eq(ax_spawn(&setter, set_flag, NULL), 0);
    /* Every iteration's child runs at once; the setter waits in the queue
     * until the stretch has used up its time slice. */
    while (!atomic_load(&flag)) {
        ax_task *c;
        cr_assert_eq(ax_spawn(&c, count_run, NULL), 0);
        cr_assert_eq(ax_join(c, NULL), 0);
    }
    cr_assert_eq(ax_join(setter, NULL), 0);
    return NULL;
}

Test(join_help, long_join_stretch_lets_queued_tasks_run, .init = rt_one, .fini = rt_done,
     .timeout = 60) {
    cr_assert_eq(ax_run(rt, join_loop_main, NULL, NULL), 0);
}

/* ---- stacks a burst left cached are given back when the worker idles ------ */
enum { BURST = 300 };
static ax_barrier burst_barrier;

static void *wait_at_barrier(void *arg) {
    cr_assert_geq(ax_barrier_wait(&burst_barrier, AX_NO_DEADLINE), 0);
    return arg;
}

static void *burst_main(void *arg) {
    (void)arg;
    cr_assert_eq(ax_barrier_init(&burst_barrier, BURST + 1), 0);
    ax_task *t[BURST];
    for (int i = 0; i < BURST; i++) cr_assert_eq(ax_spawn(&t[i], wait_at_barrier, NULL), 0);
    for (int i = 0; i < BURST; i++) ax_yield(); /* every child starts and waits */
    ax_runtime_metrics m;
    ax_runtime_metrics_get(ax_current_runtime(), &m);
    cr_assert_geq(m.stacks_mapped, (uint64_t)BURST, "%llu", (unsigned long long)m.stacks_mapped);
    cr_assert_geq(ax_barrier_wait(&burst_barrier, AX_NO_DEADLINE), 0);
    for (int i = 0; i < BURST; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    return NULL;
}

Test(join_help, idle_worker_trims_its_stack_cache, .init = rt_one, .fini = rt_done, .timeout = 60) {
    cr_assert_eq(ax_run(rt, burst_main, NULL, NULL), 0);
    /* The worker has nothing left to do and goes to sleep, trimming. */
    ax_runtime_metrics m;
    do {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        ax_runtime_metrics_get(rt, &m);
    } while (m.stacks_mapped > 8);
    cr_assert_leq(m.stacks_mapped, 8);
}

/* ---- what waits behind a child run at once stays stealable ----------------- */
static atomic_bool second_started;

static void *spin_until_second(void *arg) {
    /* Holds this thread without yielding: only another worker can run the
     * second task meanwhile. */
    while (!atomic_load(&second_started)) {
    }
    return arg;
}

static void *mark_second(void *arg) {
    atomic_store(&second_started, true);
    return arg;
}

static void *pair_main(void *arg) {
    (void)arg;
    ax_task *a, *b;
    cr_assert_eq(ax_spawn(&a, spin_until_second, NULL), 0);
    cr_assert_eq(ax_spawn(&b, mark_second, NULL), 0); /* b takes the LIFO slot */
    cr_assert_eq(ax_join(a, NULL), 0);                /* runs a here, at once */
    cr_assert_eq(ax_join(b, NULL), 0);
    return NULL;
}

Test(join_help, sibling_behind_a_child_run_at_once_is_stolen, .init = rt_two, .fini = rt_done,
     .timeout = 60) {
    cr_assert_eq(ax_run(rt, pair_main, NULL, NULL), 0);
}
