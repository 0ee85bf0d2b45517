/* executor/io_wait_win.c - ax_wait_readable / ax_wait_writable on Windows.
 *
 * A completion port cannot take a handle for the length of one wait: the
 * association of a socket with a port lasts until the socket is closed, and
 * an embedder's descriptor may belong to another port already. So waiting
 * for readiness of a descriptor the caller owns is not offered there; both
 * calls return AX_ENOTSUP (sockets opened through net/ wait internally),
 * after the AX_ENOTASK and AX_EBADF checks every OS makes. */
#include "executor/internal.h"

/* The argument checks Linux makes come first, so the errors agree. */
static int ax__wait_fd(int fd) {
    if (!ax__task_current()) return AX_ENOTASK;
    if (fd < 0) return AX_EBADF;
    return AX_ENOTSUP;
}

int ax_wait_readable(int fd, ax_instant deadline) {
    (void)deadline;
    return ax__wait_fd(fd);
}

int ax_wait_writable(int fd, ax_instant deadline) {
    (void)deadline;
    return ax__wait_fd(fd);
}
