/* bench/axon_timer_wheel.c - what arming and disarming a timer costs when few
 * and when very many timers are already armed.
 *
 * The bar: an insert+cancel pair with 1,000,000 timers armed costs within
 * 1.5x of the same pair with 1,000 armed. Background timers get deadlines
 * spread log-uniformly over 1 ms .. 1 h (1 tick = 1 ms, as in the runtime),
 * so every level in use holds timers. The measured timer gets deadlines from
 * the same spread. Both wheels are measured in alternation, five rounds,
 * reporting median, min and max of the per-round mean.
 *
 * Also prints the wheel's per-timer size and the memory 1,000,000 timers
 * take when embedded in a 56-byte owner, as the runtime's timer will be
 * (32-byte ax__timer + 16-byte waker + 8-byte owner pointer).
 *
 * Build: make build/bench/axon_timer_wheel (or compile this file together
 * with executor/timer_wheel.c, -Iinclude -I.). Output lines:
 *   wheel_insert_cancel_ns n=<N> <median> <min> <max>
 *   wheel_insert_cancel_ratio <median 1M / median 1K>
 *   wheel_churn_ns n=<N> <median> <min> <max>
 *   bytes_per_timer <sizeof(ax__timer)>
 *   timers_1M_rss_bytes <RSS growth for 1M owners, armed>
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "executor/timer_wheel.h"

/* The runtime's timer: what 1M armed timers really cost in memory. */
typedef struct owner {
    ax__timer timer;
    struct {
        const void *vtable;
        void *data;
    } waker;
    void *task;
} owner;
_Static_assert(sizeof(owner) == 56, "owner must be 56 bytes like the runtime's timer");

#define ROUNDS     5
#define PAIRS      8000000
#define HOUR_MS    3600000u
#define NDEADLINES 1024 /* 8 KiB of precomputed offsets: stays in L1 */

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* 1 .. HOUR_MS ticks, log-uniform: many short timeouts, a few long ones. */
static uint64_t random_delay(void) {
    for (;;) {
        unsigned bits = (unsigned)(rnd() % 22); /* 2^22 ms > 1 h */
        uint64_t d = (1ull << bits) | (rnd() & ((1ull << bits) - 1));
        if (d <= HOUR_MS) return d;
    }
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long rss_bytes(void) {
    long size = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

typedef struct bed {
    size_t n;
    ax__wheel wheel;
    owner *owners;
    double ns[ROUNDS], churn_ns[ROUNDS];
} bed;

static const uint64_t start_tick = 987654321; /* not aligned to anything */

static void arm(bed *b, size_t n) {
    b->n = n;
    b->owners = malloc(n * sizeof *b->owners);
    if (!b->owners) {
        perror("malloc");
        exit(1);
    }
    ax__wheel_init(&b->wheel, start_tick);
    for (size_t i = 0; i < n; i++) {
        owner *o = &b->owners[i];
        ax__timer_init(&o->timer);
        o->waker.vtable = o->waker.data = o->task = NULL;
        ax__wheel_insert(&b->wheel, &o->timer, start_tick + random_delay());
    }
}

static uint64_t deadline[NDEADLINES];

/* Mean ns of one insert+cancel pair of a timer that is not in the wheel. */
static double insert_cancel(bed *b) {
    ax__timer t;
    ax__timer_init(&t);
    double t0 = now_ns();
    for (size_t i = 0; i < PAIRS; i++) {
        ax__wheel_insert(&b->wheel, &t, deadline[i % NDEADLINES]);
        if (!ax__wheel_cancel(&b->wheel, &t)) abort();
    }
    return (now_ns() - t0) / PAIRS;
}

/* Mean ns of cancelling a random armed timer and arming it again: what a
 * server resetting idle timeouts does. Most of it is fetching the cold
 * timer itself, which no wheel can avoid. */
static double churn(bed *b) {
    enum { N = PAIRS / 8 };
    double t0 = now_ns();
    for (size_t i = 0; i < N; i++) {
        ax__timer *t = &b->owners[rnd() % b->n].timer;
        ax__wheel_cancel(&b->wheel, t);
        ax__wheel_insert(&b->wheel, t, deadline[i % NDEADLINES]);
    }
    return (now_ns() - t0) / N;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, double *lo, double *hi) {
    double s[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) s[i] = v[i];
    qsort(s, ROUNDS, sizeof *s, cmp_double);
    *lo = s[0];
    *hi = s[ROUNDS - 1];
    return s[ROUNDS / 2];
}

static double report(const char *name, bed *b, double *v) {
    double lo, hi, med = median(v, &lo, &hi);
    printf("%s n=%zu %.2f %.2f %.2f\n", name, b->n, med, lo, hi);
    return med;
}

int main(void) {
    for (size_t i = 0; i < NDEADLINES; i++) deadline[i] = start_tick + random_delay();

    static bed small, large;
    arm(&small, 1000);
    long rss0 = rss_bytes();
    arm(&large, 1000000);
    long rss1 = rss_bytes();

    insert_cancel(&small); /* warm up */
    insert_cancel(&large);
    for (int r = 0; r < ROUNDS; r++) {
        /* Alternate which goes first so drift hits both alike. */
        bed *first = r % 2 ? &large : &small, *second = r % 2 ? &small : &large;
        first->ns[r] = insert_cancel(first);
        second->ns[r] = insert_cancel(second);
        first->churn_ns[r] = churn(first);
        second->churn_ns[r] = churn(second);
    }

    double a = report("wheel_insert_cancel_ns", &small, small.ns);
    double z = report("wheel_insert_cancel_ns", &large, large.ns);
    printf("wheel_insert_cancel_ratio %.2f (bar: <= 1.50)\n", z / a);
    report("wheel_churn_ns", &small, small.churn_ns);
    report("wheel_churn_ns", &large, large.churn_ns);
    printf("bytes_per_timer %zu\n", sizeof(ax__timer));
    printf("wheel_bytes %zu\n", sizeof(ax__wheel));
    printf("timers_1M_rss_bytes %ld (%.1f per timer, owner %zu bytes)\n", rss1 - rss0,
           (rss1 - rss0) / 1e6, sizeof(owner));
    free(small.owners);
    free(large.owners);
    return 0;
}
