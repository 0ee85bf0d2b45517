/* axon/blocking.h - running blocking code (a system call with no async
 * form, a compression, a library that blocks) on the runtime's blocking
 * pool, so the workers keep running tasks meanwhile.
 *
 * The pool. Each runtime has one, created on first use: a job queue and up
 * to ax_runtime_opts.blocking_max_threads threads (default 64), started
 * only when a job finds no idle thread, each exiting after
 * blocking_idle_ms without work (default 10 s). Jobs beyond the bound wait
 * in the queue, first in, first out. Pool threads block every asynchronous
 * signal, so signals meant for ax_signal_wait are never taken there.
 *
 * A running job cannot be interrupted: C has no safe way to stop a thread
 * in the middle of someone else's code. So cancelling the task that waits
 * for a job must settle who owns the job's memory, and the two forms below
 * settle it differently:
 *
 *   ax_spawn_blocking   the waiting task keeps its memory: cancellation
 *                       waits for a running job to finish, so fn's arg may
 *                       point into the task's stack.
 *   ax_blocking_future  the job owns its memory: dropping the future
 *                       before it completes (cancellation, a timeout, a
 *                       race lost) detaches the job, which runs on and
 *                       releases its argument and result itself.
 *
 * Shutdown (ax_runtime_shutdown, ax_runtime_free): once the runtime's
 * tasks have ended, the pool takes no new job (AX_ESHUTDOWN); jobs still
 * queued are not run (they complete with AX_ESHUTDOWN, and their free_arg
 * runs); running jobs get ax_runtime_opts.shutdown_timeout_ms to finish.
 * After that their threads are left to finish alone, their futures are
 * never completed, and the runtime reports how many on stderr. A task
 * cancelled while it waits in ax_spawn_blocking ends only when its job
 * does, so shutdown waits for that job as for any task still running.
 */
#ifndef AXON_BLOCKING_H
#define AXON_BLOCKING_H

#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*ax_blocking_fn)(void *arg);

/* Runs fn(arg) on the blocking pool and suspends the calling task until it
 * returns; stores fn's return value in *result (if result is not NULL).
 *
 * Returns 0 when fn ran. Cancellation of the task:
 *   - before the job started (it was still queued, or the task was already
 *     cancelled): the job is taken out of the queue and never runs;
 *     AX_ECANCELED at once, *result = NULL;
 *   - while fn runs: the call keeps waiting until fn has returned, then
 *     returns AX_ECANCELED with *result = fn's return value (so the caller
 *     can release it).
 * So when this returns, fn is not running and will never run: arg may point
 * into the task's stack, and fn may write there.
 * Other errors: AX_ENOTASK (not in a task), AX_EINVAL (fn NULL),
 * AX_ENOMEM, AX_EAGAIN (no pool thread could be started and none runs),
 * AX_ESHUTDOWN (the runtime is shutting down; also when the job was queued
 * when shutdown began). Task only. */
int ax_spawn_blocking(ax_blocking_fn fn, void *arg, void **result);

/* The detachable form: a future for a job that owns its memory.
 *
 * The job starts when ax_blocking_start returns 0: from then on arg
 * belongs to the job. free_arg (may be NULL) runs exactly once: on the pool
 * thread right after fn returns (so before the future is ready), or, if fn
 * never runs, on the thread that gives up on the job (the one shutting the
 * pool down, or one that found no pool thread could be started).
 *
 * Awaiting the future gives fn's return value in `value`. When nobody will
 * receive it because the future was dropped first, free_result (may be
 * NULL) releases it: on the pool thread if the future was dropped while fn
 * ran or waited, or in the drop if fn had already returned. After the
 * future's drop the job never touches the future's memory or the awaiting
 * task's.
 *
 * result, once ready: 0 (fn ran; `value` holds its return value, now the
 * caller's), AX_ESHUTDOWN (the pool shut down before fn ran), AX_EAGAIN
 * (fn never ran: the pool had no thread and none could be started), or the
 * error ax_blocking_start returned.
 *
 * The future is the caller's storage; initialise it with ax_blocking_start
 * and release it with ax_future_drop (ax_await, ax_block_on and the
 * combinators drop it for you). Treat the fields as private, except
 * `value` after the future is ready. */
typedef struct ax_blocking_future {
    ax_future base;
    struct ax__bjob *job;
    void *value;
} ax_blocking_future;

/* Starts fn(arg) on rt's blocking pool (rt NULL: the current task's or
 * worker's runtime) and initialises bf to wait for it. Returns 0, or an
 * error: AX_ENOTASK (rt NULL outside a runtime), AX_EINVAL (fn or bf
 * NULL), AX_ENOMEM, AX_EAGAIN (no pool thread could be started and none
 * runs), AX_ESHUTDOWN. On error arg stays the caller's (free_arg is not
 * called) and bf is still a valid future, ready with that error.
 * Thread-safe, from tasks and plain threads alike. */
int ax_blocking_start(ax_blocking_future *bf, ax_runtime *rt, ax_blocking_fn fn, void *arg,
                      void (*free_arg)(void *arg), void (*free_result)(void *result));

#ifdef __cplusplus
}
#endif
#endif
