/* test/executor/test_sync_util.h - helpers for the sync primitive tests:
 * a counting waker, so a test can poll futures by hand from the test
 * thread and see exactly who was woken (and that no waker clone leaks),
 * and small task helpers. */
#ifndef AX_TEST_SYNC_UTIL_H
#define AX_TEST_SYNC_UTIL_H

#include <stdatomic.h>

#include "axon.h"
#include "axon/sync.h"
#include "test/started.h"

typedef struct cwaker {
    atomic_int wakes;
    atomic_int refs; /* clones alive */
    ax_waker waker;
    ax_context cx;
} cwaker;

static void *cw_clone(void *d) {
    atomic_fetch_add(&((cwaker *)d)->refs, 1);
    return d;
}
static void cw_wake_by_ref(void *d) {
    atomic_fetch_add(&((cwaker *)d)->wakes, 1);
}
static void cw_wake(void *d) {
    cw_wake_by_ref(d);
    atomic_fetch_sub(&((cwaker *)d)->refs, 1);
}
static void cw_drop(void *d) {
    atomic_fetch_sub(&((cwaker *)d)->refs, 1);
}
static const ax_waker_vtable cw_vtable = {cw_clone, cw_wake, cw_wake_by_ref, cw_drop};

static inline void cw_init(cwaker *c) {
    atomic_init(&c->wakes, 0);
    atomic_init(&c->refs, 0);
    c->waker = (ax_waker){&cw_vtable, c};
    c->cx = (ax_context){&c->waker, NULL};
}

static inline ax_poll cw_poll(cwaker *c, void *f) {
    return ax_future_poll((ax_future *)f, &c->cx);
}

static inline int cw_wakes(cwaker *c) {
    return atomic_load(&c->wakes);
}
static inline int cw_refs(cwaker *c) {
    return atomic_load(&c->refs);
}

/* Sleeps long enough for spawned tasks on the other worker to reach their
 * suspension point (a test's outcome never depends on it, only how much it
 * exercises). */
/* After wait_started: time for the task to reach the call it blocks in. */
static inline void settle(void) {
    ax_sleep(20);
}

#endif
