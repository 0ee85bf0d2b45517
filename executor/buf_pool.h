/* executor/buf_pool.h - private: the buffer header and the per-worker
 * buffer pool (buf.c, buf_pool.c, buf_map.c; the worker embeds one
 * ax__buf_pool).
 *
 * Ownership of a pooled buffer: the worker that handed it out (its home)
 * gets it back. The local free lists and counters below are touched only by
 * the home worker's thread (and by ax_runtime_free after the workers are
 * joined). Everything another thread may touch lives in the heap-allocated
 * ax__buf_home, which outlives the runtime while pooled buffers are out:
 *   - remote: the lock-free remote-free list (many pushers, one taker that
 *     takes the whole list in one exchange, so there is no ABA). At runtime
 *     free it is swapped for AX__BUF_CLOSED: a later push sees it and frees
 *     the buffer to malloc instead.
 *   - orphans: balances buffers still out at runtime free (added once, by
 *     ax__buf_pool_destroy) against orphaned buffers released later
 *     (subtracted one by one, possibly before that add); whoever brings it
 *     to zero frees the home.
 */
#ifndef AX_EXECUTOR_BUF_POOL_H
#define AX_EXECUTOR_BUF_POOL_H

#include <stdatomic.h>
#include <stdint.h>

#include "axon/buf.h"

#pragma GCC visibility push(hidden)

#define AX__BUF_CLASSES 4

enum { AX__BUF_HEAP, AX__BUF_POOL, AX__BUF_MAP, AX__BUF_USER };

typedef struct ax__buf_home {
    struct ax_buf *_Atomic remote;
    _Atomic int64_t orphans;
} ax__buf_home;

/* Stand-in for the remote list of a home whose runtime is gone. */
#define AX__BUF_CLOSED ((struct ax_buf *)(uintptr_t)1)

struct ax_buf {
    _Atomic uint32_t refs;
    uint8_t kind; /* AX__BUF_* */
    uint8_t cls;  /* pool class (AX__BUF_POOL) */
    uint8_t *data;
    size_t len, cap;
    union {
        struct {
            ax__buf_home *home;
            struct ax_buf *next; /* free-list link while pooled */
        } pool;
        struct {
            void *base; /* page-aligned mapping start */
            size_t size;
        } map;
        struct {
            ax_buf_free_fn fn;
            void *user;
        } user;
    } u;
};

/* Header size of buffers whose bytes follow the header in one block. */
#define AX__BUF_HDR ((sizeof(struct ax_buf) + 63u) & ~(size_t)63u)

typedef struct ax__buf_pool {
    ax__buf_home *home; /* NULL until the worker first pools a buffer */
    struct ax_buf *free[AX__BUF_CLASSES];
    uint32_t count[AX__BUF_CLASSES];
    uint64_t out; /* handed out and not yet back */
    /* Written by the owner only (relaxed load + store), summed by metrics. */
    _Atomic uint64_t hits, misses;
} ax__buf_pool;

/* Class index for size (AX__BUF_CLASSES: too big to pool), its byte size,
 * and how many buffers of it one worker keeps. */
unsigned ax__buf_class_of(size_t size);
size_t ax__buf_class_size(unsigned cls);
uint32_t ax__buf_class_cap(unsigned cls);

/* A malloc'd buffer of cap bytes (header and bytes in one block), refs 1. */
struct ax_buf *ax__buf_heap(size_t cap);
/* Releases a pooled buffer whose last reference was dropped. */
void ax__buf_pool_put(struct ax_buf *b);
/* Frees the pool's cached buffers and hands the home to the buffers still
 * out. Only once the worker's thread is gone (ax_runtime_free). */
void ax__buf_pool_destroy(ax__buf_pool *p);

#pragma GCC visibility pop

#endif
