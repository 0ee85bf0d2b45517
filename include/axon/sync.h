/* axon/sync.h - async synchronisation: channels, select, mutex, rwlock,
 * semaphore, notify, barrier, once.
 *
 * Everything here is built on the future protocol (axon/future.h). Every
 * operation that may wait exists twice:
 *   - as a future type the caller owns and embeds (ax_mpsc_recv_future,
 *     ax_mutex_lock_future, ...): initialise it, then ax_await it, combine it
 *     (ax_select, the combinators) or drive it from a plain thread with
 *     ax_block_on. The waiter node lives inside the future, so waiting
 *     allocates nothing;
 *   - as a suspending call for task code (ax_mpsc_recv(rx, &msg, deadline)),
 *     which is "init the future + ax_await_until". It returns AX_ETIMEDOUT
 *     once `deadline` passes (AX_NO_DEADLINE: never), AX_ECANCELED once the
 *     task is cancelled, AX_ENOTASK outside a task.
 * Non-suspending try_ variants work from any thread, task or not.
 *
 * Futures. A future must stay at the same address from its first poll until
 * it is dropped (it is linked into the primitive's wait queue), and the
 * primitive (or channel handle) it refers to must outlive it. One future is
 * polled by one owner at a time; different futures on the same primitive may
 * be polled from any threads at once. Dropping a future is always safe and
 * never loses anything: a queued future unlinks itself; a future that was
 * granted something it never collected (a lock, permits, a channel slot, a
 * notification) hands it on to the next waiter. Dropping a future after it
 * returned AX_READY releases nothing: the lock or permits it acquired now
 * belong to the caller. Fields are private; read only `base.result` (and the
 * out-parameters documented per future).
 *
 * Fairness. Every wait queue is FIFO, and what waiters queue for is never
 * taken by a newcomer while someone waits (no barging): unlocking a
 * contended mutex or rwlock hands it to the first waiter directly; a freed
 * slot of a bounded channel and released semaphore permits are reserved
 * for the first waiter. (Receivers are different: a message goes to
 * whichever receive looks first, which with one receiver is the same.)
 *
 * Thread-safety. Every function here is thread-safe unless it says
 * otherwise. Tasks may resume on another worker; nothing here holds a lock
 * across a suspension. Internally each primitive is guarded by a spinlock
 * held for a few instructions (plus one element copy for channels); wakers
 * are woken after it is released.
 *
 * Channel messages. C has no generics, so a channel carries fixed-size
 * elements whose size is given when it is created, copied in on send and
 * copied out on receive (value semantics, like tokio's channels with Copy
 * types). A message may be any struct; a pointer is simply an element of
 * sizeof(void *). Copying into a preallocated ring keeps messages
 * contiguous and needs no allocation per message, and ownership is plain:
 * the bytes belong to the channel from a successful send until a receive
 * copies them out. Messages still buffered when a channel is freed are
 * discarded without any destructor: drain a channel whose messages own
 * resources (try_recv until AX_EAGAIN / AX_ECLOSED) before releasing it.
 */
#ifndef AXON_SYNC_H
#define AXON_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A wait-queue node embedded in every waiting future. Private. */
typedef struct ax_sync_waiter {
    uintptr_t opaque[6];
} ax_sync_waiter;

/* ======================================================================
 * mpsc: multi-producer, single-consumer channel.
 *
 * Bounded (capacity > 0): a ring of `capacity` elements allocated at
 * creation; send suspends while it is full (backpressure), try_send returns
 * AX_EAGAIN. Unbounded (capacity == 0): send never waits; storage grows in
 * blocks (one allocation per block of elements, not per message), and up to
 * a few emptied blocks are kept for reuse.
 *
 * Handles: ax_mpsc_new gives one sender handle and the receiver handle.
 * Senders are reference counted: ax_mpsc_tx_clone adds a sender (like
 * cloning tokio's Sender), ax_mpsc_tx_release drops one. The channel's
 * memory is freed when every sender and the receiver are released.
 *
 * Close semantics:
 *   - last sender released, or ax_mpsc_close(rx): the channel is closed;
 *     further sends fail with AX_ECLOSED (a send waiting for room is woken
 *     with AX_ECLOSED); the receiver still gets every buffered message, then
 *     AX_ECLOSED;
 *   - receiver released: sends fail with AX_ECLOSED at once (waiting senders
 *     are woken); buffered messages are discarded.
 * Messages from one sender arrive in the order it sent them; a successful
 * send is received exactly once (unless the receiver is released first).
 *
 * The receiver handle is meant for one consumer; concurrent receives on it
 * from several tasks are nevertheless safe (each message goes to one of
 * them). */
typedef struct ax_mpsc_tx ax_mpsc_tx;
typedef struct ax_mpsc_rx ax_mpsc_rx;

/* Creates a channel of elements of elem_size bytes (0 is allowed: a pure
 * signal channel). capacity 0 = unbounded. On success *tx and *rx are owned
 * by the caller (release each once). Errors: AX_ENOMEM, AX_EINVAL (the ring
 * size overflows). */
int ax_mpsc_new(ax_mpsc_tx **tx, ax_mpsc_rx **rx, size_t elem_size, size_t capacity);

/* Adds a sender; returns tx (the same handle, which must now be released
 * one more time). Works on a closed channel too (its sends fail). */
ax_mpsc_tx *ax_mpsc_tx_clone(ax_mpsc_tx *tx);

/* Drops one sender reference. The last one closes the channel (see above).
 * tx must not be used by the caller afterwards. */
void ax_mpsc_tx_release(ax_mpsc_tx *tx);

/* Closes the channel and drops the receiver; see above. */
void ax_mpsc_rx_release(ax_mpsc_rx *rx);

/* Closes the channel from the receiving side (tokio's Receiver::close):
 * sends fail with AX_ECLOSED from now on, waiting senders are woken with
 * AX_ECLOSED, and the receiver can still drain what is buffered. */
void ax_mpsc_close(ax_mpsc_rx *rx);

/* True once sends can no longer succeed (closed, or receiver released). */
bool ax_mpsc_is_closed(const ax_mpsc_tx *tx);

/* Number of buffered messages (a snapshot). */
size_t ax_mpsc_len(const ax_mpsc_rx *rx);

/* Copies elem_size bytes from msg into the channel without waiting.
 * Returns 0, AX_EAGAIN (bounded channel full, or other senders are already
 * waiting for room: no barging), AX_ECLOSED, or AX_ENOMEM (unbounded: no
 * memory for a new block). Any thread. */
int ax_mpsc_try_send(ax_mpsc_tx *tx, const void *msg);

/* Sends, suspending while the channel is full. Returns 0, AX_ECLOSED,
 * AX_ETIMEDOUT, AX_ECANCELED, AX_ENOMEM or AX_ENOTASK. On any error the
 * message was not sent. Task only. */
int ax_mpsc_send(ax_mpsc_tx *tx, const void *msg, ax_instant deadline);

/* Takes the oldest message into out (elem_size bytes) without waiting.
 * Returns 0, AX_EAGAIN (empty) or AX_ECLOSED (closed and drained). Any
 * thread. */
int ax_mpsc_try_recv(ax_mpsc_rx *rx, void *out);

/* Receives, suspending while the channel is empty. Returns 0 (message in
 * out), AX_ECLOSED (closed and drained), AX_ETIMEDOUT, AX_ECANCELED or
 * AX_ENOTASK. Nothing is taken unless it returns 0. Task only. */
int ax_mpsc_recv(ax_mpsc_rx *rx, void *out, ax_instant deadline);

/* Send as a future. msg must stay readable until the future is ready or
 * dropped: the copy happens when room is found. result: 0 or AX_ECLOSED /
 * AX_ENOMEM; unless it is 0, the message was not sent (in particular a send
 * future dropped before it became ready never sent its message). */
typedef struct ax_mpsc_send_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_mpsc_tx *tx;
    const void *msg;
} ax_mpsc_send_future;
void ax_mpsc_send_future_init(ax_mpsc_send_future *f, ax_mpsc_tx *tx, const void *msg);

/* Receive as a future: result 0 (message copied into out) or AX_ECLOSED.
 * A message is copied out only by the poll that returns AX_READY with 0,
 * so dropping the future earlier never loses a message. */
typedef struct ax_mpsc_recv_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_mpsc_rx *rx;
    void *out;
} ax_mpsc_recv_future;
void ax_mpsc_recv_future_init(ax_mpsc_recv_future *f, ax_mpsc_rx *rx, void *out);

/* ======================================================================
 * oneshot: one value, sent once, received once.
 *
 * The sender never waits. If the sender is released without sending, the
 * receiver gets AX_ECLOSED; if the receiver is released first, send returns
 * AX_ECLOSED. The channel is freed when both handles are gone. */
typedef struct ax_oneshot_tx ax_oneshot_tx;
typedef struct ax_oneshot_rx ax_oneshot_rx;

/* Creates a oneshot channel for one element of elem_size bytes. On success
 * the caller owns *tx and *rx. Errors: AX_ENOMEM. */
int ax_oneshot_new(ax_oneshot_tx **tx, ax_oneshot_rx **rx, size_t elem_size);

/* Copies the value in and wakes the receiver. Consumes tx: the handle is
 * released whatever the outcome. Returns 0, or AX_ECLOSED when the receiver
 * is gone (the value is discarded). Any thread. */
int ax_oneshot_send(ax_oneshot_tx *tx, const void *msg);

/* Releases the sender without sending: the receiver gets AX_ECLOSED. */
void ax_oneshot_tx_release(ax_oneshot_tx *tx);

/* True when the receiver has been released (a send would fail). */
bool ax_oneshot_tx_is_closed(const ax_oneshot_tx *tx);

/* Takes the value without waiting. Returns 0 (value in out), AX_EAGAIN
 * (not sent yet) or AX_ECLOSED (sender released without sending, or the
 * value was already taken). Any thread. */
int ax_oneshot_try_recv(ax_oneshot_rx *rx, void *out);

/* Waits for the value. Returns 0, AX_ECLOSED, AX_ETIMEDOUT, AX_ECANCELED or
 * AX_ENOTASK; the value is taken only when it returns 0. Task only. */
int ax_oneshot_recv(ax_oneshot_rx *rx, void *out, ax_instant deadline);

/* Releases the receiver (a value not yet taken is discarded). */
void ax_oneshot_rx_release(ax_oneshot_rx *rx);

/* Receive as a future: result 0 (value copied into out) or AX_ECLOSED. */
typedef struct ax_oneshot_recv_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_oneshot_rx *rx;
    void *out;
} ax_oneshot_recv_future;
void ax_oneshot_recv_future_init(ax_oneshot_recv_future *f, ax_oneshot_rx *rx, void *out);

/* ======================================================================
 * broadcast: multi-producer, multi-consumer; every receiver sees every
 * message sent after it subscribed.
 *
 * The channel keeps the last `capacity` messages in a ring; send never
 * waits and overwrites the oldest. A receiver that falls more than
 * `capacity` messages behind has lost the overwritten ones: its next
 * receive returns AX_BROADCAST_LAGGED with the number it missed, copies
 * nothing, and the receive after that continues from the oldest message
 * still retained (tokio's RecvError::Lagged).
 *
 * Handles: senders are reference counted (clone/release); each receiver is
 * its own handle from ax_broadcast_subscribe. When the last sender is
 * released, receivers drain what they have not seen, then get AX_ECLOSED.
 * The channel is freed when all senders and receivers are released. */
typedef struct ax_broadcast_tx ax_broadcast_tx;
typedef struct ax_broadcast_rx ax_broadcast_rx;

/* recv's non-error outcome when the receiver lagged: nothing was copied,
 * *missed holds how many messages were lost. Positive, so it never clashes
 * with an AX_E* code or with 0 (a message). */
#define AX_BROADCAST_LAGGED 1

/* Creates a channel for elements of elem_size bytes retaining `capacity`
 * (> 0) messages; the ring is allocated here. The caller owns *tx. It has
 * no receiver yet. Errors: AX_EINVAL (capacity 0 or size overflow),
 * AX_ENOMEM. */
int ax_broadcast_new(ax_broadcast_tx **tx, size_t elem_size, size_t capacity);

/* Adds a sender; returns tx (release it once more). */
ax_broadcast_tx *ax_broadcast_tx_clone(ax_broadcast_tx *tx);

/* Drops one sender; the last one closes the channel (see above). */
void ax_broadcast_tx_release(ax_broadcast_tx *tx);

/* Creates a receiver that will see every message sent from now on. The
 * caller owns *rx (release it with ax_broadcast_rx_release). Errors:
 * AX_ENOMEM. */
int ax_broadcast_subscribe(ax_broadcast_tx *tx, ax_broadcast_rx **rx);

/* Releases a receiver; its unread messages no longer count against it. */
void ax_broadcast_rx_release(ax_broadcast_rx *rx);

/* Copies msg into the ring and wakes every waiting receiver. Returns the
 * number of receivers subscribed (>= 1), or AX_ECLOSED when there is none
 * (the message is then dropped, not stored). Never waits. Any thread. */
int ax_broadcast_send(ax_broadcast_tx *tx, const void *msg);

/* Receives the next message without waiting. Returns 0 (message in out),
 * AX_BROADCAST_LAGGED (*missed = messages lost; missed may be NULL),
 * AX_EAGAIN (nothing new) or AX_ECLOSED (all senders gone and nothing left
 * to read). Any thread. */
int ax_broadcast_try_recv(ax_broadcast_rx *rx, void *out, uint64_t *missed);

/* Waits for the next message: the outcomes of try_recv, AX_EAGAIN aside,
 * plus AX_ETIMEDOUT, AX_ECANCELED, AX_ENOTASK. Task only. */
int ax_broadcast_recv(ax_broadcast_rx *rx, void *out, uint64_t *missed, ax_instant deadline);

/* Receive as a future: result 0 (copied into out), AX_BROADCAST_LAGGED
 * (count in `missed`) or AX_ECLOSED. One receive future per receiver at a
 * time. */
typedef struct ax_broadcast_recv_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_broadcast_rx *rx;
    void *out;
    uint64_t missed;
} ax_broadcast_recv_future;
void ax_broadcast_recv_future_init(ax_broadcast_recv_future *f, ax_broadcast_rx *rx, void *out);

/* ======================================================================
 * select: wait for the first of several futures.
 *
 * Polls the futures, and returns the index of the first one that is ready.
 * Fairness: by default each poll round starts at a pseudo-random index (as
 * tokio's select! does), so a future that is always ready cannot starve the
 * others; the _biased form always polls in array order (select!'s
 * `biased;`), letting the caller give priority. No task is spawned and
 * nothing is allocated: every future is polled with the caller's waker.
 *
 * Every one of the n futures is dropped before ax_select returns (as
 * ax_await drops its future), winner included; the winner's outcome stays
 * in futs[i]->result (dropping never clears result) and in its own
 * out-parameters. Losers are dropped unfinished, which with the futures in
 * this header loses nothing (see "Futures" above). */

/* Returns the winner's index (>= 0), AX_ETIMEDOUT, AX_ECANCELED (all
 * futures are dropped, none won), AX_EINVAL (n == 0) or AX_ENOTASK. The
 * array itself is the caller's and only read. Task only. */
int ax_select(ax_future *const *futs, size_t n, ax_instant deadline);
int ax_select_biased(ax_future *const *futs, size_t n, ax_instant deadline);

/* Select as a future: result = the winner's index (AX_EINVAL if n == 0).
 * Dropping it drops all n futures. futs (the array and the futures) must
 * outlive it. */
typedef struct ax_select_future {
    ax_future base;
    ax_future *const *futs;
    size_t n;
    bool biased;
    bool won;
    uint32_t rng;
} ax_select_future;
void ax_select_future_init(ax_select_future *f, ax_future *const *futs, size_t n, bool biased);

/* ======================================================================
 * mutex: an async lock, FIFO-fair.
 *
 * Not owned by a thread or a task: any thread may unlock it, and the lock
 * may be held across suspensions (that is its purpose). Unlocking with
 * waiters hands the lock straight to the first one. Zero-initialised
 * storage (or AX_MUTEX_INIT) is an unlocked mutex; there is no destroy, but
 * the memory must not be reused while someone holds or waits for it. */
typedef struct ax_mutex {
    uintptr_t opaque[3];
} ax_mutex;
/* clang-format off */
#define AX_MUTEX_INIT {{0}}
/* clang-format on */
void ax_mutex_init(ax_mutex *m);

/* Takes the lock if it is free and nobody waits. 0 or AX_EAGAIN. Any
 * thread. */
int ax_mutex_try_lock(ax_mutex *m);

/* Suspends until the lock is the caller's. 0, AX_ETIMEDOUT, AX_ECANCELED
 * (the lock is not held then), AX_ENOTASK. Task only. */
int ax_mutex_lock(ax_mutex *m, ax_instant deadline);

/* Releases the lock (must be held). Any thread. */
void ax_mutex_unlock(ax_mutex *m);

/* Lock as a future: result 0 once the lock is held by the owner of the
 * future. */
typedef struct ax_mutex_lock_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_mutex *m;
} ax_mutex_lock_future;
void ax_mutex_lock_future_init(ax_mutex_lock_future *f, ax_mutex *m);

/* ======================================================================
 * rwlock: many readers or one writer, fair.
 *
 * Waiters are served in arrival order: a queued writer blocks readers that
 * arrive after it (so writers never starve), and when the lock is handed
 * on, every reader at the head of the queue up to the next writer is
 * admitted together. Not owned by a thread; zero-initialised storage (or
 * AX_RWLOCK_INIT) is unlocked. */
typedef struct ax_rwlock {
    uintptr_t opaque[3];
} ax_rwlock;
/* clang-format off */
#define AX_RWLOCK_INIT {{0}}
/* clang-format on */
void ax_rwlock_init(ax_rwlock *l);

/* 0 or AX_EAGAIN (a writer holds it or is waiting). Any thread. */
int ax_rwlock_try_read(ax_rwlock *l);
/* 0 or AX_EAGAIN (held, or waiters queued). Any thread. */
int ax_rwlock_try_write(ax_rwlock *l);

/* 0, AX_ETIMEDOUT, AX_ECANCELED, AX_ENOTASK. Task only. */
int ax_rwlock_read(ax_rwlock *l, ax_instant deadline);
int ax_rwlock_write(ax_rwlock *l, ax_instant deadline);

/* Release a read / the write lock. Any thread. */
void ax_rwlock_read_unlock(ax_rwlock *l);
void ax_rwlock_write_unlock(ax_rwlock *l);

/* Read or write acquisition as a future: result 0 once held. */
typedef struct ax_rwlock_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_rwlock *l;
} ax_rwlock_future;
void ax_rwlock_read_future_init(ax_rwlock_future *f, ax_rwlock *l);
void ax_rwlock_write_future_init(ax_rwlock_future *f, ax_rwlock *l);

/* ======================================================================
 * semaphore: a count of permits, FIFO-fair.
 *
 * acquire(n) takes n permits at once; a waiter at the head that needs more
 * permits than are available blocks those behind it (no starvation of
 * large requests, as in tokio). Closing wakes every waiter with AX_ECLOSED
 * and makes later acquisitions fail; permits can still be released. */
typedef struct ax_semaphore {
    uintptr_t opaque[4];
} ax_semaphore;

void ax_semaphore_init(ax_semaphore *s, size_t permits);

/* Takes n permits if available and nobody waits. 0, AX_EAGAIN or
 * AX_ECLOSED. Any thread. */
int ax_semaphore_try_acquire(ax_semaphore *s, size_t n);

/* Suspends until n permits are the caller's. 0, AX_ECLOSED, AX_ETIMEDOUT,
 * AX_ECANCELED (no permit is held then), AX_ENOTASK. Task only. */
int ax_semaphore_acquire(ax_semaphore *s, size_t n, ax_instant deadline);

/* Adds n permits (returns acquired ones, or adds new ones), waking waiters
 * they satisfy. Any thread. */
void ax_semaphore_release(ax_semaphore *s, size_t n);

/* Closes the semaphore (see above). Idempotent. */
void ax_semaphore_close(ax_semaphore *s);

/* Permits available now (a snapshot). */
size_t ax_semaphore_available(const ax_semaphore *s);

/* Acquisition as a future: result 0 once the n permits are the owner's, or
 * AX_ECLOSED. */
typedef struct ax_semaphore_acquire_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_semaphore *s;
} ax_semaphore_acquire_future;
void ax_semaphore_acquire_future_init(ax_semaphore_acquire_future *f, ax_semaphore *s, size_t n);

/* ======================================================================
 * notify: wake one or all waiting tasks (tokio's Notify).
 *
 * notify_one wakes the first waiter; if nobody waits it stores a single
 * permit (several notify_one calls store one), which the next wait consumes
 * at once. notify_waiters wakes every waiter present and stores nothing.
 * A wait future counts as present from its init, not its first poll, so
 * "init the future, check the condition, await the future" cannot miss a
 * notify_waiters that comes between the check and the await. A future that
 * was woken by notify_one and is dropped before it saw it passes the
 * notification on (to the next waiter, or as the stored permit).
 * Zero-initialised storage (or AX_NOTIFY_INIT) is a notify without permit. */
typedef struct ax_notify {
    uintptr_t opaque[4];
} ax_notify;
/* clang-format off */
#define AX_NOTIFY_INIT {{0}}
/* clang-format on */
void ax_notify_init(ax_notify *n);

void ax_notify_one(ax_notify *n);
void ax_notify_waiters(ax_notify *n);

/* Suspends until notified. 0, AX_ETIMEDOUT, AX_ECANCELED, AX_ENOTASK. Task
 * only. */
int ax_notify_wait(ax_notify *n, ax_instant deadline);

/* Waiting as a future: result 0 once notified. */
typedef struct ax_notify_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_notify *n;
} ax_notify_future;
void ax_notify_future_init(ax_notify_future *f, ax_notify *n);

/* ======================================================================
 * barrier: n parties meet; the last to arrive releases them all.
 *
 * Reusable: once released it starts the next round. Exactly one party per
 * round, the last to arrive, is told it is the leader. A waiting party that
 * gives up (timeout, cancellation, dropped future) before the round is
 * complete withdraws its arrival, so the round then needs one more party. */
typedef struct ax_barrier {
    uintptr_t opaque[4];
} ax_barrier;

/* n >= 1 (else AX_EINVAL). */
int ax_barrier_init(ax_barrier *b, size_t n);

#define AX_BARRIER_LEADER 1

/* Suspends until n parties have arrived. Returns AX_BARRIER_LEADER for the
 * last arrival, 0 for the others, or AX_ETIMEDOUT / AX_ECANCELED (the
 * arrival is withdrawn) / AX_ENOTASK. Task only. */
int ax_barrier_wait(ax_barrier *b, ax_instant deadline);

/* Arrival as a future: result AX_BARRIER_LEADER or 0. Arrival counts from
 * the first poll. */
typedef struct ax_barrier_wait_future {
    ax_future base;
    ax_sync_waiter waiter;
    ax_barrier *b;
} ax_barrier_wait_future;
void ax_barrier_wait_future_init(ax_barrier_wait_future *f, ax_barrier *b);

/* ======================================================================
 * once: run an initialisation exactly once.
 *
 * ax_once_call runs fn(arg) if it has not succeeded yet; callers that come
 * while it runs wait for it (suspending, not spinning). fn may suspend. If
 * fn fails (returns < 0) the once stays uninitialised: the caller that ran
 * it gets fn's error, and one waiting caller (or the next caller) runs its
 * own fn; the others keep waiting (like tokio's OnceCell::get_or_try_init).
 * A cancelled runner is no exception: whatever fn returns decides. fn must
 * return (ax_task_exit inside it would leave every later caller waiting)
 * and must not call ax_once_call on the same once (it would wait for
 * itself). Zero-initialised storage (or AX_ONCE_INIT) is a fresh once. */
typedef struct ax_once {
    uintptr_t opaque[3];
} ax_once;
/* clang-format off */
#define AX_ONCE_INIT {{0}}
/* clang-format on */
void ax_once_init(ax_once *o);

/* Returns 0 once initialised (by this caller or another), fn's error if
 * this caller ran fn and it failed, AX_ECANCELED if the caller was
 * cancelled while waiting. Anywhere when already initialised (returns 0
 * at once); otherwise task only (AX_ENOTASK). */
int ax_once_call(ax_once *o, int (*fn)(void *arg), void *arg);

/* True once fn has succeeded (acquire ordering: what fn wrote is visible). */
bool ax_once_is_done(const ax_once *o);

#ifdef __cplusplus
}
#endif
#endif
