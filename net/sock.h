/* net/sock.h - private to net/: the socket under every TCP, UDP and Unix
 * object. A socket is a nonblocking, close-on-exec descriptor registered
 * with its runtime's reactor, plus a stream header for the stream kinds.
 */
#ifndef AX_NET_SOCK_H
#define AX_NET_SOCK_H

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <sys/socket.h>
#endif

#include "axon/addr.h"
#include "axon/error.h"
#include "axon/runtime.h"
#include "axon/stream.h"
#include "executor/policy_internal.h"
#include "executor/runtime_internal.h"
#ifndef _WIN32
#include "reactor/os_unix.h" /* Windows: the shims above */
#endif
#include "reactor/reactor.h"

#pragma GCC visibility push(hidden)

/* The portable bits of the socket API that differ on Windows: the last
 * socket error as an AX_E*, closing a socket, and flags Windows lacks. */
#ifdef _WIN32
#define ax__sock_last_error()  ax__win_error((unsigned long)WSAGetLastError())
#define ax__sock_closefd(fd)   closesocket((SOCKET)(fd))
#define ax__sock_would_block() (WSAGetLastError() == WSAEWOULDBLOCK)
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* Windows raises no signal for a closed peer */
#endif
#define SHUT_RD   SD_RECEIVE
#define SHUT_WR   SD_SEND
#define SHUT_RDWR SD_BOTH
#else
#define ax__sock_last_error()  ax_translate_sys_error(errno)
#define ax__sock_closefd(fd)   close(fd)
#define ax__sock_would_block() (errno == EAGAIN || errno == EWOULDBLOCK)
#endif

typedef struct ax__sock {
    ax_stream stream; /* first: a stream socket is its own ax_stream */
    ax__fd fd;
    ax__io *io;
    ax_runtime *rt;
} ax__sock;

/* The stream vtable of connected stream sockets (TCP, Unix stream). Its
 * close frees the ax__sock itself, which must be the start of a malloc'd
 * object. */
extern const ax_stream_vtable ax__sock_stream_vtable;

/* socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto) into s->fd,
 * not yet registered (connect registers after connect(2), see sock.c). On
 * Windows: an overlapped, non-inheritable socket in nonblocking mode.
 * Returns 0 or AX_E*. */
int ax__sock_open(ax_runtime *rt, int domain, int type, int proto, ax__sock *s);
/* Registers s->fd with the reactor. On failure the descriptor is closed. */
int ax__sock_register(ax__sock *s);
/* Takes a nonblocking descriptor (from accept4) and registers it. On
 * failure fd is closed. */
int ax__sock_adopt(ax_runtime *rt, ax__fd fd, ax__sock *s);
/* Deregisters and closes (does not free s). */
void ax__sock_close(ax__sock *s);

/* Connects s (opened, unregistered) to sa and registers it; the poll half
 * waits for the outcome. ax__sock_connect_start returns 0 (connected at
 * once), AX_EINPROGRESS (registered, poll for the end), or AX_E* (s's
 * descriptor is closed). */
int ax__sock_connect_start(ax__sock *s, const struct sockaddr *sa, socklen_t len);
ax_poll ax__sock_poll_connected(ax__sock *s, ax_context *cx, int *res);
/* Both halves in a task, with a deadline. On failure s is closed. */
int ax__sock_connect(ax__sock *s, const struct sockaddr *sa, socklen_t len, ax_instant deadline);

/* Awaits an ax__io_poll_op in the current task. */
ssize_t ax__sock_await_op(ax__sock *s, int dir, ax__io_op_fn op, void *arg, ax_instant deadline);

/* Policy checks with an address: the IP text and port are checked. */
int ax__sock_check_addr(ax_runtime *rt, ax__policy_op op, const ax_addr *a);

/* setsockopt / getsockopt with int values, as AX_E*. */
int ax__sock_setopt(ax__fd fd, int level, int name, int value);
int ax__sock_getopt(ax__fd fd, int level, int name);
int ax__sock_name(ax__fd fd, int peer, ax_addr *out);

#pragma GCC visibility pop

#endif
