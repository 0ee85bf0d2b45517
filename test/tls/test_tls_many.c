/* 1,000 TLS handshakes in flight at once between an Axon client and an
 * Axon server in one runtime, each then moving a few bytes both ways. */
#include "test/tls/tls_util.h"

#define CONNS 1000

TestSuite(tls_many, .init = tls_init, .fini = rt_done, .timeout = 120);

struct many {
    uint16_t port;
    ax_tls_config *cfg;
    atomic_int ok;
    atomic_int first_err;
};

static void *one_client(void *arg) {
    struct many *m = arg;
    ax_tls *t;
    int err = client_connect(m->cfg, "localhost", m->port, &t);
    char buf[16] = "ping";
    if (!err) err = ax_stream_write_all(ax_tls_stream(t), buf, 4, ax_deadline_in_ms(60000));
    if (!err) err = ax_stream_read_exact(ax_tls_stream(t), buf, 4, ax_deadline_in_ms(60000));
    if (!err && memcmp(buf, "ping", 4)) err = AX_EIO;
    if (!err)
        atomic_fetch_add(&m->ok, 1);
    else {
        int zero = 0;
        atomic_compare_exchange_strong(&m->first_err, &zero, err);
    }
    ax_tls_close(t);
    return NULL;
}

static void *all_clients(void *arg) {
    ax_task **tasks = calloc(CONNS, sizeof *tasks);
    for (int i = 0; i < CONNS; i++) cr_assert_eq(ax_spawn(&tasks[i], one_client, arg), 0);
    for (int i = 0; i < CONNS; i++) ax_join(tasks[i], NULL);
    free(tasks);
    return NULL;
}

Test(tls_many, thousand_concurrent_handshakes) {
    cr_assert_geq(raise_nofile(), 2 * CONNS + 100);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.session_cache = -1; /* every handshake is a full one */
    struct many m = {.cfg = client_config(&co)};
    /* The listener's backlog (1024) holds every connect that is not yet
     * accepted. */
    tls_srv *s = srv_start(server_config(NULL), CONNS);
    m.port = s->port;
    cr_assert_eq(ax_run(rt, all_clients, &m, NULL), 0);
    cr_assert_eq(atomic_load(&m.ok), CONNS, "first error %s",
                 ax_err_name(atomic_load(&m.first_err)));
    srv_wait(s);
    cr_assert_eq(atomic_load(&s->handshakes_ok), CONNS);
    ax_tls_config_free(m.cfg);
    srv_finish(s);
}
