/* fs/path.c - resolving paths under the permission policy (pool threads).
 *
 * With a policy, ax__policy_root_for gives the allowed root's descriptor
 * and the path relative to it (cleaned: no `..`, no `.`), and every open
 * goes through openat2(root, rel, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS):
 * the kernel resolves each component, symbolic links included, and fails
 * with EXDEV if any step would leave the root. Operations on a name
 * (mkdir, unlink, rename, symlink, readlink, lstat) open the parent the
 * same way and then act on the last component relative to that
 * descriptor, where it cannot be redirected either. No string check on
 * the path is trusted beyond choosing the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs_internal.h"

#if defined(__linux__)
#include <linux/openat2.h>
#include <sys/syscall.h>
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#endif

int ax__fs_errno(void) {
    int e = errno;
    return e == EXDEV ? AX_EPOLICY : ax_translate_sys_error(e);
}

/* Where the kernel has no openat2 (before Linux 5.6, qemu-user, and every
 * system but Linux): walk
 * rel (cleaned by the policy: no `..`, no `.`) one component at a time
 * with O_NOFOLLOW, refusing every symbolic link (stricter than
 * RESOLVE_BENEATH, which follows links that stay inside the root). */
static int ax__link_or(int dirfd, const char *name, int err) {
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        return AX_EPOLICY;
    return ax_translate_sys_error(err);
}

static int ax__open_beneath_walk(int root, const char *rel, int oflags, mode_t mode) {
    char buf[AX__FS_PATH_MAX];
    size_t n = strlen(rel);
    if (n >= sizeof buf) return AX_ENAMETOOLONG;
    memcpy(buf, rel, n + 1);
    int dfd = root;
    char *comp = buf;
    for (;;) {
        char *slash = strchr(comp, '/');
        if (!slash) break;
        *slash = 0;
        int nfd = openat(dfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        int err = nfd < 0 ? ax__link_or(dfd, comp, e) : 0;
        if (dfd != root) close(dfd);
        if (err) return err;
        dfd = nfd;
        comp = slash + 1;
    }
    int fd;
    do fd = openat(dfd, comp, oflags | O_NOFOLLOW | O_CLOEXEC, mode);
    while (fd < 0 && errno == EINTR);
    int err = fd < 0 ? ax__link_or(dfd, comp, errno) : 0;
    if (!err && (oflags & O_PATH)) {
        struct stat st;
        if (fstat(fd, &st) == 0 && S_ISLNK(st.st_mode)) {
            close(fd);
            err = AX_EPOLICY;
        }
    }
    if (dfd != root) close(dfd);
    return err ? err : fd;
}

static int ax__openat2(int dirfd, const char *rel, int oflags, mode_t mode) {
#if !defined(__linux__)
    return ax__open_beneath_walk(dirfd, rel, oflags, mode);
#else
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(oflags | O_CLOEXEC);
    if (oflags & (O_CREAT | O_TMPFILE)) how.mode = mode;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd;
    do fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    if (fd < 0 && errno == ENOSYS) return ax__open_beneath_walk(dirfd, rel, oflags, mode);
    return fd < 0 ? ax__fs_errno() : (int)fd;
#endif
}

int ax__fs_open(ax_policy *p, unsigned access, const char *path, int oflags, mode_t mode) {
    if (!path || !*path) return AX_EINVAL;
    if (!p) {
        int fd;
        do fd = open(path, oflags | O_CLOEXEC, mode);
        while (fd < 0 && errno == EINTR);
        return fd < 0 ? ax_translate_sys_error(errno) : fd;
    }
    char rel[AX__FS_PATH_MAX];
    int root;
    int err = ax__policy_root_for(p, access, path, &root, rel, sizeof rel, NULL, 0);
    if (err) return err;
    return ax__openat2(root, rel, oflags, mode);
}

void ax__fs_close_dir(int dirfd) {
    if (dirfd >= 0) close(dirfd);
}

/* Splits s (no trailing '/') at its last '/': s becomes the directory part
 * ("." when there is none, "/" for a top-level name) and the name is
 * returned. s must have room for 2 bytes. */
static const char *ax__split(char *s) {
    char *slash = strrchr(s, '/');
    if (!slash) {
        size_t n = strlen(s);
        memmove(s + 2, s, n + 1);
        s[0] = '.';
        s[1] = 0;
        return s + 2;
    }
    if (slash == s) { /* "/name" */
        size_t n = strlen(s + 1);
        memmove(s + 3, s + 1, n + 1);
        s[0] = '/';
        s[1] = 0;
        return s + 3;
    }
    *slash = 0;
    return slash + 1;
}

int ax__fs_parent(ax_policy *p, unsigned access, const char *path, bool need_fd, int dir_oflags,
                  int *dirfd, char *buf, size_t cap, const char **name) {
    *dirfd = AT_FDCWD;
    if (!path || !*path) return AX_EINVAL;
    int root = AT_FDCWD;
    if (p) {
        int err = ax__policy_root_for(p, access, path, &root, buf, cap - 3, NULL, 0);
        if (err) return err;
    } else {
        size_t n = strlen(path);
        if (n + 3 > cap) return AX_ENAMETOOLONG;
        memcpy(buf, path, n + 1);
        while (n > 1 && buf[n - 1] == '/') buf[--n] = 0; /* "dir/" names dir */
        if (!need_fd) {
            *name = buf;
            return 0;
        }
    }
    const char *base = ax__split(buf);
    int fd;
    if (p)
        fd = ax__openat2(root, buf, dir_oflags | O_DIRECTORY, 0);
    else
        do fd = open(buf, dir_oflags | O_DIRECTORY | O_CLOEXEC);
        while (fd < 0 && errno == EINTR);
    if (fd < 0) return p ? fd : ax_translate_sys_error(errno);
    *dirfd = fd;
    *name = base;
    return 0;
}

/* mkdir of one path (its parent must exist); EEXIST is fine when it is a
 * directory. */
static int ax__fs_mkdir_one(ax_policy *p, const char *path, mode_t mode) {
    char buf[AX__FS_PATH_MAX];
    int dirfd;
    const char *name;
    int err =
        ax__fs_parent(p, AX__POLICY_WRITE, path, false, O_PATH, &dirfd, buf, sizeof buf, &name);
    if (err) return err;
    if (strcmp(name, ".") == 0)
        err = 0; /* a policy root: exists */
    else if (mkdirat(dirfd, name, mode) == 0)
        err = 0;
    else if (errno == EEXIST) {
        struct stat st;
        err = fstatat(dirfd, name, &st, 0) == 0 && S_ISDIR(st.st_mode) ? 0 : AX_EEXIST;
    } else
        err = ax_translate_sys_error(errno);
    ax__fs_close_dir(dirfd);
    return err;
}

int ax__fs_mkdirs(ax_policy *p, const char *path, mode_t mode) {
    size_t n = strlen(path);
    if (n == 0) return AX_EINVAL;
    if (n >= AX__FS_PATH_MAX) return AX_ENAMETOOLONG;
    /* Fast path: the parent exists. */
    int err = ax__fs_mkdir_one(p, path, mode);
    if (err != AX_ENOENT) return err;
    char tmp[AX__FS_PATH_MAX];
    memcpy(tmp, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (i < n && tmp[i] != '/') continue;
        if (tmp[i - 1] == '/') continue;
        char c = tmp[i];
        tmp[i] = 0;
        err = ax__fs_mkdir_one(p, tmp, i == n ? mode : 0777);
        tmp[i] = c;
        /* Prefixes above a policy root are denied: they exist, skip them. */
        if (err == AX_EPOLICY && i < n) continue;
        if (err) return err;
    }
    return 0;
}

int ax__fs_mkdirs_parent(ax_policy *p, const char *path) {
    char tmp[AX__FS_PATH_MAX];
    size_t n = strlen(path);
    if (n >= AX__FS_PATH_MAX) return AX_ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    while (n > 1 && tmp[n - 1] == '/') tmp[--n] = 0;
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp) return 0;
    *slash = 0;
    return ax__fs_mkdirs(p, tmp, 0777);
}

void ax__fs_fill_stat(ax_fs_info *out, const struct stat *st) {
    memset(out, 0, sizeof *out);
    out->size = (uint64_t)st->st_size;
    out->type = S_ISREG(st->st_mode)   ? AX_FS_TYPE_FILE
                : S_ISDIR(st->st_mode) ? AX_FS_TYPE_DIR
                : S_ISLNK(st->st_mode) ? AX_FS_TYPE_SYMLINK
                                       : AX_FS_TYPE_OTHER;
    out->mode = st->st_mode & 07777;
    out->nlink = (uint64_t)st->st_nlink;
    out->ino = (uint64_t)st->st_ino;
    out->dev = (uint64_t)st->st_dev;
    out->uid = st->st_uid;
    out->gid = st->st_gid;
    out->atime_ns = (int64_t)AX__ST_ATIM(st).tv_sec * 1000000000 + AX__ST_ATIM(st).tv_nsec;
    out->mtime_ns = (int64_t)AX__ST_MTIM(st).tv_sec * 1000000000 + AX__ST_MTIM(st).tv_nsec;
    out->ctime_ns = (int64_t)AX__ST_CTIM(st).tv_sec * 1000000000 + AX__ST_CTIM(st).tv_nsec;
}
