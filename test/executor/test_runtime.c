/* Runtimes: options, AXON_WORKERS, two runtimes in one process, the
 * stack limit, the stack-overflow report, signals, waits on embedder fds,
 * and error strings. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "axon.h"
#include "test/os_compat.h"
#include "test/sanitizers.h"
#include "test/win_skip.h"

Test(runtime, options_and_env) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 3}), 0);
    cr_assert_eq(ax_runtime_workers(rt), 3);
    cr_assert_gt(ax_runtime_max_live_stacks(rt), 1000);
    ax_runtime_free(rt);

    setenv("AXON_WORKERS", "2", 1);
    cr_assert_eq(ax_runtime_new(&rt, NULL), 0);
    cr_assert_eq(ax_runtime_workers(rt), 2);
    ax_runtime_free(rt);
    /* an explicit option wins over the environment */
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1}), 0);
    cr_assert_eq(ax_runtime_workers(rt), 1);
    ax_runtime_free(rt);

    setenv("AXON_WORKERS", "zero", 1);
    cr_assert_eq(ax_runtime_new(&rt, NULL), AX_EINVAL);
    setenv("AXON_WORKERS", "0", 1);
    cr_assert_eq(ax_runtime_new(&rt, NULL), AX_EINVAL);
    unsetenv("AXON_WORKERS");
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 100000}), AX_EINVAL);
    ax_runtime_free(NULL);
}

/* Two runtimes side by side; a task of one spawns onto the other and waits
 * for it with a join future polled from its own runtime. */
static void *whoami(void *arg) {
    return ax_current_runtime();
}

static void *cross_runtime(void *other) {
    ax_task *t;
    cr_assert_eq(ax_spawn_on(other, &t, whoami, NULL), 0);
    void *v = NULL;
    cr_assert_eq(ax_join(t, &v), 0);
    cr_assert_eq(v, other);
    return ax_current_runtime();
}

Test(runtime, two_runtimes_in_one_process) {
    ax_runtime *a, *b;
    cr_assert_eq(ax_runtime_new(&a, &(ax_runtime_opts){.workers = 1}), 0);
    cr_assert_eq(ax_runtime_new(&b, &(ax_runtime_opts){.workers = 2}), 0);
    void *va = NULL, *vb = NULL;
    cr_assert_eq(ax_run(a, cross_runtime, b, &va), 0);
    cr_assert_eq(ax_run(b, cross_runtime, a, &vb), 0);
    cr_assert_eq(va, a);
    cr_assert_eq(vb, b);
    ax_runtime_free(a);
    ax_runtime_free(b);
}

/* The stack limit: sleeping tasks each hold a stack; past the runtime's
 * limit the next one fails cleanly with AX_ENOMEM, and the process goes on
 * (malloc and new tasks still work once stacks are returned). */
static void *hold_stack(void *arg) {
    ax_sleep(3600 * 1000);
    return NULL;
}
static void *noop(void *arg) {
    return arg;
}

static void *stack_limit_main(void *arg) {
    size_t max = ax_runtime_max_live_stacks(ax_current_runtime());
    size_t n = max + 50;
    ax_task **h = malloc(n * sizeof(*h));
    cr_assert_not_null(h);
    for (size_t i = 0; i < n; i++) cr_assert_eq(ax_spawn(&h[i], hold_stack, NULL), 0);
    size_t failed, pending;
    do { /* let every one of them start (or fail to) */
        ax_sleep(5);
        failed = pending = 0;
        for (size_t i = 0; i < n; i++) {
            ax_task_state st = ax_task_status(h[i]);
            failed += st == AX_TASK_FAILED;
            pending += st == AX_TASK_PENDING;
        }
    } while (pending);
    cr_assert_geq(failed, 50, "expected the tasks past the limit to fail, %zu did", failed);
    void *p = malloc(1 << 20);
    cr_assert_not_null(p, "the process must keep mappings for itself");
    free(p);
    size_t enomem = 0;
    for (size_t i = 0; i < n; i++) {
        ax_abort(h[i]);
        int r = ax_join(h[i], NULL);
        if (r == AX_ENOMEM)
            enomem++;
        else
            cr_assert_eq(r, AX_ECANCELED);
    }
    cr_assert_eq(enomem, failed);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, noop, (void *)1), 0);
    void *v;
    cr_assert_eq(ax_join(t, &v), 0);
    cr_assert_eq(v, (void *)1);
    free(h);
    return NULL;
}

Test(runtime, stack_limit_gives_enomem, .timeout = 60) {
    if (AX_TEST_TSAN) cr_skip_test("TSan needs the kernel mappings this test exhausts");
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1, .stack_size = 16384}), 0);
    cr_assert_eq(ax_run(rt, stack_limit_main, NULL, NULL), 0);
    ax_runtime_free(rt);
}

#ifndef _WIN32
/* Stack overflow: in a child process, a task recursing without bound must
 * be reported with its id, and the child must die of SIGSEGV. */
static volatile int sink = 1;
/* Unbounded in practice (sink never changes), which the compiler cannot
 * prove, so it neither warns nor turns the recursion into a loop. */
static int recurse(int n) {
    volatile char pad[512];
    pad[0] = (char)n;
    if (!sink) return n;
    return recurse(n + 1) + pad[0];
}

static void *overflow_task(void *arg) {
    *(uint64_t *)arg = ax_current_task_id();
    return (void *)(intptr_t)recurse(0);
}

Test(runtime, stack_overflow_reported_with_task_id, .timeout = 30) {
    int errpipe[2];
    cr_assert_eq(pipe(errpipe), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(errpipe[1], 2);
        ax_runtime *rt;
        if (ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1, .stack_size = 65536})) _exit(3);
        uint64_t id = 0;
        ax_run(rt, overflow_task, &id, NULL);
        _exit(4); /* not reached */
    }
    close(errpipe[1]);
    char buf[4096] = {0};
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 && (n = read(errpipe[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(errpipe[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st), "child should die of a signal, status %d (stderr: %s)", st, buf);
    cr_assert_eq(WTERMSIG(st), SIGSEGV);
    cr_assert_not_null(strstr(buf, "stack overflow in task 1"), "stderr was: %s", buf);
}

/* Signals through signalfd. */
static sigset_t usr;
static ax_runtime *sigrt;
static void sig_setup(void) {
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR1);
    sigaddset(&usr, SIGUSR2);
    cr_assert_eq(ax_runtime_new(&sigrt, &(ax_runtime_opts){.workers = 2, .signals = &usr}), 0);
}
static void sig_teardown(void) {
    ax_runtime_free(sigrt);
}

static void *wait_usr1(void *arg) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    return (void *)(intptr_t)ax_signal_wait(&s, ax_deadline_in_ms(5000));
}

static void *signal_main(void *arg) {
    ax_task *a, *b;
    cr_assert_eq(ax_spawn(&a, wait_usr1, NULL), 0);
    cr_assert_eq(ax_spawn(&b, wait_usr1, NULL), 0);
    /* Both must be waiting when the signal comes, and under emulation a
     * task can take long to start: signal until both have it (each waiter
     * returns at its first), then drain a copy kept for nobody. */
    for (int i = 0; i < 500; i++) {
        cr_assert_eq(kill(getpid(), SIGUSR1), 0);
        ax_sleep(10);
        if (ax_task_status(a) == AX_TASK_COMPLETED && ax_task_status(b) == AX_TASK_COMPLETED) break;
    }
    sigset_t only1;
    sigemptyset(&only1);
    sigaddset(&only1, SIGUSR1);
    ax_signal_wait(&only1, ax_deadline_in_ms(20));
    void *va, *vb;
    cr_assert_eq(ax_join(a, &va), 0);
    cr_assert_eq(ax_join(b, &vb), 0);
    cr_assert_eq((intptr_t)va, SIGUSR1, "every waiter gets the signal");
    cr_assert_eq((intptr_t)vb, SIGUSR1);

    /* a signal with nobody waiting is kept for the next waiter */
    cr_assert_eq(kill(getpid(), SIGUSR2), 0);
    ax_sleep(10);
    cr_assert_eq(ax_signal_wait(&usr, ax_deadline_in_ms(1000)), SIGUSR2);
    /* ... once */
    cr_assert_eq(ax_signal_wait(&usr, ax_deadline_in_ms(20)), AX_ETIMEDOUT);

    sigset_t other;
    sigemptyset(&other);
    sigaddset(&other, SIGHUP);
    cr_assert_eq(ax_signal_wait(&other, AX_NO_DEADLINE), AX_EINVAL, "not in the runtime's set");
    sigemptyset(&other);
    cr_assert_eq(ax_signal_wait(&other, AX_NO_DEADLINE), AX_EINVAL, "empty set");
    return NULL;
}

Test(signal, wait_deliver_pending_timeout, .init = sig_setup, .fini = sig_teardown) {
    cr_assert_eq(ax_run(sigrt, signal_main, NULL, NULL), 0);
}

static void *no_signals(void *arg) {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    cr_assert_eq(ax_signal_wait(&s, AX_NO_DEADLINE), AX_EINVAL);
    return NULL;
}

Test(signal, runtime_without_signals_refuses) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1}), 0);
    cr_assert_eq(ax_run(rt, no_signals, NULL, NULL), 0);
    ax_runtime_free(rt);
}

/* Waiting on descriptors the embedder owns. */
static int fds[2];
static void *writer_later(void *arg) {
    ax_sleep(10);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    return NULL;
}

static void *wait_both(void *arg) {
    return (void *)(intptr_t)ax_wait_readable(fds[0], ax_deadline_in_ms(5000));
}

static void *io_main(void *arg) {
    cr_assert_eq(ax__pipe(fds, 1), 0);
    cr_assert_eq(ax_wait_writable(fds[1], AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_wait_readable(fds[0], ax_deadline_in_ms(10)), AX_ETIMEDOUT);
    /* two tasks waiting on the same descriptor at once (the second goes
     * through a dup of it) */
    ax_task *w, *a, *b;
    cr_assert_eq(ax_spawn(&a, wait_both, NULL), 0);
    cr_assert_eq(ax_spawn(&b, wait_both, NULL), 0);
    cr_assert_eq(ax_spawn(&w, writer_later, NULL), 0);
    void *va, *vb;
    cr_assert_eq(ax_join(a, &va), 0);
    cr_assert_eq(ax_join(b, &vb), 0);
    cr_assert_eq(ax_join(w, NULL), 0);
    cr_assert_eq((intptr_t)va, 0);
    cr_assert_eq((intptr_t)vb, 0);
    /* already readable: returns at once */
    cr_assert_eq(ax_wait_readable(fds[0], AX_NO_DEADLINE), 0);
    /* the peer hangs up: readable (EOF) */
    char c;
    cr_assert_eq(read(fds[0], &c, 1), 1);
    close(fds[1]);
    cr_assert_eq(ax_wait_readable(fds[0], ax_deadline_in_ms(1000)), 0);
    close(fds[0]);
    cr_assert_eq(ax_wait_readable(fds[0], AX_NO_DEADLINE), AX_EBADF);
    cr_assert_eq(ax_wait_readable(-1, AX_NO_DEADLINE), AX_EBADF);
    return NULL;
}

Test(io, wait_readable_writable, .timeout = 30) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 2}), 0);
    cr_assert_eq(ax_run(rt, io_main, NULL, NULL), 0);
    ax_runtime_free(rt);
}

Test(io, wait_outside_task) {
    cr_assert_eq(ax_wait_readable(0, AX_NO_DEADLINE), AX_ENOTASK);
}

#else
/* Windows: the overflow report is tested in test_fiber_win.c (a child
 * process started with --run); there are no POSIX signals, and waits on a
 * caller's descriptor are not offered. */
Test(runtime, stack_overflow_reported_with_task_id) {
    AX_WIN_SKIP(AX_WIN_NO_FORK);
}

Test(signal, wait_deliver_pending_timeout) {
    AX_WIN_SKIP(AX_WIN_NO_SIGNALS);
}

static void *no_signal_waits(void *arg) {
    sigset_t s;
    memset(&s, 0, sizeof s);
    cr_assert_eq(ax_signal_wait(&s, AX_NO_DEADLINE), AX_ENOTSUP);
    cr_assert_eq(ax_wait_readable(0, AX_NO_DEADLINE), AX_ENOTSUP);
    cr_assert_eq(ax_wait_writable(0, AX_NO_DEADLINE), AX_ENOTSUP);
    return NULL;
}

Test(signal, windows_refuses_signal_sets_and_waits) {
    sigset_t s;
    memset(&s, 0, sizeof s);
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1, .signals = &s}), AX_ENOTSUP);
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1}), 0);
    cr_assert_eq(ax_run(rt, no_signal_waits, NULL, NULL), 0);
    ax_runtime_free(rt);
}

Test(io, wait_readable_writable) {
    AX_WIN_SKIP(AX_WIN_NO_FDWAIT);
}
#endif

Test(error, names_and_messages) {
    cr_assert_str_eq(ax_err_name(AX_ETIMEDOUT), "AX_ETIMEDOUT");
    cr_assert_str_eq(ax_strerror(AX_ECANCELED), "operation canceled");
    cr_assert_str_eq(ax_err_name(AX_EOF), "AX_EOF");
    cr_assert_str_eq(ax_err_name(AX_EPOLICY), "AX_EPOLICY");
    cr_assert_str_eq(ax_err_name(12345), "AX_UNKNOWN");
    cr_assert_str_eq(ax_strerror(1), "unknown error");
    cr_assert_eq(ax_translate_sys_error(ENOENT), AX_ENOENT);
    cr_assert_eq(ax_translate_sys_error(ECONNREFUSED), AX_ECONNREFUSED);
    cr_assert_lt(AX_EOF, AX_ECANCELED);
}
