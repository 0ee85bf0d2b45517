/* echo: a TCP (or TLS) echo server, one task per connection.
 *
 *   build/examples/echo --port P [--workers N] [--host ADDR]
 *                       [--tls-cert FILE --tls-key FILE]
 *
 * With --tls-cert and --tls-key (PEM chain and key) every connection is
 * TLS: the handshake runs in the connection's task with a 10 s deadline,
 * and the echo loop is the same code, over the TLS stream. (TLS exists in
 * builds with BoringSSL: the native x86-64 one.)
 *
 * Listens on ADDR:P (default [::]:P, which also takes IPv4 on a dual-stack
 * host; port 0 picks a free port), prints "listening on ADDR:PORT", and
 * echoes every byte back until SIGINT or SIGTERM. Then it stops accepting,
 * and the runtime cancels the connection tasks, each of which closes its
 * socket on the way out.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"

/* 64 KiB, larger than a typical message: a read that comes back short has
 * drained the socket, so its readiness is cleared at once (see
 * reactor/epoll.c) and the next wait costs no EAGAIN read. The buffer is
 * held only while bytes move, so idle connections pay nothing for its size. */
#define BUF_SIZE 65536

/* An idle connection waits for data with no buffer: its task then holds
 * only the top page of its stack, so 10,000 idle clients cost a few KiB
 * each. The buffer is taken only while bytes move. */
#ifdef AX_HAVE_TLS
static ax_tls_config *tls_cfg; /* NULL: plain TCP */
#endif

static void *serve_conn(void *arg) {
    ax_tcp *c = arg;
    ax_stream *s = ax_tcp_stream(c);
#ifdef AX_HAVE_TLS
    if (tls_cfg) {
        ax_tls *t;
        if (ax_tls_server(tls_cfg, s, &t)) return NULL; /* closed the connection */
        int err = ax_tls_handshake(t, ax_deadline_in_ms(10000));
        if (err) {
            fprintf(stderr, "echo: handshake: %s: %s\n", ax_err_name(err), ax_tls_error_text(t));
            ax_tls_close(t);
            return NULL;
        }
        s = ax_tls_stream(t); /* closing it closes the connection */
    }
#endif
    for (;;) {
        ax_buf *b; /* from this worker's pool once bytes are there */
        ssize_t n = ax_stream_read_buf(s, &b, BUF_SIZE, AX_NO_DEADLINE);
        if (n <= 0) break; /* end of stream, error, or cancelled at shutdown */
        int err = ax_stream_write_all(s, ax_buf_data(b), (size_t)n, AX_NO_DEADLINE);
        ax_buf_unref(b);
        if (err) break;
    }
    ax_stream_close(s);
    return NULL;
}

static void *accept_loop(void *arg) {
    ax_tcp_listener *l = arg;
    for (;;) {
        ax_tcp *c;
        int err = ax_tcp_accept(l, &c, NULL, AX_NO_DEADLINE);
        if (err == AX_ECANCELED) break;
        if (err == AX_EMFILE || err == AX_ENOMEM) { /* let connections drain, then retry */
            ax_sleep(10);
            continue;
        }
        if (err) {
            fprintf(stderr, "echo: accept: %s\n", ax_strerror(err));
            continue;
        }
        ax_tcp_set_nodelay(c, true);
        if (ax_spawn(NULL, serve_conn, c)) ax_tcp_close(c);
    }
    return NULL;
}

struct opts {
    const char *host;
    long port;
};

static void *main_task(void *arg) {
    const struct opts *o = arg;
    char text[AX_ADDR_STRLEN + 8];
    snprintf(text, sizeof text, strchr(o->host, ':') ? "[%s]:%ld" : "%s:%ld", o->host, o->port);
    ax_addr addr;
    if (ax_addr_parse(text, &addr)) {
        fprintf(stderr, "echo: bad address %s\n", text);
        return (void *)1;
    }
    ax_tcp_listener *l;
    int err = ax_tcp_listen(&addr, NULL, &l);
    if (err) {
        fprintf(stderr, "echo: listen on %s: %s\n", text, ax_strerror(err));
        return (void *)1;
    }
    ax_tcp_listener_addr(l, &addr);
    ax_addr_format(&addr, text, sizeof text);
    printf("listening on %s\n", text);
    fflush(stdout);

    ax_task *acceptor;
    if ((err = ax_spawn(&acceptor, accept_loop, l))) {
        ax_tcp_listener_close(l);
        return (void *)1;
    }
#ifdef _WIN32
    /* Windows has no signals to wait for: serve until the process is
     * ended (Ctrl-C). */
    ax_join(acceptor, NULL);
#else
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    int sig = ax_signal_wait(&stop, AX_NO_DEADLINE);
    fprintf(stderr, "echo: %s, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
#endif
    ax_abort(acceptor);
    ax_join(acceptor, NULL);
    ax_tcp_listener_close(l);
    return NULL; /* ax_runtime_free cancels the connections */
}

int main(int argc, char **argv) {
    struct opts o = {"::", -1};
    unsigned workers = 0;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            o.port = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            workers = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--host") == 0)
            o.host = argv[i + 1];
        else if (strcmp(argv[i], "--tls-cert") == 0)
            cert = argv[i + 1];
        else if (strcmp(argv[i], "--tls-key") == 0)
            key = argv[i + 1];
        else
            o.port = -2;
    }
    if (o.port < 0 || o.port > 65535 || argc % 2 == 0 || !cert != !key) {
        fprintf(stderr,
                "usage: %s --port P [--workers N] [--host ADDR] [--tls-cert F --tls-key F]\n",
                argv[0]);
        return 2;
    }
    if (cert) {
#ifdef AX_HAVE_TLS
        ax_tls_opts to;
        ax_tls_opts_init(&to);
        to.cert_file = cert;
        to.key_file = key;
        int terr = ax_tls_server_config_new(&to, &tls_cfg);
        if (terr) {
            fprintf(stderr, "echo: %s / %s: %s\n", cert, key, ax_strerror(terr));
            return 1;
        }
#else
        fprintf(stderr, "echo: this build has no TLS\n");
        return 2;
#endif
    }
    ax_runtime *rt;
    ax_runtime_opts ro;
    ax_runtime_opts_init(&ro);
    ro.workers = workers;
#ifndef _WIN32
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    ro.signals = &sigs;
#endif
    ro.shutdown_timeout_ms = 2000;
    int err = ax_runtime_new(&rt, &ro);
    if (err) {
        fprintf(stderr, "echo: ax_runtime_new: %s\n", ax_strerror(err));
        return 1;
    }
    void *result = NULL;
    err = ax_run(rt, main_task, &o, &result);
    ax_runtime_free(rt);
#ifdef AX_HAVE_TLS
    ax_tls_config_free(tls_cfg);
#endif
    return err || result ? 1 : 0;
}
