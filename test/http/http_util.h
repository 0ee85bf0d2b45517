/* test/http/http_util.h - a test HTTP server on the suite's runtime, and a
 * blocking raw-socket client that runs on the test's own thread (a real
 * peer outside the runtime). */
#ifndef AX_TEST_HTTP_UTIL_H
#define AX_TEST_HTTP_UTIL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#endif

#include "test/os_compat.h"

#include "test/net/net_util.h"

/* --- handlers ------------------------------------------------------------ */

static int h_hello(ax_http_req *req, ax_http_res *res, void *u) {
    return ax_http_res_send(res, 200, "text/plain", "Hello, World!", 13);
}

static int h_echo(ax_http_req *req, ax_http_res *res, void *u) {
    ax_http_str body;
    int err = ax_http_req_body(req, &body);
    if (err == AX_EMSGSIZE) return ax_http_res_text(res, 413, "too large\n");
    if (err) return err;
    return ax_http_res_send(res, 200, "application/octet-stream", body.ptr, body.len);
}

/* Streams n (query) lines of 100 bytes: backpressure when the client is slow. */
static int h_stream(ax_http_req *req, ax_http_res *res, void *u) {
    char nb[16];
    long n = 10;
    if (ax_http_req_query_param(req, "n", nb, sizeof nb) > 0) n = atol(nb);
    int err = ax_http_res_stream_begin(res, 200, "text/plain");
    char line[100];
    for (long i = 0; !err && i < n; i++) {
        memset(line, 'a' + (char)(i % 26), sizeof line);
        char num[24];
        snprintf(num, sizeof num, "%010ld", i % 1000000000L); /* long is 32-bit on Windows */
        memcpy(line, num, 10);
        line[10] = ' ';
        line[99] = '\n';
        err = ax_http_res_stream_write(res, line, sizeof line);
    }
    return err ? err : ax_http_res_stream_end(res);
}

static int h_user(ax_http_req *req, ax_http_res *res, void *u) {
    ax_http_str id;
    if (!ax_http_req_param(req, "id", &id)) return AX_EINVAL;
    char buf[128];
    ax_json j;
    ax_json_init(&j, buf, sizeof buf);
    ax_json_object_begin(&j);
    ax_json_key(&j, "id");
    ax_json_string_n(&j, id.ptr, id.len);
    ax_json_object_end(&j);
    ssize_t n = ax_json_finish(&j);
    return ax_http_res_json(res, 200, buf, (size_t)n);
}

static int h_sleep(ax_http_req *req, ax_http_res *res, void *u) {
    int64_t ms;
    if (!ax_http_req_param_int(req, "ms", &ms)) return ax_http_res_text(res, 400, "ms\n");
    int err = ax_sleep((uint64_t)ms);
    if (err) return err;
    return ax_http_res_text(res, 200, "slept\n");
}

static int h_fail(ax_http_req *req, ax_http_res *res, void *u) {
    return AX_EIO;
}

/* Answers without reading the body. */
static int h_ignore_body(ax_http_req *req, ax_http_res *res, void *u) {
    return ax_http_res_text(res, 200, "ignored\n");
}

static int h_rest(ax_http_req *req, ax_http_res *res, void *u) {
    ax_http_str rest;
    ax_http_req_param(req, "path", &rest);
    return ax_http_res_send(res, 200, "text/plain", rest.ptr, rest.len);
}

static int h_header_echo(ax_http_req *req, ax_http_res *res, void *u) {
    ax_http_str v;
    if (!ax_http_req_header(req, "x-test", &v)) v = (ax_http_str){"none", 4};
    char val[128];
    snprintf(val, sizeof val, "%.*s", (int)v.len, v.ptr);
    cr_assert_eq(ax_http_res_header(res, "X-Echo", val), 0);
    cr_assert_eq(ax_http_res_header(res, "Bad Name", "x"), AX_EINVAL);
    cr_assert_eq(ax_http_res_header(res, "X-Injected", "a\r\nSet-Cookie: x"), AX_EINVAL);
    return ax_http_res_text(res, 200, "ok\n");
}

/* Fails after the first chunk of a stream. */
static int h_stream_fail(ax_http_req *req, ax_http_res *res, void *u) {
    int err = ax_http_res_stream_begin(res, 200, "text/plain");
    if (!err) err = ax_http_res_stream_write(res, "first\n", 6);
    return err ? err : AX_EIO;
}

static int h_big(ax_http_req *req, ax_http_res *res, void *u) {
    static char body[1 << 20];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (char)('a' + i % 23);
    return ax_http_res_send(res, 200, "application/octet-stream", body, sizeof body);
}

/* --- the server ------------------------------------------------------------ */

static ax_http_server *srv;
static ax_http_router *router;
static uint16_t srv_port;
static ax_http_server_opts srv_opts;

static void *srv_start_task(void *arg) {
    cr_assert_eq(ax_http_router_new(&router), 0);
    ax_http_router_add(router, "GET", "/", h_hello, NULL);
    ax_http_router_add(router, "POST", "/echo", h_echo, NULL);
    ax_http_router_add(router, "PUT", "/echo", h_echo, NULL);
    ax_http_router_add(router, "GET", "/stream", h_stream, NULL);
    ax_http_router_add(router, "GET", "/users/:id", h_user, NULL);
    ax_http_router_add(router, "GET", "/sleep/:ms", h_sleep, NULL);
    ax_http_router_add(router, "GET", "/fail", h_fail, NULL);
    ax_http_router_add(router, "POST", "/ignore", h_ignore_body, NULL);
    ax_http_router_add(router, "GET", "/files/*path", h_rest, NULL);
    ax_http_router_add(router, "GET", "/headers", h_header_echo, NULL);
    ax_http_router_add(router, "GET", "/big", h_big, NULL);
    ax_http_router_add(router, "GET", "/stream-fail", h_stream_fail, NULL);
    ax_http_group g;
    cr_assert_eq(ax_http_group_init(&g, router, "/api/v1"), 0);
    ax_http_group_add(&g, "GET", "/items/:id", h_user, NULL);
    cr_assert_eq(ax_http_server_new(&srv, &srv_opts, ax_http_router_handler, router), 0);
    ax_addr a = ax_addr_loopback(AX_INET, 0);
    cr_assert_eq(ax_http_server_listen(srv, &a), 0);
    ax_addr bound;
    ax_http_server_addr(srv, &bound);
    srv_port = bound.port;
    return NULL;
}

static void *srv_stop_task(void *arg) {
    ax_http_server_shutdown(srv, 2000);
    ax_http_server_free(srv);
    ax_http_router_free(router);
    srv = NULL;
    return NULL;
}

static inline void srv_up(void) {
    rt_two();
    void *r;
    cr_assert_eq(ax_run(rt, srv_start_task, NULL, &r), 0);
}

static inline void srv_down(void) {
    if (srv) ax_run(rt, srv_stop_task, NULL, NULL);
    rt_done();
}

static inline void srv_defaults(void) {
    ax_http_server_opts_init(&srv_opts);
    srv_up();
}

static inline uint64_t tasks_alive(void) {
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    return m.tasks_alive;
}

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the client ------------------------------------------------------------ */

/* The client's sockets are ints; on Windows a SOCKET (a kernel handle,
 * whose values fit an int), closed with closesocket. */
#ifdef _WIN32
#define MSG_NOSIGNAL 0
static inline int cli_connect(void) {
    SOCKET s = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_neq(s, INVALID_SOCKET);
    int fd = (int)s;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(srv_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(s, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %d",
                 WSAGetLastError());
    DWORD ms = 10000;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&ms, sizeof ms);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
    return fd;
}
#else
static inline int cli_connect(void) {
    int fd = ax__socket(AF_INET, SOCK_STREAM, 0, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(srv_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %s", strerror(errno));
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}
#endif

static inline void cli_send(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        cr_assert_gt(w, 0, "send: %s", strerror(errno));
        c += w;
        n -= (size_t)w;
    }
}
static inline void cli_sends(int fd, const char *s) {
    cli_send(fd, s, strlen(s));
}

/* A response as read by the client. */
typedef struct cli_res {
    int status;
    char head[8192];
    char *body; /* malloc'd, NUL-terminated */
    size_t body_len;
    bool keep_alive, chunked;
} cli_res;

/* The client's read buffer per connection (what was read past a response). */
typedef struct cli_conn {
    int fd;
    char buf[1 << 16];
    size_t len;
} cli_conn;

static inline void cli_open(cli_conn *c) {
    c->fd = cli_connect();
    c->len = 0;
}

/* Reads more; returns bytes or 0 at EOF/reset/timeout. */
static inline ssize_t cli_fill(cli_conn *c) {
    if (c->len == sizeof c->buf) return 0;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n <= 0) return 0;
    c->len += (size_t)n;
    return n;
}

static inline void cli_consume(cli_conn *c, size_t n) {
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads one response (of a request with method `head` == HEAD when
 * is_head). Returns 0 or -1 when the connection ended before a response. */
static inline int cli_read_res(cli_conn *c, cli_res *r, bool is_head) {
    ax_http_header h[64];
    ax_http_response_head rh;
    ssize_t n;
    for (;;) {
        n = ax_http_parse_response(c->buf, c->len, &rh, h, 64, NULL);
        cr_assert_geq(n, 0, "bad response head: %.*s", (int)c->len, c->buf);
        if (n > 0 && rh.status == 100) { /* interim */
            cli_consume(c, (size_t)n);
            continue;
        }
        if (n > 0) break;
        if (cli_fill(c) == 0) return -1;
    }
    r->status = rh.status;
    r->keep_alive = rh.keep_alive;
    r->chunked = rh.chunked;
    size_t hl = (size_t)n < sizeof r->head ? (size_t)n : sizeof r->head - 1;
    memcpy(r->head, c->buf, hl);
    r->head[hl] = 0;
    cli_consume(c, (size_t)n);
    r->body = malloc(1);
    r->body_len = 0;
    if (is_head || rh.status == 204 || rh.status == 304) {
        r->body[0] = 0;
        return 0;
    }
    if (rh.chunked) {
        ax_http_chunked d;
        ax_http_chunked_init(&d, 0);
        size_t cap = 1;
        while (!ax_http_chunked_done(&d)) {
            if (c->len == 0 && cli_fill(c) == 0) cr_assert_fail("chunked body cut short");
            const char *data;
            size_t dl;
            ssize_t used = ax_http_chunked_decode(&d, c->buf, c->len, 0, &data, &dl, NULL);
            cr_assert_geq(used, 0, "bad chunked body");
            if (r->body_len + dl + 1 > cap) { /* grow by doubling: a long stream stays linear */
                while (r->body_len + dl + 1 > cap) cap *= 2;
                r->body = realloc(r->body, cap);
            }
            memcpy(r->body + r->body_len, data, dl);
            r->body_len += dl;
            cli_consume(c, (size_t)used);
        }
    } else if (rh.content_length >= 0) {
        size_t want = (size_t)rh.content_length;
        r->body = realloc(r->body, want + 1);
        while (r->body_len < want) {
            if (c->len == 0 && cli_fill(c) == 0) cr_assert_fail("body cut short");
            size_t k = c->len < want - r->body_len ? c->len : want - r->body_len;
            memcpy(r->body + r->body_len, c->buf, k);
            r->body_len += k;
            cli_consume(c, k);
        }
    } else { /* until close */
        for (;;) {
            if (c->len == 0 && cli_fill(c) == 0) break;
            r->body = realloc(r->body, r->body_len + c->len + 1);
            memcpy(r->body + r->body_len, c->buf, c->len);
            r->body_len += c->len;
            c->len = 0;
        }
    }
    r->body[r->body_len] = 0;
    return 0;
}

static inline void cli_res_free(cli_res *r) {
    free(r->body);
    r->body = NULL;
}

/* True when the server closed the connection (EOF or reset) with no
 * further bytes within the socket timeout. */
static inline bool cli_closed(cli_conn *c) {
    if (c->len) return false;
    char b;
    ssize_t n = recv(c->fd, &b, 1, 0);
#ifdef _WIN32
    return n == 0 || (n < 0 && WSAGetLastError() == WSAECONNRESET);
#else
    return n == 0 || (n < 0 && errno == ECONNRESET);
#endif
}

static inline void cli_close(cli_conn *c) {
    raw_close(c->fd);
}

/* One request on a fresh connection; returns the status. */
static inline int one_request(const char *raw, cli_res *r) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    cli_sends(c->fd, raw);
    int st = cli_read_res(c, r, strncmp(raw, "HEAD", 4) == 0) == 0 ? r->status : -1;
    cli_close(c);
    free(c);
    return st;
}

#endif
