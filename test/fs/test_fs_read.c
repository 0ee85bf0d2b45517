/* Whole-file and streamed reads: sizes, errors, policy, UTF-8, cancel. */
#include "fs_util.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

TestSuite(fs_read, .init = fs_setup, .fini = fs_teardown, .timeout = 120);

static void *t_small(void *arg) {
    char p[512];
    put(P(p, "a.txt"), "hello", 5);
    void *data;
    size_t len = 0;
    cr_assert_eq(ax_fs_read_file(p, &data, &len, AX_NO_DEADLINE), 0);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(data, "hello");
    free(data);
    return NULL;
}
Test(fs_read, small) {
    run(t_small, NULL);
}

/* 256 MiB generated, streamed in 1 MiB chunks: the content checks out and
 * resident memory does not grow with the file. */
#define LARGE_MB 256
static void *t_large(void *arg) {
    char p[512];
    P(p, "large.bin");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    uint32_t *blk = malloc(1 << 20);
    for (uint32_t m = 0; m < LARGE_MB; m++) {
        for (uint32_t i = 0; i < (1u << 18); i++) blk[i] = m * (1u << 18) + i;
        cr_assert_eq(write(fd, blk, 1 << 20), 1 << 20);
    }
    close(fd);
    free(blk);
    /* through the file's stream: one read-ahead buffer, reused */
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), 0);
    ax_file_set_chunk(f, 1 << 20);
    uint32_t *buf = malloc(1 << 20);
    long base = rss_kib(), peak = base;
    uint64_t total = 0, bad = 0;
    ssize_t n;
    while ((n = ax_file_read(f, buf, 1 << 20, AX_NO_DEADLINE)) > 0) {
        cr_assert_eq(n % 4, 0);
        for (size_t i = 0; i < (size_t)n / 4; i++)
            if (buf[i] != (uint32_t)(total / 4 + i)) bad++;
        total += (uint64_t)n;
        long now = rss_kib();
        if (now > peak) peak = now;
    }
    cr_assert_eq(n, 0);
    free(buf);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    cr_assert_eq(total, (uint64_t)LARGE_MB << 20);
    cr_assert_eq(bad, 0);
    cr_assert_lt(peak - base, 32 * 1024, "RSS grew by %ld KiB", peak - base);
    return NULL;
}
Test(fs_read, large_streamed_constant_memory, .timeout = 600) {
    run(t_large, NULL);
}

static void *t_missing(void *arg) {
    char p[512];
    void *data = NULL;
    cr_assert_eq(ax_fs_read_file(P(p, "nope"), &data, NULL, AX_NO_DEADLINE), AX_ENOENT);
    cr_assert_null(data);
    return NULL;
}
Test(fs_read, missing_file) {
    run(t_missing, NULL);
}

static char secret_path[512];
static void *t_nobody_read(void *arg) {
    void *data;
    *(int *)arg = ax_fs_read_file(secret_path, &data, NULL, AX_NO_DEADLINE);
    return NULL;
}
static int nobody_read(void) {
    snprintf(secret_path, sizeof secret_path, "%s", getenv("AXON_TEST_ARG"));
    ax_runtime *r2;
    if (ax_runtime_new(&r2, NULL)) return 98;
    int err = 1;
    ax_run(r2, t_nobody_read, &err, NULL);
    ax_runtime_free(r2);
    return err == AX_EACCES ? 0 : 1;
}
static const struct fs_child_fn read_children[] = {{"nobody_read", nobody_read}};
FS_CHILD_FUNCTIONS(read_children)

Test(fs_read, os_permission_denied) {
    AX_WIN_SKIP(AX_WIN_NO_CHMOD);
#ifndef _WIN32
    put(P(secret_path, "secret"), "s", 1);
    chmod(secret_path, 0600);
    if (getuid() != 0) chmod(secret_path, 0);
    char arg[600];
    snprintf(arg, sizeof arg, "AXON_TEST_ARG=%s", secret_path);
    const char *env[] = {arg, NULL};
    cr_assert_eq(as_nobody("nobody_read", env), 0);
#endif
}

static void *t_policy(void *arg) {
    char p[512];
    void *data;
    cr_assert_eq(ax_fs_read_file(P(p, "f"), &data, NULL, AX_NO_DEADLINE), AX_EPOLICY);
    return NULL;
}
Test(fs_read, policy_denied) {
    char p[512], other[512];
    put(P(p, "f"), "x", 1);
    mkdir(P(other, "other"), 0755);
    install_policy(other, dir); /* write-only here: no read right */
    run(t_policy, NULL);
}

static void *t_read_one(void *arg) {
    intptr_t i = (intptr_t)arg;
    char p[512], name[32], want[32];
    snprintf(name, sizeof name, "f%ld", (long)i);
    snprintf(want, sizeof want, "content %ld", (long)i);
    void *data;
    size_t len = 0;
    cr_assert_eq(ax_fs_read_file(P(p, name), &data, &len, AX_NO_DEADLINE), 0);
    cr_assert_str_eq(data, want);
    free(data);
    return NULL;
}
static void *t_hundred(void *arg) {
    ax_task *t[100];
    for (intptr_t i = 0; i < 100; i++) cr_assert_eq(ax_spawn(&t[i], t_read_one, (void *)i), 0);
    for (int i = 0; i < 100; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    return NULL;
}
Test(fs_read, hundred_concurrent_reads) {
    char p[512], name[32], c[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "f%d", i);
        int n = snprintf(c, sizeof c, "content %d", i);
        put(P(p, name), c, (size_t)n);
    }
    run(t_hundred, NULL);
}

static void *t_utf8(void *arg) {
    char p[512];
    const char *txt = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80";
    put(P(p, "u.txt"), txt, strlen(txt));
    char *text;
    size_t len = 0;
    cr_assert_eq(ax_fs_read_text(p, &text, &len, NULL, AX_NO_DEADLINE), 0);
    cr_assert_str_eq(text, txt);
    cr_assert_eq(len, strlen(txt));
    free(text);
    return NULL;
}
Test(fs_read, utf8_valid) {
    run(t_utf8, NULL);
}

static void *t_bad_utf8(void *arg) {
    char p[512];
    const char bad[] = "abc\xc3\xa9xyz\xc0\xafrest"; /* overlong '/' at offset 8 */
    put(P(p, "b.txt"), bad, sizeof bad - 1);
    char *text = NULL;
    size_t off = 0;
    cr_assert_eq(ax_fs_read_text(p, &text, NULL, &off, AX_NO_DEADLINE), AX_EBADUTF8);
    cr_assert_eq(off, 8);
    cr_assert_null(text);
    cr_assert_str_eq(ax_err_name(AX_EBADUTF8), "AX_EBADUTF8");
    return NULL;
}
Test(fs_read, utf8_invalid_names_offset) {
    run(t_bad_utf8, NULL);
}

Test(fs_read, utf8_validator_cases) {
    size_t off;
    cr_assert_eq(ax_utf8_validate("", 0, &off), 0);
    cr_assert_eq(ax_utf8_validate("\xed\xa0\x80", 3, &off), AX_EBADUTF8); /* surrogate */
    cr_assert_eq(off, 0);
    cr_assert_eq(ax_utf8_validate("ab\xe2\x82", 4, &off), AX_EBADUTF8); /* truncated */
    cr_assert_eq(off, 2);
    cr_assert_eq(ax_utf8_validate("\xf4\x90\x80\x80", 4, &off), AX_EBADUTF8); /* > U+10FFFF */
    cr_assert_eq(ax_utf8_validate("12345678\xff", 9, &off), AX_EBADUTF8);
    cr_assert_eq(off, 8);
    cr_assert_eq(ax_utf8_validate("\xf0\x9f\x98\x80", 4, &off), 0);
}

static void *t_empty(void *arg) {
    char p[512];
    put(P(p, "e"), "", 0);
    void *data;
    size_t len = 99;
    cr_assert_eq(ax_fs_read_file(p, &data, &len, AX_NO_DEADLINE), 0);
    cr_assert_eq(len, 0);
    cr_assert_eq(((char *)data)[0], 0);
    free(data);
    char *text;
    cr_assert_eq(ax_fs_read_text(p, &text, &len, NULL, AX_NO_DEADLINE), 0);
    free(text);
    return NULL;
}
Test(fs_read, empty_file) {
    run(t_empty, NULL);
}

/* A regular file is read into a buffer sized from fstat: reaching that
 * size must not grow the buffer (it used to double it, a realloc per
 * small file, before the read that saw the end); a file that grew since
 * the fstat still reads whole. */
static void *t_exact_size(void *arg) {
    char p[512];
    size_t sizes[] = {1, 4096, (size_t)1 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char *src = malloc(n);
        for (size_t i = 0; i < n; i++) src[i] = (char)('a' + i % 26);
        put(P(p, "exact"), src, n);
        void *data;
        size_t len = 0;
        cr_assert_eq(ax_fs_read_file(p, &data, &len, AX_NO_DEADLINE), 0);
        cr_assert_eq(len, n);
        cr_assert_eq(memcmp(data, src, n), 0);
        cr_assert_eq(((char *)data)[n], 0);
#ifdef __GLIBC__
        cr_assert_lt(malloc_usable_size(data), n + n / 2 + 64, "%zu bytes for a %zu-byte file",
                     malloc_usable_size(data), n);
#endif
        free(data);
        free(src);
    }
    return NULL;
}
Test(fs_read, exact_size_buffer_not_grown) {
    run(t_exact_size, NULL);
}

/* The length of path read with plain read(2), to its end. */
static size_t length_by_reading(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[8192];
    size_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += (size_t)n;
    close(fd);
    return total;
}

/* /proc files report size 0 (or less than they hold): read to the end.
 * The file must hold more than the first buffer (4 KiB); qemu-user fakes
 * a short /proc/self/maps, so take the first candidate that does. */
static void *t_lying_size(void *arg) {
    static const char *const candidates[] = {"/proc/self/maps", "/proc/self/smaps",
                                             "/proc/kallsyms"};
    const char *path = NULL;
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates && !path; i++)
        if (length_by_reading(candidates[i]) > 8192) path = candidates[i];
    cr_assert_not_null(path, "no /proc file larger than 8 KiB");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_lt((size_t)st.st_size, 4096, "%s reports %lld bytes", path, (long long)st.st_size);
    void *data;
    size_t len = 0;
    cr_assert_eq(ax_fs_read_file(path, &data, &len, AX_NO_DEADLINE), 0);
    cr_assert_gt(len, 4096, "%s", path); /* past the first buffer: the probe found more, it grew */
    cr_assert_eq(strlen(data), len);
    free(data);
    return NULL;
}
Test(fs_read, size_that_lies_reads_to_the_end) {
    AX_WIN_SKIP(AX_WIN_NO_PROCFS);
    run(t_lying_size, NULL);
}

/* A read from a FIFO blocks in its job until a writer comes: the task is
 * cancelled meanwhile, returns at once, and the job later finishes into
 * its own buffer (ASan would see a write into freed memory). */
static char fifo[512];

/* Opens the FIFO for writing once a reader (a job) has it open; -1 if none
 * came within about 10 s. */
static int fifo_writer(const char *path) {
#ifdef _WIN32
    (void)path;
    return test_fifo_writer();
#else
    for (int i = 0; i < 10000; i++) {
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) return fd;
        ax_sleep(1);
    }
    return -1;
#endif
}

static void *t_reader(void *arg) {
    void *data = NULL;
    size_t len = 0;
    int r = ax_fs_read_file(fifo, &data, &len, AX_NO_DEADLINE);
    *(int *)arg = r;
    if (!r) free(data);
    return NULL;
}
static void *t_cancel(void *arg) {
    int res = 1;
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, t_reader, &res), 0);
    int fd = fifo_writer(fifo); /* the job is now in read(), waiting for data */
    cr_assert_geq(fd, 0);
    ax_abort(t);
    cr_assert_eq(ax_join(t, NULL), AX_ECANCELED);
    cr_assert_eq(res, AX_ECANCELED);
    /* The job may have seen the abort before its first read and closed the
     * FIFO already; the write then fails with EPIPE instead of feeding it. */
    char data[4096];
    memset(data, 'x', sizeof data);
    ssize_t n = write(fd, data, sizeof data);
    cr_assert(n == (ssize_t)sizeof data || (n < 0 && errno == EPIPE), "write: %zd errno %d", n,
              errno);
    close(fd); /* the job reads, sees the end and frees its own buffer */
    return NULL;
}
Test(fs_read, cancel_mid_read) {
#ifdef SIGPIPE
    signal(SIGPIPE, SIG_IGN);
#endif
    cr_assert_eq(mkfifo(P(fifo, "fifo"), 0644), 0);
    run(t_cancel, NULL);
}

static void *t_buf(void *arg) {
    char p[512];
    put(P(p, "b"), "buffered", 8);
    ax_buf *b;
    cr_assert_eq(ax_fs_read_buf(p, &b, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_buf_len(b), 8);
    cr_assert_eq(memcmp(ax_buf_data(b), "buffered", 8), 0);
    ax_buf_unref(b);
    void *d;
    cr_assert_eq(ax_fs_read_file(dir, &d, NULL, AX_NO_DEADLINE), AX_EISDIR);
    return NULL;
}
Test(fs_read, read_buf_and_directory_error) {
    run(t_buf, NULL);
}

static void *t_deadline_reader(void *arg) {
    void *d;
    *(int *)arg = ax_fs_read_file(fifo, &d, NULL, ax_deadline_in_ms(50));
    return NULL;
}
static void *t_deadline(void *arg) {
    int res = 1;
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, t_deadline_reader, &res), 0);
    int fd = fifo_writer(fifo); /* no data is ever written before the deadline */
    cr_assert_eq(ax_join(t, NULL), 0);
    cr_assert_eq(res, AX_ETIMEDOUT);
    if (fd >= 0) close(fd);
    return NULL;
}
Test(fs_read, deadline) {
    cr_assert_eq(mkfifo(P(fifo, "fifo2"), 0644), 0);
    run(t_deadline, NULL);
}
