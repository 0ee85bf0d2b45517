/* executor/runtime.c - creating, running and stopping a runtime. */
#include "executor/internal.h"
#include "executor/blocking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <unistd.h>
#endif

#define AX__DEFAULT_STACK       (256u * 1024u)
#define AX__DEFAULT_STACK_CACHE 64u
#define AX__MAX_WORKERS         1024u
/* Mappings left for everything that is not a task stack (heap, libraries,
 * thread stacks, file mappings). */
#define AX__MAP_RESERVE 4096u

void ax_runtime_opts_init(ax_runtime_opts *o) {
    memset(o, 0, sizeof(*o));
}

#ifdef _WIN32
static long ax__cpu_count(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (long)si.dwNumberOfProcessors;
}

static long ax__page_size(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (long)si.dwPageSize;
}

static void ax__sleep_1ms(void) {
    Sleep(1);
}
#else
static long ax__cpu_count(void) {
    return sysconf(_SC_NPROCESSORS_ONLN);
}

static long ax__page_size(void) {
    return sysconf(_SC_PAGESIZE);
}

static void ax__sleep_1ms(void) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}
#endif

static int ax__workers_from_env(unsigned *out) {
    const char *s = getenv("AXON_WORKERS");
    if (!s || !*s) {
        long n = ax__cpu_count();
        *out = n > 0 ? (unsigned)n : 1u;
        return 0;
    }
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (*end || n == 0 || n > AX__MAX_WORKERS) return AX_EINVAL;
    *out = (unsigned)n;
    return 0;
}

/* Each guarded stack is two kernel mappings (the guard page and the stack);
 * vm.max_map_count caps them per process. */
static size_t ax__max_live_stacks(void) {
#ifdef _WIN32
    /* Windows itself has no mapping count, but each stack is three regions
     * (reserved page, guard pages, usable part, see stack_win.c), and wine
     * backs each with a host mapping that vm.max_map_count (65,530 by
     * default) bounds; a fourth is left for the process's own use. */
    return (65530 - AX__MAP_RESERVE) / 4;
#else
    size_t max_maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
    if (f) {
        unsigned long v;
        if (fscanf(f, "%lu", &v) == 1) max_maps = v;
        fclose(f);
    }
    return max_maps > AX__MAP_RESERVE * 2 ? (max_maps - AX__MAP_RESERVE) / 2 : max_maps / 4;
#endif
}

static void *ax__worker_thread(void *arg) {
    ax__worker *w = arg;
    int err = ax__overflow_thread_init();
    if (err)
        fprintf(stderr, "axon: worker %u runs without a stack-overflow reporter (%s)\n", w->index,
                ax_strerror(err));
    ax__worker_main(w);
    if (!err) ax__overflow_thread_exit();
    return NULL;
}

static void ax__runtime_destroy(ax_runtime *rt, unsigned started) {
    atomic_store(&rt->stop, true);
    if (rt->reactor) ax__unpark_all(rt);
    for (unsigned i = 0; i < started; i++) pthread_join(rt->workers[i].thread, NULL);
    /* Before the slabs: the pool may still wake tasks. */
    ax__blocking_free(atomic_load(&rt->blocking));
    ax__runtime_slots_free(rt); /* before the reactor: they may hold registrations */
    ax_runtime_set_policy(rt, NULL);
    while (rt->spare) { /* spare stacks go back through a pool to be unmapped */
        ax__stack *s = rt->spare;
        rt->spare = s->next;
        rt->workers[0].stacks.max = rt->workers[0].stacks.count + 1;
        ax__stack_put(&rt->workers[0].stacks, s);
    }
    for (unsigned i = 0; rt->workers && i < rt->nworkers; i++) {
        ax__stack_pool_destroy(&rt->workers[i].stacks);
        ax__slab_destroy(&rt->workers[i]);
        ax__buf_pool_destroy(&rt->workers[i].bufs);
    }
    ax__signals_free(rt);
    ax__reactor_free(rt->reactor);
    free(rt->workers);
    pthread_mutex_destroy(&rt->inject_lock);
    pthread_mutex_destroy(&rt->park_lock);
    pthread_mutex_destroy(&rt->foreign_lock);
    ax__overflow_uninstall();
    free(rt);
}

int ax_runtime_new(ax_runtime **out, const ax_runtime_opts *opts) {
    ax_runtime_opts o;
    if (opts)
        o = *opts;
    else
        ax_runtime_opts_init(&o);
    if (o.flavor != AX_RUNTIME_MULTI_THREAD && o.flavor != AX_RUNTIME_CURRENT_THREAD)
        return AX_EINVAL;
    unsigned workers = o.flavor == AX_RUNTIME_CURRENT_THREAD ? 1 : o.workers;
    if (!workers) {
        int err = ax__workers_from_env(&workers);
        if (err) return err;
    }
    if (workers > AX__MAX_WORKERS) return AX_EINVAL;
    long page = ax__page_size();
    size_t stack = o.stack_size ? o.stack_size : AX__DEFAULT_STACK;
    stack = (stack + (size_t)page - 1) & ~((size_t)page - 1);

    ax_runtime *rt = calloc(1, sizeof(*rt));
    if (!rt) return AX_ENOMEM;
    rt->nworkers = workers;
    rt->current_thread = o.flavor == AX_RUNTIME_CURRENT_THREAD;
    rt->shutdown_timeout_ms = o.shutdown_timeout_ms ? o.shutdown_timeout_ms : 5000;
    rt->stack_size = stack;
    rt->stack_cache = o.stack_cache ? o.stack_cache : AX__DEFAULT_STACK_CACHE;
    rt->max_live_stacks = ax__max_live_stacks();
    rt->start = ax_now();
    rt->sigfd = -1;
    atomic_init(&rt->next_id, 1);
    atomic_init(&rt->idle_wake_tick, UINT64_MAX);
    pthread_mutex_init(&rt->inject_lock, NULL);
    pthread_mutex_init(&rt->park_lock, NULL);
    pthread_mutex_init(&rt->foreign_lock, NULL);
    int err = ax__overflow_install();
    if (err) {
        free(rt);
        return err;
    }
    err = ax__reactor_new(&rt->reactor);
    rt->workers = err ? NULL : calloc(workers, sizeof(ax__worker));
    if (!err && !rt->workers) err = AX_ENOMEM;
    if (!err && o.signals) err = ax__signals_init(rt, o.signals);
    if (!err) err = ax__blocking_init(rt, o.blocking_max_threads, o.blocking_idle_ms);
    if (err) {
        ax__runtime_destroy(rt, 0);
        return err;
    }
    for (unsigned i = 0; i < workers; i++) {
        ax__worker *w = &rt->workers[i];
        w->rt = rt;
        w->index = i;
        atomic_init(&w->wakes_by, UINT64_MAX);
        ax__stack_pool_init(&w->stacks, stack, rt->stack_cache);
        ax__wheel_init(&w->wheel, 0);
        atomic_init(&w->wheel_next, UINT64_MAX);
    }
    for (unsigned i = 0; !rt->current_thread && i < workers; i++) {
        int e = pthread_create(&rt->workers[i].thread, NULL, ax__worker_thread, &rt->workers[i]);
        if (e) {
            ax__runtime_destroy(rt, i);
            return -e;
        }
    }
    *out = rt;
    return 0;
}

/* Lets the runtime make progress while the caller waits: a current-thread
 * runtime has no workers, so the waiting thread drives it. */
static void ax__shutdown_step(ax_runtime *rt) {
    if (rt->current_thread) {
        ax__drive_once(rt, 1);
    } else {
        ax__sleep_1ms();
    }
}

/* Phase 1: external spawns refused, tasks end on their own until the
 * grace deadline. Phase 2: new tasks are born cancelled and every live
 * task is cancelled; the scan repeats until none is left (it also catches
 * a task whose spawn raced with an earlier scan). */
int ax_runtime_shutdown(ax_runtime *rt, unsigned grace_ms) {
    ax__worker *self = ax__worker_current();
    if (self && self->rt == rt) return AX_EBUSY;
    if (atomic_exchange(&rt->shut_down, true)) return 0;
    atomic_store(&rt->closed, true);
    ax_instant grace_end = ax_now() + (uint64_t)grace_ms * 1000000u;
    while (ax__scan_live(rt, false) && ax_now() < grace_end) ax__shutdown_step(rt);
    atomic_store(&rt->shutting_down, true);
    size_t cancelled = ax__scan_live(rt, true), live = cancelled;
    ax_instant warn_at = ax_now() + (uint64_t)rt->shutdown_timeout_ms * 1000000u;
    bool warned = false;
    while (live) {
        ax__shutdown_step(rt);
        live = ax__scan_live(rt, true);
        if (live && !warned && ax_now() >= warn_at) {
            fprintf(stderr,
                    "axon: %zu task(s) still running %u ms after being cancelled; "
                    "waiting for them (a task cannot be stopped from outside)\n",
                    live, rt->shutdown_timeout_ms);
            warned = true;
        }
    }
    /* Every task has ended: nothing waits on the pool any more. */
    ax__blocking_shutdown(atomic_load(&rt->blocking), ax_deadline_in_ms(rt->shutdown_timeout_ms));
    return (int)cancelled;
}

void ax_runtime_free(ax_runtime *rt) {
    if (!rt) return;
    ax__worker *self = ax__worker_current();
    if (self && self->rt == rt) {
        fprintf(stderr, "axon: ax_runtime_free called from one of the runtime's own tasks\n");
        abort();
    }
    ax_runtime_shutdown(rt, 0);
    ax__runtime_destroy(rt, rt->current_thread ? 0 : rt->nworkers);
}

int ax_run(ax_runtime *rt, void *(*main_fn)(void *), void *arg, void **result) {
    if (ax__task_current()) return AX_EBUSY;
    ax_task *t;
    int err = ax_spawn_on(rt, &t, main_fn, arg);
    if (err) return err;
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    int r = (int)ax_block_on(rt, &jf.base);
    if (result) *result = jf.value;
    return r;
}

ax_runtime *ax_current_runtime(void) {
    ax__worker *w = ax__worker_current();
    return w ? w->rt : NULL;
}

unsigned ax_runtime_workers(const ax_runtime *rt) {
    return rt->nworkers;
}

size_t ax_runtime_max_live_stacks(const ax_runtime *rt) {
    return rt->max_live_stacks;
}
