/* main() for test binaries built against test/runner/include, the project's
 * stand-in for Criterion (which aborts under ThreadSanitizer and has no
 * Windows build). Criterion-style output, so CI reads both runners alike.
 *
 * Every test runs in its own process, so a crash or a hang takes down one
 * test only: on POSIX a fork of this process, on Windows a re-execution of
 * this binary with --run suite::name (also usable by hand, e.g. under gdb).
 * The runner keeps up to --jobs tests running and kills one that outlives
 * its timeout.
 *
 * A test process tells the runner what happened by appending lines to a
 * report file, each starting with a tag byte:
 *   F  one line of an assertion failure (the test failed)
 *   S  the test skipped itself; the rest of the line is the reason
 *   I W E  one line of cr_log_info / cr_log_warn / cr_log_error
 *   N  a note, shown as is
 * Its stdout and stderr go to a second file, shown when the test fails or
 * with --verbose. The exit status or signal decides the rest.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* sigtimedwait, kill, fileno, clock_gettime */
#endif
#if defined(_WIN32) && !defined(__USE_MINGW_ANSI_STDIO)
#define __USE_MINGW_ANSI_STDIO 1 /* C99 printf, to match CRI_PRINTF's gnu_printf */
#endif
#include "include/criterion/criterion.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <io.h>
#include <windows.h>
#else
#include <errno.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

#define DEFAULT_TIMEOUT 60.0

/* ---- registry (filled by constructors before main) ---------------------- */

static struct cri_test *all_tests;
static struct cri_suite *all_suites;

void cri_register_test(struct cri_test *t) {
    t->next = all_tests;
    all_tests = t;
}

void cri_register_suite(struct cri_suite *s) {
    s->next = all_suites;
    all_suites = s;
}

static const struct criterion_test_extra_data *suite_data(const char *name) {
    for (struct cri_suite *s = all_suites; s; s = s->next)
        if (strcmp(s->name, name) == 0) return s->data;
    return NULL;
}

/* ---- small portable helpers --------------------------------------------- */

static _Noreturn void die(const char *what) {
    fprintf(stderr, "runner: %s\n", what);
    exit(2);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory");
    return p;
}

static char *vformat(const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *s = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    if (n > 0)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    else
        s[0] = '\0';
    return s;
}

static char *format(const char *fmt, ...) CRI_PRINTF(1, 2);
static char *format(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

/* Every line of text (trailing newlines dropped) prefixed with prefix. */
static char *prefix_lines(const char *prefix, const char *text) {
    size_t plen = strlen(prefix), len = strlen(text), lines = 1;
    while (len > 0 && text[len - 1] == '\n') len--;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    char *out = xmalloc(len + lines * (plen + 1) + 1), *o = out;
    for (size_t i = 0; i <= len; i++) {
        if (i == 0 || text[i - 1] == '\n') o += sprintf(o, "%s", prefix);
        if (i < len && text[i] != '\n')
            *o++ = text[i];
        else
            *o++ = '\n';
    }
    *o = '\0';
    return out;
}

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
#ifdef _WIN32
        int w = _write(fd, p, (unsigned)n);
#else
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
#endif
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

static double now(void) {
#ifdef _WIN32
    return (double)GetTickCount64() / 1000.0;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
#endif
}

#ifdef _WIN32
typedef DWORD thread_id;
static thread_id this_thread(void) {
    return GetCurrentThreadId();
}
static int same_thread(thread_id t) {
    return t == GetCurrentThreadId();
}
#else
typedef pthread_t thread_id;
static thread_id this_thread(void) {
    return pthread_self();
}
static int same_thread(thread_id t) {
    return pthread_equal(t, pthread_self());
}
#endif

static const char *signal_name(int sig) {
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGABRT, "SIGABRT"}, {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},   {SIGINT, "SIGINT"},
        {SIGSEGV, "SIGSEGV"}, {SIGTERM, "SIGTERM"},
#ifndef _WIN32
        {SIGALRM, "SIGALRM"}, {SIGBUS, "SIGBUS"},   {SIGHUP, "SIGHUP"},   {SIGKILL, "SIGKILL"},
        {SIGPIPE, "SIGPIPE"}, {SIGQUIT, "SIGQUIT"}, {SIGSYS, "SIGSYS"},   {SIGTRAP, "SIGTRAP"},
        {SIGUSR1, "SIGUSR1"}, {SIGUSR2, "SIGUSR2"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
#endif
    };
    static char other[32];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig) return names[i].name;
    snprintf(other, sizeof other, "signal %d", sig);
    return other;
}

/* ---- inside a test process ---------------------------------------------- */

/* State of the one test this process runs. Checks may fail on any thread,
 * hence the atomics; the rest is set before the test starts any thread. */
static struct {
    const struct cri_test *test;
    const struct criterion_test_extra_data *suite;
    int fd; /* report file, or -1 for a plain --run: lines go to stderr untagged */
    atomic_int failed, skipped, armed;
    volatile int stage; /* 0 init, 1 test body, 2 fini; survives longjmp */
    jmp_buf jmp;
    thread_id thread;
    uintptr_t stack; /* address of a local of run_here() */
} me = {.fd = -1};

/* Writes text as tagged lines in one write(), so lines from threads failing
 * at the same time never interleave (the file is opened O_APPEND). */
static void emit(char tag, const char *text) {
    size_t len = strlen(text), n = 0;
    char *buf = xmalloc(2 * len + 2);
    for (size_t i = 0; i < len; i++) {
        if ((i == 0 || text[i - 1] == '\n') && me.fd >= 0) buf[n++] = tag;
        buf[n++] = text[i];
    }
    if (n == 0 || buf[n - 1] != '\n') buf[n++] = '\n';
    write_all(me.fd >= 0 ? me.fd : 2, buf, n);
    free(buf);
}

/* Ends the test after a failed cr_assert or a cr_skip_test. longjmp back to
 * run_here() (so .fini runs, as in Criterion) is safe only from the thread
 * and the stack that called setjmp; from a worker thread or a fiber the
 * process ends here instead, without .fini. */
static _Noreturn void leave_test(void) {
    char here;
    uintptr_t sp = (uintptr_t)&here;
    if (atomic_load(&me.armed) && same_thread(me.thread) && sp < me.stack &&
        me.stack - sp < ((uintptr_t)64 << 20))
        longjmp(me.jmp, 1);
    if (atomic_load(&me.armed))
        emit('N', "[----] Test left from another thread or stack: .fini did not run.");
    fflush(stdout);
    _Exit(atomic_load(&me.failed) ? 1 : 0);
}

/* Splits the stringized macro arguments at top-level commas, in place. */
static int split_args(char *s, char **out, int max) {
    int n = 0, depth = 0;
    char quote = 0;
    out[n++] = s;
    for (char *p = s; *p; p++) {
        if (quote) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (strchr("([{", *p)) {
            depth++;
        } else if (strchr(")]}", *p)) {
            depth--;
        } else if (*p == ',' && depth == 0 && n < max) {
            *p = '\0';
            while (p[1] == ' ') p++;
            out[n++] = p + 1;
        }
    }
    return n;
}

static char *check_message(const struct cri_check *c, const char *fmt, va_list ap) {
    char *user = vformat(fmt, ap); /* "x" + the caller's message */
    if (user[0] && user[1]) {
        memmove(user, user + 1, strlen(user));
        return user;
    }
    free(user);
    char *args = format("%s", c->args), *part[3] = {"", "", ""};
    split_args(args, part, 3);
    char *msg = format(c->tmpl, part[0], part[1], part[2]);
    free(args);
    if (c->values) {
        char *full = format("%s: actual=`%s` expected=`%s`.", msg, c->actual ? c->actual : "(null)",
                            c->expected ? c->expected : "(null)");
        free(msg);
        msg = full;
    }
    return msg;
}

static void report_failure(const struct cri_check *c, const char *fmt, va_list ap) {
    char *msg = check_message(c, fmt, ap);
    char *body = prefix_lines("[----]   ", msg);
    char *text =
        format("[----] %s:%d: Assertion Failed\n[----]   \n%s[----]   ", c->file, c->line, body);
    atomic_store(&me.failed, 1);
    emit('F', text);
    free(text);
    free(body);
    free(msg);
}

void cri_assert_failed(const struct cri_check *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_failure(c, fmt, ap);
    va_end(ap);
    leave_test();
}

void cri_expect_failed(const struct cri_check *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    report_failure(c, fmt, ap);
    va_end(ap);
}

void cri_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *why = vformat(fmt, ap); /* "x" + the caller's reason */
    va_end(ap);
    const char *reason = why[0] && why[1] ? why + 1 : "Test was skipped";
    atomic_store(&me.skipped, 1);
    if (me.fd >= 0) {
        emit('S', reason);
    } else {
        char *line = format("[SKIP] %s::%s: %s", me.test ? me.test->suite : "?",
                            me.test ? me.test->name : "?", reason);
        emit('S', line);
        free(line);
    }
    free(why);
    leave_test();
}

void cr_log(enum criterion_severity severity, const char *msg, ...) {
    static const char tags[] = "IWE";
    static const char *const prefixes[] = {"[----] ", "[WARN] ", "[ERR ] "};
    int s = severity >= CR_LOG_INFO && severity <= CR_LOG_ERROR ? (int)severity : CR_LOG_ERROR;
    va_list ap;
    va_start(ap, msg);
    char *text = vformat(msg, ap);
    va_end(ap);
    char *lines = prefix_lines(prefixes[s], text);
    emit(tags[s], lines);
    free(lines);
    free(text);
}

int cri_strcmp(const char *a, const char *b) {
    if (!a || !b) return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

/* Runs test t in this process and exits: 1 if a check failed, else 0
 * (the runner compares that, or the signal, with .exit_code / .signal).
 * Only me.* is used after setjmp, so nothing is clobbered by longjmp. */
static _Noreturn void run_here(const struct cri_test *t, int report_fd) {
    char mark;
    me.test = t;
    me.suite = suite_data(t->suite);
    me.fd = report_fd;
    me.thread = this_thread();
    me.stack = (uintptr_t)&mark;
    me.stage = 0;
    if (setjmp(me.jmp) == 0) {
        atomic_store(&me.armed, 1);
        if (me.suite && me.suite->init) me.suite->init();
        if (me.test->data->init) me.test->data->init();
        me.stage = 1;
        me.test->fn();
    }
    if (me.stage == 1) { /* init completed: fini runs even after a failed assert */
        me.stage = 2;
        if (setjmp(me.jmp) == 0) {
            if (me.test->data->fini) me.test->data->fini();
            if (me.suite && me.suite->fini) me.suite->fini();
        }
    }
    atomic_store(&me.armed, 0);
    int failed = atomic_load(&me.failed);
    if (me.fd < 0 && !atomic_load(&me.skipped))
        fprintf(stderr, "[%s] %s::%s\n", failed ? "FAIL" : "PASS", me.test->suite, me.test->name);
    exit(failed ? 1 : 0);
}

/* ---- the runner ----------------------------------------------------------- */

static struct {
    int jobs, verbose, list;
    const char *filter;
    double timeout;
    int tested, passed, failed, crashed, skipped;
} cfg;

struct job {
    const struct cri_test *test;
    int running, timed_out;
    double start, deadline;
#ifdef _WIN32
    HANDLE proc, group; /* group: a job object, so a timeout kills the helpers too */
    char rep_path[MAX_PATH], out_path[MAX_PATH];
#else
    pid_t pid; /* also the id of its process group */
    FILE *rep, *out;
#endif
};

static int is_disabled(const struct cri_test *t) {
    const struct criterion_test_extra_data *s = suite_data(t->suite);
    return t->data->disabled || (s && s->disabled);
}

static double timeout_of(const struct cri_test *t) {
    const struct criterion_test_extra_data *s = suite_data(t->suite);
    if (t->data->timeout > 0) return t->data->timeout;
    if (s && s->timeout > 0) return s->timeout;
    return cfg.timeout;
}

static char *slurp(FILE *f) {
    if (!f || fseek(f, 0, SEEK_END) != 0) return format("%s", "");
    long n = ftell(f);
    char *s = xmalloc(n > 0 ? (size_t)n + 1 : 1);
    rewind(f);
    size_t got = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
    s[got] = '\0';
    return s;
}

/* Prints one finished test, Criterion style, and counts it. signaled: died
 * of signal `status`; otherwise exited with status `status`. */
static void finish(struct job *j, int signaled, int status, const char *report,
                   const char *output) {
    const struct cri_test *t = j->test;
    const char *id_s = t->suite, *id_n = t->name;
    int want_sig = t->data->signal, want_code = t->data->exit_code;
    int failed = 0, skipped = 0, crashed = 0, verdict_pass;
    char note[160] = "", skip_reason[200] = "Test was skipped";

    for (const char *l = report; *l;) {
        size_t n = strcspn(l, "\n");
        if (*l == 'F') failed = 1;
        if (*l == 'S') {
            snprintf(skip_reason, sizeof skip_reason, "%.*s", (int)n - 1, l + 1);
            skipped = 1;
        }
        l += n + (l[n] == '\n');
    }
    if (j->timed_out) {
        failed = 1;
    } else if (signaled && status != want_sig) {
        failed = 1;
        if (want_sig) {
            snprintf(note, sizeof note, "expected signal %s, got ", signal_name(want_sig));
            snprintf(note + strlen(note), sizeof note - strlen(note), "%s", signal_name(status));
        } else {
            crashed = 1;
        }
    } else if (!failed && !signaled && !skipped) {
        if (want_sig) {
            failed = 1;
            snprintf(note, sizeof note, "expected signal %s, but the test exited with code %d",
                     signal_name(want_sig), status);
        } else if (status != want_code) {
            failed = 1;
            snprintf(note, sizeof note, "exited with code %d, expected %d", status, want_code);
        }
    }
    skipped = skipped && !failed;
    verdict_pass = !failed && !skipped;

    if (output[0] && (!verdict_pass || cfg.verbose)) {
        fprintf(stderr, "[----] Output of %s::%s:\n%s", id_s, id_n, output);
        if (output[strlen(output) - 1] != '\n') fputc('\n', stderr);
    }
    for (const char *l = report; *l;) {
        size_t n = strcspn(l, "\n");
        if (*l == 'F' || *l == 'W' || *l == 'E' || *l == 'N' || (*l == 'I' && cfg.verbose))
            fprintf(stderr, "%.*s\n", (int)n - 1, l + 1);
        l += n + (l[n] == '\n');
    }
    double secs = now() - j->start;
    if (skipped) {
        fprintf(stderr, "[SKIP] %s::%s: %s\n", id_s, id_n, skip_reason);
        cfg.skipped++;
        return;
    }
    cfg.tested++;
    if (verdict_pass) {
        cfg.passed++;
        if (cfg.verbose) fprintf(stderr, "[PASS] %s::%s: (%.2fs)\n", id_s, id_n, secs);
        return;
    }
    cfg.failed++;
    if (j->timed_out) {
        fprintf(stderr, "[FAIL] %s::%s: Timed out. (%.2fs)\n", id_s, id_n, secs);
    } else if (crashed) {
        cfg.crashed++;
        fprintf(stderr, "[----] %s:%d: Unexpected signal caught below this line!\n", t->file,
                t->line);
        fprintf(stderr, "[FAIL] %s::%s: CRASH! (signal %s)\n", id_s, id_n, signal_name(status));
    } else {
        if (note[0]) fprintf(stderr, "[----] %s::%s: %s\n", id_s, id_n, note);
        fprintf(stderr, "[FAIL] %s::%s: (%.2fs)\n", id_s, id_n, secs);
    }
}

#ifndef _WIN32
/* ---- POSIX: fork per test ------------------------------------------------- */

/* SIGCHLD, SIGINT and SIGTERM stay blocked in the runner and are taken
 * synchronously by sigtimedwait(): no handler, no race with the wait. */
static sigset_t waited_signals, original_mask;

static void platform_init(void) {
    sigemptyset(&waited_signals);
    sigaddset(&waited_signals, SIGCHLD);
    sigaddset(&waited_signals, SIGINT);
    sigaddset(&waited_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &waited_signals, &original_mask);
}

static FILE *temp_file(void) {
    FILE *f = tmpfile(); /* already unlinked: nothing to clean up */
    if (!f) die("cannot create a temporary file");
    fcntl(fileno(f), F_SETFD, FD_CLOEXEC); /* not for programs a test runs */
    return f;
}

static void job_start(struct job *j) {
    j->rep = temp_file();
    j->out = temp_file();
    fcntl(fileno(j->rep), F_SETFL, O_APPEND);
    fflush(NULL); /* or the child would write our buffered output again */
    pid_t pid = fork();
    if (pid < 0) die("fork failed");
    if (pid == 0) {
        /* Own process group, so a timeout also kills what the test spawned. */
        setpgid(0, 0);
        sigprocmask(SIG_SETMASK, &original_mask, NULL);
        int null = open("/dev/null", O_RDONLY);
        if (null > 0) dup2(null, 0), close(null);
        dup2(fileno(j->out), 1);
        dup2(fileno(j->out), 2);
        setvbuf(stdout, NULL, _IOLBF, 0); /* keep printf output if the test crashes */
        run_here(j->test, fileno(j->rep));
    }
    setpgid(pid, pid); /* also here: whichever of the two runs first */
    j->pid = pid;
}

static void job_kill(struct job *j) {
    kill(-j->pid, SIGKILL);
    kill(j->pid, SIGKILL);
}

static void job_done(struct job *j, int signaled, int status) {
    char *report = slurp(j->rep), *output = slurp(j->out);
    fclose(j->rep);
    fclose(j->out);
    j->running = 0;
    finish(j, signaled, status, report, output);
    free(report);
    free(output);
}

#if defined(__APPLE__)
/* macOS has no sigtimedwait: look at the pending set every 5 ms until the
 * timeout, and take a pending signal with sigwait (which returns at once
 * for one). Returns the signal or -1, like sigtimedwait. */
static int sigtimedwait_poll(const sigset_t *set, const struct timespec *ts) {
    long waited_ns = 0, limit_ns = (long)ts->tv_sec * 1000000000L + ts->tv_nsec;
    for (;;) {
        sigset_t pending;
        if (sigpending(&pending) == 0) {
            for (int s = 1; s < NSIG; s++) {
                if (sigismember(set, s) == 1 && sigismember(&pending, s) == 1) {
                    sigset_t one;
                    int got = -1;
                    sigemptyset(&one);
                    sigaddset(&one, s);
                    return sigwait(&one, &got) == 0 ? got : -1;
                }
            }
        }
        if (waited_ns >= limit_ns) return -1;
        struct timespec step = {0, 5000000L};
        nanosleep(&step, NULL);
        waited_ns += 5000000L;
    }
}
#define sigtimedwait(set, info, ts) sigtimedwait_poll(set, ts)
#endif

/* Waits up to `timeout` seconds for test processes to end and finishes them. */
static void wait_jobs(struct job *jobs, int n, double timeout) {
    struct timespec ts = {(time_t)timeout, (long)((timeout - (double)(time_t)timeout) * 1e9)};
    int sig = sigtimedwait(&waited_signals, NULL, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
        for (int i = 0; i < n; i++)
            if (jobs[i].running) job_kill(&jobs[i]);
        fprintf(stderr, "[----] Interrupted by %s\n", signal_name(sig));
        exit(128 + sig);
    }
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < n; i++) {
            if (!jobs[i].running || jobs[i].pid != pid) continue;
            kill(-pid, SIGKILL); /* helpers it left behind; the group id cannot be reused yet */
            if (WIFSIGNALED(st))
                job_done(&jobs[i], 1, WTERMSIG(st));
            else
                job_done(&jobs[i], 0, WEXITSTATUS(st));
        }
    }
}

static int cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int open_report(const char *path) {
    return open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
}

#else
/* ---- Windows: re-execute this binary with --run per test ---------------- */

/* A test process that dies of a C signal exits with this status | signal
 * (see child_signals()); Windows has no death-by-signal of its own. */
#define SIGNAL_EXIT 0xE5160000u

static void exit_on_signal(int sig) {
    ExitProcess(SIGNAL_EXIT | (unsigned)sig);
}

/* In the test process: report C signals (abort() included) to the runner,
 * and let crashes end the process instead of opening an error dialog. */
static void child_signals(void) {
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
    signal(SIGABRT, exit_on_signal);
    signal(SIGSEGV, exit_on_signal);
    signal(SIGFPE, exit_on_signal);
    signal(SIGILL, exit_on_signal);
}

static void platform_init(void) {}

static void job_start(struct job *j) {
    char dir[MAX_PATH], exe[MAX_PATH];
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    if (!GetTempPathA(sizeof dir, dir) || !GetTempFileNameA(dir, "crr", 0, j->rep_path) ||
        !GetTempFileNameA(dir, "cro", 0, j->out_path) || !GetModuleFileNameA(NULL, exe, sizeof exe))
        die("cannot create a temporary file");
    HANDLE out = CreateFileA(j->out_path, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                             CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    HANDLE in = CreateFileA("NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                            OPEN_EXISTING, 0, NULL);
    char *cmd = format("\"%s\" --run %s::%s --report \"%s\"", exe, j->test->suite, j->test->name,
                       j->rep_path);
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = in;
    si.hStdOutput = out;
    si.hStdError = out;
    if (out == INVALID_HANDLE_VALUE ||
        !CreateProcessA(exe, cmd, NULL, NULL, TRUE, CREATE_SUSPENDED, NULL, NULL, &si, &pi))
        die("cannot start a test process");
    /* Closing the job object kills whatever the test left running. */
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
    memset(&li, 0, sizeof li);
    li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    j->group = CreateJobObjectA(NULL, NULL);
    if (j->group) {
        SetInformationJobObject(j->group, JobObjectExtendedLimitInformation, &li, sizeof li);
        AssignProcessToJobObject(j->group, pi.hProcess);
    }
    ResumeThread(pi.hThread);
    CloseHandle(pi.hThread);
    CloseHandle(out);
    if (in != INVALID_HANDLE_VALUE) CloseHandle(in);
    free(cmd);
    j->proc = pi.hProcess;
}

static void job_kill(struct job *j) {
    if (j->group) TerminateJobObject(j->group, 1);
    TerminateProcess(j->proc, 1);
}

static char *slurp_path(const char *path) {
    FILE *f = fopen(path, "rb");
    char *s = slurp(f);
    if (f) fclose(f);
    remove(path);
    return s;
}

/* Exit status of a test process -> (signaled, status). */
static void decode_status(DWORD code, int *signaled, int *status) {
    *signaled = 1;
    if ((code & 0xFFFF0000u) == SIGNAL_EXIT)
        *status = (int)(code & 0xFFu);
    else if (code == EXCEPTION_ACCESS_VIOLATION || code == EXCEPTION_STACK_OVERFLOW ||
             code == EXCEPTION_IN_PAGE_ERROR || code == EXCEPTION_ARRAY_BOUNDS_EXCEEDED)
        *status = SIGSEGV;
    else if (code == EXCEPTION_ILLEGAL_INSTRUCTION || code == EXCEPTION_PRIV_INSTRUCTION)
        *status = SIGILL;
    else if (code == EXCEPTION_INT_DIVIDE_BY_ZERO || code == EXCEPTION_FLT_DIVIDE_BY_ZERO)
        *status = SIGFPE;
    else
        *signaled = 0, *status = (int)code;
}

static void wait_jobs(struct job *jobs, int n, double timeout) {
    HANDLE h[MAXIMUM_WAIT_OBJECTS];
    int which[MAXIMUM_WAIT_OBJECTS], k = 0;
    for (int i = 0; i < n && k < MAXIMUM_WAIT_OBJECTS; i++)
        if (jobs[i].running) which[k] = i, h[k++] = jobs[i].proc;
    DWORD r = WaitForMultipleObjects((DWORD)k, h, FALSE, (DWORD)(timeout * 1000.0) + 1);
    if (r >= WAIT_OBJECT_0 + (DWORD)k) return; /* timeout */
    struct job *j = &jobs[which[r - WAIT_OBJECT_0]];
    DWORD code = 1;
    int signaled, status;
    GetExitCodeProcess(j->proc, &code);
    decode_status(code, &signaled, &status);
    CloseHandle(j->proc);
    if (j->group) CloseHandle(j->group);
    char *report = slurp_path(j->rep_path), *output = slurp_path(j->out_path);
    j->running = 0;
    finish(j, signaled, status, report, output);
    free(report);
    free(output);
}

static int cpu_count(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    int n = (int)si.dwNumberOfProcessors;
    return n < 1 ? 1 : n > MAXIMUM_WAIT_OBJECTS ? MAXIMUM_WAIT_OBJECTS : n;
}

static int open_report(const char *path) {
    return _open(path, _O_WRONLY | _O_APPEND | _O_CREAT | _O_BINARY, 0600);
}
#endif

/* ---- scheduling, options, main -------------------------------------------- */

static void run_all(const struct cri_test **sel, size_t nsel) {
    int njobs = cfg.jobs < 1 ? 1 : cfg.jobs;
#ifdef _WIN32
    if (njobs > MAXIMUM_WAIT_OBJECTS) njobs = MAXIMUM_WAIT_OBJECTS;
#endif
    if ((size_t)njobs > nsel) njobs = nsel ? (int)nsel : 1;
    struct job *jobs = calloc((size_t)njobs, sizeof *jobs);
    if (!jobs) die("out of memory");
    platform_init();
    if (cfg.verbose) fprintf(stderr, "[====] Running %zu tests, %d at a time\n", nsel, njobs);
    size_t next = 0;
    for (;;) {
        int running = 0;
        for (int i = 0; i < njobs; i++) {
            struct job *j = &jobs[i];
            while (!j->running && next < nsel) {
                const struct cri_test *t = sel[next++];
                if (is_disabled(t)) {
                    fprintf(stderr, "[SKIP] %s::%s: Test is disabled\n", t->suite, t->name);
                    cfg.skipped++;
                    continue;
                }
                if (cfg.verbose) fprintf(stderr, "[RUN ] %s::%s\n", t->suite, t->name);
                j->test = t;
                j->running = 1;
                j->timed_out = 0;
                j->start = now();
                j->deadline = j->start + timeout_of(t);
                job_start(j);
            }
            running += j->running;
        }
        if (!running) break;
        /* Sleep until the nearest deadline; killed tests just need reaping. */
        double t_now = now(), wait = 1.0;
        for (int i = 0; i < njobs; i++)
            if (jobs[i].running && !jobs[i].timed_out && jobs[i].deadline - t_now < wait)
                wait = jobs[i].deadline - t_now;
        if (wait > 0) wait_jobs(jobs, njobs, wait);
        t_now = now();
        for (int i = 0; i < njobs; i++) {
            if (jobs[i].running && !jobs[i].timed_out && t_now >= jobs[i].deadline) {
                jobs[i].timed_out = 1;
                job_kill(&jobs[i]);
            }
        }
    }
    free(jobs);
}

/* Criterion's --filter: a glob over "suite/name" with *, ? and [set]. */
static int glob_match(const char *p, const char *s) {
    for (; *p; p++, s++) {
        if (*p == '*') {
            while (*p == '*') p++;
            for (;; s++) {
                if (glob_match(p, s)) return 1;
                if (!*s) return 0;
            }
        }
        if (!*s) return 0;
        if (*p == '[' && strchr(p + 1, ']')) {
            int neg = p[1] == '!' || p[1] == '^', hit = 0;
            const char *q = p + 1 + neg;
            do {
                if (q[1] == '-' && q[2] && q[2] != ']') {
                    hit |= *s >= q[0] && *s <= q[2];
                    q += 3;
                } else {
                    hit |= *s == *q++;
                }
            } while (*q && *q != ']');
            if (!*q || hit == neg) return 0;
            p = q;
        } else if (*p != '?' && *p != *s) {
            return 0;
        }
    }
    return !*s;
}

static int by_name(const void *a, const void *b) {
    const struct cri_test *x = *(const struct cri_test *const *)a;
    const struct cri_test *y = *(const struct cri_test *const *)b;
    int c = strcmp(x->suite, y->suite);
    return c ? c : strcmp(x->name, y->name);
}

static void usage(FILE *f) {
    fprintf(f, "usage: test-binary [options]\n"
               "  -j N, --jobs N      run N tests at once (default: CPUs, or $CRITERION_JOBS)\n"
               "  --filter GLOB       run the tests whose suite/name matches GLOB\n"
               "  --timeout S         timeout of tests that set none (default 60 s)\n"
               "  -l, --list          list the tests (suite::name) and exit\n"
               "  --verbose           show passing tests, their output and info logs\n"
               "  --run SUITE::NAME   run one test in this process (no isolation, no timeout)\n"
               "  --report FILE       with --run: write the runner's report lines to FILE\n"
               "  --ascii --color=X -S --full-stats --ignore-warnings: accepted, ignored\n");
}

/* The value of option argv[*i] if it is --long / -short, as "--long V",
 * "--long=V", "-s V" or "-sV"; advances *i past a separate value. */
static const char *opt_value(int argc, char **argv, int *i, const char *lng, const char *shrt) {
    const char *a = argv[*i];
    size_t n = strlen(lng);
    if (strncmp(a, lng, n) == 0 && a[n] == '=') return a + n + 1;
    if (strcmp(a, lng) != 0 && !(shrt && strcmp(a, shrt) == 0)) {
        if (shrt && strncmp(a, shrt, strlen(shrt)) == 0 && a[strlen(shrt)]) return a + strlen(shrt);
        return NULL;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "runner: %s needs a value\n", a);
        exit(2);
    }
    return argv[++*i];
}

int main(int argc, char **argv) {
    const char *run = NULL, *report = NULL, *v, *env = getenv("CRITERION_JOBS");
    cfg.jobs = env && atoi(env) > 0 ? atoi(env) : cpu_count();
    cfg.timeout = DEFAULT_TIMEOUT;
    cfg.filter = getenv("CRITERION_TEST_PATTERN");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-l") == 0 || strcmp(a, "--list") == 0) {
            cfg.list = 1;
        } else if (strcmp(a, "--verbose") == 0 || strncmp(a, "--verbose=", 10) == 0) {
            cfg.verbose = 1;
        } else if (strcmp(a, "--ascii") == 0 || strncmp(a, "--color", 7) == 0 ||
                   strcmp(a, "-S") == 0 || strcmp(a, "--short-filename") == 0 ||
                   strcmp(a, "--full-stats") == 0 || strcmp(a, "--ignore-warnings") == 0) {
            /* Criterion display options, accepted so one TEST_ARGS suits both runners. */
        } else if ((v = opt_value(argc, argv, &i, "--jobs", "-j"))) {
            cfg.jobs = atoi(v);
        } else if ((v = opt_value(argc, argv, &i, "--filter", NULL))) {
            cfg.filter = v;
        } else if ((v = opt_value(argc, argv, &i, "--timeout", NULL))) {
            cfg.timeout = atof(v) > 0 ? atof(v) : DEFAULT_TIMEOUT;
        } else if ((v = opt_value(argc, argv, &i, "--run", NULL))) {
            run = v;
        } else if ((v = opt_value(argc, argv, &i, "--report", NULL))) {
            report = v;
        } else {
            fprintf(stderr, "runner: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }

    size_t n = 0, nsel = 0;
    for (struct cri_test *t = all_tests; t; t = t->next) n++;
    const struct cri_test **sel = xmalloc(n * sizeof *sel);
    for (struct cri_test *t = all_tests; t; t = t->next) {
        char *id = format("%s/%s", t->suite, t->name);
        if (run) {
            char *full = format("%s::%s", t->suite, t->name);
            if (strcmp(full, run) == 0) sel[nsel++] = t;
            free(full);
        } else if (!cfg.filter || glob_match(cfg.filter, id)) {
            sel[nsel++] = t;
        }
        free(id);
    }
    qsort(sel, nsel, sizeof *sel, by_name);

    if (run) {
        if (nsel != 1) {
            fprintf(stderr, "runner: no test named %s\n", run);
            return 2;
        }
        int fd = report ? open_report(report) : -1;
        if (report && fd < 0) die("cannot open the report file");
#ifdef _WIN32
        child_signals();
#endif
        run_here(sel[0], fd);
    }
    if (cfg.list) {
        for (size_t i = 0; i < nsel; i++) printf("%s::%s\n", sel[i]->suite, sel[i]->name);
        return 0;
    }

    run_all(sel, nsel);
    free(sel);
    /* Same bytes as Criterion's line (trailing space included), then the
     * plain line CI reads, alone on stdout. */
    fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: %d \n",
            cfg.tested, cfg.passed, cfg.failed, cfg.crashed);
    if (cfg.tested == 0) fprintf(stderr, "no test ran\n");
    fflush(stderr);
    printf("%d passed, %d failed\n", cfg.passed, cfg.failed);
    return cfg.tested > 0 && cfg.failed == 0 ? 0 : 1;
}
