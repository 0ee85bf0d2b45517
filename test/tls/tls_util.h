/* test/tls/tls_util.h - helpers shared by the TLS tests: the certificates
 * (made once per test run by test/tls/mkcerts.sh), an Axon TLS echo server
 * running in the test's runtime, and external peers (openssl, curl) run as
 * child processes. */
#ifndef AX_TEST_TLS_UTIL_H
#define AX_TEST_TLS_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/net/net_util.h"
#include "test/os_compat.h"

/* --- certificates -------------------------------------------------------------- */

/* The folder is per test run (named after the runner, the parent of every
 * test process) and made under a lock, since Criterion runs tests in
 * parallel; folders of runs whose runner is gone are removed first. */
static char certs_dir[128];

static inline void certs_cleanup_stale(void) {
    DIR *d = opendir("/tmp");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, "axon-tls-certs.%d", &pid) != 1) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf /tmp/%s", e->d_name);
        if (system(cmd) != 0) continue;
    }
    if (d) closedir(d);
}

static inline void certs_init(void) {
    snprintf(certs_dir, sizeof certs_dir, "/tmp/axon-tls-certs.%d", (int)getppid());
    char lock[160], done[160];
    snprintf(lock, sizeof lock, "%s.lock", certs_dir);
    snprintf(done, sizeof done, "%s/done", certs_dir);
    int fd = open(lock, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(flock(fd, LOCK_EX), 0);
    if (access(done, F_OK) != 0) {
        certs_cleanup_stale();
        char cmd[512];
        snprintf(cmd, sizeof cmd, "mkdir -p %s && bash test/tls/mkcerts.sh %s && touch %s",
                 certs_dir, certs_dir, done);
        cr_assert_eq(system(cmd), 0, "mkcerts.sh failed");
    }
    flock(fd, LOCK_UN);
    close(fd);
    unlink(lock);
}

/* certs_dir/name, in a rotating static buffer (8 live at once). */
static inline const char *cert(const char *name) {
    static char bufs[8][192];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, 192, "%s/%s", certs_dir, name);
    return b;
}

static inline void tls_init(void) {
    certs_init();
    rt_two();
}

/* A server config for server.pem (and opts' extra fields). */
static inline ax_tls_config *server_config(ax_tls_opts *o) {
    ax_tls_opts d;
    if (!o) {
        ax_tls_opts_init(&d);
        o = &d;
    }
    if (!o->cert_file) o->cert_file = cert("server.pem");
    if (!o->key_file) o->key_file = cert("server.key");
    ax_tls_config *cfg;
    int err = ax_tls_server_config_new(o, &cfg);
    cr_assert_eq(err, 0, "server config: %s", ax_strerror(err));
    return cfg;
}

/* A client config trusting ca.pem (unless opts names other anchors). */
static inline ax_tls_config *client_config(ax_tls_opts *o) {
    ax_tls_opts d;
    if (!o) {
        ax_tls_opts_init(&d);
        o = &d;
    }
    if (!o->ca_file && !o->ca_dir) o->ca_file = cert("ca.pem");
    ax_tls_config *cfg;
    int err = ax_tls_client_config_new(o, &cfg);
    cr_assert_eq(err, 0, "client config: %s", ax_strerror(err));
    return cfg;
}

/* --- an Axon TLS echo server ------------------------------------------------------- */

typedef struct tls_srv {
    ax_tcp_listener *l;
    ax_addr addr;
    uint16_t port;
    ax_tls_config *cfg;
    int conns; /* connections to take, then the accept task ends */
    atomic_int handshakes_ok, handshakes_failed;
    pthread_mutex_t mu; /* the fields below: what the last connection saw */
    int last_err;
    char text[384], alpn[32], sni[64], peer[192], version[16];
    bool reused;
    bool http; /* answer one HTTP/1.1 request with "hello" instead of echoing */
    ax_task *task;
} tls_srv;

/* Reads a request head and answers it. */
static void srv_http(ax_stream *st) {
    char req[4096];
    size_t len = 0;
    while (len + 1 < sizeof req) {
        ssize_t n = ax_stream_read(st, req + len, sizeof req - 1 - len, ax_deadline_in_ms(10000));
        if (n <= 0) return;
        len += (size_t)n;
        req[len] = 0;
        if (strstr(req, "\r\n\r\n")) break;
    }
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n"
                               "\r\nhello";
    ax_stream_write_all(st, resp, sizeof resp - 1, ax_deadline_in_ms(10000));
}

static void *srv_conn(void *arg) {
    void **a = arg;
    tls_srv *s = a[0];
    ax_tcp *c = a[1];
    free(a);
    ax_tls *t;
    int err = ax_tls_server(s->cfg, ax_tcp_stream(c), &t);
    if (err) return NULL;
    err = ax_tls_handshake(t, ax_deadline_in_ms(20000));
    pthread_mutex_lock(&s->mu);
    s->last_err = err;
    snprintf(s->text, sizeof s->text, "%s", ax_tls_error_text(t));
    snprintf(s->alpn, sizeof s->alpn, "%s", ax_tls_alpn(t) ? ax_tls_alpn(t) : "");
    snprintf(s->sni, sizeof s->sni, "%s", ax_tls_server_name(t) ? ax_tls_server_name(t) : "");
    snprintf(s->version, sizeof s->version, "%s", ax_tls_version(t) ? ax_tls_version(t) : "");
    s->reused = ax_tls_session_reused(t);
    if (ax_tls_peer_subject(t, s->peer, sizeof s->peer) < 0) s->peer[0] = 0;
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add(err ? &s->handshakes_failed : &s->handshakes_ok, 1);
    if (!err && s->http) srv_http(ax_tls_stream(t));
    if (!err && !s->http) {
        ax_stream *st = ax_tls_stream(t);
        for (;;) {
            ax_buf *b;
            ssize_t n = ax_stream_read_buf(st, &b, 65536, ax_deadline_in_ms(30000));
            if (n <= 0) break;
            int w = ax_stream_write_all(st, ax_buf_data(b), (size_t)n, ax_deadline_in_ms(30000));
            ax_buf_unref(b);
            if (w) break;
        }
    }
    if (!err) ax_stream_shutdown(ax_tls_stream(t), ax_deadline_in_ms(5000));
    ax_tls_close(t);
    return NULL;
}

static void *srv_accept(void *arg) {
    tls_srv *s = arg;
    ax_task **tasks = calloc((size_t)s->conns, sizeof *tasks);
    int n = 0;
    for (; n < s->conns; n++) {
        ax_tcp *c;
        if (ax_tcp_accept(s->l, &c, NULL, ax_deadline_in_ms(30000))) break;
        void **a = malloc(2 * sizeof *a);
        a[0] = s;
        a[1] = c;
        if (ax_spawn(&tasks[n], srv_conn, a)) {
            free(a);
            ax_tcp_close(c);
            break;
        }
    }
    for (int i = 0; i < n; i++) ax_join(tasks[i], NULL);
    free(tasks);
    return NULL;
}

static void *srv_listen(void *arg) {
    tls_srv *s = arg;
    s->l = listen_loopback(AX_INET, &s->addr);
    s->port = s->addr.port;
    return NULL;
}

/* Starts a server taking `conns` connections with cfg (the server takes
 * the config reference). */
static inline tls_srv *srv_start_ex(ax_tls_config *cfg, int conns, bool http) {
    tls_srv *s = calloc(1, sizeof *s);
    s->cfg = cfg;
    s->conns = conns;
    s->http = http;
    pthread_mutex_init(&s->mu, NULL);
    cr_assert_eq(ax_run(rt, srv_listen, s, NULL), 0);
    cr_assert_eq(ax_spawn_on(rt, &s->task, srv_accept, s), 0);
    return s;
}

static inline tls_srv *srv_start(ax_tls_config *cfg, int conns) {
    return srv_start_ex(cfg, conns, false);
}

/* Waits for the accept task (all its connections ended). Idempotent. */
static inline void srv_wait(tls_srv *s) {
    if (!s->task) return;
    ax_join_future jf;
    ax_join_future_init(&jf, s->task);
    ax_block_on(rt, &jf.base);
    s->task = NULL;
}

static void *srv_close_listener(void *arg) {
    ax_tcp_listener_close(arg);
    return NULL;
}

/* srv_wait, then frees the server, its config reference and listener. */
static inline void srv_finish(tls_srv *s) {
    srv_wait(s);
    ax_run(rt, srv_close_listener, s->l, NULL);
    ax_tls_config_free(s->cfg);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* --- an Axon client -------------------------------------------------------------- */

/* Connects to 127.0.0.1:port with cfg for server_name. Returns the
 * handshake's result; *out is the connection whenever the TCP connect
 * worked (the caller closes it), NULL otherwise. */
static inline const char *tls_text(const ax_tls *t) {
    return t ? ax_tls_error_text(t) : "(no connection)";
}

static inline int client_connect(ax_tls_config *cfg, const char *server_name, uint16_t port,
                                 ax_tls **out) {
    *out = NULL;
    ax_addr a = ax_addr_loopback(AX_INET, port);
    ax_tcp *c;
    int err = ax_tcp_connect(&a, ax_deadline_in_ms(10000), &c);
    if (err) return err;
    ax_tls *t;
    if ((err = ax_tls_client(cfg, ax_tcp_stream(c), server_name, &t))) return err;
    err = ax_tls_handshake(t, ax_deadline_in_ms(20000));
    *out = t;
    return err;
}

/* --- external peers ------------------------------------------------------------- */

typedef struct peer {
    pid_t pid;
    int in;  /* its stdin (write end), -1 once closed */
    int out; /* its stdout and stderr (read end) */
} peer;

/* Runs argv with stdin and stdout/stderr on pipes. */
static inline peer peer_start(char *const argv[]) {
    int pin[2], pout[2];
    cr_assert_eq(ax__pipe(pin, 0), 0);
    cr_assert_eq(ax__pipe(pout, 0), 0);
    peer p = {fork(), pin[1], pout[0]};
    cr_assert_geq(p.pid, 0);
    if (p.pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        dup2(pout[1], 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    signal(SIGPIPE, SIG_IGN);
    return p;
}

/* Reads the peer's output until `want` appears (returns true) or it ends
 * (false). out keeps everything read (cap bytes, NUL-terminated). */
static inline bool peer_expect(peer *p, const char *want, char *out, size_t cap, size_t *len) {
    for (;;) {
        out[*len] = 0;
        if (want && strstr(out, want)) return true;
        if (*len + 1 >= cap) return false;
        ssize_t n = read(p->out, out + *len, cap - 1 - *len);
        if (n <= 0) return false;
        *len += (size_t)n;
    }
}

/* Reads everything until the peer closes its output, then reaps it;
 * returns its exit status. */
static inline int peer_finish(peer *p, char *out, size_t cap, size_t *len) {
    if (p->in >= 0) close(p->in);
    p->in = -1;
    peer_expect(p, NULL, out, cap, len);
    close(p->out);
    int st;
    cr_assert_eq(waitpid(p->pid, &st, 0), p->pid);
    return st;
}

static inline void peer_kill(peer *p) {
    kill(p->pid, SIGKILL);
    char junk[4096];
    size_t len = 0;
    peer_finish(p, junk, sizeof junk, &len);
}

#endif
