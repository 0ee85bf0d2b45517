/* fs/streams.c - a file as an item stream: in chunks (ax_buf items read by
 * jobs straight into new buffers) or line by line (an ax_bufreader over
 * the file's stream). The file is opened by the first poll and closed with
 * the stream; memory is one chunk or one reader buffer plus the longest
 * line, whatever the file's size. */
#include <stdlib.h>
#include <string.h>

#include "fs/file_jobs.h"

#define AX__LINES_BUF      (64u * 1024u)
#define AX__LINES_MAX_LINE (16u * 1024u * 1024u)

/* Shared by both: a file opened on first poll. */
typedef struct {
    char *path;
    ax_file *file;
    ax_fs_future op;
    bool op_on;
} ax__lazy_file;

/* Ready with 0 once l->file is open, or with the open error. */
static ax_poll ax__lazy_open(ax__lazy_file *l, ax_context *cx, int *res) {
    if (l->file) {
        *res = 0;
        return AX_READY;
    }
    if (!l->op_on) {
        ax_file_open_future_init(&l->op, l->path, AX_FILE_READ, 0, &l->file);
        l->op_on = true;
    }
    if (ax_future_poll(&l->op.base, cx) == AX_PENDING) return AX_PENDING;
    *res = (int)l->op.base.result;
    ax_future_drop(&l->op.base);
    l->op_on = false;
    return AX_READY;
}

static void ax__lazy_close(ax__lazy_file *l) {
    if (l->op_on) ax_future_drop(&l->op.base);
    if (l->file) ax_stream_close(ax_file_stream(l->file));
    free(l->path);
}

/* ---- chunks -------------------------------------------------------------------------------- */

typedef struct {
    ax_item_stream base;
    ax__lazy_file lf;
    size_t chunk;
    uint64_t off;
    ax_fs_future rd;
    bool rd_on, done;
    ax_buf *got;
} ax__chunks;

static ax_poll ax__chunks_next(ax_item_stream *s, ax_context *cx, void **item, int *res) {
    ax__chunks *c = (ax__chunks *)s;
    if (c->done) {
        *res = 0;
        return AX_READY;
    }
    if (ax__lazy_open(&c->lf, cx, res) == AX_PENDING) return AX_PENDING;
    if (*res < 0) return AX_READY;
    if (!c->rd_on) {
        ax__fsjob *j = ax__fsjob_new(&ax__kind_read_chunk, NULL, NULL);
        if (j) {
            j->fd = ax__fsfd_ref(c->lf.file->fd);
            j->len = c->chunk;
            j->off = c->off;
            j->out[0] = &c->got;
        }
        ax__fs_future_init(&c->rd, j);
        c->rd_on = true;
    }
    if (ax_future_poll(&c->rd.base, cx) == AX_PENDING) return AX_PENDING;
    intptr_t r = c->rd.base.result;
    ax_future_drop(&c->rd.base);
    c->rd_on = false;
    if (r <= 0) {
        c->done = r == 0;
        *res = (int)r;
        return AX_READY;
    }
    c->off += (uint64_t)r;
    *item = c->got;
    c->got = NULL;
    *res = 1;
    return AX_READY;
}

static void ax__chunks_free_item(ax_item_stream *s, void *item) {
    (void)s;
    ax_buf_unref(item);
}

static void ax__chunks_close(ax_item_stream *s) {
    ax__chunks *c = (ax__chunks *)s;
    if (c->rd_on) ax_future_drop(&c->rd.base);
    ax__lazy_close(&c->lf);
    free(c);
}

static const ax_item_stream_vtable ax__chunks_vtable = {ax__chunks_next, ax__chunks_free_item,
                                                        ax__chunks_close};

int ax_fs_chunks(const char *path, size_t chunk, ax_item_stream **out) {
    if (!path || !out) return AX_EINVAL;
    ax__chunks *c = calloc(1, sizeof(*c));
    if (!c || !(c->lf.path = strdup(path))) {
        free(c);
        return AX_ENOMEM;
    }
    c->base.vtable = &ax__chunks_vtable;
    c->chunk = chunk ? chunk : 64u * 1024u;
    *out = &c->base;
    return 0;
}

/* ---- lines --------------------------------------------------------------------------------- */

typedef struct {
    ax_item_stream base;
    ax__lazy_file lf;
    ax_bufreader r;
    bool rinit, done;
    size_t max_line, scanned;
    char *acc; /* the start of a line longer than what the reader held */
    size_t alen, acap;
    uint64_t lineno;
} ax__lines;

static int ax__lines_acc(ax__lines *l, const void *p, size_t n) {
    if (l->alen + n > l->max_line) return AX_ENOSPC;
    if (l->alen + n > l->acap) {
        size_t cap = l->acap ? l->acap : 256;
        while (cap < l->alen + n) cap *= 2;
        char *na = realloc(l->acc, cap);
        if (!na) return AX_ENOMEM;
        l->acc = na;
        l->acap = cap;
    }
    memcpy(l->acc + l->alen, p, n);
    l->alen += n;
    return 0;
}

/* Makes the item: the accumulated start plus n bytes at p, without a
 * trailing "\r" when the line ended with "\n". */
static ax_fs_line *ax__lines_item(ax__lines *l, const uint8_t *p, size_t n, bool had_nl, int *err) {
    size_t total = l->alen + n;
    if (total > l->max_line) {
        *err = AX_ENOSPC;
        return NULL;
    }
    ax_fs_line *it = malloc(sizeof(*it) + total + 1);
    if (!it) {
        *err = AX_ENOMEM;
        return NULL;
    }
    if (l->alen) memcpy(it->text, l->acc, l->alen);
    if (n) memcpy(it->text + l->alen, p, n);
    if (had_nl && total && it->text[total - 1] == '\r') total--;
    it->text[total] = 0;
    it->len = total;
    it->lineno = ++l->lineno;
    l->alen = 0;
    return it;
}

static ax_poll ax__lines_next(ax_item_stream *s, ax_context *cx, void **item, int *res) {
    ax__lines *l = (ax__lines *)s;
    if (l->done) {
        *res = 0;
        return AX_READY;
    }
    if (!l->rinit) {
        if (ax__lazy_open(&l->lf, cx, res) == AX_PENDING) return AX_PENDING;
        if (*res < 0) return AX_READY;
        if (ax_bufreader_init(&l->r, ax_file_stream(l->lf.file), AX__LINES_BUF)) {
            *res = AX_ENOMEM;
            return AX_READY;
        }
        ax_file_set_chunk(l->lf.file, AX__LINES_BUF);
        l->rinit = true;
    }
    for (;;) {
        size_t n;
        const uint8_t *d = ax_bufreader_data(&l->r, &n);
        const uint8_t *nl = n > l->scanned ? memchr(d + l->scanned, '\n', n - l->scanned) : NULL;
        int err = 0;
        if (nl) {
            size_t k = (size_t)(nl - d);
            ax_fs_line *it = ax__lines_item(l, d, k, true, &err);
            if (!it) {
                *res = err;
                return AX_READY;
            }
            ax_bufreader_consume(&l->r, k + 1);
            l->scanned = 0;
            *item = it;
            *res = 1;
            return AX_READY;
        }
        l->scanned = n;
        if (l->r.eof) {
            if (!n && !l->alen) {
                l->done = true;
                *res = 0;
                return AX_READY;
            }
            ax_fs_line *it = ax__lines_item(l, d, n, false, &err);
            if (!it) {
                *res = err;
                return AX_READY;
            }
            ax_bufreader_consume(&l->r, n);
            l->scanned = 0;
            *item = it;
            *res = 1;
            return AX_READY;
        }
        if (n == l->r.cap) { /* a line longer than the buffer: keep its start aside */
            if ((err = ax__lines_acc(l, d, n))) {
                *res = err;
                return AX_READY;
            }
            ax_bufreader_consume(&l->r, n);
            l->scanned = 0;
        }
        ssize_t got;
        if (ax_bufreader_poll_fill_more(&l->r, cx, &got) == AX_PENDING) return AX_PENDING;
        if (got < 0) {
            *res = (int)got;
            return AX_READY;
        }
    }
}

static void ax__lines_close(ax_item_stream *s) {
    ax__lines *l = (ax__lines *)s;
    if (l->rinit) ax_bufreader_free(&l->r);
    ax__lazy_close(&l->lf);
    free(l->acc);
    free(l);
}

static const ax_item_stream_vtable ax__lines_vtable = {ax__lines_next, NULL, ax__lines_close};

static int ax__lines_new(ax_item_stream **out, size_t max_line, ax__lines **lp) {
    if (!out) return AX_EINVAL;
    ax__lines *l = calloc(1, sizeof(*l));
    if (!l) return AX_ENOMEM;
    l->base.vtable = &ax__lines_vtable;
    l->max_line = max_line ? max_line : AX__LINES_MAX_LINE;
    *lp = l;
    *out = &l->base;
    return 0;
}

int ax_fs_lines(const char *path, size_t max_line, ax_item_stream **out) {
    if (!path) return AX_EINVAL;
    ax__lines *l;
    int err = ax__lines_new(out, max_line, &l);
    if (err) return err;
    if (!(l->lf.path = strdup(path))) {
        free(l);
        return AX_ENOMEM;
    }
    return 0;
}

int ax_file_lines(ax_file *file, size_t max_line, ax_item_stream **out) {
    if (!file) return AX_EINVAL;
    ax__lines *l;
    int err = ax__lines_new(out, max_line, &l);
    if (err) return err;
    l->lf.file = file;
    return 0;
}
