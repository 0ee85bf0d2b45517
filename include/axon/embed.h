/* axon/embed.h - driving a runtime from a host's own event loop.
 *
 * A runtime created with flavor AX_RUNTIME_CURRENT_THREAD has no threads:
 * its tasks run on whichever thread drives it, inside ax_run, ax_block_on,
 * ax_run_once or ax_runtime_free. A host that has its own loop (a game loop,
 * a GUI toolkit, another reactor) adds ax_runtime_fd() to what it waits on,
 * bounds its wait by ax_runtime_timeout_ms(), and calls ax_run_once()
 * whenever either fires:
 *
 *     struct pollfd p = {ax_runtime_fd(rt), POLLIN, 0};
 *     for (;;) {
 *         poll(&p, 1, ax_runtime_timeout_ms(rt));   // plus the host's own fds
 *         ax_run_once(rt, 0);
 *     }
 *
 * One thread at a time may drive a runtime. Spawning onto it
 * (ax_spawn_on) and waking its tasks are thread-safe and make the
 * descriptor readable.
 */
#ifndef AXON_EMBED_H
#define AXON_EMBED_H

#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A descriptor that is readable when the runtime has work: I/O events,
 * a wake-up or a spawn from another thread. Owned by the runtime (do not
 * close or read it). Timers do not make it readable: see
 * ax_runtime_timeout_ms. Thread-safe. On Windows (a completion port,
 * which cannot be polled): -1; drive the runtime with ax_run_once and a
 * timeout instead, which a spawn from another thread wakes. */
int ax_runtime_fd(const ax_runtime *rt);

/* Milliseconds until the runtime needs to run again for its timers (0: now,
 * -1: no timer armed); also 0 while tasks are ready to run. Thread-safe. */
int ax_runtime_timeout_ms(ax_runtime *rt);

/* Runs, on the calling thread, every task that is ready (up to a batch of
 * 256, so the host keeps control), fires due timers and handles pending
 * I/O; if nothing was ready it first waits up to timeout_ms (0: do not
 * wait, -1: until something happens) for I/O, a wake-up or the next timer.
 * Returns the number of task polls made (>= 0), AX_EINVAL for a
 * multi-thread runtime, AX_EBUSY from inside a task or while another
 * thread drives the runtime. */
int ax_run_once(ax_runtime *rt, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
