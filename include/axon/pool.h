/* axon/pool.h - a client connection pool keyed by (host, port, secure).
 *
 * The pool keeps open streams (axon/stream.h) to many peers and lends
 * them out, the way Go's http.Transport, hyper's pool and deadpool do:
 *
 *   - a key is (host, port, secure); host is compared as text;
 *   - limits: max_per_key open connections per key and max_total in all
 *     (open = idle + lent out + being connected);
 *   - a get takes the most recently used idle connection of its key, else
 *     connects when both limits allow it, else waits in a FIFO queue until
 *     a connection of its key comes back, a slot frees up, or the deadline
 *     passes (AX_ETIMEDOUT) or the task is cancelled (AX_ECANCELED); the
 *     queue may be bounded (max_waiters: beyond it AX_EBUSY at once);
 *   - when the total limit is reached and another key holds idle
 *     connections, the least recently used of them is closed to make room;
 *   - connections idle longer than idle_timeout_ms or older than
 *     max_lifetime_ms are closed: lazily on every get and put, and by
 *     ax_pool_reap (there is no background task; call it from an
 *     ax_interval loop if idle sockets must not linger);
 *   - a connection taken from the idle list is health-checked first: for a
 *     socket stream a nonblocking MSG_PEEK recv that finds end of stream,
 *     unexpected bytes or an error means the peer went away; a user health
 *     callback can check other streams (TLS) or add protocol checks.
 *     A broken one is closed and the get goes on with the next idle one or
 *     a fresh connection;
 *   - the pool makes its connections with a connector callback, so TLS
 *     plugs in without the pool knowing it; the built-in one makes plain
 *     TCP connections.
 *
 * Waiting is fair and never barges: what is freed goes to the waiters
 * first (a returned connection to the oldest waiter of its key, a freed
 * slot to the oldest waiter that may use it), and a newcomer only takes
 * what no waiter can use.
 *
 * Example (a task):
 *
 *     ax_pool_opts o;
 *     ax_pool_opts_init(&o);
 *     o.max_per_key = 4;
 *     o.idle_timeout_ms = 30000;
 *     ax_pool *pool;
 *     if (ax_pool_new(&o, &pool)) return;
 *     ...
 *     ax_pool_lease *lease;
 *     int err = ax_pool_get(pool, "127.0.0.1", 8080, false, ax_deadline_in_ms(2000), &lease);
 *     if (err) return err;                      // AX_ETIMEDOUT, AX_EBUSY, ...
 *     ax_stream *s = ax_pool_lease_stream(lease);
 *     err = ax_stream_write_all(s, req, req_len, deadline);
 *     if (!err) err = read_response(s);          // the caller's protocol
 *     // A stream that failed, or whose protocol state is unknown, must
 *     // not be reused: pass false and the pool closes it.
 *     ax_pool_put(pool, lease, err == 0);
 *     ...
 *     ax_pool_free(pool);
 *
 * Ownership: the pool owns every connection; a lease lends one to the
 * caller until ax_pool_put, which must be called exactly once per lease
 * (the stream must not be closed by the caller, and no task may be inside
 * an operation on it when it is put back).
 *
 * Thread-safety: every function is thread-safe; the pool may be shared by
 * tasks on every worker (of one runtime: the connections are registered
 * with the reactor of the runtime they were made on). Internally a
 * spinlock guards the lists for a few instructions; it is never held
 * across a connect, a health check, a close or a wait.
 */
#ifndef AXON_POOL_H
#define AXON_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "future.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_pool ax_pool;
typedef struct ax_pool_lease ax_pool_lease;

/* Makes a connection for the pool. On success returns 0 and stores a
 * stream the pool will own in *out (it closes it with ax_stream_close).
 * Returns AX_E* on failure (passed on to the caller of ax_pool_get).
 * Called from the task that called ax_pool_get, with no lock held; it may
 * suspend and should honour deadline and cancellation. host is valid for
 * the duration of the call only. */
typedef int (*ax_pool_connect_fn)(void *ctx, const char *host, uint16_t port, bool secure,
                                  ax_instant deadline, ax_stream **out);

/* Checks an idle connection before it is lent out: returns true when it
 * may be used. Must not suspend (it runs inside ax_pool_get, but should be
 * a quick nonblocking look, like the built-in socket check). */
typedef bool (*ax_pool_health_fn)(void *ctx, ax_stream *s);

typedef struct ax_pool_opts {
    /* Open connections per key; 0: no limit. Default 0. */
    size_t max_per_key;
    /* Open connections in all; 0: no limit. Default 0. */
    size_t max_total;
    /* Idle connections kept per key (more are closed when put back);
     * 0: no limit beyond max_per_key. Default 0. */
    size_t max_idle_per_key;
    /* Tasks that may wait in ax_pool_get; beyond it get fails with
     * AX_EBUSY. 0: no limit. Default 0. */
    size_t max_waiters;
    /* Close connections idle this long; 0: never. Default 90000 (Go's). */
    uint64_t idle_timeout_ms;
    /* Close connections this old (when idle or put back); 0: never.
     * Default 0. */
    uint64_t max_lifetime_ms;
    /* Health-check idle connections when they are taken. Default true.
     * The built-in check applies to socket streams (TCP, Unix); `health`
     * runs after it for every stream. */
    bool health_check;
    ax_pool_health_fn health; /* NULL: the built-in check only */
    void *health_ctx;
    /* NULL: the built-in TCP connector, ax_tcp_connect_host (so names are
     * resolved and tried Happy Eyeballs style); secure: AX_ENOTSUP until
     * TLS provides a connector. */
    ax_pool_connect_fn connect;
    void *connect_ctx;
} ax_pool_opts;

/* Fills o with the defaults above. */
void ax_pool_opts_init(ax_pool_opts *o);

/* Creates a pool (opts NULL: defaults; copied). Returns 0 with *out owned
 * by the caller (ax_pool_free), or AX_ENOMEM / AX_EINVAL. Any thread. */
int ax_pool_new(const ax_pool_opts *opts, ax_pool **out);

/* Closes the idle connections and releases the pool. Waiting gets return
 * AX_ECLOSED, gets still connecting close what they made and return
 * AX_ECLOSED, and leases still out stay valid: each is closed when put
 * back, and the pool's memory goes with the last of them. No new get may
 * start once free is called. Does not suspend. Any thread. */
void ax_pool_free(ax_pool *pool);

/* Lends a connection to (host, port, secure): see the header comment for
 * the order of choices. Returns 0 with *out set, or AX_ETIMEDOUT (deadline
 * passed while waiting or connecting; AX_NO_DEADLINE: none), AX_ECANCELED,
 * AX_EBUSY (max_waiters reached), AX_ECLOSED (the pool is being freed),
 * AX_EINVAL, AX_ENOMEM, or the connector's error (AX_ECONNREFUSED, ...).
 * host is copied. Task only (waiting and connecting suspend). */
int ax_pool_get(ax_pool *pool, const char *host, uint16_t port, bool secure, ax_instant deadline,
                ax_pool_lease **out);

/* Gives a lease back. reusable: the stream is at a clean protocol
 * boundary and may serve the next get; false: it is broken (or its state
 * unknown) and is closed, freeing its slot for a waiter. The lease is
 * invalid afterwards. Does not suspend. Any thread. */
void ax_pool_put(ax_pool *pool, ax_pool_lease *lease, bool reusable);

/* Closes idle connections past their idle timeout or lifetime now, and
 * returns how many it closed. Any thread. */
size_t ax_pool_reap(ax_pool *pool);

/* What a lease lends, valid until it is put back. */
ax_stream *ax_pool_lease_stream(const ax_pool_lease *lease);
const char *ax_pool_lease_host(const ax_pool_lease *lease);
uint16_t ax_pool_lease_port(const ax_pool_lease *lease);
bool ax_pool_lease_secure(const ax_pool_lease *lease);
/* When the connection was made (ax_now() clock). */
ax_instant ax_pool_lease_created(const ax_pool_lease *lease);
/* True when the connection served an earlier lease: a request that fails
 * on a reused connection at once may be retried on a fresh one, as HTTP
 * clients do for idempotent requests. */
bool ax_pool_lease_reused(const ax_pool_lease *lease);

/* A snapshot of the pool's counters. "now" marks gauges; the rest only
 * grow. closed = closed_expired + closed_idle + closed_broken +
 * closed_evicted + connections closed because the pool was freed. */
typedef struct ax_pool_stats {
    uint64_t open;           /* now: idle + in_use + connecting */
    uint64_t idle;           /* now */
    uint64_t in_use;         /* now: lent out */
    uint64_t connecting;     /* now */
    uint64_t waiters;        /* now: gets waiting in the queue */
    uint64_t keys;           /* now: keys with connections or waiters */
    uint64_t created;        /* connections made */
    uint64_t connect_errors; /* connector failures */
    uint64_t reused;         /* gets served by an idle connection */
    uint64_t waited;         /* gets that had to wait */
    uint64_t wait_timeouts;  /* waits that ended with AX_ETIMEDOUT */
    uint64_t wait_cancelled; /* waits that ended with AX_ECANCELED */
    uint64_t rejected;       /* gets refused with AX_EBUSY (max_waiters) */
    uint64_t closed;         /* connections closed, for any reason */
    uint64_t closed_expired; /* past max_lifetime_ms */
    uint64_t closed_idle;    /* past idle_timeout_ms */
    uint64_t closed_broken;  /* put back not reusable, or failed a health check */
    uint64_t health_failed;  /* of closed_broken: failed the health check */
    uint64_t closed_evicted; /* idle, closed to make room (max_total, max_idle_per_key) */
} ax_pool_stats;

/* Fills *st. Any thread. */
void ax_pool_stats_get(ax_pool *pool, ax_pool_stats *st);

/* Writes the snapshot as one JSON object ({"open":2,"idle":1,...}) into
 * buf (NUL-terminated when cap > 0). Returns the length the full text
 * needs (excluding the NUL), like snprintf. Any thread. */
size_t ax_pool_stats_json(ax_pool *pool, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
