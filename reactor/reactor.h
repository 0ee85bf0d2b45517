/* reactor/reactor.h - internal: the interface every OS backend implements
 * (epoll.c now; kqueue.c and iocp.c later). The executor and the layers
 * above talk to the OS event mechanism only through this.
 *
 * Two flavours of operation on a registered handle:
 *   readiness  - ax__io_poll_ready: "wake this waker when the handle is
 *                readable / writable". Interest is registered once, edge
 *                triggered, at ax__io_register; an idle handle pins no buffer.
 *   completion - ax__io_poll_read / ax__io_poll_write: "do this transfer into
 *                / from this buffer and tell me the result". On epoll the
 *                syscall is tried at once and, on EAGAIN, readiness is awaited
 *                and the syscall retried. (On IOCP the buffer belongs to the
 *                overlapped operation until its completion arrives.)
 *
 * Handles live in reactor-owned slots that are never freed before the
 * reactor: the event's user data carries (slot index, generation), so an
 * event that was queued for a descriptor that has since been deregistered,
 * closed and reused is recognised as stale and dropped.
 *
 * Thread-safety: everything here may be called from any thread, except
 * ax__reactor_poll, which one thread at a time drives.
 */
#ifndef AX_REACTOR_REACTOR_H
#define AX_REACTOR_REACTOR_H

#include <stddef.h>
#include <stdint.h>
#include "axon/sys.h"
#include "axon/future.h"

/* The OS handle a registration is for: a descriptor on Unix, a SOCKET
 * (UINT_PTR) on Windows. AX__FD_NONE is the invalid value. Callers that
 * pass int descriptors on Unix keep doing so: the type is int there. */
#ifdef _WIN32
typedef uintptr_t ax__fd;
#define AX__FD_NONE ((ax__fd) ~(uintptr_t)0)
#else
typedef int ax__fd;
#define AX__FD_NONE (-1)
#endif

/* Internal symbols stay out of libaxon.so's dynamic symbol table, so calls
 * between the library's files are direct, not through the PLT. */
#pragma GCC visibility push(hidden)

typedef struct ax__reactor ax__reactor;
typedef struct ax__io ax__io;

enum { AX__DIR_READ = 0, AX__DIR_WRITE = 1 };

/* Creates a reactor: the epoll instance and its wake-up eventfd. Returns 0
 * or an AX_E* from the OS. */
int ax__reactor_new(ax__reactor **out);
/* Closes the reactor. Every handle must have been deregistered. */
void ax__reactor_free(ax__reactor *r);

/* Waits up to timeout_ms (-1: no limit, 0: just look) for events and wakes
 * the wakers of the handles they concern, on the calling thread. Returns
 * the number of handle events dispatched, or an AX_E* (never AX_EINTR: an
 * interrupted wait returns 0). One thread at a time. */
int ax__reactor_poll(ax__reactor *r, int timeout_ms);
/* The same, taking at most max_events events (1.. the backend's batch) so
 * a caller with little room for the tasks they wake takes only that many;
 * the rest stay queued in the kernel, in order, for the next poll. */
int ax__reactor_poll_max(ax__reactor *r, int timeout_ms, int max_events);

/* Makes a concurrent or the next ax__reactor_poll return promptly. Cheap
 * when a wake-up is already pending (one atomic exchange). */
void ax__reactor_notify(ax__reactor *r);

/* The epoll descriptor (readable when events are pending), for embedding.
 * On Windows: -1 (a completion port cannot be waited on like a descriptor;
 * embedders call ax__reactor_poll with a timeout instead). */
int ax__reactor_fd(const ax__reactor *r);

/* Registers fd for edge-triggered read and write readiness. The caller
 * keeps owning fd and must deregister before closing it. Returns 0, or
 * AX_EEXIST (fd is already in this reactor), AX_ENOMEM, or another OS
 * error. */
int ax__io_register(ax__reactor *r, ax__fd fd, ax__io **out);

/* Removes the registration and drops any stored waker without waking it.
 * When fd_closed is true the descriptor has already been closed (the kernel
 * dropped it from the interest list), so no EPOLL_CTL_DEL is issued. Events
 * still queued for the handle are ignored from here on. */
void ax__io_deregister(ax__reactor *r, ax__io *io, int fd_closed);

/* The registered descriptor. */
ax__fd ax__io_fd(const ax__io *io);

/* Readiness: AX_READY when dir (AX__DIR_READ / AX__DIR_WRITE) is known
 * ready (error and hang-up count as ready for both), else stores a clone
 * of cx's waker (replacing the previous one) and returns AX_PENDING. *tick,
 * if not NULL, receives the readiness generation to pass to
 * ax__io_clear_ready. */
ax_poll ax__io_poll_ready(ax__io *io, int dir, ax_context *cx, uint32_t *tick);

/* Forgets dir's readiness after an operation hit EAGAIN, unless an event
 * arrived after `tick` was read (then readiness stays, so nothing is
 * lost). */
void ax__io_clear_ready(ax__io *io, int dir, uint32_t tick);

/* Drops the stored waker of dir, if any (a waiting future was abandoned). */
void ax__io_drop_waker(ax__io *io, int dir);

/* Completion-shaped transfers. AX_READY with *res = bytes (0 on end of
 * file for reads) or a negative AX_E*; AX_PENDING when the handle is not
 * ready (cx's waker is stored). Nonblocking descriptors only. */
ax_poll ax__io_poll_read(ax__io *io, void *buf, size_t len, ax_context *cx, ssize_t *res);
ax_poll ax__io_poll_write(ax__io *io, const void *buf, size_t len, ax_context *cx, ssize_t *res);
ax_poll ax__io_poll_readv(ax__io *io, const struct iovec *iov, int n, ax_context *cx, ssize_t *res);
ax_poll ax__io_poll_writev(ax__io *io, const struct iovec *iov, int n, ax_context *cx,
                           ssize_t *res);

/* Readiness-driven retry of any nonblocking call on the handle (accept,
 * connect completion, recvmsg, sendto, sendfile...): runs op(fd, arg) and,
 * while it fails with EAGAIN, waits for dir's readiness and retries.
 * AX_READY with *res = op's non-negative result or an AX_E* from errno;
 * AX_PENDING with cx's waker stored. op must return -1 and set errno on
 * failure, like a system call. On Windows op returns -1 with the WSA error
 * in WSAGetLastError() (WSAEWOULDBLOCK to wait): the reactor maps it. */
typedef ssize_t (*ax__io_op_fn)(ax__fd fd, void *arg);
ax_poll ax__io_poll_op(ax__io *io, int dir, ax_context *cx, ax__io_op_fn op, void *arg,
                       ssize_t *res);

#ifdef _WIN32
/* Windows only: what net/ needs beyond the calls above, since a completion
 * port has no readiness for accept and connect.
 *
 * ax__win_error maps a Windows or Winsock error number (GetLastError,
 * WSAGetLastError) onto the AX_E* code Linux would give. */
int ax__win_error(unsigned long err);
struct sockaddr;
struct sockaddr_storage;
/* Accepts on the listening socket of io with an overlapped AcceptEx (one at
 * a time per listener). AX_READY with *res = 0, *out the new socket
 * (overlapped, not inheritable, SO_UPDATE_ACCEPT_CONTEXT set, not yet
 * registered; the caller owns it) and the peer's address in *peer /
 * *peer_len; or *res = AX_E*. AX_PENDING with cx's waker stored. family
 * is the listener's (AF_INET / AF_INET6). Dropping the waiter
 * (ax__io_drop_waker, AX__DIR_READ) cancels the accept and closes the
 * socket it had prepared. */
ax_poll ax__io_poll_accept(ax__io *io, int family, ax_context *cx, ax__fd *out,
                           struct sockaddr_storage *peer, int *peer_len, int *res);
/* Starts an overlapped ConnectEx of io's socket (registered, and bound to
 * a wildcard address of its family) to sa. Returns 0 (ax__io_poll_connect
 * gives the outcome) or AX_E*. */
int ax__io_connect_start(ax__io *io, const struct sockaddr *sa, int len);
/* AX_READY with *res = 0 (connected; SO_UPDATE_CONNECT_CONTEXT set) or an
 * AX_E* (AX_ECONNREFUSED, AX_ETIMEDOUT, ...); AX_PENDING meanwhile.
 * Dropping the waiter (ax__io_drop_waker, AX__DIR_WRITE) cancels it. */
ax_poll ax__io_poll_connect(ax__io *io, ax_context *cx, int *res);
/* One datagram with an overlapped WSARecvFrom into buf: AX_READY with
 * *res = the bytes stored (at most len; *truncated = 1 when the datagram
 * was longer and the rest is lost) and, if from is not NULL, the sender's
 * address in *from / *fromlen; or *res = AX_E*. AX_PENDING meanwhile; buf
 * belongs to the operation until AX_READY (poll again with the same
 * arguments) or until ax__io_drop_waker (AX__DIR_READ) cancels it. */
ax_poll ax__io_poll_recvfrom(ax__io *io, void *buf, size_t len, struct sockaddr_storage *from,
                             int *fromlen, int *truncated, ax_context *cx, ssize_t *res);
/* One datagram with an overlapped WSASendTo to `to` (NULL: the connected
 * peer); the address is copied, buf belongs to the operation until
 * AX_READY or the cancel, as above. */
ax_poll ax__io_poll_sendto(ax__io *io, const void *buf, size_t len, const struct sockaddr *to,
                           int tolen, ax_context *cx, ssize_t *res);
#endif

#pragma GCC visibility pop

#endif
