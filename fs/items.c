/* fs/items.c - generic item streams: next as a future, and the operators
 * map, filter, take and batch. Each operator is a small stackless state
 * machine over its source's poll_next: no task, no allocation per item
 * beyond what the items themselves are. */
#include <stdlib.h>

#include "axon/fs.h"

ax_poll ax_items_poll_next(ax_item_stream *s, ax_context *cx, void **item, int *res) {
    return s->vtable->poll_next(s, cx, item, res);
}

void ax_items_free_item(ax_item_stream *s, void *item) {
    if (!item) return;
    if (s->vtable->free_item)
        s->vtable->free_item(s, item);
    else
        free(item);
}

void ax_items_close(ax_item_stream *s) {
    if (s) s->vtable->close(s);
}

typedef struct ax__next_future {
    ax_future base;
    ax_item_stream *s;
    void **item;
} ax__next_future;

static ax_poll ax__next_poll(ax_future *fu, ax_context *cx) {
    ax__next_future *f = (ax__next_future *)fu;
    void *it = NULL;
    int res;
    if (ax_items_poll_next(f->s, cx, &it, &res) == AX_PENDING) return AX_PENDING;
    *f->item = res == 1 ? it : NULL;
    f->base.result = res;
    return AX_READY;
}

static const ax_future_vtable ax__next_vtable = {ax__next_poll, NULL};

int ax_items_next(ax_item_stream *s, void **item, ax_instant deadline) {
    *item = NULL;
    ax__next_future f = {{&ax__next_vtable, 0}, s, item};
    return (int)ax_await_until(&f.base, deadline);
}

/* ---- map ----------------------------------------------------------------------------------- */

typedef struct {
    ax_item_stream base;
    ax_item_stream *src;
    void *(*fn)(void *, void *, int *);
    void *arg;
    void (*free_out)(void *);
} ax__map;

static ax_poll ax__map_next(ax_item_stream *s, ax_context *cx, void **item, int *res) {
    ax__map *m = (ax__map *)s;
    void *it;
    if (ax_items_poll_next(m->src, cx, &it, res) == AX_PENDING) return AX_PENDING;
    if (*res == 1) {
        int err = 0;
        *item = m->fn(m->arg, it, &err);
        if (!*item) *res = err ? err : AX_EINVAL;
    }
    return AX_READY;
}

static void ax__map_free_item(ax_item_stream *s, void *item) {
    ax__map *m = (ax__map *)s;
    if (m->free_out)
        m->free_out(item);
    else
        free(item);
}

static void ax__op_close(ax_item_stream *s);

static const ax_item_stream_vtable ax__map_vtable = {ax__map_next, ax__map_free_item, ax__op_close};

/* Every operator starts with base then src. */
typedef struct {
    ax_item_stream base;
    ax_item_stream *src;
} ax__op;

static void ax__op_close(ax_item_stream *s) {
    ax_items_close(((ax__op *)s)->src);
    free(s);
}

int ax_items_map(ax_item_stream *src, void *(*fn)(void *arg, void *item, int *err), void *arg,
                 void (*free_out)(void *item), ax_item_stream **out) {
    if (!src || !fn || !out) return AX_EINVAL;
    ax__map *m = malloc(sizeof(*m));
    if (!m) return AX_ENOMEM;
    *m = (ax__map){{&ax__map_vtable}, src, fn, arg, free_out};
    *out = &m->base;
    return 0;
}

/* ---- filter -------------------------------------------------------------------------------- */

typedef struct {
    ax_item_stream base;
    ax_item_stream *src;
    bool (*pred)(void *, const void *);
    void *arg;
} ax__filter;

static ax_poll ax__filter_next(ax_item_stream *s, ax_context *cx, void **item, int *res) {
    ax__filter *f = (ax__filter *)s;
    for (;;) {
        void *it;
        if (ax_items_poll_next(f->src, cx, &it, res) == AX_PENDING) return AX_PENDING;
        if (*res != 1 || f->pred(f->arg, it)) {
            if (*res == 1) *item = it;
            return AX_READY;
        }
        ax_items_free_item(f->src, it);
    }
}

static void ax__pass_free_item(ax_item_stream *s, void *item) {
    ax_items_free_item(((ax__op *)s)->src, item);
}

static const ax_item_stream_vtable ax__filter_vtable = {ax__filter_next, ax__pass_free_item,
                                                        ax__op_close};

int ax_items_filter(ax_item_stream *src, bool (*pred)(void *arg, const void *item), void *arg,
                    ax_item_stream **out) {
    if (!src || !pred || !out) return AX_EINVAL;
    ax__filter *f = malloc(sizeof(*f));
    if (!f) return AX_ENOMEM;
    *f = (ax__filter){{&ax__filter_vtable}, src, pred, arg};
    *out = &f->base;
    return 0;
}

/* ---- take ---------------------------------------------------------------------------------- */

typedef struct {
    ax_item_stream base;
    ax_item_stream *src;
    uint64_t left;
} ax__take;

static ax_poll ax__take_next(ax_item_stream *s, ax_context *cx, void **item, int *res) {
    ax__take *t = (ax__take *)s;
    if (!t->left) {
        *res = 0;
        return AX_READY;
    }
    if (ax_items_poll_next(t->src, cx, item, res) == AX_PENDING) return AX_PENDING;
    if (*res == 1) t->left--;
    return AX_READY;
}

static const ax_item_stream_vtable ax__take_vtable = {ax__take_next, ax__pass_free_item,
                                                      ax__op_close};

int ax_items_take(ax_item_stream *src, uint64_t n, ax_item_stream **out) {
    if (!src || !out) return AX_EINVAL;
    ax__take *t = malloc(sizeof(*t));
    if (!t) return AX_ENOMEM;
    *t = (ax__take){{&ax__take_vtable}, src, n};
    *out = &t->base;
    return 0;
}

/* ---- batch --------------------------------------------------------------------------------- */

typedef struct {
    ax_item_stream base;
    ax_item_stream *src;
    size_t n;
    ax_item_batch *cur; /* items gathered so far (kept across PENDING) */
    int end;            /* the source ended (0) or failed (< 0); 1 while open */
} ax__batch;

static ax_poll ax__batch_next(ax_item_stream *s, ax_context *cx, void **item, int *res) {
    ax__batch *b = (ax__batch *)s;
    if (b->end != 1) {
        *res = b->end;
        return AX_READY;
    }
    for (;;) {
        if (!b->cur) {
            b->cur = malloc(sizeof(ax_item_batch) + b->n * sizeof(void *));
            if (!b->cur) {
                *res = AX_ENOMEM;
                return AX_READY;
            }
            b->cur->n = 0;
        }
        void *it;
        int r;
        if (ax_items_poll_next(b->src, cx, &it, &r) == AX_PENDING) return AX_PENDING;
        if (r == 1) {
            b->cur->items[b->cur->n++] = it;
            if (b->cur->n < b->n) continue;
        } else {
            b->end = r;
            if (!b->cur->n || r < 0) {
                *res = r;
                return AX_READY;
            }
        }
        *item = b->cur;
        b->cur = NULL;
        *res = 1;
        return AX_READY;
    }
}

static void ax__batch_free_item(ax_item_stream *s, void *item) {
    ax__batch *b = (ax__batch *)s;
    ax_item_batch *bt = item;
    for (size_t i = 0; i < bt->n; i++) ax_items_free_item(b->src, bt->items[i]);
    free(bt);
}

static void ax__batch_close(ax_item_stream *s) {
    ax__batch *b = (ax__batch *)s;
    if (b->cur) ax__batch_free_item(s, b->cur);
    ax_items_close(b->src);
    free(b);
}

static const ax_item_stream_vtable ax__batch_vtable = {ax__batch_next, ax__batch_free_item,
                                                       ax__batch_close};

int ax_items_batch(ax_item_stream *src, size_t n, ax_item_stream **out) {
    if (!src || !n || !out) return AX_EINVAL;
    ax__batch *b = malloc(sizeof(*b));
    if (!b) return AX_ENOMEM;
    *b = (ax__batch){{&ax__batch_vtable}, src, n, NULL, 1};
    *out = &b->base;
    return 0;
}
