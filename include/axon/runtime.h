/* axon/runtime.h - creating, running and freeing an Axon runtime.
 *
 * A runtime owns its worker threads, run queues, reactor, timer wheels and
 * stack pools; nothing is global, so several runtimes can live in one
 * process. Tasks spawned on one runtime stay on it.
 *
 * After fork() a child must not touch the parent's runtime (its threads do
 * not exist in the child); create a new one there. Every descriptor the
 * runtime opens is close-on-exec.
 */
#ifndef AXON_RUNTIME_H
#define AXON_RUNTIME_H

#include "sys.h"
#include <stddef.h>
#include "future.h"
#include "task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_runtime_opts {
    /* Worker threads. 0: the AXON_WORKERS environment variable if set,
     * else the number of online CPUs. AXON_WORKERS overrides a 0 only. */
    unsigned workers;
    /* Usable bytes of each task stack, rounded up to whole pages; a guard
     * page below it is extra. 0: 256 KiB. Pages are committed on first
     * touch, so an idle task costs what it actually used. */
    size_t stack_size;
    /* Stacks each worker keeps for reuse once their task finishes.
     * 0: 64. Beyond that, up to 4096 more wait in a list all workers share.
     * A worker that goes idle unmaps all but 8 of its own and empties the
     * shared list, so a burst of suspended tasks leaves no memory behind
     * (ax_runtime_metrics.stacks_mapped counts what is mapped). */
    unsigned stack_cache;
    /* Signals ax_signal_wait may wait for, or NULL. They are blocked in the
     * thread that creates the runtime (and so in the workers, which inherit
     * the mask) and read through a signalfd (on macOS / BSD a kqueue of
     * EVFILT_SIGNAL filters). Create the runtime before any
     * other thread, or block the same signals in every thread, or the kernel
     * may deliver them elsewhere. */
    const sigset_t *signals; /* Windows: must be NULL (else AX_ENOTSUP) */
    /* AX_RUNTIME_MULTI_THREAD (default): `workers` threads of its own.
     * AX_RUNTIME_CURRENT_THREAD: no threads; tasks run on the thread that
     * calls ax_run, ax_block_on or ax_run_once (see axon/embed.h). */
    int flavor;
    /* Graceful shutdown: ax_runtime_free lets tasks run this long after
     * cancelling them before it gives up waiting for the ones that ignore
     * cancellation (they are then leaked, and reported on stderr).
     * 0: 5000 ms. */
    unsigned shutdown_timeout_ms;
    /* Blocking pool (ax_spawn_blocking): at most this many threads
     * (0: 64), each exiting after idle_ms without work (0: 10000). */
    unsigned blocking_max_threads;
    unsigned blocking_idle_ms;
} ax_runtime_opts;

enum { AX_RUNTIME_MULTI_THREAD = 0, AX_RUNTIME_CURRENT_THREAD = 1 };

/* Fills o with the defaults (all zero/NULL). */
void ax_runtime_opts_init(ax_runtime_opts *o);

/* Creates a runtime and starts its workers. opts may be NULL. On success
 * *out owns the runtime (free it with ax_runtime_free). Errors: AX_ENOMEM,
 * AX_EINVAL (bad option or AXON_WORKERS), AX_EMFILE and other OS errors from
 * creating the reactor (epoll + eventfd, or kqueue), the signal descriptor
 * or the threads. Thread-safe. */
int ax_runtime_new(ax_runtime **out, const ax_runtime_opts *opts);

/* Spawns main_fn(arg) as a task and blocks the calling thread until it ends;
 * stores its return value in *result (if result is not NULL). Returns 0 if
 * the task completed, else its final error (AX_ECANCELED, AX_ENOMEM, ...).
 * Other tasks keep running after it returns. Thread-safe, not from a task
 * (AX_EBUSY). */
int ax_run(ax_runtime *rt, void *(*main_fn)(void *), void *arg, void **result);

/* Graceful stop. From now on spawns from outside the runtime fail with
 * AX_ESHUTDOWN (tasks may still spawn helpers); tasks get up to grace_ms to
 * end on their own; then every task still alive is cancelled (each
 * suspending call returns AX_ECANCELED, on-cancel hooks run) and awaited.
 * Tasks that ignore cancellation longer than the runtime's
 * shutdown_timeout_ms are reported on stderr, and still awaited: a task
 * cannot be stopped from outside. Returns how many tasks had to be
 * cancelled. Call ax_runtime_free afterwards. Not from one of rt's tasks
 * (AX_EBUSY). Thread-safe. */
int ax_runtime_shutdown(ax_runtime *rt, unsigned grace_ms);

/* Stops the runtime (ax_runtime_shutdown with no grace, if it was not shut
 * down yet), joins the workers and frees all memory, stacks and
 * descriptors. Not from one of rt's tasks. NULL is a no-op. */
void ax_runtime_free(ax_runtime *rt);

/* The runtime the calling task or worker belongs to, NULL elsewhere. */
ax_runtime *ax_current_runtime(void);

/* Number of worker threads of rt. */
unsigned ax_runtime_workers(const ax_runtime *rt);

/* Total number of stacks the runtime may keep alive at once before spawn
 * fails with AX_ENOMEM, as computed from vm.max_map_count (each guarded
 * stack costs two kernel mappings). */
size_t ax_runtime_max_live_stacks(const ax_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif
