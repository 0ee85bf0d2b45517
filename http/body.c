/* http/body.c - request bodies: Content-Length and chunked, streamed to the
 * handler from the read buffer and then from the stream, with 100 Continue
 * sent before the first byte is waited for.
 *
 * The head's slices live in the read buffer before req->head_end, so body
 * bytes are only ever read into the space after it: once the buffered body
 * bytes are consumed, the buffer's tail is reset to head_end.
 */
#include <string.h>

#include "http/internal.h"

void ax__http_body_init(ax_http_req *req) {
    req->body_done = req->body_error = req->continue_sent = false;
    req->body_status = 0;
    req->body_buf = NULL;
    req->deadline = AX_NO_DEADLINE;
    req->nparams = 0;
    req->trailer_len = 0;
    req->trailer_over = false;
    if (req->head.chunked) {
        req->body_mode = AX__BODY_CHUNKED;
        ax_http_chunked_init(&req->chunked, req->io->srv->opts.limits.max_body);
    } else if (req->head.content_length > 0) {
        req->body_mode = AX__BODY_LENGTH;
        req->body_left = (uint64_t)req->head.content_length;
    } else {
        req->body_mode = AX__BODY_NONE;
        req->body_done = true;
    }
}

ax_instant ax_http_req_deadline(const ax_http_req *req) {
    ax_http_req *r = (ax_http_req *)req;
    if (r->deadline == AX_NO_DEADLINE)
        r->deadline = ax_deadline_in_ms(req->io->srv->opts.handler_timeout_ms);
    return r->deadline;
}

/* The earlier of the handler's deadline and the body read timeout. */
static ax_instant ax__body_deadline(ax_http_req *req) {
    ax_instant h = ax_http_req_deadline(req);
    ax_instant b = ax_deadline_in_ms(req->io->srv->opts.body_timeout_ms);
    return b < h ? b : h;
}

static int ax__maybe_continue(ax_http_req *req) {
    if (!req->head.expect_continue || req->continue_sent) return 0;
    req->continue_sent = true;
    ax__http_io *io = req->io;
    if (io->rs < io->re) return 0; /* the client sent the body anyway */
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    return ax__http_out_flush_with(io, cont, sizeof cont - 1);
}

static ssize_t ax__body_fail(ax_http_req *req, ssize_t err) {
    req->body_error = true;
    req->body_status = err == AX_EMSGSIZE ? 413 : err == AX_ETIMEDOUT ? 408 : 400;
    req->io->closing = true;
    return err;
}

/* Reads more raw bytes into the buffer after head_end. */
static ssize_t ax__body_fill(ax_http_req *req) {
    ax__http_io *io = req->io;
    if (io->rs == io->re) io->rs = io->re = req->head_end;
    if (io->re == io->rcap) return AX_ENOBUFS; /* cannot happen: the caller drained */
    ssize_t n = ax_stream_read(io->stream, ax_buf_data(io->rbuf) + io->re, io->rcap - io->re,
                               ax__body_deadline(req));
    if (n == 0) return AX_ECONNRESET; /* the body was cut short */
    if (n > 0) io->re += (size_t)n;
    return n;
}

/* Keeps the framing bytes a chunked decode step consumed after its payload
 * (all of them when it had none): once the body ends, what is kept since
 * the last payload is the last chunk's line and the trailer block. */
static void ax__keep_framing(ax_http_req *req, const char *in, size_t used, const char *data,
                             size_t dlen) {
    if (dlen) {
        req->trailer_len = 0;
        req->trailer_over = false;
        size_t skip = (size_t)(data + dlen - in);
        in += skip;
        used -= skip;
    }
    if (req->trailer_over) return;
    if (used > sizeof req->trailers - req->trailer_len) {
        req->trailer_over = true;
        return;
    }
    memcpy(req->trailers + req->trailer_len, in, used);
    req->trailer_len += used;
}

bool ax_http_req_trailer(const ax_http_req *req, const char *name, ax_http_str *value) {
    if (req->body_mode != AX__BODY_CHUNKED || !req->body_done || req->trailer_over) return false;
    const char *p = req->trailers, *end = p + req->trailer_len;
    /* Skip the CRLF that ended the last payload, then the "0" size line. */
    if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') p += 2;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return false;
    p = nl + 1;
    size_t want = strlen(name);
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return false;
        const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (!colon) return false; /* the empty line that ends the trailers */
        if ((size_t)(colon - p) == want && ax_http_str_eq((ax_http_str){p, want}, name)) {
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t')) v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            value->ptr = v;
            value->len = (size_t)(ve - v);
            return true;
        }
        p = nl + 1;
    }
    return false;
}

ssize_t ax_http_req_read(ax_http_req *req, void *buf, size_t cap) {
    if (req->body_error) return AX_EPROTO;
    if (req->body_done || cap == 0) return 0;
    ax__http_io *io = req->io;
    int err = ax__maybe_continue(req);
    if (err) return ax__body_fail(req, err);
    if (req->body_mode == AX__BODY_LENGTH) {
        size_t want = cap;
        if (want > req->body_left) want = (size_t)req->body_left;
        ssize_t n;
        if (io->rs < io->re) {
            n = (ssize_t)(io->re - io->rs);
            if ((size_t)n > want) n = (ssize_t)want;
            memcpy(buf, ax_buf_data(io->rbuf) + io->rs, (size_t)n);
            io->rs += (size_t)n;
        } else {
            /* Straight into the caller's buffer: no copy. */
            io->rs = io->re = req->head_end;
            n = ax_stream_read(io->stream, buf, want, ax__body_deadline(req));
            if (n == 0) n = AX_ECONNRESET;
            if (n < 0) return ax__body_fail(req, n);
        }
        req->body_left -= (uint64_t)n;
        if (req->body_left == 0) req->body_done = true;
        return n;
    }
    /* chunked */
    for (;;) {
        if (io->rs < io->re) {
            const char *data;
            size_t dlen;
            ssize_t used =
                ax_http_chunked_decode(&req->chunked, (const char *)ax_buf_data(io->rbuf) + io->rs,
                                       io->re - io->rs, cap, &data, &dlen, NULL);
            if (used < 0) return ax__body_fail(req, used);
            ax__keep_framing(req, (const char *)ax_buf_data(io->rbuf) + io->rs, (size_t)used, data,
                             dlen);
            if (dlen) memcpy(buf, data, dlen);
            io->rs += (size_t)used;
            if (ax_http_chunked_done(&req->chunked)) req->body_done = true;
            if (dlen) return (ssize_t)dlen;
            if (req->body_done) return 0;
            continue;
        }
        ssize_t n = ax__body_fill(req);
        if (n < 0) return ax__body_fail(req, n);
    }
}

int ax_http_req_body(ax_http_req *req, ax_http_str *body) {
    ax__http_io *io = req->io;
    body->ptr = "";
    body->len = 0;
    if (req->body_error) return AX_EPROTO;
    if (req->body_buf) { /* read before */
        body->ptr = (const char *)ax_buf_data(req->body_buf);
        body->len = ax_buf_len(req->body_buf);
        return 0;
    }
    if (req->body_done) return 0;
    if (req->body_mode == AX__BODY_LENGTH && io->re - io->rs >= req->body_left) {
        /* All of it arrived with the head: a slice of the read buffer. */
        body->ptr = (const char *)ax_buf_data(io->rbuf) + io->rs;
        body->len = (size_t)req->body_left;
        io->rs += (size_t)req->body_left;
        req->body_left = 0;
        req->body_done = true;
        return 0;
    }
    size_t cap = req->body_mode == AX__BODY_LENGTH ? (size_t)req->body_left : 16384;
    ax_buf *b;
    int err = ax_buf_pool_get(&b, cap);
    if (err) return err;
    size_t len = 0;
    for (;;) {
        if (len == ax_buf_cap(b)) {
            ax_buf *nb;
            if ((err = ax_buf_new(&nb, ax_buf_cap(b) * 2))) break;
            memcpy(ax_buf_data(nb), ax_buf_data(b), len);
            ax_buf_unref(b);
            b = nb;
        }
        ssize_t n = ax_http_req_read(req, ax_buf_data(b) + len, ax_buf_cap(b) - len);
        if (n < 0) {
            err = (int)n;
            break;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    if (err) {
        ax_buf_unref(b);
        return err;
    }
    ax_buf_set_len(b, len);
    req->body_buf = b;
    body->ptr = (const char *)ax_buf_data(b);
    body->len = len;
    return 0;
}

int ax__http_body_drain(ax_http_req *req) {
    if (req->body_error) return AX_EPROTO;
    if (req->body_done) return 0;
    ax__http_io *io = req->io;
    /* The client waits for 100 Continue before sending: nothing to drain,
     * but the connection cannot be reused either. */
    if (req->head.expect_continue && !req->continue_sent && io->rs == io->re) return AX_ECANCELED;
    if (req->body_mode == AX__BODY_LENGTH && req->body_left > AX__HTTP_DRAIN_MAX)
        return AX_EMSGSIZE;
    char sink[4096];
    size_t total = 0;
    for (;;) {
        ssize_t n = ax_http_req_read(req, sink, sizeof sink);
        if (n < 0) return (int)n;
        if (n == 0) return 0;
        total += (size_t)n;
        if (total > AX__HTTP_DRAIN_MAX) return AX_EMSGSIZE;
    }
}

void ax__http_req_release(ax_http_req *req) {
    ax_buf_unref(req->body_buf);
    req->body_buf = NULL;
}
