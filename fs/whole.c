/* fs/whole.c - whole-file reads, writes and appends. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_internal.h"

/* ---- reading ------------------------------------------------------------------------------- */

/* Reads all of path into a malloc'd buffer (NUL-terminated) in j->data. */
static void ax__run_read(ax__fsjob *j) {
    int fd = ax__fs_open(j->policy, AX__POLICY_READ, j->path, O_RDONLY, 0);
    if (fd < 0) {
        j->res = fd;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        j->res = ax_translate_sys_error(errno);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        j->res = AX_EISDIR;
        goto out;
    }
    size_t cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        j->res = AX_ENOMEM;
        goto out;
    }
    size_t len = 0;
    for (;;) {
        if (ax__fsjob_abandoned(j)) {
            free(buf);
            j->res = AX_ECANCELED;
            goto out;
        }
        /* Full: usually the end of a file read to its fstat size, so look
         * for more into a small buffer before growing (growing first cost
         * a realloc per small file). */
        uint8_t probe[512];
        bool full = len + 1 == cap;
        size_t want = full ? sizeof probe : cap - 1 - len;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
        ssize_t n = read(fd, full ? probe : buf + len, want);
        if (n < 0) {
            if (errno == EINTR) continue;
            j->res = ax_translate_sys_error(errno);
            free(buf);
            goto out;
        }
        if (n == 0) break;
        if (full) {
            /* It grew, or its size lies (/proc): double (room for the
             * probe's bytes included) and go on. */
            size_t ncap = cap * 2 + sizeof probe;
            uint8_t *nb = cap > (SIZE_MAX - sizeof probe) / 2 ? NULL : realloc(buf, ncap);
            if (!nb) {
                free(buf);
                j->res = AX_ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
            memcpy(buf + len, probe, (size_t)n);
        }
        len += (size_t)n;
    }
    buf[len] = 0;
    j->data = buf;
    j->dlen = len;
    j->res = 0;
out:
    close(fd);
}

static void ax__deliver_read(ax__fsjob *j, intptr_t res) {
    if (res < 0) return;
    *(void **)j->out[0] = j->data;
    if (j->out[1]) *(size_t *)j->out[1] = j->dlen;
    j->data = NULL;
}

static const ax__fs_kind ax__kind_read = {ax__run_read, ax__deliver_read, NULL, AX__POLICY_READ, 0};

void ax_fs_read_file_future_init(ax_fs_future *f, const char *path, void **data, size_t *len) {
    if (!path || !data) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    ax__fsjob *j = ax__fsjob_new(&ax__kind_read, path, NULL);
    if (j) {
        j->out[0] = data;
        j->out[1] = len;
    }
    ax__fs_future_init(f, j);
}

int ax_fs_read_file(const char *path, void **data, size_t *len, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_read_file_future_init(&f, path, data, len);
    return (int)ax__fs_await(&f, deadline);
}

static void ax__free_data(void *data, void *user) {
    (void)user;
    free(data);
}

static void ax__run_read_buf(ax__fsjob *j) {
    ax__run_read(j);
    if (j->res < 0) return;
    ax_buf *b;
    int err = ax_buf_wrap(&b, j->data, j->dlen, ax__free_data, NULL);
    if (err) {
        j->res = err;
        return;
    }
    j->data = NULL;
    j->obj = b;
}

static void ax__deliver_read_buf(ax__fsjob *j, intptr_t res) {
    if (res < 0) return;
    *(ax_buf **)j->out[0] = j->obj;
    j->obj = NULL;
}

static void ax__cleanup_buf(ax__fsjob *j) {
    ax_buf_unref(j->obj);
}

static const ax__fs_kind ax__kind_read_buf = {ax__run_read_buf, ax__deliver_read_buf,
                                              ax__cleanup_buf, AX__POLICY_READ, 0};

void ax_fs_read_buf_future_init(ax_fs_future *f, const char *path, ax_buf **out) {
    if (!path || !out) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    ax__fsjob *j = ax__fsjob_new(&ax__kind_read_buf, path, NULL);
    if (j) j->out[0] = out;
    ax__fs_future_init(f, j);
}

int ax_fs_read_buf(const char *path, ax_buf **out, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_read_buf_future_init(&f, path, out);
    return (int)ax__fs_await(&f, deadline);
}

static void ax__run_read_text(ax__fsjob *j) {
    ax__run_read(j);
    if (j->res < 0) return;
    int err = ax_utf8_validate(j->data, j->dlen, &j->bad);
    if (err) {
        free(j->data);
        j->data = NULL;
        j->res = err;
    }
}

static void ax__deliver_read_text(ax__fsjob *j, intptr_t res) {
    if (res == AX_EBADUTF8 && j->out[2]) *(size_t *)j->out[2] = j->bad;
    ax__deliver_read(j, res);
}

static const ax__fs_kind ax__kind_read_text = {ax__run_read_text, ax__deliver_read_text, NULL,
                                               AX__POLICY_READ, 0};

void ax_fs_read_text_future_init(ax_fs_future *f, const char *path, char **text, size_t *len,
                                 size_t *bad_offset) {
    if (!path || !text) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    ax__fsjob *j = ax__fsjob_new(&ax__kind_read_text, path, NULL);
    if (j) {
        j->out[0] = text;
        j->out[1] = len;
        j->out[2] = bad_offset;
    }
    ax__fs_future_init(f, j);
}

int ax_fs_read_text(const char *path, char **text, size_t *len, size_t *bad_offset,
                    ax_instant deadline) {
    ax_fs_future f;
    ax_fs_read_text_future_init(&f, path, text, len, bad_offset);
    return (int)ax__fs_await(&f, deadline);
}

/* ---- writing ------------------------------------------------------------------------------- */

static mode_t ax__mode(const ax_fs_write_opts *o) {
    return o->mode ? (mode_t)(o->mode & 07777) : 0666;
}

/* A lent buffer reaches write(2) through this copy, chunk by chunk (128
 * KiB: small enough for a pool thread's stack anywhere, large enough that
 * the extra calls do not count): write(2) never reads the caller's memory,
 * so a caller that gives up waits for no I/O (ax__fs_await_borrowed). */
#define AX__LEND_CHUNK ((size_t)128 << 10)

/* Writes j's data to fd: stops between chunks once j is abandoned when
 * abandon (always for lent data); with mid_step, the test step
 * "mid-write" is taken halfway. */
static int ax__write_data(int fd, ax__fsjob *j, bool abandon, bool mid_step) {
    if (!j->borrowed) return ax__fs_write_all(fd, j->data, j->dlen, abandon ? j : NULL, mid_step);
    uint8_t bounce[AX__LEND_CHUNK];
    size_t half = j->dlen / 2, done = 0;
    for (;;) {
        if (mid_step && done == half) {
            ax__fs_test_step("mid-write");
            mid_step = false;
        }
        if (done == j->dlen) return 0;
        size_t n = j->dlen - done;
        if (n > sizeof bounce) n = sizeof bounce;
        if (mid_step && n > half - done) n = half - done; /* a chunk ends halfway */
        int err = ax__fs_lent_copy(j, bounce, done, n);
        if (!err) err = ax__fs_write_all(fd, bounce, n, j, false);
        if (err) return err;
        done += n;
    }
}

static void ax__run_write_atomic(ax__fsjob *j) {
    const ax_fs_write_opts *o = &j->wopts;
    char buf[AX__FS_PATH_MAX], tmp[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path, true, O_RDONLY, &dirfd, buf,
                            sizeof buf, &name);
    if (err == AX_ENOENT && (o->flags & AX_FS_MKDIRS)) {
        err = ax__fs_mkdirs_parent(j->policy, j->path);
        if (!err)
            err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path, true, O_RDONLY, &dirfd, buf,
                                sizeof buf, &name);
    }
    if (err) {
        j->res = err;
        return;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "/") == 0) {
        ax__fs_close_dir(dirfd);
        j->res = AX_EISDIR;
        return;
    }
    mode_t mode = ax__mode(o);
    struct stat old;
    bool keep_mode = !o->mode && fstatat(dirfd, name, &old, 0) == 0;
    int fd = ax__fs_tmp_create(dirfd, name, mode, tmp, sizeof tmp);
    if (fd < 0) {
        ax__fs_close_dir(dirfd);
        j->res = fd;
        return;
    }
    if (keep_mode) fchmod(fd, old.st_mode & 07777);
    err = ax__write_data(fd, j, true, true);
    if (!err && ax__fsjob_abandoned(j)) err = AX_ECANCELED;
    if (err)
        unlinkat(dirfd, tmp, 0);
    else
        err = ax__fs_tmp_commit(fd, dirfd, tmp, name);
    close(fd);
    ax__fs_close_dir(dirfd);
    j->res = err;
}

/* Opens path for writing with oflags, creating the parents when asked. */
static int ax__open_for_write(ax__fsjob *j, int oflags) {
    mode_t mode = ax__mode(&j->wopts);
    int fd = ax__fs_open(j->policy, AX__POLICY_WRITE, j->path, oflags, mode);
    if (fd == AX_ENOENT && (j->wopts.flags & AX_FS_MKDIRS)) {
        int err = ax__fs_mkdirs_parent(j->policy, j->path);
        if (err) return err;
        fd = ax__fs_open(j->policy, AX__POLICY_WRITE, j->path, oflags, mode);
    }
    return fd;
}

static void ax__run_write(ax__fsjob *j) {
    if (j->wopts.flags & AX_FS_ATOMIC) {
        ax__run_write_atomic(j);
        return;
    }
    int oflags = O_WRONLY | O_CREAT | O_TRUNC | ((j->wopts.flags & AX_FS_EXCL) ? O_EXCL : 0);
    int fd = ax__open_for_write(j, oflags);
    if (fd < 0) {
        j->res = fd;
        return;
    }
    /* A copy is written to the end once started; lent bytes only while
     * the caller waits (it gives up between chunks). */
    int err = ax__write_data(fd, j, j->borrowed, false);
    if (!err) err = ax__fs_sync_fd(fd, j->wopts.sync);
    if (close(fd) < 0 && !err && errno != EINTR) err = ax_translate_sys_error(errno);
    j->res = err;
}

static void ax__run_append(ax__fsjob *j) {
    int fd = ax__open_for_write(j, O_WRONLY | O_CREAT | O_APPEND);
    if (fd < 0) {
        j->res = fd;
        return;
    }
    /* One write(2): the record goes in as one piece. */
    int err = ax__fs_write_all(fd, j->data, j->dlen, NULL, false);
    if (!err) err = ax__fs_sync_fd(fd, j->wopts.sync);
    if (close(fd) < 0 && !err && errno != EINTR) err = ax_translate_sys_error(errno);
    j->res = err;
}

static const ax__fs_kind ax__kind_write = {ax__run_write, NULL, NULL, AX__POLICY_WRITE, 0};
static const ax__fs_kind ax__kind_append = {ax__run_append, NULL, NULL, AX__POLICY_WRITE, 0};

/* borrow: j->data points at the caller's bytes (only for a caller that
 * awaits with ax__fs_await_borrowed); else they are copied now. */
static void ax__write_init(ax_fs_future *f, const ax__fs_kind *k, const char *path,
                           const void *data, size_t len, const ax_fs_write_opts *opts,
                           bool borrow) {
    if (!path || (!data && len)) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    if (opts && (opts->flags & AX_FS_ATOMIC) &&
        (k == &ax__kind_append || (opts->flags & AX_FS_EXCL))) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    ax__fsjob *j = ax__fsjob_new(k, path, NULL);
    if (j) {
        if (opts) j->wopts = *opts;
        j->dlen = len;
        if (borrow) {
            j->data = (void *)(uintptr_t)data;
            j->borrowed = true;
        } else if (len && !(j->data = malloc(len))) {
            ax__fsjob_unref(j);
            j = NULL;
        } else if (len)
            memcpy(j->data, data, len);
    }
    ax__fs_future_init(f, j);
}

void ax_fs_write_file_future_init(ax_fs_future *f, const char *path, const void *data, size_t len,
                                  const ax_fs_write_opts *opts) {
    ax__write_init(f, &ax__kind_write, path, data, len, opts, false);
}

/* Lends data to the job instead of copying it whole (faulting in a fresh
 * 1 GiB copy made the write 6x slower than a handle's, bench/fs); the job
 * copies it a chunk at a time into a reused buffer, and
 * ax__fs_await_borrowed ends the loan before the call returns. */
int ax_fs_write_file(const char *path, const void *data, size_t len, const ax_fs_write_opts *opts,
                     ax_instant deadline) {
    ax_fs_future f;
    ax__write_init(&f, &ax__kind_write, path, data, len, opts, true);
    return (int)ax__fs_await_borrowed(&f, deadline, NULL);
}

void ax_fs_append_file_future_init(ax_fs_future *f, const char *path, const void *data, size_t len,
                                   const ax_fs_write_opts *opts) {
    ax__write_init(f, &ax__kind_append, path, data, len, opts, false);
}

int ax_fs_append_file(const char *path, const void *data, size_t len, const ax_fs_write_opts *opts,
                      ax_instant deadline) {
    ax_fs_future f;
    ax_fs_append_file_future_init(&f, path, data, len, opts);
    return (int)ax__fs_await(&f, deadline);
}
