/* axon/combinators.h - futures built from futures: all, race, any,
 * all_settled, timeout, delay and retry.
 *
 * Every combinator is itself a future (so they nest: an `all` of `race`s,
 * a `timeout` around an `any`), and each has a suspending call for task code
 * (ax_all, ax_race, ...). None of them spawns a task or takes a stack: the
 * combined future polls its children with the context it is polled with,
 * from whatever task or thread polls it.
 *
 * Ownership. A combinator takes over its children: from init on, it is the
 * owner that drops each child exactly once (when the child settles, when
 * the combinator no longer needs it, or when the combinator itself is
 * dropped), so the caller must not poll or drop a child itself. The
 * children's memory and the `children` pointer array stay the caller's and
 * must outlive the combinator (until it has been dropped). Once the
 * combinator has dropped a child, it turns the child's header into a
 * settled shell: `child->result` holds the child's outcome (AX_ECANCELED if
 * it was dropped unfinished), polling the shell returns that result again,
 * and dropping it again is a no-op.
 *
 * Groups (all, race, any, all_settled) over up to AX_GROUP_DIRECT_MAX
 * children poll every unfinished child on each poll with the parent's
 * waker, as tokio's join!/select! do, and allocate nothing. Larger groups
 * give each child its own waker, which marks that child ready in a bitmap
 * and wakes the parent's waker, so a wake re-polls only the children that
 * were woken (as futures-rs's FuturesUnordered does): `all` over n futures
 * polls each child about twice, not n times. That state (a reference count,
 * the parent's waker, one bit and one 32-bit index per child: ~4.2 bytes a
 * child) lives in one heap block allocated once per group, at its first
 * poll, never per poll. It is reference counted by the group and by every
 * outstanding child-waker clone, so a child woken from any thread after the
 * group completed or was dropped (a timer that fired just as the group gave
 * up on it) touches only that block, which the last reference frees. If
 * the allocation fails, the group falls back to the direct mode above
 * instead of failing.
 *
 * Results. A child's outcome is its `result`: >= 0 is a success, < 0 an
 * AX_E* failure. Where several children become ready within one poll, the
 * lowest index is handled first (race and any are biased towards earlier
 * children, as JavaScript's Promise.race is and as tokio's `select!` is
 * with `biased;`).
 *
 * Thread-safety: the *_init functions touch only the storage they are
 * given and may run on any thread. A combinator, like any future, is then
 * polled and dropped by one owner at a time (it may move between threads
 * between calls); its `results` array and its children's headers are
 * written by whoever polls or drops it, so read them after it is ready.
 * The child wakers it hands out are thread-safe, per the waker protocol.
 * Children must tolerate a poll that was not preceded by a wake, as the
 * protocol requires of every future (small groups, timeout and retry poll
 * without waiting for a wake).
 */
#ifndef AXON_COMBINATORS_H
#define AXON_COMBINATORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "future.h"
#include "time.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Groups with at most this many children poll them all on every poll with
 * the parent's waker and allocate nothing; larger ones use per-child
 * wakers (see above). */
#define AX_GROUP_DIRECT_MAX 4

/* "No index": ax_group_future.index before the group is ready, or when no
 * single child decided the outcome. */
#define AX_NO_INDEX ((size_t)-1)

struct ax__group_hub;

/* Private state of a group; do not touch. */
typedef struct ax__group_state {
    ax_future *const *children;
    intptr_t *results;
    size_t n;
    size_t pending;
    struct ax__group_hub *hub;
    uint32_t kind;
    uint32_t flags;
} ax__group_state;

/* The storage of every group combinator (all, race, any, all_settled),
 * owned by the caller. Initialise it with one of the ax_*_future_init
 * calls below, then poll it, await it or put it in another combinator.
 * `index` is readable once the group is ready (AX_NO_INDEX before):
 *   all: the child whose failure ended the group (AX_NO_INDEX on success);
 *   race: the child that settled first;
 *   any: the child that succeeded first (AX_NO_INDEX if all failed);
 *   all_settled: AX_NO_INDEX. */
typedef struct ax_group_future {
    ax_future base;
    size_t index;
    ax__group_state priv;
} ax_group_future;

/* The four groups share one storage type; the names say what the future
 * was initialised as. */
typedef ax_group_future ax_all_future;
typedef ax_group_future ax_race_future;
typedef ax_group_future ax_any_future;
typedef ax_group_future ax_all_settled_future;

/* All: ready when every child has succeeded, result 0; or, failing fast like
 * Promise.all and tokio's try_join!, as soon as one child fails: result is
 * that child's error code, `index` is that child, and every child still
 * pending is dropped at once (its result becomes AX_ECANCELED).
 * results (may be NULL; caller-owned, n entries, must outlive the future):
 * results[i] receives child i's result as it settles, so on success it
 * holds every result in input order; on failure, the children dropped
 * unfinished get AX_ECANCELED. n == 0 is ready at once with 0. Cannot fail
 * otherwise (no AX_ENOMEM: see the fallback above). */
void ax_all_future_init(ax_all_future *f, ax_future *const *children, size_t n, intptr_t *results);

/* Race: ready when the first child settles, success or failure (like
 * Promise.race, tokio's select!, Go's select): result is that child's
 * result, `index` is that child, and every other child is dropped at once.
 * n == 0 is ready at once with AX_EINVAL (a race of nothing would never
 * end). */
void ax_race_future_init(ax_race_future *f, ax_future *const *children, size_t n);

/* Any: ready when the first child succeeds (result >= 0), like Promise.any:
 * result is that success, `index` is that child, and the rest are dropped.
 * Failures are skipped. If every child fails (or n == 0) the result is
 * AX_EFAILED and each child's own error is in results[i] (when results is
 * not NULL) and in children[i]->result. results: as for ax_all_future_init
 * (the children dropped after a success get AX_ECANCELED). */
void ax_any_future_init(ax_any_future *f, ax_future *const *children, size_t n, intptr_t *results);

/* All settled: ready when every child has settled, success or failure, like
 * Promise.allSettled; never fails: result is 0, and child i's outcome is in
 * children[i]->result and in results[i] (results may be NULL). */
void ax_all_settled_future_init(ax_all_settled_future *f, ax_future *const *children, size_t n,
                                intptr_t *results);

/* Suspending forms for task code. Each initialises a group on the task's
 * stack and awaits it, so the children are dropped in every case, also on
 * error. Besides the outcomes documented above they return AX_ECANCELED when
 * the calling task is (or becomes) cancelled: the group and every child
 * still pending are dropped first (their results become AX_ECANCELED), and
 * AX_ENOTASK outside a task. Thread: task only. */

/* 0 when every child succeeded, else the first failure (see
 * ax_all_future_init). results may be NULL. */
int ax_all(ax_future *const *children, size_t n, intptr_t *results);

/* The first child's result to settle; *winner (if not NULL) gets its index,
 * or AX_NO_INDEX when none settled (cancelled, n == 0). */
intptr_t ax_race(ax_future *const *children, size_t n, size_t *winner);

/* The first success; AX_EFAILED when every child failed (their errors in
 * results[i]). *winner (if not NULL) gets the successful index or
 * AX_NO_INDEX. results may be NULL. */
intptr_t ax_any(ax_future *const *children, size_t n, size_t *winner, intptr_t *results);

/* Always 0 (or AX_ECANCELED / AX_ENOTASK); child i's outcome in results[i]
 * (may be NULL) and children[i]->result. */
int ax_all_settled(ax_future *const *children, size_t n, intptr_t *results);

/* Timeout: child's result if the child settles before deadline, else
 * AX_ETIMEDOUT, and the child is dropped unfinished (tokio's timeout,
 * Go's context.WithDeadline). The child is polled first, so a child that
 * is ready at the same poll as the deadline wins. AX_NO_DEADLINE: never
 * times out. The future owns the child (drops it, leaves a settled shell),
 * and the timer's storage is inside the future: no allocation. `elapsed`
 * (readable once ready) tells a timeout apart from a child that itself
 * failed with AX_ETIMEDOUT. Treat the other fields as private. */
typedef struct ax_timeout_future {
    ax_future base;
    bool elapsed;
    ax_future *child;
    ax_sleep_future timer;
    uint32_t state;
} ax_timeout_future;
void ax_timeout_future_init(ax_timeout_future *tf, ax_future *child, ax_instant deadline);

/* Awaits child with a deadline, as above; drops child in every case.
 * Returns its result, AX_ETIMEDOUT, AX_ECANCELED, or AX_ENOTASK. Same as
 * ax_await_until(child, deadline). Thread: task only. */
intptr_t ax_timeout(ax_future *child, ax_instant deadline);

/* Delay: ready ms milliseconds after init (not after the first poll), with
 * result `value` (which may be a negative AX_E* code: a future that fails
 * after a while). A sleep future that yields a value, like
 * `new Promise(r => setTimeout(() => r(v), ms))`; for a plain sleep use
 * ax_sleep_future or ax_sleep. Caller-owned, no allocation; dropping it
 * disarms its timer. Treat the fields as private. */
typedef struct ax_delay_future {
    ax_future base;
    intptr_t value;
    ax_sleep_future sleep;
} ax_delay_future;
void ax_delay_future_init(ax_delay_future *d, uint64_t ms, intptr_t value);

/* Retry: runs an operation, and while it fails with a retryable error runs
 * it again after an exponential backoff with jitter.
 *
 * The delay after the k-th failure (k = 1, 2, ...) is
 *   base_k = min(max_delay_ms, initial_delay_ms * factor^(k-1))
 *   delay_k = base_k * (1 - jitter * u), u uniform in [0, 1)
 * so jitter = 1 is "full jitter" (a delay anywhere in [0, base_k]), jitter = 0
 * is none. The random source is a xorshift64* generator held in the future,
 * seeded from the future's address and the clock: no global state. A zero
 * delay still lets other tasks run first (the retry yields). */
typedef struct ax_retry_policy {
    /* Attempts in all, the first included. 0: unlimited (until success, a
     * non-retryable error, or cancellation). */
    unsigned max_attempts;
    /* Base delay after the first failure. */
    uint64_t initial_delay_ms;
    /* Cap on the base delay. 0: no cap. */
    uint64_t max_delay_ms;
    /* Growth per failure; 0 means 2.0, values below 1 are taken as 1. */
    double factor;
    /* Fraction of each delay that is randomised, clamped to [0, 1]. */
    double jitter;
} ax_retry_policy;

/* Fills p with the defaults: 3 attempts, 100 ms initial delay, 10 s cap,
 * factor 2, full jitter (jitter = 1). */
void ax_retry_policy_init(ax_retry_policy *p);

/* The operation's callbacks; the struct (usually static const) and `arg`
 * must outlive the future. All are called from the thread that polls the
 * retry future, never concurrently. */
typedef struct ax_retry_ops {
    /* Required. Creates the future for attempt number `attempt` (1, 2, ...)
     * in storage that `arg` provides and stores it in *out; returns 0, or a
     * negative AX_E* code that ends the retry with that code. The retry
     * future owns the created future: it drops it (once it settles, or when
     * the retry is dropped) before calling make again, so one piece of
     * storage can serve every attempt. */
    int (*make)(void *arg, unsigned attempt, ax_future **out);
    /* Whether err (< 0) from an attempt may be retried. NULL: every error
     * except AX_ECANCELED. */
    bool (*retryable)(void *arg, intptr_t err);
    /* Called after attempt `attempt` failed with err and before sleeping
     * delay_ms for the next one (for logging and metrics). May be NULL. */
    void (*on_retry)(void *arg, unsigned attempt, intptr_t err, uint64_t delay_ms);
} ax_retry_ops;

/* Result: the first success (>= 0); else the error of the last attempt
 * once max_attempts are used up, or of the first attempt that failed with a
 * non-retryable error; or the code make() returned. `attempts` (readable at
 * any time) counts the attempts started. Owned by the caller; the policy is
 * copied. Treat the fields other than `attempts` as private. */
typedef struct ax_retry_future {
    ax_future base;
    unsigned attempts;
    uint32_t state;
    ax_retry_policy policy;
    const ax_retry_ops *ops;
    void *arg;
    ax_future *child;
    double base_delay;
    uint64_t rng;
    ax_sleep_future sleep;
} ax_retry_future;

/* policy NULL: the defaults. ops->make must not be NULL (else the future is
 * ready at once with AX_EINVAL). */
void ax_retry_future_init(ax_retry_future *rf, const ax_retry_policy *policy,
                          const ax_retry_ops *ops, void *arg);

/* Awaits a retry future built from these arguments: the result as above,
 * or AX_ECANCELED (the current attempt or backoff sleep is dropped), or
 * AX_ENOTASK. Thread: task only. */
intptr_t ax_retry(const ax_retry_policy *policy, const ax_retry_ops *ops, void *arg);

#ifdef __cplusplus
}
#endif
#endif
