/* executor/stream_buffered.c - buffered reader and writer over any stream.
 *
 * The reader keeps unconsumed bytes in [start, end) of its buffer and
 * moves them to the front only when more room is needed, so a parser can
 * look at a whole record without copying it.
 */
#include "axon/stream.h"

#include <stdlib.h>
#include <string.h>

#include "axon/error.h"

#define AX__BUF_DEFAULT 8192

int ax_bufreader_init(ax_bufreader *r, ax_stream *s, size_t cap) {
    memset(r, 0, sizeof *r);
    r->cap = cap ? cap : AX__BUF_DEFAULT;
    r->buf = malloc(r->cap);
    if (!r->buf) return AX_ENOMEM;
    r->stream = s;
    return 0;
}

void ax_bufreader_free(ax_bufreader *r) {
    free(r->buf);
    r->buf = NULL;
}

const uint8_t *ax_bufreader_data(const ax_bufreader *r, size_t *len) {
    *len = r->end - r->start;
    return r->buf + r->start;
}

void ax_bufreader_consume(ax_bufreader *r, size_t n) {
    size_t have = r->end - r->start;
    r->start += n < have ? n : have;
    if (r->start == r->end) r->start = r->end = 0;
}

/* Makes room after the buffered bytes; false when the buffer is full. */
static int ax__reader_make_room(ax_bufreader *r) {
    if (r->end < r->cap) return 1;
    if (r->start == 0) return 0;
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
    return 1;
}

ax_poll ax_bufreader_poll_fill_more(ax_bufreader *r, ax_context *cx, ssize_t *res) {
    if (r->eof) {
        *res = (ssize_t)(r->end - r->start);
        return AX_READY;
    }
    if (!ax__reader_make_room(r)) {
        *res = AX_ENOSPC;
        return AX_READY;
    }
    ssize_t n;
    if (ax_stream_poll_read(r->stream, cx, r->buf + r->end, r->cap - r->end, &n) == AX_PENDING)
        return AX_PENDING;
    if (n < 0) {
        *res = n;
        return AX_READY;
    }
    if (n == 0) r->eof = 1;
    r->end += (size_t)n;
    *res = (ssize_t)(r->end - r->start);
    return AX_READY;
}

ssize_t ax_bufreader_fill_more(ax_bufreader *r, ax_instant deadline) {
    if (r->eof) return (ssize_t)(r->end - r->start);
    if (!ax__reader_make_room(r)) return AX_ENOSPC;
    ssize_t n = ax_stream_read(r->stream, r->buf + r->end, r->cap - r->end, deadline);
    if (n < 0) return n;
    if (n == 0) r->eof = 1;
    r->end += (size_t)n;
    return (ssize_t)(r->end - r->start);
}

ssize_t ax_bufreader_fill(ax_bufreader *r, ax_instant deadline) {
    if (r->end > r->start) return (ssize_t)(r->end - r->start);
    return ax_bufreader_fill_more(r, deadline);
}

ssize_t ax_bufreader_read(ax_bufreader *r, void *buf, size_t len, ax_instant deadline) {
    if (len == 0) return 0;
    /* A large read with nothing buffered goes straight to the caller's
     * memory: copying it through the buffer would gain nothing. */
    if (r->end == r->start && len >= r->cap && !r->eof)
        return ax_stream_read(r->stream, buf, len, deadline);
    ssize_t have = ax_bufreader_fill(r, deadline);
    if (have <= 0) return have;
    size_t n = (size_t)have < len ? (size_t)have : len;
    memcpy(buf, r->buf + r->start, n);
    ax_bufreader_consume(r, n);
    return (ssize_t)n;
}

int ax_bufreader_read_exact(ax_bufreader *r, void *buf, size_t len, ax_instant deadline) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = ax_bufreader_read(r, (char *)buf + done, len - done, deadline);
        if (n < 0) return (int)n;
        if (n == 0) return AX_EOF;
        done += (size_t)n;
    }
    return 0;
}

ssize_t ax_bufreader_read_until(ax_bufreader *r, int delim, char *out, size_t cap,
                                ax_instant deadline) {
    size_t scanned = 0; /* bytes from start already known to hold no delim */
    for (;;) {
        size_t have = r->end - r->start;
        const uint8_t *base = r->buf + r->start;
        const uint8_t *hit = memchr(base + scanned, delim, have - scanned);
        if (hit || (r->eof && have > 0)) {
            size_t n = hit ? (size_t)(hit - base) + 1 : have;
            if (n + 1 > cap) return AX_ENOSPC;
            memcpy(out, base, n);
            out[n] = 0;
            ax_bufreader_consume(r, n);
            return (ssize_t)n;
        }
        if (r->eof) {
            if (cap) out[0] = 0;
            return 0;
        }
        if (have + 1 >= cap) return AX_ENOSPC; /* the record cannot fit out */
        scanned = have;
        ssize_t m = ax_bufreader_fill_more(r, deadline);
        if (m < 0) return m;
    }
}

ssize_t ax_bufreader_read_line(ax_bufreader *r, char *out, size_t cap, ax_instant deadline) {
    ssize_t n = ax_bufreader_read_until(r, '\n', out, cap, deadline);
    if (n == 0) return AX_EOF;
    if (n < 0) return n;
    if (out[n - 1] == '\n') {
        out[--n] = 0;
        if (n > 0 && out[n - 1] == '\r') out[--n] = 0;
    }
    return n;
}

/* --- writer --------------------------------------------------------------------- */

int ax_bufwriter_init(ax_bufwriter *w, ax_stream *s, size_t cap) {
    memset(w, 0, sizeof *w);
    w->cap = cap ? cap : AX__BUF_DEFAULT;
    w->buf = malloc(w->cap);
    if (!w->buf) return AX_ENOMEM;
    w->stream = s;
    return 0;
}

void ax_bufwriter_free(ax_bufwriter *w) {
    free(w->buf);
    w->buf = NULL;
}

size_t ax_bufwriter_buffered(const ax_bufwriter *w) {
    return w->len;
}

int ax_bufwriter_write(ax_bufwriter *w, const void *data, size_t len, ax_instant deadline) {
    if (len <= w->cap - w->len) {
        memcpy(w->buf + w->len, data, len);
        w->len += len;
        return 0;
    }
    /* Too big to queue: send the queue and the new bytes in one writev. */
    struct iovec iov[2] = {{w->buf, w->len}, {(void *)data, len}};
    int r = ax_stream_writev_all(w->stream, iov, 2, deadline);
    if (r == 0) w->len = 0;
    return r;
}

int ax_bufwriter_flush(ax_bufwriter *w, ax_instant deadline) {
    if (w->len) {
        int r = ax_stream_write_all(w->stream, w->buf, w->len, deadline);
        if (r) return r;
        w->len = 0;
    }
    return ax_stream_flush(w->stream, deadline);
}
