/* axon/unix.h - Unix domain sockets: stream listeners and connections,
 * socket pairs, datagram sockets, descriptor passing and peer credentials.
 * On Windows every call returns AX_ENOTSUP (net/unix_win.c says why).
 *
 * A stream connection is a stream (axon/stream.h): ax_unix_stream() gives
 * the interface buffered readers, TLS and HTTP take, and the ax_unix_*
 * transfer calls are the same operations under Unix names.
 *
 * Names. A name is a NUL-terminated string:
 *   "/run/app.sock", "rel.sock"  a path in the file system (relative to the
 *                                current directory); at most 107 bytes
 *                                (sun_path holds 108 with the NUL);
 *   "@name"                      Linux's abstract namespace, as in Go: the
 *                                socket has no file, lives as long as it is
 *                                open, and the name is the bytes after '@'
 *                                (at most 107; a name cannot hold a NUL
 *                                byte). Elsewhere: AX_ENOTSUP.
 *   "@"                          (bind only) the kernel picks a unique
 *                                abstract name ("autobind"); read it back
 *                                with the *_addr calls.
 * A longer name is AX_ENAMETOOLONG; "" is AX_EINVAL. Names read back
 * (local, peer, sender) use the same notation, and "" for an unnamed
 * socket (a socketpair end, an unbound datagram sender).
 *
 * Sockets are nonblocking, close-on-exec and registered with the reactor of
 * the runtime they were made on (the calling task's); they can be used from
 * any task of that runtime. Writes never raise SIGPIPE (MSG_NOSIGNAL).
 *
 * Every suspending call takes a deadline (AX_NO_DEADLINE: none) and returns
 * AX_ETIMEDOUT when it passes, AX_ECANCELED when the task is cancelled and
 * AX_ENOTASK outside a task; a timed-out or cancelled call transferred
 * nothing (and received no descriptors).
 *
 * Policy. Binding or connecting to a path in the file system consults the
 * runtime's permission policy as a write of that path (creating a socket
 * file writes the directory; connecting needs write permission on the
 * socket), so a sandboxed program reaches only the sockets under its write
 * roots: AX_EPOLICY otherwise. Abstract names and socket pairs have no file
 * and are not checked.
 *
 * Ownership. Every object returned through an out-parameter belongs to the
 * caller, who closes it with the matching close call. Buffers, names and
 * descriptor arrays passed in are borrowed for the call only.
 *
 * Thread-safety: a listener or socket may be used from one task per
 * direction at a time (one reader and one writer; one acceptor); the
 * address, credential and descriptor getters from any thread. Closing
 * races with nothing: no task may be inside a call on it.
 */
#ifndef AXON_UNIX_H
#define AXON_UNIX_H

#include <stdbool.h>
#include <stddef.h>
#include "sys.h"
#include "future.h"
#include "stream.h"
#include "tcp.h" /* AX_SHUT_RD, AX_SHUT_WR, AX_SHUT_RDWR */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_unix ax_unix;                   /* a stream connection */
typedef struct ax_unix_listener ax_unix_listener; /* a listening stream socket */
typedef struct ax_unix_dgram ax_unix_dgram;       /* a datagram socket */

/* Longest name, '@' for abstract ones included, without the NUL. */
#define AX_UNIX_NAME_MAX 107

/* A name read back from the kernel, in the notation above. */
typedef struct ax_unix_addr {
    char name[AX_UNIX_NAME_MAX + 2];
} ax_unix_addr;

/* --- stream listeners ---------------------------------------------------------- */

typedef struct ax_unix_listen_opts {
    int backlog;    /* listen() backlog; 0: 1024 (capped by somaxconn) */
    bool keep_path; /* false (the default, as in Go): closing the listener
                     * unlinks the socket file it created */
} ax_unix_listen_opts;

/* Binds a stream socket to name and listens. A file already at the path is
 * not removed: AX_EADDRINUSE (remove a stale socket file first). opts may
 * be NULL (defaults). Returns 0 with *out, or AX_EINVAL, AX_ENAMETOOLONG,
 * AX_EPOLICY, AX_EADDRINUSE, AX_EACCES, AX_ENOENT (no such directory),
 * AX_ENOTSUP, AX_ENOTASK, ... Does not suspend. Task only. */
int ax_unix_listen(const char *name, const ax_unix_listen_opts *opts, ax_unix_listener **out);

/* Waits for a connection; *out receives it. Returns 0, AX_ETIMEDOUT,
 * AX_ECANCELED, AX_EMFILE (the connection stays queued), or AX_E*. Task
 * only. */
int ax_unix_accept(ax_unix_listener *l, ax_unix **out, ax_instant deadline);
/* The poll form for engines: AX_READY with *res 0 and *out set, or *res an
 * AX_E*. */
ax_poll ax_unix_poll_accept(ax_unix_listener *l, ax_context *cx, ax_unix **out, int *res);
int ax_unix_listener_addr(const ax_unix_listener *l, ax_unix_addr *out);
int ax_unix_listener_fd(const ax_unix_listener *l);
/* Closes and frees the listener, and unlinks its socket file unless
 * keep_path was set (abstract names vanish by themselves). Connections
 * already accepted stay open. NULL is a no-op. */
void ax_unix_listener_close(ax_unix_listener *l);

/* --- stream connections -------------------------------------------------------- */

/* Connects to the listener at name. Returns 0 with *out, or AX_ENOENT (no
 * such path), AX_ECONNREFUSED (nothing listens there: a stale socket file
 * or an unused abstract name), AX_EAGAIN (the listener's backlog is full;
 * retry later), AX_EACCES, AX_EPOLICY, AX_ENAMETOOLONG, AX_EINVAL,
 * AX_ETIMEDOUT, AX_ECANCELED, ... Task only. */
int ax_unix_connect(const char *name, ax_instant deadline, ax_unix **out);

/* Two connected, unnamed stream sockets (socketpair). Returns 0 with *a and
 * *b (both the caller's), or AX_EMFILE, AX_ENOTASK, ... Task only (they
 * join the calling task's runtime). */
int ax_unix_pair(ax_unix **a, ax_unix **b);

/* The connection as a stream (valid until the connection is closed;
 * ax_stream_close on it is ax_unix_close). */
ax_stream *ax_unix_stream(ax_unix *c);

/* Transfers; see axon/stream.h for their meaning. Task only. */
ssize_t ax_unix_read(ax_unix *c, void *buf, size_t len, ax_instant deadline);
ssize_t ax_unix_write(ax_unix *c, const void *buf, size_t len, ax_instant deadline);
int ax_unix_read_exact(ax_unix *c, void *buf, size_t len, ax_instant deadline);
int ax_unix_write_all(ax_unix *c, const void *buf, size_t len, ax_instant deadline);

/* Most descriptors one message carries (the kernel's SCM_MAX_FD). */
#define AX_UNIX_MAX_FDS 253

/* Sends up to len bytes (len >= 1: descriptors travel with data) and, with
 * the first of them, nfds descriptors (SCM_RIGHTS; 0..AX_UNIX_MAX_FDS).
 * The kernel passes duplicates: the caller still owns fds and may close
 * them as soon as this returns. Returns the bytes sent (>= 1; fewer than
 * len is a partial write, and the descriptors went with it), or AX_EINVAL
 * (len 0, or more than AX_UNIX_MAX_FDS), AX_EBADF (one is not open),
 * AX_EPIPE, ... Task only. */
ssize_t ax_unix_send_fds(ax_unix *c, const void *buf, size_t len, const int *fds, size_t nfds,
                         ax_instant deadline);

/* Flag reported by ax_unix_recv_fds: more descriptors arrived than *nfds
 * allowed, and the extras were closed. */
#define AX_UNIX_FDS_TRUNCATED 1u

/* Receives up to len bytes and the descriptors sent with them. On entry
 * *nfds is the capacity of fds; on return the number stored there. Each
 * received descriptor is close-on-exec (MSG_CMSG_CLOEXEC) and belongs to
 * the caller. When more descriptors arrive than fit, the first *nfds are
 * stored, the rest are closed at once (never leaked into the process),
 * and *flags (may be NULL) gets AX_UNIX_FDS_TRUNCATED: the bytes are still
 * delivered, so this is a flag, not an error. Descriptors sent with bytes
 * that a plain read consumes are closed by the kernel. Returns the bytes
 * read (0: end of stream, with no descriptors) or AX_E*. Task only. */
ssize_t ax_unix_recv_fds(ax_unix *c, void *buf, size_t len, int *fds, size_t *nfds, unsigned *flags,
                         ax_instant deadline);

/* The peer's credentials as of connect / socketpair (SO_PEERCRED on
 * Linux; getpeereid and LOCAL_PEERPID on macOS; AX_ENOTSUP elsewhere).
 * Any thread. */
typedef struct ax_unix_cred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} ax_unix_cred;
int ax_unix_peer_cred(const ax_unix *c, ax_unix_cred *out);

/* shutdown(2) with AX_SHUT_RD / AX_SHUT_WR / AX_SHUT_RDWR: after
 * AX_SHUT_WR the peer reads end of stream; the other direction stays open.
 * Does not suspend. Any thread. */
int ax_unix_shutdown(ax_unix *c, int how);
int ax_unix_local_addr(const ax_unix *c, ax_unix_addr *out);
int ax_unix_peer_addr(const ax_unix *c, ax_unix_addr *out);
/* The descriptor, owned by c (do not close it). */
int ax_unix_fd(const ax_unix *c);
/* Closes and frees the connection. NULL is a no-op. */
void ax_unix_close(ax_unix *c);

/* --- datagram sockets ---------------------------------------------------------- */

/* A datagram socket bound to name (which others send to), or unbound (it
 * can send, and receive answers only from a socket connected to it or
 * through a pair). Returns 0 with *out, or errors as ax_unix_listen. Task
 * only. */
int ax_unix_dgram_bind(const char *name, ax_unix_dgram **out);
int ax_unix_dgram_unbound(ax_unix_dgram **out);
/* Two connected, unnamed datagram sockets (socketpair). Task only. */
int ax_unix_dgram_pair(ax_unix_dgram **a, ax_unix_dgram **b);

/* Sets the default peer (and keeps datagrams from others out). Returns 0,
 * AX_ENOENT, AX_ECONNREFUSED (nobody bound there), AX_EPOLICY, ...
 * Does not suspend. */
int ax_unix_dgram_connect(ax_unix_dgram *d, const char *name);

/* Sends one datagram, to name or to the connected peer. Returns len, or
 * AX_ENOENT / AX_ECONNREFUSED (nobody bound there), AX_EMSGSIZE (larger
 * than the socket's send buffer), AX_ENOTCONN (send, not connected),
 * AX_EPOLICY, ... Waits while the receiver's queue is full: a connected
 * socket is woken when it drains; an unconnected one (send_to) gets no
 * such wake-up from Linux and retries every few milliseconds (1 ms,
 * doubling up to 16 ms) until the deadline. Task only. */
ssize_t ax_unix_dgram_send_to(ax_unix_dgram *d, const void *buf, size_t len, const char *name,
                              ax_instant deadline);
ssize_t ax_unix_dgram_send(ax_unix_dgram *d, const void *buf, size_t len, ax_instant deadline);

/* Flag reported by the datagram receive calls. */
#define AX_UNIX_TRUNCATED 1u /* the datagram was longer than len; the rest is lost */

/* Receives one datagram. Returns the bytes stored (at most len); from (may
 * be NULL) receives the sender's name ("" when unbound); *flags (may be
 * NULL) AX_UNIX_TRUNCATED or 0. Task only. */
ssize_t ax_unix_dgram_recv_from(ax_unix_dgram *d, void *buf, size_t len, ax_unix_addr *from,
                                unsigned *flags, ax_instant deadline);
ssize_t ax_unix_dgram_recv(ax_unix_dgram *d, void *buf, size_t len, unsigned *flags,
                           ax_instant deadline);

int ax_unix_dgram_local_addr(const ax_unix_dgram *d, ax_unix_addr *out);
int ax_unix_dgram_fd(const ax_unix_dgram *d);
/* Closes and frees the socket and unlinks the socket file it bound (nobody
 * can send to it once it is closed). NULL is a no-op. */
void ax_unix_dgram_close(ax_unix_dgram *d);

#ifdef __cplusplus
}
#endif
#endif
