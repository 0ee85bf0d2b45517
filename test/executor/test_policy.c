/* The permission policy: path roots (lexical cleaning, component-wise
 * prefixes, symbolic-link roots, the descriptors fs/ will open beneath),
 * connect and bind rules (names, CIDR ranges, ports), the denial text,
 * installation on a runtime, and checks racing with re-installation. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon.h"
#include "axon/policy.h"
#include "executor/policy_internal.h"
#include "test/sanitizers.h"
#include "test/win_skip.h"

#ifdef _WIN32
/* The file-root tests skip on Windows (AX_WIN_NO_FSROOTS); the helpers
 * they share stay compiled but unused there. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

/* Installations in the race test: fewer under TSan, which is much slower. */
#define AX_TEST_TSAN_ROUNDS (AX_TEST_TSAN ? 3000 : 30000)

/* A scratch tree: <tmp>/data/sub/file, <tmp>/data2/file, <tmp>/etc/passwd,
 * <tmp>/out, and <tmp>/link -> <tmp>/data. */
static char base[256];

static void path_of(char *out, const char *rel) {
    snprintf(out, PATH_MAX, "%s/%s", base, rel);
}

#ifndef _WIN32
static void touch(const char *rel) {
    char p[PATH_MAX];
    path_of(p, rel);
    int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "create %s", p);
    close(fd);
}

static void make_tree(void) {
    char tmpl[] = "/tmp/axon-policy-XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    /* canonical, in case /tmp itself is a link */
    char canon[PATH_MAX];
    cr_assert_not_null(realpath(tmpl, canon));
    cr_assert_lt(strlen(canon), sizeof base);
    strcpy(base, canon);
    const char *dirs[] = {"data", "data/sub", "data2", "etc", "out"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char p[PATH_MAX];
        path_of(p, dirs[i]);
        cr_assert_eq(mkdir(p, 0755), 0);
    }
    touch("data/sub/file");
    touch("data2/file");
    touch("etc/passwd");
    char target[PATH_MAX], link[PATH_MAX];
    path_of(target, "data");
    path_of(link, "link");
    cr_assert_eq(symlink(target, link), 0);
}

static void remove_tree(void) {
    char cmd[sizeof base + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    cr_assert_eq(system(cmd), 0);
}

#else
static void make_tree(void) {}
static void remove_tree(void) {}
#endif

static int check_read(const ax_policy *p, const char *rel) {
    char path[PATH_MAX];
    path_of(path, rel);
    return ax_policy_check_read(p, path, NULL, 0);
}

static int check_write(const ax_policy *p, const char *rel) {
    char path[PATH_MAX];
    path_of(path, rel);
    return ax_policy_check_write(p, path, NULL, 0);
}

Test(policy, no_policy_allows_everything) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1}), 0);
    cr_assert_null(ax_runtime_policy(rt));
    char why[64] = "x";
    cr_assert_eq(ax_policy_check_read(NULL, "/etc/passwd", why, sizeof why), 0);
    cr_assert_str_empty(why);
    cr_assert_eq(ax_policy_check_write(NULL, "/etc/passwd", NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(NULL, "example.com", 443, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_bind(NULL, "0.0.0.0", 80, NULL, 0), 0);
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_READ, "/etc/passwd", 0, NULL, 0), 0);
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_CONNECT, "example.com", 443, NULL, 0), 0);
    /* invalid input is still invalid */
    cr_assert_eq(ax_policy_check_read(NULL, "", NULL, 0), AX_EINVAL);
    cr_assert_eq(ax_policy_check_connect(NULL, "example.com", 70000, NULL, 0), AX_EINVAL);
    ax_runtime_free(rt);
}

Test(policy, installed_empty_policy_denies_everything) {
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1}), 0);
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_runtime_set_policy(rt, p), 0);
    ax_policy_free(p); /* the runtime keeps its own reference */
    char why[128];
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_READ, "/etc/passwd", 0, why, sizeof why),
                 AX_EPOLICY);
    cr_assert_str_eq(why, "read of /etc/passwd denied: not under an allowed read root");
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_WRITE, "/", 0, why, sizeof why), AX_EPOLICY);
    cr_assert_str_eq(why, "write of / denied: not under an allowed write root");
    cr_assert_eq(
        ax__policy_check_rt(rt, AX__POLICY_OP_CONNECT, "example.com", 443, why, sizeof why),
        AX_EPOLICY);
    cr_assert_str_eq(why, "connect to example.com:443 denied: no allow_connect rule matches");
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_BIND, "::", 8080, why, sizeof why),
                 AX_EPOLICY);
    cr_assert_str_eq(why, "bind to [::]:8080 denied: no allow_bind rule matches");
    /* EPOLICY is its own code, not the OS's permission errors */
    cr_assert_neq(AX_EPOLICY, AX_EACCES);
    cr_assert_neq(AX_EPOLICY, AX_EPERM);
    cr_assert_str_eq(ax_err_name(AX_EPOLICY), "AX_EPOLICY");

    /* removing the policy allows everything again */
    cr_assert_eq(ax_runtime_set_policy(rt, NULL), 0);
    cr_assert_null(ax_runtime_policy(rt));
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_READ, "/etc/passwd", 0, NULL, 0), 0);
    cr_assert_eq(ax_runtime_set_policy(NULL, NULL), AX_EINVAL);
    ax_runtime_free(rt);
}

Test(policy, read_and_write_roots, .init = make_tree, .fini = remove_tree) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
#ifndef _WIN32
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    char data[PATH_MAX], out[PATH_MAX];
    path_of(data, "data");
    path_of(out, "out");
    cr_assert_eq(ax_policy_allow_read(p, data), 0);
    cr_assert_eq(ax_policy_allow_write(p, out), 0);
    cr_assert_eq(ax_policy_allow_read(p, data), 0); /* twice is harmless */

    cr_assert_eq(check_read(p, "data"), 0);
    cr_assert_eq(check_read(p, "data/"), 0);
    cr_assert_eq(check_read(p, "data/sub/file"), 0);
    cr_assert_eq(check_read(p, "data/does/not/exist"), 0); /* only strings are compared */
    cr_assert_eq(check_read(p, "etc/passwd"), AX_EPOLICY);
    cr_assert_eq(check_read(p, ""), AX_EPOLICY); /* the base directory itself */
    /* write does not imply read, and read does not imply write */
    cr_assert_eq(check_write(p, "out/log"), 0);
    cr_assert_eq(check_read(p, "out/log"), AX_EPOLICY);
    cr_assert_eq(check_write(p, "data/sub/file"), AX_EPOLICY);
    /* both rights on one directory */
    cr_assert_eq(ax_policy_allow_read(p, out), 0);
    cr_assert_eq(check_read(p, "out/log"), 0);
    ax_policy_free(p);
#endif
}

Test(policy, dot_dot_and_prefix_tricks, .init = make_tree, .fini = remove_tree) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
#ifndef _WIN32
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    char data[PATH_MAX];
    path_of(data, "data");
    cr_assert_eq(ax_policy_allow_read(p, data), 0);

    cr_assert_eq(check_read(p, "data/../etc/passwd"), AX_EPOLICY);
    cr_assert_eq(check_read(p, "data/sub/../../etc/passwd"), AX_EPOLICY);
    cr_assert_eq(check_read(p, "data/sub/../../data/sub/file"), 0);
    cr_assert_eq(check_read(p, "data/./sub//file"), 0);
    cr_assert_eq(check_read(p, "data/sub/.."), 0);
    cr_assert_eq(check_read(p, "data/.."), AX_EPOLICY);
    cr_assert_eq(check_read(p, "data/../data2/file"), AX_EPOLICY);
    /* prefix confusion: /data2 is not under /data */
    cr_assert_eq(check_read(p, "data2/file"), AX_EPOLICY);
    cr_assert_eq(check_read(p, "data2"), AX_EPOLICY);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/data.bak", base);
    cr_assert_eq(ax_policy_check_read(p, path, NULL, 0), AX_EPOLICY);
    /* ".." above "/" stays at "/" */
    snprintf(path, sizeof path, "/../../..%s/data/sub/file", base);
    cr_assert_eq(ax_policy_check_read(p, path, NULL, 0), 0);
    snprintf(path, sizeof path, "/../../..%s/etc/passwd", base);
    cr_assert_eq(ax_policy_check_read(p, path, NULL, 0), AX_EPOLICY);

    /* relative paths are taken from the current directory */
    char cwd[PATH_MAX];
    cr_assert_not_null(getcwd(cwd, sizeof cwd));
    cr_assert_eq(chdir(data), 0);
    cr_assert_eq(ax_policy_check_read(p, "sub/file", NULL, 0), 0);
    cr_assert_eq(ax_policy_check_read(p, ".", NULL, 0), 0);
    cr_assert_eq(ax_policy_check_read(p, "../etc/passwd", NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_read(p, "../data2/file", NULL, 0), AX_EPOLICY);
    cr_assert_eq(chdir(cwd), 0);

    /* the denial names the path as given and as cleaned */
    char why[PATH_MAX * 3];
    path_of(path, "data/../etc/passwd");
    cr_assert_eq(ax_policy_check_read(p, path, why, sizeof why), AX_EPOLICY);
    char expect[PATH_MAX * 3];
    snprintf(expect, sizeof expect,
             "read of %s/data/../etc/passwd denied: %s/etc/passwd is not under an allowed read "
             "root",
             base, base);
    cr_assert_str_eq(why, expect);
    /* a short buffer is truncated and terminated */
    char small[12];
    cr_assert_eq(ax_policy_check_read(p, path, small, sizeof small), AX_EPOLICY);
    cr_assert_str_eq(small, "read of /tm");
    ax_policy_free(p);
#endif
}

Test(policy, root_slash_allows_all_paths) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
#ifndef _WIN32
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_policy_allow_read(p, "/"), 0);
    cr_assert_eq(ax_policy_check_read(p, "/", NULL, 0), 0);
    cr_assert_eq(ax_policy_check_read(p, "/etc/passwd", NULL, 0), 0);
    cr_assert_eq(ax_policy_check_write(p, "/tmp/x", NULL, 0), AX_EPOLICY);
    int fd;
    char rel[PATH_MAX];
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ, "/etc/../etc/passwd", &fd, rel, sizeof rel,
                                     NULL, 0),
                 0);
    cr_assert_str_eq(rel, "etc/passwd");
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ, "/", &fd, rel, sizeof rel, NULL, 0), 0);
    cr_assert_str_eq(rel, ".");
    ax_policy_free(p);
#endif
}

Test(policy, symlink_root_is_canonicalised, .init = make_tree, .fini = remove_tree) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
#ifndef _WIN32
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    char link[PATH_MAX];
    path_of(link, "link"); /* -> data */
    cr_assert_eq(ax_policy_allow_read(p, link), 0);
    /* both spellings of the root are allowed */
    cr_assert_eq(check_read(p, "data/sub/file"), 0);
    cr_assert_eq(check_read(p, "link/sub/file"), 0);
    cr_assert_eq(check_read(p, "link/../etc/passwd"), AX_EPOLICY);
    cr_assert_eq(check_read(p, "data2/file"), AX_EPOLICY);

    /* fs/ gets the root's descriptor (the real directory, opened when the
     * root was added) and the path relative to it */
    char path[PATH_MAX], rel[PATH_MAX];
    int fd = -1;
    path_of(path, "link/./sub//file");
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ, path, &fd, rel, sizeof rel, NULL, 0), 0);
    cr_assert_str_eq(rel, "sub/file");
    struct stat a, b;
    cr_assert_eq(fstat(fd, &a), 0);
    char data[PATH_MAX];
    path_of(data, "data");
    cr_assert_eq(stat(data, &b), 0);
    cr_assert_eq(a.st_ino, b.st_ino);
    cr_assert_eq(a.st_dev, b.st_dev);
    cr_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int f = openat(fd, rel, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(f, 0);
    close(f);
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ, data, &fd, rel, sizeof rel, NULL, 0), 0);
    cr_assert_str_eq(rel, ".");

    /* the root keeps naming the directory it named when it was added */
    char moved[PATH_MAX];
    path_of(moved, "data2");
    cr_assert_eq(unlink(link), 0);
    cr_assert_eq(symlink(moved, link), 0);
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ, path, &fd, rel, sizeof rel, NULL, 0), 0);
    cr_assert_eq(fstat(fd, &a), 0);
    cr_assert_eq(a.st_ino, b.st_ino);

    /* no right, no root; a relative path that does not fit */
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_WRITE, path, &fd, rel, sizeof rel, NULL, 0),
                 AX_EPOLICY);
    char tiny[4];
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ, path, &fd, tiny, sizeof tiny, NULL, 0),
                 AX_ENAMETOOLONG);
    /* no policy: the path as given, relative to the current directory */
    cr_assert_eq(
        ax__policy_root_for(NULL, AX__POLICY_READ, "x/../y", &fd, rel, sizeof rel, NULL, 0), 0);
    cr_assert_eq(fd, AT_FDCWD);
    cr_assert_str_eq(rel, "x/../y");
    ax_policy_free(p);
#endif
}

Test(policy, root_for_both_rights_takes_the_deeper_root, .init = make_tree, .fini = remove_tree) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
#ifndef _WIN32
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    char data[PATH_MAX], sub[PATH_MAX], path[PATH_MAX], rel[PATH_MAX];
    path_of(data, "data");
    path_of(sub, "data/sub");
    cr_assert_eq(ax_policy_allow_read(p, data), 0);
    cr_assert_eq(ax_policy_allow_write(p, sub), 0);
    int fd;
    path_of(path, "data/sub/file");
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ | AX__POLICY_WRITE, path, &fd, rel,
                                     sizeof rel, NULL, 0),
                 0);
    cr_assert_str_eq(rel, "file");
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ, path, &fd, rel, sizeof rel, NULL, 0), 0);
    cr_assert_str_eq(rel, "sub/file");
    path_of(path, "data/other");
    char why[PATH_MAX * 2];
    cr_assert_eq(ax__policy_root_for(p, AX__POLICY_READ | AX__POLICY_WRITE, path, &fd, rel,
                                     sizeof rel, why, sizeof why),
                 AX_EPOLICY);
    cr_assert(strstr(why, "write of ") == why, "%s", why);
    ax_policy_free(p);
#endif
}

Test(policy, bad_roots, .init = make_tree, .fini = remove_tree) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
#ifndef _WIN32
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    char path[PATH_MAX];
    path_of(path, "missing");
    cr_assert_eq(ax_policy_allow_read(p, path), AX_ENOENT);
    path_of(path, "etc/passwd");
    cr_assert_eq(ax_policy_allow_read(p, path), AX_ENOTDIR);
    cr_assert_eq(ax_policy_allow_read(p, ""), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_write(p, NULL), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_read(NULL, "/"), AX_EINVAL);
    cr_assert_eq(ax_policy_check_read(p, "", NULL, 0), AX_EINVAL);
    cr_assert_eq(ax_policy_check_read(p, NULL, NULL, 0), AX_EINVAL);
    char *huge = malloc(PATH_MAX + 10);
    memset(huge, 'a', PATH_MAX + 9);
    huge[0] = '/';
    huge[PATH_MAX + 9] = '\0';
    cr_assert_eq(ax_policy_check_read(p, huge, NULL, 0), AX_ENAMETOOLONG);
    free(huge);
    ax_policy_free(p);
#endif
}

Test(policy, connect_rules) {
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "Example.COM.", 443, 443), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "*.internal.example", 8000, 8999), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "10.0.0.0/8", 0, 65535), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "192.168.1.77/24", 53, 53), 0); /* host bits ignored */
    cr_assert_eq(ax_policy_allow_connect(p, "::1/128", 6379, 6379), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "[fd00::]/8", 80, 80), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "172.16.5.4", 22, 22), 0);

    /* names: case-insensitive, trailing dot ignored, exact */
    cr_assert_eq(ax_policy_check_connect(p, "example.com", 443, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "EXAMPLE.com.", 443, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "example.com", 80, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "www.example.com", 443, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "example.com.evil.net", 443, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "notexample.com", 443, NULL, 0), AX_EPOLICY);
    /* a suffix rule: below the name, on a label boundary, not the name itself */
    cr_assert_eq(ax_policy_check_connect(p, "db.internal.example", 8080, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "a.b.Internal.Example", 8999, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "internal.example", 8080, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "xinternal.example", 8080, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "db.internal.example", 9000, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "db.internal.example", 7999, NULL, 0), AX_EPOLICY);

    /* IPv4 CIDR */
    cr_assert_eq(ax_policy_check_connect(p, "10.0.0.1", 1, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "10.255.255.255", 65535, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "11.0.0.1", 1, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "9.255.255.255", 1, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "192.168.1.1", 53, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "192.168.2.1", 53, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "172.16.5.4", 22, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "172.16.5.5", 22, NULL, 0), AX_EPOLICY);
    /* an IPv4-mapped IPv6 address is the IPv4 address */
    cr_assert_eq(ax_policy_check_connect(p, "::ffff:10.1.2.3", 99, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "[::ffff:11.1.2.3]", 99, NULL, 0), AX_EPOLICY);
    /* an address is not a name, a name is not an address */
    cr_assert_eq(ax_policy_check_connect(p, "localhost", 6379, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "10.0.0.1.example.com", 1, NULL, 0), AX_EPOLICY);
    /* mangled address spellings match nothing */
    cr_assert_eq(ax_policy_check_connect(p, "10.1", 1, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "0x0a.0.0.1", 1, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "10.0.0.1/8", 1, NULL, 0), AX_EPOLICY);

    /* IPv6 */
    cr_assert_eq(ax_policy_check_connect(p, "::1", 6379, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "[::1]", 6379, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "0:0:0:0:0:0:0:1", 6379, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "::2", 6379, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "::1", 6380, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "fdff:1::9", 80, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "fe80::1%lo", 80, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "fc00::1", 80, NULL, 0), AX_EPOLICY);
    /* 127.0.0.1 is not ::1 */
    cr_assert_eq(ax_policy_check_connect(p, "127.0.0.1", 6379, NULL, 0), AX_EPOLICY);

    /* bind rules are separate */
    cr_assert_eq(ax_policy_check_bind(p, "10.0.0.1", 80, NULL, 0), AX_EPOLICY);

    char why[128];
    cr_assert_eq(ax_policy_check_connect(p, "fc00::1", 80, why, sizeof why), AX_EPOLICY);
    cr_assert_str_eq(why, "connect to [fc00::1]:80 denied: no allow_connect rule matches");
    cr_assert_eq(ax_policy_check_connect(p, "Evil.Example", 443, why, sizeof why), AX_EPOLICY);
    cr_assert_str_eq(why, "connect to Evil.Example:443 denied: no allow_connect rule matches");
    cr_assert_eq(ax_policy_check_connect(p, "example.com", 443, why, sizeof why), 0);
    cr_assert_str_empty(why);
    ax_policy_free(p);
}

Test(policy, cidr_edges) {
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "100.64.0.0/10", 1, 1), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "2001:db8:abcd:12::/63", 1, 1), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "0.0.0.0/0", 2, 2), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "::ffff:192.0.2.0/120", 3, 3), 0);
    cr_assert_eq(ax_policy_check_connect(p, "100.64.0.0", 1, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "100.127.255.255", 1, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "100.128.0.0", 1, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "100.63.255.255", 1, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "2001:db8:abcd:12::1", 1, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "2001:db8:abcd:13:ffff::", 1, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "2001:db8:abcd:14::", 1, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "2001:db8:abcd:11::", 1, NULL, 0), AX_EPOLICY);
    /* /0 of IPv4 covers every IPv4 address, no IPv6 one, no name */
    cr_assert_eq(ax_policy_check_connect(p, "255.255.255.255", 2, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "::ffff:1.2.3.4", 2, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "::1", 2, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_connect(p, "example.com", 2, NULL, 0), AX_EPOLICY);
    /* a mapped range is an IPv4 range */
    cr_assert_eq(ax_policy_check_connect(p, "192.0.2.200", 3, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "192.0.3.1", 3, NULL, 0), AX_EPOLICY);

    /* malformed rules */
    cr_assert_eq(ax_policy_allow_connect(p, "10.0.0.0/33", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "::/129", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "10.0.0.0/", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "10.0.0.0/8x", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "10.0.0/8", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "10.0.0", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "bad name", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "a..b", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "*.", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "[::1", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "", 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, NULL, 1, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "example.com", 2, 1), AX_EINVAL);
    cr_assert_eq(ax_policy_allow_connect(p, "example.com", 1, 65536), AX_EINVAL);
    char label[80];
    memset(label, 'a', 64);
    strcpy(label + 64, ".com");
    cr_assert_eq(ax_policy_allow_connect(p, label, 1, 1), AX_EINVAL); /* a 64-byte label */
    ax_policy_free(p);
}

Test(policy, bind_rules_and_wildcards) {
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_policy_allow_bind(p, "127.0.0.1", 8000, 8100), 0);
    cr_assert_eq(ax_policy_allow_bind(p, "::", 443, 443), 0);
    cr_assert_eq(ax_policy_check_bind(p, "127.0.0.1", 8000, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_bind(p, "127.0.0.1", 8100, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_bind(p, "127.0.0.1", 8101, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_bind(p, "127.0.0.1", 0, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_bind(p, "0.0.0.0", 8000, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_check_bind(p, "::", 443, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_bind(p, "::1", 443, NULL, 0), AX_EPOLICY);
    /* connect rules do not allow binds */
    cr_assert_eq(ax_policy_check_connect(p, "127.0.0.1", 8000, NULL, 0), AX_EPOLICY);
    char why[128];
    cr_assert_eq(ax_policy_check_bind(p, "0.0.0.0", 8000, why, sizeof why), AX_EPOLICY);
    cr_assert_str_eq(why, "bind to 0.0.0.0:8000 denied: no allow_bind rule matches");

    /* "*" is any host, by name or address; the ports still count */
    cr_assert_eq(ax_policy_allow_connect(p, "*", 443, 443), 0);
    cr_assert_eq(ax_policy_check_connect(p, "anything.example", 443, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "203.0.113.9", 443, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "::1", 443, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_connect(p, "::1", 444, NULL, 0), AX_EPOLICY);
    cr_assert_eq(ax_policy_allow_bind(p, "*", 0, 0), 0); /* any address, any free port */
    cr_assert_eq(ax_policy_check_bind(p, "0.0.0.0", 0, NULL, 0), 0);
    cr_assert_eq(ax_policy_check_bind(p, "0.0.0.0", 1, NULL, 0), AX_EPOLICY);
    ax_policy_free(p);
}

Test(policy, installed_policy_is_frozen_and_clone_copies_it, .init = make_tree,
     .fini = remove_tree) {
    AX_WIN_SKIP(AX_WIN_NO_FSROOTS);
#ifndef _WIN32
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1}), 0);
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    char data[PATH_MAX], out[PATH_MAX];
    path_of(data, "link");
    path_of(out, "out");
    cr_assert_eq(ax_policy_allow_read(p, data), 0);
    cr_assert_eq(ax_policy_allow_connect(p, "example.com", 443, 443), 0);
    cr_assert_eq(ax_runtime_set_policy(rt, p), 0);
    cr_assert_eq(ax_policy_allow_write(p, out), AX_EBUSY);
    cr_assert_eq(ax_policy_allow_connect(p, "example.org", 443, 443), AX_EBUSY);

    ax_policy *cur = ax_runtime_policy(rt);
    cr_assert_eq(cur, p);
    ax_policy *q;
    cr_assert_eq(ax_policy_clone(cur, &q), 0);
    ax_policy_free(cur);
    cr_assert_eq(ax_policy_allow_write(q, out), 0);
    cr_assert_eq(ax_policy_allow_connect(q, "example.org", 443, 443), 0);
    cr_assert_eq(ax_runtime_set_policy(rt, q), 0);
    ax_policy_free(q);

    cr_assert_eq(check_write(p, "out/x"), AX_EPOLICY); /* p is unchanged */
    ax_policy_free(p);                                 /* ... and now gone */
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_CONNECT, "example.org", 443, NULL, 0), 0);
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_CONNECT, "example.com", 443, NULL, 0), 0);
    char path[PATH_MAX];
    path_of(path, "link/sub/file");
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_READ, path, 0, NULL, 0), 0);
    path_of(path, "out/x");
    cr_assert_eq(ax__policy_check_rt(rt, AX__POLICY_OP_WRITE, path, 0, NULL, 0), 0);

    /* a reference outlives the runtime */
    ax_policy *held = ax_runtime_policy(rt);
    cr_assert_not_null(held);
    ax_runtime_set_policy(rt, NULL); /* what ax_runtime_free does */
    ax_runtime_free(rt);
    cr_assert_eq(ax_policy_check_connect(held, "example.org", 443, NULL, 0), 0);
    int fd;
    char rel[PATH_MAX];
    path_of(path, "data/sub/file");
    cr_assert_eq(ax__policy_root_for(held, AX__POLICY_READ, path, &fd, rel, sizeof rel, NULL, 0),
                 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    ax_policy_free(held);
#endif
}

/* Two workers check in a loop while a plain thread keeps installing a new
 * policy: every check sees one whole policy (allowed by A, denied by B, or
 * the reverse), never freed memory (ASan), never a race (TSan). */
typedef struct race {
    ax_runtime *rt;
    atomic_bool stop;
    atomic_ulong checks;
    atomic_ulong bad;
} race;

static void *checker(void *arg) {
    race *r = arg;
    char why[96];
    while (!atomic_load(&r->stop)) {
        ax_policy *p = ax__policy_acquire(r->rt);
        int a = ax_policy_check_connect(p, "a.example", 1, why, sizeof why);
        int b = ax_policy_check_connect(p, "b.example", 1, why, sizeof why);
        /* exactly one of the two is allowed by either policy */
        if ((a == 0) == (b == 0)) atomic_fetch_add(&r->bad, 1);
        ax__policy_release(p);
        int c = ax__policy_check_rt(r->rt, AX__POLICY_OP_CONNECT, "c.example", 1, NULL, 0);
        if (c != AX_EPOLICY) atomic_fetch_add(&r->bad, 1);
        atomic_fetch_add(&r->checks, 1);
        if (atomic_load(&r->checks) % 64 == 0) ax_yield();
    }
    return NULL;
}

static void *installer(void *arg) {
    race *r = arg;
    for (int i = 0; i < (AX_TEST_TSAN_ROUNDS); i++) {
        ax_policy *p;
        cr_assert_eq(ax_policy_new(&p), 0);
        cr_assert_eq(ax_policy_allow_connect(p, i % 2 ? "a.example" : "b.example", 1, 1), 0);
        cr_assert_eq(ax_runtime_set_policy(r->rt, p), 0);
        ax_policy_free(p);
        if (i % 16 == 0) sched_yield();
    }
    return NULL;
}

Test(policy, checks_race_with_installation) {
    race r = {0};
    cr_assert_eq(ax_runtime_new(&r.rt, &(ax_runtime_opts){.workers = 2}), 0);
    ax_policy *first;
    cr_assert_eq(ax_policy_new(&first), 0);
    cr_assert_eq(ax_policy_allow_connect(first, "a.example", 1, 1), 0);
    cr_assert_eq(ax_runtime_set_policy(r.rt, first), 0);
    ax_policy_free(first);
    ax_task *t1, *t2;
    cr_assert_eq(ax_spawn_on(r.rt, &t1, checker, &r), 0);
    cr_assert_eq(ax_spawn_on(r.rt, &t2, checker, &r), 0);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&th[i], NULL, installer, &r), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    atomic_store(&r.stop, true);
    ax_join_future j1, j2;
    ax_join_future_init(&j1, t1);
    ax_join_future_init(&j2, t2);
    cr_assert_eq(ax_block_on(r.rt, &j1.base), 0);
    cr_assert_eq(ax_block_on(r.rt, &j2.base), 0);
    cr_assert_eq(atomic_load(&r.bad), 0);
    cr_assert_gt(atomic_load(&r.checks), 0);
    cr_assert_eq(ax_runtime_set_policy(r.rt, NULL), 0);
    ax_runtime_free(r.rt);
}

#ifdef _WIN32
/* Windows: a policy takes no file roots, so file access stays denied. */
Test(policy, windows_refuses_file_roots) {
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_policy_allow_read(p, "C:\\"), AX_ENOTSUP);
    cr_assert_eq(ax_policy_allow_write(p, "C:\\"), AX_ENOTSUP);
    cr_assert_eq(ax_policy_allow_read(p, ""), AX_EINVAL);
    cr_assert_eq(ax_policy_check_read(p, "/data/file", NULL, 0), AX_EPOLICY);
    ax_policy_free(p);
}
#endif
