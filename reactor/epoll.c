/* reactor/epoll.c - the Linux backend of reactor.h.
 *
 * One epoll instance per reactor. Each descriptor is added once with
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET and never modified again: the
 * edges are folded into a per-handle readiness word, and a waiter only
 * parks when its own syscall has returned EAGAIN (which clears the bit).
 * The eventfd used for cross-thread wake-ups is level triggered and drained
 * by the poller.
 */
#include "reactor/reactor.h"
#include "reactor/spin.h"
#include "axon/error.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define AX__IO_CHUNK      256
#define AX__IO_MAX_CHUNKS 4096 /* 1,048,576 handles */
#define AX__EVENTS_BATCH  256
#define AX__NOTIFY_TAG    UINT64_MAX

enum { AX__READY_READ = 1u, AX__READY_WRITE = 2u };

struct ax__io {
    ax__spin lock;
    int fd;
    uint32_t gen;
    uint32_t index;
    /* Readiness bits in the low byte, an event counter above: a reader
     * that saw counter c may clear its bit only if no event came since. */
    _Atomic uint32_t ready;
    uint8_t is_socket;
    ax_waker waker[2];
    ax__io *next_free;
};

struct ax__reactor {
    int epfd;
    int evfd;
    atomic_int notified;
    ax__spin slots_lock;
    ax__io *free_list;
    _Atomic uint32_t nchunks;
    ax__io *_Atomic chunks[AX__IO_MAX_CHUNKS];
};

static uint64_t ax__io_tag(const ax__io *io) {
    return ((uint64_t)io->gen << 32) | io->index;
}

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
    uint32_t n = atomic_load(&r->nchunks);
    for (uint32_t i = 0; i < n; i++) free(atomic_load(&r->chunks[i]));
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

static ax__io *ax__io_slot(ax__reactor *r, uint32_t index) {
    uint32_t c = index / AX__IO_CHUNK;
    if (c >= atomic_load_explicit(&r->nchunks, memory_order_acquire)) return NULL;
    ax__io *chunk = atomic_load_explicit(&r->chunks[c], memory_order_acquire);
    return &chunk[index % AX__IO_CHUNK];
}

static ax__io *ax__io_alloc(ax__reactor *r) {
    ax__spin_lock(&r->slots_lock);
    if (!r->free_list) {
        uint32_t c = atomic_load_explicit(&r->nchunks, memory_order_relaxed);
        ax__io *chunk = c < AX__IO_MAX_CHUNKS ? calloc(AX__IO_CHUNK, sizeof(ax__io)) : NULL;
        if (!chunk) {
            ax__spin_unlock(&r->slots_lock);
            return NULL;
        }
        for (uint32_t i = AX__IO_CHUNK; i-- > 0;) {
            chunk[i].index = c * AX__IO_CHUNK + i;
            chunk[i].fd = -1;
            chunk[i].next_free = r->free_list;
            r->free_list = &chunk[i];
        }
        atomic_store_explicit(&r->chunks[c], chunk, memory_order_release);
        atomic_store_explicit(&r->nchunks, c + 1, memory_order_release);
    }
    ax__io *io = r->free_list;
    r->free_list = io->next_free;
    ax__spin_unlock(&r->slots_lock);
    return io;
}

static void ax__io_release(ax__reactor *r, ax__io *io) {
    ax__spin_lock(&r->slots_lock);
    io->next_free = r->free_list;
    r->free_list = io;
    ax__spin_unlock(&r->slots_lock);
}

int ax__io_register(ax__reactor *r, int fd, ax__io **out) {
    ax__io *io = ax__io_alloc(r);
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
        ax__io_release(r, io);
        return err;
    }
    *out = io;
    return 0;
}

void ax__io_deregister(ax__reactor *r, ax__io *io, int fd_closed) {
    if (!fd_closed) epoll_ctl(r->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    ax__spin_lock(&io->lock);
    io->gen++; /* from here on, queued events for the old tag are stale */
    io->fd = -1;
    ax_waker w0 = io->waker[0], w1 = io->waker[1];
    io->waker[0].vtable = io->waker[1].vtable = NULL;
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&w0);
    ax_waker_drop(&w1);
    ax__io_release(r, io);
}

int ax__io_fd(const ax__io *io) {
    return io->fd;
}

static uint32_t ax__dir_bit(int dir) {
    return dir == AX__DIR_READ ? AX__READY_READ : AX__READY_WRITE;
}

ax_poll ax__io_poll_ready(ax__io *io, int dir, ax_context *cx, uint32_t *tick) {
    uint32_t bit = ax__dir_bit(dir);
    uint32_t r = atomic_load_explicit(&io->ready, memory_order_acquire);
    if (tick) *tick = r >> 8;
    if (r & bit) return AX_READY;
    ax__spin_lock(&io->lock);
    r = atomic_load_explicit(&io->ready, memory_order_acquire);
    if (tick) *tick = r >> 8;
    if (r & bit) {
        ax__spin_unlock(&io->lock);
        return AX_READY;
    }
    ax_waker old = {0};
    if (!io->waker[dir].vtable || !ax_waker_will_wake(&io->waker[dir], cx->waker)) {
        old = io->waker[dir];
        io->waker[dir] = ax_waker_clone(cx->waker);
    }
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&old);
    return AX_PENDING;
}

void ax__io_clear_ready(ax__io *io, int dir, uint32_t tick) {
    uint32_t bit = ax__dir_bit(dir);
    uint32_t r = atomic_load_explicit(&io->ready, memory_order_relaxed);
    while ((r >> 8) == (tick & 0xffffff) && (r & bit)) {
        if (atomic_compare_exchange_weak_explicit(&io->ready, &r, r & ~bit, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return;
    }
}

void ax__io_drop_waker(ax__io *io, int dir) {
    ax__spin_lock(&io->lock);
    ax_waker w = io->waker[dir];
    io->waker[dir].vtable = NULL;
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&w);
}

/* Called by the poller for one event: fold it into readiness and take the
 * wakers to wake, unless the tag is stale. */
static void ax__io_dispatch(ax__reactor *r, uint64_t tag, uint32_t events) {
    ax__io *io = ax__io_slot(r, (uint32_t)tag);
    if (!io) return;
    uint32_t bits = 0;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) bits |= AX__READY_READ;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) bits |= AX__READY_WRITE;
    ax_waker wake[2] = {{0}, {0}};
    ax__spin_lock(&io->lock);
    if (io->gen != (uint32_t)(tag >> 32) || io->fd < 0) {
        ax__spin_unlock(&io->lock);
        return;
    }
    uint32_t cur = atomic_load_explicit(&io->ready, memory_order_relaxed);
    uint32_t next = ((((cur >> 8) + 1) & 0xffffff) << 8) | (cur & 0xff) | bits;
    atomic_store_explicit(&io->ready, next, memory_order_release);
    for (int d = 0; d < 2; d++) {
        if (bits & ax__dir_bit(d)) {
            wake[d] = io->waker[d];
            io->waker[d].vtable = NULL;
        }
    }
    ax__spin_unlock(&io->lock);
    ax_waker_wake(&wake[0]);
    ax_waker_wake(&wake[1]);
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

/* The completion flavour on a readiness backend: try the syscall first
 * (a fresh socket is usually writable, and data often arrives before the
 * reader asks); on EAGAIN clear readiness and park. The tick read before
 * the attempt keeps an event that lands in between from being lost. */
static inline bool ax__is_short(size_t done, size_t want) {
    return done < want;
}

/* want: the bytes asked for, or 0 when unknown. A transfer that moved
 * fewer bytes than asked (but some) drained the socket buffer at that
 * moment, so readiness is cleared without the EAGAIN call it would
 * otherwise take to learn it; an event that arrives meanwhile sets it
 * again (the tick check). A read of 0 (end of stream) keeps readiness:
 * no further edge will come to report it again. */
#define AX__IO_TRANSFER(io, dir, cx, res, want, call)                                              \
    for (;;) {                                                                                     \
        uint32_t tick = atomic_load_explicit(&(io)->ready, memory_order_acquire) >> 8;             \
        ssize_t n_;                                                                                \
        do n_ = (call);                                                                            \
        while (n_ < 0 && errno == EINTR);                                                          \
        if (n_ >= 0) {                                                                             \
            if (n_ > 0 && ax__is_short((size_t)n_, (want))) ax__io_clear_ready(io, dir, tick);     \
            *(res) = n_;                                                                           \
            return AX_READY;                                                                       \
        }                                                                                          \
        if (errno != EAGAIN && errno != EWOULDBLOCK) {                                             \
            *(res) = ax_translate_sys_error(errno);                                                \
            return AX_READY;                                                                       \
        }                                                                                          \
        ax__io_clear_ready(io, dir, tick);                                                         \
        if (ax__io_poll_ready(io, dir, cx, NULL) == AX_PENDING) return AX_PENDING;                 \
    }

static size_t ax__iov_len(const struct iovec *iov, int n) {
    size_t t = 0;
    for (int i = 0; i < n; i++) t += iov[i].iov_len;
    return t;
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
