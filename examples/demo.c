/* demo: the HTTP server that `make run` starts.
 *
 *   build/examples/demo [--port P] [--workers N] [--host ADDR] [--seconds N]
 *
 * Listens on ADDR:P (default 127.0.0.1:8080; port 0 picks a free port),
 * prints the URLs, and serves until Ctrl-C (SIGINT), SIGTERM, or --seconds
 * N have passed; then it shuts down gracefully (idle connections closed,
 * busy ones finish their request).
 *
 *   GET  /            Hello, World! (text/plain, the TechEmpower plaintext)
 *   GET  /json        {"message":"Hello, World!"}
 *   POST /echo        the request body back (chunked or not)
 *   GET  /stream      ten lines, one chunk each, 10 ms apart
 *   GET  /users/:id   {"id":"<id>"}
 *   GET  /delay/:ms   answers after ms milliseconds (at most 10,000)
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
    long port, seconds;
};

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
    fflush(stdout);

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    int sig = ax_signal_wait(&stop, o->seconds ? ax_deadline_in_ms((uint64_t)o->seconds * 1000)
                                               : AX_NO_DEADLINE);
    if (sig > 0)
        printf("got signal %d (%s), stopping\n", sig, sig == SIGINT ? "SIGINT" : "SIGTERM");
    else
        printf("%ld s passed, stopping\n", o->seconds);
    fflush(stdout);
    err = ax_http_server_shutdown(srv, 2000);
    printf("shut down%s\n", err ? " (some connections were still busy)" : "");
    ax_http_server_free(srv);
    ax_http_router_free(r);
    return NULL;
}

int main(int argc, char **argv) {
    struct opts o = {"127.0.0.1", 8080, 0};
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
        else
            bad = true;
    }
    if (bad || o.port < 0 || o.port > 65535 || o.seconds < 0) {
        fprintf(stderr, "usage: %s [--port P] [--workers N] [--host ADDR] [--seconds N]\n",
                argv[0]);
        return 2;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    ax_runtime_opts ro;
    ax_runtime_opts_init(&ro);
    ro.signals = &sigs;
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
