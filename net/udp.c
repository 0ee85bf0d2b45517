/* net/udp.c - UDP sockets over net/sock.c.
 *
 * Every transfer is one small op function run by the reactor's
 * readiness-driven retry (ax__io_poll_op): sendto / sendmsg / recvmsg with
 * their arguments and outputs in a struct on the caller's frame, so a
 * datagram costs no allocation. The receive ops use recvmsg so the kernel's
 * MSG_TRUNC tells a datagram that did not fit from one that did.
 */
#include "axon/udp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <mswsock.h> /* SIO_UDP_CONNRESET */
#else
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>
#endif

#include "net/sock.h"

#include <limits.h>

struct ax_udp {
    ax__sock s;
    int family; /* AF_INET or AF_INET6 */
};

/* The socket's own family for an address: an IPv4 address on an IPv6
 * socket becomes ::ffff:a.b.c.d (reaching IPv4 peers through a dual-stack
 * socket), an IPv4-mapped address on an IPv4 socket becomes plain IPv4. */
static int ax__udp_sockaddr(const ax_udp *u, const ax_addr *a, struct sockaddr_storage *ss,
                            socklen_t *len) {
    ax_addr conv = *a;
    if (u->family == AF_INET6 && a->ip.family == AX_INET) {
        uint8_t b[16] = {0};
        b[10] = b[11] = 0xff;
        memcpy(b + 12, a->ip.bytes, 4);
        conv.ip = ax_ip_v6(b, 0);
    } else if (u->family == AF_INET && ax_ip_is_v4_mapped(&a->ip)) {
        conv.ip = ax_ip_unmap(&a->ip);
    }
    return ax_addr_to_sockaddr(&conv, ss, len);
}

int ax_udp_bind(const ax_addr *addr, const ax_udp_opts *opts, ax_udp **out) {
    ax_udp_opts o = {0};
    if (opts) o = *opts;
    if (!addr || !out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    int err = ax__sock_check_addr(rt, AX__POLICY_OP_BIND, addr);
    if (err) return err;
    struct sockaddr_storage ss;
    socklen_t len;
    if ((err = ax_addr_to_sockaddr(addr, &ss, &len))) return err;
    ax_udp *u = calloc(1, sizeof *u);
    if (!u) return AX_ENOMEM;
    u->family = ss.ss_family;
    if ((err = ax__sock_open(rt, ss.ss_family, SOCK_DGRAM, 0, &u->s))) goto fail_free;
#ifdef _WIN32
    /* Windows reports an ICMP port-unreachable for an earlier send as a
     * reset on the next receive; Linux does not on unconnected sockets. */
    BOOL no_reset = FALSE;
    DWORD got = 0;
    WSAIoctl((SOCKET)u->s.fd, SIO_UDP_CONNRESET, &no_reset, sizeof no_reset, NULL, 0, &got, NULL,
             NULL);
    if (o.reuse_port) {
        err = AX_ENOTSUP; /* no SO_REUSEPORT on Windows */
        goto fail_close;
    }
#define SO_REUSEPORT SO_REUSEADDR /* not reached: refused above */
#endif
    if ((o.reuse_addr && (err = ax__sock_setopt(u->s.fd, SOL_SOCKET, SO_REUSEADDR, 1))) ||
        (o.reuse_port && (err = ax__sock_setopt(u->s.fd, SOL_SOCKET, SO_REUSEPORT, 1))) ||
        (o.broadcast && (err = ax__sock_setopt(u->s.fd, SOL_SOCKET, SO_BROADCAST, 1))) ||
        (ss.ss_family == AF_INET6 &&
         (err = ax__sock_setopt(u->s.fd, IPPROTO_IPV6, IPV6_V6ONLY, o.v6_only ? 1 : 0))))
        goto fail_close;
    if (bind(u->s.fd, (struct sockaddr *)&ss, len) < 0) {
        err = ax__sock_last_error();
        goto fail_close;
    }
    if ((err = ax__sock_register(&u->s))) goto fail_free;
    *out = u;
    return 0;
fail_close:
    ax__sock_closefd(u->s.fd);
fail_free:
    free(u);
    return err;
}

int ax_udp_connect(ax_udp *u, const ax_addr *peer) {
    if (!u || !peer) return AX_EINVAL;
    int err = ax__sock_check_addr(u->s.rt, AX__POLICY_OP_CONNECT, peer);
    if (err) return err;
    struct sockaddr_storage ss;
    socklen_t len;
    if ((err = ax__udp_sockaddr(u, peer, &ss, &len))) return err;
    /* A datagram connect only records the peer: it never blocks. */
    int r;
    do r = connect(u->s.fd, (struct sockaddr *)&ss, len);
    while (r < 0 && errno == EINTR);
    if (r < 0) return ax__sock_last_error();
#ifdef _WIN32
    /* Connected, the socket reports its peer's port-unreachable, as on
     * Linux (bind turned that off for the unconnected socket). */
    BOOL report = TRUE;
    DWORD got = 0;
    WSAIoctl((SOCKET)u->s.fd, SIO_UDP_CONNRESET, &report, sizeof report, NULL, 0, &got, NULL, NULL);
#endif
    return 0;
}

/* --- send ------------------------------------------------------------------ */

struct ax__udp_send_arg {
    const void *buf;
    size_t len;
    const struct sockaddr *sa; /* NULL: the connected peer */
    socklen_t salen;
};

static ssize_t ax__udp_send_op(ax__fd fd, void *arg) {
    struct ax__udp_send_arg *a = arg;
#ifdef _WIN32
    if (a->len > INT_MAX) {
        WSASetLastError(WSAEMSGSIZE);
        return -1;
    }
    return sendto((SOCKET)fd, a->buf, (int)a->len, 0, a->sa, a->salen);
#else
    return sendto(fd, a->buf, a->len, MSG_NOSIGNAL, a->sa, a->salen);
#endif
}

/* Policy and address conversion for a send_to; fills a. */
static int ax__udp_send_prep(ax_udp *u, const ax_addr *to, struct sockaddr_storage *ss,
                             struct ax__udp_send_arg *a) {
    if (!to) return AX_EINVAL;
    int err = ax__sock_check_addr(u->s.rt, AX__POLICY_OP_CONNECT, to);
    if (err) return err;
    if ((err = ax__udp_sockaddr(u, to, ss, &a->salen))) return err;
    a->sa = (const struct sockaddr *)ss;
    return 0;
}

#ifdef _WIN32
/* Windows: the task calls move the datagram with an overlapped WSASendTo /
 * WSARecvFrom (the buffer is lent to the kernel; dropping the future, on a
 * deadline or a cancel, cancels the operation and waits for it). The poll
 * forms keep the readiness path, since their caller may walk away from a
 * pending poll without telling anyone. */
typedef struct ax__dgram_future {
    ax_future base;
    ax_udp *u;
    int dir;
    void *buf;
    size_t len;
    const struct sockaddr *to;
    int tolen;
    struct sockaddr_storage from;
    int fromlen, truncated, done;
} ax__dgram_future;

static ax_poll ax__dgram_poll(ax_future *f, ax_context *cx) {
    ax__dgram_future *d = (ax__dgram_future *)f;
    if (d->done) return AX_READY;
    ssize_t n;
    ax_poll p = d->dir == AX__DIR_READ
                    ? ax__io_poll_recvfrom(d->u->s.io, d->buf, d->len, &d->from, &d->fromlen,
                                           &d->truncated, cx, &n)
                    : ax__io_poll_sendto(d->u->s.io, d->buf, d->len, d->to, d->tolen, cx, &n);
    if (p == AX_PENDING) return AX_PENDING;
    d->done = 1;
    d->base.result = n;
    return AX_READY;
}

static void ax__dgram_drop(ax_future *f) {
    ax__dgram_future *d = (ax__dgram_future *)f;
    if (!d->done) ax__io_drop_waker(d->u->s.io, d->dir);
}

static const ax_future_vtable ax__dgram_vtable = {ax__dgram_poll, ax__dgram_drop};

static ssize_t ax__dgram_send(ax_udp *u, const void *buf, size_t len, const struct sockaddr *to,
                              int tolen, ax_instant deadline) {
    ax__dgram_future f = {
        {&ax__dgram_vtable, 0}, u, AX__DIR_WRITE, (void *)buf, len, to, tolen, {0}, 0, 0, 0};
    return ax_await_until(&f.base, deadline);
}
#endif

ssize_t ax_udp_send_to(ax_udp *u, const void *buf, size_t len, const ax_addr *to,
                       ax_instant deadline) {
    struct sockaddr_storage ss;
    struct ax__udp_send_arg a = {buf, len, NULL, 0};
    int err = ax__udp_send_prep(u, to, &ss, &a);
    if (err) return err;
#ifdef _WIN32
    return ax__dgram_send(u, buf, len, a.sa, (int)a.salen, deadline);
#else
    return ax__sock_await_op(&u->s, AX__DIR_WRITE, ax__udp_send_op, &a, deadline);
#endif
}

ssize_t ax_udp_send(ax_udp *u, const void *buf, size_t len, ax_instant deadline) {
#ifdef _WIN32
    ssize_t n = ax__dgram_send(u, buf, len, NULL, 0, deadline);
#else
    struct ax__udp_send_arg a = {buf, len, NULL, 0};
    ssize_t n = ax__sock_await_op(&u->s, AX__DIR_WRITE, ax__udp_send_op, &a, deadline);
#endif
#ifdef _WIN32
    /* No peer: Windows says WSAENOTCONN / WSAEDESTADDRREQ (both map to
     * AX_ENOTCONN); wine says WSAEINVAL, so ask whether there is a peer. */
    ax_addr peer;
    if (n == AX_EINVAL && ax__sock_name(u->s.fd, 1, &peer) == AX_ENOTCONN) n = AX_ENOTCONN;
#endif
    /* No peer: Linux says EDESTADDRREQ, which has no portable AX_ name. */
    return n == -EDESTADDRREQ ? AX_ENOTCONN : n;
}

ax_poll ax_udp_poll_send_to(ax_udp *u, ax_context *cx, const void *buf, size_t len,
                            const ax_addr *to, ssize_t *res) {
    struct sockaddr_storage ss;
    struct ax__udp_send_arg a = {buf, len, NULL, 0};
    int err = ax__udp_send_prep(u, to, &ss, &a);
    if (err) {
        *res = err;
        return AX_READY;
    }
    return ax__io_poll_op(u->s.io, AX__DIR_WRITE, cx, ax__udp_send_op, &a, res);
}

/* --- receive --------------------------------------------------------------- */

struct ax__udp_recv_arg {
    struct iovec iov;
    struct sockaddr_storage ss;
    socklen_t salen;
    int want_from;
    int msg_flags;
};

#ifdef _WIN32
#ifndef MSG_TRUNC
#define MSG_TRUNC 0x0100
#endif
/* recvfrom: a datagram that did not fit fills the buffer and fails with
 * WSAEMSGSIZE, which is MSG_TRUNC's meaning. */
static ssize_t ax__udp_recv_op(ax__fd fd, void *arg) {
    struct ax__udp_recv_arg *a = arg;
    int len = a->iov.iov_len > INT_MAX ? INT_MAX : (int)a->iov.iov_len;
    int salen = sizeof a->ss;
    int n = recvfrom((SOCKET)fd, a->iov.iov_base, len, 0,
                     a->want_from ? (struct sockaddr *)&a->ss : NULL, a->want_from ? &salen : NULL);
    a->msg_flags = 0;
    if (n < 0 && WSAGetLastError() == WSAEMSGSIZE) {
        n = len;
        a->msg_flags = MSG_TRUNC;
    }
    if (n >= 0) a->salen = a->want_from ? salen : 0;
    return n;
}
#else
static ssize_t ax__udp_recv_op(int fd, void *arg) {
    struct ax__udp_recv_arg *a = arg;
    struct msghdr m = {0};
    if (a->want_from) {
        m.msg_name = &a->ss;
        m.msg_namelen = sizeof a->ss;
    }
    m.msg_iov = &a->iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(fd, &m, 0);
    if (n >= 0) {
        a->salen = m.msg_namelen;
        a->msg_flags = m.msg_flags;
    }
    return n;
}
#endif

/* Turns a finished receive into the caller's outputs. */
static ssize_t ax__udp_recv_done(ssize_t n, const struct ax__udp_recv_arg *a, ax_addr *from,
                                 unsigned *flags) {
    if (flags) *flags = 0;
#ifdef _WIN32
    /* Windows names a datagram peer's port-unreachable a reset. */
    if (n == AX_ECONNRESET) return AX_ECONNREFUSED;
#endif
    if (n < 0) return n;
    if (flags && (a->msg_flags & MSG_TRUNC)) *flags |= AX_UDP_TRUNCATED;
    if (from && ax_addr_from_sockaddr((const struct sockaddr *)&a->ss, a->salen, from))
        memset(from, 0, sizeof *from);
    return n;
}

ssize_t ax_udp_recv_from(ax_udp *u, void *buf, size_t len, ax_addr *from, unsigned *flags,
                         ax_instant deadline) {
    struct ax__udp_recv_arg a = {.iov = {buf, len}, .want_from = from != NULL};
#ifdef _WIN32
    ax__dgram_future f = {{&ax__dgram_vtable, 0}, u, AX__DIR_READ, buf, len, NULL, 0, {0}, 0, 0, 0};
    ssize_t n = ax_await_until(&f.base, deadline);
    if (n >= 0) {
        memcpy(&a.ss, &f.from, sizeof a.ss);
        a.salen = (socklen_t)f.fromlen;
        a.msg_flags = f.truncated ? MSG_TRUNC : 0;
    }
#else
    ssize_t n = ax__sock_await_op(&u->s, AX__DIR_READ, ax__udp_recv_op, &a, deadline);
#endif
    return ax__udp_recv_done(n, &a, from, flags);
}

ssize_t ax_udp_recv(ax_udp *u, void *buf, size_t len, unsigned *flags, ax_instant deadline) {
    return ax_udp_recv_from(u, buf, len, NULL, flags, deadline);
}

ax_poll ax_udp_poll_recv_from(ax_udp *u, ax_context *cx, void *buf, size_t len, ax_addr *from,
                              unsigned *flags, ssize_t *res) {
    struct ax__udp_recv_arg a = {.iov = {buf, len}, .want_from = from != NULL};
    ssize_t n;
    if (ax__io_poll_op(u->s.io, AX__DIR_READ, cx, ax__udp_recv_op, &a, &n) == AX_PENDING)
        return AX_PENDING;
    *res = ax__udp_recv_done(n, &a, from, flags);
    return AX_READY;
}

/* --- options --------------------------------------------------------------- */

int ax_udp_set_broadcast(ax_udp *u, bool on) {
    return ax__sock_setopt(u->s.fd, SOL_SOCKET, SO_BROADCAST, on);
}

static int ax__udp_membership(ax_udp *u, const ax_ip *group, unsigned ifindex, int join) {
    if (!group || !ax_ip_is_multicast(group)) return AX_EINVAL;
    int r;
    if (u->family == AF_INET) {
        if (group->family != AX_INET) return AX_EINVAL;
#ifdef _WIN32 /* no ip_mreqn: the interface by index goes in imr_interface */
        struct ip_mreq mr;
        memset(&mr, 0, sizeof mr);
        memcpy(&mr.imr_multiaddr, group->bytes, 4);
        mr.imr_interface.s_addr = ifindex ? htonl(ifindex) : htonl(INADDR_ANY);
#else
        struct ip_mreqn mr;
        memset(&mr, 0, sizeof mr);
        memcpy(&mr.imr_multiaddr, group->bytes, 4);
        mr.imr_address.s_addr = htonl(INADDR_ANY);
        mr.imr_ifindex = (int)ifindex;
#endif
        r = setsockopt(u->s.fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                       (const void *)&mr, sizeof mr);
    } else {
        if (group->family != AX_INET6) return AX_EINVAL;
        struct ipv6_mreq mr;
        memset(&mr, 0, sizeof mr);
        memcpy(&mr.ipv6mr_multiaddr, group->bytes, 16);
        mr.ipv6mr_interface = ifindex;
        r = setsockopt(u->s.fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP,
                       (const void *)&mr, sizeof mr);
    }
    return r < 0 ? ax__sock_last_error() : 0;
}

int ax_udp_join_multicast(ax_udp *u, const ax_ip *group, unsigned ifindex) {
    return ax__udp_membership(u, group, ifindex, 1);
}

int ax_udp_leave_multicast(ax_udp *u, const ax_ip *group, unsigned ifindex) {
    return ax__udp_membership(u, group, ifindex, 0);
}

int ax_udp_set_multicast_if(ax_udp *u, unsigned ifindex) {
    if (u->family == AF_INET6)
        return ax__sock_setopt(u->s.fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex);
#ifdef _WIN32 /* an interface index in network order as the address */
    DWORD idx = htonl(ifindex);
    if (setsockopt(u->s.fd, IPPROTO_IP, IP_MULTICAST_IF, (const void *)&idx, sizeof idx) < 0)
        return ax__sock_last_error();
#else
    struct ip_mreqn mr;
    memset(&mr, 0, sizeof mr);
    mr.imr_ifindex = (int)ifindex;
    if (setsockopt(u->s.fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) < 0)
        return ax_translate_sys_error(errno);
#endif
    return 0;
}

int ax_udp_set_multicast_loop(ax_udp *u, bool on) {
    if (u->family == AF_INET6)
        return ax__sock_setopt(u->s.fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, on);
    return ax__sock_setopt(u->s.fd, IPPROTO_IP, IP_MULTICAST_LOOP, on);
}

int ax_udp_set_multicast_ttl(ax_udp *u, int ttl) {
    if (ttl < 0 || ttl > 255) return AX_EINVAL;
    if (u->family == AF_INET6)
        return ax__sock_setopt(u->s.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ttl);
    return ax__sock_setopt(u->s.fd, IPPROTO_IP, IP_MULTICAST_TTL, ttl);
}

int ax_udp_set_ttl(ax_udp *u, int ttl) {
    if (ttl < 1 || ttl > 255) return AX_EINVAL;
    if (u->family == AF_INET6)
        return ax__sock_setopt(u->s.fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, ttl);
    return ax__sock_setopt(u->s.fd, IPPROTO_IP, IP_TTL, ttl);
}

int ax_udp_local_addr(const ax_udp *u, ax_addr *out) {
    return ax__sock_name(u->s.fd, 0, out);
}

int ax_udp_peer_addr(const ax_udp *u, ax_addr *out) {
    return ax__sock_name(u->s.fd, 1, out);
}

int ax_udp_fd(const ax_udp *u) {
    return (int)u->s.fd; /* a SOCKET on Windows: small values, as int */
}

void ax_udp_close(ax_udp *u) {
    if (!u) return;
    ax__sock_close(&u->s);
    free(u);
}
