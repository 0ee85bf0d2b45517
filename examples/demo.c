/* demo: what `make run` starts. It shows the runtime core at work:
 *   1. 100,000 tasks spawned and joined, with the time per task;
 *   2. 10,000 tasks sleeping at once on the timer wheel;
 *   3. a ticker that prints once a second until Ctrl-C (SIGINT) or SIGTERM
 *      arrives through ax_signal_wait, or until --seconds N have passed.
 *
 *   build/examples/demo [--seconds N]     (default: run until Ctrl-C)
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"

#define SPAWNS   100000
#define SLEEPERS 10000

static void *empty(void *arg) {
    return arg;
}

static void *sleeper(void *arg) {
    ax_sleep(50 + (uintptr_t)arg % 50);
    return NULL;
}

static void spawn_join_round(void) {
    static ax_task *h[SPAWNS];
    ax_instant t0 = ax_now();
    for (int i = 0; i < SPAWNS; i++) ax_spawn(&h[i], empty, NULL);
    for (int i = 0; i < SPAWNS; i++) ax_join(h[i], NULL);
    double ns = (double)(ax_now() - t0) / SPAWNS;
    printf("spawned and joined %d tasks: %.0f ns per task\n", SPAWNS, ns);
}

static void sleepers_round(void) {
    static ax_task *h[SLEEPERS];
    ax_instant t0 = ax_now();
    for (uintptr_t i = 0; i < SLEEPERS; i++) ax_spawn(&h[i], sleeper, (void *)i);
    for (int i = 0; i < SLEEPERS; i++) ax_join(h[i], NULL);
    printf("%d tasks slept 50-99 ms each, all at once: %.1f ms in total\n", SLEEPERS,
           (double)(ax_now() - t0) / 1e6);
}

static void *main_task(void *arg) {
    long seconds = (long)(intptr_t)arg;
    spawn_join_round();
    sleepers_round();
    sigset_t stop;
#ifdef _WIN32
    memset(&stop, 0, sizeof stop); /* no signals there: Ctrl-C ends the process */
#else
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
#endif
    if (seconds)
        printf("ticking for %ld s (Ctrl-C stops it sooner)\n", seconds);
    else
        printf("ticking once a second; press Ctrl-C to stop\n");
    ax_interval iv;
    ax_interval_init(&iv, 1000);
    for (long tick = 1; !seconds || tick <= seconds; tick++) {
        int sig = ax_signal_wait(&stop, iv.next); /* Windows: AX_ENOTSUP, at once */
        if (sig > 0) {
            printf("\ngot signal %d (%s), stopping\n", sig, sig == SIGINT ? "SIGINT" : "SIGTERM");
            return NULL;
        }
        ax_interval_tick(&iv);
        printf("tick %ld\n", tick);
        fflush(stdout);
    }
    return NULL;
}

int main(int argc, char **argv) {
    long seconds = 0;
    if (argc == 3 && strcmp(argv[1], "--seconds") == 0)
        seconds = atol(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: %s [--seconds N]\n", argv[0]);
        return 2;
    }
    ax_runtime *rt;
#ifdef _WIN32
    int err = ax_runtime_new(&rt, NULL); /* no signal set on Windows */
#else
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    int err = ax_runtime_new(&rt, &(ax_runtime_opts){.signals = &sigs});
#endif
    if (err) {
        fprintf(stderr, "ax_runtime_new: %s\n", ax_strerror(err));
        return 1;
    }
    printf("axon demo: %u workers\n", ax_runtime_workers(rt));
    err = ax_run(rt, main_task, (void *)(intptr_t)seconds, NULL);
    ax_runtime_free(rt);
    return err ? 1 : 0;
}
