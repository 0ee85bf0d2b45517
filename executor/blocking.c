/* executor/blocking.c - the blocking pool: ax_spawn_blocking and
 * ax_blocking_future (see axon/blocking.h for the contract).
 *
 * One mutex guards the queue, the running list, the counters and every
 * job's state and waker; jobs are not the per-poll hot path, and a single
 * lock keeps the hand-overs (queued -> running -> done, cancel, drop,
 * shutdown) obviously race-free. Wakers are cloned under it (an atomic
 * increment) but woken and dropped after it is released.
 *
 * Threads, like tokio's and unlike libuv's, start on demand: a job that
 * finds an idle thread hands it a wake-up; else, if a thread is on its
 * way to the queue for each runnable job (`back`: it has just finished a
 * job, the common case of a task submitting its next job as soon as the
 * last one woke it; `wakeups`: woken, not yet running; `starting`:
 * created, not yet running), one of them will take it; else a new thread
 * starts if the pool is below its bound; else the job waits in the FIFO
 * queue for a busy thread. Counting the woken and the starting matters
 * where a wake-up takes tens of µs: without them every job submitted
 * meanwhile started a thread, and 64 tasks doing small-file work ran on
 * 17-21 pool threads for an fs bound of 4, each burst waking a different
 * few (test fs_stream::file_burst_starts_no_more_threads_than_the_bound).
 * An idle thread exits after
 * idle_ms; threads are detached and hold a reference to the pool, so one
 * still stuck in a job after shutdown keeps the pool's memory alive.
 *
 * Groups (used by fs/ for its bound on file jobs): a job of a group with
 * `limit` of its jobs already running waits in the group's own FIFO queue
 * inside the pool, not as a task; a thread picks the oldest job that may
 * run (the main queue's head, or a group's head while the group has room),
 * so a thread that finishes a group's job goes straight on with the next
 * one, without a hand-off through a task and without sleeping. Such a job
 * wakes no thread when it is queued: nobody could run it yet.
 *
 * Jobs are malloc'd and shared by two sides, the pool and the waiter (an
 * ax_blocking_future or an ax_spawn_blocking call): whichever side is done
 * second frees the job. The pool is done when it marks the job DONE; the
 * waiter when it has read the outcome, or (a future only) when it is
 * dropped, which marks the job detached if it is not DONE yet.
 */
#include "executor/blocking.h"
#include "executor/internal.h"
#ifndef _WIN32
#include "reactor/os_unix.h"
#endif

#include <errno.h>
#ifdef _WIN32
#include <windows.h>
/* Windows 10 1607+; older mingw-w64 headers do not declare it. */
HRESULT WINAPI SetThreadDescription(HANDLE thread, PCWSTR description);
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AX__BLOCKING_MAX_THREADS 64u
#define AX__BLOCKING_IDLE_MS     10000u

enum { AX__J_QUEUED, AX__J_RUNNING, AX__J_DONE };

struct ax__bjob {
    struct ax__bjob *prev, *next; /* in a queue or the running list */
    struct ax__blocking *pool;
    struct ax__blocking_group *group; /* NULL: none */
    uint64_t seq;                     /* queue order across the queues */
    ax_blocking_fn fn;
    void *arg;
    void (*free_arg)(void *);
    void (*free_result)(void *);
    void *value; /* fn's result, once DONE with code 0 */
    int code;    /* once DONE: 0, AX_ESHUTDOWN, AX_ECANCELED, or a spawn error */
    /* Written under the lock; DONE is stored last (release), and the pool
     * never touches a job it published to a waiter again, so the waiter's
     * poll may see DONE without the lock (acquire) and read code and value. */
    _Atomic uint8_t state;
    bool detached; /* the waiting side is gone: the pool frees the job */
    bool orphaned; /* shutdown stopped waiting: nobody is woken any more */
    ax_waker waker;
};

struct ax__blocking_group {
    struct ax__blocking_group *next; /* in the pool's list */
    struct ax__blocking *pool;
    unsigned limit, running;
    struct ax__bjob *head, *tail; /* queued, oldest first */
    size_t queued;
};

struct ax__blocking {
    pthread_mutex_t lock;
    pthread_cond_t work;          /* idle threads wait here */
    pthread_cond_t exited;        /* shutdown waits here for the last thread */
    struct ax__bjob *head, *tail; /* queued without a group, oldest first */
    struct ax__bjob *running;
    struct ax__blocking_group *groups;
    uint64_t seq;
    unsigned max_threads, idle_ms;
    unsigned threads;  /* alive, or being started */
    unsigned idle;     /* waiting for work, minus wake-ups handed to them */
    unsigned wakeups;  /* wake-ups handed out, not yet taken */
    unsigned busy;     /* running a job */
    unsigned back;     /* finished a job, about to look at the queue again */
    unsigned starting; /* created, not yet looking at the queue */
    size_t queued;
    _Atomic size_t held_hint;     /* queued jobs a group's bound holds back */
    _Atomic size_t runnable_hint; /* queued jobs a thread may start now */
    atomic_bool spinning;         /* a thread back from a job watches the queue */
    ax_runtime *rt;               /* the owner; read under lock while !shutdown */
    atomic_uint spin_shift;       /* the next watch lasts AX__POOL_SPIN_NS >> it */
    _Atomic ax_instant missed_at; /* when the last watch that saw no job began, or 0 */
    uint64_t jobs;                /* run to completion */
    bool shutdown;
    _Atomic size_t refs; /* the runtime, each thread, each job */
};

/* ---- the pool object ----------------------------------------------------------------------- */

#ifdef _WIN32
/* No reactor/os_unix.h here: winpthreads' condition variables, whose
 * timed waits read the deadline on the realtime clock whatever the
 * condattr says, so the monotonic deadline is moved there. */
static int ax__cond_init_mono(pthread_cond_t *c) {
    return pthread_cond_init(c, NULL);
}
#define ax__cond_timedwait_mono pthread_cond_timedwait

static struct timespec ax__timespec(ax_instant t) {
    ax_instant now = ax_now();
    uint64_t left = t > now ? t - now : 0;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t ns = (uint64_t)rt.tv_nsec + left % 1000000000u;
    struct timespec ts = {rt.tv_sec + (time_t)(left / 1000000000u + ns / 1000000000u),
                          (long)(ns % 1000000000u)};
    return ts;
}
#else
static struct timespec ax__timespec(ax_instant t) {
    struct timespec ts = {(time_t)(t / 1000000000u), (long)(t % 1000000000u)};
    return ts;
}
#endif

int ax__blocking_new(struct ax__blocking **out, ax_runtime *rt, unsigned max_threads,
                     unsigned idle_ms) {
    struct ax__blocking *b = calloc(1, sizeof(*b));
    if (!b) return AX_ENOMEM;
    b->rt = rt;
    b->max_threads = max_threads ? max_threads : AX__BLOCKING_MAX_THREADS;
    b->idle_ms = idle_ms ? idle_ms : AX__BLOCKING_IDLE_MS;
    atomic_init(&b->refs, 1);
    if (pthread_mutex_init(&b->lock, NULL)) {
        free(b);
        return AX_ENOMEM;
    }
    if (ax__cond_init_mono(&b->work)) {
        pthread_mutex_destroy(&b->lock);
        free(b);
        return AX_ENOMEM;
    }
    if (ax__cond_init_mono(&b->exited)) {
        pthread_cond_destroy(&b->work);
        pthread_mutex_destroy(&b->lock);
        free(b);
        return AX_ENOMEM;
    }
    *out = b;
    return 0;
}

static void ax__pool_ref(struct ax__blocking *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

static void ax__pool_unref(struct ax__blocking *b) {
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    pthread_cond_destroy(&b->exited);
    pthread_cond_destroy(&b->work);
    pthread_mutex_destroy(&b->lock);
    while (b->groups) {
        struct ax__blocking_group *g = b->groups;
        b->groups = g->next;
        free(g);
    }
    free(b);
}

int ax__blocking_init(ax_runtime *rt, unsigned max_threads, unsigned idle_ms) {
    if (!max_threads && !idle_ms) return 0;
    struct ax__blocking *b;
    int err = ax__blocking_new(&b, rt, max_threads, idle_ms);
    if (err) return err;
    struct ax__blocking *expected = NULL;
    if (!atomic_compare_exchange_strong(&rt->blocking, &expected, b)) ax__pool_unref(b);
    return 0;
}

size_t ax__blocking_held(ax_runtime *rt) {
    /* acquire: pairs with the publication in ax__blocking_of, so the
     * fields calloc zeroed are seen zeroed (TSan saw the plain load race). */
    struct ax__blocking *b = atomic_load_explicit(&rt->blocking, memory_order_acquire);
    return b ? atomic_load_explicit(&b->held_hint, memory_order_relaxed) : 0;
}

/* The pool whose thread is waking the waiter of a job that just ended
 * there, for ax__blocking_defers_wake. */
static __thread struct ax__blocking *ax__waking_for;

bool ax__blocking_defers_wake(ax_runtime *rt) {
    struct ax__blocking *b = ax__waking_for;
    if (!b || b->rt != rt || rt->current_thread) return false;
    size_t held = atomic_load_explicit(&b->held_hint, memory_order_relaxed);
    return held && atomic_load_explicit(&rt->inject_len, memory_order_relaxed) < held &&
           ax__sleeper_looks_soon(rt);
}

struct ax__blocking *ax__blocking_of(ax_runtime *rt) {
    struct ax__blocking *b = atomic_load_explicit(&rt->blocking, memory_order_acquire);
    if (b || ax__blocking_new(&b, rt, 0, 0)) return b;
    struct ax__blocking *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&rt->blocking, &expected, b, memory_order_acq_rel,
                                                memory_order_acquire))
        return b;
    ax__pool_unref(b); /* another thread created it first */
    return expected;
}

/* ---- lists (under b->lock) ----------------------------------------------------------------- */

static size_t ax__runnable(const struct ax__blocking *b);

/* Under b->lock: publishes how many queued jobs their group's bound holds
 * back (for ax__blocking_held) and how many may start now (for a thread
 * watching the queue, ax__back_spin), readable without the lock. */
static void ax__hints_update(struct ax__blocking *b) {
    size_t r = ax__runnable(b);
    atomic_store_explicit(&b->held_hint, b->queued - r, memory_order_relaxed);
    atomic_store_explicit(&b->runnable_hint, r, memory_order_relaxed);
}

static void ax__queue_push(struct ax__blocking *b, struct ax__bjob *j) {
    struct ax__bjob **head = j->group ? &j->group->head : &b->head;
    struct ax__bjob **tail = j->group ? &j->group->tail : &b->tail;
    j->seq = ++b->seq;
    j->next = NULL;
    j->prev = *tail;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
    if (j->group) j->group->queued++;
    b->queued++;
    ax__hints_update(b);
}

static void ax__queue_remove(struct ax__blocking *b, struct ax__bjob *j) {
    struct ax__bjob **head = j->group ? &j->group->head : &b->head;
    struct ax__bjob **tail = j->group ? &j->group->tail : &b->tail;
    if (j->prev)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        *tail = j->prev;
    j->prev = j->next = NULL;
    if (j->group) j->group->queued--;
    b->queued--;
    ax__hints_update(b);
}

/* Queued jobs a thread may start now. */
static size_t ax__runnable(const struct ax__blocking *b) {
    size_t n = b->queued;
    for (const struct ax__blocking_group *g = b->groups; g; g = g->next) {
        size_t room = g->running < g->limit ? g->limit - g->running : 0;
        if (g->queued > room) n -= g->queued - room;
    }
    return n;
}

/* Threads that will look at the queue without being woken: back from a
 * job, woken and not yet running, or just started. */
static size_t ax__coming(const struct ax__blocking *b) {
    return (size_t)b->back + b->wakeups + b->starting;
}

/* Takes the oldest queued job that may start now out of its queue (NULL:
 * none); a group's job counts as running in its group from here on. */
static struct ax__bjob *ax__queue_pick(struct ax__blocking *b) {
    struct ax__bjob *j = b->head;
    for (struct ax__blocking_group *g = b->groups; g; g = g->next)
        if (g->head && g->running < g->limit && (!j || g->head->seq < j->seq)) j = g->head;
    if (!j) return NULL;
    if (j->group) j->group->running++; /* first: the removal publishes both */
    ax__queue_remove(b, j);
    return j;
}

/* Any queued job, runnable or not (for failing them all), or NULL. */
static struct ax__bjob *ax__queue_any(const struct ax__blocking *b) {
    if (b->head) return b->head;
    for (const struct ax__blocking_group *g = b->groups; g; g = g->next)
        if (g->head) return g->head;
    return NULL;
}

static void ax__running_push(struct ax__blocking *b, struct ax__bjob *j) {
    j->prev = NULL;
    j->next = b->running;
    if (b->running) b->running->prev = j;
    b->running = j;
}

static void ax__running_remove(struct ax__blocking *b, struct ax__bjob *j) {
    if (j->prev)
        j->prev->next = j->next;
    else
        b->running = j->next;
    if (j->next) j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

/* ---- jobs ---------------------------------------------------------------------------------- */

static void ax__job_free(struct ax__bjob *j) {
    struct ax__blocking *b = j->pool;
    free(j);
    ax__pool_unref(b);
}

/* Under b->lock: publishes j's outcome. The caller, after unlocking, wakes
 * *wake and, if this returns true (the waiter is gone), releases the result
 * and frees the job; otherwise it must not touch j again. */
static bool ax__job_publish(struct ax__bjob *j, int code, void *value, ax_waker *wake) {
    bool detached = j->detached;
    j->code = code;
    j->value = value;
    *wake = j->waker;
    j->waker = (ax_waker){0};
    /* Last: a waiter that sees DONE without the lock may free j at once. */
    atomic_store_explicit(&j->state, AX__J_DONE, memory_order_release);
    return detached;
}

/* After ax__job_publish, without the lock. */
static void ax__job_published(struct ax__bjob *j, bool free_job, int code, void *value,
                              ax_waker *wake) {
    ax_waker_wake(wake);
    if (!free_job) return;
    if (code == 0 && j->free_result) j->free_result(value);
    ax__job_free(j);
}

/* ---- threads ------------------------------------------------------------------------------- */

/* Under b->lock, queue empty: waits as an idle thread. False when the idle
 * timeout passed and the thread should exit. */
static bool ax__wait_for_work(struct ax__blocking *b) {
    b->idle++;
    struct timespec ts = ax__timespec(ax_now() + (ax_instant)b->idle_ms * 1000000u);
    for (;;) {
        int rc = ax__cond_timedwait_mono(&b->work, &b->lock, &ts);
        if (b->wakeups) { /* the submitter already took us off `idle` */
            b->wakeups--;
            return true;
        }
        if (b->shutdown || rc == ETIMEDOUT) {
            b->idle--;
            return b->shutdown || ax__runnable(b);
        }
    }
}

/* Under b->lock: j, just taken out of its queue, starts on this thread. */
static void ax__job_begin(struct ax__blocking *b, struct ax__bjob *j) {
    /* A group's job made runnable by the one that just ended, left behind
     * an older job taken here, needs another thread. */
    if (b->idle && ax__runnable(b) > ax__coming(b)) {
        b->idle--;
        b->wakeups++;
        pthread_cond_signal(&b->work);
    }
    ax__running_push(b, j);
    j->state = AX__J_RUNNING;
    b->busy++;
}

/* A thread back from a job, with nothing queued, watches the queue for up
 * to AX__POOL_SPIN_NS before it sleeps (one thread at a time; halved after
 * each watch that saw nothing, down to 1.6 µs, and back to 50 µs after one
 * that saw a job or when ax__spin_missed_by says a full one would have),
 * so a task that submits its next job as soon as the last one woke it
 * (open, then write; read, then read) finds a thread awake instead of
 * paying a condition-variable wake-up, which takes tens of µs across
 * vCPUs here. One task doing stat() jobs back to back: 92k round
 * trips/s before, 300k with it; small-file creates through a handle (an
 * open job, then a write job), 17k/s before, 30k with it (bench/fs); with
 * 64 in flight the queue seldom empties, and nothing changed. */
#define AX__POOL_SPIN_NS        50000u
#define AX__POOL_SPIN_SHIFT_MAX 5

static void ax__back_spin(struct ax__blocking *b) {
    if (atomic_load_explicit(&b->runnable_hint, memory_order_relaxed)) return;
    if (atomic_exchange_explicit(&b->spinning, true, memory_order_acquire)) return;
    unsigned shift = atomic_load_explicit(&b->spin_shift, memory_order_relaxed);
    ax_instant start = ax_now(), limit = AX__POOL_SPIN_NS >> shift;
    bool found = false;
    while (!found) {
        for (int i = 0; i < 16; i++) ax__cpu_relax();
        found = atomic_load_explicit(&b->runnable_hint, memory_order_relaxed) != 0;
        if (ax_now() - start >= limit) break;
    }
    /* A reset by ax__spin_missed_by meanwhile may be lost: a hint. */
    if (found) {
        atomic_store_explicit(&b->spin_shift, 0, memory_order_relaxed);
    } else {
        if (shift < AX__POOL_SPIN_SHIFT_MAX)
            atomic_store_explicit(&b->spin_shift, shift + 1, memory_order_relaxed);
        atomic_store_explicit(&b->missed_at, start, memory_order_relaxed);
    }
    atomic_store_explicit(&b->spinning, false, memory_order_release);
}

/* A job that had to wake a sleeping thread: if it came within a full watch
 * of the last watch that gave up, a full watch would have caught it, so the
 * next one lasts AX__POOL_SPIN_NS again. Without this a shortened watch
 * never recovers when jobs come a little later than a wake-up's round trip
 * (1 MiB handle writes, one every ~500 µs, each submitted ~30 µs after the
 * last ended: the watch saw 0 of 1,024 with it halving, ~75% at 50 µs). */
static void ax__spin_missed_by(struct ax__blocking *b) {
    ax_instant missed = atomic_load_explicit(&b->missed_at, memory_order_relaxed);
    if (!missed) return;
    if (ax_now() - missed < AX__POOL_SPIN_NS)
        atomic_store_explicit(&b->spin_shift, 0, memory_order_relaxed);
    atomic_store_explicit(&b->missed_at, 0, memory_order_relaxed);
}

/* The job this pool thread is running, for ax__blocking_ending_soon. */
static __thread struct ax__bjob *ax__job_running;

static void ax__job_expects_end(ax_instant within, bool wake) {
    struct ax__bjob *j = ax__job_running;
    if (!j) return;
    struct ax__blocking *b = j->pool;
    if (within > AX__BLOCKING_SOON_MAX_NS) within = AX__BLOCKING_SOON_MAX_NS;
    /* Under the lock: shutdown sets `shutdown` under it before the runtime
     * can be freed, and a job nobody waits for wakes nobody. */
    pthread_mutex_lock(&b->lock);
    if (!b->shutdown && !j->detached && !j->orphaned)
        ax__expect_work(b->rt, ax_now() + within, wake);
    pthread_mutex_unlock(&b->lock);
}

void ax__blocking_ending_soon(ax_instant within) {
    ax__job_expects_end(within, true);
}

void ax__blocking_keep_spinning(ax_instant within) {
    ax__job_expects_end(within, false);
}

static void *ax__blocking_thread(void *arg) {
    struct ax__blocking *b = arg;
#ifdef _WIN32
    /* What debuggers and tools show (winpthreads keeps no name for a
     * detached thread). */
    SetThreadDescription(GetCurrentThread(), L"axon-blocking");
#elif defined(__GLIBC__)
    pthread_setname_np(pthread_self(), "axon-blocking");
#endif
    pthread_mutex_lock(&b->lock);
    b->starting--;
    for (;;) {
        if (b->shutdown) break; /* what is still queued is shutdown's to fail */
        struct ax__bjob *j = ax__queue_pick(b);
        if (!j) {
            if (!ax__wait_for_work(b)) break;
            continue;
        }
        ax__job_begin(b, j);
        pthread_mutex_unlock(&b->lock);
        /* Runs j, then each job taken in the critical section that ended
         * the one before (one lock round trip per job while the queue
         * holds work, as with 64 tasks on the fs group). */
        while (j) {
            ax__job_running = j;
            void *v = j->fn(j->arg);
            ax__job_running = NULL;
            if (j->free_arg) j->free_arg(j->arg);
            pthread_mutex_lock(&b->lock);
            b->busy--;
            b->jobs++;
            ax__running_remove(b, j);
            /* Read before the publication: its waiter may free j then. */
            struct ax__blocking_group *g = j->group;
            if (g) g->running--;
            ax_waker wake;
            bool free_job = ax__job_publish(j, 0, v, &wake);
            struct ax__bjob *next = b->shutdown ? NULL : ax__queue_pick(b);
            if (next) {
                ax__job_begin(b, next); /* the pick published the hints */
            } else {
                if (g) ax__hints_update(b); /* the group's slot freed */
                b->back++;
            }
            pthread_mutex_unlock(&b->lock);
            ax__waking_for = b;
            ax__job_published(j, free_job, 0, v, &wake);
            ax__waking_for = NULL;
            j = next;
        }
        ax__back_spin(b);
        pthread_mutex_lock(&b->lock);
        b->back--;
    }
    if (--b->threads == 0) pthread_cond_broadcast(&b->exited);
    pthread_mutex_unlock(&b->lock);
    ax__pool_unref(b);
    return NULL;
}

/* Starts a detached pool thread with every asynchronous signal blocked (a
 * signal the runtime reads through its signalfd must stay pending for the
 * process, not be taken by a thread that happens to allow it). */
static int ax__start_thread(struct ax__blocking *b) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr)) return AX_ENOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
#ifndef _WIN32
    sigset_t all, old;
    sigfillset(&all);
    static const int sync_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    for (size_t i = 0; i < sizeof sync_signals / sizeof sync_signals[0]; i++)
        sigdelset(&all, sync_signals[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
#endif
    ax__pool_ref(b);
    pthread_t th;
    int e = pthread_create(&th, &attr, ax__blocking_thread, b);
#ifndef _WIN32
    pthread_sigmask(SIG_SETMASK, &old, NULL);
#endif
    pthread_attr_destroy(&attr);
    if (e) {
        ax__pool_unref(b); /* never the last: the caller's job holds one */
        return -e;
    }
    return 0;
}

/* Queues j and makes sure a thread will run it. Errors: AX_ESHUTDOWN, or
 * the thread-creation error when no thread exists to run it (j is then not
 * queued; jobs of others that were waiting for that thread complete with
 * the error). */
static int ax__submit(struct ax__blocking *b, struct ax__bjob *j) {
    pthread_mutex_lock(&b->lock);
    if (b->shutdown) {
        pthread_mutex_unlock(&b->lock);
        return AX_ESHUTDOWN;
    }
    j->state = AX__J_QUEUED;
    ax__queue_push(b, j);
    struct ax__blocking_group *g = j->group;
    if (g && g->running + g->queued > g->limit) {
        /* The group is full: one of its running jobs' threads takes it. */
        pthread_mutex_unlock(&b->lock);
        return 0;
    }
    if (b->idle) {
        b->idle--;
        b->wakeups++;
        pthread_cond_signal(&b->work);
        pthread_mutex_unlock(&b->lock);
        ax__spin_missed_by(b);
        return 0;
    }
    /* A thread that just finished a job takes it (the usual case when
     * the waiter of that job submits the next one); at the bound, a busy
     * thread will. */
    if (ax__runnable(b) <= ax__coming(b) || b->threads >= b->max_threads) {
        pthread_mutex_unlock(&b->lock);
        return 0;
    }
    b->threads++;
    b->starting++;
    pthread_mutex_unlock(&b->lock);
    int err = ax__start_thread(b);
    if (!err) return 0;

    pthread_mutex_lock(&b->lock);
    b->starting--;
    if (--b->threads) { /* others will get to it */
        pthread_mutex_unlock(&b->lock);
        return 0;
    }
    pthread_cond_broadcast(&b->exited);
    if (j->state != AX__J_QUEUED) { /* shutdown took it and completes it */
        pthread_mutex_unlock(&b->lock);
        return 0;
    }
    ax__queue_remove(b, j);
    /* Nobody runs the rest of the queue either: fail it. */
    struct ax__bjob *o;
    while ((o = ax__queue_any(b))) {
        ax__queue_remove(b, o);
        o->state = AX__J_RUNNING; /* being failed: not the waiter's to remove */
        pthread_mutex_unlock(&b->lock);
        if (o->free_arg) o->free_arg(o->arg);
        pthread_mutex_lock(&b->lock);
        ax_waker wake;
        bool free_job = ax__job_publish(o, err, NULL, &wake);
        pthread_mutex_unlock(&b->lock);
        ax__job_published(o, free_job, err, NULL, &wake);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return err;
}

/* A new job for rt's pool, queued. */
static int ax__job_start(ax_runtime *rt, struct ax__blocking_group *group, ax_blocking_fn fn,
                         void *arg, void (*free_arg)(void *), void (*free_result)(void *),
                         const ax_waker *waker, struct ax__bjob **out) {
    if (!fn) return AX_EINVAL;
    if (!rt) rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    struct ax__blocking *b = atomic_load_explicit(&rt->blocking, memory_order_acquire);
    if (!b) {
        if (atomic_load_explicit(&rt->shutting_down, memory_order_acquire)) return AX_ESHUTDOWN;
        if (!(b = ax__blocking_of(rt))) return AX_ENOMEM;
    }
    struct ax__bjob *j = calloc(1, sizeof(*j));
    if (!j) return AX_ENOMEM;
    j->pool = b;
    j->group = group && group->pool == b ? group : NULL;
    j->fn = fn;
    j->arg = arg;
    j->free_arg = free_arg;
    j->free_result = free_result;
    if (waker && waker->vtable) j->waker = ax_waker_clone(waker); /* before anyone sees j */
    ax__pool_ref(b);
    int err = ax__submit(b, j);
    if (err) {
        ax_waker_drop(&j->waker);
        ax__job_free(j);
        return err;
    }
    *out = j;
    return 0;
}

/* ---- the two forms ------------------------------------------------------------------------- */

int ax_spawn_blocking(ax_blocking_fn fn, void *arg, void **result) {
    if (result) *result = NULL;
    ax_task *t = ax__task_current();
    if (!t) return AX_ENOTASK;
    if (ax_is_cancelled()) return AX_ECANCELED;
    struct ax__bjob *j;
    int err = ax__job_start(t->rt, NULL, fn, arg, NULL, NULL, NULL, &j);
    if (err) return err;
    struct ax__blocking *b = j->pool;
    /* Not ax_await: that returns as soon as the task is cancelled, and the
     * job may be writing into this task's stack. Cancellation only takes a
     * job that has not started out of the queue. */
    for (;;) {
        ax_waker old = {0};
        pthread_mutex_lock(&b->lock);
        if (j->state == AX__J_DONE) {
            pthread_mutex_unlock(&b->lock);
            break;
        }
        if (j->state == AX__J_QUEUED && ax_is_cancelled()) {
            ax__queue_remove(b, j);
            j->state = AX__J_DONE;
            j->code = AX_ECANCELED;
            old = j->waker;
            j->waker = (ax_waker){0};
            pthread_mutex_unlock(&b->lock);
            ax_waker_drop(&old);
            break;
        }
        if (!ax_waker_will_wake(&j->waker, &t->self_waker)) {
            old = j->waker;
            j->waker = ax_waker_clone(&t->self_waker);
        }
        pthread_mutex_unlock(&b->lock);
        ax_waker_drop(&old);
        ax__task_suspend(t);
    }
    int code = j->code;
    void *value = j->value;
    ax__job_free(j);
    if (result) *result = value;
    return ax_is_cancelled() ? AX_ECANCELED : code;
}

static ax_poll ax__bf_poll(ax_future *f, ax_context *cx) {
    ax_blocking_future *bf = (ax_blocking_future *)f;
    struct ax__bjob *j = bf->job;
    if (!j) return AX_READY;
    struct ax__blocking *b = j->pool;
    ax_waker old = {0};
    /* The usual poll, after the wake-up: done, no lock needed (see state). */
    if (atomic_load_explicit(&j->state, memory_order_acquire) == AX__J_DONE) {
        bf->base.result = j->code;
        bf->value = j->value;
        bf->job = NULL;
        ax__job_free(j);
        return AX_READY;
    }
    pthread_mutex_lock(&b->lock);
    if (j->state == AX__J_DONE) {
        pthread_mutex_unlock(&b->lock);
        bf->base.result = j->code;
        bf->value = j->value;
        bf->job = NULL;
        ax__job_free(j);
        return AX_READY;
    }
    if (!j->orphaned && !ax_waker_will_wake(&j->waker, cx->waker)) {
        old = j->waker;
        j->waker = ax_waker_clone(cx->waker);
    }
    pthread_mutex_unlock(&b->lock);
    ax_waker_drop(&old);
    return AX_PENDING;
}

static void ax__bf_drop(ax_future *f) {
    ax_blocking_future *bf = (ax_blocking_future *)f;
    struct ax__bjob *j = bf->job;
    if (!j) return;
    bf->job = NULL;
    struct ax__blocking *b = j->pool;
    pthread_mutex_lock(&b->lock);
    bool done = j->state == AX__J_DONE;
    ax_waker old = j->waker;
    j->waker = (ax_waker){0};
    if (!done) j->detached = true; /* the pool frees it when fn returns */
    pthread_mutex_unlock(&b->lock);
    ax_waker_drop(&old);
    if (!done) return;
    if (j->code == 0 && j->free_result) j->free_result(j->value);
    ax__job_free(j);
}

static const ax_future_vtable ax__bf_vtable = {ax__bf_poll, ax__bf_drop};

int ax__blocking_start_waking(ax_blocking_future *bf, ax_runtime *rt,
                              struct ax__blocking_group *group, ax_blocking_fn fn, void *arg,
                              void (*free_arg)(void *arg), void (*free_result)(void *result),
                              const ax_waker *waker) {
    if (!bf) return AX_EINVAL;
    bf->base.vtable = &ax__bf_vtable;
    bf->job = NULL;
    bf->value = NULL;
    int err = ax__job_start(rt, group, fn, arg, free_arg, free_result, waker, &bf->job);
    bf->base.result = err;
    return err;
}

int ax__blocking_start_in(ax_blocking_future *bf, ax_runtime *rt, struct ax__blocking_group *group,
                          ax_blocking_fn fn, void *arg, void (*free_arg)(void *arg),
                          void (*free_result)(void *result)) {
    return ax__blocking_start_waking(bf, rt, group, fn, arg, free_arg, free_result, NULL);
}

int ax_blocking_start(ax_blocking_future *bf, ax_runtime *rt, ax_blocking_fn fn, void *arg,
                      void (*free_arg)(void *arg), void (*free_result)(void *result)) {
    return ax__blocking_start_in(bf, rt, NULL, fn, arg, free_arg, free_result);
}

struct ax__blocking_group *ax__blocking_group_new(ax_runtime *rt, unsigned limit) {
    struct ax__blocking *b = ax__blocking_of(rt);
    struct ax__blocking_group *g = b && limit ? calloc(1, sizeof(*g)) : NULL;
    if (!g) return NULL;
    g->pool = b;
    g->limit = limit;
    pthread_mutex_lock(&b->lock);
    g->next = b->groups;
    b->groups = g;
    pthread_mutex_unlock(&b->lock);
    return g;
}

/* ---- shutdown and statistics --------------------------------------------------------------- */

void ax__blocking_shutdown(struct ax__blocking *b, ax_instant deadline) {
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    if (!b->shutdown) {
        b->shutdown = true;
        pthread_cond_broadcast(&b->work);
        /* Queued jobs never run. Each is taken out of the queue and marked
         * as being handled (RUNNING), so its waiter leaves it to us. */
        struct ax__bjob *j;
        while ((j = ax__queue_any(b))) {
            ax__queue_remove(b, j);
            j->state = AX__J_RUNNING;
            pthread_mutex_unlock(&b->lock);
            if (j->free_arg) j->free_arg(j->arg);
            pthread_mutex_lock(&b->lock);
            ax_waker wake;
            bool free_job = ax__job_publish(j, AX_ESHUTDOWN, NULL, &wake);
            pthread_mutex_unlock(&b->lock);
            ax__job_published(j, free_job, AX_ESHUTDOWN, NULL, &wake);
            pthread_mutex_lock(&b->lock);
        }
    }
    struct timespec ts = ax__timespec(deadline);
    while (b->threads) {
        int rc = deadline == AX_NO_DEADLINE ? pthread_cond_wait(&b->exited, &b->lock)
                                            : ax__cond_timedwait_mono(&b->exited, &b->lock, &ts);
        if (rc == ETIMEDOUT) break;
    }
    /* Jobs still running are left to their threads. Their wakers may point
     * at tasks of a runtime about to be freed: drop them now (a task waker
     * only touches the task, never this lock). */
    unsigned stuck = 0;
    for (struct ax__bjob *j = b->running; j; j = j->next) {
        if (j->orphaned) continue;
        j->orphaned = true;
        stuck++;
        ax_waker_drop(&j->waker);
    }
    pthread_mutex_unlock(&b->lock);
    if (stuck)
        fprintf(stderr,
                "axon: %u blocking job%s still running at shutdown; left to finish on %s own "
                "thread%s\n",
                stuck, stuck == 1 ? "" : "s", stuck == 1 ? "its" : "their", stuck == 1 ? "" : "s");
}

void ax__blocking_free(struct ax__blocking *b) {
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    bool down = b->shutdown;
    pthread_mutex_unlock(&b->lock);
    if (!down) ax__blocking_shutdown(b, ax_now());
    ax__pool_unref(b);
}

void ax__blocking_stats_get(struct ax__blocking *b, ax__blocking_stats *out) {
    memset(out, 0, sizeof(*out));
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    out->threads = b->threads;
    out->idle = b->idle + b->wakeups;
    out->running = b->busy;
    out->queue_depth = b->queued;
    out->jobs = b->jobs;
    pthread_mutex_unlock(&b->lock);
}

void ax__blocking_metrics(ax_runtime *rt, ax_runtime_metrics *m) {
    ax__blocking_stats s;
    ax__blocking_stats_get(atomic_load_explicit(&rt->blocking, memory_order_acquire), &s);
    m->blocking_threads = s.threads;
    m->blocking_queue_depth = s.queue_depth;
    m->blocking_jobs = s.jobs;
}
