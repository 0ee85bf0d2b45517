/* executor/internal.h - private: the runtime, worker and task structures
 * shared by the executor's files. Nothing outside executor/ includes it.
 *
 * Threads and ownership:
 *   - a worker owns its run queue, LIFO slot, stack pool, task slab, buffer
 *     pool and timer wheel; other threads reach it only through the
 *     injection queue, the wheel's spinlock and the remote-free lists of
 *     the slab and the buffer pool;
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
#include "executor/buf_pool.h"
#include "executor/fiber.h"
#include "executor/local_queue.h"
#include "executor/timer_wheel.h"
#include "reactor/reactor.h"
#include "executor/runtime_internal.h"
#include "reactor/spin.h"

/* Internal symbols stay out of libaxon.so's dynamic symbol table, so calls
 * between the library's files are direct, not through the PLT. */
#pragma GCC visibility push(hidden)

typedef struct ax__worker ax__worker;

/* The task state word (ax_task.state): flags in the low 16 bits, the
 * reference count above them, so a transition and a reference change are
 * one atomic operation (lock-prefixed instructions dominate the cost of a
 * spawn on small machines). */
enum {
    AX__T_SCHEDULED = 1u << 0,  /* in a run queue or LIFO slot */
    AX__T_RUNNING = 1u << 1,    /* owned by a worker: running, or yielded */
    AX__T_NOTIFIED = 1u << 2,   /* woken while running: requeue on suspend */
    AX__T_COMPLETE = 1u << 3,   /* finished; final_state is set */
    AX__T_CANCEL = 1u << 4,     /* cancellation requested */
    AX__T_STARTED = 1u << 5,    /* fn has begun */
    AX__T_JOIN_WAKER = 1u << 6, /* join_waker holds the joiner's waker */
};
#define AX__T_REF_ONE  ((uint64_t)1 << 16)
#define AX__T_FLAGS(s) ((s) & (AX__T_REF_ONE - 1))
#define AX__T_REFS(s)  ((s) >> 16)

/* Why a task switched back to its worker. */
enum { AX__EXIT_SUSPEND, AX__EXIT_YIELD, AX__EXIT_DONE };

struct ax_task {
    _Atomic uint64_t state; /* flags + references, see above */
    ax__fiber fiber;
    ax__stack *stack;
    ax_task_fn fn;
    void *arg;
    void *value;
    int err;          /* failure code when final state is FAILED */
    uint8_t exit_why; /* AX__EXIT_* */
    uint8_t final_state;
    uint64_t id;
    ax_runtime *rt;
    ax__worker *home;                     /* whose slab the struct came from; NULL: malloc */
    ax_task *next;                        /* run-queue link / slab free list */
    ax_task *foreign_prev, *foreign_next; /* on rt->foreign when home is NULL */
    /* Written by the joiner before it sets JOIN_WAKER, read by the
     * completer only if it saw JOIN_WAKER when it set COMPLETE. */
    ax_waker join_waker;
    ax_waker self_waker; /* {task vtable, this}: what ax_await passes down */
    /* The task that switched to this one from ax_join and waits, still
     * RUNNING, for it to leave the CPU (task.c: ax__join_help). Set and
     * cleared only by the worker running the two. */
    ax_task *sync_joiner;
    /* Structured cancellation (cancel.c); touched only by the task itself
     * and by the owner of the scope it belongs to. */
    ax_task *scope_next;
    struct ax_cancel_hook *hooks;
    uint32_t shield;
};

/* One timer as the runtime arms it: the wheel node and whom to wake. Which
 * wheel holds it (for cancels from another thread) is returned by
 * ax__timer_arm and kept by the caller. Fits ax_timer_storage. */
typedef struct ax__timer_entry {
    ax__timer node;
    ax_waker waker;
} ax__timer_entry;

/* Per-worker event counters. Only the owning worker writes them, with a
 * relaxed load and store (no lock prefix); readers sum them with relaxed
 * loads (see metrics.c). Events on other threads go to ax__counters in the
 * runtime, with atomic adds. */
typedef struct ax__counters {
    _Atomic uint64_t spawned, completed, failed, cancelled, polls, steals, stolen, parks,
        wakes_local, wakes_remote, reactor_polls, reactor_events, timers_armed, timers_fired,
        unparks;
} ax__counters;

#define AX__COUNT_N(ctr, field, n)                                                                 \
    atomic_store_explicit(&(ctr)->field,                                                           \
                          atomic_load_explicit(&(ctr)->field, memory_order_relaxed) + (n),         \
                          memory_order_relaxed)
#define AX__COUNT(ctr, field) AX__COUNT_N(ctr, field, 1)
#define AX__COUNT_SHARED(ctr, field)                                                               \
    atomic_fetch_add_explicit(&(ctr)->field, 1, memory_order_relaxed)

struct ax__worker {
    ax_runtime *rt;
    unsigned index;
    pthread_t thread;
    ax__fiber sched;      /* the worker thread's own stack */
    ax_task *current;     /* the task running now, or NULL */
    ax_task *lifo;        /* the task it just woke: run next */
    unsigned lifo_streak; /* LIFO runs in a row, capped for fairness */
    ax__local_queue lq;   /* stealable by other workers */
    bool searching;       /* counted in rt->searching */
    bool steal_any;       /* the spin found a stuck queue: steal even a short one */
    uint8_t spin_shift;   /* the next spin lasts AX__SPIN_NS >> spin_shift (scheduler.c) */
    uint32_t rng;         /* xorshift state for victim choice */
    uint32_t budget;      /* ready polls left before a forced yield */
    /* Parking: park_state is the futex word (1 while asleep), idle_next
     * links the runtime's idle list (under park_lock). */
    _Atomic uint32_t park_state;
    ax__worker *idle_next;
    /* While parked: the tick (ax__tick_now) by which it wakes by itself
     * (a timer, or a peek); UINT64_MAX while awake or asleep until woken. */
    _Atomic uint64_t wakes_by;
    uint8_t peek_shift;        /* the next sleep while pool jobs are held back is capped at
                                  AX__PARK_PEEK_MS << peek_shift (park.c); 0 once it runs a task */
    uint64_t ticks;            /* tasks switched to */
    uint64_t last_maintenance; /* ticks at the last timer/reactor check */
    ax_task *prev;             /* switched away from; its epilogue is pending */
    /* Joins that ran their child at once (task.c: ax__join_help) since
     * the worker last picked a task from its queues, and when the 64th of
     * them ran: a long stretch of them yields, like a long-running task. */
    uint32_t sync_runs;
    ax_instant slice_start;
    uint64_t id_next, id_end; /* a block of task ids taken from rt->next_id */
    ax__stack_pool stacks;
    /* Task slab: local free list, plus frees from other threads. The chunk
     * list is also walked by ax_runtime_free to find live tasks. */
    ax_task *slab_free;
    ax_task *_Atomic slab_remote;
    struct ax__slab_chunk *_Atomic slab_chunks;
    /* Timers: the wheel is touched by this worker and, for cancels, by
     * whichever thread owns the timer; hence the spinlock. */
    ax__counters stats;
    ax__buf_pool bufs; /* byte buffers (buf_pool.c) */
    ax__spin wheel_lock;
    ax__wheel wheel;
    _Atomic uint64_t wheel_next; /* cached next expiry tick, for parking */
};

struct ax_runtime {
    ax__reactor *reactor;
    unsigned nworkers;
    ax__worker *workers;
    size_t stack_size;
    unsigned stack_cache;
    size_t max_live_stacks;
    _Atomic size_t mapped_stacks; /* stacks mapped now, cached ones included */
    /* Stacks between worker caches (task.c: ax__stack_give/take). */
    ax__spin spare_lock;
    ax__stack *spare;
    _Atomic size_t spare_count;
    ax_instant start; /* tick 0 of every wheel */

    /* Global injection queue (spawns and wakes from outside a worker). */
    pthread_mutex_t inject_lock;
    ax_task *inject_head, *inject_tail;
    _Atomic size_t inject_len;

    /* Parking: idle workers sleep on park_cond; at most one of them blocks
     * in the reactor instead (reactor_busy), woken by the eventfd. */
    pthread_mutex_t park_lock;
    ax__worker *idle; /* parked workers (not the one in the reactor) */
    atomic_uint sleepers;
    atomic_uint searching; /* workers looking for work to steal */
    /* The earliest tick a parked worker will wake at by itself (UINT64_MAX:
     * none). A timer armed before it wakes one, so a wheel whose worker is
     * held by a long task is still served on time. */
    _Atomic uint64_t idle_wake_tick;
    /* Until when a searcher keeps spinning because a pool job said it ends
     * soon (ax__expect_work); 0: no such promise. */
    _Atomic ax_instant expect_until;
    atomic_bool reactor_busy;
    atomic_bool in_reactor_wait;

    bool current_thread;   /* AX_RUNTIME_CURRENT_THREAD: no threads of its own */
    atomic_bool driving;   /* a thread is inside ax_run_once (current-thread) */
    atomic_bool closed;    /* shutting down: spawns from outside are refused */
    atomic_bool shut_down; /* ax_runtime_shutdown has run */
    unsigned shutdown_timeout_ms;
    _Atomic uint64_t next_id;
    ax__counters foreign_stats; /* events on threads that are not workers */
    atomic_bool shutting_down;
    atomic_bool stop;
    /* Tasks spawned from outside the workers are malloc'd; they are listed
     * here so shutdown finds them (slab tasks are found in the slabs). */
    pthread_mutex_t foreign_lock;
    ax_task *foreign;

    /* Signals (signalfd), see signal.c. */
    int sigfd;
    ax__io *sigio;
    sigset_t sigset;
    ax__spin sig_lock;
    uint64_t sig_pending; /* bit n-1: signal n arrived with nobody waiting */
    struct ax__sig_waiter *sig_waiters;
    struct ax_policy *_Atomic policy;
    struct ax__blocking *_Atomic blocking;
    /* Objects of the layers above (runtime_internal.h). */
    void *_Atomic slots[AX__RT_SLOT_COUNT];
    void (*slot_free[AX__RT_SLOT_COUNT])(void *obj);
};

/* Frees the objects in the runtime's slots (runtime_slots.c). */
void ax__runtime_slots_free(ax_runtime *rt);

/* The worker the calling thread is, or NULL. Not inlined on purpose: after
 * a fiber switch the task may be on another thread, and the compiler must
 * not reuse a thread-local address computed before the switch. */
ax__worker *ax__worker_current(void);
void ax__worker_set_current(ax__worker *w);

/* The task running on the calling thread, or NULL (re-read after every
 * suspension). */
ax_task *ax__task_current(void);

/* Scheduling. */
void ax__schedule(ax_task *t);                        /* t was just set SCHEDULED */
void ax__schedule_back(ax__worker *w, ax_task *t);    /* back of w's queue (yield) */
void ax__schedule_requeue(ax__worker *w, ax_task *t); /* back of w's queue, woken mid-leave */
void ax__task_wake(ax_task *t);                       /* waker entry point: make t runnable */
void ax__task_suspend(ax_task *t);                    /* park the current task until woken */
void ax__worker_main(ax__worker *w);                  /* a worker thread's loop */
/* Wakes one parked worker (marked as searching when `searcher`), else
 * the one in the reactor; false when none was asleep. */
bool ax__unpark_one(ax_runtime *rt, bool searcher);
void ax__unpark_all(ax_runtime *rt);
/* Work will show up by `until` from another thread (a pool job about to
 * end, whose waiter runs next): searchers spin until then instead of
 * parking, and with `wake`, unless a worker is searching already, one is
 * woken as a searcher, so the wake-up that would follow the job's end is
 * not on its waiter's path. The caller keeps `until` near
 * (ax__blocking_ending_soon: at most AX__BLOCKING_SOON_MAX_NS away).
 * Thread-safe. */
void ax__expect_work(ax_runtime *rt, ax_instant until, bool wake);
void ax__park(ax__worker *w);
/* True when some worker of rt is asleep and will wake by itself within
 * AX__PARK_PEEK_MS, to look at the global queue: a pusher may then leave
 * a task there without waking one (ax__blocking_defers_wake). A worker's
 * bound is published after it announced its sleep and is cleared before
 * it looks at the queues again (all seq_cst). Thread-safe. */
bool ax__sleeper_looks_soon(ax_runtime *rt);
/* Polls the reactor if no other worker is in it; false if one is. */
bool ax__reactor_try_poll(ax__worker *w, int timeout_ms);
/* One round of the worker loop; false when nothing was ready. */
bool ax__worker_tick(ax__worker *w);
/* Tasks a busy worker runs between two checks of its timers and reactor. */
#define AX__MAINTENANCE_EVERY 61u
/* Ready polls a task may make in a row before ax_await yields for it. */
#define AX__BUDGET 128u
ax_task *ax__next_task(ax__worker *w); /* pops the next queued task */
/* Takes t out of w's LIFO slot, or off the tail of w's queue where it was
 * pushed last; false if it is not there. */
bool ax__take_back(ax__worker *w, ax_task *t);
ax_task *ax__next_runnable(ax__worker *w); /* ... and prepares it to run */
void ax__switch_to(ax__worker *w, ax_task *from, ax_task *to, bool final);
void ax__finish_prev(ax__worker *w);
bool ax__maintenance_due(const ax__worker *w);
bool ax__worker_has_work(const ax__worker *w);
/* Tasks wait in another worker's local queue (a hint: plain loads). */
bool ax__queued_elsewhere(const ax__worker *w);

/* Task lifetime. */
int ax__task_new(ax_runtime *rt, ax__worker *w, ax_task_fn fn, void *arg, bool detached,
                 ax_task **out);
void ax__task_unref(ax_task *t);
void ax__task_ref(ax_task *t);
/* Cancellation as the running task t sees it: requested and not shielded.
 * Runs t's on-cancel hooks the first time it is true. */
bool ax__task_sees_cancel(ax_task *t);
/* For a suspending call that can often finish at once (a channel with room
 * or a message): the running task when the call may complete without its
 * future, NULL when it must take the future path (not in a task, or a
 * cancel to report). A call that finished on the fast path then calls
 * ax__fast_path_done, which spends the task's budget as an await would. */
ax_task *ax__fast_path_task(void);
void ax__fast_path_done(ax_task *t);
/* Runs the hooks that have not run yet (newest first), shielded. */
void ax__run_cancel_hooks(ax_task *t);
void ax__task_complete(ax__worker *w, ax_task *t);
void ax__slab_destroy(ax__worker *w);
/* A worker going to sleep unmaps the stacks it and the spare list cache
 * beyond a few. */
void ax__stacks_trim(ax__worker *w);
/* Counts the tasks alive now, requesting cancellation of each when
 * `cancel`. */
size_t ax__scan_live(ax_runtime *rt, bool cancel);
/* Current-thread runtimes: one round of work on the calling thread. */
int ax__drive_once(ax_runtime *rt, int timeout_ms);

extern const ax_waker_vtable ax__task_waker_vtable;

/* Timers. Ticks are milliseconds since rt->start. */
uint64_t ax__tick_now(const ax_runtime *rt);
uint64_t ax__tick_of(const ax_runtime *rt, ax_instant deadline); /* rounded up */
/* Files e in a wheel (the calling worker's, or worker 0's from any other
 * thread) with a clone of w; returns that wheel's worker. */
ax__worker *ax__timer_arm(ax_runtime *rt, ax__timer_entry *e, ax_instant deadline,
                          const ax_waker *w);
/* Takes e out of owner's wheel if it is still there and drops its waker. */
void ax__timer_disarm(ax__worker *owner, ax__timer_entry *e);
/* Fires due timers of w's own wheel; returns how many. */
size_t ax__timers_run(ax__worker *w);
/* Same, then of every other worker's wheel that is due (idle workers). */
size_t ax__timers_run_all(ax__worker *w);
/* Milliseconds until w's next timer (-1: none), for parking. */
int ax__timers_timeout_ms(ax__worker *w);

/* Signals. */
int ax__signals_init(ax_runtime *rt, const sigset_t *set);
void ax__signals_free(ax_runtime *rt);

#pragma GCC visibility pop

#endif
