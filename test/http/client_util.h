/* test/http/client_util.h - what the HTTP client tests share: Axon servers
 * on several loopback addresses (127.0.0.1, .2, .3) with the routes of
 * http_util.h plus redirects, flaky answers and header echoes, and a raw
 * scripted TCP peer for the framing corner cases. */
#ifndef AX_TEST_HTTP_CLIENT_UTIL_H
#define AX_TEST_HTTP_CLIENT_UTIL_H

#include <stdatomic.h>

#include "test/http/http_util.h"

/* GET/POST/... /redir/:code?to=URL answers code with Location: URL. */
static int h_redir(ax_http_req *req, ax_http_res *res, void *u) {
    int64_t code;
    char to[512];
    if (!ax_http_req_param_int(req, "code", &code)) return ax_http_res_text(res, 400, "code\n");
    if (ax_http_req_query_param(req, "to", to, sizeof to) < 0)
        return ax_http_res_text(res, 400, "to\n");
    ax_http_str body;
    ax_http_req_body(req, &body); /* read it so the connection stays usable */
    cr_assert_eq(ax_http_res_header(res, "Location", to), 0);
    return ax_http_res_text(res, (int)code, "moved\n");
}

/* Any method: "METHOD ctype body" (ctype "-" when absent). */
static int h_method(ax_http_req *req, ax_http_res *res, void *u) {
    ax_http_str body, m = ax_http_req_method_str(req), ct;
    int err = ax_http_req_body(req, &body);
    if (err) return err;
    if (!ax_http_req_header(req, "content-type", &ct)) ct = (ax_http_str){"-", 1};
    char out[4096];
    int n = snprintf(out, sizeof out, "%.*s %.*s %.*s", (int)m.len, m.ptr, (int)ct.len, ct.ptr,
                     (int)body.len, body.ptr);
    return ax_http_res_send(res, 200, "text/plain", out, (size_t)n);
}

/* The value of a header named by :name, or "none". */
static int h_hdr(ax_http_req *req, ax_http_res *res, void *u) {
    ax_http_str name, v;
    ax_http_req_param(req, "name", &name);
    char nm[64];
    snprintf(nm, sizeof nm, "%.*s", (int)name.len, name.ptr);
    if (!ax_http_req_header(req, nm, &v)) v = (ax_http_str){"none", 4};
    return ax_http_res_send(res, 200, "text/plain", v.ptr, v.len);
}

/* 503 (with Retry-After: 0) for the first n requests (query n) since the
 * counter was reset, then 200 "ok". */
static _Atomic int flaky_count;
static int h_flaky(ax_http_req *req, ax_http_res *res, void *u) {
    char nb[16] = "0";
    ax_http_req_query_param(req, "n", nb, sizeof nb);
    ax_http_str body;
    ax_http_req_body(req, &body);
    if (atomic_fetch_add(&flaky_count, 1) < atoi(nb)) {
        ax_http_res_header(res, "Retry-After", "0");
        return ax_http_res_text(res, 503, "busy\n");
    }
    return ax_http_res_text(res, 200, "ok\n");
}

#define NSRV 3
static ax_http_server *csrv[NSRV];
static ax_http_router *crouter;
static uint16_t cport[NSRV];

static void *csrv_start_task(void *arg) {
    cr_assert_eq(ax_http_router_new(&crouter), 0);
    ax_http_router *r = crouter;
    ax_http_router_add(r, "GET", "/", h_hello, NULL);
    ax_http_router_add(r, "POST", "/echo", h_echo, NULL);
    ax_http_router_add(r, "PUT", "/echo", h_echo, NULL);
    ax_http_router_add(r, "GET", "/stream", h_stream, NULL);
    ax_http_router_add(r, "GET", "/users/:id", h_user, NULL);
    ax_http_router_add(r, "GET", "/sleep/:ms", h_sleep, NULL);
    ax_http_router_add(r, "GET", "/big", h_big, NULL);
    ax_http_router_add(r, "GET", "/stream-fail", h_stream_fail, NULL);
    ax_http_router_add(r, "*", "/redir/:code", h_redir, NULL);
    ax_http_router_add(r, "*", "/method", h_method, NULL);
    ax_http_router_add(r, "*", "/a/b/method", h_method, NULL);
    ax_http_router_add(r, "GET", "/hdr/:name", h_hdr, NULL);
    ax_http_router_add(r, "*", "/flaky", h_flaky, NULL);
    ax_http_server_opts o;
    ax_http_server_opts_init(&o);
    for (int i = 0; i < NSRV; i++) {
        cr_assert_eq(ax_http_server_new(&csrv[i], &o, ax_http_router_handler, r), 0);
        char a[32];
        snprintf(a, sizeof a, "127.0.0.%d:0", i + 1);
        ax_addr addr;
        cr_assert_eq(ax_addr_parse(a, &addr), 0);
        cr_assert_eq(ax_http_server_listen(csrv[i], &addr), 0);
        ax_addr bound;
        ax_http_server_addr(csrv[i], &bound);
        cport[i] = bound.port;
    }
    return NULL;
}

static void *csrv_stop_task(void *arg) {
    for (int i = 0; i < NSRV; i++) {
        ax_http_server_shutdown(csrv[i], 2000);
        ax_http_server_free(csrv[i]);
        csrv[i] = NULL;
    }
    ax_http_router_free(crouter);
    return NULL;
}

static inline void csrv_up(void) {
    atomic_store(&flaky_count, 0);
    rt_two();
    cr_assert_eq(ax_run(rt, csrv_start_task, NULL, NULL), 0);
}

static inline void csrv_down(void) {
    if (csrv[0]) ax_run(rt, csrv_stop_task, NULL, NULL);
    rt_done();
}

/* "http://127.0.0.<host>:<port><path>" in a rotating static buffer. */
static inline const char *url_of(int host, const char *path) {
    static _Thread_local char bufs[8][1024];
    static _Thread_local int next;
    char *b = bufs[next++ % 8];
    int n = snprintf(b, 1024, "http://127.0.0.%d:%u%s", host, (unsigned)cport[host - 1], path);
    cr_assert_lt(n, 1024);
    return b;
}
#define U(path) url_of(1, path)

static inline void expect_text(const ax_http_response *r, const char *text) {
    cr_assert_eq(r->body_len, strlen(text), "body (%zu): %.*s", r->body_len, (int)r->body_len,
                 r->body);
    cr_assert_eq(memcmp(r->body, text, r->body_len), 0, "body: %s", r->body);
}

#endif
