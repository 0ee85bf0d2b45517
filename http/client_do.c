/* http/client_do.c - a request from the caller's point of view: attempts,
 * retries with backoff, redirects, and the response's body calls. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/client_internal.h"

void ax_http_request_init(ax_http_request *r, const char *method, const char *url) {
    memset(r, 0, sizeof *r);
    r->method = method ? method : "GET";
    r->url = url;
    r->max_redirects = -1;
    r->max_retries = -1;
}

static bool idempotent(const char *m) {
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") || !strcmp(m, "DELETE") ||
           !strcmp(m, "OPTIONS") || !strcmp(m, "TRACE");
}

static bool method_ok(const char *m) {
    if (!m || !*m) return false;
    return ax__hc_header_ok(m, "");
}

/* Errors a retry may cure: the server was not there, or went away before
 * it answered. */
static bool transient(int err) {
    return err == AX_ECONNREFUSED || err == AX_ECONNRESET || err == AX_EPIPE ||
           err == AX_ECONNABORTED || err == AX_ENETUNREACH || err == AX_EHOSTUNREACH;
}

static bool redirect_status(int s) {
    return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

/* Retry-After in seconds (the date form is not honoured); -1 when absent. */
static long retry_after(const ax_http_response *r) {
    ax_http_str v;
    if (!ax_http_response_header(r, "retry-after", &v) || v.len == 0 || v.len > 6) return -1;
    long s = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9') return -1;
        s = s * 10 + (v.ptr[i] - '0');
    }
    return s;
}

/* Sleeps before retry number `n` (0-based). Returns 0 after the sleep, 1
 * when no retry fits (the deadline would pass first, or Retry-After asks
 * for more than 10 s), or AX_ECANCELED. */
static int backoff(ax_http_client *cl, unsigned n, long ra_s, ax_instant deadline) {
    uint64_t ms = (uint64_t)cl->o.retry_backoff_ms << (n < 5 ? n : 5);
    if (ra_s >= 0) {
        if (ra_s > 10) return 1;
        if ((uint64_t)ra_s * 1000 > ms) ms = (uint64_t)ra_s * 1000;
    }
    if (deadline != AX_NO_DEADLINE && ax_deadline_in_ms(ms) >= deadline) return 1;
    return ax_sleep(ms) == 0 ? 0 : AX_ECANCELED;
}

/* Scheme, host and port equal: the same origin. */
static bool same_origin(const ax_http_url *a, const ax_http_url *b) {
    return a->secure == b->secure && a->port == b->port && a->host.len == b->host.len &&
           strncasecmp(a->host.ptr, b->host.ptr, a->host.len) == 0;
}

static void zero(ax_http_response *r) {
    memset(r, 0, sizeof *r);
}

/* Sends req and returns with the head read and the body open in out. */
int ax_http_client_send(ax_http_client *cl, const ax_http_request *req, ax_http_response *out) {
    if (!out) return AX_EINVAL;
    zero(out);
    if (!cl || !req || !req->url) return AX_EINVAL;
    const char *method = req->method ? req->method : "GET";
    if (!method_ok(method)) return AX_EINVAL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (!ax__hc_header_ok(req->headers[i].name, req->headers[i].value)) return AX_EINVAL;
    ax_instant deadline = req->deadline;
    if (req->timeout_ms)
        deadline = ax__hc_min_deadline(deadline, ax_deadline_in_ms(req->timeout_ms));
    if (cl->o.timeout_ms)
        deadline = ax__hc_min_deadline(deadline, ax_deadline_in_ms(cl->o.timeout_ms));
    unsigned max_redirects =
        req->max_redirects >= 0 ? (unsigned)req->max_redirects : cl->o.max_redirects;
    unsigned max_retries = req->max_retries >= 0 ? (unsigned)req->max_retries : cl->o.max_retries;
    size_t cap = cl->o.max_head + AX__HC_BODY_ROOM;

    char *url = strdup(req->url);
    if (!url) return AX_ENOMEM;
    ax_http_url u;
    int err = ax_http_url_parse(url, strlen(url), &u);
    if (err) {
        free(url);
        return err;
    }
    ax__hc_req q = {
        .method = method,
        .url = &u,
        .headers = req->headers,
        .nheaders = req->nheaders,
        .body = req->body,
        .body_len = req->body_len,
        .body_fn = req->body_fn,
        .body_ctx = req->body_ctx,
        .has_body = req->body_fn || req->body_len || !strcmp(method, "POST") ||
                    !strcmp(method, "PUT") || !strcmp(method, "PATCH"),
    };
    unsigned redirects = 0, retries = 0;
    bool stale_retried = false;
    for (;;) {
        ax__http_body *b = ax__hc_body_new(cl, cap);
        if (!b) {
            free(url);
            return AX_ENOMEM;
        }
        ax_http_response r;
        zero(&r);
        err = ax__hc_exchange(cl, &q, deadline, b, &r);
        bool replayable = !q.body_fn;
        if (err) {
            bool nothing = b->no_response, reused = b->reused, sent = b->sent;
            ax__hc_body_free(b);
            /* An idle connection the server had closed: sent again at once
             * when that cannot run the request twice (as Go does). */
            if (nothing && reused && !stale_retried && replayable && transient(err) &&
                (idempotent(q.method) || !sent)) {
                stale_retried = true;
                continue;
            }
            if (replayable && idempotent(q.method) && retries < max_retries &&
                (transient(err) && (nothing || err == AX_ECONNREFUSED))) {
                int bo = backoff(cl, retries, -1, deadline);
                if (bo == 0) {
                    retries++;
                    continue;
                }
                if (bo < 0) err = bo;
            }
            free(url);
            return err;
        }
        if ((r.status == 502 || r.status == 503 || r.status == 504) && replayable &&
            idempotent(q.method) && retries < max_retries) {
            int bo = backoff(cl, retries, retry_after(&r), deadline);
            if (bo <= 0) {
                ax__hc_body_free(b);
                if (bo < 0) {
                    free(url);
                    return bo;
                }
                retries++;
                continue;
            }
        }
        ax_http_str loc;
        if (redirect_status(r.status) && max_redirects > 0 &&
            ax_http_response_header(&r, "location", &loc)) {
            bool keep = r.status == 307 || r.status == 308;
            bool to_get = !keep && (r.status == 303 ? strcmp(q.method, "HEAD") != 0
                                                    : strcmp(q.method, "POST") == 0);
            if (!to_get && !replayable) goto done; /* the body cannot be sent again */
            if (redirects >= max_redirects) {
                ax__hc_body_free(b);
                free(url);
                return AX_ELOOP;
            }
            size_t ncap = strlen(url) + loc.len + 64;
            char *next = malloc(ncap);
            if (!next) {
                ax__hc_body_free(b);
                free(url);
                return AX_ENOMEM;
            }
            ssize_t n = ax_http_url_resolve(url, loc.ptr, loc.len, next, ncap);
            ax_http_url nu;
            err = n < 0 ? (int)n : ax_http_url_parse(next, (size_t)n, &nu);
            ax__hc_body_free(b); /* its buffer held loc */
            if (err) {
                free(next);
                free(url);
                return err == AX_ENOTSUP ? AX_ENOTSUP : AX_EPROTO;
            }
            if (!same_origin(&u, &nu)) q.drop_auth = true;
            free(url);
            url = next;
            u = nu;
            if (to_get) {
                q.method = "GET";
                q.body = NULL;
                q.body_len = 0;
                q.body_fn = NULL;
                q.has_body = false;
                q.dropped_body = true;
            }
            redirects++;
            continue;
        }
    done:
        b->url = url;
        b->max_body = 0;
        *out = r;
        out->url = url;
        out->redirects = redirects;
        out->retries = retries;
        out->priv = b;
        return 0;
    }
}

/* Once a body is collected the exchange's buffer holds only the head:
 * gives the rest back (realloc to the head's size), moving the response's
 * slices along if the record moved, so a response kept for later (fetch_all
 * results) costs its head, not a 32 KiB buffer. */
static void shrink(ax_http_response *r) {
    ax__http_body *b = r->priv;
    if (b->lease || b->cap <= b->head_len + 64) return;
    size_t off[2 * AX__HC_MAX_HEADERS + 1];
    size_t nh = r->nheaders;
    for (size_t i = 0; i < nh; i++) {
        off[2 * i] = (size_t)(b->hdrs[i].name.ptr - b->buf);
        off[2 * i + 1] = (size_t)(b->hdrs[i].value.ptr - b->buf);
    }
    bool reason_in = r->reason.ptr >= b->buf && r->reason.ptr <= b->buf + b->head_len;
    off[2 * nh] = reason_in ? (size_t)(r->reason.ptr - b->buf) : 0;
    ax__http_body *nb = realloc(b, sizeof *b + b->head_len);
    if (!nb) return; /* keep the larger one */
    nb->cap = nb->pos = nb->end = nb->head_len;
    nb->cur = NULL;
    for (size_t i = 0; i < nh; i++) {
        nb->hdrs[i].name.ptr = nb->buf + off[2 * i];
        nb->hdrs[i].value.ptr = nb->buf + off[2 * i + 1];
    }
    if (reason_in) r->reason.ptr = nb->buf + off[2 * nh];
    r->headers = nb->hdrs;
    r->priv = nb;
}

int ax_http_client_do(ax_http_client *cl, const ax_http_request *req, ax_http_response *out) {
    int err = ax_http_client_send(cl, req, out);
    if (err) return err;
    ax__http_body *b = out->priv;
    b->max_body = cl->o.max_body;
    if (cl->o.max_body && out->content_length > 0 &&
        (uint64_t)out->content_length > cl->o.max_body) {
        ax_http_response_free(out); /* refused before reading it */
        return AX_EMSGSIZE;
    }
    size_t cap = 0, len = 0;
    char *body = NULL;
    if (out->content_length > 0 && (uint64_t)out->content_length <= cl->o.max_body)
        cap = (size_t)out->content_length + 1;
    else
        cap = 256;
    body = malloc(cap);
    if (!body) err = AX_ENOMEM;
    while (!err) {
        int rc = ax__hc_next(b);
        if (rc <= 0) {
            err = rc;
            break;
        }
        if (len + b->cur_len + 1 > cap) {
            while (len + b->cur_len + 1 > cap) cap *= 2;
            char *nb = realloc(body, cap);
            if (!nb) {
                err = AX_ENOMEM;
                break;
            }
            body = nb;
        }
        memcpy(body + len, b->cur, b->cur_len);
        len += b->cur_len;
        b->cur_len = 0;
    }
    if (err) {
        free(body);
        ax_http_response_free(out);
        return err;
    }
    body[len] = 0;
    out->body = body;
    out->body_len = len;
    shrink(out);
    return 0;
}

/* --- the body, piece by piece ------------------------------------------------- */

ssize_t ax_http_response_chunk(ax_http_response *r, const char **data) {
    ax__http_body *b = r->priv;
    if (!b) return AX_EINVAL;
    if (r->body) { /* collected: hand out the rest at once */
        size_t k = r->body_len - b->rpos;
        *data = r->body + b->rpos;
        b->rpos += k;
        return (ssize_t)k;
    }
    int rc = ax__hc_next(b);
    if (rc <= 0) return rc;
    *data = b->cur;
    size_t k = b->cur_len;
    b->cur_len = 0;
    return (ssize_t)k;
}

ssize_t ax_http_response_read(ax_http_response *r, void *buf, size_t cap) {
    ax__http_body *b = r->priv;
    if (!b || (!buf && cap)) return AX_EINVAL;
    if (cap == 0) return 0;
    if (r->body) {
        size_t k = r->body_len - b->rpos;
        if (k > cap) k = cap;
        memcpy(buf, r->body + b->rpos, k);
        b->rpos += k;
        return (ssize_t)k;
    }
    int rc = ax__hc_next(b);
    if (rc <= 0) return rc;
    size_t k = b->cur_len < cap ? b->cur_len : cap;
    memcpy(buf, b->cur, k);
    b->cur += k;
    b->cur_len -= k;
    return (ssize_t)k;
}

ssize_t ax_http_response_read_line(ax_http_response *r, char *out, size_t cap) {
    ax__http_body *b = r->priv;
    if (!b || !out || cap == 0) return AX_EINVAL;
    size_t len = 0;
    for (;;) {
        const char *p;
        size_t avail;
        if (r->body) {
            p = r->body + b->rpos;
            avail = r->body_len - b->rpos;
            if (avail == 0) break;
        } else {
            int rc = ax__hc_next(b);
            if (rc < 0) return rc;
            if (rc == 0) break;
            p = b->cur;
            avail = b->cur_len;
        }
        const char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) + 1 : avail;
        size_t copy = nl ? take - 1 : take; /* the '\n' is not copied */
        bool full = false;
        if (len + copy > cap - 1) {
            copy = take = cap - 1 - len;
            nl = NULL;
            full = true;
        }
        memcpy(out + len, p, copy);
        len += copy;
        if (r->body)
            b->rpos += take;
        else {
            b->cur += take;
            b->cur_len -= take;
        }
        if (full) {
            out[len] = 0;
            return AX_ENOSPC;
        }
        if (nl) {
            if (len && out[len - 1] == '\r') len--;
            out[len] = 0;
            return (ssize_t)len;
        }
    }
    out[len] = 0;
    return len ? (ssize_t)len : AX_EOF;
}

void ax_http_response_set_deadline(ax_http_response *r, ax_instant deadline) {
    if (r->priv) r->priv->deadline = deadline;
}

void ax_http_response_set_max_body(ax_http_response *r, uint64_t max_body) {
    if (r->priv) r->priv->max_body = max_body;
}

bool ax_http_response_header(const ax_http_response *r, const char *name, ax_http_str *value) {
    const ax_http_header *h = ax_http_find_header(r->headers, r->nheaders, name);
    if (!h) return false;
    if (value) *value = h->value;
    return true;
}

void ax_http_response_free(ax_http_response *r) {
    if (!r) return;
    free(r->body);
    ax__hc_body_free(r->priv);
    memset(r, 0, sizeof *r);
}

/* --- shortcuts ------------------------------------------------------------------- */

static int simple(ax_http_client *c, const char *method, const char *url, const char *ctype,
                  const void *body, size_t len, ax_http_response *out) {
    ax_http_request q;
    ax_http_request_init(&q, method, url);
    ax_http_kv h = {"Content-Type", ctype};
    if (ctype) {
        q.headers = &h;
        q.nheaders = 1;
    }
    q.body = body;
    q.body_len = len;
    return ax_http_client_do(c, &q, out);
}

int ax_http_get(ax_http_client *c, const char *url, ax_http_response *out) {
    return simple(c, "GET", url, NULL, NULL, 0, out);
}
int ax_http_head(ax_http_client *c, const char *url, ax_http_response *out) {
    return simple(c, "HEAD", url, NULL, NULL, 0, out);
}
int ax_http_delete(ax_http_client *c, const char *url, ax_http_response *out) {
    return simple(c, "DELETE", url, NULL, NULL, 0, out);
}
int ax_http_post(ax_http_client *c, const char *url, const char *content_type, const void *body,
                 size_t len, ax_http_response *out) {
    return simple(c, "POST", url, content_type, body, len, out);
}
int ax_http_put(ax_http_client *c, const char *url, const char *content_type, const void *body,
                size_t len, ax_http_response *out) {
    return simple(c, "PUT", url, content_type, body, len, out);
}
int ax_http_patch(ax_http_client *c, const char *url, const char *content_type, const void *body,
                  size_t len, ax_http_response *out) {
    return simple(c, "PATCH", url, content_type, body, len, out);
}
int ax_http_post_json(ax_http_client *c, const char *url, const char *json, ax_http_response *out) {
    if (!json) return AX_EINVAL;
    return simple(c, "POST", url, "application/json", json, strlen(json), out);
}
