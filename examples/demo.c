/* demo: the HTTP server that `make run` starts.
 *
 *   build/examples/demo [--port P] [--workers N] [--host ADDR] [--seconds N]
 *                       [--tls-port P --cert F --key F] [--root DIR]
 *
 * Listens on ADDR:P (default 127.0.0.1:8080; port 0 picks a free port),
 * prints the URLs, and serves until Ctrl-C (SIGINT), SIGTERM, or --seconds
 * N have passed; then it shuts down gracefully (idle connections closed,
 * busy ones finish their request).
 *
 * --tls-port P --cert F --key F also serves the same routes over HTTPS on
 * ADDR:P (builds with TLS only, AX_HAVE_TLS: native x86-64 Linux; other
 * builds refuse the flags). --root DIR serves the files under DIR at
 * /static/ (axon/http_static.h); the demo then installs a permission
 * policy that allows reading DIR and nothing else, which is what confines
 * the paths (after the listeners are open and the certificate is loaded).
 *
 *   GET  /            Hello, World! (text/plain, the TechEmpower plaintext)
 *   GET  /json        {"message":"Hello, World!"}
 *   POST /echo        the request body back (chunked or not)
 *   GET  /stream      ten lines, one chunk each, 10 ms apart
 *   GET  /users/:id   {"id":"<id>"}
 *   GET  /delay/:ms   answers after ms milliseconds (at most 10,000)
 *   GET  /static/...  files under --root (Range, ETag, 304; see http_static.h)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"

static int hello(ax_http_req *req, ax_http_res *res, void *user) {
    return ax_http_res_send(res, 200, "text/plain", "Hello, World!", 13);
}

static int json(ax_http_req *req, ax_http_res *res, void *user) {
    char buf[64];
    ax_json j;
    ax_json_init(&j, buf, sizeof buf);
    ax_json_object_begin(&j);
    ax_json_key(&j, "message");
    ax_json_string(&j, "Hello, World!");
    ax_json_object_end(&j);
    ssize_t n = ax_json_finish(&j);
    if (n < 0) return (int)n;
    return ax_http_res_json(res, 200, buf, (size_t)n);
}

static int echo(ax_http_req *req, ax_http_res *res, void *user) {
    ax_http_str body;
    int err = ax_http_req_body(req, &body);
    if (err == AX_EMSGSIZE) return ax_http_res_text(res, 413, "body too large\n");
    if (err) return err;
    ax_http_str ct;
    const char *type = "application/octet-stream";
    char tbuf[128];
    if (ax_http_req_header(req, "content-type", &ct) && ct.len < sizeof tbuf) {
        memcpy(tbuf, ct.ptr, ct.len);
        tbuf[ct.len] = 0;
        type = tbuf;
    }
    return ax_http_res_send(res, 200, type, body.ptr, body.len);
}

static int stream(ax_http_req *req, ax_http_res *res, void *user) {
    int err = ax_http_res_stream_begin(res, 200, "text/plain");
    for (int i = 1; !err && i <= 10; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        err = ax_http_res_stream_write(res, line, (size_t)n);
        if (!err && i < 10) err = ax_sleep(10);
    }
    if (err) return err;
    return ax_http_res_stream_end(res);
}

static int user_by_id(ax_http_req *req, ax_http_res *res, void *user) {
    ax_http_str id;
    ax_http_req_param(req, "id", &id);
    char buf[256];
    ax_json j;
    ax_json_init(&j, buf, sizeof buf);
    ax_json_object_begin(&j);
    ax_json_key(&j, "id");
    ax_json_string_n(&j, id.ptr, id.len);
    ax_json_object_end(&j);
    ssize_t n = ax_json_finish(&j);
    if (n < 0) return ax_http_res_text(res, 414, "id too long\n");
    return ax_http_res_json(res, 200, buf, (size_t)n);
}

static int delay(ax_http_req *req, ax_http_res *res, void *user) {
    int64_t ms;
    if (!ax_http_req_param_int(req, "ms", &ms) || ms < 0 || ms > 10000)
        return ax_http_res_text(res, 400, "ms must be 0..10000\n");
    int err = ax_sleep((uint64_t)ms);
    if (err) return err;
    char text[64];
    snprintf(text, sizeof text, "waited %lld ms\n", (long long)ms);
    return ax_http_res_text(res, 200, text);
}

struct opts {
    const char *host;
    long port, seconds, tls_port;
    const char *cert, *key, *root;
};

#ifdef AX_HAVE_TLS
/* HTTPS: accepts TCP connections, wraps each in TLS and hands it to the
 * same server (the handshake runs in the connection's first read). */
struct tls_side {
    ax_tls_config *cfg;
    ax_tcp_listener *lst;
    ax_http_server *srv;
    ax_task *acceptor;
};

static void *tls_accept_loop(void *arg) {
    struct tls_side *t = arg;
    for (;;) {
        ax_tcp *c;
        int err = ax_tcp_accept(t->lst, &c, NULL, AX_NO_DEADLINE);
        if (err == AX_EMFILE || err == AX_ENOMEM || err == AX_ENOBUFS) {
            ax_sleep(10); /* out of descriptors: let connections end */
            continue;
        }
        if (err) return NULL; /* cancelled by tls_stop */
        ax_tcp_set_nodelay(c, true);
        ax_tls *tls;
        if (ax_tls_server(t->cfg, ax_tcp_stream(c), &tls) != 0) continue; /* c was closed */
        ax_http_server_serve_stream(t->srv, ax_tls_stream(tls));
    }
}

static int tls_start(struct tls_side *t, const struct opts *o, ax_http_server *srv,
                     const char *host) {
    ax_tls_opts to;
    ax_tls_opts_init(&to);
    to.cert_file = o->cert;
    to.key_file = o->key;
    to.alpn = "http/1.1";
    int err = ax_tls_server_config_new(&to, &t->cfg);
    if (err) {
        fprintf(stderr, "demo: TLS certificate %s / key %s: %s\n", o->cert, o->key,
                ax_strerror(err));
        return err;
    }
    char text[AX_ADDR_STRLEN + 8];
    snprintf(text, sizeof text, strchr(host, ':') ? "[%s]:%ld" : "%s:%ld", host, o->tls_port);
    ax_addr addr;
    if ((err = ax_addr_parse(text, &addr)) || (err = ax_tcp_listen(&addr, NULL, &t->lst))) {
        fprintf(stderr, "demo: listen on %s: %s\n", text, ax_strerror(err));
        return err;
    }
    t->srv = srv;
    return ax_spawn(&t->acceptor, tls_accept_loop, t);
}

static void tls_stop(struct tls_side *t) {
    if (t->acceptor) {
        ax_abort(t->acceptor); /* its accept returns AX_ECANCELED */
        ax_join(t->acceptor, NULL);
    }
    if (t->lst) ax_tcp_listener_close(t->lst);
    ax_tls_config_free(t->cfg);
}
#endif

/* Allows reading root and nothing else: the static route's confinement. */
static int confine_to(const char *root) {
    ax_policy *p;
    int err = ax_policy_new(&p);
    if (!err) err = ax_policy_allow_read(p, root);
    if (!err) err = ax_runtime_set_policy(ax_current_runtime(), p);
    ax_policy_free(p);
    return err;
}

static void *main_task(void *arg) {
    const struct opts *o = arg;
    char text[AX_ADDR_STRLEN + 8];
    snprintf(text, sizeof text, strchr(o->host, ':') ? "[%s]:%ld" : "%s:%ld", o->host, o->port);
    ax_addr addr;
    if (ax_addr_parse(text, &addr)) {
        fprintf(stderr, "demo: bad address %s\n", text);
        return (void *)1;
    }
    ax_http_router *r;
    if (ax_http_router_new(&r)) return (void *)1;
    ax_http_router_add(r, "GET", "/", hello, NULL);
    ax_http_router_add(r, "GET", "/json", json, NULL);
    ax_http_router_add(r, "POST", "/echo", echo, NULL);
    ax_http_router_add(r, "GET", "/stream", stream, NULL);
    ax_http_router_add(r, "GET", "/users/:id", user_by_id, NULL);
    ax_http_router_add(r, "GET", "/delay/:ms", delay, NULL);
    ax_http_static *files = NULL;
    if (o->root) {
        int e = ax_http_static_new(&files, o->root, NULL);
        if (e) {
            fprintf(stderr, "demo: --root %s: %s\n", o->root, ax_strerror(e));
            ax_http_router_free(r);
            return (void *)1;
        }
        ax_http_router_add(r, "GET", "/static/*path", ax_http_static_handler, files);
    }
    ax_http_server *srv;
    int err = ax_http_server_new(&srv, NULL, ax_http_router_handler, r);
    /* Metrics: the server's and the runtime's, as Prometheus text and JSON. */
    if (!err) err = ax_http_server_enable_metrics(srv);
    if (!err) err = ax_http_router_add(r, "GET", "/metrics", ax_http_metrics_handler, srv);
    if (!err)
        err = ax_http_router_add(r, "GET", "/metrics.json", ax_http_metrics_json_handler, srv);
    if (!err) err = ax_http_server_listen(srv, &addr);
    if (err) {
        fprintf(stderr, "demo: listen on %s: %s\n", text, ax_strerror(err));
        ax_http_server_free(srv);
        ax_http_router_free(r);
        ax_http_static_free(files);
        return (void *)1;
    }
#ifdef AX_HAVE_TLS
    struct tls_side tls = {0};
    if (o->tls_port >= 0 && (err = tls_start(&tls, o, srv, o->host))) {
        tls_stop(&tls);
        ax_http_server_shutdown(srv, 0);
        ax_http_server_free(srv);
        ax_http_router_free(r);
        ax_http_static_free(files);
        return (void *)1;
    }
#endif
    if (files && (err = confine_to(ax_http_static_root(files)))) {
        fprintf(stderr, "demo: policy for %s: %s\n", o->root, ax_strerror(err));
        return (void *)1;
    }
    ax_http_server_addr(srv, &addr);
    ax_addr_format(&addr, text, sizeof text);
    printf("axon demo: %u workers, listening on http://%s/\n",
           ax_runtime_workers(ax_current_runtime()), text);
    static const char *const urls[] = {"/",         "/json",      "/echo (POST)", "/stream",
                                       "/users/42", "/delay/250", "/metrics",     "/metrics.json"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        printf("  http://%s%s\n", text, urls[i]);
    if (files) printf("  http://%s/static/ (files under %s)\n", text, ax_http_static_root(files));
#ifdef AX_HAVE_TLS
    if (tls.lst) {
        ax_tcp_listener_addr(tls.lst, &addr);
        ax_addr_format(&addr, text, sizeof text);
        printf("  https://%s/ (the same routes over TLS, certificate %s)\n", text, o->cert);
    }
#endif
    fflush(stdout);

#ifdef _WIN32
    /* Windows has no signals to wait for: serve for --seconds, or until
     * the process is ended (Ctrl-C). */
    int sig = 0;
    ax_sleep_until(o->seconds ? ax_deadline_in_ms((uint64_t)o->seconds * 1000) : AX_NO_DEADLINE);
#else
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    int sig = ax_signal_wait(&stop, o->seconds ? ax_deadline_in_ms((uint64_t)o->seconds * 1000)
                                               : AX_NO_DEADLINE);
#endif
    if (sig > 0)
        printf("got signal %d (%s), stopping\n", sig, sig == SIGINT ? "SIGINT" : "SIGTERM");
    else
        printf("%ld s passed, stopping\n", o->seconds);
    fflush(stdout);
#ifdef AX_HAVE_TLS
    tls_stop(&tls); /* no new HTTPS connections; open ones end with the server */
#endif
    err = ax_http_server_shutdown(srv, 2000);
    printf("shut down%s\n", err ? " (some connections were still busy)" : "");
    ax_http_server_free(srv);
    ax_http_router_free(r);
    ax_http_static_free(files);
    return NULL;
}

int main(int argc, char **argv) {
    struct opts o = {"127.0.0.1", 8080, 0, -1, NULL, NULL, NULL};
    unsigned workers = 0;
    bool bad = argc % 2 == 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            o.port = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            workers = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--host") == 0)
            o.host = argv[i + 1];
        else if (strcmp(argv[i], "--seconds") == 0)
            o.seconds = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--tls-port") == 0)
            o.tls_port = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--cert") == 0)
            o.cert = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            o.key = argv[i + 1];
        else if (strcmp(argv[i], "--root") == 0)
            o.root = argv[i + 1];
        else
            bad = true;
    }
    bool tls = o.tls_port >= 0 || o.cert || o.key;
    if (bad || o.port < 0 || o.port > 65535 || o.seconds < 0 || o.tls_port > 65535 ||
        (tls && (o.tls_port < 0 || !o.cert || !o.key))) {
        fprintf(stderr,
                "usage: %s [--port P] [--workers N] [--host ADDR] [--seconds N]\n"
                "          [--tls-port P --cert F --key F] [--root DIR]\n",
                argv[0]);
        return 2;
    }
#ifndef AX_HAVE_TLS
    if (tls) {
        fprintf(stderr, "demo: this build has no TLS (built without BoringSSL, AX_HAVE_TLS): "
                        "--tls-port, --cert and --key are not available\n");
        return 2;
    }
#endif
    ax_runtime_opts ro;
    ax_runtime_opts_init(&ro);
#ifndef _WIN32
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    ro.signals = &sigs;
#endif
    if (workers) ro.workers = workers;
    ax_runtime *rt;
    int err = ax_runtime_new(&rt, &ro);
    if (err) {
        fprintf(stderr, "ax_runtime_new: %s\n", ax_strerror(err));
        return 1;
    }
    void *result = NULL;
    err = ax_run(rt, main_task, &o, &result);
    ax_runtime_free(rt);
    return err || result ? 1 : 0;
}
