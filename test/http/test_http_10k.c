/* 10,000 concurrent keep-alive connections against one server, from a
 * client in a separate process (the open-file hard limit, 20,000, cannot
 * hold both ends in one): every connection is answered and stays open at
 * once, idle connections hold no task, connections past the shedding
 * threshold get 503 with Retry-After, failing handlers get 500 on live
 * connections, and every connection still answers a second round. */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "test/http/http_util.h"

enum { CONNS = 10000, EXTRA = 20, BATCH = 250 };

/* --- the client process (plain libc: it runs after fork) ---------------------- */

static int k_connect(uint16_t port) {
    int fd = ax__socket(AF_INET, SOCK_STREAM, 0, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static bool k_send(int fd, const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0) return false;
        s += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one response (Content-Length framed); returns its status, 0 at EOF
 * before one, -1 on error. *closing: it said Connection: close. */
static int k_read(int fd, bool *closing, char *retry_after) {
    char buf[2048];
    size_t len = 0;
    char *end = NULL;
    while (!end) {
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n == 0 && len == 0) return 0;
        if (n <= 0) return -1;
        len += (size_t)n;
        buf[len] = 0;
        end = strstr(buf, "\r\n\r\n");
        if (!end && len == sizeof buf - 1) return -1;
    }
    const char *cl = strstr(buf, "Content-Length: ");
    if (!cl || cl > end) return -1;
    size_t body = (size_t)atol(cl + 16), have = len - (size_t)(end + 4 - buf);
    if (closing) *closing = strstr(buf, "Connection: close\r\n") != NULL;
    if (retry_after) {
        const char *ra = strstr(buf, "Retry-After: ");
        retry_after[0] = 0;
        if (ra && ra < end) sscanf(ra + 13, "%15[0-9]", retry_after);
    }
    int status = atoi(buf + 9);
    while (have < body) {
        char sink[512];
        size_t want = body - have < sizeof sink ? body - have : sizeof sink;
        ssize_t n = recv(fd, sink, want, 0);
        if (n <= 0) return -1;
        have += (size_t)n;
    }
    return status;
}

/* Lines to the parent: "<what> <n>\n"; the parent answers "go\n". */
static void k_say(int ctl, const char *what, long n) {
    char line[64];
    int l = snprintf(line, sizeof line, "%s %ld\n", what, n);
    if (write(ctl, line, (size_t)l) != l) _exit(3);
    char go[3];
    if (read(ctl, go, 3) != 3) _exit(4);
}

static int client_main(int ctl) {
    uint16_t port;
    if (read(ctl, &port, sizeof port) != sizeof port) return 2;
    static int fds[CONNS + EXTRA];
    const char *get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    long ok = 0;
    /* Round 1, in batches (so the accept queue never overflows): connect,
     * send, read; every connection stays open. */
    for (int b = 0; b < CONNS; b += BATCH) {
        int e = b + BATCH < CONNS ? b + BATCH : CONNS;
        for (int i = b; i < e; i++)
            if ((fds[i] = k_connect(port)) < 0) return 10;
        for (int i = b; i < e; i++)
            if (!k_send(fds[i], get)) return 11;
        for (int i = b; i < e; i++) {
            bool closing = true;
            if (k_read(fds[i], &closing, NULL) == 200 && !closing) ok++;
        }
    }
    k_say(ctl, "round1", ok);
    /* Past the threshold: 503 with Retry-After, then closed. */
    long shed = 0;
    for (int i = CONNS; i < CONNS + EXTRA; i++) {
        if ((fds[i] = k_connect(port)) < 0) continue; /* refused outright also sheds */
        char ra[16];
        bool closing = false;
        if (k_send(fds[i], get) && k_read(fds[i], &closing, ra) == 503 && closing &&
            strcmp(ra, "1") == 0 && k_read(fds[i], NULL, NULL) == 0)
            shed++;
        close(fds[i]);
    }
    k_say(ctl, "shed", shed);
    /* Failing handlers on live connections: 500, and the connection goes on. */
    long fail = 0;
    for (int i = 0; i < 10; i++) {
        int fd = fds[i * (CONNS / 10)];
        bool closing = true;
        if (k_send(fd, "GET /fail HTTP/1.1\r\nHost: a\r\n\r\n") &&
            k_read(fd, &closing, NULL) == 500 && !closing &&
            k_send(fd, "GET /no-answer HTTP/1.1\r\nHost: a\r\n\r\n") &&
            k_read(fd, &closing, NULL) == 500 && !closing)
            fail++;
    }
    k_say(ctl, "fail", fail);
    /* Round 2 on every connection. */
    ok = 0;
    for (int b = 0; b < CONNS; b += BATCH) {
        int e = b + BATCH < CONNS ? b + BATCH : CONNS;
        for (int i = b; i < e; i++)
            if (!k_send(fds[i], get)) return 12;
        for (int i = b; i < e; i++)
            if (k_read(fds[i], NULL, NULL) == 200) ok++;
    }
    for (int i = 0; i < CONNS; i++) close(fds[i]);
    k_say(ctl, "round2", ok);
    return 0;
}

/* --- the server (this process) ---------------------------------------------- */

static int h_no_answer(ax_http_req *req, ax_http_res *res, void *u) {
    return 0;
}

static void *start_10k(void *arg) {
    cr_assert_eq(ax_http_router_new(&router), 0);
    ax_http_router_add(router, "GET", "/", h_hello, NULL);
    ax_http_router_add(router, "GET", "/fail", h_fail, NULL);
    ax_http_router_add(router, "GET", "/no-answer", h_no_answer, NULL);
    ax_http_server_opts_init(&srv_opts);
    srv_opts.max_connections = CONNS + 2 * EXTRA;
    cr_assert_eq(ax_http_server_new(&srv, &srv_opts, ax_http_router_handler, router), 0);
    ax_http_shed_opts so = {.soft_connections = CONNS};
    cr_assert_eq(ax_http_server_set_shed(srv, &so), 0);
    cr_assert_eq(ax_http_server_enable_metrics(srv), 0);
    ax_addr a = ax_addr_loopback(AX_INET, 0);
    cr_assert_eq(ax_http_server_listen(srv, &a), 0);
    ax_addr bound;
    ax_http_server_addr(srv, &bound);
    srv_port = bound.port;
    return NULL;
}

/* Reads "<what> <n>" from the client; returns n. */
static long hear(FILE *in, const char *what) {
    char w[32];
    long n;
    cr_assert_eq(fscanf(in, "%31s %ld", w, &n), 2, "the client stopped before %s", what);
    cr_assert_str_eq(w, what);
    return n;
}

static void go(int ctl) {
    cr_assert_eq(write(ctl, "go\n", 3), 3);
}

TestSuite(http_10k, .timeout = 180);

Test(http_10k, ten_thousand_keep_alive_connections) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < CONNS + 2 * EXTRA + 200)
        cr_skip_test("the open-file hard limit (%llu) is too low", (unsigned long long)rl.rlim_max);
    rl.rlim_cur = rl.rlim_max;
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    int sv[2];
    cr_assert_eq(ax__socketpair(AF_UNIX, SOCK_STREAM, 0, sv, 0), 0);
    /* Fork before the runtime's threads exist: the child is a plain
     * single-threaded client. */
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(sv[0]);
        _exit(client_main(sv[1]));
    }
    close(sv[1]);
    rt_two();
    cr_assert_eq(ax_run(rt, start_10k, NULL, NULL), 0);
    cr_assert_eq(write(sv[0], &srv_port, sizeof srv_port), (ssize_t)sizeof srv_port);
    FILE *in = fdopen(dup(sv[0]), "r");
    double t0 = now_s();
    long ok = hear(in, "round1");
    double t1 = now_s();
    cr_assert_eq(ok, CONNS, "%ld of %d answered and kept alive", ok, CONNS);
    cr_assert_eq(ax_http_server_connections(srv), CONNS);
    /* Idle keep-alive connections hold no task. */
    cr_assert_lt(tasks_alive(), 100, "%llu tasks alive", (unsigned long long)tasks_alive());
    go(sv[0]);
    cr_assert_eq(hear(in, "shed"), EXTRA);
    go(sv[0]);
    cr_assert_eq(hear(in, "fail"), 10);
    go(sv[0]);
    cr_assert_eq(hear(in, "round2"), CONNS);
    go(sv[0]);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client status %d", status);
    fclose(in);
    close(sv[0]);
    ax_http_metrics m;
    ax_http_server_metrics(srv, &m);
    cr_assert_eq(m.status_class[2], 2 * CONNS);
    cr_assert_eq(m.status_class[5], 20 + EXTRA);
    cr_assert_eq(m.shed_requests, EXTRA);
    cr_log_info("10,000 connections: round 1 in %.2f s", t1 - t0);
    for (int i = 0; i < 1000 && ax_http_server_connections(srv) > 0; i++) usleep(10000);
    cr_assert_eq(ax_http_server_connections(srv), 0);
    srv_down();
}
