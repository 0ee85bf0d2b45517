/* The IOCP backend through the internal reactor interface, on real
 * loopback TCP connections: readiness through the zero-byte receive,
 * native overlapped transfers (scatter/gather too), cancellation of a
 * pending overlapped read that leaves the data to the next reader, notify
 * from another thread, end of stream, a reset, deregistration with an
 * operation in flight, and 1,000 connections waiting at once. Windows only
 * (built by make CROSS=x86_64-w64-mingw32, run under wine). */
#include <criterion/criterion.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "axon/error.h"
#include "reactor/reactor.h"

typedef struct probe {
    atomic_int wakes;
    atomic_int refs;
} probe;

static void *pr_clone(void *d) {
    atomic_fetch_add(&((probe *)d)->refs, 1);
    return d;
}
static void pr_wake_by_ref(void *d) {
    atomic_fetch_add(&((probe *)d)->wakes, 1);
}
static void pr_wake(void *d) {
    pr_wake_by_ref(d);
    atomic_fetch_sub(&((probe *)d)->refs, 1);
}
static void pr_drop(void *d) {
    atomic_fetch_sub(&((probe *)d)->refs, 1);
}
static const ax_waker_vtable probe_vt = {pr_clone, pr_wake, pr_wake_by_ref, pr_drop};

static ax_context ctx_of(probe *p, ax_waker *w) {
    w->vtable = &probe_vt;
    w->data = p;
    return (ax_context){w, NULL};
}

static ax__reactor *R;
static SOCKET L = INVALID_SOCKET;
static struct sockaddr_in L_addr;

static void setup(void) {
    cr_assert_eq(ax__reactor_new(&R), 0); /* also starts Winsock */
    L = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    cr_assert_neq(L, INVALID_SOCKET);
    memset(&L_addr, 0, sizeof L_addr);
    L_addr.sin_family = AF_INET;
    L_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(L, (struct sockaddr *)&L_addr, sizeof L_addr), 0);
    int len = sizeof L_addr;
    cr_assert_eq(getsockname(L, (struct sockaddr *)&L_addr, &len), 0);
    cr_assert_eq(listen(L, SOMAXCONN), 0);
}

static void teardown(void) {
    closesocket(L);
    ax__reactor_free(R);
}

/* A connected pair over loopback: *a is the accepted end (the one the
 * tests register), *b the plain blocking client. */
static void tcp_pair(SOCKET *a, SOCKET *b) {
    *b = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    cr_assert_neq(*b, INVALID_SOCKET);
    cr_assert_eq(connect(*b, (struct sockaddr *)&L_addr, sizeof L_addr), 0);
    *a = accept(L, NULL, NULL);
    cr_assert_neq(*a, INVALID_SOCKET);
    u_long nb = 1;
    cr_assert_eq(ioctlsocket(*a, FIONBIO, &nb), 0);
}

/* Polls the reactor until the probe was woken at least `want` times. */
static void poll_until(probe *p, int want) {
    for (int i = 0; i < 500 && atomic_load(&p->wakes) < want; i++) ax__reactor_poll(R, 20);
    cr_assert_geq(atomic_load(&p->wakes), want);
}

Test(iocp, readiness_then_transfers, .init = setup, .fini = teardown) {
    SOCKET a, b;
    tcp_pair(&a, &b);
    ax__io *io;
    cr_assert_eq(ax__io_register(R, (ax__fd)a, &io), 0);
    cr_assert_eq(ax__io_register(R, (ax__fd)a, &io), AX_EEXIST, "one port per socket");
    cr_assert_eq(ax__io_fd(io), (ax__fd)a);
    probe pr = {0};
    ax_waker w;
    ax_context cx = ctx_of(&pr, &w);
    /* Idle: a zero-byte receive waits, no buffer given. */
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_READ, &cx, NULL), AX_PENDING);
    cr_assert_eq(ax__reactor_poll(R, 0), 0);
    cr_assert_eq(atomic_load(&pr.wakes), 0);
    /* Writing is ready when nothing is in flight. */
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_WRITE, &cx, NULL), AX_READY);
    cr_assert_eq(send(b, "ab", 2, 0), 2);
    poll_until(&pr, 1);
    cr_assert_eq(atomic_load(&pr.refs), 0, "the clone is consumed by the wake");
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_READ, &cx, NULL), AX_READY);
    char buf[16];
    ssize_t n = -1;
    ax_poll r;
    while ((r = ax__io_poll_read(io, buf, sizeof buf, &cx, &n)) == AX_PENDING) poll_until(&pr, 2);
    cr_assert_eq(n, 2);
    cr_assert_eq(memcmp(buf, "ab", 2), 0, "the zero-byte receive consumed nothing");
    /* A read with nothing there stays in flight on this buffer. */
    int before = atomic_load(&pr.wakes);
    memset(buf, 0, sizeof buf);
    cr_assert_eq(ax__io_poll_read(io, buf, sizeof buf, &cx, &n), AX_PENDING);
    cr_assert_eq(send(b, "cde", 3, 0), 3);
    poll_until(&pr, before + 1);
    cr_assert_eq(memcmp(buf, "cde", 3), 0, "the kernel filled the caller's buffer");
    cr_assert_eq(ax__io_poll_read(io, buf, sizeof buf, &cx, &n), AX_READY);
    cr_assert_eq(n, 3);
    /* Gathered write, scattered read. */
    struct iovec out[3] = {{"he", 2}, {"ll", 2}, {"o!", 2}};
    while ((r = ax__io_poll_writev(io, out, 3, &cx, &n)) == AX_PENDING) ax__reactor_poll(R, 20);
    cr_assert_eq(n, 6);
    char got[6];
    int k = 0;
    while (k < 6) {
        int m = recv(b, got + k, 6 - k, 0);
        cr_assert_gt(m, 0);
        k += m;
    }
    cr_assert_eq(memcmp(got, "hello!", 6), 0);
    cr_assert_eq(send(b, "xyzw", 4, 0), 4);
    char p1[1], p2[8];
    struct iovec in[2] = {{p1, 1}, {p2, sizeof p2}};
    size_t total = 0;
    while (total < 4) {
        struct iovec part[2] = {in[0], in[1]};
        int parts = 2;
        if (total > 0) { /* the first byte landed in p1 */
            part[0].iov_base = p2 + (total - 1);
            part[0].iov_len = sizeof p2 - (total - 1);
            parts = 1;
        }
        while ((r = ax__io_poll_readv(io, part, parts, &cx, &n)) == AX_PENDING)
            ax__reactor_poll(R, 20);
        cr_assert_gt(n, 0);
        total += (size_t)n;
    }
    cr_assert_eq(p1[0], 'x');
    cr_assert_eq(memcmp(p2, "yzw", 3), 0);
    struct iovec none[1] = {{p1, 1}};
    cr_assert_eq(ax__io_poll_readv(io, none, 0, &cx, &n), AX_READY);
    cr_assert_eq(n, AX_EINVAL, "no buffers is an error, not a hang");
    ax__io_deregister(R, io, 0);
    closesocket(a);
    closesocket(b);
}

Test(iocp, cancelled_read_leaves_data_to_next_reader, .init = setup, .fini = teardown) {
    SOCKET a, b;
    tcp_pair(&a, &b);
    ax__io *io;
    cr_assert_eq(ax__io_register(R, (ax__fd)a, &io), 0);
    probe pr = {0};
    ax_waker w;
    ax_context cx = ctx_of(&pr, &w);
    char *buf = malloc(64);
    cr_assert_not_null(buf);
    memset(buf, '.', 64);
    ssize_t n;
    cr_assert_eq(ax__io_poll_read(io, buf, 64, &cx, &n), AX_PENDING);
    cr_assert_eq(atomic_load(&pr.refs), 1);
    /* Abandon it: CancelIoEx, and the call returns only once the kernel is
     * done with the buffer, so freeing it right away is safe. */
    ax__io_drop_waker(io, AX__DIR_READ);
    cr_assert_eq(atomic_load(&pr.refs), 0, "the stored waker is dropped, not woken");
    cr_assert_eq(atomic_load(&pr.wakes), 0);
    for (int i = 0; i < 64; i++) cr_assert_eq(buf[i], '.', "nothing was read into it");
    free(buf);
    /* The aborted completion's packet is swallowed by the poller. */
    ax__reactor_poll(R, 50);
    cr_assert_eq(atomic_load(&pr.wakes), 0);
    cr_assert_eq(send(b, "late", 4, 0), 4);
    char again[8];
    ax_poll r;
    while ((r = ax__io_poll_read(io, again, sizeof again, &cx, &n)) == AX_PENDING)
        ax__reactor_poll(R, 20);
    cr_assert_eq(n, 4);
    cr_assert_eq(memcmp(again, "late", 4), 0);
    ax__io_deregister(R, io, 0);
    closesocket(a);
    closesocket(b);
}

Test(iocp, end_of_stream_and_reset, .init = setup, .fini = teardown) {
    SOCKET a, b, c, d;
    tcp_pair(&a, &b);
    tcp_pair(&c, &d);
    ax__io *io1, *io2;
    cr_assert_eq(ax__io_register(R, (ax__fd)a, &io1), 0);
    cr_assert_eq(ax__io_register(R, (ax__fd)c, &io2), 0);
    probe pr = {0};
    ax_waker w;
    ax_context cx = ctx_of(&pr, &w);
    char buf[8];
    ssize_t n = 99;
    cr_assert_eq(ax__io_poll_read(io1, buf, sizeof buf, &cx, &n), AX_PENDING);
    shutdown(b, SD_SEND);
    ax_poll r;
    while ((r = ax__io_poll_read(io1, buf, sizeof buf, &cx, &n)) == AX_PENDING)
        ax__reactor_poll(R, 20);
    cr_assert_eq(n, 0, "end of stream reads 0");
    /* A reset: linger 0 then close sends RST. */
    cr_assert_eq(ax__io_poll_read(io2, buf, sizeof buf, &cx, &n), AX_PENDING);
    struct linger lg = {1, 0};
    cr_assert_eq(setsockopt(d, SOL_SOCKET, SO_LINGER, (const char *)&lg, sizeof lg), 0);
    closesocket(d);
    while ((r = ax__io_poll_read(io2, buf, sizeof buf, &cx, &n)) == AX_PENDING)
        ax__reactor_poll(R, 20);
    cr_assert(n == AX_ECONNRESET || n == AX_ECONNABORTED, "got %zd (%s)", n, ax_err_name((int)n));
    ax__io_deregister(R, io1, 0);
    ax__io_deregister(R, io2, 0);
    closesocket(a);
    closesocket(b);
    closesocket(c);
}

static DWORD WINAPI notifier(void *arg) {
    Sleep(50);
    ax__reactor_notify(arg);
    return 0;
}

Test(iocp, notify_from_another_thread, .init = setup, .fini = teardown) {
    HANDLE t = CreateThread(NULL, 0, notifier, R, 0, NULL);
    cr_assert_not_null(t);
    /* Without the wake-up this would block forever (the runner's timeout
     * fails the test). */
    cr_assert_eq(ax__reactor_poll(R, -1), 0);
    WaitForSingleObject(t, INFINITE);
    CloseHandle(t);
    /* A second notify before any poll costs one packet, not two. */
    ax__reactor_notify(R);
    ax__reactor_notify(R);
    cr_assert_eq(ax__reactor_poll(R, 1000), 0);
    cr_assert_eq(ax__reactor_poll(R, 0), 0);
    cr_assert_eq(ax__reactor_fd(R), -1);
}

Test(iocp, deregister_with_operation_in_flight, .init = setup, .fini = teardown) {
    SOCKET a, b;
    tcp_pair(&a, &b);
    ax__io *io;
    cr_assert_eq(ax__io_register(R, (ax__fd)a, &io), 0);
    probe pr = {0};
    ax_waker w;
    ax_context cx = ctx_of(&pr, &w);
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_READ, &cx, NULL), AX_PENDING);
    ax__io_deregister(R, io, 0);
    cr_assert_eq(atomic_load(&pr.refs), 0);
    closesocket(a);
    /* The aborted receive's packet arrives for a dead registration and
     * wakes nobody; the slot is then free for the next socket. */
    ax__reactor_poll(R, 50);
    cr_assert_eq(atomic_load(&pr.wakes), 0);
    SOCKET c, d;
    tcp_pair(&c, &d);
    ax__io *io2;
    cr_assert_eq(ax__io_register(R, (ax__fd)c, &io2), 0);
    cr_assert_eq(ax__io_poll_ready(io2, AX__DIR_READ, &cx, NULL), AX_PENDING);
    cr_assert_eq(send(d, "z", 1, 0), 1);
    poll_until(&pr, 1);
    ax__io_deregister(R, io2, 0);
    closesocket(b);
    closesocket(c);
    closesocket(d);
}

Test(iocp, register_rejects_a_non_socket, .init = setup, .fini = teardown) {
    ax__io *io;
    cr_assert_eq(ax__io_register(R, (ax__fd)INVALID_SOCKET, &io), AX_EBADF);
}

#define MANY 1000

Test(iocp, thousand_connections_wait_at_once, .init = setup, .fini = teardown, .timeout = 120) {
    SOCKET *srv = calloc(MANY, sizeof *srv), *cli = calloc(MANY, sizeof *cli);
    ax__io **io = calloc(MANY, sizeof *io);
    cr_assert(srv && cli && io);
    probe pr = {0};
    ax_waker w;
    ax_context cx = ctx_of(&pr, &w);
    for (int i = 0; i < MANY; i++) {
        tcp_pair(&srv[i], &cli[i]);
        cr_assert_eq(ax__io_register(R, (ax__fd)srv[i], &io[i]), 0);
        cr_assert_eq(ax__io_poll_ready(io[i], AX__DIR_READ, &cx, NULL), AX_PENDING);
    }
    cr_assert_eq(atomic_load(&pr.refs), MANY, "one waker per idle connection, no buffer");
    for (int i = 0; i < MANY; i++) cr_assert_eq(send(cli[i], "!", 1, 0), 1);
    poll_until(&pr, MANY);
    cr_assert_eq(atomic_load(&pr.wakes), MANY, "each connection woke exactly once");
    for (int i = 0; i < MANY; i++) {
        char c;
        ssize_t n;
        cr_assert_eq(ax__io_poll_read(io[i], &c, 1, &cx, &n), AX_READY);
        cr_assert_eq(n, 1);
        cr_assert_eq(c, '!');
        ax__io_deregister(R, io[i], 0);
        closesocket(srv[i]);
        closesocket(cli[i]);
    }
    free(srv);
    free(cli);
    free(io);
}
