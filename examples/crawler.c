/* examples/crawler.c - a small concurrent web crawler on Axon's HTTP client.
 *
 * It starts its own Axon server in-process (127.0.0.1, a free port) whose
 * pages link to each other: /page/N answers after --delay ms with links to
 * pages 2N, 2N+1 (while <= --pages) and back to page 1, so the site is a
 * tree with back-edges the crawler must not follow twice. Then it crawls
 * the site from /page/1 twice: concurrently (breadth first, each level
 * fetched with ax_http_fetch_all, at most --concurrency at a time) and one
 * page at a time, and reports both times and the speed-up.
 *
 *   build/examples/crawler [--pages N] [--delay MS] [--concurrency C]
 *
 * Defaults: 63 pages, 50 ms, 16. Only same-site links of the form
 * href="/page/N" are followed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axon.h"

typedef struct site {
    long pages;
    unsigned delay_ms;
} site;

static int page(ax_http_req *req, ax_http_res *res, void *user) {
    site *s = user;
    int64_t n;
    if (!ax_http_req_param_int(req, "n", &n) || n < 1 || n > s->pages)
        return ax_http_res_text(res, 404, "no such page\n");
    int err = ax_sleep(s->delay_ms);
    if (err) return err;
    char html[512];
    int len = snprintf(html, sizeof html, "<html><body><h1>page %ld</h1>\n", (long)n);
    for (int64_t k = 2 * n; k <= 2 * n + 1 && k <= s->pages; k++)
        len += snprintf(html + len, sizeof html - (size_t)len, "<a href=\"/page/%ld\">%ld</a>\n",
                        (long)k, (long)k);
    len += snprintf(html + len, sizeof html - (size_t)len,
                    "<a href=\"/page/1\">home</a></body></html>\n");
    return ax_http_res_send(res, 200, "text/html", html, (size_t)len);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct crawl {
    ax_http_client *client;
    uint16_t port;
    long max_pages;
    char *seen; /* by page number */
    long *frontier, nfrontier;
    long *next, nnext;
    long fetched, failed;
} crawl;

/* The first occurrence of pat (n bytes) in [p, end), or NULL. (memmem is
 * a GNU extension that mingw-w64's C runtime lacks.) */
static const char *find(const char *p, const char *end, const char *pat, size_t n) {
    for (; (size_t)(end - p) >= n; p++)
        if (*p == *pat && memcmp(p, pat, n) == 0) return p;
    return NULL;
}

/* Adds every unseen /page/N the body links to, to the next level. */
static void collect_links(crawl *c, const char *body, size_t len) {
    const char *p = body, *end = body + len;
    static const char pat[] = "href=\"/page/";
    while ((p = find(p, end, pat, sizeof pat - 1)) != NULL) {
        p += sizeof pat - 1;
        long n = strtol(p, NULL, 10);
        if (n >= 1 && n <= c->max_pages && !c->seen[n]) {
            c->seen[n] = 1;
            c->next[c->nnext++] = n;
        }
    }
}

/* Crawls from page 1, level by level, `concurrency` requests at a time. */
static int run_crawl(crawl *c, size_t concurrency) {
    memset(c->seen, 0, (size_t)c->max_pages + 1);
    c->seen[1] = 1;
    c->frontier[0] = 1;
    c->nfrontier = 1;
    c->fetched = c->failed = 0;
    char(*urls)[64] = calloc((size_t)c->max_pages, sizeof *urls);
    ax_http_request *reqs = calloc((size_t)c->max_pages, sizeof *reqs);
    ax_http_response *out = calloc((size_t)c->max_pages, sizeof *out);
    int *errs = calloc((size_t)c->max_pages, sizeof *errs);
    int err = (!urls || !reqs || !out || !errs) ? AX_ENOMEM : 0;
    while (!err && c->nfrontier > 0) {
        for (long i = 0; i < c->nfrontier; i++) {
            snprintf(urls[i], sizeof urls[i], "http://127.0.0.1:%u/page/%ld", (unsigned)c->port,
                     c->frontier[i]);
            ax_http_request_init(&reqs[i], "GET", urls[i]);
        }
        ssize_t failed =
            ax_http_fetch_all(c->client, reqs, (size_t)c->nfrontier, concurrency, out, errs);
        if (failed < 0) {
            err = (int)failed;
            break;
        }
        c->nnext = 0;
        for (long i = 0; i < c->nfrontier; i++) {
            if (errs[i] == 0 && out[i].status == 200) {
                c->fetched++;
                collect_links(c, out[i].body, out[i].body_len);
            } else {
                c->failed++;
            }
            ax_http_response_free(&out[i]);
        }
        long *t = c->frontier;
        c->frontier = c->next;
        c->next = t;
        c->nfrontier = c->nnext;
    }
    free(urls);
    free(reqs);
    free(out);
    free(errs);
    return err;
}

typedef struct opts {
    long pages;
    unsigned delay_ms;
    size_t concurrency;
} opts;

static void *crawler_main(void *arg) {
    opts *o = arg;
    site s = {o->pages, o->delay_ms};
    ax_http_router *router;
    ax_http_server *srv;
    if (ax_http_router_new(&router) || ax_http_router_add(router, "GET", "/page/:n", page, &s) ||
        ax_http_server_new(&srv, NULL, ax_http_router_handler, router))
        return (void *)1;
    ax_addr a = ax_addr_loopback(AX_INET, 0), bound;
    if (ax_http_server_listen(srv, &a) || ax_http_server_addr(srv, &bound)) return (void *)1;
    crawl c = {.port = bound.port, .max_pages = o->pages};
    c.seen = calloc((size_t)o->pages + 1, 1);
    c.frontier = calloc((size_t)o->pages, sizeof(long));
    c.next = calloc((size_t)o->pages, sizeof(long));
    int err = ax_http_client_new(NULL, &c.client);
    intptr_t rc = 1;
    if (!err && c.seen && c.frontier && c.next) {
        double t0 = now_s();
        err = run_crawl(&c, o->concurrency);
        double t_conc = now_s() - t0;
        long conc_pages = c.fetched, conc_failed = c.failed;
        t0 = now_s();
        if (!err) err = run_crawl(&c, 1);
        double t_seq = now_s() - t0;
        if (!err) {
            printf("site: %ld pages, %u ms each, at http://127.0.0.1:%u/page/1\n", o->pages,
                   o->delay_ms, (unsigned)c.port);
            printf("concurrent (%zu at a time): %ld pages, %ld failed, %.3f s\n", o->concurrency,
                   conc_pages, conc_failed, t_conc);
            printf("one by one:                %ld pages, %ld failed, %.3f s\n", c.fetched,
                   c.failed, t_seq);
            printf("speed-up: %.1fx\n", t_seq / t_conc);
            rc = conc_failed || c.failed || conc_pages != c.fetched;
        } else {
            fprintf(stderr, "crawler: %s\n", ax_strerror(err));
        }
    }
    ax_http_client_free(c.client);
    free(c.seen);
    free(c.frontier);
    free(c.next);
    ax_http_server_shutdown(srv, 1000);
    ax_http_server_free(srv);
    ax_http_router_free(router);
    return (void *)rc;
}

int main(int argc, char **argv) {
    opts o = {63, 50, 16};
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (!strcmp(argv[i], "--pages") && more)
            o.pages = atol(argv[++i]);
        else if (!strcmp(argv[i], "--delay") && more)
            o.delay_ms = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--concurrency") && more)
            o.concurrency = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: crawler [--pages N] [--delay MS] [--concurrency C]\n");
            return 2;
        }
    }
    if (o.pages < 1 || o.pages > 100000 || o.concurrency < 1) {
        fprintf(stderr, "crawler: --pages 1..100000, --concurrency >= 1\n");
        return 2;
    }
    ax_runtime *rt;
    if (ax_runtime_new(&rt, NULL)) return 1;
    void *res = (void *)1;
    ax_run(rt, crawler_main, &o, &res);
    ax_runtime_free(rt);
    return (int)(intptr_t)res;
}
