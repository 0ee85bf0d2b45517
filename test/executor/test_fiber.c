/* test/executor/test_fiber.c - fibers, stack pool, stack overflow reporter.
 *
 * Assertions run only on the thread's own stack: a failing cr_assert may
 * unwind with longjmp, so fibers record what they saw and the test checks it
 * after switching back. Whatever touches process-wide state (signal
 * dispositions, the map count, deliberate crashes) runs in a forked child.
 */
#include <criterion/criterion.h>

#include "test/sanitizers.h"
#include "test/os_compat.h"
#include "test/win_skip.h"

#include "executor/fiber.h"
#include "axon/error.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <sys/mman.h>
#include <sys/wait.h>
#endif

#define STACK_SIZE (64 * 1024)

/* ---- helpers ---------------------------------------------------------- */

#ifndef _WIN32
/* Runs fn(arg) in a child whose stderr goes to out (NUL-terminated);
 * returns the child's wait status. */
static int run_child(void (*fn)(void *), void *arg, char *out, size_t outsz) {
    int fds[2];
    cr_assert_eq(ax__pipe(fds, 0), 0);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn(arg);
        _exit(99);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], out + len, outsz - 1 - len);
        if (n > 0 && len + (size_t)n < outsz - 1) {
            len += (size_t)n;
            continue;
        }
        if (n > 0) {
            len += (size_t)n;
            char sink[256];
            while (read(fds[0], sink, sizeof sink) > 0) continue;
        }
        break;
    }
    out[len] = '\0';
    close(fds[0]);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void reset_fault_signals(void) {
    /* Sanitizer runtimes and test runners install their own handlers; the
     * children below want a known "previous disposition". */
    signal(SIGSEGV, SIG_DFL);
    signal(SIGBUS, SIG_DFL);
}

#endif

/* ---- ping-pong, callee-saved registers -------------------------------- */

struct pp {
    ax__fiber *self, *other;
    int rounds;
    int bad;
    unsigned long el[10]; /* what the registers must hold */
    double ed[8];
};

/* Ten integers and eight doubles live across every switch, as many as
 * AArch64 has callee-saved registers (x19-x28, d8-d15; x86-64 has fewer and
 * spills the rest to this stack). The other fiber runs the same code with
 * other values in the same registers, so a register the switch fails to
 * restore shows up as a mismatch. */
__attribute__((noinline)) static void pp_body(struct pp *p, unsigned long seed) {
    unsigned long a0 = seed + 1, a1 = seed * 3, a2 = seed * 5, a3 = seed * 7, a4 = seed * 11;
    unsigned long a5 = seed * 13, a6 = seed * 17, a7 = seed * 19, a8 = seed * 23, a9 = seed * 29;
    double d0 = seed * 0.5, d1 = seed * 1.5, d2 = seed * 2.5, d3 = seed * 3.5;
    double d4 = seed * 4.5, d5 = seed * 5.5, d6 = seed * 6.5, d7 = seed * 7.5;
    for (int i = 0; i < p->rounds; i++) {
        unsigned long *el = p->el;
        double *ed = p->ed;
        el[0] = a0, el[1] = a1, el[2] = a2, el[3] = a3, el[4] = a4;
        el[5] = a5, el[6] = a6, el[7] = a7, el[8] = a8, el[9] = a9;
        ed[0] = d0, ed[1] = d1, ed[2] = d2, ed[3] = d3;
        ed[4] = d4, ed[5] = d5, ed[6] = d6, ed[7] = d7;
        ax__fiber_switch(p->self, p->other);
        if (a0 != el[0] || a1 != el[1] || a2 != el[2] || a3 != el[3] || a4 != el[4] ||
            a5 != el[5] || a6 != el[6] || a7 != el[7] || a8 != el[8] || a9 != el[9] ||
            d0 != ed[0] || d1 != ed[1] || d2 != ed[2] || d3 != ed[3] || d4 != ed[4] ||
            d5 != ed[5] || d6 != ed[6] || d7 != ed[7])
            p->bad++;
        a0 = a0 * 3 + i, a1 ^= a0, a2 += a1, a3 -= a2, a4 ^= a3 << 1;
        a5 += a4, a6 ^= a5, a7 -= a6, a8 += a7 >> 3, a9 ^= a8;
        d0 = d0 * 0.999 + 1, d1 += d0, d2 -= d1 * 0.5, d3 = d3 * 0.5 + d2;
        d4 = d4 * 0.25 + d3, d5 -= d4, d6 = d6 * 0.5 + d5, d7 = d7 * 0.5 - d6;
    }
}

static void pp_entry(void *arg) {
    struct pp *p = arg;
    pp_body(p, 1000003);
    ax__fiber_switch_final(p->self, p->other);
}

Test(fiber, ping_pong_preserves_callee_saved) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, STACK_SIZE, 4);
    ax__stack *s;
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    ax__fiber main_f, f;
    ax__fiber_init_thread(&main_f);

    struct pp mine = {.self = &main_f, .other = &f, .rounds = 100000};
    struct pp theirs = {.self = &f, .other = &main_f, .rounds = 100000};
    ax__fiber_init(&f, s, pp_entry, &theirs);
    pp_body(&mine, 7);
    ax__fiber_switch(&main_f, &f); /* let it leave its loop and finish */
    ax__fiber_destroy(&f);

    cr_assert_eq(mine.bad, 0, "main saw %d corrupted switches", mine.bad);
    cr_assert_eq(theirs.bad, 0, "fiber saw %d corrupted switches", theirs.bad);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}

/* ---- entry argument, chain of three ----------------------------------- */

struct arg_check {
    ax__fiber *self, *back;
    void *seen;
};

static void arg_entry(void *arg) {
    struct arg_check *a = arg;
    a->seen = arg;
    ax__fiber_switch_final(a->self, a->back);
}

Test(fiber, entry_receives_arg) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, STACK_SIZE, 1);
    ax__stack *s;
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    ax__fiber main_f, f;
    ax__fiber_init_thread(&main_f);
    struct arg_check a = {.self = &f, .back = &main_f};
    ax__fiber_init(&f, s, arg_entry, &a);
    ax__fiber_switch(&main_f, &f);
    ax__fiber_destroy(&f);
    cr_assert_eq(a.seen, &a);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}

struct ring {
    ax__fiber main_f, f[3];
    char trace[64];
    int len;
    int done;
};

struct ring_member {
    struct ring *r;
    int i;
};

static void ring_entry(void *arg) {
    struct ring_member *m = arg;
    struct ring *r = m->r;
    ax__fiber *next = m->i == 2 ? &r->main_f : &r->f[m->i + 1];
    while (!r->done) {
        r->trace[r->len++] = (char)('A' + m->i);
        ax__fiber_switch(&r->f[m->i], next);
    }
    r->trace[r->len++] = (char)('a' + m->i);
    ax__fiber_switch_final(&r->f[m->i], next);
}

Test(fiber, chain_of_three) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, STACK_SIZE, 3);
    ax__stack *s[3];
    struct ring r = {.len = 0};
    struct ring_member m[3];
    ax__fiber_init_thread(&r.main_f);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ax__stack_get(&pool, &s[i]), 0);
        m[i] = (struct ring_member){&r, i};
        ax__fiber_init(&r.f[i], s[i], ring_entry, &m[i]);
    }
    for (int round = 0; round < 4; round++) ax__fiber_switch(&r.main_f, &r.f[0]);
    r.done = 1;
    ax__fiber_switch(&r.main_f, &r.f[0]);
    r.trace[r.len] = '\0';
    cr_assert_str_eq(r.trace, "ABCABCABCABCabc");
    for (int i = 0; i < 3; i++) {
        ax__fiber_destroy(&r.f[i]);
        ax__stack_put(&pool, s[i]);
    }
    cr_assert_eq(pool.count, 3);
    ax__stack_pool_destroy(&pool);
}

/* ---- stack alignment, floating point state ---------------------------- */

struct align_check {
    ax__fiber *self, *back;
    uintptr_t entry_frame, nested_frame;
    char text[32];
};

__attribute__((noinline)) static void align_nested(struct align_check *a) {
    a->nested_frame = (uintptr_t)__builtin_frame_address(0);
    /* printf of a double uses aligned SSE stores on x86-64 glibc */
    snprintf(a->text, sizeof a->text, "%.3f|%Lg", 3.25, (long double)1.5);
}

static void align_entry(void *arg) {
    struct align_check *a = arg;
    a->entry_frame = (uintptr_t)__builtin_frame_address(0);
    align_nested(a);
    ax__fiber_switch_final(a->self, a->back);
}

Test(fiber, stack_is_16_byte_aligned) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, STACK_SIZE, 1);
    ax__stack *s;
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    ax__fiber main_f, f;
    ax__fiber_init_thread(&main_f);
    struct align_check a = {.self = &f, .back = &main_f};
    ax__fiber_init(&f, s, align_entry, &a);
    ax__fiber_switch(&main_f, &f);
    ax__fiber_destroy(&f);
    cr_assert_eq(a.entry_frame % 16, 0, "entry frame %#lx", (unsigned long)a.entry_frame);
    cr_assert_eq(a.nested_frame % 16, 0, "nested frame %#lx", (unsigned long)a.nested_frame);
    cr_assert(a.entry_frame > (uintptr_t)ax__stack_lo(s) &&
              a.entry_frame < (uintptr_t)ax__stack_hi(s));
    cr_assert_str_eq(a.text, "3.250|1.5");
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}

#if defined(__x86_64__)
static unsigned get_mxcsr(void) {
    return __builtin_ia32_stmxcsr();
}
static void set_mxcsr(unsigned v) {
    __builtin_ia32_ldmxcsr(v);
}
static unsigned short get_fpucw(void) {
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}
static void set_fpucw(unsigned short cw) {
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

struct fpu_check {
    ax__fiber *self, *back;
    unsigned start_mxcsr, later_mxcsr;
    unsigned short start_cw, later_cw;
};

static void fpu_entry(void *arg) {
    struct fpu_check *c = arg;
    c->start_mxcsr = get_mxcsr();
    c->start_cw = get_fpucw();
    set_mxcsr(0x5f80); /* round up */
    set_fpucw(0x0b7f); /* round up */
    ax__fiber_switch(c->self, c->back);
    c->later_mxcsr = get_mxcsr();
    c->later_cw = get_fpucw();
    set_mxcsr(0x1f80);
    set_fpucw(0x037f);
    ax__fiber_switch_final(c->self, c->back);
}

Test(fiber, fp_control_words_are_per_fiber) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, STACK_SIZE, 1);
    ax__stack *s;
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    ax__fiber main_f, f;
    ax__fiber_init_thread(&main_f);
    struct fpu_check c = {.self = &f, .back = &main_f};
    ax__fiber_init(&f, s, fpu_entry, &c);

    unsigned mxcsr0 = get_mxcsr();
    unsigned short cw0 = get_fpucw();
    set_mxcsr(0x3f80); /* round down */
    set_fpucw(0x077f); /* round down */
    ax__fiber_switch(&main_f, &f);
    unsigned main_mxcsr = get_mxcsr();
    unsigned short main_cw = get_fpucw();
    ax__fiber_switch(&main_f, &f);
    set_mxcsr(mxcsr0);
    set_fpucw(cw0);
    ax__fiber_destroy(&f);

    cr_assert_eq(c.start_mxcsr, 0x1f80, "new fiber starts with the ABI's MXCSR");
    cr_assert_eq(c.start_cw, 0x037f, "new fiber starts with the ABI's x87 control word");
    cr_assert_eq(main_mxcsr, 0x3f80);
    cr_assert_eq(main_cw, 0x077f);
    cr_assert_eq(c.later_mxcsr, 0x5f80);
    cr_assert_eq(c.later_cw, 0x0b7f);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}
#endif

/* ---- finishing and reusing stacks, moving between threads ------------- */

struct once {
    ax__fiber *self, *back;
    int ran;
};

static void once_entry(void *arg) {
    struct once *o = arg;
    char big[8192]; /* dirty the stack so a reuse starts on used memory */
    memset(big, o->ran + 1, sizeof big);
    o->ran = big[100]; /* == (char)(ran + 1) */
    ax__fiber_switch_final(o->self, o->back);
}

Test(fiber, finished_fiber_stack_is_reused) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, STACK_SIZE, 1);
    ax__fiber main_f, f;
    ax__fiber_init_thread(&main_f);
    ax__stack *first = NULL;
    for (int i = 0; i < 1000; i++) {
        ax__stack *s;
        cr_assert_eq(ax__stack_get(&pool, &s), 0);
        if (!first) first = s;
        cr_assert_eq(s, first);
        struct once o = {.self = &f, .back = &main_f, .ran = i};
        ax__fiber_init(&f, s, once_entry, &o);
        ax__fiber_switch(&main_f, &f);
        ax__fiber_destroy(&f);
        cr_assert_eq(o.ran, (char)(i + 1));
        ax__stack_put(&pool, s);
    }
    ax__stack_pool_destroy(&pool);
}

/* Under ASan: a fiber that never returns leaves its frames' redzones
 * poisoned; a new fiber on the same stack, with another frame layout, must
 * not trip over them. */
struct layout {
    ax__fiber *self, *back;
    int sum;
};

__attribute__((noinline)) static void small_frames(struct layout *l, int depth) {
    volatile char a[24], b[40], c[8];
    a[0] = b[0] = c[0] = (char)depth;
    if (depth < 20)
        small_frames(l, depth + 1);
    else
        ax__fiber_switch_final(l->self, l->back); /* suspends with all frames live */
    l->sum += a[0] + b[0] + c[0];
}

static void small_frames_entry(void *arg) {
    small_frames(arg, 0);
}

static void big_frame_entry(void *arg) {
    struct layout *l = arg;
    char big[16 * 1024];
    memset(big, 1, sizeof big);
    for (size_t i = 0; i < sizeof big; i += 512) l->sum += big[i];
    ax__fiber_switch_final(l->self, l->back);
}

Test(fiber, reused_stack_starts_unpoisoned) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, STACK_SIZE, 1);
    ax__stack *s;
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    ax__fiber main_f, f;
    ax__fiber_init_thread(&main_f);
    struct layout l = {.self = &f, .back = &main_f};
    ax__fiber_init(&f, s, small_frames_entry, &l);
    ax__fiber_switch(&main_f, &f);
    ax__fiber_destroy(&f);
    ax__fiber_init(&f, s, big_frame_entry, &l);
    ax__fiber_switch(&main_f, &f);
    ax__fiber_destroy(&f);
    cr_assert_eq(l.sum, 32);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}

struct roam {
    ax__fiber f;
    ax__fiber *back;
    int steps;
    int distinct_threads;
    int bad;
    int done;
};

/* Thread ids, not pthread_t: a joined thread's pthread_t is reused. */
static long thread_id(void) {
    return test_thread_id();
}

static void roam_entry(void *arg) {
    struct roam *r = arg;
    long keep = 0x5eed;
    double fkeep = 2.5;
    long last = thread_id();
    r->distinct_threads = 1;
    while (!r->done) {
        ax__fiber_switch(&r->f, r->back);
        long now = thread_id();
        if (now != last) r->distinct_threads++;
        last = now;
        if (keep != 0x5eed + r->steps || fkeep != 2.5 + r->steps) r->bad++;
        r->steps++;
        keep++;
        fkeep += 1;
    }
    ax__fiber_switch_final(&r->f, r->back);
}

static void *roam_thread(void *arg) {
    struct roam *r = arg;
    ax__fiber here;
    ax__fiber_init_thread(&here);
    r->back = &here;
    ax__fiber_switch(&here, &r->f);
    return NULL;
}

Test(fiber, resumes_on_another_thread) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, STACK_SIZE, 1);
    ax__stack *s;
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    struct roam r = {.steps = 0};
    ax__fiber main_f;
    ax__fiber_init_thread(&main_f);
    ax__fiber_init(&r.f, s, roam_entry, &r);
    r.back = &main_f;
    ax__fiber_switch(&main_f, &r.f); /* starts on this thread */
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, roam_thread, &r), 0);
        cr_assert_eq(pthread_join(t, NULL), 0);
    }
    r.done = 1;
    r.back = &main_f;
    ax__fiber_switch(&main_f, &r.f);
    ax__fiber_destroy(&r.f);
    cr_assert_eq(r.bad, 0);
    cr_assert_eq(r.steps, 5);
    cr_assert_eq(r.distinct_threads, 6, "ran on %d thread changes", r.distinct_threads);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}

/* ---- stack pool -------------------------------------------------------- */

#ifdef _WIN32
static int is_mapped(void *addr) {
    MEMORY_BASIC_INFORMATION mi;
    return VirtualQuery(addr, &mi, sizeof mi) == sizeof mi && mi.State == MEM_COMMIT;
}

static long page_size(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (long)si.dwPageSize;
}
#else
static int is_mapped(void *addr) {
#if defined(__APPLE__)
    char vec; /* macOS declares mincore with char * */
#else
    unsigned char vec;
#endif
    return mincore(addr, 1, &vec) == 0;
}

static long page_size(void) {
    return sysconf(_SC_PAGESIZE);
}
#endif

Test(stack, put_then_get_reuses_mapping) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, 16 * 1024, 4);
    ax__stack *a, *b;
    cr_assert_eq(ax__stack_get(&pool, &a), 0);
    ax__stack_put(&pool, a);
    cr_assert_eq(pool.count, 1);
    cr_assert_eq(ax__stack_get(&pool, &b), 0);
    cr_assert_eq(a, b);
    cr_assert_eq(pool.count, 0);
    ax__stack_put(&pool, b);
    ax__stack_pool_destroy(&pool);
    cr_assert_eq(pool.count, 0);
}

Test(stack, cache_is_capped) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, 16 * 1024, 2);
    ax__stack *s[3];
    char *maps[3];
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ax__stack_get(&pool, &s[i]), 0);
        maps[i] = s[i]->map;
    }
    for (int i = 0; i < 3; i++) ax__stack_put(&pool, s[i]);
    cr_assert_eq(pool.count, 2);
    cr_assert(is_mapped(maps[0] + pool.usable) && is_mapped(maps[1] + pool.usable));
    cr_assert(!is_mapped(maps[2] + pool.usable), "third stack should be unmapped");
    ax__stack_pool_destroy(&pool);
    cr_assert(!is_mapped(maps[0] + pool.usable) && !is_mapped(maps[1] + pool.usable));
}

Test(stack, stated_size_is_usable) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, 10000, 1); /* rounded up to pages */
    long ps = page_size();
    cr_assert_eq(pool.usable % (size_t)ps, 0);
    cr_assert_geq(pool.usable, 10000);
    ax__stack *s;
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    ax__stack copy = *s;
    char *lo = ax__stack_lo(s), *hi = ax__stack_hi(s);
    cr_assert_geq((size_t)(hi - lo), pool.usable);
    cr_assert_eq((uintptr_t)hi % 16, 0);
    cr_assert_eq(lo, s->map + s->guard_size);
    cr_assert_eq(s->guard_size % (size_t)ps, 0);
    memset(lo, 0x5a, (size_t)(hi - lo));
    cr_assert(s->next == copy.next && s->map == copy.map && s->map_size == copy.map_size &&
              s->guard_size == copy.guard_size);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}

#ifndef _WIN32
static void touch_guard(void *arg) {
    reset_fault_signals();
    volatile char *p = (volatile char *)ax__stack_lo(arg) - 1;
    *p = 1;
    _exit(0);
}

Test(stack, guard_page_faults) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, 16 * 1024, 1);
    ax__stack *s;
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    char out[256];
    int st = run_child(touch_guard, s, out, sizeof out);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "child status %#x", st);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}

static int count_maps(void) {
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[4096];
    int lines = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++) lines += buf[i] == '\n';
    close(fd);
    return lines;
}

static long read_max_map_count(void) {
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    long v = 0;
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) v = v * 10 + (buf[i] - '0');
    return n > 0 ? v : -1;
}

/* Exit codes say which step failed; no malloc or stdio while the map count
 * is exhausted. */
static void exhaust_maps(void *arg) {
    (void)arg;
    int before = count_maps();
    size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    /* Most of the budget goes cheaply first: one mprotect punching a page
     * into a big mapping costs two kernel mappings, where a stack costs two
     * calls and an munmap. About a thousand stacks are left to hit the limit. */
    long limit = read_max_map_count();
    size_t holes = limit > before + 2000 ? (size_t)(limit - before - 2000) / 2 : 0;
    size_t big_len = (2 * holes + 1) * ps;
    char *big = NULL;
    if (holes) {
        big = mmap(NULL, big_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (big == MAP_FAILED) _exit(16);
        for (size_t i = 0; i < holes; i++)
            if (mprotect(big + (2 * i + 1) * ps, ps, PROT_NONE) != 0) _exit(17);
    }

    ax__stack_pool pool;
    ax__stack_pool_init(&pool, 4096, 0);
    ax__stack *held = NULL, *s;
    int n = 0, err;
    while ((err = ax__stack_get(&pool, &s)) == 0) {
        s->next = held;
        held = s;
        n++;
        if (n > 1000000) _exit(10);
    }
    if (err != AX_ENOMEM || s != NULL) _exit(11);
    if (n < 100) _exit(12);
    while (held) {
        ax__stack *next = held->next;
        char *map = held->map, *top = (char *)held;
        ax__stack_put(&pool, held);
        if (is_mapped(map) || is_mapped(top)) _exit(13);
        held = next;
    }
    if (big) munmap(big, big_len);
    /* Sanitizer runtimes keep a few mappings of their own for what was mapped. */
    if (count_maps() > before + 8) _exit(14);
    if (ax__stack_get(&pool, &s) != 0) _exit(15);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
    _exit(0);
}

Test(stack, map_count_exhaustion_is_enomem, .timeout = 60) {
    if (AX_TEST_TSAN) cr_skip_test("TSan needs the kernel mappings this test exhausts");
    char out[256];
    int st = run_child(exhaust_maps, NULL, out, sizeof out);
    cr_assert(WIFEXITED(st), "child status %#x", st);
    cr_assert_eq(WEXITSTATUS(st), 0, "child failed at step %d", WEXITSTATUS(st));
}

/* ---- stack overflow reporter ------------------------------------------ */

static volatile int keep_recursing = 1;

/* Passing the frame's address down stops the tail call and any loop
 * conversion; the volatile flag keeps -Winfinite-recursion quiet. */
__attribute__((noinline)) static int recurse(volatile char *up, int depth) {
    volatile char pad[256];
    pad[0] = (char)depth;
    pad[1] = up ? up[0] : 0;
    if (keep_recursing) return recurse(pad, depth + 1) + pad[1];
    return pad[1];
}

struct overflow_child {
    ax__stack *s;
    ax__fiber main_f, f;
    int host; /* 0: default disposition, 1: sa_handler, 2: SA_SIGINFO handler */
};

static void recurse_entry(void *arg) {
    recurse(NULL, 0);
    struct overflow_child *c = arg;
    ax__fiber_switch_final(&c->f, &c->main_f);
}

static void host_handler(int sig) {
    static const char msg[] = "host-handler\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) _exit(8);
    _exit(7);
}

static void host_action(int sig, siginfo_t *si, void *uc) {
    host_handler(sig);
}

static void install_host(int kind) {
    reset_fault_signals();
    if (kind == 0) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (kind == 1) {
        sa.sa_handler = host_handler;
    } else {
        sa.sa_sigaction = host_action;
        sa.sa_flags = SA_SIGINFO;
    }
    sigaction(SIGSEGV, &sa, NULL);
}

static void overflow_child(void *arg) {
    struct overflow_child *c = arg;
    install_host(c->host);
    if (ax__overflow_install() != 0) _exit(20);
    if (ax__overflow_thread_init() != 0) _exit(21);
    ax__fiber_init_thread(&c->main_f);
    ax__fiber_init(&c->f, c->s, recurse_entry, c);
    ax__overflow_set_current(c->s, 42);
    ax__fiber_switch(&c->main_f, &c->f);
    _exit(22);
}

static void expect_overflow(int host) {
    ax__stack_pool pool;
    ax__stack_pool_init(&pool, 16 * 1024, 1);
    struct overflow_child c = {.host = host};
    cr_assert_eq(ax__stack_get(&pool, &c.s), 0);
    char want[128];
    snprintf(want, sizeof want, "axon: stack overflow in task 42 (stack %p-%p)\n",
             (void *)ax__stack_lo(c.s), (void *)ax__stack_hi(c.s));
    char out[4096];
    int st = run_child(overflow_child, &c, out, sizeof out);
    const char *msg = strstr(out, want);
    cr_assert_not_null(msg, "stderr was: %s\nwanted: %s", out, want);
    if (host == 0) {
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "child status %#x", st);
    } else {
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child status %#x", st);
        const char *h = strstr(out, "host-handler\n");
        cr_assert(h && h > msg, "host handler did not run after the report: %s", out);
    }
    ax__stack_put(&pool, c.s);
    ax__stack_pool_destroy(&pool);
}

Test(overflow, reports_task_and_dies_by_sigsegv, .timeout = 30) {
    expect_overflow(0);
}

Test(overflow, reports_then_chains_to_host_handler, .timeout = 30) {
    expect_overflow(1);
}

Test(overflow, reports_then_chains_to_host_siginfo_handler, .timeout = 30) {
    expect_overflow(2);
}

/* UBSan would flag the null store before it faults. */
__attribute__((no_sanitize("undefined"))) static void null_store(void) {
    volatile int *volatile p = NULL;
    *p = 1;
}

static void null_deref_child(void *arg) {
    install_host(1);
    if (ax__overflow_install() != 0) _exit(20);
    if (ax__overflow_thread_init() != 0) _exit(21);
    null_store();
    _exit(22);
}

Test(overflow, other_faults_go_to_host_handler, .timeout = 30) {
    char out[4096];
    int st = run_child(null_deref_child, NULL, out, sizeof out);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7, "child status %#x, stderr: %s", st, out);
    cr_assert_not_null(strstr(out, "host-handler\n"), "%s", out);
    cr_assert_null(strstr(out, "stack overflow"), "%s", out);
}

static void null_deref_default_child(void *arg) {
    install_host(0);
    if (ax__overflow_install() != 0) _exit(20);
    if (ax__overflow_thread_init() != 0) _exit(21);
    null_store();
    _exit(22);
}

Test(overflow, other_faults_keep_default_action, .timeout = 30) {
    char out[4096];
    int st = run_child(null_deref_default_child, NULL, out, sizeof out);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "child status %#x", st);
    cr_assert_null(strstr(out, "stack overflow"), "%s", out);
}

static int segv_is(void (*h)(int)) {
    struct sigaction cur;
    sigaction(SIGSEGV, NULL, &cur);
    return !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == h;
}

static void refcount_child(void *arg) {
    install_host(1);
    if (ax__overflow_install() != 0) _exit(20);
    if (segv_is(host_handler)) _exit(21);
    if (ax__overflow_install() != 0) _exit(22);
    ax__overflow_uninstall();
    if (segv_is(host_handler)) _exit(23); /* one reference left */
    ax__overflow_uninstall();
    if (!segv_is(host_handler)) _exit(24);
    ax__overflow_uninstall(); /* unbalanced: harmless */
    if (!segv_is(host_handler)) _exit(25);
    _exit(0);
}

Test(overflow, install_is_reference_counted) {
    char out[256];
    int st = run_child(refcount_child, NULL, out, sizeof out);
    cr_assert(WIFEXITED(st), "child status %#x", st);
    cr_assert_eq(WEXITSTATUS(st), 0, "child failed at step %d", WEXITSTATUS(st));
}

struct alt_result {
    int init_ok, fresh_enabled, fresh_size_ok, disabled_after, kept_host, host_intact;
    int replaced_tiny, tiny_back;
};

static void *altstack_thread(void *arg) {
    struct alt_result *r = arg;
    stack_t saved, off = {.ss_flags = SS_DISABLE}, cur;
    /* A sanitizer runtime may have given the thread one already. */
    sigaltstack(&off, &saved);

    /* No cr_assert off the test's thread: results go back through r. */
    r->init_ok = ax__overflow_thread_init() == 0;
    r->init_ok += ax__overflow_thread_init() == 0; /* idempotent */
    sigaltstack(NULL, &cur);
    r->fresh_enabled = !(cur.ss_flags & SS_DISABLE);
    r->fresh_size_ok = cur.ss_size >= 64 * 1024;
    ax__overflow_thread_exit();
    sigaltstack(NULL, &cur);
    r->disabled_after = (cur.ss_flags & SS_DISABLE) != 0;

    size_t len = 64 * 1024;
    void *mine = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t host = {.ss_sp = mine, .ss_size = len};
    sigaltstack(&host, NULL);
    r->init_ok += ax__overflow_thread_init() == 0;
    sigaltstack(NULL, &cur);
    r->kept_host = cur.ss_sp == mine;
    ax__overflow_thread_exit();
    sigaltstack(NULL, &cur);
    r->host_intact = cur.ss_sp == mine && !(cur.ss_flags & SS_DISABLE);
    sigaltstack(&off, NULL);

    /* One too small to trust is replaced, and given back at thread exit. */
    stack_t tiny = {.ss_sp = mine, .ss_size = 8 * 1024};
    sigaltstack(&tiny, NULL);
    r->init_ok += ax__overflow_thread_init() == 0;
    sigaltstack(NULL, &cur);
    r->replaced_tiny = cur.ss_sp != mine && cur.ss_size >= 64 * 1024;
    ax__overflow_thread_exit();
    sigaltstack(NULL, &cur);
    r->tiny_back = cur.ss_sp == mine && cur.ss_size == 8 * 1024 && !(cur.ss_flags & SS_DISABLE);
    sigaltstack(&off, NULL);
    munmap(mine, len);

    if (!(saved.ss_flags & SS_DISABLE)) sigaltstack(&saved, NULL);
    return NULL;
}

Test(overflow, thread_altstack_lifecycle) {
    struct alt_result r = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, altstack_thread, &r), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_eq(r.init_ok, 4);
    cr_assert(r.fresh_enabled);
    cr_assert(r.fresh_size_ok);
    cr_assert(r.disabled_after);
    cr_assert(r.kept_host);
    cr_assert(r.host_intact);
    cr_assert(r.replaced_tiny);
    cr_assert(r.tiny_back);
}
#else
/* Windows: these need a forked child or POSIX signal dispositions;
 * test_fiber_win.c tests the overflow report there. */
Test(stack, guard_page_faults) {
    AX_WIN_SKIP(AX_WIN_NO_FORK);
}
Test(stack, map_count_exhaustion_is_enomem) {
    AX_WIN_SKIP(AX_WIN_NO_PROC);
}
Test(overflow, reports_task_and_dies_by_sigsegv) {
    AX_WIN_SKIP(AX_WIN_NO_FORK);
}
Test(overflow, reports_then_chains_to_host_handler) {
    AX_WIN_SKIP(AX_WIN_NO_FORK);
}
Test(overflow, reports_then_chains_to_host_siginfo_handler) {
    AX_WIN_SKIP(AX_WIN_NO_SIGNALS);
}
Test(overflow, other_faults_go_to_host_handler) {
    AX_WIN_SKIP(AX_WIN_NO_FORK);
}
Test(overflow, other_faults_keep_default_action) {
    AX_WIN_SKIP(AX_WIN_NO_FORK);
}
Test(overflow, install_is_reference_counted) {
    AX_WIN_SKIP(AX_WIN_NO_FORK);
}
Test(overflow, thread_altstack_lifecycle) {
    AX_WIN_SKIP(AX_WIN_NO_SIGNALS);
}
#endif
