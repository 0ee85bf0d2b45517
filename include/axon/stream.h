/* axon/stream.h - the byte-stream interface TCP, Unix sockets and TLS share,
 * and buffered reading and writing over any stream.
 *
 * The base is poll-shaped, like the future protocol: each operation is a
 * poll function that either finishes now (AX_READY, with the result) or
 * stores the context's waker and returns AX_PENDING. A stackless protocol
 * engine (HTTP, TLS records) drives a stream with these directly and needs
 * no task; task code uses the suspending wrappers (ax_stream_read, ...),
 * which await the same poll functions.
 *
 * One reader and one writer may use a stream at the same time (two tasks,
 * or a task and an engine): the read side and the write side keep separate
 * wakers. Two concurrent readers (or writers) are not supported.
 *
 * Results: a transfer returns the byte count (0 from a read: end of stream)
 * or a negative AX_E* code. AX_EPIPE / AX_ECONNRESET when the peer went
 * away; never a SIGPIPE.
 */
#ifndef AXON_STREAM_H
#define AXON_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "sys.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_stream ax_stream;

/* What an implementation provides. Every poll function may store cx's waker
 * (replacing the one it stored for that direction before) and must wake it
 * when calling again is worthwhile. */
typedef struct ax_stream_vtable {
    /* Reads up to len bytes. *res: bytes (0: end of stream) or AX_E*. */
    ax_poll (*poll_read)(ax_stream *s, ax_context *cx, void *buf, size_t len, ssize_t *res);
    /* Writes up to len bytes (a partial write is a success). */
    ax_poll (*poll_write)(ax_stream *s, ax_context *cx, const void *buf, size_t len, ssize_t *res);
    /* Gathers from iovcnt buffers. May be NULL: the wrappers then write the
     * first non-empty buffer with poll_write. */
    ax_poll (*poll_writev)(ax_stream *s, ax_context *cx, const struct iovec *iov, int iovcnt,
                           ssize_t *res);
    /* Pushes out anything the stream itself buffers (TLS records). *res: 0
     * or AX_E*. May be NULL: nothing is buffered. */
    ax_poll (*poll_flush)(ax_stream *s, ax_context *cx, int *res);
    /* Flushes, then ends the write side (TCP FIN, TLS close_notify). */
    ax_poll (*poll_shutdown)(ax_stream *s, ax_context *cx, int *res);
    /* Ready when a read would find data, end of stream or an error,
     * without reading anything, so an idle connection can wait with no
     * buffer pinned. *res: 0 or AX_E*. May be NULL: always ready. A ready
     * report may be stale: the read that follows may still suspend. */
    ax_poll (*poll_read_ready)(ax_stream *s, ax_context *cx, int *res);
    /* Forgets the waker stored for dir (AX_STREAM_READ / AX_STREAM_WRITE):
     * the operation that stored it was abandoned. May be NULL. */
    void (*forget)(ax_stream *s, int dir);
    /* Releases the stream and everything it owns (the descriptor too). */
    void (*close)(ax_stream *s);
} ax_stream_vtable;

enum { AX_STREAM_READ = 0, AX_STREAM_WRITE = 1 };

/* Every stream starts with this header. */
struct ax_stream {
    const ax_stream_vtable *vtable;
};

/* --- poll-shaped calls (any thread that owns the stream's side) -------------- */

ax_poll ax_stream_poll_read(ax_stream *s, ax_context *cx, void *buf, size_t len, ssize_t *res);
ax_poll ax_stream_poll_write(ax_stream *s, ax_context *cx, const void *buf, size_t len,
                             ssize_t *res);
ax_poll ax_stream_poll_writev(ax_stream *s, ax_context *cx, const struct iovec *iov, int iovcnt,
                              ssize_t *res);
ax_poll ax_stream_poll_flush(ax_stream *s, ax_context *cx, int *res);
ax_poll ax_stream_poll_shutdown(ax_stream *s, ax_context *cx, int *res);
ax_poll ax_stream_poll_read_ready(ax_stream *s, ax_context *cx, int *res);

/* --- suspending wrappers (task only) ----------------------------------------
 * Each waits until the operation finishes, deadline passes (AX_ETIMEDOUT;
 * AX_NO_DEADLINE: no limit) or the task is cancelled (AX_ECANCELED). A
 * timed-out or cancelled transfer transferred nothing the caller is not
 * told about: read/write report what they did before suspending again only
 * through their return value, and read_exact/write_all give no count.
 * Outside a task they return AX_ENOTASK. */

/* Reads up to len bytes; returns bytes read, 0 at end of stream, or AX_E*. */
ssize_t ax_stream_read(ax_stream *s, void *buf, size_t len, ax_instant deadline);
/* Writes up to len bytes; returns bytes written (>= 1 when len > 0). */
ssize_t ax_stream_write(ax_stream *s, const void *buf, size_t len, ax_instant deadline);
ssize_t ax_stream_writev(ax_stream *s, const struct iovec *iov, int iovcnt, ax_instant deadline);
/* Waits until a read would find something (data, end of stream or an
 * error) without reading: the way to wait on an idle connection without a
 * buffer, then take one from a pool (axon/buf.h) to read into. Returns 0
 * or AX_E*. */
int ax_stream_wait_readable(ax_stream *s, ax_instant deadline);
/* Waits for data with no buffer pinned, then reads into a buffer of up to
 * size bytes taken from the worker's pool (axon/buf.h), in one suspension.
 * Returns the bytes read with *out set (the caller owns the buffer: its
 * data is ax_buf_data(*out), release it with ax_buf_unref), 0 at end of
 * stream (*out NULL), or AX_E* (*out NULL). The shape an idle-heavy server
 * wants: 10,000 idle connections pin no buffers, a busy one takes its
 * buffer only while bytes move. */
struct ax_buf;
ssize_t ax_stream_read_buf(ax_stream *s, struct ax_buf **out, size_t size, ax_instant deadline);
/* Reads exactly len bytes. Returns 0, AX_EOF when the stream ended first
 * (the bytes before it are in buf but their count is lost), or AX_E*. */
int ax_stream_read_exact(ax_stream *s, void *buf, size_t len, ax_instant deadline);
/* Writes all len bytes (looping over partial writes). Returns 0 or AX_E*. */
int ax_stream_write_all(ax_stream *s, const void *buf, size_t len, ax_instant deadline);
/* Writes every byte of the iovec array. The array is not modified (a copy
 * of at most 64 entries is advanced; larger arrays are written in pieces).
 * Returns 0 or AX_E*. */
int ax_stream_writev_all(ax_stream *s, const struct iovec *iov, int iovcnt, ax_instant deadline);
int ax_stream_flush(ax_stream *s, ax_instant deadline);
/* Writes every byte queued in chain (axon/buf.h) with writev, straight
 * from its buffers (no copy), consuming what was written, so on an error
 * the chain holds exactly what did not go out. Returns 0 or AX_E*. */
struct ax_iochain;
int ax_stream_write_chain(ax_stream *s, struct ax_iochain *chain, ax_instant deadline);
/* Flushes and ends the write side; the read side stays open. */
int ax_stream_shutdown(ax_stream *s, ax_instant deadline);
/* Closes the stream and frees it: s is invalid afterwards. No task may be
 * inside an operation on it. NULL is a no-op. Does not suspend. */
void ax_stream_close(ax_stream *s);

/* --- futures (for ax_all / ax_race / ax_select) ------------------------------
 * A read or write as a future, so stream I/O can race a timer, a channel or
 * another stream without a task. result: as ax_stream_read / write. The
 * future borrows s and buf until it is ready or dropped. */
typedef struct ax_stream_io_future {
    ax_future base;
    ax_stream *stream;
    void *buf;
    size_t len;
    int dir;
} ax_stream_io_future;

void ax_stream_read_future_init(ax_stream_io_future *f, ax_stream *s, void *buf, size_t len);
void ax_stream_write_future_init(ax_stream_io_future *f, ax_stream *s, const void *buf, size_t len);

/* --- buffered reader ---------------------------------------------------------
 * Reads from a stream in large chunks and hands out lines, delimited
 * records and exact-size pieces. The reader owns its buffer (malloc'd at
 * init) but not the stream. Task only, except fill/consume/data which
 * also have a poll form for engines. Not thread-safe: one user. */
typedef struct ax_bufreader {
    ax_stream *stream;
    uint8_t *buf;
    size_t cap, start, end;
    int eof; /* the stream reported end of stream */
} ax_bufreader;

/* Allocates a buffer of cap bytes (0: 8 KiB). Returns 0 or AX_ENOMEM. */
int ax_bufreader_init(ax_bufreader *r, ax_stream *s, size_t cap);
/* Frees the buffer (not the stream). */
void ax_bufreader_free(ax_bufreader *r);
/* The buffered bytes not yet consumed. */
const uint8_t *ax_bufreader_data(const ax_bufreader *r, size_t *len);
/* Drops n buffered bytes (n <= the buffered length). */
void ax_bufreader_consume(ax_bufreader *r, size_t n);
/* Reads more when the buffer holds nothing; returns the buffered length
 * (0 at end of stream) or AX_E*. ax_bufreader_fill_more always reads at
 * least once more (unless the buffer is full: AX_ENOSPC), for a caller that
 * needs more than what is buffered. */
ssize_t ax_bufreader_fill(ax_bufreader *r, ax_instant deadline);
ssize_t ax_bufreader_fill_more(ax_bufreader *r, ax_instant deadline);
/* The poll form of fill_more, for engines. */
ax_poll ax_bufreader_poll_fill_more(ax_bufreader *r, ax_context *cx, ssize_t *res);
/* Reads up to len bytes, from the buffer first. 0 at end of stream. */
ssize_t ax_bufreader_read(ax_bufreader *r, void *buf, size_t len, ax_instant deadline);
/* Reads exactly len bytes: 0, AX_EOF (ended first) or AX_E*. */
int ax_bufreader_read_exact(ax_bufreader *r, void *buf, size_t len, ax_instant deadline);
/* Copies bytes up to and including the first `delim` into out (capacity
 * cap) and NUL-terminates. Returns the length (delimiter included; the
 * last record may lack it), 0 at end of stream, AX_ENOSPC when the record
 * does not fit in out or in the reader's buffer (nothing is consumed then,
 * so the caller may consume and skip it), or AX_E*. */
ssize_t ax_bufreader_read_until(ax_bufreader *r, int delim, char *out, size_t cap,
                                ax_instant deadline);
/* Like read_until('\n') but strips "\n" or "\r\n": returns the line length
 * without them, AX_EOF at end of stream (an empty line is 0). */
ssize_t ax_bufreader_read_line(ax_bufreader *r, char *out, size_t cap, ax_instant deadline);

/* --- buffered writer ---------------------------------------------------------
 * Collects small writes and sends them in one writev with the next large
 * write or at flush, so a response made of many small pieces costs one
 * system call. The buffer is the write queue's bound: a write that does not
 * fit suspends until the stream takes the bytes. Owns its buffer, not the
 * stream. Task only. Not thread-safe: one user. */
typedef struct ax_bufwriter {
    ax_stream *stream;
    uint8_t *buf;
    size_t cap, len;
} ax_bufwriter;

/* Allocates cap bytes (0: 8 KiB). Returns 0 or AX_ENOMEM. */
int ax_bufwriter_init(ax_bufwriter *w, ax_stream *s, size_t cap);
/* Frees the buffer without flushing it. */
void ax_bufwriter_free(ax_bufwriter *w);
/* Queues len bytes: copied when they fit in the buffer, else written
 * together with what is buffered in one writev (not copied). Returns 0 or
 * AX_E* (then what was buffered is unspecified: treat the stream as
 * broken). */
int ax_bufwriter_write(ax_bufwriter *w, const void *data, size_t len, ax_instant deadline);
/* Writes the buffer and flushes the stream. Returns 0 or AX_E*. */
int ax_bufwriter_flush(ax_bufwriter *w, ax_instant deadline);
/* Bytes waiting in the buffer. */
size_t ax_bufwriter_buffered(const ax_bufwriter *w);

#ifdef __cplusplus
}
#endif
#endif
