/* TLS against real peers: openssl s_client and curl talking to an Axon
 * server, and an Axon client talking to openssl s_server, including the
 * versions, suites and ALPN choices the server must refuse or accept. */
#include "test/tls/tls_util.h"

TestSuite(tls_peers, .init = tls_init, .fini = rt_done, .timeout = 60);

static char *port_str(uint16_t port) {
    static char b[32];
    snprintf(b, sizeof b, "127.0.0.1:%u", port);
    return b;
}

/* --- openssl s_client -> Axon server ------------------------------------------------ */

/* Runs s_client with extra args against s; sends a line and expects it
 * back when want_ok, else expects s_client to fail. Returns its output. */
static void s_client(tls_srv *s, char *const extra[], bool want_ok, char *out, size_t cap) {
    char *argv[32] = {"openssl",     "s_client",
                      "-connect",    port_str(s->port),
                      "-brief",      "-verify_return_error",
                      "-CAfile",     (char *)cert("ca.pem"),
                      "-servername", "localhost"};
    int k = 10;
    for (int i = 0; extra && extra[i]; i++) argv[k++] = extra[i];
    argv[k] = NULL;
    peer p = peer_start(argv);
    size_t len = 0;
    if (want_ok) {
        cr_assert(peer_expect(&p, "CONNECTION ESTABLISHED", out, cap, &len), "s_client: %s", out);
        static const char line[] = "hello from s_client\n";
        cr_assert_eq(write(p.in, line, sizeof line - 1), (ssize_t)(sizeof line - 1));
        cr_assert(peer_expect(&p, "hello from s_client", out, cap, &len), "no echo: %s", out);
    }
    int st = peer_finish(&p, out, cap, &len);
    if (want_ok)
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st, out);
    else
        cr_assert(!WIFEXITED(st) || WEXITSTATUS(st) != 0, "s_client succeeded: %s", out);
}

Test(tls_peers, s_client_tls13) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    char out[8192];
    s_client(s, NULL, true, out, sizeof out);
    cr_assert_not_null(strstr(out, "Protocol version: TLSv1.3"), "%s", out);
    cr_assert_not_null(strstr(out, "Verification: OK"), "%s", out);
    srv_finish(s);
}

Test(tls_peers, s_client_tls12_gets_an_ecdhe_aead_suite) {
    tls_srv *s = srv_start(server_config(NULL), 1);
    char out[8192];
    char *extra[] = {"-tls1_2", NULL};
    s_client(s, extra, true, out, sizeof out);
    cr_assert_not_null(strstr(out, "Protocol version: TLSv1.2"), "%s", out);
    /* BoringSSL follows the client's order among its own (ECDHE + AEAD). */
    cr_assert_not_null(strstr(out, "Ciphersuite: ECDHE-ECDSA-"), "%s", out);
    cr_assert(strstr(out, "-GCM-") || strstr(out, "CHACHA20"), "%s", out);
    srv_finish(s);
}

static void refused(char *const extra[], ax_tls_opts *so, int want) {
    tls_srv *s = srv_start(server_config(so), 1);
    char out[8192];
    s_client(s, extra, false, out, sizeof out);
    srv_wait(s);
    cr_assert_eq(s->last_err, want, "server: %s (%s); s_client: %s", ax_err_name(s->last_err),
                 s->text, out);
    srv_finish(s);
}

Test(tls_peers, s_client_tls11_is_refused) {
    /* SECLEVEL=0, or OpenSSL 3 would not even offer TLS 1.1. */
    char *extra[] = {"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", NULL};
    refused(extra, NULL, AX_ETLSVERSION);
}

Test(tls_peers, s_client_static_rsa_cbc_suite_is_refused) {
    char *extra[] = {"-tls1_2", "-cipher", "AES128-SHA", NULL};
    refused(extra, NULL, AX_ETLSCIPHER);
}

Test(tls_peers, s_client_tls12_is_refused_by_a_tls13_floor) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.min_version = AX_TLS_1_3;
    char *extra[] = {"-tls1_2", NULL};
    refused(extra, &so, AX_ETLSVERSION);
}

Test(tls_peers, s_client_alpn) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.alpn = "h2,http/1.1";
    tls_srv *s = srv_start(server_config(&so), 1);
    char out[8192];
    char *extra[] = {"-alpn", "http/1.1", NULL};
    s_client(s, extra, true, out, sizeof out);
    srv_wait(s);
    cr_assert_str_eq(s->alpn, "http/1.1");
    srv_finish(s);
}

Test(tls_peers, s_client_with_a_client_certificate) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.client_auth = AX_TLS_CLIENT_CERT_REQUIRE;
    so.ca_file = cert("ca.pem");
    tls_srv *s = srv_start(server_config(&so), 1);
    char out[8192];
    char *extra[] = {"-cert", (char *)cert("client.pem"), "-key", (char *)cert("client.key"), NULL};
    s_client(s, extra, true, out, sizeof out);
    srv_wait(s);
    cr_assert_str_eq(s->peer, "/CN=axon client");
    srv_finish(s);
}

Test(tls_peers, s_client_without_a_client_certificate_is_refused) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.client_auth = AX_TLS_CLIENT_CERT_REQUIRE;
    so.ca_file = cert("ca.pem");
    tls_srv *s = srv_start(server_config(&so), 1);
    char *argv[] = {"openssl",
                    "s_client",
                    "-connect",
                    port_str(s->port),
                    "-brief",
                    "-CAfile",
                    (char *)cert("ca.pem"),
                    NULL};
    peer p = peer_start(argv);
    /* TLS 1.3: s_client's handshake ends before the server says no; send
     * a line so that it reads the alert. */
    char out[8192];
    size_t len = 0;
    (void)!write(p.in, "x\n", 2);
    peer_finish(&p, out, sizeof out, &len);
    srv_wait(s);
    cr_assert_eq(s->last_err, AX_ECERTREQUIRED, "server: %s (%s)", ax_err_name(s->last_err),
                 s->text);
    srv_finish(s);
}

Test(tls_peers, s_client_resumes_with_a_saved_session) {
    tls_srv *s = srv_start(server_config(NULL), 2);
    char sess[256], out[8192];
    snprintf(sess, sizeof sess, "%s/sess.%d", certs_dir, (int)getpid());
    char *first[] = {"-sess_out", sess, NULL};
    s_client(s, first, true, out, sizeof out);
    cr_assert_not_null(strstr(out, "Protocol version: TLSv1.3"), "%s", out);
    char *second[] = {"-sess_in", sess, NULL};
    s_client(s, second, true, out, sizeof out);
    srv_wait(s);
    cr_assert(s->reused, "s_client's second handshake was full: %s", out);
    unlink(sess);
    srv_finish(s);
}

/* --- curl -> Axon server ------------------------------------------------------------ */

Test(tls_peers, curl_gets_a_response) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.alpn = "http/1.1";
    tls_srv *s = srv_start_ex(server_config(&so), 1, true);
    char url[64];
    snprintf(url, sizeof url, "https://localhost:%u/", s->port);
    char *argv[] = {"curl", "-sS", "--cacert", (char *)cert("ca.pem"), url, NULL};
    peer p = peer_start(argv);
    char out[4096];
    size_t len = 0;
    int st = peer_finish(&p, out, sizeof out, &len);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "curl: %d %s", st, out);
    cr_assert_str_eq(out, "hello");
    srv_wait(s);
    cr_assert_eq(s->last_err, 0);
    cr_assert_str_eq(s->alpn, "http/1.1");
    cr_assert_str_eq(s->sni, "localhost");
    srv_finish(s);
}

Test(tls_peers, curl_refuses_a_wrong_host) {
    ax_tls_opts so;
    ax_tls_opts_init(&so);
    so.cert_file = cert("wronghost.pem");
    so.key_file = cert("wronghost.key");
    tls_srv *s = srv_start_ex(server_config(&so), 1, true);
    char url[64];
    snprintf(url, sizeof url, "https://localhost:%u/", s->port);
    char *argv[] = {"curl", "-sS", "--cacert", (char *)cert("ca.pem"), url, NULL};
    peer p = peer_start(argv);
    char out[4096];
    size_t len = 0;
    int st = peer_finish(&p, out, sizeof out, &len);
    /* 60: CURLE_PEER_FAILED_VERIFICATION. curl checks the name after the
     * handshake, so the server may see a finished handshake and a close. */
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 60, "curl: %d %s", st, out);
    cr_assert_not_null(strstr(out, "localhost"), "%s", out);
    srv_finish(s);
}

/* --- Axon client -> openssl s_server --------------------------------------------------- */

struct sserver_case {
    uint16_t port;
    ax_tls_config *cfg;
    int err;
    char version[16], cipher[64], alpn[32], text[384], reply[64];
};

/* Sends a line to s_server -rev and reads the reversed line back. */
static void *sserver_client(void *arg) {
    struct sserver_case *c = arg;
    ax_tls *t;
    c->err = client_connect(c->cfg, "localhost", c->port, &t);
    snprintf(c->text, sizeof c->text, "%s", tls_text(t));
    if (!c->err) {
        snprintf(c->version, sizeof c->version, "%s", ax_tls_version(t));
        snprintf(c->cipher, sizeof c->cipher, "%s", ax_tls_cipher(t));
        snprintf(c->alpn, sizeof c->alpn, "%s", ax_tls_alpn(t) ? ax_tls_alpn(t) : "");
        ax_stream *s = ax_tls_stream(t);
        cr_assert_eq(ax_stream_write_all(s, "axon\n", 5, ax_deadline_in_ms(10000)), 0);
        ax_bufreader r;
        cr_assert_eq(ax_bufreader_init(&r, s, 0), 0);
        ssize_t n = ax_bufreader_read_line(&r, c->reply, sizeof c->reply, ax_deadline_in_ms(10000));
        cr_assert_geq(n, 0, "read: %s (%s)", ax_strerror((int)n), ax_tls_error_text(t));
        ax_bufreader_free(&r);
        ax_stream_shutdown(s, ax_deadline_in_ms(5000));
    }
    ax_tls_close(t);
    return NULL;
}

/* Starts s_server -rev with extra args and returns its port. */
static uint16_t sserver_start(peer *p, char *const extra[]) {
    char *argv[32] = {"openssl",
                      "s_server",
                      "-accept",
                      "127.0.0.1:0",
                      "-naccept",
                      "1",
                      "-rev",
                      "-cert",
                      (char *)cert("server.pem"),
                      "-key",
                      (char *)cert("server.key")};
    int k = 11;
    for (int i = 0; extra && extra[i]; i++) argv[k++] = extra[i];
    argv[k] = NULL;
    *p = peer_start(argv);
    char out[4096];
    size_t len = 0;
    static const char tag[] = "ACCEPT 127.0.0.1:";
    cr_assert(peer_expect(p, tag, out, sizeof out, &len), "s_server: %s", out);
    while (!strchr(strstr(out, tag), '\n'))
        cr_assert(peer_expect(p, "\n", out, sizeof out, &len), "s_server: %s", out);
    return (uint16_t)atoi(strstr(out, tag) + strlen(tag));
}

static struct sserver_case sserver_run(char *const extra[], ax_tls_opts *co) {
    peer p;
    struct sserver_case c = {.port = sserver_start(&p, extra), .cfg = client_config(co)};
    cr_assert_eq(ax_run(rt, sserver_client, &c, NULL), 0);
    peer_kill(&p);
    ax_tls_config_free(c.cfg);
    return c;
}

Test(tls_peers, axon_client_to_s_server) {
    struct sserver_case c = sserver_run(NULL, NULL);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_str_eq(c.version, "TLSv1.3");
    cr_assert_str_eq(c.reply, "noxa");
}

Test(tls_peers, axon_client_to_a_tls12_only_s_server) {
    char *extra[] = {"-tls1_2", NULL};
    struct sserver_case c = sserver_run(extra, NULL);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_str_eq(c.version, "TLSv1.2");
    cr_assert_str_eq(c.cipher, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
    cr_assert_str_eq(c.reply, "noxa");
}

Test(tls_peers, axon_client_with_tls13_floor_refuses_a_tls12_server) {
    char *extra[] = {"-tls1_2", NULL};
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.min_version = AX_TLS_1_3;
    struct sserver_case c = sserver_run(extra, &co);
    cr_assert_eq(c.err, AX_ETLSVERSION, "%s: %s", ax_err_name(c.err), c.text);
}

Test(tls_peers, axon_client_alpn_with_s_server) {
    char *extra[] = {"-alpn", "h2,http/1.1", NULL};
    ax_tls_opts co;
    ax_tls_opts_init(&co);
    co.alpn = "http/1.1";
    struct sserver_case c = sserver_run(extra, &co);
    cr_assert_eq(c.err, 0, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_str_eq(c.alpn, "http/1.1");
}

Test(tls_peers, axon_client_rejects_s_server_with_an_untrusted_certificate) {
    char *extra[] = {"-cert", (char *)cert("rogue.pem"), "-key", (char *)cert("rogue.key"), NULL};
    /* s_server takes the last -cert. */
    struct sserver_case c = sserver_run(extra, NULL);
    cr_assert_eq(c.err, AX_ECERTUNTRUSTED, "%s: %s", ax_err_name(c.err), c.text);
    cr_assert_not_null(strstr(c.text, "/CN=localhost"), "%s", c.text);
}
