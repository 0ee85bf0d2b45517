/* http/static.c - the static file server's requests: the path below the
 * root, fs/ look-ups under the permission policy, the conditional and
 * Range headers, and the response head; the bytes go out through
 * static_send.c. See axon/http_static.h. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/static_internal.h"

#ifdef _WIN32
#include <io.h>
/* Windows has no realpath: the absolute path, which must exist (links are
 * not resolved). The handler refuses to serve there anyway: it needs a
 * policy file root, which Windows does not offer (AX_ENOTSUP). */
static char *ax__static_realpath(const char *path) {
    char *abs = _fullpath(NULL, path, 0);
    if (abs && _access(abs, 0) != 0) {
        free(abs);
        errno = ENOENT;
        return NULL;
    }
    return abs;
}
#define realpath(path, resolved) ax__static_realpath(path)
#endif

#define AX__STATIC_PATH 4096

struct ax_http_static {
    char *root;
    size_t root_len;
    char index[64]; /* "" : none */
    unsigned max_age_s;
};

int ax_http_static_new(ax_http_static **out, const char *root, const ax_http_static_opts *opts) {
    if (!out || !root || !*root) return AX_EINVAL;
    const char *index = opts && opts->index ? opts->index : "index.html";
    if (strchr(index, '/') || strlen(index) >= sizeof((ax_http_static *)0)->index) return AX_EINVAL;
    char *canon = realpath(root, NULL);
    if (!canon) return ax_translate_sys_error(errno);
    size_t n = strlen(canon);
    ax_http_static *st = calloc(1, sizeof *st);
    if (!st || n + 2 >= AX__STATIC_PATH) {
        free(canon);
        free(st);
        return st ? AX_ENAMETOOLONG : AX_ENOMEM;
    }
    st->root = canon;
    st->root_len = n;
    if (n == 1) st->root_len = 0; /* "/": paths are "/" + rel */
    strcpy(st->index, index);
    st->max_age_s = opts ? opts->max_age_s : 0;
    *out = st;
    return 0;
}

void ax_http_static_free(ax_http_static *st) {
    if (!st) return;
    free(st->root);
    free(st);
}

const char *ax_http_static_root(const ax_http_static *st) {
    return st->root;
}

int ax_http_static_handler(ax_http_req *req, ax_http_res *res, void *st) {
    ax_http_str rel;
    if (!ax_http_req_param(req, "path", &rel) && !ax_http_req_param(req, "*", &rel))
        rel = (ax_http_str){"", 0};
    return ax_http_static_serve(st, req, res, rel);
}

static int ax__hex(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends the percent-decoded rel to path (which holds the root, length
 * *n), segment by segment: empty and "." segments are dropped, a ".."
 * segment refuses the request. Returns 0 or the status to answer. */
static int ax__build_path(char *path, size_t *n, ax_http_str rel) {
    char seg[256];
    size_t sl = 0;
    for (size_t i = 0; i <= rel.len; i++) {
        int c = i < rel.len ? (unsigned char)rel.ptr[i] : '/';
        if (c == '%') {
            if (i + 2 >= rel.len) return 400;
            int h = ax__hex((unsigned char)rel.ptr[i + 1]),
                l = ax__hex((unsigned char)rel.ptr[i + 2]);
            if (h < 0 || l < 0) return 400;
            c = h * 16 + l;
            if (c == 0) return 400;
            i += 2;
            if (c == '/') return 404; /* an encoded separator names no file */
        } else if (c == '/') {        /* end of a segment */
            if (sl == 0 || (sl == 1 && seg[0] == '.')) {
                sl = 0;
                continue;
            }
            if (sl == 2 && seg[0] == '.' && seg[1] == '.') return 403;
            if (*n + 1 + sl >= AX__STATIC_PATH) return 414;
            path[(*n)++] = '/';
            memcpy(path + *n, seg, sl);
            *n += sl;
            path[*n] = 0;
            sl = 0;
            continue;
        }
        if (sl == sizeof seg) return 414;
        seg[sl++] = (char)c;
    }
    return 0;
}

/* The status for an fs/ error on the way to the file. */
static int ax__status_of(int err) {
    switch (err) {
    case AX_ENOENT:
    case AX_ENOTDIR:
    case AX_ENAMETOOLONG:
    case AX_EISDIR:
        return 404;
    case AX_EPOLICY:
    case AX_EACCES:
    case AX_EPERM:
    case AX_ELOOP:
        return 403;
    default:
        return 500;
    }
}

static int ax__answer(ax_http_res *res, int status) {
    char text[64];
    snprintf(text, sizeof text, "%s\n", ax_http_reason(status));
    return ax_http_res_text(res, status, text);
}

/* Whether If-Range allows the range: an ETag compared strongly, or the
 * exact Last-Modified date. */
static bool ax__if_range_ok(ax_http_req *req, const char *etag, int64_t mtime_s) {
    ax_http_str v;
    if (!ax_http_req_header(req, "if-range", &v)) return true;
    if (v.len && v.ptr[0] == '"') return v.len == strlen(etag) && memcmp(v.ptr, etag, v.len) == 0;
    int64_t t;
    return ax__static_parse_date(v, &t) && t == mtime_s;
}

/* Whether the client's copy is current (-> 304): If-None-Match when sent,
 * else If-Modified-Since. */
static bool ax__not_modified(ax_http_req *req, const char *etag, int64_t mtime_s) {
    ax_http_str v;
    if (ax_http_req_header(req, "if-none-match", &v)) return ax__static_etag_listed(v, etag);
    int64_t t;
    return ax_http_req_header(req, "if-modified-since", &v) && ax__static_parse_date(v, &t) &&
           mtime_s <= t;
}

/* Finds the file for path (a directory: its index file). */
static int ax__lookup(const ax_http_static *st, char *path, size_t n, ax_fs_info *info,
                      ax_instant dl) {
    int err = ax_fs_stat(path, info, dl);
    if (err) return err;
    if (info->type == AX_FS_TYPE_DIR) {
        size_t il = strlen(st->index);
        if (il == 0 || n + 1 + il >= AX__STATIC_PATH) return AX_ENOENT;
        path[n] = '/';
        memcpy(path + n + 1, st->index, il + 1);
        if ((err = ax_fs_stat(path, info, dl))) return err;
    }
    return info->type == AX_FS_TYPE_FILE ? 0 : AX_ENOENT;
}

int ax_http_static_serve(const ax_http_static *st, ax_http_req *req, ax_http_res *res,
                         ax_http_str rel) {
    ax_http_method m = ax_http_req_method(req);
    if (m != AX_HTTP_GET && m != AX_HTTP_HEAD) {
        ax_http_res_header(res, "Allow", "GET, HEAD");
        return ax__answer(res, 405);
    }
    /* Confinement is the policy's (fs/ opens beneath its root): refuse to
     * serve without one that covers root. */
    ax_policy *pol = ax_runtime_policy(ax_current_runtime());
    int denied = !pol || ax_policy_check_read(pol, st->root, NULL, 0) != 0;
    ax_policy_free(pol);
    if (denied)
        return ax_http_res_text(res, 500,
                                "static files need a permission policy that allows reading the "
                                "root\n");
    char path[AX__STATIC_PATH];
    size_t n = st->root_len;
    memcpy(path, st->root, n);
    path[n] = 0;
    int status = ax__build_path(path, &n, rel);
    if (status) return ax__answer(res, status);
    if (n == 0) path[n++] = '/', path[n] = 0;
    ax_instant dl = ax_http_req_deadline(req);
    ax_fs_info info;
    int err = ax__lookup(st, path, n, &info, dl);
    if (err) return ax__answer(res, ax__status_of(err));

    char etag[48], date[48], buf[96];
    ax__static_etag(etag, info.mtime_ns, info.size);
    int64_t mtime_s = info.mtime_ns >= 0 ? info.mtime_ns / 1000000000 : 0;
    ax__static_fmt_date(date, mtime_s);
    ax_http_res_header(res, "ETag", etag);
    ax_http_res_header(res, "Last-Modified", date);
    if (st->max_age_s) {
        snprintf(buf, sizeof buf, "max-age=%u", st->max_age_s);
        ax_http_res_header(res, "Cache-Control", buf);
    }
    if (ax__not_modified(req, etag, mtime_s)) return ax__http_res_head_only(res, 304, NULL, -1);
    ax_http_res_header(res, "Accept-Ranges", "bytes");

    uint64_t start = 0, len = info.size;
    status = 200;
    ax_http_str rv;
    if (ax_http_req_header(req, "range", &rv) && ax__if_range_ok(req, etag, mtime_s)) {
        int r = ax__static_parse_range(rv, info.size, &start, &len);
        if (r == AX__RANGE_UNSAT) {
            snprintf(buf, sizeof buf, "bytes */%llu", (unsigned long long)info.size);
            ax_http_res_header(res, "Content-Range", buf);
            return ax__answer(res, 416);
        }
        if (r == AX__RANGE_OK) {
            status = 206;
            snprintf(buf, sizeof buf, "bytes %llu-%llu/%llu", (unsigned long long)start,
                     (unsigned long long)(start + len - 1), (unsigned long long)info.size);
            ax_http_res_header(res, "Content-Range", buf);
        } else {
            start = 0;
            len = info.size;
        }
    }
    const char *type = ax__static_mime(path);
    if (res->is_head) return ax__http_res_head_only(res, status, type, (int64_t)len);
    ax_file *f;
    if ((err = ax_file_open(path, AX_FILE_READ, 0, &f, dl)))
        return ax__answer(res, ax__status_of(err));
    err = ax__http_res_head_only(res, status, type, (int64_t)len);
    if (!err) err = ax__static_send_body(res->io, f, start, len, dl);
    ax_file_close(f, dl);
    return err;
}
