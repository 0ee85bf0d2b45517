/* fs/meta.c - metadata and names: stat, lstat, exists, mkdir, remove,
 * rename, symlink, readlink. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_internal.h"

#define AX__FAIL_IF(cond, f, err)                                                                  \
    do {                                                                                           \
        if (cond) {                                                                                \
            ax__fs_future_fail(f, err);                                                            \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* ---- stat, lstat, exists -------------------------------------------------------------------- */

static int ax__stat_path(ax__fsjob *j, bool follow, struct stat *st) {
    if (!j->policy) {
        int rc = follow ? stat(j->path, st) : lstat(j->path, st);
        return rc < 0 ? ax_translate_sys_error(errno) : 0;
    }
    if (follow) { /* links followed, but only beneath the root */
        int fd = ax__fs_open(j->policy, AX__POLICY_READ, j->path, O_PATH, 0);
        if (fd < 0) return fd;
        int rc = fstat(fd, st);
        int err = rc < 0 ? ax_translate_sys_error(errno) : 0;
        close(fd);
        return err;
    }
    char buf[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err = ax__fs_parent(j->policy, AX__POLICY_READ, j->path, false, O_PATH, &dirfd, buf,
                            sizeof buf, &name);
    if (err) return err;
    err = fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? ax_translate_sys_error(errno) : 0;
    ax__fs_close_dir(dirfd);
    return err;
}

static void ax__run_stat(ax__fsjob *j) {
    struct stat st;
    j->res = ax__stat_path(j, j->flags == 0, &st);
    if (!j->res) ax__fs_fill_stat(&j->st, &st);
}

static void ax__deliver_stat(ax__fsjob *j, intptr_t res) {
    if (res == 0) *(ax_fs_info *)j->out[0] = j->st;
}

static const ax__fs_kind ax__kind_stat = {ax__run_stat, ax__deliver_stat, NULL, AX__POLICY_READ, 0};

void ax_fs_stat_future_init(ax_fs_future *f, const char *path, ax_fs_info *st) {
    AX__FAIL_IF(!path || !st, f, AX_EINVAL);
    ax__fsjob *j = ax__fsjob_new(&ax__kind_stat, path, NULL);
    if (j) j->out[0] = st;
    ax__fs_future_init(f, j);
}

void ax_fs_lstat_future_init(ax_fs_future *f, const char *path, ax_fs_info *st) {
    ax_fs_stat_future_init(f, path, st);
    if (f->job) f->job->flags = 1;
}

int ax_fs_stat(const char *path, ax_fs_info *st, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_stat_future_init(&f, path, st);
    return (int)ax__fs_await(&f, deadline);
}

int ax_fs_lstat(const char *path, ax_fs_info *st, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_lstat_future_init(&f, path, st);
    return (int)ax__fs_await(&f, deadline);
}

static void ax__run_exists(ax__fsjob *j) {
    struct stat st;
    int err = ax__stat_path(j, true, &st);
    j->res = err == 0 ? 1 : (err == AX_ENOENT || err == AX_ENOTDIR) ? 0 : err;
}

static const ax__fs_kind ax__kind_exists = {ax__run_exists, NULL, NULL, AX__POLICY_READ, 0};

void ax_fs_exists_future_init(ax_fs_future *f, const char *path) {
    AX__FAIL_IF(!path, f, AX_EINVAL);
    ax__fs_future_init(f, ax__fsjob_new(&ax__kind_exists, path, NULL));
}

int ax_fs_exists(const char *path, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_exists_future_init(&f, path);
    return (int)ax__fs_await(&f, deadline);
}

/* ---- mkdir, remove, rename, symlink, readlink ----------------------------------------------- */

static void ax__run_mkdir(ax__fsjob *j) {
    mode_t mode = j->mode ? (mode_t)(j->mode & 07777) : 0777;
    if (j->flags) {
        j->res = ax__fs_mkdirs(j->policy, j->path, mode);
        return;
    }
    char buf[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path, false, O_PATH, &dirfd, buf,
                            sizeof buf, &name);
    if (!err) {
        err = mkdirat(dirfd, name, mode) < 0 ? ax_translate_sys_error(errno) : 0;
        ax__fs_close_dir(dirfd);
    }
    j->res = err;
}

static const ax__fs_kind ax__kind_mkdir = {ax__run_mkdir, NULL, NULL, AX__POLICY_WRITE, 0};

void ax_fs_mkdir_future_init(ax_fs_future *f, const char *path, unsigned mode, bool recursive) {
    AX__FAIL_IF(!path, f, AX_EINVAL);
    ax__fsjob *j = ax__fsjob_new(&ax__kind_mkdir, path, NULL);
    if (j) {
        j->mode = mode;
        j->flags = recursive;
    }
    ax__fs_future_init(f, j);
}

int ax_fs_mkdir(const char *path, unsigned mode, bool recursive, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_mkdir_future_init(&f, path, mode, recursive);
    return (int)ax__fs_await(&f, deadline);
}

static void ax__run_remove(ax__fsjob *j) {
    char buf[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path, false, O_PATH, &dirfd, buf,
                            sizeof buf, &name);
    if (!err) {
        if (unlinkat(dirfd, name, 0) < 0) {
            err =
                errno == EISDIR
                    ? (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? ax_translate_sys_error(errno) : 0)
                    : ax_translate_sys_error(errno);
        }
        ax__fs_close_dir(dirfd);
    }
    j->res = err;
}

static const ax__fs_kind ax__kind_remove = {ax__run_remove, NULL, NULL, AX__POLICY_WRITE, 0};

void ax_fs_remove_future_init(ax_fs_future *f, const char *path) {
    AX__FAIL_IF(!path, f, AX_EINVAL);
    ax__fs_future_init(f, ax__fsjob_new(&ax__kind_remove, path, NULL));
}

int ax_fs_remove(const char *path, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_remove_future_init(&f, path);
    return (int)ax__fs_await(&f, deadline);
}

static void ax__run_rename(ax__fsjob *j) {
    char b1[AX__FS_PATH_MAX], b2[AX__FS_PATH_MAX];
    int d1, d2;
    const char *n1, *n2;
    int err =
        ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path, false, O_PATH, &d1, b1, sizeof b1, &n1);
    if (err) goto out;
    err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path2, false, O_PATH, &d2, b2, sizeof b2,
                        &n2);
    if (err) {
        ax__fs_close_dir(d1);
        goto out;
    }
    err = renameat(d1, n1, d2, n2) < 0 ? ax_translate_sys_error(errno) : 0;
    ax__fs_close_dir(d1);
    ax__fs_close_dir(d2);
out:
    j->res = err;
}

static const ax__fs_kind ax__kind_rename = {ax__run_rename, NULL, NULL, AX__POLICY_WRITE,
                                            AX__POLICY_WRITE};

void ax_fs_rename_future_init(ax_fs_future *f, const char *from, const char *to) {
    AX__FAIL_IF(!from || !to, f, AX_EINVAL);
    ax__fs_future_init(f, ax__fsjob_new(&ax__kind_rename, from, to));
}

int ax_fs_rename(const char *from, const char *to, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_rename_future_init(&f, from, to);
    return (int)ax__fs_await(&f, deadline);
}

/* path: the target (not resolved), path2: the link's name. */
static void ax__run_symlink(ax__fsjob *j) {
    char buf[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path2, false, O_PATH, &dirfd, buf,
                            sizeof buf, &name);
    if (!err) {
        err = symlinkat(j->path, dirfd, name) < 0 ? ax_translate_sys_error(errno) : 0;
        ax__fs_close_dir(dirfd);
    }
    j->res = err;
}

static const ax__fs_kind ax__kind_symlink = {ax__run_symlink, NULL, NULL, 0, AX__POLICY_WRITE};

void ax_fs_symlink_future_init(ax_fs_future *f, const char *target, const char *linkpath) {
    AX__FAIL_IF(!target || !*target || !linkpath, f, AX_EINVAL);
    ax__fs_future_init(f, ax__fsjob_new(&ax__kind_symlink, target, linkpath));
}

int ax_fs_symlink(const char *target, const char *linkpath, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_symlink_future_init(&f, target, linkpath);
    return (int)ax__fs_await(&f, deadline);
}

static void ax__run_readlink(ax__fsjob *j) {
    char buf[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err = ax__fs_parent(j->policy, AX__POLICY_READ, j->path, false, O_PATH, &dirfd, buf,
                            sizeof buf, &name);
    if (err) {
        j->res = err;
        return;
    }
    size_t cap = 256;
    for (;;) {
        char *t = malloc(cap);
        if (!t) {
            err = AX_ENOMEM;
            break;
        }
        ssize_t n = readlinkat(dirfd, name, t, cap);
        if (n < 0) {
            err = ax_translate_sys_error(errno);
            free(t);
            break;
        }
        if ((size_t)n < cap) {
            t[n] = 0;
            j->data = t;
            j->dlen = (size_t)n;
            break;
        }
        free(t);
        cap *= 2;
    }
    ax__fs_close_dir(dirfd);
    j->res = err;
}

static void ax__deliver_readlink(ax__fsjob *j, intptr_t res) {
    if (res < 0) return;
    *(char **)j->out[0] = j->data;
    j->data = NULL;
}

static const ax__fs_kind ax__kind_readlink = {ax__run_readlink, ax__deliver_readlink, NULL,
                                              AX__POLICY_READ, 0};

void ax_fs_readlink_future_init(ax_fs_future *f, const char *path, char **target) {
    AX__FAIL_IF(!path || !target, f, AX_EINVAL);
    ax__fsjob *j = ax__fsjob_new(&ax__kind_readlink, path, NULL);
    if (j) j->out[0] = target;
    ax__fs_future_init(f, j);
}

int ax_fs_readlink(const char *path, char **target, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_readlink_future_init(&f, path, target);
    return (int)ax__fs_await(&f, deadline);
}
