/* reactor/epoll.c - the Linux backend of reactor.h.
 *
 * One epoll instance per reactor. Each descriptor is added once with
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET and never modified again: the
 * edges are folded into a per-handle readiness word, and a waiter only
 * parks when its own syscall has returned EAGAIN (which clears the bit).
 * The eventfd used for cross-thread wake-ups is level triggered and drained
 * by the poller.
 */
#include "reactor/backend.h"
#if AX__REACTOR_EPOLL
#include "reactor/readiness.h"

#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define AX__EVENTS_BATCH 256
#define AX__NOTIFY_TAG   UINT64_MAX

struct ax__reactor {
    int epfd;
    int evfd;
    atomic_int notified;
    ax__io_table t;
};

int ax__reactor_new(ax__reactor **out) {
    ax__reactor *r = calloc(1, sizeof(*r));
    if (!r) return AX_ENOMEM;
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        int err = -errno;
        free(r);
        return err;
    }
    r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = AX__NOTIFY_TAG};
    if (r->evfd < 0 || epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev) < 0) {
        int err = -errno;
        if (r->evfd >= 0) close(r->evfd);
        close(r->epfd);
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

void ax__reactor_free(ax__reactor *r) {
    if (!r) return;
    close(r->evfd);
    close(r->epfd);
    ax__io_table_free(&r->t);
    free(r);
}

int ax__reactor_fd(const ax__reactor *r) {
    return r->epfd;
}

void ax__reactor_notify(ax__reactor *r) {
    /* Only the first notifier since the last drain pays for the write. */
    if (atomic_exchange_explicit(&r->notified, 1, memory_order_acq_rel)) return;
    uint64_t one = 1;
    ssize_t n = write(r->evfd, &one, sizeof(one));
    (void)n; /* EAGAIN means the counter is already non-zero: still woken. */
}

int ax__io_register(ax__reactor *r, int fd, ax__io **out) {
    ax__io *io = ax__io_alloc(&r->t);
    if (!io) return AX_ENOMEM;
    ax__spin_lock(&io->lock);
    io->fd = fd;
    atomic_store_explicit(&io->ready, 0, memory_order_relaxed);
    int type;
    socklen_t tlen = sizeof(type);
    io->is_socket = getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0;
    uint64_t tag = ax__io_tag(io);
    ax__spin_unlock(&io->lock);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = tag};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        io->fd = -1;
        ax__io_release(&r->t, io);
        return err;
    }
    *out = io;
    return 0;
}

void ax__io_deregister(ax__reactor *r, ax__io *io, int fd_closed) {
    if (!fd_closed) epoll_ctl(r->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    ax__io_forget(&r->t, io);
}

/* Maps one epoll event onto readiness bits: hang-up and error count as
 * ready for both directions, a half-close (RDHUP) for reading. */
static void ax__io_dispatch(ax__reactor *r, uint64_t tag, uint32_t events) {
    uint32_t bits = 0;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) bits |= AX__READY_READ;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) bits |= AX__READY_WRITE;
    ax__io_fold(&r->t, tag, bits);
}

int ax__reactor_poll(ax__reactor *r, int timeout_ms) {
    return ax__reactor_poll_max(r, timeout_ms, AX__EVENTS_BATCH);
}

int ax__reactor_poll_max(ax__reactor *r, int timeout_ms, int max_events) {
    struct epoll_event evs[AX__EVENTS_BATCH];
    if (max_events < 1) max_events = 1;
    if (max_events > AX__EVENTS_BATCH) max_events = AX__EVENTS_BATCH;
    int n = epoll_wait(r->epfd, evs, max_events, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    int handled = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == AX__NOTIFY_TAG) {
            uint64_t v;
            while (read(r->evfd, &v, sizeof(v)) > 0) {
            }
            atomic_store_explicit(&r->notified, 0, memory_order_release);
            continue;
        }
        ax__io_dispatch(r, evs[i].data.u64, evs[i].events);
        handled++;
    }
    return handled;
}

/* The transfers call the kernel through syscall(2) rather than libc's
 * read/send wrappers: those are cancellation points, and in a process with
 * threads (every multi-threaded runtime) each call pays to enable and
 * disable asynchronous cancellation around the system call, about 2% of an
 * echo server's CPU. Axon never uses pthread cancellation, so nothing is
 * lost. */
static ssize_t ax__sys_read(int fd, void *buf, size_t len) {
    return syscall(SYS_read, fd, buf, len);
}

static ssize_t ax__sys_readv(int fd, const struct iovec *iov, int n) {
    return syscall(SYS_readv, fd, iov, n);
}

ax_poll ax__io_poll_read(ax__io *io, void *buf, size_t len, ax_context *cx, ssize_t *res) {
    AX__IO_TRANSFER(io, AX__DIR_READ, cx, res, len, ax__sys_read(io->fd, buf, len));
}

ax_poll ax__io_poll_readv(ax__io *io, const struct iovec *iov, int n, ax_context *cx,
                          ssize_t *res) {
    AX__IO_TRANSFER(io, AX__DIR_READ, cx, res, ax__iov_len(iov, n), ax__sys_readv(io->fd, iov, n));
}

ax_poll ax__io_poll_op(ax__io *io, int dir, ax_context *cx, ax__io_op_fn op, void *arg,
                       ssize_t *res) {
    AX__IO_TRANSFER(io, dir, cx, res, 0, op(io->fd, arg));
}

/* Sockets are written with MSG_NOSIGNAL so a closed peer yields AX_EPIPE
 * instead of killing the process with SIGPIPE. */
static ssize_t ax__io_sys_write(ax__io *io, const void *buf, size_t len) {
    return io->is_socket ? syscall(SYS_sendto, io->fd, buf, len, MSG_NOSIGNAL, NULL, 0)
                         : syscall(SYS_write, io->fd, buf, len);
}

static ssize_t ax__io_sys_writev(ax__io *io, const struct iovec *iov, int n) {
    if (!io->is_socket) return syscall(SYS_writev, io->fd, iov, n);
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return syscall(SYS_sendmsg, io->fd, &msg, MSG_NOSIGNAL);
}

ax_poll ax__io_poll_write(ax__io *io, const void *buf, size_t len, ax_context *cx, ssize_t *res) {
    AX__IO_TRANSFER(io, AX__DIR_WRITE, cx, res, len, ax__io_sys_write(io, buf, len));
}

ax_poll ax__io_poll_writev(ax__io *io, const struct iovec *iov, int n, ax_context *cx,
                           ssize_t *res) {
    AX__IO_TRANSFER(io, AX__DIR_WRITE, cx, res, ax__iov_len(iov, n), ax__io_sys_writev(io, iov, n));
}

#endif /* AX__REACTOR_EPOLL */
