/* axon/metrics.h - a runtime's counters, as a struct, JSON or Prometheus.
 *
 * Counters are kept per worker without atomic read-modify-writes and summed
 * on read, so reading is a snapshot, not a consistent cut: two counters may
 * be a few events apart. All counters only grow, except the gauges marked
 * "now".
 */
#ifndef AXON_METRICS_H
#define AXON_METRICS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_runtime ax_runtime;

typedef struct ax_runtime_metrics {
    uint32_t workers;
    uint64_t tasks_spawned;
    uint64_t tasks_completed; /* ended COMPLETED */
    uint64_t tasks_failed;    /* ended FAILED */
    uint64_t tasks_cancelled; /* ended CANCELLED */
    uint64_t tasks_alive;     /* now: spawned and not yet ended */
    uint64_t polls;           /* times a task was switched to */
    uint64_t steals;          /* successful steal operations */
    uint64_t stolen_tasks;    /* tasks moved by them */
    uint64_t parks;           /* a worker went to sleep */
    uint64_t unparks;         /* a sleeping worker was woken */
    uint64_t wakes_local;     /* wakes from a worker of this runtime */
    uint64_t wakes_remote;    /* wakes from any other thread */
    uint64_t reactor_polls;   /* epoll_wait (or equivalent) calls */
    uint64_t reactor_events;  /* handle events dispatched */
    uint64_t timers_armed;
    uint64_t timers_fired;
    uint64_t global_queue_depth;   /* now */
    uint64_t blocking_threads;     /* now: threads in the blocking pool */
    uint64_t blocking_queue_depth; /* now: jobs waiting for a thread (file jobs: or the fs bound) */
    uint64_t blocking_jobs;        /* jobs run */
    uint64_t buf_pool_hits;        /* ax_buf_pool_get served from a worker's pool */
    uint64_t buf_pool_misses;      /* ... that had to malloc (off-worker calls not counted) */
    uint64_t stacks_mapped;        /* now: task stacks mapped, in use or cached */
} ax_runtime_metrics;

/* Fills *out with a snapshot of rt's counters. Thread-safe. */
void ax_runtime_metrics_get(ax_runtime *rt, ax_runtime_metrics *out);

/* Writes the snapshot as one JSON object ({"workers":2,"tasks_spawned":..})
 * into buf (NUL-terminated when cap > 0). Returns the length the full text
 * needs (excluding the NUL), like snprintf: compare with cap to detect
 * truncation. Thread-safe. */
size_t ax_runtime_metrics_json(ax_runtime *rt, char *buf, size_t cap);

/* Same, in the Prometheus text exposition format, every name prefixed
 * `axon_` (counters end in `_total`). */
size_t ax_runtime_metrics_prometheus(ax_runtime *rt, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
