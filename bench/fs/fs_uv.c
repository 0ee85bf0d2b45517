/* bench/fs/fs_uv.c - libuv's side of the file benchmark (bench/fs/run.sh):
 * uv_fs_* requests on one loop, run on libuv's thread pool (default size,
 * UV_THREADPOOL_SIZE unset: 4 threads), each step started from the
 * previous step's callback.
 *
 *   fs_uv seqwrite FILE MIB BLOCK_KIB   one write in flight, then fdatasync
 *   fs_uv seqread  FILE MIB BLOCK_KIB   one read in flight
 *   fs_uv small    DIR N SIZE CONC      CONC chains of open/write/close,
 *                                       open/read/close, unlink; chain k
 *                                       takes files k, k+CONC, ...
 *
 * Prints `<metric> <value>` lines (as fs_c.c). Exits 1 on any error. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

static uv_loop_t *loop;

static void fail(const char *what, ssize_t r) {
    fprintf(stderr, "fs_uv: %s: %s\n", what, uv_strerror((int)r));
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

static char *pattern(size_t len) {
    char *p = malloc(len);
    if (!p) exit(1);
    for (size_t i = 0; i < len; i++) p[i] = (char)(i * 131 + 7);
    return p;
}

/* ---- sequential -------------------------------------------------------------- */

static struct {
    uv_fs_t req;
    uv_file fd;
    uv_buf_t buf;
    size_t total, done;
    bool writing;
    double t0, tw, ts;
} seq;

static void seq_step(uv_fs_t *req);

static void seq_next(void) {
    if (seq.writing && seq.done >= seq.total) {
        seq.tw = now_s() - seq.t0;
        seq.ts = now_s();
        uv_fs_fdatasync(loop, &seq.req, seq.fd, seq_step);
    } else if (seq.writing) {
        uv_fs_write(loop, &seq.req, seq.fd, &seq.buf, 1, -1, seq_step);
    } else {
        uv_fs_read(loop, &seq.req, seq.fd, &seq.buf, 1, -1, seq_step);
    }
}

static void seq_step(uv_fs_t *req) {
    ssize_t r = req->result;
    uv_fs_type t = req->fs_type;
    uv_fs_req_cleanup(req);
    if (r < 0) fail("fs request", r);
    switch (t) {
    case UV_FS_OPEN:
        seq.fd = (uv_file)r;
        seq_next();
        break;
    case UV_FS_WRITE:
    case UV_FS_READ:
        if (r == 0 && !seq.writing) {
            seq.tw = now_s() - seq.t0;
            uv_fs_close(loop, &seq.req, seq.fd, seq_step);
            break;
        }
        if (!seq.writing && seq.done == 0 && seq.buf.base[1] != (char)(1 * 131 + 7)) {
            fprintf(stderr, "fs_uv: wrong content\n");
            exit(1);
        }
        seq.done += (size_t)r;
        seq_next();
        break;
    case UV_FS_FDATASYNC:
        seq.ts = now_s() - seq.ts;
        uv_fs_close(loop, &seq.req, seq.fd, seq_step);
        break;
    default:
        break;
    }
}

static void seqrun(const char *path, size_t total, size_t block, bool writing) {
    seq.total = total;
    seq.writing = writing;
    seq.buf = uv_buf_init(writing ? pattern(block) : malloc(block), (unsigned)block);
    seq.t0 = now_s();
    int flags = writing ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY;
    int r = uv_fs_open(loop, &seq.req, path, flags | O_CLOEXEC, 0644, seq_step);
    if (r < 0) fail("uv_fs_open", r);
    uv_run(loop, UV_RUN_DEFAULT);
    if (writing) {
        printf("seq_write_mbps %.1f\nseq_sync_ms %.1f\n", (double)total / seq.tw / 1e6,
               seq.ts * 1e3);
    } else {
        if (seq.done != total) {
            fprintf(stderr, "fs_uv: read %zu bytes, expected %zu\n", seq.done, total);
            exit(1);
        }
        printf("seq_read_mbps %.1f\n", (double)total / seq.tw / 1e6);
    }
    free(seq.buf.base);
}

/* ---- small files ----------------------------------------------------------- */

enum { PH_CREATE, PH_READ, PH_DELETE };

typedef struct chain {
    uv_fs_t req;
    int next, step; /* next file; step within the file's operation */
    uv_file fd;
    char *buf; /* read buffer: SIZE + 1 */
    size_t got;
} chain;

static struct {
    const char *dir;
    int n, conc, phase;
    size_t size;
    char *data;
} sm;

static void chain_step(uv_fs_t *req);

static void chain_path(chain *c, char *path, size_t cap) {
    snprintf(path, cap, "%s/f%d", sm.dir, c->next);
}

/* Starts the first request of c's next file, if any. */
static void chain_start(chain *c) {
    if (c->next >= sm.n) return;
    char path[4096];
    chain_path(c, path, sizeof path);
    c->step = 0;
    c->got = 0;
    int r;
    if (sm.phase == PH_CREATE)
        r = uv_fs_open(loop, &c->req, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644,
                       chain_step);
    else if (sm.phase == PH_READ)
        r = uv_fs_open(loop, &c->req, path, O_RDONLY | O_CLOEXEC, 0, chain_step);
    else
        r = uv_fs_unlink(loop, &c->req, path, chain_step);
    if (r < 0) fail("start", r);
}

static void chain_done_file(chain *c) {
    c->next += sm.conc;
    chain_start(c);
}

static void chain_step(uv_fs_t *req) {
    chain *c = (chain *)req;
    ssize_t r = req->result;
    uv_fs_type t = req->fs_type;
    uv_fs_req_cleanup(req);
    if (r < 0) fail("fs request", r);
    switch (t) {
    case UV_FS_OPEN: {
        c->fd = (uv_file)r;
        uv_buf_t b = sm.phase == PH_CREATE ? uv_buf_init(sm.data, (unsigned)sm.size)
                                           : uv_buf_init(c->buf, (unsigned)sm.size + 1);
        if (sm.phase == PH_CREATE)
            uv_fs_write(loop, &c->req, c->fd, &b, 1, -1, chain_step);
        else
            uv_fs_read(loop, &c->req, c->fd, &b, 1, -1, chain_step);
        break;
    }
    case UV_FS_WRITE:
        if ((size_t)r != sm.size) fail("short write", 0);
        uv_fs_close(loop, &c->req, c->fd, chain_step);
        break;
    case UV_FS_READ:
        if (r > 0) { /* read until end of file, as the others do */
            c->got += (size_t)r;
            uv_buf_t b = uv_buf_init(c->buf + c->got, (unsigned)(sm.size + 1 - c->got));
            if (c->got <= sm.size) {
                uv_fs_read(loop, &c->req, c->fd, &b, 1, -1, chain_step);
                break;
            }
        }
        if (c->got != sm.size) {
            fprintf(stderr, "fs_uv: short file\n");
            exit(1);
        }
        uv_fs_close(loop, &c->req, c->fd, chain_step);
        break;
    case UV_FS_CLOSE:
    case UV_FS_UNLINK:
        chain_done_file(c);
        break;
    default:
        break;
    }
}

static double phase_cpu_us[3];

static double small_phase(chain *cs, int phase) {
    sm.phase = phase;
    double t0 = now_s(), c0 = cpu_s();
    for (int k = 0; k < sm.conc; k++) {
        cs[k].next = k;
        chain_start(&cs[k]);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    phase_cpu_us[phase] = (cpu_s() - c0) * 1e6 / sm.n;
    return sm.n / (now_s() - t0);
}

static void small(const char *dir, int n, size_t size, int conc) {
    sm.dir = dir;
    sm.n = n;
    sm.size = size;
    sm.conc = conc;
    sm.data = pattern(size);
    chain *cs = calloc((size_t)conc, sizeof *cs);
    if (!cs) exit(1);
    for (int k = 0; k < conc; k++)
        if (!(cs[k].buf = malloc(size + 1))) exit(1);
    uv_fs_t req;
    uv_fs_mkdir(NULL, &req, dir, 0755, NULL);
    uv_fs_req_cleanup(&req);
    double t0 = now_s();
    double c = small_phase(cs, PH_CREATE), r = small_phase(cs, PH_READ),
           d = small_phase(cs, PH_DELETE);
    double all = 3.0 * n / (now_s() - t0);
    uv_fs_rmdir(NULL, &req, dir, NULL);
    uv_fs_req_cleanup(&req);
    printf(
        "small_create_ops %.0f\nsmall_read_ops %.0f\nsmall_delete_ops %.0f\nsmall_all_ops %.0f\n",
        c, r, d, all);
    printf("small_create_cpu_us %.2f\nsmall_read_cpu_us %.2f\nsmall_delete_cpu_us %.2f\n",
           phase_cpu_us[0], phase_cpu_us[1], phase_cpu_us[2]);
    for (int k = 0; k < conc; k++) free(cs[k].buf);
    free(cs);
    free(sm.data);
}

int main(int argc, char **argv) {
    loop = uv_default_loop();
    if (argc == 5 && (!strcmp(argv[1], "seqwrite") || !strcmp(argv[1], "seqread"))) {
        size_t total = strtoull(argv[3], NULL, 10) << 20, block = strtoull(argv[4], NULL, 10) << 10;
        if (!total || !block) return 2;
        seqrun(argv[2], total, block, argv[1][3] == 'w');
    } else if (argc == 6 && !strcmp(argv[1], "small")) {
        int conc = atoi(argv[5]);
        small(argv[2], atoi(argv[3]), strtoull(argv[4], NULL, 10), conc > 0 ? conc : 1);
    } else {
        fprintf(stderr,
                "usage: fs_uv seqwrite|seqread FILE MIB BLOCK_KIB | small DIR N SIZE CONC\n");
        return 2;
    }
    uv_loop_close(loop);
    return 0;
}
