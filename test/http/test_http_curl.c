/* The HTTP server against a real client, curl: keep-alive, chunked bodies
 * both ways, 100-continue, HEAD, HTTP/1.0. On Windows (wine) there is no
 * curl.exe: the helpers skip each test with the reason. */
#include "test/http/curl_util.h"

TestSuite(http_curl, .init = srv_defaults, .fini = srv_down, .timeout = 60);

static char url_buf[8][128];
static const char *url(int slot, const char *path) {
    snprintf(url_buf[slot], sizeof url_buf[slot], "http://127.0.0.1:%u%s", srv_port, path);
    return url_buf[slot];
}

/* A file of n pseudo-random bytes; returns its path (static). */
static const char *make_file(size_t n, char **bytes) {
    AX_WIN_SKIP(AX_WIN_NO_CURL);
#ifdef _WIN32
    return NULL;
#else
    static char path[] = "/tmp/axon-curl-body-XXXXXX";
    strcpy(path, "/tmp/axon-curl-body-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    *bytes = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        (*bytes)[i] = (char)(x >> 16);
    }
    cr_assert_eq(write(fd, *bytes, n), (ssize_t)n);
    close(fd);
    return path;
#endif
}

Test(http_curl, keep_alive_reuses_the_connection) {
    const char *args[] = {"-sv", url(0, "/"), url(1, "/users/12"), url(2, "/json-missing"), NULL};
    char *out, *err;
    cr_assert_eq(curl(args, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(out, "Hello, World!{\"id\":\"12\"}Not Found\n"), "out: %s", out);
    cr_assert_not_null(strstr(err, "Re-using existing connection"), "stderr: %s", err);
    cr_assert_null(strstr(err, "Closing connection"), "stderr: %s", err);
    free(out);
    free(err);
}

Test(http_curl, chunked_upload_and_echo) {
    char *bytes;
    size_t n = 500000;
    const char *path = make_file(n, &bytes);
    char data[300];
    snprintf(data, sizeof data, "@%s", path);
    const char *args[] = {"-s",
                          "-H",
                          "Transfer-Encoding: chunked",
                          "--data-binary",
                          data,
                          "-H",
                          "Content-Type: application/octet-stream",
                          url(0, "/echo"),
                          NULL};
    char *out, *err;
    size_t olen;
    cr_assert_eq(curl(args, &out, &olen, &err), 0, "stderr: %s", err);
    cr_assert_eq(olen, n);
    cr_assert_eq(memcmp(out, bytes, n), 0);
    free(out);
    free(err);
    unlink(path);
    free(bytes);
}

Test(http_curl, chunked_download) {
    const char *args[] = {"-sv", url(0, "/stream?n=5000"), NULL};
    char *out, *err;
    size_t olen;
    cr_assert_eq(curl(args, &out, &olen, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(err, "Transfer-Encoding: chunked"), "stderr: %s", err);
    cr_assert_eq(olen, 5000 * 100);
    cr_assert_eq(memcmp(out + 4999 * 100, "0000004999 ", 11), 0);
    free(out);
    free(err);
}

Test(http_curl, expect_100_continue) {
    char *bytes;
    size_t n = 200000;
    const char *path = make_file(n, &bytes);
    char data[300];
    snprintf(data, sizeof data, "@%s", path);
    const char *args[] = {"-sv",           "-H", "Expect: 100-continue", "--data-binary", data,
                          url(0, "/echo"), NULL};
    char *out, *err;
    size_t olen;
    cr_assert_eq(curl(args, &out, &olen, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(err, "HTTP/1.1 100 Continue"), "stderr: %s", err);
    cr_assert_eq(olen, n);
    cr_assert_eq(memcmp(out, bytes, n), 0);
    free(out);
    free(err);
    unlink(path);
    free(bytes);
}

Test(http_curl, head_and_http10) {
    const char *args[] = {"-sI", url(0, "/"), NULL};
    char *out, *err;
    size_t olen;
    cr_assert_eq(curl(args, &out, &olen, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(out, "HTTP/1.1 200 OK\r\n"), "out: %s", out);
    cr_assert_not_null(strstr(out, "Content-Length: 13\r\n"), "out: %s", out);
    cr_assert_null(strstr(out, "Hello"), "HEAD got a body: %s", out);
    free(out);
    free(err);
    const char *args10[] = {"-s", "-0", "-D", "-", url(0, "/users/3"), NULL};
    cr_assert_eq(curl(args10, &out, &olen, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(out, "Connection: close\r\n"), "out: %s", out);
    cr_assert_not_null(strstr(out, "{\"id\":\"3\"}"), "out: %s", out);
    free(out);
    free(err);
    const char *args405[] = {"-s", "-X", "PATCH", "-D", "-", url(0, "/users/3"), NULL};
    cr_assert_eq(curl(args405, &out, &olen, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(out, "HTTP/1.1 405 Method Not Allowed\r\n"), "out: %s", out);
    cr_assert_not_null(strstr(out, "Allow: GET, HEAD\r\n"), "out: %s", out);
    free(out);
    free(err);
}

/* HEAD on a streaming route gets GET's head, Transfer-Encoding included,
 * and no body (curl would hang or complain on a stray body). */
Test(http_curl, head_on_a_stream_matches_get) {
    const char *args[] = {"-sI", url(0, "/stream?n=3"), url(1, "/"), NULL};
    char *out, *err;
    size_t olen;
    cr_assert_eq(curl(args, &out, &olen, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(out, "HTTP/1.1 200 OK\r\n"), "out: %s", out);
    cr_assert_not_null(strstr(out, "Transfer-Encoding: chunked\r\n"), "out: %s", out);
    cr_assert_null(strstr(out, "0000000000 "), "HEAD got a body: %s", out);
    cr_assert_not_null(strstr(out, "Content-Length: 13\r\n"), "the second HEAD: %s", out);
    free(out);
    free(err);
}
