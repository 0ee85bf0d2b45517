/* The epoll backend through the internal reactor interface: readiness,
 * edge-triggered registration, the readiness tick, notify, completion-style
 * transfers, and generations that keep a recycled descriptor from
 * receiving a stale event. */
#include <criterion/criterion.h>

#include "test/os_compat.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "axon/error.h"
#include "reactor/reactor.h"

/* A waker that counts its wakes and runs an optional hook. */
typedef struct probe {
    atomic_int wakes;
    atomic_int refs;
    void (*hook)(struct probe *);
} probe;

static void *pr_clone(void *d) {
    atomic_fetch_add(&((probe *)d)->refs, 1);
    return d;
}
static void pr_wake_by_ref(void *d) {
    probe *p = d;
    atomic_fetch_add(&p->wakes, 1);
    if (p->hook) p->hook(p);
}
static void pr_wake(void *d) {
    pr_wake_by_ref(d);
    atomic_fetch_sub(&((probe *)d)->refs, 1);
}
static void pr_drop(void *d) {
    atomic_fetch_sub(&((probe *)d)->refs, 1);
}
static const ax_waker_vtable probe_vt = {pr_clone, pr_wake, pr_wake_by_ref, pr_drop};

static ax__reactor *R;
static void setup(void) {
    cr_assert_eq(ax__reactor_new(&R), 0);
}
static void teardown(void) {
    ax__reactor_free(R);
}

static ax_context ctx_of(probe *p, ax_waker *w) {
    w->vtable = &probe_vt;
    w->data = p;
    return (ax_context){w, NULL};
}

Test(epoll, readiness_and_edge, .init = setup, .fini = teardown) {
    int p[2];
    cr_assert_eq(ax__pipe(p, 1), 0);
    ax__io *io;
    cr_assert_eq(ax__io_register(R, p[0], &io), 0);
    cr_assert_eq(ax__io_register(R, p[0], &io), AX_EEXIST);
    probe pr = {0};
    ax_waker w;
    ax_context cx = ctx_of(&pr, &w);
    uint32_t tick;
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_READ, &cx, &tick), AX_PENDING);
    cr_assert_eq(atomic_load(&pr.refs), 1, "the reactor keeps one clone");
    cr_assert_eq(ax__reactor_poll(R, 0), 0);
    cr_assert_eq(write(p[1], "ab", 2), 2);
    cr_assert_eq(ax__reactor_poll(R, 1000), 1);
    cr_assert_eq(atomic_load(&pr.wakes), 1);
    cr_assert_eq(atomic_load(&pr.refs), 0, "the clone is consumed by the wake");
    /* readiness stays until an operation hits EAGAIN */
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_READ, &cx, &tick), AX_READY);
    char buf[8];
    ssize_t n;
    cr_assert_eq(ax__io_poll_read(io, buf, sizeof(buf), &cx, &n), AX_READY);
    cr_assert_eq(n, 2);
    cr_assert_eq(ax__io_poll_read(io, buf, sizeof(buf), &cx, &n), AX_PENDING);
    cr_assert_eq(atomic_load(&pr.refs), 1);
    /* edge triggered: no new event without new data */
    cr_assert_eq(ax__reactor_poll(R, 0), 0);
    cr_assert_eq(write(p[1], "c", 1), 1);
    cr_assert_eq(ax__reactor_poll(R, 1000), 1);
    cr_assert_eq(atomic_load(&pr.wakes), 2);
    cr_assert_eq(ax__io_poll_read(io, buf, sizeof(buf), &cx, &n), AX_READY);
    cr_assert_eq(n, 1);
    cr_assert_eq(ax__io_poll_read(io, buf, sizeof(buf), &cx, &n), AX_PENDING);
    /* hang-up: read readiness and EOF */
    close(p[1]);
    cr_assert_geq(ax__reactor_poll(R, 1000), 1, "hang-up is an event");
    cr_assert_eq(atomic_load(&pr.wakes), 3);
    cr_assert_eq(ax__io_poll_read(io, buf, sizeof(buf), &cx, &n), AX_READY);
    cr_assert_eq(n, 0);
    ax__io_deregister(R, io, 0);
    cr_assert_eq(atomic_load(&pr.refs), 0);
    close(p[0]);
}

Test(epoll, clear_ready_respects_tick, .init = setup, .fini = teardown) {
    int p[2];
    cr_assert_eq(ax__pipe(p, 1), 0);
    ax__io *io;
    cr_assert_eq(ax__io_register(R, p[0], &io), 0);
    cr_assert_eq(write(p[1], "a", 1), 1);
    cr_assert_eq(ax__reactor_poll(R, 1000), 1);
    probe pr = {0};
    ax_waker w;
    ax_context cx = ctx_of(&pr, &w);
    uint32_t old_tick, tick;
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_READ, &cx, &old_tick), AX_READY);
    /* an event arrives between the read and the clear */
    cr_assert_eq(write(p[1], "b", 1), 1);
    cr_assert_eq(ax__reactor_poll(R, 1000), 1);
    ax__io_clear_ready(io, AX__DIR_READ, old_tick);
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_READ, &cx, &tick), AX_READY,
                 "a stale tick must not clear newer readiness");
    ax__io_clear_ready(io, AX__DIR_READ, tick);
    cr_assert_eq(ax__io_poll_ready(io, AX__DIR_READ, &cx, &tick), AX_PENDING);
    ax__io_deregister(R, io, 0);
    close(p[0]);
    close(p[1]);
}

/* The stale-event case: one epoll_wait returns events for A and B; while
 * handling A, B is deregistered and closed and a new pipe C takes B's
 * descriptor number and B's slot. B's event must not reach C. */
static int pa[2], pb[2], pc[2];
static ax__io *ioa, *iob, *ioc;
static probe pra, prb, prc;

static void swap_b_for_c(probe *p) {
    (void)p;
    int old = pb[0];
    ax__io_deregister(R, iob, 0);
    close(pb[0]);
    close(pb[1]);
    cr_assert_eq(ax__pipe(pc, 1), 0);
    cr_assert_eq(pc[0], old, "the descriptor number is recycled");
    cr_assert_eq(ax__io_register(R, pc[0], &ioc), 0);
    cr_assert_eq(ioc, iob, "the slot is recycled too");
    ax_waker w;
    ax_context cx = ctx_of(&prc, &w);
    cr_assert_eq(ax__io_poll_ready(ioc, AX__DIR_READ, &cx, NULL), AX_PENDING);
}

Test(epoll, generation_drops_stale_events, .init = setup, .fini = teardown) {
    cr_assert_eq(ax__pipe(pa, 1), 0);
    cr_assert_eq(ax__pipe(pb, 1), 0);
    cr_assert_eq(ax__io_register(R, pa[0], &ioa), 0);
    cr_assert_eq(ax__io_register(R, pb[0], &iob), 0);
    ax_waker wa, wb;
    ax_context ca = ctx_of(&pra, &wa), cb = ctx_of(&prb, &wb);
    pra.hook = swap_b_for_c;
    cr_assert_eq(ax__io_poll_ready(ioa, AX__DIR_READ, &ca, NULL), AX_PENDING);
    cr_assert_eq(ax__io_poll_ready(iob, AX__DIR_READ, &cb, NULL), AX_PENDING);
    cr_assert_eq(write(pa[1], "a", 1), 1);
    cr_assert_eq(write(pb[1], "b", 1), 1);
    ax__reactor_poll(R, 1000);
    cr_assert_eq(atomic_load(&pra.wakes), 1);
    cr_assert_eq(atomic_load(&prb.wakes), 0, "B was deregistered before its event");
    cr_assert_eq(atomic_load(&prc.wakes), 0, "B's stale event must not wake C");
    probe tmp = {0};
    ax_waker wt;
    ax_context ct = ctx_of(&tmp, &wt);
    cr_assert_eq(ax__io_poll_ready(ioc, AX__DIR_READ, &ct, NULL), AX_PENDING,
                 "B's stale event must not mark C readable");
    ax__io_deregister(R, ioc, 0);
    ax__io_deregister(R, ioa, 0);
    close(pa[0]);
    close(pa[1]);
    close(pc[0]);
    close(pc[1]);
}

Test(epoll, notify_interrupts_wait, .init = setup, .fini = teardown) {
    ax__reactor_notify(R);
    ax__reactor_notify(R); /* coalesced */
    cr_assert_eq(ax__reactor_poll(R, 5000), 0, "returns promptly, no handle events");
    cr_assert_eq(ax__reactor_poll(R, 0), 0);
    cr_assert_geq(ax__reactor_fd(R), 0);
}

Test(epoll, write_to_closed_socket_is_epipe_not_sigpipe, .init = setup, .fini = teardown) {
    int sv[2];
    cr_assert_eq(ax__socketpair(AF_UNIX, SOCK_STREAM, 0, sv, 1), 0);
    ax__io *io;
    cr_assert_eq(ax__io_register(R, sv[0], &io), 0);
    close(sv[1]);
    probe pr = {0};
    ax_waker w;
    ax_context cx = ctx_of(&pr, &w);
    ssize_t n;
    cr_assert_eq(ax__io_poll_write(io, "x", 1, &cx, &n), AX_READY);
    cr_assert_eq(n, AX_EPIPE);
    struct iovec iov = {"yz", 2};
    cr_assert_eq(ax__io_poll_writev(io, &iov, 1, &cx, &n), AX_READY);
    cr_assert_eq(n, AX_EPIPE);
    ax__io_deregister(R, io, 0);
    close(sv[0]);
}
