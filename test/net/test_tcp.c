/* TCP over real loopback sockets, IPv4 and IPv6: transfers, errors,
 * deadlines, cancellation, backpressure, Happy Eyeballs and the policy. */
#include <errno.h>
#include <signal.h>

#include "test/net/net_util.h"
#include "test/os_compat.h"
#include "test/started.h"

TestSuite(tcp, .init = rt_two, .fini = rt_done, .timeout = 30);

/* --- a round trip ---------------------------------------------------------------- */

struct pair {
    ax_tcp_listener *l;
    ax_addr addr;
    ax_tcp *server;
};

static void *accept_one(void *arg) {
    struct pair *p = arg;
    ax_addr peer;
    int err = ax_tcp_accept(p->l, &p->server, &peer, ax_deadline_in_ms(5000));
    return (void *)(intptr_t)err;
}

/* Connects a client to a fresh listener of family f; *server gets the
 * accepted side. */
static ax_tcp *connect_pair(ax_family f, ax_tcp **server) {
    struct pair p = {0};
    p.l = listen_loopback(f, &p.addr);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, accept_one, &p), 0);
    ax_tcp *c;
    int err = ax_tcp_connect(&p.addr, ax_deadline_in_ms(5000), &c);
    cr_assert_eq(err, 0, "connect: %s", ax_strerror(err));
    void *res;
    cr_assert_eq(ax_join(t, &res), 0);
    cr_assert_eq((intptr_t)res, 0);
    ax_tcp_listener_close(p.l);
    *server = p.server;
    return c;
}

static void *echo_once(void *arg) {
    ax_tcp *s = arg;
    char buf[4096];
    for (;;) {
        ssize_t n = ax_tcp_read(s, buf, sizeof buf, ax_deadline_in_ms(5000));
        if (n <= 0) return (void *)(intptr_t)n;
        if (ax_tcp_write_all(s, buf, (size_t)n, ax_deadline_in_ms(5000))) return (void *)-1;
    }
}

static void *round_trip(void *arg) {
    ax_family f = (ax_family)(intptr_t)arg;
    ax_tcp *server;
    ax_tcp *c = connect_pair(f, &server);
    ax_addr local, peer, slocal;
    cr_assert_eq(ax_tcp_local_addr(c, &local), 0);
    cr_assert_eq(ax_tcp_peer_addr(c, &peer), 0);
    cr_assert_eq(ax_tcp_local_addr(server, &slocal), 0);
    cr_assert(ax_addr_equal(&peer, &slocal));
    cr_assert(ax_ip_is_loopback(&local.ip));
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, echo_once, server), 0);
    static char out[200000], in[200000];
    for (size_t i = 0; i < sizeof out; i++) out[i] = (char)(i * 7 + 3);
    cr_assert_eq(ax_tcp_write_all(c, out, sizeof out, ax_deadline_in_ms(5000)), 0);
    cr_assert_eq(ax_tcp_read_exact(c, in, sizeof in, ax_deadline_in_ms(5000)), 0);
    cr_assert_eq(memcmp(in, out, sizeof in), 0);
    /* End of stream travels through the echo: shutdown, the echo sees 0. */
    cr_assert_eq(ax_tcp_shutdown(c, AX_SHUT_WR), 0);
    void *res;
    ax_join(t, &res);
    cr_assert_eq((intptr_t)res, 0);
    ax_tcp_close(server);
    cr_assert_eq(ax_tcp_read(c, in, 10, ax_deadline_in_ms(1000)), 0, "server did not close");
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, round_trip_ipv4) {
    run_task(round_trip, (void *)(intptr_t)AX_INET);
}

Test(tcp, round_trip_ipv6) {
    run_task(round_trip, (void *)(intptr_t)AX_INET6);
}

static void *stream_api(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    ax_stream *cs = ax_tcp_stream(c), *ss = ax_tcp_stream(server);
    struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
    cr_assert_eq(ax_stream_writev_all(cs, iov, 3, ax_deadline_in_ms(1000)), 0);
    char buf[8] = {0};
    struct iovec rv[2] = {{buf, 3}, {buf + 3, 3}};
    ssize_t n = ax_tcp_readv(server, rv, 2, ax_deadline_in_ms(1000));
    cr_assert_eq(n, 6);
    cr_assert_str_eq(buf, "abcdef");
    /* The read future races a timer and loses, leaving the stream usable. */
    ax_stream_io_future rf;
    ax_stream_read_future_init(&rf, ss, buf, sizeof buf);
    cr_assert_eq(ax_await_until(&rf.base, ax_deadline_in_ms(20)), AX_ETIMEDOUT);
    cr_assert_eq(ax_stream_write_all(cs, "xyz", 3, AX_NO_DEADLINE), 0);
    ax_stream_read_future_init(&rf, ss, buf, sizeof buf);
    cr_assert_eq(ax_await(&rf.base), 3);
    cr_assert_eq(ax_stream_flush(cs, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_stream_shutdown(cs, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_stream_read(ss, buf, sizeof buf, ax_deadline_in_ms(1000)), 0);
    ax_stream_close(ss); /* closes and frees the connection */
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, stream_interface_and_futures) {
    run_task(stream_api, NULL);
}

/* --- errors ------------------------------------------------------------------------- */

/* A loopback port nobody listens on, held by a bound socket that does not
 * listen, so that no test running beside this one can take it. (Closing a
 * listener and connecting to its port once raced with another test's
 * listener that got the same port: the connect succeeded, under wine.) */
static raw_sock bound_not_listening(ax_family f, ax_addr *out) {
    ax_addr a = loopback(f, 0);
    struct sockaddr_storage ss;
    socklen_t len;
    cr_assert_eq(ax_addr_to_sockaddr(&a, &ss, &len), 0);
    raw_sock s = socket(ss.ss_family, SOCK_STREAM, 0);
    cr_assert(s != (raw_sock)-1);
    cr_assert_eq(bind(s, (struct sockaddr *)&ss, len), 0);
    len = sizeof ss;
    cr_assert_eq(getsockname(s, (struct sockaddr *)&ss, &len), 0);
    cr_assert_eq(ax_addr_from_sockaddr((struct sockaddr *)&ss, len, out), 0);
    return s;
}

static void *refused(void *arg) {
    ax_family f = (ax_family)(intptr_t)arg;
    ax_addr a;
    raw_sock held = bound_not_listening(f, &a);
    ax_tcp *c;
    int err = ax_tcp_connect(&a, ax_deadline_in_ms(2000), &c);
    raw_close(held);
    cr_assert_eq(err, AX_ECONNREFUSED, "got %s (%d)", ax_err_name(err), err);
    return NULL;
}

Test(tcp, connection_refused_ipv4) {
    run_task(refused, (void *)(intptr_t)AX_INET);
}

Test(tcp, connection_refused_ipv6) {
    run_task(refused, (void *)(intptr_t)AX_INET6);
}

static void *reset(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    cr_assert_eq(ax_tcp_set_linger(server, 0), 0); /* close sends RST */
    ax_tcp_close(server);
    char buf[16];
    ssize_t n = ax_tcp_read(c, buf, sizeof buf, ax_deadline_in_ms(2000));
    cr_assert_eq(n, AX_ECONNRESET, "got %zd (%s)", n, ax_err_name((int)n));
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, reset_by_peer) {
    AX_WINE_SKIP(AX_WINE_NO_LINGER_RST);
    run_task(reset, NULL);
}

static void *half_close_server(void *arg) {
    ax_tcp *s = arg;
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while ((n = ax_tcp_read(s, buf + got, sizeof buf - got, ax_deadline_in_ms(2000))) > 0)
        got += (size_t)n;
    if (n != 0 || got != 5) return (void *)1;
    /* The client's write side is shut; ours is open: answer, then close. */
    if (ax_tcp_write_all(s, "reply", 5, ax_deadline_in_ms(2000))) return (void *)2;
    ax_tcp_close(s);
    return NULL;
}

static void *half_close(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET6, &server);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, half_close_server, server), 0);
    cr_assert_eq(ax_tcp_write_all(c, "hello", 5, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_tcp_shutdown(c, AX_SHUT_WR), 0);
    char buf[16] = {0};
    cr_assert_eq(ax_tcp_read_exact(c, buf, 5, ax_deadline_in_ms(2000)), 0);
    cr_assert_str_eq(buf, "reply");
    cr_assert_eq(ax_tcp_read(c, buf, sizeof buf, ax_deadline_in_ms(2000)), 0);
    cr_assert_eq(ax_tcp_read_exact(c, buf, 1, ax_deadline_in_ms(2000)), AX_EOF);
    void *res;
    ax_join(t, &res);
    cr_assert_null(res);
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, half_close) {
    run_task(half_close, NULL);
}

/* A listener whose accept queue is full drops further SYNs, so a connect
 * to it hangs: the way to get a connect that never answers on loopback. */
static ax_tcp_listener *blackhole(ax_family f, ax_addr *addr, raw_sock *fds, int nfds) {
    ax_tcp_listen_opts o;
    ax_tcp_listen_opts_init(&o);
    o.backlog = 1;
    ax_addr a = loopback(f, 0);
    ax_tcp_listener *l;
    cr_assert_eq(ax_tcp_listen(&a, &o, &l), 0);
    cr_assert_eq(ax_tcp_listener_addr(l, addr), 0);
    struct sockaddr_storage ss;
    socklen_t len;
    ax_addr_to_sockaddr(addr, &ss, &len);
    for (int i = 0; i < nfds; i++) {
#ifdef _WIN32
        fds[i] = socket(ss.ss_family, SOCK_STREAM, 0);
        raw_nonblocking(fds[i]);
#else
        fds[i] = ax__socket(ss.ss_family, SOCK_STREAM, 0, 1);
#endif
        connect(fds[i], (struct sockaddr *)&ss, (int)len);
    }
    ax_sleep(50); /* let the handshakes settle into the full queue */
    return l;
}

static void *connect_timeout(void *arg) {
    raw_sock fds[4];
    ax_addr a;
    ax_tcp_listener *l = blackhole(AX_INET, &a, fds, 4);
    ax_tcp *c;
    ax_instant t0 = ax_now();
    int err = ax_tcp_connect(&a, ax_deadline_in_ms(200), &c);
    uint64_t ms = (ax_now() - t0) / 1000000;
    cr_assert_eq(err, AX_ETIMEDOUT, "got %s", ax_err_name(err));
    cr_assert(ms >= 190 && ms < 2000, "took %llu ms", (unsigned long long)ms);
    for (int i = 0; i < 4; i++) raw_close(fds[i]);
    ax_tcp_listener_close(l);
    return NULL;
}

Test(tcp, connect_timeout) {
    run_task(connect_timeout, NULL);
}

struct blocked_read {
    ax_tcp *c;
    volatile int cleaned;
    ssize_t result;
};

static void on_cancel_cleanup(void *arg) {
    ((struct blocked_read *)arg)->cleaned = 1;
}

static void *blocked_reader(void *arg) {
    struct blocked_read *b = arg;
    ax_cancel_hook hook;
    ax_on_cancel(&hook, on_cancel_cleanup, b);
    char buf[16];
    b->result = ax_tcp_read(b->c, buf, sizeof buf, AX_NO_DEADLINE);
    ax_on_cancel_pop(&hook);
    return NULL;
}

static void *cancel_mid_read(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    struct blocked_read b = {c, 0, 1};
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, blocked_reader, &b), 0);
    wait_started(t);
    ax_sleep(30);
    ax_abort(t);
    ax_join(t, NULL);
    cr_assert_eq(b.result, AX_ECANCELED);
    cr_assert(b.cleaned);
    /* The connection still works for the next reader. */
    cr_assert_eq(ax_tcp_write_all(server, "ok", 2, AX_NO_DEADLINE), 0);
    char buf[4] = {0};
    cr_assert_eq(ax_tcp_read_exact(c, buf, 2, ax_deadline_in_ms(2000)), 0);
    cr_assert_str_eq(buf, "ok");
    ax_tcp_close(server);
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, cancel_in_the_middle_of_a_read) {
    run_task(cancel_mid_read, NULL);
}

static void *read_timeout(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    char buf[4];
    cr_assert_eq(ax_tcp_read(c, buf, sizeof buf, ax_deadline_in_ms(30)), AX_ETIMEDOUT);
    ax_tcp_close(server);
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, read_deadline) {
    run_task(read_timeout, NULL);
}

/* --- backpressure and partial writes ---------------------------------------------- */

struct slow_reader {
    ax_tcp *c;
    size_t total;
    int ok;
};

static void *slow_read(void *arg) {
    struct slow_reader *r = arg;
    char buf[3000];
    size_t got = 0;
    r->ok = 1;
    while (got < r->total) {
        ssize_t n = ax_tcp_read(r->c, buf, sizeof buf, ax_deadline_in_ms(10000));
        if (n <= 0) {
            r->ok = 0;
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != (char)((got + (size_t)i) % 251)) r->ok = 0;
        got += (size_t)n;
        if (got % 5 == 0) ax_yield();
    }
    return NULL;
}

static void *small_buffers(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    cr_assert_eq(ax_tcp_set_send_buffer(server, 16384), 0);
    cr_assert_eq(ax_tcp_set_recv_buffer(c, 16384), 0);
    cr_assert_geq(ax_tcp_send_buffer(server), 16384);
    size_t total = 4u << 20;
    char *data = malloc(total);
    for (size_t i = 0; i < total; i++) data[i] = (char)(i % 251);
    struct slow_reader r = {c, total, 0};
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, slow_read, &r), 0);
    /* write_all loops over partial writes; writev_all over partial writev. */
    cr_assert_eq(ax_tcp_write_all(server, data, total / 2, ax_deadline_in_ms(20000)), 0);
    struct iovec iov[64];
    size_t piece = (total / 2) / 64;
    for (int i = 0; i < 64; i++)
        iov[i] = (struct iovec){data + total / 2 + (size_t)i * piece, piece};
    cr_assert_eq(ax_stream_writev_all(ax_tcp_stream(server), iov, 64, ax_deadline_in_ms(20000)), 0);
    ax_join(t, NULL);
    cr_assert(r.ok, "bytes arrived wrong or short");
    free(data);
    ax_tcp_close(server);
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, partial_writes_with_small_socket_buffers) {
    run_task(small_buffers, NULL);
}

static void *peer_vanishes(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    ax_tcp_close(c);
    static char chunk[65536];
    int err = 0;
    /* The first writes may land in the kernel; the RST turns later ones
     * into EPIPE / ECONNRESET. A SIGPIPE would kill the test process. */
    for (int i = 0; i < 1000 && !err; i++)
        err = ax_tcp_write_all(server, chunk, sizeof chunk, ax_deadline_in_ms(2000));
    cr_assert(err == AX_EPIPE || err == AX_ECONNRESET, "got %s", ax_err_name(err));
    ax_tcp_close(server);
    return NULL;
}

Test(tcp, peer_vanishing_mid_write_gives_epipe_not_sigpipe) {
#ifdef SIGPIPE                /* Windows has none: nothing to make fatal */
    signal(SIGPIPE, SIG_DFL); /* make sure a SIGPIPE would be fatal */
#endif
    run_task(peer_vanishes, NULL);
}

/* A client that never reads while the server tries to send 1 GiB through
 * a buffered writer: the sender blocks once the kernel buffers and its own
 * 64 KiB buffer are full, and its memory stays put. */
static void *never_reads(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    ax_bufwriter w;
    cr_assert_eq(ax_bufwriter_init(&w, ax_tcp_stream(server), 65536), 0);
    static char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    long rss0 = rss_kib();
    uint64_t sent = 0;
    ax_instant stop = ax_deadline_in_ms(500);
    int err = 0;
    while (sent < (1ull << 30)) {
        err = ax_bufwriter_write(&w, chunk, sizeof chunk, stop);
        if (err) break;
        sent += sizeof chunk;
    }
    long grew = rss_kib() - rss0;
    cr_assert_eq(err, AX_ETIMEDOUT, "got %s after %llu bytes", ax_err_name(err),
                 (unsigned long long)sent);
    cr_assert_lt(sent, 64ull << 20, "%llu bytes went out to a peer that never reads",
                 (unsigned long long)sent);
    cr_assert_leq(ax_bufwriter_buffered(&w), 65536);
    cr_assert_lt(grew, 8192, "RSS grew by %ld KiB", grew);
    ax_bufwriter_free(&w);
    ax_tcp_close(c);
    ax_tcp_close(server);
    return NULL;
}

Test(tcp, never_reading_client_keeps_sender_memory_bounded) {
    run_task(never_reads, NULL);
}

/* --- Happy Eyeballs ----------------------------------------------------------------- */

static void *happy_eyeballs(void *arg) {
    raw_sock fds[4];
    ax_addr dead;
    ax_tcp_listener *hole = blackhole(AX_INET6, &dead, fds, 4);
    ax_addr live;
    ax_tcp_listener *l = listen_loopback(AX_INET, &live);
    ax_addr addrs[2] = {dead, live};
    ax_tcp *c;
    ax_instant t0 = ax_now();
    int err = ax_tcp_connect_addrs(addrs, 2, 0, ax_deadline_in_ms(5000), &c);
    uint64_t ms = (ax_now() - t0) / 1000000;
    cr_assert_eq(err, 0, "got %s", ax_err_name(err));
    cr_assert_lt(ms, 350, "took %llu ms", (unsigned long long)ms);
    ax_addr peer;
    ax_tcp_peer_addr(c, &peer);
    cr_assert(ax_addr_equal(&peer, &live));
    ax_tcp_close(c);
    /* All dead: the deadline ends it; all refusing: the last error. */
    err = ax_tcp_connect_addrs(&dead, 1, 0, ax_deadline_in_ms(100), &c);
    cr_assert_eq(err, AX_ETIMEDOUT);
    ax_tcp_listener_close(l);
    ax_addr refusing[2] = {live, loopback(AX_INET6, live.port)};
    err = ax_tcp_connect_addrs(refusing, 2, 0, ax_deadline_in_ms(2000), &c);
    cr_assert_eq(err, AX_ECONNREFUSED, "got %s", ax_err_name(err));
    for (int i = 0; i < 4; i++) raw_close(fds[i]);
    ax_tcp_listener_close(hole);
    return NULL;
}

Test(tcp, happy_eyeballs_skips_a_dead_ipv6_address) {
    run_task(happy_eyeballs, NULL);
}

/* --- options and policy ------------------------------------------------------------- */

static void *options(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    cr_assert_eq(ax_tcp_set_nodelay(c, true), 0);
    cr_assert_eq(ax_tcp_set_keepalive(c, true, 30, 5), 0);
    cr_assert_eq(ax_tcp_set_linger(c, 1), 0);
    cr_assert_eq(ax_tcp_set_linger(c, -1), 0);
    cr_assert_eq(ax_tcp_set_recv_buffer(c, 65536), 0);
    cr_assert_geq(ax_tcp_recv_buffer(c), 65536);
    cr_assert_geq(ax_tcp_fd(c), 0);
    cr_assert_eq(ax_tcp_shutdown(c, 7), AX_EINVAL);
    ax_tcp_close(server);
    ax_tcp_close(c);
    /* SO_REUSEPORT: two listeners on one port. */
    ax_tcp_listen_opts o;
    ax_tcp_listen_opts_init(&o);
    o.reuse_port = true;
    ax_addr a = loopback(AX_INET, 0), b;
    ax_tcp_listener *l1, *l2;
#ifdef _WIN32
    cr_assert_eq(ax_tcp_listen(&a, &o, &l1), AX_ENOTSUP, "Windows has no SO_REUSEPORT");
    o.reuse_port = false;
    cr_assert_eq(ax_tcp_listen(&a, &o, &l1), 0);
    ax_tcp_listener_addr(l1, &b);
    cr_assert_eq(ax_tcp_listen(&b, &o, &l2), AX_EADDRINUSE);
    ax_tcp_listener_close(l1);
    return NULL;
#endif
    cr_assert_eq(ax_tcp_listen(&a, &o, &l1), 0);
    ax_tcp_listener_addr(l1, &b);
    cr_assert_eq(ax_tcp_listen(&b, &o, &l2), 0);
    ax_tcp_listener_close(l2);
    o.reuse_port = false;
    cr_assert_eq(ax_tcp_listen(&b, &o, &l2), AX_EADDRINUSE);
    ax_tcp_listener_close(l1);
    return NULL;
}

Test(tcp, socket_options_and_reuse_port) {
    run_task(options, NULL);
}

static void *policy(void *arg) {
    ax_addr live;
    ax_tcp_listener *l = listen_loopback(AX_INET, &live);
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "127.0.0.1", live.port, live.port), 0);
    cr_assert_eq(ax_policy_allow_bind(p, "::1", 0, 0), 0);
    cr_assert_eq(ax_runtime_set_policy(rt, p), 0);
    ax_policy_free(p);
    ax_tcp *c;
    ax_addr other = loopback(AX_INET, (uint16_t)(live.port == 65535 ? 1 : live.port + 1));
    cr_assert_eq(ax_tcp_connect(&other, ax_deadline_in_ms(1000), &c), AX_EPOLICY);
    ax_addr v6 = loopback(AX_INET6, live.port);
    cr_assert_eq(ax_tcp_connect(&v6, ax_deadline_in_ms(1000), &c), AX_EPOLICY);
    ax_addr both[2] = {v6, live}; /* a denied address is skipped */
    cr_assert_eq(ax_tcp_connect_addrs(both, 2, 0, ax_deadline_in_ms(1000), &c), 0);
    ax_tcp_close(c);
    cr_assert_eq(ax_tcp_connect_addrs(&v6, 1, 0, ax_deadline_in_ms(1000), &c), AX_EPOLICY);
    ax_tcp_listener *l2;
    ax_addr any4 = loopback(AX_INET, 0), any6 = loopback(AX_INET6, 0);
    cr_assert_eq(ax_tcp_listen(&any4, NULL, &l2), AX_EPOLICY);
    cr_assert_eq(ax_tcp_listen(&any6, NULL, &l2), 0);
    ax_tcp_listener_close(l2);
    ax_runtime_set_policy(rt, NULL);
    ax_tcp_listener_close(l);
    return NULL;
}

Test(tcp, policy_denies_connect_and_bind) {
    run_task(policy, NULL);
}

Test(tcp, outside_a_task) {
    ax_addr a = loopback(AX_INET, 1);
    ax_tcp *c;
    ax_tcp_listener *l;
    cr_assert_eq(ax_tcp_connect(&a, 0, &c), AX_ENOTASK);
    cr_assert_eq(ax_tcp_listen(&a, NULL, &l), AX_ENOTASK);
}

/* --- buffered reader over TCP ------------------------------------------------------- */

static void *lines_writer(void *arg) {
    ax_tcp *s = arg;
    ax_bufwriter w;
    ax_bufwriter_init(&w, ax_tcp_stream(s), 64);
    const char *parts[] = {"first line\n", "second", " line\r\n", "", "x;y;", "last"};
    for (size_t i = 0; i < 6; i++) {
        ax_bufwriter_write(&w, parts[i], strlen(parts[i]), AX_NO_DEADLINE);
        ax_bufwriter_flush(&w, AX_NO_DEADLINE);
        ax_sleep(2);
    }
    static char big[300];
    memset(big, 'b', sizeof big);
    ax_bufwriter_write(&w, big, sizeof big, AX_NO_DEADLINE); /* bigger than the buffer */
    ax_bufwriter_write(&w, "\nend", 4, AX_NO_DEADLINE);
    ax_bufwriter_flush(&w, AX_NO_DEADLINE);
    ax_bufwriter_free(&w);
    ax_tcp_shutdown(s, AX_SHUT_WR);
    return NULL;
}

static void *buffered(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, lines_writer, server), 0);
    ax_bufreader r;
    cr_assert_eq(ax_bufreader_init(&r, ax_tcp_stream(c), 128), 0);
    char line[512];
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), 10);
    cr_assert_str_eq(line, "first line");
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), 11);
    cr_assert_str_eq(line, "second line");
    cr_assert_eq(ax_bufreader_read_until(&r, ';', line, sizeof line, AX_NO_DEADLINE), 2);
    cr_assert_str_eq(line, "x;");
    char two[2];
    cr_assert_eq(ax_bufreader_read_exact(&r, two, 2, AX_NO_DEADLINE), 0);
    cr_assert_eq(memcmp(two, "y;", 2), 0);
    /* "last" + 300 b's is longer than the reader's 128-byte buffer. */
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), AX_ENOSPC);
    size_t len;
    ax_bufreader_data(&r, &len);
    cr_assert_eq(len, 128);
    ax_bufreader_consume(&r, 128);
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), AX_ENOSPC);
    ax_bufreader_consume(&r, 128);
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), 304 - 256);
    cr_assert_eq(ax_bufreader_read_line(&r, line, 3, AX_NO_DEADLINE), AX_ENOSPC);
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), 3);
    cr_assert_str_eq(line, "end");
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), AX_EOF);
    cr_assert_eq(ax_bufreader_read(&r, line, 10, AX_NO_DEADLINE), 0);
    ax_bufreader_free(&r);
    ax_join(t, NULL);
    ax_tcp_close(server);
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, buffered_reader_and_writer) {
    run_task(buffered, NULL);
}

static void *wait_readable(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    ax_stream *s = ax_tcp_stream(server);
    /* Nothing sent yet: the wait must not report readiness. */
    cr_assert_eq(ax_stream_wait_readable(s, ax_deadline_in_ms(50)), AX_ETIMEDOUT);
    cr_assert_eq(ax_tcp_write_all(c, "abc", 3, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_stream_wait_readable(s, ax_deadline_in_ms(2000)), 0);
    char buf[8];
    cr_assert_eq(ax_tcp_read(server, buf, sizeof buf, AX_NO_DEADLINE), 3);
    /* A short read drained the socket: waiting again must block. */
    cr_assert_eq(ax_stream_wait_readable(s, ax_deadline_in_ms(50)), AX_ETIMEDOUT);
    ax_tcp_close(c);
    cr_assert_eq(ax_stream_wait_readable(s, ax_deadline_in_ms(2000)), 0); /* end of stream */
    cr_assert_eq(ax_tcp_read(server, buf, sizeof buf, AX_NO_DEADLINE), 0);
    ax_tcp_close(server);
    return NULL;
}

Test(tcp, wait_readable_holds_no_buffer_until_data) {
    run_task(wait_readable, NULL);
}

struct exact_read {
    ax_tcp *c;
    char *buf;
    size_t len;
    int err;
};

static void *read_exact_task(void *arg) {
    struct exact_read *rd = arg;
    rd->err = ax_tcp_read_exact(rd->c, rd->buf, rd->len, ax_deadline_in_ms(10000));
    return NULL;
}

#ifndef _WIN32
static void *sendfile_task(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    char path[] = "/tmp/axon-sendfile-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    unlink(path);
    size_t size = 3u << 20;
    char *data = malloc(size), *got = malloc(size);
    for (size_t i = 0; i < size; i++) data[i] = (char)(i * 13 + 1);
    cr_assert_eq(write(fd, data, size), (ssize_t)size);
    /* The file from offset 1000 to 5 bytes before its end, by sendfile. */
    struct exact_read rd = {c, got, size - 1005, -1};
    ax_task *reader;
    cr_assert_eq(ax_spawn(&reader, read_exact_task, &rd), 0);
    off_t off = 1000;
    ssize_t n = ax_tcp_sendfile(server, fd, &off, size - 1005, ax_deadline_in_ms(10000));
    cr_assert_eq(n, (ssize_t)(size - 1005));
    cr_assert_eq(off, (off_t)(size - 5));
    ax_join(reader, NULL);
    cr_assert_eq(rd.err, 0);
    cr_assert_eq(memcmp(got, data + 1000, size - 1005), 0);
    /* Asking past the end of the file sends what is there. */
    cr_assert_eq(ax_tcp_sendfile(server, fd, &off, 100, ax_deadline_in_ms(1000)), 5);
    cr_assert_eq(ax_tcp_sendfile(server, -1, &off, 100, ax_deadline_in_ms(1000)), AX_EBADF);
    /* Through the stream: a socket's takes it (count 0 only asks), the
     * same bytes arrive; any other stream refuses at once. */
    off = 0;
    cr_assert_eq(ax_stream_sendfile(ax_tcp_stream(server), fd, &off, 0, AX_NO_DEADLINE), 0);
    rd = (struct exact_read){c, got, 5 + 4096, -1}; /* the 5 bytes above, then these */
    cr_assert_eq(ax_spawn(&reader, read_exact_task, &rd), 0);
    cr_assert_eq(
        ax_stream_sendfile(ax_tcp_stream(server), fd, &off, 4096, ax_deadline_in_ms(10000)), 4096);
    ax_join(reader, NULL);
    cr_assert_eq(rd.err, 0);
    cr_assert_eq(memcmp(got, data + size - 5, 5), 0);
    cr_assert_eq(memcmp(got + 5, data, 4096), 0);
    ax_stream not_a_socket = {0};
    cr_assert_eq(ax_stream_sendfile(&not_a_socket, fd, &off, 10, AX_NO_DEADLINE), AX_ENOTSUP);
    cr_assert_eq(off, 4096);
    close(fd);
    free(data);
    free(got);
    ax_tcp_close(server);
    ax_tcp_close(c);
    return NULL;
}
#endif

Test(tcp, sendfile_from_a_file) {
    AX_WIN_SKIP(AX_WIN_NO_SENDFILE);
#ifndef _WIN32
    run_task(sendfile_task, NULL);
#endif
}

/* A name whose hosts entry lists a blackholed ::1 first and a live
 * 127.0.0.1 second, on the same port: the IPv4 attempt starts 250 ms in
 * and wins. */
static void *happy_eyeballs_by_name(void *arg) {
    ax_addr live;
    ax_tcp_listener *l = listen_loopback(AX_INET, &live);
    ax_tcp_listen_opts o;
    ax_tcp_listen_opts_init(&o);
    o.backlog = 1;
    o.v6_only = true;
    ax_addr dead = loopback(AX_INET6, live.port);
    ax_tcp_listener *hole;
    cr_assert_eq(ax_tcp_listen(&dead, &o, &hole), 0, "[::1]:%u is taken", live.port);
    struct sockaddr_storage ss;
    socklen_t len;
    ax_addr_to_sockaddr(&dead, &ss, &len);
    raw_sock fds[4];
    for (int i = 0; i < 4; i++) {
#ifdef _WIN32
        fds[i] = socket(AF_INET6, SOCK_STREAM, 0);
        raw_nonblocking(fds[i]);
#else
        fds[i] = ax__socket(AF_INET6, SOCK_STREAM, 0, 1);
#endif
        connect(fds[i], (struct sockaddr *)&ss, (int)len);
    }
    ax_sleep(50);

    const char *text = "::1 both.test\n127.0.0.1 both.test\n";
#ifdef _WIN32
    char dir[MAX_PATH], hosts[MAX_PATH];
    cr_assert(GetTempPathA(sizeof dir, dir) && GetTempFileNameA(dir, "axh", 0, hosts));
    FILE *hf = fopen(hosts, "wb");
    cr_assert_not_null(hf);
    cr_assert_eq(fputs(text, hf) >= 0, 1);
    fclose(hf);
#else
    char hosts[] = "/tmp/axon-hosts-XXXXXX";
    int hfd = mkstemp(hosts);
    cr_assert_geq(hfd, 0);
    cr_assert_eq(write(hfd, text, strlen(text)), (ssize_t)strlen(text));
    close(hfd);
#endif
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    snprintf(cfg.hosts_path, sizeof cfg.hosts_path, "%s", hosts);
    ax_resolver *r;
    cr_assert_eq(ax_resolver_new(&cfg, &r), 0);
    cr_assert_eq(ax_runtime_set_resolver(rt, r), 0);
    ax_resolver_free(r);
    remove(hosts);

    ax_tcp *c;
    ax_instant t0 = ax_now();
    int err = ax_tcp_connect_host("both.test", live.port, ax_deadline_in_ms(5000), &c);
    uint64_t ms = (ax_now() - t0) / 1000000;
    cr_assert_eq(err, 0, "got %s", ax_err_name(err));
    cr_assert_lt(ms, 350, "took %llu ms", (unsigned long long)ms);
    ax_addr peer;
    ax_tcp_peer_addr(c, &peer);
    cr_assert(ax_addr_equal(&peer, &live));
    ax_tcp_close(c);
    cr_assert_eq(ax_tcp_connect_host("nothere.test", live.port, ax_deadline_in_ms(2000), &c) < 0,
                 1);
    /* A literal needs no look-up; the policy sees the name as given. */
    cr_assert_eq(ax_tcp_connect_host("127.0.0.1", live.port, ax_deadline_in_ms(2000), &c), 0);
    ax_tcp_close(c);
    ax_policy *p;
    ax_policy_new(&p);
    ax_policy_allow_connect(p, "both.test", 0, 65535);
    ax_runtime_set_policy(rt, p);
    ax_policy_free(p);
    cr_assert_eq(ax_tcp_connect_host("127.0.0.1", live.port, ax_deadline_in_ms(2000), &c),
                 AX_EPOLICY);
    cr_assert_eq(ax_tcp_connect_host("both.test", live.port, ax_deadline_in_ms(5000), &c), 0);
    ax_tcp_close(c);
    ax_runtime_set_policy(rt, NULL);
    ax_runtime_set_resolver(rt, NULL);
    for (int i = 0; i < 4; i++) raw_close(fds[i]);
    ax_tcp_listener_close(hole);
    ax_tcp_listener_close(l);
    return NULL;
}

Test(tcp, happy_eyeballs_by_host_name_under_350ms) {
    run_task(happy_eyeballs_by_name, NULL);
}

/* An iovec chain of 300 slices of one buffer (more than one writev takes)
 * goes out without copying through a small send buffer, in order. */
static void *chain_write(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    ax_tcp_set_send_buffer(server, 16384);
    ax_buf *b;
    cr_assert_eq(ax_buf_new(&b, 3000), 0);
    uint8_t *d = ax_buf_data(b);
    for (int i = 0; i < 3000; i++) d[i] = (uint8_t)(i % 253);
    ax_buf_set_len(b, 3000);
    ax_iochain chain;
    ax_iochain_init(&chain, 0);
    size_t total = 0;
    for (int i = 0; i < 300; i++) {
        ax_slice sl;
        size_t off = (size_t)(i * 7) % 2000, len = 100 + (size_t)i % 900;
        cr_assert_eq(ax_slice_of(&sl, b, off, len), 0);
        cr_assert_eq(ax_iochain_append(&chain, &sl), 0);
        ax_slice_release(&sl);
        total += len;
    }
    cr_assert_eq(ax_iochain_append_bytes(&chain, "tail", 4), 0);
    total += 4;
    char *got = malloc(total);
    struct exact_read rd = {c, got, total, -1};
    ax_task *reader;
    cr_assert_eq(ax_spawn(&reader, read_exact_task, &rd), 0);
    cr_assert_eq(ax_stream_write_chain(ax_tcp_stream(server), &chain, ax_deadline_in_ms(10000)), 0);
    cr_assert_eq(ax_iochain_len(&chain), 0);
    ax_join(reader, NULL);
    cr_assert_eq(rd.err, 0);
    size_t pos = 0;
    for (int i = 0; i < 300; i++) {
        size_t off = (size_t)(i * 7) % 2000, len = 100 + (size_t)i % 900;
        cr_assert_eq(memcmp(got + pos, d + off, len), 0, "slice %d", i);
        pos += len;
    }
    cr_assert_eq(memcmp(got + pos, "tail", 4), 0);
    ax_iochain_clear(&chain);
    ax_buf_unref(b);
    free(got);
    ax_tcp_close(server);
    ax_tcp_close(c);
    return NULL;
}

Test(tcp, iovec_chain_written_without_copying) {
    run_task(chain_write, NULL);
}

static void *read_buf(void *arg) {
    ax_tcp *server;
    ax_tcp *c = connect_pair(AX_INET, &server);
    ax_stream *s = ax_tcp_stream(server);
    ax_buf *b = (ax_buf *)1;
    cr_assert_eq(ax_stream_read_buf(s, &b, 4096, ax_deadline_in_ms(30)), AX_ETIMEDOUT);
    cr_assert_null(b);
    cr_assert_eq(ax_tcp_write_all(c, "hello", 5, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_stream_read_buf(s, &b, 4096, ax_deadline_in_ms(2000)), 5);
    cr_assert_not_null(b);
    cr_assert_eq(ax_buf_len(b), 5);
    cr_assert_eq(memcmp(ax_buf_data(b), "hello", 5), 0);
    ax_buf_unref(b);
    cr_assert_eq(ax_stream_read_buf(s, &b, 0, AX_NO_DEADLINE), AX_EINVAL);
    ax_tcp_close(c);
    cr_assert_eq(ax_stream_read_buf(s, &b, 4096, ax_deadline_in_ms(2000)), 0);
    cr_assert_null(b);
    ax_tcp_close(server);
    return NULL;
}

Test(tcp, read_buf_takes_a_pooled_buffer_only_when_data_is_there) {
    run_task(read_buf, NULL);
}
