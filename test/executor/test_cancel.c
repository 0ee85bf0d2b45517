/* Structured cancellation: scopes, on-cancel hooks, shields, brackets, and
 * cancellation at every kind of suspending call the core offers. */
#include <criterion/criterion.h>

#include "test/os_compat.h"

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "axon.h"
#include "test/executor/fixtures.h"
#include "test/started.h"

static atomic_int alive;

static void *sleep_ms(void *arg) {
    atomic_fetch_add(&alive, 1);
    int r = ax_sleep((uint64_t)(uintptr_t)arg);
    atomic_fetch_sub(&alive, 1);
    return (void *)(intptr_t)r;
}

static void *fail_with_eio(void *arg) {
    ax_sleep((uint64_t)(uintptr_t)arg);
    ax_task_exit(NULL, AX_EIO);
}

static void *scope_join_main(void *arg) {
    ax_scope s;
    ax_scope_init(&s);
    for (uintptr_t i = 0; i < 10; i++)
        cr_assert_eq(ax_scope_spawn(&s, NULL, sleep_ms, (void *)i), 0);
    cr_assert_eq(ax_scope_join(&s), 0);
    cr_assert_eq(atomic_load(&alive), 0, "every child ended before the scope did");
    /* the first failure in spawn order is reported, every child is joined */
    ax_scope_init(&s);
    cr_assert_eq(ax_scope_spawn(&s, NULL, sleep_ms, (void *)5), 0);
    cr_assert_eq(ax_scope_spawn(&s, NULL, fail_with_eio, (void *)10), 0);
    cr_assert_eq(ax_scope_spawn(&s, NULL, sleep_ms, (void *)20), 0);
    cr_assert_eq(ax_scope_join(&s), AX_EIO);
    cr_assert_eq(atomic_load(&alive), 0);
    /* an empty scope */
    ax_scope_init(&s);
    cr_assert_eq(ax_scope_join(&s), 0);
    return NULL;
}

Test(cancel, scope_join_waits_for_every_child, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, scope_join_main, NULL, NULL), 0);
}

static void *scope_cancel_main(void *arg) {
    ax_scope s;
    ax_scope_init(&s);
    ax_task *borrowed;
    for (int i = 0; i < 50; i++)
        cr_assert_eq(ax_scope_spawn(&s, &borrowed, sleep_ms, (void *)3600000), 0);
    /* wait for state, not for time: emulation can be slow to start it */
    for (int i = 0; i < 5000 && ax_task_status(borrowed) != AX_TASK_RUNNING; i++) ax_sleep(1);
    cr_assert_eq(ax_task_status(borrowed), AX_TASK_RUNNING);
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_scope_cancel(&s), 0);
    cr_assert_lt(ax_now() - t0, 1000000000ull);
    cr_assert_eq(atomic_load(&alive), 0);
    return NULL;
}

Test(cancel, scope_cancel_cancels_and_joins, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, scope_cancel_main, NULL, NULL), 0);
}

/* The owner is cancelled while it waits in its scope: the children are
 * cancelled and still joined before ax_scope_join returns. */
static atomic_int owner_saw_all_done;
static void *owner(void *arg) {
    ax_scope s;
    ax_scope_init(&s);
    for (int i = 0; i < 20; i++) ax_scope_spawn(&s, NULL, sleep_ms, (void *)3600000);
    int r = ax_scope_join(&s);
    atomic_store(&owner_saw_all_done, atomic_load(&alive) == 0 ? 1 : -1);
    return (void *)(intptr_t)r;
}

static void *owner_cancel_main(void *arg) {
    ax_task *o;
    cr_assert_eq(ax_spawn(&o, owner, NULL), 0);
    /* wait until every child runs (slow under emulation) */
    for (int i = 0; i < 5000 && atomic_load(&alive) < 20; i++) ax_sleep(1);
    cr_assert_eq(atomic_load(&alive), 20);
    ax_abort(o);
    void *r;
    cr_assert_eq(ax_join(o, &r), AX_ECANCELED);
    cr_assert_eq((intptr_t)r, AX_ECANCELED);
    cr_assert_eq(atomic_load(&owner_saw_all_done), 1, "a child outlived the cancelled scope");
    return NULL;
}

Test(cancel, cancelled_owner_cancels_its_scope, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, owner_cancel_main, NULL, NULL), 0);
}

/* Hooks. */
static _Atomic uint64_t hook_task;
static atomic_int hook_runs;
static void hook(void *arg) {
    atomic_store(&hook_task, ax_current_task_id());
    atomic_fetch_add(&hook_runs, 1);
    /* hooks run shielded: they may await */
    cr_assert_eq(ax_sleep(1), 0);
}

static void *hooked_sleeper(void *arg) {
    ax_cancel_hook h;
    cr_assert_eq(ax_on_cancel(&h, hook, NULL), 0);
    cr_assert_eq(ax_sleep(3600000), AX_ECANCELED);
    cr_assert_eq(atomic_load(&hook_runs), 1, "the hook ran when the sleep saw the cancel");
    cr_assert_eq(atomic_load(&hook_task), ax_current_task_id(), "in the task itself");
    cr_assert_eq(ax_yield(), AX_ECANCELED);
    cr_assert(ax_on_cancel_pop(&h));
    cr_assert_eq(atomic_load(&hook_runs), 1, "at most once");
    return NULL;
}

static atomic_int spin_stop;
static void *hooked_spinner(void *arg) {
    ax_cancel_hook h;
    cr_assert_eq(ax_on_cancel(&h, hook, NULL), 0);
    while (!atomic_load(&spin_stop)) {
    }
    /* ends cancelled without ever looking: exiting runs the hook, whose
     * frame is still alive */
    ax_task_exit(NULL, 0);
}

static void *hooks_main(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, hooked_sleeper, NULL), 0);
    wait_started(t);
    ax_sleep(2);
    cr_assert_eq(atomic_load(&hook_runs), 0, "not before the cancel");
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);

    atomic_store(&hook_runs, 0);
    cr_assert_eq(ax_spawn(&t, hooked_spinner, NULL), 0);
    wait_started(t);
    ax_sleep(2);
    ax_abort(t);
    atomic_store(&spin_stop, 1);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(atomic_load(&hook_runs), 1, "a cancelled task's hooks run at ax_task_exit");

    /* a hook pushed and popped without a cancel never runs */
    ax_cancel_hook h;
    atomic_store(&hook_runs, 0);
    cr_assert_eq(ax_on_cancel(&h, hook, NULL), 0);
    cr_assert(!ax_on_cancel_pop(&h));
    cr_assert_eq(atomic_load(&hook_runs), 0);
    return NULL;
}

Test(cancel, on_cancel_hooks, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, hooks_main, NULL, NULL), 0);
}

Test(cancel, outside_a_task) {
    ax_cancel_hook h;
    cr_assert_eq(ax_on_cancel(&h, hook, NULL), AX_ENOTASK);
    ax_shield_begin(); /* no-ops */
    ax_shield_end();
}

/* Shields and brackets. */
static void *shielded(void *arg) {
    while (!ax_is_cancelled()) ax_sleep(1);
    cr_assert_eq(ax_sleep(1), AX_ECANCELED);
    ax_shield_begin();
    ax_shield_begin();
    cr_assert_eq(ax_sleep(2), 0, "a shielded sleep runs to the end");
    ax_shield_end();
    cr_assert_eq(ax_yield(), 0, "still shielded");
    ax_shield_end();
    cr_assert_eq(ax_sleep(1), AX_ECANCELED, "the cancel is seen again after the shield");
    return NULL;
}

typedef struct bracket_ctx {
    int acquired, released, used;
    int acquire_err, use_result;
    bool use_sleeps;
    int release_sleep;
} bracket_ctx;

static int b_acquire(void *p) {
    bracket_ctx *c = p;
    if (c->acquire_err) return c->acquire_err;
    c->acquired++;
    return 0;
}
static int b_use(void *p) {
    bracket_ctx *c = p;
    c->used++;
    if (c->use_sleeps) return ax_sleep(3600000);
    return c->use_result;
}
static void b_release(void *p) {
    bracket_ctx *c = p;
    c->release_sleep = ax_sleep(1); /* a graceful close that awaits */
    c->released++;
}

static void *bracket_cancelled(void *arg) {
    bracket_ctx *c = arg;
    return (void *)(intptr_t)ax_bracket(b_acquire, b_use, b_release, c);
}

static void *shield_bracket_main(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, shielded, NULL), 0);
    wait_started(t);
    ax_sleep(2);
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);

    bracket_ctx ok = {.use_result = 7};
    cr_assert_eq(ax_bracket(b_acquire, b_use, b_release, &ok), 7);
    cr_assert(ok.acquired == 1 && ok.used == 1 && ok.released == 1);
    bracket_ctx fail = {.use_result = AX_EIO};
    cr_assert_eq(ax_bracket(b_acquire, b_use, b_release, &fail), AX_EIO);
    cr_assert_eq(fail.released, 1, "release runs when use fails");
    bracket_ctx noacq = {.acquire_err = AX_EBUSY};
    cr_assert_eq(ax_bracket(b_acquire, b_use, b_release, &noacq), AX_EBUSY);
    cr_assert(noacq.used == 0 && noacq.released == 0, "no release without acquire");

    bracket_ctx cc = {.use_sleeps = true};
    cr_assert_eq(ax_spawn(&t, bracket_cancelled, &cc), 0);
    wait_started(t);
    ax_sleep(2);
    ax_abort(t);
    void *r;
    cr_assert_eq(ax_join(t, &r), AX_ECANCELED);
    cr_assert_eq((intptr_t)r, AX_ECANCELED);
    cr_assert_eq(cc.released, 1, "release runs when the task is cancelled during use");
    cr_assert_eq(cc.release_sleep, 0, "release is shielded: it could await");
    return NULL;
}

Test(cancel, shields_and_brackets, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, shield_bracket_main, NULL, NULL), 0);
}

/* Cancellation at every kind of suspending call of the core: each returns
 * AX_ECANCELED promptly and the task's clean-up (a hook) runs. */
#ifndef _WIN32
static int pipe_fds[2];
#endif
static ax_task *forever_task;
static void *forever(void *arg) {
    ax_sleep(3600000);
    return NULL;
}

typedef int (*suspend_fn)(void);
static int s_sleep(void) {
    return ax_sleep(3600000);
}
static int s_sleep_until(void) {
    return ax_sleep_until(ax_deadline_in_ms(3600000));
}
static int s_await_until(void) {
    ax_sleep_future f;
    ax_sleep_future_init(&f, ax_deadline_in_ms(3600000));
    return (int)ax_await_until(&f.base, ax_deadline_in_ms(3600000));
}
#ifndef _WIN32
static int s_readable(void) {
    return ax_wait_readable(pipe_fds[0], AX_NO_DEADLINE);
}
static int s_writable_full(void) {
    /* fill the pipe first so writability has to be waited for */
    char buf[4096] = {0};
    while (write(pipe_fds[1], buf, sizeof(buf)) > 0) {
    }
    return ax_wait_writable(pipe_fds[1], AX_NO_DEADLINE);
}
#endif
static int s_join(void) {
    return ax_join(forever_task, NULL);
}
static int s_interval(void) {
    ax_interval iv;
    ax_interval_init(&iv, 3600000);
    return (int)ax_interval_tick(&iv);
}
#ifndef _WIN32
static int s_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    return ax_signal_wait(&set, AX_NO_DEADLINE);
}

static const suspend_fn kinds[] = {s_sleep,         s_sleep_until, s_await_until, s_readable,
                                   s_writable_full, s_join,        s_interval,    s_signal};
#else
/* Windows: no waits on a caller's descriptor, no signal waits (see
 * test/win_skip.h, AX_WIN_NO_FDWAIT and AX_WIN_NO_SIGNALS): the other
 * kinds. */
static const suspend_fn kinds[] = {s_sleep, s_sleep_until, s_await_until, s_join, s_interval};
#endif
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static atomic_int cleanups;
static void count_cleanup(void *arg) {
    atomic_fetch_add(&cleanups, 1);
}

static void *suspender(void *arg) {
    ax_cancel_hook h;
    ax_on_cancel(&h, count_cleanup, NULL);
    int r = kinds[(uintptr_t)arg]();
    ax_on_cancel_pop(&h);
    return (void *)(intptr_t)r;
}

static void *every_kind_main(void *arg) {
#ifndef _WIN32
    cr_assert_eq(ax__pipe(pipe_fds, 1), 0);
#endif
    cr_assert_eq(ax_spawn(&forever_task, forever, NULL), 0);
    for (uintptr_t k = 0; k < NKINDS; k++) {
        ax_task *t;
        cr_assert_eq(ax_spawn(&t, suspender, (void *)k), 0);
        wait_started(t);
        ax_sleep(3);
        cr_assert_eq(ax_task_status(t), AX_TASK_RUNNING, "kind %zu did not suspend", (size_t)k);
        ax_instant t0 = ax_now();
        ax_abort(t);
        void *r;
        cr_assert_eq(ax_join(t, &r), AX_ECANCELED, "kind %zu", (size_t)k);
        cr_assert_eq((intptr_t)r, AX_ECANCELED, "kind %zu returned %d", (size_t)k,
                     (int)(intptr_t)r);
        cr_assert_lt(ax_now() - t0, 1000000000ull, "kind %zu was slow to cancel", (size_t)k);
        cr_assert_eq(atomic_load(&cleanups), (int)k + 1, "kind %zu: clean-up did not run",
                     (size_t)k);
    }
    ax_abort(forever_task);
    cr_assert_eq(ax_join(forever_task, NULL), AX_ECANCELED);
#ifndef _WIN32
    close(pipe_fds[0]);
    close(pipe_fds[1]);
#endif
    return NULL;
}

Test(cancel, every_kind_of_suspending_call) {
#ifdef _WIN32
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 2}), 0);
#else
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 2, .signals = &set}), 0);
#endif
    cr_assert_eq(ax_run(rt, every_kind_main, NULL, NULL), 0);
    ax_runtime_free(rt);
}
