/* http/client_fetch.c - ax_http_fetch_all: many requests at once, in a
 * scope of worker tasks that take the next request index in turn, so
 * results land in input order whatever order they finish in. */
#include <stdatomic.h>
#include <string.h>

#include "http/client_internal.h"

typedef struct fetch_job {
    ax_http_client *cl;
    const ax_http_request *reqs;
    size_t n;
    ax_http_response *out;
    int *errs;
    _Atomic size_t next;
} fetch_job;

static void *fetch_worker(void *arg) {
    fetch_job *j = arg;
    while (!ax_is_cancelled()) {
        size_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n) break;
        j->errs[i] = ax_http_client_do(j->cl, &j->reqs[i], &j->out[i]);
    }
    return NULL;
}

ssize_t ax_http_fetch_all(ax_http_client *c, const ax_http_request *reqs, size_t n,
                          size_t concurrency, ax_http_response *out, int *errs) {
    if (!c || (n && (!reqs || !out || !errs))) return AX_EINVAL;
    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        errs[i] = AX_ECANCELED; /* until its request ran */
    }
    if (n == 0) return 0;
    fetch_job j = {.cl = c, .reqs = reqs, .n = n, .out = out, .errs = errs};
    atomic_init(&j.next, 0);
    size_t workers = concurrency == 0 || concurrency > n ? n : concurrency;
    ax_scope sc;
    ax_scope_init(&sc);
    int err = 0;
    size_t spawned = 0;
    for (; spawned < workers; spawned++) {
        err = ax_scope_spawn(&sc, NULL, fetch_worker, &j);
        if (err) break;
    }
    if (err && spawned == 0) {
        ax_scope_join(&sc);
        return err;
    }
    int jerr = ax_scope_join(&sc);
    ssize_t failed = 0;
    for (size_t i = 0; i < n; i++)
        if (errs[i]) failed++;
    if (jerr == AX_ECANCELED && ax_is_cancelled()) return AX_ECANCELED;
    return failed;
}
