/* executor/blocking.h - private: the blocking pool object behind
 * axon/blocking.h, and what runtime.c and metrics.c call.
 *
 * A runtime's pool lives in rt->blocking, created on first use (a CAS), or
 * by ax_runtime_new through ax__blocking_init when the options are not the
 * defaults (the runtime keeps no other copy of them). It is reference
 * counted: the runtime, every pool thread and every job hold a reference,
 * so a thread still stuck in a job after shutdown, or a future dropped
 * late, never touches freed memory.
 */
#ifndef AX_EXECUTOR_BLOCKING_H
#define AX_EXECUTOR_BLOCKING_H

#include <stdint.h>

#include "axon/blocking.h"
#include "axon/metrics.h"

#pragma GCC visibility push(hidden)

struct ax__blocking;

/* Creates rt's pool object (no thread yet; not yet published in rt). 0
 * means the default for either option. Errors: AX_ENOMEM. */
int ax__blocking_new(struct ax__blocking **out, ax_runtime *rt, unsigned max_threads,
                     unsigned idle_ms);

/* For ax_runtime_new: with both options 0 does nothing (the pool is
 * created with the defaults on first use); otherwise creates rt's pool now
 * with them, still without threads. Errors: AX_ENOMEM. */
int ax__blocking_init(ax_runtime *rt, unsigned max_threads, unsigned idle_ms);

/* rt's pool, created with the defaults if it does not exist yet; NULL when
 * out of memory. */
struct ax__blocking *ax__blocking_of(ax_runtime *rt);

/* How many queued jobs of rt's pool their group's bound holds back now
 * (the fs bound full, more file jobs waiting): a hint read without the
 * lock, for the scheduler's choice to spin. 0 before the pool exists.
 * Thread-safe. */
size_t ax__blocking_held(ax_runtime *rt);

/* Called by ax__schedule when a thread that is not one of rt's workers
 * queued a task on rt's global queue and no worker is searching: true
 * when the caller is a thread of rt's pool waking the waiter of a job that
 * just ended, the pool's bounds hold back more queued jobs than tasks
 * wait in rt's global queue, and a sleeping worker will look at that
 * queue within AX__PARK_PEEK_MS anyway (ax__sleeper_looks_soon: workers
 * that park while jobs are held back sleep at most that long, park.c).
 * The wake-up may then wait: the pool stays busy with the jobs it holds,
 * and a worker woken for a batch of tasks costs one wake-up instead of one
 * per task. False on a current-thread runtime. Thread-safe. */
bool ax__blocking_defers_wake(ax_runtime *rt);

/* Stops the pool: no new job is accepted (AX_ESHUTDOWN); queued jobs are
 * completed with AX_ESHUTDOWN without running; running jobs may finish
 * until deadline (AX_NO_DEADLINE: wait for them). After the deadline the
 * threads still in a job are left to finish alone: their futures are never
 * completed (the wakers are dropped now, while the runtime exists), and
 * the count is reported on stderr. Idempotent. b NULL is a no-op. Call it
 * while the runtime's workers still run (the wake-ups go to tasks). */
void ax__blocking_shutdown(struct ax__blocking *b, ax_instant deadline);

/* Releases the runtime's reference (shutting down first with no grace
 * period if that was not done). Threads still in a job keep the pool's
 * memory until they end. b NULL is a no-op. */
void ax__blocking_free(struct ax__blocking *b);

/* A group of rt's blocking jobs of which at most limit (>= 1) run at once
 * (fs/ bounds its file jobs this way). Jobs beyond the limit wait in the
 * group's FIFO queue inside the pool and start, oldest first across all
 * queues, when a job of the group ends, on the thread that ran it. The
 * group belongs to rt's pool (created if needed) and is freed with it.
 * NULL when out of memory. Thread-safe. */
struct ax__blocking_group;
struct ax__blocking_group *ax__blocking_group_new(ax_runtime *rt, unsigned limit);

/* ax_blocking_start for a job of group (NULL: none; a group of another
 * pool: none either). */
int ax__blocking_start_in(ax_blocking_future *bf, ax_runtime *rt, struct ax__blocking_group *group,
                          ax_blocking_fn fn, void *arg, void (*free_arg)(void *arg),
                          void (*free_result)(void *result));

/* ax__blocking_start_in that also registers waker (NULL: none; cloned)
 * as the one to wake when the job ends, as a first poll of bf with it
 * would, without that poll's trip through the pool's lock. Errors as
 * ax_blocking_start. Thread-safe. */
int ax__blocking_start_waking(ax_blocking_future *bf, ax_runtime *rt,
                              struct ax__blocking_group *group, ax_blocking_fn fn, void *arg,
                              void (*free_arg)(void *arg), void (*free_result)(void *result),
                              const ax_waker *waker);

/* Called by a job from inside its function: it expects to end within
 * `within` ns (at most AX__BLOCKING_SOON_MAX_NS; longer is cut to it), or
 * to call again before then, and the task waiting for it will run next.
 * Has an idle worker spin until then rather than sleep, so the job's end
 * does not wait for a worker's wake-up (tens of µs across vCPUs here). A
 * no-op outside a pool job, for a job nobody waits for, and after
 * shutdown. Costs a trip through the pool's lock: call it near a long
 * job's end, or between steps of tens of µs, not in a tight loop. */
void ax__blocking_ending_soon(ax_instant within);
#define AX__BLOCKING_SOON_MAX_NS 200000u

/* As ax__blocking_ending_soon, but wakes nobody: a worker searching now
 * keeps spinning for `within` ns more (at most AX__BLOCKING_SOON_MAX_NS),
 * one asleep stays asleep. For the steps of a job that is not near its
 * end yet: a worker woken there would spin, or be woken again, long
 * before it is needed, and each wake-up costs the job's thread (an IPI;
 * here one in two took over 100 µs, bench/fs). */
void ax__blocking_keep_spinning(ax_instant within);

typedef struct ax__blocking_stats {
    uint64_t threads;     /* pool threads alive now */
    uint64_t idle;        /* ... of which waiting for work */
    uint64_t running;     /* jobs running now */
    uint64_t queue_depth; /* jobs waiting for a thread (or their group's bound) now */
    uint64_t jobs;        /* jobs run to completion so far */
} ax__blocking_stats;

/* A snapshot of b's counters (all 0 for b NULL). Thread-safe. */
void ax__blocking_stats_get(struct ax__blocking *b, ax__blocking_stats *out);

/* Fills m->blocking_threads, blocking_queue_depth and blocking_jobs from
 * rt's pool (0 when it was never created). Thread-safe. */
void ax__blocking_metrics(ax_runtime *rt, ax_runtime_metrics *m);

#pragma GCC visibility pop

#endif
