/* Once: exactly one run under concurrency across workers, waiters suspend
 * until it is done, a failed run lets another caller try, cancellation of
 * a waiter. */
#include <criterion/criterion.h>

#include <stdint.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/executor/fixtures.h"
#include "test/executor/test_sync_util.h"

static ax_once O;
static atomic_int runs, value, failures_left;

static int slow_init(void *arg) {
    atomic_fetch_add(&runs, 1);
    ax_sleep(10); /* suspends: others must wait, not run it again */
    if (atomic_load(&failures_left) > 0) {
        atomic_fetch_sub(&failures_left, 1);
        return AX_EIO;
    }
    atomic_store(&value, 42);
    return 0;
}

static void *caller(void *arg) {
    int r;
    while ((r = ax_once_call(&O, slow_init, NULL)) == AX_EIO) {
    }
    cr_assert_eq(r, 0);
    cr_assert_eq(atomic_load(&value), 42, "the result of fn is visible to every caller");
    return NULL;
}

static void *exactly_once_main(void *arg) {
    ax_task *t[8];
    for (int i = 0; i < 8; i++) cr_assert_eq(ax_spawn(&t[i], caller, NULL), 0);
    for (int i = 0; i < 8; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    cr_assert(ax_once_is_done(&O));
    return NULL;
}

Test(sync_once, runs_exactly_once, .init = rt_two, .fini = rt_done) {
    ax_once_init(&O);
    atomic_store(&failures_left, 0);
    cr_assert_not(ax_once_is_done(&O));
    cr_assert_eq(ax_run(rt, exactly_once_main, NULL, NULL), 0);
    cr_assert_eq(atomic_load(&runs), 1);
    /* from a plain thread, once done: no task needed */
    cr_assert_eq(ax_once_call(&O, slow_init, NULL), 0);
    cr_assert_eq(atomic_load(&runs), 1);
}

Test(sync_once, failure_lets_another_caller_run, .init = rt_two, .fini = rt_done) {
    ax_once_init(&O);
    atomic_store(&failures_left, 2);
    cr_assert_eq(ax_run(rt, exactly_once_main, NULL, NULL), 0);
    cr_assert_eq(atomic_load(&runs), 3, "two failed runs, one success");
}

static int never_called(void *arg) {
    cr_assert_fail("never called");
    return 0;
}

Test(sync_once, outside_a_task) {
    ax_once o = AX_ONCE_INIT;
    cr_assert_eq(ax_once_call(&o, never_called, NULL), AX_ENOTASK);
    cr_assert_not(ax_once_is_done(&o));
}

static atomic_int release_gate;

static int gated_init(void *arg) {
    while (!atomic_load(&release_gate)) ax_sleep(1);
    return 0;
}

static void *gated_caller(void *arg) {
    return (void *)(intptr_t)ax_once_call(arg, gated_init, NULL);
}

static void *cancel_main(void *arg) {
    ax_once o = AX_ONCE_INIT;
    ax_task *runner, *waiter;
    cr_assert_eq(ax_spawn(&runner, gated_caller, &o), 0);
    wait_started(runner);
    settle();
    cr_assert_eq(ax_spawn(&waiter, gated_caller, &o), 0);
    wait_started(waiter);
    settle();
    ax_abort(waiter);
    void *r;
    cr_assert_eq(ax_join(waiter, &r), AX_ECANCELED);
    atomic_store(&release_gate, 1);
    cr_assert_eq(ax_join(runner, &r), 0);
    cr_assert_eq((intptr_t)r, 0);
    cr_assert(ax_once_is_done(&o));
    return NULL;
}

Test(sync_once, cancelled_waiter, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, cancel_main, NULL, NULL), 0);
}
