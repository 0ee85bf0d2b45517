/* fs/fs_internal.h - private to fs/: file jobs, the per-runtime fs state
 * (concurrency bound and backend), path resolution under the policy, and
 * the file handle's layout.
 *
 * A job (ax__fsjob) is one operation: its kind's run() executes on a pool
 * thread and writes only into the job; deliver() runs on the thread that
 * polls the future to completion and hands the outputs to the caller's
 * out-pointers; cleanup() releases outputs nobody took. A job is reference
 * counted by its future and, while queued or running, by the pool; so a
 * future dropped early leaves the job to finish and free itself.
 */
#ifndef AX_FS_INTERNAL_H
#define AX_FS_INTERNAL_H

#include <pthread.h> /* winpthreads on Windows */
#include <stdatomic.h>
#include <sys/stat.h>

#include "axon/fs.h"
#include "axon/policy.h"
#include "axon/sync.h"
#include "executor/blocking.h"
#include "executor/policy_internal.h"
#include "fs/fs_os.h" /* last: on Windows it renames the POSIX calls */

#pragma GCC visibility push(hidden)

/* The default bound on running file jobs: two per worker, at least 4 and
 * at most 16. File jobs mostly spend CPU (the page cache) rather than wait
 * for a disk, and more of them than CPUs mostly switch threads: at 64
 * tasks on 2 workers, 16 cost 25-28 us of CPU per small-file read where 4
 * cost 11-12 (bench/fs). Disk-bound work may want more (set it with
 * ax_fs_set_max_concurrency). */
#define AX__FS_MIN_LIMIT 4u
#define AX__FS_MAX_LIMIT 16u
#define AX__FS_PATH_MAX  4096

typedef struct ax__fsjob ax__fsjob;
struct ax__fs_rt;

/* The seam for another execution backend (io_uring): how a job's future is
 * started, polled and dropped. The thread-pool backend (op.c) is the only
 * one today; a backend may run some kinds natively and hand the rest to
 * the pool. */
typedef struct ax__fs_backend {
    const char *name;
    ax_poll (*poll)(ax_fs_future *f, ax_context *cx);
    void (*drop)(ax_fs_future *f);
} ax__fs_backend;

extern const ax__fs_backend ax__fs_pool_backend;

/* Per-runtime state, in the runtime's AX__RT_SLOT_FS slot; reference
 * counted by the slot and by every job (a job may end on a pool thread
 * after the runtime is gone). The group is the pool's and lives as long. */
typedef struct ax__fs_rt {
    _Atomic unsigned refs;
    unsigned limit;
    struct ax__blocking_group *group; /* the bound, kept by the blocking pool */
    const ax__fs_backend *backend;
} ax__fs_rt;

/* rt's fs state, created with the default bound on first use; NULL when
 * out of memory. */
ax__fs_rt *ax__fs_rt_of(ax_runtime *rt);
void ax__fs_rt_unref(ax__fs_rt *fs);

/* A descriptor shared by a handle and the jobs using it: closed when the
 * last holder lets go, so a detached job never writes to a reused number. */
typedef struct ax__fsfd {
    _Atomic unsigned refs;
    int fd;
    /* Taken by write-behind jobs: the two of a handle take turns here, on
     * a lock that sleeps, rather than on the inode's lock in the kernel,
     * which spins while the other writes. */
    pthread_mutex_t wlock;
} ax__fsfd;

ax__fsfd *ax__fsfd_new(int fd); /* NULL (and fd closed) when out of memory */
ax__fsfd *ax__fsfd_ref(ax__fsfd *d);
void ax__fsfd_unref(ax__fsfd *d);

typedef struct ax__fs_kind {
    void (*run)(ax__fsjob *j);                   /* pool thread; sets j->res */
    void (*deliver)(ax__fsjob *j, intptr_t res); /* poller; may be NULL */
    void (*cleanup)(ax__fsjob *j);               /* undelivered outputs; may be NULL */
    unsigned access, access2;                    /* policy rights for path, path2 (0: none) */
} ax__fs_kind;

struct ax__fsjob {
    _Atomic unsigned refs;
    _Atomic bool abandoned; /* the future was dropped before completion */
    const ax__fs_kind *kind;
    ax__fs_rt *fs;
    ax_policy *policy; /* NULL: no policy, or not resolved yet */
    intptr_t res;
    char *path, *path2;
    unsigned flags, mode;
    int whence;
    uint64_t off;
    size_t len;
    void *data; /* input or output bytes, owned unless borrowed */
    size_t dlen;
    bool borrowed;    /* data is the caller's (ax__fs_await_borrowed): never freed here */
    _Atomic int lend; /* AX__LEND_*: who may touch borrowed data now */
    size_t lent_done; /* bytes of borrowed data written straight (ax__fs_lent_pwrite) */
    ax__fsfd *fd;
    int aux_fd; /* another descriptor the job owns (-1: none) */
    ax_fs_write_opts wopts;
    ax_fs_info st;
    size_t bad;
    void *obj;    /* an output object (a file, dirents) */
    void *out[3]; /* the caller's out-pointers; only deliver touches them */
};

/* A job of kind k with copies of path and path2 (either may be NULL);
 * NULL when out of memory. */
ax__fsjob *ax__fsjob_new(const ax__fs_kind *k, const char *path, const char *path2);
void ax__fsjob_unref(ax__fsjob *j);
bool ax__fsjob_abandoned(ax__fsjob *j);

/* Initialises f for j (j NULL: ready with AX_ENOMEM). f takes j over. */
void ax__fs_future_init(ax_fs_future *f, ax__fsjob *j);
/* Initialises f as ready with err. */
void ax__fs_future_fail(ax_fs_future *f, int err);
/* Awaits f with a deadline (drops it in every case). */
intptr_t ax__fs_await(ax_fs_future *f, ax_instant deadline);
/* Borrowed data (j->borrowed) is read only by ax__fs_lent_copy (IDLE ->
 * COPYING -> IDLE) and ax__fs_lent_pwrite (IDLE -> WRITING -> IDLE); the
 * caller ends the loan by moving IDLE -> GONE, after which the job never
 * reads it again. */
enum { AX__LEND_IDLE, AX__LEND_COPYING, AX__LEND_WRITING, AX__LEND_GONE };

/* ax__fs_await for a job whose data the caller lends (j->borrowed): once
 * the future is done or given up (deadline, cancellation: the job is then
 * abandoned and detached, as with ax__fs_await), ends the loan, so the
 * caller's bytes are never read after this returns. A copy in progress
 * then is waited for by yielding the thread (a memcpy of at most one
 * chunk); a pwrite from the caller's bytes suspended, shielded, in 1 ms
 * sleeps (a system call cannot be taken back). *done (if not NULL)
 * receives j->lent_done, the bytes ax__fs_lent_pwrite wrote. */
intptr_t ax__fs_await_borrowed(ax_fs_future *f, ax_instant deadline, size_t *done);

/* On the pool thread: copies len bytes at offset off of j's borrowed data
 * into dst, unless the loan has ended (AX_ECANCELED). */
int ax__fs_lent_copy(ax__fsjob *j, void *dst, size_t off, size_t len);

/* On the pool thread: pwrites the borrowed bytes from j->lent_done on (at
 * most len of them) to fd at file offset off + j->lent_done, straight from
 * the caller's memory, holding the loan for the one system call, and adds
 * what was written to j->lent_done. Returns the bytes written, or
 * AX_ECANCELED once the loan has ended, or the write's error. */
ssize_t ax__fs_lent_pwrite(ax__fsjob *j, int fd, uint64_t off, size_t len);

/* ---- paths (path.c), pool threads only -------------------------------------------------- */

/* errno after a failed call, as AX_E*; EXDEV from openat2 is an escape
 * attempt, so AX_EPOLICY. */
int ax__fs_errno(void);

/* Opens path for the rights in access: beneath the policy root with
 * openat2, or plainly without a policy. oflags gets O_CLOEXEC. Returns the
 * descriptor or AX_E*. */
int ax__fs_open(ax_policy *p, unsigned access, const char *path, int oflags, mode_t mode);

/* The directory holding path's last component, and that component: on
 * success *dirfd (close it unless it is AT_FDCWD) and name (in buf). With
 * need_fd, or with a policy, *dirfd is a real descriptor opened with
 * dir_oflags (O_PATH or O_RDONLY, plus O_DIRECTORY); otherwise AT_FDCWD and
 * name is the whole path. */
int ax__fs_parent(ax_policy *p, unsigned access, const char *path, bool need_fd, int dir_oflags,
                  int *dirfd, char *buf, size_t cap, const char **name);
void ax__fs_close_dir(int dirfd);

/* mkdir -p under the policy (write). Existing directories are fine. */
int ax__fs_mkdirs(ax_policy *p, const char *path, mode_t mode);
/* mkdir -p of path's parent. */
int ax__fs_mkdirs_parent(ax_policy *p, const char *path);

void ax__fs_fill_stat(ax_fs_info *out, const struct stat *st);

/* ---- atomic writes (atomic.c) ----------------------------------------------------------- */

/* Test hook: when the environment variable AXON_FS_TEST_STOP_AT names
 * step, the process stops itself (SIGSTOP) there, so a test can kill it at
 * that exact step. Steps: "mid-write", "after-write", "after-fsync",
 * "after-rename". */
void ax__fs_test_step(const char *step);

/* Creates a temporary file for target name in dirfd (removing temporary
 * files of dead writers first); returns its descriptor and its name in
 * tmp, or AX_E*. */
int ax__fs_tmp_create(int dirfd, const char *name, mode_t mode, char *tmp, size_t cap);

/* The finishing steps of an atomic write: fsync fd, rename tmp over name
 * in dirfd, fsync dirfd. On failure tmp is removed. */
int ax__fs_tmp_commit(int fd, int dirfd, const char *tmp, const char *name);

/* Writes all len bytes at data to fd (write(2) loop). If job is not NULL
 * and is abandoned between chunks, stops with AX_ECANCELED. With
 * mid_step, the test step "mid-write" is taken halfway. */
int ax__fs_write_all(int fd, const void *data, size_t len, ax__fsjob *job, bool mid_step);
int ax__fs_sync_fd(int fd, ax_fs_sync how);

/* ---- file handles (file.c) -------------------------------------------------------------- */

struct ax_file {
    ax_stream base;
    ax__fsfd *fd;
    unsigned flags;
    uint64_t pos; /* logical position: file offset of rbuf[rstart] */
    size_t chunk;
    bool regular;    /* a regular file: reading ahead is safe, a short read is the end */
    bool nowait_off; /* RWF_NOWAIT reads failed other than with EAGAIN: not again */
    /* read-ahead: rbuf holds the data being consumed; the read job in
     * flight (rop) reads the bytes that follow it, at pos + rend - rstart,
     * into abuf, which it gives back when it lands; the two then swap. */
    uint8_t *rbuf, *abuf;
    size_t rcap, rstart, rend, acap;
    bool reof, rop_on;
    ax_fs_future rop;
    size_t rop_want; /* bytes the read in flight asked for */
    /* write-behind: up to two write jobs in flight (one on an append-mode
     * or non-regular file, where order matters), in slots used in turn;
     * each slot's buffer is lent to its job and comes back when it lands. */
    uint8_t *wbuf[2];
    size_t wcap[2];
    bool wop_on[2];
    unsigned wlast; /* the slot of the newest write job */
    int werr;
    ax_fs_future wop[2];
    /* atomic files */
    int dirfd;
    char *tmp, *name;
    bool committed;
};

/* Builds a handle around fd (taken over; closed on failure); for atomic
 * files also dirfd, tmp and name (taken over). NULL when out of memory. */
ax_file *ax__file_new(int fd, unsigned flags, int dirfd, char *tmp, char *name);
/* On the pool thread that opened f, before anyone else sees it: marks f as
 * a regular file of size bytes and, for a read-only handle, reads its
 * first chunk now, so that reading a small file costs no further job. */
void ax__file_opened_regular(ax_file *f, uint64_t size);
/* Closes without flushing: drops jobs in flight, removes an uncommitted
 * temporary file, frees. Never suspends. */
void ax__file_destroy(ax_file *f);

#pragma GCC visibility pop

#endif
