/* Names and the cases where Windows differs from POSIX underneath the same
 * API (fs/fs_os.h): UTF-8 names beyond ASCII, removing a read-only file,
 * renaming over a file someone has open, and the errors of a missing
 * name. The same expectations hold on every OS. */
#include "fs_util.h"

TestSuite(fs_names, .init = fs_setup, .fini = fs_teardown, .timeout = 60);

/* "h\u00e9llo \u20ac \U0001F600" and "\u65e5\u672c": two, three and four-byte
 * sequences (a surrogate pair in UTF-16). */
#define NAME1 "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80.txt"
#define NAME2 "\xe6\x97\xa5\xe6\x9c\xac"

static void *t_utf8(void *arg) {
    char p[512], q[512];
    cr_assert_eq(ax_fs_write_file(P(p, NAME1), "one", 3, NULL, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_mkdir(P(q, NAME2), 0755, false, AX_NO_DEADLINE), 0);
    ax_fs_dirent *e;
    size_t n;
    cr_assert_eq(ax_fs_read_dir(dir, &e, &n, AX_NO_DEADLINE), 0);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(e[0].name, NAME1); /* sorted by bytes: 'h' < 0xe6 */
    cr_assert_eq(e[0].type, AX_FS_TYPE_FILE);
    cr_assert_str_eq(e[1].name, NAME2);
    cr_assert_eq(e[1].type, AX_FS_TYPE_DIR);
    ax_fs_dirents_free(e, n);
    ax_fs_info st;
    cr_assert_eq(ax_fs_stat(p, &st, AX_NO_DEADLINE), 0);
    cr_assert_eq(st.size, 3);
    char to[600];
    snprintf(to, sizeof to, "%s/%s/%s", dir, NAME2, NAME1);
    cr_assert_eq(ax_fs_rename(p, to, AX_NO_DEADLINE), 0);
    void *d;
    size_t len = 0;
    cr_assert_eq(ax_fs_read_file(to, &d, &len, AX_NO_DEADLINE), 0);
    cr_assert_eq(len, 3);
    cr_assert_eq(memcmp(d, "one", 3), 0);
    free(d);
    cr_assert_eq(ax_fs_read_file(p, &d, NULL, AX_NO_DEADLINE), AX_ENOENT);
    cr_assert_eq(ax_fs_remove_all(q, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_exists(q, AX_NO_DEADLINE), 0);
    return NULL;
}
Test(fs_names, utf8_names_round_trip) {
    run(t_utf8, NULL);
}

/* POSIX removes and replaces a read-only file when its directory is
 * writable; on Windows the read-only attribute has to be taken off first. */
static void *t_read_only(void *arg) {
    char p[512];
    ax_fs_write_opts o = {.mode = 0444};
    cr_assert_eq(ax_fs_write_file(P(p, "ro"), "x", 1, &o, AX_NO_DEADLINE), 0);
    assert_mode(p, 0444);
    ax_fs_info st;
    cr_assert_eq(ax_fs_stat(p, &st, AX_NO_DEADLINE), 0);
    cr_assert_eq(st.mode & 0200, 0);
    /* an atomic write renames over it, keeping its mode */
    o.flags = AX_FS_ATOMIC;
    cr_assert_eq(ax_fs_write_file(p, "yy", 2, &o, AX_NO_DEADLINE), 0);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "yy");
    free(g);
    assert_mode(p, 0444);
    cr_assert_eq(ax_fs_remove(p, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_exists(p, AX_NO_DEADLINE), 0);
    return NULL;
}
Test(fs_names, read_only_file_replaced_atomically_and_removed) {
    run(t_read_only, NULL);
}

/* A reader keeps what it opened while the name is renamed over and then
 * removed (files are opened with FILE_SHARE_DELETE on Windows). */
static void *t_open_rename(void *arg) {
    char p[512], q[512];
    put(P(p, "target"), "old content", 11);
    put(P(q, "next"), "new", 3);
    ax_file *f;
    cr_assert_eq(ax_file_open(p, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), 0);
    int r = ax_fs_rename(q, p, AX_NO_DEADLINE);
    char *g = get(p, NULL);
#ifdef _WIN32
    /* MoveFileExW (and wine) refuse to replace a file that is open: the
     * documented AX_EACCES (fs/fs_os.h), with both files left as they were. */
    if (r == AX_EACCES) {
        cr_assert_str_eq(g, "old content");
        free(g);
        g = get(q, NULL);
        cr_assert_str_eq(g, "new");
        cr_assert_eq(ax_fs_remove(q, AX_NO_DEADLINE), 0);
    } else
#endif
    {
        cr_assert_eq(r, 0);
        cr_assert_str_eq(g, "new");
    }
    free(g);
    char buf[32] = {0};
    cr_assert_eq(ax_file_read_at(f, buf, sizeof buf - 1, 0, AX_NO_DEADLINE), 11);
    cr_assert_str_eq(buf, "old content");
    cr_assert_eq(ax_fs_remove(p, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_file_close(f, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_fs_exists(p, AX_NO_DEADLINE), 0);
    return NULL;
}
Test(fs_names, rename_over_and_remove_an_open_file) {
    run(t_open_rename, NULL);
}

/* The same AX_E* for the same mistake on every OS. */
static void *t_errors(void *arg) {
    char p[512], q[512];
    put(P(p, "file"), "f", 1);
    ax_fs_info st;
    cr_assert_eq(ax_fs_stat(P(q, "missing"), &st, AX_NO_DEADLINE), AX_ENOENT);
    cr_assert_eq(ax_fs_remove(q, AX_NO_DEADLINE), AX_ENOENT);
    cr_assert_eq(ax_fs_rename(q, P(p, "x"), AX_NO_DEADLINE), AX_ENOENT);
    ax_file *f;
    cr_assert_eq(ax_file_open(q, AX_FILE_READ, 0, &f, AX_NO_DEADLINE), AX_ENOENT);
    P(p, "file");
    cr_assert_eq(
        ax_file_open(p, AX_FILE_WRITE | AX_FILE_CREATE | AX_FILE_EXCL, 0644, &f, AX_NO_DEADLINE),
        AX_EEXIST);
    cr_assert_eq(ax_fs_mkdir(p, 0755, false, AX_NO_DEADLINE), AX_EEXIST);
    cr_assert_eq(ax_file_open(dir, AX_FILE_WRITE, 0, &f, AX_NO_DEADLINE), AX_EISDIR);
    cr_assert_eq(ax_fs_mkdir(P(q, "d"), 0755, false, AX_NO_DEADLINE), 0);
    put(P(p, "d/inner"), "i", 1);
    cr_assert_eq(ax_fs_remove(q, AX_NO_DEADLINE), AX_ENOTEMPTY);
    return NULL;
}
Test(fs_names, errors_of_missing_and_existing_names) {
    run(t_errors, NULL);
}
