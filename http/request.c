/* http/request.c - the handler's view of a request: head accessors, path
 * and query parameters, form fields. */
#include <string.h>

#include "http/chars.h"
#include "http/internal.h"

ax_http_method ax_http_req_method(const ax_http_req *req) {
    return req->head.method_id;
}
ax_http_str ax_http_req_method_str(const ax_http_req *req) {
    return req->head.method;
}
ax_http_str ax_http_req_path(const ax_http_req *req) {
    return req->head.path;
}
ax_http_str ax_http_req_query(const ax_http_req *req) {
    return req->head.query;
}
int ax_http_req_version(const ax_http_req *req) {
    return req->head.minor_version;
}
const ax_http_request_head *ax_http_req_head(const ax_http_req *req) {
    return &req->head;
}

bool ax_http_req_header(const ax_http_req *req, const char *name, ax_http_str *value) {
    const ax_http_header *h = ax_http_find_header(req->head.headers, req->head.nheaders, name);
    if (!h) return false;
    if (value) *value = h->value;
    return true;
}

bool ax_http_req_param(const ax_http_req *req, const char *name, ax_http_str *value) {
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nparams; i++) {
        if (req->params[i].name.len == n && memcmp(req->params[i].name.ptr, name, n) == 0) {
            if (value) *value = req->params[i].value;
            return true;
        }
    }
    return false;
}

bool ax_http_req_param_int(const ax_http_req *req, const char *name, int64_t *value) {
    ax_http_str s;
    if (!ax_http_req_param(req, name, &s) || s.len == 0 || s.len > 19) return false;
    size_t i = 0;
    bool neg = s.ptr[0] == '-';
    if (neg) i = 1;
    if (i == s.len) return false;
    uint64_t v = 0;
    for (; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9') return false;
        v = v * 10 + (uint64_t)(s.ptr[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX) return false;
    *value = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

/* Decodes %XX and '+' from s into out. */
static ssize_t ax__url_decode(const char *s, size_t n, char *out, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n) return AX_EINVAL;
            int h = ax__http_hex((unsigned char)s[i + 1]),
                l = ax__http_hex((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) return AX_EINVAL;
            c = (char)(h * 16 + l);
            i += 2;
        }
        if (o + 1 >= cap) return AX_ENOSPC;
        out[o++] = c;
    }
    if (cap == 0) return AX_ENOSPC;
    out[o] = 0;
    return (ssize_t)o;
}

ssize_t ax_http_form_value(ax_http_str form, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    size_t i = 0;
    while (i <= form.len) {
        size_t s = i;
        while (i < form.len && form.ptr[i] != '&') i++;
        /* one pair [s, i) */
        const char *eq = memchr(form.ptr + s, '=', i - s);
        size_t klen = eq ? (size_t)(eq - (form.ptr + s)) : i - s;
        char key[256];
        ssize_t kn = klen < sizeof key ? ax__url_decode(form.ptr + s, klen, key, sizeof key) : -1;
        if (kn >= 0 && (size_t)kn == nl && memcmp(key, name, nl) == 0) {
            if (!eq) {
                if (cap == 0) return AX_ENOSPC;
                out[0] = 0;
                return 0;
            }
            return ax__url_decode(eq + 1, i - s - klen - 1, out, cap);
        }
        i++;
    }
    return AX_ENOENT;
}

ssize_t ax_http_req_query_param(const ax_http_req *req, const char *name, char *out, size_t cap) {
    return ax_http_form_value(req->head.query, name, out, cap);
}
