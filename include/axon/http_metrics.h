/* axon/http_metrics.h - a server's metrics (as JSON and Prometheus text)
 * and its load shedding.
 *
 * Metrics are off until ax_http_server_enable_metrics: a server without
 * them does no per-request accounting. With them, each request costs a
 * clock read and a few relaxed atomic adds; reading is a snapshot, not a
 * consistent cut.
 *
 * Load shedding, besides max_connections and write_buffer_limit
 * (axon/http.h):
 *   - the work queue is the server's handlers in flight (requests parsed
 *     and handed to a handler, not yet answered). Past max_inflight, a new
 *     request is answered 503 with Retry-After without running its
 *     handler, and its connection is closed.
 *   - the accept queue is the open connections. Past soft_connections, a
 *     newly accepted connection is answered 503 with Retry-After on its
 *     first request and closed (past max_connections it is closed at once,
 *     unanswered).
 */
#ifndef AXON_HTTP_METRICS_H
#define AXON_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Upper bounds of the latency histogram's buckets, in microseconds; a
 * last bucket (+Inf) takes the rest. */
#define AX_HTTP_LATENCY_BUCKETS 14
extern const uint32_t ax_http_latency_bounds_us[AX_HTTP_LATENCY_BUCKETS];

typedef struct ax_http_metrics {
    uint64_t requests;        /* responses started, all statuses */
    uint64_t status_class[6]; /* [1] 1xx .. [5] 5xx; [0] other */
    uint64_t latency_count;   /* requests timed (head parsed -> handler done) */
    uint64_t latency_sum_us;
    uint64_t latency_buckets[AX_HTTP_LATENCY_BUCKETS + 1]; /* per bucket, not cumulative */
    uint64_t connections_open;                             /* now */
    uint64_t connections_total;                            /* accepted and served */
    uint64_t connections_refused;                          /* closed at once past max_connections */
    uint64_t handlers_inflight;                            /* now */
    uint64_t shed_requests;                                /* answered 503 by load shedding */
    uint64_t bytes_in, bytes_out;
} ax_http_metrics;

/* Turns metrics on. Call before the server serves (listen or
 * serve_stream). Returns 0, AX_EBUSY once serving, AX_ENOMEM. */
int ax_http_server_enable_metrics(ax_http_server *srv);

/* A snapshot of srv's metrics (all zero when off, but connections_open
 * and handlers_inflight). Thread-safe. */
void ax_http_server_metrics(const ax_http_server *srv, ax_http_metrics *out);

/* The server's metrics and then its runtime's (axon/metrics.h) as one
 * JSON object {"http":{...},"runtime":{...}}, or as Prometheus text
 * (axon_http_* then axon_*), into buf (NUL-terminated when cap > 0).
 * Return the length the full text needs, like snprintf. Thread-safe. */
size_t ax_http_server_metrics_json(const ax_http_server *srv, char *buf, size_t cap);
size_t ax_http_server_metrics_prometheus(const ax_http_server *srv, char *buf, size_t cap);

/* Handlers serving the two texts (user: the ax_http_server *): add them
 * to a router as GET /metrics and /metrics.json. The text is built in a
 * buffer allocated per call (not a hot path). */
int ax_http_metrics_handler(ax_http_req *req, ax_http_res *res, void *srv);
int ax_http_metrics_json_handler(ax_http_req *req, ax_http_res *res, void *srv);

typedef struct ax_http_shed_opts {
    size_t max_inflight;     /* handlers in flight before 503 (0: no limit) */
    size_t soft_connections; /* open connections before 503 (0: no limit) */
    unsigned retry_after_s;  /* the Retry-After value (0: 1) */
} ax_http_shed_opts;

/* Sets the load-shedding thresholds. Call before the server serves.
 * Returns 0, AX_EINVAL (NULL) or AX_EBUSY once serving. */
int ax_http_server_set_shed(ax_http_server *srv, const ax_http_shed_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
