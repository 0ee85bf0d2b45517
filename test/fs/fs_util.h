/* test/fs/fs_util.h - a runtime and a scratch directory per test. */
#ifndef AX_TEST_FS_UTIL_H
#define AX_TEST_FS_UTIL_H

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#ifndef _WIN32
#include <sys/wait.h>
#endif
#include <unistd.h>

#include "axon.h"
#include "test/os_compat.h"
#include "test/win_skip.h"

static ax_runtime *rt;
static char dir[256];

#ifdef _WIN32
/* Windows has no FIFOs in the file system; a named pipe plays one. mkfifo
 * turns path (a 512-byte buffer) into \\.\pipe\axfs-PID-NAME and creates
 * a few server instances (one per reader that may open it); a file job
 * opens that name as a client and blocks in ReadFile until data or the
 * end. test_fifo_writer is the writer's open: it waits for a connected
 * reader and returns that instance as a descriptor (the caller closes
 * it); the rest are closed at teardown, so no job stays blocked. */
#define TEST_FIFO_INSTANCES 8
static HANDLE test_fifo_h[TEST_FIFO_INSTANCES];

static inline void test_fifo_close_all(void) {
    for (int k = 0; k < TEST_FIFO_INSTANCES; k++)
        if (test_fifo_h[k]) CloseHandle(test_fifo_h[k]);
    memset(test_fifo_h, 0, sizeof test_fifo_h);
}

static inline int test_mkfifo(char *path) {
    const char *base = strrchr(path, '/');
    char name[512];
    snprintf(name, sizeof name, "\\\\.\\pipe\\axfs-%lu-%s", (unsigned long)GetCurrentProcessId(),
             base ? base + 1 : path);
    test_fifo_close_all();
    for (int k = 0; k < TEST_FIFO_INSTANCES; k++) {
        HANDLE h = CreateNamedPipeA(name, PIPE_ACCESS_OUTBOUND, PIPE_TYPE_BYTE | PIPE_NOWAIT,
                                    PIPE_UNLIMITED_INSTANCES, 65536, 65536, 0, NULL);
        if (h == INVALID_HANDLE_VALUE) return -1;
        test_fifo_h[k] = h;
    }
    snprintf(path, 512, "%s", name);
    return 0;
}
#define mkfifo(path, mode) test_mkfifo(path)

static inline int test_fifo_writer(void) {
    for (int i = 0; i < 10000; i++) {
        for (int k = 0; k < TEST_FIFO_INSTANCES; k++) {
            HANDLE h = test_fifo_h[k];
            if (!h || ConnectNamedPipe(h, NULL) || GetLastError() != ERROR_PIPE_CONNECTED) continue;
            DWORD mode = PIPE_READMODE_BYTE | PIPE_WAIT; /* blocking writes from here on */
            SetNamedPipeHandleState(h, &mode, NULL, NULL);
            test_fifo_h[k] = NULL;
            int fd = _open_osfhandle((intptr_t)h, 0);
            _setmode(fd, _O_BINARY);
            return fd;
        }
        ax_sleep(1);
    }
    return -1;
}
#endif

static inline void fs_setup_with(unsigned workers, unsigned blocking) {
#ifdef _WIN32
    cr_assert_eq(test_mkdtemp(dir, sizeof dir, "axfs"), 0);
#else
    snprintf(dir, sizeof dir, "/tmp/axfs.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    chmod(dir, 0755);
#endif
    ax_runtime_opts o;
    ax_runtime_opts_init(&o);
    o.workers = workers;
    o.blocking_max_threads = blocking;
    cr_assert_eq(ax_runtime_new(&rt, &o), 0);
}
static inline void fs_setup(void) {
    fs_setup_with(2, 0);
}
static inline void fs_teardown(void) {
#ifdef _WIN32
    test_fifo_close_all(); /* readers still blocked on a pipe see its end */
#endif
    ax_runtime_free(rt);
#ifdef _WIN32
    if (test_rm_rf(dir) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
#else
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
#endif
}

/* dir/name into a static-ish buffer the caller provides. */
static inline char *P(char *buf, const char *name) {
    snprintf(buf, 512, "%s/%s", dir, name);
    return buf;
}

/* Plain blocking helpers for setting up and checking. */
static inline void put(const char *path, const void *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        cr_assert_gt(n, 0);
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}
static inline char *get(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = 0;
    if (len) *len = got;
    return b;
}

/* A byte pattern that repeats with no short period, for large writes. */
static inline unsigned char fs_pattern(size_t i) {
    return (unsigned char)(i * 131 + (i >> 16) + 7);
}
static inline unsigned char *fs_pattern_new(size_t len) {
    unsigned char *b = malloc(len);
    for (size_t i = 0; i < len; i++) b[i] = fs_pattern(i);
    return b;
}

/* path holds exactly the len bytes of want. */
static inline void assert_file_is(const char *path, const unsigned char *want, size_t len) {
    size_t got_len = 0;
    char *got = get(path, &got_len);
    cr_assert_not_null(got, "%s missing", path);
    cr_assert_eq(got_len, len, "%s: %zu bytes, want %zu", path, got_len, len);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)got[i] != want[i]) cr_assert_fail("%s: byte %zu differs", path, i);
    free(got);
}

/* path's permission bits are want. Windows keeps only the owner's write
 * bit (as the read-only attribute): there that bit is checked. */
static inline void assert_mode(const char *path, unsigned want) {
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
#ifdef _WIN32
    cr_assert_eq(!!(st.st_mode & _S_IWRITE), !!(want & 0200), "%s: mode %o, want %o", path,
                 (unsigned)st.st_mode, want);
#else
    cr_assert_eq(st.st_mode & 0777, want);
#endif
}

/* Skips the test on Windows when symbolic links cannot be created here
 * (they need the privilege or Developer Mode). */
static inline void fs_symlinks_or_skip(void) {
#ifdef _WIN32
    char t[512], l[512];
    snprintf(t, sizeof t, "%s/.probe-target", dir);
    snprintf(l, sizeof l, "%s/.probe-link", dir);
    fclose(fopen(t, "w"));
    bool ok = symlink(".probe-target", l) == 0;
    test_rm_rf(l);
    test_rm_rf(t);
    if (!ok) AX_WIN_SKIP(AX_WIN_NO_SYMLINK_PRIV);
#endif
}

static inline void run(void *(*fn)(void *), void *arg) {
    cr_assert_eq(ax_run(rt, fn, arg, NULL), 0);
}

/* Resident memory in KiB (Windows: the working set). */
static inline long rss_kib(void) {
#ifdef _WIN32
    return test_rss_kib();
#endif
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1) break;
    if (f) fclose(f);
    return v;
}

/* Installs a policy allowing read and/or write under the given roots.
 * Windows has no policy file roots (AX_ENOTSUP): the test is skipped. */
static inline void install_policy(const char *read_root, const char *write_root) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    if (read_root) cr_assert_eq(ax_policy_allow_read(p, read_root), 0);
    if (write_root) cr_assert_eq(ax_policy_allow_write(p, write_root), 0);
    cr_assert_eq(ax_runtime_set_policy(rt, p), 0);
    ax_policy_free(p);
}

/* Runs fn in a child process as the user nobody, with its own runtime;
 * returns the child's exit status (fn's return value). */
/* Child processes that run a runtime. A child forked from a threaded
 * process may only call async-signal-safe functions until it execs: a lock
 * another thread held at the fork (the allocator's, under ASan) stays held
 * in the child forever. So the child execs this test binary afresh, and a
 * constructor (FS_CHILD_FUNCTIONS) runs the named function before the test
 * framework starts and exits with its result. Arguments travel in the
 * environment (AXON_TEST_ARG, AXON_TEST_ARG2). Under emulation the binary
 * is started through AXON_EXAMPLES_WRAPPER (qemu-user), as the examples are. */
struct fs_child_fn {
    const char *name;
    int (*fn)(void);
};

#define FS_CHILD_FUNCTIONS(table)                                                                  \
    __attribute__((constructor)) static void fs_child_dispatch(void) {                             \
        const char *want = getenv("AXON_TEST_CHILD");                                              \
        if (!want) return;                                                                         \
        for (size_t i = 0; i < sizeof(table) / sizeof((table)[0]); i++)                            \
            if (strcmp((table)[i].name, want) == 0) _exit((table)[i].fn());                        \
    }

#ifdef _WIN32
/* Windows: the child is this executable started afresh with CreateProcess
 * (no fork there, and no user to switch to: as_nobody tests are skipped);
 * the same constructor dispatches it. Returns the process handle. */
typedef HANDLE fs_child;
static inline fs_child fs_spawn_child(const char *name, bool as_nobody, const char *const *extra) {
    (void)as_nobody;
    static char self[MAX_PATH + 3];
    DWORD n = GetModuleFileNameA(NULL, self + 1, MAX_PATH);
    cr_assert(n > 0 && n < MAX_PATH);
    char *env0 = GetEnvironmentStringsA(), *e;
    size_t total = 1;
    for (e = env0; *e; e += strlen(e) + 1) total += strlen(e) + 1;
    for (size_t i = 0; extra && extra[i]; i++) total += strlen(extra[i]) + 1;
    char child_var[128];
    snprintf(child_var, sizeof child_var, "AXON_TEST_CHILD=%s", name);
    total += strlen(child_var) + 1;
    char *block = malloc(total), *w = block;
    for (e = env0; *e; e += strlen(e) + 1)
        if (strncmp(e, "AXON_TEST_", 10) != 0) w += sprintf(w, "%s", e) + 1;
    for (size_t i = 0; extra && extra[i]; i++) w += sprintf(w, "%s", extra[i]) + 1;
    w += sprintf(w, "%s", child_var) + 1;
    *w = 0;
    FreeEnvironmentStringsA(env0);
    self[0] = '"';
    strcat(self, "\"");
    STARTUPINFOA si;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    PROCESS_INFORMATION pi;
    cr_assert(CreateProcessA(NULL, self, NULL, NULL, FALSE, 0, block, NULL, &si, &pi),
              "CreateProcess: %lu", (unsigned long)GetLastError());
    free(block);
    CloseHandle(pi.hThread);
    return pi.hProcess;
}

/* Waits for the child to end; its exit code. */
static inline int fs_wait_child(fs_child c) {
    cr_assert_eq(WaitForSingleObject(c, INFINITE), WAIT_OBJECT_0);
    DWORD code = 0;
    GetExitCodeProcess(c, &code);
    CloseHandle(c);
    return (int)code;
}
#else
/* Finds prog on PATH (before the fork: execvp is not async-signal-safe). */
static inline int fs_which(const char *prog, char *out, size_t cap) {
    if (strchr(prog, '/')) return snprintf(out, cap, "%s", prog) < (int)cap ? 0 : -1;
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (snprintf(out, cap, "%.*s/%s", (int)n, path, prog) < (int)cap && access(out, X_OK) == 0)
            return 0;
        path = colon ? colon + 1 : NULL;
    }
    return -1;
}

/* Starts function `name` in a fresh copy of this binary, as user nobody
 * when as_nobody (and we are root), with extra environment entries
 * ("K=V", NULL-terminated). Returns the child's pid. */
static inline pid_t fs_spawn_child(const char *name, bool as_nobody, const char *const *extra) {
    static char self[4096], wrap[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = 0;
    const char *w = getenv("AXON_EXAMPLES_WRAPPER");
    bool wrapped = w && *w;
    if (wrapped) cr_assert_eq(fs_which(w, wrap, sizeof wrap), 0, "no %s on PATH", w);
    extern char **environ;
    size_t ne = 0, nx = 0;
    while (environ[ne]) ne++;
    while (extra && extra[nx]) nx++;
    char **envp = calloc(ne + nx + 2, sizeof *envp);
    static char child_var[128];
    snprintf(child_var, sizeof child_var, "AXON_TEST_CHILD=%s", name);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], "AXON_TEST_", 10) != 0) envp[k++] = environ[i];
    for (size_t i = 0; i < nx; i++) envp[k++] = (char *)extra[i];
    envp[k++] = child_var;
    char *argv[3] = {wrapped ? wrap : self, wrapped ? self : NULL, NULL};
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        if (as_nobody && getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(99);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    free(envp);
    return pid;
}

/* Runs function `name` as user nobody in a fresh process; its exit code. */
static inline int as_nobody(const char *name, const char *const *extra) {
    pid_t pid = fs_spawn_child(name, true, extra);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st), "child died: %d", st);
    return WEXITSTATUS(st);
}

#endif

#endif
