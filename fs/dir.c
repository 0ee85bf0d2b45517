/* fs/dir.c - directory listings, recursive removal and file copies. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_internal.h"

/* ---- read_dir ------------------------------------------------------------------------------ */

static ax_fs_type ax__dtype(int dirfd, const char *name, unsigned char t) {
    switch (t) {
    case DT_REG:
        return AX_FS_TYPE_FILE;
    case DT_DIR:
        return AX_FS_TYPE_DIR;
    case DT_LNK:
        return AX_FS_TYPE_SYMLINK;
    case DT_UNKNOWN: {
        struct stat st;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return AX_FS_TYPE_OTHER;
        ax_fs_info s;
        ax__fs_fill_stat(&s, &st);
        return s.type;
    }
    default:
        return AX_FS_TYPE_OTHER;
    }
}

static int ax__dirent_cmp(const void *a, const void *b) {
    return strcmp(((const ax_fs_dirent *)a)->name, ((const ax_fs_dirent *)b)->name);
}

void ax_fs_dirents_free(ax_fs_dirent *entries, size_t n) {
    if (!entries) return;
    for (size_t i = 0; i < n; i++) free(entries[i].name);
    free(entries);
}

static void ax__run_read_dir(ax__fsjob *j) {
    int fd = ax__fs_open(j->policy, AX__POLICY_READ, j->path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) {
        j->res = fd;
        return;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        j->res = ax_translate_sys_error(errno);
        close(fd);
        return;
    }
    ax_fs_dirent *v = NULL;
    size_t n = 0, cap = 0;
    int err = 0;
    struct dirent *e;
    for (;;) {
        errno = 0;
        if (!(e = readdir(d))) {
            if (errno) err = ax_translate_sys_error(errno);
            break;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 16;
            ax_fs_dirent *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                err = AX_ENOMEM;
                break;
            }
            v = nv;
            cap = nc;
        }
        if (!(v[n].name = strdup(e->d_name))) {
            err = AX_ENOMEM;
            break;
        }
        v[n].type = ax__dtype(dirfd(d), e->d_name, e->d_type);
        n++;
    }
    closedir(d);
    if (err) {
        ax_fs_dirents_free(v, n);
        j->res = err;
        return;
    }
    if (n) qsort(v, n, sizeof *v, ax__dirent_cmp);
    j->obj = v;
    j->dlen = n;
    j->res = 0;
}

static void ax__deliver_read_dir(ax__fsjob *j, intptr_t res) {
    if (res < 0) return;
    *(ax_fs_dirent **)j->out[0] = j->obj;
    *(size_t *)j->out[1] = j->dlen;
    j->obj = NULL;
}

static void ax__cleanup_read_dir(ax__fsjob *j) {
    ax_fs_dirents_free(j->obj, j->dlen);
}

static const ax__fs_kind ax__kind_read_dir = {ax__run_read_dir, ax__deliver_read_dir,
                                              ax__cleanup_read_dir, AX__POLICY_READ, 0};

void ax_fs_read_dir_future_init(ax_fs_future *f, const char *path, ax_fs_dirent **entries,
                                size_t *n) {
    if (!path || !entries || !n) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    ax__fsjob *j = ax__fsjob_new(&ax__kind_read_dir, path, NULL);
    if (j) {
        j->out[0] = entries;
        j->out[1] = n;
    }
    ax__fs_future_init(f, j);
}

int ax_fs_read_dir(const char *path, ax_fs_dirent **entries, size_t *n, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_read_dir_future_init(&f, path, entries, n);
    return (int)ax__fs_await(&f, deadline);
}

/* ---- remove_all ---------------------------------------------------------------------------- */

/* Removes name in dirfd and, for a directory, what it holds. Everything is
 * relative to descriptors opened with O_NOFOLLOW: a link is removed, never
 * entered, so a link swapped in cannot send the removal elsewhere. */
static int ax__rm_tree(int dfd, const char *name, ax__fsjob *j, int depth) {
    if (ax__fsjob_abandoned(j)) return AX_ECANCELED;
    if (unlinkat(dfd, name, 0) == 0) return 0;
    if (errno == ENOENT) return 0;
    if (errno != EISDIR && errno != EPERM) return ax_translate_sys_error(errno);
    if (depth > 256) return AX_ELOOP;
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ax_translate_sys_error(errno);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return AX_ENOMEM;
    }
    int err = 0;
    struct dirent *e;
    while (!err && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        err = ax__rm_tree(dirfd(d), e->d_name, j, depth + 1);
    }
    closedir(d);
    if (err) return err;
    if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return ax_translate_sys_error(errno);
    return 0;
}

static void ax__run_remove_all(ax__fsjob *j) {
    char buf[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err = ax__fs_parent(j->policy, AX__POLICY_WRITE, j->path, false, O_PATH, &dirfd, buf,
                            sizeof buf, &name);
    if (err == AX_ENOENT)
        err = 0;
    else if (!err) {
        err = ax__rm_tree(dirfd, name, j, 0);
        ax__fs_close_dir(dirfd);
    }
    j->res = err;
}

static const ax__fs_kind ax__kind_remove_all = {ax__run_remove_all, NULL, NULL, AX__POLICY_WRITE,
                                                0};

void ax_fs_remove_all_future_init(ax_fs_future *f, const char *path) {
    if (!path) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    ax__fs_future_init(f, ax__fsjob_new(&ax__kind_remove_all, path, NULL));
}

int ax_fs_remove_all(const char *path, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_remove_all_future_init(&f, path);
    return (int)ax__fs_await(&f, deadline);
}

/* ---- copy ---------------------------------------------------------------------------------- */

/* Copies in to out: copy_file_range (in-kernel, reflinks where the file
 * system can), else sendfile, else read/write (the only way off Linux).
 * Returns bytes or AX_E*. */
static int64_t ax__copy_fds(int in, int out, ax__fsjob *j) {
    int64_t total = 0;
#if defined(__linux__)
    int how = 0; /* 0 copy_file_range, 1 sendfile, 2 read/write */
#endif
    char *buf = NULL;
    for (;;) {
        if (ax__fsjob_abandoned(j)) {
            free(buf);
            return AX_ECANCELED;
        }
        ssize_t n;
#if defined(__linux__)
        if (how == 0) {
            n = copy_file_range(in, NULL, out, NULL, (size_t)1 << 30, 0);
            if (n < 0 &&
                (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
                 errno == EPERM) &&
                total == 0) {
                how = 1;
                continue;
            }
        } else if (how == 1) {
            n = sendfile(out, in, NULL, (size_t)1 << 30);
            if (n < 0 && (errno == EINVAL || errno == ENOSYS) && total == 0) {
                how = 2;
                continue;
            }
        } else
#endif
        {
            if (!buf && !(buf = malloc(1 << 20))) return AX_ENOMEM;
            n = read(in, buf, 1 << 20);
            if (n > 0) {
                int err = ax__fs_write_all(out, buf, (size_t)n, NULL, false);
                if (err) {
                    free(buf);
                    return err;
                }
            }
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            free(buf);
            return ax_translate_sys_error(errno);
        }
        if (n == 0) break;
        total += n;
    }
    free(buf);
    return total;
}

static void ax__run_copy(ax__fsjob *j) {
    int in = ax__fs_open(j->policy, AX__POLICY_READ, j->path, O_RDONLY, 0);
    if (in < 0) {
        j->res = in;
        return;
    }
    struct stat st;
    if (fstat(in, &st) < 0) st.st_mode = 0;
    if (!S_ISREG(st.st_mode)) {
        j->res = S_ISDIR(st.st_mode) ? AX_EISDIR : AX_EINVAL;
        close(in);
        return;
    }
    int out = ax__fs_open(j->policy, AX__POLICY_WRITE, j->path2, O_WRONLY | O_CREAT | O_TRUNC,
                          st.st_mode & 07777);
    if (out < 0) {
        j->res = out;
        close(in);
        return;
    }
    int64_t n = ax__copy_fds(in, out, j);
    if (n >= 0) fchmod(out, st.st_mode & 07777);
    if (close(out) < 0 && n >= 0 && errno != EINTR) n = ax_translate_sys_error(errno);
    close(in);
    j->res = (intptr_t)n;
}

static const ax__fs_kind ax__kind_copy = {ax__run_copy, NULL, NULL, AX__POLICY_READ,
                                          AX__POLICY_WRITE};

void ax_fs_copy_future_init(ax_fs_future *f, const char *from, const char *to) {
    if (!from || !to) {
        ax__fs_future_fail(f, AX_EINVAL);
        return;
    }
    ax__fs_future_init(f, ax__fsjob_new(&ax__kind_copy, from, to));
}

int64_t ax_fs_copy(const char *from, const char *to, ax_instant deadline) {
    ax_fs_future f;
    ax_fs_copy_future_init(&f, from, to);
    return (int64_t)ax__fs_await(&f, deadline);
}
