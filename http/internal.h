/* http/internal.h - private to http/: the server, connection, request and
 * response records shared by the server's files.
 *
 * Ownership of a connection (ax__http_conn): a reference count. The task
 * serving it holds one; while the connection is idle, each armed waker
 * (read readiness, idle timer) holds one. `armed` is AX__IDLE_ARMED while
 * the connection waits idle; whoever moves it to AX__IDLE_BUSY (a waker,
 * or shutdown) owns the connection's next step, so exactly one task serves
 * a connection at any time.
 */
#ifndef AX_HTTP_INTERNAL_H
#define AX_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "axon.h"
#include "axon/http.h"
#include "axon/http_metrics.h"
#include "axon/http_middleware.h"

#pragma GCC visibility push(hidden)

#define AX__HTTP_MAX_HEADERS 64
#define AX__HTTP_MAX_PARAMS  8
#define AX__HTTP_MAX_LOCALS  8
#define AX__HTTP_MAX_HOOKS   4
#define AX__HTTP_RES_HDRS    1024
#define AX__HTTP_DRAIN_MAX   (1u << 20) /* unread body bytes skipped to keep a connection */
#define AX__HTTP_TRAILERS    1024       /* request trailers kept; response trailers space */

typedef struct ax__http_conn ax__http_conn;
typedef struct ax__http_services ax__http_services;

/* Metrics counters (metrics.c), allocated by ax_http_server_enable_metrics. */
typedef struct ax__http_mstate {
    _Atomic uint64_t requests, status_class[6];
    _Atomic uint64_t lat_count, lat_sum_us, lat_buckets[AX_HTTP_LATENCY_BUCKETS + 1];
    _Atomic uint64_t conns_total, conns_refused, shed;
    _Atomic uint64_t bytes_in, bytes_out;
} ax__http_mstate;

/* The Date header's text, refreshed once a second by the server's clock
 * task; read with a sequence lock so no reader sees a torn value. */
typedef struct ax__http_date {
    _Atomic uint32_t seq;
    _Atomic uint64_t words[4]; /* "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes) */
} ax__http_date;

void ax__http_date_refresh(ax__http_date *d);
/* Copies the 29 characters into out. */
void ax__http_date_read(ax__http_date *d, char out[32]);

struct ax_http_server {
    ax_http_server_opts opts;
    ax_http_handler handler;
    void *user;
    ax_runtime *rt;
    ax_tcp_listener *listener;
    ax_task *acceptor, *clock;
    ax__http_date date;
    _Atomic uint32_t now_sec; /* seconds since start (from 1), ticked by the clock task */
    _Atomic size_t nconns;
    _Atomic size_t refs; /* the owner's, plus one per open connection */
    atomic_bool draining;
    /* Every open connection, for shutdown; taken per connection, not per
     * request. */
    pthread_mutex_t lock;
    ax__http_conn *conns;
    ax_notify all_closed; /* notified when nconns drops to 0 while draining */
    /* Middleware support: NULL / zero unless configured before serving. */
    ax__http_mstate *metrics;
    ax_http_shed_opts shed;
    bool track_inflight;     /* metrics or shed.max_inflight */
    _Atomic size_t inflight; /* handlers running, when tracked */
    ax__http_services *services;
};

struct ax__http_conn {
    ax_http_server *srv;
    ax_stream *stream;
    _Atomic uint32_t refs;
    _Atomic uint32_t armed;
    uint8_t wake_reason; /* AX__WAKE_*: written by the claimer before the spawn */
    ax_sleep_future idle;
    ax_instant idle_deadline; /* when the armed idle timer is due */
    /* The handler watchdog: the server second its handler started (0: no
     * handler running), and the task running it. The clock task moves an
     * overdue value to AX__HANDLER_ABORTING, aborts the task, then stores
     * AX__HANDLER_ABORTED; the task clears it after the handler returns. */
    _Atomic uint32_t handler_since;
    ax_task *task;
    ax__http_conn *prev, *next; /* srv->conns, under srv->lock */
    ax__http_conn *reap_next;   /* shutdown's list of claimed idle connections */
    ax_addr peer;
    bool has_peer;
    bool shed;  /* accepted past shed.soft_connections: answer 503 and close */
    bool fresh; /* no request served yet: the head deadline runs from the accept */
};

enum { AX__WAKE_READ = 1, AX__WAKE_TIMER = 2 };

#define AX__HANDLER_ABORTING UINT32_MAX
#define AX__HANDLER_ABORTED  (UINT32_MAX - 1)

/* ax__http_conn.armed: who owns the connection's next step. */
enum {
    AX__IDLE_BUSY = 0,       /* a task (or the arming code) owns it */
    AX__IDLE_ARMED = 1,      /* idle: the first claimer owns it */
    AX__IDLE_ARMING = 2,     /* wakers being armed; wakes only set the bits below */
    AX__IDLE_WOKE_READ = 4,  /* ... the read waker fired meanwhile */
    AX__IDLE_WOKE_TIMER = 8, /* ... the timer fired meanwhile */
};

enum { AX__BODY_NONE, AX__BODY_LENGTH, AX__BODY_CHUNKED };

/* Metrics a busy period gathers without atomics; added to the server's
 * counters at each write and when the period ends (metrics.c). */
typedef struct ax__http_mlocal {
    uint32_t n, cls[6], lat_n, buckets[AX_HTTP_LATENCY_BUCKETS + 1];
    uint64_t lat_sum_us, bytes_in, bytes_out;
    ax_instant mark; /* the last clock read: when the next request began */
} ax__http_mlocal;

/* What one busy period of a connection holds, on its task's stack. */
typedef struct ax__http_io {
    ax__http_conn *conn;
    ax_stream *stream;
    ax_http_server *srv;
    ax_buf *rbuf; /* pooled read buffer, NULL while none is needed */
    size_t rcap, rs, re;
    ax_buf *obuf; /* pooled output buffer */
    size_t olen, ocap;
    bool closing;      /* send Connection: close and end after this response */
    bool broken;       /* the stream failed: drop everything */
    bool inflight;     /* counted in srv->inflight for this busy period */
    ax__http_mlocal m; /* with srv->metrics */
} ax__http_io;

struct ax_http_req {
    ax__http_io *io;
    ax_http_request_head head;
    ax_http_header headers[AX__HTTP_MAX_HEADERS];
    size_t head_end;
    int body_mode;
    uint64_t body_left; /* AX__BODY_LENGTH: bytes not yet read */
    ax_http_chunked chunked;
    bool body_done, body_error, continue_sent;
    int body_status;  /* after a body error: the status to answer with */
    ax_buf *body_buf; /* owned copy of the body, released after the handler */
    ax_instant deadline;
    /* Chunked bodies: the bytes after the last payload slice (the last
     * chunk's size line and the trailer block), for ax_http_req_trailer;
     * trailer_over when they did not fit (the trailers are then dropped). */
    size_t trailer_len;
    bool trailer_over;
    char trailers[AX__HTTP_TRAILERS];
    size_t nparams;
    struct {
        ax_http_str name, value;
    } params[AX__HTTP_MAX_PARAMS];
    char id[65];    /* ax_http_request_id_mw; "" when none */
    size_t nlocals; /* ax_http_req_set_local */
    struct {
        const void *key;
        void *value;
    } locals[AX__HTTP_MAX_LOCALS];
};

struct ax_http_res {
    ax__http_io *io;
    ax_http_req *req;
    bool head_sent, streaming, ended, is_head;
    int status;
    uint64_t bytes; /* body bytes sent or queued */
    size_t nhooks;  /* ax_http_res_on_head */
    struct {
        ax_http_head_hook fn;
        void *user;
    } hooks[AX__HTTP_MAX_HOOKS];
    size_t hlen;
    char hdrs[AX__HTTP_RES_HDRS];
    size_t tlen; /* response trailers, sent with the last chunk */
    char trailers[AX__HTTP_TRAILERS / 2];
};

/* Output (response.c): queue bytes, flush. Return 0 or AX_E*. */
int ax__http_out_append(ax__http_io *io, const void *p, size_t n);
int ax__http_out_flush(ax__http_io *io);
/* Writes the out buffer and then data directly (no copy). */
int ax__http_out_flush_with(ax__http_io *io, const void *data, size_t n);
/* Queues a head with Content-Length len (len < 0: none, for 304) and
 * marks the response sent and ended: the caller then writes exactly len
 * body bytes itself (none for HEAD), flushing the queue first
 * (http/static.c sends files this way). Returns 0 or AX_E*. */
int ax__http_res_head_only(ax_http_res *res, int status, const char *ctype, int64_t len);
/* Queues a minimal error response with Connection: close. */
void ax__http_send_error(ax__http_io *io, int status);
/* Ends a response the handler left unfinished (500 for err < 0). */
int ax__http_res_finish(ax_http_res *res, int err);

/* Body (body.c): prepares the framing after the head was parsed; drains
 * what the handler left unread. Returns 0 or AX_E*. */
void ax__http_body_init(ax_http_req *req);
int ax__http_body_drain(ax_http_req *req);
void ax__http_req_release(ax_http_req *req);

/* The clock task's sweep: aborts handlers running past the deadline. */
void ax__http_watchdog(ax_http_server *srv);

/* Drops a reference to the server; the last one frees it. */
void ax__http_server_unref(ax_http_server *srv);

/* Connections (conn.c). peer may be NULL (unknown). */
int ax__http_conn_start(ax_http_server *srv, ax_stream *s, const ax_addr *peer);
/* Shutdown, under srv->lock: claims c if it is idle (taking a reference)
 * and returns true; the caller then ends it with ax__http_conn_reap after
 * dropping the lock. */
bool ax__http_conn_claim_idle(ax__http_conn *c);
void ax__http_conn_reap(ax__http_conn *c);

/* Router (router.c): the lookup without a response, for the handler and
 * the fuzzer. Returns 200 (with *h, *user and req's params set; req may
 * be NULL), 404 or 405. */
int ax__http_router_find(const ax_http_router *r, ax_http_str method, bool head, ax_http_str path,
                         ax_http_req *req, ax_http_handler *h, void **user);
/* The same, also giving the matched route's group middleware. */
int ax__http_router_find_mw(const ax_http_router *r, ax_http_str method, bool head,
                            ax_http_str path, ax_http_req *req, ax_http_handler *h, void **user,
                            const ax_http_mw **mw, size_t *nmw);
/* Adds a route that runs mw[0, nmw) (copied) before h. */
int ax__http_router_add_mw(ax_http_router *r, const char *method, const char *pattern,
                           ax_http_handler h, void *user, const ax_http_mw *mw, size_t nmw);
/* The Allow header's value for path ("GET, HEAD"), NUL-terminated. */
size_t ax__http_router_allow(const ax_http_router *r, ax_http_str path, char *allow, size_t cap);

/* Response interceptors (middleware.c): runs and clears res's head hooks. */
void ax__http_res_run_hooks(ax_http_res *res, int *status);

/* Services (services.c): runs the destructors and frees the registry. */
void ax__http_services_free(ax__http_services *s);

/* Metrics (metrics.c), only with srv->metrics: notes one response of
 * status (timed: from io->m.mark to now, which becomes the next mark), and
 * adds what io gathered to the server's counters. */
void ax__http_metrics_note(ax__http_io *io, int status, bool timed);
void ax__http_metrics_flush(ax__http_io *io);
static inline void ax__http_metrics_add(_Atomic uint64_t *c, uint64_t n) {
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Load shedding (shed.c): answers 503 with Retry-After and closes. */
int ax__http_shed_answer(ax_http_res *res);

#pragma GCC visibility pop

#endif
