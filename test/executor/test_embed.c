/* Current-thread runtimes driven by their host (ax_run, ax_run_once,
 * ax_runtime_fd, ax_runtime_timeout_ms), and graceful shutdown. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#ifndef _WIN32
#include <poll.h>
#endif

#include "axon.h"
#include "test/os_compat.h"

static ax_runtime *crt;
static void ct_setup(void) {
    cr_assert_eq(ax_runtime_new(&crt, &(ax_runtime_opts){.flavor = AX_RUNTIME_CURRENT_THREAD}), 0);
}
static void ct_done(void) {
    ax_runtime_free(crt);
}

static intptr_t tid(void) {
    return test_thread_id();
}

static void *child_tid(void *arg) {
    ax_sleep(1);
    return (void *)tid();
}

static void *sleep_50ms(void *arg) {
    ax_sleep(50);
    return NULL;
}

static void *main_on_caller(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, child_tid, NULL), 0);
    void *v;
    cr_assert_eq(ax_join(t, &v), 0);
    cr_assert_eq((intptr_t)v, tid(), "every task runs on the caller's thread");
    return (void *)tid();
}

Test(embed, current_thread_runs_on_the_caller, .init = ct_setup, .fini = ct_done) {
    cr_assert_eq(ax_runtime_workers(crt), 1);
    void *v;
    cr_assert_eq(ax_run(crt, main_on_caller, NULL, &v), 0);
    cr_assert_eq((intptr_t)v, tid());
}

static atomic_int ran;
static void *bump(void *arg) {
    atomic_fetch_add(&ran, 1);
    return NULL;
}

static void *spawn_from_thread(void *arg) {
    usleep(20000);
    ax_spawn_on(arg, NULL, bump, NULL);
    return NULL;
}

Test(embed, run_once_and_the_runtime_fd, .init = ct_setup, .fini = ct_done) {
    cr_assert_eq(ax_run_once(crt, 0), 0, "nothing to do");
    cr_assert_eq(ax_runtime_timeout_ms(crt), -1, "no timer armed");
    cr_assert_eq(ax_spawn_on(crt, NULL, bump, NULL), 0);
    cr_assert_eq(ax_runtime_timeout_ms(crt), 0, "a task is ready");
    cr_assert_eq(ax_run_once(crt, 0), 1);
    cr_assert_eq(atomic_load(&ran), 1);
    /* a spawn from another thread makes the descriptor readable */
    pthread_t th;
    pthread_create(&th, NULL, spawn_from_thread, crt);
#ifdef _WIN32
    /* No descriptor to poll on Windows (a completion port; ax_runtime_fd
     * is -1): a blocking ax_run_once is woken by the spawn instead. */
    cr_assert_lt(ax_runtime_fd(crt), 0);
    int woke = 0;
    for (int i = 0; i < 100 && !woke; i++) woke = ax_run_once(crt, 5000);
    pthread_join(th, NULL);
    cr_assert_geq(woke, 1, "the spawn from another thread did not wake the runtime");
#else
    struct pollfd p = {ax_runtime_fd(crt), POLLIN, 0};
    cr_assert_eq(poll(&p, 1, 5000), 1, "the runtime fd did not become readable");
    pthread_join(th, NULL);
    cr_assert_geq(ax_run_once(crt, 0), 1);
#endif
    cr_assert_eq(atomic_load(&ran), 2);
    /* a sleeping task: the host learns when to come back (50 ms leaves room
     * for slow machines and emulation between the steps) */
    cr_assert_eq(ax_spawn_on(crt, NULL, sleep_50ms, NULL), 0);
    cr_assert_eq(ax_run_once(crt, 0), 1); /* the task starts and sleeps */
    int t = ax_runtime_timeout_ms(crt);
    cr_assert(t > 0 && t <= 51, "timeout %d", t);
    int polls = 0;
    for (int i = 0; i < 1000 && !polls; i++) polls = ax_run_once(crt, 10);
    cr_assert_eq(polls, 1, "the sleeper resumed");
}

Test(embed, run_once_refuses_a_multi_thread_runtime) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1}), 0);
    cr_assert_eq(ax_run_once(rt, 0), AX_EINVAL);
    ax_runtime_free(rt);
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.flavor = 7}), AX_EINVAL);
}

/* Graceful shutdown. */
static atomic_int finished, cancelled_cleanly;
static void *short_job(void *arg) {
    if (ax_sleep(20) == 0) atomic_fetch_add(&finished, 1);
    return NULL;
}
static void *endless(void *arg) {
    if (ax_sleep(3600000) == AX_ECANCELED) atomic_fetch_add(&cancelled_cleanly, 1);
    return NULL;
}

/* Ten tasks that finish within the grace period and five that never end
 * on their own: the first complete, the rest are cancelled (and see it),
 * spawns from outside are refused once the shutdown began. */
static void shutdown_case(ax_runtime *rt) {
    atomic_store(&finished, 0);
    atomic_store(&cancelled_cleanly, 0);
    for (int i = 0; i < 10; i++) cr_assert_eq(ax_spawn_on(rt, NULL, short_job, NULL), 0);
    for (int i = 0; i < 5; i++) cr_assert_eq(ax_spawn_on(rt, NULL, endless, NULL), 0);
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_runtime_shutdown(rt, 200), 5, "the five endless tasks were cancelled");
    uint64_t took = ax_now() - t0;
    cr_assert_geq(took, 200000000ull, "the grace period was not honoured");
    cr_assert_lt(took, 3000000000ull);
    cr_assert_eq(atomic_load(&finished), 10, "tasks that end within the grace period complete");
    cr_assert_eq(atomic_load(&cancelled_cleanly), 5);
    cr_assert_eq(ax_spawn_on(rt, NULL, short_job, NULL), AX_ESHUTDOWN);
    cr_assert_eq(ax_runtime_shutdown(rt, 0), 0, "a second shutdown has nothing to do");
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    cr_assert_eq(m.tasks_alive, 0);
    cr_assert_eq(m.tasks_cancelled, 5);
    ax_runtime_free(rt);
}

Test(shutdown, graceful_multi_thread, .timeout = 30) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 2}), 0);
    shutdown_case(rt);
}

Test(shutdown, graceful_current_thread, .timeout = 30) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.flavor = AX_RUNTIME_CURRENT_THREAD}), 0);
    shutdown_case(rt);
}

/* A task that ignores cancellation is reported once the shutdown timeout
 * has passed, and awaited. */
static atomic_int stubborn_stop;
static void *stubborn(void *arg) {
    while (!atomic_load(&stubborn_stop)) ax_yield(); /* ignores AX_ECANCELED */
    return NULL;
}
static void *release_later(void *arg) {
    usleep(300000);
    atomic_store(&stubborn_stop, 1);
    return NULL;
}

Test(shutdown, task_ignoring_cancellation_is_reported_and_awaited, .timeout = 30) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 2, .shutdown_timeout_ms = 50}),
                 0);
    ax_task *t;
    cr_assert_eq(ax_spawn_on(rt, &t, stubborn, NULL), 0);
    while (ax_task_status(t) == AX_TASK_PENDING) usleep(1000);
    ax_detach(t);
    pthread_t th;
    pthread_create(&th, NULL, release_later, NULL);
    cr_assert_eq(ax_runtime_shutdown(rt, 0), 1);
    cr_assert_eq(atomic_load(&stubborn_stop), 1, "shutdown returned before the task ended");
    pthread_join(th, NULL);
    ax_runtime_free(rt);
}
