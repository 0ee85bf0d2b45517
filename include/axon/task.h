/* axon/task.h - tasks: stackful coroutines run by the executor.
 *
 * A task runs fn(arg) on its own stack; inside it, Axon calls that would
 * block suspend only the task. Lifecycle (see ax_task_state):
 *   PENDING (spawned, not yet run) -> RUNNING (started; running or
 *   suspended) -> COMPLETED | FAILED | CANCELLED.
 * A task's stack is taken from its worker's pool when it first runs and
 * given back the moment it ends, so queued tasks cost no stack.
 *
 * Cancellation is cooperative: ax_abort() marks the task, and from then on
 * every suspending call in it returns AX_ECANCELED at once. A task aborted
 * before it ever ran ends CANCELLED without running. A task that was
 * aborted ends CANCELLED even if its function then returns normally (its
 * return value is still kept).
 */
#ifndef AXON_TASK_H
#define AXON_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_task ax_task;
typedef void *(*ax_task_fn)(void *arg);

typedef enum ax_task_state {
    AX_TASK_PENDING = 0,
    AX_TASK_RUNNING = 1,
    AX_TASK_COMPLETED = 2,
    AX_TASK_FAILED = 3,
    AX_TASK_CANCELLED = 4,
} ax_task_state;

/* Spawns fn(arg) on the current runtime. With out, *out receives a join
 * handle the caller owns (release it with ax_join or ax_detach); with
 * out == NULL the task is detached. Errors: AX_ENOTASK outside a task or
 * worker (use ax_spawn_on), AX_ESHUTDOWN while the runtime stops, AX_ENOMEM.
 * The task struct comes from a per-worker slab: no malloc in steady state. */
int ax_spawn(ax_task **out, ax_task_fn fn, void *arg);

/* Like ax_spawn, on runtime rt, from any thread. Thread-safe. */
int ax_spawn_on(ax_runtime *rt, ax_task **out, ax_task_fn fn, void *arg);

/* Waits for t to end and releases the handle (always, even on error).
 * Stores fn's return value in *result when result is not NULL and the
 * function returned. Returns 0 (COMPLETED), AX_ECANCELED (t was cancelled, or
 * the caller was cancelled while waiting), or t's failure code (FAILED:
 * AX_ENOMEM when no stack could be had, or the code given to ax_task_exit).
 * Task only (AX_ENOTASK elsewhere; ax_block_on with ax_join_future_init
 * serves plain threads).
 * If t has not started and is the task the caller's worker queued last (a
 * child spawned just before, say), ax_join runs it at once, on its own
 * stack and on the caller's thread, before anything else queued there (a
 * help-first join, as in Cilk or rayon). Results and cancellation are as
 * for any join; should t wait or yield before it ends, the caller goes back
 * to waiting for it the usual way. The join future never runs its task. */
int ax_join(ax_task *t, void **result);

/* The join operation as a future, for combinators and ax_block_on. The
 * future takes over the handle: once it is dropped the handle is released.
 * result: 0, AX_ECANCELED or the failure code; *value gets fn's return. */
typedef struct ax_join_future {
    ax_future base;
    ax_task *task;
    void *value;
} ax_join_future;
void ax_join_future_init(ax_join_future *jf, ax_task *t);

/* Releases the handle; the task runs on and frees itself when it ends. */
void ax_detach(ax_task *t);

/* Requests cancellation of t (see above). Idempotent; the handle stays
 * valid. Thread-safe. */
void ax_abort(ax_task *t);

/* t's current state. Thread-safe (a snapshot). */
ax_task_state ax_task_status(const ax_task *t);

/* t's id: unique per runtime, never 0. Thread-safe. */
uint64_t ax_task_id(const ax_task *t);

/* The running task's id, or 0 outside a task. */
uint64_t ax_current_task_id(void);

/* The running task itself, or NULL outside a task. The pointer is
 * borrowed (no join handle is created, nothing to release): it is valid
 * for ax_abort, ax_task_status and ax_task_id only while the task has not
 * ended, which the caller must know by other means (a watchdog that aborts
 * a task stuck in one step, say). */
ax_task *ax_task_self(void);

/* Lets other ready tasks run, then resumes. Returns 0, or AX_ECANCELED if
 * the task is cancelled. Task only (AX_ENOTASK elsewhere). */
int ax_yield(void);

/* True when the current task has been asked to cancel. */
bool ax_is_cancelled(void);

/* Ends the current task at once, as if fn had returned value; err != 0 makes
 * the final state FAILED with that code (what ax_join returns). Nothing on
 * the task's stack is unwound: release what you hold first. Task only. */
_Noreturn void ax_task_exit(void *value, int err);

#ifdef __cplusplus
}
#endif
#endif
