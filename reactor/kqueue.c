/* reactor/kqueue.c - the macOS / BSD backend of reactor.h.
 *
 * One kqueue per reactor. Each descriptor gets an EVFILT_READ and an
 * EVFILT_WRITE filter, both EV_CLEAR (edge triggered), added once at
 * registration and never modified; the filter's udata is the slot's tag
 * (generation << 32 | index, see readiness.h), so an event queued for a
 * descriptor that has since been deregistered, closed and reused is
 * dropped as stale. Edges are folded into the handle's readiness word
 * exactly as on epoll, and the completion flavour is the same
 * try / wait-for-readiness / retry loop (AX__IO_TRANSFER).
 *
 * Cross-thread wake-ups are an EVFILT_USER event (ident 0, EV_CLEAR),
 * triggered with NOTE_TRIGGER. Time stays the timer wheel's: kevent gets
 * only the timeout the executor asks for, and no EVFILT_TIMER is used.
 *
 * A descriptor open for one direction only (a pipe's end) gets only that
 * direction's filter, as epoll would report only that direction; one whose
 * kind accepts only one of the two filters (a kqueue, which Axon registers
 * for signals, takes no EVFILT_WRITE) keeps the one that was accepted. Sockets get SO_NOSIGPIPE at
 * registration, so that a write to a closed peer returns EPIPE instead of raising SIGPIPE on
 * systems without MSG_NOSIGNAL.
 *
 * Built on macOS and the BSDs (make check-macos-compile compiles it
 * against Zig's macOS headers); it has not run here.
 */
#include "reactor/backend.h"
#if AX__REACTOR_KQUEUE
#include "reactor/readiness.h"
#include "reactor/os_unix.h"

#include <string.h>
#include <sys/event.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#define AX__EVENTS_BATCH 256
#define AX__NOTIFY_IDENT 0

struct ax__reactor {
    int kq;
    atomic_int notified;
    ax__io_table t;
};

int ax__reactor_new(ax__reactor **out) {
    ax__reactor *r = calloc(1, sizeof(*r));
    if (!r) return AX_ENOMEM;
    r->kq = kqueue();
    if (r->kq < 0) {
        int err = ax_translate_sys_error(errno);
        free(r);
        return err;
    }
    struct kevent ev;
    EV_SET(&ev, AX__NOTIFY_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
    if (ax__fd_cloexec(r->kq) < 0 || kevent(r->kq, &ev, 1, NULL, 0, NULL) < 0) {
        int err = ax_translate_sys_error(errno);
        close(r->kq);
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

void ax__reactor_free(ax__reactor *r) {
    if (!r) return;
    close(r->kq);
    ax__io_table_free(&r->t);
    free(r);
}

int ax__reactor_fd(const ax__reactor *r) {
    return r->kq;
}

void ax__reactor_notify(ax__reactor *r) {
    /* Only the first notifier since the poller last saw the event pays
     * for the system call. */
    if (atomic_exchange_explicit(&r->notified, 1, memory_order_acq_rel)) return;
    struct kevent ev;
    EV_SET(&ev, AX__NOTIFY_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
    (void)kevent(r->kq, &ev, 1, NULL, 0, NULL);
}

/* The filters fd is registered with: AX__READY_READ and/or
 * AX__READY_WRITE, from its access mode. */
static uint32_t ax__kq_dirs(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return AX__READY_READ | AX__READY_WRITE;
    switch (fl & O_ACCMODE) {
    case O_RDONLY:
        return AX__READY_READ;
    case O_WRONLY:
        return AX__READY_WRITE;
    default:
        return AX__READY_READ | AX__READY_WRITE;
    }
}

/* Adds (EV_ADD | EV_CLEAR) or deletes (EV_DELETE) the filters `dirs` of fd
 * in one call. EV_RECEIPT makes kevent report each change's outcome as an
 * event with EV_ERROR set and data = errno (0 on success) instead of
 * draining pending events. Returns how many filters took the change, or
 * -errno of the first failure when none did. */
static int ax__kq_change(ax__reactor *r, int fd, uint32_t dirs, uint16_t flags, uint64_t tag) {
    struct kevent ch[2], res[2];
    void *udata = (void *)(uintptr_t)tag;
    int k = 0;
    if (dirs & AX__READY_READ)
        EV_SET(&ch[k++], (uintptr_t)fd, EVFILT_READ, flags | EV_RECEIPT, 0, 0, udata);
    if (dirs & AX__READY_WRITE)
        EV_SET(&ch[k++], (uintptr_t)fd, EVFILT_WRITE, flags | EV_RECEIPT, 0, 0, udata);
    int n = kevent(r->kq, ch, k, res, k, NULL);
    if (n < 0) return -errno;
    int ok = 0, first_err = 0;
    for (int i = 0; i < n; i++) {
        if ((res[i].flags & EV_ERROR) && res[i].data != 0) {
            if (!first_err) first_err = (int)res[i].data;
        } else {
            ok++;
        }
    }
    return ok ? ok : -(first_err ? first_err : EINVAL);
}

int ax__io_register(ax__reactor *r, int fd, ax__io **out) {
    _Static_assert(sizeof(void *) >= sizeof(uint64_t), "kqueue udata must hold a 64-bit tag");
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
#ifdef SO_NOSIGPIPE
    if (io->is_socket) {
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
    }
#endif
    /* kqueue, unlike epoll, accepts a descriptor twice (the second add
     * just updates the filter); refuse it as epoll does. EV_ENABLE on a
     * filter that does not exist fails with ENOENT. */
    uint32_t dirs = ax__kq_dirs(fd);
    struct kevent probe;
    EV_SET(&probe, (uintptr_t)fd, (dirs & AX__READY_READ) ? EVFILT_READ : EVFILT_WRITE,
           EV_RECEIPT | EV_ENABLE, 0, 0, NULL);
    struct kevent pres;
    if (kevent(r->kq, &probe, 1, &pres, 1, NULL) == 1 && (pres.flags & EV_ERROR) &&
        pres.data == 0) {
        io->fd = -1;
        ax__io_release(&r->t, io);
        return AX_EEXIST;
    }
    int rc = ax__kq_change(r, fd, dirs, EV_ADD | EV_CLEAR, tag);
    if (rc < 0) {
        io->fd = -1;
        ax__io_release(&r->t, io);
        return ax_translate_sys_error(-rc);
    }
    *out = io;
    return 0;
}

void ax__io_deregister(ax__reactor *r, ax__io *io, int fd_closed) {
    /* close(2) removes a descriptor's filters by itself. */
    if (!fd_closed) (void)ax__kq_change(r, io->fd, AX__READY_READ | AX__READY_WRITE, EV_DELETE, 0);
    ax__io_forget(&r->t, io);
}

/* Maps one kevent onto readiness bits. EV_EOF (peer closed, or an error in
 * fflags) leaves the filter's own direction ready: the next call returns
 * 0 or the error. */
static void ax__io_dispatch(ax__reactor *r, const struct kevent *ev) {
    uint32_t bits = ev->filter == EVFILT_WRITE ? AX__READY_WRITE : AX__READY_READ;
    if (ev->flags & EV_ERROR) bits = AX__READY_READ | AX__READY_WRITE;
    ax__io_fold(&r->t, (uint64_t)(uintptr_t)ev->udata, bits);
}

int ax__reactor_poll(ax__reactor *r, int timeout_ms) {
    return ax__reactor_poll_max(r, timeout_ms, AX__EVENTS_BATCH);
}

int ax__reactor_poll_max(ax__reactor *r, int timeout_ms, int max_events) {
    struct kevent evs[AX__EVENTS_BATCH];
    if (max_events < 1) max_events = 1;
    if (max_events > AX__EVENTS_BATCH) max_events = AX__EVENTS_BATCH;
    struct timespec ts, *tsp = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tsp = &ts;
    }
    int n = kevent(r->kq, NULL, 0, evs, max_events, tsp);
    if (n < 0) return errno == EINTR ? 0 : ax_translate_sys_error(errno);
    int handled = 0;
    for (int i = 0; i < n; i++) {
        if (evs[i].filter == EVFILT_USER) {
            /* EV_CLEAR re-arms the event as it is delivered. */
            atomic_store_explicit(&r->notified, 0, memory_order_release);
            continue;
        }
        ax__io_dispatch(r, &evs[i]);
        handled++;
    }
    return handled;
}

/* MSG_NOSIGNAL is 0 where the system lacks it (os_unix.h); SO_NOSIGPIPE,
 * set at registration, covers those. */
static ssize_t ax__io_sys_write(ax__io *io, const void *buf, size_t len) {
    return io->is_socket ? send(io->fd, buf, len, MSG_NOSIGNAL) : write(io->fd, buf, len);
}

static ssize_t ax__io_sys_writev(ax__io *io, const struct iovec *iov, int n) {
    if (!io->is_socket) return writev(io->fd, iov, n);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = n;
    return sendmsg(io->fd, &msg, MSG_NOSIGNAL);
}

ax_poll ax__io_poll_read(ax__io *io, void *buf, size_t len, ax_context *cx, ssize_t *res) {
    AX__IO_TRANSFER(io, AX__DIR_READ, cx, res, len, read(io->fd, buf, len));
}

ax_poll ax__io_poll_readv(ax__io *io, const struct iovec *iov, int n, ax_context *cx,
                          ssize_t *res) {
    AX__IO_TRANSFER(io, AX__DIR_READ, cx, res, ax__iov_len(iov, n), readv(io->fd, iov, n));
}

ax_poll ax__io_poll_op(ax__io *io, int dir, ax_context *cx, ax__io_op_fn op, void *arg,
                       ssize_t *res) {
    AX__IO_TRANSFER(io, dir, cx, res, 0, op(io->fd, arg));
}

ax_poll ax__io_poll_write(ax__io *io, const void *buf, size_t len, ax_context *cx, ssize_t *res) {
    AX__IO_TRANSFER(io, AX__DIR_WRITE, cx, res, len, ax__io_sys_write(io, buf, len));
}

ax_poll ax__io_poll_writev(ax__io *io, const struct iovec *iov, int n, ax_context *cx,
                           ssize_t *res) {
    AX__IO_TRANSFER(io, AX__DIR_WRITE, cx, res, ax__iov_len(iov, n), ax__io_sys_writev(io, iov, n));
}

#endif /* AX__REACTOR_KQUEUE */
