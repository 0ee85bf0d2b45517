/* net/sock.c - sockets registered with the reactor, connect, and the
 * stream interface of connected stream sockets.
 *
 * A connecting socket is registered only after connect(2) has been
 * called: Linux reports a fresh, unconnected TCP socket as writable and
 * hung up, and a registration made before connect would turn that stale
 * state into a false "connected".
 */
#include "net/sock.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <netinet/in.h>
#include <unistd.h>
#endif

#ifndef IOV_MAX
#define IOV_MAX 64 /* Windows: the reactor's WSABUF batch */
#endif

#ifdef _WIN32
int ax__sock_open(ax_runtime *rt, int domain, int type, int proto, ax__sock *s) {
    memset(s, 0, sizeof *s);
    s->rt = rt;
    s->fd = AX__FD_NONE;
    /* The runtime's reactor starts Winsock; this socket needs it too. */
    SOCKET fd =
        WSASocketW(domain, type, proto, NULL, 0, WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    if (fd == INVALID_SOCKET) return ax__sock_last_error();
    u_long nb = 1;
    if (ioctlsocket(fd, FIONBIO, &nb) != 0) {
        int err = ax__sock_last_error();
        closesocket(fd);
        return err;
    }
    s->fd = (ax__fd)fd;
    return 0;
}
#else
int ax__sock_open(ax_runtime *rt, int domain, int type, int proto, ax__sock *s) {
    memset(s, 0, sizeof *s);
    s->rt = rt;
    s->fd = ax__socket(domain, type, proto, 1);
    if (s->fd < 0) return ax_translate_sys_error(errno);
    return 0;
}
#endif

int ax__sock_register(ax__sock *s) {
    int err = ax__io_register(ax__runtime_reactor(s->rt), s->fd, &s->io);
    if (err) {
        ax__sock_closefd(s->fd);
        s->fd = AX__FD_NONE;
        s->io = NULL;
    }
    return err;
}

int ax__sock_adopt(ax_runtime *rt, ax__fd fd, ax__sock *s) {
    memset(s, 0, sizeof *s);
    s->rt = rt;
    s->fd = fd;
    return ax__sock_register(s);
}

void ax__sock_close(ax__sock *s) {
    if (s->io) {
        /* Deregister without EPOLL_CTL_DEL: close() below drops the
         * descriptor from the interest list (we hold no duplicates), and
         * the slot's generation makes any queued event stale. */
        ax__io_deregister(ax__runtime_reactor(s->rt), s->io, 1);
        s->io = NULL;
    }
    if (s->fd != AX__FD_NONE) ax__sock_closefd(s->fd);
    s->fd = AX__FD_NONE;
}

#ifdef _WIN32
/* ConnectEx wants a registered socket bound to a wildcard address. */
int ax__sock_connect_start(ax__sock *s, const struct sockaddr *sa, socklen_t len) {
    int reg = ax__sock_register(s);
    if (reg) return reg;
    struct sockaddr_storage any;
    memset(&any, 0, sizeof any);
    any.ss_family = sa->sa_family;
    int alen = sa->sa_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                         : (int)sizeof(struct sockaddr_in);
    int err = bind((SOCKET)s->fd, (struct sockaddr *)&any, alen) != 0 ? ax__sock_last_error() : 0;
    if (!err) err = ax__io_connect_start(s->io, sa, (int)len);
    if (err) {
        ax__sock_close(s);
        return err;
    }
    return AX_EINPROGRESS;
}

ax_poll ax__sock_poll_connected(ax__sock *s, ax_context *cx, int *res) {
    return ax__io_poll_connect(s->io, cx, res);
}
#else
int ax__sock_connect_start(ax__sock *s, const struct sockaddr *sa, socklen_t len) {
    int r;
    do r = connect(s->fd, sa, len);
    while (r < 0 && errno == EINTR);
    int err = r < 0 ? errno : 0;
    if (err && err != EINPROGRESS) {
        ax__sock_close(s);
        return ax_translate_sys_error(err);
    }
    int reg = ax__sock_register(s);
    if (reg) return reg;
    return err ? AX_EINPROGRESS : 0;
}

ax_poll ax__sock_poll_connected(ax__sock *s, ax_context *cx, int *res) {
    for (;;) {
        uint32_t tick;
        if (ax__io_poll_ready(s->io, AX__DIR_WRITE, cx, &tick) == AX_PENDING) return AX_PENDING;
        int soerr = 0;
        socklen_t l = sizeof soerr;
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0) soerr = errno;
        if (soerr) {
            *res = ax_translate_sys_error(soerr);
            return AX_READY;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getpeername(s->fd, (struct sockaddr *)&ss, &sl) == 0) {
            *res = 0;
            return AX_READY;
        }
        if (errno != ENOTCONN) {
            *res = ax_translate_sys_error(errno);
            return AX_READY;
        }
        ax__io_clear_ready(s->io, AX__DIR_WRITE, tick); /* not yet: wait again */
    }
}
#endif

typedef struct ax__connect_future {
    ax_future base;
    ax__sock *sock;
    int done;
} ax__connect_future;

static ax_poll ax__connect_poll(ax_future *f, ax_context *cx) {
    ax__connect_future *c = (ax__connect_future *)f;
    int res;
    if (c->done) return AX_READY;
    if (ax__sock_poll_connected(c->sock, cx, &res) == AX_PENDING) return AX_PENDING;
    c->done = 1;
    c->base.result = res;
    return AX_READY;
}

static void ax__connect_drop(ax_future *f) {
    ax__connect_future *c = (ax__connect_future *)f;
    if (!c->done) ax__io_drop_waker(c->sock->io, AX__DIR_WRITE);
}

static const ax_future_vtable ax__connect_vtable = {ax__connect_poll, ax__connect_drop};

int ax__sock_connect(ax__sock *s, const struct sockaddr *sa, socklen_t len, ax_instant deadline) {
    int r = ax__sock_connect_start(s, sa, len);
    if (r == AX_EINPROGRESS) {
        ax__connect_future f = {{&ax__connect_vtable, 0}, s, 0};
        r = (int)ax_await_until(&f.base, deadline);
    }
    if (r && s->fd != AX__FD_NONE) ax__sock_close(s);
    return r;
}

typedef struct ax__op_future {
    ax_future base;
    ax__sock *sock;
    int dir, done;
    ax__io_op_fn op;
    void *arg;
} ax__op_future;

static ax_poll ax__op_poll(ax_future *f, ax_context *cx) {
    ax__op_future *o = (ax__op_future *)f;
    if (o->done) return AX_READY;
    ssize_t res;
    if (ax__io_poll_op(o->sock->io, o->dir, cx, o->op, o->arg, &res) == AX_PENDING)
        return AX_PENDING;
    o->done = 1;
    o->base.result = res;
    return AX_READY;
}

static void ax__op_drop(ax_future *f) {
    ax__op_future *o = (ax__op_future *)f;
    if (!o->done) ax__io_drop_waker(o->sock->io, o->dir);
}

static const ax_future_vtable ax__op_vtable = {ax__op_poll, ax__op_drop};

ssize_t ax__sock_await_op(ax__sock *s, int dir, ax__io_op_fn op, void *arg, ax_instant deadline) {
    ax__op_future f = {{&ax__op_vtable, 0}, s, dir, 0, op, arg};
    return ax_await_until(&f.base, deadline);
}

int ax__sock_check_addr(ax_runtime *rt, ax__policy_op op, const ax_addr *a) {
    char host[AX_IP_STRLEN];
    if (ax_ip_format(&a->ip, host, sizeof host) < 0) return AX_EINVAL;
    return ax__policy_check_rt(rt, op, host, a->port, NULL, 0);
}

/* (const void *) / (void *): Windows declares the value as char. */
int ax__sock_setopt(ax__fd fd, int level, int name, int value) {
    if (setsockopt(fd, level, name, (const void *)&value, sizeof value) < 0)
        return ax__sock_last_error();
    return 0;
}

int ax__sock_getopt(ax__fd fd, int level, int name) {
    int v = 0;
    socklen_t l = sizeof v;
    if (getsockopt(fd, level, name, (void *)&v, &l) < 0) return ax__sock_last_error();
    return v;
}

int ax__sock_name(ax__fd fd, int peer, ax_addr *out) {
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &l)
                 : getsockname(fd, (struct sockaddr *)&ss, &l);
    if (r < 0) return ax__sock_last_error();
    return ax_addr_from_sockaddr((struct sockaddr *)&ss, l, out);
}

/* --- the stream interface of connected stream sockets ---------------------------- */

static ax_poll ax__sock_poll_read(ax_stream *st, ax_context *cx, void *buf, size_t len,
                                  ssize_t *res) {
    ax__sock *s = (ax__sock *)st;
    return ax__io_poll_read(s->io, buf, len, cx, res);
}

static ax_poll ax__sock_poll_write(ax_stream *st, ax_context *cx, const void *buf, size_t len,
                                   ssize_t *res) {
    ax__sock *s = (ax__sock *)st;
    return ax__io_poll_write(s->io, buf, len, cx, res);
}

static ax_poll ax__sock_poll_writev(ax_stream *st, ax_context *cx, const struct iovec *iov,
                                    int iovcnt, ssize_t *res) {
    ax__sock *s = (ax__sock *)st;
    if (iovcnt > IOV_MAX) iovcnt = IOV_MAX; /* a partial write; the caller loops */
    return ax__io_poll_writev(s->io, iov, iovcnt, cx, res);
}

static ax_poll ax__sock_poll_shutdown(ax_stream *st, ax_context *cx, int *res) {
    ax__sock *s = (ax__sock *)st;
    *res = shutdown(s->fd, SHUT_WR) < 0 ? ax__sock_last_error() : 0;
    return AX_READY;
}

static ax_poll ax__sock_poll_read_ready(ax_stream *st, ax_context *cx, int *res) {
    ax__sock *s = (ax__sock *)st;
    *res = 0;
    return ax__io_poll_ready(s->io, AX__DIR_READ, cx, NULL);
}

static void ax__sock_forget(ax_stream *st, int dir) {
    ax__sock *s = (ax__sock *)st;
    ax__io_drop_waker(s->io, dir == AX_STREAM_READ ? AX__DIR_READ : AX__DIR_WRITE);
}

static void ax__sock_stream_close(ax_stream *st) {
    ax__sock *s = (ax__sock *)st;
    ax__sock_close(s);
    free(s);
}

const ax_stream_vtable ax__sock_stream_vtable = {
    .poll_read = ax__sock_poll_read,
    .poll_write = ax__sock_poll_write,
    .poll_writev = ax__sock_poll_writev,
    .poll_shutdown = ax__sock_poll_shutdown,
    .poll_read_ready = ax__sock_poll_read_ready,
    .forget = ax__sock_forget,
    .close = ax__sock_stream_close,
};
