/* bench/axon_core.c - Axon side of the core benchmarks; bench/run.sh runs it
 * beside the tokio and Go peers (bench/peers/) with the same shapes and sizes.
 *
 * One worker. Every body runs inside a task, as the peers' bodies do. Prints
 * `<metric> <median> <min> <max>` over ROUNDS rounds after a warm-up round;
 * memory figures are measured once, first, in a fresh heap. */
#include <axon.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    ROUNDS = 5,
    SPAWN_N = 200000,
    BATCH = 1000,
    YIELD_N = 500000,
    HANDOFF_N = 200000,
    TIMER_N = 200000,
    ARMED_N = 1000000,
};
#define FAR_MS (3600u * 1000u)

static void check(int rc, const char *what) {
    if (rc < 0) {
        fprintf(stderr, "axon_core: %s: %s\n", what, ax_strerror(rc));
        exit(1);
    }
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("%s %.1f %.1f %.1f\n", name, v[n / 2], v[0], v[n - 1]);
}

/* VmRSS in bytes, the same counter the peers read. */
static long rss_bytes(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb * 1024;
}

static void *empty(void *arg) {
    return arg;
}

static double spawn_join_one(int n) {
    double t = now_ns();
    for (int i = 0; i < n; i++) {
        ax_task *task;
        check(ax_spawn(&task, empty, NULL), "ax_spawn");
        check(ax_join(task, NULL), "ax_join");
    }
    return (now_ns() - t) / n;
}

static double spawn_join_batch(int n) {
    static ax_task *tasks[BATCH];
    double t = now_ns();
    for (int b = 0; b < n / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) check(ax_spawn(&tasks[i], empty, NULL), "ax_spawn");
        for (int i = 0; i < BATCH; i++) check(ax_join(tasks[i], NULL), "ax_join");
    }
    return (now_ns() - t) / n;
}

static double yield_loop(int n) {
    double t = now_ns();
    for (int i = 0; i < n; i++) check(ax_yield(), "ax_yield");
    return (now_ns() - t) / n;
}

static void *yielder(void *arg) {
    for (int i = 0, n = *(int *)arg; i < n; i++) check(ax_yield(), "ax_yield");
    return NULL;
}

/* Two tasks yielding in turn, so every yield really hands the worker over
 * (alone, a yield may return at once). ns per yield. */
static double yield_pair(int n) {
    ax_task *other;
    double t = now_ns();
    check(ax_spawn(&other, yielder, &n), "ax_spawn");
    for (int i = 0; i < n; i++) check(ax_yield(), "ax_yield");
    check(ax_join(other, NULL), "ax_join");
    return (now_ns() - t) / (2.0 * n);
}

/* A one-shot signal between two tasks, the analogue of the peers' tokio
 * Notify and Go channel. Plain fields suffice: with one worker both tasks
 * run on the same thread. */
typedef struct notify {
    bool set;
    ax_waker waiter;
} notify;
typedef struct notify_future {
    ax_future base;
    notify *sig;
} notify_future;

static ax_poll notify_poll(ax_future *f, ax_context *cx) {
    notify *s = ((notify_future *)f)->sig;
    if (s->set) {
        s->set = false;
        f->result = 0;
        return AX_READY;
    }
    if (!ax_waker_will_wake(&s->waiter, cx->waker)) {
        ax_waker_drop(&s->waiter);
        s->waiter = ax_waker_clone(cx->waker);
    }
    return AX_PENDING;
}
static void notify_drop(ax_future *f) {
    ax_waker_drop(&((notify_future *)f)->sig->waiter);
}
static const ax_future_vtable notify_vt = {notify_poll, notify_drop};

static void notify_wait(notify *s) {
    notify_future f = {{&notify_vt, 0}, s};
    check((int)ax_await(&f.base), "ax_await");
}
static void notify_wake(notify *s) {
    s->set = true;
    ax_waker_wake(&s->waiter);
}

typedef struct pingpong {
    notify ping, pong;
    int n;
} pingpong;

static void *partner(void *arg) {
    pingpong *pp = arg;
    for (int i = 0; i < pp->n; i++) {
        notify_wait(&pp->ping);
        notify_wake(&pp->pong);
    }
    return NULL;
}

/* ns per one-way hand-off (two per round trip). */
static double handoff(int n) {
    pingpong pp = {.n = n};
    ax_task *other;
    check(ax_spawn(&other, partner, &pp), "ax_spawn");
    double t = now_ns();
    for (int i = 0; i < n; i++) {
        notify_wake(&pp.ping);
        notify_wait(&pp.pong);
    }
    double ns = (now_ns() - t) / (2.0 * n);
    check(ax_join(other, NULL), "ax_join");
    return ns;
}

/* The timer only has to be armed, never fired: a waker that does nothing. */
static void *noop_clone(void *d) {
    return d;
}
static void noop(void *d) {
    (void)d;
}
static const ax_waker_vtable noop_vt = {noop_clone, noop, noop, noop};

/* Arm (the first poll files the timer in the worker's wheel), then cancel
 * (drop), as the peers do with tokio's Sleep and Go's AfterFunc. */
static double timer_arm_cancel(int n) {
    ax_waker w = {&noop_vt, NULL};
    ax_context cx = {&w, ax_current_runtime()};
    double t = now_ns();
    for (int i = 0; i < n; i++) {
        ax_sleep_future s;
        ax_sleep_future_init(&s, ax_deadline_in_ms(FAR_MS));
        if (ax_future_poll(&s.base, &cx) != AX_PENDING) check(AX_EFAILED, "sleep poll");
        ax_future_drop(&s.base);
    }
    return (now_ns() - t) / n;
}

/* RSS growth per timer with n armed at once, kept in one array as the tokio
 * peer keeps its Sleeps in one pre-sized Vec. The array's pages are untouched
 * (so not resident) until the timers are initialised. */
static double timer_rss(int n) {
    ax_waker w = {&noop_vt, NULL};
    ax_context cx = {&w, ax_current_runtime()};
    ax_sleep_future *s = malloc((size_t)n * sizeof *s);
    if (!s) check(AX_ENOMEM, "malloc");
    long before = rss_bytes();
    for (int i = 0; i < n; i++) {
        ax_sleep_future_init(&s[i], ax_deadline_in_ms(FAR_MS));
        if (ax_future_poll(&s[i].base, &cx) != AX_PENDING) check(AX_EFAILED, "sleep poll");
    }
    long grown = rss_bytes() - before;
    for (int i = 0; i < n; i++) ax_future_drop(&s[i].base);
    free(s);
    return (double)grown / n;
}

static void *bench_main(void *arg) {
    (void)arg;
    double rss = timer_rss(ARMED_N);
    double sj[ROUNDS], sb[ROUNDS], y[ROUNDS], y2[ROUNDS], ho[ROUNDS], tm[ROUNDS];
    for (int r = -1; r < ROUNDS; r++) { /* round -1 warms up */
        double a = spawn_join_one(SPAWN_N), b = spawn_join_batch(SPAWN_N);
        double c = yield_loop(YIELD_N), c2 = yield_pair(YIELD_N / 2);
        double d = handoff(HANDOFF_N), e = timer_arm_cancel(TIMER_N);
        if (r < 0) continue;
        sj[r] = a, sb[r] = b, y[r] = c, y2[r] = c2, ho[r] = d, tm[r] = e;
    }
    double size = sizeof(ax_sleep_future), storage = sizeof(ax_timer_storage);
    report("spawn_join_ns", sj, ROUNDS);
    report("spawn_join_batch_ns", sb, ROUNDS);
    report("yield_ns", y, ROUNDS);
    report("yield_pair_ns", y2, ROUNDS);
    report("handoff_ns", ho, ROUNDS);
    report("timer_arm_cancel_ns", tm, ROUNDS);
    report("timer_bytes", &size, 1);
    report("timer_rss_bytes", &rss, 1);
    report("timer_storage_bytes", &storage, 1);
    return NULL;
}

int main(void) {
    ax_runtime_opts o;
    ax_runtime_opts_init(&o);
    o.workers = 1;
    ax_runtime *rt;
    check(ax_runtime_new(&rt, &o), "ax_runtime_new");
    int rc = ax_run(rt, bench_main, NULL, NULL);
    ax_runtime_free(rt);
    check(rc, "ax_run");
    return 0;
}
