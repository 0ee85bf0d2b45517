/* executor/overflow.c - reports a fiber's stack overflow before the process
 * dies, then chains to whatever SIGSEGV/SIGBUS handling the host had.
 *
 * Global state: the previous sigactions, a reference count and its mutex. A
 * signal disposition belongs to the process, not to a runtime, so two
 * runtimes in one process must share one installation; nothing else here
 * is global. What the handler needs per thread (the running stack's bounds
 * and task id, the alternate stack) lives in initial-exec thread-locals,
 * which the handler can read without calling into the dynamic linker.
 */
#include "executor/fiber.h"

#include "axon/error.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define AX_TLS __attribute__((tls_model("initial-exec")))

/* Big enough for the handler (tiny) plus a chained host handler, and for
 * the sanitizer runtimes' own handlers; above MINSIGSTKSZ even with AVX-512
 * state on the frame. */
#define ALTSTACK_SIZE (64 * 1024)

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned install_refs;
static struct sigaction prev_segv, prev_bus;

/* What the handler reports. */
struct current {
    uintptr_t guard; /* lowest address of the guard page; 0 = no fiber */
    uintptr_t lo;    /* end of the guard, lowest usable address */
    uintptr_t hi;
    uint64_t task;
};
/* Set on every switch, so it is two stores and reads nothing from the
 * stack's header: touching that header would cost a cache miss per switch
 * when thousands of tasks take turns. The pointer names the stack the
 * thread runs on now, which cannot be unmapped while it runs, so the
 * handler may read the header through it. */
struct running {
    const ax__stack *stack;
    uint64_t task;
};
static __thread struct running current AX_TLS;
static __thread void *altstack_map AX_TLS; /* mapped by us, else NULL */
static __thread size_t altstack_len AX_TLS;
static __thread stack_t altstack_prev AX_TLS; /* what ours replaced */

void ax__overflow_set_current(const ax__stack *s, uint64_t task_id) {
    current.stack = s;
    current.task = task_id;
}

/* Formatting by hand: printf is not async-signal-safe. */
static char *put_str(char *p, const char *s) {
    while (*s) *p++ = *s++;
    return p;
}

static char *put_dec(char *p, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static char *put_hex(char *p, uintptr_t v) {
    static const char digits[] = "0123456789abcdef";
    char tmp[2 * sizeof v];
    int n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    p = put_str(p, "0x");
    while (n) *p++ = tmp[--n];
    return p;
}

static void report(const struct current *c) {
    char buf[160];
    char *p = put_str(buf, "axon: stack overflow in task ");
    p = put_dec(p, c->task);
    p = put_str(p, " (stack ");
    p = put_hex(p, c->lo);
    p = put_str(p, "-");
    p = put_hex(p, c->hi);
    p = put_str(p, ")\n");
    const char *q = buf;
    while (q < p) {
        ssize_t n = write(STDERR_FILENO, q, (size_t)(p - q));
        if (n > 0)
            q += n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
}

/* Hands the signal to the previous disposition. A handler is called as if
 * the kernel had (its sa_mask and flags are not re-applied). The default
 * action, or ignoring (which the kernel refuses for a fault anyway), is
 * restored and the signal raised again: it stays blocked until this handler
 * returns, then kills the process with the right signal, or the faulting
 * instruction runs again and faults under the default action. */
static void chain(int sig, siginfo_t *si, void *uc) {
    const struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
    if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        if (prev->sa_flags & SA_SIGINFO)
            prev->sa_sigaction(sig, si, uc);
        else
            prev->sa_handler(sig);
        return;
    }
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uc) {
    int saved_errno = errno;
    uintptr_t addr = (uintptr_t)si->si_addr;
    /* One read of the thread-local: the handler runs on the faulting thread. */
    struct running r = current;
    if (r.stack) {
        struct current c = {(uintptr_t)r.stack->map, (uintptr_t)ax__stack_lo(r.stack),
                            (uintptr_t)ax__stack_hi(r.stack), r.task};
        if (addr >= c.guard && addr < c.lo) report(&c);
    }
    chain(sig, si, uc);
    errno = saved_errno;
}

/* Installs the handler for sig, first reading the old action so that a
 * fault on another thread never sees prev half-written. */
static int install_one(int sig, struct sigaction *prev) {
    if (sigaction(sig, NULL, prev) != 0) return -errno;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) != 0) return -errno;
    return 0;
}

/* Puts prev back unless the host replaced our handler meanwhile. */
static void restore_one(int sig, const struct sigaction *prev) {
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) != 0) return;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fault) sigaction(sig, prev, NULL);
}

int ax__overflow_install(void) {
    int err = 0;
    pthread_mutex_lock(&install_lock);
    if (install_refs == 0) {
        err = install_one(SIGSEGV, &prev_segv);
        if (err == 0) {
            err = install_one(SIGBUS, &prev_bus);
            if (err != 0) restore_one(SIGSEGV, &prev_segv);
        }
    }
    if (err == 0) install_refs++;
    pthread_mutex_unlock(&install_lock);
    return err;
}

void ax__overflow_uninstall(void) {
    pthread_mutex_lock(&install_lock);
    if (install_refs > 0 && --install_refs == 0) {
        restore_one(SIGBUS, &prev_bus);
        restore_one(SIGSEGV, &prev_segv);
    }
    pthread_mutex_unlock(&install_lock);
}

int ax__overflow_thread_init(void) {
    if (altstack_map) return 0;
    /* A thread that already has an alternate stack (the host's, or a
     * sanitizer runtime's) keeps it: replacing it could pull it from under
     * the host's own handler. */
    stack_t old;
    if (sigaltstack(NULL, &old) != 0) old.ss_flags = SS_DISABLE;
    if (!(old.ss_flags & SS_DISABLE) && old.ss_size >= ALTSTACK_SIZE / 4) return 0;

    long ps = sysconf(_SC_PAGESIZE);
    size_t guard = ps > 0 ? (size_t)ps : 4096;
    size_t len = guard + ALTSTACK_SIZE;
    char *map =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED) return AX_ENOMEM;
    /* A guard below, so an overflowing handler dies instead of scribbling. */
    if (mprotect(map, guard, PROT_NONE) != 0) {
        munmap(map, len);
        return AX_ENOMEM;
    }
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = map + guard;
    ss.ss_size = ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(map, len);
        return AX_ENOMEM;
    }
    altstack_map = map;
    altstack_len = len;
    altstack_prev = old; /* a host's too-small one comes back at thread exit */
    return 0;
}

void ax__overflow_thread_exit(void) {
    ax__overflow_set_current(NULL, 0);
    if (!altstack_map) return;
    stack_t ss = altstack_prev;
    if (ss.ss_flags & SS_DISABLE) {
        memset(&ss, 0, sizeof ss);
        ss.ss_flags = SS_DISABLE;
    }
    /* Fails only when called from a handler running on this very stack;
     * then the mapping must stay. */
    if (sigaltstack(&ss, NULL) != 0) return;
    munmap(altstack_map, altstack_len);
    altstack_map = NULL;
    altstack_len = 0;
}
