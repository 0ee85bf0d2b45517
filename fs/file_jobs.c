/* fs/file_jobs.c - the jobs behind file handles: open (plain and atomic),
 * chunk reads and writes at an offset, descriptor operations and commit.
 * Each works on a shared descriptor (ax__fsfd) it holds a reference to, so
 * a handle closed while a job runs never lets that job touch a reused
 * descriptor number. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon/time.h"
#include "fs/file_jobs.h"

/* ---- open ---------------------------------------------------------------------------------- */

static unsigned ax__open_access(unsigned flags) {
    unsigned a = 0;
    if (flags & AX_FILE_READ) a |= AX__POLICY_READ;
    if (flags & (AX_FILE_WRITE | AX_FILE_APPEND | AX_FILE_CREATE | AX_FILE_TRUNC | AX_FILE_ATOMIC))
        a |= AX__POLICY_WRITE;
    return a ? a : AX__POLICY_READ;
}

static void ax__run_open_atomic(ax__fsjob *j) {
    char buf[AX__FS_PATH_MAX], tmp[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path, true, O_RDONLY, &dirfd, buf,
                            sizeof buf, &name);
    if (err == AX_ENOENT && (j->flags & AX_FILE_MKDIRS)) {
        err = ax__fs_mkdirs_parent(j->policy, j->path);
        if (!err)
            err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path, true, O_RDONLY, &dirfd, buf,
                                sizeof buf, &name);
    }
    if (err) {
        j->res = err;
        return;
    }
    if (!strcmp(name, ".") || !strcmp(name, "/")) {
        ax__fs_close_dir(dirfd);
        j->res = AX_EISDIR;
        return;
    }
    int fd = ax__fs_tmp_create(dirfd, name, j->mode ? j->mode & 07777 : 0666, tmp, sizeof tmp);
    char *t = fd >= 0 ? strdup(tmp) : NULL, *n = fd >= 0 ? strdup(name) : NULL;
    if (fd < 0 || !t || !n) {
        if (fd >= 0) {
            unlinkat(dirfd, tmp, 0);
            close(fd);
        }
        free(t);
        free(n);
        ax__fs_close_dir(dirfd);
        j->res = fd < 0 ? fd : AX_ENOMEM;
        return;
    }
    ax_file *f = ax__file_new(fd, j->flags, dirfd, t, n);
    if (f) f->regular = true;
    j->obj = f;
    j->res = f ? 0 : AX_ENOMEM;
}

static void ax__run_open(ax__fsjob *j) {
    unsigned fl = j->flags;
    if (fl & AX_FILE_ATOMIC) {
        ax__run_open_atomic(j);
        return;
    }
    bool wr = fl & (AX_FILE_WRITE | AX_FILE_APPEND);
    int of = (fl & AX_FILE_READ) && wr ? O_RDWR : wr ? O_WRONLY : O_RDONLY;
    if (fl & AX_FILE_APPEND) of |= O_APPEND;
    if (fl & AX_FILE_CREATE) of |= O_CREAT;
    if (fl & AX_FILE_TRUNC) of |= O_TRUNC;
    if (fl & AX_FILE_EXCL) of |= O_EXCL;
    mode_t mode = j->mode ? j->mode & 07777 : 0666;
    unsigned acc = ax__open_access(fl);
    int fd = ax__fs_open(j->policy, acc, j->path, of, mode);
    if (fd == AX_ENOENT && (fl & AX_FILE_MKDIRS) && (fl & AX_FILE_CREATE)) {
        int err = ax__fs_mkdirs_parent(j->policy, j->path);
        fd = err ? err : ax__fs_open(j->policy, acc, j->path, of, mode);
    }
    if (fd < 0) {
        j->res = fd;
        return;
    }
    struct stat st;
    bool statted = fstat(fd, &st) == 0;
    if (statted && S_ISDIR(st.st_mode)) {
        close(fd);
        j->res = AX_EISDIR;
        return;
    }
    ax_file *f = ax__file_new(fd, fl, -1, NULL, NULL);
    if (f && statted && S_ISREG(st.st_mode)) ax__file_opened_regular(f, (uint64_t)st.st_size);
    j->obj = f;
    j->res = f ? 0 : AX_ENOMEM;
}

static void ax__deliver_open(ax__fsjob *j, intptr_t res) {
    if (res < 0) return;
    *(ax_file **)j->out[0] = j->obj;
    j->obj = NULL;
}

static void ax__cleanup_open(ax__fsjob *j) {
    if (j->obj) ax__file_destroy(j->obj);
}

/* access is decided per call (see ax_file_open_future_init). */
static const ax__fs_kind ax__kind_open_r = {ax__run_open, ax__deliver_open, ax__cleanup_open,
                                            AX__POLICY_READ, 0};
static const ax__fs_kind ax__kind_open_w = {ax__run_open, ax__deliver_open, ax__cleanup_open,
                                            AX__POLICY_WRITE, 0};
static const ax__fs_kind ax__kind_open_rw = {ax__run_open, ax__deliver_open, ax__cleanup_open,
                                             AX__POLICY_READ | AX__POLICY_WRITE, 0};

void ax_file_open_future_init(ax_fs_future *f, const char *path, unsigned flags, unsigned mode,
                              ax_file **out) {
    if (!path || !out) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    if (flags & AX_FILE_APPEND) flags |= AX_FILE_WRITE;
    if (flags & AX_FILE_ATOMIC) flags |= AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC;
    if (!(flags & (AX_FILE_READ | AX_FILE_WRITE))) flags |= AX_FILE_READ;
    if ((flags & AX_FILE_ATOMIC) && (flags & (AX_FILE_APPEND | AX_FILE_EXCL))) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    unsigned acc = ax__open_access(flags);
    const ax__fs_kind *k = acc == AX__POLICY_READ    ? &ax__kind_open_r
                           : acc == AX__POLICY_WRITE ? &ax__kind_open_w
                                                     : &ax__kind_open_rw;
    ax__fsjob *j = ax__fsjob_new(k, path, NULL);
    if (j) {
        j->flags = flags;
        j->mode = mode;
        j->out[0] = out;
    }
    ax__fs_future_init(f, j);
}

int ax_file_open(const char *path, unsigned flags, unsigned mode, ax_file **out,
                 ax_instant deadline) {
    ax_fs_future f;
    ax_file_open_future_init(&f, path, flags, mode, out);
    return (int)ax__fs_await(&f, deadline);
}

/* ---- chunk reads and writes ---------------------------------------------------------------- */

/* One pread of up to j->len bytes at j->off into j->data (pread fails on
 * pipes and terminals: read then). */
static void ax__run_pread(ax__fsjob *j) {
    ssize_t n;
    do n = pread(j->fd->fd, j->data, j->len, (off_t)j->off);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == ESPIPE) {
        do n = read(j->fd->fd, j->data, j->len);
        while (n < 0 && errno == EINTR);
    }
    j->res = n < 0 ? ax_translate_sys_error(errno) : n;
}

/* Read-ahead and write-behind: give the lent buffer back, whatever
 * happened. */
static void ax__deliver_lent(ax__fsjob *j, intptr_t res) {
    *(void **)j->out[0] = j->data;
    *(size_t *)j->out[1] = j->dlen;
    j->data = NULL;
}

const ax__fs_kind ax__kind_readahead = {ax__run_pread, ax__deliver_lent, NULL, 0, 0};

/* Writes all j->len bytes of j->data: at j->off, or appended (one write(2)
 * unless the kernel takes less). */
static void ax__run_pwrite(ax__fsjob *j) {
    const uint8_t *p = j->data;
    size_t done = 0;
    while (done < j->len) {
        ssize_t n = (j->flags & AX_FILE_APPEND)
                        ? write(j->fd->fd, p + done, j->len - done)
                        : pwrite(j->fd->fd, p + done, j->len - done, (off_t)(j->off + done));
        if (n < 0 && errno == ESPIPE) n = write(j->fd->fd, p + done, j->len - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            j->res = ax_translate_sys_error(errno);
            return;
        }
        done += (size_t)n;
    }
    j->res = (intptr_t)done;
}

static void ax__run_writebehind(ax__fsjob *j) {
    pthread_mutex_lock(&j->fd->wlock);
    ax__run_pwrite(j);
    pthread_mutex_unlock(&j->fd->wlock);
}

const ax__fs_kind ax__kind_writebehind = {ax__run_writebehind, ax__deliver_lent, NULL, 0, 0};
const ax__fs_kind ax__kind_write_at = {ax__run_pwrite, NULL, NULL, 0, 0};

/* A piece of a lent write: the longest a caller that gives up may wait. */
#define AX__LENT_PIECE ((size_t)256 << 10)

/* Pieces quicker than this went to the page cache at memory speed. */
#define AX__LENT_FAST_PIECE_NS 100000u

/* What this pool thread's last piece took: a guess for the first piece of
 * its next lent write (a wrong guess costs a worker's spin of at most
 * AX__BLOCKING_SOON_MAX_NS, or one wake-up). */
static __thread ax_instant ax__last_piece_ns;

/* Before each piece: has a worker awake for the writer's next call, which
 * follows at once when the job ends. With pieces at memory speed a 1 MiB
 * job takes a couple of hundred µs: the worker that went idle when the
 * writer submitted it is kept spinning through all of it, the promise
 * renewed before each piece without waking anyone, and before the last
 * piece one is woken if none is searching. Waking one per job instead
 * slowed the writer itself: 1 GiB in 1 MiB writes ran at 0.88x of
 * write(2), 0.96x so (docs/ARCHITECTURE.md, Files). The spin costs a
 * worker's CPU for as long as the job. Slower pieces (the disk, or the
 * host faulting pages in) have a worker woken before the last one only,
 * when that one is expected within the promise's bound. */
static void ax__lent_keep_awake(ax_instant piece_ns, size_t left) {
    ax_instant guess = piece_ns ? piece_ns : ax__last_piece_ns;
    bool last = left <= AX__LENT_PIECE;
    if (guess && guess <= AX__LENT_FAST_PIECE_NS && !last)
        ax__blocking_keep_spinning(AX__BLOCKING_SOON_MAX_NS);
    else if (piece_ns && last && piece_ns < AX__BLOCKING_SOON_MAX_NS)
        ax__blocking_ending_soon(piece_ns + piece_ns / 2); /* pieces vary */
}

/* Writes the caller's j->dlen bytes at j->off, a piece at a time, until
 * they are all written, the loan ends or the job is abandoned. */
static void ax__run_write_lent(ax__fsjob *j) {
    ax_instant piece_ns = 0; /* the last piece took, 0: none yet */
    while (j->lent_done < j->dlen) {
        if (ax__fsjob_abandoned(j)) {
            j->res = AX_ECANCELED;
            return;
        }
        ax__lent_keep_awake(piece_ns, j->dlen - j->lent_done);
        ax_instant t0 = ax_now();
        ssize_t n = ax__fs_lent_pwrite(j, j->fd->fd, j->off, AX__LENT_PIECE);
        if (n <= 0) {
            j->res = n < 0 ? n : AX_EIO;
            return;
        }
        piece_ns = ax_now() - t0;
        ax__last_piece_ns = piece_ns;
    }
    j->res = (intptr_t)j->lent_done;
}

const ax__fs_kind ax__kind_write_lent = {ax__run_write_lent, NULL, NULL, 0, 0};

static void ax__deliver_read_at(ax__fsjob *j, intptr_t res) {
    if (res > 0) memcpy(j->out[0], j->data, (size_t)res);
}

/* pread until len bytes or the end of the file. */
static void ax__run_read_at(ax__fsjob *j) {
    size_t done = 0;
    while (done < j->len) {
        ssize_t n =
            pread(j->fd->fd, (uint8_t *)j->data + done, j->len - done, (off_t)(j->off + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            j->res = ax_translate_sys_error(errno);
            return;
        }
        if (n == 0) break;
        done += (size_t)n;
    }
    j->res = (intptr_t)done;
}

const ax__fs_kind ax__kind_read_at = {ax__run_read_at, ax__deliver_read_at, NULL, 0, 0};

static void ax__run_read_chunk(ax__fsjob *j) {
    ax_buf *b;
    int err = ax_buf_new(&b, j->len);
    if (err) {
        j->res = err;
        return;
    }
    j->data = ax_buf_data(b);
    ax__run_pread(j);
    j->data = NULL;
    if (j->res > 0) {
        ax_buf_set_len(b, (size_t)j->res);
        j->obj = b;
    } else
        ax_buf_unref(b);
}

static void ax__deliver_read_chunk(ax__fsjob *j, intptr_t res) {
    *(ax_buf **)j->out[0] = res > 0 ? j->obj : NULL;
    j->obj = NULL;
}

static void ax__cleanup_read_chunk(ax__fsjob *j) {
    ax_buf_unref(j->obj);
}

const ax__fs_kind ax__kind_read_chunk = {ax__run_read_chunk, ax__deliver_read_chunk,
                                         ax__cleanup_read_chunk, 0, 0};

/* ---- descriptor operations ------------------------------------------------------------------ */

static void ax__run_fdop(ax__fsjob *j) {
    int fd = j->fd->fd, rc;
    struct stat st;
    switch (j->flags) {
    case AX__FDOP_TRUNCATE:
        rc = ftruncate(fd, (off_t)j->off);
        break;
    case AX__FDOP_SYNC:
        rc = fsync(fd);
        break;
    case AX__FDOP_DATASYNC:
        rc = ax__fdatasync(fd);
        break;
    default: /* AX__FDOP_STAT */
        rc = fstat(fd, &st);
        if (rc == 0) ax__fs_fill_stat(&j->st, &st);
        break;
    }
    j->res = rc < 0 ? ax_translate_sys_error(errno) : 0;
}

static void ax__deliver_fdop(ax__fsjob *j, intptr_t res) {
    if (res == 0 && j->out[0]) *(ax_fs_info *)j->out[0] = j->st;
}

const ax__fs_kind ax__kind_fdop = {ax__run_fdop, ax__deliver_fdop, NULL, 0, 0};

/* path: the temporary name, path2: the target's name, aux_fd: the
 * directory (a duplicate the job owns). */
static void ax__run_commit(ax__fsjob *j) {
    j->res = ax__fs_tmp_commit(j->fd->fd, j->aux_fd, j->path, j->path2);
}

const ax__fs_kind ax__kind_commit = {ax__run_commit, NULL, NULL, 0, 0};
