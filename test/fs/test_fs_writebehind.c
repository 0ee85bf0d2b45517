/* Writing through file handles: write-behind keeps two write jobs in
 * flight on a regular file (the task copies block n + 1 while block n is
 * written), one on an append-mode file. Whatever is in flight, the bytes
 * land where and in the order they were written. */
#include "fs_util.h"

TestSuite(fs_writebehind, .init = fs_setup, .fini = fs_teardown, .timeout = 120);

/* Blocks of uneven sizes, around and above the 1 MiB write chunk, so jobs
 * of different lengths overlap; then a seek back, an overwrite and a
 * write_at in the middle, each of which must wait for the jobs in flight. */
static void *t_blocks(void *arg) {
    const char *p = arg;
    const size_t total = 24u << 20;
    unsigned char *src = fs_pattern_new(total);
    ax_file *f;
    cr_assert_eq(
        ax_file_open(p, AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC, 0644, &f, AX_NO_DEADLINE),
        0);
    size_t done = 0;
    for (unsigned k = 0; done < total; k++) {
        size_t n = (k % 3 == 0 ? 1u << 20 : k % 3 == 1 ? 333333u : 1536u * 1024u) + k * 17u;
        if (n > total - done) n = total - done;
        cr_assert_eq(ax_file_write(f, src + done, n, AX_NO_DEADLINE), (ssize_t)n);
        done += n;
    }
    /* Overwrite 3 bytes at 5 MiB through the position, 3 at 9 MiB with
     * write_at: both after jobs that may still be writing those ranges. */
    cr_assert_eq(ax_file_seek(f, 5u << 20, SEEK_SET, AX_NO_DEADLINE), 5 << 20);
    cr_assert_eq(ax_file_write(f, "ABC", 3, AX_NO_DEADLINE), 3);
    memcpy(src + (5u << 20), "ABC", 3);
    cr_assert_eq(ax_file_write_at(f, "XYZ", 3, 9u << 20, AX_NO_DEADLINE), 3);
    memcpy(src + (9u << 20), "XYZ", 3);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    assert_file_is(p, src, total);
    free(src);
    return NULL;
}

Test(fs_writebehind, overlapping_block_writes_land_in_place) {
    char p[512];
    run(t_blocks, P(p, "blocks"));
}

/* Append mode: records of many sizes (some above the write chunk) come out
 * whole and in the order they were written. */
static size_t record_len(unsigned k) {
    return k % 10 == 9 ? 1200000u + k : 100u + k * 997u;
}

static void *t_append(void *arg) {
    const char *p = arg;
    put(p, "head|", 5);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_APPEND, 0, &f, AX_NO_DEADLINE), 0);
    size_t total = 5;
    unsigned char *rec = malloc(1300000);
    for (unsigned k = 0; k < 60; k++) {
        size_t n = record_len(k);
        memset(rec, 'a' + (int)(k % 26), n);
        cr_assert_eq(ax_file_write(f, rec, n, AX_NO_DEADLINE), (ssize_t)n);
        total += n;
    }
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    size_t len = 0;
    char *got = get(p, &len);
    cr_assert_eq(len, total);
    cr_assert_eq(memcmp(got, "head|", 5), 0);
    size_t at = 5;
    for (unsigned k = 0; k < 60; k++) {
        size_t n = record_len(k);
        for (size_t i = 0; i < n; i++)
            if (got[at + i] != 'a' + (int)(k % 26)) cr_assert_fail("record %u byte %zu", k, i);
        at += n;
    }
    free(got);
    free(rec);
    return NULL;
}

Test(fs_writebehind, append_records_keep_their_order) {
    char p[512];
    run(t_append, P(p, "log"));
}

/* Reading back right after writing, through the same handle, sees every
 * byte: a read waits for both write jobs. */
static void *t_read_back(void *arg) {
    const char *p = arg;
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ | AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC,
                              0644, &f, AX_NO_DEADLINE),
                 0);
    unsigned char *b = fs_pattern_new(3u << 20);
    cr_assert_eq(ax_file_write(f, b, 3u << 20, AX_NO_DEADLINE), 3 << 20);
    cr_assert_eq(ax_file_seek(f, 0, SEEK_SET, AX_NO_DEADLINE), 0);
    unsigned char *r = malloc(3u << 20);
    size_t got = 0;
    while (got < (3u << 20)) {
        ssize_t n = ax_file_read(f, r + got, (3u << 20) - got, AX_NO_DEADLINE);
        cr_assert_gt(n, 0);
        got += (size_t)n;
    }
    cr_assert_eq(memcmp(r, b, 3u << 20), 0);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    free(r);
    free(b);
    return NULL;
}

Test(fs_writebehind, read_after_write_sees_every_byte) {
    char p[512];
    run(t_read_back, P(p, "rb"));
}
