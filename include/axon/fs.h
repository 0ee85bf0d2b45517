/* axon/fs.h - asynchronous files: whole-file reads and writes, file handles
 * that are streams, directory operations, chunk and line streams, and the
 * generic item streams (map, filter, take, batch) other layers reuse.
 *
 * How operations run. Every operation that touches the file system runs as
 * a job on the runtime's blocking pool (axon/blocking.h), as in libuv and
 * tokio. At most ax_fs_max_concurrency(rt) file jobs of one runtime run at
 * once (default: two per worker, at least 4 and at most 16, a quarter of
 * the blocking pool's default bound: file jobs mostly use CPU, and more
 * of them than CPUs mostly switch threads; raise it for slow disks); the
 * others wait, FIFO, in the pool, and start on the thread of a file job
 * that ends, so a burst of file work leaves pool threads for DNS look-ups
 * and other blocking jobs.
 *
 * Each operation exists twice: a suspending call for task code, with a
 * deadline (AX_NO_DEADLINE: none) that returns AX_ETIMEDOUT when it passes
 * and AX_ECANCELED when the task is cancelled; and a future
 * (ax_fs_future, initialised by the matching *_future_init), so that
 * ax_all / ax_race / ax_select combine file work with network and timer
 * futures. A future may also be driven by ax_block_on from a plain thread.
 *
 * Ownership and cancellation. A job owns everything it touches: the paths
 * and bytes to write are copied when the operation is created, and what it
 * reads goes into memory the job allocated. Results are copied to the
 * caller's out-pointers only by the poll that completes the operation (on
 * the caller's side), never by the pool thread. So an operation that is
 * abandoned (deadline, cancellation, a lost race) never writes into the
 * caller's memory: the job finishes on its own and frees what it holds.
 * The out-pointers must stay valid until the future is ready or dropped.
 * An abandoned atomic write stops at its next step and removes its
 * temporary file, leaving the target as it was.
 *
 * The permission policy (axon/policy.h). With a policy installed on the
 * runtime, every operation is checked before the OS is touched (denial:
 * AX_EPOLICY), and paths are opened relative to the allowed root's
 * descriptor with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): the
 * kernel refuses any `..` or symbolic link that would leave the root, so
 * a link swapped in between check and use cannot escape. Rights needed:
 * read for reading a file, stat, exists, read_dir, readlink, the source of
 * copy; write for writing, appending, creating, mkdir, remove, rename (both
 * names), symlink (the link's name), truncate, the target of copy; a handle
 * opened for reading and writing needs both. Without a policy, paths are
 * used as given.
 *
 * Errors are AX_E* codes: AX_ENOENT, AX_EACCES (the OS refused), AX_EPOLICY
 * (the policy refused), AX_EISDIR, AX_ENOTDIR, AX_EEXIST, AX_ENOSPC,
 * AX_EBADUTF8, AX_ELOOP (a symlink where none may be followed, or one that
 * leaves a policy root: the kernel reports such an escape as AX_EXDEV,
 * which Axon reports as AX_EPOLICY), AX_ENOMEM, AX_ESHUTDOWN.
 *
 * Thread-safety: every function may be called from any task; the futures
 * follow the future protocol (one owner at a time). A file handle has one
 * reader and one writer at a time, like every stream.
 */
#ifndef AXON_FS_H
#define AXON_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sys.h"

#include "blocking.h"
#include "buf.h"
#include "error.h"
#include "future.h"
#include "stream.h"
#include "sync.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Futures and the concurrency bound
 */

struct ax__fsjob;

/* The storage of every file-system future; caller-owned. Initialise it
 * with one of the ax_fs_*_future_init calls, then await, block_on or
 * combine it. result once ready: as the matching suspending call. Treat
 * the fields as private. */
typedef struct ax_fs_future {
    ax_future base;
    struct ax__fsjob *job;
    uint32_t state;
    ax_blocking_future bf;
} ax_fs_future;

/* Sets how many file jobs of rt may run on its blocking pool at once
 * (n >= 1). Call it before rt's first file operation: afterwards it returns
 * AX_EBUSY. Errors: AX_EINVAL (rt NULL, n 0), AX_ENOMEM. Thread-safe. */
int ax_fs_set_max_concurrency(ax_runtime *rt, unsigned n);

/* The bound in force for rt (the default until an operation or the call
 * above fixes it). Thread-safe. */
unsigned ax_fs_max_concurrency(ax_runtime *rt);

/* ======================================================================
 * Whole files
 */

/* Reads the whole file. *data receives a malloc'd buffer of *len bytes
 * plus a terminating NUL not counted in *len (free it with free()).
 * Errors: AX_ENOENT, AX_EACCES, AX_EPOLICY, AX_EISDIR, AX_ENOMEM, ... */
int ax_fs_read_file(const char *path, void **data, size_t *len, ax_instant deadline);
void ax_fs_read_file_future_init(ax_fs_future *f, const char *path, void **data, size_t *len);

/* Reads the whole file into an ax_buf (*out: the caller's reference). */
int ax_fs_read_buf(const char *path, ax_buf **out, ax_instant deadline);
void ax_fs_read_buf_future_init(ax_fs_future *f, const char *path, ax_buf **out);

/* Reads the whole file as UTF-8 text (strict: no overlong forms, no
 * surrogates, nothing above U+10FFFF). *text is malloc'd and
 * NUL-terminated. Invalid input: AX_EBADUTF8, with the offset of the first
 * byte of the offending sequence in *bad_offset (may be NULL), and *text
 * untouched. */
int ax_fs_read_text(const char *path, char **text, size_t *len, size_t *bad_offset,
                    ax_instant deadline);
void ax_fs_read_text_future_init(ax_fs_future *f, const char *path, char **text, size_t *len,
                                 size_t *bad_offset);

/* Checks len bytes of UTF-8: 0, or AX_EBADUTF8 with the offset of the
 * first bad sequence in *bad_offset (may be NULL). Pure, any thread. */
int ax_utf8_validate(const void *data, size_t len, size_t *bad_offset);

/* Durability after a write. */
typedef enum ax_fs_sync {
    AX_FS_SYNC_NONE = 0, /* leave it to the kernel */
    AX_FS_SYNC_DATA = 1, /* fdatasync */
    AX_FS_SYNC_ALL = 2,  /* fsync */
} ax_fs_sync;

/* Write options flags. */
enum {
    AX_FS_MKDIRS = 1u, /* create missing parent directories (mode 0777 & ~umask) */
    AX_FS_ATOMIC = 2u, /* temporary file + fsync + rename + fsync of the directory */
    AX_FS_EXCL = 4u,   /* fail with AX_EEXIST if the file exists (not with ATOMIC) */
};

/* Options for writes; NULL means all zero: no flags, AX_FS_SYNC_NONE, mode
 * 0666 (& ~umask) for a created file. */
typedef struct ax_fs_write_opts {
    unsigned flags;
    ax_fs_sync sync; /* atomic writes always fsync the data and the directory */
    unsigned mode;   /* 0: 0666 */
} ax_fs_write_opts;

/* Writes len bytes as the file's whole content, creating or truncating
 * it. ax_fs_write_file reads data in place (128 KiB at a time) until it
 * returns, and never after: on the deadline or a cancellation it returns
 * AX_ETIMEDOUT / AX_ECANCELED at once (waiting at most for one such copy,
 * never for I/O) and the write stops before its next chunk (the file may
 * then hold part of the data; with AX_FS_ATOMIC it keeps its old
 * content). The future form copies data at init, and a dropped one
 * finishes the write in the background. With AX_FS_ATOMIC: writes a
 * temporary file
 * `.NAME.axtmp.PID.N` in the target's directory, fsyncs it, renames it
 * over the target and fsyncs the directory, so a crash leaves the old or
 * the new content, never a mix; temporary files of dead writers are
 * removed by the next atomic write to the same target. */
int ax_fs_write_file(const char *path, const void *data, size_t len, const ax_fs_write_opts *opts,
                     ax_instant deadline);
void ax_fs_write_file_future_init(ax_fs_future *f, const char *path, const void *data, size_t len,
                                  const ax_fs_write_opts *opts);

/* Appends len bytes (copied now), creating the file if missing. One
 * write(2) on an O_APPEND descriptor: concurrent appends to a regular file
 * (from tasks, threads or processes) never interleave one record with
 * another. AX_FS_ATOMIC is ignored (AX_EINVAL). */
int ax_fs_append_file(const char *path, const void *data, size_t len, const ax_fs_write_opts *opts,
                      ax_instant deadline);
void ax_fs_append_file_future_init(ax_fs_future *f, const char *path, const void *data, size_t len,
                                   const ax_fs_write_opts *opts);

/* ======================================================================
 * Metadata and directories
 */

typedef enum ax_fs_type {
    AX_FS_TYPE_FILE,
    AX_FS_TYPE_DIR,
    AX_FS_TYPE_SYMLINK,
    AX_FS_TYPE_OTHER,
} ax_fs_type;

typedef struct ax_fs_info {
    uint64_t size;
    ax_fs_type type;
    unsigned mode; /* permission bits (07777) */
    uint64_t nlink, ino, dev;
    uint32_t uid, gid;
    int64_t atime_ns, mtime_ns, ctime_ns; /* since the epoch */
} ax_fs_info;

/* stat follows a final symbolic link, lstat describes the link itself. */
int ax_fs_stat(const char *path, ax_fs_info *st, ax_instant deadline);
void ax_fs_stat_future_init(ax_fs_future *f, const char *path, ax_fs_info *st);
int ax_fs_lstat(const char *path, ax_fs_info *st, ax_instant deadline);
void ax_fs_lstat_future_init(ax_fs_future *f, const char *path, ax_fs_info *st);

/* 1 when path exists (following links), 0 when it does not, else AX_E*
 * (AX_EPOLICY, AX_EACCES on a parent, ...). */
int ax_fs_exists(const char *path, ax_instant deadline);
void ax_fs_exists_future_init(ax_fs_future *f, const char *path);

/* One directory entry. */
typedef struct ax_fs_dirent {
    char *name; /* no "." or ".." */
    ax_fs_type type;
} ax_fs_dirent;

/* Lists a directory: *entries is a malloc'd array of *n entries sorted by
 * name; release it with ax_fs_dirents_free. */
int ax_fs_read_dir(const char *path, ax_fs_dirent **entries, size_t *n, ax_instant deadline);
void ax_fs_read_dir_future_init(ax_fs_future *f, const char *path, ax_fs_dirent **entries,
                                size_t *n);
void ax_fs_dirents_free(ax_fs_dirent *entries, size_t n);

/* Creates a directory (mode 0: 0777, & ~umask). recursive: creates the
 * missing parents too, and an existing directory is not an error. */
int ax_fs_mkdir(const char *path, unsigned mode, bool recursive, ax_instant deadline);
void ax_fs_mkdir_future_init(ax_fs_future *f, const char *path, unsigned mode, bool recursive);

/* Removes a file, a symbolic link or an empty directory. */
int ax_fs_remove(const char *path, ax_instant deadline);
void ax_fs_remove_future_init(ax_fs_future *f, const char *path);

/* Removes path and, for a directory, everything below it (symbolic links
 * are removed, never followed). A missing path is not an error. */
int ax_fs_remove_all(const char *path, ax_instant deadline);
void ax_fs_remove_all_future_init(ax_fs_future *f, const char *path);

/* Renames (replacing an existing `to` atomically, as rename(2)). */
int ax_fs_rename(const char *from, const char *to, ax_instant deadline);
void ax_fs_rename_future_init(ax_fs_future *f, const char *from, const char *to);

/* Copies a regular file's content (and permission bits) to `to`, created
 * or truncated: copy_file_range, else sendfile, else read/write. Returns
 * the bytes copied. */
int64_t ax_fs_copy(const char *from, const char *to, ax_instant deadline);
void ax_fs_copy_future_init(ax_fs_future *f, const char *from, const char *to);

/* Creates a symbolic link at linkpath holding target (not checked). */
int ax_fs_symlink(const char *target, const char *linkpath, ax_instant deadline);
void ax_fs_symlink_future_init(ax_fs_future *f, const char *target, const char *linkpath);

/* Reads a symbolic link: *target is malloc'd and NUL-terminated. */
int ax_fs_readlink(const char *path, char **target, ax_instant deadline);
void ax_fs_readlink_future_init(ax_fs_future *f, const char *path, char **target);

/* ======================================================================
 * File handles
 *
 * An ax_file is an ax_stream (ax_file_stream): ax_stream_read/write,
 * ax_bufreader and ax_bufwriter work over it. On a regular file, a read
 * first takes what the page cache holds without a job (preadv2 with
 * RWF_NOWAIT on the calling thread: no pool round trip, and a read of a
 * chunk or more goes straight into the caller's buffer); what is not
 * cached is read by a job, one chunk (ax_file_set_chunk, default 64 KiB; a
 * larger read asks for more) into a buffer the job owns, and while the
 * task uses it the next chunk is read ahead into a second one. A
 * read-only handle of a regular file reads its first chunk while it opens.
 * Pipes and devices are never read ahead. Sequential writes are written behind:
 * a write copies the bytes into one of the file's two buffers, starts the
 * job and returns, and the write after next waits until that job is done
 * (backpressure: two chunks in flight on a regular file, one on an
 * append-mode file, a pipe or a device, where order matters). A write
 * error is reported by the next write, flush or close. A large write on a
 * regular file (ax_file_write or ax_file_write_at of 256 KiB or more, not
 * in append mode) is not copied: the job writes from the caller's memory
 * and the call returns once the bytes are in the file (the page cache),
 * as write(2) would. The caller's bytes are never read after the call
 * returns, also when its deadline passes or the task is cancelled: it
 * then waits for the piece being written (at most 256 KiB), and the
 * position moves past the bytes written. read_at / write_at use their own
 * offset and leave the position alone.
 */
typedef struct ax_file ax_file;

enum {
    AX_FILE_READ = 1u,
    AX_FILE_WRITE = 2u,
    AX_FILE_APPEND = 4u,   /* implies WRITE; every write goes to the end */
    AX_FILE_CREATE = 8u,   /* create if missing */
    AX_FILE_TRUNC = 16u,   /* truncate to 0 on open */
    AX_FILE_EXCL = 32u,    /* with CREATE: fail if it exists */
    AX_FILE_MKDIRS = 64u,  /* create missing parent directories */
    AX_FILE_ATOMIC = 128u, /* write a temporary file; ax_file_commit renames it over path */
};

/* Opens path. mode (0: 0666) applies when a file is created. With
 * AX_FILE_ATOMIC (implies WRITE|CREATE|TRUNC) the data goes to a
 * temporary file in path's directory; ax_file_commit makes it the target,
 * and closing without a commit (ax_file_close, ax_stream_close, a
 * cancelled task's clean-up) removes it, leaving the target untouched.
 * *out is the caller's; release it with ax_file_close (or
 * ax_stream_close on ax_file_stream(*out)). */
int ax_file_open(const char *path, unsigned flags, unsigned mode, ax_file **out,
                 ax_instant deadline);
void ax_file_open_future_init(ax_fs_future *f, const char *path, unsigned flags, unsigned mode,
                              ax_file **out);

/* The file as a stream (borrowed: lives as long as the file). */
ax_stream *ax_file_stream(ax_file *file);

/* The file's OS descriptor, for system calls Axon does not wrap (sendfile
 * with ax_stream_sendfile, posix_fadvise). Borrowed: valid until
 * ax_file_close, never to be closed by the caller. Calls through it bypass
 * the handle's position, its read-ahead and its write-behind: bytes
 * written through the handle reach the descriptor at ax_file_flush. On
 * Windows a C runtime descriptor (_get_osfhandle gives the HANDLE). Any
 * thread. */
int ax_file_fd(const ax_file *file);

/* Read-ahead and write-behind chunk size (>= 4 KiB, <= 64 MiB). */
void ax_file_set_chunk(ax_file *file, size_t chunk);

/* Sequential read / write at the file's position (see above). read
 * returns the bytes read (0: end of file); write returns len (or AX_E*). */
ssize_t ax_file_read(ax_file *file, void *buf, size_t len, ax_instant deadline);
ssize_t ax_file_write(ax_file *file, const void *buf, size_t len, ax_instant deadline);

/* Positional read / write (pread / pwrite); the position is unchanged.
 * read_at returns the bytes read (fewer only at the end of the file);
 * write_at writes all len bytes and returns len. */
ssize_t ax_file_read_at(ax_file *file, void *buf, size_t len, uint64_t off, ax_instant deadline);
ssize_t ax_file_write_at(ax_file *file, const void *buf, size_t len, uint64_t off,
                         ax_instant deadline);

/* Reads the next chunk (up to max bytes, 0: the chunk size) into a new
 * buffer without copying: *out is the caller's reference, NULL at the end
 * of the file (returns 0 then, else the length). */
ssize_t ax_file_read_buf(ax_file *file, size_t max, ax_buf **out, ax_instant deadline);

/* whence: SEEK_SET, SEEK_CUR, SEEK_END. Waits for a write in flight and
 * drops read-ahead. Returns the new position or AX_E*. */
int64_t ax_file_seek(ax_file *file, int64_t off, int whence, ax_instant deadline);

/* Waits for the write in flight, then ftruncate / fsync (data_only:
 * fdatasync) / fstat. */
int ax_file_truncate(ax_file *file, uint64_t len, ax_instant deadline);
int ax_file_sync(ax_file *file, bool data_only, ax_instant deadline);
int ax_file_stat(ax_file *file, ax_fs_info *st, ax_instant deadline);

/* Waits for the write in flight and reports its error. */
int ax_file_flush(ax_file *file, ax_instant deadline);

/* For AX_FILE_ATOMIC handles: flush, fsync, rename the temporary file over
 * the target, fsync the directory. The handle stays open (further writes
 * are AX_ECLOSED); close it as usual. */
int ax_file_commit(ax_file *file, ax_instant deadline);

/* Flushes (unless the task is cancelled), closes and frees the file,
 * returning the first write error (the file is freed in every case). An
 * uncommitted atomic file is removed. */
int ax_file_close(ax_file *file, ax_instant deadline);

/* ======================================================================
 * Line-buffered log writer
 *
 * Appends to a file (O_APPEND, created if missing) one whole line per
 * record: bytes are buffered until a newline, and complete lines go out in
 * one write(2), so lines of concurrent writers (other loggers, other
 * processes) never interleave. One user at a time.
 */
typedef struct ax_fs_logger ax_fs_logger;

int ax_fs_logger_open(const char *path, ax_fs_logger **out, ax_instant deadline);
/* Buffers data; writes every completed line. */
int ax_fs_logger_write(ax_fs_logger *lg, const void *data, size_t len, ax_instant deadline);
/* Writes what is buffered (a last line without its newline too). */
int ax_fs_logger_flush(ax_fs_logger *lg, ax_instant deadline);
/* Flushes and frees. */
int ax_fs_logger_close(ax_fs_logger *lg, ax_instant deadline);

/* ======================================================================
 * Item streams: a generic, poll-shaped stream of owned items
 *
 * poll_next returns AX_READY with *res = 1 and an item in *item (the
 * caller's to release with ax_items_free_item), *res = 0 at the end, or
 * *res < 0 (an AX_E*); or AX_PENDING after storing cx's waker. close
 * releases the stream and everything upstream of it. Operators take over
 * their source. One consumer at a time.
 */
typedef struct ax_item_stream ax_item_stream;

typedef struct ax_item_stream_vtable {
    ax_poll (*poll_next)(ax_item_stream *s, ax_context *cx, void **item, int *res);
    void (*free_item)(ax_item_stream *s, void *item);
    void (*close)(ax_item_stream *s);
} ax_item_stream_vtable;

struct ax_item_stream {
    const ax_item_stream_vtable *vtable;
};

ax_poll ax_items_poll_next(ax_item_stream *s, ax_context *cx, void **item, int *res);
/* Suspends for the next item: 1 (an item), 0 (end), AX_E*; AX_ETIMEDOUT,
 * AX_ECANCELED (no item is lost: one that arrived is kept for the next
 * call). Task only. */
int ax_items_next(ax_item_stream *s, void **item, ax_instant deadline);
void ax_items_free_item(ax_item_stream *s, void *item);
void ax_items_close(ax_item_stream *s);

/* map: each item becomes fn(arg, item) (fn takes over item; returns the new
 * item, or NULL with *err set to fail the stream); free_out releases
 * mapped items (NULL: free()). */
int ax_items_map(ax_item_stream *src, void *(*fn)(void *arg, void *item, int *err), void *arg,
                 void (*free_out)(void *item), ax_item_stream **out);
/* filter: keeps the items for which pred(arg, item) is true. */
int ax_items_filter(ax_item_stream *src, bool (*pred)(void *arg, const void *item), void *arg,
                    ax_item_stream **out);
/* take: the first n items, then the end (the source is closed then). */
int ax_items_take(ax_item_stream *src, uint64_t n, ax_item_stream **out);
/* batch: groups of up to n items (the last may be shorter), as
 * ax_item_batch items whose entries are the source's items. */
typedef struct ax_item_batch {
    size_t n;
    void *items[];
} ax_item_batch;
int ax_items_batch(ax_item_stream *src, size_t n, ax_item_stream **out);

/* A file in chunks of up to chunk bytes (0: 64 KiB): items are ax_buf *
 * (free with ax_items_free_item or ax_buf_unref). Opening happens on the
 * first poll. Closing the stream closes the file. */
int ax_fs_chunks(const char *path, size_t chunk, ax_item_stream **out);

/* A file line by line through an ax_bufreader: items are ax_fs_line *
 * (text without "\n" or "\r\n", NUL-terminated; a last line without a
 * newline counts). A line longer than max_line (0: 16 MiB) fails the
 * stream with AX_ENOSPC. Memory stays bounded by the
 * reader's buffer and the longest line. */
typedef struct ax_fs_line {
    uint64_t lineno; /* from 1 */
    size_t len;
    char text[];
} ax_fs_line;
int ax_fs_lines(const char *path, size_t max_line, ax_item_stream **out);
/* The same over a file already open (the stream takes it over). */
int ax_file_lines(ax_file *file, size_t max_line, ax_item_stream **out);

#ifdef __cplusplus
}
#endif
#endif
