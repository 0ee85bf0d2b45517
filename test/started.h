/* test/started.h - waiting for a spawned task to start, from task code.
 *
 * A task spawned onto another worker may start late on a loaded machine
 * or under qemu; a test that aborts it "after a few milliseconds" would
 * then abort a task that never ran. Wait for the state instead. */
#ifndef AX_TEST_STARTED_H
#define AX_TEST_STARTED_H

#include "axon.h"

/* Sleeps a millisecond at a time until t has started (at most ~10 s). */
static inline void wait_started(ax_task *t) {
    for (int i = 0; i < 10000 && ax_task_status(t) == AX_TASK_PENDING; i++) ax_sleep(1);
}

#endif
