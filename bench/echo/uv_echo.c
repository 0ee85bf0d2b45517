/* bench/echo/uv_echo.c - libuv echo server, one loop on one thread.
 *
 * Reads go into one shared 64 KiB buffer (the loop is single-threaded and
 * every read is consumed before the next one). Each read is written back
 * with uv_try_write; only what the socket does not take at once is copied
 * into a uv_write request, and the connection stops reading until that
 * write completes (backpressure). An idle connection costs its uv_tcp_t.
 *
 * usage: uv_echo --port P [--workers 1] [--timeout SECS]
 * Listens on 127.0.0.1:P; serves until SIGINT/SIGTERM or until SECS
 * (default 3600) have passed.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

struct wreq {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
};

static char g_buf[65536];
static int g_buf_busy;
static uv_tcp_t g_server;
static uv_signal_t g_sigint, g_sigterm;
static uv_timer_t g_timer;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    if (g_buf_busy) { /* cannot happen on one thread; be safe anyway */
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    g_buf_busy = 1;
    *buf = uv_buf_init(g_buf, sizeof g_buf);
}

static void on_close(uv_handle_t *h) {
    free(h);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_write(uv_write_t *req, int status) {
    struct wreq *w = (struct wreq *)req;
    uv_stream_t *s = req->handle;
    free(w);
    if (status < 0) {
        if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (!uv_is_closing((uv_handle_t *)s)) uv_read_start(s, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    if (buf->base == g_buf) g_buf_busy = 0;
    if (n == 0) return;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    int w = uv_try_write(s, &b, 1);
    if (w == UV_EAGAIN) w = 0;
    if (w < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (w == n) return;
    size_t rest = (size_t)n - (size_t)w;
    struct wreq *req = malloc(sizeof *req + rest);
    if (!req) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    memcpy(req->data, buf->base + w, rest);
    req->buf = uv_buf_init(req->data, (unsigned)rest);
    uv_read_stop(s);
    if (uv_write(&req->req, s, &req->buf, 1, on_write) != 0) {
        free(req);
        uv_close((uv_handle_t *)s, on_close);
    }
}

static void on_conn(uv_stream_t *server, int status) {
    if (status < 0) return;
    uv_tcp_t *c = malloc(sizeof *c);
    if (!c) return;
    uv_tcp_init(server->loop, c);
    if (uv_accept(server, (uv_stream_t *)c) != 0) {
        uv_close((uv_handle_t *)c, on_close);
        return;
    }
    uv_tcp_nodelay(c, 1);
    uv_read_start((uv_stream_t *)c, on_alloc, on_read);
}

static void stop_all(uv_loop_t *loop) {
    uv_stop(loop);
}

static void on_signal(uv_signal_t *h, int sig) {
    (void)sig;
    stop_all(h->loop);
}

static void on_timeout(uv_timer_t *t) {
    stop_all(t->loop);
}

int main(int argc, char **argv) {
    int port = 0;
    long timeout_s = 3600;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) {
            if (atoi(argv[i + 1]) != 1)
                fprintf(stderr, "uv_echo: one worker only; ignoring --workers %s\n", argv[i + 1]);
        } else if (!strcmp(argv[i], "--timeout"))
            timeout_s = atol(argv[i + 1]);
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: uv_echo --port P [--workers 1] [--timeout SECS]\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", port, &a);
    uv_tcp_init(loop, &g_server);
    int r = uv_tcp_bind(&g_server, (const struct sockaddr *)&a, 0);
    if (r == 0) r = uv_listen((uv_stream_t *)&g_server, 4096, on_conn);
    if (r != 0) {
        fprintf(stderr, "uv_echo: listen on port %d: %s\n", port, uv_strerror(r));
        return 1;
    }
    uv_signal_init(loop, &g_sigint);
    uv_signal_start(&g_sigint, on_signal, SIGINT);
    uv_signal_init(loop, &g_sigterm);
    uv_signal_start(&g_sigterm, on_signal, SIGTERM);
    uv_timer_init(loop, &g_timer);
    uv_timer_start(&g_timer, on_timeout, (uint64_t)timeout_s * 1000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    /* Exit without tearing down every connection: the process ends here. */
    return 0;
}
