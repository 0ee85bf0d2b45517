/* http/metrics.c - a server's counters (requests by status class, latency
 * histogram, connections, bytes, shedding) and their JSON and Prometheus
 * texts, followed by the runtime's own (axon/metrics.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

const uint32_t ax_http_latency_bounds_us[AX_HTTP_LATENCY_BUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 5000000};

int ax_http_server_enable_metrics(ax_http_server *srv) {
    if (srv->rt) return AX_EBUSY;
    if (srv->metrics) return 0;
    ax__http_mstate *m = calloc(1, sizeof *m);
    if (!m) return AX_ENOMEM;
    srv->metrics = m;
    srv->track_inflight = true;
    return 0;
}

void ax__http_metrics_note(ax__http_io *io, int status, bool timed) {
    ax__http_mlocal *m = &io->m;
    m->n++;
    m->cls[status >= 100 && status < 600 ? status / 100 : 0]++;
    if (!timed || !m->mark) return;
    ax_instant now = ax_now();
    uint64_t us = (uint64_t)(now - m->mark) / 1000;
    m->mark = now;
    size_t b = 0;
    while (b < AX_HTTP_LATENCY_BUCKETS && us > ax_http_latency_bounds_us[b]) b++;
    m->buckets[b]++;
    m->lat_n++;
    m->lat_sum_us += us;
}

void ax__http_metrics_flush(ax__http_io *io) {
    ax__http_mlocal *m = &io->m;
    ax__http_mstate *g = io->srv->metrics;
    if (m->n) {
        ax__http_metrics_add(&g->requests, m->n);
        for (int i = 0; i < 6; i++)
            if (m->cls[i]) ax__http_metrics_add(&g->status_class[i], m->cls[i]);
        m->n = 0;
        memset(m->cls, 0, sizeof m->cls);
    }
    if (m->lat_n) {
        ax__http_metrics_add(&g->lat_count, m->lat_n);
        ax__http_metrics_add(&g->lat_sum_us, m->lat_sum_us);
        for (int i = 0; i <= AX_HTTP_LATENCY_BUCKETS; i++)
            if (m->buckets[i]) ax__http_metrics_add(&g->lat_buckets[i], m->buckets[i]);
        m->lat_n = 0;
        m->lat_sum_us = 0;
        memset(m->buckets, 0, sizeof m->buckets);
    }
    if (m->bytes_in) ax__http_metrics_add(&g->bytes_in, m->bytes_in);
    if (m->bytes_out) ax__http_metrics_add(&g->bytes_out, m->bytes_out);
    m->bytes_in = m->bytes_out = 0;
}

static uint64_t ax__ld(const _Atomic uint64_t *c) {
    return atomic_load_explicit((_Atomic uint64_t *)c, memory_order_relaxed);
}

void ax_http_server_metrics(const ax_http_server *srv, ax_http_metrics *out) {
    memset(out, 0, sizeof *out);
    ax_http_server *s = (ax_http_server *)srv;
    out->connections_open = atomic_load(&s->nconns);
    out->handlers_inflight = atomic_load_explicit(&s->inflight, memory_order_relaxed);
    const ax__http_mstate *m = srv->metrics;
    if (!m) return;
    out->requests = ax__ld(&m->requests);
    for (int i = 0; i < 6; i++) out->status_class[i] = ax__ld(&m->status_class[i]);
    out->latency_count = ax__ld(&m->lat_count);
    out->latency_sum_us = ax__ld(&m->lat_sum_us);
    for (int i = 0; i <= AX_HTTP_LATENCY_BUCKETS; i++)
        out->latency_buckets[i] = ax__ld(&m->lat_buckets[i]);
    out->connections_total = ax__ld(&m->conns_total);
    out->connections_refused = ax__ld(&m->conns_refused);
    out->shed_requests = ax__ld(&m->shed);
    out->bytes_in = ax__ld(&m->bytes_in);
    out->bytes_out = ax__ld(&m->bytes_out);
}

/* snprintf that keeps counting past the end of buf. */
typedef struct ax__out {
    char *buf;
    size_t cap, len;
} ax__out;

static void ax__printf(ax__out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ax__printf(ax__out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

/* Appends the runtime's text via fn (which NUL-terminates like snprintf). */
static void ax__append_rt(ax__out *o, ax_runtime *rt, size_t (*fn)(ax_runtime *, char *, size_t)) {
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    o->len += fn(rt, room ? o->buf + o->len : NULL, room);
}

static const char *const ax__cls[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

size_t ax_http_server_metrics_json(const ax_http_server *srv, char *buf, size_t cap) {
    ax_http_metrics m;
    ax_http_server_metrics(srv, &m);
    ax__out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    ax__printf(&o, "{\"http\":{\"requests\":%llu,\"status\":{", (unsigned long long)m.requests);
    for (int i = 1; i <= 6; i++)
        ax__printf(&o, "%s\"%s\":%llu", i > 1 ? "," : "", ax__cls[i % 6],
                   (unsigned long long)m.status_class[i % 6]);
    ax__printf(&o, "},\"latency_us\":{\"count\":%llu,\"sum\":%llu,\"buckets\":[",
               (unsigned long long)m.latency_count, (unsigned long long)m.latency_sum_us);
    for (int i = 0; i <= AX_HTTP_LATENCY_BUCKETS; i++) {
        if (i < AX_HTTP_LATENCY_BUCKETS)
            ax__printf(&o, "%s{\"le\":%u,\"n\":%llu}", i ? "," : "", ax_http_latency_bounds_us[i],
                       (unsigned long long)m.latency_buckets[i]);
        else
            ax__printf(&o, ",{\"le\":null,\"n\":%llu}", (unsigned long long)m.latency_buckets[i]);
    }
    ax__printf(&o,
               "]},\"connections_open\":%llu,\"connections_total\":%llu,"
               "\"connections_refused\":%llu,\"handlers_inflight\":%llu,\"shed_requests\":%llu,"
               "\"bytes_in\":%llu,\"bytes_out\":%llu},\"runtime\":",
               (unsigned long long)m.connections_open, (unsigned long long)m.connections_total,
               (unsigned long long)m.connections_refused, (unsigned long long)m.handlers_inflight,
               (unsigned long long)m.shed_requests, (unsigned long long)m.bytes_in,
               (unsigned long long)m.bytes_out);
    if (srv->rt)
        ax__append_rt(&o, srv->rt, ax_runtime_metrics_json);
    else
        ax__printf(&o, "null");
    ax__printf(&o, "}");
    return o.len;
}

size_t ax_http_server_metrics_prometheus(const ax_http_server *srv, char *buf, size_t cap) {
    ax_http_metrics m;
    ax_http_server_metrics(srv, &m);
    ax__out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    ax__printf(&o, "# HELP axon_http_requests_total Responses by status class.\n"
                   "# TYPE axon_http_requests_total counter\n");
    for (int i = 1; i <= 6; i++)
        ax__printf(&o, "axon_http_requests_total{class=\"%s\"} %llu\n", ax__cls[i % 6],
                   (unsigned long long)m.status_class[i % 6]);
    ax__printf(&o, "# HELP axon_http_request_duration_seconds From the parsed head to the "
                   "handler's return.\n# TYPE axon_http_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < AX_HTTP_LATENCY_BUCKETS; i++) {
        cum += m.latency_buckets[i];
        ax__printf(&o, "axon_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                   ax_http_latency_bounds_us[i] / 1e6, (unsigned long long)cum);
    }
    cum += m.latency_buckets[AX_HTTP_LATENCY_BUCKETS];
    ax__printf(&o,
               "axon_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
               "axon_http_request_duration_seconds_sum %.6f\n"
               "axon_http_request_duration_seconds_count %llu\n",
               (unsigned long long)cum, m.latency_sum_us / 1e6,
               (unsigned long long)m.latency_count);
    struct {
        const char *name, *type, *help;
        uint64_t v;
    } rows[] = {
        {"axon_http_connections_open", "gauge", "Open connections.", m.connections_open},
        {"axon_http_connections_total", "counter", "Connections served.", m.connections_total},
        {"axon_http_connections_refused_total", "counter",
         "Connections closed past "
         "max_connections.",
         m.connections_refused},
        {"axon_http_handlers_inflight", "gauge", "Handlers running.", m.handlers_inflight},
        {"axon_http_shed_requests_total", "counter", "Requests answered 503 by load shedding.",
         m.shed_requests},
        {"axon_http_received_bytes_total", "counter", "Bytes read.", m.bytes_in},
        {"axon_http_sent_bytes_total", "counter", "Bytes written.", m.bytes_out},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        ax__printf(&o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", rows[i].name, rows[i].help,
                   rows[i].name, rows[i].type, rows[i].name, (unsigned long long)rows[i].v);
    if (srv->rt) ax__append_rt(&o, srv->rt, ax_runtime_metrics_prometheus);
    return o.len;
}

static int ax__serve_text(ax_http_res *res, const ax_http_server *srv, bool json) {
    size_t cap = 8192;
    for (int tries = 0; tries < 4; tries++) {
        char *buf = malloc(cap);
        if (!buf) return AX_ENOMEM;
        size_t n = json ? ax_http_server_metrics_json(srv, buf, cap)
                        : ax_http_server_metrics_prometheus(srv, buf, cap);
        if (n < cap) {
            int err = json ? ax_http_res_json(res, 200, buf, n)
                           : ax_http_res_send(res, 200, "text/plain; version=0.0.4", buf, n);
            free(buf);
            return err;
        }
        free(buf);
        cap = n + 1;
    }
    return AX_ENOSPC;
}

int ax_http_metrics_handler(ax_http_req *req, ax_http_res *res, void *srv) {
    return ax__serve_text(res, srv, false);
}

int ax_http_metrics_json_handler(ax_http_req *req, ax_http_res *res, void *srv) {
    return ax__serve_text(res, srv, true);
}
