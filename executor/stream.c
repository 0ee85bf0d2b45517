/* executor/stream.c - the stream interface's dispatch, its futures and the
 * suspending wrappers task code uses.
 *
 * Every wrapper is one future awaited with the task's deadline: the future
 * calls the stream's poll function, and if it is dropped before it finished
 * (timeout, cancellation) it tells the stream to forget the waker it
 * stored, so an abandoned wait leaves no reference to the task behind.
 */
#include "axon/stream.h"

#include <limits.h>
#include <string.h>

#include "axon/buf.h"
#include "axon/error.h"

ax_poll ax_stream_poll_read(ax_stream *s, ax_context *cx, void *buf, size_t len, ssize_t *res) {
    return s->vtable->poll_read(s, cx, buf, len, res);
}

ax_poll ax_stream_poll_write(ax_stream *s, ax_context *cx, const void *buf, size_t len,
                             ssize_t *res) {
    return s->vtable->poll_write(s, cx, buf, len, res);
}

ax_poll ax_stream_poll_writev(ax_stream *s, ax_context *cx, const struct iovec *iov, int iovcnt,
                              ssize_t *res) {
    if (s->vtable->poll_writev) return s->vtable->poll_writev(s, cx, iov, iovcnt, res);
    for (int i = 0; i < iovcnt; i++)
        if (iov[i].iov_len)
            return s->vtable->poll_write(s, cx, iov[i].iov_base, iov[i].iov_len, res);
    *res = 0;
    return AX_READY;
}

ax_poll ax_stream_poll_flush(ax_stream *s, ax_context *cx, int *res) {
    if (s->vtable->poll_flush) return s->vtable->poll_flush(s, cx, res);
    *res = 0;
    return AX_READY;
}

ax_poll ax_stream_poll_shutdown(ax_stream *s, ax_context *cx, int *res) {
    return s->vtable->poll_shutdown(s, cx, res);
}

ax_poll ax_stream_poll_read_ready(ax_stream *s, ax_context *cx, int *res) {
    if (s->vtable->poll_read_ready) return s->vtable->poll_read_ready(s, cx, res);
    *res = 0;
    return AX_READY;
}

void ax_stream_close(ax_stream *s) {
    if (s) s->vtable->close(s);
}

/* --- futures ------------------------------------------------------------------ */

/* What a future does. The first two are the public future's directions,
 * so one future type serves the public read/write futures and every
 * suspending wrapper. */
enum {
    AX__OP_READ = AX_STREAM_READ,
    AX__OP_WRITE = AX_STREAM_WRITE,
    AX__OP_WRITEV,
    AX__OP_FLUSH,
    AX__OP_SHUTDOWN,
    AX__OP_READABLE
};

/* ax_stream_io_future with dir holding an AX__OP_*; stream is NULL once it
 * finished. len is the iovec count for WRITEV. */
static ax_poll ax__stream_op_poll(ax_future *f, ax_context *cx) {
    ax_stream_io_future *o = (ax_stream_io_future *)f;
    if (!o->stream) return AX_READY;
    ssize_t n = 0;
    int r = 0;
    ax_poll p;
    switch (o->dir) {
    case AX__OP_READ:
        p = ax_stream_poll_read(o->stream, cx, o->buf, o->len, &n);
        break;
    case AX__OP_WRITE:
        p = ax_stream_poll_write(o->stream, cx, o->buf, o->len, &n);
        break;
    case AX__OP_WRITEV:
        p = ax_stream_poll_writev(o->stream, cx, o->buf, (int)o->len, &n);
        break;
    case AX__OP_FLUSH:
        p = ax_stream_poll_flush(o->stream, cx, &r), n = r;
        break;
    case AX__OP_READABLE:
        p = ax_stream_poll_read_ready(o->stream, cx, &r), n = r;
        break;
    case AX__OP_SHUTDOWN:
        p = ax_stream_poll_shutdown(o->stream, cx, &r), n = r;
        break;
    default:
        n = AX_EINVAL;
        p = AX_READY;
        break;
    }
    if (p == AX_PENDING) return AX_PENDING;
    o->base.result = n;
    o->stream = NULL;
    return AX_READY;
}

static void ax__stream_forget(ax_stream *s, int op) {
    if (s->vtable->forget)
        s->vtable->forget(s, op == AX__OP_READ || op == AX__OP_READABLE ? AX_STREAM_READ
                                                                        : AX_STREAM_WRITE);
}

static void ax__stream_op_drop(ax_future *f) {
    ax_stream_io_future *o = (ax_stream_io_future *)f;
    if (o->stream) ax__stream_forget(o->stream, o->dir);
    o->stream = NULL;
}

static const ax_future_vtable ax__stream_op_vtable = {ax__stream_op_poll, ax__stream_op_drop};

static intptr_t ax__stream_await(ax_stream *s, int op, const void *buf, size_t len,
                                 ax_instant deadline) {
    ax_stream_io_future o = {{&ax__stream_op_vtable, 0}, s, (void *)buf, len, op};
    return ax_await_until(&o.base, deadline);
}

void ax_stream_read_future_init(ax_stream_io_future *f, ax_stream *s, void *buf, size_t len) {
    *f = (ax_stream_io_future){{&ax__stream_op_vtable, 0}, s, buf, len, AX__OP_READ};
}

void ax_stream_write_future_init(ax_stream_io_future *f, ax_stream *s, const void *buf,
                                 size_t len) {
    *f = (ax_stream_io_future){{&ax__stream_op_vtable, 0}, s, (void *)buf, len, AX__OP_WRITE};
}

/* --- suspending wrappers -------------------------------------------------------- */

ssize_t ax_stream_read(ax_stream *s, void *buf, size_t len, ax_instant deadline) {
    return ax__stream_await(s, AX__OP_READ, buf, len, deadline);
}

ssize_t ax_stream_write(ax_stream *s, const void *buf, size_t len, ax_instant deadline) {
    return ax__stream_await(s, AX__OP_WRITE, buf, len, deadline);
}

ssize_t ax_stream_writev(ax_stream *s, const struct iovec *iov, int iovcnt, ax_instant deadline) {
    if (iovcnt < 0) return AX_EINVAL;
    return ax__stream_await(s, AX__OP_WRITEV, iov, (size_t)iovcnt, deadline);
}

int ax_stream_wait_readable(ax_stream *s, ax_instant deadline) {
    return (int)ax__stream_await(s, AX__OP_READABLE, NULL, 0, deadline);
}

int ax_stream_read_exact(ax_stream *s, void *buf, size_t len, ax_instant deadline) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = ax_stream_read(s, (char *)buf + done, len - done, deadline);
        if (n < 0) return (int)n;
        if (n == 0) return AX_EOF;
        done += (size_t)n;
    }
    return 0;
}

int ax_stream_write_all(ax_stream *s, const void *buf, size_t len, ax_instant deadline) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = ax_stream_write(s, (const char *)buf + done, len - done, deadline);
        if (n < 0) return (int)n;
        if (n == 0) return AX_EIO; /* a stream that takes nothing would spin */
        done += (size_t)n;
    }
    return 0;
}

int ax_stream_writev_all(ax_stream *s, const struct iovec *iov, int iovcnt, ax_instant deadline) {
    enum { BATCH = 64 };
    struct iovec v[BATCH];
    int next = 0; /* first entry of iov not yet copied into v */
    int count = 0, first = 0;
    for (;;) {
        /* Refill the window from the caller's array when it runs dry. */
        while (first < count && v[first].iov_len == 0) first++;
        if (first == count) {
            count = 0;
            first = 0;
            while (next < iovcnt && count < BATCH) {
                if (iov[next].iov_len) v[count++] = iov[next];
                next++;
            }
            if (count == 0) return 0;
        }
        ssize_t n = ax_stream_writev(s, v + first, count - first, deadline);
        if (n < 0) return (int)n;
        if (n == 0) return AX_EIO;
        size_t left = (size_t)n;
        while (left) {
            size_t take = left < v[first].iov_len ? left : v[first].iov_len;
            v[first].iov_base = (char *)v[first].iov_base + take;
            v[first].iov_len -= take;
            left -= take;
            if (v[first].iov_len == 0) first++;
        }
    }
}

int ax_stream_flush(ax_stream *s, ax_instant deadline) {
    return (int)ax__stream_await(s, AX__OP_FLUSH, NULL, 0, deadline);
}

int ax_stream_shutdown(ax_stream *s, ax_instant deadline) {
    return (int)ax__stream_await(s, AX__OP_SHUTDOWN, NULL, 0, deadline);
}

int ax_stream_write_chain(ax_stream *s, ax_iochain *chain, ax_instant deadline) {
    enum { BATCH = 64 };
    struct iovec iov[BATCH];
    while (ax_iochain_len(chain)) {
        size_t k = ax_iochain_iov(chain, iov, BATCH);
        ssize_t n = ax_stream_writev(s, iov, (int)k, deadline);
        if (n < 0) return (int)n;
        if (n == 0) return AX_EIO;
        ax_iochain_consume(chain, (size_t)n);
    }
    return 0;
}

/* Readiness first, then a pooled buffer: a stale readiness report (the
 * read finds nothing) hands the buffer back before suspending again. */
typedef struct ax__read_buf_op {
    ax_future base;
    ax_stream *stream; /* NULL once finished */
    size_t size;
    ax_buf *buf;
} ax__read_buf_op;

static ax_poll ax__read_buf_poll(ax_future *f, ax_context *cx) {
    ax__read_buf_op *o = (ax__read_buf_op *)f;
    if (!o->stream) return AX_READY;
    int r;
    if (ax_stream_poll_read_ready(o->stream, cx, &r) == AX_PENDING) return AX_PENDING;
    ax_buf *b;
    int err = r ? r : ax_buf_pool_get(&b, o->size);
    ssize_t n = err;
    if (!err) {
        if (ax_stream_poll_read(o->stream, cx, ax_buf_data(b), o->size, &n) == AX_PENDING) {
            ax_buf_unref(b); /* stale readiness: wait again holding nothing */
            return AX_PENDING;
        }
        if (n > 0) {
            ax_buf_set_len(b, (size_t)n);
            o->buf = b;
        } else {
            ax_buf_unref(b);
        }
    }
    o->base.result = n;
    o->stream = NULL;
    return AX_READY;
}

static void ax__read_buf_drop(ax_future *f) {
    ax__read_buf_op *o = (ax__read_buf_op *)f;
    if (o->stream) ax__stream_forget(o->stream, AX__OP_READ);
    o->stream = NULL;
}

static const ax_future_vtable ax__read_buf_vtable = {ax__read_buf_poll, ax__read_buf_drop};

ssize_t ax_stream_read_buf(ax_stream *s, ax_buf **out, size_t size, ax_instant deadline) {
    *out = NULL;
    if (size == 0) return AX_EINVAL;
    ax__read_buf_op o = {{&ax__read_buf_vtable, 0}, s, size, NULL};
    intptr_t r = ax_await_until(&o.base, deadline);
    if (r > 0) {
        *out = o.buf;
    } else if (o.buf) { /* finished, then cut short (cancelled after the read) */
        ax_buf_unref(o.buf);
    }
    return r;
}
