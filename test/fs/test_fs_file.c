/* File handles, metadata and directory operations. */
#include "fs_util.h"

TestSuite(fs_file, .init = fs_setup, .fini = fs_teardown, .timeout = 120);

static void *t_rw_seek(void *arg) {
    char p[512];
    ax_file *f;
    cr_assert_eq(ax_file_open(P(p, "h"), AX_FILE_READ | AX_FILE_WRITE | AX_FILE_CREATE, 0600, &f,
                              AX_NO_DEADLINE),
                 0);
    cr_assert_eq(ax_file_write(f, "hello world", 11, AX_NO_DEADLINE), 11);
    cr_assert_eq(ax_file_seek(f, 0, SEEK_SET, AX_NO_DEADLINE), 0);
    char buf[32] = {0};
    cr_assert_eq(ax_file_read(f, buf, 5, AX_NO_DEADLINE), 5);
    cr_assert_str_eq(buf, "hello");
    cr_assert_eq(ax_file_seek(f, -5, SEEK_END, AX_NO_DEADLINE), 6);
    memset(buf, 0, sizeof buf);
    cr_assert_eq(ax_file_read(f, buf, sizeof buf, AX_NO_DEADLINE), 5);
    cr_assert_str_eq(buf, "world");
    cr_assert_eq(ax_file_read(f, buf, sizeof buf, AX_NO_DEADLINE), 0); /* end */
    cr_assert_eq(ax_file_seek(f, 5, SEEK_SET, AX_NO_DEADLINE), 5);
    cr_assert_eq(ax_file_write(f, ",", 1, AX_NO_DEADLINE), 1);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "hello,world");
    free(g);
    assert_mode(p, 0600);
    return NULL;
}
Test(fs_file, open_read_write_seek_close) {
    run(t_rw_seek, NULL);
}

static void *t_at(void *arg) {
    char p[512];
    put(P(p, "at"), "0123456789", 10);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ | AX_FILE_WRITE, 0, &f, AX_NO_DEADLINE), 0);
    char buf[8] = {0};
    cr_assert_eq(ax_file_read_at(f, buf, 3, 4, AX_NO_DEADLINE), 3);
    cr_assert_str_eq(buf, "456");
    cr_assert_eq(ax_file_write_at(f, "AB", 2, 8, AX_NO_DEADLINE), 2);
    cr_assert_eq(ax_file_read_at(f, buf, 8, 7, AX_NO_DEADLINE), 3); /* short at the end */
    cr_assert_eq(memcmp(buf, "7AB", 3), 0);
    ax_fs_info st;
    cr_assert_eq(ax_file_truncate(f, 4, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_file_sync(f, true, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_file_sync(f, false, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_file_stat(f, &st, AX_NO_DEADLINE), 0);
    cr_assert_eq(st.size, 4);
    cr_assert_eq(st.type, AX_FS_TYPE_FILE);
    ax_buf *b;
    cr_assert_eq(ax_file_read_buf(f, 0, &b, AX_NO_DEADLINE), 4);
    cr_assert_eq(memcmp(ax_buf_data(b), "0123", 4), 0);
    ax_buf_unref(b);
    cr_assert_eq(ax_file_read_buf(f, 0, &b, AX_NO_DEADLINE), 0);
    cr_assert_null(b);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    return NULL;
}
Test(fs_file, read_at_write_at_truncate_sync_stat) {
    run(t_at, NULL);
}

static void *t_bufreader(void *arg) {
    char p[512];
    put(P(p, "lines"), "first\r\nsecond\nthird", 19);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), 0);
    ax_bufreader r;
    cr_assert_eq(ax_bufreader_init(&r, ax_file_stream(f), 8), 0);
    char line[64];
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), 5);
    cr_assert_str_eq(line, "first");
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), 6);
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), 5);
    cr_assert_str_eq(line, "third");
    cr_assert_eq(ax_bufreader_read_line(&r, line, sizeof line, AX_NO_DEADLINE), AX_EOF);
    ax_bufreader_free(&r);
    ax_stream_close(ax_file_stream(f));
    return NULL;
}
Test(fs_file, bufreader_over_file_stream) {
    run(t_bufreader, NULL);
}

/* 8 MiB through an ax_bufwriter: write-behind with one chunk in flight. */
static void *t_bufwriter(void *arg) {
    char p[512];
    ax_file *f;
    cr_assert_eq(ax_file_open(P(p, "bw"), AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_TRUNC, 0, &f,
                              AX_NO_DEADLINE),
                 0);
    ax_bufwriter w;
    cr_assert_eq(ax_bufwriter_init(&w, ax_file_stream(f), 4096), 0);
    char rec[100];
    for (int i = 0; i < 83886; i++) {
        int n = snprintf(rec, sizeof rec, "%08d\n", i);
        cr_assert_eq(ax_bufwriter_write(&w, rec, (size_t)n, AX_NO_DEADLINE), 0);
    }
    cr_assert_eq(ax_bufwriter_flush(&w, AX_NO_DEADLINE), 0);
    ax_bufwriter_free(&w);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    size_t len = 0;
    char *g = get(p, &len);
    cr_assert_eq(len, 83886u * 9);
    cr_assert_eq(memcmp(g + 9 * 4242, "00004242\n", 9), 0);
    free(g);
    return NULL;
}
Test(fs_file, bufwriter_over_file_stream) {
    run(t_bufwriter, NULL);
}

static void *t_atomic_handle(void *arg) {
    char p[512];
    put(P(p, "cfg"), "old", 3);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_ATOMIC, 0, &f, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_file_write(f, "new content", 11, AX_NO_DEADLINE), 11);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "old"); /* not yet */
    free(g);
    cr_assert_eq(ax_file_commit(f, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_file_write(f, "x", 1, AX_NO_DEADLINE), AX_ECLOSED);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    g = get(p, NULL);
    cr_assert_str_eq(g, "new content");
    free(g);
    /* closed without a commit: the target stays, the temporary file goes */
    cr_assert_eq(ax_file_open(p, AX_FILE_ATOMIC, 0, &f, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_file_write(f, "abandoned", 9, AX_NO_DEADLINE), 9);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    g = get(p, NULL);
    cr_assert_str_eq(g, "new content");
    free(g);
    ax_fs_dirent *e;
    size_t n;
    cr_assert_eq(ax_fs_read_dir(dir, &e, &n, AX_NO_DEADLINE), 0);
    cr_assert_eq(n, 1);
    ax_fs_dirents_free(e, n);
    return NULL;
}
Test(fs_file, atomic_handle_commit_and_abandon) {
    run(t_atomic_handle, NULL);
}

static void *t_meta(void *arg) {
    char p[512], q[512];
    put(P(p, "m"), "12345", 5);
    ax_fs_info st;
    cr_assert_eq(ax_fs_stat(p, &st, AX_NO_DEADLINE), 0);
    cr_assert_eq(st.size, 5);
    cr_assert_eq(st.type, AX_FS_TYPE_FILE);
    cr_assert_eq(st.mode, 0644);
    cr_assert_gt(st.mtime_ns, 0);
    cr_assert_eq(ax_fs_stat(dir, &st, AX_NO_DEADLINE), 0);
    cr_assert_eq(st.type, AX_FS_TYPE_DIR);
    cr_assert_eq(ax_fs_symlink("m", P(q, "ln"), AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_lstat(q, &st, AX_NO_DEADLINE), 0);
    cr_assert_eq(st.type, AX_FS_TYPE_SYMLINK);
    cr_assert_eq(ax_fs_stat(q, &st, AX_NO_DEADLINE), 0);
    cr_assert_eq(st.type, AX_FS_TYPE_FILE);
    char *t;
    cr_assert_eq(ax_fs_readlink(q, &t, AX_NO_DEADLINE), 0);
    cr_assert_str_eq(t, "m");
    free(t);
    cr_assert_eq(ax_fs_readlink(p, &t, AX_NO_DEADLINE), AX_EINVAL); /* not a link */
    cr_assert_eq(ax_fs_exists(p, AX_NO_DEADLINE), 1);
    cr_assert_eq(ax_fs_exists(P(q, "none"), AX_NO_DEADLINE), 0);
    return NULL;
}
Test(fs_file, stat_lstat_symlink_readlink_exists) {
    AX_WINE_SKIP(AX_WINE_NO_SYMLINK);
    fs_symlinks_or_skip();
    run(t_meta, NULL);
}

static void *t_dirs(void *arg) {
    char p[512], q[512];
    cr_assert_eq(ax_fs_mkdir(P(p, "a/b/c"), 0, false, AX_NO_DEADLINE), AX_ENOENT);
    cr_assert_eq(ax_fs_mkdir(p, 0750, true, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_mkdir(p, 0750, true, AX_NO_DEADLINE), 0); /* exists: fine */
    cr_assert_eq(ax_fs_mkdir(p, 0, false, AX_NO_DEADLINE), AX_EEXIST);
    cr_assert_eq(ax_fs_exists(p, AX_NO_DEADLINE), 1);
    put(P(q, "a/b/z.txt"), "z", 1);
    put(P(q, "a/b/y.txt"), "y", 1);
    ax_fs_dirent *e;
    size_t n;
    cr_assert_eq(ax_fs_read_dir(P(p, "a/b"), &e, &n, AX_NO_DEADLINE), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(e[0].name, "c");
    cr_assert_eq(e[0].type, AX_FS_TYPE_DIR);
    cr_assert_str_eq(e[1].name, "y.txt");
    cr_assert_eq(e[1].type, AX_FS_TYPE_FILE);
    cr_assert_str_eq(e[2].name, "z.txt");
    ax_fs_dirents_free(e, n);
    cr_assert_eq(ax_fs_read_dir(P(p, "a/b/z.txt"), &e, &n, AX_NO_DEADLINE), AX_ENOTDIR);
    return NULL;
}
Test(fs_file, mkdir_recursive_and_read_dir) {
    run(t_dirs, NULL);
}

static void *t_remove(void *arg) {
    char p[512], q[512], keep[512];
    put(P(keep, "keep"), "k", 1);
    cr_assert_eq(ax_fs_mkdir(P(p, "t/u/v"), 0, true, AX_NO_DEADLINE), 0);
    put(P(q, "t/u/v/f"), "f", 1);
    put(P(q, "t/g"), "g", 1);
    cr_assert_eq(symlink(dir, P(q, "t/u/escape")), 0); /* must be removed, not followed */
    cr_assert_eq(ax_fs_remove(P(p, "t"), AX_NO_DEADLINE), AX_ENOTEMPTY);
    cr_assert_eq(ax_fs_remove(P(p, "t/g"), AX_NO_DEADLINE), 0);
    cr_assert_eq(access(p, F_OK), -1);
    cr_assert_eq(ax_fs_remove_all(P(p, "t"), AX_NO_DEADLINE), 0);
    cr_assert_eq(access(p, F_OK), -1);
    cr_assert_eq(access(keep, F_OK), 0);
    cr_assert_eq(ax_fs_remove_all(P(p, "t"), AX_NO_DEADLINE), 0); /* missing: fine */
    cr_assert_eq(ax_fs_remove(P(p, "nothing"), AX_NO_DEADLINE), AX_ENOENT);
    cr_assert_eq(ax_fs_mkdir(P(p, "empty"), 0, false, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_remove(p, AX_NO_DEADLINE), 0);
    return NULL;
}
Test(fs_file, remove_and_remove_all) {
    fs_symlinks_or_skip();
    run(t_remove, NULL);
}

static void *t_rename_copy(void *arg) {
    char p[512], q[512];
    put(P(p, "src"), "payload", 7);
    chmod(p, 0640);
    cr_assert_eq(ax_fs_copy(p, P(q, "dst"), AX_NO_DEADLINE), 7);
    char *g = get(q, NULL);
    cr_assert_str_eq(g, "payload");
    free(g);
    assert_mode(q, 0640);
    cr_assert_eq(ax_fs_rename(p, P(q, "moved"), AX_NO_DEADLINE), 0);
    cr_assert_eq(access(p, F_OK), -1);
    g = get(q, NULL);
    cr_assert_str_eq(g, "payload");
    free(g);
    cr_assert_eq(ax_fs_copy(P(p, "gone"), q, AX_NO_DEADLINE), AX_ENOENT);
    /* a large copy */
    size_t n = 8u << 20;
    char *big = malloc(n);
    memset(big, 'q', n);
    put(P(p, "bigsrc"), big, n);
    free(big);
    cr_assert_eq(ax_fs_copy(p, P(q, "bigdst"), AX_NO_DEADLINE), (int64_t)n);
    struct stat st;
    stat(q, &st);
    cr_assert_eq((size_t)st.st_size, n);
    return NULL;
}
Test(fs_file, rename_and_copy) {
    run(t_rename_copy, NULL);
}

/* Under a policy: `..` out of the root, an absolute symlink and a relative
 * one leading out are refused by the kernel's resolution, not by luck. */
static void *t_escape(void *arg) {
    char p[512];
    void *d;
    snprintf(p, sizeof p, "%s/root/../outside.txt", dir);
    cr_assert_eq(ax_fs_read_file(p, &d, NULL, AX_NO_DEADLINE), AX_EPOLICY);
    snprintf(p, sizeof p, "%s/root/abs/outside.txt", dir);
    cr_assert_eq(ax_fs_read_file(p, &d, NULL, AX_NO_DEADLINE), AX_EPOLICY);
    snprintf(p, sizeof p, "%s/root/rel/outside.txt", dir);
    cr_assert_eq(ax_fs_read_file(p, &d, NULL, AX_NO_DEADLINE), AX_EPOLICY);
    snprintf(p, sizeof p, "%s/root/rel/new.txt", dir);
    cr_assert_eq(ax_fs_write_file(p, "x", 1, NULL, AX_NO_DEADLINE), AX_EPOLICY);
    ax_fs_info st;
    snprintf(p, sizeof p, "%s/root/abs", dir);
    cr_assert_eq(ax_fs_stat(p, &st, AX_NO_DEADLINE), AX_EPOLICY); /* follows: refused */
    cr_assert_eq(ax_fs_lstat(p, &st, AX_NO_DEADLINE), 0);         /* the link itself */
    snprintf(p, sizeof p, "%s/root/in.txt", dir);
    size_t len = 0;
    cr_assert_eq(ax_fs_read_file(p, &d, &len, AX_NO_DEADLINE), 0);
    free(d);
    snprintf(p, sizeof p, "%s/root/sub/deeper/f", dir);
    ax_fs_write_opts o = {.flags = AX_FS_MKDIRS | AX_FS_ATOMIC};
    cr_assert_eq(ax_fs_write_file(p, "x", 1, &o, AX_NO_DEADLINE), 0);
    return NULL;
}
Test(fs_file, policy_paths_cannot_escape_the_root) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
    char p[512], r[512];
    put(P(p, "outside.txt"), "out", 3);
    mkdir(P(r, "root"), 0755);
    put(P(p, "root/in.txt"), "in", 2);
    symlink(dir, P(p, "root/abs"));
    symlink("..", P(p, "root/rel"));
    install_policy(r, r);
    run(t_escape, NULL);
    cr_assert_eq(access(P(p, "new.txt"), F_OK), -1);
}
