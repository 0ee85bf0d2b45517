/* executor/embed.c - current-thread runtimes, driven by their host: the
 * runtime descriptor, the host's wait bound and one round of work. The one
 * worker struct of such a runtime runs on whichever thread drives it; the
 * thread-local current worker points at it only during the round. */
#include "executor/internal.h"

/* A thread that drives a runtime gets the overflow reporter's alternate
 * stack once. */
static __thread bool ax__host_ready;

#define AX__ROUND_TICKS 256

int ax_runtime_fd(const ax_runtime *rt) {
    return ax__reactor_fd(rt->reactor);
}

int ax_runtime_timeout_ms(ax_runtime *rt) {
    ax__worker *w = &rt->workers[0];
    if (ax__worker_has_work(w)) return 0;
    return ax__timers_timeout_ms(w);
}

/* One round: ready tasks (a bounded batch), timers, I/O; waits first for up
 * to timeout_ms when nothing was ready. */
int ax__drive_once(ax_runtime *rt, int timeout_ms) {
    if (atomic_exchange_explicit(&rt->driving, true, memory_order_acquire)) return AX_EBUSY;
    ax__worker *w = &rt->workers[0];
    ax__worker *outer = ax__worker_current();
    ax__worker_set_current(w);
    ax__fiber_init_thread(&w->sched);
    if (!ax__host_ready) ax__host_ready = ax__overflow_thread_init() == 0;
    uint64_t polls = atomic_load_explicit(&w->stats.polls, memory_order_relaxed);
    int ticks = 0;
    while (ticks < AX__ROUND_TICKS && ax__worker_tick(w)) ticks++;
    if (ticks == 0 && timeout_ms != 0) {
        int t = ax__timers_timeout_ms(w);
        if (timeout_ms > 0 && (t < 0 || timeout_ms < t)) t = timeout_ms;
        atomic_store_explicit(&rt->in_reactor_wait, true, memory_order_seq_cst);
        if (atomic_load_explicit(&rt->inject_len, memory_order_seq_cst)) t = 0;
        ax__reactor_poll(rt->reactor, t);
        atomic_store_explicit(&rt->in_reactor_wait, false, memory_order_relaxed);
    } else {
        ax__reactor_poll(rt->reactor, 0);
    }
    while (ticks < AX__ROUND_TICKS && ax__worker_tick(w)) ticks++;
    ax__finish_prev(w);
    ax__worker_set_current(outer);
    atomic_store_explicit(&rt->driving, false, memory_order_release);
    return (int)(atomic_load_explicit(&w->stats.polls, memory_order_relaxed) - polls);
}

int ax_run_once(ax_runtime *rt, int timeout_ms) {
    if (!rt->current_thread) return AX_EINVAL;
    if (ax__task_current()) return AX_EBUSY;
    return ax__drive_once(rt, timeout_ms);
}
