/* Tasks through the public API: lifecycle, join, detach, abort, exit,
 * yield, many tasks, cancellation of waiting tasks. */
#include <criterion/criterion.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "axon.h"
#include "test/executor/fixtures.h"
#include "test/started.h"
#include "test/win_skip.h"

static void *return_arg(void *arg) {
    return arg;
}

Test(task, run_returns_main_value, .init = rt_one, .fini = rt_done) {
    void *out = NULL;
    cr_assert_eq(ax_run(rt, return_arg, (void *)0x1234, &out), 0);
    cr_assert_eq(out, (void *)0x1234);
}

static atomic_int gate;

static void *wait_gate(void *arg) {
    while (!atomic_load(&gate)) ax_yield();
    return arg;
}

static void *lifecycle_main(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, wait_gate, (void *)7), 0);
    cr_assert_neq(ax_task_id(t), 0);
    cr_assert_eq(ax_task_status(t), AX_TASK_PENDING);
    ax_yield(); /* the child starts and spins on the gate */
    cr_assert_eq(ax_task_status(t), AX_TASK_RUNNING);
    atomic_store(&gate, 1);
    void *v = NULL;
    cr_assert_eq(ax_join(t, &v), 0);
    cr_assert_eq(v, (void *)7);
    return NULL;
}

Test(task, lifecycle_pending_running_completed, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, lifecycle_main, NULL, NULL), 0);
}

static void *observe_complete(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, return_arg, NULL), 0);
    while (ax_task_status(t) != AX_TASK_COMPLETED) ax_yield();
    cr_assert_eq(ax_join(t, NULL), 0);
    return NULL;
}

Test(task, completed_state_observable_before_join, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, observe_complete, NULL, NULL), 0);
}

static atomic_int ran;
static void *mark_ran(void *arg) {
    atomic_fetch_add(&ran, 1);
    return NULL;
}

static void *abort_before_start(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, mark_ran, NULL), 0);
    ax_abort(t);
    ax_abort(t); /* idempotent */
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(atomic_load(&ran), 0, "an aborted task that never started must not run");
    return NULL;
}

Test(task, abort_before_start_never_runs, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, abort_before_start, NULL, NULL), 0);
}

static atomic_int sleep_result = 1;
static void *long_sleeper(void *arg) {
    atomic_store(&sleep_result, ax_sleep(60000));
    /* once cancelled, every suspending call fails at once */
    cr_assert_eq(ax_yield(), AX_ECANCELED);
    cr_assert_eq(ax_sleep(1), AX_ECANCELED);
    cr_assert(ax_is_cancelled());
    return (void *)99;
}

static void *abort_sleeping(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, long_sleeper, NULL), 0);
    wait_started(t);
    cr_assert_eq(ax_sleep(5), 0);
    cr_assert_eq(ax_task_status(t), AX_TASK_RUNNING);
    ax_instant t0 = ax_now();
    ax_abort(t);
    void *v = NULL;
    cr_assert_eq(ax_join(t, &v), AX_ECANCELED);
    cr_assert_lt(ax_now() - t0, 1000000000ull, "cancel must not wait for the sleep");
    cr_assert_eq(atomic_load(&sleep_result), AX_ECANCELED);
    cr_assert_eq(v, (void *)99, "the value returned after cancellation is kept");
    return NULL;
}

Test(task, abort_sleeping_task_returns_ecanceled, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, abort_sleeping, NULL, NULL), 0);
}

#ifndef _WIN32
static int pipe_fds[2];
static atomic_int io_result = 1;
static atomic_int io_started;
static void *io_waiter(void *arg) {
    atomic_store(&io_started, 1);
    atomic_store(&io_result, ax_wait_readable(pipe_fds[0], AX_NO_DEADLINE));
    return NULL;
}

static void *abort_io_waiting(void *arg) {
    cr_assert_eq(pipe(pipe_fds), 0);
    ax_task *t;
    atomic_store(&io_started, 0);
    cr_assert_eq(ax_spawn(&t, io_waiter, NULL), 0);
    for (int i = 0; i < 10000 && !atomic_load(&io_started); i++) ax_sleep(1);
    cr_assert_eq(ax_sleep(5), 0);
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(atomic_load(&io_result), AX_ECANCELED);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return NULL;
}

#endif

Test(task, abort_io_waiting_task_returns_ecanceled, .init = rt_one, .fini = rt_done) {
    AX_WIN_SKIP(AX_WIN_NO_FDWAIT);
#ifndef _WIN32
    cr_assert_eq(ax_run(rt, abort_io_waiting, NULL, NULL), 0);
#endif
}

static void *exit_failed(void *arg) {
    ax_task_exit((void *)5, AX_EIO);
}

static void *exit_main(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, exit_failed, NULL), 0);
    while (ax_task_status(t) == AX_TASK_PENDING || ax_task_status(t) == AX_TASK_RUNNING) ax_yield();
    cr_assert_eq(ax_task_status(t), AX_TASK_FAILED);
    void *v = NULL;
    cr_assert_eq(ax_join(t, &v), AX_EIO);
    cr_assert_eq(v, (void *)5);
    return NULL;
}

Test(task, exit_with_error_is_failed, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, exit_main, NULL, NULL), 0);
}

static atomic_int detached_done;
static void *detached_child(void *arg) {
    ax_sleep(2);
    atomic_fetch_add(&detached_done, 1);
    return NULL;
}

static void *detach_main(void *arg) {
    for (int i = 0; i < 100; i++) {
        ax_task *t;
        cr_assert_eq(ax_spawn(&t, detached_child, NULL), 0);
        ax_detach(t);
        cr_assert_eq(ax_spawn(NULL, detached_child, NULL), 0);
    }
    while (atomic_load(&detached_done) < 200) ax_sleep(1);
    return NULL;
}

Test(task, detached_tasks_run_to_completion, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, detach_main, NULL, NULL), 0);
    cr_assert_eq(atomic_load(&detached_done), 200);
}

/* Two tasks yielding in turn alternate strictly on one worker. */
static int trace[20];
static atomic_int trace_n;
static void *yielder(void *arg) {
    for (int i = 0; i < 10; i++) {
        trace[atomic_fetch_add(&trace_n, 1)] = (int)(intptr_t)arg;
        cr_assert_eq(ax_yield(), 0);
    }
    return NULL;
}

static void *yield_main(void *arg) {
    ax_task *a, *b;
    cr_assert_eq(ax_spawn(&a, yielder, (void *)1), 0);
    cr_assert_eq(ax_spawn(&b, yielder, (void *)2), 0);
    cr_assert_eq(ax_join(a, NULL), 0);
    cr_assert_eq(ax_join(b, NULL), 0);
    for (int i = 1; i < 20; i++) cr_assert_neq(trace[i], trace[i - 1], "at %d", i);
    return NULL;
}

Test(task, yield_alternates_tasks, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, yield_main, NULL, NULL), 0);
}

/* 100,000 tasks spawned from one task and then joined. All 100,000 task
 * structs are alive at once (the parent holds every handle), but a stack
 * is taken only when a task first runs and returned when it ends, so these
 * short tasks share a couple of stacks. */
#define MANY 100000
static void *add_one(void *arg) {
    return (void *)((intptr_t)arg + 1);
}

static void *many_main(void *arg) {
    ax_task **h = malloc(sizeof(*h) * MANY);
    cr_assert_not_null(h);
    for (intptr_t i = 0; i < MANY; i++) cr_assert_eq(ax_spawn(&h[i], add_one, (void *)i), 0);
    for (intptr_t i = 0; i < MANY; i++) {
        void *v;
        cr_assert_eq(ax_join(h[i], &v), 0);
        cr_assert_eq((intptr_t)v, i + 1);
    }
    free(h);
    return NULL;
}

Test(task, hundred_thousand_spawned_and_joined, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, many_main, NULL, NULL), 0);
}

Test(task, hundred_thousand_on_two_workers, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, many_main, NULL, NULL), 0);
}

/* Tasks spawned from outside the runtime go to the global queue; a worker
 * takes a batch of them at once, queueing all but the first locally, where
 * the other worker may steal them, run them to the end, and the outside
 * thread join and free them at once. Taking the batch must not read a task
 * after queueing it (it did: the next pointer of each task was read after
 * its push, a use after free that TSan reported in the blocking tests). */
static void *yield_twice(void *arg) {
    ax_yield();
    ax_yield();
    return arg;
}

static _Atomic int batch_hold, batch_hogs;

/* Holds its worker (no suspension) until released, so that what is
 * spawned meanwhile piles up in the global queue. */
static void *batch_hog(void *arg) {
    atomic_fetch_add(&batch_hogs, 1);
    while (atomic_load(&batch_hold)) {
    }
    return arg;
}

Test(task, injected_batch_taken_stolen_and_joined_from_outside, .init = rt_two, .fini = rt_done) {
    enum { ROUNDS = 200, BATCH = 48 };
    for (int r = 0; r < ROUNDS; r++) {
        ax_task *hog[2], *h[BATCH];
        atomic_store(&batch_hold, 1);
        atomic_store(&batch_hogs, 0);
        for (int i = 0; i < 2; i++) cr_assert_eq(ax_spawn_on(rt, &hog[i], batch_hog, NULL), 0);
        while (atomic_load(&batch_hogs) < 2) sched_yield();
        for (intptr_t i = 0; i < BATCH; i++)
            cr_assert_eq(ax_spawn_on(rt, &h[i], yield_twice, (void *)i), 0);
        atomic_store(&batch_hold, 0);
        for (int i = 0; i < 2 + BATCH; i++) {
            ax_join_future jf;
            ax_join_future_init(&jf, i < 2 ? hog[i] : h[i - 2]);
            cr_assert_eq(ax_block_on(rt, &jf.base), 0);
        }
    }
}

/* 10,000 tasks suspended at the same time: each holds its own stack. */
#define SLEEPERS 10000
static void *sleep_then_return(void *arg) {
    cr_assert_eq(ax_sleep(20), 0);
    return arg;
}

static void *sleepers_main(void *arg) {
    ax_task **h = malloc(sizeof(*h) * SLEEPERS);
    for (intptr_t i = 0; i < SLEEPERS; i++)
        cr_assert_eq(ax_spawn(&h[i], sleep_then_return, (void *)i), 0);
    for (intptr_t i = 0; i < SLEEPERS; i++) {
        void *v;
        cr_assert_eq(ax_join(h[i], &v), 0);
        cr_assert_eq((intptr_t)v, i);
    }
    free(h);
    return NULL;
}

Test(task, ten_thousand_suspended_at_once, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, sleepers_main, NULL, NULL), 0);
}

static void *spawn_outside(void *arg) {
    return NULL;
}

Test(task, calls_outside_a_task) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, spawn_outside, NULL), AX_ENOTASK);
    cr_assert_eq(ax_yield(), AX_ENOTASK);
    cr_assert_eq(ax_sleep(1), AX_ENOTASK);
    cr_assert_eq(ax_current_task_id(), 0);
    cr_assert_null(ax_current_runtime());
    cr_assert(!ax_is_cancelled());
}

static void *nested_run(void *arg) {
    cr_assert_eq(ax_run((ax_runtime *)arg, return_arg, NULL, NULL), AX_EBUSY);
    cr_assert_eq(ax_current_runtime(), arg);
    cr_assert_neq(ax_current_task_id(), 0);
    return NULL;
}

Test(task, run_inside_a_task_is_refused, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, nested_run, rt, NULL), 0);
}

/* spawn from a plain thread, join with ax_block_on */
Test(task, spawn_on_from_plain_thread, .init = rt_two, .fini = rt_done) {
    ax_task *t;
    cr_assert_eq(ax_spawn_on(rt, &t, add_one, (void *)41), 0);
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    cr_assert_eq(ax_block_on(rt, &jf.base), 0);
    cr_assert_eq(jf.value, (void *)42);
}

/* Freeing a runtime with tasks still waiting cancels them and returns. */
static atomic_int cleanup_ran;
static void *wait_forever(void *arg) {
    int r = ax_sleep(3600 * 1000);
    if (r == AX_ECANCELED) atomic_fetch_add(&cleanup_ran, 1);
    return NULL;
}

Test(task, free_cancels_waiting_tasks) {
    ax_runtime *r;
    cr_assert_eq(ax_runtime_new(&r, &(ax_runtime_opts){.workers = 2}), 0);
    for (int i = 0; i < 50; i++) cr_assert_eq(ax_spawn_on(r, NULL, wait_forever, NULL), 0);
    usleep(20000);
    ax_runtime_free(r);
    cr_assert_eq(atomic_load(&cleanup_ran), 50);
}

/* The cooperative budget: a task whose awaits always complete at once
 * never suspends by itself, yet after a bounded number of them it yields,
 * so another ready task on the same (only) worker gets to run long before
 * the greedy loop ends. */
static ax_poll always_ready(ax_future *f, ax_context *cx) {
    f->result = 0;
    return AX_READY;
}
static const ax_future_vtable always_ready_vt = {always_ready, NULL};
static atomic_int greedy_iter, other_ran_at = -1;

static void *note_iteration(void *arg) {
    atomic_store(&other_ran_at, atomic_load(&greedy_iter));
    return NULL;
}

static void *greedy(void *arg) {
    ax_task *o;
    cr_assert_eq(ax_spawn(&o, note_iteration, NULL), 0);
    for (int i = 0; i < 10000; i++) {
        atomic_store(&greedy_iter, i);
        ax_future f = {&always_ready_vt, 0};
        cr_assert_eq(ax_await(&f), 0);
    }
    cr_assert_eq(ax_join(o, NULL), 0);
    return NULL;
}

Test(task, budget_makes_a_busy_task_yield, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, greedy, NULL, NULL), 0);
    int at = atomic_load(&other_ran_at);
    cr_assert_geq(at, 0, "the other task never ran");
    cr_assert_lt(at, 1000, "the other task waited %d ready polls", at);
}

/* ax_task_self: the running task, usable by a watchdog to abort it. */
static ax_task *_Atomic self_seen;

static void *self_then_sleep(void *arg) {
    atomic_store(&self_seen, ax_task_self());
    int r = ax_sleep(10000); /* the main task aborts us through the pointer */
    return (void *)(intptr_t)r;
}

static void *self_main(void *arg) {
    cr_assert_not_null(ax_task_self());
    cr_assert_eq(ax_task_id(ax_task_self()), ax_current_task_id());
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, self_then_sleep, NULL), 0);
    while (!atomic_load(&self_seen)) ax_yield();
    cr_assert_eq(atomic_load(&self_seen), t, "ax_task_self is not the spawned task");
    ax_sleep(20);
    ax_abort(atomic_load(&self_seen));
    void *res;
    cr_assert_eq(ax_join(t, &res), AX_ECANCELED);
    cr_assert_eq((intptr_t)res, AX_ECANCELED, "the sleep did not see the abort");
    return NULL;
}

Test(task, task_self_aborts_from_outside, .init = rt_two, .fini = rt_done) {
    cr_assert_null(ax_task_self(), "not a task here");
    cr_assert_eq(ax_run(rt, self_main, NULL, NULL), 0);
}

/* Regression: a task woken while it suspends (here it wakes itself) was
 * requeued into its worker's LIFO slot from the next task's context; when
 * that next task ran without suspending, the woken task sat in a slot no
 * other worker could see or steal, and the idle worker slept on. */
static atomic_int hog_release, hog_timed_out;
static void *hog(void *arg) {
    ax_instant end = ax_now() + 5000000000ull;
    while (!atomic_load(&hog_release)) {
        if (ax_now() > end) { /* bounded, so the bug shows as a failure, not a hang */
            atomic_store(&hog_timed_out, 1);
            break;
        }
    }
    return NULL;
}

typedef struct self_wake {
    ax_future base;
    int polls;
} self_wake;
static ax_poll self_wake_poll(ax_future *f, ax_context *cx) {
    self_wake *s = (self_wake *)f;
    if (s->polls++) return AX_READY;
    ax_waker_wake_by_ref(cx->waker); /* woken while still running */
    return AX_PENDING;
}
static void self_wake_drop(ax_future *f) {
    (void)f;
}
static const ax_future_vtable self_wake_vtable = {self_wake_poll, self_wake_drop};

static void *notified_requeue_main(void *arg) {
    for (int round = 0; round < 20; round++) {
        atomic_store(&hog_release, 0);
        ax_task *t;
        cr_assert_eq(ax_spawn(&t, hog, NULL), 0); /* into this worker's LIFO slot */
        self_wake f = {{&self_wake_vtable, 0}, 0};
        cr_assert_eq(ax_await(&f.base), 0); /* the hog runs next on this worker */
        atomic_store(&hog_release, 1);
        cr_assert_eq(ax_join(t, NULL), 0);
        cr_assert_eq(atomic_load(&hog_timed_out), 0, "round %d: the woken task waited for the hog",
                     round);
    }
    return NULL;
}

Test(task, task_woken_while_suspending_runs_beside_a_hog, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, notified_requeue_main, NULL, NULL), 0);
}
