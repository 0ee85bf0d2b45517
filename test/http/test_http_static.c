/* Static files (axon/http_static.h) against curl and a raw client: ranges,
 * HEAD, 304 by ETag and by date, escapes out of the root (.., %2e%2e,
 * symbolic links), a 64 MiB file by sendfile checked by hash, HTTPS (the
 * chunked fallback) with a CA made at test time, trailers both ways and
 * HEAD on a streaming route. */
#include <fcntl.h>
#include <sys/stat.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#include <sys/wait.h>
#include <unistd.h>

#include "test/http/curl_util.h"

/* --- the fixture: ROOT/www served at /static/, ROOT/secret.txt outside ----- */

static char base_dir[64], www[96];
static ax_http_static *st;
static bool with_policy = true;
static unsigned write_timeout_ms; /* 0: the default */
#ifdef AX_HAVE_TLS
static ax_tls_config *tls_cfg;
static ax_tcp_listener *tls_lst;
static ax_task *tls_acceptor;
static uint16_t tls_port;
#endif

static void put_file(const char *rel, const void *data, size_t n) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", base_dir, rel);
    int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "%s: %s", p, strerror(errno));
    const char *c = data;
    while (n) {
        ssize_t w = write(fd, c, n);
        cr_assert_gt(w, 0);
        c += w;
        n -= (size_t)w;
    }
    close(fd);
}

static char *pattern(size_t n, uint32_t seed) {
    char *b = malloc(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (char)(seed >> 16);
    }
    return b;
}

/* Request trailers: the body's length and its X-Checksum trailer. */
static int h_trailer_in(ax_http_req *req, ax_http_res *res, void *u) {
    ax_http_str body, sum;
    int err = ax_http_req_body(req, &body);
    if (err) return err;
    if (!ax_http_req_trailer(req, "x-checksum", &sum)) sum = (ax_http_str){"none", 4};
    char text[128];
    snprintf(text, sizeof text, "len=%zu checksum=%.*s\n", body.len, (int)sum.len, sum.ptr);
    return ax_http_res_text(res, 200, text);
}

/* Response trailers on a chunked stream. */
static int h_trailer_out(ax_http_req *req, ax_http_res *res, void *u) {
    cr_assert_eq(ax_http_res_trailer(res, "Bad Name", "x"), AX_EINVAL);
    cr_assert_eq(ax_http_res_trailer(res, "Content-Length", "1"), AX_EINVAL);
    int err = ax_http_res_stream_begin(res, 200, "text/plain");
    if (!err) err = ax_http_res_stream_write(res, "part1\n", 6);
    if (!err) err = ax_http_res_trailer(res, "X-Checksum", "abc123");
    if (!err) err = ax_http_res_stream_write(res, "part2\n", 6);
    if (!err) err = ax_http_res_stream_end(res);
    if (!err) cr_assert_eq(ax_http_res_trailer(res, "X-Late", "1"), AX_EALREADY);
    return err;
}

#ifdef AX_HAVE_TLS
static void *tls_accept_task(void *arg) {
    for (;;) {
        ax_tcp *c;
        if (ax_tcp_accept(tls_lst, &c, NULL, AX_NO_DEADLINE) != 0) return NULL;
        ax_tls *t;
        if (ax_tls_server(tls_cfg, ax_tcp_stream(c), &t) != 0) continue;
        ax_http_server_serve_stream(srv, ax_tls_stream(t));
    }
}
#endif

static void *static_start_task(void *arg) {
    cr_assert_eq(ax_http_router_new(&router), 0);
    ax_http_router_add(router, "GET", "/static/*path", ax_http_static_handler, st);
    ax_http_router_add(router, "GET", "/stream", h_stream, NULL);
    ax_http_router_add(router, "POST", "/trailers", h_trailer_in, NULL);
    ax_http_router_add(router, "GET", "/trailers", h_trailer_out, NULL);
    cr_assert_eq(ax_http_server_new(&srv, &srv_opts, ax_http_router_handler, router), 0);
    ax_addr a = ax_addr_loopback(AX_INET, 0);
    cr_assert_eq(ax_http_server_listen(srv, &a), 0);
    ax_addr bound;
    ax_http_server_addr(srv, &bound);
    srv_port = bound.port;
#ifdef AX_HAVE_TLS
    if (tls_cfg) {
        cr_assert_eq(ax_tcp_listen(&a, NULL, &tls_lst), 0);
        ax_tcp_listener_addr(tls_lst, &bound);
        tls_port = bound.port;
        cr_assert_eq(ax_spawn(&tls_acceptor, tls_accept_task, NULL), 0);
    }
#endif
    if (with_policy) { /* after the listens: the policy allows reading www only */
        ax_policy *p;
        cr_assert_eq(ax_policy_new(&p), 0);
        cr_assert_eq(ax_policy_allow_read(p, www), 0);
        cr_assert_eq(ax_runtime_set_policy(ax_current_runtime(), p), 0);
        ax_policy_free(p);
    }
    return NULL;
}

static void *static_stop_task(void *arg) {
#ifdef AX_HAVE_TLS
    if (tls_lst) {
        ax_abort(tls_acceptor);
        ax_join(tls_acceptor, NULL);
        ax_tcp_listener_close(tls_lst);
        tls_lst = NULL;
    }
#endif
    ax_http_server_shutdown(srv, 2000);
    ax_http_server_free(srv);
    ax_http_router_free(router);
    srv = NULL;
    return NULL;
}

static void make_tree(void) {
    strcpy(base_dir, "/tmp/axon-static-XXXXXX");
    cr_assert_not_null(mkdtemp(base_dir));
    snprintf(www, sizeof www, "%s/www", base_dir);
    char p[256];
    cr_assert_eq(mkdir(www, 0755), 0);
    snprintf(p, sizeof p, "%s/www/sub", base_dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/www/noindex", base_dir);
    cr_assert_eq(mkdir(p, 0755), 0);
    put_file("www/hello.txt", "hello static\n", 13);
    char *d = pattern(1000, 7);
    put_file("www/data.bin", d, 1000);
    free(d);
    put_file("www/sub/index.html", "<p>index</p>\n", 13);
    put_file("www/a b.css", "body{}\n", 7);
    put_file("secret.txt", "top secret\n", 11);
    snprintf(p, sizeof p, "%s/www/etc", base_dir);
    cr_assert_eq(symlink("/etc", p), 0);
    snprintf(p, sizeof p, "%s/www/up", base_dir);
    cr_assert_eq(symlink("../secret.txt", p), 0);
    snprintf(p, sizeof p, "%s/www/alias.txt", base_dir);
    cr_assert_eq(symlink("hello.txt", p), 0);
}

static void static_up(void) {
    ax_http_server_opts_init(&srv_opts);
    if (write_timeout_ms) srv_opts.write_timeout_ms = write_timeout_ms;
    make_tree();
    cr_assert_eq(ax_http_static_new(&st, www, NULL), 0);
    rt_two();
    (void)srv_start_task; /* http_util's default server is not used here */
    cr_assert_eq(ax_run(rt, static_start_task, NULL, NULL), 0);
}

static void static_down(void) {
    if (srv) ax_run(rt, static_stop_task, NULL, NULL);
    rt_done();
    ax_http_static_free(st);
    st = NULL;
#ifdef AX_HAVE_TLS
    ax_tls_config_free(tls_cfg);
    tls_cfg = NULL;
#endif
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", base_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(http_static, .init = static_up, .fini = static_down, .timeout = 90);

/* --- curl ------------------------------------------------------------------ */

static char url_buf[4][160];
static const char *url(int slot, const char *path) {
    snprintf(url_buf[slot], sizeof url_buf[slot], "http://127.0.0.1:%u%s", srv_port, path);
    return url_buf[slot];
}

/* The value of header name in a dumped head (static buffer), or NULL. */
static const char *hval(const char *head, const char *name) {
    static char v[256];
    size_t nl = strlen(name);
    for (const char *p = head; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *s = p + nl + 1;
            while (*s == ' ') s++;
            size_t k = strcspn(s, "\r\n");
            snprintf(v, sizeof v, "%.*s", (int)k, s);
            return v;
        }
    }
    return NULL;
}

/* Whether the kernel has openat2. Without it (qemu-user, Linux < 5.6) fs/
 * resolves component by component refusing every symbolic link, also the
 * ones that stay inside the root (fs/path.c). */
static bool have_openat2(void) {
#ifdef SYS_openat2
    struct {
        uint64_t flags, mode, resolve;
    } how = {O_RDONLY | O_CLOEXEC, 0, 0};
    int fd = (int)syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
    if (fd >= 0) close(fd);
    return fd >= 0 || errno != ENOSYS;
#else
    return false;
#endif
}

Test(http_static, get_type_etag_and_last_modified) {
    const char *args[] = {"-s", "-D", "/dev/stderr", url(0, "/static/hello.txt"), NULL};
    char *out, *err;
    cr_assert_eq(curl(args, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "hello static\n");
    cr_assert_not_null(strstr(err, "HTTP/1.1 200 OK\r\n"), "%s", err);
    cr_assert_str_eq(hval(err, "content-type"), "text/plain; charset=utf-8");
    cr_assert_str_eq(hval(err, "content-length"), "13");
    cr_assert_str_eq(hval(err, "accept-ranges"), "bytes");
    cr_assert_not_null(hval(err, "last-modified"), "%s", err);
    const char *etag = hval(err, "etag");
    cr_assert(etag && etag[0] == '"', "%s", err);
    free(out);
    free(err);
    /* a directory's index.html; a space in the name; a link inside the root */
    const char *a2[] = {"-s", url(0, "/static/sub/"), url(1, "/static/a%20b.css"),
                        url(2, "/static/alias.txt"), NULL};
    cr_assert_eq(curl(a2, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, have_openat2() ? "<p>index</p>\nbody{}\nhello static\n"
                                         : "<p>index</p>\nbody{}\nForbidden\n");
    free(out);
    free(err);
    const char *a3[] = {"-s", "-w",        "%{http_code} %{content_type}\n",
                        "-o", "/dev/null", url(0, "/static/noindex/"),
                        "-o", "/dev/null", url(1, "/static/missing.txt"),
                        "-o", "/dev/null", url(2, "/static/sub/index.html"),
                        NULL};
    cr_assert_eq(curl(a3, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "404 text/plain; charset=utf-8\n404 text/plain; charset=utf-8\n"
                          "200 text/html; charset=utf-8\n");
    free(out);
    free(err);
}

Test(http_static, ranges) {
    char *data = pattern(1000, 7);
    char *out, *err;
    size_t n;
    const char *a1[] = {"-s", "-r", "0-99", "-D", "/dev/stderr", url(0, "/static/data.bin"), NULL};
    cr_assert_eq(curl(a1, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(err, "HTTP/1.1 206 Partial Content\r\n"), "%s", err);
    cr_assert_str_eq(hval(err, "content-range"), "bytes 0-99/1000");
    cr_assert_eq(n, 100);
    cr_assert_eq(memcmp(out, data, 100), 0);
    free(out);
    free(err);
    const char *a2[] = {"-s", "-r", "-10", "-D", "/dev/stderr", url(0, "/static/data.bin"), NULL};
    cr_assert_eq(curl(a2, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(hval(err, "content-range"), "bytes 990-999/1000");
    cr_assert_eq(n, 10);
    cr_assert_eq(memcmp(out, data + 990, 10), 0);
    free(out);
    free(err);
    const char *a3[] = {"-s", "-r", "500-", "-D", "/dev/stderr", url(0, "/static/data.bin"), NULL};
    cr_assert_eq(curl(a3, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(hval(err, "content-range"), "bytes 500-999/1000");
    cr_assert_eq(n, 500);
    cr_assert_eq(memcmp(out, data + 500, 500), 0);
    free(out);
    free(err);
    /* unsatisfiable: 416 with the size */
    const char *a4[] = {"-s", "-r", "5000-6000", "-D", "/dev/stderr", url(0, "/static/data.bin"),
                        NULL};
    cr_assert_eq(curl(a4, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(err, "HTTP/1.1 416 Range Not Satisfiable\r\n"), "%s", err);
    cr_assert_str_eq(hval(err, "content-range"), "bytes */1000");
    free(out);
    free(err);
    /* several ranges: the whole file, 200 */
    const char *a5[] = {"-s", "-r", "0-1,5-6", "-D", "/dev/stderr", url(0, "/static/data.bin"),
                        NULL};
    cr_assert_eq(curl(a5, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(err, "HTTP/1.1 200 OK\r\n"), "%s", err);
    cr_assert_eq(n, 1000);
    cr_assert_eq(memcmp(out, data, 1000), 0);
    free(out);
    free(err);
    free(data);
}

Test(http_static, if_range) {
    const char *a1[] = {"-sI", url(0, "/static/data.bin"), NULL};
    char *out, *err;
    size_t n;
    cr_assert_eq(curl(a1, &out, NULL, &err), 0, "stderr: %s", err);
    char etag[64], lm[64], h1[128], h2[128];
    snprintf(etag, sizeof etag, "%s", hval(out, "etag"));
    snprintf(lm, sizeof lm, "%s", hval(out, "last-modified"));
    free(out);
    free(err);
    const struct {
        const char *if_range;
        int status;
    } cases[] = {
        {etag, 206}, {lm, 206}, {"\"other\"", 200}, {"Thu, 01 Jan 2004 00:00:00 GMT", 200}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(h1, sizeof h1, "If-Range: %s", cases[i].if_range);
        snprintf(h2, sizeof h2, "%d\n", cases[i].status);
        const char *a[] = {"-s",
                           "-r",
                           "0-9",
                           "-H",
                           h1,
                           "-o",
                           "/dev/null",
                           "-w",
                           "%{http_code}\n",
                           url(0, "/static/data.bin"),
                           NULL};
        cr_assert_eq(curl(a, &out, &n, &err), 0, "stderr: %s", err);
        cr_assert_str_eq(out, h2, "If-Range %s", cases[i].if_range);
        free(out);
        free(err);
    }
}

Test(http_static, head_and_not_modified) {
    const char *a1[] = {"-sI", url(0, "/static/hello.txt"), NULL};
    char *out, *err;
    size_t n;
    cr_assert_eq(curl(a1, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_not_null(strstr(out, "HTTP/1.1 200 OK\r\n"), "%s", out);
    cr_assert_str_eq(hval(out, "content-length"), "13");
    cr_assert_null(strstr(out, "hello static"), "HEAD got a body: %s", out);
    char etag[64], inm[128], lm[64];
    snprintf(etag, sizeof etag, "%s", hval(out, "etag"));
    snprintf(lm, sizeof lm, "%s", hval(out, "last-modified"));
    free(out);
    free(err);
    /* If-None-Match, alone and in a list with a weak prefix: 304 with the ETag, no body */
    const char *inms[] = {etag, NULL, "*"};
    char listed[160];
    snprintf(listed, sizeof listed, "\"x\", W/%s", etag);
    inms[1] = listed;
    for (int i = 0; i < 3; i++) {
        snprintf(inm, sizeof inm, "If-None-Match: %s", inms[i]);
        const char *a[] = {"-s", "-H", inm, "-D", "/dev/stderr", url(0, "/static/hello.txt"), NULL};
        cr_assert_eq(curl(a, &out, &n, &err), 0, "stderr: %s", err);
        cr_assert_not_null(strstr(err, "HTTP/1.1 304 Not Modified\r\n"), "%s: %s", inm, err);
        cr_assert_str_eq(hval(err, "etag"), etag);
        cr_assert_null(hval(err, "content-length"), "%s", err);
        cr_assert_eq(n, 0);
        free(out);
        free(err);
    }
    /* another ETag: 200, and If-Modified-Since is then ignored */
    char ims[128];
    snprintf(ims, sizeof ims, "If-Modified-Since: %s", lm);
    const char *a2[] = {"-s",
                        "-H",
                        "If-None-Match: \"nope\"",
                        "-H",
                        ims,
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}\n",
                        url(0, "/static/hello.txt"),
                        NULL};
    cr_assert_eq(curl(a2, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "200\n");
    free(out);
    free(err);
    /* curl -z DATE: If-Modified-Since -> 304; an older date -> 200 */
    const char *a3[] = {
        "-s", "-z", lm, "-o", "/dev/null", "-w", "%{http_code}\n", url(0, "/static/hello.txt"),
        NULL};
    cr_assert_eq(curl(a3, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "304\n");
    free(out);
    free(err);
    const char *a4[] = {"-s",
                        "-H",
                        "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}\n",
                        url(0, "/static/hello.txt"),
                        NULL};
    cr_assert_eq(curl(a4, &out, &n, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "200\n");
    free(out);
    free(err);
}

/* Raw requests: curl would normalise these paths. */
static int raw_status(const char *target) {
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    cli_res r;
    int s = one_request(req, &r);
    if (s == 200) cr_assert_null(strstr(r.body, "secret"), "%s leaked: %s", target, r.body);
    cli_res_free(&r);
    return s;
}

Test(http_static, no_escape_from_the_root) {
    cr_assert_eq(raw_status("/static/hello.txt"), 200);
    cr_assert_eq(raw_status("/static/../secret.txt"), 403);
    cr_assert_eq(raw_status("/static/sub/../../secret.txt"), 403);
    cr_assert_eq(raw_status("/static/%2e%2e/secret.txt"), 403);
    cr_assert_eq(raw_status("/static/%2E%2e/%2e%2e/secret.txt"), 403);
    cr_assert_eq(raw_status("/static/%2e%2e%2fsecret.txt"), 404);
    cr_assert_eq(raw_status("/static//bin/sh"), 404);
    cr_assert_eq(raw_status("/static/%2fbin%2fsh"), 404);
    cr_assert_eq(raw_status("/static/hello.txt%00.png"), 400);
    cr_assert_eq(raw_status("/static/%zz"), 400);
    cr_assert_eq(raw_status("/static/hello.txt%"), 400);
    /* symbolic links that leave the root: the kernel refuses them */
    cr_assert_eq(raw_status("/static/etc/passwd"), 403);
    cr_assert_eq(raw_status("/static/etc/hostname"), 403);
    cr_assert_eq(raw_status("/static/up"), 403);
    /* curl --path-as-is sends the dots as they are */
    const char *a[] = {"-s",
                       "--path-as-is",
                       "-o",
                       "/dev/null",
                       "-w",
                       "%{http_code}\n",
                       url(0, "/static/../secret.txt"),
                       NULL};
    char *out, *err;
    cr_assert_eq(curl(a, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "403\n");
    free(out);
    free(err);
}

static void drop_policy(void) {
    with_policy = false;
}

/* Without a policy nothing confines the path: the handler refuses to serve. */
Test(http_static, refuses_without_a_policy, .init = drop_policy) {
    static_up();
    cr_assert_eq(raw_status("/static/hello.txt"), 500);
    with_policy = true;
}

/* Hashes a file (FNV-1a 64) without loading it. */
static uint64_t hash_file(const char *path, uint64_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "%s", path);
    uint64_t h = 1469598103934665603ull;
    static char b[1 << 16];
    *size = 0;
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) {
        for (ssize_t i = 0; i < n; i++) h = (h ^ (uint8_t)b[i]) * 1099511628211ull;
        *size += (uint64_t)n;
    }
    close(fd);
    return h;
}

static void put_big(const char *rel, size_t size) {
    size_t chunk = 1 << 20;
    char *d = pattern(chunk, 99);
    char p[256];
    snprintf(p, sizeof p, "%s/%s", base_dir, rel);
    int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    for (size_t done = 0; done < size; done += chunk) {
        d[0] = (char)(done >> 20); /* every MiB differs */
        cr_assert_eq(write(fd, d, chunk), (ssize_t)chunk);
    }
    close(fd);
    free(d);
}

Test(http_static, big_file_by_sendfile_matches_by_hash) {
    put_big("www/big.bin", 64u << 20);
    char dst[128], src[128];
    snprintf(dst, sizeof dst, "%s/got.bin", base_dir);
    snprintf(src, sizeof src, "%s/www/big.bin", base_dir);
    const char *a[] = {
        "-s", "-o", dst, "-w", "%{http_code} %{size_download}\n", url(0, "/static/big.bin"), NULL};
    char *out, *err;
    cr_assert_eq(curl(a, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "200 67108864\n");
    uint64_t n1, n2;
    cr_assert_eq(hash_file(dst, &n1), hash_file(src, &n2));
    cr_assert_eq(n1, n2);
    free(out);
    free(err);
    /* a range deep inside it, also by sendfile */
    const char *a2[] = {"-s", "-r", "33554432-",      "-o",
                        dst,  "-w", "%{http_code}\n", url(0, "/static/big.bin"),
                        NULL};
    cr_assert_eq(curl(a2, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "206\n");
    uint64_t got;
    hash_file(dst, &got);
    cr_assert_eq(got, 32u << 20);
    int fd = open(dst, O_RDONLY | O_CLOEXEC);
    char first;
    cr_assert_eq(read(fd, &first, 1), 1);
    cr_assert_eq(first, (char)32, "the range starts at MiB 32");
    close(fd);
    free(out);
    free(err);
}

static void short_write_timeout(void) {
    write_timeout_ms = 300;
    static_up();
}

/* A client that stops reading: the server's write stops making progress,
 * the transfer ends after write_timeout_ms, and the server goes on. */
Test(http_static, stalled_client_is_cut_off, .init = short_write_timeout) {
    put_big("www/big.bin", 16u << 20);
    int fd = cli_connect();
    cli_sends(fd, "GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(1500 * 1000); /* read nothing for five write timeouts */
    /* Then drain: what the kernel buffers arrives, then the end: the body
     * was cut short when the server gave up. */
    size_t total = 0;
    char b[65536];
    ssize_t n;
    while ((n = recv(fd, b, sizeof b, 0)) > 0) total += (size_t)n;
    cr_assert_eq(n, 0, "no end of stream: %s", strerror(errno));
    close(fd);
    cr_assert_lt(total, (size_t)(16u << 20), "the whole body went out: %zu", total);
    cr_assert_eq(raw_status("/static/hello.txt"), 200);
}

#ifdef AX_HAVE_TLS
static void tls_up(void) {
    make_tree();
    char cmd[256];
    snprintf(cmd, sizeof cmd, "bash test/tls/mkcerts.sh %s >/dev/null 2>&1", base_dir);
    cr_assert_eq(system(cmd), 0, "mkcerts.sh failed");
    ax_tls_opts o;
    ax_tls_opts_init(&o);
    char c[128], k[128];
    snprintf(c, sizeof c, "%s/server.pem", base_dir);
    snprintf(k, sizeof k, "%s/server.key", base_dir);
    o.cert_file = c;
    o.key_file = k;
    cr_assert_eq(ax_tls_server_config_new(&o, &tls_cfg), 0);
    ax_http_server_opts_init(&srv_opts);
    cr_assert_eq(ax_http_static_new(&st, www, NULL), 0);
    rt_two();
    cr_assert_eq(ax_run(rt, static_start_task, NULL, NULL), 0);
}

/* HTTPS: no sendfile, the body goes in pooled chunks through TLS. */
Test(http_static, https_with_a_test_ca, .init = tls_up) {
    put_big("www/big.bin", 3u << 20);
    char ca[128], u1[160], u2[160], u3[160], dst[128], src[128];
    snprintf(ca, sizeof ca, "%s/ca.pem", base_dir);
    snprintf(dst, sizeof dst, "%s/got.bin", base_dir);
    snprintf(src, sizeof src, "%s/www/big.bin", base_dir);
    snprintf(u1, sizeof u1, "https://localhost:%u/static/big.bin", tls_port);
    snprintf(u2, sizeof u2, "https://localhost:%u/static/hello.txt", tls_port);
    const char *a[] = {"-s", "--cacert", ca, "-o", dst, "-w", "%{http_code}\n", u1, NULL};
    char *out, *err;
    cr_assert_eq(curl(a, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "200\n");
    uint64_t n1, n2;
    cr_assert_eq(hash_file(dst, &n1), hash_file(src, &n2));
    cr_assert_eq(n1, 3u << 20);
    free(out);
    free(err);
    const char *a2[] = {"-s", "--cacert", ca, "-r", "6-11", u2, NULL};
    cr_assert_eq(curl(a2, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "static");
    free(out);
    free(err);
    /* a range of the big file past the first chunk, over TLS */
    snprintf(u3, sizeof u3, "https://localhost:%u/static/big.bin", tls_port);
    const char *a3[] = {"-s", "--cacert", ca, "-r", "2097152-2097162", "-o", dst, u3, NULL};
    cr_assert_eq(curl(a3, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_eq(hash_file(dst, &n1) != 0, true);
    cr_assert_eq(n1, 11);
    free(out);
    free(err);
}
#endif

/* --- trailers and HEAD on a stream --------------------------------------------- */

Test(http_static, request_trailers_reach_the_handler) {
    cli_res r;
    cr_assert_eq(one_request("POST /trailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             "\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 1234abcd\r\n"
                             "Other: y\r\n\r\n",
                             &r),
                 200);
    cr_assert_str_eq(r.body, "len=11 checksum=1234abcd\n");
    cli_res_free(&r);
    cr_assert_eq(one_request("POST /trailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                             "\r\n5\r\nhello\r\n0\r\n\r\n",
                             &r),
                 200);
    cr_assert_str_eq(r.body, "len=5 checksum=none\n");
    cli_res_free(&r);
    /* curl sends a chunked upload with a trailer */
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%u/trailers", srv_port);
    const char *a[] = {"-s",
                       "-H",
                       "Transfer-Encoding: chunked",
                       "-H",
                       "Trailer: X-Checksum",
                       "--data-binary",
                       "abc",
                       u,
                       NULL};
    char *out, *err;
    cr_assert_eq(curl(a, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "len=3 checksum=none\n");
    free(out);
    free(err);
}

Test(http_static, response_trailers_after_the_last_chunk) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    cli_sends(c->fd, "GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n");
    /* read until the final CRLF of the trailer block */
    while (!memmem(c->buf, c->len, "\r\n0\r\n", 5) || !memmem(c->buf, c->len, "abc123\r\n\r\n", 10))
        cr_assert_gt(cli_fill(c), 0, "got: %.*s", (int)c->len, c->buf);
    cr_assert_not_null(memmem(c->buf, c->len, "part2\n\r\n0\r\nX-Checksum: abc123\r\n\r\n", 32),
                       "got: %.*s", (int)c->len, c->buf);
    cli_close(c);
    free(c);
    /* curl reads them too (it prints trailers with the headers) */
    const char *a[] = {"-s", "-D", "/dev/stderr", url(0, "/trailers"), NULL};
    char *out, *err;
    cr_assert_eq(curl(a, &out, NULL, &err), 0, "stderr: %s", err);
    cr_assert_str_eq(out, "part1\npart2\n");
    cr_assert_not_null(strstr(err, "X-Checksum: abc123"), "%s", err);
    free(out);
    free(err);
}

Test(http_static, head_on_a_stream_has_the_get_head) {
    cli_conn *c = malloc(sizeof *c);
    cli_open(c);
    cli_sends(c->fd, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /stream?n=2 HTTP/1.1\r\nHost: x\r\n\r\n");
    cli_res r;
    cr_assert_eq(cli_read_res(c, &r, true), 0);
    cr_assert_eq(r.status, 200);
    cr_assert(r.chunked, "HEAD lacks Transfer-Encoding: %s", r.head);
    cr_assert(r.keep_alive);
    cli_res_free(&r);
    /* no body followed: the next response parses right after the head */
    cr_assert_eq(cli_read_res(c, &r, false), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, 200);
    cli_res_free(&r);
    cli_close(c);
    free(c);
}

/* --- the pieces ------------------------------------------------------------------ */

#include "http/static_internal.h"

Test(http_static, range_parser) {
    uint64_t s = 0, l = 0;
#define R(v, size) ax__static_parse_range((ax_http_str){v, strlen(v)}, size, &s, &l)
    cr_assert_eq(R("bytes=0-99", 1000), AX__RANGE_OK);
    cr_assert(s == 0 && l == 100);
    cr_assert_eq(R("bytes=990-2000", 1000), AX__RANGE_OK);
    cr_assert(s == 990 && l == 10);
    cr_assert_eq(R("bytes=-2000", 1000), AX__RANGE_OK);
    cr_assert(s == 0 && l == 1000);
    cr_assert_eq(R("bytes=-0", 1000), AX__RANGE_UNSAT);
    cr_assert_eq(R("bytes=1000-", 1000), AX__RANGE_UNSAT);
    cr_assert_eq(R("bytes=0-", 0), AX__RANGE_UNSAT);
    cr_assert_eq(R("bytes=5-1", 1000), AX__RANGE_NONE);
    cr_assert_eq(R("bytes=a-b", 1000), AX__RANGE_NONE);
    cr_assert_eq(R("items=0-1", 1000), AX__RANGE_NONE);
    cr_assert_eq(R("bytes=0-1,3-4", 1000), AX__RANGE_NONE);
    cr_assert_eq(R("bytes=99999999999999999999-", 1000), AX__RANGE_NONE);
#undef R
}

Test(http_static, dates_and_etags) {
    char d[48];
    ax__static_fmt_date(d, 784111777);
    cr_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    int64_t t;
    cr_assert(ax__static_parse_date((ax_http_str){d, strlen(d)}, &t));
    cr_assert_eq(t, 784111777);
    ax__static_fmt_date(d, 951782400); /* a leap day */
    cr_assert_str_eq(d, "Tue, 29 Feb 2000 00:00:00 GMT");
    cr_assert_not(ax__static_parse_date((ax_http_str){"Sunday, 06-Nov-94 08:49:37 GMT", 30}, &t));
    char e[48];
    ax__static_etag(e, 0x1234, 0x10);
    cr_assert_str_eq(e, "\"1234-10\"");
#define L(list) ax__static_etag_listed((ax_http_str){list, strlen(list)}, e)
    cr_assert(L("\"1234-10\""));
    cr_assert(L("\"a\", W/\"1234-10\""));
    cr_assert(L("*"));
    cr_assert_not(L("\"1234-1\""));
    cr_assert_not(L("1234-10"));
#undef L
    cr_assert_str_eq(ax__static_mime("/a/b.HTML"), "text/html; charset=utf-8");
    cr_assert_str_eq(ax__static_mime("/a.b/c"), "application/octet-stream");
}
