/* executor/buf_chain.c - iovec chains: slices queued for writev.
 *
 * Slots [head, n) of the slot array are queued, each a non-empty slice
 * holding its own reference. The first AX_IOCHAIN_INLINE slots live in the
 * struct; past that the chain mallocs an array that doubles (amortised, and
 * kept until clear, so a steady stream of writes stops allocating). Slots
 * consumed from the front are reclaimed by sliding the rest down when the
 * array is full. `tail` is the buffer the chain itself filled from
 * append_bytes while it is the last slot: later small appends go on into
 * it.
 */
#include "executor/buf_pool.h"
#include "axon/error.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/socket.h>
#endif

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif
/* Where MSG_NOSIGNAL is missing (macOS), net/ sets SO_NOSIGPIPE on its
 * sockets instead. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
/* Slices per ax_iochain_write call: 4 KiB of (task) stack, and past a few
 * hundred entries a bigger writev gains nothing. */
#define AX__WRITE_IOV (IOV_MAX < 256 ? IOV_MAX : 256)

static ax_slice *ax__slots(const ax_iochain *c) {
    return c->v ? c->v : (ax_slice *)c->inline_;
}

void ax_iochain_init(ax_iochain *c, size_t limit) {
    memset(c, 0, sizeof(*c));
    c->cap = AX_IOCHAIN_INLINE;
    c->limit = limit;
}

/* Room for one more slot at the end. */
static int ax__reserve(ax_iochain *c) {
    if (c->n < c->cap) return 0;
    ax_slice *s = ax__slots(c);
    if (c->head) {
        memmove(s, s + c->head, (c->n - c->head) * sizeof(*s));
        c->n -= c->head;
        c->head = 0;
        return 0;
    }
    if (c->cap > SIZE_MAX / 2 / sizeof(*s)) return AX_ENOMEM;
    size_t cap = c->cap * 2;
    ax_slice *v;
    if (c->v) {
        v = realloc(c->v, cap * sizeof(*v));
        if (!v) return AX_ENOMEM;
    } else {
        v = malloc(cap * sizeof(*v));
        if (!v) return AX_ENOMEM;
        memcpy(v, c->inline_, c->n * sizeof(*v));
    }
    c->v = v;
    c->cap = cap;
    return 0;
}

static bool ax__over_limit(const ax_iochain *c, size_t n) {
    return n > SIZE_MAX - c->bytes || (c->limit && c->bytes + n > c->limit);
}

int ax_iochain_append(ax_iochain *c, const ax_slice *s) {
    if (!s || !s->len) return 0;
    if (ax__over_limit(c, s->len)) return AX_ENOBUFS;
    int err = ax__reserve(c);
    if (err) return err;
    ax_slice_clone(&ax__slots(c)[c->n++], s);
    c->bytes += s->len;
    c->tail = NULL; /* the copy buffer is no longer last */
    return 0;
}

int ax_iochain_append_buf(ax_iochain *c, ax_buf *b) {
    if (!b) return AX_EINVAL;
    ax_slice s = {b, 0, b->len};
    return ax_iochain_append(c, &s);
}

/* The last slot, if it ends at the end of the chain's own copy buffer and
 * nobody else holds that buffer (so its free bytes are ours to fill). */
static ax_slice *ax__open_tail(ax_iochain *c) {
    if (!c->tail || c->n == c->head) return NULL;
    ax_slice *last = &ax__slots(c)[c->n - 1];
    ax_buf *b = c->tail;
    if (last->buf != b || last->off + last->len != b->len || b->len == b->cap ||
        atomic_load_explicit(&b->refs, memory_order_relaxed) != 1)
        return NULL;
    return last;
}

/* Copies what fits into the open tail, the rest into one new buffer: a
 * pooled one (at least 4 KiB, so more small appends can follow) for up to
 * 64 KiB, else one malloc'd block of exactly the rest. The new buffer and
 * its slot are secured before anything is copied, so a failure changes
 * nothing. */
int ax_iochain_append_bytes(ax_iochain *c, const void *bytes, size_t n) {
    if (!n) return 0;
    if (!bytes) return AX_EINVAL;
    if (ax__over_limit(c, n)) return AX_ENOBUFS;
    ax_slice *open = ax__open_tail(c);
    size_t room = open ? open->buf->cap - open->buf->len : 0;
    size_t first = room < n ? room : n, rest = n - first;
    ax_buf *b = NULL;
    if (rest) {
        int err = ax__reserve(c);
        if (!err)
            err = ax_buf_pool_get(&b, rest < AX_BUF_POOL_CLASS_1 ? AX_BUF_POOL_CLASS_1 : rest);
        if (err) return err;
        open = ax__open_tail(c); /* ax__reserve may have moved the slots */
    }
    const uint8_t *p = bytes;
    if (first) {
        memcpy(open->buf->data + open->buf->len, p, first);
        open->buf->len += first;
        open->len += first;
    }
    if (b) {
        memcpy(b->data, p + first, rest);
        b->len = rest;
        ax__slots(c)[c->n++] = (ax_slice){b, 0, rest};
        c->tail = b;
    }
    c->bytes += n;
    return 0;
}

size_t ax_iochain_iov(const ax_iochain *c, struct iovec *iov, size_t max) {
    size_t k = c->n - c->head;
    if (k > max) k = max;
    if (k > IOV_MAX) k = IOV_MAX;
    const ax_slice *s = ax__slots(c) + c->head;
    for (size_t i = 0; i < k; i++) {
        iov[i].iov_base = s[i].buf->data + s[i].off;
        iov[i].iov_len = s[i].len;
    }
    return k;
}

int ax_iochain_consume(ax_iochain *c, size_t n) {
    if (n > c->bytes) return AX_EINVAL;
    ax_slice *s = ax__slots(c);
    c->bytes -= n;
    while (n) {
        ax_slice *f = &s[c->head];
        if (n < f->len) {
            f->off += n;
            f->len -= n;
            break;
        }
        n -= f->len;
        if (f->buf == c->tail) c->tail = NULL;
        ax_slice_release(f);
        c->head++;
    }
    if (c->head == c->n) c->head = c->n = 0;
    return 0;
}

size_t ax_iochain_len(const ax_iochain *c) {
    return c->bytes;
}

size_t ax_iochain_count(const ax_iochain *c) {
    return c->n - c->head;
}

void ax_iochain_clear(ax_iochain *c) {
    ax_slice *s = ax__slots(c);
    for (size_t i = c->head; i < c->n; i++) ax_slice_release(&s[i]);
    free(c->v);
    ax_iochain_init(c, c->limit);
}

int ax_iochain_write(ax_iochain *c, int fd, size_t *written) {
    if (written) *written = 0;
    if (!c->bytes) return 0;
    struct iovec iov[AX__WRITE_IOV];
    size_t k = ax_iochain_iov(c, iov, sizeof(iov) / sizeof(iov[0]));
#ifdef _WIN32
    /* fd is a SOCKET there; a nonblocking gathered send. */
    WSABUF wb[AX__WRITE_IOV];
    for (size_t i = 0; i < k; i++) {
        wb[i].buf = iov[i].iov_base;
        wb[i].len = (ULONG)iov[i].iov_len;
    }
    DWORD sent = 0;
    if (WSASend((SOCKET)fd, wb, (DWORD)k, &sent, 0, NULL, NULL) != 0) {
        int e = WSAGetLastError();
        return e == WSAEWOULDBLOCK ? AX_EAGAIN : e == WSAENOTSOCK ? AX_ENOTSOCK : AX_EIO;
    }
    ssize_t r = (ssize_t)sent;
#else
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = k};
    bool sock = true;
    ssize_t r;
    for (;;) {
        r = sock ? sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) : writev(fd, iov, (int)k);
        if (r >= 0) break;
        if (errno == EINTR) continue;
        if (sock && errno == ENOTSOCK) {
            sock = false;
            continue;
        }
        return errno == EWOULDBLOCK ? AX_EAGAIN : ax_translate_sys_error(errno);
    }
#endif
    ax_iochain_consume(c, (size_t)r);
    if (written) *written = (size_t)r;
    return 0;
}
