/* Runtime metrics: counters move with the work, and both text formats
 * carry every counter. */
#include <criterion/criterion.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "axon.h"
#include "test/executor/fixtures.h"

static void *empty(void *arg) {
    return arg;
}
/* Long enough that no task first runs after its deadline (a sleep whose
 * deadline has passed is ready at once and arms no timer). */
static void *sleepy(void *arg) {
    ax_sleep(100);
    return arg;
}
static atomic_int blocking;
static void *block(void *arg) {
    atomic_store(&blocking, 1);
    ax_sleep(60000);
    return arg;
}

static void *work(void *arg) {
    ax_runtime_metrics before, after;
    ax_runtime_metrics_get(rt, &before);
    ax_task *h[100];
    for (int i = 0; i < 100; i++) cr_assert_eq(ax_spawn(&h[i], i % 2 ? empty : sleepy, NULL), 0);
    for (int i = 0; i < 100; i++) cr_assert_eq(ax_join(h[i], NULL), 0);
    ax_task *c;
    atomic_store(&blocking, 0);
    cr_assert_eq(ax_spawn(&c, block, NULL), 0);
    /* Another worker may take this task while c starts; wait for c (on a
     * slow machine its sleep may still see the abort first: either way
     * it ends cancelled, and the timers counted below are the 50 sleeps). */
    while (!atomic_load(&blocking)) ax_yield();
    ax_abort(c);
    cr_assert_eq(ax_join(c, NULL), AX_ECANCELED);
    ax_runtime_metrics_get(rt, &after);
    cr_assert_eq(after.tasks_spawned - before.tasks_spawned, 101);
    cr_assert_eq(after.tasks_completed - before.tasks_completed, 100);
    cr_assert_eq(after.tasks_cancelled - before.tasks_cancelled, 1);
    cr_assert_geq(after.timers_armed - before.timers_armed, 50);
    cr_assert_geq(after.timers_fired - before.timers_fired, 50);
    cr_assert_geq(after.polls - before.polls, 101);
    cr_assert_geq(after.wakes_local - before.wakes_local, 50);
    cr_assert_eq(after.tasks_alive, 1, "only the main task is alive");
    return NULL;
}

Test(metrics, counters_follow_the_work, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, work, NULL, NULL), 0);
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    cr_assert_eq(m.workers, 2);
    cr_assert_eq(m.tasks_spawned, 102, "the main task counts too");
    cr_assert_eq(m.tasks_alive, 0);
}

Test(metrics, json_and_prometheus, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, empty, NULL, NULL), 0);
    char buf[8192];
    size_t n = ax_runtime_metrics_json(rt, buf, sizeof(buf));
    cr_assert_lt(n, sizeof(buf));
    cr_assert_eq(strlen(buf), n);
    cr_assert_eq(buf[0], '{');
    cr_assert_eq(buf[n - 1], '}');
    cr_assert_not_null(strstr(buf, "\"workers\":1"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"tasks_spawned\":1"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"blocking_jobs\":"), "%s", buf);
    /* truncation reports the full length, like snprintf */
    char small[16];
    cr_assert_eq(ax_runtime_metrics_json(rt, small, sizeof(small)), n);
    cr_assert_eq(strlen(small), sizeof(small) - 1);
    cr_assert_eq(ax_runtime_metrics_json(rt, NULL, 0), n);

    n = ax_runtime_metrics_prometheus(rt, buf, sizeof(buf));
    cr_assert_lt(n, sizeof(buf));
    cr_assert_not_null(strstr(buf, "# TYPE axon_tasks_spawned_total counter\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\naxon_tasks_spawned_total 1\n"), "%s", buf);
    cr_assert_not_null(strstr(buf, "# TYPE axon_tasks_alive gauge\naxon_tasks_alive 0\n"), "%s",
                       buf);
    /* every sample line is `name value` */
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#') continue;
        char name[128];
        unsigned long long v;
        cr_assert_eq(sscanf(line, "%127s %llu", name, &v), 2, "bad line: %s", line);
        cr_assert_eq(strncmp(name, "axon_", 5), 0, "bad name: %s", name);
    }
}
