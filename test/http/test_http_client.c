/* The HTTP client against Axon's own server on loopback: every method,
 * default and per-request headers, keep-alive reuse, streamed bodies with
 * cancellation, limits, deadlines, redirects, retries, fetch_all and
 * concurrent requests to servers on different loopback addresses. */
#include "test/http/client_util.h"

TestSuite(http_client, .init = csrv_up, .fini = csrv_down, .timeout = 60);

static ax_http_client *new_client(void) {
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(NULL, &c), 0);
    return c;
}

static void *t_methods(void *arg) {
    ax_http_client *c = new_client();
    ax_http_response r;
    cr_assert_eq(ax_http_get(c, U("/"), &r), 0);
    cr_assert_eq(r.status, 200);
    expect_text(&r, "Hello, World!");
    ax_http_str v;
    cr_assert(ax_http_response_header(&r, "content-type", &v));
    cr_assert(ax_http_str_eq(v, "text/plain"));
    cr_assert_eq(r.content_length, 13);
    cr_assert(ax_http_str_eq(r.reason, "OK"));
    cr_assert_str_eq(r.url, U("/"));
    ax_http_response_free(&r);
    /* HEAD: the length is announced, no body follows (the next request on
     * the same connection would fail if the client waited for one). */
    cr_assert_eq(ax_http_head(c, U("/"), &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.content_length, 13);
    cr_assert_eq(r.body_len, 0);
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_post(c, U("/method"), "text/x-a", "abc", 3, &r), 0);
    expect_text(&r, "POST text/x-a abc");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_put(c, U("/method"), NULL, "xyz", 3, &r), 0);
    expect_text(&r, "PUT - xyz");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_patch(c, U("/method"), "text/y", "p", 1, &r), 0);
    expect_text(&r, "PATCH text/y p");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_delete(c, U("/method"), &r), 0);
    expect_text(&r, "DELETE - ");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_post_json(c, U("/method"), "{\"a\":1}", &r), 0);
    expect_text(&r, "POST application/json {\"a\":1}");
    ax_http_response_free(&r);
    /* An empty POST still says Content-Length: 0. */
    cr_assert_eq(ax_http_post(c, U("/method"), NULL, NULL, 0, &r), 0);
    expect_text(&r, "POST - ");
    ax_http_response_free(&r);
    /* A custom method. */
    ax_http_request q;
    ax_http_request_init(&q, "OPTIONS", U("/method"));
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "OPTIONS - ");
    ax_http_response_free(&r);
    /* Statuses are not errors. */
    cr_assert_eq(ax_http_get(c, U("/nope"), &r), 0);
    cr_assert_eq(r.status, 404);
    ax_http_response_free(&r);
    /* Everything above went over one keep-alive connection. */
    ax_pool_stats st;
    ax_http_client_pool_stats(c, &st);
    cr_assert_eq(st.created, 1, "created %lu", (unsigned long)st.created);
    cr_assert_eq(st.reused, 9, "reused %lu", (unsigned long)st.reused);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, methods_and_keep_alive) {
    run_task(t_methods, NULL);
}

static void *t_headers(void *arg) {
    ax_http_client *c = new_client();
    cr_assert_eq(ax_http_client_set_header(c, "X-Test", "default"), 0);
    cr_assert_eq(ax_http_client_set_header(c, "Bad Name", "v"), AX_EINVAL);
    cr_assert_eq(ax_http_client_set_header(c, "X-Bad", "a\r\nInjected: 1"), AX_EINVAL);
    ax_http_response r;
    cr_assert_eq(ax_http_get(c, U("/hdr/x-test"), &r), 0);
    expect_text(&r, "default");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_get(c, U("/hdr/user-agent"), &r), 0);
    expect_text(&r, "axon/1");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_get(c, U("/hdr/host"), &r), 0);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%u", (unsigned)cport[0]);
    expect_text(&r, host);
    ax_http_response_free(&r);
    /* A request's header replaces the default of the same name. */
    ax_http_kv h[] = {{"x-TEST", "mine"}, {"User-Agent", "tester"}};
    ax_http_request q;
    ax_http_request_init(&q, NULL, U("/hdr/x-test"));
    q.headers = h;
    q.nheaders = 2;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "mine");
    ax_http_response_free(&r);
    q.url = U("/hdr/user-agent");
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "tester");
    ax_http_response_free(&r);
    /* Bad request headers and methods are refused before anything is sent. */
    ax_http_kv bad[] = {{"X-A", "x\ny"}};
    q.headers = bad;
    q.nheaders = 1;
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_EINVAL);
    cr_assert_null(r.priv);
    ax_http_request_init(&q, "GE T", U("/"));
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_EINVAL);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, default_and_request_headers) {
    run_task(t_headers, NULL);
}

static void *t_stream_lines(void *arg) {
    ax_http_client *c = new_client();
    ax_http_request q;
    ax_http_request_init(&q, NULL, U("/stream?n=3000"));
    ax_http_response r;
    cr_assert_eq(ax_http_client_send(c, &q, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_null(r.body);
    cr_assert_eq(r.content_length, -1); /* chunked */
    char line[128];
    ssize_t n;
    long count = 0;
    while ((n = ax_http_response_read_line(&r, line, sizeof line)) >= 0) {
        cr_assert_eq(n, 99, "line %ld: %zd", count, n);
        char want[32];
        snprintf(want, sizeof want, "%010ld ", count);
        cr_assert_eq(memcmp(line, want, 11), 0, "line %ld: %.20s", count, line);
        count++;
    }
    cr_assert_eq(n, AX_EOF);
    cr_assert_eq(count, 3000);
    ax_http_response_free(&r);
    /* The connection went back: the next request reuses it. */
    cr_assert_eq(ax_http_get(c, U("/"), &r), 0);
    ax_http_response_free(&r);
    ax_pool_stats st;
    ax_http_client_pool_stats(c, &st);
    cr_assert_eq(st.created, 1);
    cr_assert_eq(st.reused, 1);
    /* A line longer than the caller's buffer: AX_ENOSPC with its start. */
    cr_assert_eq(ax_http_client_send(c, &q, &r), 0);
    cr_assert_eq(ax_http_response_read_line(&r, line, 11), AX_ENOSPC);
    cr_assert_str_eq(line, "0000000000");
    n = ax_http_response_read_line(&r, line, sizeof line);
    cr_assert_eq(n, 89);
    ax_http_response_free(&r);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, streamed_lines) {
    run_task(t_stream_lines, NULL);
}

static void *t_stream_cancel(void *arg) {
    ax_http_client *c = new_client();
    ax_http_request q;
    ax_http_request_init(&q, NULL, U("/stream?n=1000000")); /* 100 MB if read */
    ax_http_response r;
    cr_assert_eq(ax_http_client_send(c, &q, &r), 0);
    const char *d;
    ssize_t n = ax_http_response_chunk(&r, &d);
    cr_assert_gt(n, 0);
    cr_assert_eq(memcmp(d, "0000000000 ", 11), 0);
    /* The reader stops: the server is held back by flow control, then
     * freeing the response closes the connection. */
    ax_sleep(50);
    ax_http_response_free(&r);
    ax_pool_stats st;
    ax_http_client_pool_stats(c, &st);
    cr_assert_eq(st.closed_broken, 1);
    cr_assert_eq(st.idle, 0);
    /* The server's handler saw its writes fail and ended; the client goes on. */
    ax_http_response r2;
    cr_assert_eq(ax_http_get(c, U("/users/9"), &r2), 0);
    expect_text(&r2, "{\"id\":\"9\"}");
    ax_http_response_free(&r2);
    /* A zero-copy read of a whole 1 MiB body. */
    ax_http_request_init(&q, NULL, U("/big"));
    cr_assert_eq(ax_http_client_send(c, &q, &r), 0);
    cr_assert_eq(r.content_length, 1 << 20);
    size_t total = 0;
    bool ok = true;
    while ((n = ax_http_response_chunk(&r, &d)) > 0) {
        for (ssize_t i = 0; i < n; i++) ok &= d[i] == (char)('a' + (total + (size_t)i) % 23);
        total += (size_t)n;
    }
    cr_assert_eq(n, 0);
    cr_assert(ok);
    cr_assert_eq(total, 1u << 20);
    ax_http_response_free(&r);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, stream_cancel_and_chunks) {
    run_task(t_stream_cancel, NULL);
}

static void *t_limits(void *arg) {
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.max_body = 1000;
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    ax_http_response r;
    cr_assert_eq(ax_http_get(c, U("/big"), &r), AX_EMSGSIZE);
    cr_assert_null(r.priv);
    cr_assert_eq(ax_http_get(c, U("/stream?n=20"), &r), AX_EMSGSIZE);
    cr_assert_eq(ax_http_get(c, U("/stream?n=5"), &r), 0);
    cr_assert_eq(r.body_len, 500);
    ax_http_response_free(&r);
    /* A streamed body's own limit. */
    ax_http_request q;
    ax_http_request_init(&q, NULL, U("/big"));
    cr_assert_eq(ax_http_client_send(c, &q, &r), 0);
    ax_http_response_set_max_body(&r, 4096);
    char buf[1000];
    ssize_t n;
    while ((n = ax_http_response_read(&r, buf, sizeof buf)) > 0) {
    }
    cr_assert_eq(n, AX_EMSGSIZE);
    ax_http_response_free(&r);
    /* A body cut short by the server (the handler fails mid-stream). */
    cr_assert_eq(ax_http_get(c, U("/stream-fail"), &r), AX_EPROTO);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, body_limits_and_truncation) {
    run_task(t_limits, NULL);
}

static void *t_timeout(void *arg) {
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.max_retries = 0;
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    ax_http_request q;
    ax_http_request_init(&q, NULL, U("/sleep/3000"));
    q.timeout_ms = 100;
    ax_http_response r;
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_ETIMEDOUT);
    cr_assert_lt(ax_now() - t0, 2000000000ull);
    /* The deadline field works the same; and the client-wide timeout. */
    q.timeout_ms = 0;
    q.deadline = ax_deadline_in_ms(100);
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_ETIMEDOUT);
    ax_http_client_free(c);
    o.timeout_ms = 100;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    cr_assert_eq(ax_http_get(c, U("/sleep/3000"), &r), AX_ETIMEDOUT);
    cr_assert_eq(ax_http_get(c, U("/sleep/1"), &r), 0);
    ax_http_response_free(&r);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, timeouts) {
    run_task(t_timeout, NULL);
}

/* A request cancelled by aborting its task. */
static void *t_slow_get(void *arg) {
    ax_http_response r;
    return (void *)(intptr_t)ax_http_get(arg, U("/sleep/5000"), &r);
}

static void *t_cancel(void *arg) {
    ax_http_client *c = new_client();
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, t_slow_get, c), 0);
    ax_sleep(100);
    ax_abort(t);
    void *res = (void *)(intptr_t)1;
    ax_join(t, &res);
    cr_assert_eq((intptr_t)res, AX_ECANCELED, "res %ld", (long)(intptr_t)res);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, cancellation) {
    run_task(t_cancel, NULL);
}

static void redirect_url(char *out, size_t cap, int code, const char *to) {
    char path[1100];
    snprintf(path, sizeof path, "/redir/%d?to=%s", code, to);
    snprintf(out, cap, "%s", U(path));
}

static void *t_redirects(void *arg) {
    ax_http_client *c = new_client();
    ax_http_response r;
    char u[1100];
    /* 301/302 turn POST into GET (the body dropped), 303 too. */
    int codes[] = {301, 302, 303};
    for (int i = 0; i < 3; i++) {
        redirect_url(u, sizeof u, codes[i], "/method");
        cr_assert_eq(ax_http_post(c, u, "text/plain", "data", 4, &r), 0);
        cr_assert_eq(r.status, 200);
        expect_text(&r, "GET - ");
        cr_assert_eq(r.redirects, 1);
        cr_assert_str_eq(r.url, U("/method"));
        ax_http_response_free(&r);
    }
    /* 303 turns PUT into GET; 301 keeps PUT. */
    redirect_url(u, sizeof u, 303, "/method");
    cr_assert_eq(ax_http_put(c, u, NULL, "x", 1, &r), 0);
    expect_text(&r, "GET - ");
    ax_http_response_free(&r);
    redirect_url(u, sizeof u, 301, "/method");
    cr_assert_eq(ax_http_put(c, u, NULL, "x", 1, &r), 0);
    expect_text(&r, "PUT - x");
    ax_http_response_free(&r);
    /* 307 and 308 keep method and body. */
    redirect_url(u, sizeof u, 307, "/method");
    cr_assert_eq(ax_http_post(c, u, "text/plain", "data", 4, &r), 0);
    expect_text(&r, "POST text/plain data");
    ax_http_response_free(&r);
    redirect_url(u, sizeof u, 308, "/method");
    cr_assert_eq(ax_http_post(c, u, "text/plain", "data", 4, &r), 0);
    expect_text(&r, "POST text/plain data");
    ax_http_response_free(&r);
    /* A relative Location resolves against the request's URL. */
    cr_assert_eq(ax_http_get(c, U("/redir/302?to=../a/./b/method"), &r), 0);
    expect_text(&r, "GET - ");
    cr_assert_str_eq(r.url, U("/a/b/method"));
    ax_http_response_free(&r);
    /* A chain of redirects to itself: AX_ELOOP past the limit. */
    char self[1100];
    redirect_url(self, sizeof self, 302, "/method");
    snprintf(u, sizeof u, "/redir/302?to=/redir/302?to=/method");
    cr_assert_eq(ax_http_get(c, U(u), &r), 0);
    cr_assert_eq(r.redirects, 2);
    ax_http_response_free(&r);
    ax_http_request q;
    ax_http_request_init(&q, NULL, U(u));
    q.max_redirects = 1;
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_ELOOP);
    /* max_redirects 0: the 3xx is the answer. */
    q.max_redirects = 0;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    cr_assert_eq(r.status, 302);
    ax_http_str loc;
    cr_assert(ax_http_response_header(&r, "Location", &loc));
    cr_assert(ax_http_str_eq(loc, "/redir/302?to=/method"));
    ax_http_response_free(&r);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, redirects_rewrite_methods) {
    run_task(t_redirects, NULL);
}

static void *t_redirect_auth(void *arg) {
    ax_http_client *c = new_client();
    ax_http_kv h[] = {{"Authorization", "Bearer secret"}, {"Cookie", "a=b"}};
    ax_http_request q;
    ax_http_response r;
    char path[1100];
    /* Same host: Authorization stays. */
    snprintf(path, sizeof path, "/redir/302?to=%s", U("/hdr/authorization"));
    ax_http_request_init(&q, NULL, U(path));
    q.headers = h;
    q.nheaders = 2;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "Bearer secret");
    ax_http_response_free(&r);
    /* Another host (127.0.0.2): Authorization and Cookie are dropped. */
    snprintf(path, sizeof path, "/redir/307?to=%s", url_of(2, "/hdr/authorization"));
    q.url = U(path);
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "none");
    cr_assert_str_eq(r.url, url_of(2, "/hdr/authorization"));
    ax_http_response_free(&r);
    snprintf(path, sizeof path, "/redir/301?to=%s", url_of(2, "/hdr/cookie"));
    q.url = U(path);
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "none");
    ax_http_response_free(&r);
    /* Not the same origin either: another port on the same address. */
    snprintf(path, sizeof path, "/redir/302?to=http://localhost:%u/hdr/authorization",
             (unsigned)cport[0]);
    q.url = U(path);
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "none");
    ax_http_response_free(&r);
    /* A Location the client cannot follow. */
    q.url = U("/redir/302?to=ftp://x/y");
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_ENOTSUP);
    q.url = U("/redir/302?to=http://user:pw@127.0.0.1/");
    cr_assert_eq(ax_http_client_do(c, &q, &r), AX_EPROTO);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, cross_host_redirect_drops_credentials) {
    run_task(t_redirect_auth, NULL);
}

static ssize_t body_pieces(void *ctx, void *buf, size_t cap) {
    int *left = ctx;
    if (*left == 0) return 0;
    (*left)--;
    memcpy(buf, "piece;", 6);
    return 6;
}

static void *t_retries(void *arg) {
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.retry_backoff_ms = 10;
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    ax_http_response r;
    /* Two 503s, then 200: GET is retried. */
    atomic_store(&flaky_count, 0);
    cr_assert_eq(ax_http_get(c, U("/flaky?n=2"), &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.retries, 2);
    ax_http_response_free(&r);
    /* Three 503s with two retries: the last 503 is the answer. */
    atomic_store(&flaky_count, 0);
    cr_assert_eq(ax_http_get(c, U("/flaky?n=3"), &r), 0);
    cr_assert_eq(r.status, 503);
    cr_assert_eq(r.retries, 2);
    ax_http_response_free(&r);
    /* POST is not idempotent: never retried. */
    atomic_store(&flaky_count, 0);
    cr_assert_eq(ax_http_post(c, U("/flaky?n=1"), NULL, "x", 1, &r), 0);
    cr_assert_eq(r.status, 503);
    cr_assert_eq(r.retries, 0);
    ax_http_response_free(&r);
    /* PUT is; but not with a body from a callback (it cannot be replayed). */
    atomic_store(&flaky_count, 0);
    cr_assert_eq(ax_http_put(c, U("/flaky?n=1"), NULL, "x", 1, &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.retries, 1);
    ax_http_response_free(&r);
    atomic_store(&flaky_count, 0);
    ax_http_request q;
    ax_http_request_init(&q, "PUT", U("/flaky?n=1"));
    int left = 3;
    q.body_fn = body_pieces;
    q.body_ctx = &left;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    cr_assert_eq(r.status, 503);
    ax_http_response_free(&r);
    /* A chunked body from a callback arrives whole. */
    left = 3;
    ax_http_request_init(&q, "POST", U("/method"));
    q.body_fn = body_pieces;
    q.body_ctx = &left;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "POST - piece;piece;piece;");
    ax_http_response_free(&r);
    /* max_retries 0 for one request. */
    atomic_store(&flaky_count, 0);
    ax_http_request_init(&q, NULL, U("/flaky?n=1"));
    q.max_retries = 0;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    cr_assert_eq(r.status, 503);
    ax_http_response_free(&r);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, retries_idempotent_only) {
    run_task(t_retries, NULL);
}

static void *t_refused(void *arg) {
    /* A port nobody listens on: connect is refused, retried with backoff,
     * then the error is returned. */
    ax_addr a = ax_addr_loopback(AX_INET, 0);
    ax_tcp_listener *l;
    cr_assert_eq(ax_tcp_listen(&a, NULL, &l), 0);
    ax_addr bound;
    ax_tcp_listener_addr(l, &bound);
    ax_tcp_listener_close(l);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/", (unsigned)bound.port);
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.retry_backoff_ms = 30;
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    ax_http_response r;
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_http_get(c, u, &r), AX_ECONNREFUSED);
    cr_assert_geq(ax_now() - t0, 80000000ull); /* 30 + 60 ms of backoff happened */
    ax_pool_stats st;
    ax_http_client_pool_stats(c, &st);
    cr_assert_eq(st.connect_errors, 3);
    /* Bad URLs. */
    cr_assert_eq(ax_http_get(c, "http://user@127.0.0.1/", &r), AX_EINVAL);
    cr_assert_eq(ax_http_get(c, "gopher://127.0.0.1/", &r), AX_ENOTSUP);
    cr_assert_eq(ax_http_get(c, "http://127.0.0.1:99999/", &r), AX_EINVAL);
    cr_assert_eq(ax_http_get(c, "/relative", &r), AX_EINVAL);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, connect_refused_is_retried_then_reported) {
    run_task(t_refused, NULL);
}

static void *t_fetch_all(void *arg) {
    ax_http_client *c = new_client();
    enum { N = 24 };
    ax_http_request q[N];
    char urls[N][96];
    for (int i = 0; i < N; i++) {
        if (i == 5)
            snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:1/");
        else if (i == 11)
            snprintf(urls[i], sizeof urls[i], "nope://x");
        else if (i % 3 == 0)
            snprintf(urls[i], sizeof urls[i], "%s", url_of(1 + i % NSRV, "/sleep/50"));
        else {
            char p[32];
            snprintf(p, sizeof p, "/users/%d", i);
            snprintf(urls[i], sizeof urls[i], "%s", url_of(1 + i % NSRV, p));
        }
        ax_http_request_init(&q[i], NULL, urls[i]);
        q[i].max_retries = 0;
    }
    ax_http_response out[N];
    int errs[N];
    cr_assert_eq(ax_http_fetch_all(c, q, N, 8, out, errs), 2);
    for (int i = 0; i < N; i++) {
        if (i == 5) {
            cr_assert_eq(errs[i], AX_ECONNREFUSED);
            continue;
        }
        if (i == 11) {
            cr_assert_eq(errs[i], AX_ENOTSUP);
            continue;
        }
        cr_assert_eq(errs[i], 0, "request %d: %s", i, ax_strerror(errs[i]));
        cr_assert_eq(out[i].status, 200);
        if (i % 3 == 0) {
            expect_text(&out[i], "slept\n");
        } else {
            char want[32];
            snprintf(want, sizeof want, "{\"id\":\"%d\"}", i);
            expect_text(&out[i], want);
        }
        cr_assert_str_eq(out[i].url, urls[i]);
        /* The head outlives the exchange's buffer, which was given back. */
        ax_http_str ct;
        cr_assert(ax_http_response_header(&out[i], "Content-Type", &ct));
        cr_assert(ax_http_str_eq(ct, i % 3 == 0 ? "text/plain; charset=utf-8" : "application/json"),
                  "%.*s", (int)ct.len, ct.ptr);
        cr_assert(ax_http_str_eq(out[i].reason, "OK"));
        ax_http_response_free(&out[i]);
    }
    /* Connections to three hosts were kept apart and reused. */
    ax_pool_stats st;
    ax_http_client_pool_stats(c, &st);
    cr_assert_geq(st.keys, 3);
    cr_assert_gt(st.reused, 0);
    cr_assert_eq(ax_http_fetch_all(c, q, 0, 0, out, errs), 0);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, fetch_all_in_input_order) {
    run_task(t_fetch_all, NULL);
}

/* Concurrent requests to different hosts: each server sees its own Host,
 * and sleeping requests overlap (8 requests of 200 ms over 4 tasks). */
static void *t_hosts(void *arg) {
    ax_http_client *c = new_client();
    enum { N = 6 };
    ax_http_request q[N];
    for (int i = 0; i < N; i++)
        ax_http_request_init(&q[i], NULL, url_of(1 + i % NSRV, "/hdr/host"));
    char keep[N][96];
    for (int i = 0; i < N; i++) {
        snprintf(keep[i], sizeof keep[i], "%s", q[i].url);
        q[i].url = keep[i];
    }
    ax_http_response out[N];
    int errs[N];
    cr_assert_eq(ax_http_fetch_all(c, q, N, 0, out, errs), 0);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof want, "127.0.0.%d:%u", 1 + i % NSRV, (unsigned)cport[i % NSRV]);
        expect_text(&out[i], want);
        ax_http_response_free(&out[i]);
    }
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, concurrent_requests_to_different_hosts) {
    run_task(t_hosts, NULL);
}

static void *t_body_fn_redirects(void *arg) {
    ax_http_client *c = new_client();
    ax_http_response r;
    ax_http_request q;
    char u[1100];
    int left;
    /* 301 keeps PUT, whose callback body cannot be sent twice: the
     * redirect is the answer (it was followed with an empty body once). */
    snprintf(u, sizeof u, "%s", U("/redir/301?to=/method"));
    ax_http_request_init(&q, "PUT", u);
    left = 2;
    q.body_fn = body_pieces;
    q.body_ctx = &left;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    cr_assert_eq(r.status, 301);
    cr_assert_eq(r.redirects, 0);
    ax_http_response_free(&r);
    /* 302 turns POST into GET: no body needed, so it is followed. */
    snprintf(u, sizeof u, "%s", U("/redir/302?to=/method"));
    ax_http_request_init(&q, "POST", u);
    left = 2;
    q.body_fn = body_pieces;
    q.body_ctx = &left;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    expect_text(&r, "GET - ");
    ax_http_response_free(&r);
    /* 307 keeps the callback body: not followed either. */
    snprintf(u, sizeof u, "%s", U("/redir/307?to=/method"));
    ax_http_request_init(&q, "POST", u);
    left = 2;
    q.body_fn = body_pieces;
    q.body_ctx = &left;
    cr_assert_eq(ax_http_client_do(c, &q, &r), 0);
    cr_assert_eq(r.status, 307);
    ax_http_response_free(&r);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, callback_bodies_are_not_replayed_on_redirect) {
    run_task(t_body_fn_redirects, NULL);
}

/* A response may outlive its client (the header says so): its connection
 * is given back to the pool's memory, which outlives ax_pool_free, not
 * through the freed client (ASan caught the use after free). */
static void *t_client_first(void *arg) {
    ax_http_client *c = new_client();
    ax_http_request q;
    ax_http_request_init(&q, NULL, U("/stream?n=200"));
    ax_http_response r, r2;
    cr_assert_eq(ax_http_client_send(c, &q, &r), 0);
    cr_assert_eq(ax_http_client_send(c, &q, &r2), 0);
    ax_http_client_free(c);
    char line[128];
    int count = 0;
    while (ax_http_response_read_line(&r, line, sizeof line) >= 0) count++;
    cr_assert_eq(count, 200);
    ax_http_response_free(&r);
    cr_assert_gt(ax_http_response_read_line(&r2, line, sizeof line), 0);
    ax_http_response_free(&r2); /* freed early: closed */
    return NULL;
}

Test(http_client, response_outlives_client) {
    run_task(t_client_first, NULL);
}

static void *t_flaky_get(void *arg) {
    ax_http_response r;
    int err = ax_http_get(arg, U("/flaky?n=5"), &r);
    if (!err) ax_http_response_free(&r);
    return (void *)(intptr_t)err;
}

/* Cancelled while it waits to retry: AX_ECANCELED, not the 503 it got. */
static void *t_cancel_backoff(void *arg) {
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.retry_backoff_ms = 5000;
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    atomic_store(&flaky_count, 0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, t_flaky_get, c), 0);
    while (atomic_load(&flaky_count) == 0) ax_sleep(5);
    ax_sleep(50);
    ax_abort(t);
    void *res = (void *)(intptr_t)1;
    ax_join(t, &res); /* AX_ECANCELED: the task was cancelled; res: what the call said */
    cr_assert_eq((intptr_t)res, AX_ECANCELED, "res %ld", (long)(intptr_t)res);
    cr_assert_eq(atomic_load(&flaky_count), 1);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client, cancelled_during_backoff) {
    run_task(t_cancel_backoff, NULL);
}

/* An IPv6 literal: brackets in the URL and in Host, none in the connect. */
static void *t_ipv6(void *arg) {
    ax_http_server *s6;
    cr_assert_eq(ax_http_server_new(&s6, NULL, ax_http_router_handler, crouter), 0);
    ax_addr a = ax_addr_loopback(AX_INET6, 0), bound;
    int err = ax_http_server_listen(s6, &a);
    if (err) { /* no IPv6 loopback on this machine */
        ax_http_server_free(s6);
        return (void *)(intptr_t)err;
    }
    ax_http_server_addr(s6, &bound);
    char u[64], host[32];
    snprintf(u, sizeof u, "http://[::1]:%u/hdr/host", (unsigned)bound.port);
    snprintf(host, sizeof host, "[::1]:%u", (unsigned)bound.port);
    ax_http_client *c = new_client();
    ax_http_response r;
    cr_assert_eq(ax_http_get(c, u, &r), 0);
    expect_text(&r, host);
    ax_http_response_free(&r);
    ax_http_client_free(c);
    ax_http_server_shutdown(s6, 1000);
    ax_http_server_free(s6);
    return NULL;
}

Test(http_client, ipv6_literal) {
    intptr_t err = run_task(t_ipv6, NULL);
    if (err) cr_skip_test("no IPv6 loopback: %s", ax_strerror((int)err));
}
