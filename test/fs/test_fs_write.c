/* Whole-file writes (plain and atomic), appends and the log writer. */
#include <dirent.h>
#include <pthread.h>
#ifndef _WIN32
#include <sys/mman.h>
#endif
#include <stdatomic.h>

#include "fs_util.h"
#include "test/sanitizers.h"

#if AX_TEST_TSAN
/* The OS-permission and kill tests fork a child that starts its own
 * runtime; TSan refuses threads after a multi-threaded fork by default. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) {
    return "die_after_fork=0";
}
#endif

TestSuite(fs_write, .init = fs_setup, .fini = fs_teardown, .timeout = 120);

static void *t_small(void *arg) {
    char p[512];
    cr_assert_eq(ax_fs_write_file(P(p, "w"), "hello", 5, NULL, AX_NO_DEADLINE), 0);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "hello");
    free(g);
    return NULL;
}
Test(fs_write, small) {
    run(t_small, NULL);
}

static void *t_large(void *arg) {
    char p[512];
    size_t n = 64u << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++) big[i] = (char)(i * 31 + (i >> 12));
    ax_fs_write_opts o = {.sync = AX_FS_SYNC_DATA};
    cr_assert_eq(ax_fs_write_file(P(p, "big"), big, n, &o, AX_NO_DEADLINE), 0);
    size_t len = 0;
    char *g = get(p, &len);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(g, big, n), 0);
    free(g);
    free(big);
    return NULL;
}
Test(fs_write, large) {
    run(t_large, NULL);
}

static void *t_overwrite(void *arg) {
    char p[512];
    put(P(p, "o"), "a much longer old content", 25);
    cr_assert_eq(ax_fs_write_file(p, "new", 3, NULL, AX_NO_DEADLINE), 0);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "new");
    free(g);
    return NULL;
}
Test(fs_write, overwrite) {
    run(t_overwrite, NULL);
}

static char locked_dir[512];
static void *t_nobody_write(void *arg) {
    char p[600];
    snprintf(p, sizeof p, "%s/x", locked_dir);
    *(int *)arg = ax_fs_write_file(p, "x", 1, NULL, AX_NO_DEADLINE);
    return NULL;
}
static int nobody_write(void) {
    snprintf(locked_dir, sizeof locked_dir, "%s", getenv("AXON_TEST_ARG"));
    ax_runtime *r2;
    if (ax_runtime_new(&r2, NULL)) return 98;
    int err = 1;
    ax_run(r2, t_nobody_write, &err, NULL);
    ax_runtime_free(r2);
    return err == AX_EACCES ? 0 : 1;
}
Test(fs_write, os_permission_denied) {
    AX_WIN_SKIP(AX_WIN_NO_CHMOD);
#ifndef _WIN32
    mkdir(P(locked_dir, "locked"), 0755);
    if (getuid() != 0) chmod(locked_dir, 0555);
    char arg[600];
    snprintf(arg, sizeof arg, "AXON_TEST_ARG=%s", locked_dir);
    const char *env[] = {arg, NULL};
    cr_assert_eq(as_nobody("nobody_write", env), 0);
#endif
}

static void *t_policy(void *arg) {
    char p[512];
    cr_assert_eq(ax_fs_write_file(P(p, "f"), "x", 1, NULL, AX_NO_DEADLINE), AX_EPOLICY);
    cr_assert_eq(access(p, F_OK), -1); /* never created */
    return NULL;
}
Test(fs_write, policy_denied) {
    install_policy(dir, NULL); /* read only */
    run(t_policy, NULL);
}

/* root/ holds `link`, which a thread keeps swapping between a directory
 * inside the root and one outside it. Reads and writes through the link
 * run meanwhile; none may touch the outside directory. */
static char root[512], outside[512];
static atomic_bool stop_swap;
static void *swapper(void *arg) {
    char in[600], out[600], tmp[600], link[600];
    snprintf(in, sizeof in, "%s/inside", root);
    snprintf(out, sizeof out, "%s", outside);
    snprintf(tmp, sizeof tmp, "%s/link.tmp", root);
    snprintf(link, sizeof link, "%s/link", root);
    for (unsigned i = 0; !atomic_load(&stop_swap); i++) {
        unlink(tmp);
        if (symlink(i % 2 ? out : "inside", tmp) == 0) rename(tmp, link);
    }
    (void)in;
    return NULL;
}
static void *t_swap(void *arg) {
    char p[600], q[600];
    snprintf(p, sizeof p, "%s/link/secret", root);
    snprintf(q, sizeof q, "%s/link/written", root);
    int escaped = 0;
    for (int i = 0; i < 400; i++) {
        void *d;
        size_t len = 0;
        int r = ax_fs_read_file(p, &d, &len, AX_NO_DEADLINE);
        if (r == 0) {
            if (strcmp(d, "outside secret") == 0) escaped++;
            free(d);
        } else
            cr_assert(r == AX_EPOLICY || r == AX_ENOENT || r == AX_ELOOP, "r = %d", r);
        r = ax_fs_write_file(q, "w", 1, NULL, AX_NO_DEADLINE);
        cr_assert(r == 0 || r == AX_EPOLICY || r == AX_ENOENT || r == AX_ELOOP, "w = %d", r);
    }
    cr_assert_eq(escaped, 0);
    return NULL;
}
Test(fs_write, symlink_swap_race_never_escapes) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
    char s[600];
    P(root, "root");
    P(outside, "outside");
    mkdir(root, 0755);
    mkdir(outside, 0755);
    snprintf(s, sizeof s, "%s/inside", root);
    mkdir(s, 0755);
    snprintf(s, sizeof s, "%s/inside/secret", root);
    put(s, "inside", 6);
    snprintf(s, sizeof s, "%s/secret", outside);
    put(s, "outside secret", 14);
    snprintf(s, sizeof s, "%s/link", root);
    cr_assert_eq(symlink("inside", s), 0);
    install_policy(root, root);
    pthread_t th;
    atomic_store(&stop_swap, false);
    pthread_create(&th, NULL, swapper, NULL);
    run(t_swap, NULL);
    atomic_store(&stop_swap, true);
    pthread_join(th, NULL);
    snprintf(s, sizeof s, "%s/written", outside);
    cr_assert_eq(access(s, F_OK), -1, "a write escaped the root");
}

static void *t_write_one(void *arg) {
    char p[512], name[32], c[32];
    snprintf(name, sizeof name, "c%ld", (long)(intptr_t)arg);
    int n = snprintf(c, sizeof c, "data %ld", (long)(intptr_t)arg);
    cr_assert_eq(ax_fs_write_file(P(p, name), c, (size_t)n, NULL, AX_NO_DEADLINE), 0);
    return NULL;
}
static void *t_concurrent(void *arg) {
    ax_task *t[50];
    for (intptr_t i = 0; i < 50; i++) cr_assert_eq(ax_spawn(&t[i], t_write_one, (void *)i), 0);
    for (int i = 0; i < 50; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    for (int i = 0; i < 50; i++) {
        char p[512], name[32], c[32];
        snprintf(name, sizeof name, "c%d", i);
        snprintf(c, sizeof c, "data %d", i);
        char *g = get(P(p, name), NULL);
        cr_assert_str_eq(g, c);
        free(g);
    }
    return NULL;
}
Test(fs_write, concurrent_writes_to_different_files) {
    run(t_concurrent, NULL);
}

/* ---- atomic writes killed at each step ------------------------------------------------------ */

#define NEW_LEN (1u << 20)
static char target[512];
static void *t_child_write(void *arg) {
    char *buf = malloc(NEW_LEN);
    memset(buf, 'N', NEW_LEN);
    ax_fs_write_opts o = {.flags = AX_FS_ATOMIC};
    int r = ax_fs_write_file(target, buf, NEW_LEN, &o, AX_NO_DEADLINE);
    free(buf);
    *(int *)arg = r;
    return NULL;
}
static int tmp_files(void) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".axtmp.")) n++;
    closedir(d);
    return n;
}
static void *t_third(void *arg) {
    ax_fs_write_opts o = {.flags = AX_FS_ATOMIC};
    cr_assert_eq(ax_fs_write_file(target, "third", 5, &o, AX_NO_DEADLINE), 0);
    return NULL;
}
/* The child: an atomic write of target (AXON_TEST_ARG) that stops itself
 * (SIGSTOP) at the step AXON_FS_TEST_STOP_AT names. */
static int child_write(void) {
    snprintf(target, sizeof target, "%s", getenv("AXON_TEST_ARG"));
    ax_runtime *r2;
    if (ax_runtime_new(&r2, NULL)) return 98;
    int err = 1;
    ax_run(r2, t_child_write, &err, NULL);
    return err ? 1 : 0;
}
static const struct fs_child_fn write_children[] = {{"nobody_write", nobody_write},
                                                    {"atomic_write", child_write}};
FS_CHILD_FUNCTIONS(write_children)

static void kill_at(const char *step) {
    put(P(target, "t"), "old", 3);
    char arg[600], stop[128];
    snprintf(arg, sizeof arg, "AXON_TEST_ARG=%s", target);
    snprintf(stop, sizeof stop, "AXON_FS_TEST_STOP_AT=%s", step);
    const char *env[] = {arg, stop, NULL};
#ifdef _WIN32
    /* The child ends itself at the step (exit code 137, fs/fs_os.h): the
     * same as being killed there. */
    int code = fs_wait_child(fs_spawn_child("atomic_write", false, env));
    cr_assert_eq(code, 137, "child did not end at %s (exit code %d)", step, code);
#else
    pid_t pid = fs_spawn_child("atomic_write", false, env);
    int st;
    cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
    cr_assert(WIFSTOPPED(st), "child did not stop at %s (status %d)", step, st);
    kill(pid, SIGKILL);
    cr_assert_eq(waitpid(pid, &st, 0), pid);
#endif
    size_t len = 0;
    char *g = get(target, &len);
    bool is_old = len == 3 && !memcmp(g, "old", 3);
    bool is_new = len == NEW_LEN && g[0] == 'N' && g[NEW_LEN - 1] == 'N';
    cr_assert(is_old || is_new, "torn target after a kill at %s (len %zu)", step, len);
    if (!strcmp(step, "after-rename"))
        cr_assert(is_new);
    else
        cr_assert(is_old);
    free(g);
    if (strcmp(step, "after-rename")) cr_assert_eq(tmp_files(), 1, "the dead writer's temp");
    run(t_third, NULL); /* the next write sweeps the dead writer's temporary file */
    cr_assert_eq(tmp_files(), 0);
    g = get(target, NULL);
    cr_assert_str_eq(g, "third");
    free(g);
}
Test(fs_write, atomic_killed_mid_write) {
    kill_at("mid-write");
}
Test(fs_write, atomic_killed_after_write_before_fsync) {
    kill_at("after-write");
}
Test(fs_write, atomic_killed_after_fsync_before_rename) {
    kill_at("after-fsync");
}
Test(fs_write, atomic_killed_after_rename) {
    kill_at("after-rename");
}

static void *t_atomic_mode(void *arg) {
    char p[512];
    put(P(p, "m"), "old", 3);
    chmod(p, 0640);
    ax_fs_write_opts o = {.flags = AX_FS_ATOMIC};
    cr_assert_eq(ax_fs_write_file(p, "new", 3, &o, AX_NO_DEADLINE), 0);
    assert_mode(p, 0640);
    o.mode = 0600;
    cr_assert_eq(ax_fs_write_file(P(p, "m2"), "x", 1, &o, AX_NO_DEADLINE), 0);
    assert_mode(p, 0600);
    cr_assert_eq(tmp_files(), 0);
    return NULL;
}
Test(fs_write, atomic_keeps_mode_and_sets_mode_on_creation) {
    run(t_atomic_mode, NULL);
}

static void *t_mkdirs(void *arg) {
    char p[512];
    ax_fs_write_opts o = {.flags = AX_FS_MKDIRS};
    cr_assert_eq(ax_fs_write_file(P(p, "a/b/c/f"), "deep", 4, NULL, AX_NO_DEADLINE), AX_ENOENT);
    cr_assert_eq(ax_fs_write_file(p, "deep", 4, &o, AX_NO_DEADLINE), 0);
    o.flags |= AX_FS_ATOMIC;
    cr_assert_eq(ax_fs_write_file(P(p, "x/y/f"), "deep", 4, &o, AX_NO_DEADLINE), 0);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "deep");
    free(g);
    return NULL;
}
Test(fs_write, missing_parents_created) {
    run(t_mkdirs, NULL);
}

static void *t_empty(void *arg) {
    char p[512];
    cr_assert_eq(ax_fs_write_file(P(p, "e"), NULL, 0, NULL, AX_NO_DEADLINE), 0);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_size, 0);
    ax_fs_write_opts o = {.flags = AX_FS_EXCL};
    cr_assert_eq(ax_fs_write_file(p, "x", 1, &o, AX_NO_DEADLINE), AX_EEXIST);
    return NULL;
}
Test(fs_write, empty_content_and_excl) {
    run(t_empty, NULL);
}

/* ---- append -----------------------------------------------------------------------------------
 */

static void *t_append(void *arg) {
    char p[512];
    put(P(p, "ap"), "one\n", 4);
    cr_assert_eq(ax_fs_append_file(p, "two\n", 4, NULL, AX_NO_DEADLINE), 0);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "one\ntwo\n");
    free(g);
    cr_assert_eq(ax_fs_append_file(P(p, "fresh"), "x", 1, NULL, AX_NO_DEADLINE), 0);
    g = get(p, NULL);
    cr_assert_str_eq(g, "x");
    free(g);
    cr_assert_eq(ax_fs_append_file(p, NULL, 0, NULL, AX_NO_DEADLINE), 0); /* empty */
    g = get(p, NULL);
    cr_assert_str_eq(g, "x");
    free(g);
    return NULL;
}
Test(fs_write, append_existing_creates_and_empty) {
    run(t_append, NULL);
}

#define REC 1000
static void *t_appender(void *arg) {
    char p[512], rec[REC];
    for (int k = 0; k < 20; k++) {
        memset(rec, 'a' + (int)(intptr_t)arg % 26, REC);
        snprintf(rec, 32, "%02d-%02d:", (int)(intptr_t)arg, k);
        rec[strlen(rec)] = '=';
        rec[REC - 1] = '\n';
        cr_assert_eq(ax_fs_append_file(P(p, "log"), rec, REC, NULL, AX_NO_DEADLINE), 0);
    }
    return NULL;
}
static void *t_appenders(void *arg) {
    ax_task *t[50];
    for (intptr_t i = 0; i < 50; i++) cr_assert_eq(ax_spawn(&t[i], t_appender, (void *)i), 0);
    for (int i = 0; i < 50; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    return NULL;
}
Test(fs_write, fifty_concurrent_appenders_never_interleave) {
    AX_WINE_SKIP(AX_WINE_NO_ATOMIC_APPEND);
    run(t_appenders, NULL);
    char p[512];
    size_t len = 0;
    char *g = get(P(p, "log"), &len);
    cr_assert_eq(len, (size_t)50 * 20 * REC);
    int seen[50] = {0};
    for (size_t off = 0; off < len; off += REC) {
        int id, k;
        cr_assert_eq(sscanf(g + off, "%d-%d:", &id, &k), 2);
        cr_assert(id >= 0 && id < 50);
        char c = (char)('a' + id % 26);
        for (size_t i = 10; i < REC - 1; i++)
            cr_assert_eq(g[off + i], c, "record at %zu is interleaved", off);
        cr_assert_eq(g[off + REC - 1], '\n');
        seen[id]++;
    }
    for (int i = 0; i < 50; i++) cr_assert_eq(seen[i], 20);
    free(g);
}

static void *t_append_denied(void *arg) {
    char p[512];
    cr_assert_eq(ax_fs_append_file(P(p, "l"), "x", 1, NULL, AX_NO_DEADLINE), AX_EPOLICY);
    return NULL;
}
Test(fs_write, append_denied) {
    install_policy(dir, NULL);
    run(t_append_denied, NULL);
}

static void *t_logger(void *arg) {
    char p[512];
    ax_fs_logger *lg;
    cr_assert_eq(ax_fs_logger_open(P(p, "app.log"), &lg, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_logger_write(lg, "part", 4, AX_NO_DEADLINE), 0);
    struct stat st;
    stat(p, &st);
    cr_assert_eq(st.st_size, 0); /* no newline yet: nothing written */
    cr_assert_eq(ax_fs_logger_write(lg, "ial\nnext", 8, AX_NO_DEADLINE), 0);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "partial\n");
    free(g);
    cr_assert_eq(ax_fs_logger_close(lg, AX_NO_DEADLINE), 0);
    g = get(p, NULL);
    cr_assert_str_eq(g, "partial\nnext");
    free(g);
    return NULL;
}
Test(fs_write, line_buffered_logger) {
    run(t_logger, NULL);
}

#ifndef _WIN32
/* ax_fs_write_file that gives up (deadline, cancellation) must not return
 * while its job may still read the caller's bytes: a FIFO whose reader
 * starts late holds the job in write(2) past the deadline; once the call
 * returned, the caller overwrites its buffer and then makes it unreadable
 * (a later read by the job faults), and the reader must never see the
 * new bytes. */
#define GIVEUP_LEN ((size_t)4 << 20)
static char giveup_fifo[512];
static char *giveup_buf;

typedef struct {
    size_t got, foreign; /* bytes read, of which not 'A' */
} giveup_reader;

static void *giveup_read(void *arg) {
    giveup_reader *r = arg;
    int fd = open(giveup_fifo, O_RDONLY | O_CLOEXEC); /* meets the job's open */
    if (fd < 0) return NULL;
    usleep(150 * 1000); /* well past the writer's deadline or cancellation */
    char b[65536];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) {
        for (ssize_t i = 0; i < n; i++) r->foreign += b[i] != 'A';
        r->got += (size_t)n;
    }
    close(fd);
    return NULL;
}

static char *giveup_alloc(void) {
    void *p = mmap(NULL, GIVEUP_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(p, MAP_FAILED);
    memset(p, 'A', GIVEUP_LEN);
    return p;
}
/* The call returned: the caller's bytes are its own again. */
static void giveup_take_back(void) {
    memset(giveup_buf, 'B', GIVEUP_LEN);
    cr_assert_eq(mprotect(giveup_buf, GIVEUP_LEN, PROT_NONE), 0);
}

static void *t_giveup_deadline(void *arg) {
    int rc = ax_fs_write_file(giveup_fifo, giveup_buf, GIVEUP_LEN, NULL, ax_deadline_in_ms(20));
    cr_assert_eq(rc, AX_ETIMEDOUT);
    giveup_take_back();
    return NULL;
}

static void *t_giveup_writer(void *arg) {
    return (void *)(intptr_t)ax_fs_write_file(giveup_fifo, giveup_buf, GIVEUP_LEN, NULL,
                                              AX_NO_DEADLINE);
}
static void *t_giveup_cancel(void *arg) {
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, t_giveup_writer, NULL), 0);
    ax_sleep(20);
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    giveup_take_back();
    return NULL;
}

static void giveup_run(void *(*body)(void *), const char *name) {
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(mkfifo(P(giveup_fifo, name), 0644), 0);
    giveup_buf = giveup_alloc();
    giveup_reader r = {0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, giveup_read, &r), 0);
    run(body, NULL);
    pthread_join(th, NULL);
    cr_assert_gt(r.got, 0);
    cr_assert_eq(r.foreign, 0, "%zu of %zu bytes written after the call returned", r.foreign,
                 r.got);
    munmap(giveup_buf, GIVEUP_LEN);
}

#endif

Test(fs_write, deadline_never_reads_caller_buffer_after_return) {
    AX_WIN_SKIP(AX_WIN_NO_MPROTECT);
#ifndef _WIN32
    giveup_run(t_giveup_deadline, "fifo-deadline");
#endif
}

Test(fs_write, cancel_never_reads_caller_buffer_after_return) {
    AX_WIN_SKIP(AX_WIN_NO_MPROTECT);
#ifndef _WIN32
    giveup_run(t_giveup_cancel, "fifo-cancel");
#endif
}

#ifndef _WIN32
/* A write that gives up returns at once even when its job is stuck in
 * write(2) for good (a FIFO nobody reads): the job writes from its own
 * copy of each chunk, so the caller never waits for the I/O, and the
 * runtime still shuts down (the pool leaves the stuck thread behind). */
static void *t_stuck_writer(void *arg) {
    ax_instant t0 = ax_now();
    int rc = ax_fs_write_file(giveup_fifo, giveup_buf, GIVEUP_LEN, NULL, ax_deadline_in_ms(50));
    cr_assert_eq(rc, AX_ETIMEDOUT);
    cr_assert_lt(ax_now() - t0, (ax_instant)5000 * 1000000u, "returned after the job's I/O");
    giveup_take_back();
    return NULL;
}
static int stuck_rfd = -1;
#endif
Test(fs_write, deadline_returns_while_the_job_is_stuck_in_io, .timeout = 30) {
    AX_WIN_SKIP(AX_WIN_NO_MPROTECT);
#ifndef _WIN32
    signal(SIGPIPE, SIG_IGN);
    cr_assert_eq(mkfifo(P(giveup_fifo, "fifo-stuck"), 0644), 0);
    stuck_rfd = open(giveup_fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* never read */
    cr_assert_geq(stuck_rfd, 0);
    giveup_buf = giveup_alloc();
    run(t_stuck_writer, NULL);
    /* fs_teardown frees the runtime: its pool gives the stuck job up. The
     * reader end stays open (closing it would unblock the job). The pipe
     * holds only bytes copied before the call returned. */
    char b[4096];
    ssize_t n;
    size_t foreign = 0;
    while ((n = read(stuck_rfd, b, sizeof b)) > 0)
        for (ssize_t i = 0; i < n; i++) foreign += b[i] != 'A';
    cr_assert_eq(foreign, 0);
    munmap(giveup_buf, GIVEUP_LEN); /* the stuck job writes from its own copy */
#endif
}
