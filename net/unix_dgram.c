/* net/unix_dgram.c - Unix domain datagram sockets.
 *
 * Like UDP, but a full receiver is not dropped: the kernel makes the sender
 * wait (EAGAIN). Readiness serves only a connected sender there: Linux
 * registers it with its peer and wakes it when the peer's queue drains. An
 * unconnected sender gets no wake-up on drain, and worse, each failed
 * sendto frees the buffer it had charged to the sender, which signals
 * EPOLLOUT at once: waiting for readiness would spin. So send_to retries
 * on its own schedule instead: sleeps of 1, 2, 4 ... 16 ms between
 * attempts, within the caller's deadline (a full receiver is rare, and a
 * busy-wait is worse than a few milliseconds of delay).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/time.h"
#include "net/unix_internal.h"

struct ax_unix_dgram {
    ax__sock s;
    char *unlink_path; /* the bound file, unlinked at close */
};

static int ax__unix_dgram_new(ax_runtime *rt, const char *name, ax_unix_dgram **out) {
    ax_unix_dgram *d = calloc(1, sizeof *d);
    if (!d) return AX_ENOMEM;
    if (name && name[0] != '@' && !(d->unlink_path = ax__unix_unlink_path(name))) {
        free(d);
        return AX_ENOMEM;
    }
    int err = ax__unix_open_bound(rt, SOCK_DGRAM, name, 0, &d->s);
    if (err) {
        free(d->unlink_path);
        free(d);
        return err;
    }
    *out = d;
    return 0;
}

int ax_unix_dgram_bind(const char *name, ax_unix_dgram **out) {
    if (!name || !out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    int err = ax__unix_check(rt, name);
    if (err) return err;
    return ax__unix_dgram_new(rt, name, out);
}

int ax_unix_dgram_unbound(ax_unix_dgram **out) {
    if (!out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    return ax__unix_dgram_new(rt, NULL, out);
}

static int ax__unix_dgram_adopt(ax_runtime *rt, int fd, ax_unix_dgram **out) {
    ax_unix_dgram *d = calloc(1, sizeof *d);
    if (!d) {
        close(fd);
        return AX_ENOMEM;
    }
    int err = ax__sock_adopt(rt, fd, &d->s);
    if (err) {
        free(d);
        return err;
    }
    *out = d;
    return 0;
}

int ax_unix_dgram_pair(ax_unix_dgram **a, ax_unix_dgram **b) {
    if (!a || !b) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    int sv[2];
    if (ax__socketpair(AF_UNIX, SOCK_DGRAM, 0, sv, 1) < 0) return ax_translate_sys_error(errno);
    int err = ax__unix_dgram_adopt(rt, sv[0], a);
    if (err) {
        close(sv[1]);
        return err;
    }
    if ((err = ax__unix_dgram_adopt(rt, sv[1], b))) {
        ax_unix_dgram_close(*a);
        *a = NULL;
    }
    return err;
}

int ax_unix_dgram_connect(ax_unix_dgram *d, const char *name) {
    if (!d || !name) return AX_EINVAL;
    int err = ax__unix_check(d->s.rt, name);
    if (err) return err;
    struct sockaddr_un sa;
    socklen_t len;
    if ((err = ax__unix_sockaddr(name, 0, &sa, &len))) return err;
    int r;
    do r = connect(d->s.fd, (struct sockaddr *)&sa, len);
    while (r < 0 && errno == EINTR);
    return r < 0 ? ax_translate_sys_error(errno) : 0;
}

struct ax__unix_dsend_arg {
    const void *buf;
    size_t len;
    const struct sockaddr *sa;
    socklen_t salen;
};

static ssize_t ax__unix_dsend_op(int fd, void *arg) {
    struct ax__unix_dsend_arg *a = arg;
    return sendto(fd, a->buf, a->len, MSG_NOSIGNAL, a->sa, a->salen);
}

/* One attempt, as bytes or AX_E*. Not inlined: errno is read here only,
 * never in the caller's frame, which suspends between attempts (a task may
 * resume on another thread, and glibc's __errno_location is const, so an
 * inlined read could reuse the old thread's address). */
__attribute__((noinline)) static ssize_t ax__unix_dsend_try(int fd, struct ax__unix_dsend_arg *a) {
    ssize_t n;
    do n = ax__unix_dsend_op(fd, a);
    while (n < 0 && errno == EINTR);
    return n >= 0 ? n : ax_translate_sys_error(errno);
}

ssize_t ax_unix_dgram_send_to(ax_unix_dgram *d, const void *buf, size_t len, const char *name,
                              ax_instant deadline) {
    if (!name) return AX_EINVAL;
    int err = ax__unix_check(d->s.rt, name);
    if (err) return err;
    struct sockaddr_un sa;
    struct ax__unix_dsend_arg a = {buf, len, (const struct sockaddr *)&sa, 0};
    if ((err = ax__unix_sockaddr(name, 0, &sa, &a.salen))) return err;
    /* See the top of the file. */
    uint64_t step_ms = 1;
    for (;;) {
        ssize_t n = ax__unix_dsend_try(d->s.fd, &a);
        if (n != AX_EAGAIN) return n;
        ax_instant now = ax_now(), wake = now + step_ms * 1000000u;
        if (deadline != AX_NO_DEADLINE) {
            if (now >= deadline) return AX_ETIMEDOUT;
            if (wake > deadline) wake = deadline;
        }
        if ((err = ax_sleep_until(wake))) return err;
        if (step_ms < 16) step_ms *= 2;
    }
}

ssize_t ax_unix_dgram_send(ax_unix_dgram *d, const void *buf, size_t len, ax_instant deadline) {
    struct ax__unix_dsend_arg a = {buf, len, NULL, 0};
    ssize_t n = ax__sock_await_op(&d->s, AX__DIR_WRITE, ax__unix_dsend_op, &a, deadline);
    return n == -EDESTADDRREQ ? AX_ENOTCONN : n;
}

struct ax__unix_drecv_arg {
    struct iovec iov;
    struct sockaddr_un sa;
    socklen_t salen;
    int msg_flags;
};

static ssize_t ax__unix_drecv_op(int fd, void *arg) {
    struct ax__unix_drecv_arg *a = arg;
    struct msghdr m = {0};
    m.msg_name = &a->sa;
    m.msg_namelen = sizeof a->sa;
    m.msg_iov = &a->iov;
    m.msg_iovlen = 1;
    ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    if (n >= 0) {
        a->salen = m.msg_namelen;
        a->msg_flags = m.msg_flags;
    }
    return n;
}

ssize_t ax_unix_dgram_recv_from(ax_unix_dgram *d, void *buf, size_t len, ax_unix_addr *from,
                                unsigned *flags, ax_instant deadline) {
    if (flags) *flags = 0;
    struct ax__unix_drecv_arg a;
    memset(&a, 0, sizeof a);
    a.iov.iov_base = buf;
    a.iov.iov_len = len;
    ssize_t n = ax__sock_await_op(&d->s, AX__DIR_READ, ax__unix_drecv_op, &a, deadline);
    if (n < 0) return n;
    if (flags && (a.msg_flags & MSG_TRUNC)) *flags |= AX_UNIX_TRUNCATED;
    if (from) ax__unix_name(&a.sa, a.salen, from);
    return n;
}

ssize_t ax_unix_dgram_recv(ax_unix_dgram *d, void *buf, size_t len, unsigned *flags,
                           ax_instant deadline) {
    return ax_unix_dgram_recv_from(d, buf, len, NULL, flags, deadline);
}

int ax_unix_dgram_local_addr(const ax_unix_dgram *d, ax_unix_addr *out) {
    return ax__unix_sock_name(d->s.fd, 0, out);
}

int ax_unix_dgram_fd(const ax_unix_dgram *d) {
    return d->s.fd;
}

void ax_unix_dgram_close(ax_unix_dgram *d) {
    if (!d) return;
    ax__sock_close(&d->s);
    if (d->unlink_path) unlink(d->unlink_path);
    free(d->unlink_path);
    free(d);
}
