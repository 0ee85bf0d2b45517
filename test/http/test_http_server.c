/* The HTTP/1.1 server over real loopback sockets, with a blocking client on
 * the test thread: routing, keep-alive, pipelining, bodies both ways,
 * 100-continue, HEAD, a battery of malformed and smuggling requests with
 * the status and the connection's fate each must get, timeouts, limits,
 * idle connections without tasks, and graceful shutdown. */
#include "test/http/http_util.h"

TestSuite(http_server, .init = srv_defaults, .fini = srv_down, .timeout = 60);

static void expect_body(cli_res *r, const char *body) {
    cr_assert_eq(r->body_len, strlen(body), "body %zu bytes: %s", r->body_len, r->body);
    cr_assert_eq(memcmp(r->body, body, r->body_len), 0, "body: %s", r->body);
}

Test(http_server, routes_and_statuses) {
    cli_res r;
    cr_assert_eq(one_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    expect_body(&r, "Hello, World!");
    cr_assert_not_null(strstr(r.head, "Content-Type: text/plain\r\n"));
    cr_assert_not_null(strstr(r.head, "Date: "));
    cr_assert_not_null(strstr(r.head, " GMT\r\n"));
    cli_res_free(&r);
    cr_assert_eq(one_request("GET /users/42 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    expect_body(&r, "{\"id\":\"42\"}");
    cli_res_free(&r);
    cr_assert_eq(one_request("GET /api/v1/items/7 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    expect_body(&r, "{\"id\":\"7\"}");
    cli_res_free(&r);
    cr_assert_eq(one_request("GET /files/a/b/c.txt HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    expect_body(&r, "a/b/c.txt");
    cli_res_free(&r);
    cr_assert_eq(one_request("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", &r), 404);
    cli_res_free(&r);
    cr_assert_eq(one_request("GET /users/ HTTP/1.1\r\nHost: a\r\n\r\n", &r), 404);
    cli_res_free(&r);
    cr_assert_eq(one_request("DELETE /echo HTTP/1.1\r\nHost: a\r\n\r\n", &r), 405);
    cr_assert(strstr(r.head, "Allow: POST, PUT\r\n") != NULL, "head: %s", r.head);
    cli_res_free(&r);
    cr_assert_eq(one_request("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", &r), 405);
    cr_assert(strstr(r.head, "Allow: GET, HEAD\r\n") != NULL, "head: %s", r.head);
    cli_res_free(&r);
    /* A failing handler is a 500 and the server lives on. */
    cr_assert_eq(one_request("GET /fail HTTP/1.1\r\nHost: a\r\n\r\n", &r), 500);
    cli_res_free(&r);
    cr_assert_eq(one_request("GET /headers HTTP/1.1\r\nHost: a\r\nX-Test: v1\r\n\r\n", &r), 200);
    cr_assert(strstr(r.head, "X-Echo: v1\r\n") != NULL, "head: %s", r.head);
    cr_assert(strstr(r.head, "Set-Cookie") == NULL);
    cli_res_free(&r);
}

Test(http_server, keep_alive_and_head) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    cli_res r;
    for (int i = 0; i < 5; i++) {
        cli_sends(c->fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        cr_assert_eq(cli_read_res(c, &r, false), 0);
        cr_assert_eq(r.status, 200);
        cr_assert(r.keep_alive);
        cli_res_free(&r);
        /* HEAD: the same head, no body (the next response would be garbled
         * if one were sent). */
        cli_sends(c->fd, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n");
        cr_assert_eq(cli_read_res(c, &r, true), 0);
        cr_assert_eq(r.status, 200);
        cr_assert_not_null(strstr(r.head, "Content-Length: 13\r\n"));
        cli_res_free(&r);
    }
    /* HTTP/1.0 with keep-alive is kept; without it, closed. */
    cli_sends(c->fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_not_null(strstr(r.head, "Connection: keep-alive\r\n"));
    cli_res_free(&r);
    cli_sends(c->fd, "GET / HTTP/1.0\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_not_null(strstr(r.head, "Connection: close\r\n"));
    cli_res_free(&r);
    cr_assert(cli_closed(c));
    cli_close(c);
    free(c);
}

Test(http_server, pipelined_requests_answered_in_order) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    static char burst[16384];
    size_t len = 0;
    for (int i = 0; i < 40; i++) {
        if (i % 3 == 0)
            len += (size_t)snprintf(burst + len, sizeof burst - len,
                                    "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n"
                                    "e%05d",
                                    i);
        else if (i % 3 == 1)
            len += (size_t)snprintf(burst + len, sizeof burst - len,
                                    "GET /users/%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
        else
            len += (size_t)snprintf(burst + len, sizeof burst - len,
                                    "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
                                    "chunked\r\n\r\n3\r\nc%02d\r\n0\r\n\r\n",
                                    i % 100);
    }
    cli_send(c->fd, burst, len);
    for (int i = 0; i < 40; i++) {
        cli_res r;
        cr_assert_eq(cli_read_res(c, &r, false), 0, "response %d missing", i);
        cr_assert_eq(r.status, 200);
        char want[32];
        if (i % 3 == 0)
            snprintf(want, sizeof want, "e%05d", i);
        else if (i % 3 == 1)
            snprintf(want, sizeof want, "{\"id\":\"%d\"}", i);
        else
            snprintf(want, sizeof want, "c%02d", i % 100);
        expect_body(&r, want);
        cli_res_free(&r);
    }
    cli_close(c);
    free(c);
}

Test(http_server, request_bodies_both_framings) {
    /* Bodies larger than the read buffer, sent in pieces. */
    size_t n = 300000;
    char *body = malloc(n);
    for (size_t i = 0; i < n; i++) body[i] = (char)('A' + i % 26);
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    char head[256];
    snprintf(head, sizeof head, "PUT /echo HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n", n);
    cli_sends(c->fd, head);
    cli_send(c->fd, body, n);
    cli_res r;
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, n);
    cr_assert_eq(memcmp(r.body, body, n), 0);
    cli_res_free(&r);
    /* chunked, in chunks of 1000 with extensions */
    cli_sends(c->fd, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t off = 0; off < n; off += 1000) {
        size_t k = n - off < 1000 ? n - off : 1000;
        char sz[32];
        snprintf(sz, sizeof sz, "%zx;x=y\r\n", k);
        cli_sends(c->fd, sz);
        cli_send(c->fd, body + off, k);
        cli_sends(c->fd, "\r\n");
    }
    cli_sends(c->fd, "0\r\nTrailer-A: 1\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, n);
    cr_assert_eq(memcmp(r.body, body, n), 0);
    cli_res_free(&r);
    /* still usable */
    cli_sends(c->fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cli_res_free(&r);
    cli_close(c);
    free(c);
    free(body);
}

Test(http_server, unread_body_is_drained_and_connection_kept) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    /* The handler ignores the body; the server skips it, so the bytes that
     * look like a request inside it are not taken for one. */
    cli_sends(c->fd, "POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 29\r\n\r\n"
                     "GET /fail HTTP/1.1\r\nHost: a\r\n");
    cli_sends(c->fd, "GET /users/9 HTTP/1.1\r\nHost: a\r\n\r\n");
    cli_res r;
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    expect_body(&r, "ignored\n");
    cli_res_free(&r);
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    expect_body(&r, "{\"id\":\"9\"}");
    cli_res_free(&r);
    cli_close(c);
    free(c);
}

Test(http_server, chunked_streaming_response) {
    cli_res r;
    cr_assert_eq(one_request("GET /stream?n=20000 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert(r.chunked);
    cr_assert_eq(r.body_len, 20000 * 100);
    for (long i = 0; i < 20000; i += 997) {
        char want[24];
        snprintf(want, sizeof want, "%010ld", i);
        cr_assert_eq(memcmp(r.body + i * 100, want, 10), 0, "line %ld", i);
    }
    cli_res_free(&r);
    /* HTTP/1.0: no chunking, the body runs to the close. */
    cr_assert_eq(one_request("GET /stream?n=3 HTTP/1.0\r\n\r\n", &r), 200);
    cr_assert(!r.chunked);
    cr_assert_eq(r.body_len, 300);
    cli_res_free(&r);
    /* HEAD of a stream: head only. */
    cr_assert_eq(one_request("HEAD /stream HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cli_res_free(&r);
}

/* A handler failing in the middle of a stream: no last chunk, and the
 * connection ends, so the client knows the body is cut short. */
Test(http_server, stream_failing_midway_is_cut_short) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    cli_sends(c->fd, "GET /stream-fail HTTP/1.1\r\nHost: a\r\n\r\n");
    while (cli_fill(c) > 0) {
    }
    c->buf[c->len < sizeof c->buf ? c->len : sizeof c->buf - 1] = 0;
    cr_assert_not_null(strstr(c->buf, "Transfer-Encoding: chunked\r\n"), "%s", c->buf);
    cr_assert_not_null(strstr(c->buf, "6\r\nfirst\n\r\n"), "%s", c->buf);
    cr_assert_null(strstr(c->buf, "\r\n0\r\n\r\n"), "a last chunk was sent: %s", c->buf);
    cli_close(c);
    free(c);
}

Test(http_server, large_response_to_a_slow_reader) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    int small = 4096;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, (const void *)&small, sizeof small);
    cli_sends(c->fd, "GET /big HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    usleep(100000); /* the server fills the socket and must wait */
    cli_res r;
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.body_len, 1u << 20);
    for (size_t i = 0; i < r.body_len; i += 4099) cr_assert_eq(r.body[i], (char)('a' + i % 23));
    cli_res_free(&r);
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    expect_body(&r, "Hello, World!");
    cli_res_free(&r);
    cli_close(c);
    free(c);
}

Test(http_server, expect_100_continue) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    cli_sends(c->fd, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                     "Expect: 100-continue\r\n\r\n");
    /* The server asks for the body before the client sends it. */
    while (c->len < 25) cr_assert_gt(cli_fill(c), 0, "no 100 Continue");
    cr_assert_eq(memcmp(c->buf, "HTTP/1.1 100 Continue\r\n\r\n", 25), 0, "got: %.*s", (int)c->len,
                 c->buf);
    cli_consume(c, 25);
    cli_sends(c->fd, "hello");
    cli_res r;
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    expect_body(&r, "hello");
    cli_res_free(&r);
    /* A handler that does not read: no 100, a final answer and a close
     * (the client never sent the body, so the connection cannot go on). */
    cli_sends(c->fd, "POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                     "Expect: 100-continue\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.head, "Connection: close\r\n"), "head: %s", r.head);
    cli_res_free(&r);
    cr_assert(cli_closed(c));
    cli_close(c);
    free(c);
}

/* --- the battery: malformed and smuggling requests --------------------------- */

static const struct {
    const char *raw;
    int status;
} battery[] = {
    /* smuggling shapes */
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
     "0\r\n\r\n",
     400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
     "0\r\n\r\n",
     400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd", 400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
     400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n",
     501},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\nzz\r\n\r\n", 400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\n Transfer-Encoding: chunked\r\n\r\n", 400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n", 400},
    {"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n", 400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n", 400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXX0\r\n\r\n",
     400},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     "ffffffffffffffffff\r\n",
     400},
    /* malformed heads */
    {"GET / HTTP/1.1\nHost: a\n\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX\x01: b\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nX: b\x1f\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
    {"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
    {"get / HTTP/1.1\r\nHost: a\r\n\r\n", 405}, /* a valid token, unknown method: routed */
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417},
    {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999\r\n\r\n", 413},
};

Test(http_server, malformed_and_smuggling_battery) {
    for (size_t i = 0; i < sizeof battery / sizeof battery[0]; i++) {
        cli_conn *c = malloc(sizeof *c);
        cli_open(c);
        const char *raw = battery[i].raw;
        cli_sends(c->fd, raw);
        /* Then a valid request, which must never be answered on a
         * connection whose framing was refused. */
        cli_sends(c->fd, "GET /users/1 HTTP/1.1\r\nHost: a\r\n\r\n");
        cli_res r;
        cr_assert_eq(cli_read_res(c, &r, false), 0, "case %zu: no response", i);
        cr_expect_eq(r.status, battery[i].status, "case %zu: %s -> %d", i, raw, r.status);
        if (battery[i].status >= 400 && battery[i].status != 405) {
            cr_expect_not_null(strstr(r.head, "Connection: close\r\n"), "case %zu", i);
            cr_expect(cli_closed(c), "case %zu: connection left open", i);
        }
        cli_res_free(&r);
        cli_close(c);
        free(c);
    }
}

Test(http_server, oversized_request_line_and_head) {
    static char big[40000];
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', 20000);
    strcpy(big + 20005, " HTTP/1.1\r\nHost: a\r\n\r\n");
    cli_res r;
    cr_assert_eq(one_request(big, &r), 414);
    cli_res_free(&r);
    strcpy(big, "GET / HTTP/1.1\r\nHost: a\r\n");
    size_t k = strlen(big);
    for (int i = 0; i < 1000; i++) k += (size_t)sprintf(big + k, "X-%d: %030d\r\n", i, i);
    strcpy(big + k, "\r\n");
    cr_assert_eq(one_request(big, &r), 431);
    cli_res_free(&r);
}

Test(http_server, idle_keep_alive_connections_hold_no_task) {
    uint64_t base = tasks_alive(); /* the acceptor and the clock */
    enum { N = 50 };
    cli_conn *c = malloc(N * sizeof *c);
    cli_res r;
    for (int i = 0; i < N; i++) {
        cli_open(&c[i]);
        cli_sends(c[i].fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        cr_assert_eq(cli_read_res(&c[i], &r, false), 0);
        cli_res_free(&r);
    }
    cr_assert_eq(ax_http_server_connections(srv), N);
    /* Once answered, each connection's task ends. */
    for (int i = 0; i < 500 && tasks_alive() > base; i++) usleep(10000);
    cr_assert_eq(tasks_alive(), base, "%llu tasks alive for %d idle connections (base %llu)",
                 (unsigned long long)tasks_alive(), N, (unsigned long long)base);
    cr_assert_eq(ax_http_server_connections(srv), N);
    /* ... and bytes arriving bring one back. */
    for (int i = 0; i < N; i++) {
        cli_sends(c[i].fd, "GET /users/5 HTTP/1.1\r\nHost: a\r\n\r\n");
        cr_assert_eq(cli_read_res(&c[i], &r, false), 0);
        expect_body(&r, "{\"id\":\"5\"}");
        cli_res_free(&r);
    }
    /* A client closing an idle connection ends it on the server. */
    for (int i = 0; i < N; i++) cli_close(&c[i]);
    for (int i = 0; i < 500 && ax_http_server_connections(srv) > 0; i++) usleep(10000);
    cr_assert_eq(ax_http_server_connections(srv), 0);
    free(c);
}

Test(http_server, graceful_shutdown) {
    cli_conn *busy = malloc(sizeof *busy), *idle = malloc(sizeof *idle);
    cli_open(busy);
    cli_open(idle);
    cli_res r;
    cli_sends(idle->fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(cli_read_res(idle, &r, false), 0);
    cli_res_free(&r);
    cli_sends(busy->fd, "GET /sleep/300 HTTP/1.1\r\nHost: a\r\n\r\n");
    /* wait until the handler runs (a task beyond the base) */
    for (int i = 0; i < 500 && ax_http_server_connections(srv) < 2; i++) usleep(10000);
    usleep(50000);
    ax_task *t;
    cr_assert_eq(ax_spawn_on(rt, &t, srv_stop_task, NULL), 0);
    /* The idle connection is closed, the busy one is answered and closed. */
    cr_assert(cli_closed(idle));
    cr_assert_eq(cli_read_res(busy, &r, false), 0);
    cr_assert_eq(r.status, 200);
    expect_body(&r, "slept\n");
    cr_assert_not_null(strstr(r.head, "Connection: close\r\n"), "head: %s", r.head);
    cli_res_free(&r);
    cr_assert(cli_closed(busy));
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    cr_assert_eq(ax_block_on(rt, &jf.base), 0);
    cli_close(busy);
    cli_close(idle);
    free(busy);
    free(idle);
}

/* Servers with their own options. */
static void srv_tight(void) {
    ax_http_server_opts_init(&srv_opts);
    srv_opts.header_timeout_ms = 300;
    srv_opts.idle_timeout_ms = 400;
    srv_opts.max_connections = 3;
    srv_opts.limits.max_body = 1000;
    srv_opts.handler_timeout_ms = 1000;
    srv_up();
}

/* A handler past its deadline is cancelled: 503, and the connection ends. */
Test(http_server, handler_deadline_cancels_the_handler, .init = srv_tight) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    double t0 = now_s();
    cli_sends(c->fd, "GET /sleep/20000 HTTP/1.1\r\nHost: a\r\n\r\n");
    cli_res r;
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    double took = now_s() - t0;
    cr_assert_eq(r.status, 503, "status %d", r.status);
    cr_assert_not_null(strstr(r.head, "Connection: close\r\n"));
    cr_assert_geq(took, 0.9, "aborted before the deadline: %.2f s", took);
    cr_assert_lt(took, 10.0, "the handler ran %.2f s", took);
    cli_res_free(&r);
    cr_assert(cli_closed(c));
    cli_close(c);
    /* the server goes on */
    cr_assert_eq(one_request("GET /sleep/10 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cli_res_free(&r);
    free(c);
}

Test(http_server, slowloris_closed_after_header_timeout, .init = srv_tight) {
    cli_conn *slow = malloc(sizeof *slow), *ok = malloc(sizeof *ok);
    cli_open(slow);
    cli_open(ok);
    const char *head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    double t0 = now_s();
    bool closed = false;
    cli_res r;
    /* One byte every 50 ms: the head never completes in time. */
    for (size_t i = 0; head[i] && now_s() - t0 < 5; i++) {
        if (send(slow->fd, head + i, 1, MSG_NOSIGNAL) != 1) {
            closed = true;
            break;
        }
        /* Meanwhile another client is served normally. */
        cli_sends(ok->fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        cr_assert_eq(cli_read_res(ok, &r, false), 0);
        cr_assert_eq(r.status, 200);
        cli_res_free(&r);
        usleep(50000);
        struct timeval tv = {0, 0};
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(slow->fd, &fds);
        if (select(slow->fd + 1, &fds, NULL, NULL, &tv) > 0) break; /* the server answered */
    }
    if (!closed) {
        cr_assert_eq(cli_read_res(slow, &r, false), 0);
        cr_assert_eq(r.status, 408);
        cli_res_free(&r);
        cr_assert(cli_closed(slow));
    }
    double took = now_s() - t0;
    cr_assert_lt(took, 5.0, "slow client kept for %.2f s", took);
    cr_assert_geq(took, 0.29, "closed before the header timeout: %.2f s", took);
    cli_close(slow);
    cli_close(ok);
    free(slow);
    free(ok);
}

Test(http_server, idle_timeout_closes_keep_alive, .init = srv_tight) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    cli_res r;
    cli_sends(c->fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cli_res_free(&r);
    double t0 = now_s();
    cr_assert(cli_closed(c), "idle connection not closed");
    cr_assert_geq(now_s() - t0, 0.35);
    for (int i = 0; i < 500 && ax_http_server_connections(srv) > 0; i++) usleep(10000);
    cr_assert_eq(ax_http_server_connections(srv), 0);
    cli_close(c);
    free(c);
}

Test(http_server, max_connections, .init = srv_tight) {
    cli_conn *c = malloc(4 * sizeof *c);
    cli_res r;
    for (int i = 0; i < 3; i++) {
        cli_open(&c[i]);
        cli_sends(c[i].fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        cr_assert_eq(cli_read_res(&c[i], &r, false), 0);
        cli_res_free(&r);
    }
    cli_open(&c[3]);
    cli_sends(c[3].fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert(cli_closed(&c[3]), "a fourth connection was served");
    cr_assert_eq(ax_http_server_connections(srv), 3);
    for (int i = 0; i < 4; i++) cli_close(&c[i]);
    free(c);
}

Test(http_server, body_limit, .init = srv_tight) {
    cli_res r;
    cr_assert_eq(one_request("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", &r),
                 413);
    cli_res_free(&r);
    /* chunked past the limit: the handler's read fails with AX_EMSGSIZE */
    static char req[4096];
    strcpy(req, "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n");
    size_t k = strlen(req);
    memset(req + k, 'x', 1000);
    strcpy(req + k + 1000, "\r\n1\r\nx\r\n0\r\n\r\n");
    cr_assert_eq(one_request(req, &r), 413);
    cli_res_free(&r);
}

/* Any stream: a Unix socket pair handed to the server, two requests on it
 * with an idle period (no task) between them. Windows has no Unix socket
 * pairs (AX_ENOTSUP): a loopback TCP pair, connected by hand, stands in. */
static void *unix_stream_task(void *arg) {
#ifdef _WIN32
    ax_addr la = ax_addr_loopback(AX_INET, 0);
    ax_tcp_listener *l;
    cr_assert_eq(ax_tcp_listen(&la, NULL, &l), 0);
    cr_assert_eq(ax_tcp_listener_addr(l, &la), 0);
    ax_tcp *ta, *tb;
    cr_assert_eq(ax_tcp_connect(&la, AX_NO_DEADLINE, &ta), 0);
    cr_assert_eq(ax_tcp_accept(l, &tb, NULL, AX_NO_DEADLINE), 0);
    ax_tcp_listener_close(l);
    ax_stream *a = ax_tcp_stream(ta), *b = ax_tcp_stream(tb);
#else
    ax_unix *ua, *ub;
    cr_assert_eq(ax_unix_pair(&ua, &ub), 0);
    ax_stream *a = ax_unix_stream(ua), *b = ax_unix_stream(ub);
#endif
    cr_assert_eq(ax_http_server_serve_stream(srv, b), 0);
    static char buf[4096];
    for (int round = 0; round < 2; round++) {
        const char *req = "GET /users/u1 HTTP/1.1\r\nHost: a\r\n\r\n";
        cr_assert_eq(ax_stream_write_all(a, req, strlen(req), ax_deadline_in_ms(5000)), 0);
        size_t len = 0;
        while (!strstr(buf, "{\"id\":\"u1\"}")) {
            ssize_t n = ax_stream_read(a, buf + len, sizeof buf - 1 - len, ax_deadline_in_ms(5000));
            cr_assert_gt(n, 0);
            len += (size_t)n;
            buf[len] = 0;
        }
        cr_assert_not_null(strstr(buf, "HTTP/1.1 200 OK\r\n"), "%s", buf);
        buf[0] = 0;
        ax_sleep(20); /* the server side goes idle */
    }
    ax_stream_close(a); /* the server sees the end and closes its side */
    for (int i = 0; i < 500 && ax_http_server_connections(srv) > 0; i++) ax_sleep(10);
    cr_assert_eq(ax_http_server_connections(srv), 0);
    return NULL;
}

Test(http_server, serves_any_stream) {
    cr_assert_eq(ax_run(rt, unix_stream_task, NULL, NULL), 0);
}
