/* http/client_body.c - reading a response: the head (with the shared
 * parser, 1xx skipped), the body's framing, and the body itself as
 * decoded pieces handed out from the exchange's buffer. */
#include <stdlib.h>
#include <string.h>

#include "http/client_internal.h"

ax__http_body *ax__hc_body_new(ax_http_client *cl, size_t cap) {
    ax__http_body *b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    memset(b, 0, offsetof(ax__http_body, hdrs));
    b->cl = cl;
    b->pool = cl->pool;
    b->cap = cap;
    return b;
}

void ax__hc_release(ax__http_body *b, bool reusable) {
    if (!b->lease) return;
    ax_pool_put(b->pool, b->lease, reusable);
    b->lease = NULL;
    b->s = NULL;
}

void ax__hc_body_free(ax__http_body *b) {
    if (!b) return;
    ax__hc_release(b, false);
    free(b->url);
    free(b);
}

/* Reads more bytes into buf[end, cap). Returns the count, 0 at end of
 * stream, or AX_E*. */
static ssize_t fill(ax__http_body *b) {
    if (b->end == b->cap) return AX_EMSGSIZE;
    return ax_stream_read(b->s, b->buf + b->end, b->cap - b->end, b->deadline);
}

int ax__hc_read_head(ax__http_body *b, bool head_request, ax_http_response *r) {
    ax_http_limits lim;
    ax_http_limits_init(&lim);
    lim.max_head = b->cl->o.max_head;
    lim.max_request_line = b->cl->o.max_head;
    lim.max_headers = AX__HC_MAX_HEADERS;
    ax_http_response_head h;
    b->no_response = true;
    for (;;) {
        ssize_t n =
            b->end ? ax_http_parse_response(b->buf, b->end, &h, b->hdrs, AX__HC_MAX_HEADERS, &lim)
                   : 0;
        if (n < 0) return b->end >= b->cl->o.max_head ? AX_EMSGSIZE : AX_EPROTO;
        if (n > 0 && h.status >= 100 && h.status < 200 && h.status != 101) {
            memmove(b->buf, b->buf + n, b->end - (size_t)n); /* interim: skip it */
            b->end -= (size_t)n;
            continue;
        }
        if (n > 0) {
            b->head_len = b->pos = (size_t)n;
            break;
        }
        if (b->end >= b->cl->o.max_head) return AX_EMSGSIZE;
        ssize_t got = fill(b);
        if (got < 0) return (int)got;
        if (got == 0) return b->no_response ? AX_ECONNRESET : AX_EPROTO;
        b->no_response = false;
        b->end += (size_t)got;
    }
    b->keep_alive = h.keep_alive;
    if (head_request || h.status == 204 || h.status == 304 || h.status == 101) {
        b->mode = AX__HB_NONE;
        if (h.status == 101) b->keep_alive = false;
    } else if (h.chunked) {
        b->mode = AX__HB_CHUNKED;
        ax_http_chunked_init(&b->dec, 0);
    } else if (h.content_length >= 0) {
        b->mode = AX__HB_LENGTH;
        b->remaining = (uint64_t)h.content_length;
    } else {
        b->mode = AX__HB_CLOSE;
        b->keep_alive = false;
    }
    r->status = h.status;
    r->minor_version = h.minor_version;
    r->reason = h.reason;
    r->headers = b->hdrs;
    r->nheaders = h.nheaders;
    r->content_length = h.content_length;
    if (b->mode == AX__HB_NONE || (b->mode == AX__HB_LENGTH && b->remaining == 0)) {
        b->done = true;
        ax__hc_release(b, b->keep_alive && b->pos == b->end);
    }
    return 0;
}

static int fail(ax__http_body *b, int err) {
    b->err = err;
    b->cur_len = 0;
    ax__hc_release(b, false);
    return err;
}

/* The body's end: the connection goes back, reusable when the server
 * keeps it and sent nothing past the body. */
static int finish(ax__http_body *b) {
    b->done = true;
    ax__hc_release(b, b->keep_alive && b->mode != AX__HB_CLOSE && b->pos == b->end);
    return 0;
}

/* Makes room to read: drops consumed bytes after the head. */
static void compact(ax__http_body *b) {
    if (b->pos == b->end) {
        b->pos = b->end = b->head_len;
    } else if (b->pos > b->head_len) {
        memmove(b->buf + b->head_len, b->buf + b->pos, b->end - b->pos);
        b->end -= b->pos - b->head_len;
        b->pos = b->head_len;
    }
}

static int take(ax__http_body *b, const char *p, size_t n) {
    b->total += n;
    if (b->max_body && b->total > b->max_body) return fail(b, AX_EMSGSIZE);
    b->cur = p;
    b->cur_len = n;
    return 1;
}

int ax__hc_next(ax__http_body *b) {
    if (b->cur_len) return 1;
    if (b->err) return b->err;
    if (b->done) return 0;
    for (;;) {
        switch (b->mode) {
        case AX__HB_LENGTH:
            if (b->pos < b->end) {
                size_t k = b->end - b->pos;
                if (k > b->remaining) k = (size_t)b->remaining;
                const char *p = b->buf + b->pos;
                b->pos += k;
                b->remaining -= k;
                int rc = take(b, p, k);
                if (rc == 1 && b->remaining == 0) finish(b);
                return rc;
            }
            break;
        case AX__HB_CHUNKED:
            if (b->pos < b->end) {
                const char *data;
                size_t dl;
                ssize_t used = ax_http_chunked_decode(&b->dec, b->buf + b->pos, b->end - b->pos, 0,
                                                      &data, &dl, NULL);
                if (used < 0) return fail(b, (int)used);
                b->pos += (size_t)used;
                bool end = ax_http_chunked_done(&b->dec);
                if (dl) {
                    int rc = take(b, data, dl);
                    if (rc == 1 && end) finish(b);
                    return rc;
                }
                if (end) return finish(b);
                if (used > 0) continue;
            }
            break;
        case AX__HB_CLOSE:
            if (b->pos < b->end) {
                const char *p = b->buf + b->pos;
                size_t k = b->end - b->pos;
                b->pos = b->end;
                return take(b, p, k);
            }
            break;
        default:
            return finish(b);
        }
        compact(b);
        ssize_t got = fill(b);
        if (got < 0) return fail(b, got == AX_EMSGSIZE ? AX_EPROTO : (int)got);
        if (got == 0) {
            if (b->mode == AX__HB_CLOSE) return finish(b);
            return fail(b, AX_EPROTO); /* cut short */
        }
        b->end += (size_t)got;
    }
}
