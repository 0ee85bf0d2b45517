/* fs/file.c - file handles and their stream interface.
 *
 * Read-ahead: the handle owns one buffer; a read lends it to a job that
 * preads the next chunk, and the poll that sees the job finish takes the
 * buffer back and copies from it. Write-behind: a write copies into the
 * handle's write buffer, lends it to a job that pwrites it and returns at
 * once; the next write (or flush) first waits for that job. So at most one
 * read and one write job are in flight per handle, and dropping a handle
 * with a job in flight leaves the buffer to the job, which frees it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/task.h"
#include "fs/file_jobs.h"

#define AX__FILE_CHUNK       (64u * 1024u)
#define AX__FILE_WRITE_CHUNK (256u * 1024u)
#define AX__FILE_MAX_CHUNK   (64u * 1024u * 1024u)

static const ax_stream_vtable ax__file_vtable;

ax_file *ax__file_new(int fd, unsigned flags, int dirfd, char *tmp, char *name) {
    ax_file *f = calloc(1, sizeof(*f));
    ax__fsfd *d = f ? ax__fsfd_new(fd) : NULL;
    if (!f || !d) {
        if (!f) close(fd);
        if (dirfd >= 0 && tmp) unlinkat(dirfd, tmp, 0);
        if (dirfd >= 0) close(dirfd);
        free(tmp);
        free(name);
        free(f);
        return NULL;
    }
    f->base.vtable = &ax__file_vtable;
    f->fd = d;
    f->flags = flags;
    f->chunk = AX__FILE_CHUNK;
    f->dirfd = dirfd;
    f->tmp = tmp;
    f->name = name;
    return f;
}

void ax__file_destroy(ax_file *f) {
    if (!f) return;
    if (f->rop_on) ax_future_drop(&f->rop.base);
    if (f->wop_on) ax_future_drop(&f->wop.base);
    if (f->tmp && !f->committed && f->dirfd >= 0) unlinkat(f->dirfd, f->tmp, 0);
    if (f->dirfd >= 0) close(f->dirfd);
    free(f->tmp);
    free(f->name);
    ax__fsfd_unref(f->fd);
    free(f->rbuf);
    free(f->wbuf);
    free(f);
}

ax_stream *ax_file_stream(ax_file *file) {
    return &file->base;
}

void ax_file_set_chunk(ax_file *file, size_t chunk) {
    if (chunk < 4096) chunk = 4096;
    if (chunk > AX__FILE_MAX_CHUNK) chunk = AX__FILE_MAX_CHUNK;
    file->chunk = chunk;
}

/* ---- jobs in flight ------------------------------------------------------------------------ */

static ax_poll ax__file_poll_rop(ax_file *f, ax_context *cx, intptr_t *r) {
    if (ax_future_poll(&f->rop.base, cx) == AX_PENDING) return AX_PENDING;
    *r = f->rop.base.result;
    ax_future_drop(&f->rop.base);
    f->rop_on = false;
    return AX_READY;
}

static ax_poll ax__file_poll_wop(ax_file *f, ax_context *cx) {
    if (!f->wop_on) return AX_READY;
    if (ax_future_poll(&f->wop.base, cx) == AX_PENDING) return AX_PENDING;
    intptr_t r = f->wop.base.result;
    ax_future_drop(&f->wop.base);
    f->wop_on = false;
    if (r < 0 && !f->werr) f->werr = (int)r;
    return AX_READY;
}

/* Waits for both jobs and drops the read-ahead. Ready with the write
 * error (0 if none). */
static ax_poll ax__file_poll_quiet(ax_file *f, ax_context *cx, int *res) {
    if (f->rop_on) {
        intptr_t r;
        if (ax__file_poll_rop(f, cx, &r) == AX_PENDING) return AX_PENDING;
    }
    if (ax__file_poll_wop(f, cx) == AX_PENDING) return AX_PENDING;
    f->rstart = f->rend = 0;
    f->reof = false;
    *res = f->werr;
    return AX_READY;
}

typedef struct ax__quiet_future {
    ax_future base;
    ax_file *f;
} ax__quiet_future;

static ax_poll ax__quiet_poll(ax_future *fu, ax_context *cx) {
    ax__quiet_future *q = (ax__quiet_future *)fu;
    int res;
    if (ax__file_poll_quiet(q->f, cx, &res) == AX_PENDING) return AX_PENDING;
    q->base.result = res;
    return AX_READY;
}

static const ax_future_vtable ax__quiet_vtable = {ax__quiet_poll, NULL};

static int ax__file_quiet(ax_file *f, ax_instant deadline) {
    ax__quiet_future q = {{&ax__quiet_vtable, 0}, f};
    return (int)ax_await_until(&q.base, deadline);
}

/* ---- the stream ---------------------------------------------------------------------------- */

static int ax__file_start_read(ax_file *f, size_t len) {
    size_t want = len > f->chunk ? len : f->chunk;
    if (want > AX__FILE_MAX_CHUNK) want = AX__FILE_MAX_CHUNK;
    if (!f->rbuf || f->rcap < want) {
        free(f->rbuf);
        f->rbuf = malloc(want);
        f->rcap = f->rbuf ? want : 0;
        if (!f->rbuf) return AX_ENOMEM;
    }
    ax__fsjob *j = ax__fsjob_new(&ax__kind_readahead, NULL, NULL);
    if (!j) return AX_ENOMEM;
    j->fd = ax__fsfd_ref(f->fd);
    j->data = f->rbuf;
    j->dlen = f->rcap;
    j->len = want;
    j->off = f->pos;
    j->out[0] = &f->rbuf;
    j->out[1] = &f->rcap;
    f->rbuf = NULL;
    f->rcap = 0;
    ax__fs_future_init(&f->rop, j);
    f->rop_on = true;
    return 0;
}

static ax_poll ax__file_poll_read(ax_stream *s, ax_context *cx, void *buf, size_t len,
                                  ssize_t *res) {
    ax_file *f = (ax_file *)s;
    if (!(f->flags & AX_FILE_READ)) {
        *res = AX_EBADF;
        return AX_READY;
    }
    for (;;) {
        if (f->rop_on) {
            intptr_t r;
            if (ax__file_poll_rop(f, cx, &r) == AX_PENDING) return AX_PENDING;
            if (r < 0) {
                *res = r;
                return AX_READY;
            }
            f->rstart = 0;
            f->rend = (size_t)r;
            f->reof = r == 0;
        }
        if (f->rstart < f->rend) {
            size_t n = f->rend - f->rstart;
            if (n > len) n = len;
            memcpy(buf, f->rbuf + f->rstart, n);
            f->rstart += n;
            f->pos += n;
            *res = (ssize_t)n;
            return AX_READY;
        }
        if (f->reof || len == 0) {
            f->reof = false; /* a file may grow: the next read asks again */
            *res = 0;
            return AX_READY;
        }
        if (ax__file_poll_wop(f, cx) == AX_PENDING) return AX_PENDING;
        int err = ax__file_start_read(f, len);
        if (err) {
            *res = err;
            return AX_READY;
        }
    }
}

static ax_poll ax__file_poll_write(ax_stream *s, ax_context *cx, const void *buf, size_t len,
                                   ssize_t *res) {
    ax_file *f = (ax_file *)s;
    if (!(f->flags & AX_FILE_WRITE) || f->committed) {
        *res = f->committed ? AX_ECLOSED : AX_EBADF;
        return AX_READY;
    }
    if (ax__file_poll_wop(f, cx) == AX_PENDING) return AX_PENDING;
    if (f->werr) {
        *res = f->werr;
        return AX_READY;
    }
    if (len == 0) {
        *res = 0;
        return AX_READY;
    }
    if (f->rop_on) { /* a read-ahead in flight: let it land, then drop it */
        intptr_t r;
        if (ax__file_poll_rop(f, cx, &r) == AX_PENDING) return AX_PENDING;
    }
    f->rstart = f->rend = 0;
    f->reof = false;
    size_t max = f->chunk > AX__FILE_WRITE_CHUNK ? f->chunk : AX__FILE_WRITE_CHUNK;
    size_t n = len < max ? len : max;
    if (!f->wbuf || f->wcap < n) {
        size_t cap = n < max ? max : n;
        free(f->wbuf);
        f->wbuf = malloc(cap);
        f->wcap = f->wbuf ? cap : 0;
        if (!f->wbuf) {
            *res = AX_ENOMEM;
            return AX_READY;
        }
    }
    ax__fsjob *j = ax__fsjob_new(&ax__kind_writebehind, NULL, NULL);
    if (!j) {
        *res = AX_ENOMEM;
        return AX_READY;
    }
    memcpy(f->wbuf, buf, n);
    j->fd = ax__fsfd_ref(f->fd);
    j->data = f->wbuf;
    j->dlen = f->wcap;
    j->len = n;
    j->off = f->pos;
    j->flags = f->flags & AX_FILE_APPEND;
    j->out[0] = &f->wbuf;
    j->out[1] = &f->wcap;
    f->wbuf = NULL;
    f->wcap = 0;
    ax__fs_future_init(&f->wop, j);
    f->wop_on = true;
    f->pos += n;
    (void)ax__file_poll_wop(f, cx); /* start it now */
    *res = (ssize_t)n;
    return AX_READY;
}

static ax_poll ax__file_poll_flush(ax_stream *s, ax_context *cx, int *res) {
    ax_file *f = (ax_file *)s;
    if (ax__file_poll_wop(f, cx) == AX_PENDING) return AX_PENDING;
    *res = f->werr;
    return AX_READY;
}

static void ax__file_close(ax_stream *s) {
    ax__file_destroy((ax_file *)s);
}

static const ax_stream_vtable ax__file_vtable = {
    .poll_read = ax__file_poll_read,
    .poll_write = ax__file_poll_write,
    .poll_flush = ax__file_poll_flush,
    .poll_shutdown = ax__file_poll_flush,
    .close = ax__file_close,
};

/* ---- suspending calls ---------------------------------------------------------------------- */

ssize_t ax_file_read(ax_file *file, void *buf, size_t len, ax_instant deadline) {
    return ax_stream_read(&file->base, buf, len, deadline);
}

ssize_t ax_file_write(ax_file *file, const void *buf, size_t len, ax_instant deadline) {
    int err = ax_stream_write_all(&file->base, buf, len, deadline);
    return err ? err : (ssize_t)len;
}

int ax_file_flush(ax_file *file, ax_instant deadline) {
    return ax_stream_flush(&file->base, deadline);
}

static ax__fsjob *ax__file_job(ax_file *f, const ax__fs_kind *k) {
    ax__fsjob *j = ax__fsjob_new(k, NULL, NULL);
    if (j) j->fd = ax__fsfd_ref(f->fd);
    return j;
}

ssize_t ax_file_read_at(ax_file *file, void *buf, size_t len, uint64_t off, ax_instant deadline) {
    if (!(file->flags & AX_FILE_READ)) return AX_EBADF;
    int err = ax__file_quiet(file, deadline);
    if (err < 0 && err != file->werr) return err;
    if (len == 0) return 0;
    ax__fsjob *j = ax__file_job(file, &ax__kind_read_at);
    if (j && !(j->data = malloc(len))) {
        ax__fsjob_unref(j);
        j = NULL;
    }
    if (j) {
        j->len = len;
        j->off = off;
        j->out[0] = buf;
    }
    ax_fs_future f;
    ax__fs_future_init(&f, j);
    return (ssize_t)ax__fs_await(&f, deadline);
}

ssize_t ax_file_write_at(ax_file *file, const void *buf, size_t len, uint64_t off,
                         ax_instant deadline) {
    if (!(file->flags & AX_FILE_WRITE) || file->committed) return AX_EBADF;
    int err = ax__file_quiet(file, deadline);
    if (err < 0) return err;
    if (len == 0) return 0;
    ax__fsjob *j = ax__file_job(file, &ax__kind_write_at);
    if (j && !(j->data = malloc(len))) {
        ax__fsjob_unref(j);
        j = NULL;
    }
    if (j) {
        memcpy(j->data, buf, len);
        j->len = len;
        j->off = off;
    }
    ax_fs_future f;
    ax__fs_future_init(&f, j);
    return (ssize_t)ax__fs_await(&f, deadline);
}

ssize_t ax_file_read_buf(ax_file *file, size_t max, ax_buf **out, ax_instant deadline) {
    *out = NULL;
    if (!(file->flags & AX_FILE_READ)) return AX_EBADF;
    uint64_t pos = file->pos; /* the logical position survives dropping read-ahead */
    int err = ax__file_quiet(file, deadline);
    if (err < 0 && err != file->werr) return err;
    ax__fsjob *j = ax__file_job(file, &ax__kind_read_chunk);
    if (j) {
        j->len = max ? max : file->chunk;
        j->off = pos;
        j->out[0] = out;
    }
    ax_fs_future f;
    ax__fs_future_init(&f, j);
    ssize_t n = (ssize_t)ax__fs_await(&f, deadline);
    if (n > 0) file->pos = pos + (uint64_t)n;
    return n;
}

static int ax__file_fdop(ax_file *file, int op, uint64_t off, ax_fs_info *st, ax_instant deadline) {
    int err = ax__file_quiet(file, deadline);
    if (err < 0) return err;
    ax__fsjob *j = ax__file_job(file, &ax__kind_fdop);
    if (j) {
        j->flags = (unsigned)op;
        j->off = off;
        j->out[0] = st;
    }
    ax_fs_future f;
    ax__fs_future_init(&f, j);
    return (int)ax__fs_await(&f, deadline);
}

int64_t ax_file_seek(ax_file *file, int64_t off, int whence, ax_instant deadline) {
    int64_t base;
    if (whence == SEEK_SET)
        base = 0;
    else if (whence == SEEK_CUR)
        base = (int64_t)file->pos;
    else if (whence == SEEK_END) {
        ax_fs_info st;
        int err = ax__file_fdop(file, AX__FDOP_STAT, 0, &st, deadline);
        if (err < 0) return err;
        base = (int64_t)st.size;
    } else
        return AX_EINVAL;
    int err = ax__file_quiet(file, deadline);
    if (err < 0) return err;
    if (off < 0 && -off > base) return AX_EINVAL;
    file->pos = (uint64_t)(base + off);
    return (int64_t)file->pos;
}

int ax_file_truncate(ax_file *file, uint64_t len, ax_instant deadline) {
    if (!(file->flags & AX_FILE_WRITE)) return AX_EBADF;
    return ax__file_fdop(file, AX__FDOP_TRUNCATE, len, NULL, deadline);
}

int ax_file_sync(ax_file *file, bool data_only, ax_instant deadline) {
    return ax__file_fdop(file, data_only ? AX__FDOP_DATASYNC : AX__FDOP_SYNC, 0, NULL, deadline);
}

int ax_file_stat(ax_file *file, ax_fs_info *st, ax_instant deadline) {
    return ax__file_fdop(file, AX__FDOP_STAT, 0, st, deadline);
}

int ax_file_commit(ax_file *file, ax_instant deadline) {
    if (!file->tmp) return AX_EINVAL;
    if (file->committed) return AX_ECLOSED;
    int err = ax__file_quiet(file, deadline);
    if (err < 0) return err;
    ax__fsjob *j = ax__fsjob_new(&ax__kind_commit, file->tmp, file->name);
    if (j) {
        j->fd = ax__fsfd_ref(file->fd);
        j->aux_fd = fcntl(file->dirfd, F_DUPFD_CLOEXEC, 0);
        if (j->aux_fd < 0) {
            ax__fsjob_unref(j);
            return AX_EMFILE;
        }
    }
    ax_fs_future f;
    ax__fs_future_init(&f, j);
    err = (int)ax__fs_await(&f, deadline);
    if (!err) file->committed = true;
    return err;
}

int ax_file_close(ax_file *file, ax_instant deadline) {
    if (!file) return 0;
    int err = 0;
    if (!ax_is_cancelled()) err = ax_file_flush(file, deadline);
    ax__file_destroy(file);
    return err;
}
