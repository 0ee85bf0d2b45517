/* Reading file handles: read-ahead (a second chunk read while the first is
 * used), page-cache reads without a job, the end of a regular file, and
 * what the read-ahead must never do (read past a pipe's data, hide growth,
 * survive a seek or a write). */
#include "fs_util.h"
#include "test/os_compat.h"

TestSuite(fs_readahead, .init = fs_setup, .fini = fs_teardown, .timeout = 120);

static unsigned char pat(size_t i) {
    return (unsigned char)(i * 131 + (i >> 16) + 7);
}

/* A file of n pattern bytes; with cold, fsynced and evicted from the page
 * cache, so reads go to the pool and the read-ahead runs. */
static void make_file(const char *p, size_t n, bool cold) {
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = pat(i);
    put(p, b, n);
    free(b);
    if (!cold) return;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    ax__fdatasync(fd);
#if defined(POSIX_FADV_DONTNEED)
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
#elif defined(F_NOCACHE) /* macOS: no eviction call; uncached reads from here on */
    fcntl(fd, F_NOCACHE, 1);
#endif
    close(fd);
}

struct seq_arg {
    const char *path;
    size_t n;
};

/* Reads the whole file through a handle in uneven sizes, checking every
 * byte and the end. */
static void *t_seq(void *arg) {
    struct seq_arg *a = arg;
    static const size_t sizes[] = {100000, 7, 1u << 20, 65536, 300000, 1, 4096};
    unsigned char *buf = malloc(1u << 20);
    ax_file *f;
    cr_assert_eq(ax_file_open(a->path, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), 0);
    size_t got = 0;
    for (size_t k = 0;; k++) {
        ssize_t n = ax_file_read(f, buf, sizes[k % 7], AX_NO_DEADLINE);
        cr_assert_geq(n, 0, "read: %s", ax_strerror((int)n));
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] != pat(got + (size_t)i))
                cr_assert_fail("byte %zu is wrong", got + (size_t)i);
        got += (size_t)n;
    }
    cr_assert_eq(got, a->n);
    cr_assert_eq(ax_file_read(f, buf, 10, AX_NO_DEADLINE), 0); /* still the end */
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    free(buf);
    return NULL;
}

Test(fs_readahead, cold_file_read_in_uneven_sizes_is_exact) {
    char p[512];
    struct seq_arg a = {P(p, "cold"), 3 * (1u << 20) + 12345};
    make_file(p, a.n, true);
    run(t_seq, &a);
}

Test(fs_readahead, cached_file_read_in_uneven_sizes_is_exact) {
    char p[512];
    struct seq_arg a = {P(p, "warm"), 3 * (1u << 20) + 12345};
    make_file(p, a.n, false);
    run(t_seq, &a);
}

Test(fs_readahead, empty_and_one_byte_files) {
    char p[512];
    struct seq_arg a = {P(p, "empty"), 0};
    make_file(p, 0, false);
    run(t_seq, &a);
    struct seq_arg b = {P(p, "one"), 1};
    make_file(p, 1, true);
    run(t_seq, &b);
}

/* Reading a small file through a handle costs one pool job (the open,
 * which reads the first chunk), not one per read. */
static void *t_one_job(void *arg) {
    char p[512];
    put(P(p, "small"), "hello, world", 12);
    ax_runtime_metrics m0, m1;
    ax_runtime_metrics_get(rt, &m0);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), 0);
    char buf[64] = {0};
    size_t got = 0;
    ssize_t n;
    while ((n = ax_file_read(f, buf + got, sizeof buf - 1 - got, AX_NO_DEADLINE)) > 0)
        got += (size_t)n;
    cr_assert_eq(n, 0);
    cr_assert_str_eq(buf, "hello, world");
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    ax_runtime_metrics_get(rt, &m1);
    cr_assert_eq(m1.blocking_jobs - m0.blocking_jobs, 1, "jobs: %llu",
                 (unsigned long long)(m1.blocking_jobs - m0.blocking_jobs));
    return NULL;
}

Test(fs_readahead, small_file_read_whole_costs_one_job) {
    run(t_one_job, NULL);
}

/* The end of a regular file is the end for now: after growth, the next
 * read returns the new bytes, whether the growth came after the end was
 * seen or between the open (which read ahead) and the first read. */
static void *t_growth(void *arg) {
    char p[512], buf[64];
    put(P(p, "grow"), "abc", 3);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_append_file(p, "def", 3, NULL, AX_NO_DEADLINE), 0); /* after the open */
    size_t got = 0;
    ssize_t n;
    while ((n = ax_file_read(f, buf + got, sizeof buf - got, AX_NO_DEADLINE)) > 0) got += (size_t)n;
    cr_assert_eq(n, 0);
    if (got == 3) { /* the open's read-ahead saw 3 bytes: the next read asks again */
        n = ax_file_read(f, buf + got, sizeof buf - got, AX_NO_DEADLINE);
        cr_assert_eq(n, 3);
        got += 3;
    }
    cr_assert_eq(got, 6);
    cr_assert_eq(memcmp(buf, "abcdef", 6), 0);
    cr_assert_eq(ax_file_read(f, buf, sizeof buf, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_append_file(p, "ghi", 3, NULL, AX_NO_DEADLINE), 0); /* after the end */
    cr_assert_eq(ax_file_read(f, buf, sizeof buf, AX_NO_DEADLINE), 3);
    cr_assert_eq(memcmp(buf, "ghi", 3), 0);
    cr_assert_eq(ax_file_read(f, buf, sizeof buf, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    return NULL;
}

Test(fs_readahead, end_of_file_then_growth_is_read) {
    run(t_growth, NULL);
}

/* A seek, a write and a positional read while a read-ahead is in flight:
 * what follows sees the file as it is, at the right offsets. */
static void *t_seek_write(void *arg) {
    const char *p = arg;
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ | AX_FILE_WRITE, 0, &f, AX_NO_DEADLINE), 0);
    unsigned char buf[256];
    cr_assert_eq(ax_file_read(f, buf, 100, AX_NO_DEADLINE),
                 100); /* a chunk, and the next in flight */
    cr_assert_eq(buf[99], pat(99));
    cr_assert_eq(ax_file_seek(f, 200000, SEEK_SET, AX_NO_DEADLINE), 200000);
    cr_assert_eq(ax_file_read(f, buf, 10, AX_NO_DEADLINE), 10);
    for (size_t i = 0; i < 10; i++) cr_assert_eq(buf[i], pat(200000 + i));
    cr_assert_eq(ax_file_write(f, "XYZ", 3, AX_NO_DEADLINE), 3); /* at 200010 */
    cr_assert_eq(ax_file_read(f, buf, 5, AX_NO_DEADLINE), 5);    /* 200013.. */
    for (size_t i = 0; i < 5; i++) cr_assert_eq(buf[i], pat(200013 + i));
    cr_assert_eq(ax_file_read_at(f, buf, 5, 200008, AX_NO_DEADLINE), 5);
    cr_assert_eq(buf[0], pat(200008));
    cr_assert_eq(buf[1], pat(200009));
    cr_assert_eq(memcmp(buf + 2, "XYZ", 3), 0);
    cr_assert_eq(ax_file_seek(f, 0, SEEK_CUR, AX_NO_DEADLINE), 200018);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    return NULL;
}

Test(fs_readahead, seek_and_write_drop_the_read_ahead) {
    char p[512];
    make_file(P(p, "rw"), 1u << 20, true);
    run(t_seek_write, p);
    size_t len = 0;
    char *g = get(p, &len);
    cr_assert_eq(len, 1u << 20);
    cr_assert_eq(memcmp(g + 200010, "XYZ", 3), 0);
    free(g);
}

/* A pipe is not a regular file: after its data, nothing is read ahead, so
 * bytes written later belong to whoever reads next (here a plain read on
 * another descriptor of the same pipe), and the handle's next read waits
 * for them rather than finding them taken. */
#ifndef _WIN32
static void *t_pipe(void *arg) {
    int *fds = arg;
    char p[64], buf[16];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fds[0]);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), 0);
    cr_assert_eq(write(fds[1], "abc", 3), 3);
    cr_assert_eq(ax_file_read(f, buf, sizeof buf, AX_NO_DEADLINE), 3);
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    uint64_t jobs = m.blocking_jobs;
    cr_assert_eq(write(fds[1], "def", 3), 3);
    /* No job of the handle is blocked in read(): the bytes are still there. */
    int fl = fcntl(fds[0], F_GETFL);
    fcntl(fds[0], F_SETFL, fl | O_NONBLOCK);
    cr_assert_eq(read(fds[0], buf, sizeof buf), 3);
    cr_assert_eq(memcmp(buf, "def", 3), 0);
    ax_runtime_metrics_get(rt, &m);
    cr_assert_eq(m.blocking_jobs, jobs);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    return NULL;
}

#endif
Test(fs_readahead, pipe_is_never_read_ahead) {
    AX_WIN_SKIP(AX_WIN_NO_PROCFD);
#ifndef _WIN32
    int fds[2];
    cr_assert_eq(ax__pipe(fds, 0), 0);
    run(t_pipe, fds);
    close(fds[0]);
    close(fds[1]);
#endif
}
