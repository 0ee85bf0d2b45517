/* Middleware over real loopback sockets: chain order at the three levels
 * and short-circuits, guards (401/403), request and response
 * interceptors, the service registry and its lifetime, CORS, rate limits,
 * body limits, request ids, the access log, and handlers that fail in
 * each way a C handler can (an error, no answer, a cancelled task). */
#include <pthread.h>

#include "test/http/http_util.h"

static ax_http_chain *chain;

/* --- middleware under test -------------------------------------------------- */

/* A trace of the chain, kept in a request local by the outermost layer. */
static int trace_key;
typedef struct trace {
    char s[128];
    size_t n;
} trace;
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_trace[128]; /* the whole trace of the last request */
static void trace_add(ax_http_req *req, const char *what) {
    trace *t = ax_http_req_local(req, &trace_key);
    if (!t) return;
    size_t l = strlen(what);
    if (t->n + l < sizeof t->s) {
        memcpy(t->s + t->n, what, l + 1);
        t->n += l;
    }
}
static int mw_trace_outer(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *name) {
    trace t = {{0}, 0};
    ax_http_req_set_local(req, &trace_key, &t);
    trace_add(req, "G>");
    int err = ax_http_next_run(next, req, res);
    trace_add(req, "<G");
    pthread_mutex_lock(&trace_lock);
    memcpy(last_trace, t.s, sizeof last_trace);
    pthread_mutex_unlock(&trace_lock);
    /* A second call runs nothing. */
    cr_assert_eq(ax_http_next_run(next, req, res), AX_EALREADY);
    return err;
}
static int mw_named(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *name) {
    char b[8];
    snprintf(b, sizeof b, "%s>", (const char *)name);
    trace_add(req, b);
    ax_http_str v;
    if (ax_http_req_header(req, "x-stop", &v) && v.len == strlen(name) &&
        memcmp(v.ptr, name, v.len) == 0)
        return ax_http_res_text(res, 418, "stopped\n"); /* short-circuit */
    int err = ax_http_next_run(next, req, res);
    snprintf(b, sizeof b, "<%s", (const char *)name);
    trace_add(req, b);
    return err;
}
static int h_trace(ax_http_req *req, ax_http_res *res, void *u) {
    trace_add(req, "H");
    trace *t = ax_http_req_local(req, &trace_key);
    return ax_http_res_text(res, 200, t ? t->s : "no trace");
}

/* Guard: "Bearer good" passes, another token is 403, none is 401. */
static int check_token(ax_http_req *req, void *u) {
    ax_http_str v;
    if (!ax_http_req_header(req, "authorization", &v)) return 401;
    if (v.len == 11 && memcmp(v.ptr, "Bearer good", 11) == 0) return 0;
    return 403;
}
static ax_http_guard guard = {check_token, NULL, "Bearer realm=\"api\""};

/* Interceptors: /old/... is rewritten to /users/...; 404 becomes 410 with
 * a header saying so. */
static void hook_gone(ax_http_res *res, int *status, void *u) {
    if (*status == 404) {
        *status = 410;
        ax_http_res_header(res, "X-Intercepted", "404");
    }
}
static int mw_rewrite(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *u) {
    ax_http_str p = ax_http_req_path(req);
    char np[256];
    if (p.len > 5 && p.len < 200 && memcmp(p.ptr, "/old/", 5) == 0) {
        int n = snprintf(np, sizeof np, "/users/%.*s", (int)(p.len - 5), p.ptr + 5);
        ax_http_req_set_path(req, (ax_http_str){np, (size_t)n});
    }
    ax_http_res_on_head(res, hook_gone, NULL);
    return ax_http_next_run(next, req, res);
}

/* Services. */
typedef struct counter_svc {
    atomic_int hits;
} counter_svc;
static counter_svc svc_counter;
static atomic_int dtor_calls;
static char dtor_order[8];
static void svc_dtor(void *p) {
    int i = atomic_fetch_add(&dtor_calls, 1);
    dtor_order[i] = p == &svc_counter ? 'c' : 'n';
}
static int h_service(ax_http_req *req, ax_http_res *res, void *u) {
    counter_svc *c = ax_http_req_service(req, "counter");
    if (!c) return AX_ENOENT;
    if (ax_http_req_service(req, "missing") != NULL) return AX_EINVAL;
    int n = atomic_fetch_add(&c->hits, 1) + 1;
    char b[32];
    snprintf(b, sizeof b, "hits=%d", n);
    return ax_http_res_text(res, 200, b);
}

/* Handlers that fail. */
static int h_no_answer(ax_http_req *req, ax_http_res *res, void *u) {
    return 0;
}
static int h_self_abort(ax_http_req *req, ax_http_res *res, void *u) {
    ax_abort(ax_task_self());
    int err = ax_sleep(50);
    cr_assert_eq(err, AX_ECANCELED);
    return 0; /* ignores its cancellation and answers nothing */
}
static int h_self_abort_err(ax_http_req *req, ax_http_res *res, void *u) {
    ax_abort(ax_task_self());
    return ax_sleep(50);
}

/* Access log capture. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[4096];
static size_t log_len;
static void log_write(void *u, const char *line, size_t len) {
    pthread_mutex_lock(&log_lock);
    if (log_len + len < sizeof log_text) {
        memcpy(log_text + log_len, line, len);
        log_len += len;
        log_text[log_len] = 0;
    }
    pthread_mutex_unlock(&log_lock);
}
static ax_http_access_log access_log = {log_write, NULL};
static ax_http_request_ids ids;

static const char *const origins[] = {"https://good.example", NULL};
static ax_http_cors cors = {origins, "GET, POST", NULL, "X-Request-Id", false, 600};
static ax_http_ratelimit *limiter;
static uint64_t body_max = 10;

/* Rate limit by the X-Client header (so each test picks its own bucket). */
static size_t key_by_header(ax_http_req *req, char *key, size_t cap, void *u) {
    ax_http_str v;
    if (!ax_http_req_header(req, "x-client", &v) || v.len > cap) return 0;
    memcpy(key, v.ptr, v.len);
    return v.len;
}

static void *mw_start_task(void *arg) {
    cr_assert_eq(ax_http_router_new(&router), 0);
    ax_http_router_add(router, "GET", "/", h_hello, NULL);
    ax_http_router_add(router, "GET", "/users/:id", h_user, NULL);
    ax_http_router_add(router, "GET", "/fail", h_fail, NULL);
    ax_http_router_add(router, "GET", "/no-answer", h_no_answer, NULL);
    ax_http_router_add(router, "GET", "/abort", h_self_abort, NULL);
    ax_http_router_add(router, "GET", "/abort-err", h_self_abort_err, NULL);
    ax_http_router_add(router, "GET", "/svc", h_service, NULL);
    ax_http_router_add(router, "GET", "/sleep/:ms", h_sleep, NULL);
    ax_http_router_add(router, "POST", "/echo", h_echo, NULL);
    cr_assert_eq(ax_http_router_use(router, mw_named, "R"), 0);
    ax_http_group g, sub, guarded, limited, small;
    cr_assert_eq(ax_http_group_init(&g, router, "/t"), 0);
    cr_assert_eq(ax_http_group_add(&g, "GET", "/plain", h_trace, NULL), 0); /* before use */
    cr_assert_eq(ax_http_group_use(&g, mw_named, "A"), 0);
    cr_assert_eq(ax_http_group_add(&g, "GET", "/x", h_trace, NULL), 0);
    cr_assert_eq(ax_http_group_sub(&sub, &g, "/sub"), 0);
    cr_assert_eq(ax_http_group_use(&sub, mw_named, "B"), 0);
    cr_assert_eq(ax_http_group_add(&sub, "GET", "/y", h_trace, NULL), 0);
    cr_assert_eq(ax_http_group_init(&guarded, router, "/admin"), 0);
    cr_assert_eq(ax_http_group_use(&guarded, ax_http_guard_mw, &guard), 0);
    cr_assert_eq(ax_http_group_add(&guarded, "GET", "/", h_hello, NULL), 0);
    cr_assert_eq(ax_http_group_init(&limited, router, "/limited"), 0);
    ax_http_ratelimit_opts ro = {.rate = 0.5, .burst = 3, .max_keys = 64, .key_fn = key_by_header};
    cr_assert_eq(ax_http_ratelimit_new(&limiter, &ro), 0);
    cr_assert_eq(ax_http_group_use(&limited, ax_http_ratelimit_mw, limiter), 0);
    cr_assert_eq(ax_http_group_add(&limited, "GET", "/", h_hello, NULL), 0);
    cr_assert_eq(ax_http_group_init(&small, router, "/small"), 0);
    cr_assert_eq(ax_http_group_use(&small, ax_http_body_limit_mw, &body_max), 0);
    cr_assert_eq(ax_http_group_add(&small, "POST", "/", h_echo, NULL), 0);

    ax_http_request_ids_init(&ids);
    cr_assert_eq(ax_http_chain_new(&chain, ax_http_router_handler, router), 0);
    cr_assert_eq(ax_http_chain_use(chain, ax_http_access_log_mw, &access_log), 0);
    cr_assert_eq(ax_http_chain_use(chain, ax_http_request_id_mw, &ids), 0);
    cr_assert_eq(ax_http_chain_use(chain, ax_http_cors_mw, &cors), 0);
    cr_assert_eq(ax_http_chain_use(chain, mw_trace_outer, NULL), 0);
    cr_assert_eq(ax_http_chain_use(chain, mw_rewrite, NULL), 0);
    ax_http_server_opts_init(&srv_opts);
    srv_opts.handler_timeout_ms = 1000;
    cr_assert_eq(ax_http_server_new(&srv, &srv_opts, ax_http_chain_handler, chain), 0);
    atomic_store(&dtor_calls, 0);
    atomic_store(&svc_counter.hits, 0);
    cr_assert_eq(ax_http_server_provide(srv, "counter", &svc_counter, svc_dtor), 0);
    cr_assert_eq(ax_http_server_provide(srv, "counter", &svc_counter, svc_dtor), AX_EEXIST);
    cr_assert_eq(ax_http_server_provide(srv, "n", &dtor_calls, svc_dtor), 0);
    ax_addr a = ax_addr_loopback(AX_INET, 0);
    cr_assert_eq(ax_http_server_listen(srv, &a), 0);
    /* Registration closes once the server serves. */
    cr_assert_eq(ax_http_server_provide(srv, "late", &svc_counter, NULL), AX_EBUSY);
    cr_assert_eq(ax_http_server_service(srv, "counter"), &svc_counter);
    ax_addr bound;
    ax_http_server_addr(srv, &bound);
    srv_port = bound.port;
    return NULL;
}

static void mw_up(void) {
    log_len = 0;
    log_text[0] = 0;
    rt_two();
    cr_assert_eq(ax_run(rt, mw_start_task, NULL, NULL), 0);
}
static void mw_down(void) {
    srv_down();
    ax_http_chain_free(chain);
    chain = NULL;
    ax_http_ratelimit_free(limiter);
    limiter = NULL;
}

TestSuite(http_mw, .init = mw_up, .fini = mw_down, .timeout = 60);

static int req_status(const char *raw, cli_res *r) {
    return one_request(raw, r);
}

/* The last request's full trace, once the outermost layer wrote it. */
static void expect_trace(const char *want) {
    for (int i = 0; i < 400; i++) {
        pthread_mutex_lock(&trace_lock);
        bool ok = strcmp(last_trace, want) == 0;
        pthread_mutex_unlock(&trace_lock);
        if (ok) return;
        usleep(5000);
    }
    cr_assert_fail("trace %s, want %s", last_trace, want);
}

Test(http_mw, chain_order_at_three_levels) {
    cli_res r;
    cr_assert_eq(req_status("GET /t/x HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert_str_eq(r.body, "G>R>A>H");
    cli_res_free(&r);
    expect_trace("G>R>A>H<A<R<G");
    cr_assert_eq(req_status("GET /t/sub/y HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert_str_eq(r.body, "G>R>A>B>H");
    cli_res_free(&r);
    expect_trace("G>R>A>B>H<B<A<R<G");
    /* A route added before the group's use runs without it. */
    cr_assert_eq(req_status("GET /t/plain HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert_str_eq(r.body, "G>R>H");
    cli_res_free(&r);
    expect_trace("G>R>H<R<G");
}

Test(http_mw, short_circuit_skips_the_rest) {
    cli_res r;
    cr_assert_eq(req_status("GET /t/sub/y HTTP/1.1\r\nHost: a\r\nX-Stop: A\r\n\r\n", &r), 418);
    cr_assert_str_eq(r.body, "stopped\n");
    cli_res_free(&r);
    expect_trace("G>R>A><R<G");
    cr_assert_eq(req_status("GET /t/sub/y HTTP/1.1\r\nHost: a\r\nX-Stop: R\r\n\r\n", &r), 418);
    cli_res_free(&r);
}

Test(http_mw, guard_answers_401_and_403) {
    cli_res r;
    cr_assert_eq(req_status("GET /admin HTTP/1.1\r\nHost: a\r\n\r\n", &r), 401);
    cr_assert(strstr(r.head, "WWW-Authenticate: Bearer realm=\"api\"\r\n"), "%s", r.head);
    cli_res_free(&r);
    cr_assert_eq(
        req_status("GET /admin HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer bad\r\n\r\n", &r), 403);
    cr_assert_null(strstr(r.head, "WWW-Authenticate"));
    cli_res_free(&r);
    cr_assert_eq(
        req_status("GET /admin HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer good\r\n\r\n", &r),
        200);
    cr_assert_str_eq(r.body, "Hello, World!");
    cli_res_free(&r);
}

Test(http_mw, interceptors_rewrite_request_and_response) {
    cli_res r;
    cr_assert_eq(req_status("GET /old/9 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert_str_eq(r.body, "{\"id\":\"9\"}");
    cli_res_free(&r);
    cr_assert_eq(req_status("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", &r), 410);
    cr_assert(strstr(r.head, "X-Intercepted: 404\r\n"), "%s", r.head);
    cli_res_free(&r);
}

Test(http_mw, services_are_shared_and_destroyed_with_the_server) {
    cli_res r;
    cr_assert_eq(req_status("GET /svc HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert_str_eq(r.body, "hits=1");
    cli_res_free(&r);
    cr_assert_eq(req_status("GET /svc HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert_str_eq(r.body, "hits=2");
    cli_res_free(&r);
    cr_assert_eq(atomic_load(&dtor_calls), 0);
    mw_down();
    /* Once each, in reverse order of registration. */
    cr_assert_eq(atomic_load(&dtor_calls), 2);
    cr_assert_eq(dtor_order[0], 'n');
    cr_assert_eq(dtor_order[1], 'c');
    rt_two(); /* for the suite's fini */
}

Test(http_mw, cors_preflight_and_actual) {
    cli_res r;
    cr_assert_eq(
        req_status("OPTIONS /users/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://good.example\r\n"
                   "Access-Control-Request-Method: POST\r\n"
                   "Access-Control-Request-Headers: x-token\r\n\r\n",
                   &r),
        204);
    cr_assert(strstr(r.head, "Access-Control-Allow-Origin: https://good.example\r\n"), "%s",
              r.head);
    cr_assert(strstr(r.head, "Access-Control-Allow-Methods: GET, POST\r\n"), "%s", r.head);
    cr_assert(strstr(r.head, "Access-Control-Allow-Headers: x-token\r\n"), "%s", r.head);
    cr_assert(strstr(r.head, "Access-Control-Max-Age: 600\r\n"), "%s", r.head);
    cr_assert(strstr(r.head, "Vary: Origin\r\n"), "%s", r.head);
    cli_res_free(&r);
    /* Another origin, or a method not allowed: refused. */
    cr_assert_eq(
        req_status("OPTIONS /users/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\n"
                   "Access-Control-Request-Method: GET\r\n\r\n",
                   &r),
        403);
    cr_assert_null(strstr(r.head, "Access-Control-Allow-Origin"));
    cli_res_free(&r);
    cr_assert_eq(
        req_status("OPTIONS /users/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://good.example\r\n"
                   "Access-Control-Request-Method: DELETE\r\n\r\n",
                   &r),
        403);
    cli_res_free(&r);
    /* Actual requests: the allowed origin is named, also on a 500. */
    cr_assert_eq(
        req_status("GET /users/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://good.example\r\n\r\n", &r),
        200);
    cr_assert(strstr(r.head, "Access-Control-Allow-Origin: https://good.example\r\n"), "%s",
              r.head);
    cr_assert(strstr(r.head, "Access-Control-Expose-Headers: X-Request-Id\r\n"), "%s", r.head);
    cli_res_free(&r);
    cr_assert_eq(
        req_status("GET /fail HTTP/1.1\r\nHost: a\r\nOrigin: https://good.example\r\n\r\n", &r),
        500);
    cr_assert(strstr(r.head, "Access-Control-Allow-Origin: https://good.example\r\n"), "%s",
              r.head);
    cli_res_free(&r);
    cr_assert_eq(
        req_status("GET /users/1 HTTP/1.1\r\nHost: a\r\nOrigin: https://evil.example\r\n\r\n", &r),
        200);
    cr_assert_null(strstr(r.head, "Access-Control"));
    cli_res_free(&r);
    cr_assert_eq(req_status("GET /users/1 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert_null(strstr(r.head, "Access-Control"));
    cli_res_free(&r);
}

Test(http_mw, rate_limit_answers_429_with_retry_after) {
    cli_res r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(req_status("GET /limited HTTP/1.1\r\nHost: a\r\nX-Client: k1\r\n\r\n", &r),
                     200, "request %d", i);
        cli_res_free(&r);
    }
    cr_assert_eq(req_status("GET /limited HTTP/1.1\r\nHost: a\r\nX-Client: k1\r\n\r\n", &r), 429);
    cr_assert(strstr(r.head, "Retry-After: 2\r\n"), "%s", r.head); /* 0.5 tokens/s */
    cli_res_free(&r);
    /* Another key has its own bucket. */
    cr_assert_eq(req_status("GET /limited HTTP/1.1\r\nHost: a\r\nX-Client: k2\r\n\r\n", &r), 200);
    cli_res_free(&r);
}

Test(http_mw, rate_limit_buckets_refill) {
    ax_http_ratelimit *rl;
    ax_http_ratelimit_opts o = {.rate = 10, .burst = 2, .max_keys = 4};
    cr_assert_eq(ax_http_ratelimit_new(&rl, &o), 0);
    ax_instant t = 1000000000;
    cr_assert_eq(ax_http_ratelimit_take(rl, "a", 1, t), 0);
    cr_assert_eq(ax_http_ratelimit_take(rl, "a", 1, t), 0);
    cr_assert_eq(ax_http_ratelimit_take(rl, "a", 1, t), 1);
    cr_assert_eq(ax_http_ratelimit_take(rl, "a", 1, t + 50000000), 1); /* half a token */
    cr_assert_eq(ax_http_ratelimit_take(rl, "a", 1, t + 100000000), 0);
    cr_assert_eq(ax_http_ratelimit_take(rl, "a", 1, t + 100000000), 1);
    /* Many keys in a small table: old ones are forgotten, nothing breaks. */
    char k[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(k, sizeof k, "key%d", i);
        cr_assert_eq(ax_http_ratelimit_take(rl, k, (size_t)n, t), 0);
    }
    ax_http_ratelimit_opts bad = {.rate = 0, .burst = 1};
    ax_http_ratelimit *x;
    cr_assert_eq(ax_http_ratelimit_new(&x, &bad), AX_EINVAL);
    ax_http_ratelimit_free(rl);
}

Test(http_mw, body_limit_answers_413) {
    cli_res r;
    cr_assert_eq(
        req_status("POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", &r), 200);
    cr_assert_str_eq(r.body, "hello");
    cli_res_free(&r);
    cr_assert_eq(
        req_status("POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", &r),
        413);
    cli_res_free(&r);
    cr_assert_eq(req_status("POST /small HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
                            &r),
                 413);
    cli_res_free(&r);
    /* Elsewhere the server's limit applies. */
    cr_assert_eq(
        req_status("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", &r),
        200);
    cli_res_free(&r);
}

static void header_value(const char *head, const char *name, char *out, size_t cap) {
    const char *p = strstr(head, name);
    cr_assert_not_null(p, "%s missing: %s", name, head);
    p += strlen(name);
    size_t n = strcspn(p, "\r");
    cr_assert_lt(n, cap);
    memcpy(out, p, n);
    out[n] = 0;
}

Test(http_mw, request_ids_and_access_log) {
    cli_res r;
    char id1[80], id2[80];
    cr_assert_eq(req_status("GET /users/7 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    header_value(r.head, "X-Request-Id: ", id1, sizeof id1);
    cli_res_free(&r);
    cr_assert_eq(req_status("GET /users/7?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    header_value(r.head, "X-Request-Id: ", id2, sizeof id2);
    cli_res_free(&r);
    cr_assert_gt(strlen(id1), 16);
    cr_assert_str_neq(id1, id2);
    cr_assert_eq(req_status("GET /fail HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc-123\r\n\r\n", &r),
                 500);
    cr_assert(strstr(r.head, "X-Request-Id: abc-123\r\n"), "%s", r.head);
    cli_res_free(&r);
    cr_assert_eq(req_status("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: has space\r\n\r\n", &r),
                 200);
    cr_assert_null(strstr(r.head, "X-Request-Id: has space"));
    cli_res_free(&r);
    /* The log has a line per request, written after the response. */
    char want[200];
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&log_lock);
        bool done = strstr(log_text, "\"GET / HTTP/1.1\" 200 13") != NULL;
        pthread_mutex_unlock(&log_lock);
        if (done) break;
        usleep(5000);
    }
    pthread_mutex_lock(&log_lock);
    snprintf(want, sizeof want, "127.0.0.1 \"GET /users/7 HTTP/1.1\" 200 10 ");
    cr_assert(strstr(log_text, want), "log: %s", log_text);
    snprintf(want, sizeof want, "id=%s\n", id1);
    cr_assert(strstr(log_text, want), "log: %s", log_text);
    cr_assert(strstr(log_text, "\"GET /users/7?x=1 HTTP/1.1\" 200 10 "), "log: %s", log_text);
    cr_assert(strstr(log_text, "\"GET /fail HTTP/1.1\" 500 22 "), "log: %s", log_text);
    cr_assert(strstr(log_text, "id=abc-123\n"), "log: %s", log_text);
    pthread_mutex_unlock(&log_lock);
}

Test(http_mw, failing_handlers_yield_500_and_the_server_lives_on) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    cli_res r;
    /* An error, then no answer at all: 500 each, the connection stays. */
    cli_sends(c->fd, "GET /fail HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 500);
    cr_assert(r.keep_alive);
    cli_res_free(&r);
    cli_sends(c->fd, "GET /no-answer HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 500);
    cli_res_free(&r);
    /* A cancelled task: 500, then the connection closes (its task ends). */
    cli_sends(c->fd, "GET /abort HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 500);
    cr_assert_not(r.keep_alive);
    cli_res_free(&r);
    cr_assert(cli_closed(c));
    cli_close(c);
    free(c);
    cr_assert_eq(req_status("GET /abort-err HTTP/1.1\r\nHost: a\r\n\r\n", &r), 500);
    cli_res_free(&r);
    /* The server lives on. */
    cr_assert_eq(req_status("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cli_res_free(&r);
}

/* Past the handler deadline the server answers 503, even through the
 * access log (which must not answer a cancelled request itself). */
Test(http_mw, handler_past_its_deadline_gets_503_through_the_chain) {
    cli_res r;
    cr_assert_eq(req_status("GET /sleep/10000 HTTP/1.1\r\nHost: a\r\n\r\n", &r), 503);
    cr_assert(strstr(r.head, "X-Request-Id: "), "%s", r.head);
    cli_res_free(&r);
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&log_lock);
        bool done = strstr(log_text, "\"GET /sleep/10000 HTTP/1.1\" 0 0 ") != NULL;
        pthread_mutex_unlock(&log_lock);
        if (done) return;
        usleep(5000);
    }
    cr_assert_fail("log: %s", log_text);
}

/* Runs a curl command line (its %u is the server's port) and returns its
 * output (malloc'd). */
static char *curl_out(const char *fmt) {
    AX_WIN_SKIP(AX_WIN_NO_CURL);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, fmt, srv_port);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t cap = 65536, len = 0;
    char *out = malloc(cap);
    size_t n;
    while ((n = fread(out + len, 1, cap - 1 - len, p)) > 0) len += n;
    out[len] = 0;
    cr_assert_eq(pclose(p), 0, "%s: %s", cmd, out);
    return out;
}

/* A real client: curl's preflight, guard and rate-limit answers. */
Test(http_mw, curl_sees_cors_guards_and_rate_limits) {
    char *o = curl_out("curl -s -i --max-time 10 -X OPTIONS -H 'Origin: https://good.example' "
                       "-H 'Access-Control-Request-Method: POST' http://127.0.0.1:%u/users/1");
    cr_assert(strncmp(o, "HTTP/1.1 204 ", 13) == 0, "%s", o);
    cr_assert(strstr(o, "Access-Control-Allow-Origin: https://good.example\r\n"), "%s", o);
    cr_assert(strstr(o, "Access-Control-Allow-Methods: GET, POST\r\n"), "%s", o);
    free(o);
    o = curl_out("curl -s -o /dev/null -w '%%{http_code} ' --max-time 10 "
                 "http://127.0.0.1:%1$u/admin -H 'Authorization: Bearer good' "
                 "--next -s -o /dev/null -w '%%{http_code} ' http://127.0.0.1:%1$u/admin "
                 "--next -s -o /dev/null -w '%%{http_code}' -H 'Authorization: Bearer x' "
                 "http://127.0.0.1:%1$u/admin");
    cr_assert_str_eq(o, "200 401 403");
    free(o);
    /* Four requests on one keep-alive connection, one key: the fourth is 429. */
    o = curl_out("curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null "
                 "-w '%%{http_code} ' --max-time 10 -H 'X-Client: curl' "
                 "http://127.0.0.1:%1$u/limited http://127.0.0.1:%1$u/limited "
                 "http://127.0.0.1:%1$u/limited http://127.0.0.1:%1$u/limited");
    cr_assert_str_eq(o, "200 200 200 429 ");
    free(o);
}
