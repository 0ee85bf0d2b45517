/* executor/internal.h - private: the runtime, worker and task structures
 * shared by the executor's files. Nothing outside executor/ includes it.
 *
 * Threads and ownership:
 *   - a worker owns its run queue, LIFO slot, stack pool, task slab and
 *     timer wheel; other threads reach it only through the injection queue,
 *     the wheel's spinlock and the slab's remote-free list;
 *   - a task is referenced by its join handle, by the executor while it is
 *     alive, and by every waker clone; it returns to its slab at zero.
 */
#ifndef AX_EXECUTOR_INTERNAL_H
#define AX_EXECUTOR_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "axon.h"
#include "executor/fiber.h"
#include "executor/timer_wheel.h"
#include "reactor/reactor.h"
#include "reactor/spin.h"

typedef struct ax__worker ax__worker;

/* Task state bits (ax_task.state). */
enum {
    AX__T_SCHEDULED = 1u << 0, /* in a run queue or LIFO slot */
    AX__T_RUNNING = 1u << 1,   /* on a worker right now */
    AX__T_NOTIFIED = 1u << 2,  /* woken while running: requeue on suspend */
    AX__T_COMPLETE = 1u << 3,  /* finished; final_state is set */
    AX__T_CANCEL = 1u << 4,    /* cancellation requested */
    AX__T_STARTED = 1u << 5,   /* fn has begun */
};

/* Why a task switched back to its worker. */
enum { AX__EXIT_SUSPEND, AX__EXIT_YIELD, AX__EXIT_DONE };

struct ax_task {
    ax__fiber fiber;
    ax__stack *stack;
    ax_task_fn fn;
    void *arg;
    void *value;
    _Atomic uint32_t state;
    _Atomic uint32_t refs;
    int err;          /* failure code when final state is FAILED */
    uint8_t exit_why; /* AX__EXIT_* */
    _Atomic uint8_t final_state;
    uint16_t shard;   /* registry shard */
    uint64_t id;
    ax_runtime *rt;
    ax__worker *home; /* whose slab the struct came from */
    ax_task *next;    /* run-queue link / slab free list */
    ax_task *reg_prev, *reg_next;
    ax__spin join_lock;
    ax_waker join_waker;
    ax_waker self_waker; /* {task vtable, this}: what ax_await passes down */
};

/* One timer as the runtime arms it: the wheel node, whom to wake, and which
 * wheel holds it (for cancels from another thread). Fits ax_timer_storage. */
typedef struct ax__timer_entry {
    ax__timer node;
    ax_waker waker;
    ax__worker *wheel_owner;
} ax__timer_entry;

#define AX__LQ_CAP 256 /* power of two */

/* A registry shard: every live task is on one, so shutdown can cancel
 * them all. */
typedef struct ax__shard {
    ax__spin lock;
    ax_task *head;
} ax__shard;

struct ax__worker {
    ax_runtime *rt;
    unsigned index;
    pthread_t thread;
    ax__fiber sched;      /* the worker thread's own stack */
    ax_task *current;     /* the task running now, or NULL */
    ax_task *lifo;        /* the task it just woke: run next */
    unsigned lifo_streak; /* LIFO runs in a row, capped for fairness */
    uint32_t lq_head, lq_tail;
    ax_task *lq[AX__LQ_CAP];
    uint64_t ticks;
    ax__stack_pool stacks;
    /* Task slab: local free list, plus frees from other threads. */
    ax_task *slab_free;
    ax_task *_Atomic slab_remote;
    void *slab_chunks; /* list of chunks, freed with the runtime */
    /* Timers: the wheel is touched by this worker and, for cancels, by
     * whichever thread owns the timer; hence the spinlock. */
    ax__spin wheel_lock;
    ax__wheel wheel;
    _Atomic uint64_t wheel_next; /* cached next expiry tick, for parking */
};

#define AX__SHARDS 16

struct ax_runtime {
    ax__reactor *reactor;
    unsigned nworkers;
    ax__worker *workers;
    size_t stack_size;
    unsigned stack_cache;
    size_t max_live_stacks;
    _Atomic size_t mapped_stacks; /* stacks mapped now, cached ones included */
    ax_instant start; /* tick 0 of every wheel */

    /* Global injection queue (spawns and wakes from outside a worker). */
    pthread_mutex_t inject_lock;
    ax_task *inject_head, *inject_tail;
    _Atomic size_t inject_len;

    /* Parking: idle workers sleep on park_cond; at most one of them blocks
     * in the reactor instead (reactor_busy), woken by the eventfd. */
    pthread_mutex_t park_lock;
    pthread_cond_t park_cond;
    unsigned sleepers;
    atomic_bool reactor_busy;
    atomic_bool in_reactor_wait;

    _Atomic uint64_t next_id;
    _Atomic size_t live;
    atomic_bool shutting_down;
    atomic_bool stop;
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond;
    ax__shard shards[AX__SHARDS];

    /* Signals (signalfd), see signal.c. */
    int sigfd;
    ax__io *sigio;
    sigset_t sigset;
    ax__spin sig_lock;
    uint64_t sig_pending; /* bit n-1: signal n arrived with nobody waiting */
    struct ax__sig_waiter *sig_waiters;
};

/* The worker the calling thread is, or NULL. Not inlined on purpose: after
 * a fiber switch the task may be on another thread, and the compiler must
 * not reuse a thread-local address computed before the switch. */
ax__worker *ax__worker_current(void);
void ax__worker_set_current(ax__worker *w);

/* The task running on the calling thread, or NULL (re-read after every
 * suspension). */
ax_task *ax__task_current(void);

/* Scheduling. */
void ax__schedule(ax_task *t);        /* t was just set SCHEDULED */
void ax__schedule_back(ax__worker *w, ax_task *t); /* back of w's queue (yield) */
void ax__task_wake(ax_task *t);       /* waker entry point: make t runnable */
void ax__task_suspend(ax_task *t);    /* park the current task until woken */
void ax__worker_main(ax__worker *w); /* a worker thread's loop */
void ax__unpark_one(ax_runtime *rt);
void ax__unpark_all(ax_runtime *rt);
void ax__run_task(ax__worker *w, ax_task *t);

/* Task lifetime. */
int ax__task_new(ax_runtime *rt, ax__worker *w, ax_task_fn fn, void *arg, bool detached,
                 ax_task **out);
void ax__task_unref(ax_task *t);
void ax__task_complete(ax__worker *w, ax_task *t);
void ax__slab_destroy(ax__worker *w);

extern const ax_waker_vtable ax__task_waker_vtable;

/* Timers. Ticks are milliseconds since rt->start. */
uint64_t ax__tick_now(const ax_runtime *rt);
uint64_t ax__tick_of(const ax_runtime *rt, ax_instant deadline); /* rounded up */
void ax__timer_arm(ax_runtime *rt, ax__timer_entry *e, ax_instant deadline, const ax_waker *w);
void ax__timer_disarm(ax__timer_entry *e);
/* Fires due timers of w; returns how many. */
size_t ax__timers_run(ax__worker *w);
/* Milliseconds until w's next timer (-1: none), for parking. */
int ax__timers_timeout_ms(ax__worker *w);

/* Signals. */
int ax__signals_init(ax_runtime *rt, const sigset_t *set);
void ax__signals_free(ax_runtime *rt);

#endif
