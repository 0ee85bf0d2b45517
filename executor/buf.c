/* executor/buf.c - reference-counted byte buffers and slices.
 *
 * A buffer is released by whoever owns its storage (ax_buf.kind): malloc,
 * its home worker's pool (buf_pool.c), munmap (buf_map.c) or the user's
 * callback. Heap and pooled buffers are one block: the header, then the
 * bytes at AX__BUF_HDR.
 */
#include "executor/buf_pool.h"
#include "axon/error.h"

#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/mman.h>
#endif

ax_buf *ax__buf_heap(size_t cap) {
    if (cap > SIZE_MAX - AX__BUF_HDR) return NULL;
    ax_buf *b = malloc(AX__BUF_HDR + cap);
    if (!b) return NULL;
    atomic_init(&b->refs, 1);
    b->kind = AX__BUF_HEAP;
    b->cls = 0;
    b->data = (uint8_t *)b + AX__BUF_HDR;
    b->len = 0;
    b->cap = cap;
    return b;
}

int ax_buf_new(ax_buf **out, size_t cap) {
    if (!out) return AX_EINVAL;
    *out = ax__buf_heap(cap);
    return *out ? 0 : AX_ENOMEM;
}

int ax_buf_copy(ax_buf **out, const void *bytes, size_t n) {
    if (!out || (!bytes && n)) return AX_EINVAL;
    int err = ax_buf_pool_get(out, n);
    if (err) return err;
    if (n) memcpy((*out)->data, bytes, n);
    (*out)->len = n;
    return 0;
}

int ax_buf_wrap(ax_buf **out, void *data, size_t len, ax_buf_free_fn free_fn, void *user) {
    if (!out || (!data && len)) return AX_EINVAL;
    ax_buf *b = malloc(sizeof(*b));
    if (!b) return AX_ENOMEM;
    atomic_init(&b->refs, 1);
    b->kind = AX__BUF_USER;
    b->cls = 0;
    b->data = data;
    b->len = b->cap = len;
    b->u.user.fn = free_fn;
    b->u.user.user = user;
    *out = b;
    return 0;
}

ax_buf *ax_buf_ref(ax_buf *b) {
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

/* acq_rel rather than release + fence: ThreadSanitizer does not model
 * standalone fences. */
void ax_buf_unref(ax_buf *b) {
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
    switch (b->kind) {
    case AX__BUF_POOL:
        ax__buf_pool_put(b);
        return;
    case AX__BUF_MAP:
#ifndef _WIN32 /* no file mappings there (buf_map_win.c) */
        if (b->u.map.base) munmap(b->u.map.base, b->u.map.size);
#endif
        break;
    case AX__BUF_USER:
        if (b->u.user.fn) b->u.user.fn(b->data, b->u.user.user);
        break;
    default:
        break;
    }
    free(b);
}

uint8_t *ax_buf_data(const ax_buf *b) {
    return b->data;
}

size_t ax_buf_len(const ax_buf *b) {
    return b->len;
}

size_t ax_buf_cap(const ax_buf *b) {
    return b->cap;
}

int ax_buf_set_len(ax_buf *b, size_t len) {
    if (b->kind == AX__BUF_MAP) return AX_EINVAL;
    if (len > b->cap) return AX_ERANGE;
    b->len = len;
    return 0;
}

bool ax_buf_is_mapped(const ax_buf *b) {
    return b->kind == AX__BUF_MAP;
}

uint32_t ax_buf_refcount(const ax_buf *b) {
    return atomic_load_explicit(&b->refs, memory_order_relaxed);
}

/* Slices. */

int ax_slice_of(ax_slice *out, ax_buf *b, size_t off, size_t len) {
    if (!out || !b) return AX_EINVAL;
    if (off > b->len || len > b->len - off) {
        *out = (ax_slice){0};
        return AX_ERANGE;
    }
    *out = (ax_slice){ax_buf_ref(b), off, len};
    return 0;
}

int ax_slice_sub(ax_slice *out, const ax_slice *s, size_t off, size_t len) {
    if (!out || !s) return AX_EINVAL;
    if (off > s->len || len > s->len - off) return AX_ERANGE;
    if (out == s) { /* narrowing in place: the reference stays */
        out->off += off;
        out->len = len;
        return 0;
    }
    if (!s->buf) {
        *out = (ax_slice){0};
        return 0; /* [0, 0) of an empty slice */
    }
    *out = (ax_slice){ax_buf_ref(s->buf), s->off + off, len};
    return 0;
}

void ax_slice_clone(ax_slice *out, const ax_slice *s) {
    *out = *s;
    if (out->buf) ax_buf_ref(out->buf);
}

void ax_slice_release(ax_slice *s) {
    ax_buf_unref(s->buf);
    *s = (ax_slice){0};
}

const uint8_t *ax_slice_data(const ax_slice *s) {
    return s->buf ? s->buf->data + s->off : NULL;
}
