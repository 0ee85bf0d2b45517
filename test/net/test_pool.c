/* The connection pool against real loopback TCP servers: reuse, limits,
 * the waiters queue (hand-over, timeout, cancellation, bound), expiry,
 * health checks, custom connectors, statistics, and many tasks at once. */
#include <stdatomic.h>

#include "test/net/net_util.h"

TestSuite(pool, .init = rt_two, .fini = rt_done, .timeout = 60);

/* --- a loopback server -------------------------------------------------------------
 * Each connection answers every request of 4 bytes with 4 bytes: the
 * client's port as the server sees it (network order) and "ok". So a
 * client learns which connection it used (its local port) through the
 * protocol. close_after_reply: the server closes each connection after
 * its first answer. */

struct conn_arg;

#define SERVER_MAX_CONNS 512

struct server {
    struct conn_arg *conns[SERVER_MAX_CONNS]; /* freed by the acceptor at the end */
    int nconns;
    ax_tcp_listener *l;
    ax_addr addr;
    char host[AX_IP_STRLEN];
    ax_task *acceptor;
    bool close_after_reply;
    atomic_int accepted, open, max_open, closed;
};

struct conn_arg {
    struct server *srv;
    ax_tcp *c; /* NULL once the handler closed it */
    uint16_t peer_port;
};

static void *handle_conn(void *arg) {
    struct conn_arg *ca = arg;
    struct server *srv = ca->srv;
    char req[4];
    for (;;) {
        if (ax_tcp_read_exact(ca->c, req, sizeof req, AX_NO_DEADLINE)) break;
        unsigned char rep[4] = {(unsigned char)(ca->peer_port >> 8), (unsigned char)ca->peer_port,
                                'o', 'k'};
        if (ax_tcp_write_all(ca->c, rep, sizeof rep, AX_NO_DEADLINE)) break;
        if (srv->close_after_reply) break;
    }
    ax_tcp_close(ca->c);
    ca->c = NULL;
    atomic_fetch_sub(&srv->open, 1);
    atomic_fetch_add(&srv->closed, 1);
    return NULL;
}

static void *accept_loop(void *arg) {
    struct server *srv = arg;
    ax_scope handlers;
    ax_scope_init(&handlers);
    for (;;) {
        ax_tcp *c;
        ax_addr peer;
        if (ax_tcp_accept(srv->l, &c, &peer, AX_NO_DEADLINE)) break;
        int now = atomic_fetch_add(&srv->open, 1) + 1;
        int max = atomic_load(&srv->max_open);
        while (now > max && !atomic_compare_exchange_weak(&srv->max_open, &max, now)) {
        }
        atomic_fetch_add(&srv->accepted, 1);
        struct conn_arg *ca = malloc(sizeof *ca);
        cr_assert_not_null(ca);
        *ca = (struct conn_arg){srv, c, peer.port};
        cr_assert_lt(srv->nconns, SERVER_MAX_CONNS);
        srv->conns[srv->nconns++] = ca;
        cr_assert_eq(ax_scope_spawn(&handlers, NULL, handle_conn, ca), 0);
    }
    /* A handler cancelled before it ran never closed its connection. */
    ax_scope_cancel(&handlers);
    for (int i = 0; i < srv->nconns; i++) {
        ax_tcp_close(srv->conns[i]->c);
        free(srv->conns[i]);
    }
    return NULL;
}

static void server_start(struct server *srv) {
    memset(srv, 0, sizeof *srv);
    srv->l = listen_loopback(AX_INET, &srv->addr);
    cr_assert_gt(ax_ip_format(&srv->addr.ip, srv->host, sizeof srv->host), 0);
    cr_assert_eq(ax_spawn(&srv->acceptor, accept_loop, srv), 0);
}

static void server_stop(struct server *srv) {
    ax_abort(srv->acceptor);
    ax_join(srv->acceptor, NULL);
    ax_tcp_listener_close(srv->l);
}

/* Waits (by state, not time) until the server counted n closes. */
static void wait_closed(struct server *srv, int n) {
    for (int i = 0; i < 10000 && atomic_load(&srv->closed) < n; i++) ax_sleep(1);
    cr_assert_geq(atomic_load(&srv->closed), n);
}

/* One request on the lease; returns the client's local port. */
static uint16_t ping(ax_pool_lease *l) {
    ax_stream *s = ax_pool_lease_stream(l);
    cr_assert_eq(ax_stream_write_all(s, "ping", 4, ax_deadline_in_ms(10000)), 0);
    unsigned char rep[4];
    int err = ax_stream_read_exact(s, rep, sizeof rep, ax_deadline_in_ms(10000));
    cr_assert_eq(err, 0, "read: %s", ax_strerror(err));
    cr_assert_eq(rep[2], 'o');
    return (uint16_t)(rep[0] << 8 | rep[1]);
}

static ax_pool_lease *get_ok(ax_pool *p, struct server *srv) {
    ax_pool_lease *l = NULL;
    int err = ax_pool_get(p, srv->host, srv->addr.port, false, ax_deadline_in_ms(10000), &l);
    cr_assert_eq(err, 0, "get: %s", ax_strerror(err));
    cr_assert_not_null(l);
    return l;
}

static ax_pool_stats stats(ax_pool *p) {
    ax_pool_stats st;
    ax_pool_stats_get(p, &st);
    return st;
}

/* Waits until n gets wait in the queue. */
static void wait_waiters(ax_pool *p, uint64_t n) {
    for (int i = 0; i < 10000 && stats(p).waiters != n; i++) ax_sleep(1);
    cr_assert_eq(stats(p).waiters, n);
}

static ax_pool *pool_with(size_t per_key, size_t total) {
    ax_pool_opts o;
    ax_pool_opts_init(&o);
    o.max_per_key = per_key;
    o.max_total = total;
    ax_pool *p;
    cr_assert_eq(ax_pool_new(&o, &p), 0);
    return p;
}

/* A get in its own task: the outcome and the port it used. */
struct getter {
    ax_pool *pool;
    struct server *srv;
    ax_instant deadline;
    int err;
    uint16_t port;
    bool reused;
    ax_task *task;
};

static void *getter_main(void *arg) {
    struct getter *g = arg;
    ax_pool_lease *l = NULL;
    g->err = ax_pool_get(g->pool, g->srv->host, g->srv->addr.port, false, g->deadline, &l);
    if (g->err == 0) {
        g->port = ping(l);
        g->reused = ax_pool_lease_reused(l);
        ax_pool_put(g->pool, l, true);
    }
    return NULL;
}

static void getter_start(struct getter *g, ax_pool *p, struct server *srv, ax_instant deadline) {
    *g = (struct getter){.pool = p, .srv = srv, .deadline = deadline, .err = 1};
    cr_assert_eq(ax_spawn(&g->task, getter_main, g), 0);
}

/* --- reuse ---------------------------------------------------------------------------- */

static void *reuse(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool *p = pool_with(0, 0);
    ax_pool_lease *l = get_ok(p, &srv);
    cr_assert_not(ax_pool_lease_reused(l));
    cr_assert_str_eq(ax_pool_lease_host(l), srv.host);
    cr_assert_eq(ax_pool_lease_port(l), srv.addr.port);
    cr_assert_not(ax_pool_lease_secure(l));
    cr_assert_leq(ax_pool_lease_created(l), ax_now());
    uint16_t port1 = ping(l);
    ax_pool_put(p, l, true);
    cr_assert_eq(stats(p).idle, 1);
    l = get_ok(p, &srv);
    cr_assert(ax_pool_lease_reused(l));
    cr_assert_eq(ping(l), port1, "the second get made a new connection");
    /* Two at once: the second is a new connection; both go back idle and
     * the most recently returned one is lent next. */
    ax_pool_lease *l2 = get_ok(p, &srv);
    uint16_t port2 = ping(l2);
    cr_assert_neq(port2, port1);
    ax_pool_put(p, l, true);
    ax_pool_put(p, l2, true);
    l = get_ok(p, &srv);
    cr_assert_eq(ping(l), port2, "not most recently used first");
    ax_pool_put(p, l, true);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.created, 2);
    cr_assert_eq(st.reused, 2);
    cr_assert_eq(st.idle, 2);
    cr_assert_eq(st.open, 2);
    cr_assert_eq(atomic_load(&srv.accepted), 2);
    ax_pool_free(p);
    wait_closed(&srv, 2);
    server_stop(&srv);
    return NULL;
}

Test(pool, reuses_idle_connection_most_recent_first) {
    run_task(reuse, NULL);
}

/* --- the per-key limit, with a waiter ------------------------------------------------- */

static void *per_key_limit(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool *p = pool_with(1, 0);
    ax_pool_lease *l = get_ok(p, &srv);
    uint16_t port = ping(l);
    struct getter g;
    getter_start(&g, p, &srv, ax_deadline_in_ms(20000));
    wait_waiters(p, 1);
    cr_assert_eq(stats(p).open, 1);
    ax_pool_put(p, l, true); /* handed to the waiter */
    cr_assert_eq(ax_join(g.task, NULL), 0);
    cr_assert_eq(g.err, 0);
    cr_assert_eq(g.port, port, "the waiter did not get the returned connection");
    cr_assert(g.reused);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.created, 1);
    cr_assert_eq(st.waited, 1);
    cr_assert_eq(st.waiters, 0);
    cr_assert_eq(atomic_load(&srv.accepted), 1);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, per_key_limit_hands_connection_to_waiter) {
    run_task(per_key_limit, NULL);
}

/* --- the total limit across two keys --------------------------------------------------- */

static void *total_limit(void *arg) {
    struct server a, b;
    server_start(&a);
    server_start(&b);
    ax_pool *p = pool_with(0, 1);
    ax_pool_lease *la = get_ok(p, &a);
    ping(la);
    struct getter g;
    getter_start(&g, p, &b, ax_deadline_in_ms(20000));
    wait_waiters(p, 1);
    cr_assert_eq(atomic_load(&b.accepted), 0);
    /* Returned idle, a's connection is evicted to make room for b's waiter. */
    ax_pool_put(p, la, true);
    cr_assert_eq(ax_join(g.task, NULL), 0);
    cr_assert_eq(g.err, 0);
    cr_assert_not(g.reused);
    cr_assert_eq(atomic_load(&b.accepted), 1);
    wait_closed(&a, 1);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.closed_evicted, 1);
    cr_assert_eq(st.open, 1);
    cr_assert_eq(st.keys, 1);
    /* A third key at the limit while the one connection is lent: waits. */
    ax_pool_lease *lb = get_ok(p, &b);
    ax_pool_lease *lx = NULL;
    cr_assert_eq(ax_pool_get(p, a.host, a.addr.port, false, ax_deadline_in_ms(30), &lx),
                 AX_ETIMEDOUT);
    ax_pool_put(p, lb, true);
    ax_pool_free(p);
    server_stop(&a);
    server_stop(&b);
    return NULL;
}

Test(pool, total_limit_across_keys_evicts_idle) {
    run_task(total_limit, NULL);
}

/* --- waiter timeout and cancellation ------------------------------------------------- */

static void *wait_timeout(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool *p = pool_with(1, 0);
    ax_pool_lease *l = get_ok(p, &srv);
    ax_pool_lease *l2 = NULL;
    cr_assert_eq(ax_pool_get(p, srv.host, srv.addr.port, false, ax_deadline_in_ms(50), &l2),
                 AX_ETIMEDOUT);
    cr_assert_null(l2);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.wait_timeouts, 1);
    cr_assert_eq(st.waiters, 0);
    ax_pool_put(p, l, true);
    cr_assert_eq(stats(p).idle, 1);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, waiter_times_out) {
    run_task(wait_timeout, NULL);
}

static void *wait_cancel(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool *p = pool_with(1, 0);
    ax_pool_lease *l = get_ok(p, &srv);
    uint16_t port = ping(l);
    struct getter g1, g2;
    getter_start(&g1, p, &srv, AX_NO_DEADLINE);
    wait_waiters(p, 1);
    getter_start(&g2, p, &srv, AX_NO_DEADLINE);
    wait_waiters(p, 2);
    ax_abort(g1.task);
    ax_join(g1.task, NULL);
    cr_assert_eq(g1.err, AX_ECANCELED);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.waiters, 1, "the cancelled waiter stayed in the queue");
    cr_assert_eq(st.wait_cancelled, 1);
    /* The queue is intact: the next waiter gets the connection. */
    ax_pool_put(p, l, true);
    cr_assert_eq(ax_join(g2.task, NULL), 0);
    cr_assert_eq(g2.err, 0);
    cr_assert_eq(g2.port, port);
    st = stats(p);
    cr_assert_eq(st.waiters, 0);
    cr_assert_eq(st.idle, 1);
    cr_assert_eq(st.created, 1);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, waiter_cancelled_leaves_queue) {
    run_task(wait_cancel, NULL);
}

/* --- expiry ------------------------------------------------------------------------------ */

static void *idle_expiry(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool_opts o;
    ax_pool_opts_init(&o);
    o.idle_timeout_ms = 50;
    ax_pool *p;
    cr_assert_eq(ax_pool_new(&o, &p), 0);
    ax_pool_lease *l = get_ok(p, &srv);
    uint16_t port = ping(l);
    ax_pool_put(p, l, true);
    ax_sleep(100);
    l = get_ok(p, &srv);
    cr_assert_neq(ping(l), port, "an idle-expired connection was reused");
    cr_assert_not(ax_pool_lease_reused(l));
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.closed_idle, 1);
    cr_assert_eq(st.created, 2);
    wait_closed(&srv, 1);
    /* ax_pool_reap closes idle ones without a get. */
    ax_pool_put(p, l, true);
    ax_sleep(100);
    cr_assert_eq(ax_pool_reap(p), 1);
    st = stats(p);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.closed_idle, 2);
    cr_assert_eq(st.keys, 0);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, idle_timeout_closes_connections) {
    run_task(idle_expiry, NULL);
}

static void *lifetime(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool_opts o;
    ax_pool_opts_init(&o);
    o.max_lifetime_ms = 100;
    ax_pool *p;
    cr_assert_eq(ax_pool_new(&o, &p), 0);
    ax_pool_lease *l = get_ok(p, &srv);
    uint16_t port = ping(l);
    ax_pool_put(p, l, true);
    ax_sleep(150);
    /* Expired while idle: closed on get. */
    l = get_ok(p, &srv);
    cr_assert_neq(ping(l), port);
    cr_assert_eq(stats(p).closed_expired, 1);
    /* Expired while lent: closed on put. */
    ax_sleep(150);
    ax_pool_put(p, l, true);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.closed_expired, 2);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.idle, 0);
    ax_pool_free(p);
    wait_closed(&srv, 2);
    server_stop(&srv);
    return NULL;
}

Test(pool, max_lifetime_closes_connections) {
    run_task(lifetime, NULL);
}

/* --- broken connections ------------------------------------------------------------------ */

static void *broken(void *arg) {
    struct server srv;
    server_start(&srv);
    srv.close_after_reply = true;
    ax_pool *p = pool_with(0, 0);
    ax_pool_lease *l = get_ok(p, &srv);
    uint16_t port = ping(l);
    ax_pool_put(p, l, true); /* the client does not know yet */
    wait_closed(&srv, 1);
    ax_sleep(50); /* let the FIN land in the idle socket */
    l = get_ok(p, &srv);
    cr_assert_not(ax_pool_lease_reused(l));
    cr_assert_neq(ping(l), port, "a connection the server closed was lent");
    ax_pool_put(p, l, false);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.health_failed, 1);
    cr_assert_eq(st.closed_broken, 2);
    cr_assert_eq(st.created, 2);
    cr_assert_eq(st.open, 0);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, health_check_discards_closed_connection) {
    run_task(broken, NULL);
}

static void *put_broken_frees_slot(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool *p = pool_with(1, 0);
    ax_pool_lease *l = get_ok(p, &srv);
    uint16_t port = ping(l);
    struct getter g;
    getter_start(&g, p, &srv, ax_deadline_in_ms(20000));
    wait_waiters(p, 1);
    ax_pool_put(p, l, false);
    cr_assert_eq(ax_join(g.task, NULL), 0);
    cr_assert_eq(g.err, 0);
    cr_assert_neq(g.port, port);
    cr_assert_not(g.reused);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.closed_broken, 1);
    cr_assert_eq(st.health_failed, 0);
    cr_assert_eq(st.created, 2);
    cr_assert_eq(st.open, 1);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, put_not_reusable_frees_slot_for_waiter) {
    run_task(put_broken_frees_slot, NULL);
}

/* --- the bounded queue ------------------------------------------------------------------ */

static void *max_waiters(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool_opts o;
    ax_pool_opts_init(&o);
    o.max_per_key = 1;
    o.max_waiters = 1;
    ax_pool *p;
    cr_assert_eq(ax_pool_new(&o, &p), 0);
    ax_pool_lease *l = get_ok(p, &srv);
    struct getter g;
    getter_start(&g, p, &srv, ax_deadline_in_ms(20000));
    wait_waiters(p, 1);
    ax_pool_lease *l2 = NULL;
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_pool_get(p, srv.host, srv.addr.port, false, AX_NO_DEADLINE, &l2), AX_EBUSY);
    cr_assert_lt(ax_now() - t0, 5000000000ull); /* at once, not after a wait */
    cr_assert_eq(stats(p).rejected, 1);
    ax_pool_put(p, l, true);
    cr_assert_eq(ax_join(g.task, NULL), 0);
    cr_assert_eq(g.err, 0);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, max_waiters_rejects_with_ebusy) {
    run_task(max_waiters, NULL);
}

/* --- statistics --------------------------------------------------------------------------- */

static void *stats_json(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool *p = pool_with(2, 0);
    ax_pool_lease *l1 = get_ok(p, &srv), *l2 = get_ok(p, &srv);
    ax_pool_put(p, l1, true);
    ax_pool_stats st = stats(p);
    cr_assert_eq(st.open, 2);
    cr_assert_eq(st.idle, 1);
    cr_assert_eq(st.in_use, 1);
    cr_assert_eq(st.connecting, 0);
    cr_assert_eq(st.keys, 1);
    cr_assert_eq(st.created, 2);
    char buf[1024];
    size_t n = ax_pool_stats_json(p, buf, sizeof buf);
    cr_assert_lt(n, sizeof buf);
    cr_assert_eq(strlen(buf), n);
    cr_assert_eq(buf[0], '{');
    cr_assert_eq(buf[n - 1], '}');
    cr_assert_not_null(strstr(buf, "\"open\":2,\"idle\":1,\"in_use\":1,"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"created\":2,"), "%s", buf);
    cr_assert_not_null(strstr(buf, "\"closed_evicted\":0}"), "%s", buf);
    /* Truncation reports the full length, like snprintf. */
    char small[8];
    cr_assert_eq(ax_pool_stats_json(p, small, sizeof small), n);
    cr_assert_eq(strlen(small), sizeof small - 1);
    ax_pool_put(p, l2, false);
    st = stats(p);
    cr_assert_eq(st.closed, 1);
    cr_assert_eq(st.closed_broken, 1);
    cr_assert_eq(st.open, 1);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, stats_and_json) {
    run_task(stats_json, NULL);
}

/* --- freeing --------------------------------------------------------------------------------- */

static void *free_idle(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool *p = pool_with(0, 0);
    ax_pool_lease *l[3];
    for (int i = 0; i < 3; i++) l[i] = get_ok(p, &srv);
    for (int i = 0; i < 3; i++) ax_pool_put(p, l[i], true);
    /* One lent out across the free: closed when it comes back. */
    ax_pool_lease *out = get_ok(p, &srv);
    ping(out);
    ax_pool_free(p);
    wait_closed(&srv, 2);
    cr_assert_eq(atomic_load(&srv.open), 1);
    ping(out); /* still usable */
    ax_pool_put(p, out, true);
    wait_closed(&srv, 3);
    server_stop(&srv);
    return NULL;
}

Test(pool, free_closes_idle_and_later_puts) {
    run_task(free_idle, NULL);
}

/* A waiter woken by free gets AX_ECLOSED. */
static void *free_waiter(void *arg) {
    struct server srv;
    server_start(&srv);
    ax_pool *p = pool_with(1, 0);
    ax_pool_lease *l = get_ok(p, &srv);
    struct getter g;
    getter_start(&g, p, &srv, ax_deadline_in_ms(20000));
    wait_waiters(p, 1);
    ax_pool_free(p);
    cr_assert_eq(ax_join(g.task, NULL), 0);
    cr_assert_eq(g.err, AX_ECLOSED);
    ax_pool_put(p, l, true);
    wait_closed(&srv, 1);
    server_stop(&srv);
    return NULL;
}

Test(pool, free_wakes_waiters_with_eclosed) {
    run_task(free_waiter, NULL);
}

/* --- connectors and health callbacks ------------------------------------------------------ */

struct rec_connector {
    ax_addr target;
    int calls;
    char host[64];
    uint16_t port;
    bool secure;
};

static int rec_connect(void *ctx, const char *host, uint16_t port, bool secure, ax_instant deadline,
                       ax_stream **out) {
    struct rec_connector *rc = ctx;
    rc->calls++;
    snprintf(rc->host, sizeof rc->host, "%s", host);
    rc->port = port;
    rc->secure = secure;
    ax_tcp *c;
    int err = ax_tcp_connect(&rc->target, deadline, &c);
    if (err) return err;
    *out = ax_tcp_stream(c);
    return 0;
}

static void *custom_connector(void *arg) {
    struct server srv;
    server_start(&srv);
    struct rec_connector rc = {.target = srv.addr};
    ax_pool_opts o;
    ax_pool_opts_init(&o);
    o.connect = rec_connect;
    o.connect_ctx = &rc;
    ax_pool *p;
    cr_assert_eq(ax_pool_new(&o, &p), 0);
    ax_pool_lease *l = NULL;
    cr_assert_eq(ax_pool_get(p, "db.example", 5432, true, ax_deadline_in_ms(10000), &l), 0);
    cr_assert_eq(rc.calls, 1);
    cr_assert_str_eq(rc.host, "db.example");
    cr_assert_eq(rc.port, 5432);
    cr_assert(rc.secure);
    cr_assert_str_eq(ax_pool_lease_host(l), "db.example");
    cr_assert(ax_pool_lease_secure(l));
    ping(l);
    ax_pool_put(p, l, true);
    /* The same host, insecure, is another key. */
    cr_assert_eq(ax_pool_get(p, "db.example", 5432, false, ax_deadline_in_ms(10000), &l), 0);
    cr_assert_eq(rc.calls, 2);
    cr_assert_not(rc.secure);
    ax_pool_put(p, l, true);
    cr_assert_eq(stats(p).keys, 2);
    ax_pool_free(p);
    /* The built-in connector refuses secure, and a refused connect frees its slot. */
    ax_pool *d = pool_with(1, 0);
    cr_assert_eq(ax_pool_get(d, srv.host, srv.addr.port, true, ax_deadline_in_ms(1000), &l),
                 AX_ENOTSUP);
    ax_addr closed_addr;
    ax_tcp_listener *tmp = listen_loopback(AX_INET, &closed_addr);
    ax_tcp_listener_close(tmp);
    char h[AX_IP_STRLEN];
    ax_ip_format(&closed_addr.ip, h, sizeof h);
    cr_assert_eq(ax_pool_get(d, h, closed_addr.port, false, ax_deadline_in_ms(5000), &l),
                 AX_ECONNREFUSED);
    ax_pool_stats st = stats(d);
    cr_assert_eq(st.connect_errors, 2);
    cr_assert_eq(st.open, 0);
    cr_assert_eq(st.keys, 0);
    ax_pool_free(d);
    server_stop(&srv);
    return NULL;
}

Test(pool, custom_connector_sees_host_port_secure) {
    run_task(custom_connector, NULL);
}

static bool reject_all(void *ctx, ax_stream *s) {
    (void)s;
    (*(int *)ctx)++;
    return false;
}

static void *health_callback(void *arg) {
    struct server srv;
    server_start(&srv);
    int checks = 0;
    ax_pool_opts o;
    ax_pool_opts_init(&o);
    o.health = reject_all;
    o.health_ctx = &checks;
    ax_pool *p;
    cr_assert_eq(ax_pool_new(&o, &p), 0);
    ax_pool_lease *l = get_ok(p, &srv);
    ax_pool_put(p, l, true);
    l = get_ok(p, &srv);
    cr_assert_eq(checks, 1);
    cr_assert_not(ax_pool_lease_reused(l));
    ax_pool_put(p, l, true);
    ax_pool_free(p);
    /* With the check off, nothing is looked at. */
    o.health_check = false;
    checks = 0;
    cr_assert_eq(ax_pool_new(&o, &p), 0);
    l = get_ok(p, &srv);
    ax_pool_put(p, l, true);
    l = get_ok(p, &srv);
    cr_assert(ax_pool_lease_reused(l));
    cr_assert_eq(checks, 0);
    ax_pool_put(p, l, true);
    ax_pool_free(p);
    server_stop(&srv);
    return NULL;
}

Test(pool, user_health_callback) {
    run_task(health_callback, NULL);
}

/* --- many tasks ------------------------------------------------------------------------------- */

#define HAMMER_TASKS  100
#define HAMMER_ROUNDS 5

struct hammer {
    ax_pool *pool;
    struct server *srv;
    atomic_int failures;
};

static void *hammer_one(void *arg) {
    struct hammer *h = arg;
    for (int i = 0; i < HAMMER_ROUNDS; i++) {
        ax_pool_lease *l = NULL;
        int err = ax_pool_get(h->pool, h->srv->host, h->srv->addr.port, false,
                              ax_deadline_in_ms(30000), &l);
        if (err) {
            atomic_fetch_add(&h->failures, 1);
            continue;
        }
        ping(l);
        if (i & 1) ax_yield(); /* hold it across a suspension now and then */
        ax_pool_put(h->pool, l, true);
    }
    return NULL;
}

static void *hammer(void *arg) {
    struct server srv;
    server_start(&srv);
    struct hammer h = {.pool = pool_with(4, 0), .srv = &srv};
    ax_task *t[HAMMER_TASKS];
    for (int i = 0; i < HAMMER_TASKS; i++) cr_assert_eq(ax_spawn(&t[i], hammer_one, &h), 0);
    for (int i = 0; i < HAMMER_TASKS; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    cr_assert_eq(atomic_load(&h.failures), 0);
    cr_assert_leq(atomic_load(&srv.max_open), 4, "more than 4 connections were open");
    cr_assert_leq(atomic_load(&srv.accepted), 4);
    ax_pool_stats st = stats(h.pool);
    cr_assert_leq(st.open, 4);
    cr_assert_eq(st.in_use, 0);
    cr_assert_eq(st.waiters, 0);
    cr_assert_eq(st.reused + st.created, HAMMER_TASKS * HAMMER_ROUNDS);
    ax_pool_free(h.pool);
    server_stop(&srv);
    return NULL;
}

Test(pool, many_tasks_never_exceed_limit) {
    run_task(hammer, NULL);
}
