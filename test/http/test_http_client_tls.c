/* The HTTP client over HTTPS: Axon's HTTP server served over Axon's TLS
 * streams (certificates from test/tls/mkcerts.sh), reached by name and by
 * address, with verification on (the test CA trusted through ca_file),
 * refused without that CA, and with the insecure switch. Builds without
 * TLS check that https fails with AX_ENOTSUP instead. */
#ifdef AX_HAVE_TLS
#include "test/tls/tls_util.h"

static int h_hi(ax_http_req *req, ax_http_res *res, void *u) {
    return ax_http_res_send(res, 200, "text/plain", "secure hello", 12);
}

static int h_lines(ax_http_req *req, ax_http_res *res, void *u) {
    int err = ax_http_res_stream_begin(res, 200, "text/plain");
    char line[32];
    for (int i = 0; !err && i < 500; i++) {
        int n = snprintf(line, sizeof line, "line %d\n", i);
        err = ax_http_res_stream_write(res, line, (size_t)n);
    }
    return err ? err : ax_http_res_stream_end(res);
}

static ax_http_server *hs;
static ax_http_router *hr;
static ax_tcp_listener *hl;
static ax_tls_config *hcfg;
static uint16_t hport;
static ax_task *hacceptor;

static void *tls_conn(void *arg) {
    ax_tcp *c = arg;
    ax_tls *t;
    if (ax_tls_server(hcfg, ax_tcp_stream(c), &t)) return NULL;
    if (ax_tls_handshake(t, ax_deadline_in_ms(5000))) {
        ax_tls_close(t);
        return NULL;
    }
    ax_http_server_serve_stream(hs, ax_tls_stream(t));
    return NULL;
}

static void *tls_accept(void *arg) {
    for (;;) {
        ax_tcp *c;
        if (ax_tcp_accept(hl, &c, NULL, AX_NO_DEADLINE)) return NULL;
        ax_spawn(NULL, tls_conn, c);
    }
}

static void *https_start(void *arg) {
    hcfg = server_config(NULL);
    cr_assert_eq(ax_http_router_new(&hr), 0);
    ax_http_router_add(hr, "GET", "/", h_hi, NULL);
    ax_http_router_add(hr, "GET", "/lines", h_lines, NULL);
    cr_assert_eq(ax_http_server_new(&hs, NULL, ax_http_router_handler, hr), 0);
    ax_addr bound;
    hl = listen_loopback(AX_INET, &bound);
    hport = bound.port;
    cr_assert_eq(ax_spawn(&hacceptor, tls_accept, NULL), 0);
    return NULL;
}

static void *https_stop(void *arg) {
    ax_abort(hacceptor);
    ax_join(hacceptor, NULL);
    ax_tcp_listener_close(hl);
    ax_http_server_shutdown(hs, 2000);
    ax_http_server_free(hs);
    ax_http_router_free(hr);
    ax_tls_config_free(hcfg);
    return NULL;
}

static void https_up(void) {
    tls_init();
    run_task(https_start, NULL);
}

static void https_down(void) {
    run_task(https_stop, NULL);
    rt_done();
}

TestSuite(http_client_tls, .init = https_up, .fini = https_down, .timeout = 60);

static const char *surl(const char *host, const char *path) {
    static _Thread_local char b[4][128];
    static _Thread_local int k;
    char *s = b[k++ % 4];
    snprintf(s, 128, "https://%s:%u%s", host, (unsigned)hport, path);
    return s;
}

static void *t_verified(void *arg) {
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.ca_file = cert("ca.pem");
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    ax_http_response r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ax_http_get(c, surl("127.0.0.1", "/"), &r), 0);
        cr_assert_eq(r.status, 200);
        cr_assert_str_eq(r.body, "secure hello");
        ax_http_response_free(&r);
    }
    cr_assert_eq(ax_http_get(c, surl("localhost", "/"), &r), 0);
    cr_assert_str_eq(r.body, "secure hello");
    ax_http_response_free(&r);
    /* A streamed (chunked) body over TLS, line by line. */
    ax_http_request q;
    ax_http_request_init(&q, NULL, surl("127.0.0.1", "/lines"));
    cr_assert_eq(ax_http_client_send(c, &q, &r), 0);
    char line[64];
    ssize_t n;
    int count = 0;
    while ((n = ax_http_response_read_line(&r, line, sizeof line)) >= 0) {
        char want[32];
        snprintf(want, sizeof want, "line %d", count++);
        cr_assert_str_eq(line, want);
    }
    cr_assert_eq(n, AX_EOF);
    cr_assert_eq(count, 500);
    ax_http_response_free(&r);
    /* Keep-alive over TLS: one connection per host name. */
    ax_pool_stats st;
    ax_http_client_pool_stats(c, &st);
    cr_assert_eq(st.created, 2, "created %lu", (unsigned long)st.created);
    cr_assert_eq(st.reused, 3);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client_tls, verified_keep_alive_and_streaming) {
    run_task(t_verified, NULL);
}

static void *t_untrusted(void *arg) {
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.max_retries = 0;
    ax_http_client *c;
    /* The system store does not know the test CA: verification refuses. */
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    ax_http_response r;
    cr_assert_eq(ax_http_get(c, surl("127.0.0.1", "/"), &r), AX_ECERTUNTRUSTED);
    ax_http_client_free(c);
    /* Another CA trusted instead of the one that signed the server's. */
    o.ca_file = cert("other-ca.pem");
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    cr_assert_eq(ax_http_get(c, surl("127.0.0.1", "/"), &r), AX_ECERTUNTRUSTED);
    ax_http_client_free(c);
    /* A CA file that does not exist: the error of loading it. */
    o.ca_file = "/nonexistent/ca.pem";
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    cr_assert_eq(ax_http_get(c, surl("127.0.0.1", "/"), &r), AX_ENOENT);
    ax_http_client_free(c);
    /* Verification off on purpose. */
    o.ca_file = NULL;
    o.insecure_skip_verify = true;
    cr_assert_eq(ax_http_client_new(&o, &c), 0);
    cr_assert_eq(ax_http_get(c, surl("127.0.0.1", "/"), &r), 0);
    cr_assert_str_eq(r.body, "secure hello");
    ax_http_response_free(&r);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client_tls, verification_on_by_default) {
    run_task(t_untrusted, NULL);
}

#else /* no TLS in this build */
#include "test/net/net_util.h"

TestSuite(http_client_tls, .init = rt_two, .fini = rt_done, .timeout = 30);

static void *t_notsup(void *arg) {
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(NULL, &c), 0);
    ax_http_response r;
    cr_assert_eq(ax_http_get(c, "https://127.0.0.1:1/", &r), AX_ENOTSUP);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client_tls, https_is_not_supported_without_tls) {
    run_task(t_notsup, NULL);
}
#endif
