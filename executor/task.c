/* executor/task.c - task lifetime, wakers, join handles and ax_await.
 *
 * State machine (ax_task.state: flags and the reference count in one word,
 * so each step below is a single atomic operation):
 *   wake on an idle task        -> SCHEDULED, pushed to a run queue
 *   wake on a RUNNING task      -> NOTIFIED, requeued when it suspends
 *   wake on SCHEDULED/COMPLETE  -> nothing
 * Only the worker running a task clears RUNNING, and it does so after the
 * task's stack has been switched away from, so a task is never resumed on
 * two threads at once. A yielding task keeps RUNNING while it waits in its
 * worker's queue: it is still owned by the executor, and a yield then costs
 * no atomic operation at all.
 *
 * References: the join handle, the executor (until completion), and every
 * waker clone. The struct returns to its slab at zero.
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
 * there is no ABA: many pushers, one taker. Free slots keep COMPLETE in
 * their state word, which is all the shutdown scan looks at. */
static ax_task *ax__slab_alloc(ax__worker *w) {
    if (!w->slab_free)
        w->slab_free = atomic_exchange_explicit(&w->slab_remote, NULL, memory_order_acquire);
    if (!w->slab_free) {
        struct ax__slab_chunk *c = malloc(sizeof(*c));
        if (!c) return NULL;
        for (int i = AX__SLAB_CHUNK; i-- > 0;) {
            atomic_init(&c->tasks[i].state, AX__T_COMPLETE);
            c->tasks[i].home = w;
            c->tasks[i].next = w->slab_free;
            w->slab_free = &c->tasks[i];
        }
        c->next = atomic_load_explicit(&w->slab_chunks, memory_order_relaxed);
        atomic_store_explicit(&w->slab_chunks, c, memory_order_release);
    }
    ax_task *t = w->slab_free;
    w->slab_free = t->next;
    return t;
}

static void ax__task_free(ax_task *t) {
    ax__worker *home = t->home;
    if (!home) {
        ax_runtime *rt = t->rt;
        pthread_mutex_lock(&rt->foreign_lock);
        if (t->foreign_prev)
            t->foreign_prev->foreign_next = t->foreign_next;
        else
            rt->foreign = t->foreign_next;
        if (t->foreign_next) t->foreign_next->foreign_prev = t->foreign_prev;
        pthread_mutex_unlock(&rt->foreign_lock);
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
    struct ax__slab_chunk *c = atomic_load(&w->slab_chunks);
    while (c) {
        struct ax__slab_chunk *next = c->next;
        free(c);
        c = next;
    }
    atomic_store(&w->slab_chunks, NULL);
    w->slab_free = NULL;
    atomic_store(&w->slab_remote, NULL);
}

void ax__task_ref(ax_task *t) {
    atomic_fetch_add_explicit(&t->state, AX__T_REF_ONE, memory_order_relaxed);
}

void ax__task_unref(ax_task *t) {
    uint64_t prev = atomic_fetch_sub_explicit(&t->state, AX__T_REF_ONE, memory_order_acq_rel);
    if (AX__T_REFS(prev) == 1) ax__task_free(t);
}

/* Makes t runnable; consumes one reference when `consume`. */
static void ax__task_wake_impl(ax_task *t, bool consume) {
    /* Read before the CAS: once it drops our reference (consume) on a
     * running task, that task may finish and be freed by another thread
     * before the counting below (TSan caught it in a join's drop). */
    ax_runtime *rt = t->rt;
    uint64_t dec = consume ? AX__T_REF_ONE : 0;
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        uint64_t next;
        bool schedule = false;
        if (s & (AX__T_COMPLETE | AX__T_SCHEDULED))
            next = s - dec;
        else if (s & AX__T_RUNNING)
            next = (s | AX__T_NOTIFIED) - dec;
        else {
            /* Not complete, so the executor's reference keeps t alive after
             * ours is gone. */
            next = (s | AX__T_SCHEDULED) - dec;
            schedule = true;
        }
        if (next == s) return;
        if (atomic_compare_exchange_weak_explicit(&t->state, &s, next, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            if (!(s & (AX__T_COMPLETE | AX__T_SCHEDULED))) {
                ax__worker *w = ax__worker_current();
                if (w && w->rt == rt)
                    AX__COUNT(&w->stats, wakes_local);
                else
                    AX__COUNT_SHARED(&rt->foreign_stats, wakes_remote);
            }
            if (schedule)
                ax__schedule(t);
            else if (consume && AX__T_REFS(next) == 0)
                ax__task_free(t);
            return;
        }
    }
}

void ax__task_wake(ax_task *t) {
    ax__task_wake_impl(t, false);
}

/* Wakers. */
static void *ax__tw_clone(void *data) {
    atomic_fetch_add_explicit(&((ax_task *)data)->state, AX__T_REF_ONE, memory_order_relaxed);
    return data;
}
static void ax__tw_wake(void *data) {
    ax__task_wake_impl(data, true);
}
static void ax__tw_wake_by_ref(void *data) {
    ax__task_wake_impl(data, false);
}
static void ax__tw_drop(void *data) {
    ax__task_unref(data);
}

const ax_waker_vtable ax__task_waker_vtable = {ax__tw_clone, ax__tw_wake, ax__tw_wake_by_ref,
                                               ax__tw_drop};

/* Workers take ids in blocks so a spawn does not touch a shared counter. */
#define AX__ID_BLOCK 256
static uint64_t ax__next_task_id(ax_runtime *rt, ax__worker *w) {
    if (!w) return atomic_fetch_add_explicit(&rt->next_id, 1, memory_order_relaxed);
    if (w->id_next == w->id_end) {
        w->id_next = atomic_fetch_add_explicit(&rt->next_id, AX__ID_BLOCK, memory_order_relaxed);
        w->id_end = w->id_next + AX__ID_BLOCK;
    }
    return w->id_next++;
}

int ax__task_new(ax_runtime *rt, ax__worker *w, ax_task_fn fn, void *arg, bool detached,
                 ax_task **out) {
    if (!fn) return AX_EINVAL;
    ax_task *t = w ? ax__slab_alloc(w) : malloc(sizeof(ax_task));
    if (!t) return AX_ENOMEM;
    /* Field by field rather than memset: the shutdown scan may read the
     * state word of a slab slot at any time, so it is only ever written
     * atomically. */
    memset(&t->fiber, 0, sizeof(t->fiber));
    t->stack = NULL;
    t->fn = fn;
    t->arg = arg;
    t->value = NULL;
    t->err = 0;
    t->exit_why = 0;
    t->final_state = AX_TASK_PENDING;
    t->rt = rt;
    t->home = w;
    t->next = NULL;
    t->join_waker.vtable = NULL;
    t->scope_next = NULL;
    t->hooks = NULL;
    t->shield = 0;
    t->self_waker.vtable = &ax__task_waker_vtable;
    t->self_waker.data = t;
    t->sync_joiner = NULL;
    t->id = ax__next_task_id(rt, w);
    /* A task spawned while the runtime stops is born cancelled: it ends at
     * once without running, and whoever joins it learns AX_ECANCELED. */
    uint64_t s = AX__T_SCHEDULED | (detached ? 1 : 2) * AX__T_REF_ONE;
    if (atomic_load_explicit(&rt->shutting_down, memory_order_acquire)) s |= AX__T_CANCEL;
    if (w) {
        atomic_store_explicit(&t->state, s, memory_order_release);
    } else {
        atomic_init(&t->state, s);
        pthread_mutex_lock(&rt->foreign_lock);
        t->foreign_prev = NULL;
        t->foreign_next = rt->foreign;
        if (rt->foreign) rt->foreign->foreign_prev = t;
        rt->foreign = t;
        pthread_mutex_unlock(&rt->foreign_lock);
    }
    if (w)
        AX__COUNT(&w->stats, spawned);
    else
        AX__COUNT_SHARED(&rt->foreign_stats, spawned);
    if (out) *out = t;
    ax__schedule(t);
    return 0;
}

int ax_spawn_on(ax_runtime *rt, ax_task **out, ax_task_fn fn, void *arg) {
    if (!rt) return AX_EINVAL;
    ax__worker *w = ax__worker_current();
    if (w && w->rt != rt) w = NULL;
    if (!w && atomic_load_explicit(&rt->closed, memory_order_acquire)) return AX_ESHUTDOWN;
    return ax__task_new(rt, w, fn, arg, out == NULL, out);
}

int ax_spawn(ax_task **out, ax_task_fn fn, void *arg) {
    ax__worker *w = ax__worker_current();
    if (!w) return AX_ENOTASK;
    return ax__task_new(w->rt, w, fn, arg, out == NULL, out);
}

static bool ax__task_live(const ax_task *t) {
    return !(atomic_load_explicit(&t->state, memory_order_acquire) & AX__T_COMPLETE);
}

/* Every operation here goes through the state word (ax_abort), so racing
 * with a slot being freed or reused is harmless: a freed slot shows
 * COMPLETE, and a slot reused during shutdown holds a born-cancelled task. */
size_t ax__scan_live(ax_runtime *rt, bool cancel) {
    size_t live = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct ax__slab_chunk *c =
            atomic_load_explicit(&rt->workers[i].slab_chunks, memory_order_acquire);
        for (; c; c = c->next)
            for (int k = 0; k < AX__SLAB_CHUNK; k++)
                if (ax__task_live(&c->tasks[k])) {
                    if (cancel) ax_abort(&c->tasks[k]);
                    live++;
                }
    }
    pthread_mutex_lock(&rt->foreign_lock);
    for (ax_task *t = rt->foreign; t; t = t->foreign_next)
        if (ax__task_live(t)) {
            if (cancel) ax_abort(t);
            live++;
        }
    pthread_mutex_unlock(&rt->foreign_lock);
    return live;
}

/* Stacks come from the worker's cache; a new mapping is refused with
 * AX_ENOMEM once the runtime holds max_live_stacks, before the process runs
 * out of kernel mappings (vm.max_map_count) for everything else. */
/* Tasks often end on another worker than the one that gave them a stack,
 * so one worker's cache overflows while another's runs dry. A runtime-wide
 * spare list between them (locked only on overflow and underflow, moving
 * half a cache at a time) turns that churn of munmap and mmap+mprotect
 * into list moves. */
#define AX__SPARE_MAX 4096u

static void ax__spare_refill(ax__worker *w) {
    ax_runtime *rt = w->rt;
    if (!atomic_load_explicit(&rt->spare_count, memory_order_relaxed)) return;
    ax__spin_lock(&rt->spare_lock);
    while (rt->spare && w->stacks.count < w->stacks.max / 2 + 1) {
        ax__stack *s = rt->spare;
        rt->spare = s->next;
        s->next = w->stacks.free;
        w->stacks.free = s;
        w->stacks.count++;
        atomic_fetch_sub_explicit(&rt->spare_count, 1, memory_order_relaxed);
    }
    ax__spin_unlock(&rt->spare_lock);
}

static int ax__stack_take(ax__worker *w, ax__stack **out) {
    ax_runtime *rt = w->rt;
    if (!w->stacks.free) ax__spare_refill(w);
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
    ax_runtime *rt = w->rt;
    if (w->stacks.count >= w->stacks.max &&
        atomic_load_explicit(&rt->spare_count, memory_order_relaxed) < AX__SPARE_MAX) {
        /* Full cache: hand half of it, and s, to the spare list. */
        ax__spin_lock(&rt->spare_lock);
        s->next = rt->spare;
        rt->spare = s;
        size_t moved = 1;
        while (w->stacks.count > w->stacks.max / 2) {
            ax__stack *x = w->stacks.free;
            w->stacks.free = x->next;
            w->stacks.count--;
            x->next = rt->spare;
            rt->spare = x;
            moved++;
        }
        atomic_fetch_add_explicit(&rt->spare_count, moved, memory_order_relaxed);
        ax__spin_unlock(&rt->spare_lock);
        return;
    }
    unsigned cached = w->stacks.count;
    ax__stack_put(&w->stacks, s);
    if (w->stacks.count == cached) /* the cache was full: it was unmapped */
        atomic_fetch_sub_explicit(&w->rt->mapped_stacks, 1, memory_order_relaxed);
}

/* A worker about to sleep gives back what demand left behind: its cached
 * stacks beyond AX__STACK_IDLE_KEEP, and the whole spare list (a burst
 * of suspended tasks may have filled it). Their pages stay committed
 * while they are cached, so an idle runtime should not keep them. */
#define AX__STACK_IDLE_KEEP 8u

void ax__stacks_trim(ax__worker *w) {
    ax_runtime *rt = w->rt;
    size_t freed = ax__stack_pool_trim(&w->stacks, AX__STACK_IDLE_KEEP);
    if (atomic_load_explicit(&rt->spare_count, memory_order_relaxed)) {
        ax__spin_lock(&rt->spare_lock);
        ax__stack *list = rt->spare;
        rt->spare = NULL;
        size_t n = atomic_exchange_explicit(&rt->spare_count, 0, memory_order_relaxed);
        ax__spin_unlock(&rt->spare_lock);
        while (list) {
            ax__stack *next = list->next;
            ax__stack_free(list);
            list = next;
        }
        freed += n;
    }
    if (freed) atomic_fetch_sub_explicit(&rt->mapped_stacks, freed, memory_order_relaxed);
}

/* Publishes the outcome (value, err, final_state) with COMPLETE and wakes
 * the joiner. Runs on the task's own stack when fn returns (so the joiner
 * can be the next task this worker switches to), or on any stack for a task
 * that ends without running. The executor's reference is dropped later, by
 * ax__task_release, once nothing runs on the task's stack any more. */
static void ax__task_publish(ax_task *t) {
    uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    t->final_state = t->err               ? AX_TASK_FAILED
                     : (s & AX__T_CANCEL) ? AX_TASK_CANCELLED
                                          : AX_TASK_COMPLETED;
    ax__counters *c = &ax__worker_current()->stats; /* always on a worker */
    if (t->final_state == AX_TASK_COMPLETED)
        AX__COUNT(c, completed);
    else if (t->final_state == AX_TASK_FAILED)
        AX__COUNT(c, failed);
    else
        AX__COUNT(c, cancelled);
    while (!atomic_compare_exchange_weak_explicit(
        &t->state, &s, (s & ~(uint64_t)(AX__T_RUNNING | AX__T_NOTIFIED)) | AX__T_COMPLETE,
        memory_order_acq_rel, memory_order_relaxed)) {
    }
    /* The joiner stored its waker before setting JOIN_WAKER; now that
     * COMPLETE is set it will not touch it again, so it is ours to wake. */
    if (s & AX__T_JOIN_WAKER) {
        ax_waker jw = t->join_waker; /* a copy: the joiner may still read it */
        ax_waker_wake(&jw);
    }
}

/* Gives back the stack of a finished task and the executor's reference. */
static void ax__task_release(ax__worker *w, ax_task *t) {
    if (t->stack) {
        ax__fiber_destroy(&t->fiber);
        ax__stack_give(w, t->stack);
        t->stack = NULL;
    }
    ax__task_unref(t);
}

void ax__task_complete(ax__worker *w, ax_task *t) {
    ax__task_publish(t);
    ax__task_release(w, t);
}

static void ax__task_entry(void *arg);

/* Makes t ready to be switched to: RUNNING, and a stack on first run.
 * Returns false when t ended instead (cancelled before it ever ran, or no
 * stack could be had). */
static bool ax__task_prepare(ax__worker *w, ax_task *t) {
    if (t->exit_why == AX__EXIT_YIELD) return true; /* still RUNNING */
    /* SCHEDULED is set and RUNNING and NOTIFIED are clear (a wake on a
     * scheduled task changes nothing), so one add swaps SCHEDULED for
     * RUNNING. STARTED is only ever set here, so the relaxed read decides
     * whether the same add sets it. */
    uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    uint64_t add = AX__T_RUNNING - AX__T_SCHEDULED;
    if (!(s & AX__T_STARTED) && !(s & AX__T_CANCEL)) add += AX__T_STARTED;
    s = atomic_fetch_add_explicit(&t->state, add, memory_order_acq_rel);
    if (s & AX__T_STARTED) return true;
    if (!(add & AX__T_STARTED)) { /* aborted before it ever ran */
        ax__task_complete(w, t);
        return false;
    }
    int err = ax__stack_take(w, &t->stack);
    if (err) {
        t->err = err;
        ax__task_complete(w, t);
        return false;
    }
    ax__fiber_init(&t->fiber, t->stack, ax__task_entry, t);
    return true;
}

ax_task *ax__next_runnable(ax__worker *w) {
    ax_task *t;
    while ((t = ax__next_task(w)))
        if (ax__task_prepare(w, t)) return t;
    return NULL;
}

/* The second half of every switch, run by whichever context resumes on
 * this worker: what the task that left needs now that its stack is idle. */
void ax__finish_prev(ax__worker *w) {
    ax_task *t = w->prev;
    if (!t) return;
    w->prev = NULL;
    switch (t->exit_why) {
    case AX__EXIT_DONE:
        ax__task_release(w, t);
        return;
    case AX__EXIT_YIELD: /* behind the others; see the requeue below */
        ax__schedule_requeue(w, t);
        return;
    default: { /* AX__EXIT_SUSPEND: idle now, unless woken meanwhile */
        uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
        for (;;) {
            uint64_t next = s & ~(uint64_t)(AX__T_RUNNING | AX__T_NOTIFIED);
            if (s & AX__T_NOTIFIED) next |= AX__T_SCHEDULED;
            if (atomic_compare_exchange_weak_explicit(&t->state, &s, next, memory_order_acq_rel,
                                                      memory_order_relaxed))
                break;
        }
        /* Woken while it was leaving: requeue it behind the queue, never in
         * the LIFO slot. This runs in the next task's context, and if that
         * task keeps the worker (a loop that never suspends), a task in the
         * slot could wait for it forever: no other worker sees or steals
         * the slot. Tell an idle worker, since this one is busy. */
        if (s & AX__T_NOTIFIED) ax__schedule_requeue(w, t);
        return;
    }
    }
}

/* Switches from task t to `to`: the worker's scheduler context, or a task
 * already prepared by ax__next_runnable. */
void ax__switch_to(ax__worker *w, ax_task *t, ax_task *to, bool final) {
    ax__fiber *dest = to ? &to->fiber : &w->sched;
    if (to) {
        AX__COUNT(&w->stats, polls);
        w->budget = AX__BUDGET;
    }
    w->current = to;
    w->prev = t;
    ax__overflow_set_current(to ? to->stack : NULL, to ? to->id : 0);
    if (final)
        ax__fiber_switch_final(t ? &t->fiber : &w->sched, dest);
    else
        ax__fiber_switch(t ? &t->fiber : &w->sched, dest);
}

/* Leaves the CPU from inside task t: straight to the next runnable task
 * when there is one (one switch instead of two through the scheduler), or
 * to the scheduler, which also runs the periodic timer and I/O checks. */
static void ax__task_leave(ax_task *t, uint8_t why) {
    ax__worker *w = ax__worker_current();
    t->exit_why = why;
    ax_task *next = t->sync_joiner;
    if (next) {
        /* Run from ax_join, whose caller waits on this worker, still
         * RUNNING: back to it, done or not (if not, it goes on to wait the
         * usual way). */
        t->sync_joiner = NULL;
    } else {
        next = ax__maintenance_due(w) ? NULL : ax__next_runnable(w);
        w->ticks++;
        w->sync_runs = 0;
    }
    ax__switch_to(w, t, next, why == AX__EXIT_DONE);
    /* Resumed, possibly on another worker. */
    ax__finish_prev(ax__worker_current());
}

/* The first frame of every task stack. */
static _Noreturn void ax__task_finish(ax_task *t) {
    ax__task_publish(t);
    ax__task_leave(t, AX__EXIT_DONE);
    abort(); /* a finished task is never resumed */
}

static void ax__task_entry(void *arg) {
    ax_task *t = arg;
    ax__finish_prev(ax__worker_current());
    t->value = t->fn(t->arg);
    t->hooks = NULL; /* any still pushed lived in frames that are gone */
    ax__task_finish(t);
}

void ax__task_suspend(ax_task *t) {
    ax__task_leave(t, AX__EXIT_SUSPEND);
}

ax_task *ax__task_current(void) {
    ax__worker *w = ax__worker_current();
    return w ? w->current : NULL;
}

ax_task *ax_task_self(void) {
    return ax__task_current();
}

/* Cooperative budget: a task whose awaits keep completing at once (a socket
 * that always has data) would never let its worker run anything else, so
 * after AX__BUDGET ready polls in a row it yields (if anything else is
 * ready). */
static void ax__spend_budget(ax_task *t) {
    ax__worker *w = ax__worker_current();
    if (--w->budget) return;
    w->budget = AX__BUDGET;
    if (ax__worker_has_work(w)) ax__task_leave(t, AX__EXIT_YIELD);
}

ax_task *ax__fast_path_task(void) {
    ax__worker *w = ax__worker_current();
    ax_task *t = w ? w->current : NULL;
    if (!t) return NULL;
    if (!t->shield && (atomic_load_explicit(&t->state, memory_order_relaxed) & AX__T_CANCEL))
        return NULL; /* the future path reports it and runs the hooks */
    return t;
}

void ax__fast_path_done(ax_task *t) {
    ax__spend_budget(t);
}

intptr_t ax_await(ax_future *f) {
    return ax_await_until(f, AX_NO_DEADLINE);
}

intptr_t ax_await_until(ax_future *f, ax_instant deadline) {
    ax_task *t = ax__task_current();
    intptr_t r;
    if (!t) {
        r = AX_ENOTASK;
        goto out;
    }
    ax_context cx = {&t->self_waker, t->rt};
    ax__timer_entry timer;
    ax__worker *timer_wheel = NULL;
    for (;;) {
        if (ax__task_sees_cancel(t)) {
            r = AX_ECANCELED;
            break;
        }
        if (ax_future_poll(f, &cx) == AX_READY) {
            r = f->result;
            ax__spend_budget(t);
            break;
        }
        if (deadline != AX_NO_DEADLINE) {
            if (ax_now() >= deadline) {
                r = AX_ETIMEDOUT;
                break;
            }
            if (!timer_wheel) timer_wheel = ax__timer_arm(t->rt, &timer, deadline, &t->self_waker);
        }
        ax__task_suspend(t);
    }
    if (timer_wheel) ax__timer_disarm(timer_wheel, &timer);
out:
    ax_future_drop(f);
    return r;
}

int ax_yield(void) {
    ax_task *t = ax__task_current();
    if (!t) return AX_ENOTASK;
    if (ax__task_sees_cancel(t)) return AX_ECANCELED;
    /* Nothing else is ready: carry on, unless timers and I/O are due. */
    if (!ax__worker_has_work(ax__worker_current())) return 0;
    ax__task_leave(t, AX__EXIT_YIELD);
    return ax__task_sees_cancel(t) ? AX_ECANCELED : 0;
}

bool ax_is_cancelled(void) {
    ax_task *t = ax__task_current();
    if (!t || !(atomic_load_explicit(&t->state, memory_order_relaxed) & AX__T_CANCEL)) return false;
    ax__run_cancel_hooks(t);
    return true;
}

_Noreturn void ax_task_exit(void *value, int err) {
    ax_task *t = ax__task_current();
    if (!t) abort(); /* documented as task-only; there is nothing to return to */
    t->value = value;
    t->err = err > 0 ? -err : err;
    /* The frames that pushed the hooks are still there: a cancelled task
     * that exits this way runs the ones it has not run yet. */
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & AX__T_CANCEL)
        ax__run_cancel_hooks(t);
    t->hooks = NULL;
    ax__task_finish(t);
}

uint64_t ax_task_id(const ax_task *t) {
    return t->id;
}

uint64_t ax_current_task_id(void) {
    ax_task *t = ax__task_current();
    return t ? t->id : 0;
}

ax_task_state ax_task_status(const ax_task *t) {
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    if (s & AX__T_COMPLETE) return (ax_task_state)t->final_state;
    return (s & AX__T_STARTED) ? AX_TASK_RUNNING : AX_TASK_PENDING;
}

void ax_abort(ax_task *t) {
    uint64_t s = atomic_fetch_or_explicit(&t->state, AX__T_CANCEL, memory_order_acq_rel);
    if (!(s & AX__T_CANCEL)) ax__task_wake(t);
}

void ax_detach(ax_task *t) {
    if (t) ax__task_unref(t);
}

/* Join as a future. The joiner's waker is handed over through the state
 * word: the joiner writes join_waker, then sets JOIN_WAKER; the completer
 * sets COMPLETE and, if JOIN_WAKER was set, takes the waker. Whoever loses
 * the race learns it from the value its own atomic operation returned. */
static int ax__final_code(const ax_task *t) {
    switch (t->final_state) {
    case AX_TASK_COMPLETED:
        return 0;
    case AX_TASK_CANCELLED:
        return AX_ECANCELED;
    default:
        return t->err ? t->err : AX_EFAILED;
    }
}

static ax_poll ax__join_ready(ax_join_future *jf) {
    jf->value = jf->task->value;
    jf->base.result = ax__final_code(jf->task);
    return AX_READY;
}

/* Takes the stored waker back if the completer has not claimed it. Returns
 * false if the task completed (then the completer owns the waker). */
static bool ax__join_unset_waker(ax_task *t) {
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    for (;;) {
        if (s & AX__T_COMPLETE) return false;
        if (!(s & AX__T_JOIN_WAKER)) return true;
        if (atomic_compare_exchange_weak_explicit(&t->state, &s, s & ~(uint64_t)AX__T_JOIN_WAKER,
                                                  memory_order_acq_rel, memory_order_acquire)) {
            ax_waker_drop(&t->join_waker);
            return true;
        }
    }
}

static ax_poll ax__join_poll(ax_future *f, ax_context *cx) {
    ax_join_future *jf = (ax_join_future *)f;
    ax_task *t = jf->task;
    if (!t) return AX_READY;
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    if (s & AX__T_COMPLETE) return ax__join_ready(jf);
    if (s & AX__T_JOIN_WAKER) {
        if (ax_waker_will_wake(&t->join_waker, cx->waker)) return AX_PENDING;
        if (!ax__join_unset_waker(t)) return ax__join_ready(jf);
    }
    t->join_waker = ax_waker_clone(cx->waker);
    s = atomic_fetch_or_explicit(&t->state, AX__T_JOIN_WAKER, memory_order_acq_rel);
    if (s & AX__T_COMPLETE) {
        /* Completed before our waker was visible: the completer did not see
         * JOIN_WAKER and left it alone. */
        ax_waker_drop(&t->join_waker);
        return ax__join_ready(jf);
    }
    return AX_PENDING;
}

static void ax__join_drop(ax_future *f) {
    ax_join_future *jf = (ax_join_future *)f;
    ax_task *t = jf->task;
    if (!t) return;
    ax__join_unset_waker(t);
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

/* Help-first join. A child that has not been picked up yet and sits where
 * this worker put it last (its LIFO slot, or the tail of its queue) is run
 * now, on its own stack, with the joiner waiting still RUNNING instead of
 * suspending: no waker is registered, no wake-up is needed, and the child's
 * stack (fresh from the cache) goes back to the cache before the joiner
 * goes on, so a fork-join tree is walked depth first with one stack per
 * level, like a Cilk or rayon join. If the child leaves the CPU before it
 * ends (it waits, or yields), ax__task_leave switches back to the joiner,
 * which then waits for it the usual way. Tasks that were stolen, or queued
 * deeper, are waited for the usual way too.
 *
 * Fairness: such a stretch of joins never goes back to the worker's queues,
 * so every AX__SLICE_CHECK of them the clock is read, and after
 * AX__SLICE_NS the task yields and the worker serves its timers and I/O. */
#define AX__SLICE_CHECK 64u
#define AX__SLICE_NS    2000000u /* 2 ms */

static void ax__join_slice(ax__worker *w, ax_task *self) {
    if (++w->sync_runs % AX__SLICE_CHECK) return;
    ax_instant now = ax_now();
    if (w->sync_runs == AX__SLICE_CHECK) {
        w->slice_start = now;
        return;
    }
    if (now - w->slice_start < AX__SLICE_NS) return;
    w->last_maintenance = w->ticks - AX__MAINTENANCE_EVERY; /* due now */
    ax__task_leave(self, AX__EXIT_YIELD);
}

static void ax__join_help(ax_task *t) {
    ax__worker *w = ax__worker_current();
    if (!w || w->rt != t->rt) return;
    ax_task *self = w->current;
    if (!self || self == t) return;
    uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    if ((s & (AX__T_SCHEDULED | AX__T_COMPLETE)) != AX__T_SCHEDULED) return;
    /* A cancelled joiner returns AX_ECANCELED without waiting. */
    if (!self->shield && (atomic_load_explicit(&self->state, memory_order_relaxed) & AX__T_CANCEL))
        return;
    if (!ax__take_back(w, t)) return;
    if (ax__task_prepare(w, t)) { /* else t ended without running */
        t->sync_joiner = self;
        AX__COUNT(&w->stats, polls);
        w->budget = AX__BUDGET;
        w->current = t;
        w->prev = NULL; /* self stays RUNNING: it is waiting right here */
        ax__overflow_set_current(t->stack, t->id);
        ax__fiber_switch(&self->fiber, &t->fiber);
        /* Back: t ended, or left the CPU and has to be waited for. */
        w = ax__worker_current();
        ax__finish_prev(w);
    }
    ax__join_slice(w, self);
}

int ax_join(ax_task *t, void **result) {
    if (!t) return AX_EINVAL;
    ax__join_help(t);
    ax_join_future jf;
    ax_join_future_init(&jf, t);
    intptr_t r = ax_await(&jf.base);
    if (result) *result = jf.value;
    return (int)r;
}
