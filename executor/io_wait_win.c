/* executor/io_wait_win.c - ax_wait_readable / ax_wait_writable on Windows.
 *
 * A completion port cannot take a handle for the length of one wait: the
 * association of a socket with a port lasts until the socket is closed, and
 * an embedder's descriptor may belong to another port already. So waiting
 * for readiness of a descriptor the caller owns is not offered there; both
 * calls return AX_ENOTSUP (sockets opened through net/ wait internally). */
#include "executor/internal.h"

int ax_wait_readable(int fd, ax_instant deadline) {
    (void)fd;
    (void)deadline;
    return AX_ENOTSUP;
}

int ax_wait_writable(int fd, ax_instant deadline) {
    (void)fd;
    (void)deadline;
    return AX_ENOTSUP;
}
