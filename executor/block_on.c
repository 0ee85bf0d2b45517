/* executor/block_on.c - driving a future from a plain thread.
 *
 * The thread parks on a condition variable between polls. The parker is
 * reference counted because a waker clone may outlive the call: a timer
 * can copy the waker out, the future completes through another path, and
 * the wake lands after ax_block_on has returned.
 */
#include "executor/internal.h"

#include <stdlib.h>

typedef struct ax__parker {
    _Atomic uint32_t refs;
    bool notified;
    ax_runtime *drive; /* a current-thread runtime this thread drives */
    pthread_mutex_t lock;
    pthread_cond_t cond;
} ax__parker;

static void ax__parker_unref(ax__parker *p) {
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
    }
}

static void *ax__pk_clone(void *d) {
    atomic_fetch_add_explicit(&((ax__parker *)d)->refs, 1, memory_order_relaxed);
    return d;
}

static void ax__pk_wake_by_ref(void *d) {
    ax__parker *p = d;
    pthread_mutex_lock(&p->lock);
    p->notified = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    /* The waiting thread may be blocked in the runtime's reactor. */
    if (p->drive) ax__reactor_notify(p->drive->reactor);
}

static void ax__pk_wake(void *d) {
    ax__pk_wake_by_ref(d);
    ax__parker_unref(d);
}

static void ax__pk_drop(void *d) {
    ax__parker_unref(d);
}

static const ax_waker_vtable ax__parker_vtable = {ax__pk_clone, ax__pk_wake, ax__pk_wake_by_ref,
                                                  ax__pk_drop};

intptr_t ax_block_on(ax_runtime *rt, ax_future *f) {
    if (ax__task_current()) {
        ax_future_drop(f);
        return AX_EBUSY;
    }
    ax__parker *p = calloc(1, sizeof(*p));
    if (!p) {
        ax_future_drop(f);
        return AX_ENOMEM;
    }
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->drive = rt->current_thread ? rt : NULL;
    ax_waker wk = {&ax__parker_vtable, p};
    ax_context cx = {&wk, rt};
    while (ax_future_poll(f, &cx) == AX_PENDING) {
        pthread_mutex_lock(&p->lock);
        if (p->drive) {
            /* No worker threads: run the runtime here until woken. */
            while (!p->notified) {
                pthread_mutex_unlock(&p->lock);
                int r = ax__drive_once(rt, -1);
                pthread_mutex_lock(&p->lock);
                if (r < 0) break; /* another thread drives it: just wait */
            }
        }
        while (!p->notified) pthread_cond_wait(&p->cond, &p->lock);
        p->notified = false;
        pthread_mutex_unlock(&p->lock);
    }
    intptr_t r = f->result;
    ax_future_drop(f);
    ax__parker_unref(p);
    return r;
}
