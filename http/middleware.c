/* http/middleware.c - running middleware chains, per-request state,
 * response head hooks, guards and body limits. Nothing here allocates per
 * request: the chain cursor lives on the caller's stack and per-request
 * state in the request record. */
#include <stdlib.h>
#include <string.h>

#include "executor/array.h"
#include "http/internal.h"

int ax_http_next_run(ax_http_next *next, ax_http_req *req, ax_http_res *res) {
    size_t i = next->i, total = next->na + next->nb;
    if (i > total) return AX_EALREADY;
    next->i = i + 1;
    int r;
    if (i < next->na)
        r = next->a[i].fn(req, res, next, next->a[i].user);
    else if (i < total)
        r = next->b[i - next->na].fn(req, res, next, next->b[i - next->na].user);
    else
        r = next->handler(req, res, next->user);
    next->i = total + 1; /* the rest has run: a second call runs nothing */
    return r;
}

struct ax_http_chain {
    ax_http_mw *mw;
    size_t n, cap;
    ax_http_handler handler;
    void *user;
};

int ax_http_chain_new(ax_http_chain **out, ax_http_handler handler, void *user) {
    if (!out || !handler) return AX_EINVAL;
    ax_http_chain *c = calloc(1, sizeof *c);
    if (!c) return AX_ENOMEM;
    c->handler = handler;
    c->user = user;
    *out = c;
    return 0;
}

int ax_http_chain_use(ax_http_chain *c, ax_http_middleware fn, void *user) {
    if (!c || !fn) return AX_EINVAL;
    if (ax__grow((void **)&c->mw, &c->cap, c->n, sizeof *c->mw)) return AX_ENOMEM;
    c->mw[c->n++] = (ax_http_mw){fn, user};
    return 0;
}

int ax_http_chain_handler(ax_http_req *req, ax_http_res *res, void *chain) {
    const ax_http_chain *c = chain;
    ax_http_next next = {c->mw, NULL, c->n, 0, 0, c->handler, c->user};
    return ax_http_next_run(&next, req, res);
}

void ax_http_chain_free(ax_http_chain *c) {
    if (!c) return;
    free(c->mw);
    free(c);
}

int ax_http_req_set_local(ax_http_req *req, const void *key, void *value) {
    for (size_t i = 0; i < req->nlocals; i++) {
        if (req->locals[i].key == key) {
            req->locals[i].value = value;
            return 0;
        }
    }
    if (req->nlocals == AX__HTTP_MAX_LOCALS) return AX_ENOSPC;
    req->locals[req->nlocals].key = key;
    req->locals[req->nlocals].value = value;
    req->nlocals++;
    return 0;
}

void *ax_http_req_local(const ax_http_req *req, const void *key) {
    for (size_t i = 0; i < req->nlocals; i++)
        if (req->locals[i].key == key) return req->locals[i].value;
    return NULL;
}

void ax_http_req_set_path(ax_http_req *req, ax_http_str path) {
    req->head.path = path;
}

int ax_http_req_peer(const ax_http_req *req, ax_addr *out) {
    const ax__http_conn *c = req->io->conn;
    if (!c->has_peer) return AX_ENOENT;
    *out = c->peer;
    return 0;
}

ax_http_server *ax_http_req_server(const ax_http_req *req) {
    return req->io->srv;
}

int ax_http_res_on_head(ax_http_res *res, ax_http_head_hook fn, void *user) {
    if (res->head_sent) return AX_EALREADY;
    if (res->nhooks == AX__HTTP_MAX_HOOKS) return AX_ENOSPC;
    res->hooks[res->nhooks].fn = fn;
    res->hooks[res->nhooks].user = user;
    res->nhooks++;
    return 0;
}

void ax__http_res_run_hooks(ax_http_res *res, int *status) {
    size_t n = res->nhooks;
    res->nhooks = 0; /* once per response */
    for (size_t i = 0; i < n; i++) res->hooks[i].fn(res, status, res->hooks[i].user);
}

int ax_http_res_status(const ax_http_res *res) {
    return res->head_sent ? res->status : 0;
}

uint64_t ax_http_res_bytes(const ax_http_res *res) {
    return res->bytes;
}

int ax_http_guard_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *guard) {
    const ax_http_guard *g = guard;
    int st = g->check(req, g->user);
    if (st == 0) return ax_http_next_run(next, req, res);
    if (st < 0) return st;
    if (st < 400 || st > 499) return AX_EINVAL; /* a bad verdict is the server's fault */
    if (st == 401 && g->challenge) ax_http_res_header(res, "WWW-Authenticate", g->challenge);
    return ax_http_res_text(res, st, ax_http_reason(st));
}

int ax_http_req_limit_body(ax_http_req *req, uint64_t max) {
    if (req->head.content_length >= 0 && (uint64_t)req->head.content_length > max)
        return AX_EMSGSIZE;
    if (req->body_mode == AX__BODY_CHUNKED &&
        (!req->chunked.max_body || max < req->chunked.max_body))
        req->chunked.max_body = max;
    return 0;
}

int ax_http_body_limit_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *max) {
    if (ax_http_req_limit_body(req, *(const uint64_t *)max) == AX_EMSGSIZE) {
        ax_http_res_close(res); /* do not read a body we refuse */
        return ax_http_res_text(res, 413, "Content Too Large\n");
    }
    return ax_http_next_run(next, req, res);
}
