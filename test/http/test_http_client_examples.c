/* examples/fetch and examples/crawler run as the user would run them
 * (AXON_EXAMPLES names their folder; make test sets it): fetch against
 * Axon servers on loopback, several URLs at once, with -X, -H and -d, and
 * a refused one; the crawler over its own in-process site. */
#include "test/examples_util.h"
#include "test/http/client_util.h"

TestSuite(http_client_examples, .init = csrv_up, .fini = csrv_down, .timeout = 60);

/* Runs AXON_EXAMPLES/<name> with args (NULL-terminated, argv[0] excluded);
 * returns its exit status (-1 on a signal) and its stdout in out. */
static int run_ex(const char *name, const char *const *args, char *out, size_t cap) {
    int fd;
    pid_t pid = example_spawn(name, args, &fd);
    int st = example_collect(pid, fd, out, cap);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(http_client_examples, fetch) {
    static char out[1 << 16];
    char u1[128], u2[128], u3[128];
    snprintf(u1, sizeof u1, "%s", url_of(1, "/users/7"));
    snprintf(u2, sizeof u2, "%s", url_of(2, "/hdr/x-test"));
    snprintf(u3, sizeof u3, "%s", url_of(3, "/"));
    const char *a[] = {"-H", "X-Test: from-fetch", u1, u2, u3, NULL};
    cr_assert_eq(run_ex("fetch", a, out, sizeof out), 0, "%s", out);
    /* In the order given, each with status line, headers and body. */
    char *p1 = strstr(out, u1), *p2 = strstr(out, u2), *p3 = strstr(out, u3);
    cr_assert(p1 && p2 && p3 && p1 < p2 && p2 < p3, "%s", out);
    cr_assert_not_null(strstr(p1, "HTTP/1.1 200 OK\nServer: axon\n"), "%s", out);
    cr_assert_not_null(strstr(p1, "Content-Type: application/json\n"), "%s", out);
    cr_assert_not_null(strstr(p1, "\n\n{\"id\":\"7\"}\n"), "%s", out);
    cr_assert_not_null(strstr(p2, "\n\nfrom-fetch\n"), "%s", out);
    cr_assert_not_null(strstr(p3, "\n\nHello, World!\n"), "%s", out);
    /* -X and -d. */
    const char *b[] = {
        "-X", "PUT", "-d", "payload", "-H", "Content-Type: text/x-t", url_of(1, "/method"), NULL};
    cr_assert_eq(run_ex("fetch", b, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "\n\nPUT text/x-t payload\n"), "%s", out);
    /* A failed request is reported and makes the exit status 1. */
    const char *c[] = {url_of(1, "/"), "http://127.0.0.1:1/", NULL};
    cr_assert_eq(run_ex("fetch", c, out, sizeof out), 1, "%s", out);
    cr_assert_not_null(strstr(out, "Hello, World!"), "%s", out);
    cr_assert_not_null(strstr(out, "error: connection refused (AX_ECONNREFUSED)"), "%s", out);
    const char *d[] = {"-Z", NULL};
    cr_assert_eq(run_ex("fetch", d, out, sizeof out), 2);
}

Test(http_client_examples, crawler) {
    static char out[4096];
    const char *a[] = {"--pages", "31", "--delay", "20", "--concurrency", "8", NULL};
    cr_assert_eq(run_ex("crawler", a, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "concurrent (8 at a time): 31 pages, 0 failed"), "%s", out);
    cr_assert_not_null(strstr(out, "one by one:                31 pages, 0 failed"), "%s", out);
    cr_assert_not_null(strstr(out, "speed-up: "), "%s", out);
}
