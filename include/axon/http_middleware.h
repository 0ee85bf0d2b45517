/* axon/http_middleware.h - middleware around HTTP handlers: chains, guards,
 * interceptors, a service registry, CORS, rate limiting, body limits,
 * request ids and an access log.
 *
 * A middleware is a function that runs before the rest of the chain, may
 * answer by itself (short-circuit: it does not call next), and runs on
 * after the rest returned (it then sees the status and body size sent):
 *
 *     static int timing(ax_http_req *q, ax_http_res *s, ax_http_next *next, void *u) {
 *         ax_instant t0 = ax_now();
 *         int err = ax_http_next_run(next, q, s);      // the rest of the chain
 *         log_it(ax_http_res_status(s), ax_now() - t0);
 *         return err;
 *     }
 *
 * Middleware composes at three levels, outermost first:
 *   - globally: an ax_http_chain wraps any handler (usually the router) and
 *     is what the server is given; it sees every request, 404s included
 *     (CORS preflight belongs here: OPTIONS matches no route);
 *   - per router: ax_http_router_use, for every matched route;
 *   - per route group: ax_http_group_use, for the routes added through the
 *     group after the call.
 * Running a chain allocates nothing: the cursor (ax_http_next) lives on the
 * stack of the function that started the chain. With no middleware
 * installed the router calls the handler directly.
 *
 * Setup (new/use/add/provide) is not thread-safe and must finish before the
 * server starts; running chains is read-only and thread-safe.
 */
#ifndef AXON_HTTP_MIDDLEWARE_H
#define AXON_HTTP_MIDDLEWARE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- chains ------------------------------------------------------------------ */

/* ax_http_middleware and ax_http_mw (a middleware and its user pointer)
 * are declared in axon/http.h, next to the route group that holds them. */

/* The cursor of a running chain: two runs of middleware (a, then b) and the
 * handler at the end. Filled by whoever starts the chain; middleware only
 * passes it on. */
struct ax_http_next {
    const ax_http_mw *a, *b;
    size_t na, nb, i;
    ax_http_handler handler;
    void *user;
};

/* Runs the rest of the chain: the next middleware, or the handler after
 * the last. Returns its result. Calling it twice from one middleware runs
 * nothing the second time and returns AX_EALREADY. Task only (the
 * handler's). */
int ax_http_next_run(ax_http_next *next, ax_http_req *req, ax_http_res *res);

/* A global chain: middleware in the order added, then handler(req, res,
 * user). Returns 0, AX_EINVAL (NULL handler) or AX_ENOMEM; the caller owns
 * *out (ax_http_chain_free after the server is freed). */
typedef struct ax_http_chain ax_http_chain;
int ax_http_chain_new(ax_http_chain **out, ax_http_handler handler, void *user);
/* Appends a middleware (user is borrowed: it must outlive the chain).
 * Returns 0, AX_EINVAL or AX_ENOMEM. Setup only. */
int ax_http_chain_use(ax_http_chain *c, ax_http_middleware fn, void *user);
/* The handler to give ax_http_server_new, with the chain as user. */
int ax_http_chain_handler(ax_http_req *req, ax_http_res *res, void *chain);
/* NULL is a no-op. Not while a server may still run the chain. */
void ax_http_chain_free(ax_http_chain *c);

/* Per router: runs for every request that matched a route, before the
 * route's group middleware, whatever the order of use and add. Returns 0,
 * AX_EINVAL or AX_ENOMEM. Setup only. */
int ax_http_router_use(ax_http_router *r, ax_http_middleware fn, void *user);
/* Per group: runs for the routes added through g after this call (at most
 * AX_HTTP_GROUP_MW_MAX per group). Returns 0, AX_EINVAL or AX_ENOSPC.
 * Setup only. */
int ax_http_group_use(ax_http_group *g, ax_http_middleware fn, void *user);
/* A group under parent: prefix appended to the parent's, the parent's
 * middleware inherited (later ax_http_group_use calls on either do not
 * reach the other). Returns 0 or AX_EINVAL. */
int ax_http_group_sub(ax_http_group *g, const ax_http_group *parent, const char *prefix);

/* --- per-request state (request interceptors) -------------------------------- */

/* Stores value under key (any address the caller owns, compared by
 * identity) for later middleware and the handler. At most 8 per request;
 * the same key again replaces. The value is borrowed: it must live until
 * the handler returns (the stack frame of the middleware that set it
 * does). Returns 0 or AX_ENOSPC. */
int ax_http_req_set_local(ax_http_req *req, const void *key, void *value);
/* The value stored under key, or NULL. */
void *ax_http_req_local(const ax_http_req *req, const void *key);
/* Replaces the path the router and later middleware see (a rewrite). The
 * text is borrowed: it must live until the handler returns. */
void ax_http_req_set_path(ax_http_req *req, ax_http_str path);
/* The peer's address (0), or AX_ENOENT for a stream served through
 * ax_http_server_serve_stream. */
int ax_http_req_peer(const ax_http_req *req, ax_addr *out);
/* The server serving req (borrowed). */
ax_http_server *ax_http_req_server(const ax_http_req *req);

/* --- response interceptors ----------------------------------------------------- */

/* Called once, just before the response head is formatted: it may change
 * *status and add headers with ax_http_res_header. At most 4 per
 * response; they run in the order added. user must stay valid until the
 * head is sent, which for an unanswered request is after the chain
 * returned (the server's 500): point it at long-lived data, or answer
 * before returning. */
typedef void (*ax_http_head_hook)(ax_http_res *res, int *status, void *user);
/* Returns 0, AX_ENOSPC or AX_EALREADY (the head was sent). */
int ax_http_res_on_head(ax_http_res *res, ax_http_head_hook fn, void *user);
/* The status sent or queued (0 before). */
int ax_http_res_status(const ax_http_res *res);
/* Body bytes sent or queued so far (Content-Length for HEAD). */
uint64_t ax_http_res_bytes(const ax_http_res *res);

/* --- guards --------------------------------------------------------------------- */

/* A guard's check: 0 lets the request through; 401 or 403 (or any 4xx)
 * refuses it with that status; a negative AX_E* is a 500. May suspend. */
typedef int (*ax_http_guard_fn)(ax_http_req *req, void *user);

typedef struct ax_http_guard {
    ax_http_guard_fn check;
    void *user;
    /* With a 401: the WWW-Authenticate value ("Bearer realm=\"api\""); NULL:
     * none. */
    const char *challenge;
} ax_http_guard;

/* The middleware that applies a guard; user: an ax_http_guard *. */
int ax_http_guard_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *guard);

/* --- the service registry (dependency injection) ------------------------------- *
 * Names map to shared objects that handlers look up. Lifetime: registered
 * before the server serves (listen or serve_stream), alive until the
 * server's record is released (ax_http_server_free, or the last
 * connection after it); then each destructor runs once, in reverse order
 * of registration. */

/* Registers ptr under name (copied, up to 63 bytes). dtor (may be NULL)
 * is called with ptr when the server is released. Returns 0, AX_EEXIST,
 * AX_EINVAL, AX_ENOMEM, or AX_EBUSY once the server serves. Not
 * thread-safe. */
int ax_http_server_provide(ax_http_server *srv, const char *name, void *ptr,
                           void (*dtor)(void *ptr));
/* The object registered under name, or NULL. Thread-safe (the registry is
 * read-only while serving). */
void *ax_http_server_service(const ax_http_server *srv, const char *name);
/* The same from a handler. */
void *ax_http_req_service(const ax_http_req *req, const char *name);

/* --- CORS ------------------------------------------------------------------------ */

typedef struct ax_http_cors {
    /* Allowed origins ("https://a.example"), NULL-terminated; "*" allows
     * any (answered as "*" unless credentials). NULL: none. */
    const char *const *origins;
    const char *methods;        /* preflight Allow-Methods (NULL: "GET, HEAD, POST") */
    const char *headers;        /* Allow-Headers (NULL: echo what was requested) */
    const char *expose_headers; /* Expose-Headers on actual responses (NULL: none) */
    bool credentials;           /* Access-Control-Allow-Credentials: true */
    unsigned max_age_s;         /* preflight cache (0: no header) */
} ax_http_cors;

/* The CORS middleware (user: an ax_http_cors *, borrowed). A preflight
 * (OPTIONS with Origin and Access-Control-Request-Method) is answered 204
 * with the Allow headers, or 403 when the origin or method is not allowed,
 * and goes no further. Other requests from an allowed origin get
 * Access-Control-Allow-Origin (and Vary: Origin) added; from another
 * origin they pass unchanged (the browser then blocks the answer). Install
 * it on a global chain. */
int ax_http_cors_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *cors);

/* --- rate limiting ---------------------------------------------------------------- */

/* Writes the client key of req into key (cap bytes) and returns its
 * length (0: do not limit this request). */
typedef size_t (*ax_http_key_fn)(ax_http_req *req, char *key, size_t cap, void *user);

typedef struct ax_http_ratelimit ax_http_ratelimit;

typedef struct ax_http_ratelimit_opts {
    double rate;           /* tokens added per second per key (> 0) */
    double burst;          /* bucket size (>= 1) */
    size_t max_keys;       /* keys tracked (4096); the least recently seen is evicted */
    ax_http_key_fn key_fn; /* NULL: the peer's IP address (none: not limited) */
    void *key_user;
} ax_http_ratelimit_opts;

/* A token bucket per client key. Returns 0 with *out (the caller owns it:
 * ax_http_ratelimit_free after the server), AX_EINVAL or AX_ENOMEM. */
int ax_http_ratelimit_new(ax_http_ratelimit **out, const ax_http_ratelimit_opts *opts);
void ax_http_ratelimit_free(ax_http_ratelimit *rl);
/* Takes one token for key at time now. Returns 0 when allowed, else the
 * whole seconds after which a token is due (>= 1). Thread-safe (a short
 * lock striped by key, never held across a suspension). */
int ax_http_ratelimit_take(ax_http_ratelimit *rl, const char *key, size_t len, ax_instant now);
/* The middleware (user: the ax_http_ratelimit *): 429 with Retry-After
 * when the client's bucket is empty. */
int ax_http_ratelimit_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *rl);

/* --- request-size limits ----------------------------------------------------------- */

/* Lowers the body limit of this request to max (it never rises above the
 * server's limits.max_body). Returns 0, or AX_EMSGSIZE when the declared
 * Content-Length already exceeds it. A chunked body past it fails its read
 * with AX_EMSGSIZE (answered 413). Call before reading the body. */
int ax_http_req_limit_body(ax_http_req *req, uint64_t max);
/* Middleware applying ax_http_req_limit_body (user: a const uint64_t *
 * limit); answers 413 and closes when the declared length is over. */
int ax_http_body_limit_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *max);

/* --- request ids -------------------------------------------------------------------- */

typedef struct ax_http_request_ids {
    char prefix[17]; /* 16 hex digits, random per generator */
    _Atomic uint64_t next;
} ax_http_request_ids;

/* Seeds a generator (from the clock and the process). */
void ax_http_request_ids_init(ax_http_request_ids *g);
/* The middleware (user: an ax_http_request_ids *): keeps an incoming
 * X-Request-Id of 1..64 visible ASCII characters, else makes one
 * ("<prefix>-<counter>"), stores it for ax_http_req_id and adds it to the
 * response as X-Request-Id. */
int ax_http_request_id_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *ids);
/* The request's id (NUL-terminated, valid until the handler returns), or
 * NULL when no request-id middleware ran before. */
const char *ax_http_req_id(const ax_http_req *req);

/* --- access log ---------------------------------------------------------------------- */

typedef struct ax_http_access_log {
    /* Receives each line (with its '\n'; not NUL-terminated) after the
     * response; NULL: written to stderr with one write. Called from
     * workers concurrently. */
    void (*write)(void *user, const char *line, size_t len);
    void *user;
} ax_http_access_log;

/* The middleware (user: an ax_http_access_log *): after the rest of the
 * chain, one line per request:
 *   127.0.0.1 "GET /path?q HTTP/1.1" 200 13 0.042ms id=<request id or ->
 * (peer, request line, status, body bytes, time in the chain). A request
 * the rest left unanswered is answered 500 before the line is written; a
 * cancelled one is logged with status 0 and answered by the server. */
int ax_http_access_log_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *log);

#ifdef __cplusplus
}
#endif
#endif
