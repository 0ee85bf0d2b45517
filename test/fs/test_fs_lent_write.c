/* Large writes through a file handle (256 KiB and up, ax_file_write and
 * ax_file_write_at) go from the caller's memory straight to pwrite(2), a
 * piece at a time, without a copy. The caller's bytes are lent: once the
 * call returns, whether it finished, timed out or was cancelled, nothing
 * reads them again, so the caller may reuse or free them at once. */
#include "fs_util.h"

#include <stdatomic.h>

TestSuite(fs_lent_write, .init = fs_setup, .fini = fs_teardown, .timeout = 120);

/* Large (lent) and small (write-behind) writes in turn, a large write_at
 * over the middle and a seek back: every byte lands where it was written
 * and the position follows. */
static void *t_mixed(void *arg) {
    const char *p = arg;
    const size_t total = 12u << 20;
    unsigned char *src = fs_pattern_new(total);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ | AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC,
                              0644, &f, AX_NO_DEADLINE),
                 0);
    size_t done = 0;
    for (unsigned k = 0; done < total; k++) {
        size_t n = k % 2 ? 3001u + k : (700u << 10) + k * 4099u;
        if (n > total - done) n = total - done;
        cr_assert_eq(ax_file_write(f, src + done, n, AX_NO_DEADLINE), (ssize_t)n);
        done += n;
        cr_assert_eq(ax_file_seek(f, 0, SEEK_CUR, AX_NO_DEADLINE), (int64_t)done);
    }
    /* 1 MiB at 3 MiB + 5 with write_at, from a second buffer. */
    const size_t wn = 1u << 20, woff = (3u << 20) + 5;
    unsigned char *over = malloc(wn);
    for (size_t i = 0; i < wn; i++) over[i] = (unsigned char)~fs_pattern(i);
    cr_assert_eq(ax_file_write_at(f, over, wn, woff, AX_NO_DEADLINE), (ssize_t)wn);
    memcpy(src + woff, over, wn);
    memset(over, 'Z', wn); /* lent bytes are the caller's again */
    free(over);
    /* Back to 1 MiB: a large write there, then a small one after it. */
    cr_assert_eq(ax_file_seek(f, 1u << 20, SEEK_SET, AX_NO_DEADLINE), 1 << 20);
    cr_assert_eq(ax_file_write(f, src, 300u << 10, AX_NO_DEADLINE), (ssize_t)(300u << 10));
    memcpy(src + (1u << 20), src, 300u << 10);
    cr_assert_eq(ax_file_write(f, "tail", 4, AX_NO_DEADLINE), 4);
    memcpy(src + (1u << 20) + (300u << 10), "tail", 4);
    /* A read through the same handle sees all of it. */
    unsigned char back[64];
    cr_assert_eq(ax_file_read_at(f, back, sizeof back, woff - 10, AX_NO_DEADLINE),
                 (ssize_t)sizeof back);
    cr_assert_eq(memcmp(back, src + woff - 10, sizeof back), 0);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    assert_file_is(p, src, total);
    free(src);
    return NULL;
}

Test(fs_lent_write, large_and_small_writes_land_in_place) {
    char p[512];
    run(t_mixed, P(p, "mixed"));
}

#define BIG ((size_t)64 << 20)

/* The file holds exactly `at` bytes, every one of them 'a': nothing the
 * caller wrote into its buffer after the call returned reached it. */
static void assert_prefix_of_a(const char *p, int64_t at) {
    size_t len = 0;
    char *got = get(p, &len);
    cr_assert_eq((int64_t)len, at, "file has %zu bytes, position %lld", len, (long long)at);
    for (size_t i = 0; i < len; i++)
        if (got[i] != 'a') cr_assert_fail("byte %zu is %d after the call returned", i, got[i]);
    free(got);
}

/* A deadline that passes mid-write: the call returns AX_ETIMEDOUT with
 * the position after the bytes written, and the buffer, overwritten and
 * freed at once, is never read again (the job may still be in a pwrite
 * when the deadline passes: the call waits for that one piece). */
static void *t_deadline(void *arg) {
    const char *p = arg;
    char *buf = malloc(BIG);
    memset(buf, 'a', BIG);
    ax_file *f;
    cr_assert_eq(
        ax_file_open(p, AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC, 0644, &f, AX_NO_DEADLINE),
        0);
    ssize_t r = ax_file_write(f, buf, BIG, ax_now() + 1000000u); /* 1 ms */
    memset(buf, 'Z', BIG);
    free(buf);
    cr_assert(r == AX_ETIMEDOUT || r == (ssize_t)BIG, "write: %zd", r);
    int64_t at = ax_file_seek(f, 0, SEEK_CUR, AX_NO_DEADLINE);
    cr_assert(r == AX_ETIMEDOUT ? at < (int64_t)BIG : at == (int64_t)BIG, "position %lld",
              (long long)at);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    ax_sleep(20); /* a job that went on reading would write by now */
    assert_prefix_of_a(p, at);
    return NULL;
}

Test(fs_lent_write, deadline_mid_write_lends_nothing_after_return) {
    char p[512];
    run(t_deadline, P(p, "deadline"));
}

typedef struct {
    const char *path;
    ax_file *f;
    ssize_t r;
    _Atomic int started;
} writer_arg;

static void *t_writer(void *arg) {
    writer_arg *w = arg;
    char *buf = malloc(BIG);
    memset(buf, 'a', BIG);
    atomic_store(&w->started, 1);
    w->r = ax_file_write(w->f, buf, BIG, AX_NO_DEADLINE);
    memset(buf, 'Z', BIG);
    free(buf);
    return NULL;
}

/* Cancelled mid-write: the same, through ax_abort. */
static void *t_cancel(void *arg) {
    writer_arg w = {.path = arg, .r = 1};
    cr_assert_eq(ax_file_open(w.path, AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC, 0644, &w.f,
                              AX_NO_DEADLINE),
                 0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, t_writer, &w), 0);
    while (!atomic_load(&w.started)) ax_sleep(1);
    ax_sleep(1);
    ax_abort(t);
    int jr = ax_join(t, NULL);
    cr_assert(jr == 0 || jr == AX_ECANCELED, "join: %d", jr);
    cr_assert(w.r == AX_ECANCELED || w.r == (ssize_t)BIG, "write: %zd", w.r);
    int64_t at = ax_file_seek(w.f, 0, SEEK_CUR, AX_NO_DEADLINE);
    cr_assert(at >= 0 && at <= (int64_t)BIG, "position %lld", (long long)at);
    cr_assert_eq(ax_file_close(w.f, AX_NO_DEADLINE), 0);
    ax_sleep(20);
    assert_prefix_of_a(w.path, at);
    return NULL;
}

Test(fs_lent_write, cancel_mid_write_lends_nothing_after_return) {
    char p[512];
    run(t_cancel, P(p, "cancel"));
}
