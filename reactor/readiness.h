/* reactor/readiness.h - private to reactor/: the half of a readiness
 * backend (epoll.c, kqueue.c) that does not talk to the OS.
 *
 * Included by exactly one backend .c file per build, which it completes:
 * besides static helpers it defines the backend-independent functions of
 * reactor.h (ax__io_fd, ax__io_poll_ready, ax__io_clear_ready,
 * ax__io_drop_waker), so that the transfers in the backend's file inline
 * them as before.
 *
 *   - Handle slots live in chunks the reactor never frees before itself;
 *     an event's user data is the slot's tag (generation << 32 | index),
 *     and a tag whose generation is no longer the slot's is stale.
 *   - Each handle folds the kernel's edges into a readiness word: bits in
 *     the low byte, an event counter above, so that a waiter that read
 *     counter c clears its bit only when no event came since.
 *   - AX__IO_TRANSFER is the completion flavour on readiness: try the
 *     call, on EAGAIN clear readiness and park, retry when woken.
 */
#ifndef AX_REACTOR_READINESS_H
#define AX_REACTOR_READINESS_H

#include "reactor/reactor.h"
#include "reactor/spin.h"
#include "axon/error.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#define AX__IO_CHUNK      256
#define AX__IO_MAX_CHUNKS 4096 /* 1,048,576 handles */

enum { AX__READY_READ = 1u, AX__READY_WRITE = 2u };

struct ax__io {
    ax__spin lock;
    int fd;
    uint32_t gen;
    uint32_t index;
    /* Readiness bits in the low byte, an event counter above: a reader
     * that saw counter c may clear its bit only if no event came since. */
    _Atomic uint32_t ready;
    uint8_t is_socket;
    ax_waker waker[2];
    ax__io *next_free;
};

/* The slots of one reactor. */
typedef struct ax__io_table {
    ax__spin slots_lock;
    ax__io *free_list;
    _Atomic uint32_t nchunks;
    ax__io *_Atomic chunks[AX__IO_MAX_CHUNKS];
} ax__io_table;

static uint64_t ax__io_tag(const ax__io *io) {
    return ((uint64_t)io->gen << 32) | io->index;
}

static void ax__io_table_free(ax__io_table *t) {
    uint32_t n = atomic_load(&t->nchunks);
    for (uint32_t i = 0; i < n; i++) free(atomic_load(&t->chunks[i]));
}

static ax__io *ax__io_slot(ax__io_table *t, uint32_t index) {
    uint32_t c = index / AX__IO_CHUNK;
    if (c >= atomic_load_explicit(&t->nchunks, memory_order_acquire)) return NULL;
    ax__io *chunk = atomic_load_explicit(&t->chunks[c], memory_order_acquire);
    return &chunk[index % AX__IO_CHUNK];
}

static ax__io *ax__io_alloc(ax__io_table *t) {
    ax__spin_lock(&t->slots_lock);
    if (!t->free_list) {
        uint32_t c = atomic_load_explicit(&t->nchunks, memory_order_relaxed);
        ax__io *chunk = c < AX__IO_MAX_CHUNKS ? calloc(AX__IO_CHUNK, sizeof(ax__io)) : NULL;
        if (!chunk) {
            ax__spin_unlock(&t->slots_lock);
            return NULL;
        }
        for (uint32_t i = AX__IO_CHUNK; i-- > 0;) {
            chunk[i].index = c * AX__IO_CHUNK + i;
            chunk[i].fd = -1;
            chunk[i].next_free = t->free_list;
            t->free_list = &chunk[i];
        }
        atomic_store_explicit(&t->chunks[c], chunk, memory_order_release);
        atomic_store_explicit(&t->nchunks, c + 1, memory_order_release);
    }
    ax__io *io = t->free_list;
    t->free_list = io->next_free;
    ax__spin_unlock(&t->slots_lock);
    return io;
}

static void ax__io_release(ax__io_table *t, ax__io *io) {
    ax__spin_lock(&t->slots_lock);
    io->next_free = t->free_list;
    t->free_list = io;
    ax__spin_unlock(&t->slots_lock);
}

/* The OS-independent part of ax__io_deregister: makes queued events for
 * the old tag stale, drops the wakers unwoken, frees the slot. */
static void ax__io_forget(ax__io_table *t, ax__io *io) {
    ax__spin_lock(&io->lock);
    io->gen++; /* from here on, queued events for the old tag are stale */
    io->fd = -1;
    ax_waker w0 = io->waker[0], w1 = io->waker[1];
    io->waker[0].vtable = io->waker[1].vtable = NULL;
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&w0);
    ax_waker_drop(&w1);
    ax__io_release(t, io);
}

int ax__io_fd(const ax__io *io) {
    return io->fd;
}

static uint32_t ax__dir_bit(int dir) {
    return dir == AX__DIR_READ ? AX__READY_READ : AX__READY_WRITE;
}

ax_poll ax__io_poll_ready(ax__io *io, int dir, ax_context *cx, uint32_t *tick) {
    uint32_t bit = ax__dir_bit(dir);
    uint32_t r = atomic_load_explicit(&io->ready, memory_order_acquire);
    if (tick) *tick = r >> 8;
    if (r & bit) return AX_READY;
    ax__spin_lock(&io->lock);
    r = atomic_load_explicit(&io->ready, memory_order_acquire);
    if (tick) *tick = r >> 8;
    if (r & bit) {
        ax__spin_unlock(&io->lock);
        return AX_READY;
    }
    ax_waker old = {0};
    if (!io->waker[dir].vtable || !ax_waker_will_wake(&io->waker[dir], cx->waker)) {
        old = io->waker[dir];
        io->waker[dir] = ax_waker_clone(cx->waker);
    }
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&old);
    return AX_PENDING;
}

void ax__io_clear_ready(ax__io *io, int dir, uint32_t tick) {
    uint32_t bit = ax__dir_bit(dir);
    uint32_t r = atomic_load_explicit(&io->ready, memory_order_relaxed);
    while ((r >> 8) == (tick & 0xffffff) && (r & bit)) {
        if (atomic_compare_exchange_weak_explicit(&io->ready, &r, r & ~bit, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return;
    }
}

void ax__io_drop_waker(ax__io *io, int dir) {
    ax__spin_lock(&io->lock);
    ax_waker w = io->waker[dir];
    io->waker[dir].vtable = NULL;
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&w);
}

/* Called by the poller for one event: fold bits (AX__READY_*) into the
 * handle's readiness and wake the wakers they concern, unless the tag is
 * stale. */
static void ax__io_fold(ax__io_table *t, uint64_t tag, uint32_t bits) {
    ax__io *io = ax__io_slot(t, (uint32_t)tag);
    if (!io) return;
    ax_waker wake[2] = {{0}, {0}};
    ax__spin_lock(&io->lock);
    if (io->gen != (uint32_t)(tag >> 32) || io->fd < 0) {
        ax__spin_unlock(&io->lock);
        return;
    }
    uint32_t cur = atomic_load_explicit(&io->ready, memory_order_relaxed);
    uint32_t next = ((((cur >> 8) + 1) & 0xffffff) << 8) | (cur & 0xff) | bits;
    atomic_store_explicit(&io->ready, next, memory_order_release);
    for (int d = 0; d < 2; d++) {
        if (bits & ax__dir_bit(d)) {
            wake[d] = io->waker[d];
            io->waker[d].vtable = NULL;
        }
    }
    ax__spin_unlock(&io->lock);
    ax_waker_wake(&wake[0]);
    ax_waker_wake(&wake[1]);
}

/* The completion flavour on a readiness backend: try the syscall first
 * (a fresh socket is usually writable, and data often arrives before the
 * reader asks); on EAGAIN clear readiness and park. The tick read before
 * the attempt keeps an event that lands in between from being lost. */
static inline bool ax__is_short(size_t done, size_t want) {
    return done < want;
}

/* want: the bytes asked for, or 0 when unknown. A transfer that moved
 * fewer bytes than asked (but some) drained the socket buffer at that
 * moment, so readiness is cleared without the EAGAIN call it would
 * otherwise take to learn it; an event that arrives meanwhile sets it
 * again (the tick check). A read of 0 (end of stream) keeps readiness:
 * no further edge will come to report it again. */
#define AX__IO_TRANSFER(io, dir, cx, res, want, call)                                              \
    for (;;) {                                                                                     \
        uint32_t tick = atomic_load_explicit(&(io)->ready, memory_order_acquire) >> 8;             \
        ssize_t n_;                                                                                \
        do n_ = (call);                                                                            \
        while (n_ < 0 && errno == EINTR);                                                          \
        if (n_ >= 0) {                                                                             \
            if (n_ > 0 && ax__is_short((size_t)n_, (want))) ax__io_clear_ready(io, dir, tick);     \
            *(res) = n_;                                                                           \
            return AX_READY;                                                                       \
        }                                                                                          \
        if (errno != EAGAIN && errno != EWOULDBLOCK) {                                             \
            *(res) = ax_translate_sys_error(errno);                                                \
            return AX_READY;                                                                       \
        }                                                                                          \
        ax__io_clear_ready(io, dir, tick);                                                         \
        if (ax__io_poll_ready(io, dir, cx, NULL) == AX_PENDING) return AX_PENDING;                 \
    }

static size_t ax__iov_len(const struct iovec *iov, int n) {
    size_t t = 0;
    for (int i = 0; i < n; i++) t += iov[i].iov_len;
    return t;
}

#endif
