/* tls-client: connects with TLS, says what was negotiated, and relays
 * stdin to the server and the server to stdout.
 *
 *   build/examples/tls-client HOST PORT [--cafile F] [--alpn LIST]
 *
 * The server's certificate is verified against F (default: the system
 * store) and HOST. On stderr: "connected: TLSv1.3, TLS_AES_128_GCM_SHA256,
 * ALPN none, new session". At the end of stdin it sends close_notify and
 * waits for the server to finish; exit status 0 when the server closed
 * cleanly, 1 on any error (the reason is printed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon.h"

struct opts {
    const char *host, *cafile, *alpn;
    uint16_t port;
};

/* The server's bytes to stdout until it closes. Returns 0 or AX_E*. */
static void *to_stdout(void *arg) {
    ax_stream *s = arg;
    char buf[16384];
    for (;;) {
        ssize_t n = ax_stream_read(s, buf, sizeof buf, AX_NO_DEADLINE);
        if (n <= 0) return (void *)(intptr_t)n;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w <= 0) return (void *)(intptr_t)AX_EPIPE;
            off += w;
        }
    }
}

/* stdin to the server until its end, then close_notify. */
static int from_stdin(ax_stream *s) {
    char buf[16384];
    for (;;) {
        /* A pipe or terminal is waited for in the reactor; a regular file
         * cannot be (epoll refuses it) and is simply read. */
        int err = ax_wait_readable(0, AX_NO_DEADLINE);
        if (err && err != AX_EPERM) return err;
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0) return AX_EIO;
        if (n == 0) return ax_stream_shutdown(s, ax_deadline_in_ms(10000));
        if ((err = ax_stream_write_all(s, buf, (size_t)n, AX_NO_DEADLINE))) return err;
    }
}

static void *main_task(void *arg) {
    const struct opts *o = arg;
    ax_tls_opts to;
    ax_tls_opts_init(&to);
    to.ca_file = o->cafile;
    to.alpn = o->alpn;
    ax_tls_config *cfg;
    int err = ax_tls_client_config_new(&to, &cfg);
    if (err) {
        fprintf(stderr, "tls-client: config: %s\n", ax_strerror(err));
        return (void *)1;
    }
    ax_tls *t;
    err = ax_tls_connect(cfg, o->host, o->port, ax_deadline_in_ms(10000), &t);
    ax_tls_config_free(cfg); /* the connection keeps its own reference */
    if (err) {
        const char *why = t ? ax_tls_error_text(t) : "";
        fprintf(stderr, "tls-client: %s:%u: %s%s%s\n", o->host, o->port, ax_strerror(err),
                *why ? ": " : "", why);
        ax_tls_close(t);
        return (void *)1;
    }
    const char *alpn = ax_tls_alpn(t);
    fprintf(stderr, "connected: %s, %s, ALPN %s, %s\n", ax_tls_version(t), ax_tls_cipher(t),
            alpn ? alpn : "none", ax_tls_session_reused(t) ? "resumed" : "new session");
    ax_stream *s = ax_tls_stream(t);
    ax_task *reader;
    if ((err = ax_spawn(&reader, to_stdout, s))) {
        ax_tls_close(t);
        return (void *)1;
    }
    err = from_stdin(s);
    void *res = NULL;
    if (err) ax_abort(reader);
    ax_join(reader, &res);
    int rerr = (int)(intptr_t)res;
    if (err || (rerr && rerr != AX_ECANCELED)) {
        int e = err ? err : rerr;
        const char *why = ax_tls_error_text(t);
        fprintf(stderr, "tls-client: %s%s%s\n", ax_strerror(e), *why ? ": " : "", why);
        ax_tls_close(t);
        return (void *)1;
    }
    ax_tls_close(t);
    return NULL;
}

int main(int argc, char **argv) {
    struct opts o = {0};
    int bad = argc < 3;
    if (!bad) {
        o.host = argv[1];
        long port = atol(argv[2]);
        bad = port <= 0 || port > 65535;
        o.port = (uint16_t)port;
    }
    for (int i = 3; !bad && i < argc; i += 2) {
        if (i + 1 >= argc)
            bad = 1;
        else if (strcmp(argv[i], "--cafile") == 0)
            o.cafile = argv[i + 1];
        else if (strcmp(argv[i], "--alpn") == 0)
            o.alpn = argv[i + 1];
        else
            bad = 1;
    }
    if (bad) {
        fprintf(stderr, "usage: %s HOST PORT [--cafile F] [--alpn LIST]\n", argv[0]);
        return 2;
    }
    ax_runtime *rt;
    int err = ax_runtime_new(&rt, NULL);
    if (err) {
        fprintf(stderr, "tls-client: ax_runtime_new: %s\n", ax_strerror(err));
        return 1;
    }
    void *result = NULL;
    err = ax_run(rt, main_task, &o, &result);
    ax_runtime_free(rt);
    return err || result ? 1 : 0;
}
