/* executor/signal.c - ax_signal_wait over a signal descriptor.
 *
 * The signals named in the runtime options are blocked when the runtime is
 * created (the workers inherit the mask) and read from one descriptor in
 * the reactor: a signalfd on Linux, a kqueue of EVFILT_SIGNAL filters on
 * macOS and the BSDs (ax__sigsrc_open in reactor/os_unix.h). No signal
 * handler is installed. The reactor wakes a dispatcher waker (not a task)
 * that drains the descriptor and hands each signal to every task waiting
 * for it; a signal nobody waits for is kept as pending (once per number)
 * for the next waiter.
 */
#include "executor/internal.h"

#include "reactor/os_unix.h"

#include <unistd.h>

#define AX__SIG_BATCH 16

typedef struct ax__sig_waiter {
    ax_future base;
    ax_runtime *rt;
    sigset_t set;
    int signo; /* set by the dispatcher once delivered */
    bool linked;
    ax_waker waker;
    struct ax__sig_waiter *prev, *next;
} ax__sig_waiter;

static void ax__sig_unlink(ax_runtime *rt, ax__sig_waiter *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        rt->sig_waiters = w->next;
    if (w->next) w->next->prev = w->prev;
    w->linked = false;
}

/* Hands signo to the tasks waiting for it, in batches so that no waker is
 * woken under the spinlock. */
static void ax__sig_deliver(ax_runtime *rt, int signo) {
    bool any = false;
    for (;;) {
        ax_waker batch[AX__SIG_BATCH];
        size_t n = 0;
        ax__spin_lock(&rt->sig_lock);
        ax__sig_waiter *w = rt->sig_waiters;
        while (w && n < AX__SIG_BATCH) {
            ax__sig_waiter *next = w->next;
            if (sigismember(&w->set, signo) == 1) {
                w->signo = signo;
                batch[n++] = w->waker;
                w->waker.vtable = NULL;
                ax__sig_unlink(rt, w);
            }
            w = next;
        }
        if (n)
            any = true;
        else if (!any)
            rt->sig_pending |= 1ull << (signo - 1);
        ax__spin_unlock(&rt->sig_lock);
        for (size_t i = 0; i < n; i++) ax_waker_wake(&batch[i]);
        if (n < AX__SIG_BATCH) return;
    }
}

static void ax__sig_dispatch(ax_runtime *rt);

static void *ax__sd_clone(void *d) {
    return d;
}
static void ax__sd_wake(void *d) {
    ax__sig_dispatch(d);
}
static void ax__sd_drop(void *d) {
    (void)d;
}
static const ax_waker_vtable ax__sig_dispatch_vtable = {ax__sd_clone, ax__sd_wake, ax__sd_wake,
                                                        ax__sd_drop};

static void ax__sig_dispatch(ax_runtime *rt) {
    ax_waker self = {&ax__sig_dispatch_vtable, rt};
    ax_context cx = {&self, rt};
    for (;;) {
        uint32_t tick;
        if (ax__io_poll_ready(rt->sigio, AX__DIR_READ, &cx, &tick) == AX_PENDING) return;
        int signos[AX__SIG_BATCH];
        int n;
        while ((n = ax__sigsrc_read(rt->sigfd, signos, AX__SIG_BATCH)) > 0) {
            for (int i = 0; i < n; i++) ax__sig_deliver(rt, signos[i]);
        }
        ax__io_clear_ready(rt->sigio, AX__DIR_READ, tick);
    }
}

int ax__signals_init(ax_runtime *rt, const sigset_t *set) {
    rt->sigset = *set;
    int err = -pthread_sigmask(SIG_BLOCK, set, NULL);
    if (err) return err;
    rt->sigfd = ax__sigsrc_open(set);
    if (rt->sigfd < 0) return ax_translate_sys_error(errno);
    err = ax__io_register(rt->reactor, rt->sigfd, &rt->sigio);
    if (err) {
        close(rt->sigfd);
        rt->sigfd = -1;
        return err;
    }
    ax__sig_dispatch(rt); /* arms the dispatcher's waker */
    return 0;
}

void ax__signals_free(ax_runtime *rt) {
    if (rt->sigfd < 0) return;
    ax__io_deregister(rt->reactor, rt->sigio, 0);
    close(rt->sigfd);
    rt->sigfd = -1;
}

static ax_poll ax__sig_poll(ax_future *f, ax_context *cx) {
    ax__sig_waiter *w = (ax__sig_waiter *)f;
    ax_runtime *rt = w->rt;
    ax_waker old = {0};
    ax__spin_lock(&rt->sig_lock);
    if (!w->signo) {
        for (int s = 1; s <= 64; s++) {
            if ((rt->sig_pending & (1ull << (s - 1))) && sigismember(&w->set, s) == 1) {
                rt->sig_pending &= ~(1ull << (s - 1));
                w->signo = s;
                break;
            }
        }
    }
    if (w->signo) {
        if (w->linked) ax__sig_unlink(rt, w);
        old = w->waker;
        w->waker.vtable = NULL;
        ax__spin_unlock(&rt->sig_lock);
        ax_waker_drop(&old);
        w->base.result = w->signo;
        return AX_READY;
    }
    if (!w->linked) {
        w->prev = NULL;
        w->next = rt->sig_waiters;
        if (w->next) w->next->prev = w;
        rt->sig_waiters = w;
        w->linked = true;
    }
    if (!ax_waker_will_wake(&w->waker, cx->waker)) {
        old = w->waker;
        w->waker = ax_waker_clone(cx->waker);
    }
    ax__spin_unlock(&rt->sig_lock);
    ax_waker_drop(&old);
    return AX_PENDING;
}

static void ax__sig_drop(ax_future *f) {
    ax__sig_waiter *w = (ax__sig_waiter *)f;
    ax__spin_lock(&w->rt->sig_lock);
    if (w->linked) ax__sig_unlink(w->rt, w);
    ax_waker old = w->waker;
    w->waker.vtable = NULL;
    ax__spin_unlock(&w->rt->sig_lock);
    ax_waker_drop(&old);
}

static const ax_future_vtable ax__sig_vtable = {ax__sig_poll, ax__sig_drop};

int ax_signal_wait(const sigset_t *set, ax_instant deadline) {
    ax_task *t = ax__task_current();
    if (!t) return AX_ENOTASK;
    ax_runtime *rt = t->rt;
    if (rt->sigfd < 0) return AX_EINVAL;
    bool any = false;
    for (int s = 1; s <= 64; s++) {
        if (sigismember(set, s) != 1) continue;
        if (sigismember(&rt->sigset, s) != 1) return AX_EINVAL;
        any = true;
    }
    if (!any) return AX_EINVAL;
    ax__sig_waiter w = {.base = {&ax__sig_vtable, 0}, .rt = rt, .set = *set};
    return (int)ax_await_until(&w.base, deadline);
}
