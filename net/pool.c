/* net/pool.c - the connection pool (axon/pool.h).
 *
 * State, all under one spinlock:
 *   - keys in a chained hash table; a key counts its open connections
 *     (idle, lent out and being connected: its "slots") and keeps its idle
 *     ones most recently used first;
 *   - one pool-wide idle list, least recently used at the tail, for the
 *     idle-timeout sweep and for evicting when the total limit is reached;
 *   - one FIFO of waiting gets; each waiter node lives in the waiting
 *     task's future, so waiting allocates nothing.
 *
 * A slot is reserved (the counts raised) before a connect starts, so the
 * limits hold while connects are in flight. Whatever frees something (a
 * put, a close, a dropped waiter) calls dispatch, which hands it to the
 * waiters in queue order: an idle connection of a waiter's key, else a
 * slot reserved for it (after evicting another key's least recently used
 * idle connection when only the total limit is in the way). Since
 * dispatch runs after every change, nothing a waiter could use is ever
 * left free, and a newcomer taking what is free cannot barge.
 *
 * Nothing slow happens under the lock: connections to close are unlinked
 * into a list and closed after unlocking, wakers are woken after it, and
 * health checks and connects run with the lock released.
 *
 * Lifetime: the pool's memory stays until it is released by its owner and
 * no slot and no waiter refers to it, so leases may be put back after
 * ax_pool_free.
 */
#include "axon/pool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/socket.h>
#endif

#include "axon/error.h"
#include "axon/task.h"
#include "axon/tcp.h"
#include "axon/time.h"
#include "net/sock.h"
#include "reactor/spin.h"

#define MS (1000000ull)

typedef struct ax__pool_key ax__pool_key;

struct ax_pool_lease {
    ax_stream *stream;
    ax__pool_key *key;
    ax_instant created;
    ax_instant idle_since;
    uint64_t uses;                       /* leases served */
    struct ax_pool_lease *knext, *kprev; /* the key's idle list, MRU first */
    struct ax_pool_lease *gnext, *gprev; /* the pool's idle list, MRU first */
    struct ax_pool_lease *close_next;    /* a to-close list, after unlinking */
};

struct ax__pool_key {
    ax__pool_key *hnext; /* hash chain, or the to-free list once unlinked */
    uint64_t hash;
    char *host;
    uint16_t port;
    bool secure;
    size_t open;     /* slots: idle + lent + connecting */
    size_t nidle;    /* idle connections */
    size_t nwaiters; /* waiters for this key */
    size_t pins;     /* gets looking at it while it may hold no slot */
    ax_pool_lease *idle_head, *idle_tail;
};

enum { W_QUEUED, W_CONN, W_SLOT, W_CLOSED };

typedef struct ax__pool_waiter {
    ax_future base;
    ax_pool *pool;
    ax__pool_key *key;
    struct ax__pool_waiter *next, *prev;
    ax_waker waker;
    int state;           /* W_*, under the lock */
    bool done;           /* poll returned ready (owner only) */
    ax_pool_lease *conn; /* W_CONN: what was handed over */
} ax__pool_waiter;

struct ax_pool {
    ax__spin lock;
    ax_pool_opts o;
    bool released;   /* ax_pool_free was called */
    bool destroying; /* someone claimed the last reference */
    ax__pool_key **buckets;
    size_t nbuckets, nkeys;
    size_t open, nidle, connecting;
    size_t waiter_refs; /* waiter futures not yet dropped */
    ax_pool_lease *gidle_head, *gidle_tail;
    ax__pool_waiter *wq_head, *wq_tail;
    size_t nwaiters;
    ax_pool_stats st; /* counters; gauges are filled in on read */
};

/* What to do once the lock is released: connections to close, keys to
 * free, wakers to wake, and whether the pool itself goes. */
typedef struct ax__pool_after {
    ax_pool_lease *close;
    ax__pool_key *dead_keys;
    unsigned nwake;
    ax_waker wake[16];
    void *free_mem;
    bool free_pool;
} ax__pool_after;

#define AFTER_WAKE_MAX (sizeof(((ax__pool_after *)0)->wake) / sizeof(ax_waker))

/* --- keys ------------------------------------------------------------------ */

static uint64_t key_hash(const char *host, uint16_t port, bool secure) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)host; *c; c++)
        h = (h ^ *c) * 1099511628211ull;
    h = (h ^ port) * 1099511628211ull;
    h = (h ^ (secure ? 1u : 2u)) * 1099511628211ull;
    return h;
}

static ax__pool_key *key_find(ax_pool *p, const char *host, uint16_t port, bool secure,
                              uint64_t h) {
    for (ax__pool_key *k = p->buckets[h & (p->nbuckets - 1)]; k; k = k->hnext)
        if (k->hash == h && k->port == port && k->secure == secure && !strcmp(k->host, host))
            return k;
    return NULL;
}

/* Moves the keys into the table b of n buckets (allocated outside the
 * lock); returns the old table, to free after unlocking. */
static void *key_rehash(ax_pool *p, ax__pool_key **b, size_t n) {
    for (size_t i = 0; i < p->nbuckets; i++) {
        ax__pool_key *k = p->buckets[i];
        while (k) {
            ax__pool_key *next = k->hnext;
            k->hnext = b[k->hash & (n - 1)];
            b[k->hash & (n - 1)] = k;
            k = next;
        }
    }
    void *old = p->buckets;
    p->buckets = b;
    p->nbuckets = n;
    return old;
}

static void key_insert(ax_pool *p, ax__pool_key *k) {
    ax__pool_key **b = &p->buckets[k->hash & (p->nbuckets - 1)];
    k->hnext = *b;
    *b = k;
    p->nkeys++;
}

/* Unlinks k when nothing refers to it any more, onto a's free list. */
static void key_drop_if_unused(ax_pool *p, ax__pool_key *k, ax__pool_after *a) {
    if (k->open || k->nwaiters || k->pins) return;
    for (ax__pool_key **pp = &p->buckets[k->hash & (p->nbuckets - 1)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == k) {
            *pp = k->hnext;
            p->nkeys--;
            k->hnext = a->dead_keys;
            a->dead_keys = k;
            return;
        }
    }
}

static void key_free(ax__pool_key *k) {
    if (!k) return;
    free(k->host);
    free(k);
}

/* --- idle lists -------------------------------------------------------------- */

static void idle_push(ax_pool *p, ax_pool_lease *c, ax_instant now) {
    ax__pool_key *k = c->key;
    c->idle_since = now;
    c->kprev = NULL;
    c->knext = k->idle_head;
    if (k->idle_head)
        k->idle_head->kprev = c;
    else
        k->idle_tail = c;
    k->idle_head = c;
    k->nidle++;
    c->gprev = NULL;
    c->gnext = p->gidle_head;
    if (p->gidle_head)
        p->gidle_head->gprev = c;
    else
        p->gidle_tail = c;
    p->gidle_head = c;
    p->nidle++;
}

static void idle_unlink(ax_pool *p, ax_pool_lease *c) {
    ax__pool_key *k = c->key;
    if (c->kprev)
        c->kprev->knext = c->knext;
    else
        k->idle_head = c->knext;
    if (c->knext)
        c->knext->kprev = c->kprev;
    else
        k->idle_tail = c->kprev;
    k->nidle--;
    if (c->gprev)
        c->gprev->gnext = c->gnext;
    else
        p->gidle_head = c->gnext;
    if (c->gnext)
        c->gnext->gprev = c->gprev;
    else
        p->gidle_tail = c->gprev;
    p->nidle--;
    c->knext = c->kprev = c->gnext = c->gprev = NULL;
}

/* Frees the slot of c (not idle) and queues c for closing. */
static void slot_close(ax_pool *p, ax_pool_lease *c, ax__pool_after *a) {
    p->open--;
    c->key->open--;
    p->st.closed++;
    c->close_next = a->close;
    a->close = c;
    key_drop_if_unused(p, c->key, a);
}

/* Frees a slot that holds no connection (a failed connect, a grant handed
 * back). */
static void slot_release(ax_pool *p, ax__pool_key *k, ax__pool_after *a) {
    p->open--;
    k->open--;
    key_drop_if_unused(p, k, a);
}

static bool expired(const ax_pool *p, const ax_pool_lease *c, ax_instant now) {
    return p->o.max_lifetime_ms && now - c->created >= p->o.max_lifetime_ms * MS;
}

static bool idle_too_long(const ax_pool *p, const ax_pool_lease *c, ax_instant now) {
    return p->o.idle_timeout_ms && now - c->idle_since >= p->o.idle_timeout_ms * MS;
}

/* The cheap lazy sweep: idle connections past the idle timeout gather at
 * the tail of the pool-wide list. */
static void sweep_idle_locked(ax_pool *p, ax_instant now, ax__pool_after *a) {
    while (p->gidle_tail && idle_too_long(p, p->gidle_tail, now)) {
        ax_pool_lease *c = p->gidle_tail;
        idle_unlink(p, c);
        p->st.closed_idle++;
        slot_close(p, c, a);
    }
}

/* --- waiters and dispatch ---------------------------------------------------------- */

static void wq_unlink(ax_pool *p, ax__pool_waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        p->wq_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->wq_tail = w->prev;
    w->next = w->prev = NULL;
    p->nwaiters--;
    w->key->nwaiters--;
}

static bool under_key_limit(const ax_pool *p, const ax__pool_key *k) {
    return !p->o.max_per_key || k->open < p->o.max_per_key;
}

static bool under_total_limit(const ax_pool *p) {
    return !p->o.max_total || p->open < p->o.max_total;
}

/* Reserves a slot for key k if the limits allow it, evicting the least
 * recently used idle connection of another key when only the total limit
 * is in the way. k has no idle connection (the caller took those). */
static bool slot_reserve(ax_pool *p, ax__pool_key *k, ax__pool_after *a) {
    if (!under_key_limit(p, k)) return false;
    if (!under_total_limit(p)) {
        ax_pool_lease *victim = p->gidle_tail;
        if (!victim) return false;
        idle_unlink(p, victim);
        p->st.closed_evicted++;
        slot_close(p, victim, a);
    }
    p->open++;
    k->open++;
    return true;
}

/* Takes w off the queue with its grant; its waker goes to a. */
static void grant(ax_pool *p, ax__pool_waiter *w, int state, ax_pool_lease *c, ax__pool_after *a) {
    wq_unlink(p, w);
    w->state = state;
    w->conn = c;
    a->wake[a->nwake++] = w->waker;
    w->waker.vtable = NULL;
    if (state == W_CLOSED) key_drop_if_unused(p, w->key, a);
}

static bool claim_destroy(ax_pool *p) {
    if (!p->released || p->open || p->waiter_refs || p->destroying) return false;
    p->destroying = true;
    return true;
}

static void after_run(ax_pool *p, ax__pool_after *a);

/* Hands what is free to the waiters in queue order (or AX_ECLOSED once
 * the pool is released). Entered with the lock held; returns with it
 * released, after running a. Nothing touches p afterwards unless the
 * caller still holds a slot or a waiter. */
static void dispatch_unlock(ax_pool *p, ax__pool_after *a) {
    for (;;) {
        ax__pool_waiter *w = p->wq_head;
        while (w && a->nwake < AFTER_WAKE_MAX) {
            ax__pool_waiter *next = w->next;
            if (p->released) {
                grant(p, w, W_CLOSED, NULL, a);
            } else {
                if (!p->gidle_head && !under_total_limit(p)) break; /* nothing to give */
                ax__pool_key *k = w->key;
                if (k->idle_head) {
                    ax_pool_lease *c = k->idle_head;
                    idle_unlink(p, c);
                    grant(p, w, W_CONN, c, a);
                } else if (slot_reserve(p, k, a)) {
                    grant(p, w, W_SLOT, NULL, a);
                }
            }
            w = next;
        }
        bool more = a->nwake == AFTER_WAKE_MAX;
        if (!more) a->free_pool = claim_destroy(p);
        ax__spin_unlock(&p->lock);
        after_run(p, a);
        if (!more) return;
        ax__spin_lock(&p->lock);
    }
}

static void pool_destroy(ax_pool *p) {
    for (size_t i = 0; i < p->nbuckets; i++) {
        ax__pool_key *k = p->buckets[i];
        while (k) {
            ax__pool_key *next = k->hnext;
            key_free(k);
            k = next;
        }
    }
    free(p->buckets);
    free(p);
}

/* Without the lock: closes, frees, wakes, and frees the pool when the
 * caller claimed it. */
static void after_run(ax_pool *p, ax__pool_after *a) {
    while (a->close) {
        ax_pool_lease *c = a->close;
        a->close = c->close_next;
        ax_stream_close(c->stream);
        free(c);
    }
    while (a->dead_keys) {
        ax__pool_key *k = a->dead_keys;
        a->dead_keys = k->hnext;
        key_free(k);
    }
    free(a->free_mem);
    a->free_mem = NULL;
    for (unsigned i = 0; i < a->nwake; i++) ax_waker_wake(&a->wake[i]);
    a->nwake = 0;
    if (a->free_pool) {
        a->free_pool = false;
        pool_destroy(p);
    }
}

/* --- the waiting future -------------------------------------------------------- */

static ax_poll waiter_poll(ax_future *f, ax_context *cx) {
    ax__pool_waiter *w = (ax__pool_waiter *)f;
    if (w->done) return AX_READY;
    ax_pool *p = w->pool;
    ax_waker old = {0};
    ax__spin_lock(&p->lock);
    int state = w->state;
    if (state == W_QUEUED) {
        if (!w->waker.vtable) {
            w->waker = ax_waker_clone(cx->waker);
        } else if (!ax_waker_will_wake(&w->waker, cx->waker)) {
            old = w->waker;
            w->waker = ax_waker_clone(cx->waker);
        }
    }
    ax__spin_unlock(&p->lock);
    ax_waker_drop(&old);
    if (state == W_QUEUED) return AX_PENDING;
    w->done = true;
    f->result = state == W_CLOSED ? AX_ECLOSED : 0;
    return AX_READY;
}

/* Leaves the queue, or hands back a grant never collected (a timeout or a
 * cancellation that raced with it), and drops the waiter's reference. */
static void waiter_drop(ax_future *f) {
    ax__pool_waiter *w = (ax__pool_waiter *)f;
    ax_pool *p = w->pool;
    ax__pool_after a = {0};
    ax_waker mine = {0};
    /* Dropped unfinished: ax_pool_get's await gave up, for its deadline
     * or because the task was cancelled. */
    bool cancelled = !w->done && ax_is_cancelled();
    ax__spin_lock(&p->lock);
    if (!w->done) {
        if (cancelled)
            p->st.wait_cancelled++;
        else
            p->st.wait_timeouts++;
    }
    if (w->state == W_QUEUED) {
        wq_unlink(p, w);
        mine = w->waker;
        w->waker.vtable = NULL;
        w->state = W_CLOSED;
        key_drop_if_unused(p, w->key, &a);
    } else if (!w->done && w->state == W_CONN) {
        if (p->released)
            slot_close(p, w->conn, &a);
        else
            idle_push(p, w->conn, ax_now());
        w->conn = NULL;
        w->state = W_CLOSED;
    } else if (!w->done && w->state == W_SLOT) {
        slot_release(p, w->key, &a);
        w->state = W_CLOSED;
    }
    p->waiter_refs--;
    dispatch_unlock(p, &a);
    ax_waker_drop(&mine);
}

static const ax_future_vtable waiter_vtable = {waiter_poll, waiter_drop};

/* --- checks ---------------------------------------------------------------------- */

/* The built-in check for socket streams: an idle connection has nothing
 * to read; end of stream, bytes or an error mean it is unusable. */
static bool sock_healthy(ax_stream *s) {
    if (s->vtable != &ax__sock_stream_vtable) return true;
    ax__fd fd = ((ax__sock *)s)->fd;
    char b;
#ifdef _WIN32 /* the socket is in nonblocking mode: no MSG_DONTWAIT there */
    int r = recv((SOCKET)fd, &b, 1, MSG_PEEK);
    if (r >= 0) return false;
    return WSAGetLastError() == WSAEWOULDBLOCK;
#else
    for (;;) {
        ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r >= 0) return false;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
#endif
}

static bool healthy(ax_pool *p, ax_stream *s) {
    if (!p->o.health_check) return true;
    if (!sock_healthy(s)) return false;
    return !p->o.health || p->o.health(p->o.health_ctx, s);
}

/* --- the built-in connector ------------------------------------------------------ */

static int tcp_connector(void *ctx, const char *host, uint16_t port, bool secure,
                         ax_instant deadline, ax_stream **out) {
    (void)ctx;
    if (secure) return AX_ENOTSUP;
    ax_tcp *c;
    int err = ax_tcp_connect_host(host, port, deadline, &c); /* names and literals */
    if (err) return err;
    *out = ax_tcp_stream(c);
    return 0;
}

/* --- the API ---------------------------------------------------------------------- */

void ax_pool_opts_init(ax_pool_opts *o) {
    memset(o, 0, sizeof *o);
    o->idle_timeout_ms = 90000;
    o->health_check = true;
}

int ax_pool_new(const ax_pool_opts *opts, ax_pool **out) {
    if (!out) return AX_EINVAL;
    ax_pool *p = calloc(1, sizeof *p);
    if (!p) return AX_ENOMEM;
    if (opts)
        p->o = *opts;
    else
        ax_pool_opts_init(&p->o);
    if (!p->o.connect) p->o.connect = tcp_connector;
    p->lock = (ax__spin)AX__SPIN_INIT;
    p->nbuckets = 16;
    p->buckets = calloc(p->nbuckets, sizeof *p->buckets);
    if (!p->buckets) {
        free(p);
        return AX_ENOMEM;
    }
    *out = p;
    return 0;
}

void ax_pool_free(ax_pool *p) {
    if (!p) return;
    ax__pool_after a = {0};
    ax__spin_lock(&p->lock);
    p->released = true;
    while (p->gidle_head) {
        ax_pool_lease *c = p->gidle_head;
        idle_unlink(p, c);
        slot_close(p, c, &a);
    }
    dispatch_unlock(p, &a); /* wakes the waiters with AX_ECLOSED */
}

/* Takes the most recently used idle connection of k, closing the expired
 * ones it meets; NULL when none is left. */
static ax_pool_lease *take_idle_locked(ax_pool *p, ax__pool_key *k, ax_instant now,
                                       ax__pool_after *a) {
    while (k->idle_head) {
        ax_pool_lease *c = k->idle_head;
        idle_unlink(p, c);
        if (expired(p, c, now))
            p->st.closed_expired++;
        else if (idle_too_long(p, c, now))
            p->st.closed_idle++;
        else
            return c;
        slot_close(p, c, a);
    }
    return NULL;
}

static ax__pool_key *key_new(const char *host, uint16_t port, bool secure, uint64_t h) {
    ax__pool_key *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->host = strdup(host);
    if (!k->host) {
        free(k);
        return NULL;
    }
    k->hash = h;
    k->port = port;
    k->secure = secure;
    return k;
}

/* Finds or makes the key. Entered and left with the lock held; the key
 * and a larger table are allocated with it released, and what turns out
 * unneeded is freed by a's owner. NULL: AX_ENOMEM. */
static ax__pool_key *key_get_locked(ax_pool *p, const char *host, uint16_t port, bool secure,
                                    ax__pool_after *a) {
    uint64_t h = key_hash(host, port, secure);
    ax__pool_key *k = key_find(p, host, port, secure, h);
    if (k) return k;
    size_t want = p->nkeys + 1 > p->nbuckets * 2 ? p->nbuckets * 2 : 0;
    ax__spin_unlock(&p->lock);
    ax__pool_key *fresh = key_new(host, port, secure, h);
    ax__pool_key **table = want ? calloc(want, sizeof *table) : NULL;
    ax__spin_lock(&p->lock);
    k = key_find(p, host, port, secure, h); /* another task may have made it */
    if (!k && fresh) {
        if (table && want > p->nbuckets) {
            a->free_mem = key_rehash(p, table, want);
            table = NULL;
        }
        key_insert(p, fresh);
        k = fresh;
        fresh = NULL;
    }
    if (fresh) {
        fresh->hnext = a->dead_keys;
        a->dead_keys = fresh;
    }
    if (table) {
        free(a->free_mem);
        a->free_mem = table;
    }
    return k;
}

/* Holding a slot of k with no connection: connects. */
static int connect_in_slot(ax_pool *p, ax__pool_key *k, const char *host, ax_instant deadline,
                           ax_pool_lease **out) {
    ax__pool_after a = {0};
    ax_pool_lease *c = calloc(1, sizeof *c);
    ax_stream *s = NULL;
    int err = c ? 0 : AX_ENOMEM;
    ax__spin_lock(&p->lock);
    p->connecting++;
    ax__spin_unlock(&p->lock);
    if (!err) {
        err = p->o.connect(p->o.connect_ctx, host, k->port, k->secure, deadline, &s);
        if (!err && !s) err = AX_EINVAL; /* a connector that succeeds owes a stream */
    }
    ax__spin_lock(&p->lock);
    p->connecting--;
    if (err) {
        p->st.connect_errors++;
        slot_release(p, k, &a);
        free(c);
    } else {
        c->stream = s;
        c->key = k;
        c->created = ax_now();
        c->uses = 1;
        p->st.created++;
        if (p->released) {
            slot_close(p, c, &a);
            err = AX_ECLOSED;
        } else {
            *out = c;
        }
    }
    dispatch_unlock(p, &a);
    return err;
}

/* Waits in the queue for key k (lock held on entry, released on return).
 * Returns 0 with *conn (a connection) or NULL (a slot), or AX_E*. */
static int wait_turn(ax_pool *p, ax__pool_key *k, ax_instant deadline, ax__pool_after *a,
                     ax_pool_lease **conn) {
    if (p->o.max_waiters && p->nwaiters >= p->o.max_waiters) {
        p->st.rejected++;
        key_drop_if_unused(p, k, a);
        dispatch_unlock(p, a);
        return AX_EBUSY;
    }
    ax__pool_waiter w = {.base = {&waiter_vtable, 0}, .pool = p, .key = k, .state = W_QUEUED};
    w.prev = p->wq_tail;
    /* w lives on this frame and is queued only until ax_await_until returns:
     * its drop unlinks it on every path. */
    if (p->wq_tail)
        p->wq_tail->next = &w;
    else
        p->wq_head = &w; // cppcheck-suppress autoVariables
    p->wq_tail = &w;     // cppcheck-suppress autoVariables
    p->nwaiters++;
    k->nwaiters++;
    p->waiter_refs++;
    p->st.waited++;
    dispatch_unlock(p, a); /* closes what the sweep found; the pool stays (w) */
    int r = (int)ax_await_until(&w.base, deadline);
    if (r) return r; /* the drop counted a timeout or cancellation; p may be gone */
    *conn = w.conn;  /* the drop left the grant to us (w.done) */
    return 0;
}

int ax_pool_get(ax_pool *p, const char *host, uint16_t port, bool secure, ax_instant deadline,
                ax_pool_lease **out) {
    if (!p || !host || !out) return AX_EINVAL;
    if (ax_is_cancelled()) return AX_ECANCELED;
    ax__pool_after a = {0};
    ax__spin_lock(&p->lock);
    if (p->released) {
        ax__spin_unlock(&p->lock);
        return AX_ECLOSED;
    }
    ax__pool_key *k = key_get_locked(p, host, port, secure, &a);
    if (!k) {
        dispatch_unlock(p, &a);
        return AX_ENOMEM;
    }
    ax_instant now = ax_now();
    k->pins++; /* the sweep may close k's last connection */
    sweep_idle_locked(p, now, &a);
    ax_pool_lease *c = take_idle_locked(p, k, now, &a);
    bool have_slot = c || slot_reserve(p, k, &a);
    k->pins--;
    if (!have_slot) {
        int r = wait_turn(p, k, deadline, &a, &c);
        if (r) return r;
        ax__spin_lock(&p->lock);
    }
    /* Here: the lock, and a slot of k holding the idle connection c or
     * nothing. */
    while (c) {
        now = ax_now();
        if (expired(p, c, now)) {
            p->st.closed_expired++;
        } else {
            ax__spin_unlock(&p->lock);
            after_run(p, &a);
            bool ok = healthy(p, c->stream);
            ax__spin_lock(&p->lock);
            if (ok) {
                c->uses++;
                p->st.reused++;
                dispatch_unlock(p, &a);
                *out = c;
                return 0;
            }
            p->st.closed_broken++;
            p->st.health_failed++;
        }
        /* Close c but keep its slot, for the next idle connection or a
         * connect. */
        p->st.closed++;
        c->close_next = a.close;
        a.close = c;
        ax_pool_lease *next = take_idle_locked(p, k, now, &a);
        if (next) {
            p->open--; /* next brings its own slot */
            k->open--;
        }
        c = next;
    }
    dispatch_unlock(p, &a);
    return connect_in_slot(p, k, host, deadline, out);
}

void ax_pool_put(ax_pool *p, ax_pool_lease *c, bool reusable) {
    if (!p || !c) return;
    ax__pool_after a = {0};
    ax_instant now = ax_now();
    ax__pool_key *k = c->key;
    ax__spin_lock(&p->lock);
    if (p->released || !reusable) {
        if (!reusable) p->st.closed_broken++;
        slot_close(p, c, &a);
    } else if (expired(p, c, now)) {
        p->st.closed_expired++;
        slot_close(p, c, &a);
    } else {
        idle_push(p, c, now);
        /* Waiters of k take idle connections first (dispatch); beyond
         * them, keep at most max_idle_per_key. */
        while (p->o.max_idle_per_key && k->nidle > p->o.max_idle_per_key + k->nwaiters) {
            ax_pool_lease *lru = k->idle_tail;
            idle_unlink(p, lru);
            p->st.closed_evicted++;
            slot_close(p, lru, &a);
        }
    }
    sweep_idle_locked(p, now, &a);
    dispatch_unlock(p, &a);
}

size_t ax_pool_reap(ax_pool *p) {
    ax__pool_after a = {0};
    size_t n = 0;
    ax_instant now = ax_now();
    ax__spin_lock(&p->lock);
    ax_pool_lease *c = p->gidle_head;
    while (c) {
        ax_pool_lease *next = c->gnext;
        bool exp = expired(p, c, now), idl = idle_too_long(p, c, now);
        if (exp || idl) {
            idle_unlink(p, c);
            if (exp)
                p->st.closed_expired++;
            else
                p->st.closed_idle++;
            slot_close(p, c, &a);
            n++;
        }
        c = next;
    }
    dispatch_unlock(p, &a);
    return n;
}

ax_stream *ax_pool_lease_stream(const ax_pool_lease *l) {
    return l->stream;
}

const char *ax_pool_lease_host(const ax_pool_lease *l) {
    return l->key->host;
}

uint16_t ax_pool_lease_port(const ax_pool_lease *l) {
    return l->key->port;
}

bool ax_pool_lease_secure(const ax_pool_lease *l) {
    return l->key->secure;
}

ax_instant ax_pool_lease_created(const ax_pool_lease *l) {
    return l->created;
}

bool ax_pool_lease_reused(const ax_pool_lease *l) {
    return l->uses > 1;
}

void ax_pool_stats_get(ax_pool *p, ax_pool_stats *st) {
    ax__spin_lock(&p->lock);
    *st = p->st;
    st->open = p->open;
    st->idle = p->nidle;
    st->connecting = p->connecting;
    st->in_use = p->open - p->nidle - p->connecting;
    st->waiters = p->nwaiters;
    st->keys = p->nkeys;
    ax__spin_unlock(&p->lock);
}

static void emit(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0) *len += (size_t)n;
}

size_t ax_pool_stats_json(ax_pool *p, char *buf, size_t cap) {
    ax_pool_stats st;
    ax_pool_stats_get(p, &st);
#define F(f)                                                                                       \
    { #f, offsetof(ax_pool_stats, f) }
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {F(open),          F(idle),          F(in_use),         F(connecting),
                  F(waiters),       F(keys),          F(created),        F(connect_errors),
                  F(reused),        F(waited),        F(wait_timeouts),  F(wait_cancelled),
                  F(rejected),      F(closed),        F(closed_expired), F(closed_idle),
                  F(closed_broken), F(health_failed), F(closed_evicted)};
#undef F
    size_t len = 0;
    if (cap) buf[0] = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        uint64_t v;
        memcpy(&v, (const char *)&st + fields[i].off, sizeof v);
        emit(buf, cap, &len, "%s\"%s\":%llu", i ? "," : "{", fields[i].name, (unsigned long long)v);
    }
    emit(buf, cap, &len, "}");
    return len;
}
