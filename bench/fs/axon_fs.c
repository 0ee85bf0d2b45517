/* bench/fs/axon_fs.c - Axon's side of the file benchmark (bench/fs/run.sh):
 * the same workloads as fs_c.c, fs_uv.c and tokio/, through axon/fs.h, on
 * a runtime with default options (one worker per CPU, the default fs
 * concurrency bound). Every body runs in a task.
 *
 *   axon_fs seqwrite FILE MIB BLOCK_KIB API      write, then fdatasync
 *   axon_fs seqread  FILE MIB BLOCK_KIB API
 *   axon_fs small    DIR N SIZE CONC API         CONC tasks, task k taking
 *                                                files k, k+CONC, ...
 *
 * API is `handle` (ax_file_open + ax_file_write / ax_file_read in BLOCK_KIB
 * blocks + ax_file_close) or `whole` (ax_fs_write_file / ax_fs_read_file;
 * ax_fs_remove deletes in both). Prints `<metric> <value>` lines (as
 * fs_c.c). Exits 1 on any error or wrong content. */
#include <axon.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void check(intptr_t rc, const char *what) {
    if (rc < 0) {
        fprintf(stderr, "axon_fs: %s: %s\n", what, ax_strerror((int)rc));
        exit(1);
    }
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
    if (!p) exit(1);
    for (size_t i = 0; i < len; i++) p[i] = (unsigned char)(i * 131 + 7);
    return p;
}

static struct {
    const char *path; /* FILE or DIR */
    size_t total, block, size;
    int n, conc;
    bool whole;
    unsigned char *data;
} cfg;

/* ---- sequential ---------------------------------------------------------------- */

static void seqwrite(void) {
    double t0, tw, t1;
    if (cfg.whole) {
        unsigned char *all = pattern(cfg.total);
        t0 = now_s();
        check(ax_fs_write_file(cfg.path, all, cfg.total, NULL, AX_NO_DEADLINE), "ax_fs_write_file");
        tw = now_s() - t0;
        free(all);
        t1 = now_s();
        ax_file *f;
        check(ax_file_open(cfg.path, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), "ax_file_open");
        check(ax_file_sync(f, true, AX_NO_DEADLINE), "ax_file_sync");
        check(ax_file_close(f, AX_NO_DEADLINE), "ax_file_close");
    } else {
        unsigned char *buf = pattern(cfg.block);
        t0 = now_s();
        ax_file *f;
        check(ax_file_open(cfg.path, AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC, 0644, &f,
                           AX_NO_DEADLINE),
              "ax_file_open");
        for (size_t done = 0; done < cfg.total; done += cfg.block)
            check(ax_file_write(f, buf, cfg.block, AX_NO_DEADLINE), "ax_file_write");
        check(ax_file_flush(f, AX_NO_DEADLINE), "ax_file_flush");
        tw = now_s() - t0;
        t1 = now_s();
        check(ax_file_sync(f, true, AX_NO_DEADLINE), "ax_file_sync");
        check(ax_file_close(f, AX_NO_DEADLINE), "ax_file_close");
        free(buf);
    }
    printf("seq_write_mbps %.1f\nseq_sync_ms %.1f\n", (double)cfg.total / tw / 1e6,
           (now_s() - t1) * 1e3);
}

static void seqread(void) {
    size_t got = 0;
    unsigned char second = 0;
    double t0 = now_s();
    if (cfg.whole) {
        void *data;
        check(ax_fs_read_file(cfg.path, &data, &got, AX_NO_DEADLINE), "ax_fs_read_file");
        if (got > 1) second = ((unsigned char *)data)[1];
        free(data);
    } else {
        unsigned char *buf = malloc(cfg.block);
        ax_file *f;
        check(ax_file_open(cfg.path, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), "ax_file_open");
        for (;;) {
            ssize_t n = ax_file_read(f, buf, cfg.block, AX_NO_DEADLINE);
            check(n, "ax_file_read");
            if (n == 0) break;
            if (got == 0) second = buf[1];
            got += (size_t)n;
        }
        check(ax_file_close(f, AX_NO_DEADLINE), "ax_file_close");
        free(buf);
    }
    double t = now_s() - t0;
    if (got != cfg.total || second != (unsigned char)(1 * 131 + 7)) {
        fprintf(stderr, "axon_fs: read %zu bytes, expected %zu, or wrong content\n", got,
                cfg.total);
        exit(1);
    }
    printf("seq_read_mbps %.1f\n", (double)cfg.total / t / 1e6);
}

/* ---- small files ----------------------------------------------------------------- */

enum { PH_CREATE, PH_READ, PH_DELETE };
static int phase;

static void file_path(char *buf, size_t cap, int i) {
    snprintf(buf, cap, "%s/f%d", cfg.path, i);
}

static void create_one(const char *path) {
    if (cfg.whole) {
        check(ax_fs_write_file(path, cfg.data, cfg.size, NULL, AX_NO_DEADLINE), "ax_fs_write_file");
        return;
    }
    ax_file *f;
    check(ax_file_open(path, AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC, 0644, &f,
                       AX_NO_DEADLINE),
          "ax_file_open");
    check(ax_file_write(f, cfg.data, cfg.size, AX_NO_DEADLINE), "ax_file_write");
    check(ax_file_close(f, AX_NO_DEADLINE), "ax_file_close");
}

static void read_one(const char *path, unsigned char *buf) {
    size_t got = 0;
    if (cfg.whole) {
        void *data;
        check(ax_fs_read_file(path, &data, &got, AX_NO_DEADLINE), "ax_fs_read_file");
        free(data);
    } else {
        ax_file *f;
        check(ax_file_open(path, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), "ax_file_open");
        ssize_t n;
        while ((n = ax_file_read(f, buf + got, cfg.size + 1 - got, AX_NO_DEADLINE)) > 0)
            got += (size_t)n;
        check(n, "ax_file_read");
        check(ax_file_close(f, AX_NO_DEADLINE), "ax_file_close");
    }
    if (got != cfg.size) {
        fprintf(stderr, "axon_fs: short file %s\n", path);
        exit(1);
    }
}

static void *small_task(void *arg) {
    unsigned char *buf = malloc(cfg.size + 1);
    char path[4096];
    for (int i = (int)(intptr_t)arg; i < cfg.n; i += cfg.conc) {
        file_path(path, sizeof path, i);
        if (phase == PH_CREATE)
            create_one(path);
        else if (phase == PH_READ)
            read_one(path, buf);
        else
            check(ax_fs_remove(path, AX_NO_DEADLINE), "ax_fs_remove");
    }
    free(buf);
    return NULL;
}

static double phase_cpu_us[3];

static double small_phase(int ph) {
    phase = ph;
    ax_task **ts = malloc((size_t)cfg.conc * sizeof *ts);
    double t0 = now_s(), c0 = cpu_s();
    for (int k = 0; k < cfg.conc; k++)
        check(ax_spawn(&ts[k], small_task, (void *)(intptr_t)k), "ax_spawn");
    for (int k = 0; k < cfg.conc; k++) check(ax_join(ts[k], NULL), "ax_join");
    double ops = cfg.n / (now_s() - t0);
    phase_cpu_us[ph] = (cpu_s() - c0) * 1e6 / cfg.n;
    free(ts);
    return ops;
}

static void small(void) {
    cfg.data = pattern(cfg.size);
    check(ax_fs_mkdir(cfg.path, 0755, true, AX_NO_DEADLINE), "ax_fs_mkdir");
    double t0 = now_s();
    double c = small_phase(PH_CREATE), r = small_phase(PH_READ), d = small_phase(PH_DELETE);
    double all = 3.0 * cfg.n / (now_s() - t0);
    check(ax_fs_remove(cfg.path, AX_NO_DEADLINE), "ax_fs_remove");
    printf(
        "small_create_ops %.0f\nsmall_read_ops %.0f\nsmall_delete_ops %.0f\nsmall_all_ops %.0f\n",
        c, r, d, all);
    printf("small_create_cpu_us %.2f\nsmall_read_cpu_us %.2f\nsmall_delete_cpu_us %.2f\n",
           phase_cpu_us[0], phase_cpu_us[1], phase_cpu_us[2]);
    free(cfg.data);
}

static void *bench_main(void *arg) {
    ((void (*)(void))arg)();
    return NULL;
}

static bool api(const char *s) {
    if (strcmp(s, "whole") && strcmp(s, "handle")) {
        fprintf(stderr, "axon_fs: API is handle or whole\n");
        exit(2);
    }
    return !strcmp(s, "whole");
}

int main(int argc, char **argv) {
    void (*body)(void) = NULL;
    if (argc == 6 && (!strcmp(argv[1], "seqwrite") || !strcmp(argv[1], "seqread"))) {
        cfg.path = argv[2];
        cfg.total = strtoull(argv[3], NULL, 10) << 20;
        cfg.block = strtoull(argv[4], NULL, 10) << 10;
        cfg.whole = api(argv[5]);
        body = argv[1][3] == 'w' ? seqwrite : seqread;
    } else if (argc == 7 && !strcmp(argv[1], "small")) {
        cfg.path = argv[2];
        cfg.n = atoi(argv[3]);
        cfg.size = strtoull(argv[4], NULL, 10);
        cfg.conc = atoi(argv[5]) > 0 ? atoi(argv[5]) : 1;
        cfg.whole = api(argv[6]);
        body = small;
    }
    if (!body || (body != small && (!cfg.total || !cfg.block)) || (body == small && cfg.n <= 0)) {
        fprintf(stderr, "usage: axon_fs seqwrite|seqread FILE MIB BLOCK_KIB handle|whole\n"
                        "       axon_fs small DIR N SIZE CONC handle|whole\n");
        return 2;
    }
    ax_runtime *rt;
    check(ax_runtime_new(&rt, NULL), "ax_runtime_new");
    int rc = ax_run(rt, bench_main, (void *)body, NULL);
    ax_runtime_free(rt);
    check(rc, "ax_run");
    return 0;
}
