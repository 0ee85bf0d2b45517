/* http/static_send.c - a file's bytes as a response body: queued when
 * small, sendfile(2) on a socket, else pooled chunks read through fs/ (TLS
 * has no sendfile). See axon/http_static.h, "Transfer". */
#include <stdio.h> /* SEEK_SET */
#include <string.h>

#include "http/static_internal.h"

#define AX__SENDFILE_STEP (1u << 20) /* bytes per sendfile deadline */

/* The file ended before len bytes: what went out cannot be framed, so the
 * connection ends (after the bytes already queued). */
static int ax__short_file(ax__http_io *io) {
    ax__http_out_flush(io);
    io->broken = true;
    return AX_EIO;
}

/* Reads len bytes from off into dst through the handle (its read-ahead
 * already holds the first chunk when off is 0). Returns the bytes read. */
static ssize_t ax__read_range(ax_file *f, void *dst, size_t len, uint64_t off, ax_instant dl) {
    if (off) {
        int64_t pos = ax_file_seek(f, (int64_t)off, SEEK_SET, dl);
        if (pos < 0) return (ssize_t)pos;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = ax_file_read(f, (char *)dst + got, len - got, dl);
        if (n < 0) return n;
        if (n == 0) break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static int ax__send_small(ax__http_io *io, ax_file *f, uint64_t off, size_t len, ax_instant dl) {
    ax_buf *b;
    if (ax_buf_pool_get(&b, len) != 0) return AX_ENOMEM;
    ssize_t n = ax__read_range(f, ax_buf_data(b), len, off, dl);
    int err = n < 0 ? (int)n : ax__http_out_append(io, ax_buf_data(b), (size_t)n);
    ax_buf_unref(b);
    if (err) {
        io->broken = true;
        return err;
    }
    return (size_t)n < len ? ax__short_file(io) : 0;
}

/* sendfile(2) when the stream is a socket; AX_ENOTSUP, with nothing sent
 * but the head, when it is not (TLS) or on Windows: the caller copies. */
static int ax__send_sendfile(ax__http_io *io, ax_file *f, uint64_t off, uint64_t len) {
    off_t pos = (off_t)off;
    bool first = true;
    while (len) {
        size_t step = len > AX__SENDFILE_STEP ? AX__SENDFILE_STEP : (size_t)len;
        ssize_t n = ax_stream_sendfile(io->stream, ax_file_fd(f), &pos, first ? 0 : step,
                                       ax_deadline_in_ms(io->srv->opts.write_timeout_ms));
        if (first) {
            /* A zero-byte probe: whether this stream takes sendfile. */
            if (n == AX_ENOTSUP) return AX_ENOTSUP;
            int err = n < 0 ? (int)n : ax__http_out_flush(io); /* the head first */
            if (err) {
                io->broken = true;
                return err;
            }
            first = false;
            continue;
        }
        if (n < 0) {
            io->broken = true;
            return (int)n;
        }
        if (n == 0) return ax__short_file(io);
        len -= (uint64_t)n;
    }
    return 0;
}

static int ax__send_chunks(ax__http_io *io, ax_file *f, uint64_t off, uint64_t len, ax_instant dl) {
    size_t cap = io->srv->opts.write_buffer_limit;
    ax_buf *b;
    if (ax_buf_pool_get(&b, cap) != 0) return AX_ENOMEM;
    if (ax_buf_cap(b) < cap) cap = ax_buf_cap(b);
    int err = 0;
    if (off) {
        int64_t pos = ax_file_seek(f, (int64_t)off, SEEK_SET, dl);
        if (pos < 0) err = (int)pos;
    }
    while (!err && len) {
        size_t want = len > cap ? cap : (size_t)len;
        ssize_t n = ax_file_read(f, ax_buf_data(b), want, dl);
        if (n <= 0) {
            err = n < 0 ? (int)n : ax__short_file(io);
            break;
        }
        /* The queue (the head) and the chunk in one write; it suspends
         * while the client does not read: memory stays at one chunk. */
        err = ax__http_out_flush_with(io, ax_buf_data(b), (size_t)n);
        len -= (uint64_t)n;
    }
    ax_buf_unref(b);
    if (err) io->broken = true;
    return err;
}

int ax__static_send_body(ax__http_io *io, ax_file *f, uint64_t off, uint64_t len, ax_instant dl) {
    if (len == 0) return 0;
    if (io->broken) return AX_EPIPE;
    if (len <= AX__STATIC_SMALL) return ax__send_small(io, f, off, (size_t)len, dl);
    int err = ax__send_sendfile(io, f, off, len);
    if (err != AX_ENOTSUP) return err;
    return ax__send_chunks(io, f, off, len, dl);
}
