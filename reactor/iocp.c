/* reactor/iocp.c - the Windows backend of reactor.h (I/O completion ports).
 *
 * One completion port per reactor. A socket is associated with the port at
 * ax__io_register, with the slot index as completion key, and stays so until
 * it is closed (Windows cannot undo the association). Each handle owns one
 * overlapped operation slot per direction, embedded in the handle's slot, so
 * issuing an operation allocates nothing.
 *
 * Readiness (ax__io_poll_ready): reading is a zero-byte overlapped WSARecv
 * (MSG_PEEK on datagram sockets, so nothing is consumed); it completes when
 * data, end of stream or an error is there, and pins no buffer while the
 * connection is idle. Writing is ready unless a write operation is in
 * flight: overlapped sends queue rather than fail, so there is nothing else
 * to wait for.
 *
 * Completion (ax__io_poll_read / write / readv / writev): native. The first
 * poll issues an overlapped WSARecv / WSASend on the caller's buffers; the
 * buffers belong to the operation until its completion is dequeued, and the
 * caller polls again with the same buffers to collect the result. Sockets
 * that support it get FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, so an operation
 * that completes at once returns its result from the first poll and queues
 * no packet. Abandoning a pending transfer (ax__io_drop_waker) cancels it
 * with CancelIoEx and waits until the kernel is done with the buffers
 * before returning, so the caller may free them; the aborted completion's
 * packet, still queued, is then swallowed by the poller, and the slot takes
 * no new operation until it has been (a poll meanwhile parks the waker).
 *
 * Deregistration cancels whatever is in flight and waits for it the same
 * way; the slot goes back to the free list only once the poller has
 * dequeued the last of its packets, so a recycled slot never sees a stale
 * completion. The generation counter guards wakers as on epoll.
 *
 * Cross-thread wake-ups are PostQueuedCompletionStatus with a reserved key;
 * GetQueuedCompletionStatusEx takes packets in batches.
 */
#include "reactor/reactor.h"
#include "reactor/spin.h"
#include "axon/error.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
#include <windows.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define AX__IO_CHUNK      256
#define AX__IO_MAX_CHUNKS 4096
#define AX__EVENTS_BATCH  256
#define AX__NOTIFY_KEY    ((ULONG_PTR) ~(ULONG_PTR)0)
#define AX__MAX_WSABUF    64

enum { AX__READY_READ = 1u, AX__READY_WRITE = 2u };

/* State of one direction's overlapped slot. */
enum {
    AX__OP_IDLE = 0, /* free for a new operation */
    AX__OP_POLL,     /* zero-byte readiness receive in flight */
    AX__OP_XFER,     /* a transfer in flight on the caller's buffers */
    AX__OP_DONE,     /* a transfer finished; result waits for its poll */
    AX__OP_ORPHAN    /* cancelled and finished; its packet is still queued */
};

/* What an AX__OP_XFER / AX__OP_DONE operation is. */
enum { AX__KIND_RW = 0, AX__KIND_ACCEPT, AX__KIND_CONNECT, AX__KIND_RECVFROM, AX__KIND_SENDTO };

/* AcceptEx writes both addresses, each with 16 bytes of its own. */
#define AX__ACCEPT_ADDR (sizeof(SOCKADDR_STORAGE) + 16)

struct ax__op {
    OVERLAPPED ov; /* first: the packet's OVERLAPPED* is the op */
    ax__io *io;
    uint8_t dir;
    uint8_t state;
    uint8_t kind;
    ssize_t result; /* AX__OP_DONE: bytes or AX_E* */
    size_t want;    /* AX__KIND_RW, RECVFROM: bytes asked for */
    uint32_t tick;  /* readiness counter when the transfer was issued */
    /* AX__KIND_RECVFROM / SENDTO: the peer's address, which the kernel
     * reads or writes until the completion (so it lives here, not in the
     * caller's frame), and its length. */
    SOCKADDR_STORAGE addr;
    INT addrlen;
};

struct ax__io {
    ax__spin lock;
    SOCKET s;
    uint32_t gen;
    uint32_t index;
    _Atomic uint32_t ready; /* as on epoll: bits low, event counter above */
    uint8_t skip_on_success;
    uint8_t is_dgram;
    uint8_t zombie;    /* deregistered; released when `inflight` drops to 0 */
    unsigned inflight; /* packets the port still owes this slot */
    ax_waker waker[2];
    struct ax__op op[2];
    ax__io *next_free;
    /* A pending AcceptEx (op[AX__DIR_READ], AX__KIND_ACCEPT): the socket it
     * accepts into and the buffer it writes the two addresses to. */
    SOCKET acc;
    char acc_addrs[2 * AX__ACCEPT_ADDR];
};

struct ax__reactor {
    HANDLE port;
    atomic_int notified;
    ax__spin slots_lock;
    ax__io *free_list;
    _Atomic uint32_t nchunks;
    ax__io *_Atomic chunks[AX__IO_MAX_CHUNKS];
};

/* ---- errors ---------------------------------------------------------------- */

/* Windows socket and system errors onto the AX_E* codes Linux gives. */
int ax__win_error(unsigned long e) {
    switch (e) {
    case 0:
        return 0;
    case WSAEWOULDBLOCK:
        return AX_EAGAIN;
    case WSAEINTR:
        return AX_EINTR;
    case WSAEBADF:
    case WSAENOTSOCK:
    case ERROR_INVALID_HANDLE:
        return AX_EBADF;
    case WSAEACCES:
    case ERROR_ACCESS_DENIED:
        return AX_EACCES;
    case WSAEFAULT:
        return AX_EFAULT;
    case WSAEINVAL:
    case ERROR_INVALID_PARAMETER:
        return AX_EINVAL;
    case WSAEMFILE:
        return AX_EMFILE;
    case WSAEINPROGRESS:
    case WSA_IO_PENDING:
        return AX_EINPROGRESS;
    case WSAEALREADY:
        return AX_EALREADY;
    case WSAEDESTADDRREQ:
    case WSAENOTCONN:
    case ERROR_CONNECTION_INVALID:
        return AX_ENOTCONN;
    case WSAEMSGSIZE:
    case ERROR_MORE_DATA:
        return AX_EMSGSIZE;
    case WSAEAFNOSUPPORT:
    case WSAEPFNOSUPPORT:
        return AX_EAFNOSUPPORT;
    case WSAEOPNOTSUPP:
    case WSAEPROTONOSUPPORT:
    case WSAESOCKTNOSUPPORT:
    case ERROR_NOT_SUPPORTED:
        return AX_ENOTSUP;
    case WSAEADDRINUSE:
        return AX_EADDRINUSE;
    case WSAEADDRNOTAVAIL:
        return AX_EADDRNOTAVAIL;
    case WSAENETDOWN:
    case WSAENETUNREACH:
    case ERROR_NETWORK_UNREACHABLE:
        return AX_ENETUNREACH;
    case WSAENETRESET:
    case WSAECONNRESET:
    case ERROR_NETNAME_DELETED:
    case ERROR_CONNECTION_ABORTED:
        return AX_ECONNRESET;
    case WSAECONNABORTED:
        return AX_ECONNABORTED;
    case WSAENOBUFS:
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return AX_ENOBUFS;
    case WSAEISCONN:
        return AX_EISCONN;
    case WSAESHUTDOWN:
    case ERROR_BROKEN_PIPE:
        return AX_EPIPE;
    case WSAETIMEDOUT:
    case ERROR_SEM_TIMEOUT:
        return AX_ETIMEDOUT;
    case WSAECONNREFUSED:
    case ERROR_CONNECTION_REFUSED:
        return AX_ECONNREFUSED;
    case WSAEHOSTDOWN:
    case WSAEHOSTUNREACH:
    case ERROR_HOST_UNREACHABLE:
        return AX_EHOSTUNREACH;
    case WSAENAMETOOLONG:
        return AX_ENAMETOOLONG;
    case ERROR_OPERATION_ABORTED: /* = WSA_OPERATION_ABORTED */
        return AX_ECANCELED;
    default:
        return AX_EIO;
    }
}

/* ---- the port ---------------------------------------------------------------- */

int ax__reactor_new(ax__reactor **out) {
    WSADATA wsa;
    int rc = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (rc != 0) return ax__win_error((DWORD)rc);
    ax__reactor *r = calloc(1, sizeof(*r));
    if (!r) {
        WSACleanup();
        return AX_ENOMEM;
    }
    r->port = CreateIoCompletionPort(INVALID_HANDLE_VALUE, NULL, 0, 1);
    if (!r->port) {
        int err = ax__win_error(GetLastError());
        free(r);
        WSACleanup();
        return err;
    }
    *out = r;
    return 0;
}

void ax__reactor_free(ax__reactor *r) {
    if (!r) return;
    CloseHandle(r->port);
    uint32_t n = atomic_load(&r->nchunks);
    for (uint32_t i = 0; i < n; i++) free(atomic_load(&r->chunks[i]));
    free(r);
    WSACleanup();
}

int ax__reactor_fd(const ax__reactor *r) {
    (void)r;
    return -1;
}

void ax__reactor_notify(ax__reactor *r) {
    if (atomic_exchange_explicit(&r->notified, 1, memory_order_acq_rel)) return;
    PostQueuedCompletionStatus(r->port, 0, AX__NOTIFY_KEY, NULL);
}

/* ---- slots ------------------------------------------------------------------- */

static ax__io *ax__io_alloc(ax__reactor *r) {
    ax__spin_lock(&r->slots_lock);
    if (!r->free_list) {
        uint32_t c = atomic_load_explicit(&r->nchunks, memory_order_relaxed);
        ax__io *chunk = c < AX__IO_MAX_CHUNKS ? calloc(AX__IO_CHUNK, sizeof(ax__io)) : NULL;
        if (!chunk) {
            ax__spin_unlock(&r->slots_lock);
            return NULL;
        }
        for (uint32_t i = AX__IO_CHUNK; i-- > 0;) {
            ax__io *io = &chunk[i];
            io->index = c * AX__IO_CHUNK + i;
            io->s = INVALID_SOCKET;
            io->acc = INVALID_SOCKET;
            for (int d = 0; d < 2; d++) {
                io->op[d].io = io;
                io->op[d].dir = (uint8_t)d;
            }
            io->next_free = r->free_list;
            r->free_list = io;
        }
        atomic_store_explicit(&r->chunks[c], chunk, memory_order_release);
        atomic_store_explicit(&r->nchunks, c + 1, memory_order_release);
    }
    ax__io *io = r->free_list;
    r->free_list = io->next_free;
    ax__spin_unlock(&r->slots_lock);
    return io;
}

static void ax__io_release(ax__reactor *r, ax__io *io) {
    ax__spin_lock(&r->slots_lock);
    io->next_free = r->free_list;
    r->free_list = io;
    ax__spin_unlock(&r->slots_lock);
}

/* Skipping the completion packet for operations that succeed at once is
 * safe only when no layered service provider sits on the socket (the
 * provider's handles must be the kernel's: XP1_IFS_HANDLES). */
static int ax__can_skip_port(SOCKET s) {
    WSAPROTOCOL_INFOW info;
    int len = sizeof info;
    if (getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, (char *)&info, &len) != 0) return 0;
    return (info.dwServiceFlags1 & XP1_IFS_HANDLES) != 0;
}

int ax__io_register(ax__reactor *r, ax__fd fd, ax__io **out) {
    SOCKET s = (SOCKET)fd;
    int type = 0, tlen = sizeof type;
    if (getsockopt(s, SOL_SOCKET, SO_TYPE, (char *)&type, &tlen) != 0)
        return ax__win_error((DWORD)WSAGetLastError());
    ax__io *io = ax__io_alloc(r);
    if (!io) return AX_ENOMEM;
    if (!CreateIoCompletionPort((HANDLE)s, r->port, (ULONG_PTR)io->index, 0)) {
        DWORD e = GetLastError();
        ax__io_release(r, io);
        /* Already associated (with this or another port). */
        return e == ERROR_INVALID_PARAMETER ? AX_EEXIST : ax__win_error(e);
    }
    int skip = ax__can_skip_port(s);
    if (skip &&
        !SetFileCompletionNotificationModes((HANDLE)s, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS |
                                                           FILE_SKIP_SET_EVENT_ON_HANDLE))
        skip = 0;
    ax__spin_lock(&io->lock);
    io->s = s;
    io->skip_on_success = (uint8_t)skip;
    io->is_dgram = type == SOCK_DGRAM;
    io->zombie = 0;
    io->inflight = 0;
    io->op[0].state = io->op[1].state = AX__OP_IDLE;
    /* A new socket may be written at once; reading waits for the first
     * zero-byte receive or a transfer. */
    atomic_store_explicit(&io->ready, AX__READY_WRITE, memory_order_relaxed);
    ax__spin_unlock(&io->lock);
    *out = io;
    return 0;
}

/* Cancels the operation of op (if one is in flight) and waits until the
 * kernel has finished it, so its buffers are free. The caller holds no
 * lock. Waiting is a look at the OVERLAPPED's status, not
 * GetOverlappedResult: with FILE_SKIP_SET_EVENT_ON_HANDLE the socket handle
 * is never signalled, and a cancelled operation finishes promptly. */
static void ax__op_cancel_wait(ax__io *io, struct ax__op *op) {
    CancelIoEx((HANDLE)io->s, &op->ov); /* ERROR_NOT_FOUND: finished already */
    while (!HasOverlappedIoCompleted(&op->ov)) SwitchToThread();
}

void ax__io_deregister(ax__reactor *r, ax__io *io, int fd_closed) {
    ax__spin_lock(&io->lock);
    io->gen++;
    ax_waker w0 = io->waker[0], w1 = io->waker[1];
    io->waker[0].vtable = io->waker[1].vtable = NULL;
    int busy[2];
    for (int d = 0; d < 2; d++)
        busy[d] = io->op[d].state == AX__OP_POLL || io->op[d].state == AX__OP_XFER;
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&w0);
    ax_waker_drop(&w1);
    /* Cancelled and waited for even when the caller says the socket is
     * closed (net/ deregisters just before closesocket): the buffers of a
     * transfer must be free when this returns. On a closed handle
     * CancelIoEx fails and the close has already aborted the operation. */
    (void)fd_closed;
    for (int d = 0; d < 2; d++)
        if (busy[d]) ax__op_cancel_wait(io, &io->op[d]);
    ax__spin_lock(&io->lock);
    SOCKET acc = io->acc;
    io->acc = INVALID_SOCKET;
    io->op[0].kind = io->op[1].kind = AX__KIND_RW;
    ax__spin_unlock(&io->lock);
    if (acc != INVALID_SOCKET) closesocket(acc); /* an accept nobody took */
    ax__spin_lock(&io->lock);
    io->s = INVALID_SOCKET;
    int release = io->inflight == 0;
    io->zombie = !release;
    ax__spin_unlock(&io->lock);
    if (release) ax__io_release(r, io);
}

ax__fd ax__io_fd(const ax__io *io) {
    return (ax__fd)io->s;
}

/* ---- readiness --------------------------------------------------------------- */

static uint32_t ax__dir_bit(int dir) {
    return dir == AX__DIR_READ ? AX__READY_READ : AX__READY_WRITE;
}

/* Stores a clone of cx's waker for dir (io->lock held); returns the one it
 * replaced, for the caller to drop after unlocking. */
static ax_waker ax__store_waker(ax__io *io, int dir, ax_context *cx) {
    ax_waker old = {0};
    if (!io->waker[dir].vtable || !ax_waker_will_wake(&io->waker[dir], cx->waker)) {
        old = io->waker[dir];
        io->waker[dir] = ax_waker_clone(cx->waker);
    }
    return old;
}

/* Issues the zero-byte receive that reports read readiness. io->lock is
 * not held; the op was moved to AX__OP_POLL and counted in `inflight`. */
static void ax__issue_poll(ax__io *io) {
    struct ax__op *op = &io->op[AX__DIR_READ];
    memset(&op->ov, 0, sizeof op->ov);
    WSABUF b = {0, NULL};
    DWORD got = 0, flags = io->is_dgram ? MSG_PEEK : 0;
    int rc = WSARecv(io->s, &b, 1, &got, &flags, &op->ov, NULL);
    DWORD e = rc == 0 ? 0 : (DWORD)WSAGetLastError();
    if (rc != 0 && e == WSA_IO_PENDING) return;
    if (rc == 0 && !io->skip_on_success) return; /* the packet reports it */
    /* Finished at once without a packet: ready now (an error counts as
     * ready; the next call reports it). */
    ax_waker w = {0};
    ax__spin_lock(&io->lock);
    op->state = AX__OP_IDLE;
    io->inflight--;
    uint32_t cur = atomic_load_explicit(&io->ready, memory_order_relaxed);
    atomic_store_explicit(&io->ready, ((((cur >> 8) + 1) & 0xffffff) << 8) | (cur & 0xff) | 1u,
                          memory_order_release);
    w = io->waker[AX__DIR_READ];
    io->waker[AX__DIR_READ].vtable = NULL;
    ax__spin_unlock(&io->lock);
    ax_waker_wake(&w);
}

ax_poll ax__io_poll_ready(ax__io *io, int dir, ax_context *cx, uint32_t *tick) {
    uint32_t bit = ax__dir_bit(dir);
    uint32_t r = atomic_load_explicit(&io->ready, memory_order_acquire);
    if (tick) *tick = r >> 8;
    if ((r & bit) && dir == AX__DIR_READ) return AX_READY; /* write: the slot, locked */
    ax__spin_lock(&io->lock);
    r = atomic_load_explicit(&io->ready, memory_order_acquire);
    if (tick) *tick = r >> 8;
    struct ax__op *op = &io->op[dir];
    if ((r & bit) && op->state != AX__OP_XFER) {
        ax__spin_unlock(&io->lock);
        return AX_READY;
    }
    if (dir == AX__DIR_WRITE && op->state == AX__OP_IDLE) {
        /* Nothing in flight: an overlapped send would be accepted. */
        atomic_fetch_or_explicit(&io->ready, AX__READY_WRITE, memory_order_release);
        ax__spin_unlock(&io->lock);
        return AX_READY;
    }
    ax_waker old = ax__store_waker(io, dir, cx);
    int issue = dir == AX__DIR_READ && op->state == AX__OP_IDLE;
    if (issue) {
        op->state = AX__OP_POLL;
        io->inflight++;
    }
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&old);
    if (issue) ax__issue_poll(io);
    return AX_PENDING;
}

void ax__io_clear_ready(ax__io *io, int dir, uint32_t tick) {
    uint32_t bit = ax__dir_bit(dir);
    uint32_t r = atomic_load_explicit(&io->ready, memory_order_relaxed);
    while ((r >> 8) == (tick & 0xffffff) && (r & bit)) {
        if (atomic_compare_exchange_weak_explicit(&io->ready, &r, r & ~bit, memory_order_acq_rel,
                                                  memory_order_relaxed))
            return;
    }
}

void ax__io_drop_waker(ax__io *io, int dir) {
    ax__spin_lock(&io->lock);
    ax_waker w = io->waker[dir];
    io->waker[dir].vtable = NULL;
    struct ax__op *op = &io->op[dir];
    int cancel = op->state == AX__OP_XFER;
    SOCKET acc = INVALID_SOCKET;
    if (op->state == AX__OP_DONE) { /* a result nobody collects */
        op->state = AX__OP_IDLE;
        if (op->kind == AX__KIND_ACCEPT) acc = io->acc, io->acc = INVALID_SOCKET;
    }
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&w);
    if (acc != INVALID_SOCKET) closesocket(acc);
    if (!cancel) return;
    /* The transfer's buffers belong to the caller again only once the
     * kernel is done with them. */
    ax__op_cancel_wait(io, op);
    ax__spin_lock(&io->lock);
    if (op->state == AX__OP_XFER)
        op->state = AX__OP_ORPHAN; /* packet still queued */
    else if (op->state == AX__OP_DONE)
        op->state = AX__OP_IDLE; /* the poller already took it */
    if (op->kind == AX__KIND_ACCEPT) acc = io->acc, io->acc = INVALID_SOCKET;
    ax__spin_unlock(&io->lock);
    if (acc != INVALID_SOCKET) closesocket(acc);
}

/* ---- the poller -------------------------------------------------------------- */

static void ax__io_complete(ax__reactor *r, OVERLAPPED_ENTRY *e) {
    struct ax__op *op = (struct ax__op *)e->lpOverlapped;
    ax__io *io = op->io;
    int dir = op->dir;
    ax__spin_lock(&io->lock);
    io->inflight--;
    if (io->zombie) {
        op->state = AX__OP_IDLE;
        int release = io->inflight == 0;
        if (release) io->zombie = 0;
        ax__spin_unlock(&io->lock);
        if (release) ax__io_release(r, io);
        return;
    }
    ssize_t res = (ssize_t)e->dwNumberOfBytesTransferred;
    if (op->state == AX__OP_XFER || op->state == AX__OP_POLL) {
        DWORD n = 0, flags = 0;
        if (!WSAGetOverlappedResult(io->s, &op->ov, &n, FALSE, &flags)) {
            int err = ax__win_error((DWORD)WSAGetLastError());
            /* A datagram larger than a zero-byte peek is no error. */
            res = op->state == AX__OP_POLL && err == AX_EMSGSIZE ? 0 : err;
        }
    }
    switch (op->state) {
    case AX__OP_POLL: {
        op->state = AX__OP_IDLE;
        uint32_t cur = atomic_load_explicit(&io->ready, memory_order_relaxed);
        uint32_t next = ((((cur >> 8) + 1) & 0xffffff) << 8) | (cur & 0xff) | ax__dir_bit(dir);
        atomic_store_explicit(&io->ready, next, memory_order_release);
        break;
    }
    case AX__OP_XFER:
        op->state = AX__OP_DONE;
        op->result = res;
        break;
    default: /* AX__OP_ORPHAN: the aborted transfer's packet */
        op->state = AX__OP_IDLE;
        break;
    }
    ax_waker w = io->waker[dir];
    io->waker[dir].vtable = NULL;
    ax__spin_unlock(&io->lock);
    ax_waker_wake(&w);
}

int ax__reactor_poll(ax__reactor *r, int timeout_ms) {
    return ax__reactor_poll_max(r, timeout_ms, AX__EVENTS_BATCH);
}

int ax__reactor_poll_max(ax__reactor *r, int timeout_ms, int max_events) {
    OVERLAPPED_ENTRY evs[AX__EVENTS_BATCH];
    if (max_events < 1) max_events = 1;
    if (max_events > AX__EVENTS_BATCH) max_events = AX__EVENTS_BATCH;
    ULONG n = 0;
    DWORD t = timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms;
    if (!GetQueuedCompletionStatusEx(r->port, evs, (ULONG)max_events, &n, t, FALSE)) {
        DWORD e = GetLastError();
        return e == WAIT_TIMEOUT ? 0 : ax__win_error(e);
    }
    int handled = 0;
    for (ULONG i = 0; i < n; i++) {
        if (evs[i].lpCompletionKey == AX__NOTIFY_KEY && !evs[i].lpOverlapped) {
            atomic_store_explicit(&r->notified, 0, memory_order_release);
            continue;
        }
        if (!evs[i].lpOverlapped) continue;
        ax__io_complete(r, &evs[i]);
        handled++;
    }
    return handled;
}

/* ---- completion-shaped transfers ---------------------------------------------- */

static int ax__to_wsabuf(WSABUF *out, const struct iovec *iov, int n) {
    if (n < 1 || n > AX__MAX_WSABUF) return AX_EINVAL;
    for (int i = 0; i < n; i++) {
        if (iov[i].iov_len > 0x7fffffffu) return AX_EINVAL;
        out[i].buf = iov[i].iov_base;
        out[i].len = (ULONG)iov[i].iov_len;
    }
    return 0;
}

/* One transfer in direction dir over bufs: collects a finished one, or
 * issues a new one when the slot is free, or waits. */
/* As on epoll: a read that returned fewer bytes than asked for (but some)
 * drained the socket, so read readiness is forgotten, unless a readiness
 * completion came after the transfer was issued. */
static void ax__after_read(ax__io *io, const struct ax__op *op, ssize_t got) {
    if (op->dir == AX__DIR_READ && got > 0 && (size_t)got < op->want)
        ax__io_clear_ready(io, AX__DIR_READ, op->tick);
}

static ax_poll ax__xfer(ax__io *io, int dir, WSABUF *bufs, int n, ax_context *cx, ssize_t *res) {
    struct ax__op *op = &io->op[dir];
    ax__spin_lock(&io->lock);
    if (op->state == AX__OP_DONE) {
        op->state = AX__OP_IDLE;
        *res = op->result;
        ax__spin_unlock(&io->lock);
        ax__after_read(io, op, *res);
        return AX_READY;
    }
    /* In flight (ours or a readiness receive), or an aborted one whose
     * packet has not come back yet: wait for the slot. */
    if (op->state != AX__OP_IDLE) {
        ax_waker old = ax__store_waker(io, dir, cx);
        ax__spin_unlock(&io->lock);
        ax_waker_drop(&old);
        return AX_PENDING;
    }
    ax_waker old = ax__store_waker(io, dir, cx);
    op->state = AX__OP_XFER;
    op->kind = AX__KIND_RW;
    op->want = 0;
    for (int i = 0; i < n; i++) op->want += bufs[i].len;
    op->tick = atomic_load_explicit(&io->ready, memory_order_acquire) >> 8;
    io->inflight++;
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&old);

    memset(&op->ov, 0, sizeof op->ov);
    DWORD done = 0, flags = 0;
    int rc = dir == AX__DIR_READ ? WSARecv(io->s, bufs, (DWORD)n, &done, &flags, &op->ov, NULL)
                                 : WSASend(io->s, bufs, (DWORD)n, &done, 0, &op->ov, NULL);
    DWORD e = rc == 0 ? 0 : (DWORD)WSAGetLastError();
    if (rc != 0 && e == WSA_IO_PENDING) return AX_PENDING;
    if (rc == 0 && !io->skip_on_success) return AX_PENDING; /* the packet brings it */
    /* Finished at once, no packet. */
    ax__spin_lock(&io->lock);
    op->state = AX__OP_IDLE;
    io->inflight--;
    ax__spin_unlock(&io->lock);
    *res = rc == 0 ? (ssize_t)done : ax__win_error(e);
    ax__after_read(io, op, *res);
    return AX_READY;
}

ax_poll ax__io_poll_read(ax__io *io, void *buf, size_t len, ax_context *cx, ssize_t *res) {
    if (len > 0x7fffffffu) len = 0x7fffffffu;
    WSABUF b = {(ULONG)len, buf};
    return ax__xfer(io, AX__DIR_READ, &b, 1, cx, res);
}

ax_poll ax__io_poll_write(ax__io *io, const void *buf, size_t len, ax_context *cx, ssize_t *res) {
    if (len > 0x7fffffffu) len = 0x7fffffffu;
    WSABUF b = {(ULONG)len, (char *)buf};
    return ax__xfer(io, AX__DIR_WRITE, &b, 1, cx, res);
}

ax_poll ax__io_poll_readv(ax__io *io, const struct iovec *iov, int n, ax_context *cx,
                          ssize_t *res) {
    WSABUF b[AX__MAX_WSABUF];
    int err = ax__to_wsabuf(b, iov, n);
    if (err) {
        *res = err;
        return AX_READY;
    }
    return ax__xfer(io, AX__DIR_READ, b, n, cx, res);
}

ax_poll ax__io_poll_writev(ax__io *io, const struct iovec *iov, int n, ax_context *cx,
                           ssize_t *res) {
    WSABUF b[AX__MAX_WSABUF];
    int err = ax__to_wsabuf(b, iov, n);
    if (err) {
        *res = err;
        return AX_READY;
    }
    return ax__xfer(io, AX__DIR_WRITE, b, n, cx, res);
}

/* Readiness-driven retry of a nonblocking call. Reading waits on the
 * zero-byte receive. Writing has no readiness event on a completion port:
 * a send that would block is retried after the writes in flight finish, or
 * at the next poll. */
ax_poll ax__io_poll_op(ax__io *io, int dir, ax_context *cx, ax__io_op_fn op, void *arg,
                       ssize_t *res) {
    for (;;) {
        uint32_t tick = atomic_load_explicit(&io->ready, memory_order_acquire) >> 8;
        ssize_t n = op((ax__fd)io->s, arg);
        if (n >= 0) {
            *res = n;
            return AX_READY;
        }
        int e = WSAGetLastError();
        if (e != WSAEWOULDBLOCK) {
            *res = ax__win_error((DWORD)e);
            return AX_READY;
        }
        if (dir == AX__DIR_WRITE) {
            ax_waker_wake_by_ref(cx->waker);
            return AX_PENDING;
        }
        ax__io_clear_ready(io, dir, tick);
        if (ax__io_poll_ready(io, dir, cx, NULL) == AX_PENDING) return AX_PENDING;
    }
}

/* ---- accept and connect (net/ on Windows) --------------------------------------- */

/* ConnectEx has no import library entry: it is asked of the provider. The
 * pointer is the same for every socket of the Microsoft providers; it is
 * cached once found (a racing first lookup stores the same value). */
static LPFN_CONNECTEX ax__connectex(SOCKET s) {
    static _Atomic(LPFN_CONNECTEX) cached;
    LPFN_CONNECTEX fn = atomic_load_explicit(&cached, memory_order_acquire);
    if (fn) return fn;
    GUID guid = WSAID_CONNECTEX;
    DWORD got = 0;
    if (WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &guid, sizeof guid, &fn, sizeof fn, &got,
                 NULL, NULL) != 0)
        return NULL;
    atomic_store_explicit(&cached, fn, memory_order_release);
    return fn;
}

/* Moves a transfer slot to XFER of the given kind, or reports it busy. */
static int ax__op_claim(ax__io *io, int dir, int kind, ax_context *cx) {
    struct ax__op *op = &io->op[dir];
    ax__spin_lock(&io->lock);
    if (op->state != AX__OP_IDLE) {
        ax_waker old = cx ? ax__store_waker(io, dir, cx) : (ax_waker){0};
        ax__spin_unlock(&io->lock);
        ax_waker_drop(&old);
        return 0;
    }
    ax_waker old = cx ? ax__store_waker(io, dir, cx) : (ax_waker){0};
    op->state = AX__OP_XFER;
    op->kind = (uint8_t)kind;
    io->inflight++;
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&old);
    memset(&op->ov, 0, sizeof op->ov);
    return 1;
}

/* An operation that finished when issued: without a packet (skip mode, or
 * an error) the result is stored here; with one, the poller stores it. */
static void ax__op_finished_now(ax__io *io, int dir, int ok, DWORD e) {
    struct ax__op *op = &io->op[dir];
    if (ok && !io->skip_on_success) return;
    if (!ok && e == WSA_IO_PENDING) return;
    ax__spin_lock(&io->lock);
    op->state = AX__OP_DONE;
    op->result = ok ? 0 : ax__win_error(e);
    io->inflight--;
    ax__spin_unlock(&io->lock);
}

ax_poll ax__io_poll_accept(ax__io *io, int family, ax_context *cx, ax__fd *out,
                           struct sockaddr_storage *peer, int *peer_len, int *res) {
    struct ax__op *op = &io->op[AX__DIR_READ];
    for (;;) {
        ax__spin_lock(&io->lock);
        if (op->state == AX__OP_DONE && op->kind == AX__KIND_ACCEPT) {
            op->state = AX__OP_IDLE;
            SOCKET acc = io->acc;
            io->acc = INVALID_SOCKET;
            ssize_t r = op->result;
            ax__spin_unlock(&io->lock);
            if (r < 0) {
                closesocket(acc);
                /* A connection reset before it was taken is the peer's
                 * business: accept the next one. */
                if (r == AX_ECONNRESET || r == AX_ECONNABORTED) continue;
                *res = (int)r;
                return AX_READY;
            }
            SOCKET ls = io->s;
            if (setsockopt(acc, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, (const char *)&ls,
                           sizeof ls) != 0) {
                *res = ax__win_error((DWORD)WSAGetLastError());
                closesocket(acc);
                return AX_READY;
            }
            struct sockaddr *local = NULL, *remote = NULL;
            int llen = 0, rlen = 0;
            GetAcceptExSockaddrs(io->acc_addrs, 0, AX__ACCEPT_ADDR, AX__ACCEPT_ADDR, &local, &llen,
                                 &remote, &rlen);
            if (peer && peer_len) {
                if (remote && rlen > 0 && (size_t)rlen <= sizeof(SOCKADDR_STORAGE)) {
                    memcpy(peer, remote, (size_t)rlen);
                    *peer_len = rlen;
                } else {
                    *peer_len = 0;
                }
            }
            *out = (ax__fd)acc;
            *res = 0;
            return AX_READY;
        }
        ax__spin_unlock(&io->lock);
        if (!ax__op_claim(io, AX__DIR_READ, AX__KIND_ACCEPT, cx)) return AX_PENDING;
        SOCKET acc = WSASocketW(family, SOCK_STREAM, IPPROTO_TCP, NULL, 0,
                                WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
        if (acc == INVALID_SOCKET) {
            DWORD e = (DWORD)WSAGetLastError();
            ax__spin_lock(&io->lock);
            op->state = AX__OP_IDLE;
            io->inflight--;
            ax__spin_unlock(&io->lock);
            *res = ax__win_error(e);
            return AX_READY;
        }
        io->acc = acc;
        DWORD got = 0;
        BOOL ok =
            AcceptEx(io->s, acc, io->acc_addrs, 0, AX__ACCEPT_ADDR, AX__ACCEPT_ADDR, &got, &op->ov);
        ax__op_finished_now(io, AX__DIR_READ, ok, ok ? 0 : (DWORD)WSAGetLastError());
        /* Finished at once: collect it on the next turn of the loop. */
        ax__spin_lock(&io->lock);
        int done = op->state == AX__OP_DONE;
        ax__spin_unlock(&io->lock);
        if (!done) return AX_PENDING;
    }
}

int ax__io_connect_start(ax__io *io, const struct sockaddr *sa, int len) {
    LPFN_CONNECTEX connectex = ax__connectex(io->s);
    if (!connectex) return ax__win_error((DWORD)WSAGetLastError());
    if (!ax__op_claim(io, AX__DIR_WRITE, AX__KIND_CONNECT, NULL)) return AX_EALREADY;
    struct ax__op *op = &io->op[AX__DIR_WRITE];
    BOOL ok = connectex(io->s, sa, len, NULL, 0, NULL, &op->ov);
    ax__op_finished_now(io, AX__DIR_WRITE, ok, ok ? 0 : (DWORD)WSAGetLastError());
    return 0;
}

ax_poll ax__io_poll_connect(ax__io *io, ax_context *cx, int *res) {
    struct ax__op *op = &io->op[AX__DIR_WRITE];
    ax__spin_lock(&io->lock);
    if (op->state == AX__OP_DONE && op->kind == AX__KIND_CONNECT) {
        op->state = AX__OP_IDLE;
        op->kind = AX__KIND_RW;
        int r = (int)op->result;
        ax__spin_unlock(&io->lock);
        if (r == 0 && setsockopt(io->s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, NULL, 0) != 0)
            r = ax__win_error((DWORD)WSAGetLastError());
        *res = r;
        return AX_READY;
    }
    if (op->state == AX__OP_IDLE) { /* nothing started */
        ax__spin_unlock(&io->lock);
        *res = AX_EINVAL;
        return AX_READY;
    }
    ax_waker old = ax__store_waker(io, AX__DIR_WRITE, cx);
    ax__spin_unlock(&io->lock);
    ax_waker_drop(&old);
    return AX_PENDING;
}

/* ---- datagrams: WSARecvFrom / WSASendTo ------------------------------------------ */

ax_poll ax__io_poll_recvfrom(ax__io *io, void *buf, size_t len, struct sockaddr_storage *from,
                             int *fromlen, int *truncated, ax_context *cx, ssize_t *res) {
    struct ax__op *op = &io->op[AX__DIR_READ];
    ax__spin_lock(&io->lock);
    int done = op->state == AX__OP_DONE && op->kind == AX__KIND_RECVFROM;
    ax__spin_unlock(&io->lock);
    if (!done) {
        if (!ax__op_claim(io, AX__DIR_READ, AX__KIND_RECVFROM, cx)) return AX_PENDING;
        if (len > 0x7fffffffu) len = 0x7fffffffu;
        WSABUF b = {(ULONG)len, buf};
        DWORD got = 0, flags = 0;
        op->want = len;
        op->addrlen = (INT)sizeof op->addr;
        int rc = WSARecvFrom(io->s, &b, 1, &got, &flags, (struct sockaddr *)&op->addr, &op->addrlen,
                             &op->ov, NULL);
        DWORD e = rc == 0 ? 0 : (DWORD)WSAGetLastError();
        if (rc != 0 && e == WSA_IO_PENDING) return AX_PENDING;
        if (rc == 0 && !io->skip_on_success) return AX_PENDING; /* the packet brings it */
        ax__spin_lock(&io->lock);
        op->state = AX__OP_DONE;
        op->result = rc == 0 ? (ssize_t)got : ax__win_error(e);
        io->inflight--;
        ax__spin_unlock(&io->lock);
    }
    ax__spin_lock(&io->lock);
    op->state = AX__OP_IDLE;
    op->kind = AX__KIND_RW;
    ssize_t r = op->result;
    ax__spin_unlock(&io->lock);
    /* A datagram longer than the buffer filled it and lost the rest. */
    *truncated = r == AX_EMSGSIZE;
    if (*truncated) r = (ssize_t)op->want;
    if (r >= 0 && from && fromlen) {
        int n = op->addrlen > 0 && (size_t)op->addrlen <= sizeof *from ? op->addrlen : 0;
        memcpy(from, &op->addr, (size_t)n);
        *fromlen = n;
    }
    *res = r;
    return AX_READY;
}

ax_poll ax__io_poll_sendto(ax__io *io, const void *buf, size_t len, const struct sockaddr *to,
                           int tolen, ax_context *cx, ssize_t *res) {
    struct ax__op *op = &io->op[AX__DIR_WRITE];
    ax__spin_lock(&io->lock);
    int done = op->state == AX__OP_DONE && op->kind == AX__KIND_SENDTO;
    ax__spin_unlock(&io->lock);
    if (!done) {
        if (len > 0x7fffffffu || (to && (tolen <= 0 || (size_t)tolen > sizeof op->addr))) {
            *res = len > 0x7fffffffu ? AX_EMSGSIZE : AX_EINVAL;
            return AX_READY;
        }
        if (!ax__op_claim(io, AX__DIR_WRITE, AX__KIND_SENDTO, cx)) return AX_PENDING;
        if (to) memcpy(&op->addr, to, (size_t)tolen);
        WSABUF b = {(ULONG)len, (char *)buf};
        DWORD sent = 0;
        int rc = WSASendTo(io->s, &b, 1, &sent, 0, to ? (struct sockaddr *)&op->addr : NULL,
                           to ? tolen : 0, &op->ov, NULL);
        DWORD e = rc == 0 ? 0 : (DWORD)WSAGetLastError();
        if (rc != 0 && e == WSA_IO_PENDING) return AX_PENDING;
        if (rc == 0 && !io->skip_on_success) return AX_PENDING;
        ax__spin_lock(&io->lock);
        op->state = AX__OP_DONE;
        op->result = rc == 0 ? (ssize_t)sent : ax__win_error(e);
        io->inflight--;
        ax__spin_unlock(&io->lock);
    }
    ax__spin_lock(&io->lock);
    op->state = AX__OP_IDLE;
    op->kind = AX__KIND_RW;
    *res = op->result;
    ax__spin_unlock(&io->lock);
    return AX_READY;
}
