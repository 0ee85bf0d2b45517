/* executor/metrics.c - summing the per-worker counters, and writing them
 * as JSON or Prometheus text. */
#include "executor/internal.h"
#include "executor/blocking.h"

#include <stdarg.h>
#include <stdio.h>

static uint64_t ax__load(const _Atomic uint64_t *c) {
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void ax__sum(ax__counters *dst, const ax__counters *src) {
#define AX__ADD(f) AX__COUNT_N(dst, f, ax__load(&src->f))
    AX__ADD(spawned);
    AX__ADD(completed);
    AX__ADD(failed);
    AX__ADD(cancelled);
    AX__ADD(polls);
    AX__ADD(steals);
    AX__ADD(stolen);
    AX__ADD(parks);
    AX__ADD(unparks);
    AX__ADD(wakes_local);
    AX__ADD(wakes_remote);
    AX__ADD(reactor_polls);
    AX__ADD(reactor_events);
    AX__ADD(timers_armed);
    AX__ADD(timers_fired);
#undef AX__ADD
}

void ax_runtime_metrics_get(ax_runtime *rt, ax_runtime_metrics *m) {
    ax__counters c = {0};
    uint64_t buf_hits = 0, buf_misses = 0;
    ax__sum(&c, &rt->foreign_stats);
    for (unsigned i = 0; i < rt->nworkers; i++) {
        ax__sum(&c, &rt->workers[i].stats);
        buf_hits += ax__load(&rt->workers[i].bufs.hits);
        buf_misses += ax__load(&rt->workers[i].bufs.misses);
    }
    *m = (ax_runtime_metrics){
        .workers = rt->nworkers,
        .tasks_spawned = ax__load(&c.spawned),
        .tasks_completed = ax__load(&c.completed),
        .tasks_failed = ax__load(&c.failed),
        .tasks_cancelled = ax__load(&c.cancelled),
        .polls = ax__load(&c.polls),
        .steals = ax__load(&c.steals),
        .stolen_tasks = ax__load(&c.stolen),
        .parks = ax__load(&c.parks),
        .unparks = ax__load(&c.unparks),
        .wakes_local = ax__load(&c.wakes_local),
        .wakes_remote = ax__load(&c.wakes_remote),
        .reactor_polls = ax__load(&c.reactor_polls),
        .reactor_events = ax__load(&c.reactor_events),
        .timers_armed = ax__load(&c.timers_armed),
        .timers_fired = ax__load(&c.timers_fired),
        .global_queue_depth = atomic_load_explicit(&rt->inject_len, memory_order_relaxed),
        .buf_pool_hits = buf_hits,
        .buf_pool_misses = buf_misses,
        .stacks_mapped = atomic_load_explicit(&rt->mapped_stacks, memory_order_relaxed),
    };
    uint64_t ended = m->tasks_completed + m->tasks_failed + m->tasks_cancelled;
    m->tasks_alive = m->tasks_spawned > ended ? m->tasks_spawned - ended : 0;
    ax__blocking_metrics(rt, m);
}

/* One table drives both formats, so they cannot disagree. */
typedef struct ax__metric_desc {
    const char *name;
    const char *help;
    size_t offset;
    int counter; /* 1: counter (Prometheus _total), 0: gauge */
} ax__metric_desc;

#define AX__M(f, c, h)                                                                             \
    { #f, h, offsetof(ax_runtime_metrics, f), c }
static const ax__metric_desc ax__metric_table[] = {
    AX__M(tasks_spawned, 1, "Tasks spawned."),
    AX__M(tasks_completed, 1, "Tasks that ended COMPLETED."),
    AX__M(tasks_failed, 1, "Tasks that ended FAILED."),
    AX__M(tasks_cancelled, 1, "Tasks that ended CANCELLED."),
    AX__M(tasks_alive, 0, "Tasks spawned and not yet ended."),
    AX__M(polls, 1, "Times a task was switched to."),
    AX__M(steals, 1, "Successful steal operations."),
    AX__M(stolen_tasks, 1, "Tasks moved by steals."),
    AX__M(parks, 1, "Times a worker went to sleep."),
    AX__M(unparks, 1, "Times a sleeping worker was woken."),
    AX__M(wakes_local, 1, "Wakes from a worker of the runtime."),
    AX__M(wakes_remote, 1, "Wakes from other threads."),
    AX__M(reactor_polls, 1, "Reactor waits."),
    AX__M(reactor_events, 1, "Handle events dispatched."),
    AX__M(timers_armed, 1, "Timers armed."),
    AX__M(timers_fired, 1, "Timers fired."),
    AX__M(global_queue_depth, 0, "Tasks in the global queue."),
    AX__M(blocking_threads, 0, "Threads in the blocking pool."),
    AX__M(blocking_queue_depth, 0, "Jobs waiting for a blocking thread."),
    AX__M(blocking_jobs, 1, "Blocking jobs run."),
    AX__M(buf_pool_hits, 1, "Pooled buffers reused from a worker's pool."),
    AX__M(buf_pool_misses, 1, "Pooled buffers that had to be allocated."),
    AX__M(stacks_mapped, 0, "Task stacks mapped now, in use or cached."),
};
#undef AX__M
#define AX__NMETRICS (sizeof(ax__metric_table) / sizeof(ax__metric_table[0]))

/* snprintf into buf at *len, tracking the length the whole text needs. */
static void ax__emit(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) *len += (size_t)n;
}

static uint64_t ax__field(const ax_runtime_metrics *m, size_t offset) {
    return *(const uint64_t *)(const void *)((const char *)m + offset);
}

size_t ax_runtime_metrics_json(ax_runtime *rt, char *buf, size_t cap) {
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    size_t len = 0;
    if (cap) buf[0] = 0;
    ax__emit(buf, cap, &len, "{\"workers\":%u", m.workers);
    for (size_t i = 0; i < AX__NMETRICS; i++)
        ax__emit(buf, cap, &len, ",\"%s\":%llu", ax__metric_table[i].name,
                 (unsigned long long)ax__field(&m, ax__metric_table[i].offset));
    ax__emit(buf, cap, &len, "}");
    return len;
}

size_t ax_runtime_metrics_prometheus(ax_runtime *rt, char *buf, size_t cap) {
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    size_t len = 0;
    if (cap) buf[0] = 0;
    ax__emit(buf, cap, &len,
             "# HELP axon_workers Worker threads.\n# TYPE axon_workers gauge\naxon_workers %u\n",
             m.workers);
    for (size_t i = 0; i < AX__NMETRICS; i++) {
        const ax__metric_desc *d = &ax__metric_table[i];
        const char *suffix = d->counter ? "_total" : "";
        ax__emit(buf, cap, &len, "# HELP axon_%s%s %s\n# TYPE axon_%s%s %s\naxon_%s%s %llu\n",
                 d->name, suffix, d->help, d->name, suffix, d->counter ? "counter" : "gauge",
                 d->name, suffix, (unsigned long long)ax__field(&m, d->offset));
    }
    return len;
}
