/* net/tcp.c - TCP listeners and connections over net/sock.c.
 *
 * A connection is an ax__sock and nothing else: its stream vtable is the
 * shared one for stream sockets, so an idle connection costs its struct,
 * its reactor slot and the kernel's socket.
 */
#include "axon/tcp.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>
#endif

#include "net/tcp_internal.h"

struct ax_tcp_listener {
    ax__sock s;
    int family; /* AF_INET / AF_INET6: what AcceptEx opens on Windows */
};

#ifndef IOV_MAX
#define IOV_MAX 64
#endif
#ifdef _WIN32
#include <mstcpip.h> /* SIO_KEEPALIVE_VALS */
#endif

void ax_tcp_listen_opts_init(ax_tcp_listen_opts *o) {
    memset(o, 0, sizeof *o);
    o->backlog = 1024;
    o->reuse_addr = true;
}

int ax_tcp_listen(const ax_addr *addr, const ax_tcp_listen_opts *opts, ax_tcp_listener **out) {
    ax_tcp_listen_opts o;
    if (opts)
        o = *opts;
    else
        ax_tcp_listen_opts_init(&o);
    if (!addr || !out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    int err = ax__sock_check_addr(rt, AX__POLICY_OP_BIND, addr);
    if (err) return err;
    struct sockaddr_storage ss;
    socklen_t len;
    if ((err = ax_addr_to_sockaddr(addr, &ss, &len))) return err;
    ax_tcp_listener *l = calloc(1, sizeof *l);
    if (!l) return AX_ENOMEM;
    l->family = ss.ss_family;
    if ((err = ax__sock_open(rt, ss.ss_family, SOCK_STREAM, 0, &l->s))) goto fail_free;
#ifdef _WIN32
    /* SO_REUSEADDR on Windows lets another socket take the port over, not
     * just rebind past TIME_WAIT (which Windows allows anyway): left off.
     * There is no SO_REUSEPORT. */
    if (o.reuse_port) {
        err = AX_ENOTSUP;
        goto fail_close;
    }
    if ((ss.ss_family == AF_INET6 &&
         (err = ax__sock_setopt(l->s.fd, IPPROTO_IPV6, IPV6_V6ONLY, o.v6_only ? 1 : 0))))
        goto fail_close;
#else
    if ((o.reuse_addr && (err = ax__sock_setopt(l->s.fd, SOL_SOCKET, SO_REUSEADDR, 1))) ||
        (o.reuse_port && (err = ax__sock_setopt(l->s.fd, SOL_SOCKET, SO_REUSEPORT, 1))) ||
        (ss.ss_family == AF_INET6 &&
         (err = ax__sock_setopt(l->s.fd, IPPROTO_IPV6, IPV6_V6ONLY, o.v6_only ? 1 : 0))))
        goto fail_close;
#endif
    if (bind(l->s.fd, (struct sockaddr *)&ss, len) < 0 ||
        listen(l->s.fd, o.backlog > 0 ? o.backlog : 1024) < 0) {
        err = ax__sock_last_error();
        goto fail_close;
    }
    if ((err = ax__sock_register(&l->s))) goto fail_free;
    *out = l;
    return 0;
fail_close:
    ax__sock_closefd(l->s.fd);
fail_free:
    free(l);
    return err;
}

struct ax__accept_arg {
    struct sockaddr_storage ss;
    socklen_t len;
};

#ifndef _WIN32
static ssize_t ax__accept_op(int fd, void *arg) {
    struct ax__accept_arg *a = arg;
    for (;;) {
        a->len = sizeof a->ss;
        int c = ax__accept_nb(fd, (struct sockaddr *)&a->ss, &a->len);
        /* A connection reset before we took it is the peer's business. */
        if (c < 0 && (errno == ECONNABORTED || errno == EPROTO)) continue;
        return c;
    }
}
#endif

static int ax__accepted(ax_tcp_listener *l, ax__fd fd, const struct ax__accept_arg *a, ax_tcp **out,
                        ax_addr *peer) {
    ax_tcp *c = malloc(sizeof *c);
    if (!c) {
        ax__sock_closefd(fd);
        return AX_ENOMEM;
    }
    int err = ax__sock_adopt(l->s.rt, fd, &c->s);
    if (err) {
        free(c);
        return err;
    }
    c->s.stream.vtable = &ax__sock_stream_vtable;
    if (peer && ax_addr_from_sockaddr((const struct sockaddr *)&a->ss, a->len, peer))
        memset(peer, 0, sizeof *peer);
    *out = c;
    return 0;
}

#ifdef _WIN32
/* Windows: AcceptEx through the reactor (no readiness for accept there). */
static ax_poll ax__accept_win(ax_tcp_listener *l, ax_context *cx, ax__fd *fd,
                              struct ax__accept_arg *a, int *res) {
    int plen = 0;
    if (ax__io_poll_accept(l->s.io, l->family, cx, fd, &a->ss, &plen, res) == AX_PENDING)
        return AX_PENDING;
    a->len = (socklen_t)plen;
    return AX_READY;
}

typedef struct ax__accept_future {
    ax_future base;
    ax_tcp_listener *l;
    ax__fd fd;
    struct ax__accept_arg a;
    int done;
} ax__accept_future;

static ax_poll ax__accept_fpoll(ax_future *f, ax_context *cx) {
    ax__accept_future *af = (ax__accept_future *)f;
    int res;
    if (af->done) return AX_READY;
    if (ax__accept_win(af->l, cx, &af->fd, &af->a, &res) == AX_PENDING) return AX_PENDING;
    af->done = 1;
    af->base.result = res;
    return AX_READY;
}

static void ax__accept_fdrop(ax_future *f) {
    ax__accept_future *af = (ax__accept_future *)f;
    if (!af->done) ax__io_drop_waker(af->l->s.io, AX__DIR_READ);
}

static const ax_future_vtable ax__accept_vtable = {ax__accept_fpoll, ax__accept_fdrop};

int ax_tcp_accept(ax_tcp_listener *l, ax_tcp **out, ax_addr *peer, ax_instant deadline) {
    ax__accept_future f = {{&ax__accept_vtable, 0}, l, AX__FD_NONE, {.len = 0}, 0};
    int r = (int)ax_await_until(&f.base, deadline);
    if (r < 0) return r;
    return ax__accepted(l, f.fd, &f.a, out, peer);
}

ax_poll ax_tcp_poll_accept(ax_tcp_listener *l, ax_context *cx, ax_tcp **out, ax_addr *peer,
                           int *res) {
    struct ax__accept_arg a;
    ax__fd fd;
    if (ax__accept_win(l, cx, &fd, &a, res) == AX_PENDING) return AX_PENDING;
    if (*res == 0) *res = ax__accepted(l, fd, &a, out, peer);
    return AX_READY;
}
#else
int ax_tcp_accept(ax_tcp_listener *l, ax_tcp **out, ax_addr *peer, ax_instant deadline) {
    struct ax__accept_arg a = {.len = 0}; /* filled by ax__accept_nb */
    ssize_t fd = ax__sock_await_op(&l->s, AX__DIR_READ, ax__accept_op, &a, deadline);
    if (fd < 0) return (int)fd;
    return ax__accepted(l, (int)fd, &a, out, peer);
}

ax_poll ax_tcp_poll_accept(ax_tcp_listener *l, ax_context *cx, ax_tcp **out, ax_addr *peer,
                           int *res) {
    struct ax__accept_arg a;
    ssize_t fd;
    if (ax__io_poll_op(l->s.io, AX__DIR_READ, cx, ax__accept_op, &a, &fd) == AX_PENDING)
        return AX_PENDING;
    *res = fd < 0 ? (int)fd : ax__accepted(l, (int)fd, &a, out, peer);
    return AX_READY;
}
#endif

int ax_tcp_listener_addr(const ax_tcp_listener *l, ax_addr *out) {
    return ax__sock_name(l->s.fd, 0, out);
}

int ax_tcp_listener_fd(const ax_tcp_listener *l) {
    return (int)l->s.fd; /* a SOCKET on Windows: small values, as int */
}

void ax_tcp_listener_close(ax_tcp_listener *l) {
    if (!l) return;
    ax__sock_close(&l->s);
    free(l);
}

int ax_tcp_connect(const ax_addr *addr, ax_instant deadline, ax_tcp **out) {
    if (!addr || !out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    return ax__tcp_connect_addr(rt, addr, deadline, out);
}

ax_stream *ax_tcp_stream(ax_tcp *c) {
    return &c->s.stream;
}

ssize_t ax_tcp_read(ax_tcp *c, void *buf, size_t len, ax_instant deadline) {
    return ax_stream_read(&c->s.stream, buf, len, deadline);
}

ssize_t ax_tcp_write(ax_tcp *c, const void *buf, size_t len, ax_instant deadline) {
    return ax_stream_write(&c->s.stream, buf, len, deadline);
}

ssize_t ax_tcp_writev(ax_tcp *c, const struct iovec *iov, int iovcnt, ax_instant deadline) {
    return ax_stream_writev(&c->s.stream, iov, iovcnt, deadline);
}

int ax_tcp_read_exact(ax_tcp *c, void *buf, size_t len, ax_instant deadline) {
    return ax_stream_read_exact(&c->s.stream, buf, len, deadline);
}

int ax_tcp_write_all(ax_tcp *c, const void *buf, size_t len, ax_instant deadline) {
    return ax_stream_write_all(&c->s.stream, buf, len, deadline);
}

struct ax__readv_arg {
    const struct iovec *iov;
    int n;
};

#ifdef _WIN32
static ssize_t ax__readv_op(ax__fd fd, void *arg) {
    struct ax__readv_arg *a = arg;
    WSABUF b[IOV_MAX];
    for (int i = 0; i < a->n; i++) {
        b[i].buf = a->iov[i].iov_base;
        b[i].len = (ULONG)a->iov[i].iov_len;
    }
    DWORD got = 0, flags = 0;
    if (WSARecv((SOCKET)fd, b, (DWORD)a->n, &got, &flags, NULL, NULL) != 0) return -1;
    return (ssize_t)got;
}
#else
static ssize_t ax__readv_op(int fd, void *arg) {
    struct ax__readv_arg *a = arg;
    return readv(fd, a->iov, a->n);
}
#endif

ssize_t ax_tcp_readv(ax_tcp *c, const struct iovec *iov, int iovcnt, ax_instant deadline) {
    struct ax__readv_arg a = {iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt};
    return ax__sock_await_op(&c->s, AX__DIR_READ, ax__readv_op, &a, deadline);
}

#ifdef _WIN32
/* Windows: TransmitFile would be the call; not offered yet. */
ssize_t ax_tcp_sendfile(ax_tcp *c, int file_fd, off_t *offset, size_t count, ax_instant deadline) {
    (void)c;
    (void)file_fd;
    (void)count;
    (void)deadline;
    return offset ? AX_ENOTSUP : AX_EINVAL;
}
#else
struct ax__sendfile_arg {
    int in_fd;
    off_t *offset;
    size_t count;
};

static ssize_t ax__sendfile_op(int fd, void *arg) {
    struct ax__sendfile_arg *a = arg;
    return ax__sendfile(fd, a->in_fd, a->offset, a->count);
}

ssize_t ax_tcp_sendfile(ax_tcp *c, int file_fd, off_t *offset, size_t count, ax_instant deadline) {
    if (!offset) return AX_EINVAL;
    size_t done = 0;
    while (done < count) {
        size_t chunk = count - done;
        if (chunk > (1u << 30)) chunk = 1u << 30;
        struct ax__sendfile_arg a = {file_fd, offset, chunk};
        ssize_t n = ax__sock_await_op(&c->s, AX__DIR_WRITE, ax__sendfile_op, &a, deadline);
        if (n < 0) return done ? (ssize_t)done : n;
        if (n == 0) break; /* end of file */
        done += (size_t)n;
    }
    return (ssize_t)done;
}
#endif

ssize_t ax_stream_sendfile(ax_stream *s, int file_fd, off_t *offset, size_t count,
                           ax_instant deadline) {
    if (!s || s->vtable != &ax__sock_stream_vtable) return AX_ENOTSUP;
    /* A socket stream is the first member of its ax__sock, which is the
     * first member of ax_tcp and of ax_unix alike. */
    ax__sock *k = (ax__sock *)((char *)s - offsetof(ax__sock, stream));
    return ax_tcp_sendfile((ax_tcp *)(void *)k, file_fd, offset, count, deadline);
}

int ax_tcp_shutdown(ax_tcp *c, int how) {
    int h = how == AX_SHUT_RD ? SHUT_RD : how == AX_SHUT_WR ? SHUT_WR : SHUT_RDWR;
    if (how < AX_SHUT_RD || how > AX_SHUT_RDWR) return AX_EINVAL;
    return shutdown(c->s.fd, h) < 0 ? ax__sock_last_error() : 0;
}

void ax_tcp_close(ax_tcp *c) {
    if (!c) return;
    ax__sock_close(&c->s);
    free(c);
}

int ax_tcp_set_nodelay(ax_tcp *c, bool on) {
    return ax__sock_setopt(c->s.fd, IPPROTO_TCP, TCP_NODELAY, on);
}

#ifdef _WIN32
/* Windows: SIO_KEEPALIVE_VALS sets both times (in ms) in one call; 0 for
 * either keeps the system default (2 h idle, 1 s interval). */
int ax_tcp_set_keepalive(ax_tcp *c, bool on, unsigned idle_s, unsigned interval_s) {
    int err = ax__sock_setopt(c->s.fd, SOL_SOCKET, SO_KEEPALIVE, on);
    if (err || !on || (!idle_s && !interval_s)) return err;
    struct tcp_keepalive ka = {1, (idle_s ? idle_s : 7200) * 1000u,
                               (interval_s ? interval_s : 1) * 1000u};
    DWORD got = 0;
    if (WSAIoctl((SOCKET)c->s.fd, SIO_KEEPALIVE_VALS, &ka, sizeof ka, NULL, 0, &got, NULL, NULL))
        return ax__sock_last_error();
    return 0;
}
#else
int ax_tcp_set_keepalive(ax_tcp *c, bool on, unsigned idle_s, unsigned interval_s) {
    int err = ax__sock_setopt(c->s.fd, SOL_SOCKET, SO_KEEPALIVE, on);
    if (err || !on) return err;
    if (idle_s && (err = ax__sock_setopt(c->s.fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)idle_s)))
        return err;
    if (interval_s && (err = ax__sock_setopt(c->s.fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)interval_s)))
        return err;
    return 0;
}
#endif

int ax_tcp_set_linger(ax_tcp *c, int secs) {
    struct linger lg = {secs >= 0, secs >= 0 ? secs : 0};
    if (setsockopt(c->s.fd, SOL_SOCKET, SO_LINGER, (const void *)&lg, sizeof lg) < 0)
        return ax__sock_last_error();
    return 0;
}

int ax_tcp_set_recv_buffer(ax_tcp *c, int bytes) {
    return ax__sock_setopt(c->s.fd, SOL_SOCKET, SO_RCVBUF, bytes);
}

int ax_tcp_set_send_buffer(ax_tcp *c, int bytes) {
    return ax__sock_setopt(c->s.fd, SOL_SOCKET, SO_SNDBUF, bytes);
}

int ax_tcp_recv_buffer(const ax_tcp *c) {
    return ax__sock_getopt(c->s.fd, SOL_SOCKET, SO_RCVBUF);
}

int ax_tcp_send_buffer(const ax_tcp *c) {
    return ax__sock_getopt(c->s.fd, SOL_SOCKET, SO_SNDBUF);
}

int ax_tcp_local_addr(const ax_tcp *c, ax_addr *out) {
    return ax__sock_name(c->s.fd, 0, out);
}

int ax_tcp_peer_addr(const ax_tcp *c, ax_addr *out) {
    return ax__sock_name(c->s.fd, 1, out);
}

int ax_tcp_fd(const ax_tcp *c) {
    return (int)c->s.fd; /* a SOCKET on Windows: small values, as int */
}
