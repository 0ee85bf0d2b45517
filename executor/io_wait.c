/* executor/io_wait.c - ax_wait_readable / ax_wait_writable for descriptors
 * the embedder owns.
 *
 * The descriptor is registered only for the duration of the wait: Axon
 * cannot know when the caller closes it, and a registration left behind
 * would outlive the descriptor number. A descriptor that is already in the
 * reactor (EEXIST) is waited on through a dup, which epoll treats as a
 * separate registration of the same open file.
 */
#include "executor/internal.h"

#include <fcntl.h>
#include <unistd.h>

typedef struct ax__ready_future {
    ax_future base;
    ax__io *io;
    int dir;
} ax__ready_future;

static ax_poll ax__ready_poll(ax_future *f, ax_context *cx) {
    ax__ready_future *r = (ax__ready_future *)f;
    if (ax__io_poll_ready(r->io, r->dir, cx, NULL) == AX_PENDING) return AX_PENDING;
    r->base.result = 0;
    return AX_READY;
}

static void ax__ready_drop(ax_future *f) {
    ax__ready_future *r = (ax__ready_future *)f;
    ax__io_drop_waker(r->io, r->dir);
}

static const ax_future_vtable ax__ready_vtable = {ax__ready_poll, ax__ready_drop};

static int ax__wait_fd(int fd, int dir, ax_instant deadline) {
    ax_task *t = ax__task_current();
    if (!t) return AX_ENOTASK;
    if (fd < 0) return AX_EBADF;
    ax__reactor *reactor = t->rt->reactor;
    int dup_fd = -1;
    ax__io *io;
    int err = ax__io_register(reactor, fd, &io);
    if (err == AX_EEXIST) {
        dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (dup_fd < 0) return ax_translate_sys_error(errno);
        err = ax__io_register(reactor, dup_fd, &io);
    }
    if (err) {
        if (dup_fd >= 0) close(dup_fd);
        return err;
    }
    ax__ready_future rf = {{&ax__ready_vtable, 0}, io, dir};
    int r = (int)ax_await_until(&rf.base, deadline);
    ax__io_deregister(reactor, io, 0);
    if (dup_fd >= 0) close(dup_fd);
    return r;
}

int ax_wait_readable(int fd, ax_instant deadline) {
    return ax__wait_fd(fd, AX__DIR_READ, deadline);
}

int ax_wait_writable(int fd, ax_instant deadline) {
    return ax__wait_fd(fd, AX__DIR_WRITE, deadline);
}
