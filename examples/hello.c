/* hello: the smallest Axon program. A main task spawns a few tasks that
 * sleep for different times and joins them; the output shows they ran
 * concurrently (the whole run takes about the longest sleep, not the sum).
 *
 *   build/examples/hello
 */
#include <stdint.h>
#include <stdio.h>

#include "axon.h"

static void *worker(void *arg) {
    uint64_t ms = (uint64_t)(uintptr_t)arg;
    ax_sleep(ms);
    printf("task %llu slept %llu ms\n", (unsigned long long)ax_current_task_id(),
           (unsigned long long)ms);
    return arg;
}

static void *main_task(void *arg) {
    ax_task *t[3];
    uint64_t sum = 0;
    ax_instant start = ax_now();
    for (uintptr_t i = 0; i < 3; i++) ax_spawn(&t[i], worker, (void *)(30 - 10 * i));
    for (int i = 0; i < 3; i++) {
        void *v;
        if (ax_join(t[i], &v) == 0) sum += (uintptr_t)v;
    }
    printf("slept %llu ms in total, in %.1f ms of wall time\n", (unsigned long long)sum,
           (double)(ax_now() - start) / 1e6);
    return NULL;
}

int main(void) {
    ax_runtime *rt;
    int err = ax_runtime_new(&rt, NULL);
    if (err) {
        fprintf(stderr, "ax_runtime_new: %s\n", ax_strerror(err));
        return 1;
    }
    err = ax_run(rt, main_task, NULL, NULL);
    ax_runtime_free(rt);
    return err ? 1 : 0;
}
