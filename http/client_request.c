/* http/client_request.c - one attempt of a request: a connection from the
 * pool, the request head written into the exchange's buffer and sent with
 * the body in one writev (or the body chunked from a callback), then the
 * response head read. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/client_internal.h"

typedef struct hbuf {
    char *p;
    size_t cap, len;
    bool over;
} hbuf;

static void add(hbuf *h, const char *s, size_t n) {
    if (h->len + n > h->cap) {
        h->over = true;
        return;
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
}

static void adds(hbuf *h, const char *s) {
    add(h, s, strlen(s));
}

static void add_header(hbuf *h, const char *name, const char *value) {
    adds(h, name);
    add(h, ": ", 2);
    adds(h, value);
    add(h, "\r\n", 2);
}

static bool sensitive(const char *name) {
    return strcasecmp(name, "authorization") == 0 || strcasecmp(name, "cookie") == 0;
}

/* Headers the client writes itself from the request's framing. */
static bool framing(const char *name) {
    return strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0 ||
           strcasecmp(name, "host") == 0;
}

static bool in_request(const ax__hc_req *q, const char *name) {
    for (size_t i = 0; i < q->nheaders; i++)
        if (strcasecmp(q->headers[i].name, name) == 0) return true;
    return false;
}

/* Writes the request head into h. Returns 0 or AX_EINVAL / AX_EMSGSIZE. */
static int write_head(ax_http_client *cl, const ax__hc_req *q, hbuf *h) {
    const ax_http_url *u = q->url;
    adds(h, q->method);
    add(h, " ", 1);
    if (u->target.ptr[0] == '?') add(h, "/", 1);
    add(h, u->target.ptr, u->target.len);
    add(h, " HTTP/1.1\r\nHost: ", 17);
    if (u->ipv6) add(h, "[", 1);
    add(h, u->host.ptr, u->host.len);
    if (u->ipv6) add(h, "]", 1);
    if (!u->default_port) {
        char port[8];
        int n = snprintf(port, sizeof port, ":%u", (unsigned)u->port);
        add(h, port, (size_t)n);
    }
    add(h, "\r\n", 2);
    bool ua = in_request(q, "user-agent");
    for (size_t i = 0; i < cl->ndefaults; i++) {
        const ax__hc_header *d = &cl->defaults[i];
        if (in_request(q, d->name) || framing(d->name)) continue;
        if (q->drop_auth && sensitive(d->name)) continue;
        if (strcasecmp(d->name, "user-agent") == 0) ua = true;
        add_header(h, d->name, d->value);
    }
    if (!ua) add_header(h, "User-Agent", cl->user_agent);
    for (size_t i = 0; i < q->nheaders; i++) {
        const ax_http_kv *kv = &q->headers[i];
        if (!ax__hc_header_ok(kv->name, kv->value)) return AX_EINVAL;
        if (framing(kv->name)) continue;
        if (q->dropped_body && strcasecmp(kv->name, "content-type") == 0) continue;
        if (q->drop_auth && sensitive(kv->name)) continue;
        add_header(h, kv->name, kv->value);
    }
    if (q->body_fn) {
        add(h, "Transfer-Encoding: chunked\r\n", 28);
    } else if (q->has_body) {
        char cl_[48];
        int n = snprintf(cl_, sizeof cl_, "Content-Length: %zu\r\n", q->body_len);
        add(h, cl_, (size_t)n);
    }
    add(h, "\r\n", 2);
    return h->over ? AX_EMSGSIZE : 0;
}

/* Sends the body from the callback as chunks, then the last chunk. */
static int send_chunked(ax_stream *s, const ax__hc_req *q, char *buf, size_t cap,
                        ax_instant deadline) {
    for (;;) {
        ssize_t n = q->body_fn(q->body_ctx, buf, cap);
        if (n < 0) return (int)n;
        if (n == 0) break;
        if ((size_t)n > cap) return AX_EINVAL;
        char size[24];
        int sl = snprintf(size, sizeof size, "%zx\r\n", (size_t)n);
        struct iovec iov[3] = {{size, (size_t)sl}, {buf, (size_t)n}, {(void *)"\r\n", 2}};
        int err = ax_stream_writev_all(s, iov, 3, deadline);
        if (err) return err;
    }
    return ax_stream_write_all(s, "0\r\n\r\n", 5, deadline);
}

int ax__hc_exchange(ax_http_client *cl, const ax__hc_req *q, ax_instant deadline, ax__http_body *b,
                    ax_http_response *r) {
    const ax_http_url *u = q->url;
#ifndef AX_HAVE_TLS
    if (u->secure) return AX_ENOTSUP;
#endif
    hbuf h = {b->buf, b->cap, 0, false};
    int err = write_head(cl, q, &h);
    if (err) return err;
    char host[256];
    memcpy(host, u->host.ptr, u->host.len);
    host[u->host.len] = 0;
    b->deadline = deadline;
    b->no_response = true;
    err = ax_pool_get(cl->pool, host, u->port, u->secure, deadline, &b->lease);
    if (err) {
        b->lease = NULL;
        b->no_response = false; /* nothing was sent: the connect's error stands */
        return err;
    }
    b->s = ax_pool_lease_stream(b->lease);
    b->reused = ax_pool_lease_reused(b->lease);
    if (q->body_fn) {
        err = ax_stream_write_all(b->s, h.p, h.len, deadline);
        if (!err) err = send_chunked(b->s, q, b->buf + h.len, b->cap - h.len, deadline);
    } else if (q->body_len) {
        struct iovec iov[2] = {{h.p, h.len}, {(void *)q->body, q->body_len}};
        err = ax_stream_writev_all(b->s, iov, 2, deadline);
    } else {
        err = ax_stream_write_all(b->s, h.p, h.len, deadline);
    }
    b->end = 0;
    b->sent = err == 0;
    if (!err) err = ax__hc_read_head(b, strcmp(q->method, "HEAD") == 0, r);
    if (err) {
        ax__hc_release(b, false);
        return err;
    }
    return 0;
}
