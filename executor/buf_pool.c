/* executor/buf_pool.c - per-worker buffer pools (see buf_pool.h).
 *
 * Get: pop the calling worker's free list for the class; if it is empty,
 * take the whole remote-free list back (one exchange) and sort it into the
 * class lists; if the class is still empty, malloc a new buffer. Put: on
 * the home worker, push onto its local list (or free it when the class is
 * at its cap); anywhere else, push onto the home's remote-free list with a
 * compare-and-swap, or free it outright when the home's runtime is gone.
 */
#include "executor/internal.h"
#include "executor/buf_pool.h"

#include <stdlib.h>

static const size_t ax__class_size[AX__BUF_CLASSES] = {AX_BUF_POOL_CLASS_0, AX_BUF_POOL_CLASS_1,
                                                       AX_BUF_POOL_CLASS_2, AX_BUF_POOL_CLASS_3};

unsigned ax__buf_class_of(size_t size) {
    for (unsigned c = 0; c < AX__BUF_CLASSES; c++)
        if (size <= ax__class_size[c]) return c;
    return AX__BUF_CLASSES;
}

size_t ax__buf_class_size(unsigned cls) {
    return ax__class_size[cls];
}

uint32_t ax__buf_class_cap(unsigned cls) {
    return (uint32_t)(AX_BUF_POOL_MAX_BYTES_PER_CLASS / ax__class_size[cls]);
}

/* Keeps b on p's list for its class, or frees it when the class is full. */
static void ax__keep(ax__buf_pool *p, ax_buf *b) {
    unsigned c = b->cls;
    if (p->count[c] >= ax__buf_class_cap(c)) {
        free(b);
        return;
    }
    b->u.pool.next = p->free[c];
    p->free[c] = b;
    p->count[c]++;
}

/* Takes back what other threads released. */
static void ax__reclaim(ax__buf_pool *p) {
    ax_buf *b = atomic_exchange_explicit(&p->home->remote, NULL, memory_order_acquire);
    while (b) {
        ax_buf *next = b->u.pool.next;
        p->out--;
        ax__keep(p, b);
        b = next;
    }
}

int ax_buf_pool_get(ax_buf **out, size_t size) {
    if (!out) return AX_EINVAL;
    ax__worker *w = ax__worker_current();
    unsigned c = ax__buf_class_of(size);
    if (!w || c == AX__BUF_CLASSES) {
        *out = ax__buf_heap(size);
        return *out ? 0 : AX_ENOMEM;
    }
    ax__buf_pool *p = &w->bufs;
    if (!p->home) {
        p->home = calloc(1, sizeof(*p->home));
        if (!p->home) return AX_ENOMEM;
    }
    ax_buf *b = p->free[c];
    if (!b) {
        ax__reclaim(p);
        b = p->free[c];
    }
    if (b) {
        p->free[c] = b->u.pool.next;
        p->count[c]--;
        AX__COUNT(p, hits);
    } else {
        b = malloc(AX__BUF_HDR + ax__class_size[c]);
        if (!b) return AX_ENOMEM;
        b->kind = AX__BUF_POOL;
        b->cls = (uint8_t)c;
        b->data = (uint8_t *)b + AX__BUF_HDR;
        b->cap = ax__class_size[c];
        b->u.pool.home = p->home;
        AX__COUNT(p, misses);
    }
    atomic_store_explicit(&b->refs, 1, memory_order_relaxed);
    b->len = 0;
    p->out++;
    *out = b;
    return 0;
}

/* A buffer whose runtime is gone: back to malloc, and the last one out
 * frees the home. */
static void ax__orphan_free(ax__buf_home *h, ax_buf *b) {
    free(b);
    if (atomic_fetch_sub_explicit(&h->orphans, 1, memory_order_acq_rel) == 1) free(h);
}

void ax__buf_pool_put(ax_buf *b) {
    ax__buf_home *h = b->u.pool.home;
    /* The home cannot be freed while b is out, so comparing with the
     * calling worker's home is exact, even across runtimes. */
    ax__worker *w = ax__worker_current();
    if (w && w->bufs.home == h) {
        w->bufs.out--;
        ax__keep(&w->bufs, b);
        return;
    }
    ax_buf *head = atomic_load_explicit(&h->remote, memory_order_acquire);
    for (;;) {
        if (head == AX__BUF_CLOSED) {
            ax__orphan_free(h, b);
            return;
        }
        b->u.pool.next = head;
        if (atomic_compare_exchange_weak_explicit(&h->remote, &head, b, memory_order_release,
                                                  memory_order_acquire))
            return;
    }
}

void ax__buf_pool_destroy(ax__buf_pool *p) {
    ax__buf_home *h = p->home;
    if (!h) return;
    ax_buf *b = atomic_exchange_explicit(&h->remote, AX__BUF_CLOSED, memory_order_acq_rel);
    while (b) {
        ax_buf *next = b->u.pool.next;
        p->out--;
        free(b);
        b = next;
    }
    for (unsigned c = 0; c < AX__BUF_CLASSES; c++) {
        while ((b = p->free[c])) {
            p->free[c] = b->u.pool.next;
            free(b);
        }
        p->count[c] = 0;
    }
    /* Buffers still out will each subtract one when released, maybe
     * already have: whoever reaches zero frees the home. */
    int64_t n = (int64_t)p->out;
    if (atomic_fetch_add_explicit(&h->orphans, n, memory_order_acq_rel) + n == 0) free(h);
    p->home = NULL;
    p->out = 0;
}
