/* bench/axon_fiber_switch.c - cost of one fiber switch.
 *
 * The thread's own context and one fiber ping-pong; each round trip is two
 * switches. Prints "fiber_switch_ns <median> <min> <max>" over RUNS runs of
 * SWITCHES switches each.
 */
#include "executor/fiber.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RUNS     5
#define SWITCHES 10000000L

static ax__fiber main_fiber, bench_fiber;
static volatile int stop;

static void bounce(void *arg) {
    while (!stop) ax__fiber_switch(&bench_fiber, &main_fiber);
    ax__fiber_switch_final(&bench_fiber, &main_fiber);
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

int main(void) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, 64 * 1024, 1);
    ax__stack *stack;
    if (ax__stack_get(&pool, &stack) != 0) {
        fprintf(stderr, "axon_fiber_switch: cannot map a stack\n");
        return 1;
    }
    ax__fiber_init_thread(&main_fiber);
    ax__fiber_init(&bench_fiber, stack, bounce, NULL);

    for (long i = 0; i < SWITCHES / 20; i++) ax__fiber_switch(&main_fiber, &bench_fiber); /* warm */

    double ns[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < SWITCHES / 2; i++) ax__fiber_switch(&main_fiber, &bench_fiber);
        ns[r] = (now_ns() - t0) / (double)SWITCHES;
    }
    stop = 1;
    ax__fiber_switch(&main_fiber, &bench_fiber);
    ax__fiber_destroy(&bench_fiber);
    ax__stack_put(&pool, stack);
    ax__stack_pool_destroy(&pool);

    qsort(ns, RUNS, sizeof ns[0], cmp_double);
    printf("fiber_switch_ns %.2f %.2f %.2f\n", ns[RUNS / 2], ns[0], ns[RUNS - 1]);
    return 0;
}
