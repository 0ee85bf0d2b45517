/* http/router.c - method and path routing with static segments, :params
 * and a trailing * wildcard.
 *
 * Routes are kept in a flat array of pre-split patterns; a lookup walks
 * it once, splitting nothing (segments are compared in place against the
 * path), and keeps the best match: at the first segment where two matching
 * patterns differ, static beats :param beats *. Matching allocates nothing
 * and only reads the router.
 */
#include <stdlib.h>
#include <string.h>

#include "executor/array.h"
#include "http/internal.h"

enum { SEG_STATIC = 0, SEG_PARAM = 1, SEG_WILD = 2 };

#define AX__ROUTE_MAX_SEGS 24

typedef struct ax__seg {
    uint8_t kind;
    const char *text; /* static text or the parameter's name */
    size_t len;
} ax__seg;

typedef struct ax__route {
    char method[16]; /* "*" for any */
    size_t method_len;
    bool any_method, is_get;
    bool all_static; /* no :param or *: the path must equal the pattern */
    size_t pattern_len;
    ax__seg segs[AX__ROUTE_MAX_SEGS];
    size_t nsegs;
    char *pattern; /* owns the text the segments point into */
    ax_http_handler handler;
    void *user;
    ax_http_mw *mw; /* the group's middleware when added (owned), or NULL */
    size_t nmw;
} ax__route;

struct ax_http_router {
    ax__route *routes;
    size_t n, cap;
    ax_http_mw *mw; /* ax_http_router_use */
    size_t nmw, mwcap;
};

int ax_http_router_new(ax_http_router **out) {
    *out = calloc(1, sizeof **out);
    return *out ? 0 : AX_ENOMEM;
}

void ax_http_router_free(ax_http_router *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->routes[i].pattern);
        free(r->routes[i].mw);
    }
    free(r->routes);
    free(r->mw);
    free(r);
}

static int ax__split(ax__route *rt) {
    const char *p = rt->pattern;
    if (*p != '/') return AX_EINVAL;
    p++;
    rt->nsegs = 0;
    for (;;) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (rt->nsegs == AX__ROUTE_MAX_SEGS) return AX_EINVAL;
        ax__seg *s = &rt->segs[rt->nsegs++];
        if (len > 0 && p[0] == ':') {
            if (len == 1) return AX_EINVAL;
            s->kind = SEG_PARAM;
            s->text = p + 1;
            s->len = len - 1;
        } else if (len > 0 && p[0] == '*') {
            if (e) return AX_EINVAL; /* the wildcard must be last */
            s->kind = SEG_WILD;
            s->text = len > 1 ? p + 1 : "*";
            s->len = len > 1 ? len - 1 : 1;
        } else {
            s->kind = SEG_STATIC;
            s->text = p;
            s->len = len;
        }
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int ax_http_router_add(ax_http_router *r, const char *method, const char *pattern,
                       ax_http_handler h, void *user) {
    return ax__http_router_add_mw(r, method, pattern, h, user, NULL, 0);
}

int ax__http_router_add_mw(ax_http_router *r, const char *method, const char *pattern,
                           ax_http_handler h, void *user, const ax_http_mw *mw, size_t nmw) {
    if (!r || !method || !pattern || !h || strlen(method) >= 16 || !*method) return AX_EINVAL;
    ax__route rt;
    memset(&rt, 0, sizeof rt);
    strcpy(rt.method, method);
    rt.method_len = strlen(method);
    rt.any_method = strcmp(method, "*") == 0;
    rt.is_get = strcmp(method, "GET") == 0;
    rt.pattern = strdup(pattern);
    if (!rt.pattern) return AX_ENOMEM;
    rt.pattern_len = strlen(pattern);
    rt.all_static = !strchr(pattern, ':') && !strchr(pattern, '*');
    rt.handler = h;
    rt.user = user;
    int err = ax__split(&rt);
    if (err) {
        free(rt.pattern);
        return err;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->routes[i].method, method) == 0 &&
            strcmp(r->routes[i].pattern, pattern) == 0) {
            free(rt.pattern);
            return AX_EEXIST;
        }
    }
    if (ax__grow((void **)&r->routes, &r->cap, r->n, sizeof *r->routes)) {
        free(rt.pattern);
        return AX_ENOMEM;
    }
    if (nmw) {
        rt.mw = malloc(nmw * sizeof *mw);
        if (!rt.mw) {
            free(rt.pattern);
            return AX_ENOMEM;
        }
        memcpy(rt.mw, mw, nmw * sizeof *mw);
        rt.nmw = nmw;
    }
    r->routes[r->n++] = rt;
    return 0;
}

int ax_http_router_use(ax_http_router *r, ax_http_middleware fn, void *user) {
    if (!r || !fn) return AX_EINVAL;
    if (ax__grow((void **)&r->mw, &r->mwcap, r->nmw, sizeof *r->mw)) return AX_ENOMEM;
    r->mw[r->nmw++] = (ax_http_mw){fn, user};
    return 0;
}

int ax_http_group_use(ax_http_group *g, ax_http_middleware fn, void *user) {
    if (!g || !fn) return AX_EINVAL;
    if (g->nmw == AX_HTTP_GROUP_MW_MAX) return AX_ENOSPC;
    g->mw[g->nmw++] = (ax_http_mw){fn, user};
    return 0;
}

int ax_http_group_sub(ax_http_group *g, const ax_http_group *parent, const char *prefix) {
    char full[sizeof g->prefix];
    size_t pl = strlen(parent->prefix), l = strlen(prefix);
    if (pl + l + 1 > sizeof full || (l > 0 && prefix[0] != '/')) return AX_EINVAL;
    memcpy(full, parent->prefix, pl);
    memcpy(full + pl, prefix, l + 1);
    ax_http_group tmp;
    int err = ax_http_group_init(&tmp, parent->router, full);
    if (err) return err;
    memcpy(tmp.mw, parent->mw, sizeof tmp.mw);
    tmp.nmw = parent->nmw;
    *g = tmp;
    return 0;
}

int ax_http_group_init(ax_http_group *g, ax_http_router *r, const char *prefix) {
    size_t n = strlen(prefix);
    while (n > 0 && prefix[n - 1] == '/') n--; /* "/api/" and "/api" are one group */
    if (n >= sizeof g->prefix || (n > 0 && prefix[0] != '/')) return AX_EINVAL;
    g->router = r;
    memcpy(g->prefix, prefix, n);
    g->prefix[n] = 0;
    g->nmw = 0;
    return 0;
}

int ax_http_group_add(ax_http_group *g, const char *method, const char *pattern, ax_http_handler h,
                      void *user) {
    char full[512];
    size_t pl = strlen(g->prefix), l = strlen(pattern);
    if (pl + l + 1 > sizeof full || pattern[0] != '/') return AX_EINVAL;
    memcpy(full, g->prefix, pl);
    memcpy(full + pl, pattern, l + 1);
    if (pl && l == 1) full[pl] = 0; /* group "/api" + "/" is "/api" */
    return ax__http_router_add_mw(g->router, method, full, h, user, g->mw, g->nmw);
}

/* Matches path (without the leading '/') against rt. On success fills
 * kinds[] with the segment kinds for ranking and binds parameters into
 * req (when req is not NULL). */
static bool ax__match(const ax__route *rt, const char *path, size_t plen, uint64_t *rank,
                      ax_http_req *req) {
    if (rt->all_static) { /* one comparison; rank 0: static beats everything */
        if (plen + 1 != rt->pattern_len || (plen && memcmp(path, rt->pattern + 1, plen) != 0))
            return false;
        if (req) req->nparams = 0;
        *rank = 0;
        return true;
    }
    size_t pos = 0;
    uint64_t key = 0;
    size_t np = 0;
    for (size_t i = 0; i < rt->nsegs; i++) {
        const ax__seg *s = &rt->segs[i];
        key |= (uint64_t)s->kind << (2 * (AX__ROUTE_MAX_SEGS - 1 - i));
        if (s->kind == SEG_WILD) {
            if (pos > plen) pos = plen;
            if (req && np < AX__HTTP_MAX_PARAMS) {
                req->params[np].name = (ax_http_str){s->text, s->len};
                req->params[np].value = (ax_http_str){path + pos, plen - pos};
                np++;
            }
            pos = plen + 1;
            break;
        }
        if (pos > plen) return false; /* the path ran out */
        const char *e = memchr(path + pos, '/', plen - pos);
        size_t end = e ? (size_t)(e - path) : plen;
        size_t len = end - pos;
        if (s->kind == SEG_STATIC) {
            if (len != s->len || memcmp(path + pos, s->text, len) != 0) return false;
        } else {
            if (len == 0) return false;
            if (req && np < AX__HTTP_MAX_PARAMS) {
                req->params[np].name = (ax_http_str){s->text, s->len};
                req->params[np].value = (ax_http_str){path + pos, len};
                np++;
            }
        }
        pos = end + 1;
    }
    if (pos <= plen) return false; /* path segments left over */
    if (req) req->nparams = np;
    *rank = key;
    return true;
}

static bool ax__method_ok(const ax__route *rt, ax_http_str m, bool head) {
    if (rt->any_method) return true;
    if (m.len == rt->method_len) {
        size_t i = 0;
        while (i < m.len && m.ptr[i] == rt->method[i]) i++;
        if (i == m.len) return true;
    }
    return head && rt->is_get;
}

int ax__http_router_find(const ax_http_router *r, ax_http_str m, bool head, ax_http_str path,
                         ax_http_req *req, ax_http_handler *h, void **user) {
    const ax_http_mw *mw;
    size_t nmw;
    return ax__http_router_find_mw(r, m, head, path, req, h, user, &mw, &nmw);
}

int ax__http_router_find_mw(const ax_http_router *r, ax_http_str m, bool head, ax_http_str path,
                            ax_http_req *req, ax_http_handler *h, void **user,
                            const ax_http_mw **mw, size_t *nmw) {
    if (path.len == 0 || path.ptr[0] != '/') return 404;
    const char *p = path.ptr + 1;
    size_t plen = path.len - 1;
    const ax__route *best = NULL;
    uint64_t best_rank = UINT64_MAX;
    bool best_exact = false, other_method = false;
    for (size_t i = 0; i < r->n; i++) {
        const ax__route *rt = &r->routes[i];
        uint64_t rank;
        if (!ax__method_ok(rt, m, head)) {
            /* Only for 405: does the path match under another method? */
            if (!other_method && !best && ax__match(rt, p, plen, &rank, NULL)) other_method = true;
            continue;
        }
        if (!ax__match(rt, p, plen, &rank, NULL)) continue;
        /* An explicit HEAD route beats GET serving HEAD. */
        bool exact = !(head && rt->is_get);
        if (rank < best_rank || (rank == best_rank && exact && !best_exact)) {
            best = rt;
            best_rank = rank;
            best_exact = exact;
            if (rank == 0 && exact) break; /* an exact static match: nothing beats it */
        }
    }
    if (best) {
        uint64_t rank;
        if (best->all_static) {
            if (req) req->nparams = 0;
        } else {
            ax__match(best, p, plen, &rank, req); /* again, binding the parameters */
        }
        *h = best->handler;
        *user = best->user;
        *mw = best->mw;
        *nmw = best->nmw;
        return 200;
    }
    return other_method ? 405 : 404;
}

size_t ax__http_router_allow(const ax_http_router *r, ax_http_str path, char *allow, size_t cap) {
    size_t al = 0;
    if (cap == 0) return 0;
    if (path.len == 0 || path.ptr[0] != '/') {
        allow[0] = 0;
        return 0;
    }
    const char *p = path.ptr + 1;
    size_t plen = path.len - 1;
    bool has_get = false, has_head = false;
    for (size_t i = 0; i < r->n; i++) {
        const ax__route *rt = &r->routes[i];
        uint64_t rank;
        if (!ax__match(rt, p, plen, &rank, NULL)) continue;
        size_t n = strlen(rt->method);
        bool dup = false; /* the same method through another pattern */
        for (size_t j = 0; j < i && !dup; j++) {
            uint64_t r2;
            dup = strcmp(r->routes[j].method, rt->method) == 0 &&
                  ax__match(&r->routes[j], p, plen, &r2, NULL);
        }
        if (dup || al + n + 3 > cap) continue;
        if (al) {
            allow[al++] = ',';
            allow[al++] = ' ';
        }
        memcpy(allow + al, rt->method, n);
        al += n;
        has_get |= strcmp(rt->method, "GET") == 0;
        has_head |= strcmp(rt->method, "HEAD") == 0;
    }
    if (has_get && !has_head && al + 7 <= cap) {
        memcpy(allow + al, ", HEAD", 6);
        al += 6;
    }
    allow[al] = 0;
    return al;
}

int ax_http_router_handler(ax_http_req *req, ax_http_res *res, void *router) {
    const ax_http_router *r = router;
    ax_http_handler h;
    void *user;
    const ax_http_mw *mw;
    size_t nmw;
    int st = ax__http_router_find_mw(r, req->head.method, req->head.method_id == AX_HTTP_HEAD,
                                     req->head.path, req, &h, &user, &mw, &nmw);
    if (st == 200) {
        if (r->nmw == 0 && nmw == 0) return h(req, res, user);
        ax_http_next next = {r->mw, mw, r->nmw, nmw, 0, h, user};
        return ax_http_next_run(&next, req, res);
    }
    if (st == 404) return ax_http_res_text(res, 404, "Not Found\n");
    char allow[256];
    ax__http_router_allow(r, req->head.path, allow, sizeof allow);
    ax_http_res_header(res, "Allow", allow);
    return ax_http_res_text(res, 405, "Method Not Allowed\n");
}
