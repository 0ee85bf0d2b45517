/* http/reqid.c - request ids: kept from the client's X-Request-Id when it
 * is sane, else made from a per-generator random prefix and a counter;
 * echoed on the response. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http/internal.h"

static uint64_t ax__mix(uint64_t x) { /* splitmix64's finaliser */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void ax_http_request_ids_init(ax_http_request_ids *g) {
    uint64_t seed = ax__mix((uint64_t)ax_now() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)g);
    snprintf(g->prefix, sizeof g->prefix, "%016llx", (unsigned long long)seed);
    atomic_init(&g->next, 1);
}

static void ax__reqid_hook(ax_http_res *res, int *status, void *unused) {
    if (res->req->id[0]) ax_http_res_header(res, "X-Request-Id", res->req->id);
}

int ax_http_request_id_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *ids) {
    ax_http_request_ids *g = ids;
    ax_http_str in;
    bool ok = ax_http_req_header(req, "x-request-id", &in) && in.len > 0 && in.len < sizeof req->id;
    for (size_t i = 0; ok && i < in.len; i++) ok = in.ptr[i] > 0x20 && in.ptr[i] < 0x7f;
    if (ok) {
        memcpy(req->id, in.ptr, in.len);
        req->id[in.len] = 0;
    } else {
        uint64_t n = atomic_fetch_add_explicit(&g->next, 1, memory_order_relaxed);
        snprintf(req->id, sizeof req->id, "%s-%llx", g->prefix, (unsigned long long)n);
    }
    int err = ax_http_res_on_head(res, ax__reqid_hook, NULL);
    if (err) return err;
    return ax_http_next_run(next, req, res);
}

const char *ax_http_req_id(const ax_http_req *req) {
    return req->id[0] ? req->id : NULL;
}
