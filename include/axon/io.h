/* axon/io.h - waiting on descriptors the embedder owns, and on signals.
 */
#ifndef AXON_IO_H
#define AXON_IO_H

#include "sys.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Suspends the current task until fd is readable (or has an error or hang-up
 * pending), or until deadline (AX_NO_DEADLINE: no limit). The descriptor
 * stays the caller's; Axon registers it with the reactor only for the
 * duration of the call (so it must not be closed by another thread while
 * the call waits). Returns 0, AX_ETIMEDOUT, AX_ECANCELED, AX_EBADF, or
 * another OS error from the registration. Task only. On Windows: after the
 * AX_ENOTASK and AX_EBADF (fd < 0) checks, AX_ENOTSUP (a completion port
 * cannot take a caller's descriptor for one wait). */
int ax_wait_readable(int fd, ax_instant deadline);

/* Same, for writability. */
int ax_wait_writable(int fd, ax_instant deadline);

/* Suspends the current task until one of the signals in `set` arrives and
 * returns its number (> 0), or AX_ETIMEDOUT / AX_ECANCELED. Every signal in
 * set must be in the runtime's ax_runtime_opts.signals, else AX_EINVAL.
 * A signal that arrives while nobody waits for it is kept (once per signal
 * number) and returned to the next waiter. When several tasks wait for the
 * same signal, each of them receives it. Task only. On Windows (no POSIX
 * signals): AX_ENOTSUP. */
int ax_signal_wait(const sigset_t *set, ax_instant deadline);

#ifdef __cplusplus
}
#endif
#endif
