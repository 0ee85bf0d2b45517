/* TLS between an Axon client and an Axon server over loopback: transfers,
 * negotiation (versions, ALPN, SNI), verification failures with their
 * reasons, mTLS, resumption, certificate reload, and bad peers. */
#include "test/tls/tls_util.h"

TestSuite(tls, .init = tls_init, .fini = rt_done, .timeout = 60);

/* --- a round trip ------------------------------------------------------------------ */

struct rt_case {
    uint16_t port;
    ax_tls_config *cfg;
    const char *name;
    int err;
    char version[16], cipher[64], alpn[32], text[384], peer[192];
    bool reused;
    size_t bytes; /* to send and get back */
};

struct send_arg {
    ax_stream *s;
    const uint8_t *b;
    size_t n;
};

static void *send_all(void *arg) {
    struct send_arg *a = arg;
    return (void *)(intptr_t)ax_stream_write_all(a->s, a->b, a->n, ax_deadline_in_ms(60000));
}

/* Connects, sends c->bytes (a pattern), reads them back, checks them,
 * shuts down and expects the server's close_notify (read returns 0). */
static void *round_trip(void *arg) {
    struct rt_case *c = arg;
    ax_tls *t;
    c->err = client_connect(c->cfg, c->name, c->port, &t);
    snprintf(c->text, sizeof c->text, "%s", tls_text(t));
    if (c->err) {
        ax_tls_close(t);
        return NULL;
    }
    snprintf(c->version, sizeof c->version, "%s", ax_tls_version(t));
    snprintf(c->cipher, sizeof c->cipher, "%s", ax_tls_cipher(t));
    snprintf(c->alpn, sizeof c->alpn, "%s", ax_tls_alpn(t) ? ax_tls_alpn(t) : "");
    if (ax_tls_peer_subject(t, c->peer, sizeof c->peer) < 0) c->peer[0] = 0;
    c->reused = ax_tls_session_reused(t);
    ax_stream *s = ax_tls_stream(t);
    size_t n = c->bytes ? c->bytes : 100;
    uint8_t *out = malloc(n), *in = malloc(n);
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(i * 31 + (i >> 13));
    /* Written by another task while this one reads: the echo sends back
     * while we send, and neither side's socket buffer holds 64 MiB. */
    struct send_arg sa = {s, out, n};
    ax_task *w;
    cr_assert_eq(ax_spawn(&w, send_all, &sa), 0);
    int err = ax_stream_read_exact(s, in, n, ax_deadline_in_ms(60000));
    void *wres;
    cr_assert_eq(ax_join(w, &wres), 0);
    cr_assert_eq((intptr_t)wres, 0, "write: %s", ax_strerror((int)(intptr_t)wres));
    cr_assert_eq(err, 0, "read back: %s (%s)", ax_strerror(err), ax_tls_error_text(t));
    cr_assert_eq(memcmp(in, out, n), 0);
    cr_assert_eq(ax_stream_shutdown(s, ax_deadline_in_ms(5000)), 0);
    char b[16];
    ssize_t r = ax_stream_read(s, b, sizeof b, ax_deadline_in_ms(5000));
    cr_assert_eq(r, 0, "after close_notify: %zd %s", r, ax_tls_error_text(t));
    free(out);
    free(in);
    ax_tls_close(t);
    return NULL;
}

static struct rt_case run_client(ax_tls_config *cfg, const char *name, uint16_t port,
                                 size_t bytes) {
    struct rt_case c = {.port = port, .cfg = cfg, .name = name, .bytes = bytes};
    cr_assert_eq(ax_run(rt, round_trip, &c, NULL), 0);
    return c;
}

Test(tls, round_trip_tls13_by_default) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, "localhost", s->port, 100000);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_str_eq(c.version, "TLSv1.3");
    cr_assert_str_eq(c.cipher, "TLS_AES_128_GCM_SHA256");
    cr_assert_str_eq(c.alpn, "");
    cr_assert_str_eq(c.peer, "/CN=localhost");
    cr_assert_not(c.reused);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, ip_literal_is_checked_against_ip_san) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, "127.0.0.1", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, sixty_four_mib_both_ways, .timeout = 120) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, "localhost", s->port, 64u << 20);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, min_version_tls13_still_serves_a_default_client) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.min_version = AX_TLS_1_3;
    tls_srv *s = srv_start(server_config(&so), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_str_eq(c.version, "TLSv1.3");
    ax_tls_config_free(cc);
    srv_finish(s);
}

/* --- ALPN ------------------------------------------------------------------------ */

Test(tls, alpn_server_preference_wins) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.alpn = "h2,http/1.1";
    tls_srv *s = srv_start(server_config(&so), 1);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.alpn = "http/1.1,h2";
    ax_tls_config *cc = client_config(&co);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_str_eq(c.alpn, "h2");
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, alpn_without_overlap_is_refused) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.alpn = "h2";
    tls_srv *s = srv_start(server_config(&so), 1);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.alpn = "http/1.1";
    ax_tls_config *cc = client_config(&co);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, AX_ETLSALPN, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_not_null(strstr(c.text, "no application protocol"), "%s", c.text);
    ax_tls_config_free(cc);
    srv_wait(s);
    pthread_mutex_lock(&s->mu);
    cr_assert_eq(s->last_err, AX_ETLSALPN, "server: %s", s->text);
    pthread_mutex_unlock(&s->mu);
    srv_finish(s);
}

Test(tls, alpn_list_is_validated) {
    ax_tls_opts o;
    ax_tls_opts_init(&o);
    ax_tls_config *cfg;
    const char *bad[] = {"", ",h2", "h2,", "h2,,http/1.1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o.alpn = bad[i];
        o.ca_file = cert("ca.pem");
        cr_assert_eq(ax_tls_client_config_new(&o, &cfg), AX_EINVAL, "alpn \"%s\"", bad[i]);
    }
}

/* --- SNI and reloading --------------------------------------------------------------- */

Test(tls, sni_picks_the_certificate_per_name) {
    ax_tls_config *sc = server_config(NULL);
    cr_assert_eq(ax_tls_config_set_cert(sc, "alt.test", cert("alt.pem"), cert("alt.key")), 0);
    tls_srv *s = srv_start(sc, 2);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, "alt.test", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_str_eq(c.peer, "/CN=alt.test");
    pthread_mutex_lock(&s->mu);
    cr_assert_str_eq(s->sni, "alt.test");
    pthread_mutex_unlock(&s->mu);
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_str_eq(c.peer, "/CN=localhost");
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, reloading_the_certificate_takes_effect_for_new_handshakes) {
    ax_tls_config *sc = server_config(NULL);
    tls_srv *s = srv_start(sc, 2);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.session_cache = -1; /* full handshakes: the certificate is sent each time */
    ax_tls_config *cc = client_config(&co);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0);
    cr_assert_str_eq(c.peer, "/CN=localhost");
    /* The renewed pair: the wrong-host one stands in for "new files". */
    cr_assert_eq(ax_tls_config_set_cert(sc, NULL, cert("wronghost.pem"), cert("wronghost.key")), 0);
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, AX_ECERTNAME, "%s: %s", ax_err_name(c.err), c.text);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, bad_certificate_files_are_refused) {
    ax_tls_opts o;
    ax_tls_opts_init(&o);
    ax_tls_config *cfg;
    cr_assert_eq(ax_tls_server_config_new(&o, &cfg), AX_EINVAL); /* no certificate */
    o.cert_file = cert("missing.pem");
    o.key_file = cert("server.key");
    cr_assert_eq(ax_tls_server_config_new(&o, &cfg), AX_ENOENT);
    o.cert_file = cert("server.pem");
    o.key_file = cert("client.key"); /* not its key */
    cr_assert_eq(ax_tls_server_config_new(&o, &cfg), AX_ECERT);
    o.cert_file = cert("server.key"); /* not a certificate */
    o.key_file = cert("server.key");
    cr_assert_eq(ax_tls_server_config_new(&o, &cfg), AX_ECERT);
    o.cert_file = cert("server.pem");
    cr_assert_eq(ax_tls_server_config_new(&o, &cfg), 0);
    cr_assert_eq(ax_tls_config_set_cert(cfg, "x.test", cert("alt.pem"), cert("server.key")),
                 AX_ECERT);
    ax_tls_config_free(cfg);
    ax_tls_opts_init(&o);
    o.min_version = 0x0302; /* TLS 1.1 */
    cr_assert_eq(ax_tls_client_config_new(&o, &cfg), AX_EINVAL);
}

/* --- verification failures --------------------------------------------------------- */

static void expect_rejected(const char *cert_name, const char *server_name, int want,
                            const char *reason) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    char pem[64], key[64];
    snprintf(pem, sizeof pem, "%s.pem", cert_name);
    snprintf(key, sizeof key, "%s.key", cert_name);
    so.cert_file = cert(pem);
    so.key_file = cert(key);
    tls_srv *s = srv_start(server_config(&so), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, server_name, s->port, 10);
    cr_assert_eq(c.err, want, "%s: got %s (%s)", cert_name, ax_err_name(c.err), c.text);
    cr_assert_not_null(strstr(c.text, reason), "%s: %s", cert_name, c.text);
    cr_assert_not_null(strstr(c.text, "subject /CN="), "%s: %s", cert_name, c.text);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, wrong_hostname_is_rejected) {
    expect_rejected("wronghost", "localhost", AX_ECERTNAME, "mismatch");
}

Test(tls, wrong_ip_is_rejected) {
    expect_rejected("alt", "127.0.0.1", AX_ECERTNAME, "mismatch");
}

Test(tls, expired_certificate_is_rejected) {
    expect_rejected("expired", "localhost", AX_ECERTEXPIRED, "expired");
}

Test(tls, untrusted_ca_is_rejected) {
    expect_rejected("rogue", "localhost", AX_ECERTUNTRUSTED, "issuer");
}

Test(tls, self_signed_is_rejected) {
    expect_rejected("self", "localhost", AX_ECERTSELF, "self signed");
}

Test(tls, insecure_option_skips_verification) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.cert_file = cert("self.pem");
    so.key_file = cert("self.key");
    tls_srv *s = srv_start(server_config(&so), 1);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.insecure_skip_verify = true;
    ax_tls_config *cc = client_config(&co);
    struct rt_case c = run_client(cc, NULL, s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    ax_tls_config_free(cc);
    srv_finish(s);
}

static void *nameless_client(void *arg) {
    ax_addr addr;
    ax_tcp_listener *l = listen_loopback(AX_INET, &addr);
    ax_tcp *c;
    cr_assert_eq(ax_tcp_connect(&addr, ax_deadline_in_ms(5000), &c), 0);
    ax_tls *t;
    /* The transport is the connection's even on failure: closed here. */
    cr_assert_eq(ax_tls_client(arg, ax_tcp_stream(c), NULL, &t), AX_EINVAL);
    ax_tcp_listener_close(l);
    return NULL;
}

Test(tls, client_without_server_name_needs_the_insecure_option) {
    ax_tls_config *cc = client_config(NULL);
    cr_assert_eq(ax_run(rt, nameless_client, cc, NULL), 0);
    ax_tls_config_free(cc);
}

/* --- mTLS ---------------------------------------------------------------------------- */

Test(tls, mtls_accepts_a_client_certificate) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.client_auth = AX_TLS_CLIENT_CERT_REQUIRE;
    so.ca_file = cert("ca.pem");
    tls_srv *s = srv_start(server_config(&so), 1);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.cert_file = cert("client.pem");
    co.key_file = cert("client.key");
    ax_tls_config *cc = client_config(&co);
    struct rt_case c = run_client(cc, "localhost", s->port, 1000);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    ax_tls_config_free(cc);
    pthread_mutex_lock(&s->mu);
    cr_assert_str_eq(s->peer, "/CN=axon client");
    pthread_mutex_unlock(&s->mu);
    srv_finish(s);
}

static void *mtls_refused_client(void *arg) {
    struct rt_case *c = arg;
    ax_tls *t;
    c->err = client_connect(c->cfg, "localhost", c->port, &t);
    if (!c->err) {
        /* In TLS 1.3 the client finishes first; the refusal arrives as an
         * alert on the first read. */
        char b[8];
        ssize_t n = ax_stream_read(ax_tls_stream(t), b, sizeof b, ax_deadline_in_ms(10000));
        c->err = n < 0 ? (int)n : -1;
    }
    snprintf(c->text, sizeof c->text, "%s", tls_text(t));
    ax_tls_close(t);
    return NULL;
}

Test(tls, mtls_refuses_a_client_without_certificate) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.client_auth = AX_TLS_CLIENT_CERT_REQUIRE;
    so.ca_file = cert("ca.pem");
    tls_srv *s = srv_start(server_config(&so), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = {.port = s->port, .cfg = cc};
    cr_assert_eq(ax_run(rt, mtls_refused_client, &c, NULL), 0);
    cr_assert_eq(c.err, AX_ETLSALERT, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_not_null(strstr(c.text, "certificate required"), "%s", c.text);
    ax_tls_config_free(cc);
    srv_wait(s);
    cr_assert_eq(s->last_err, AX_ECERTREQUIRED, "server: %s", s->text);
    srv_finish(s);
}

Test(tls, mtls_refuses_a_certificate_from_another_ca) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.client_auth = AX_TLS_CLIENT_CERT_REQUIRE;
    so.ca_file = cert("ca.pem");
    tls_srv *s = srv_start(server_config(&so), 1);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.cert_file = cert("rogue.pem");
    co.key_file = cert("rogue.key");
    ax_tls_config *cc = client_config(&co);
    struct rt_case c = {.port = s->port, .cfg = cc};
    cr_assert_eq(ax_run(rt, mtls_refused_client, &c, NULL), 0);
    cr_assert_eq(c.err, AX_ETLSALERT, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_not_null(strstr(c.text, "unknown CA"), "%s", c.text);
    ax_tls_config_free(cc);
    srv_wait(s);
    cr_assert_eq(s->last_err, AX_ECERTUNTRUSTED, "server: %s", s->text);
    cr_assert_not_null(strstr(s->text, "/CN=localhost"), "server: %s", s->text);
    srv_finish(s);
}

/* --- resumption ----------------------------------------------------------------------- */

Test(tls, second_connection_resumes_the_session) {
    tls_srv *s = srv_start(server_config(NULL), 2);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0);
    cr_assert_not(c.reused);
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert(c.reused, "the second handshake was full");
    pthread_mutex_lock(&s->mu);
    cr_assert(s->reused);
    pthread_mutex_unlock(&s->mu);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, ticket_key_rotation_keeps_one_old_key) {
    ax_tls_config *sc = server_config(NULL);
    tls_srv *s = srv_start(sc, 4);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    cr_assert_not(c.reused);
    /* One rotation: the ticket's key is now the previous one, still good;
     * the resumed connection gets a ticket under the new key. */
    cr_assert_eq(ax_tls_config_rotate_ticket_key(sc), 0);
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert(c.reused, "a ticket of the previous key was refused");
    /* Two more: the client's newest ticket's key is gone. */
    cr_assert_eq(ax_tls_config_rotate_ticket_key(sc), 0);
    cr_assert_eq(ax_tls_config_rotate_ticket_key(sc), 0);
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_not(c.reused, "a ticket of a retired key was accepted");
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert(c.reused);
    cr_assert_eq(ax_tls_config_rotate_ticket_key(cc), AX_EINVAL);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, ticket_keys_age_out_after_two_lifetimes) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.ticket_lifetime_s = 1;
    tls_srv *s = srv_start(server_config(&so), 4);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert(c.reused);
    usleep(2100 * 1000); /* past two lifetimes of the key that minted it */
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_not(c.reused, "a ticket older than two key lifetimes resumed");
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert(c.reused);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, no_resumption_when_the_cache_is_off) {
    tls_srv *s = srv_start(server_config(NULL), 2);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.session_cache = -1;
    ax_tls_config *cc = client_config(&co);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0);
    cr_assert_not(c.reused);
    ax_tls_config_free(cc);
    srv_finish(s);
}

/* --- bad peers, deadlines, cancellation -------------------------------------------------- */

/* Writes raw bytes to the server and closes. */
static void *raw_client(void *arg) {
    struct rt_case *c = arg;
    ax_addr a = ax_addr_loopback(AX_INET, c->port);
    ax_tcp *t;
    cr_assert_eq(ax_tcp_connect(&a, ax_deadline_in_ms(5000), &t), 0);
    if (c->bytes) {
        char junk[512];
        for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)("GET / HTTP/1.1\r\n"[i % 16]);
        cr_assert_eq(ax_tcp_write_all(t, junk, c->bytes, ax_deadline_in_ms(5000)), 0);
        /* The server answers with an alert (or closes): wait for it. */
        char b[64];
        ax_tcp_read(t, b, sizeof b, ax_deadline_in_ms(10000));
    }
    ax_tcp_close(t);
    return NULL;
}

static void bad_peer(size_t bytes, int want, const char *what) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    struct rt_case c = {.port = s->port, .bytes = bytes};
    cr_assert_eq(ax_run(rt, raw_client, &c, NULL), 0);
    srv_wait(s);
    cr_assert_eq(atomic_load(&s->handshakes_failed), 1);
    cr_assert_eq(s->last_err, want, "%s: %s (%s)", what, ax_err_name(s->last_err), s->text);
    cr_assert_neq(s->text[0], 0);
    srv_finish(s);
}

Test(tls, garbage_instead_of_client_hello) {
    bad_peer(300, AX_ETLS, "garbage");
}

Test(tls, peer_closing_mid_handshake) {
    bad_peer(0, AX_ETLSTRUNC, "closed");
}

struct hs_wait {
    uint16_t port;
    int err;
    bool cancel;
};

/* A listener that accepts and says nothing: the handshake must end at its
 * deadline or when cancelled. */
static void *silent_handshake(void *arg) {
    struct hs_wait *w = arg;
    ax_addr addr;
    ax_tcp_listener *l = listen_loopback(AX_INET, &addr);
    ax_tcp *c;
    cr_assert_eq(ax_tcp_connect(&addr, ax_deadline_in_ms(5000), &c), 0);
    ax_tls_config *cc = client_config(NULL);
    ax_tls *t;
    cr_assert_eq(ax_tls_client(cc, ax_tcp_stream(c), "localhost", &t), 0);
    if (w->cancel) {
        /* Cancellation: this task is aborted by the test while it waits. */
        w->err = ax_tls_handshake(t, AX_NO_DEADLINE);
    } else {
        w->err = ax_tls_handshake(t, ax_deadline_in_ms(200));
    }
    /* The connection is dead for good: a read returns the same error. */
    char b[4];
    ssize_t n = ax_stream_read(ax_tls_stream(t), b, sizeof b, ax_deadline_in_ms(1000));
    if (!w->cancel) cr_assert_eq(n, w->err);
    ax_tls_close(t);
    ax_tls_config_free(cc);
    ax_tcp_listener_close(l);
    return NULL;
}

Test(tls, handshake_deadline) {
    struct hs_wait w = {0};
    cr_assert_eq(ax_run(rt, silent_handshake, &w, NULL), 0);
    cr_assert_eq(w.err, AX_ETIMEDOUT);
}

static void *cancel_after_a_while(void *arg) {
    struct hs_wait *w = arg;
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, silent_handshake, w), 0);
    ax_sleep(100);
    ax_abort(t);
    ax_join(t, NULL);
    return NULL;
}

Test(tls, handshake_cancellation) {
    struct hs_wait w = {.cancel = true};
    cr_assert_eq(ax_run(rt, cancel_after_a_while, &w, NULL), 0);
    cr_assert_eq(w.err, AX_ECANCELED);
}

/* --- the stream interface: a buffered reader over TLS ------------------------------------ */

static void *buffered_lines(void *arg) {
    struct rt_case *c = arg;
    ax_tls *t;
    c->err = client_connect(c->cfg, "localhost", c->port, &t);
    cr_assert_eq(c->err, 0);
    ax_stream *s = ax_tls_stream(t);
    ax_bufwriter w;
    cr_assert_eq(ax_bufwriter_init(&w, s, 0), 0);
    for (int i = 0; i < 1000; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        cr_assert_eq(ax_bufwriter_write(&w, line, (size_t)n, ax_deadline_in_ms(10000)), 0);
    }
    cr_assert_eq(ax_bufwriter_flush(&w, ax_deadline_in_ms(10000)), 0);
    ax_bufwriter_free(&w);
    ax_bufreader r;
    cr_assert_eq(ax_bufreader_init(&r, s, 0), 0);
    for (int i = 0; i < 1000; i++) {
        char line[32], want[32];
        ssize_t n = ax_bufreader_read_line(&r, line, sizeof line, ax_deadline_in_ms(10000));
        snprintf(want, sizeof want, "line %d", i);
        cr_assert_eq(n, (ssize_t)strlen(want));
        cr_assert_str_eq(line, want);
    }
    ax_bufreader_free(&r);
    ax_tls_close(t);
    return NULL;
}

Test(tls, buffered_reader_and_writer_over_tls) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = {.port = s->port, .cfg = cc};
    cr_assert_eq(ax_run(rt, buffered_lines, &c, NULL), 0);
    ax_tls_config_free(cc);
    srv_finish(s);
}

/* One task reads while another writes on the same connection. */
struct duplex {
    ax_tls *t;
    size_t n;
};

static void *duplex_writer(void *arg) {
    struct duplex *d = arg;
    uint8_t *b = malloc(d->n);
    for (size_t i = 0; i < d->n; i++) b[i] = (uint8_t)(i % 251);
    cr_assert_eq(ax_stream_write_all(ax_tls_stream(d->t), b, d->n, ax_deadline_in_ms(30000)), 0);
    free(b);
    return NULL;
}

static void *duplex_main(void *arg) {
    struct rt_case *c = arg;
    struct duplex d = {.n = 8u << 20};
    if (c->name) { /* no explicit handshake: the reader and the writer race to run it */
        d.n = 100; /* small: the writer never waits for the socket */
        ax_addr a = ax_addr_loopback(AX_INET, c->port);
        ax_tcp *tcp;
        cr_assert_eq(ax_tcp_connect(&a, ax_deadline_in_ms(5000), &tcp), 0);
        cr_assert_eq(ax_tls_client(c->cfg, ax_tcp_stream(tcp), c->name, &d.t), 0);
    } else {
        cr_assert_eq(client_connect(c->cfg, "localhost", c->port, &d.t), 0);
    }
    ax_task *w;
    cr_assert_eq(ax_spawn(&w, duplex_writer, &d), 0);
    uint8_t *b = malloc(65536);
    size_t got = 0;
    while (got < d.n) {
        ssize_t n = ax_stream_read(ax_tls_stream(d.t), b, 65536, ax_deadline_in_ms(30000));
        cr_assert_gt(n, 0, "read: %zd", n);
        for (ssize_t i = 0; i < n; i++) cr_assert_eq(b[i], (uint8_t)((got + (size_t)i) % 251));
        got += (size_t)n;
    }
    free(b);
    ax_join(w, NULL);
    ax_tls_close(d.t);
    return NULL;
}

Test(tls, concurrent_reader_and_writer, .timeout = 120) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = {.port = s->port, .cfg = cc};
    cr_assert_eq(ax_run(rt, duplex_main, &c, NULL), 0);
    ax_tls_config_free(cc);
    srv_finish(s);
}

Test(tls, reader_and_writer_both_start_before_the_handshake, .timeout = 120) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    ax_tls_config *cc = client_config(NULL);
    struct rt_case c = {.port = s->port, .cfg = cc, .name = "localhost"};
    cr_assert_eq(ax_run(rt, duplex_main, &c, NULL), 0);
    ax_tls_config_free(cc);
    srv_finish(s);
}

/* A peer that never reads: the writer blocks once the kernel's buffers
 * and the connection's one queued chunk are full, and memory stays put. */
static void *never_reads(void *arg) {
    struct rt_case *c = arg;
    ax_tls *t;
    cr_assert_eq(client_connect(c->cfg, "localhost", c->port, &t), 0);
    static char chunk[16384];
    memset(chunk, 'x', sizeof chunk);
    long rss0 = rss_kib();
    uint64_t sent = 0;
    ax_instant stop = ax_deadline_in_ms(500);
    int err = 0;
    while (sent < (1ull << 30)) {
        err = ax_stream_write_all(ax_tls_stream(t), chunk, sizeof chunk, stop);
        if (err) break;
        sent += sizeof chunk;
    }
    long grew = rss_kib() - rss0;
    cr_assert_eq(err, AX_ETIMEDOUT, "got %s after %llu bytes", ax_err_name(err),
                 (unsigned long long)sent);
    cr_assert_lt(sent, 64ull << 20, "%llu bytes went out to a peer that never reads",
                 (unsigned long long)sent);
    cr_assert_lt(grew, 8192, "RSS grew by %ld KiB", grew);
    ax_tls_close(t);
    return NULL;
}

/* Accepts one connection, finishes the handshake and then reads nothing
 * until the client is gone. */
static ax_tcp_listener *lazy_listener;

static void *lazy_server(void *arg) {
    ax_tcp_listener *l = lazy_listener;
    ax_tcp *tcp;
    cr_assert_eq(ax_tcp_accept(l, &tcp, NULL, ax_deadline_in_ms(10000)), 0);
    ax_tls *t;
    ax_tls_config *sc = server_config(NULL);
    cr_assert_eq(ax_tls_server(sc, ax_tcp_stream(tcp), &t), 0);
    cr_assert_eq(ax_tls_handshake(t, ax_deadline_in_ms(10000)), 0);
    ax_sleep(1500);
    ax_tls_close(t);
    ax_tls_config_free(sc);
    ax_tcp_listener_close(l);
    return NULL;
}

static void *backpressure_main(void *arg) {
    struct rt_case *c = arg;
    ax_task *srv;
    ax_addr addr;
    lazy_listener = listen_loopback(AX_INET, &addr);
    c->port = addr.port;
    cr_assert_eq(ax_spawn(&srv, lazy_server, c), 0);
    never_reads(c);
    ax_join(srv, NULL);
    return NULL;
}

Test(tls, writer_to_a_peer_that_never_reads_is_held_back) {
    struct rt_case c = {.cfg = client_config(NULL)};
    cr_assert_eq(ax_run(rt, backpressure_main, &c, NULL), 0);
    ax_tls_config_free(c.cfg);
}

/* ax_tls_close without a shutdown still sends close_notify: the peer sees
 * a clean end of stream, not AX_ETLSTRUNC. */
static void *closing_server(void *arg) {
    ax_tcp *tcp;
    cr_assert_eq(ax_tcp_accept(lazy_listener, &tcp, NULL, ax_deadline_in_ms(10000)), 0);
    ax_tls *t;
    ax_tls_config *sc = server_config(NULL);
    cr_assert_eq(ax_tls_server(sc, ax_tcp_stream(tcp), &t), 0);
    cr_assert_eq(ax_tls_handshake(t, ax_deadline_in_ms(10000)), 0);
    ax_tls_close(t);
    ax_tls_config_free(sc);
    return NULL;
}

static void *close_notify_main(void *arg) {
    struct rt_case *c = arg;
    ax_addr addr;
    lazy_listener = listen_loopback(AX_INET, &addr);
    ax_task *srv;
    cr_assert_eq(ax_spawn(&srv, closing_server, NULL), 0);
    ax_tls *t;
    cr_assert_eq(client_connect(c->cfg, "localhost", addr.port, &t), 0);
    char b[8];
    ssize_t n = ax_stream_read(ax_tls_stream(t), b, sizeof b, ax_deadline_in_ms(10000));
    cr_assert_eq(n, 0, "read: %zd %s", n, ax_tls_error_text(t));
    ax_join(srv, NULL);
    ax_tls_close(t);
    ax_tcp_listener_close(lazy_listener);
    return NULL;
}

Test(tls, close_sends_close_notify) {
    struct rt_case c = {.cfg = client_config(NULL)};
    cr_assert_eq(ax_run(rt, close_notify_main, &c, NULL), 0);
    ax_tls_config_free(c.cfg);
}

Test(tls, ca_directory_is_used) {
    char dir[160], cmd[1024];
    snprintf(dir, sizeof dir, "%s/cadir.%d", certs_dir, (int)getpid());
    snprintf(cmd, sizeof cmd, "mkdir -p %s && cp %s %s/ && openssl rehash %s", dir, cert("ca.pem"),
             dir, dir);
    cr_assert_eq(system(cmd), 0);
    tls_srv *s = srv_start(server_config(NULL), 2);
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.ca_dir = dir;
    ax_tls_config *cc = client_config(&co);
    struct rt_case c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    ax_tls_config_free(cc);
    /* The system store does not know the test CA. */
    ax_tls_opts_init(&co);
    co.ca_dir = "/etc/ssl/certs";
    cc = client_config(&co);
    c = run_client(cc, "localhost", s->port, 10);
    cr_assert_eq(c.err, AX_ECERTUNTRUSTED, "%s: %s", ax_err_name(c.err), c.text);
    ax_tls_config_free(cc);
    srv_finish(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(tls, missing_ca_file_is_reported) {
    ax_tls_opts o;
    ax_tls_opts_init(&o);
    o.ca_file = cert("no-such-ca.pem");
    ax_tls_config *cfg;
    cr_assert_eq(ax_tls_client_config_new(&o, &cfg), AX_ENOENT);
}

Test(tls, error_names) {
    cr_assert_str_eq(ax_err_name(AX_ECERTEXPIRED), "AX_ECERTEXPIRED");
    cr_assert_str_eq(ax_strerror(AX_ETLSTRUNC), "TLS stream ended without close_notify");
}
