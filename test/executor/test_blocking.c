/* The blocking pool: jobs run on pool threads and return their result, the
 * bound holds and the rest queue, idle threads exit, cancellation never
 * lets a job write into a task's freed memory (ax_spawn_blocking waits;
 * a dropped ax_blocking_future detaches and the job frees its own
 * memory), and shutdown with jobs running and queued. */
#include <criterion/criterion.h>

#include "test/os_compat.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "axon.h"
#include "axon/blocking.h"
#include "executor/blocking.h"
#include "test/sanitizers.h"

#if AX_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts)) {
    }
}

/* Waits (up to 10 s) for *flag to become nonzero. */
static bool wait_flag(atomic_int *flag) {
    for (int i = 0; i < 10000; i++) {
        if (atomic_load(flag)) return true;
        sleep_ms(1);
    }
    return false;
}

/* A runtime whose pool has these options. ax__blocking_init is what
 * ax_runtime_new does with them; calling it again is a no-op. */
static ax_runtime *pool_rt(unsigned workers, unsigned max_threads, unsigned idle_ms) {
    ax_runtime *rt;
    ax_runtime_opts o;
    ax_runtime_opts_init(&o);
    o.workers = workers;
    o.blocking_max_threads = max_threads;
    o.blocking_idle_ms = idle_ms;
    cr_assert_eq(ax_runtime_new(&rt, &o), 0);
    cr_assert_eq(ax__blocking_init(rt, max_threads, idle_ms), 0);
    return rt;
}

static ax__blocking_stats stats(ax_runtime *rt) {
    ax__blocking_stats s;
    ax__blocking_stats_get(ax__blocking_of(rt), &s);
    return s;
}

#ifdef _WIN32
#include <tlhelp32.h>
/* Windows: the threads of this process in a Toolhelp snapshot. */
static int os_threads(void) {
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    if (snap == INVALID_HANDLE_VALUE) return -1;
    THREADENTRY32 te;
    te.dwSize = sizeof te;
    int n = 0;
    DWORD me = GetCurrentProcessId();
    for (BOOL ok = Thread32First(snap, &te); ok; ok = Thread32Next(snap, &te))
        if (te.th32OwnerProcessID == me) n++;
    CloseHandle(snap);
    return n;
}
#else
static int os_threads(void) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}
#endif

/* ---- where jobs run ---------------------------------------------------------------------------
 */

typedef struct where {
    pid_t task_tid, job_tid;
    char name[32];
    bool sigint_blocked;
} where;

static void *record_thread(void *arg) {
    where *w = arg;
    w->job_tid = (pid_t)test_thread_id();
#ifdef _WIN32
    PWSTR desc = NULL;
    if (SUCCEEDED(GetThreadDescription(GetCurrentThread(), &desc)) && desc) {
        wcstombs(w->name, desc, sizeof w->name - 1);
        LocalFree(desc);
    }
#else
    pthread_getname_np(pthread_self(), w->name, sizeof w->name);
#endif
#ifdef _WIN32
    w->sigint_blocked = true; /* no signal masks on Windows: nothing to check */
#else
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, NULL, &cur);
    w->sigint_blocked = sigismember(&cur, SIGINT) == 1;
#endif
    return (char *)arg + 1;
}

static void *task_runs_job(void *arg) {
    where *w = arg; /* on the test thread's stack; our own copy is on ours */
    where mine = {0};
    mine.task_tid = (pid_t)test_thread_id();
    void *res = NULL;
    cr_assert_eq(ax_spawn_blocking(record_thread, &mine, &res), 0);
    cr_assert_eq(res, (char *)&mine + 1);
    *w = mine;
    return NULL;
}

Test(blocking, runs_on_a_pool_thread_and_returns_the_result) {
    ax_runtime *rt = pool_rt(1, 0, 0);
    where w;
    cr_assert_eq(ax_run(rt, task_runs_job, &w, NULL), 0);
    cr_assert_neq(w.job_tid, 0);
    cr_assert_neq(w.job_tid, w.task_tid);
    cr_assert_neq(w.job_tid, (pid_t)test_thread_id());
    cr_assert_str_eq(w.name, "axon-blocking");
    cr_assert(w.sigint_blocked, "pool threads block asynchronous signals");
    ax__blocking_stats s = stats(rt);
    cr_assert_eq(s.jobs, 1);
    cr_assert_eq(s.threads, 1);
    cr_assert_eq(s.queue_depth, 0);
    ax_runtime_metrics m = {0};
    ax__blocking_metrics(rt, &m);
    cr_assert_eq(m.blocking_jobs, 1);
    cr_assert_eq(m.blocking_threads, 1);
    cr_assert_eq(m.blocking_queue_depth, 0);
    ax_runtime_free(rt);
}

static void *add_one(void *arg) {
    return (void *)((intptr_t)arg + 1);
}

Test(blocking, a_job_from_a_plain_thread_with_block_on) {
    ax_runtime *rt = pool_rt(1, 0, 0);
    ax_blocking_future bf;
    cr_assert_eq(ax_blocking_start(&bf, rt, add_one, (void *)41, NULL, NULL), 0);
    cr_assert_eq(ax_block_on(rt, &bf.base), 0);
    cr_assert_eq((intptr_t)bf.value, 42);

    /* errors: no runtime here, no function; the future reports them too */
    cr_assert_eq(ax_blocking_start(&bf, NULL, add_one, NULL, NULL, NULL), AX_ENOTASK);
    cr_assert_eq(ax_block_on(rt, &bf.base), AX_ENOTASK);
    cr_assert_eq(ax_blocking_start(&bf, rt, NULL, NULL, NULL, NULL), AX_EINVAL);
    ax_future_drop(&bf.base);
    cr_assert_eq(ax_blocking_start(NULL, rt, add_one, NULL, NULL, NULL), AX_EINVAL);
    void *res = (void *)1;
    cr_assert_eq(ax_spawn_blocking(add_one, NULL, &res), AX_ENOTASK);
    cr_assert_null(res);
    ax_runtime_free(rt);
}

/* ---- the bound, the queue, idle threads ------------------------------------------------------ */

typedef struct load {
    atomic_int now, max, done;
    atomic_int hold; /* jobs wait while this is set */
    atomic_uint peak_queue;
    ax_runtime *rt;
} load;

static void *busy_job(void *arg) {
    load *l = arg;
    int n = atomic_fetch_add(&l->now, 1) + 1;
    int m = atomic_load(&l->max);
    while (n > m && !atomic_compare_exchange_weak(&l->max, &m, n)) {
    }
    sleep_ms(10);
    while (atomic_load(&l->hold)) sleep_ms(1);
    atomic_fetch_sub(&l->now, 1);
    return NULL;
}

static void *spawn_one_job(void *arg) {
    load *l = arg;
    cr_assert_eq(ax_spawn_blocking(busy_job, l, NULL), 0);
    atomic_fetch_add(&l->done, 1);
    return NULL;
}

Test(blocking, the_bound_holds_and_the_rest_queue) {
    enum { MAX = 3, JOBS = 24 };
    ax_runtime *rt = pool_rt(2, MAX, 0);
    load l = {0};
    atomic_store(&l.hold, 1);
    ax_task *t[JOBS];
    for (int i = 0; i < JOBS; i++) cr_assert_eq(ax_spawn_on(rt, &t[i], spawn_one_job, &l), 0);
    /* all jobs submitted: MAX run, the rest wait */
    ax__blocking_stats s;
    for (int i = 0; i < 10000; i++) {
        s = stats(rt);
        if (s.queue_depth == JOBS - MAX && s.running == MAX) break;
        sleep_ms(1);
    }
    cr_assert_eq(s.running, MAX);
    cr_assert_eq(s.threads, MAX);
    cr_assert_eq(s.queue_depth, JOBS - MAX);
    atomic_store(&l.hold, 0);
    for (int i = 0; i < JOBS; i++) {
        ax_join_future jf;
        ax_join_future_init(&jf, t[i]);
        cr_assert_eq(ax_block_on(rt, &jf.base), 0);
    }
    cr_assert_eq(atomic_load(&l.done), JOBS);
    cr_assert_eq(atomic_load(&l.max), MAX);
    s = stats(rt);
    cr_assert_eq(s.jobs, JOBS);
    cr_assert_leq(s.threads, MAX);
    ax_runtime_free(rt);
}

/* Needs ax_runtime_new to pass blocking_max_threads to the pool (runtime.c
 * calls ax__blocking_init) and ax_runtime_metrics_get to report the pool. */
Test(blocking, runtime_options_reach_the_pool) {
    ax_runtime *rt;
    ax_runtime_opts o;
    ax_runtime_opts_init(&o);
    o.workers = 2;
    o.blocking_max_threads = 2;
    cr_assert_eq(ax_runtime_new(&rt, &o), 0);
    load l = {0};
    atomic_store(&l.hold, 1);
    ax_blocking_future bf[6];
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ax_blocking_start(&bf[i], rt, busy_job, &l, NULL, NULL), 0);
    ax_runtime_metrics m;
    for (int i = 0; i < 10000; i++) {
        ax_runtime_metrics_get(rt, &m);
        if (m.blocking_queue_depth == 4 && m.blocking_threads == 2) break;
        sleep_ms(1);
    }
    cr_assert_eq(m.blocking_threads, 2);
    cr_assert_eq(m.blocking_queue_depth, 4);
    atomic_store(&l.hold, 0);
    for (int i = 0; i < 6; i++) cr_assert_eq(ax_block_on(rt, &bf[i].base), 0);
    cr_assert_eq(atomic_load(&l.max), 2);
    ax_runtime_metrics_get(rt, &m);
    cr_assert_eq(m.blocking_jobs, 6);
    ax_runtime_free(rt);
}

Test(blocking, idle_threads_exit_and_come_back) {
    enum { N = 4 };
    ax_runtime *rt = pool_rt(1, 8, 50);
    int before = os_threads();
    load l = {0};
    atomic_store(&l.hold, 1);
    ax_blocking_future bf[N];
    for (int i = 0; i < N; i++)
        cr_assert_eq(ax_blocking_start(&bf[i], rt, busy_job, &l, NULL, NULL), 0);
    for (int i = 0; i < 10000 && stats(rt).running < N; i++) sleep_ms(1);
    cr_assert_eq(stats(rt).threads, N);
    cr_assert_eq(os_threads(), before + N);
    atomic_store(&l.hold, 0);
    for (int i = 0; i < N; i++) cr_assert_eq(ax_block_on(rt, &bf[i].base), 0);
    /* idle for 50 ms: every thread goes */
    for (int i = 0; i < 10000 && (stats(rt).threads || os_threads() != before); i++) sleep_ms(1);
    cr_assert_eq(stats(rt).threads, 0);
    cr_assert_eq(os_threads(), before);
    /* one after another, jobs reuse the idle thread */
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(ax_blocking_start(&bf[0], rt, add_one, (void *)(intptr_t)i, NULL, NULL), 0);
        cr_assert_eq(ax_block_on(rt, &bf[0].base), 0);
        cr_assert_eq((intptr_t)bf[0].value, i + 1);
    }
    cr_assert_eq(stats(rt).threads, 1);
    cr_assert_eq(stats(rt).jobs, N + 10);
    ax_runtime_free(rt);
}

/* ---- cancelling ax_spawn_blocking ------------------------------------------------------------ */

typedef struct cancel_case {
    atomic_int started, finished, ran;
    int ret;
    int finished_at_return;
    void *res;
    bool buf_ok;
} cancel_case;

typedef struct on_stack {
    char buf[512];
    cancel_case *c;
} on_stack;

/* Writes into the waiting task's stack, well after it was cancelled. */
static void *write_into_stack(void *arg) {
    on_stack *s = arg;
    atomic_store(&s->c->started, 1);
    sleep_ms(100);
    memset(s->buf, 0xab, sizeof s->buf);
    atomic_store(&s->c->finished, 1);
    return (void *)0x1234;
}

static void *cancelled_waiter(void *arg) {
    cancel_case *c = arg;
    on_stack local;
    memset(&local, 0, sizeof local);
    local.c = c;
    void *res = NULL;
    int r = ax_spawn_blocking(write_into_stack, &local, &res);
    c->finished_at_return = atomic_load(&c->finished);
    c->ret = r;
    c->res = res;
    c->buf_ok = true;
    for (size_t i = 0; i < sizeof local.buf; i++) c->buf_ok = c->buf_ok && local.buf[i] == '\xab';
#if AX_TEST_ASAN
    /* Any write the job still made into this frame would now be reported. */
    ASAN_POISON_MEMORY_REGION(&local, sizeof local);
    sleep_ms(200);
    ASAN_UNPOISON_MEMORY_REGION(&local, sizeof local);
#endif
    memset(&local, 0x5a, sizeof local); /* the frame is ours again */
    return NULL;
}

Test(blocking, cancelling_the_waiter_waits_for_the_running_job) {
    ax_runtime *rt = pool_rt(2, 0, 0);
    cancel_case c = {0};
    ax_task *t;
    cr_assert_eq(ax_spawn_on(rt, &t, cancelled_waiter, &c), 0);
    cr_assert(wait_flag(&c.started));
    ax_abort(t);
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    cr_assert_eq(ax_block_on(rt, &jf.base), AX_ECANCELED);
    cr_assert_eq(c.ret, AX_ECANCELED);
    cr_assert_eq(c.finished_at_return, 1, "the job finished before ax_spawn_blocking returned");
    cr_assert(c.buf_ok, "the job's writes landed in the task's frame");
    cr_assert_eq(c.res, (void *)0x1234, "the result of a job that ran is handed back");
    ax_runtime_free(rt);
}

static void *mark_ran(void *arg) {
    atomic_store(&((cancel_case *)arg)->ran, 1);
    return NULL;
}

static void *queued_waiter(void *arg) {
    cancel_case *c = arg;
    void *res = (void *)1;
    atomic_store(&c->started, 1);
    c->ret = ax_spawn_blocking(mark_ran, c, &res);
    c->res = res;
    atomic_store(&c->finished, 1);
    return NULL;
}

Test(blocking, cancelling_a_queued_job_takes_it_out_of_the_queue) {
    ax_runtime *rt = pool_rt(1, 1, 0);
    load l = {0};
    atomic_store(&l.hold, 1);
    ax_blocking_future busy;
    cr_assert_eq(ax_blocking_start(&busy, rt, busy_job, &l, NULL, NULL), 0);
    for (int i = 0; i < 10000 && stats(rt).running != 1; i++) sleep_ms(1);
    cancel_case c = {0};
    ax_task *t;
    cr_assert_eq(ax_spawn_on(rt, &t, queued_waiter, &c), 0);
    cr_assert(wait_flag(&c.started));
    for (int i = 0; i < 10000 && stats(rt).queue_depth != 1; i++) sleep_ms(1);
    cr_assert_eq(stats(rt).queue_depth, 1);
    ax_abort(t);
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    cr_assert_eq(ax_block_on(rt, &jf.base), AX_ECANCELED);
    /* it returned while the only thread was still busy */
    cr_assert_eq(atomic_load(&l.now), 1);
    cr_assert_eq(c.ret, AX_ECANCELED);
    cr_assert_null(c.res);
    cr_assert_eq(stats(rt).queue_depth, 0);
    atomic_store(&l.hold, 0);
    cr_assert_eq(ax_block_on(rt, &busy.base), 0);
    sleep_ms(20);
    cr_assert_eq(atomic_load(&c.ran), 0, "a cancelled queued job never runs");
    cr_assert_eq(stats(rt).jobs, 1);
    ax_runtime_free(rt);
}

static void *cancelled_first(void *arg) {
    cancel_case *c = arg;
    atomic_store(&c->started, 1);
    ax_sleep(100000); /* returns AX_ECANCELED once aborted */
    c->ret = ax_spawn_blocking(mark_ran, c, NULL);
    return NULL;
}

Test(blocking, an_already_cancelled_task_runs_no_job) {
    ax_runtime *rt = pool_rt(1, 0, 0);
    cancel_case c = {0};
    ax_task *t;
    cr_assert_eq(ax_spawn_on(rt, &t, cancelled_first, &c), 0);
    cr_assert(wait_flag(&c.started));
    ax_abort(t);
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    cr_assert_eq(ax_block_on(rt, &jf.base), AX_ECANCELED);
    cr_assert_eq(c.ret, AX_ECANCELED);
    cr_assert_eq(atomic_load(&c.ran), 0);
    cr_assert_eq(stats(rt).jobs, 0);
    ax_runtime_free(rt);
}

/* ---- the detachable future ------------------------------------------------------------------- */

typedef struct owned {
    char buf[256];
    atomic_int *started, *arg_freed, *result_freed;
    unsigned delay_ms;
} owned;

static void *fill_owned(void *arg) {
    owned *o = arg;
    atomic_store(o->started, 1);
    sleep_ms(o->delay_ms);
    memset(o->buf, 0xcd, sizeof o->buf); /* the job's own buffer */
    char *res = malloc(64);
    strcpy(res, "result");
    return res;
}

static void free_owned(void *arg) {
    owned *o = arg;
    for (size_t i = 0; i < sizeof o->buf; i++) cr_assert_eq(o->buf[i], '\xcd');
    atomic_store(o->arg_freed, 1);
    free(o);
}

static void free_result(void *res) {
    cr_assert_str_eq(res, "result");
    free(res);
}

static atomic_int g_started, g_arg_freed, g_result_freed;

static void free_result_flag(void *res) {
    free_result(res);
    atomic_store(&g_result_freed, 1);
}

static owned *new_owned(unsigned delay_ms) {
    owned *o = calloc(1, sizeof *o);
    o->started = &g_started;
    o->arg_freed = &g_arg_freed;
    o->result_freed = &g_result_freed;
    o->delay_ms = delay_ms;
    return o;
}

static void *detaching_waiter(void *arg) {
    int *ret = arg;
    ax_blocking_future bf;
    cr_assert_eq(
        ax_blocking_start(&bf, NULL, fill_owned, new_owned(100), free_owned, free_result_flag), 0);
    *ret = (int)ax_await(&bf.base); /* cancelled: drops bf, which detaches the job */
    return NULL;
}

Test(blocking, a_dropped_future_detaches_and_the_job_frees_its_memory) {
    ax_runtime *rt = pool_rt(2, 0, 0);
    int ret = 0;
    ax_task *t;
    cr_assert_eq(ax_spawn_on(rt, &t, detaching_waiter, &ret), 0);
    cr_assert(wait_flag(&g_started));
    ax_abort(t);
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    cr_assert_eq(ax_block_on(rt, &jf.base), AX_ECANCELED);
    cr_assert_eq(ret, AX_ECANCELED);
    cr_assert_eq(atomic_load(&g_arg_freed), 0, "the job is still running");
    cr_assert(wait_flag(&g_arg_freed));
    cr_assert(wait_flag(&g_result_freed));
    for (int i = 0; i < 1000 && stats(rt).running; i++) sleep_ms(1);
    cr_assert_eq(stats(rt).jobs, 1);
    ax_runtime_free(rt);
}

Test(blocking, a_result_nobody_received_is_freed_by_the_drop) {
    ax_runtime *rt = pool_rt(1, 0, 0);
    ax_blocking_future bf;
    cr_assert_eq(ax_blocking_start(&bf, rt, fill_owned, new_owned(0), free_owned, free_result_flag),
                 0);
    cr_assert(wait_flag(&g_arg_freed)); /* free_arg runs before the job completes */
    for (int i = 0; i < 10000 && stats(rt).jobs < 1; i++) sleep_ms(1);
    cr_assert_eq(atomic_load(&g_result_freed), 0);
    ax_future_drop(&bf.base); /* fn has returned; nobody polled */
    cr_assert_eq(atomic_load(&g_result_freed), 1);

    /* received: the result is the caller's, free_result is not called */
    atomic_store(&g_result_freed, 0);
    cr_assert_eq(ax_blocking_start(&bf, rt, fill_owned, new_owned(0), free_owned, free_result_flag),
                 0);
    cr_assert_eq(ax_block_on(rt, &bf.base), 0);
    cr_assert_str_eq(bf.value, "result");
    free(bf.value);
    cr_assert_eq(atomic_load(&g_result_freed), 0);
    ax_runtime_free(rt);
}

static void *timing_out_waiter(void *arg) {
    ax_blocking_future bf;
    cr_assert_eq(
        ax_blocking_start(&bf, NULL, fill_owned, new_owned(200), free_owned, free_result_flag), 0);
    return (void *)(intptr_t)ax_await_until(&bf.base, ax_deadline_in_ms(20));
}

Test(blocking, a_timed_out_await_detaches) {
    ax_runtime *rt = pool_rt(1, 0, 0);
    void *r = NULL;
    cr_assert_eq(ax_run(rt, timing_out_waiter, NULL, &r), 0);
    cr_assert_eq((intptr_t)r, AX_ETIMEDOUT);
    cr_assert(wait_flag(&g_arg_freed));
    cr_assert(wait_flag(&g_result_freed));
    ax_runtime_free(rt);
}

/* ---- shutdown -------------------------------------------------------------------------------- */

static atomic_int g_args_freed, g_runs;

static void count_free(void *arg) {
    atomic_fetch_add(&g_args_freed, 1);
}

static void *slow_job(void *arg) {
    atomic_store(&g_started, 1);
    sleep_ms((unsigned)(uintptr_t)arg);
    atomic_fetch_add(&g_runs, 1);
    return (void *)7;
}

static void *spawn_after_shutdown(void *arg) {
    return (void *)(intptr_t)ax_spawn_blocking(add_one, NULL, NULL);
}

Test(blocking, shutdown_finishes_running_jobs_and_fails_queued_ones) {
    ax_runtime *rt = pool_rt(1, 1, 0);
    ax_blocking_future bf[4];
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ax_blocking_start(&bf[i], rt, slow_job, (void *)(uintptr_t)(i ? 0 : 150),
                                       count_free, NULL),
                     0);
    cr_assert(wait_flag(&g_started));
    ax_instant t0 = ax_now();
    ax__blocking_shutdown(ax__blocking_of(rt), ax_deadline_in_ms(10000));
    cr_assert_lt(ax_now() - t0, 5000000000ull);
    cr_assert_eq(atomic_load(&g_runs), 1, "the running job finished, the queued ones never ran");
    cr_assert_eq(atomic_load(&g_args_freed), 4, "free_arg ran for every job");
    cr_assert_eq(ax_block_on(rt, &bf[0].base), 0);
    cr_assert_eq(bf[0].value, (void *)7);
    for (int i = 1; i < 4; i++) cr_assert_eq(ax_block_on(rt, &bf[i].base), AX_ESHUTDOWN);
    ax__blocking_stats s = stats(rt);
    cr_assert_eq(s.threads, 0);
    cr_assert_eq(s.queue_depth, 0);
    cr_assert_eq(s.jobs, 1);

    /* nothing new is accepted; arg stays the caller's */
    cr_assert_eq(ax_blocking_start(&bf[0], rt, slow_job, NULL, count_free, NULL), AX_ESHUTDOWN);
    cr_assert_eq(atomic_load(&g_args_freed), 4);
    void *r = NULL;
    cr_assert_eq(ax_run(rt, spawn_after_shutdown, NULL, &r), 0);
    cr_assert_eq((intptr_t)r, AX_ESHUTDOWN);
    ax__blocking_shutdown(ax__blocking_of(rt), ax_now()); /* idempotent */
    ax_runtime_free(rt);
}

Test(blocking, shutdown_leaves_a_stuck_job_behind_after_the_deadline) {
    ax_runtime *rt = pool_rt(1, 1, 0);
    ax_blocking_future bf;
    cr_assert_eq(ax_blocking_start(&bf, rt, slow_job, (void *)300, count_free, NULL), 0);
    cr_assert(wait_flag(&g_started));

    /* capture the report on stderr */
    fflush(stderr);
    FILE *tf = tmpfile(); /* deleted when closed, on every OS */
    cr_assert_not_null(tf);
    int fd = fileno(tf);
    int saved = dup(2);
    dup2(fd, 2);
    ax_instant t0 = ax_now();
    ax__blocking_shutdown(ax__blocking_of(rt), ax_deadline_in_ms(30));
    ax_instant took = ax_now() - t0;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[256] = {0};
    cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
    cr_assert_geq(read(fd, text, sizeof text - 1), 0);
    fclose(tf);
    cr_assert(strstr(text, "axon: 1 blocking job still running at shutdown"), "%s", text);
    cr_assert_lt(took, 250000000ull, "shutdown returned at its deadline");
    cr_assert_eq(atomic_load(&g_runs), 0, "the job is still running");

    /* its future is never completed; dropping it detaches the job */
    ax_future_drop(&bf.base);
    ax_runtime_free(rt);
    /* the runtime is gone; the job finishes on its own thread */
    cr_assert(wait_flag(&g_runs));
    cr_assert(wait_flag(&g_args_freed));
    sleep_ms(50); /* let the thread release the pool */
}

/* ---- a current-thread runtime ---------------------------------------------------------------- */

static void *job_then_more(void *arg) {
    void *res = NULL;
    int sum = 0;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(ax_spawn_blocking(add_one, (void *)(intptr_t)i, &res), 0);
        sum += (int)(intptr_t)res;
    }
    ax_blocking_future bf;
    cr_assert_eq(ax_blocking_start(&bf, NULL, add_one, (void *)100, NULL, NULL), 0);
    cr_assert_eq(ax_await(&bf.base), 0);
    return (void *)(intptr_t)(sum + (int)(intptr_t)bf.value);
}

Test(blocking, works_on_a_current_thread_runtime) {
    ax_runtime *crt;
    ax_runtime_opts o;
    ax_runtime_opts_init(&o);
    o.flavor = AX_RUNTIME_CURRENT_THREAD;
    cr_assert_eq(ax_runtime_new(&crt, &o), 0);
    void *v = NULL;
    cr_assert_eq(ax_run(crt, job_then_more, NULL, &v), 0);
    cr_assert_eq((intptr_t)v, 1 + 2 + 3 + 4 + 5 + 101);
    ax_runtime_free(crt);
}

/* ---- the fs path: a waker given at start, jobs run back to back --------------------------- */

typedef struct counting_waker {
    atomic_int clones, wakes, drops;
} counting_waker;

static void *cw_clone(void *d) {
    atomic_fetch_add(&((counting_waker *)d)->clones, 1);
    return d;
}
static void cw_wake(void *d) {
    atomic_fetch_add(&((counting_waker *)d)->wakes, 1);
}
static void cw_wake_by_ref(void *d) {
    atomic_fetch_add(&((counting_waker *)d)->wakes, 1);
}
static void cw_drop(void *d) {
    atomic_fetch_add(&((counting_waker *)d)->drops, 1);
}
static const ax_waker_vtable cw_vtable = {cw_clone, cw_wake, cw_wake_by_ref, cw_drop};

/* ax__blocking_start_waking registers the waker with the job, so the end
 * of the job wakes it although the future was never polled; the clone is
 * released exactly once. */
Test(blocking, a_waker_given_at_start_is_woken_without_a_poll) {
    ax_runtime *rt = pool_rt(1, 0, 0);
    counting_waker c = {0};
    ax_waker w = {&cw_vtable, &c};
    ax_blocking_future bf;
    cr_assert_eq(ax__blocking_start_waking(&bf, rt, NULL, add_one, (void *)1, NULL, NULL, &w), 0);
    cr_assert(wait_flag(&c.wakes), "the job's end did not wake the waker given at start");
    ax_context cx = {&w, rt};
    cr_assert_eq(ax_future_poll(&bf.base, &cx), AX_READY);
    cr_assert_eq(bf.base.result, 0);
    cr_assert_eq((intptr_t)bf.value, 2);
    ax_future_drop(&bf.base);
    cr_assert_eq(atomic_load(&c.clones), 1);
    cr_assert_eq(atomic_load(&c.wakes) + atomic_load(&c.drops), 1);
    ax_runtime_free(rt);
}

typedef struct order_log {
    atomic_int n;
    int seen[32];
    pthread_t thread[32];
} order_log;
static order_log olog;

static void *log_job(void *arg) {
    int k = atomic_fetch_add(&olog.n, 1);
    olog.seen[k] = (int)(intptr_t)arg;
    olog.thread[k] = pthread_self();
    sleep_ms(1);
    return arg;
}

/* A group of bound 1 with its jobs queued: the thread that ends one takes
 * the next in the same critical section, so the group's jobs all run, in
 * submission order, on that one thread, and every future completes. */
Test(blocking, a_group_queue_runs_back_to_back_in_order) {
    enum { JOBS = 32 };
    ax_runtime *rt = pool_rt(1, 4, 0);
    struct ax__blocking_group *g = ax__blocking_group_new(rt, 1);
    cr_assert_not_null(g);
    memset(&olog, 0, sizeof olog);
    static ax_blocking_future bf[JOBS];
    for (int i = 0; i < JOBS; i++)
        cr_assert_eq(ax__blocking_start_in(&bf[i], rt, g, log_job, (void *)(intptr_t)i, NULL, NULL),
                     0);
    for (int i = 0; i < JOBS; i++) {
        cr_assert_eq(ax_block_on(rt, &bf[i].base), 0);
        cr_assert_eq((intptr_t)bf[i].value, i);
    }
    cr_assert_eq(atomic_load(&olog.n), JOBS);
    for (int i = 0; i < JOBS; i++) {
        cr_assert_eq(olog.seen[i], i, "job %d ran at position %d", olog.seen[i], i);
        cr_assert(pthread_equal(olog.thread[i], olog.thread[0]));
    }
    cr_assert_eq(stats(rt).jobs, JOBS);
    ax_runtime_free(rt);
}

/* ---- wake-ups from pool threads ------------------------------------------------------------ */

static ax_runtime *g_soon_rt;
static atomic_int g_soon_unparks_before, g_soon_unparks_after;

static uint64_t unparks(ax_runtime *rt) {
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    return m.unparks;
}

/* Waits until both workers sleep (the task that waits for this job was the
 * only work), then, with arg NULL, says it ends soon, or otherwise renews
 * a promise the way a long job's middle steps do, and notes the wake-ups
 * between that and the job's end. */
static void *promising_job(void *arg) {
    sleep_ms(50);
    atomic_store(&g_soon_unparks_before, (int)unparks(g_soon_rt));
    if (!arg) {
        ax__blocking_ending_soon(150000);
        sleep_ms(20); /* ends later than promised: the worker's spin gives up */
    } else {
        for (int i = 0; i < 5; i++) {
            ax__blocking_keep_spinning(150000);
            sleep_ms(1);
        }
    }
    atomic_store(&g_soon_unparks_after, (int)unparks(g_soon_rt));
    return (void *)7;
}

static void *wait_promising_job(void *arg) {
    void *res = NULL;
    cr_assert_eq(ax_spawn_blocking(promising_job, arg, &res), 0);
    cr_assert_eq(res, (void *)7);
    return NULL;
}

/* ax__blocking_ending_soon from a job whose task waits for it wakes a
 * sleeping worker at once (to spin for the job's end, not be woken by it);
 * from outside a job it does nothing; and a job that ends later than it
 * said still wakes its waiter. */
Test(blocking, a_job_ending_soon_wakes_a_worker_before_it_ends) {
    ax_runtime *rt = pool_rt(2, 0, 0);
    g_soon_rt = rt;
    uint64_t before = unparks(rt);
    ax__blocking_ending_soon(150000); /* not in a job */
    cr_assert_eq(unparks(rt), before);
    cr_assert_eq(ax_run(rt, wait_promising_job, NULL, NULL), 0);
    cr_assert_gt(atomic_load(&g_soon_unparks_after), atomic_load(&g_soon_unparks_before),
                 "no worker was woken between the promise and the job's end");
    ax_runtime_free(rt);
}

/* ax__blocking_keep_spinning extends a searcher's spin but wakes no
 * sleeping worker (a wake-up in a job's middle costs the job's thread and
 * comes long before the worker is needed); the job's end still wakes its
 * waiter. */
Test(blocking, keep_spinning_wakes_no_sleeping_worker) {
    ax_runtime *rt = pool_rt(2, 0, 0);
    g_soon_rt = rt;
    static int renew;
    cr_assert_eq(ax_run(rt, wait_promising_job, &renew, NULL), 0);
    cr_assert_eq(atomic_load(&g_soon_unparks_after), atomic_load(&g_soon_unparks_before),
                 "a worker was woken for a promise that is not near its end");
    ax_runtime_free(rt);
}

enum { WAKE_TASKS = 16, WAKE_JOBS = 400 };
static atomic_int g_wake_done;

static void *tiny_job(void *arg) {
    /* 0-20 µs of work: ends while the waiting worker spins, or just
     * after it gave up and went to sleep. */
    unsigned spin = (unsigned)(uintptr_t)arg % 21u;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < (long)spin * 1000L);
    return arg;
}

static void *round_trips(void *arg) {
    uintptr_t seed = (uintptr_t)arg;
    for (int i = 0; i < WAKE_JOBS; i++) {
        seed = seed * 1103515245u + 12345u;
        void *res = NULL;
        cr_assert_eq(ax_spawn_blocking(tiny_job, (void *)(seed >> 8), &res), 0);
        cr_assert_eq(res, (void *)(seed >> 8));
    }
    atomic_fetch_add(&g_wake_done, 1);
    return NULL;
}

static void *spawn_round_trippers(void *arg) {
    (void)arg;
    ax_task *t[WAKE_TASKS];
    for (int i = 0; i < WAKE_TASKS; i++)
        cr_assert_eq(ax_spawn(&t[i], round_trips, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < WAKE_TASKS; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    return NULL;
}

/* Pool threads wake the tasks whose jobs end, and skip waking a worker
 * while one is searching (it looks at the global queue before it sleeps):
 * 6,400 round trips of 0-20 µs jobs, ending at every point of the workers'
 * spin-then-sleep, all complete (a lost wake-up hangs this test). */
Test(blocking, wakes_from_pool_threads_reach_tasks_while_workers_search, .timeout = 60) {
    ax_runtime *rt = pool_rt(2, 4, 0);
    atomic_store(&g_wake_done, 0);
    cr_assert_eq(ax_run(rt, spawn_round_trippers, NULL, NULL), 0);
    cr_assert_eq(atomic_load(&g_wake_done), WAKE_TASKS);
    ax_runtime_free(rt);
}

/* ---- wake-ups while the pool holds jobs back -------------------------------------------- */

static atomic_int g_release;
static _Atomic ax_instant g_short_end, g_woke_at;

static void *short_job(void *arg) {
    sleep_ms(20);
    atomic_store(&g_short_end, ax_now());
    return arg;
}

/* Runs until released, or for about a second. */
static void *held_job(void *arg) {
    for (int i = 0; i < 1000 && !atomic_load(&g_release); i++) sleep_ms(1);
    return arg;
}

static void *await_short(void *arg) {
    ax_blocking_future *bf = arg;
    cr_assert_eq(ax_await(&bf->base), 0);
    atomic_store(&g_woke_at, ax_now());
    atomic_store(&g_release, 1);
    return NULL;
}

enum { HELD_JOBS = 5 };
static ax_blocking_future g_held_bf[HELD_JOBS];

static void *short_job_among_held(void *arg) {
    (void)arg;
    ax_runtime *rt = ax_current_runtime();
    struct ax__blocking_group *g = ax__blocking_group_new(rt, 2);
    cr_assert_not_null(g);
    /* The short job and one long one run; three long ones wait behind the
     * bound, so the short job's end leaves two held back and its waiter
     * alone in the global queue. */
    for (int i = 0; i < HELD_JOBS; i++)
        cr_assert_eq(ax__blocking_start_in(&g_held_bf[i], rt, g, i ? held_job : short_job,
                                           (void *)(intptr_t)i, NULL, NULL),
                     0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, await_short, &g_held_bf[0]), 0);
    for (int i = 1; i < HELD_JOBS; i++) cr_assert_eq(ax_await(&g_held_bf[i].base), 0);
    cr_assert_eq(ax_join(t, NULL), 0);
    return NULL;
}

/* A pool thread that ends a job while the pool holds more jobs back than
 * tasks wait for a worker wakes no worker (ax__blocking_defers_wake); the
 * jobs that end next here run for a second, and the waiter still runs
 * within a few ms: workers asleep while jobs are held back look at the
 * global queue every AX__PARK_PEEK_MS. */
Test(blocking, a_deferred_wake_up_waits_no_longer_than_a_peek) {
    ax_runtime *rt = pool_rt(2, 4, 0);
    atomic_store(&g_release, 0);
    cr_assert_eq(ax_run(rt, short_job_among_held, NULL, NULL), 0);
    ax_instant late = atomic_load(&g_woke_at) - atomic_load(&g_short_end);
    cr_assert_lt(late, 250000000u, "the waiter ran %.1f ms after its job ended",
                 (double)late / 1e6);
    ax_runtime_free(rt);
}

static atomic_int g_children_ran;

static void *child_mark(void *arg) {
    (void)arg;
    atomic_fetch_add(&g_children_ran, 1);
    return NULL;
}

/* Holds its worker for up to 1 s without suspending, with two of its
 * three children stealable in the worker's queue (the third waits in its
 * LIFO slot); notes how many had run when it let go. */
static void *hog_with_children(void *arg) {
    int *ran_during = arg;
    ax_task *c[3];
    for (int i = 0; i < 3; i++) cr_assert_eq(ax_spawn(&c[i], child_mark, NULL), 0);
    ax_instant end = ax_deadline_in_ms(1000);
    while (!atomic_load(&g_children_ran) && ax_now() < end) {
    }
    *ran_during = atomic_load(&g_children_ran);
    for (int i = 0; i < 3; i++) cr_assert_eq(ax_join(c[i], NULL), 0);
    return NULL;
}

/* n held_jobs in a new group of bound 1 of rt (one runs, the rest are
 * held back); and, from a task, their release. */
static void start_held_jobs(ax_runtime *rt, ax_blocking_future *bf, int n) {
    struct ax__blocking_group *g = ax__blocking_group_new(rt, 1);
    cr_assert_not_null(g);
    for (int i = 0; i < n; i++)
        cr_assert_eq(ax__blocking_start_in(&bf[i], rt, g, held_job, NULL, NULL, NULL), 0);
}

static void release_held_jobs(ax_blocking_future *bf, int n) {
    atomic_store(&g_release, 1);
    for (int i = 0; i < n; i++) cr_assert_eq(ax_await(&bf[i].base), 0);
}

static void *hog_among_held(void *arg) {
    int *ran_during = arg;
    static ax_blocking_future bf[3];
    start_held_jobs(ax_current_runtime(), bf, 3);
    ax_task *h;
    cr_assert_eq(ax_spawn(&h, hog_with_children, ran_during), 0);
    cr_assert_eq(ax_join(h, NULL), 0);
    release_held_jobs(bf, 3);
    return NULL;
}

/* While the pool holds jobs back, an idle worker does not spin watching a
 * short queue of another worker for it to get stuck: it takes the tasks at
 * once, and so tasks queued behind a task that holds its worker still run
 * beside it. */
Test(blocking, tasks_behind_a_hog_are_taken_while_the_pool_holds_jobs_back) {
    ax_runtime *rt = pool_rt(2, 4, 0);
    atomic_store(&g_release, 0);
    atomic_store(&g_children_ran, 0);
    int ran_during = 0;
    cr_assert_eq(ax_run(rt, hog_among_held, &ran_during, NULL), 0);
    cr_assert_gt(ran_during, 0, "no child ran while the hog held its worker for a second");
    ax_runtime_free(rt);
}

static ax_runtime *g_late_rt;

/* A plain thread that, once both workers have gone to sleep with nothing
 * held back, fills a group of bound 1 with three long jobs and waits for
 * them. */
static void *fill_group_later(void *arg) {
    (void)arg;
    sleep_ms(5); /* the short job (20 ms) runs; the workers sleep */
    static ax_blocking_future bf[3];
    start_held_jobs(g_late_rt, bf, 3);
    for (int i = 0; i < 3; i++) cr_assert_eq(ax_block_on(g_late_rt, &bf[i].base), 0);
    return NULL;
}

static void *await_short_job(void *arg) {
    (void)arg;
    static ax_blocking_future bf;
    cr_assert_eq(ax_blocking_start(&bf, NULL, short_job, NULL, NULL, NULL), 0);
    return (void *)await_short(&bf);
}

/* Workers that went to sleep before the pool held anything back sleep
 * without a bound. A job that ends once jobs are held back (submitted by a
 * plain thread, so no worker woke) must still wake one for its waiter: a
 * deferred wake-up is for when a sleeper will look within a peek. (The
 * first version deferred here, and the waiter never ran.) */
Test(blocking, a_job_ending_after_workers_slept_unbounded_still_wakes_one, .timeout = 20) {
    ax_runtime *rt = pool_rt(2, 4, 0);
    g_late_rt = rt;
    atomic_store(&g_release, 0);
    pthread_t filler;
    cr_assert_eq(pthread_create(&filler, NULL, fill_group_later, NULL), 0);
    cr_assert_eq(ax_run(rt, await_short_job, NULL, NULL), 0);
    ax_instant late = atomic_load(&g_woke_at) - atomic_load(&g_short_end);
    atomic_store(&g_release, 1);
    cr_assert_eq(pthread_join(filler, NULL), 0);
    cr_assert_lt(late, 250000000u, "the waiter ran %.1f ms after its job ended",
                 (double)late / 1e6);
    ax_runtime_free(rt);
}

static uint64_t idle_wakeups(ax_runtime *rt) {
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    return m.parks + m.reactor_polls;
}

static void *sleep_beside_stuck_jobs(void *arg) {
    uint64_t *wakeups = arg;
    ax_runtime *rt = ax_current_runtime();
    static ax_blocking_future bf[4];
    start_held_jobs(rt, bf, 4);
    uint64_t before = idle_wakeups(rt);
    cr_assert_eq(ax_sleep(500), 0);
    *wakeups = idle_wakeups(rt) - before;
    release_held_jobs(bf, 4);
    return NULL;
}

/* Workers asleep while the pool holds jobs back look at the global queue
 * within a peek (1 ms), but each look that finds nothing doubles the next
 * sleep: with the jobs stuck, the two workers of this runtime woke ~900
 * times a second for nothing before (4% of a CPU here). */
Test(blocking, idle_workers_back_off_while_jobs_stay_held_back) {
    ax_runtime *rt = pool_rt(2, 4, 0);
    atomic_store(&g_release, 0);
    uint64_t wakeups = 0;
    cr_assert_eq(ax_run(rt, sleep_beside_stuck_jobs, &wakeups, NULL), 0);
    cr_assert_lt(wakeups, 200, "idle workers woke %llu times in 500 ms",
                 (unsigned long long)wakeups);
    ax_runtime_free(rt);
}
