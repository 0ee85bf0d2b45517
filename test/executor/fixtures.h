/* test/executor/fixtures.h - a runtime per test, as Criterion fixtures:
 * `.init = rt_one` (one worker) or `rt_two`, with `.fini = rt_done`. Each
 * test file that includes this gets its own `rt`. */
#ifndef AX_TEST_EXECUTOR_FIXTURES_H
#define AX_TEST_EXECUTOR_FIXTURES_H

#include <criterion/criterion.h>

#include "axon.h"

static ax_runtime *rt;

static inline void rt_with(unsigned workers) {
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = workers}), 0);
}
static inline void rt_one(void) {
    rt_with(1);
}
static inline void rt_two(void) {
    rt_with(2);
}
static inline void rt_done(void) {
    ax_runtime_free(rt);
}

#endif
