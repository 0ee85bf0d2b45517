/* The TLS examples run: echo --tls-cert/--tls-key serving tls-client. */
#include "test/tls/tls_util.h"

TestSuite(tls_examples, .init = certs_init, .timeout = 60);

static const char *example(const char *name) {
    static char path[2][4096];
    static int k;
    const char *dir = getenv("AXON_EXAMPLES");
    cr_assert_not_null(dir, "AXON_EXAMPLES is not set (run through make test)");
    char *p = path[k++ % 2];
    snprintf(p, 4096, "%s/%s", dir, name);
    return p;
}

/* Starts the TLS echo example; returns its port. */
static uint16_t echo_start(peer *p, const char *pem, const char *key) {
    char *argv[] = {(char *)example("echo"),
                    "--port",
                    "0",
                    "--host",
                    "127.0.0.1",
                    "--workers",
                    "2",
                    "--tls-cert",
                    (char *)pem,
                    "--tls-key",
                    (char *)key,
                    NULL};
    *p = peer_start(argv);
    char out[1024];
    size_t len = 0;
    cr_assert(peer_expect(p, "listening on 127.0.0.1:", out, sizeof out, &len), "echo: %s", out);
    while (!strchr(strstr(out, "127.0.0.1:"), '\n'))
        cr_assert(peer_expect(p, "\n", out, sizeof out, &len), "echo: %s", out);
    return (uint16_t)atoi(strstr(out, "127.0.0.1:") + 10);
}

static void echo_stop(peer *p) {
    kill(p->pid, SIGTERM);
    char out[4096];
    size_t len = 0;
    int st = peer_finish(p, out, sizeof out, &len);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "echo: status %d: %s", st, out);
}

/* Runs tls-client with input on stdin; returns its status and output. */
static int client_run(uint16_t port, const char *ca, const char *input, char *out, size_t cap) {
    char ps[16];
    snprintf(ps, sizeof ps, "%u", port);
    char *argv[] = {(char *)example("tls-client"),
                    "localhost",
                    ps,
                    "--cafile",
                    (char *)ca,
                    "--alpn",
                    "http/1.1",
                    NULL};
    peer p = peer_start(argv);
    size_t n = strlen(input);
    cr_assert_eq(write(p.in, input, n), (ssize_t)n);
    size_t len = 0;
    return peer_finish(&p, out, cap, &len);
}

Test(tls_examples, tls_client_through_tls_echo) {
    peer e;
    uint16_t port = echo_start(&e, cert("server.pem"), cert("server.key"));
    char out[4096];
    int st = client_run(port, cert("ca.pem"), "hello through TLS\nsecond line\n", out, sizeof out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tls-client: %d: %s", st, out);
    cr_assert_not_null(strstr(out, "connected: TLSv1.3, TLS_AES_128_GCM_SHA256, ALPN none"), "%s",
                       out);
    cr_assert_not_null(strstr(out, "hello through TLS\nsecond line\n"), "%s", out);
    echo_stop(&e);
}

Test(tls_examples, tls_client_refuses_an_untrusted_server) {
    peer e;
    uint16_t port = echo_start(&e, cert("rogue.pem"), cert("rogue.key"));
    char out[4096];
    int st = client_run(port, cert("ca.pem"), "x\n", out, sizeof out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "tls-client: %d: %s", st, out);
    cr_assert_not_null(strstr(out, "certificate not issued by a trusted authority"), "%s", out);
    cr_assert_not_null(strstr(out, "subject /CN=localhost"), "%s", out);
    echo_stop(&e);
}

Test(tls_examples, echo_refuses_a_key_that_does_not_match) {
    char *argv[] = {(char *)example("echo"),
                    "--port",
                    "0",
                    "--tls-cert",
                    (char *)cert("server.pem"),
                    "--tls-key",
                    (char *)cert("client.key"),
                    NULL};
    peer p = peer_start(argv);
    char out[1024];
    size_t len = 0;
    int st = peer_finish(&p, out, sizeof out, &len);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "echo: %d: %s", st, out);
    cr_assert_not_null(strstr(out, "certificate rejected"), "%s", out);
}

Test(tls_examples, tls_client_usage) {
    char *argv[] = {(char *)example("tls-client"), "localhost", NULL};
    peer p = peer_start(argv);
    char out[1024];
    size_t len = 0;
    int st = peer_finish(&p, out, sizeof out, &len);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%d: %s", st, out);
}
