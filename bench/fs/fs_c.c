/* bench/fs/fs_c.c - plain blocking C, the floor of the file benchmark
 * (bench/fs/run.sh): read(2) / write(2) loops on one thread, no runtime.
 *
 *   fs_c seqwrite FILE MIB BLOCK_KIB [whole]  write MIB MiB in BLOCK_KIB blocks, then fdatasync
 *   fs_c seqread  FILE MIB BLOCK_KIB [whole]  read it back in BLOCK_KIB blocks
 *   fs_c small    DIR N SIZE           N files of SIZE bytes: create+write, read, delete
 *   fs_c evict    FILE                 posix_fadvise(POSIX_FADV_DONTNEED) on FILE
 *
 * With `whole`, the blocking-C form of a whole-file call: the write is
 * open, a write(2) loop over a MIB MiB buffer made before the clock
 * starts, in BLOCK_KIB pieces (one 1 GiB write(2) ran 7x slower here), and
 * close, all timed; the
 * read fstat + malloc of the file's size + a read(2) loop into it + free,
 * all timed (as ax_fs_read_file / tokio::fs::read, which hand back fresh
 * memory). Prints `<metric> <value>` lines, the same metrics as the other programs
 * of bench/fs/. Exits 1 on any error or wrong content. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
    fprintf(stderr, "fs_c: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* User + system CPU time of the whole process (all threads), seconds. */
static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *pattern(size_t len) {
    unsigned char *p = malloc(len);
    if (!p) die("malloc");
    for (size_t i = 0; i < len; i++) p[i] = (unsigned char)(i * 131 + 7);
    return p;
}

static void seqwrite(const char *path, size_t total, size_t block, int whole) {
    unsigned char *buf = pattern(whole ? total : block);
    double t0 = now_s();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("open");
    for (size_t done = 0; done < total;) {
        ssize_t n = whole ? write(fd, buf + done, total - done < block ? total - done : block)
                          : write(fd, buf, block);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("write");
        done += (size_t)n;
    }
    /* A whole-file call closes the file before it returns, and on ext4 the
     * close of a file truncated and written again starts its writeback
     * (auto_da_alloc): timed, as it is in ax_fs_write_file and
     * tokio::fs::write. The sync then goes through a new descriptor. */
    if (whole && (close(fd) < 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)) die("close/open");
    double tw = now_s() - t0, t1 = now_s();
    if (fdatasync(fd) < 0) die("fdatasync");
    close(fd);
    printf("seq_write_mbps %.1f\nseq_sync_ms %.1f\n", (double)total / tw / 1e6,
           (now_s() - t1) * 1e3);
    free(buf);
}

static void seqread(const char *path, size_t total, size_t block, int whole) {
    unsigned char *buf = whole ? NULL : malloc(block);
    if (!whole && !buf) die("malloc");
    double t0 = now_s();
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open");
    struct stat st;
    if (whole && (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1))))
        die("fstat/malloc");
    size_t got = 0;
    for (;;) {
        ssize_t n =
            whole ? read(fd, buf + got, (size_t)st.st_size + 1 - got) : read(fd, buf, block);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("read");
        if (n == 0) break;
        if (got == 0 && n > 1 && buf[1] != (unsigned char)(1 * 131 + 7)) {
            fprintf(stderr, "fs_c: wrong content\n");
            exit(1);
        }
        got += (size_t)n;
    }
    close(fd);
    if (whole) { /* timed, as the whole-file calls' callers free theirs */
        free(buf);
        buf = NULL;
    }
    double t = now_s() - t0;
    if (got != total) {
        fprintf(stderr, "fs_c: read %zu bytes, expected %zu\n", got, total);
        exit(1);
    }
    printf("seq_read_mbps %.1f\n", (double)total / t / 1e6);
    free(buf);
}

static void small(const char *dir, int n, size_t size) {
    unsigned char *data = pattern(size), *buf = malloc(size + 1);
    char path[4096];
    if (!buf) die("malloc");
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) die("mkdir");
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%d", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) die("open for writing");
        if (write(fd, data, size) != (ssize_t)size) die("write");
        close(fd);
    }
    double t1 = now_s(), c1 = cpu_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%d", dir, i);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open for reading");
        size_t got = 0;
        ssize_t r;
        while ((r = read(fd, buf + got, size + 1 - got)) > 0) got += (size_t)r;
        if (r < 0) die("read");
        close(fd);
        if (got != size) {
            fprintf(stderr, "fs_c: short file\n");
            exit(1);
        }
    }
    double t2 = now_s(), c2 = cpu_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%d", dir, i);
        if (unlink(path) < 0) die("unlink");
    }
    double t3 = now_s(), c3 = cpu_s();
    rmdir(dir);
    printf(
        "small_create_ops %.0f\nsmall_read_ops %.0f\nsmall_delete_ops %.0f\nsmall_all_ops %.0f\n",
        n / (t1 - t0), n / (t2 - t1), n / (t3 - t2), 3.0 * n / (t3 - t0));
    printf("small_create_cpu_us %.2f\nsmall_read_cpu_us %.2f\nsmall_delete_cpu_us %.2f\n",
           (c1 - c0) * 1e6 / n, (c2 - c1) * 1e6 / n, (c3 - c2) * 1e6 / n);
    free(data);
    free(buf);
}

int main(int argc, char **argv) {
    if ((argc == 5 || (argc == 6 && !strcmp(argv[5], "whole"))) &&
        (!strcmp(argv[1], "seqwrite") || !strcmp(argv[1], "seqread"))) {
        size_t total = strtoull(argv[3], NULL, 10) << 20, block = strtoull(argv[4], NULL, 10) << 10;
        if (!total || !block) return 2;
        if (argv[1][3] == 'w')
            seqwrite(argv[2], total, block, argc == 6);
        else
            seqread(argv[2], total, block, argc == 6);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "small")) {
        small(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10));
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "evict")) {
        int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open");
        int e = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        if (e) {
            errno = e;
            die("posix_fadvise");
        }
        close(fd);
        return 0;
    }
    fprintf(stderr, "usage: fs_c seqwrite|seqread FILE MIB BLOCK_KIB [whole] | small DIR N SIZE | "
                    "evict FILE\n");
    return 2;
}
