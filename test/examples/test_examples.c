/* The examples build with the suite and must run: `make test` passes their
 * folder in AXON_EXAMPLES. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test/examples_util.h"

/* Runs AXON_EXAMPLES/<name> with args; returns its wait status and its
 * stdout in out. With sig > 0 the signal is sent after delay_ms. */
static int run_example(const char *name, char *const args[], char *out, size_t cap, int sig,
                       int delay_ms) {
    int fd;
    pid_t pid = example_spawn(name, (const char *const *)args, &fd);
    if (sig) {
        usleep((useconds_t)delay_ms * 1000);
        kill(pid, sig);
    }
    return example_collect(pid, fd, out, cap);
}

Test(examples, hello, .timeout = 30) {
    char out[4096];
    int st = run_example("hello", NULL, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "slept 60 ms in total"), "output: %s", out);
}

Test(examples, demo_runs_for_a_second, .timeout = 60) {
    char out[8192];
    char *args[] = {"--port", "0", "--seconds", "1", NULL};
    int st = run_example("demo", args, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "listening on http://127.0.0.1:"), "output: %s", out);
    cr_assert_not_null(strstr(out, "/users/42"), "output: %s", out);
    cr_assert_not_null(strstr(out, "1 s passed, stopping"), "output: %s", out);
    cr_assert_not_null(strstr(out, "shut down"), "output: %s", out);
}

/* Sends one request to 127.0.0.1:port and returns the whole answer (the
 * request says Connection: close). */
static void http_get(int port, const char *req, char *out, size_t cap) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0) len += (size_t)n;
    out[len] = 0;
    close(fd);
}

/* The demo as `make run` starts it: its routes answer over real sockets,
 * and SIGINT shuts it down gracefully. */
Test(examples, demo_serves_http_and_stops_on_sigint, .timeout = 60) {
    static const char *const args[] = {"--port", "0", "--workers", "2", NULL};
    int fd;
    pid_t pid = example_spawn("demo", args, &fd);
    FILE *f = fdopen(fd, "r");
    char line[512];
    int port = 0;
    while (!port && fgets(line, sizeof line, f)) {
        char *at = strstr(line, "listening on http://127.0.0.1:");
        if (at) port = atoi(at + strlen("listening on http://127.0.0.1:"));
    }
    cr_assert_gt(port, 0, "demo did not print its address");
    static char out[65536];
    http_get(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    cr_assert_not_null(strstr(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "Content-Type: text/plain\r\nContent-Length: 13\r\n"), "%s",
                       out);
    cr_assert_not_null(strstr(out, "\r\n\r\nHello, World!"), "%s", out);
    http_get(port, "GET /json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    cr_assert_not_null(strstr(out, "\r\n\r\n{\"message\":\"Hello, World!\"}"), "%s", out);
    http_get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
             sizeof out);
    cr_assert_not_null(strstr(out, "\naxon_http_requests_total{class=\"2xx\"} 2\n"), "%s", out);
    cr_assert_not_null(strstr(out, "\naxon_tasks_spawned_total "), "%s", out);
    http_get(port, "GET /metrics.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
             sizeof out);
    cr_assert_not_null(strstr(out, "\r\n\r\n{\"http\":{\"requests\":3,"), "%s", out);
    http_get(port, "GET /users/77 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
             sizeof out);
    cr_assert_not_null(strstr(out, "{\"id\":\"77\"}"), "%s", out);
    http_get(port,
             "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n"
             "abcde",
             out, sizeof out);
    cr_assert_not_null(strstr(out, "\r\n\r\nabcde"), "%s", out);
    http_get(port, "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out, sizeof out);
    cr_assert_not_null(strstr(out, "Transfer-Encoding: chunked\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "7\r\nline 1\n\r\n"), "%s", out);
    cr_assert_not_null(strstr(out, "8\r\nline 10\n\r\n0\r\n\r\n"), "%s", out);
    http_get(port, "GET /delay/20 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
             sizeof out);
    cr_assert_not_null(strstr(out, "waited 20 ms"), "%s", out);
    http_get(port, "GET /delay/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", out,
             sizeof out);
    cr_assert_not_null(strstr(out, "HTTP/1.1 400 "), "%s", out);
    kill(pid, SIGINT);
    size_t len = 0;
    while (len + 1 < sizeof out && fgets(out + len, (int)(sizeof out - len), f))
        len += strlen(out + len);
    fclose(f);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "got signal 2 (SIGINT), stopping"), "output: %s", out);
}

Test(examples, demo_rejects_bad_arguments) {
    char out[1024];
    char *args[] = {"--bogus", NULL};
    int st = run_example("demo", args, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
}

Test(examples, embed_poll_host_loop_drives_axon, .timeout = 60) {
    char out[8192];
    char *args[] = {"30", NULL};
    int st = run_example("embed_poll", args, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "task: slept 3 x 25 ms"), "output: %s", out);
    cr_assert_not_null(strstr(out, "task: a byte arrived from another thread"), "output: %s", out);
    cr_assert_not_null(strstr(out, "task: the host sent 30 frame numbers"), "output: %s", out);
    cr_assert_not_null(strstr(out, "host: 30 frames"), "output: %s", out);
}

Test(examples, udp_echo, .timeout = 30) {
    char out[4096];
    int st = run_example("udp_echo", NULL, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "3 of 3 echoed"), "output: %s", out);
}

Test(examples, unix_pass_fd, .timeout = 30) {
    char out[4096];
    int st = run_example("unix_pass_fd", NULL, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "it reads: hello through a passed pipe"), "output: %s", out);
}

/* grep over three files at once, one of them missing. */
Test(examples, grep_searches_files_concurrently, .timeout = 60) {
    char d[] = "/tmp/axgrep.XXXXXX", a[64], b[64], c[64];
    cr_assert_not_null(mkdtemp(d));
    snprintf(a, sizeof a, "%s/a.txt", d);
    snprintf(b, sizeof b, "%s/b.txt", d);
    snprintf(c, sizeof c, "%s/missing", d);
    FILE *f = fopen(a, "w");
    fputs("alpha needle\nbeta\r\nneedle gamma", f);
    fclose(f);
    f = fopen(b, "w");
    for (int i = 1; i <= 5000; i++)
        fprintf(f, i == 4321 ? "line %d has the needle\n" : "line %d\n", i);
    fclose(f);
    char out[8192];
    char *args[] = {"needle", a, b, c, NULL};
    int st = run_example("grep", args, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d, output: %s", st, out);
    char want[128];
    snprintf(want, sizeof want, "%s:1:alpha needle\n", a);
    cr_assert_not_null(strstr(out, want), "output: %s", out);
    snprintf(want, sizeof want, "%s:3:needle gamma\n", a);
    cr_assert_not_null(strstr(out, want), "output: %s", out);
    snprintf(want, sizeof want, "%s:4321:line 4321 has the needle\n", b);
    cr_assert_not_null(strstr(out, want), "output: %s", out);
    cr_assert_null(strstr(out, "beta"), "output: %s", out);
    char *args2[] = {"needle", a, NULL};
    st = run_example("grep", args2, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    remove(a);
    remove(b);
    remove(d);
}
