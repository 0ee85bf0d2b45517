/* http/cors.c - Cross-Origin Resource Sharing: preflight answers and the
 * Allow-Origin headers of actual responses. */
#include <stdio.h>
#include <string.h>

#include "http/internal.h"

/* Whether origin is allowed; *wild when through "*". */
static bool ax__cors_allowed(const ax_http_cors *c, ax_http_str origin, bool *wild) {
    *wild = false;
    if (!c->origins) return false;
    for (const char *const *p = c->origins; *p; p++) {
        if (strcmp(*p, "*") == 0) {
            *wild = true;
            return true;
        }
        if (strlen(*p) == origin.len && memcmp(*p, origin.ptr, origin.len) == 0) return true;
    }
    return false;
}

/* Whether the comma-separated list has method (exact, case-sensitive). */
static bool ax__list_has(const char *list, ax_http_str m) {
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') e++;
        if ((size_t)(e - p) == m.len && m.len && memcmp(p, m.ptr, m.len) == 0) return true;
        p = e;
    }
    return false;
}

/* Adds the origin headers; the origin was checked before. */
static void ax__cors_origin_headers(ax_http_res *res, const ax_http_cors *c, ax_http_str origin,
                                    bool wild) {
    char o[256];
    if (wild && !c->credentials) {
        ax_http_res_header(res, "Access-Control-Allow-Origin", "*");
    } else if (origin.len < sizeof o) {
        memcpy(o, origin.ptr, origin.len);
        o[origin.len] = 0;
        ax_http_res_header(res, "Access-Control-Allow-Origin", o);
        ax_http_res_header(res, "Vary", "Origin");
    }
    if (c->credentials) ax_http_res_header(res, "Access-Control-Allow-Credentials", "true");
}

/* The head hook of an actual response: the headers go on whatever status
 * the response ends with, a 500 included. */
static void ax__cors_hook(ax_http_res *res, int *status, void *cors) {
    const ax_http_cors *c = cors;
    ax_http_str origin;
    bool wild;
    if (!ax_http_req_header(res->req, "origin", &origin) || !ax__cors_allowed(c, origin, &wild))
        return;
    ax__cors_origin_headers(res, c, origin, wild);
    if (c->expose_headers)
        ax_http_res_header(res, "Access-Control-Expose-Headers", c->expose_headers);
}

int ax_http_cors_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *cors) {
    const ax_http_cors *c = cors;
    ax_http_str origin, want;
    bool wild;
    if (!ax_http_req_header(req, "origin", &origin)) return ax_http_next_run(next, req, res);
    if (req->head.method_id == AX_HTTP_OPTIONS &&
        ax_http_req_header(req, "access-control-request-method", &want)) {
        const char *methods = c->methods ? c->methods : "GET, HEAD, POST";
        if (!ax__cors_allowed(c, origin, &wild) || !ax__list_has(methods, want))
            return ax_http_res_text(res, 403, "CORS preflight refused\n");
        ax__cors_origin_headers(res, c, origin, wild);
        ax_http_res_header(res, "Access-Control-Allow-Methods", methods);
        ax_http_str hdrs;
        char echo[512];
        if (c->headers) {
            ax_http_res_header(res, "Access-Control-Allow-Headers", c->headers);
        } else if (ax_http_req_header(req, "access-control-request-headers", &hdrs) &&
                   hdrs.len < sizeof echo) {
            memcpy(echo, hdrs.ptr, hdrs.len);
            echo[hdrs.len] = 0;
            ax_http_res_header(res, "Access-Control-Allow-Headers", echo);
        }
        if (c->max_age_s) {
            char age[16];
            snprintf(age, sizeof age, "%u", c->max_age_s);
            ax_http_res_header(res, "Access-Control-Max-Age", age);
        }
        return ax_http_res_send(res, 204, NULL, "", 0);
    }
    if (ax__cors_allowed(c, origin, &wild)) {
        int err = ax_http_res_on_head(res, ax__cors_hook, cors);
        if (err) return err;
    }
    return ax_http_next_run(next, req, res);
}
