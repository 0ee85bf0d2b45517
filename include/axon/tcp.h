/* axon/tcp.h - TCP listeners and connections.
 *
 * A connection is a stream (axon/stream.h): ax_tcp_stream() gives the
 * interface that buffered readers, TLS and HTTP take, and the ax_tcp_*
 * transfer calls below are the same operations under TCP names.
 *
 * Sockets are nonblocking, close-on-exec and registered with the reactor of
 * the runtime they were made on (the calling task's); they can be used from
 * any task of that runtime. Writes never raise SIGPIPE (MSG_NOSIGNAL).
 *
 * Every suspending call takes a deadline (AX_NO_DEADLINE: none) and
 * returns AX_ETIMEDOUT when it passes and AX_ECANCELED when the task is
 * cancelled, and AX_ENOTASK outside a task.
 *
 * listen / bind consult the runtime's permission policy with the local
 * address (AX_EPOLICY when denied); connect consults it with the peer's
 * address, or with the host name as given for ax_tcp_connect_host, before
 * the look-up (allowing a name allows whatever it resolves to; see
 * axon/policy.h). The reason for a denial is not returned: ask
 * ax_policy_check_connect with the same host for it.
 *
 * Thread-safety: a listener or connection may be used from one task per
 * direction at a time (one reader and one writer; one acceptor). Closing
 * races with nothing: no task may be inside a call on it.
 */
#ifndef AXON_TCP_H
#define AXON_TCP_H

#include <stdbool.h>
#include "sys.h"
#include "addr.h"
#include "future.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_tcp ax_tcp;
typedef struct ax_tcp_listener ax_tcp_listener;

typedef struct ax_tcp_listen_opts {
    int backlog;     /* listen() backlog; 0: 1024 (the kernel caps it at somaxconn) */
    bool reuse_addr; /* SO_REUSEADDR; on by default, as in Go and tokio */
    bool reuse_port; /* SO_REUSEPORT: several listeners share the port
                      * (Windows: none, AX_ENOTSUP) */
    bool v6_only;    /* IPV6_V6ONLY for an IPv6 address; off: dual stack */
} ax_tcp_listen_opts;

/* Fills o with the defaults above. */
void ax_tcp_listen_opts_init(ax_tcp_listen_opts *o);

/* Binds and listens on addr (port 0: an ephemeral port; read it back with
 * ax_tcp_listener_addr). opts NULL: defaults. Returns 0 with *out set (the
 * caller owns it: ax_tcp_listener_close), or AX_EPOLICY, AX_EADDRINUSE,
 * AX_EACCES, AX_EADDRNOTAVAIL, AX_EMFILE, AX_ENOTASK, ... Does not
 * suspend. Task only. */
int ax_tcp_listen(const ax_addr *addr, const ax_tcp_listen_opts *opts, ax_tcp_listener **out);

/* Waits for a connection. *out: the new connection (the caller owns it);
 * peer (may be NULL): its address. Returns 0, AX_ETIMEDOUT, AX_ECANCELED,
 * AX_EMFILE (the connection stays queued; retry later), AX_EBADF after the
 * listener was shut down, or AX_E*. Aborted connections (ECONNABORTED) are
 * skipped. Task only. */
int ax_tcp_accept(ax_tcp_listener *l, ax_tcp **out, ax_addr *peer, ax_instant deadline);
/* The poll form for engines: AX_READY with *res 0 and *out set, or *res
 * an AX_E*. */
ax_poll ax_tcp_poll_accept(ax_tcp_listener *l, ax_context *cx, ax_tcp **out, ax_addr *peer,
                           int *res);
int ax_tcp_listener_addr(const ax_tcp_listener *l, ax_addr *out);
int ax_tcp_listener_fd(const ax_tcp_listener *l);
/* Closes and frees the listener. NULL is a no-op. */
void ax_tcp_listener_close(ax_tcp_listener *l);

/* Connects to one address. Returns 0 with *out (the caller owns it), or
 * AX_ECONNREFUSED, AX_ETIMEDOUT, AX_ENETUNREACH, AX_EHOSTUNREACH,
 * AX_EPOLICY, AX_ECANCELED, ... Task only. */
int ax_tcp_connect(const ax_addr *addr, ax_instant deadline, ax_tcp **out);

/* Connects to the first of n addresses that answers, Happy Eyeballs style
 * (RFC 8305): the list is reordered to alternate families starting with
 * the first address's, and a new attempt starts every delay_ms (0: 250)
 * or as soon as the previous one fails, while earlier attempts continue;
 * the first to connect wins and the others are closed. Returns 0 or the
 * error of the last attempt to fail (AX_ETIMEDOUT at the deadline). Task
 * only. */
int ax_tcp_connect_addrs(const ax_addr *addrs, size_t n, unsigned delay_ms, ax_instant deadline,
                         ax_tcp **out);

/* Resolves host (a name or an address literal) with ax_resolve (both
 * families, at most 16 addresses, IPv6 first) and connects to the results
 * Happy Eyeballs style as ax_tcp_connect_addrs does. The deadline covers
 * the look-up and the connect. Errors as both, including the resolver's
 * (AX_ENXDOMAIN, AX_ESERVFAIL, AX_ENOADDR, ...). Task only. */
int ax_tcp_connect_host(const char *host, uint16_t port, ax_instant deadline, ax_tcp **out);

/* The connection as a stream (valid until the connection is closed). */
ax_stream *ax_tcp_stream(ax_tcp *c);

/* Transfers; see axon/stream.h for their meaning. Task only. */
ssize_t ax_tcp_read(ax_tcp *c, void *buf, size_t len, ax_instant deadline);
ssize_t ax_tcp_write(ax_tcp *c, const void *buf, size_t len, ax_instant deadline);
ssize_t ax_tcp_readv(ax_tcp *c, const struct iovec *iov, int iovcnt, ax_instant deadline);
ssize_t ax_tcp_writev(ax_tcp *c, const struct iovec *iov, int iovcnt, ax_instant deadline);
int ax_tcp_read_exact(ax_tcp *c, void *buf, size_t len, ax_instant deadline);
int ax_tcp_write_all(ax_tcp *c, const void *buf, size_t len, ax_instant deadline);

/* Sends count bytes of file_fd from *offset with sendfile(2) (no copy
 * through user space), advancing *offset. Returns the bytes sent (less
 * than count only when the file ended first) or AX_E*. Task only.
 * Windows: AX_ENOTSUP. */
ssize_t ax_tcp_sendfile(ax_tcp *c, int file_fd, off_t *offset, size_t count, ax_instant deadline);

/* ax_tcp_sendfile over a stream: when s is the stream of a TCP or Unix
 * stream socket (ax_tcp_stream, ax_unix_stream), as ax_tcp_sendfile;
 * AX_ENOTSUP at once, sending nothing, for any other stream (TLS, files,
 * user streams: copy through a buffer instead) and on Windows. A count
 * of 0 sends nothing and returns 0 where sendfile would be used: a way to
 * ask before committing to it. Lets a layer above net/ (http/'s static
 * files) use sendfile without knowing which streams are sockets. Task
 * only. */
ssize_t ax_stream_sendfile(ax_stream *s, int file_fd, off_t *offset, size_t count,
                           ax_instant deadline);

enum { AX_SHUT_RD = 0, AX_SHUT_WR = 1, AX_SHUT_RDWR = 2 };
/* shutdown(2): AX_SHUT_WR sends FIN after queued data; a task blocked in a
 * read on this connection sees end of stream after AX_SHUT_RD/RDWR. Does
 * not suspend. Any thread. */
int ax_tcp_shutdown(ax_tcp *c, int how);
/* Closes and frees the connection. NULL is a no-op. */
void ax_tcp_close(ax_tcp *c);

/* Socket options. Each returns 0 or AX_E*; any thread. */
int ax_tcp_set_nodelay(ax_tcp *c, bool on);
/* on: SO_KEEPALIVE with the first probe after idle_s seconds and then
 * every interval_s (0: the system's defaults). */
int ax_tcp_set_keepalive(ax_tcp *c, bool on, unsigned idle_s, unsigned interval_s);
/* secs < 0: linger off (the default); secs >= 0: close() waits up to secs
 * for unsent data (0: close resets the connection). */
int ax_tcp_set_linger(ax_tcp *c, int secs);
int ax_tcp_set_recv_buffer(ax_tcp *c, int bytes);
int ax_tcp_set_send_buffer(ax_tcp *c, int bytes);
/* The kernel's buffer sizes now (Linux doubles the requested value). */
int ax_tcp_recv_buffer(const ax_tcp *c);
int ax_tcp_send_buffer(const ax_tcp *c);

int ax_tcp_local_addr(const ax_tcp *c, ax_addr *out);
int ax_tcp_peer_addr(const ax_tcp *c, ax_addr *out);
/* The descriptor (on Windows the SOCKET's value; Windows hands out small
 * ones), owned by the connection. */
int ax_tcp_fd(const ax_tcp *c);

#ifdef __cplusplus
}
#endif
#endif
