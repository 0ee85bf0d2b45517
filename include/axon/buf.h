/* axon/buf.h - byte buffers: reference-counted buffers, slices, per-worker
 * pools, iovec chains for writev, and memory-mapped file buffers.
 *
 * These types belong to the core so that every layer (net, tls, http, fs)
 * can pass bytes to another without copying and without depending on it.
 *
 * ax_buf. A byte buffer with a reference count: `cap` bytes of storage at
 * `data`, of which the first `len` are in use. Whoever creates a buffer
 * holds one reference; ax_buf_ref adds one, ax_buf_unref drops one, and the
 * last unref releases the storage through whoever owns it:
 *   - ax_buf_new:       malloc (one block: header and bytes);
 *   - ax_buf_pool_get,
 *     ax_buf_copy:      the pool of the worker that handed it out (below);
 *   - ax_buf_wrap:      the caller's free callback;
 *   - ax_buf_map_file,
 *     ax_buf_map_path:  munmap.
 * The bytes themselves are not synchronised: a buffer is filled by one
 * owner (writing data, then ax_buf_set_len), and once it is shared (a
 * second reference handed to another task or thread through something that
 * synchronises, such as a channel) it is treated as read-only by everyone.
 * Mapped buffers are read-only from the start (writing faults).
 *
 * ax_slice. A view of bytes [off, off + len) of a buffer, holding one
 * reference to it: a slice keeps its buffer alive after the creator's
 * reference is gone. Slicing a slice is O(1) and never copies. A slice is a
 * small value (pass it by pointer or copy it), but every slice made by
 * ax_slice_of / ax_slice_sub / ax_slice_clone owns a reference and must be
 * released once with ax_slice_release; a plain struct copy does not add a
 * reference.
 *
 * Pools. ax_buf_pool_get(size) rounds the size up to a class (2, 4, 16 or
 * 64 KiB) and, on a worker thread (in a task, or in code a worker runs),
 * takes a buffer from that worker's own free list for the class: no lock,
 * no atomic operation beyond the buffer's reference count, no malloc once
 * the pool is warm. A pooled buffer remembers its home worker. Freed on that
 * worker, it goes back to the local list; freed on any other thread (another
 * worker, a plain thread, a worker of another runtime), it is pushed onto
 * the home worker's lock-free remote-free list, which the home takes back
 * in one exchange when a class runs dry. Each worker keeps at most a few
 * buffers per class (AX_BUF_POOL_MAX_BYTES_PER_CLASS in total); beyond that
 * a freed buffer goes back to malloc. Sizes above 64 KiB, and calls made
 * off any worker, use plain malloc. The pools are freed by ax_runtime_free.
 *
 * Buffers outliving their runtime. A pooled buffer may be held, used and
 * released after its runtime was freed, on any thread: it holds no pointer
 * into the runtime, only into a small home record that ax_runtime_free
 * leaves behind while pooled buffers are still out. When such a buffer is
 * finally released it is freed to malloc, and the last one frees the home
 * record. Nothing needs to be returned before ax_runtime_free.
 *
 * ax_iochain. A queue of slices to be written with writev/sendmsg without
 * copying: fill an iovec array from the front, write, then consume the
 * bytes the OS took. Small appends of bytes are copied into a pooled tail
 * buffer so many little writes still make one iovec entry. A chain can be
 * bounded (a byte limit), and always reports its length, so a writer can
 * apply backpressure.
 *
 * Thread-safety. Reference counting (ax_buf_ref, ax_buf_unref,
 * ax_slice_clone, ax_slice_release, and so the release of a pooled buffer)
 * is thread-safe: any thread may drop any reference. Reading a buffer's
 * fields is safe while a reference is held. ax_buf_set_len and writing the
 * bytes belong to the single owner that fills the buffer. An ax_iochain is
 * not thread-safe: one owner at a time. The free callback of a wrapped
 * buffer runs on whichever thread drops the last reference, possibly a
 * worker inside a task: it must not block for long or suspend.
 *
 * None of these functions suspends, so they may be called from tasks,
 * plain threads and outside any runtime.
 */
#ifndef AXON_BUF_H
#define AXON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sys.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_buf ax_buf;

/* The pool's size classes: a request is rounded up to the first class that
 * holds it; larger requests are not pooled. */
#define AX_BUF_POOL_CLASS_0 2048u
#define AX_BUF_POOL_CLASS_1 4096u
#define AX_BUF_POOL_CLASS_2 16384u
#define AX_BUF_POOL_CLASS_3 65536u
#define AX_BUF_POOL_MAX     AX_BUF_POOL_CLASS_3
/* What one worker keeps cached per class, in bytes (so 256 buffers of
 * 2 KiB, 128 of 4 KiB, 32 of 16 KiB and 8 of 64 KiB). */
#define AX_BUF_POOL_MAX_BYTES_PER_CLASS (512u * 1024u)

/* ======================================================================
 * ax_buf
 */

/* Called once, with the data pointer and user pointer given to
 * ax_buf_wrap, when the last reference to a wrapped buffer is dropped. */
typedef void (*ax_buf_free_fn)(void *data, void *user);

/* Creates a buffer of cap bytes (malloc, not pooled; contents
 * uninitialised, len 0). cap may be 0. *out receives the caller's
 * reference. Errors: AX_EINVAL (out NULL), AX_ENOMEM. Thread-safe. */
int ax_buf_new(ax_buf **out, size_t cap);

/* Creates a buffer holding a copy of the n bytes at bytes (len == n; cap
 * may be larger). Taken from the calling worker's pool when n fits a class,
 * else malloc. bytes may be NULL when n is 0. *out receives the caller's
 * reference. Errors: AX_EINVAL, AX_ENOMEM. Thread-safe. */
int ax_buf_copy(ax_buf **out, const void *bytes, size_t n);

/* Wraps len bytes of caller memory at data without copying (len == cap ==
 * len). From now on the buffer owns that memory: when the last reference is
 * dropped, free_fn(data, user) is called (free_fn NULL: nothing is called,
 * for static or otherwise managed memory). The memory must stay valid until
 * then. On error free_fn is not called and the caller still owns data.
 * Errors: AX_EINVAL (out NULL, or data NULL with len > 0), AX_ENOMEM (the
 * small header could not be allocated). Thread-safe. */
int ax_buf_wrap(ax_buf **out, void *data, size_t len, ax_buf_free_fn free_fn, void *user);

/* Takes a buffer of at least size bytes from the calling worker's pool
 * (see "Pools" above; len 0, cap the class size, contents uninitialised).
 * Off any worker, or for size > AX_BUF_POOL_MAX, the buffer is malloc'd
 * with cap == size. *out receives the caller's reference; release it with
 * ax_buf_unref from any thread. A pool hit takes no lock and calls no
 * malloc. Errors: AX_EINVAL (out NULL), AX_ENOMEM. Thread-safe. */
int ax_buf_pool_get(ax_buf **out, size_t size);

/* Adds a reference to b and returns b. Thread-safe. */
ax_buf *ax_buf_ref(ax_buf *b);

/* Drops one reference; the last one releases b through its owner (see
 * above). b NULL is a no-op. The caller must not use b afterwards unless it
 * holds another reference. Thread-safe: any thread may drop the last
 * reference, including after the runtime that pooled b was freed. */
void ax_buf_unref(ax_buf *b);

/* The first byte of b's storage (read-only for mapped buffers; may be NULL
 * when cap is 0). */
uint8_t *ax_buf_data(const ax_buf *b);

/* Bytes in use (what slices may cover). */
size_t ax_buf_len(const ax_buf *b);

/* Bytes of storage. */
size_t ax_buf_cap(const ax_buf *b);

/* Sets the bytes in use after filling data. Errors: AX_ERANGE (len > cap),
 * AX_EINVAL (b is mapped: its length is fixed). Not thread-safe: only the
 * owner filling b calls it, before sharing it. */
int ax_buf_set_len(ax_buf *b, size_t len);

/* True for memory-mapped buffers, whose bytes must not be written. */
bool ax_buf_is_mapped(const ax_buf *b);

/* The reference count now (a snapshot; for tests and assertions). */
uint32_t ax_buf_refcount(const ax_buf *b);

/* ======================================================================
 * ax_slice
 */

typedef struct ax_slice {
    ax_buf *buf; /* NULL for an empty, released or zero-initialised slice */
    size_t off;  /* first byte, relative to ax_buf_data(buf) */
    size_t len;  /* bytes */
} ax_slice;

/* Makes *out a view of bytes [off, off + len) of b, with its own reference
 * to b (the caller keeps its own). The range must lie within ax_buf_len(b).
 * Errors: AX_EINVAL (out or b NULL), AX_ERANGE (out of bounds; *out is then
 * zeroed). Thread-safe. */
int ax_slice_of(ax_slice *out, ax_buf *b, size_t off, size_t len);

/* Makes *out a view of bytes [off, off + len) of s (relative to s), with
 * its own reference: a slice of a slice, without copying. out may equal s:
 * the slice is then narrowed in place and keeps its one reference. Errors:
 * AX_EINVAL (NULL argument), AX_ERANGE (beyond s; *out is untouched).
 * Thread-safe. */
int ax_slice_sub(ax_slice *out, const ax_slice *s, size_t off, size_t len);

/* *out becomes a copy of *s with its own reference (an empty s gives an
 * empty *out). Thread-safe. */
void ax_slice_clone(ax_slice *out, const ax_slice *s);

/* Drops the slice's reference and zeroes it. A zeroed slice may be
 * released again (no-op). Thread-safe. */
void ax_slice_release(ax_slice *s);

/* The slice's first byte (NULL for an empty slice without a buffer). */
const uint8_t *ax_slice_data(const ax_slice *s);

/* ======================================================================
 * ax_iochain
 */

/* Slices kept inside the chain struct before it allocates an array. */
#define AX_IOCHAIN_INLINE 8

typedef struct ax_iochain {
    /* Private: read them through the functions below. */
    ax_slice *v; /* NULL: the inline slots are in use */
    size_t head, n, cap;
    size_t bytes, limit;
    ax_buf *tail; /* the chain's own copy buffer, when it is the last slice */
    ax_slice inline_[AX_IOCHAIN_INLINE];
} ax_iochain;

/* Initialises an empty chain that holds at most limit bytes (0: no limit).
 * The chain allocates nothing until more than AX_IOCHAIN_INLINE slices are
 * queued. The struct holds no pointer to itself, so it may be moved (by
 * memcpy) at any time; clear it exactly once, wherever it ends up. */
void ax_iochain_init(ax_iochain *c, size_t limit);

/* Appends the bytes of s, taking the chain's own reference (the caller
 * keeps and still releases its own). An empty slice is ignored. Errors:
 * AX_ENOBUFS (the limit would be exceeded: nothing appended), AX_ENOMEM.
 * After success the caller must not write into those bytes until they are
 * consumed. */
int ax_iochain_append(ax_iochain *c, const ax_slice *s);

/* Appends bytes [0, ax_buf_len(b)) of b, with the chain's own reference.
 * Errors as ax_iochain_append (and AX_EINVAL for b NULL). */
int ax_iochain_append_buf(ax_iochain *c, ax_buf *b);

/* Appends a copy of n bytes: they go into the chain's tail buffer while it
 * has room (consecutive small appends share one buffer and one iovec
 * entry), then into new pooled buffers. All or nothing: on error nothing
 * was appended. Errors: AX_ENOBUFS (limit), AX_ENOMEM, AX_EINVAL (bytes
 * NULL with n > 0). */
int ax_iochain_append_bytes(ax_iochain *c, const void *bytes, size_t n);

/* Fills iov[0..k) with the first k slices, k = min(max, IOV_MAX, slices);
 * returns k. The entries point into the chain's buffers and stay valid
 * until those bytes are consumed or the chain is cleared. */
size_t ax_iochain_iov(const ax_iochain *c, struct iovec *iov, size_t max);

/* Removes the first n bytes (what a writev wrote): slices wholly written
 * are released, a partially written one is narrowed. Errors: AX_EINVAL
 * (n > ax_iochain_len: nothing consumed). */
int ax_iochain_consume(ax_iochain *c, size_t n);

/* Bytes queued (compare with your write-queue bound). */
size_t ax_iochain_len(const ax_iochain *c);

/* Slices queued (the iovec entries a full write would need). */
size_t ax_iochain_count(const ax_iochain *c);

/* Releases every slice and the slot array; the chain is empty (its limit
 * kept) and may be reused or simply discarded. */
void ax_iochain_clear(ax_iochain *c);

/* One write of the chain's front (up to 256 slices) to fd, then consumes
 * what was written. On a socket it is sendmsg with MSG_DONTWAIT |
 * MSG_NOSIGNAL: it never blocks, and a closed peer is AX_EPIPE rather than
 * SIGPIPE. On anything else (a pipe, a file) it is writev, which blocks
 * unless fd is O_NONBLOCK. *written (may be NULL) receives the byte count.
 * Returns 0 (also for an empty chain), AX_EAGAIN (fd is full; nothing
 * written), or another AX_E* code from the OS. Retries EINTR. Does not
 * suspend: a task waits for writability through the reactor before calling
 * it again. */
int ax_iochain_write(ax_iochain *c, int fd, size_t *written);

/* ======================================================================
 * Memory-mapped file buffers
 */

/* len value for ax_buf_map_file: everything from offset to end of file. */
#define AX_BUF_MAP_TO_END SIZE_MAX

/* Maps len bytes of the regular file fd, starting at byte offset, as a
 * read-only buffer (len == cap == the mapped length; data points at byte
 * offset: the page alignment happens inside). The mapping is private and
 * read-only; it is unmapped when the last reference is dropped. fd may be
 * closed right after the call. len 0, or an empty range at end of file,
 * gives an empty buffer with no mapping. The file must not shrink while
 * the buffer is alive (reading truncated pages raises SIGBUS, as with any
 * mmap). *out receives the caller's reference. Errors: AX_EBADF (fd not
 * open), AX_EINVAL (out NULL, or fd not a regular file), AX_ERANGE (the
 * range goes past end of file), AX_ENOMEM, or the OS's mmap error.
 * Thread-safe; blocking only as far as mmap is (no file I/O happens until
 * the bytes are read, which may fault them in from disk). */
int ax_buf_map_file(ax_buf **out, int fd, uint64_t offset, size_t len);

/* Opens path (O_RDONLY | O_CLOEXEC), maps the whole file with
 * ax_buf_map_file and closes the descriptor. Called on a worker of a
 * runtime with a permission policy, the path is checked for reading first
 * (AX_EPOLICY when denied); that is the policy's string check only (see
 * axon/policy.h: a symbolic link inside a root can lead out of it), so code
 * that needs the kernel-enforced check opens the file through the file
 * layer and maps the descriptor. Errors: as open(2) (AX_ENOENT, AX_EACCES, ...),
 * AX_EPOLICY, then as ax_buf_map_file. Thread-safe; the open may block. */
int ax_buf_map_path(ax_buf **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif
