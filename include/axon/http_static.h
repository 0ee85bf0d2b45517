/* axon/http_static.h - serving the files under a directory over HTTP.
 *
 *     ax_http_static *st;
 *     ax_http_static_new(&st, "/srv/www", NULL);
 *     ax_http_router_add(r, "GET", "/static/" "*path", ax_http_static_handler, st);
 *
 *     ax_policy *p;                      // confinement: see below
 *     ax_policy_new(&p);
 *     ax_policy_allow_read(p, "/srv/www");
 *     ax_runtime_set_policy(rt, p);
 *
 * What a request gets, as nginx and Go's http.FileServer answer:
 *   - GET and HEAD (the router sends HEAD to GET routes); HEAD gets the
 *     head GET would get, without the body.
 *   - 200 with Content-Length, Content-Type from the extension (a small
 *     table; application/octet-stream otherwise), Last-Modified, a strong
 *     ETag ("<mtime ns, hex>-<size, hex>") and Accept-Ranges: bytes.
 *   - If-None-Match (a list, W/ and "*" allowed; weak comparison) and,
 *     when it is absent, If-Modified-Since (IMF-fixdate) -> 304 Not
 *     Modified, with the ETag and Last-Modified and no body.
 *   - Range with one range (bytes=a-b, a-, -n) -> 206 with Content-Range;
 *     a range that starts past the end (or -0) -> 416 with
 *     Content-Range: bytes * /size (no space). Several ranges are answered
 *     with the whole file (200), as RFC 9110 allows; a malformed Range is
 *     ignored (200). If-Range (an ETag, compared strongly, or the exact
 *     Last-Modified date) that does not match -> the whole file (200).
 *   - A directory -> its index.html when it has one, else 404.
 *   - Not found -> 404; refused by the OS or the policy (a symbolic link
 *     that leaves the root, a path outside it) -> 403; a bad percent
 *     escape or an encoded NUL -> 400; any `..` segment, literal or
 *     percent-encoded -> 403.
 *
 * Confinement. The path is percent-decoded and opened through fs/
 * (ax_fs_stat, ax_file_open) under the runtime's permission policy
 * (axon/policy.h): fs/ opens it relative to the allowed root's descriptor
 * with openat2(RESOLVE_BENEATH), so neither `..` nor a symbolic link can
 * leave that root, whatever the string says. The handler therefore
 * requires a policy installed on the runtime that allows reading root:
 * without one it answers 500 (serving files unconfined is never done
 * silently). `..` segments are refused before that as well, so a request
 * cannot reach another root the same policy allows. The kernel confines
 * to the policy's root: when that is a parent of the served directory
 * (allow_read of "/srv" serving "/srv/www"), a link in www may still
 * reach the rest of /srv; allow the served directory itself for the
 * tightest confinement. A directory is served without a redirect to its
 * slash form (relative links in its index.html resolve against the
 * parent then).
 *
 * Transfer. A body of up to 64 KiB is read through fs/ (the open reads
 * the first chunk already) and queued like any response, so pipelined
 * small files leave in one write. A larger one goes out with sendfile(2)
 * when the connection is a TCP or Unix socket (no copy through user
 * space, nothing loaded into memory), else (TLS) in chunks of the
 * server's write_buffer_limit read through fs/ into one pooled buffer, so
 * memory stays bounded by that limit and a client that stops reading
 * suspends the handler until write_timeout_ms; a whole download also
 * counts against handler_timeout_ms. A file that shrinks while it is sent
 * ends the connection (the client sees a short body).
 *
 * Thread-safety: after ax_http_static_new the object is read-only; any
 * number of connections on any worker may use it. Free it after the server
 * that uses it.
 */
#ifndef AXON_HTTP_STATIC_H
#define AXON_HTTP_STATIC_H

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_http_static ax_http_static;

typedef struct ax_http_static_opts {
    /* The file a directory is answered with (NULL: "index.html"; "": none,
     * directories are 404). */
    const char *index;
    /* Sent as Cache-Control: max-age=N when not 0. */
    unsigned max_age_s;
} ax_http_static_opts;

/* Creates a file server for the directory root (made absolute and
 * canonical with realpath now, so it must exist). opts NULL: defaults.
 * Returns 0 with *out (the caller's: ax_http_static_free), AX_EINVAL (NULL,
 * empty, an index with a '/'), AX_ENOENT / AX_ENOTDIR / AX_EACCES (root),
 * AX_ENAMETOOLONG or AX_ENOMEM. Any thread. */
int ax_http_static_new(ax_http_static **out, const char *root, const ax_http_static_opts *opts);

/* Releases it; NULL is a no-op. After the servers using it are freed. */
void ax_http_static_free(ax_http_static *st);

/* The canonical root (borrowed, lives as long as st). */
const char *ax_http_static_root(const ax_http_static *st);

/* A router handler (user: the ax_http_static) serving the route's
 * wildcard rest (the parameter "path", else the unnamed "*") as the path below root:
 * the route "/static/" "*path" serves /static/a/b.txt from ROOT/a/b.txt. Other
 * methods than GET and HEAD get 405. Returns 0 or the write's AX_E*. Task
 * only (a handler). */
int ax_http_static_handler(ax_http_req *req, ax_http_res *res, void *st);

/* Serves the file rel (still percent-encoded, relative to root, '/'
 * separated; leading slashes ignored) as the handler does, for handlers
 * that choose the path themselves. */
int ax_http_static_serve(const ax_http_static *st, ax_http_req *req, ax_http_res *res,
                         ax_http_str rel);

#ifdef __cplusplus
}
#endif
#endif
