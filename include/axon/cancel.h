/* axon/cancel.h - structured concurrency: scopes, cancellation hooks,
 * shields and brackets.
 *
 * Cancellation is cooperative (see task.h): ax_abort marks a task, and from
 * then on its suspending calls return AX_ECANCELED. The tools here make
 * clean-up dependable:
 *   - a scope owns the tasks spawned through it: leaving it joins them all,
 *     and cancels them first when asked to (or when the owner itself was
 *     cancelled), so no child outlives its parent's block;
 *   - an on-cancel hook runs in the task the moment it first learns it is
 *     cancelled (or when it ends, if it never looked);
 *   - a shield lets clean-up code await (close a connection gracefully,
 *     flush a log) even though the task is cancelled;
 *   - a bracket runs acquire / use / release, and release always runs,
 *     shielded.
 * All of it is task-only unless said otherwise, and allocates nothing: the
 * scope, the hook and the bracket state are the caller's storage.
 */
#ifndef AXON_CANCEL_H
#define AXON_CANCEL_H

#include <stdbool.h>
#include <stddef.h>
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A scope: caller storage, initialised by ax_scope_init, ended by
 * ax_scope_join or ax_scope_cancel (exactly one of them). Not shared
 * between tasks: spawn through it from the owning task only. */
typedef struct ax_scope {
    ax_task *children; /* linked through the tasks, see executor/cancel.c */
    size_t count;
    int first_error;
} ax_scope;

void ax_scope_init(ax_scope *s);

/* Spawns fn(arg) as a child of the scope. The scope holds the join handle;
 * *out, if not NULL, receives a borrowed pointer usable until the scope
 * ends (for ax_abort or ax_task_status). Errors: as ax_spawn. */
int ax_scope_spawn(ax_scope *s, ax_task **out, ax_task_fn fn, void *arg);

/* Ends the scope by joining every child. If the calling task is cancelled
 * (before or while it waits), the children are cancelled first and still
 * joined: no child is left running. Returns 0 when every child completed,
 * else the first child failure or cancellation code in spawn order
 * (AX_ECANCELED, a failure code), or AX_ECANCELED when the caller was
 * cancelled. */
int ax_scope_join(ax_scope *s);

/* Ends the scope by cancelling every child and joining them all. Returns 0
 * or, as ax_scope_join, the first child's failure code other than
 * cancellation. */
int ax_scope_cancel(ax_scope *s);

/* An on-cancel hook: caller storage (usually on the task's stack), pushed
 * with ax_on_cancel and popped with ax_on_cancel_pop in LIFO order before
 * that storage goes away. fn(arg) runs at most once, in the task itself,
 * when the task first observes its cancellation (a suspending call
 * returning AX_ECANCELED, ax_is_cancelled() returning true), or when a
 * cancelled task calls ax_task_exit, whichever comes first; hooks run
 * newest first, shielded (they may await). Hooks still pushed when the
 * task function returns are forgotten, not run: their frames are gone. */
typedef struct ax_cancel_hook {
    void (*fn)(void *arg);
    void *arg;
    struct ax_cancel_hook *next;
    bool ran;
} ax_cancel_hook;

/* Pushes h (filled in here). Returns 0, or AX_ENOTASK outside a task. If
 * the task is already cancelled the hook runs now. */
int ax_on_cancel(ax_cancel_hook *h, void (*fn)(void *), void *arg);

/* Pops h, which must be the newest hook; returns whether it ran. */
bool ax_on_cancel_pop(ax_cancel_hook *h);

/* Shields: between ax_shield_begin and ax_shield_end (nested pairs
 * count), suspending calls of the current task behave as if it were not
 * cancelled, so clean-up can await. The cancellation is remembered and
 * seen again after the outermost end. Keep shielded sections short and
 * bounded (give their waits deadlines). Task only; no-ops elsewhere. */
void ax_shield_begin(void);
void ax_shield_end(void);

/* acquire(ctx) -> 0 or an error; use(ctx) -> a result code; release(ctx)
 * runs whenever acquire succeeded, shielded from cancellation, even when
 * use failed or the task was cancelled. Returns acquire's error if it
 * failed, else use's result. */
int ax_bracket(int (*acquire)(void *ctx), int (*use)(void *ctx), void (*release)(void *ctx),
               void *ctx);

#ifdef __cplusplus
}
#endif
#endif
