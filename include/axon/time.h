/* axon/time.h - clocks, sleeps, deadlines and intervals.
 *
 * Timers live in a hierarchical timer wheel per worker with 1 ms ticks:
 * arming and cancelling are O(1) and allocate nothing (the timer's storage
 * belongs to the sleeping task or to the caller's ax_interval). A timer
 * never fires early; it fires within about one tick after its deadline when
 * a worker is free to run it.
 */
#ifndef AXON_TIME_H
#define AXON_TIME_H

#include <stdint.h>
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Now, on the monotonic clock, in nanoseconds. Thread-safe, any thread. */
ax_instant ax_now(void);

/* ax_now() + ms milliseconds. */
ax_instant ax_deadline_in_ms(uint64_t ms);

/* Suspends the current task for at least ms milliseconds. Returns 0, or
 * AX_ECANCELED when the task is cancelled before. Task only. */
int ax_sleep(uint64_t ms);

/* Suspends until deadline has passed (returns at once if it has). */
int ax_sleep_until(ax_instant deadline);

/* Opaque storage for one timer (48 bytes: the wheel's links and expiry,
 * and the waker to wake), caller-owned; nothing is allocated per timer. */
typedef struct ax_timer_storage {
    uintptr_t opaque[6];
} ax_timer_storage;

/* A sleep as a future, 64 bytes in all: result 0 once the deadline has
 * passed. Initialise, then ax_await / ax_block_on / combine it. Owned by the
 * caller; dropping it disarms the timer. Treat the fields as private. */
typedef struct ax_sleep_future {
    ax_future base;
    ax_timer_storage timer;
} ax_sleep_future;
void ax_sleep_future_init(ax_sleep_future *s, ax_instant deadline);

/* A periodic ticker: ax_interval_tick suspends until the next multiple of
 * period after start. Missed ticks are skipped (like tokio's
 * MissedTickBehavior::Skip), and the return value says how many were
 * missed. */
typedef struct ax_interval {
    ax_instant next;
    uint64_t period_ns;
} ax_interval;

/* First tick at now + period_ms. period_ms must be > 0 (else AX_EINVAL). */
int ax_interval_init(ax_interval *iv, uint64_t period_ms);

/* Waits for the next tick. Returns the number of ticks skipped (>= 0), or
 * AX_ECANCELED. Task only. */
int64_t ax_interval_tick(ax_interval *iv);

#ifdef __cplusplus
}
#endif
#endif
