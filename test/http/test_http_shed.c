/* Load shedding and slow clients: 503 with Retry-After past the handlers
 * in flight and past the soft connection limit, the hard connection limit,
 * slowloris connections closed soon after the header timeout (however
 * late their first byte), and other clients' latency unaffected by them. */
#include <pthread.h>

#include "test/http/http_util.h"

static ax_http_shed_opts shed;

/* 16 KiB, starting with the id: far more than write_buffer_limit. */
static int h_blob(ax_http_req *req, ax_http_res *res, void *u) {
    ax_http_str id;
    ax_http_req_param(req, "id", &id);
    char *body = malloc(16384);
    memset(body, 'x', 16384);
    memcpy(body, id.ptr, id.len < 16 ? id.len : 16);
    body[16] = '\n';
    int err = ax_http_res_send(res, 200, "text/plain", body, 16384);
    free(body);
    return err;
}

static void *shed_start_task(void *arg) {
    cr_assert_eq(ax_http_router_new(&router), 0);
    ax_http_router_add(router, "GET", "/", h_hello, NULL);
    ax_http_router_add(router, "GET", "/sleep/:ms", h_sleep, NULL);
    ax_http_router_add(router, "GET", "/blob/:id", h_blob, NULL);
    cr_assert_eq(ax_http_server_new(&srv, &srv_opts, ax_http_router_handler, router), 0);
    cr_assert_eq(ax_http_server_enable_metrics(srv), 0);
    cr_assert_eq(ax_http_server_set_shed(srv, &shed), 0);
    ax_addr a = ax_addr_loopback(AX_INET, 0);
    cr_assert_eq(ax_http_server_listen(srv, &a), 0);
    cr_assert_eq(ax_http_server_set_shed(srv, &shed), AX_EBUSY);
    ax_addr bound;
    ax_http_server_addr(srv, &bound);
    srv_port = bound.port;
    return NULL;
}

static int shed_workers = 2;
static void shed_up(void) {
    rt_with(shed_workers);
    cr_assert_eq(ax_run(rt, shed_start_task, NULL, NULL), 0);
}

static void up_inflight(void) {
    ax_http_server_opts_init(&srv_opts);
    shed = (ax_http_shed_opts){.max_inflight = 2, .retry_after_s = 3};
    shed_up();
}
static void up_soft(void) {
    ax_http_server_opts_init(&srv_opts);
    shed = (ax_http_shed_opts){.soft_connections = 2};
    shed_up();
}
static void up_hard(void) {
    ax_http_server_opts_init(&srv_opts);
    srv_opts.max_connections = 2;
    shed = (ax_http_shed_opts){0};
    shed_up();
}
static void up_slow(void) {
    ax_http_server_opts_init(&srv_opts);
    srv_opts.header_timeout_ms = 1000;
    shed = (ax_http_shed_opts){0};
    shed_up();
}

static void up_wbuf(void) {
    ax_http_server_opts_init(&srv_opts);
    srv_opts.write_buffer_limit = 1024;
    shed = (ax_http_shed_opts){0};
    shed_up();
}

TestSuite(http_shed, .fini = srv_down, .timeout = 60);

static void wait_inflight(size_t n) {
    ax_http_metrics m;
    for (int i = 0; i < 500; i++) {
        ax_http_server_metrics(srv, &m);
        if (m.handlers_inflight == n) return;
        usleep(2000);
    }
    cr_assert_fail("handlers in flight: %llu, want %zu", (unsigned long long)m.handlers_inflight,
                   n);
}

/* Reads the next response on c and asserts its status. */
static void read_expect(cli_conn *c, int status) {
    cli_res r;
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, status);
    cli_res_free(&r);
}

/* GET / on c, expecting status. */
static void get_expect(cli_conn *c, int status) {
    cli_sends(c->fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    read_expect(c, status);
}

/* Two connections the server has accepted, then a third past them. */
static void open_three(cli_conn **a, cli_conn **b, cli_conn **c) {
    *a = malloc(sizeof **a);
    *b = malloc(sizeof **b);
    *c = malloc(sizeof **c);
    cli_open(*a);
    cli_open(*b);
    for (int i = 0; i < 500 && ax_http_server_connections(srv) < 2; i++) usleep(2000);
    cli_open(*c);
}

static void close_three(cli_conn *a, cli_conn *b, cli_conn *c) {
    cli_conn *v[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        cli_close(v[i]);
        free(v[i]);
    }
}

Test(http_shed, busy_handlers_past_threshold_get_503, .init = up_inflight) {
    cli_conn *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    cli_open(a);
    cli_open(b);
    cli_sends(a->fd, "GET /sleep/600 HTTP/1.1\r\nHost: a\r\n\r\n");
    cli_sends(b->fd, "GET /sleep/600 HTTP/1.1\r\nHost: a\r\n\r\n");
    wait_inflight(2);
    cli_res r;
    cr_assert_eq(one_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r), 503);
    cr_assert(strstr(r.head, "Retry-After: 3\r\n"), "%s", r.head);
    cr_assert_not(r.keep_alive);
    cli_res_free(&r);
    /* The busy ones finish normally; then there is room again. */
    read_expect(a, 200);
    read_expect(b, 200);
    wait_inflight(0);
    cr_assert_eq(one_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cli_res_free(&r);
    ax_http_metrics m;
    ax_http_server_metrics(srv, &m);
    cr_assert_eq(m.shed_requests, 1);
    cli_close(a);
    cli_close(b);
    free(a);
    free(b);
}

Test(http_shed, connections_past_soft_limit_get_503, .init = up_soft) {
    cli_conn *a, *b, *c;
    open_three(&a, &b, &c);
    cli_res r;
    cli_sends(c->fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 503);
    cr_assert(strstr(r.head, "Retry-After: 1\r\n"), "%s", r.head);
    cli_res_free(&r);
    cr_assert(cli_closed(c));
    /* The connections under the limit are served. */
    get_expect(a, 200);
    get_expect(b, 200);
    close_three(a, b, c);
}

Test(http_shed, connections_past_max_are_closed_at_once, .init = up_hard) {
    cli_conn *a, *b, *c;
    open_three(&a, &b, &c);
    double t0 = now_s();
    cr_assert(cli_closed(c));
    cr_assert_lt(now_s() - t0, 5.0); /* not by a timeout */
    ax_http_metrics m;
    ax_http_server_metrics(srv, &m);
    cr_assert_eq(m.connections_refused, 1);
    get_expect(a, 200);
    close_three(a, b, c);
}

/* A client that pipelines without reading: past write_buffer_limit the
 * server does not queue more output, its handler waits on the write; once
 * the client reads, every response arrives, in order. */
Test(http_shed, write_buffer_limit_holds_the_handler, .init = up_wbuf) {
    enum { N = 1000 }; /* 16 MiB of responses: more than the kernel buffers */
    int fd = ax__socket(AF_INET, SOCK_STREAM, 0, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(srv_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[64];
    static char burst[N * 48];
    size_t len = 0;
    for (int i = 0; i < N; i++) {
        int n = snprintf(req, sizeof req, "GET /blob/%d HTTP/1.1\r\nHost: a\r\n\r\n", i);
        memcpy(burst + len, req, (size_t)n);
        len += (size_t)n;
    }
    cli_send(fd, burst, len);
    wait_inflight(1); /* a handler waits for the client */
    usleep(100000);
    ax_http_metrics m;
    ax_http_server_metrics(srv, &m);
    cr_assert_eq(m.handlers_inflight, 1);
    cr_assert_lt(m.requests, N, "all %llu answered without a reader",
                 (unsigned long long)m.requests);
    cli_conn *c = malloc(sizeof *c);
    c->fd = fd;
    c->len = 0;
    for (int i = 0; i < N; i++) {
        cli_res r;
        cr_assert_eq(cli_read_res(c, &r, false), 0, "response %d", i);
        cr_assert_eq(r.status, 200);
        char want[32];
        int n = snprintf(want, sizeof want, "%d", i);
        cr_assert_eq(r.body_len, 16384);
        cr_assert(memcmp(r.body, want, (size_t)n) == 0 && r.body[n] == 'x', "response %d", i);
        cli_res_free(&r);
    }
    cli_close(c);
    free(c);
}

/* A slowloris: connects, waits first_ms, then sends a head one byte every
 * 100 ms, never finishing it; returns the seconds from connect until the
 * server closed the connection, and whether it answered 408. */
static double slowloris(int first_ms, bool *got_408) {
    int fd = cli_connect();
    double t0 = now_s();
    struct timeval tv = {0, 20000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    usleep((useconds_t)first_ms * 1000);
    const char *head =
        "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char buf[512];
    size_t got = 0;
    for (size_t i = 0; now_s() - t0 < 5.0; i++) {
        if (i < strlen(head)) send(fd, head + i, 1, MSG_NOSIGNAL);
        double next = now_s() + 0.1;
        while (now_s() < next) {
            ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (n > 0) got += (size_t)n;
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                double t = now_s() - t0;
                buf[got] = 0;
                *got_408 = strstr(buf, "HTTP/1.1 408 ") == buf;
                close(fd);
                return t;
            }
        }
    }
    close(fd);
    return 99;
}

Test(http_shed, slowloris_closed_soon_after_header_timeout, .init = up_slow) {
    bool got;
    double t = slowloris(0, &got);
    cr_assert(t >= 0.9 && t <= 1.5, "closed after %.3f s (header timeout 1 s)", t);
    cr_assert(got, "no 408");
    /* A first byte sent late does not restart the clock. */
    t = slowloris(800, &got);
    cr_assert(t >= 0.9 && t <= 1.5, "closed after %.3f s (header timeout 1 s)", t);
}

/* --- latency under attack ------------------------------------------------- */

typedef struct attack {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool active, stop;
    int fds[64];
    int n;
} attack;

/* Keeps n slow connections trickling a head while active (replacing those
 * the server closes); closes them all when inactive. */
static void *attack_thread(void *arg) {
    attack *a = arg;
    int pos[64] = {0};
    const char *head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: "
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (;;) {
        pthread_mutex_lock(&a->lock);
        bool stop = a->stop, active = a->active;
        pthread_mutex_unlock(&a->lock);
        if (stop) break;
        for (int i = 0; i < a->n; i++) {
            if (!active) {
                if (a->fds[i] >= 0) close(a->fds[i]);
                a->fds[i] = -1;
                continue;
            }
            if (a->fds[i] < 0) {
                a->fds[i] = cli_connect();
                pos[i] = 0;
            }
            char c = head[pos[i]++ % (int)strlen(head)];
            if (send(a->fds[i], &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
                close(a->fds[i]);
                a->fds[i] = -1; /* closed by the server: reconnect next round */
            }
        }
        usleep(20000);
    }
    for (int i = 0; i < a->n; i++)
        if (a->fds[i] >= 0) close(a->fds[i]);
    return NULL;
}

static int cmp_d(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double median(double *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_d);
    return v[n / 2];
}

/* One request's round trip on c, in seconds. */
static double rtt(cli_conn *c) {
    cli_res r;
    double t0 = now_s();
    cli_sends(c->fd, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    double t = now_s() - t0;
    cr_assert_eq(r.status, 200);
    cli_res_free(&r);
    return t;
}

/* One worker: a slow connection that held a worker would show at once. */
static void up_slow_one_worker(void) {
    shed_workers = 1;
    up_slow();
    shed_workers = 2;
}

/* One measurement: the median paced round trip with the slow clients
 * idle and with them trickling, phases alternating so that machine noise
 * hits both alike. Returns attacked / normal. */
static double slowloris_ratio(attack *a, cli_conn *c) {
    enum { ROUNDS = 6, PER = 150 };
    static double normal[ROUNDS * PER], attacked[ROUNDS * PER];
    size_t nn = 0, na = 0;
    for (int round = 0; round < ROUNDS; round++) {
        for (int phase = 0; phase < 2; phase++) {
            bool on = (round + phase) % 2 == 1;
            pthread_mutex_lock(&a->lock);
            a->active = on;
            pthread_mutex_unlock(&a->lock);
            usleep(60000); /* let the phase settle: slow connections open, or gone */
            /* Paced, one request a millisecond: a stall of the server
             * shows in as many samples as it lasts, so the median
             * sees it (back-to-back samples would mostly fall after
             * it). */
            for (int i = 0; i < PER; i++) {
                usleep(1000);
                double t = rtt(c);
                if (on)
                    attacked[na++] = t;
                else
                    normal[nn++] = t;
            }
        }
    }
    double mn = median(normal, nn), ma = median(attacked, na);
    cr_log_info("median latency: normal %.1f us, with 48 slow clients %.1f us (%.2fx)", mn * 1e6,
                ma * 1e6, ma / mn);
    return ma / mn;
}

Test(http_shed, slowloris_does_not_slow_other_clients, .init = up_slow_one_worker) {
    attack *a = calloc(1, sizeof *a);
    pthread_mutex_init(&a->lock, NULL);
    a->n = 48;
    for (int i = 0; i < a->n; i++) a->fds[i] = -1;
    pthread_t th;
    pthread_create(&th, NULL, attack_thread, a);
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    for (int i = 0; i < 50; i++) rtt(c); /* warm up */
    /* Up to five measurements, passing on the first within 20%: on this
     * shared 2-core machine a burst of other load can skew one of them
     * (under qemu, with a parallel test beside it, three in a row measured
     * 1.2x once, while alone it measured 0.75-1.16x in 6 of 6 runs), while
     * a server that stalls on slow clients fails every one (a 3 ms stall
     * per partial read measured 1.6x). */
    enum { TRIES = 5 };
    double ratio = 0;
    for (int attempt = 0; attempt < TRIES; attempt++)
        if ((ratio = slowloris_ratio(a, c)) <= 1.2) break;
    pthread_mutex_lock(&a->lock);
    a->stop = true;
    pthread_mutex_unlock(&a->lock);
    pthread_join(th, NULL);
    cr_assert_leq(ratio, 1.2, "median latency %.2fx with slow clients, in each of %d tries", ratio,
                  TRIES);
    cli_close(c);
    free(c);
    free(a);
}
