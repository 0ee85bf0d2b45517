/* executor/task.c - task lifetime, wakers, join handles and ax_await.
 *
 * State machine (ax_task.state, one atomic word):
 *   wake on an idle task        -> SCHEDULED, pushed to a run queue
 *   wake on a RUNNING task      -> NOTIFIED, requeued when it suspends
 *   wake on SCHEDULED/COMPLETE  -> nothing
 * Only the worker running a task clears RUNNING, and it does so after the
 * task's stack has been switched away from, so a task is never resumed on
 * two threads at once.
 */
#include "executor/internal.h"

#include <stdlib.h>
#include <string.h>

#define AX__SLAB_CHUNK 64

struct ax__slab_chunk {
    struct ax__slab_chunk *next;
    ax_task tasks[AX__SLAB_CHUNK];
};

/* Per-worker slab: no malloc per spawn in steady state. Frees from other
 * threads go to an atomic list the owner takes back in one exchange, so
 * there is no ABA: many pushers, one taker. */
static ax_task *ax__slab_alloc(ax__worker *w) {
    if (!w) return malloc(sizeof(ax_task));
    if (!w->slab_free)
        w->slab_free = atomic_exchange_explicit(&w->slab_remote, NULL, memory_order_acquire);
    if (!w->slab_free) {
        struct ax__slab_chunk *c = malloc(sizeof(*c));
        if (!c) return NULL;
        c->next = w->slab_chunks;
        w->slab_chunks = c;
        for (int i = AX__SLAB_CHUNK; i-- > 0;) {
            c->tasks[i].home = w;
            c->tasks[i].next = w->slab_free;
            w->slab_free = &c->tasks[i];
        }
    }
    ax_task *t = w->slab_free;
    w->slab_free = t->next;
    return t;
}

static void ax__slab_release(ax_task *t) {
    ax__worker *home = t->home;
    if (!home) {
        free(t);
        return;
    }
    if (ax__worker_current() == home) {
        t->next = home->slab_free;
        home->slab_free = t;
        return;
    }
    ax_task *head = atomic_load_explicit(&home->slab_remote, memory_order_relaxed);
    do t->next = head;
    while (!atomic_compare_exchange_weak_explicit(&home->slab_remote, &head, t,
                                                  memory_order_release, memory_order_relaxed));
}

void ax__slab_destroy(ax__worker *w) {
    struct ax__slab_chunk *c = w->slab_chunks;
    while (c) {
        struct ax__slab_chunk *next = c->next;
        free(c);
        c = next;
    }
    w->slab_chunks = NULL;
    w->slab_free = NULL;
    atomic_store(&w->slab_remote, NULL);
}

void ax__task_unref(ax_task *t) {
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) ax__slab_release(t);
}

/* Wakers. */
static void *ax__tw_clone(void *data) {
    atomic_fetch_add_explicit(&((ax_task *)data)->refs, 1, memory_order_relaxed);
    return data;
}
static void ax__tw_wake(void *data) {
    ax__task_wake(data);
    ax__task_unref(data);
}
static void ax__tw_wake_by_ref(void *data) { ax__task_wake(data); }
static void ax__tw_drop(void *data) { ax__task_unref(data); }

const ax_waker_vtable ax__task_waker_vtable = {ax__tw_clone, ax__tw_wake, ax__tw_wake_by_ref,
                                               ax__tw_drop};

void ax__task_wake(ax_task *t) {
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (s & (AX__T_COMPLETE | AX__T_SCHEDULED)) return;
        if (s & AX__T_RUNNING) {
            if (s & AX__T_NOTIFIED) return;
            if (atomic_compare_exchange_weak_explicit(&t->state, &s, s | AX__T_NOTIFIED,
                                                      memory_order_acq_rel, memory_order_acquire))
                return;
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&t->state, &s, s | AX__T_SCHEDULED,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            ax__schedule(t);
            return;
        }
    }
}

static void ax__registry_add(ax_runtime *rt, ax_task *t) {
    ax__shard *sh = &rt->shards[t->shard];
    ax__spin_lock(&sh->lock);
    t->reg_prev = NULL;
    t->reg_next = sh->head;
    if (sh->head) sh->head->reg_prev = t;
    sh->head = t;
    ax__spin_unlock(&sh->lock);
}

static void ax__registry_remove(ax_runtime *rt, ax_task *t) {
    ax__shard *sh = &rt->shards[t->shard];
    ax__spin_lock(&sh->lock);
    if (t->reg_prev) t->reg_prev->reg_next = t->reg_next;
    else sh->head = t->reg_next;
    if (t->reg_next) t->reg_next->reg_prev = t->reg_prev;
    ax__spin_unlock(&sh->lock);
}

int ax__task_new(ax_runtime *rt, ax__worker *w, ax_task_fn fn, void *arg, bool detached,
                 ax_task **out) {
    if (!fn) return AX_EINVAL;
    ax_task *t = ax__slab_alloc(w);
    if (!t) return AX_ENOMEM;
    ax__worker *home = t->home;
    memset(t, 0, sizeof(*t));
    t->home = w ? home : NULL;
    t->fn = fn;
    t->arg = arg;
    t->rt = rt;
    t->id = atomic_fetch_add_explicit(&rt->next_id, 1, memory_order_relaxed);
    t->shard = (uint16_t)(w ? w->index % AX__SHARDS : t->id % AX__SHARDS);
    t->self_waker.vtable = &ax__task_waker_vtable;
    t->self_waker.data = t;
    atomic_init(&t->refs, detached ? 1u : 2u);
    /* A task spawned while the runtime stops is born cancelled: it ends at
     * once without running, and whoever joins it learns AX_ECANCELED. */
    uint32_t s = AX__T_SCHEDULED;
    if (atomic_load_explicit(&rt->shutting_down, memory_order_acquire)) s |= AX__T_CANCEL;
    atomic_init(&t->state, s);
    atomic_fetch_add_explicit(&rt->live, 1, memory_order_relaxed);
    ax__registry_add(rt, t);
    if (out) *out = t;
    ax__schedule(t);
    return 0;
}

int ax_spawn_on(ax_runtime *rt, ax_task **out, ax_task_fn fn, void *arg) {
    if (!rt) return AX_EINVAL;
    ax__worker *w = ax__worker_current();
    if (w && w->rt != rt) w = NULL;
    return ax__task_new(rt, w, fn, arg, out == NULL, out);
}

int ax_spawn(ax_task **out, ax_task_fn fn, void *arg) {
    ax__worker *w = ax__worker_current();
    if (!w) return AX_ENOTASK;
    return ax__task_new(w->rt, w, fn, arg, out == NULL, out);
}

/* Stacks come from the worker's cache; a new mapping is refused with
 * AX_ENOMEM once the runtime holds max_live_stacks, before the process runs
 * out of kernel mappings (vm.max_map_count) for everything else. */
static int ax__stack_take(ax__worker *w, ax__stack **out) {
    ax_runtime *rt = w->rt;
    if (w->stacks.free) return ax__stack_get(&w->stacks, out);
    if (atomic_fetch_add_explicit(&rt->mapped_stacks, 1, memory_order_relaxed) >=
        rt->max_live_stacks) {
        atomic_fetch_sub_explicit(&rt->mapped_stacks, 1, memory_order_relaxed);
        return AX_ENOMEM;
    }
    int err = ax__stack_get(&w->stacks, out);
    if (err) atomic_fetch_sub_explicit(&rt->mapped_stacks, 1, memory_order_relaxed);
    return err;
}

static void ax__stack_give(ax__worker *w, ax__stack *s) {
    unsigned cached = w->stacks.count;
    ax__stack_put(&w->stacks, s);
    if (w->stacks.count == cached) /* the cache was full: it was unmapped */
        atomic_fetch_sub_explicit(&w->rt->mapped_stacks, 1, memory_order_relaxed);
}

/* Runs on the worker's own stack after the task switched away for good. */
void ax__task_complete(ax__worker *w, ax_task *t) {
    ax_runtime *rt = t->rt;
    if (t->stack) {
        ax__fiber_destroy(&t->fiber);
        ax__stack_give(w, t->stack);
        t->stack = NULL;
    }
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    uint8_t final = t->err ? AX_TASK_FAILED
                           : (s & AX__T_CANCEL) ? AX_TASK_CANCELLED : AX_TASK_COMPLETED;
    atomic_store_explicit(&t->final_state, final, memory_order_relaxed);
    ax__spin_lock(&t->join_lock);
    atomic_fetch_or_explicit(&t->state, AX__T_COMPLETE, memory_order_acq_rel);
    atomic_fetch_and_explicit(&t->state, ~(uint32_t)(AX__T_RUNNING | AX__T_NOTIFIED),
                              memory_order_acq_rel);
    ax_waker jw = t->join_waker;
    t->join_waker.vtable = NULL;
    ax__spin_unlock(&t->join_lock);
    ax_waker_wake(&jw);
    ax__registry_remove(rt, t);
    ax__task_unref(t);
    if (atomic_fetch_sub_explicit(&rt->live, 1, memory_order_acq_rel) == 1 &&
        atomic_load_explicit(&rt->shutting_down, memory_order_acquire)) {
        pthread_mutex_lock(&rt->done_lock);
        pthread_cond_broadcast(&rt->done_cond);
        pthread_mutex_unlock(&rt->done_lock);
    }
}

/* The first frame of every task stack. */
static _Noreturn void ax__task_finish(ax_task *t) {
    t->exit_why = AX__EXIT_DONE;
    ax__worker *w = ax__worker_current();
    ax__fiber_switch_final(&t->fiber, &w->sched);
    abort(); /* a finished task is never resumed */
}

static void ax__task_entry(void *arg) {
    ax_task *t = arg;
    t->value = t->fn(t->arg);
    ax__task_finish(t);
}

void ax__run_task(ax__worker *w, ax_task *t) {
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    while (!atomic_compare_exchange_weak_explicit(
        &t->state, &s, (s & ~(uint32_t)(AX__T_SCHEDULED | AX__T_NOTIFIED)) | AX__T_RUNNING,
        memory_order_acq_rel, memory_order_acquire)) {
    }
    if (!(s & AX__T_STARTED)) {
        if (s & AX__T_CANCEL) { /* aborted before it ever ran */
            ax__task_complete(w, t);
            return;
        }
        int err = ax__stack_take(w, &t->stack);
        if (err) {
            t->err = err;
            ax__task_complete(w, t);
            return;
        }
        ax__fiber_init(&t->fiber, t->stack, ax__task_entry, t);
        atomic_fetch_or_explicit(&t->state, AX__T_STARTED, memory_order_relaxed);
    }
    w->current = t;
    ax__overflow_set_current(t->stack, t->id);
    ax__fiber_switch(&w->sched, &t->fiber);
    ax__overflow_set_current(NULL, 0);
    w->current = NULL;

    switch (t->exit_why) {
    case AX__EXIT_DONE:
        ax__task_complete(w, t);
        return;
    case AX__EXIT_YIELD:
        s = atomic_load_explicit(&t->state, memory_order_acquire);
        while (!atomic_compare_exchange_weak_explicit(
            &t->state, &s,
            (s & ~(uint32_t)(AX__T_RUNNING | AX__T_NOTIFIED)) | AX__T_SCHEDULED,
            memory_order_acq_rel, memory_order_acquire)) {
        }
        ax__schedule_back(w, t);
        return;
    default: /* AX__EXIT_SUSPEND */
        s = atomic_load_explicit(&t->state, memory_order_acquire);
        for (;;) {
            uint32_t next = s & ~(uint32_t)(AX__T_RUNNING | AX__T_NOTIFIED);
            if (s & AX__T_NOTIFIED) next |= AX__T_SCHEDULED;
            if (atomic_compare_exchange_weak_explicit(&t->state, &s, next, memory_order_acq_rel,
                                                      memory_order_acquire))
                break;
        }
        if (s & AX__T_NOTIFIED) ax__schedule(t);
        return;
    }
}

void ax__task_suspend(ax_task *t) {
    t->exit_why = AX__EXIT_SUSPEND;
    ax__worker *w = ax__worker_current();
    ax__fiber_switch(&t->fiber, &w->sched);
}

ax_task *ax__task_current(void) {
    ax__worker *w = ax__worker_current();
    return w ? w->current : NULL;
}

static bool ax__cancelled(const ax_task *t) {
    return atomic_load_explicit(&t->state, memory_order_acquire) & AX__T_CANCEL;
}

intptr_t ax_await(ax_future *f) { return ax_await_until(f, AX_NO_DEADLINE); }

intptr_t ax_await_until(ax_future *f, ax_instant deadline) {
    ax_task *t = ax__task_current();
    intptr_t r;
    if (!t) {
        r = AX_ENOTASK;
        goto out;
    }
    ax_context cx = {&t->self_waker, t->rt};
    ax__timer_entry timer;
    bool armed = false;
    for (;;) {
        if (ax__cancelled(t)) {
            r = AX_ECANCELED;
            break;
        }
        if (ax_future_poll(f, &cx) == AX_READY) {
            r = f->result;
            break;
        }
        if (deadline != AX_NO_DEADLINE) {
            if (ax_now() >= deadline) {
                r = AX_ETIMEDOUT;
                break;
            }
            if (!armed) {
                ax__timer_arm(t->rt, &timer, deadline, &t->self_waker);
                armed = true;
            }
        }
        ax__task_suspend(t);
    }
    if (armed) ax__timer_disarm(&timer);
out:
    ax_future_drop(f);
    return r;
}

int ax_yield(void) {
    ax_task *t = ax__task_current();
    if (!t) return AX_ENOTASK;
    if (ax__cancelled(t)) return AX_ECANCELED;
    t->exit_why = AX__EXIT_YIELD;
    ax__worker *w = ax__worker_current();
    ax__fiber_switch(&t->fiber, &w->sched);
    return ax__cancelled(t) ? AX_ECANCELED : 0;
}

bool ax_is_cancelled(void) {
    ax_task *t = ax__task_current();
    return t && ax__cancelled(t);
}

_Noreturn void ax_task_exit(void *value, int err) {
    ax_task *t = ax__task_current();
    if (!t) abort(); /* documented as task-only; there is nothing to return to */
    t->value = value;
    t->err = err > 0 ? -err : err;
    ax__task_finish(t);
}

uint64_t ax_task_id(const ax_task *t) { return t->id; }

uint64_t ax_current_task_id(void) {
    ax_task *t = ax__task_current();
    return t ? t->id : 0;
}

ax_task_state ax_task_status(const ax_task *t) {
    uint32_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    if (s & AX__T_COMPLETE)
        return (ax_task_state)atomic_load_explicit(&t->final_state, memory_order_relaxed);
    return (s & AX__T_STARTED) ? AX_TASK_RUNNING : AX_TASK_PENDING;
}

void ax_abort(ax_task *t) {
    uint32_t s = atomic_fetch_or_explicit(&t->state, AX__T_CANCEL, memory_order_acq_rel);
    if (!(s & AX__T_CANCEL)) ax__task_wake(t);
}

void ax_detach(ax_task *t) {
    if (t) ax__task_unref(t);
}

/* Join as a future. */
static int ax__final_code(const ax_task *t) {
    switch (atomic_load_explicit(&t->final_state, memory_order_relaxed)) {
    case AX_TASK_COMPLETED: return 0;
    case AX_TASK_CANCELLED: return AX_ECANCELED;
    default: return t->err ? t->err : AX_EFAILED;
    }
}

static ax_poll ax__join_poll(ax_future *f, ax_context *cx) {
    ax_join_future *jf = (ax_join_future *)f;
    ax_task *t = jf->task;
    if (!t) return AX_READY;
    if (!(atomic_load_explicit(&t->state, memory_order_acquire) & AX__T_COMPLETE)) {
        ax_waker old = {0};
        ax__spin_lock(&t->join_lock);
        bool done = atomic_load_explicit(&t->state, memory_order_acquire) & AX__T_COMPLETE;
        if (!done && !ax_waker_will_wake(&t->join_waker, cx->waker)) {
            old = t->join_waker;
            t->join_waker = ax_waker_clone(cx->waker);
        }
        ax__spin_unlock(&t->join_lock);
        ax_waker_drop(&old);
        if (!done) return AX_PENDING;
    }
    jf->value = t->value;
    jf->base.result = ax__final_code(t);
    return AX_READY;
}

static void ax__join_drop(ax_future *f) {
    ax_join_future *jf = (ax_join_future *)f;
    ax_task *t = jf->task;
    if (!t) return;
    ax__spin_lock(&t->join_lock);
    ax_waker w = t->join_waker;
    t->join_waker.vtable = NULL;
    ax__spin_unlock(&t->join_lock);
    ax_waker_drop(&w);
    jf->task = NULL;
    ax__task_unref(t);
}

static const ax_future_vtable ax__join_vtable = {ax__join_poll, ax__join_drop};

void ax_join_future_init(ax_join_future *jf, ax_task *t) {
    jf->base.vtable = &ax__join_vtable;
    jf->base.result = AX_EINVAL;
    jf->task = t;
    jf->value = NULL;
}

int ax_join(ax_task *t, void **result) {
    if (!t) return AX_EINVAL;
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    intptr_t r = ax_await(&jf.base);
    if (result) *result = jf.value;
    return (int)r;
}
