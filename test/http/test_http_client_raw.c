/* The HTTP client against a scripted raw TCP peer on loopback, for the
 * framing and connection corner cases a well-behaved server never shows:
 * bodies until close, 204/304 without body, Connection: close, interim
 * 100, responses cut short or malformed, an oversized head, bytes past a
 * body, and keep-alive connections the server dropped (retried once on a
 * fresh connection for idempotent requests, never for a POST). */
#include <stdatomic.h>

#include "test/net/net_util.h"
#include "test/os_compat.h" /* strcasestr on Windows */

TestSuite(http_client_raw, .init = rt_two, .fini = rt_done, .timeout = 60);

/* The script: what connection `conn` answers to its request number `req`.
 * NULL: close without answering. "": keep reading without answering. */
typedef const char *(*script_fn)(int conn, int req);

typedef struct peer {
    ax_tcp_listener *l;
    uint16_t port;
    script_fn script;
    _Atomic int conns, reqs;
    ax_task *acceptor;
} peer;

typedef struct peer_conn {
    peer *p;
    ax_tcp *c;
    int idx;
} peer_conn;

/* Reads one request (head, and a Content-Length body); false at its end. */
static bool read_request(ax_tcp *c, char *buf, size_t cap) {
    size_t len = 0;
    for (;;) {
        buf[len] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            size_t head = (size_t)(end + 4 - buf);
            const char *cl = strcasestr(buf, "content-length:");
            size_t body = cl && cl < end ? (size_t)atol(cl + 15) : 0;
            while (len < head + body) {
                ssize_t n = ax_tcp_read(c, buf + len, cap - 1 - len, ax_deadline_in_ms(5000));
                if (n <= 0) return false;
                len += (size_t)n;
            }
            return true;
        }
        if (len + 1 >= cap) return false;
        ssize_t n = ax_tcp_read(c, buf + len, cap - 1 - len, ax_deadline_in_ms(5000));
        if (n <= 0) return false;
        len += (size_t)n;
    }
}

static void *serve_conn(void *arg) {
    peer_conn *pc = arg;
    enum { CAP = 65536 };
    char *buf = malloc(CAP);
    for (int req = 0;; req++) {
        if (!read_request(pc->c, buf, CAP)) break;
        atomic_fetch_add(&pc->p->reqs, 1);
        const char *ans = pc->p->script(pc->idx, req);
        if (!ans) break;
        if (*ans && ax_tcp_write_all(pc->c, ans, strlen(ans), ax_deadline_in_ms(5000))) break;
        if (strstr(ans, "Connection: close") || strstr(ans, "\r\n\r\nuntil-close")) break;
    }
    ax_tcp_close(pc->c);
    free(buf);
    free(pc);
    return NULL;
}

static void *accept_loop(void *arg) {
    peer *p = arg;
    for (;;) {
        ax_tcp *c;
        if (ax_tcp_accept(p->l, &c, NULL, AX_NO_DEADLINE)) return NULL;
        peer_conn *pc = malloc(sizeof *pc);
        *pc = (peer_conn){p, c, atomic_fetch_add(&p->conns, 1)};
        ax_spawn(NULL, serve_conn, pc);
    }
}

static void peer_start(peer *p, script_fn s) {
    memset(p, 0, sizeof *p);
    p->script = s;
    ax_addr bound;
    p->l = listen_loopback(AX_INET, &bound);
    p->port = bound.port;
    cr_assert_eq(ax_spawn(&p->acceptor, accept_loop, p), 0);
}

static void peer_stop(peer *p) {
    ax_abort(p->acceptor);
    ax_join(p->acceptor, NULL);
    ax_tcp_listener_close(p->l);
}

static const char *peer_url(peer *p, const char *path) {
    static _Thread_local char b[128];
    snprintf(b, sizeof b, "http://127.0.0.1:%u%s", (unsigned)p->port, path);
    return b;
}

static ax_http_client *client(void) {
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.retry_backoff_ms = 5;
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    return c;
}

static void stats(ax_http_client *c, ax_pool_stats *st) {
    ax_http_client_pool_stats(c, st);
}

/* --- framing ----------------------------------------------------------------- */

static const char *s_framing(int conn, int req) {
    switch (conn) {
    case 0: /* no length: the body runs to the close */
        return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close body";
    case 1: /* 204 and 304 carry no body, whatever they say; the connection lives on */
        if (req == 0) return "HTTP/1.1 204 No Content\r\n\r\n";
        if (req == 1) return "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
        if (req == 2)
            return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if (req == 3)
            return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
        /* HEAD: the length of the body a GET would get, no body */
        if (req == 4) return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlast";
    default:
        return "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n1.0";
    }
}

static void *t_framing(void *arg) {
    peer p;
    peer_start(&p, s_framing);
    ax_http_client *c = client();
    ax_http_response r;
    ax_pool_stats st;
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/a"), &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.content_length, -1);
    cr_assert_str_eq(r.body, "until-close body");
    ax_http_response_free(&r);
    stats(c, &st);
    cr_assert_eq(st.idle, 0, "a body until close leaves no reusable connection");
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/b"), &r), 0);
    cr_assert_eq(r.status, 204);
    cr_assert_eq(r.body_len, 0);
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/c"), &r), 0);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.body_len, 0);
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/d"), &r), 0);
    cr_assert_eq(r.status, 200, "the interim 100 is skipped");
    cr_assert_str_eq(r.body, "ok");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/e"), &r), 0);
    cr_assert_str_eq(r.body, "abc");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_head(c, peer_url(&p, "/f"), &r), 0);
    cr_assert_eq(r.content_length, 1000);
    cr_assert_eq(r.body_len, 0);
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/g"), &r), 0);
    cr_assert_str_eq(r.body, "last");
    ax_http_response_free(&r);
    stats(c, &st);
    cr_assert_eq(st.created, 2);
    cr_assert_eq(st.reused, 5, "reused %lu", (unsigned long)st.reused);
    cr_assert_eq(st.idle, 0, "Connection: close is honoured");
    /* HTTP/1.0 without keep-alive: not reused. */
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/h"), &r), 0);
    cr_assert_str_eq(r.body, "1.0");
    cr_assert_eq(r.minor_version, 0);
    ax_http_response_free(&r);
    stats(c, &st);
    cr_assert_eq(st.idle, 0);
    ax_http_client_free(c);
    peer_stop(&p);
    return NULL;
}

Test(http_client_raw, framing_and_connection_reuse) {
    run_task(t_framing, NULL);
}

/* --- bad responses --------------------------------------------------------------- */

static char big_head[24 * 1024];

static const char *s_bad(int conn, int req) {
    switch (conn) {
    case 0:
        return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc";
    case 1:
        return "HELLO THERE\r\n\r\n";
    case 2:
        return "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    case 3:
        return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n";
    case 4:
        return big_head;
    case 5:
        return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA";
    default:
        return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    }
}

static void *t_bad(void *arg) {
    int n = snprintf(big_head, sizeof big_head, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big_head + n, 'x', 20000);
    snprintf(big_head + n + 20000, sizeof big_head - (size_t)n - 20000,
             "\r\nContent-Length: 0\r\n\r\n");
    peer p;
    peer_start(&p, s_bad);
    ax_http_client *c = client();
    ax_http_response r;
    ax_http_request q;
    ax_http_request_init(&q, "POST", peer_url(&p, "/")); /* POST: no retries muddle the count */
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_EPROTO, "body cut short");
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_EPROTO, "not HTTP");
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_EPROTO, "two lengths");
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_EPROTO, "bad chunk size");
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_EMSGSIZE, "head past max_head");
    /* Bytes past the body: the answer stands, the connection is not reused. */
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    cr_assert_str_eq(r.body, "ok");
    ax_http_response_free(&r);
    ax_pool_stats st;
    stats(c, &st);
    cr_assert_eq(st.idle, 0);
    cr_assert_eq(st.created, 6);
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    ax_http_response_free(&r);
    ax_http_client_free(c);
    peer_stop(&p);
    return NULL;
}

Test(http_client_raw, malformed_responses_are_errors) {
    run_task(t_bad, NULL);
}

/* --- dropped connections ------------------------------------------------------------ */

/* Connection 0 answers its first request, then drops the second unanswered
 * (a keep-alive connection the server closed as the request arrived);
 * connection 1 is dropped at once; later ones answer. */
static const char *s_drop(int conn, int req) {
    if (conn == 0 && req == 0) return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
    if (conn == 0 || conn == 1) return NULL;
    return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
}

static void *t_stale(void *arg) {
    peer p;
    peer_start(&p, s_drop);
    ax_http_client *c = client();
    ax_http_response r;
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/"), &r), 0);
    cr_assert_str_eq(r.body, "first");
    ax_http_response_free(&r);
    /* GET on the dropped keep-alive connection: sent again on a fresh one
     * (connection 1, dropped too: that is a retry with backoff), and
     * answered by connection 2. */
    cr_assert_eq(ax_http_get(c, peer_url(&p, "/"), &r), 0);
    cr_assert_str_eq(r.body, "ok");
    cr_assert_eq(r.retries, 1);
    ax_http_response_free(&r);
    cr_assert_eq(atomic_load(&p.conns), 3);
    peer_stop(&p);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client_raw, dropped_keep_alive_connection_is_retried_for_get) {
    run_task(t_stale, NULL);
}

static void *t_stale_post(void *arg) {
    peer p;
    peer_start(&p, s_drop);
    ax_http_client *c = client();
    ax_http_response r;
    cr_assert_eq(ax_http_post(c, peer_url(&p, "/"), NULL, "x", 1, &r), 0);
    ax_http_response_free(&r);
    /* The server got the POST and dropped the connection: it may have
     * acted on it, so the client must not send it again. */
    cr_assert_eq(ax_http_post(c, peer_url(&p, "/"), NULL, "x", 1, &r), AX_ECONNRESET);
    cr_assert_eq(atomic_load(&p.conns), 1);
    cr_assert_eq(atomic_load(&p.reqs), 2);
    peer_stop(&p);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client_raw, dropped_connection_never_replays_a_post) {
    run_task(t_stale_post, NULL);
}
