/* net/unix_win.c - Unix-domain sockets on Windows: not offered. Windows 10
 * has AF_UNIX stream sockets, but without datagrams, abstract names,
 * socketpair, descriptor passing or peer credentials, and wine 8 (where the
 * suite runs) does not provide them reliably; so every call returns
 * AX_ENOTSUP (after clearing its out-pointers), and no ax_unix object ever
 * exists there. The close calls accept NULL and do nothing. */
#include "axon/unix.h"

#include "axon/error.h"

#include <stddef.h>

int ax_unix_listen(const char *name, const ax_unix_listen_opts *opts, ax_unix_listener **out) {
    (void)name;
    (void)opts;
    if (out) *out = NULL;
    return AX_ENOTSUP;
}

int ax_unix_accept(ax_unix_listener *l, ax_unix **out, ax_instant deadline) {
    (void)l;
    (void)deadline;
    if (out) *out = NULL;
    return AX_ENOTSUP;
}

ax_poll ax_unix_poll_accept(ax_unix_listener *l, ax_context *cx, ax_unix **out, int *res) {
    (void)l;
    (void)cx;
    if (out) *out = NULL;
    *res = AX_ENOTSUP;
    return AX_READY;
}

int ax_unix_listener_addr(const ax_unix_listener *l, ax_unix_addr *out) {
    (void)l;
    (void)out;
    return AX_ENOTSUP;
}

int ax_unix_listener_fd(const ax_unix_listener *l) {
    (void)l;
    return AX_ENOTSUP;
}

void ax_unix_listener_close(ax_unix_listener *l) {
    (void)l;
}

int ax_unix_connect(const char *name, ax_instant deadline, ax_unix **out) {
    (void)name;
    (void)deadline;
    if (out) *out = NULL;
    return AX_ENOTSUP;
}

int ax_unix_pair(ax_unix **a, ax_unix **b) {
    if (a) *a = NULL;
    if (b) *b = NULL;
    return AX_ENOTSUP;
}

ax_stream *ax_unix_stream(ax_unix *c) {
    (void)c;
    return NULL;
}

ssize_t ax_unix_read(ax_unix *c, void *buf, size_t len, ax_instant deadline) {
    (void)c, (void)buf, (void)len, (void)deadline;
    return AX_ENOTSUP;
}

ssize_t ax_unix_write(ax_unix *c, const void *buf, size_t len, ax_instant deadline) {
    (void)c, (void)buf, (void)len, (void)deadline;
    return AX_ENOTSUP;
}

int ax_unix_read_exact(ax_unix *c, void *buf, size_t len, ax_instant deadline) {
    (void)c, (void)buf, (void)len, (void)deadline;
    return AX_ENOTSUP;
}

int ax_unix_write_all(ax_unix *c, const void *buf, size_t len, ax_instant deadline) {
    (void)c, (void)buf, (void)len, (void)deadline;
    return AX_ENOTSUP;
}

ssize_t ax_unix_send_fds(ax_unix *c, const void *buf, size_t len, const int *fds, size_t nfds,
                         ax_instant deadline) {
    (void)c, (void)buf, (void)len, (void)fds, (void)nfds, (void)deadline;
    return AX_ENOTSUP;
}

ssize_t ax_unix_recv_fds(ax_unix *c, void *buf, size_t len, int *fds, size_t *nfds, unsigned *flags,
                         ax_instant deadline) {
    (void)c, (void)buf, (void)len, (void)fds, (void)deadline;
    if (nfds) *nfds = 0;
    if (flags) *flags = 0;
    return AX_ENOTSUP;
}

int ax_unix_peer_cred(const ax_unix *c, ax_unix_cred *out) {
    (void)c, (void)out;
    return AX_ENOTSUP;
}

int ax_unix_shutdown(ax_unix *c, int how) {
    (void)c, (void)how;
    return AX_ENOTSUP;
}

int ax_unix_local_addr(const ax_unix *c, ax_unix_addr *out) {
    (void)c, (void)out;
    return AX_ENOTSUP;
}

int ax_unix_peer_addr(const ax_unix *c, ax_unix_addr *out) {
    (void)c, (void)out;
    return AX_ENOTSUP;
}

int ax_unix_fd(const ax_unix *c) {
    (void)c;
    return AX_ENOTSUP;
}

void ax_unix_close(ax_unix *c) {
    (void)c;
}

int ax_unix_dgram_bind(const char *name, ax_unix_dgram **out) {
    (void)name;
    if (out) *out = NULL;
    return AX_ENOTSUP;
}

int ax_unix_dgram_unbound(ax_unix_dgram **out) {
    if (out) *out = NULL;
    return AX_ENOTSUP;
}

int ax_unix_dgram_pair(ax_unix_dgram **a, ax_unix_dgram **b) {
    if (a) *a = NULL;
    if (b) *b = NULL;
    return AX_ENOTSUP;
}

int ax_unix_dgram_connect(ax_unix_dgram *d, const char *name) {
    (void)d, (void)name;
    return AX_ENOTSUP;
}

ssize_t ax_unix_dgram_send_to(ax_unix_dgram *d, const void *buf, size_t len, const char *name,
                              ax_instant deadline) {
    (void)d, (void)buf, (void)len, (void)name, (void)deadline;
    return AX_ENOTSUP;
}

ssize_t ax_unix_dgram_send(ax_unix_dgram *d, const void *buf, size_t len, ax_instant deadline) {
    (void)d, (void)buf, (void)len, (void)deadline;
    return AX_ENOTSUP;
}

ssize_t ax_unix_dgram_recv_from(ax_unix_dgram *d, void *buf, size_t len, ax_unix_addr *from,
                                unsigned *flags, ax_instant deadline) {
    (void)d, (void)buf, (void)len, (void)from, (void)deadline;
    if (flags) *flags = 0;
    return AX_ENOTSUP;
}

ssize_t ax_unix_dgram_recv(ax_unix_dgram *d, void *buf, size_t len, unsigned *flags,
                           ax_instant deadline) {
    return ax_unix_dgram_recv_from(d, buf, len, NULL, flags, deadline);
}

int ax_unix_dgram_local_addr(const ax_unix_dgram *d, ax_unix_addr *out) {
    (void)d, (void)out;
    return AX_ENOTSUP;
}

int ax_unix_dgram_fd(const ax_unix_dgram *d) {
    (void)d;
    return AX_ENOTSUP;
}

void ax_unix_dgram_close(ax_unix_dgram *d) {
    (void)d;
}
