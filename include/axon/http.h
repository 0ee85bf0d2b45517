/* axon/http.h - the HTTP/1.1 server, its request and response API, the
 * router and a small JSON writer. The parsers are in axon/http_parse.h.
 *
 * A server serves streams (axon/stream.h): TCP connections it accepts
 * itself, or any stream handed to ax_http_server_serve_stream (TLS plugs in
 * there). Per connection it runs a stackless idle state and a task only
 * while bytes move: an idle keep-alive connection holds no task, no stack
 * and no buffer, only a small record and its socket (see
 * docs/guide-http.md). While a request is in flight its handler runs on the
 * connection's task, so it may suspend (sleep, read the body, stream a
 * response) like any task code.
 *
 * Per request nothing is malloc'd and no lock is taken: head slices point
 * into the connection's pooled read buffer, and responses are written into
 * a pooled output buffer; the responses of a pipelined burst leave in one
 * write.
 *
 * Thread-safety: a server may be shut down and freed from any task; the
 * request and response objects belong to the handler that received them
 * and are valid only until it returns.
 */
#ifndef AXON_HTTP_H
#define AXON_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "future.h"
#include "http_parse.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_http_server ax_http_server;
typedef struct ax_http_req ax_http_req;
typedef struct ax_http_res ax_http_res;

/* A handler answers one request through res. Returning a negative AX_E*
 * before a response was sent, returning without sending anything, or
 * being cancelled (ax_abort of its task) makes the server answer 500, and
 * the connection and the server live on (after a cancellation the
 * connection is closed). The handler runs in a task and may suspend; it
 * must not end its task with ax_task_exit. */
typedef int (*ax_http_handler)(ax_http_req *req, ax_http_res *res, void *user);

typedef struct ax_http_server_opts {
    ax_http_limits limits;      /* zero fields: defaults of ax_http_limits_init */
    unsigned header_timeout_ms; /* whole head must arrive within (10,000) -> 408, close */
    unsigned body_timeout_ms;   /* each body read must progress within (30,000) */
    unsigned idle_timeout_ms;   /* keep-alive connection with no request (60,000) */
    /* A handler running longer is cancelled (ax_abort: its suspending
     * calls return AX_ECANCELED), answered 503 if it had not answered, and
     * the connection closed; checked once a second, so it acts up to 1 s
     * late. Also the deadline of its body reads and stream writes (30,000). */
    unsigned handler_timeout_ms;
    unsigned write_timeout_ms; /* a write must progress within (30,000) */
    size_t max_connections;    /* further connections are closed at once (10,000) */
    size_t write_buffer_limit; /* bytes queued before a write must finish (64 KiB) */
    size_t read_buffer_size;   /* per busy connection (16 KiB; at least max_head + 1 KiB) */
} ax_http_server_opts;

void ax_http_server_opts_init(ax_http_server_opts *o);

/* Creates a server that answers every request with handler(req, res,
 * user) (a router: ax_http_router_handler). opts NULL: defaults. Returns 0
 * with *out (the caller owns it: ax_http_server_free), AX_EINVAL or
 * AX_ENOMEM. Any thread. */
int ax_http_server_new(ax_http_server **out, const ax_http_server_opts *opts,
                       ax_http_handler handler, void *user);

/* Listens on addr (port 0: ephemeral) and starts accepting in a task of the
 * current runtime. Returns 0, the listener's errors, or AX_EBUSY when the
 * server already listens. Task only. */
int ax_http_server_listen(ax_http_server *srv, const ax_addr *addr);

/* The bound address after ax_http_server_listen. */
int ax_http_server_addr(const ax_http_server *srv, ax_addr *out);

/* Serves one already connected stream; the server takes ownership of s
 * (it closes it) whatever the result. Returns 0, AX_EBUSY when
 * max_connections are open (s is closed), AX_ESHUTDOWN or AX_ENOMEM. Task
 * or worker thread. */
int ax_http_server_serve_stream(ax_http_server *srv, ax_stream *s);

/* Graceful shutdown: stops accepting, closes idle connections, lets busy
 * ones finish their current request (answered with Connection: close) and
 * waits up to grace_ms for them; connections still open then are closed
 * under their handlers (whose I/O then fails). Returns 0 when everything
 * ended in time, AX_ETIMEDOUT otherwise. Task only; once. */
int ax_http_server_shutdown(ax_http_server *srv, unsigned grace_ms);

/* Releases the server after ax_http_server_shutdown (or if it never
 * listened). Connections still open after a shutdown that timed out keep
 * the server's record alive until they end (the handler and its user data
 * must stay valid until then). NULL is a no-op. */
void ax_http_server_free(ax_http_server *srv);

/* Open connections now (a snapshot). Any thread. */
size_t ax_http_server_connections(const ax_http_server *srv);

/* --- the request ----------------------------------------------------------- */

ax_http_method ax_http_req_method(const ax_http_req *req);
ax_http_str ax_http_req_method_str(const ax_http_req *req);
/* The path as sent, still percent-encoded, without the query. */
ax_http_str ax_http_req_path(const ax_http_req *req);
ax_http_str ax_http_req_query(const ax_http_req *req);
int ax_http_req_version(const ax_http_req *req); /* minor version: 0 or 1 */
/* The parsed head (headers and framing facts), borrowed. */
const ax_http_request_head *ax_http_req_head(const ax_http_req *req);
/* The first header called name; false when absent. */
bool ax_http_req_header(const ax_http_req *req, const char *name, ax_http_str *value);

/* Path parameters bound by the router (":id", and "*" for the wildcard's
 * rest). Return false when there is no such parameter; the _int form
 * also when it is not a decimal int64 (no sign other than '-', no
 * spaces). */
bool ax_http_req_param(const ax_http_req *req, const char *name, ax_http_str *value);
bool ax_http_req_param_int(const ax_http_req *req, const char *name, int64_t *value);

/* The value of query parameter name, percent- and '+'-decoded into out
 * (capacity cap, NUL-terminated). Returns the decoded length, AX_ENOENT
 * when absent, AX_ENOSPC when it does not fit, AX_EINVAL for a bad escape. */
ssize_t ax_http_req_query_param(const ax_http_req *req, const char *name, char *out, size_t cap);
/* The same over an application/x-www-form-urlencoded text (a body read
 * with ax_http_req_body). */
ssize_t ax_http_form_value(ax_http_str form, const char *name, char *out, size_t cap);

/* Reads the next piece of the body into buf: returns bytes (> 0), 0 at its
 * end, or AX_E* (AX_EPROTO for a malformed chunked body, AX_EMSGSIZE past
 * limits.max_body, AX_ETIMEDOUT, AX_ECONNRESET ...; the connection is then
 * closed after the response). Sends 100 Continue first when the client
 * asked for it. Streaming: memory stays bounded by buf. Task only (the
 * handler's). */
ssize_t ax_http_req_read(ax_http_req *req, void *buf, size_t cap);
/* Reads the whole body (up to limits.max_body) and points *body at it:
 * a slice of the read buffer when it arrived with the head, else a buffer
 * the server owns until the handler returns. Returns 0 or AX_E* as above.
 * Task only. */
int ax_http_req_body(ax_http_req *req, ax_http_str *body);

/* A trailer field of a chunked request body, once the body has been read
 * to its end (ax_http_req_read returned 0, or ax_http_req_body): the first
 * one called name (case-insensitive), its value a slice valid until the
 * handler returns. False when absent, before the end of the body, for a
 * body that was not chunked, and when the trailer block passed 1 KiB
 * (larger blocks, up to the parser's 8 KiB limit, are accepted but not
 * kept). Task only (the handler's). */
bool ax_http_req_trailer(const ax_http_req *req, const char *name, ax_http_str *value);

/* --- the response ---------------------------------------------------------- */

/* Adds a header to the response (copied). Returns 0, AX_EINVAL for a name
 * that is not a token or a value with CR, LF or another control byte,
 * AX_ENOSPC when the response's header space (1 KiB) is full, AX_EALREADY
 * after the head was sent. Server, Date, Content-Length, Transfer-Encoding
 * and Connection are the server's. */
int ax_http_res_header(ax_http_res *res, const char *name, const char *value);

/* Sends a complete response: status, Content-Type (NULL: none),
 * Content-Length and the body (copied or written before it returns; the
 * caller keeps body). HEAD gets the head only. Returns 0, AX_EALREADY when
 * a response was sent, or the write's AX_E*. */
int ax_http_res_send(ax_http_res *res, int status, const char *content_type, const void *body,
                     size_t len);
/* text/plain; charset=utf-8 (exactly "text/plain" for TechEmpower style
 * answers: use ax_http_res_send). */
int ax_http_res_text(ax_http_res *res, int status, const char *text);
/* application/json with the given JSON text. */
int ax_http_res_json(ax_http_res *res, int status, const char *json, size_t len);

/* Streaming: sends the head (chunked for HTTP/1.1, and for HEAD the same
 * head with no body; for 1.0 the body runs to the connection's close),
 * then each write goes out as one chunk and returns once the stream took
 * it (backpressure: a slow client suspends the handler), and end sends the
 * last chunk. A handler that returns without end gets it ended. Return 0
 * or AX_E*. */
int ax_http_res_stream_begin(ax_http_res *res, int status, const char *content_type);
int ax_http_res_stream_write(ax_http_res *res, const void *data, size_t len);
int ax_http_res_stream_end(ax_http_res *res);
/* Adds a trailer field (copied) that ax_http_res_stream_end sends after the
 * last chunk; may be called before or during the stream. Only a chunked
 * stream (HTTP/1.1, not HEAD) carries trailers: for other responses they
 * are dropped. Returns 0, AX_EINVAL (a name that is not a token,
 * Content-Length or Transfer-Encoding, or a value with a control byte),
 * AX_ENOSPC (trailer space, 512 bytes, is full) or AX_EALREADY after the
 * response ended. */
int ax_http_res_trailer(ax_http_res *res, const char *name, const char *value);

/* Ends the connection after this response (adds Connection: close). */
void ax_http_res_close(ax_http_res *res);
/* Whether a response head has been sent or queued. */
bool ax_http_res_started(const ax_http_res *res);
/* The deadline of the handler's I/O (body reads, stream writes). */
ax_instant ax_http_req_deadline(const ax_http_req *req);

/* --- the router ------------------------------------------------------------ *
 * Patterns are paths of segments: static text, ":name" (one segment, bound
 * as a parameter) and a final "*" or "*name" (the rest of the path, maybe
 * empty). Static segments win over parameters, parameters over wildcards,
 * whatever the order of adding. A path that matches no pattern gets 404;
 * one that matches patterns only for other methods gets 405 with an Allow
 * header (HEAD is served by GET routes). Setup (new/add/group) is not
 * thread-safe and must finish before the server starts; matching is
 * read-only and thread-safe. */
typedef struct ax_http_router ax_http_router;

int ax_http_router_new(ax_http_router **out);
void ax_http_router_free(ax_http_router *r);
/* method: a name such as "GET", or "*" for any method. Returns 0,
 * AX_EINVAL (bad pattern: not starting with '/', an empty ":" name, '*'
 * not last), AX_EEXIST (same method and pattern twice) or AX_ENOMEM. */
int ax_http_router_add(ax_http_router *r, const char *method, const char *pattern,
                       ax_http_handler h, void *user);
/* A route group: adds prefix in front of its patterns ("/api/v1"). The
 * group lives as long as the router. */
typedef struct ax_http_next ax_http_next;
/* A middleware (axon/http_middleware.h): answer through res, or call
 * ax_http_next_run(next, req, res) to run the rest of the chain, doing its
 * work before and after. Returns what a handler returns. Task only. */
typedef int (*ax_http_middleware)(ax_http_req *req, ax_http_res *res, ax_http_next *next,
                                  void *user);
typedef struct ax_http_mw {
    ax_http_middleware fn;
    void *user;
} ax_http_mw;
#define AX_HTTP_GROUP_MW_MAX 8
typedef struct ax_http_group {
    ax_http_router *router;
    char prefix[128];
    ax_http_mw mw[AX_HTTP_GROUP_MW_MAX]; /* ax_http_group_use */
    size_t nmw;
} ax_http_group;
int ax_http_group_init(ax_http_group *g, ax_http_router *r, const char *prefix);
int ax_http_group_add(ax_http_group *g, const char *method, const char *pattern, ax_http_handler h,
                      void *user);
/* The handler to give ax_http_server_new, with the router as user. */
int ax_http_router_handler(ax_http_req *req, ax_http_res *res, void *router);

/* --- a small JSON writer ------------------------------------------------------ *
 * Writes into a caller buffer; commas and escaping are its job. After an
 * overflow every call is a no-op and ax_json_finish returns AX_ENOSPC. */
typedef struct ax_json {
    char *buf;
    size_t cap, len;
    uint32_t depth;
    uint64_t need_comma; /* bit per depth level */
    bool after_key, overflow;
} ax_json;

void ax_json_init(ax_json *j, char *buf, size_t cap);
void ax_json_object_begin(ax_json *j);
void ax_json_object_end(ax_json *j);
void ax_json_array_begin(ax_json *j);
void ax_json_array_end(ax_json *j);
void ax_json_key(ax_json *j, const char *key);
void ax_json_string(ax_json *j, const char *s);
void ax_json_string_n(ax_json *j, const char *s, size_t n);
void ax_json_int(ax_json *j, int64_t v);
void ax_json_bool(ax_json *j, bool v);
void ax_json_null(ax_json *j);
/* NUL-terminates; returns the length or AX_ENOSPC. */
ssize_t ax_json_finish(ax_json *j);

#ifdef __cplusplus
}
#endif
#endif
