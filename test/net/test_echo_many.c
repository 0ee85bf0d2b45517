/* 10,000 connections open at once to the echo example (a separate
 * process: each side holds 10,000 descriptors and the hard limit here is
 * 20,000), each moving 64 KiB both ways with every byte checked; half over
 * IPv4, half over IPv6. Then SIGTERM, and the server must exit cleanly.
 * And, on every OS (Windows included, where the example's process and
 * signal handling do not apply): 1,000 connections to an echo server
 * running as tasks in this process, the same checks. */
#include <signal.h>
#include <stdatomic.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "test/net/net_util.h"
#include "test/sanitizers.h"

#define CONNS 10000
#define BYTES (64 * 1024)
#define CHUNK (16 * 1024)

TestSuite(echo_many, .init = rt_two, .fini = rt_done, .timeout = 120);

#ifndef _WIN32
#include "test/examples_util.h"

static pid_t server_pid;

/* Starts build/examples/echo --port 0 and returns the port it printed. */
static uint16_t start_echo_server(void) {
    static const char *const args[] = {"--port", "0", "--workers", "2", NULL};
    int fd;
    server_pid = example_spawn("echo", args, &fd);
    char line[256];
    size_t len = 0;
    while (len + 1 < sizeof line) {
        ssize_t n = read(fd, line + len, 1);
        if (n <= 0 || line[len] == '\n') break;
        len++;
    }
    line[len] = 0;
    close(fd);
    const char *colon = strrchr(line, ':');
    cr_assert(strncmp(line, "listening on ", 13) == 0 && colon, "server said: %s", line);
    return (uint16_t)atoi(colon + 1);
}

static int stop_echo_server(void) {
    kill(server_pid, SIGTERM);
    int st;
    cr_assert_eq(waitpid(server_pid, &st, 0), server_pid);
    return st;
}
#endif

struct shared {
    uint16_t port;
    unsigned conns;
    bool v4_only;            /* the in-process server listens on 127.0.0.1 only */
    ax_semaphore connecting; /* bounds connects in flight: the backlog is finite */
    ax_barrier all_open;
    _Atomic unsigned ok, failed;
    _Atomic int first_err;
};

static uint8_t pattern_byte(unsigned conn, size_t i) {
    return (uint8_t)(conn * 31u + i * 7u + (i >> 9));
}

static void *client(void *arg) {
    struct shared *sh = arg;
    unsigned id = (unsigned)(ax_current_task_id() % 1000003u);
    ax_addr a = loopback(id % 2 && !sh->v4_only ? AX_INET6 : AX_INET, sh->port);
    ax_tcp *c = NULL;
    int err = ax_semaphore_acquire(&sh->connecting, 1, AX_NO_DEADLINE);
    if (!err) {
        err = ax_tcp_connect(&a, ax_deadline_in_ms(60000), &c);
        ax_semaphore_release(&sh->connecting, 1);
    }
    /* Everyone waits here, connected or not, so all are open at once. */
    int werr = ax_barrier_wait(&sh->all_open, ax_deadline_in_ms(90000));
    if (!err && werr < 0) err = werr;
    uint8_t out[CHUNK], in[CHUNK];
    for (size_t off = 0; !err && off < BYTES; off += CHUNK) {
        for (size_t i = 0; i < CHUNK; i++) out[i] = pattern_byte(id, off + i);
        err = ax_tcp_write_all(c, out, CHUNK, ax_deadline_in_ms(60000));
        if (!err) err = ax_tcp_read_exact(c, in, CHUNK, ax_deadline_in_ms(60000));
        if (!err && memcmp(in, out, CHUNK) != 0) err = AX_EPROTO;
    }
    if (err) {
        int zero = 0;
        atomic_compare_exchange_strong(&sh->first_err, &zero, err);
        atomic_fetch_add(&sh->failed, 1);
    } else {
        atomic_fetch_add(&sh->ok, 1);
    }
    ax_tcp_close(c);
    return NULL;
}

static void *many(void *arg) {
    struct shared *sh = arg;
    ax_scope scope;
    ax_scope_init(&scope);
    for (unsigned i = 0; i < sh->conns; i++)
        cr_assert_eq(ax_scope_spawn(&scope, NULL, client, sh), 0);
    ax_scope_join(&scope);
    return NULL;
}

Test(echo_many, ten_thousand_connections_64k_each_way) {
    AX_WIN_SKIP(AX_WIN_NO_FORK);
#ifndef _WIN32
    cr_assert_geq(raise_nofile(), 2 * CONNS / 2 + 100, "descriptor limit too low");
    struct shared sh = {0};
    /* Emulation (qemu) and TSan are 10-50x slower; they check the same
     * paths with fewer connections, so the suite stays within minutes. */
    const char *wrap = getenv("AXON_EXAMPLES_WRAPPER");
    sh.conns = (wrap && *wrap) || AX_TEST_TSAN ? 1000 : CONNS;
    sh.port = start_echo_server();
    ax_semaphore_init(&sh.connecting, 256);
    ax_barrier_init(&sh.all_open, sh.conns);
    run_task(many, &sh);
    int st = stop_echo_server();
    cr_assert_eq(sh.ok, sh.conns, "%u of %u failed, first error %s", sh.failed, sh.conns,
                 ax_err_name(sh.first_err));
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo exited with status %d", st);
#endif
}

/* --- the same against an echo server in this process ------------------------- */

#define LOCAL_CONNS 1000

struct local_server {
    ax_tcp_listener *l;
    ax_scope handlers;
};

static void *echo_conn(void *arg) {
    ax_tcp *c = arg;
    char buf[CHUNK];
    for (;;) {
        ssize_t n = ax_tcp_read(c, buf, sizeof buf, ax_deadline_in_ms(60000));
        if (n <= 0 || ax_tcp_write_all(c, buf, (size_t)n, ax_deadline_in_ms(60000)) != 0) break;
    }
    ax_tcp_close(c);
    return NULL;
}

/* Accepts until cancelled; each connection gets a handler task. */
static void *echo_accept_loop(void *arg) {
    struct local_server *srv = arg;
    for (;;) {
        ax_tcp *c;
        int err = ax_tcp_accept(srv->l, &c, NULL, AX_NO_DEADLINE);
        if (err == AX_ECANCELED) break;
        cr_assert_eq(err, 0, "accept: %s", ax_err_name(err));
        cr_assert_eq(ax_scope_spawn(&srv->handlers, NULL, echo_conn, c), 0);
    }
    return NULL;
}

static void *local_many(void *arg) {
    struct shared *sh = arg;
    struct local_server srv;
    ax_addr a = loopback(AX_INET, 0), bound;
    cr_assert_eq(ax_tcp_listen(&a, NULL, &srv.l), 0);
    cr_assert_eq(ax_tcp_listener_addr(srv.l, &bound), 0);
    sh->port = bound.port;
    ax_scope_init(&srv.handlers);
    ax_task *acceptor;
    cr_assert_eq(ax_spawn(&acceptor, echo_accept_loop, &srv), 0);
    many(sh);
    ax_abort(acceptor); /* cancels the pending accept */
    ax_join(acceptor, NULL);
    ax_scope_join(&srv.handlers); /* the clients closed: every handler ends */
    ax_tcp_listener_close(srv.l);
    return NULL;
}

Test(echo_many, thousand_connections_to_an_in_process_server) {
    struct shared sh = {0};
    sh.conns = LOCAL_CONNS;
    sh.v4_only = true;
    ax_semaphore_init(&sh.connecting, 256);
    ax_barrier_init(&sh.all_open, sh.conns);
    run_task(local_many, &sh);
    cr_assert_eq(sh.ok, sh.conns, "%u of %u failed, first error %s", sh.failed, sh.conns,
                 ax_err_name(sh.first_err));
}
