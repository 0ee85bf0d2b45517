/* http/accesslog.c - one line per request, after its response. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http/internal.h"

int ax_http_access_log_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *log) {
    const ax_http_access_log *l = log;
    ax_instant t0 = ax_now();
    int err = ax_http_next_run(next, req, res);
    /* Answer now what the server would answer after the chain, so the
     * line has the real status; not for a cancelled handler, which the
     * server answers itself (503 past the handler deadline). */
    if (!res->head_sent && !ax_is_cancelled()) ax__http_res_finish(res, err < 0 ? err : AX_EIO);
    ax_instant t1 = ax_now();
    char peer[AX_IP_STRLEN] = "-";
    ax_addr a;
    if (ax_http_req_peer(req, &a) == 0 && ax_ip_format(&a.ip, peer, sizeof peer) < 0)
        strcpy(peer, "-");
    const ax_http_request_head *h = &req->head;
    ax_http_str path = h->path, query = h->query;
    if (path.len > 512) path.len = 512;
    if (query.len > 256) query.len = 256;
    char line[1024];
    const char *id = ax_http_req_id(req);
    int n = snprintf(line, sizeof line, "%s \"%.*s %.*s%s%.*s HTTP/1.%d\" %d %llu %.3fms id=%s\n",
                     peer, (int)(h->method.len > 16 ? 16 : h->method.len), h->method.ptr,
                     (int)path.len, path.ptr, query.len ? "?" : "", (int)query.len, query.ptr,
                     h->minor_version, res->status, (unsigned long long)res->bytes,
                     (double)(t1 - t0) / 1e6, id ? id : "-");
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (l && l->write)
        l->write(l->user, line, len);
    else if (write(2, line, len) < 0) { /* nothing to do about a failing stderr */
    }
    return err;
}
