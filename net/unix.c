/* net/unix.c - Unix domain stream sockets over net/sock.c: names,
 * listeners, connections, socket pairs, descriptor passing and peer
 * credentials. Datagram sockets are in net/unix_dgram.c.
 *
 * A connection is an ax__sock like a TCP one and shares its stream vtable.
 * Descriptor passing receives into a control buffer large enough for the
 * kernel's per-message maximum, so every descriptor that arrives is seen
 * and either handed to the caller or closed here: none can leak into the
 * process unnoticed, and none is silently dropped.
 */
#include "axon/unix.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/unix_internal.h"

struct ax_unix {
    ax__sock s;
};

struct ax_unix_listener {
    ax__sock s;
    char *unlink_path; /* unlinked at close; NULL: nothing to unlink */
};

/* --- names ------------------------------------------------------------------- */

int ax__unix_sockaddr(const char *name, int autobind, struct sockaddr_un *sa, socklen_t *len) {
    if (!name || !*name) return AX_EINVAL;
    size_t n = strlen(name);
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (name[0] == '@') {
#ifdef __linux__
        if (n - 1 > sizeof sa->sun_path - 1) return AX_ENAMETOOLONG;
        if (n == 1) {
            if (!autobind) return AX_EINVAL;
            *len = (socklen_t)sizeof(sa_family_t); /* the kernel picks a name */
            return 0;
        }
        memcpy(sa->sun_path + 1, name + 1, n - 1); /* sun_path[0] = 0: abstract */
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
        return 0;
#else
        return AX_ENOTSUP;
#endif
    }
    if (n >= sizeof sa->sun_path) return AX_ENAMETOOLONG;
    memcpy(sa->sun_path, name, n + 1);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

void ax__unix_name(const struct sockaddr_un *sa, socklen_t len, ax_unix_addr *out) {
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t plen = len > off ? (size_t)len - off : 0;
    if (plen > sizeof sa->sun_path) plen = sizeof sa->sun_path;
    memset(out, 0, sizeof *out);
    if (plen == 0 || sa->sun_family != AF_UNIX) return;
    if (sa->sun_path[0] == '\0') {
        /* Abstract: every byte after the first is the name; one that holds
         * a NUL (not one we would make) ends the text there. */
        out->name[0] = '@';
        memcpy(out->name + 1, sa->sun_path + 1, plen - 1);
        return;
    }
    memcpy(out->name, sa->sun_path, strnlen(sa->sun_path, plen));
}

int ax__unix_sock_name(int fd, int peer, ax_unix_addr *out) {
    struct sockaddr_un sa;
    socklen_t len = sizeof sa;
    int r = peer ? getpeername(fd, (struct sockaddr *)&sa, &len)
                 : getsockname(fd, (struct sockaddr *)&sa, &len);
    if (r < 0) return ax_translate_sys_error(errno);
    ax__unix_name(&sa, len, out);
    return 0;
}

int ax__unix_check(ax_runtime *rt, const char *name) {
    if (!name || !*name) return AX_EINVAL;
    if (name[0] == '@') return 0;
    return ax__policy_check_rt(rt, AX__POLICY_OP_WRITE, name, 0, NULL, 0);
}

char *ax__unix_unlink_path(const char *name) {
    if (name[0] == '@') return NULL;
    if (name[0] == '/') return strdup(name);
    /* Relative: pin it to the directory it was created in, so a later
     * chdir does not make the close unlink some other file. */
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    size_t a = strlen(cwd), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, cwd, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

int ax__unix_open_bound(ax_runtime *rt, int type, const char *name, int backlog, ax__sock *s) {
    struct sockaddr_un sa;
    socklen_t len = 0;
    int err;
    if (name && (err = ax__unix_sockaddr(name, 1, &sa, &len))) return err;
    if ((err = ax__sock_open(rt, AF_UNIX, type, 0, s))) return err;
    if (name && bind(s->fd, (struct sockaddr *)&sa, len) < 0) {
        err = ax_translate_sys_error(errno);
        goto fail;
    }
    if (backlog > 0 && listen(s->fd, backlog) < 0) {
        err = ax_translate_sys_error(errno);
        if (name && name[0] != '@') unlink(sa.sun_path); /* do not leave our file behind */
        goto fail;
    }
    return ax__sock_register(s);
fail:
    close(s->fd);
    s->fd = -1;
    return err;
}

/* --- listeners ----------------------------------------------------------------- */

int ax_unix_listen(const char *name, const ax_unix_listen_opts *opts, ax_unix_listener **out) {
    ax_unix_listen_opts o = {0};
    if (opts) o = *opts;
    if (!name || !out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    int err = ax__unix_check(rt, name);
    if (err) return err;
    ax_unix_listener *l = calloc(1, sizeof *l);
    if (!l) return AX_ENOMEM;
    if (!o.keep_path && name[0] != '@') {
        if (!(l->unlink_path = ax__unix_unlink_path(name))) {
            free(l);
            return AX_ENOMEM;
        }
    }
    err = ax__unix_open_bound(rt, SOCK_STREAM, name, o.backlog > 0 ? o.backlog : 1024, &l->s);
    if (err) {
        free(l->unlink_path);
        free(l);
        return err;
    }
    *out = l;
    return 0;
}

static ssize_t ax__unix_accept_op(int fd, void *arg) {
    (void)arg;
    for (;;) {
        int c = ax__accept_nb(fd, NULL, NULL);
        if (c < 0 && errno == ECONNABORTED) continue;
        return c;
    }
}

static int ax__unix_wrap(ax_runtime *rt, int fd, ax_unix **out) {
    ax_unix *c = malloc(sizeof *c);
    if (!c) {
        close(fd);
        return AX_ENOMEM;
    }
    int err = ax__sock_adopt(rt, fd, &c->s);
    if (err) {
        free(c);
        return err;
    }
    c->s.stream.vtable = &ax__sock_stream_vtable;
    *out = c;
    return 0;
}

int ax_unix_accept(ax_unix_listener *l, ax_unix **out, ax_instant deadline) {
    ssize_t fd = ax__sock_await_op(&l->s, AX__DIR_READ, ax__unix_accept_op, NULL, deadline);
    if (fd < 0) return (int)fd;
    return ax__unix_wrap(l->s.rt, (int)fd, out);
}

ax_poll ax_unix_poll_accept(ax_unix_listener *l, ax_context *cx, ax_unix **out, int *res) {
    ssize_t fd;
    if (ax__io_poll_op(l->s.io, AX__DIR_READ, cx, ax__unix_accept_op, NULL, &fd) == AX_PENDING)
        return AX_PENDING;
    *res = fd < 0 ? (int)fd : ax__unix_wrap(l->s.rt, (int)fd, out);
    return AX_READY;
}

int ax_unix_listener_addr(const ax_unix_listener *l, ax_unix_addr *out) {
    return ax__unix_sock_name(l->s.fd, 0, out);
}

int ax_unix_listener_fd(const ax_unix_listener *l) {
    return l->s.fd;
}

void ax_unix_listener_close(ax_unix_listener *l) {
    if (!l) return;
    ax__sock_close(&l->s);
    if (l->unlink_path) unlink(l->unlink_path);
    free(l->unlink_path);
    free(l);
}

/* --- connections --------------------------------------------------------------- */

int ax_unix_connect(const char *name, ax_instant deadline, ax_unix **out) {
    if (!name || !out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    int err = ax__unix_check(rt, name);
    if (err) return err;
    struct sockaddr_un sa;
    socklen_t len;
    if ((err = ax__unix_sockaddr(name, 0, &sa, &len))) return err;
    ax_unix *c = malloc(sizeof *c);
    if (!c) return AX_ENOMEM;
    if ((err = ax__sock_open(rt, AF_UNIX, SOCK_STREAM, 0, &c->s)) ||
        (err = ax__sock_connect(&c->s, (struct sockaddr *)&sa, len, deadline))) {
        free(c);
        return err;
    }
    c->s.stream.vtable = &ax__sock_stream_vtable;
    *out = c;
    return 0;
}

int ax_unix_pair(ax_unix **a, ax_unix **b) {
    if (!a || !b) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    int sv[2];
    if (ax__socketpair(AF_UNIX, SOCK_STREAM, 0, sv, 1) < 0) return ax_translate_sys_error(errno);
    int err = ax__unix_wrap(rt, sv[0], a);
    if (err) {
        close(sv[1]);
        return err;
    }
    if ((err = ax__unix_wrap(rt, sv[1], b))) {
        ax_unix_close(*a);
        *a = NULL;
    }
    return err;
}

ax_stream *ax_unix_stream(ax_unix *c) {
    return &c->s.stream;
}

ssize_t ax_unix_read(ax_unix *c, void *buf, size_t len, ax_instant deadline) {
    return ax_stream_read(&c->s.stream, buf, len, deadline);
}

ssize_t ax_unix_write(ax_unix *c, const void *buf, size_t len, ax_instant deadline) {
    return ax_stream_write(&c->s.stream, buf, len, deadline);
}

int ax_unix_read_exact(ax_unix *c, void *buf, size_t len, ax_instant deadline) {
    return ax_stream_read_exact(&c->s.stream, buf, len, deadline);
}

int ax_unix_write_all(ax_unix *c, const void *buf, size_t len, ax_instant deadline) {
    return ax_stream_write_all(&c->s.stream, buf, len, deadline);
}

/* --- descriptor passing -------------------------------------------------------- */

/* Control space for the most descriptors one message can carry. */
typedef union ax__unix_cmsg {
    struct cmsghdr align;
    char buf[CMSG_SPACE(AX_UNIX_MAX_FDS * sizeof(int))];
} ax__unix_cmsg;

struct ax__unix_sendfds_arg {
    struct iovec iov;
    const int *fds;
    size_t nfds;
    ax__unix_cmsg cmsg;
};

static ssize_t ax__unix_sendfds_op(int fd, void *arg) {
    struct ax__unix_sendfds_arg *a = arg;
    struct msghdr m = {0};
    m.msg_iov = &a->iov;
    m.msg_iovlen = 1;
    if (a->nfds) {
        size_t bytes = a->nfds * sizeof(int);
        memset(&a->cmsg, 0, sizeof a->cmsg);
        m.msg_control = a->cmsg.buf;
        m.msg_controllen = CMSG_SPACE(bytes);
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(bytes);
        memcpy(CMSG_DATA(h), a->fds, bytes);
    }
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}

ssize_t ax_unix_send_fds(ax_unix *c, const void *buf, size_t len, const int *fds, size_t nfds,
                         ax_instant deadline) {
    if (!buf || len == 0 || nfds > AX_UNIX_MAX_FDS || (nfds && !fds)) return AX_EINVAL;
    struct ax__unix_sendfds_arg a;
    a.iov.iov_base = (void *)buf;
    a.iov.iov_len = len;
    a.fds = fds;
    a.nfds = nfds;
    return ax__sock_await_op(&c->s, AX__DIR_WRITE, ax__unix_sendfds_op, &a, deadline);
}

struct ax__unix_recvfds_arg {
    struct iovec iov;
    int msg_flags;
    size_t controllen;
    ax__unix_cmsg cmsg;
};

static ssize_t ax__unix_recvfds_op(int fd, void *arg) {
    struct ax__unix_recvfds_arg *a = arg;
    struct msghdr m = {0};
    m.msg_iov = &a->iov;
    m.msg_iovlen = 1;
    m.msg_control = a->cmsg.buf;
    m.msg_controllen = sizeof a->cmsg.buf;
    ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
    if (n >= 0) {
        a->msg_flags = m.msg_flags;
        a->controllen = m.msg_controllen;
    }
    return n;
}

ssize_t ax_unix_recv_fds(ax_unix *c, void *buf, size_t len, int *fds, size_t *nfds, unsigned *flags,
                         ax_instant deadline) {
    if (flags) *flags = 0;
    size_t cap = nfds ? *nfds : 0;
    if (nfds) *nfds = 0;
    if (cap && !fds) return AX_EINVAL;
    struct ax__unix_recvfds_arg a;
    a.iov.iov_base = buf;
    a.iov.iov_len = len;
    a.msg_flags = 0;
    a.controllen = 0;
    ssize_t n = ax__sock_await_op(&c->s, AX__DIR_READ, ax__unix_recvfds_op, &a, deadline);
    if (n < 0) return n;
    struct msghdr m = {0};
    m.msg_control = a.cmsg.buf;
    m.msg_controllen = a.controllen;
    size_t got = 0;
    int truncated = (a.msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *p = CMSG_DATA(h);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, p + i * sizeof(int), sizeof fd);
            if (!MSG_CMSG_CLOEXEC) (void)ax__fd_cloexec(fd); /* no atomic flag here */
            if (got < cap) {
                fds[got++] = fd;
            } else {
                close(fd);
                truncated = 1;
            }
        }
    }
    if (nfds) *nfds = got;
    if (truncated && flags) *flags |= AX_UNIX_FDS_TRUNCATED;
    return n;
}

/* --- the rest ------------------------------------------------------------------ */

int ax_unix_peer_cred(const ax_unix *c, ax_unix_cred *out) {
#ifdef SO_PEERCRED
    struct ucred uc;
    socklen_t l = sizeof uc;
    if (getsockopt(c->s.fd, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0)
        return ax_translate_sys_error(errno);
    out->pid = uc.pid;
    out->uid = uc.uid;
    out->gid = uc.gid;
    return 0;
#elif defined(__APPLE__)
    /* getpeereid for the ids, LOCAL_PEERPID (macOS 10.8+) for the pid. */
    uid_t uid;
    gid_t gid;
    pid_t pid = 0;
    socklen_t l = sizeof pid;
    if (getpeereid(c->s.fd, &uid, &gid) < 0) return ax_translate_sys_error(errno);
    if (getsockopt(c->s.fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &l) < 0)
        return ax_translate_sys_error(errno);
    out->pid = pid;
    out->uid = uid;
    out->gid = gid;
    return 0;
#else
    (void)c;
    (void)out;
    return AX_ENOTSUP;
#endif
}

int ax_unix_shutdown(ax_unix *c, int how) {
    if (how < AX_SHUT_RD || how > AX_SHUT_RDWR) return AX_EINVAL;
    int h = how == AX_SHUT_RD ? SHUT_RD : how == AX_SHUT_WR ? SHUT_WR : SHUT_RDWR;
    return shutdown(c->s.fd, h) < 0 ? ax_translate_sys_error(errno) : 0;
}

int ax_unix_local_addr(const ax_unix *c, ax_unix_addr *out) {
    return ax__unix_sock_name(c->s.fd, 0, out);
}

int ax_unix_peer_addr(const ax_unix *c, ax_unix_addr *out) {
    return ax__unix_sock_name(c->s.fd, 1, out);
}

int ax_unix_fd(const ax_unix *c) {
    return c->s.fd;
}

void ax_unix_close(ax_unix *c) {
    if (!c) return;
    ax__sock_close(&c->s);
    free(c);
}
