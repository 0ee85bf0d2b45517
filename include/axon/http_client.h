/* axon/http_client.h - the HTTP/1.1 client: requests over a keep-alive
 * pool per host, redirects, retries, streamed bodies, HTTPS, fetch_all.
 *
 * Shaped like Go's net/http client or reqwest: a client (ax_http_client)
 * is made once and shared by every task; it holds the default headers, a
 * connection pool keyed by (host, port, secure) (axon/pool.h) and, once an
 * https URL is used, a TLS client configuration (axon/tls.h; verification
 * on). A request is a plain struct (ax_http_request) the caller fills;
 * a response (ax_http_response) carries the status line, the headers and
 * either the whole body (ax_http_client_do and the get/post helpers) or an
 * open body the caller reads piece by piece (ax_http_client_send, then
 * ax_http_response_read / _chunk / _read_line).
 *
 * Example (a task):
 *
 *     ax_http_client *c;
 *     if (ax_http_client_new(NULL, &c)) return;
 *     ax_http_response r;
 *     int err = ax_http_get(c, "http://127.0.0.1:8080/users/42", &r);
 *     if (!err) {
 *         printf("%d %.*s\n", r.status, (int)r.body_len, r.body);
 *         ax_http_response_free(&r);
 *     } else {
 *         fprintf(stderr, "%s\n", ax_strerror(err));
 *     }
 *     ax_http_client_free(c);
 *
 * What the client does, as a Go or reqwest user expects:
 *   - URLs: http and https, default ports 80 / 443, IPv6 literals in
 *     brackets, the fragment dropped; userinfo ("user:pw@host") is refused
 *     (AX_EINVAL: pass an Authorization header instead), as are spaces and
 *     control or non-ASCII bytes (percent-encode them).
 *   - Requests: HTTP/1.1 with Host, User-Agent (unless given), the
 *     client's default headers (a request header of the same name replaces
 *     one), Content-Length for a byte body, chunked for a body callback.
 *     Header names must be tokens and values free of CR, LF and NUL.
 *   - Responses: bodies framed by Content-Length, chunked, or until the
 *     connection closes; HEAD, 1xx, 204 and 304 have none. Interim 1xx
 *     responses are skipped. The connection goes back to the pool only once
 *     the body was read to its end and the server did not ask to close;
 *     a response freed before its end closes its connection.
 *   - Redirects (301, 302, 303, 307, 308 with a Location), up to
 *     max_redirects: 301/302 turn POST into GET, 303 turns everything but
 *     HEAD into GET (the body dropped), 307/308 keep method and body; a
 *     redirect to another host (or scheme or port) drops Authorization and
 *     Cookie. Past the limit: AX_ELOOP. A body given as a callback cannot
 *     be sent twice: such a redirect is returned as the response.
 *   - Retries for idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS,
 *     TRACE) with a replayable body: a connect failure, a connection that
 *     ended or was reset before any response byte, and 502/503/504 answers
 *     are retried up to max_retries times, after retry_backoff_ms doubled
 *     each time (capped at 32 times; a Retry-After of a few seconds is
 *     honoured within the deadline). A request that failed on a reused
 *     keep-alive connection before any response byte (the server closed
 *     an idle connection) is sent again once on a fresh connection when it
 *     is idempotent or could not be written at all, as Go does; this one
 *     is not counted in retries.
 *   - Deadlines: the client's timeout_ms, the request's timeout_ms and its
 *     deadline, whichever comes first, bound the whole exchange (connect,
 *     retries, redirects and, for ax_http_client_do, the body).
 *     Cancelling the task makes the call return AX_ECANCELED.
 *
 * Errors: AX_EINVAL (a bad URL, method or header), AX_ENOTSUP (an https
 * URL in a build without TLS, or a scheme other than http/https),
 * AX_ETIMEDOUT, AX_ECANCELED, connect errors (AX_ECONNREFUSED,
 * AX_ENXDOMAIN, ...), TLS errors (AX_ECERT*, AX_ETLS*), AX_EPROTO (a
 * malformed response, or a body cut short), AX_EMSGSIZE (a head past
 * max_head or a body past max_body), AX_ELOOP (too many redirects),
 * AX_ECONNRESET / AX_EPIPE (the peer went away), AX_ENOMEM.
 * An HTTP error status (404, 500) is not an error: the call returns 0 and
 * the response says it.
 *
 * Thread-safety: a client may be used by any number of tasks on any
 * worker of one runtime at once; ax_http_client_set_header must be called
 * before it is shared. A response belongs to the task that got it.
 */
#ifndef AXON_HTTP_CLIENT_H
#define AXON_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "future.h"
#include "http_parse.h"
#include "pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_http_client ax_http_client;

typedef struct ax_http_client_opts {
    /* Open connections per (host, port, scheme); 0: no limit. Default 0. */
    size_t max_conns_per_host;
    /* Idle keep-alive connections kept per host. Default 64. */
    size_t max_idle_per_host;
    /* Close keep-alive connections idle this long. Default 90,000 (Go's). */
    uint64_t idle_timeout_ms;
    /* Bound on each connect (TCP and the TLS handshake). Default 10,000. */
    uint64_t connect_timeout_ms;
    /* Bound on a whole call (see the header comment); 0: none. Default 0. */
    uint64_t timeout_ms;
    /* Redirects followed; 0: none (the 3xx is returned). Default 10. */
    unsigned max_redirects;
    /* Retries of an idempotent request; 0: none. Default 2. */
    unsigned max_retries;
    /* The first retry's wait, doubled for each further one. Default 50. */
    unsigned retry_backoff_ms;
    /* Largest body ax_http_client_do collects; AX_EMSGSIZE beyond.
     * Default 64 MiB. Streamed bodies have no limit beyond it unless set
     * per response (they are not collected). */
    uint64_t max_body;
    /* Largest response head (status line and headers). Default 16 KiB;
     * at most 64 header lines. */
    size_t max_head;
    /* TLS: trust anchors (PEM file / hashed folder; both NULL: the system
     * store), and a switch for tests against throw-away certificates that
     * turns all verification off. Copied. */
    const char *ca_file;
    const char *ca_dir;
    bool insecure_skip_verify;
    /* Sent unless a request carries its own; NULL: "axon/1". Copied. */
    const char *user_agent;
} ax_http_client_opts;

/* Fills o with the defaults above. */
void ax_http_client_opts_init(ax_http_client_opts *o);

/* Makes a client (opts NULL: the defaults; copied). Returns 0 with *out
 * owned by the caller (ax_http_client_free), AX_EINVAL or AX_ENOMEM. No
 * I/O. Any thread. */
int ax_http_client_new(const ax_http_client_opts *opts, ax_http_client **out);

/* Closes the idle connections and releases the client. No call may be in
 * flight on it; responses still open keep their connection until freed
 * (then it is closed). NULL is a no-op. Any thread. */
void ax_http_client_free(ax_http_client *c);

/* Adds a default header sent with every request (a request's own header
 * of the same name, compared case-insensitively, replaces it). Copied.
 * Returns 0, AX_EINVAL (a name that is not a token, a value with CR, LF or
 * NUL), AX_ENOMEM. Not thread-safe: call before the client is shared. */
int ax_http_client_set_header(ax_http_client *c, const char *name, const char *value);

/* The pool's counters (axon/pool.h): how many connections were made,
 * reused, closed. Any thread. */
void ax_http_client_pool_stats(ax_http_client *c, ax_pool_stats *st);

/* A header of a request, both NUL-terminated; borrowed for the call. */
typedef struct ax_http_kv {
    const char *name;
    const char *value;
} ax_http_kv;

/* Produces a request body piece by piece (sent chunked): writes up to cap
 * bytes into buf and returns the count, 0 at the end, or AX_E* to abort
 * (the call then fails with it). Runs in the calling task; may suspend. */
typedef ssize_t (*ax_http_body_fn)(void *ctx, void *buf, size_t cap);

/* A request. Initialise with ax_http_request_init, then set what you
 * need. Everything is borrowed for the duration of the call. */
typedef struct ax_http_request {
    const char *method; /* "GET" (the default), "POST", ... any token */
    const char *url;    /* absolute http:// or https:// URL */
    const ax_http_kv *headers;
    size_t nheaders;
    const void *body; /* sent with Content-Length: body_len (NULL, 0: none) */
    size_t body_len;
    ax_http_body_fn body_fn; /* when set: the body, sent chunked */
    void *body_ctx;
    /* Bounds for this call (0 / AX_NO_DEADLINE: none); the earliest of
     * these and the client's timeout_ms applies. */
    uint64_t timeout_ms;
    ax_instant deadline;
    /* -1 (the default): the client's; else the value for this call. */
    int max_redirects;
    int max_retries;
} ax_http_request;

void ax_http_request_init(ax_http_request *r, const char *method, const char *url);

/* The state of an open body (private). */
typedef struct ax__http_body ax__http_body;

/* A response. The strings and headers live in the response (slices of
 * its head buffer) until ax_http_response_free. */
typedef struct ax_http_response {
    int status;        /* 200, 404, ... */
    int minor_version; /* 0 or 1 */
    ax_http_str reason;
    ax_http_header *headers;
    size_t nheaders;
    int64_t content_length; /* -1 when the response had none */
    /* ax_http_client_do: the whole body, NUL-terminated (body_len bytes
     * before the NUL), owned by the response. Streaming: NULL. */
    char *body;
    size_t body_len;
    /* The URL that answered (after redirects), NUL-terminated. */
    const char *url;
    unsigned redirects; /* redirects followed */
    unsigned retries;   /* retries made (not counting a stale connection's) */
    ax__http_body *priv;
} ax_http_response;

/* Sends req and collects the whole response body (up to max_body) into
 * out. Returns 0 with *out filled (free it with ax_http_response_free),
 * or AX_E* (see the header comment; *out is then zeroed and needs no
 * free). Task only. */
int ax_http_client_do(ax_http_client *c, const ax_http_request *req, ax_http_response *out);

/* Sends req and returns once the response head arrived, with the body
 * left to read (out->body is NULL): read it with the calls below, at the
 * reader's pace (the server is held back by TCP flow control:
 * backpressure), and free the response when done; freeing it early
 * cancels the rest (the connection is closed, not reused). Returns as
 * ax_http_client_do. Task only. */
int ax_http_client_send(ax_http_client *c, const ax_http_request *req, ax_http_response *out);

/* Reads up to cap bytes of an open body into buf: returns the count (> 0),
 * 0 at the end of the body, or AX_E* (AX_EPROTO: malformed or cut short;
 * AX_EMSGSIZE: past the limit set below; AX_ETIMEDOUT; AX_ECANCELED...;
 * the connection is then closed). For a response of ax_http_client_do,
 * reads from its collected body. Task only. */
ssize_t ax_http_response_read(ax_http_response *r, void *buf, size_t cap);

/* Zero-copy: points *data at the next piece of the body as it arrived
 * (a slice of the response's buffer, valid until the next call on r) and
 * returns its length, 0 at the end, or AX_E* as above. Task only. */
ssize_t ax_http_response_chunk(ax_http_response *r, const char **data);

/* Reads the next line (up to "\n"; the "\n" or "\r\n" is removed) into
 * out (capacity cap, NUL-terminated). Returns its length (>= 0),
 * AX_EOF at the end of the body, AX_ENOSPC when a line does not fit in
 * out (the line's first cap - 1 bytes are then consumed and returned in
 * out, NUL-terminated), or AX_E* as above. Task only. */
ssize_t ax_http_response_read_line(ax_http_response *r, char *out, size_t cap);

/* Replaces the deadline for the rest of an open body's reads (a long
 * stream may outlive the request's deadline); AX_NO_DEADLINE: none. And a
 * limit on the body's total size (0: none): AX_EMSGSIZE past it. */
void ax_http_response_set_deadline(ax_http_response *r, ax_instant deadline);
void ax_http_response_set_max_body(ax_http_response *r, uint64_t max_body);

/* The first header called name (case-insensitive); false when absent. */
bool ax_http_response_header(const ax_http_response *r, const char *name, ax_http_str *value);

/* Releases the response: its body and buffers, and its connection (back
 * to the pool when the body was read to its end, else closed). Does not
 * suspend. NULL or a zeroed response is a no-op. */
void ax_http_response_free(ax_http_response *r);

/* --- shortcuts: a request with the whole body collected ---------------------- */

int ax_http_get(ax_http_client *c, const char *url, ax_http_response *out);
int ax_http_head(ax_http_client *c, const char *url, ax_http_response *out);
int ax_http_delete(ax_http_client *c, const char *url, ax_http_response *out);
/* content_type NULL: no Content-Type header. */
int ax_http_post(ax_http_client *c, const char *url, const char *content_type, const void *body,
                 size_t len, ax_http_response *out);
int ax_http_put(ax_http_client *c, const char *url, const char *content_type, const void *body,
                size_t len, ax_http_response *out);
int ax_http_patch(ax_http_client *c, const char *url, const char *content_type, const void *body,
                  size_t len, ax_http_response *out);
/* POST with Content-Type: application/json and the JSON text json (a NUL-
 * terminated string, for example one written with ax_json). */
int ax_http_post_json(ax_http_client *c, const char *url, const char *json, ax_http_response *out);

/* --- many requests at once ------------------------------------------------------ */

/* Runs the n requests concurrently, at most `concurrency` at a time (0:
 * all at once), each as ax_http_client_do in its own task of a scope.
 * Results are in input order: out[i] is the response to reqs[i] when
 * errs[i] is 0 (free each with ax_http_response_free), else errs[i] is
 * the AX_E* that request failed with (out[i] zeroed). Returns the number
 * of requests that failed (>= 0), or AX_ECANCELED when the caller was
 * cancelled (then every request was cancelled and joined; finished ones
 * still have their results), AX_EINVAL, AX_ENOMEM. Task only. */
ssize_t ax_http_fetch_all(ax_http_client *c, const ax_http_request *reqs, size_t n,
                          size_t concurrency, ax_http_response *out, int *errs);

/* --- URLs ---------------------------------------------------------------------- */

/* An absolute http(s) URL taken apart: slices of the parsed text. */
typedef struct ax_http_url {
    bool secure;      /* https */
    ax_http_str host; /* without the brackets of an IPv6 literal */
    uint16_t port;    /* explicit or the scheme's default */
    bool default_port;
    bool ipv6;          /* host was an IPv6 literal */
    ax_http_str target; /* path and query as sent ("/" when the URL has neither;
                         * "?q" when it has a query only: send "/?q") */
} ax_http_url;

/* Parses url[0, len). Returns 0, AX_EINVAL (malformed, userinfo, empty
 * host, a port outside 1..65535, a space, control or non-ASCII byte) or
 * AX_ENOTSUP (a scheme other than http and https). Allocates nothing; the
 * slices point into url. Any thread. */
int ax_http_url_parse(const char *url, size_t len, ax_http_url *out);

/* Resolves the reference ref (a Location header: absolute, "//host/..",
 * "/path", "relative", "?query") against the absolute URL base, as RFC
 * 3986 section 5 does (dot segments removed), into out (capacity cap,
 * NUL-terminated). Returns the length, AX_ENOSPC when it does not fit,
 * AX_EINVAL (a bad base or reference), AX_ENOTSUP (not http/https) or
 * AX_ENOMEM. Any thread. */
ssize_t ax_http_url_resolve(const char *base, const char *ref, size_t ref_len, char *out,
                            size_t cap);

#ifdef __cplusplus
}
#endif
#endif
