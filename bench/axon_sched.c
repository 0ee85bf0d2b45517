/* bench/axon_sched.c - Axon side of the scheduler benchmarks (issue 3);
 * bench/run.sh runs it beside the tokio and Go peers (bench/peers/, mode
 * `sched`) with the same shapes and sizes.
 *
 * Usage: axon_sched WORKERS   (1 or 2; the metrics are prefixed w1_ / w2_)
 *
 * Every body runs inside a task. Each round measures, in this order:
 * spawn+join one at a time, chained spawn, where spawned children ran
 * (untimed), channel throughput 1->1 and 4->1, fork-join fib(35), and the
 * channel ping-pong; one warm-up round,
 * then ROUNDS rounds, and each metric prints `<metric> <median> <min> <max>`.
 * After the last round (whose last body is the ping-pong) the runtime sits
 * idle for IDLE_MS with one task asleep, and the process CPU time spent
 * meanwhile is the idle CPU figure.
 *
 * Everything above uses the default runtime options. One extra figure,
 * fib_stack_cache_ms, repeats the fork-join on a second runtime whose
 * workers keep up to BIG_STACK_CACHE finished tasks' stacks instead of the
 * default 64 (the fork-join keeps tens of thousands of tasks suspended in
 * ax_join at once, and beyond the cache every stack is mapped and unmapped).
 *
 * Public API only (axon.h, axon/sync.h). */
#include <axon.h>
#include <axon/sync.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

enum {
    ROUNDS = 5,
    SPAWN_N = 100000,
    CHAIN_N = 100000,
    CHAN_N = 1000000, /* messages per channel run */
    CHAN_CAP = 1024,
    PRODUCERS = 4,
    PP_N = 100000,      /* round trips timed as one batch: the mean */
    PP_LAT_N = 50000,   /* round trips timed one by one: the percentiles */
    PP_CROSS_N = 20000, /* round trips that record which thread each side ran on */
    FIB_N = 35,
    FIB_TASKS = 150000, /* the cutoff is chosen to spawn about this many */
    IDLE_MS = 1000,
    BIG_STACK_CACHE = 1 << 16,
};
#define CROSS_MARK UINT64_MAX /* asks the ponger to reply with its thread */

static unsigned workers;

static void check(int rc, const char *what) {
    if (rc < 0) {
        fprintf(stderr, "axon_sched: %s: %s\n", what, ax_strerror(rc));
        exit(1);
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    printf("w%u_%s %.1f %.1f %.1f\n", workers, name, v[n / 2], v[0], v[n - 1]);
}

/* The thread the caller runs on, as a number. A call (not an inlined TLS
 * read), so a task that moved to another worker reads its new thread's. */
static __thread char thread_anchor;
__attribute__((noinline)) static uint64_t thread_token(void) {
    __asm__ __volatile__("" ::: "memory");
    return (uint64_t)(uintptr_t)&thread_anchor;
}

/* Process CPU time (all threads, user + system), ns. */
static double cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e9 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e3;
}

/* ---- spawn + join, one at a time ---------------------------------------- */
static void *empty(void *arg) {
    return arg;
}

static double spawn_join(int n) {
    ax_instant t = ax_now();
    for (int i = 0; i < n; i++) {
        ax_task *task;
        check(ax_spawn(&task, empty, NULL), "ax_spawn");
        check(ax_join(task, NULL), "ax_join");
    }
    return (double)(ax_now() - t) / n;
}

static void *report_thread(void *arg) {
    (void)arg;
    return (void *)(uintptr_t)thread_token();
}

/* Not timed: where the child of a spawn + join ran (another thread than
 * its parent's at the spawn?), and whether the parent came back from the
 * join on another thread. Percentages of n. */
static void spawn_join_threads(int n, double *child_cross, double *parent_moved) {
    int cross = 0, moved = 0;
    for (int i = 0; i < n; i++) {
        ax_task *task;
        void *child;
        uint64_t before = thread_token();
        check(ax_spawn(&task, report_thread, NULL), "ax_spawn");
        check(ax_join(task, &child), "ax_join");
        cross += (uint64_t)(uintptr_t)child != before;
        moved += thread_token() != before;
    }
    *child_cross = 100.0 * cross / n;
    *parent_moved = 100.0 * moved / n;
}

/* A counter's growth from a to b per 1000 operations. */
static double per_1k(const ax_runtime_metrics *a, const ax_runtime_metrics *b, size_t field,
                     int n) {
    uint64_t x, y;
    memcpy(&x, (const char *)a + field, sizeof x);
    memcpy(&y, (const char *)b + field, sizeof y);
    return 1000.0 * (double)(y - x) / n;
}

/* ---- chained spawn: each task spawns the next; the last one signals ------ */
typedef struct chain {
    int left;
    ax_oneshot_tx *done;
} chain;

static void *chain_link(void *arg) {
    chain *c = arg;
    if (--c->left == 0) {
        int one = 1;
        ax_oneshot_send(c->done, &one);
    } else {
        check(ax_spawn(NULL, chain_link, c), "ax_spawn");
    }
    return NULL;
}

static double chained_spawn(int n) {
    ax_oneshot_tx *tx;
    ax_oneshot_rx *rx;
    check(ax_oneshot_new(&tx, &rx, sizeof(int)), "ax_oneshot_new");
    chain c = {n, tx}; /* each link runs after the previous one spawned it */
    int got;
    ax_instant t = ax_now();
    check(ax_spawn(NULL, chain_link, &c), "ax_spawn");
    check(ax_oneshot_recv(rx, &got, AX_NO_DEADLINE), "ax_oneshot_recv");
    double ns = (double)(ax_now() - t) / n;
    ax_oneshot_rx_release(rx);
    return ns;
}

/* ---- channel throughput ---------------------------------------------------- */
typedef struct producer {
    ax_mpsc_tx *tx;
    uint64_t n;
} producer;

static void *produce(void *arg) {
    producer *p = arg;
    for (uint64_t i = 0; i < p->n; i++) check(ax_mpsc_send(p->tx, &i, AX_NO_DEADLINE), "send");
    ax_mpsc_tx_release(p->tx);
    return NULL;
}

/* nprod producer tasks send CHAN_N 8-byte messages in all through one
 * bounded channel to this task. Messages per second. */
static double channel_rate(int nprod, uint64_t n) {
    ax_mpsc_tx *tx;
    ax_mpsc_rx *rx;
    check(ax_mpsc_new(&tx, &rx, sizeof(uint64_t), CHAN_CAP), "ax_mpsc_new");
    producer p[PRODUCERS];
    ax_task *t[PRODUCERS];
    ax_instant t0 = ax_now();
    for (int i = 0; i < nprod; i++) {
        p[i].tx = i ? ax_mpsc_tx_clone(tx) : tx;
        p[i].n = n / nprod;
        check(ax_spawn(&t[i], produce, &p[i]), "ax_spawn");
    }
    uint64_t msg, total = (n / nprod) * nprod;
    for (uint64_t i = 0; i < total; i++) check(ax_mpsc_recv(rx, &msg, AX_NO_DEADLINE), "recv");
    double secs = (double)(ax_now() - t0) / 1e9;
    for (int i = 0; i < nprod; i++) check(ax_join(t[i], NULL), "ax_join");
    ax_mpsc_rx_release(rx);
    return total / secs;
}

/* ---- fork-join fib ------------------------------------------------------------ */
static int fib_cutoff;

static long fib_seq(int n) {
    return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

/* Above the cutoff: spawn fib(n-1) and fib(n-2) as tasks and join both. */
static void *fib_task(void *arg) {
    int n = (int)(intptr_t)arg;
    if (n <= fib_cutoff) return (void *)(intptr_t)fib_seq(n);
    ax_task *a, *b;
    void *ra, *rb;
    check(ax_spawn(&a, fib_task, (void *)(intptr_t)(n - 1)), "ax_spawn");
    check(ax_spawn(&b, fib_task, (void *)(intptr_t)(n - 2)), "ax_spawn");
    check(ax_join(a, &ra), "ax_join");
    check(ax_join(b, &rb), "ax_join");
    return (void *)((intptr_t)ra + (intptr_t)rb);
}

/* Tasks fib_task spawns for fib(n) with cutoff c. */
static long fib_tasks(int n, int c) {
    return n <= c ? 0 : 2 + fib_tasks(n - 1, c) + fib_tasks(n - 2, c);
}

static long fib_expect;

static double fork_join_ms(void) {
    ax_task *root;
    void *r;
    ax_instant t = ax_now();
    check(ax_spawn(&root, fib_task, (void *)(intptr_t)FIB_N), "ax_spawn");
    check(ax_join(root, &r), "ax_join");
    double ms = (double)(ax_now() - t) / 1e6;
    if ((long)(intptr_t)r != fib_expect) {
        fprintf(stderr, "axon_sched: fib(%d) = %ld, expected %ld\n", FIB_N, (long)(intptr_t)r,
                fib_expect);
        exit(1);
    }
    return ms;
}

/* ---- ping-pong through two channels ------------------------------------------ */
typedef struct pingpong {
    ax_mpsc_tx *to_pong, *to_ping;
    ax_mpsc_rx *at_pong, *at_ping;
} pingpong;

/* Echoes every message until the channel closes; answers CROSS_MARK with
 * the thread it runs on. */
static void *ponger(void *arg) {
    pingpong *pp = arg;
    uint64_t m;
    while (ax_mpsc_recv(pp->at_pong, &m, AX_NO_DEADLINE) == 0) {
        if (m == CROSS_MARK) m = thread_token();
        check(ax_mpsc_send(pp->to_ping, &m, AX_NO_DEADLINE), "send");
    }
    ax_mpsc_tx_release(pp->to_ping);
    return NULL;
}

static inline void round_trip(pingpong *pp, uint64_t *m) {
    check(ax_mpsc_send(pp->to_pong, m, AX_NO_DEADLINE), "send");
    check(ax_mpsc_recv(pp->at_ping, m, AX_NO_DEADLINE), "recv");
}

/* The cost of one ax_now() as the latency loop pays it: the median gap
 * between back-to-back reads. */
static double clock_cost_ns(void) {
    enum { K = 10001 };
    static double gap[K - 1];
    ax_instant prev = ax_now();
    for (int i = 0; i < K - 1; i++) {
        ax_instant t = ax_now();
        gap[i] = (double)(t - prev);
        prev = t;
    }
    qsort(gap, K - 1, sizeof *gap, cmp_double);
    return gap[(K - 1) / 2];
}

typedef struct pp_result {
    double mean, p50, p99, p50_raw, p99_raw, cross_pct, cpu_pct;
    ax_runtime_metrics before, after;
} pp_result;

static double pct(const double *sorted, int n, double p) {
    int i = (int)(p * n);
    return sorted[i < n ? i : n - 1];
}

static void pingpong_run(pp_result *res, double clock_ns) {
    static double lat[PP_LAT_N];
    pingpong pp;
    check(ax_mpsc_new(&pp.to_pong, &pp.at_pong, sizeof(uint64_t), 1), "ax_mpsc_new");
    check(ax_mpsc_new(&pp.to_ping, &pp.at_ping, sizeof(uint64_t), 1), "ax_mpsc_new");
    ax_task *other;
    check(ax_spawn(&other, ponger, &pp), "ax_spawn");
    uint64_t m = 0;
    for (int i = 0; i < 1000; i++) round_trip(&pp, &m); /* the ponger is running */

    /* Mean: one clock read per PP_N round trips. */
    ax_runtime_metrics_get(ax_current_runtime(), &res->before);
    double c0 = cpu_ns();
    ax_instant t0 = ax_now();
    for (int i = 0; i < PP_N; i++) round_trip(&pp, &m);
    ax_instant t1 = ax_now();
    res->cpu_pct = 100.0 * (cpu_ns() - c0) / (double)(t1 - t0);
    ax_runtime_metrics_get(ax_current_runtime(), &res->after);
    res->mean = (double)(t1 - t0) / PP_N;

    /* Percentiles: each round trip timed alone, by consecutive clock reads,
     * so each sample holds one ax_now() besides the round trip. */
    ax_instant prev = ax_now();
    for (int i = 0; i < PP_LAT_N; i++) {
        round_trip(&pp, &m);
        ax_instant t = ax_now();
        lat[i] = (double)(t - prev);
        prev = t;
    }
    qsort(lat, PP_LAT_N, sizeof *lat, cmp_double);
    res->p50_raw = pct(lat, PP_LAT_N, 0.50);
    res->p99_raw = pct(lat, PP_LAT_N, 0.99);
    res->p50 = res->p50_raw - clock_ns;
    res->p99 = res->p99_raw - clock_ns;

    /* Did the two sides run on different threads? */
    int crossed = 0;
    for (int i = 0; i < PP_CROSS_N; i++) {
        uint64_t q = CROSS_MARK;
        round_trip(&pp, &q);
        crossed += q != thread_token();
    }
    res->cross_pct = 100.0 * crossed / PP_CROSS_N;

    ax_mpsc_tx_release(pp.to_pong);
    check(ax_join(other, NULL), "ax_join");
    ax_mpsc_rx_release(pp.at_pong);
    ax_mpsc_rx_release(pp.at_ping);
}

/* ---- driver ------------------------------------------------------------------ */
static void *bench_main(void *arg) {
    (void)arg;
    double sj[ROUNDS], ch[ROUNDS], c11[ROUNDS], c41[ROUNDS], fib[ROUNDS];
    double pm[ROUNDS], p50[ROUNDS], p99[ROUNDS], p50r[ROUNDS], p99r[ROUNDS], cross[ROUNDS];
    double ppcpu[ROUNDS], steals[ROUNDS], unparks[ROUNDS], wloc[ROUNDS], wrem[ROUNDS], clk[ROUNDS];
    double seq[ROUNDS], sj_cross[ROUNDS], sj_moved[ROUNDS], sj_steals[ROUNDS], sj_unparks[ROUNDS];
    double ch_steals[ROUNDS], ch_unparks[ROUNDS], pp_parks[ROUNDS];
    ax_runtime *rt = ax_current_runtime();
    for (int r = -1; r < ROUNDS; r++) { /* round -1 warms up */
        ax_runtime_metrics m0, m1, m2;
        ax_runtime_metrics_get(rt, &m0);
        double a = spawn_join(SPAWN_N);
        ax_runtime_metrics_get(rt, &m1);
        double b = chained_spawn(CHAIN_N);
        ax_runtime_metrics_get(rt, &m2);
        double a_cross, a_moved;
        spawn_join_threads(PP_CROSS_N, &a_cross, &a_moved);
        double c = channel_rate(1, CHAN_N), d = channel_rate(PRODUCERS, CHAN_N);
        volatile int fib_n = FIB_N; /* keeps the call in the loop */
        ax_instant s0 = ax_now();
        if (fib_seq(fib_n) != fib_expect) check(AX_EFAILED, "fib_seq");
        double e0 = (double)(ax_now() - s0) / 1e6;
        double e = fork_join_ms();
        double clock_ns = clock_cost_ns();
        pp_result pp;
        pingpong_run(&pp, clock_ns);
        if (r < 0) continue;
        sj_cross[r] = a_cross, sj_moved[r] = a_moved;
        sj_steals[r] = per_1k(&m0, &m1, offsetof(ax_runtime_metrics, steals), SPAWN_N);
        sj_unparks[r] = per_1k(&m0, &m1, offsetof(ax_runtime_metrics, unparks), SPAWN_N);
        ch_steals[r] = per_1k(&m1, &m2, offsetof(ax_runtime_metrics, steals), CHAIN_N);
        ch_unparks[r] = per_1k(&m1, &m2, offsetof(ax_runtime_metrics, unparks), CHAIN_N);
        pp_parks[r] = per_1k(&pp.before, &pp.after, offsetof(ax_runtime_metrics, parks), PP_N);
        sj[r] = a, ch[r] = b, c11[r] = c / 1e6, c41[r] = d / 1e6, seq[r] = e0, fib[r] = e;
        pm[r] = pp.mean, p50[r] = pp.p50, p99[r] = pp.p99, p50r[r] = pp.p50_raw,
        p99r[r] = pp.p99_raw;
        cross[r] = pp.cross_pct, ppcpu[r] = pp.cpu_pct, clk[r] = clock_ns;
        steals[r] = per_1k(&pp.before, &pp.after, offsetof(ax_runtime_metrics, steals), PP_N);
        unparks[r] = per_1k(&pp.before, &pp.after, offsetof(ax_runtime_metrics, unparks), PP_N);
        wloc[r] = per_1k(&pp.before, &pp.after, offsetof(ax_runtime_metrics, wakes_local), PP_N);
        wrem[r] = per_1k(&pp.before, &pp.after, offsetof(ax_runtime_metrics, wakes_remote), PP_N);
    }

    /* Idle: the last body was the ping-pong; now one task sleeps and the
     * workers have nothing to do. */
    double c0 = cpu_ns();
    ax_instant t0 = ax_now();
    check(ax_sleep(IDLE_MS), "ax_sleep");
    double idle = 100.0 * (cpu_ns() - c0) / (double)(ax_now() - t0);

    report("spawn_join_ns", sj, ROUNDS);
    report("chain_spawn_ns", ch, ROUNDS);
    report("chan_1to1_mps", c11, ROUNDS);
    report("chan_4to1_mps", c41, ROUNDS);
    report("fib_ms", fib, ROUNDS);
    report("fib_seq_ms", seq, ROUNDS);
    report("pingpong_mean_ns", pm, ROUNDS);
    report("pingpong_p50_ns", p50, ROUNDS);
    report("pingpong_p99_ns", p99, ROUNDS);
    report("pingpong_p50_raw_ns", p50r, ROUNDS);
    report("pingpong_p99_raw_ns", p99r, ROUNDS);
    report("pingpong_cross_pct", cross, ROUNDS);
    report("pingpong_cpu_pct", ppcpu, ROUNDS);
    report("clock_ns", clk, ROUNDS);
    report("idle_cpu_pct", &idle, 1);
    report("spawn_join_child_cross_pct", sj_cross, ROUNDS);
    report("spawn_join_parent_moved_pct", sj_moved, ROUNDS);
    report("spawn_join_steals_per_1k", sj_steals, ROUNDS);
    report("spawn_join_unparks_per_1k", sj_unparks, ROUNDS);
    report("chain_steals_per_1k", ch_steals, ROUNDS);
    report("chain_unparks_per_1k", ch_unparks, ROUNDS);
    report("pingpong_parks_per_1k", pp_parks, ROUNDS);
    report("pingpong_steals_per_1k", steals, ROUNDS);
    report("pingpong_unparks_per_1k", unparks, ROUNDS);
    report("pingpong_wakes_local_per_1k", wloc, ROUNDS);
    report("pingpong_wakes_remote_per_1k", wrem, ROUNDS);
    double tasks = (double)fib_tasks(FIB_N, fib_cutoff), cut = fib_cutoff;
    report("fib_tasks", &tasks, 1);
    report("fib_cutoff", &cut, 1);
    return NULL;
}

static void *fib_only_main(void *arg) {
    (void)arg;
    double fib[ROUNDS];
    for (int r = -1; r < ROUNDS; r++) {
        double e = fork_join_ms();
        if (r >= 0) fib[r] = e;
    }
    report("fib_stack_cache_ms", fib, ROUNDS);
    return NULL;
}

int main(int argc, char **argv) {
    workers = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    if (workers < 1) {
        fprintf(stderr, "usage: axon_sched WORKERS\n");
        return 2;
    }
    /* The cutoff whose task count is nearest FIB_TASKS. */
    fib_cutoff = 2;
    for (int c = 2; c < FIB_N; c++)
        if (labs(fib_tasks(FIB_N, c) - FIB_TASKS) < labs(fib_tasks(FIB_N, fib_cutoff) - FIB_TASKS))
            fib_cutoff = c;
    fib_expect = fib_seq(FIB_N);

    ax_runtime_opts o;
    ax_runtime_opts_init(&o);
    o.workers = workers;
    ax_runtime *rt;
    check(ax_runtime_new(&rt, &o), "ax_runtime_new");
    int rc = ax_run(rt, bench_main, NULL, NULL);
    ax_runtime_free(rt);
    check(rc, "ax_run");

    o.stack_cache = BIG_STACK_CACHE;
    check(ax_runtime_new(&rt, &o), "ax_runtime_new");
    rc = ax_run(rt, fib_only_main, NULL, NULL);
    ax_runtime_free(rt);
    check(rc, "ax_run");
    return 0;
}
