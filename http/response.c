/* http/response.c - response heads, bodies and streams, queued in the
 * connection's pooled output buffer.
 *
 * Complete responses are copied into the buffer and leave when the
 * connection flushes (one write for a pipelined burst); a body too large
 * for the buffer goes out at once with the queued bytes in one writev,
 * uncopied. Stream chunks are written as they come, so the stream's own
 * backpressure suspends the handler.
 */
#include <string.h>

#include "http/chars.h"
#include "http/internal.h"

static ax_instant ax__write_deadline(ax__http_io *io) {
    return ax_deadline_in_ms(io->srv->opts.write_timeout_ms);
}

static int ax__out_ensure(ax__http_io *io) {
    if (io->obuf) return 0;
    if (ax_buf_pool_get(&io->obuf, io->srv->opts.write_buffer_limit) != 0) return AX_ENOMEM;
    io->ocap = ax_buf_cap(io->obuf);
    if (io->ocap > io->srv->opts.write_buffer_limit) io->ocap = io->srv->opts.write_buffer_limit;
    io->olen = 0;
    return 0;
}

/* Writes the queue and then iov[0, n) in one writev. */
static int ax__out_writev(ax__http_io *io, const struct iovec *extra, int n) {
    if (io->broken) return AX_EPIPE;
    struct iovec iov[4];
    int k = 0;
    if (io->olen) iov[k++] = (struct iovec){ax_buf_data(io->obuf), io->olen};
    for (int i = 0; i < n; i++)
        if (extra[i].iov_len) iov[k++] = extra[i];
    if (k == 0) return 0;
    if (io->srv->metrics) {
        for (int i = 0; i < k; i++) io->m.bytes_out += iov[i].iov_len;
        ax__http_metrics_flush(io);
    }
    int err = ax_stream_writev_all(io->stream, iov, k, ax__write_deadline(io));
    io->olen = 0;
    if (err) io->broken = true;
    return err;
}

int ax__http_out_flush(ax__http_io *io) {
    if (io->olen == 0) return io->broken ? AX_EPIPE : 0;
    return ax__out_writev(io, NULL, 0);
}

int ax__http_out_flush_with(ax__http_io *io, const void *data, size_t n) {
    struct iovec v = {(void *)data, n};
    return ax__out_writev(io, &v, 1);
}

int ax__http_out_append(ax__http_io *io, const void *p, size_t n) {
    int err = ax__out_ensure(io);
    if (err) return err;
    if (n > io->ocap - io->olen) {
        if (n > io->ocap / 2) return ax__http_out_flush_with(io, p, n);
        if ((err = ax__http_out_flush(io))) return err;
    }
    memcpy(ax_buf_data(io->obuf) + io->olen, p, n);
    io->olen += n;
    return 0;
}

static char *ax__put(char *p, const char *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}
#define AX__PUTLIT(p, lit) ax__put(p, lit, sizeof(lit) - 1)

static char *ax__put_u64(char *p, uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* Formats the head into dst (room for AX__HTTP_RES_HDRS + 512). body_len
 * < 0: no Content-Length; chunked: Transfer-Encoding: chunked. */
static size_t ax__format_head(ax_http_res *res, char *dst, int status, const char *ctype,
                              int64_t body_len, bool chunked) {
    ax__http_io *io = res->io;
    ax_http_req *req = res->req;
    if (res->nhooks) ax__http_res_run_hooks(res, &status);
    if (status < 100 || status > 999) status = 500;
    res->status = status;
    /* Decide now whether the connection survives this response: not when
     * the server drains, nor when a body is left that the client has not
     * sent (it waits for 100 Continue) or that is too long to skip. */
    if (atomic_load_explicit(&io->srv->draining, memory_order_relaxed)) io->closing = true;
    if (!req->body_done) {
        if (req->body_error || (req->head.expect_continue && !req->continue_sent) ||
            (req->body_mode == AX__BODY_LENGTH && req->body_left > AX__HTTP_DRAIN_MAX))
            io->closing = true;
    }
    char *p = dst;
    if (status == 200) {
        p = AX__PUTLIT(p, "HTTP/1.1 200 OK\r\nServer: axon\r\nDate: ");
    } else {
        p = AX__PUTLIT(p, "HTTP/1.1 ");
        if (status < 100 || status > 999) status = 500;
        *p++ = (char)('0' + status / 100);
        *p++ = (char)('0' + status / 10 % 10);
        *p++ = (char)('0' + status % 10);
        *p++ = ' ';
        const char *reason = ax_http_reason(status);
        p = ax__put(p, reason, strlen(reason));
        p = AX__PUTLIT(p, "\r\nServer: axon\r\nDate: ");
    }
    char date[32];
    ax__http_date_read(&io->srv->date, date);
    p = ax__put(p, date, 29);
    p = AX__PUTLIT(p, "\r\n");
    if (ctype) {
        size_t n = strlen(ctype);
        if (n > 200) n = 200;
        p = AX__PUTLIT(p, "Content-Type: ");
        p = ax__put(p, ctype, n);
        p = AX__PUTLIT(p, "\r\n");
    }
    if (chunked) {
        p = AX__PUTLIT(p, "Transfer-Encoding: chunked\r\n");
    } else if (body_len >= 0) {
        p = AX__PUTLIT(p, "Content-Length: ");
        p = ax__put_u64(p, (uint64_t)body_len);
        p = AX__PUTLIT(p, "\r\n");
    }
    p = ax__put(p, res->hdrs, res->hlen);
    if (io->closing)
        p = AX__PUTLIT(p, "Connection: close\r\n");
    else if (res->req->head.minor_version == 0)
        p = AX__PUTLIT(p, "Connection: keep-alive\r\n");
    p = AX__PUTLIT(p, "\r\n");
    return (size_t)(p - dst);
}

/* Checks a header (or trailer) line and appends it to dst[*len, cap). */
static int ax__add_field(char *dst, size_t *len, size_t cap, const char *name, const char *value) {
    size_t nl = strlen(name), vl = strlen(value);
    if (nl == 0) return AX_EINVAL;
    for (size_t i = 0; i < nl; i++)
        if (!ax__http_is_token((unsigned char)name[i])) return AX_EINVAL;
    for (size_t i = 0; i < vl; i++)
        if (!ax__http_is_value((unsigned char)value[i])) return AX_EINVAL;
    if (*len + nl + vl + 4 > cap) return AX_ENOSPC;
    char *p = dst + *len;
    p = ax__put(p, name, nl);
    p = AX__PUTLIT(p, ": ");
    p = ax__put(p, value, vl);
    p = AX__PUTLIT(p, "\r\n");
    *len = (size_t)(p - dst);
    return 0;
}

int ax_http_res_header(ax_http_res *res, const char *name, const char *value) {
    if (res->head_sent) return AX_EALREADY;
    return ax__add_field(res->hdrs, &res->hlen, sizeof res->hdrs, name, value);
}

void ax_http_res_close(ax_http_res *res) {
    res->io->closing = true;
}

bool ax_http_res_started(const ax_http_res *res) {
    return res->head_sent;
}

/* Queues a head (and, for send, a body) into the output buffer. */
static int ax__queue_head(ax_http_res *res, int status, const char *ctype, int64_t body_len,
                          bool chunked) {
    char head[AX__HTTP_RES_HDRS + 512];
    size_t n = ax__format_head(res, head, status, ctype, body_len, chunked);
    res->head_sent = true;
    return ax__http_out_append(res->io, head, n);
}

int ax_http_res_send(ax_http_res *res, int status, const char *content_type, const void *body,
                     size_t len) {
    if (res->head_sent) return AX_EALREADY;
    size_t blen = len; /* Content-Length, also for HEAD */
    ax__http_io *io = res->io;
    if (io->broken) return AX_EPIPE;
    int err = ax__out_ensure(io);
    if (err) return err;
    if (res->is_head) len = 0;
    /* Fast path: head and body formatted straight into the buffer. */
    size_t bound = AX__HTTP_RES_HDRS + 512;
    if (bound + len <= io->ocap - io->olen) {
        char *o = (char *)ax_buf_data(io->obuf) + io->olen;
        size_t n = ax__format_head(res, o, status, content_type, (int64_t)blen, false);
        if (len) memcpy(o + n, body, len);
        io->olen += n + len;
        res->head_sent = res->ended = true;
        res->bytes = blen;
        return 0;
    }
    char head[AX__HTTP_RES_HDRS + 512];
    size_t n = ax__format_head(res, head, status, content_type, (int64_t)blen, false);
    res->head_sent = true;
    res->ended = true;
    res->bytes = blen;
    if ((err = ax__http_out_append(io, head, n))) return err;
    if (len == 0) return 0;
    return ax__http_out_append(io, body, len);
}

int ax_http_res_text(ax_http_res *res, int status, const char *text) {
    return ax_http_res_send(res, status, "text/plain; charset=utf-8", text, strlen(text));
}

int ax_http_res_json(ax_http_res *res, int status, const char *json, size_t len) {
    return ax_http_res_send(res, status, "application/json", json, len);
}

int ax_http_res_stream_begin(ax_http_res *res, int status, const char *content_type) {
    if (res->head_sent) return AX_EALREADY;
    ax__http_io *io = res->io;
    bool chunked = res->req->head.minor_version == 1;
    if (!chunked) io->closing = true; /* HTTP/1.0: the body ends with the connection */
    /* HEAD gets the head GET would get, Transfer-Encoding included. */
    int err = ax__queue_head(res, status, content_type, -1, chunked);
    if (err) return err;
    res->streaming = true;
    return ax__http_out_flush(io);
}

int ax_http_res_stream_write(ax_http_res *res, const void *data, size_t len) {
    if (!res->streaming || res->ended) return AX_EINVAL;
    ax__http_io *io = res->io;
    if (io->broken) return AX_EPIPE;
    if (res->is_head || len == 0) return 0;
    res->bytes += len;
    if (res->req->head.minor_version == 0) return ax__http_out_flush_with(io, data, len);
    char line[24];
    size_t n = 0;
    static const char hex[] = "0123456789abcdef";
    char tmp[20];
    int k = 0;
    size_t v = len;
    do {
        tmp[k++] = hex[v & 15];
        v >>= 4;
    } while (v);
    while (k) line[n++] = tmp[--k];
    line[n++] = '\r';
    line[n++] = '\n';
    int err = ax__out_ensure(io);
    if (err) return err;
    if (io->ocap - io->olen < n && (err = ax__http_out_flush(io))) return err;
    memcpy(ax_buf_data(io->obuf) + io->olen, line, n);
    io->olen += n;
    struct iovec v2[2] = {{(void *)data, len}, {(void *)"\r\n", 2}};
    return ax__out_writev(io, v2, 2);
}

int ax_http_res_stream_end(ax_http_res *res) {
    if (!res->streaming) return AX_EINVAL;
    if (res->ended) return 0;
    res->ended = true;
    if (res->is_head || res->req->head.minor_version == 0) return 0;
    if (res->tlen == 0) return ax__http_out_append(res->io, "0\r\n\r\n", 5);
    int err = ax__http_out_append(res->io, "0\r\n", 3);
    if (!err) err = ax__http_out_append(res->io, res->trailers, res->tlen);
    if (!err) err = ax__http_out_append(res->io, "\r\n", 2);
    return err;
}

int ax_http_res_trailer(ax_http_res *res, const char *name, const char *value) {
    if (res->ended) return AX_EALREADY;
    if (ax_http_str_eq((ax_http_str){name, strlen(name)}, "content-length") ||
        ax_http_str_eq((ax_http_str){name, strlen(name)}, "transfer-encoding"))
        return AX_EINVAL;
    return ax__add_field(res->trailers, &res->tlen, sizeof res->trailers, name, value);
}

int ax__http_res_head_only(ax_http_res *res, int status, const char *ctype, int64_t len) {
    if (res->head_sent) return AX_EALREADY;
    if (res->io->broken) return AX_EPIPE;
    int err = ax__queue_head(res, status, ctype, len, false);
    res->ended = true;
    if (len > 0) res->bytes = (uint64_t)len; /* the caller writes the body */
    return err;
}

int ax__http_res_finish(ax_http_res *res, int err) {
    if (!res->head_sent) {
        if (err < 0 && res->req->body_status) {
            /* The body was bad (or too large, or too slow): the client's fault. */
            const char *reason = ax_http_reason(res->req->body_status);
            res->hlen = 0;
            return ax_http_res_send(res, res->req->body_status, "text/plain", reason,
                                    strlen(reason));
        }
        /* An error, or a handler that answered nothing: a 500. */
        res->hlen = 0;
        return ax_http_res_send(res, 500, "text/plain", "Internal Server Error\n", 22);
    }
    if (res->streaming && !res->ended) {
        if (err < 0) {
            /* No last chunk: the client must see the body as cut short. */
            res->io->closing = true;
            return 0;
        }
        return ax_http_res_stream_end(res);
    }
    return 0;
}

void ax__http_send_error(ax__http_io *io, int status) {
    io->closing = true;
    if (status < 400) status = 400;
    if (io->srv->metrics) ax__http_metrics_note(io, status, false);
    const char *reason = ax_http_reason(status);
    char head[256];
    char *p = head;
    p = AX__PUTLIT(p, "HTTP/1.1 ");
    *p++ = (char)('0' + status / 100);
    *p++ = (char)('0' + status / 10 % 10);
    *p++ = (char)('0' + status % 10);
    *p++ = ' ';
    size_t rl = strlen(reason);
    p = ax__put(p, reason, rl);
    p = AX__PUTLIT(p, "\r\nServer: axon\r\nDate: ");
    char date[32];
    ax__http_date_read(&io->srv->date, date);
    p = ax__put(p, date, 29);
    p = AX__PUTLIT(p, "\r\nContent-Type: text/plain\r\nContent-Length: ");
    p = ax__put_u64(p, rl + 1);
    p = AX__PUTLIT(p, "\r\nConnection: close\r\n\r\n");
    p = ax__put(p, reason, rl);
    *p++ = '\n';
    ax__http_out_append(io, head, (size_t)(p - head));
}
