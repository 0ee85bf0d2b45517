/* executor/combinators.c - the group combinators (all, race, any,
 * all_settled), timeout and delay. Retry is in combinators_retry.c.
 *
 * A group is one state machine with four policies (ax__group_kind) for what
 * a settled child means. Small groups poll every unfinished child with the
 * parent's context. Large groups (more than AX_GROUP_DIRECT_MAX children)
 * give child i the waker {&ax__sub_vtable, &hub->idx[i]}: waking it sets bit
 * i of hub->ready and wakes the parent's waker, which the hub keeps in an
 * "atomic waker" (the register/wake handshake of futures-rs's AtomicWaker),
 * so a poll re-polls only the children whose bit it finds set.
 *
 * The hub is one heap block per group, made at the first poll:
 *   refs | parent waker | n | ready words | idx[0..n)
 * idx[i] == i, so a child waker's data pointer &idx[i] leads back to the
 * hub: hub = (char *)&idx[i] - i * 4 - offsetof(idx). References: one for
 * the group until it completes or is dropped, one per child-waker clone.
 * Late wakes (after the group is gone) set a bit nobody reads and find no
 * parent waker; the last reference frees the block.
 *
 * A child is dropped as soon as it settles or is no longer needed, and its
 * header becomes a "settled shell" (ax__shell_vtable) that keeps its result.
 * That also marks it done: after the first poll, shells are never polled.
 */
#include "axon/combinators.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "axon/error.h"
#include "axon/task.h"

/* The shell a child becomes once the combinator has dropped it. */
static ax_poll ax__shell_poll(ax_future *f, ax_context *cx) {
    (void)f;
    (void)cx;
    return AX_READY;
}
static const ax_future_vtable ax__shell_vtable = {ax__shell_poll, NULL};

static bool ax__is_shell(const ax_future *f) {
    return f->vtable == &ax__shell_vtable;
}

/* Drops f (if it is not a shell already) and leaves a shell holding r. */
static void ax__settle_child(ax_future *f, intptr_t r) {
    if (!ax__is_shell(f)) ax_future_drop(f);
    f->vtable = &ax__shell_vtable;
    f->result = r;
}

/* ---- atomic waker (one registering poller, any number of wakers) ---- */

enum { AX__AW_WAITING = 0, AX__AW_REGISTERING = 1, AX__AW_WAKING = 2 };

typedef struct ax__atomic_waker {
    _Atomic unsigned state;
    ax_waker waker; /* written only by whoever holds REGISTERING or WAKING */
} ax__atomic_waker;

/* Stores a clone of w to be woken by ax__aw_take. Single poller. */
static void ax__aw_register(ax__atomic_waker *aw, const ax_waker *w) {
    unsigned s = AX__AW_WAITING;
    if (atomic_compare_exchange_strong_explicit(&aw->state, &s, AX__AW_REGISTERING,
                                                memory_order_acquire, memory_order_acquire)) {
        ax_waker old = {0};
        if (!ax_waker_will_wake(&aw->waker, w)) {
            old = aw->waker;
            aw->waker = ax_waker_clone(w);
        }
        s = AX__AW_REGISTERING;
        if (!atomic_compare_exchange_strong_explicit(&aw->state, &s, AX__AW_WAITING,
                                                     memory_order_acq_rel, memory_order_acquire)) {
            /* A wake came in while we registered (state is REGISTERING |
             * WAKING): it left the waking to us. */
            ax_waker take = aw->waker;
            aw->waker.vtable = NULL;
            atomic_exchange_explicit(&aw->state, AX__AW_WAITING, memory_order_acq_rel);
            ax_waker_drop(&old);
            ax_waker_wake(&take);
            return;
        }
        ax_waker_drop(&old);
    } else if (s == AX__AW_WAKING) {
        /* A wake is taking the previous waker right now; it may not be ours,
         * so make sure this poller runs again. */
        ax_waker_wake_by_ref(w);
    }
}

/* Takes the registered waker out (empty if none, or if a concurrent wake
 * or registration will deliver it). Any thread. */
static ax_waker ax__aw_take(ax__atomic_waker *aw) {
    ax_waker w = {0};
    unsigned prev = atomic_fetch_or_explicit(&aw->state, AX__AW_WAKING, memory_order_acq_rel);
    if (prev == AX__AW_WAITING) {
        w = aw->waker;
        aw->waker.vtable = NULL;
        atomic_fetch_and_explicit(&aw->state, ~(unsigned)AX__AW_WAKING, memory_order_release);
    }
    return w;
}

/* ---- the hub: per-child wakers of a large group ---- */

typedef struct ax__group_hub {
    _Atomic size_t refs;
    ax__atomic_waker parent;
    size_t words;
    _Atomic uint64_t *ready; /* `words` words after idx[] */
    uint32_t idx[];
} ax__group_hub;

static ax__group_hub *ax__hub_of(void *data) {
    uint32_t i = *(uint32_t *)data;
    return (ax__group_hub *)(void *)((char *)data - (size_t)i * sizeof(uint32_t) -
                                     offsetof(ax__group_hub, idx));
}

static void ax__hub_unref(ax__group_hub *h) {
    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) == 1) free(h);
}

static void *ax__sub_clone(void *d) {
    atomic_fetch_add_explicit(&ax__hub_of(d)->refs, 1, memory_order_relaxed);
    return d;
}

static void ax__sub_wake_by_ref(void *d) {
    uint32_t i = *(uint32_t *)d;
    ax__group_hub *h = ax__hub_of(d);
    uint64_t bit = (uint64_t)1 << (i % 64);
    /* Already set: whoever set it wakes the parent, or the parent has not
     * read the bit yet. */
    if (atomic_fetch_or_explicit(&h->ready[i / 64], bit, memory_order_acq_rel) & bit) return;
    ax_waker w = ax__aw_take(&h->parent);
    ax_waker_wake(&w);
}

static void ax__sub_wake(void *d) {
    ax__sub_wake_by_ref(d);
    ax__hub_unref(ax__hub_of(d));
}

static void ax__sub_drop(void *d) {
    ax__hub_unref(ax__hub_of(d));
}

static const ax_waker_vtable ax__sub_vtable = {ax__sub_clone, ax__sub_wake, ax__sub_wake_by_ref,
                                               ax__sub_drop};

static ax__group_hub *ax__hub_new(size_t n) {
    size_t words = (n + 63) / 64;
    size_t idx_end = offsetof(ax__group_hub, idx) + n * sizeof(uint32_t);
    size_t ready_at = (idx_end + sizeof(uint64_t) - 1) / sizeof(uint64_t) * sizeof(uint64_t);
    ax__group_hub *h = malloc(ready_at + words * sizeof(uint64_t));
    if (!h) return NULL;
    atomic_init(&h->refs, 1);
    atomic_init(&h->parent.state, AX__AW_WAITING);
    h->parent.waker.vtable = NULL;
    h->parent.waker.data = NULL;
    h->words = words;
    h->ready = (_Atomic uint64_t *)(void *)((char *)h + ready_at);
    for (size_t i = 0; i < n; i++) h->idx[i] = (uint32_t)i;
    /* The first poll visits every child; bits start clear. */
    for (size_t w = 0; w < words; w++) atomic_init(&h->ready[w], 0);
    return h;
}

/* The group lets go of the hub: its parent waker and its reference. */
static void ax__hub_release(ax__group_hub *h) {
    ax_waker w = ax__aw_take(&h->parent);
    ax_waker_drop(&w);
    ax__hub_unref(h);
}

/* ---- groups ---- */

typedef enum ax__group_kind {
    AX__G_ALL = 1,
    AX__G_RACE,
    AX__G_ANY,
    AX__G_SETTLED,
} ax__group_kind;

enum {
    AX__G_STARTED = 1u << 0,  /* polled at least once */
    AX__G_FINISHED = 1u << 1, /* ready: result and index are final */
    AX__G_DIRECT = 1u << 2,   /* no hub: poll every child each time */
};

/* Children that can be indexed by a uint32_t bit position. */
#define AX__GROUP_HUB_MAX ((size_t)UINT32_MAX)

/* The group is ready with r: every child still unfinished is dropped (its
 * result becomes AX_ECANCELED) and the hub is let go. */
static void ax__group_finish(ax_group_future *g, intptr_t r, size_t index) {
    ax__group_state *s = &g->priv;
    for (size_t i = 0; i < s->n; i++) {
        ax_future *c = s->children[i];
        if (ax__is_shell(c)) continue;
        ax__settle_child(c, AX_ECANCELED);
        if (s->results) s->results[i] = AX_ECANCELED;
    }
    if (s->hub) {
        ax__hub_release(s->hub);
        s->hub = NULL;
    }
    g->base.result = r;
    g->index = index;
    s->flags |= AX__G_FINISHED;
}

/* Child i settled with r. Returns true when that made the group ready. */
static bool ax__group_child_done(ax_group_future *g, size_t i, intptr_t r) {
    ax__group_state *s = &g->priv;
    ax__settle_child(s->children[i], r);
    if (s->results) s->results[i] = r;
    s->pending--;
    switch ((ax__group_kind)s->kind) {
    case AX__G_ALL:
        if (r < 0) {
            ax__group_finish(g, r, i);
            return true;
        }
        break;
    case AX__G_RACE:
        ax__group_finish(g, r, i);
        return true;
    case AX__G_ANY:
        if (r >= 0) {
            ax__group_finish(g, r, i);
            return true;
        }
        break;
    case AX__G_SETTLED:
        break;
    }
    if (s->pending) return false;
    ax__group_finish(g, s->kind == AX__G_ANY ? AX_EFAILED : 0, AX_NO_INDEX);
    return true;
}

/* Polls child i with cx; true when the group became ready. */
static bool ax__group_poll_child(ax_group_future *g, size_t i, ax_context *cx) {
    ax_future *c = g->priv.children[i];
    if (ax_future_poll(c, cx) == AX_PENDING) return false;
    return ax__group_child_done(g, i, c->result);
}

static ax_poll ax__group_poll(ax_future *f, ax_context *cx) {
    ax_group_future *g = (ax_group_future *)f;
    ax__group_state *s = &g->priv;
    if (s->flags & AX__G_FINISHED) return AX_READY;
    bool first = !(s->flags & AX__G_STARTED);
    if (first) {
        s->flags |= AX__G_STARTED;
        if (s->n == 0) {
            intptr_t r = s->kind == AX__G_RACE ? AX_EINVAL : s->kind == AX__G_ANY ? AX_EFAILED : 0;
            ax__group_finish(g, r, AX_NO_INDEX);
            return AX_READY;
        }
        if (s->n <= AX_GROUP_DIRECT_MAX || s->n > AX__GROUP_HUB_MAX ||
            !(s->hub = ax__hub_new(s->n)))
            s->flags |= AX__G_DIRECT;
    }
    if (s->flags & AX__G_DIRECT) {
        /* Shells are children that already settled, except on the first
         * poll, where a shell handed in by the caller settles like any
         * ready future. */
        for (size_t i = 0; i < s->n; i++) {
            if (!first && ax__is_shell(s->children[i])) continue;
            if (ax__group_poll_child(g, i, cx)) return AX_READY;
        }
        return AX_PENDING;
    }
    ax__group_hub *h = s->hub;
    /* Register first, then read the bits: a wake after the read finds the
     * new waker. */
    ax__aw_register(&h->parent, cx->waker);
    ax_waker sub = {&ax__sub_vtable, NULL};
    ax_context scx = {&sub, cx->runtime};
    for (size_t w = 0; w < h->words; w++) {
        uint64_t bits;
        if (first) {
            /* No child holds a waker of ours yet: every bit is clear. */
            size_t left = s->n - w * 64;
            bits = left >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << left) - 1);
        } else {
            if (!atomic_load_explicit(&h->ready[w], memory_order_relaxed)) continue;
            bits = atomic_exchange_explicit(&h->ready[w], 0, memory_order_acq_rel);
        }
        while (bits) {
            size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (!first && ax__is_shell(s->children[i])) continue; /* a late wake */
            sub.data = &h->idx[i];
            if (ax__group_poll_child(g, i, &scx)) return AX_READY;
        }
    }
    return AX_PENDING;
}

static void ax__group_drop(ax_future *f) {
    ax_group_future *g = (ax_group_future *)f;
    if (g->priv.flags & AX__G_FINISHED) return;
    /* Dropped unfinished: drop the children, let go of the hub; the group's
     * own result is meaningless now, but keep it defined. */
    ax__group_finish(g, AX_ECANCELED, AX_NO_INDEX);
}

static const ax_future_vtable ax__group_vtable = {ax__group_poll, ax__group_drop};

static void ax__group_init(ax_group_future *g, ax__group_kind kind, ax_future *const *children,
                           size_t n, intptr_t *results) {
    g->base.vtable = &ax__group_vtable;
    g->base.result = 0;
    g->index = AX_NO_INDEX;
    g->priv.children = children;
    g->priv.results = results;
    g->priv.n = n;
    g->priv.pending = n;
    g->priv.hub = NULL;
    g->priv.kind = kind;
    g->priv.flags = 0;
}

void ax_all_future_init(ax_all_future *f, ax_future *const *children, size_t n, intptr_t *results) {
    ax__group_init(f, AX__G_ALL, children, n, results);
}

void ax_race_future_init(ax_race_future *f, ax_future *const *children, size_t n) {
    ax__group_init(f, AX__G_RACE, children, n, NULL);
}

void ax_any_future_init(ax_any_future *f, ax_future *const *children, size_t n, intptr_t *results) {
    ax__group_init(f, AX__G_ANY, children, n, results);
}

void ax_all_settled_future_init(ax_all_settled_future *f, ax_future *const *children, size_t n,
                                intptr_t *results) {
    ax__group_init(f, AX__G_SETTLED, children, n, results);
}

/* ax_await drops the group before returning, so `index` is read from the
 * storage afterwards: dropping a finished group leaves it alone, and an
 * unfinished one (cancelled) sets AX_NO_INDEX. */
int ax_all(ax_future *const *children, size_t n, intptr_t *results) {
    ax_group_future g;
    ax_all_future_init(&g, children, n, results);
    return (int)ax_await(&g.base);
}

intptr_t ax_race(ax_future *const *children, size_t n, size_t *winner) {
    ax_group_future g;
    ax_race_future_init(&g, children, n);
    intptr_t r = ax_await(&g.base);
    if (winner) *winner = g.index;
    return r;
}

intptr_t ax_any(ax_future *const *children, size_t n, size_t *winner, intptr_t *results) {
    ax_group_future g;
    ax_any_future_init(&g, children, n, results);
    intptr_t r = ax_await(&g.base);
    if (winner) *winner = g.index;
    return r;
}

int ax_all_settled(ax_future *const *children, size_t n, intptr_t *results) {
    ax_group_future g;
    ax_all_settled_future_init(&g, children, n, results);
    return (int)ax_await(&g.base);
}

/* ---- timeout ---- */

enum { AX__TO_DONE = 1u << 0, AX__TO_NO_DEADLINE = 1u << 1 };

static void ax__timeout_finish(ax_timeout_future *tf, intptr_t r, bool elapsed) {
    ax__settle_child(tf->child, elapsed ? AX_ECANCELED : r);
    if (!(tf->state & AX__TO_NO_DEADLINE)) ax_future_drop(&tf->timer.base);
    tf->base.result = r;
    tf->elapsed = elapsed;
    tf->state |= AX__TO_DONE;
}

static ax_poll ax__timeout_poll(ax_future *f, ax_context *cx) {
    ax_timeout_future *tf = (ax_timeout_future *)f;
    if (tf->state & AX__TO_DONE) return AX_READY;
    if (ax_future_poll(tf->child, cx) == AX_READY) {
        ax__timeout_finish(tf, tf->child->result, false);
        return AX_READY;
    }
    if (tf->state & AX__TO_NO_DEADLINE) return AX_PENDING;
    if (ax_future_poll(&tf->timer.base, cx) == AX_PENDING) return AX_PENDING;
    ax__timeout_finish(tf, AX_ETIMEDOUT, true);
    return AX_READY;
}

static void ax__timeout_drop(ax_future *f) {
    ax_timeout_future *tf = (ax_timeout_future *)f;
    if (!(tf->state & AX__TO_DONE)) ax__timeout_finish(tf, AX_ECANCELED, false);
}

static const ax_future_vtable ax__timeout_vtable = {ax__timeout_poll, ax__timeout_drop};

void ax_timeout_future_init(ax_timeout_future *tf, ax_future *child, ax_instant deadline) {
    tf->base.vtable = &ax__timeout_vtable;
    tf->base.result = 0;
    tf->elapsed = false;
    tf->child = child;
    tf->state = deadline == AX_NO_DEADLINE ? AX__TO_NO_DEADLINE : 0;
    if (deadline != AX_NO_DEADLINE) ax_sleep_future_init(&tf->timer, deadline);
}

intptr_t ax_timeout(ax_future *child, ax_instant deadline) {
    ax_timeout_future tf;
    ax_timeout_future_init(&tf, child, deadline);
    return ax_await(&tf.base);
}

/* ---- delay ---- */

static ax_poll ax__delay_poll(ax_future *f, ax_context *cx) {
    ax_delay_future *d = (ax_delay_future *)f;
    if (ax_future_poll(&d->sleep.base, cx) == AX_PENDING) return AX_PENDING;
    d->base.result = d->value;
    return AX_READY;
}

static void ax__delay_drop(ax_future *f) {
    ax_delay_future *d = (ax_delay_future *)f;
    ax_future_drop(&d->sleep.base);
}

static const ax_future_vtable ax__delay_vtable = {ax__delay_poll, ax__delay_drop};

void ax_delay_future_init(ax_delay_future *d, uint64_t ms, intptr_t value) {
    d->base.vtable = &ax__delay_vtable;
    d->base.result = 0;
    d->value = value;
    ax_sleep_future_init(&d->sleep, ax_deadline_in_ms(ms));
}
