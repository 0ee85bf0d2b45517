/* Axon HTTP client for the client benchmark of bench/http: REQS GET
 * requests to URL over CONNS concurrent keep-alive connections (CONNS tasks
 * sharing one ax_http_client whose pool keeps CONNS connections per host),
 * each body read to the end, on a runtime with one worker (one client core,
 * like hyper's current_thread runtime; run.sh pins it to CLIENT_CPU). One
 * warm-up batch with its own client first (not measured), then the measured
 * batch with a fresh client, so connects are part of it. Prints the line
 * bench/http/go/client.go prints:
 *
 *     reqs= secs= rps= p50_us= p95_us= p99_us= errors=
 *
 *     axon_client --url URL [-n REQS] [-c CONNS]   (-url works too)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axon.h"

typedef struct batch {
    ax_http_client *cl;
    const char *url;
    long n;
    _Atomic long next;
    _Atomic long errs;
    double *lat; /* seconds, per request */
} batch;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker(void *arg) {
    batch *b = arg;
    for (;;) {
        long i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n) return NULL;
        double s = now_s();
        ax_http_response r;
        int err = ax_http_get(b->cl, b->url, &r);
        if (!err) {
            if (r.status != 200) err = AX_EPROTO;
            ax_http_response_free(&r);
        }
        if (err) atomic_fetch_add(&b->errs, 1);
        b->lat[i] = now_s() - s;
    }
}

typedef struct run_args {
    const char *url;
    long n, c;
    double secs;
    double *lat;
    long errs;
} run_args;

static void *run_batch(void *arg) {
    run_args *a = arg;
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.max_conns_per_host = (size_t)a->c;
    o.max_idle_per_host = (size_t)a->c;
    o.max_retries = 0;
    batch b = {.url = a->url, .n = a->n, .lat = a->lat};
    atomic_init(&b.next, 0);
    atomic_init(&b.errs, 0);
    if (ax_http_client_new(&o, &b.cl)) return (void *)1;
    double t0 = now_s();
    ax_scope sc;
    ax_scope_init(&sc);
    for (long i = 0; i < a->c; i++)
        if (ax_scope_spawn(&sc, NULL, worker, &b)) break;
    ax_scope_join(&sc);
    a->secs = now_s() - t0;
    a->errs = atomic_load(&b.errs);
    ax_http_client_free(b.cl);
    return NULL;
}

static int cmp(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv) {
    const char *url = NULL;
    long n = 1000, c = 64;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--url") || !strcmp(argv[i], "-url"))
            url = argv[i + 1];
        else if (!strcmp(argv[i], "-n"))
            n = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "-c"))
            c = atol(argv[i + 1]);
    }
    if (!url || n <= 0 || c <= 0) {
        fprintf(stderr, "usage: axon_client --url URL [-n REQS] [-c CONNS]\n");
        return 2;
    }
    ax_runtime_opts ro;
    ax_runtime_opts_init(&ro);
    ro.workers = 1;
    ax_runtime *rt;
    if (ax_runtime_new(&rt, &ro)) return 1;
    double *lat = calloc((size_t)n, sizeof *lat);
    run_args a = {.url = url, .n = n, .c = c, .lat = lat};
    ax_run(rt, run_batch, &a, NULL); /* warm-up */
    ax_run(rt, run_batch, &a, NULL);
    qsort(lat, (size_t)n, sizeof *lat, cmp);
#define PCT(p) (lat[(long)((p) * (double)(n - 1))] * 1e6)
    printf("reqs=%ld secs=%.6f rps=%.0f p50_us=%.1f p95_us=%.1f p99_us=%.1f errors=%ld\n", n,
           a.secs, (double)n / a.secs, PCT(0.50), PCT(0.95), PCT(0.99), a.errs);
    free(lat);
    ax_runtime_free(rt);
    return a.errs > 0;
}
