/* fs/file.c - file handles and their stream interface.
 *
 * Read-ahead: a read lends a buffer to a job that preads the next chunk,
 * and the poll that sees the job finish takes the buffer back and copies
 * from it. On a regular file that poll also starts the read of the chunk
 * after it into a second buffer, so the pool reads chunk n + 1 while the
 * task copies and uses chunk n (speculative reads are never made on pipes
 * or devices, where they would take data nobody asked for); a short read
 * of a regular file is its end, so the read after it answers 0 without a
 * job, and a read-only handle reads its first chunk while it opens. So
 * reading a small file whole costs one job, the open. Write-behind: a
 * write copies into one of the handle's two write buffers, lends it to a
 * job that pwrites it and returns at once; the write after next (or a
 * flush) first waits for that job. So the task copies block n + 1 while a
 * pool thread writes block n (two jobs at disjoint offsets; on an
 * append-mode or non-regular file, where order matters, one job and one
 * buffer, as a read-ahead; the two jobs of a regular file take turns on
 * a mutex of the descriptor, as the kernel would make them take turns on
 * the inode's lock, but spinning). At most one read and two write jobs
 * are in flight per handle, and dropping a handle with jobs in flight
 * leaves the lent buffers to the jobs, which free them. A large
 * ax_file_write (or write_at) on a regular file skips write-behind: its
 * job pwrites the caller's bytes directly, a piece at a time under the
 * loan protocol of fs/op.c, and the call waits (a second pass over
 * megabytes cost more than the overlap won).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/uio.h> /* preadv2 */
#endif
#include <unistd.h>

#include "axon/task.h"
#include "fs/file_jobs.h"

#define AX__FILE_CHUNK       (64u * 1024u)
#define AX__FILE_WRITE_CHUNK (1024u * 1024u) /* a 1 MiB write is one job, not four */
#define AX__FILE_MAX_CHUNK   (64u * 1024u * 1024u)
#define AX__FILE_LEND_MIN    (256u * 1024u) /* ax_file_write(_at) from the caller's memory */

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
    for (int i = 0; i < 2; i++)
        if (f->wop_on[i]) ax_future_drop(&f->wop[i].base);
    if (f->tmp && !f->committed && f->dirfd >= 0) unlinkat(f->dirfd, f->tmp, 0);
    if (f->dirfd >= 0) close(f->dirfd);
    free(f->tmp);
    free(f->name);
    ax__fsfd_unref(f->fd);
    free(f->rbuf);
    free(f->abuf);
    free(f->wbuf[0]);
    free(f->wbuf[1]);
    free(f);
}

void ax__file_opened_regular(ax_file *f, uint64_t size) {
    f->regular = true;
    if ((f->flags & (AX_FILE_WRITE | AX_FILE_APPEND)) || size == 0) return;
    /* size + 1: a short read then proves the end of the file. */
    size_t want = size < f->chunk ? (size_t)size + 1 : f->chunk;
    f->rbuf = malloc(want);
    if (!f->rbuf) return; /* the first read will try again */
    f->rcap = want;
    ssize_t n;
    do n = pread(f->fd->fd, f->rbuf, want, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return; /* the first read reports it */
    f->rend = (size_t)n;
    f->reof = (size_t)n < want;
}

ax_stream *ax_file_stream(ax_file *file) {
    return &file->base;
}

int ax_file_fd(const ax_file *file) {
    return file->fd->fd;
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

/* Waits for the write job in slot i; its error becomes the handle's. */
static ax_poll ax__file_poll_wop_slot(ax_file *f, unsigned i, ax_context *cx) {
    if (!f->wop_on[i]) return AX_READY;
    if (ax_future_poll(&f->wop[i].base, cx) == AX_PENDING) return AX_PENDING;
    intptr_t r = f->wop[i].base.result;
    ax_future_drop(&f->wop[i].base);
    f->wop_on[i] = false;
    if (r < 0 && !f->werr) f->werr = (int)r;
    return AX_READY;
}

/* Waits for every write job. */
static ax_poll ax__file_poll_wop(ax_file *f, ax_context *cx) {
    ax_poll a = ax__file_poll_wop_slot(f, 0, cx);
    ax_poll b = ax__file_poll_wop_slot(f, 1, cx);
    return a == AX_READY && b == AX_READY ? AX_READY : AX_PENDING;
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

/* Starts the read of up to max(len, chunk) bytes that follow rbuf's data,
 * into abuf. */
static int ax__file_start_read(ax_file *f, size_t len) {
    size_t want = len > f->chunk ? len : f->chunk;
    if (want > AX__FILE_MAX_CHUNK) want = AX__FILE_MAX_CHUNK;
    if (!f->abuf || f->acap < want) {
        free(f->abuf);
        f->abuf = malloc(want);
        f->acap = f->abuf ? want : 0;
        if (!f->abuf) return AX_ENOMEM;
    }
    ax__fsjob *j = ax__fsjob_new(&ax__kind_readahead, NULL, NULL);
    if (!j) return AX_ENOMEM;
    j->fd = ax__fsfd_ref(f->fd);
    j->data = f->abuf;
    j->dlen = f->acap;
    j->len = want;
    j->off = f->pos + (f->rend - f->rstart);
    j->out[0] = &f->abuf;
    j->out[1] = &f->acap;
    f->abuf = NULL;
    f->acap = 0;
    f->rop_want = want;
    ax__fs_future_init(&f->rop, j);
    f->rop_on = true;
    return 0;
}

/* The read in flight landed with r >= 0 bytes in abuf, and rbuf is used
 * up: its data becomes the current one. */
static void ax__file_take_read(ax_file *f, size_t r) {
    uint8_t *b = f->rbuf;
    size_t cap = f->rcap;
    f->rbuf = f->abuf;
    f->rcap = f->acap;
    f->abuf = b;
    f->acap = cap;
    f->rstart = 0;
    f->rend = r;
    f->reof = r == 0 || (f->regular && r < f->rop_want);
}

/* Reads at pos from the page cache without blocking (RWF_NOWAIT), on the
 * polling thread: into buf when len is at least a chunk (no copy of ours
 * at all), else a chunk into rbuf. Returns the bytes read into buf (> 0),
 * 0 with *buffered set when they went to rbuf, 0 at the end of the file,
 * or -1 when the data is not cached (or the kernel cannot tell): the pool
 * must read it. */
static ssize_t ax__file_read_nowait(ax_file *f, void *buf, size_t len, bool *buffered) {
#ifdef RWF_NOWAIT
    *buffered = false;
    if (!f->regular || f->nowait_off || len == 0) return -1;
    struct iovec iov = {buf, len};
    if (len < f->chunk) {
        if (!f->rbuf || f->rcap < f->chunk) {
            free(f->rbuf);
            f->rbuf = malloc(f->chunk);
            f->rcap = f->rbuf ? f->chunk : 0;
            if (!f->rbuf) return -1;
        }
        iov.iov_base = f->rbuf;
        iov.iov_len = f->chunk;
    } else if (len > AX__FILE_MAX_CHUNK) {
        iov.iov_len = AX__FILE_MAX_CHUNK;
    }
    ssize_t n;
    do n = preadv2(f->fd->fd, &iov, 1, (off_t)f->pos, RWF_NOWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN) f->nowait_off = true; /* not supported here: the pool from now on */
        return -1;
    }
    if (n > 0 && iov.iov_base == f->rbuf) {
        f->rstart = 0;
        f->rend = (size_t)n;
        *buffered = true;
        return 0;
    }
    if (n > 0) f->pos += (uint64_t)n;
    return n;
#else
    (void)f, (void)buf, (void)len;
    *buffered = false;
    return -1;
#endif
}

static ax_poll ax__file_poll_read(ax_stream *s, ax_context *cx, void *buf, size_t len,
                                  ssize_t *res) {
    ax_file *f = (ax_file *)s;
    if (!(f->flags & AX_FILE_READ)) {
        *res = AX_EBADF;
        return AX_READY;
    }
    for (;;) {
        if (f->rop_on && f->rstart == f->rend) {
            intptr_t r;
            if (ax__file_poll_rop(f, cx, &r) == AX_PENDING) return AX_PENDING;
            if (r < 0) {
                *res = r;
                return AX_READY;
            }
            ax__file_take_read(f, (size_t)r);
            /* Read on while the caller uses this chunk (see the top). */
            if (f->regular && !f->reof && ax__file_start_read(f, len) == 0)
                (void)ax_future_poll(&f->rop.base, cx); /* start it; its result waits */
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
        bool buffered;
        ssize_t n = ax__file_read_nowait(f, buf, len, &buffered);
        if (buffered) continue;
        if (n >= 0) {
            *res = n;
            return AX_READY;
        }
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
    /* The slot after the newest job's: its job, if any, is the older one. */
    bool two = f->regular && !(f->flags & AX_FILE_APPEND);
    unsigned i = two ? f->wlast ^ 1u : 0;
    if (ax__file_poll_wop_slot(f, i, cx) == AX_PENDING) return AX_PENDING;
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
    if (!f->wbuf[i] || f->wcap[i] < n) {
        /* Sized to the write (at least a chunk): a small file's one write
         * must not pay for a large buffer (malloc maps those afresh). */
        size_t cap = n > AX__FILE_CHUNK ? n : AX__FILE_CHUNK;
        free(f->wbuf[i]);
        f->wbuf[i] = malloc(cap);
        f->wcap[i] = f->wbuf[i] ? cap : 0;
        if (!f->wbuf[i]) {
            *res = AX_ENOMEM;
            return AX_READY;
        }
    }
    ax__fsjob *j = ax__fsjob_new(&ax__kind_writebehind, NULL, NULL);
    if (!j) {
        *res = AX_ENOMEM;
        return AX_READY;
    }
    memcpy(f->wbuf[i], buf, n);
    j->fd = ax__fsfd_ref(f->fd);
    j->data = f->wbuf[i];
    j->dlen = f->wcap[i];
    j->len = n;
    j->off = f->pos;
    j->flags = f->flags & AX_FILE_APPEND;
    j->out[0] = &f->wbuf[i];
    j->out[1] = &f->wcap[i];
    f->wbuf[i] = NULL;
    f->wcap[i] = 0;
    ax__fs_future_init(&f->wop[i], j);
    f->wop_on[i] = true;
    f->wlast = i;
    f->pos += n;
    (void)ax__file_poll_wop_slot(f, i, cx); /* start it now */
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

static ax__fsjob *ax__file_job(ax_file *f, const ax__fs_kind *k) {
    ax__fsjob *j = ax__fsjob_new(k, NULL, NULL);
    if (j) j->fd = ax__fsfd_ref(f->fd);
    return j;
}

/* Writes len bytes of buf at off straight from the caller's memory, for
 * writes large enough that a copy would cost more than the wait; *done
 * receives the bytes written, also when it fails. */
static intptr_t ax__file_write_lent(ax_file *f, const void *buf, size_t len, uint64_t off,
                                    ax_instant deadline, size_t *done) {
    ax__fsjob *j = ax__file_job(f, &ax__kind_write_lent);
    if (j) {
        j->data = (void *)(uintptr_t)buf;
        j->dlen = len;
        j->borrowed = true;
        j->off = off;
    }
    ax_fs_future fu;
    ax__fs_future_init(&fu, j);
    return ax__fs_await_borrowed(&fu, deadline, done);
}

ssize_t ax_file_write(ax_file *file, const void *buf, size_t len, ax_instant deadline) {
    if (len >= AX__FILE_LEND_MIN && file->regular && !(file->flags & AX_FILE_APPEND) &&
        (file->flags & AX_FILE_WRITE) && !file->committed) {
        /* Write-behind would copy it, and a second pass over a large
         * buffer costs more than the wait (bench/fs: 0.83x of write(2)
         * with the copy, 0.92x without). */
        int err = ax__file_quiet(file, deadline);
        if (err < 0) return err;
        size_t done;
        intptr_t r = ax__file_write_lent(file, buf, len, file->pos, deadline, &done);
        file->pos += done;
        return r < 0 ? (ssize_t)r : (ssize_t)len;
    }
    int err = ax_stream_write_all(&file->base, buf, len, deadline);
    return err ? err : (ssize_t)len;
}

int ax_file_flush(ax_file *file, ax_instant deadline) {
    return ax_stream_flush(&file->base, deadline);
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
    if (len >= AX__FILE_LEND_MIN && file->regular) {
        size_t done;
        intptr_t r = ax__file_write_lent(file, buf, len, off, deadline, &done);
        return r < 0 ? (ssize_t)r : (ssize_t)done;
    }
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
