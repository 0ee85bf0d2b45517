/* The HTTP client against nginx (a real peer), started unprivileged on
 * loopback by the test (-p DIR -c FILE, master_process off): fixed
 * answers, a static file by Content-Length, HEAD, redirects nginx makes,
 * 404/405, keep-alive reuse, and nginx closing a connection after
 * keepalive_requests (Connection: close) while the client goes on. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "test/net/net_util.h"
#include "test/os_compat.h"

static pid_t nginx_pid;
static uint16_t nginx_port;
static char nginx_dir[128];

/* A port that was free a moment ago on 127.0.0.1. */
static uint16_t free_port(void) {
    int fd = ax__socket(AF_INET, SOCK_STREAM, 0, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t l = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &l);
    close(fd);
    return ntohs(sa.sin_port);
}

static bool answers(uint16_t port) {
    int fd = ax__socket(AF_INET, SOCK_STREAM, 0, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void nginx_up(void) {
    rt_two();
    snprintf(nginx_dir, sizeof nginx_dir, "/tmp/axon-client-nginx.%d", (int)getpid());
    char path[256];
    snprintf(path, sizeof path, "%s/files", nginx_dir);
    char cmd[1024];
    int cl =
        snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s/logs %s", nginx_dir, nginx_dir, path);
    cr_assert_lt(cl, (int)sizeof cmd);
    cr_assert_eq(system(cmd), 0);
    /* A 100,000-byte file: byte i is 'a' + i % 26. */
    snprintf(path, sizeof path, "%s/files/big.txt", nginx_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 100000; i++) fputc('a' + i % 26, f);
    fclose(f);
    for (int attempt = 0; attempt < 5; attempt++) {
        nginx_port = free_port();
        snprintf(path, sizeof path, "%s/nginx.conf", nginx_dir);
        f = fopen(path, "w");
        cr_assert_not_null(f);
        fprintf(f,
                "master_process off;\nworker_processes 1;\n"
                "error_log %s/logs/error.log warn;\npid %s/nginx.pid;\n"
                "events { worker_connections 256; }\n"
                "http {\n access_log off;\n keepalive_requests 5;\n keepalive_timeout 60s;\n"
                " client_body_temp_path %s/body;\n"
                " server {\n  listen 127.0.0.1:%u;\n"
                "  location = / { return 200 \"Hello, World!\"; }\n"
                "  location = /moved { return 301 /files/big.txt; }\n"
                "  location = /see-other { return 303 /; }\n"
                "  location /files/ { alias %s/files/; etag off; }\n"
                " }\n}\n",
                nginx_dir, nginx_dir, nginx_dir, (unsigned)nginx_port, nginx_dir);
        fclose(f);
        nginx_pid = fork();
        cr_assert_geq(nginx_pid, 0);
        if (nginx_pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
            execl("/usr/sbin/nginx", "nginx", "-p", nginx_dir, "-c", path, "-g", "daemon off;",
                  (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 200 && !answers(nginx_port); i++) {
            if (waitpid(nginx_pid, NULL, WNOHANG) == nginx_pid) {
                nginx_pid = 0;
                break;
            }
            usleep(10000);
        }
        if (nginx_pid && answers(nginx_port)) return;
        if (nginx_pid) {
            kill(nginx_pid, SIGKILL);
            waitpid(nginx_pid, NULL, 0);
        }
    }
    cr_assert_fail("nginx did not start (see %s/logs/error.log)", nginx_dir);
}

static void nginx_down(void) {
    if (nginx_pid > 0) {
        kill(nginx_pid, SIGTERM);
        waitpid(nginx_pid, NULL, 0);
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", nginx_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", nginx_dir);
    rt_done();
}

TestSuite(http_client_nginx, .init = nginx_up, .fini = nginx_down, .timeout = 60);

static const char *nurl(const char *path) {
    static _Thread_local char b[8][128];
    static _Thread_local int k;
    char *s = b[k++ % 8];
    snprintf(s, 128, "http://127.0.0.1:%u%s", (unsigned)nginx_port, path);
    return s;
}

static void *t_nginx(void *arg) {
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(NULL, &c), 0);
    ax_http_response r;
    cr_assert_eq(ax_http_get(c, nurl("/"), &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "Hello, World!");
    ax_http_str v;
    cr_assert(ax_http_response_header(&r, "server", &v));
    cr_assert_eq(memcmp(v.ptr, "nginx", 5), 0);
    ax_http_response_free(&r);
    /* A static file by Content-Length, in several reads. */
    cr_assert_eq(ax_http_get(c, nurl("/files/big.txt"), &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.content_length, 100000);
    cr_assert_eq(r.body_len, 100000);
    bool ok = true;
    for (int i = 0; i < 100000; i++) ok &= r.body[i] == 'a' + i % 26;
    cr_assert(ok);
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_head(c, nurl("/files/big.txt"), &r), 0);
    cr_assert_eq(r.content_length, 100000);
    cr_assert_eq(r.body_len, 0);
    ax_http_response_free(&r);
    /* nginx's redirects: 301 with an absolute Location it builds. */
    cr_assert_eq(ax_http_get(c, nurl("/moved"), &r), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.redirects, 1);
    cr_assert_eq(r.body_len, 100000);
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_post(c, nurl("/see-other"), "text/plain", "x", 1, &r), 0);
    cr_assert_str_eq(r.body, "Hello, World!");
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_get(c, nurl("/files/none"), &r), 0);
    cr_assert_eq(r.status, 404);
    ax_http_response_free(&r);
    cr_assert_eq(ax_http_post(c, nurl("/files/big.txt"), NULL, "x", 1, &r), 0);
    cr_assert_eq(r.status, 405);
    ax_http_response_free(&r);
    ax_http_client_free(c);
    return NULL;
}

Test(http_client_nginx, answers_files_redirects_and_errors) {
    run_task(t_nginx, NULL);
}

static void *t_keepalive(void *arg) {
    ax_http_client *c;
    cr_assert_eq(ax_http_client_new(NULL, &c), 0);
    /* keepalive_requests 5: nginx ends every fifth response with
     * Connection: close; 23 requests need 5 connections, all answered. */
    for (int i = 0; i < 23; i++) {
        ax_http_response r;
        cr_assert_eq(ax_http_get(c, nurl("/"), &r), 0, "request %d", i);
        cr_assert_str_eq(r.body, "Hello, World!");
        ax_http_response_free(&r);
    }
    ax_pool_stats st;
    ax_http_client_pool_stats(c, &st);
    cr_assert_eq(st.created, 5, "created %lu", (unsigned long)st.created);
    cr_assert_eq(st.reused, 18);
    /* Many at once: 40 requests over at most 8 connections. */
    ax_http_request q[40];
    ax_http_response out[40];
    int errs[40];
    for (int i = 0; i < 40; i++)
        ax_http_request_init(&q[i], NULL, nurl(i % 2 ? "/" : "/files/big.txt"));
    char keep[40][128];
    for (int i = 0; i < 40; i++) {
        snprintf(keep[i], sizeof keep[i], "%s", q[i].url);
        q[i].url = keep[i];
    }
    cr_assert_eq(ax_http_fetch_all(c, q, 40, 8, out, errs), 0);
    for (int i = 0; i < 40; i++) {
        cr_assert_eq(out[i].status, 200);
        cr_assert_eq(out[i].body_len, i % 2 ? 13u : 100000u);
        ax_http_response_free(&out[i]);
    }
    ax_http_client_free(c);
    return NULL;
}

Test(http_client_nginx, keep_alive_and_server_closes) {
    run_task(t_keepalive, NULL);
}
