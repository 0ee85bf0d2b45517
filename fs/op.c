/* fs/op.c - file jobs as futures: the per-runtime concurrency bound and the
 * thread-pool backend (see fs_internal.h).
 *
 * A future goes INIT -> RUN -> DONE. INIT (first poll) finds the runtime
 * from the context, takes the policy and checks the job's paths against
 * it, so a denied operation never reaches a pool thread, then starts the
 * job on the blocking pool as a detachable job of the runtime's fs group
 * (ax__blocking_start_in): at most `limit` file jobs run at once, the
 * others wait FIFO in the group's queue inside the pool, and a pool thread
 * that finishes a file job takes the next one itself. (A semaphore the
 * tasks waited on did the same with two wake-ups and a sleeping thread per
 * job: twice the CPU per small-file operation at 64 tasks, bench/fs.) The
 * pool holds its own reference to the job; an abandoned operation counts
 * against the bound until its run() has really returned.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/cancel.h"
#include "axon/runtime.h"
#include "axon/time.h"
#include "executor/runtime_internal.h"
#include "fs/fs_internal.h"

enum { AX__FS_INIT, AX__FS_RUN, AX__FS_DONE };

/* ---- per-runtime state ------------------------------------------------------------------- */

static ax__fs_rt *ax__fs_rt_new(ax_runtime *rt, unsigned limit) {
    ax__fs_rt *fs = calloc(1, sizeof(*fs));
    if (!fs) return NULL;
    atomic_init(&fs->refs, 1);
    fs->limit = limit;
    fs->group = ax__blocking_group_new(rt, limit);
    fs->backend = &ax__fs_pool_backend;
    if (!fs->group) {
        free(fs);
        return NULL;
    }
    return fs;
}

void ax__fs_rt_unref(ax__fs_rt *fs) {
    if (fs && atomic_fetch_sub_explicit(&fs->refs, 1, memory_order_acq_rel) == 1) free(fs);
}

static void ax__fs_rt_slot_free(void *obj) {
    ax__fs_rt_unref(obj);
}

static ax__fs_rt *ax__fs_rt_install(ax_runtime *rt, unsigned limit, bool *mine) {
    ax__fs_rt *fs = ax__fs_rt_new(rt, limit);
    if (!fs) return NULL;
    ax__fs_rt *got = ax__runtime_slot_install(rt, AX__RT_SLOT_FS, fs, ax__fs_rt_slot_free);
    *mine = got == fs;
    if (!*mine) free(fs);
    return got;
}

static unsigned ax__fs_default_limit(ax_runtime *rt) {
    unsigned n = 2 * ax_runtime_workers(rt);
    return n < AX__FS_MIN_LIMIT ? AX__FS_MIN_LIMIT : n > AX__FS_MAX_LIMIT ? AX__FS_MAX_LIMIT : n;
}

ax__fs_rt *ax__fs_rt_of(ax_runtime *rt) {
    ax__fs_rt *fs = ax__runtime_slot(rt, AX__RT_SLOT_FS);
    if (fs) return fs;
    bool mine;
    return ax__fs_rt_install(rt, ax__fs_default_limit(rt), &mine);
}

int ax_fs_set_max_concurrency(ax_runtime *rt, unsigned n) {
    if (!rt || !n) return AX_EINVAL;
    if (ax__runtime_slot(rt, AX__RT_SLOT_FS)) return AX_EBUSY;
    bool mine;
    if (!ax__fs_rt_install(rt, n, &mine)) return AX_ENOMEM;
    return mine ? 0 : AX_EBUSY;
}

unsigned ax_fs_max_concurrency(ax_runtime *rt) {
    ax__fs_rt *fs = rt ? ax__runtime_slot(rt, AX__RT_SLOT_FS) : NULL;
    return fs ? fs->limit : rt ? ax__fs_default_limit(rt) : AX__FS_MAX_LIMIT;
}

/* ---- shared descriptors ------------------------------------------------------------------- */

ax__fsfd *ax__fsfd_new(int fd) {
    ax__fsfd *d = malloc(sizeof(*d));
    if (!d) {
        close(fd);
        return NULL;
    }
    atomic_init(&d->refs, 1);
    d->fd = fd;
    pthread_mutex_init(&d->wlock, NULL);
    return d;
}

ax__fsfd *ax__fsfd_ref(ax__fsfd *d) {
    atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
    return d;
}

void ax__fsfd_unref(ax__fsfd *d) {
    if (!d || atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1) return;
    close(d->fd);
    pthread_mutex_destroy(&d->wlock);
    free(d);
}

/* ---- jobs -------------------------------------------------------------------------------- */

ax__fsjob *ax__fsjob_new(const ax__fs_kind *k, const char *path, const char *path2) {
    ax__fsjob *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    atomic_init(&j->refs, 1);
    atomic_init(&j->abandoned, false);
    j->kind = k;
    j->aux_fd = -1;
    if ((path && !(j->path = strdup(path))) || (path2 && !(j->path2 = strdup(path2)))) {
        free(j->path);
        free(j);
        return NULL;
    }
    return j;
}

void ax__fsjob_unref(ax__fsjob *j) {
    if (!j || atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1) return;
    if (j->kind->cleanup) j->kind->cleanup(j);
    free(j->path);
    free(j->path2);
    if (!j->borrowed) free(j->data);
    ax__fsfd_unref(j->fd);
    if (j->aux_fd >= 0) close(j->aux_fd);
    ax__policy_release(j->policy);
    ax__fs_rt_unref(j->fs);
    free(j);
}

bool ax__fsjob_abandoned(ax__fsjob *j) {
    return atomic_load_explicit(&j->abandoned, memory_order_acquire);
}

static void *ax__fs_thunk(void *arg) {
    ax__fsjob *j = arg;
    if (ax__fsjob_abandoned(j))
        j->res = AX_ECANCELED; /* given up before it started: touch nothing */
    else
        j->kind->run(j);
    return j;
}

/* free_arg of the pool job: on the pool thread once run() returned (or on
 * whichever thread gave up on a job that never ran). */
static void ax__fs_pool_done(void *arg) {
    ax__fsjob_unref(arg);
}

/* ---- the future -------------------------------------------------------------------------- */

static ax_poll ax__fs_finish(ax_fs_future *f, intptr_t res) {
    ax__fsjob *j = f->job;
    f->job = NULL;
    f->state = AX__FS_DONE;
    if (j && j->kind->deliver) j->kind->deliver(j, res);
    f->base.result = res;
    ax__fsjob_unref(j);
    return AX_READY;
}

/* The policy check of INIT: every path the kind names must be allowed. */
static int ax__fs_precheck(ax__fsjob *j) {
    if (!j->policy) return 0;
    char rel[AX__FS_PATH_MAX];
    int root;
    if (j->path && j->kind->access) {
        int err = ax__policy_root_for(j->policy, j->kind->access, j->path, &root, rel, sizeof rel,
                                      NULL, 0);
        if (err) return err;
    }
    if (j->path2 && j->kind->access2) {
        int err = ax__policy_root_for(j->policy, j->kind->access2, j->path2, &root, rel, sizeof rel,
                                      NULL, 0);
        if (err) return err;
    }
    return 0;
}

static ax_poll ax__fs_pool_poll(ax_fs_future *f, ax_context *cx) {
    for (;;) {
        ax__fsjob *j = f->job;
        switch (f->state) {
        case AX__FS_DONE:
            return AX_READY;
        case AX__FS_INIT: {
            ax_runtime *rt = cx->runtime ? cx->runtime : ax_current_runtime();
            if (!rt) return ax__fs_finish(f, AX_ENOTASK);
            ax__fs_rt *fs = ax__fs_rt_of(rt);
            if (!fs) return ax__fs_finish(f, AX_ENOMEM);
            atomic_fetch_add_explicit(&fs->refs, 1, memory_order_relaxed);
            j->fs = fs;
            j->policy = ax__policy_acquire(rt);
            int err = ax__fs_precheck(j);
            if (err) return ax__fs_finish(f, err);
            atomic_fetch_add_explicit(&j->refs, 1, memory_order_relaxed); /* the pool's */
            /* cx's waker goes with the job: no poll is needed to register
             * it (a lock round trip per operation). */
            err = ax__blocking_start_waking(&f->bf, rt, fs->group, ax__fs_thunk, j,
                                            ax__fs_pool_done, NULL, cx->waker);
            if (err) {
                ax_future_drop(&f->bf.base);
                atomic_fetch_sub_explicit(&j->refs, 1, memory_order_relaxed); /* ours remains */
                return ax__fs_finish(f, err);
            }
            f->state = AX__FS_RUN;
            return AX_PENDING;
        }
        case AX__FS_RUN: {
            if (ax_future_poll(&f->bf.base, cx) == AX_PENDING) return AX_PENDING;
            intptr_t r = f->bf.base.result;
            ax_future_drop(&f->bf.base);
            f->state = AX__FS_INIT;
            return ax__fs_finish(f, r == 0 ? j->res : r);
        }
        }
    }
}

static void ax__fs_pool_drop(ax_fs_future *f) {
    ax__fsjob *j = f->job;
    if (f->state == AX__FS_RUN) {
        atomic_store_explicit(&j->abandoned, true, memory_order_release);
        ax_future_drop(&f->bf.base);
    }
    f->state = AX__FS_DONE;
    f->job = NULL;
    ax__fsjob_unref(j);
}

const ax__fs_backend ax__fs_pool_backend = {"threadpool", ax__fs_pool_poll, ax__fs_pool_drop};

static const ax__fs_backend *ax__fs_backend_of(ax_fs_future *f) {
    return f->job && f->job->fs ? f->job->fs->backend : &ax__fs_pool_backend;
}

static ax_poll ax__fs_future_poll(ax_future *fu, ax_context *cx) {
    ax_fs_future *f = (ax_fs_future *)fu;
    if (f->state == AX__FS_DONE) return AX_READY;
    return ax__fs_backend_of(f)->poll(f, cx);
}

static void ax__fs_future_drop(ax_future *fu) {
    ax_fs_future *f = (ax_fs_future *)fu;
    if (f->state == AX__FS_DONE) return;
    ax__fs_backend_of(f)->drop(f);
}

static const ax_future_vtable ax__fs_future_vtable = {ax__fs_future_poll, ax__fs_future_drop};

void ax__fs_future_init(ax_fs_future *f, ax__fsjob *j) {
    f->base.vtable = &ax__fs_future_vtable;
    f->base.result = 0;
    f->job = j;
    f->state = AX__FS_INIT;
    if (!j) {
        f->state = AX__FS_DONE;
        f->base.result = AX_ENOMEM;
    }
}

void ax__fs_future_fail(ax_fs_future *f, int err) {
    ax__fs_future_init(f, NULL);
    f->base.result = err;
}

intptr_t ax__fs_await(ax_fs_future *f, ax_instant deadline) {
    return ax_await_until(&f->base, deadline);
}

intptr_t ax__fs_await_borrowed(ax_fs_future *f, ax_instant deadline, size_t *done) {
    ax__fsjob *j = f->job;
    if (done) *done = 0;
    if (j) atomic_fetch_add_explicit(&j->refs, 1, memory_order_relaxed);
    intptr_t r = ax_await_until(&f->base, deadline);
    if (!j) return r;
    /* A job still running (detached) may be reading our bytes right now. */
    bool shielded = false;
    for (;;) {
        int held = AX__LEND_IDLE;
        if (atomic_compare_exchange_weak_explicit(&j->lend, &held, AX__LEND_GONE,
                                                  memory_order_acq_rel, memory_order_acquire))
            break;
        if (held == AX__LEND_WRITING) {
            if (!shielded) ax_shield_begin();
            shielded = true;
            if (ax_sleep(1) != AX_ENOTASK) continue;
        }
        sched_yield();
    }
    if (shielded) ax_shield_end();
    if (done) *done = j->lent_done;
    ax__fsjob_unref(j);
    return r;
}

/* Takes the loan for one copy or write (as: COPYING or WRITING); false
 * once the caller has taken its bytes back. */
static bool ax__loan_take(ax__fsjob *j, int as) {
    int idle = AX__LEND_IDLE;
    return atomic_compare_exchange_strong_explicit(&j->lend, &idle, as, memory_order_acquire,
                                                   memory_order_acquire);
}

static void ax__loan_give(ax__fsjob *j) {
    atomic_store_explicit(&j->lend, AX__LEND_IDLE, memory_order_release);
}

ssize_t ax__fs_lent_pwrite(ax__fsjob *j, int fd, uint64_t off, size_t len) {
    if (!ax__loan_take(j, AX__LEND_WRITING)) return AX_ECANCELED;
    size_t left = j->dlen - j->lent_done;
    if (len > left) len = left;
    ssize_t n;
    do n = pwrite(fd, (const uint8_t *)j->data + j->lent_done, len, (off_t)(off + j->lent_done));
    while (n < 0 && errno == EINTR);
    if (n > 0) j->lent_done += (size_t)n;
    ax__loan_give(j);
    return n < 0 ? ax_translate_sys_error(errno) : n;
}

int ax__fs_lent_copy(ax__fsjob *j, void *dst, size_t off, size_t len) {
    if (!ax__loan_take(j, AX__LEND_COPYING)) return AX_ECANCELED;
    memcpy(dst, (const uint8_t *)j->data + off, len);
    ax__loan_give(j);
    return 0;
}
