/* fs/atomic.c - the steps of an atomic write, shared by ax_fs_write_file
 * (AX_FS_ATOMIC) and atomic file handles (AX_FILE_ATOMIC).
 *
 *   1. in the target's directory (opened beneath the policy root), remove
 *      temporary files `.NAME.axtmp.PID.N` whose writer PID is dead;
 *   2. create `.NAME.axtmp.PID.N` with O_EXCL (a name with no '/', relative
 *      to the directory descriptor: nothing to redirect);
 *   3. write the data;
 *   4. fsync the temporary file;
 *   5. rename it over NAME (renameat, same directory descriptor);
 *   6. fsync the directory, so the rename itself is durable.
 * A crash before 5 leaves the old target and a temporary file that step 1
 * of the next write removes; after 5 the new content is in place. Any
 * failure removes the temporary file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_internal.h"

void ax__fs_test_step(const char *step) {
    const char *want = getenv("AXON_FS_TEST_STOP_AT");
    if (want && strcmp(want, step) == 0) raise(SIGSTOP);
}

static int ax__fs_write_range(int fd, const uint8_t *p, size_t len, ax__fsjob *job) {
    size_t done = 0;
    while (done < len) {
        if (job && ax__fsjob_abandoned(job)) return AX_ECANCELED;
        size_t want = len - done;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
        ssize_t n = write(fd, p + done, want);
        if (n < 0) {
            if (errno == EINTR) continue;
            return ax_translate_sys_error(errno);
        }
        if (n == 0) return AX_EIO;
        done += (size_t)n;
    }
    return 0;
}

int ax__fs_write_all(int fd, const void *data, size_t len, ax__fsjob *job, bool mid_step) {
    const uint8_t *p = data;
    if (!mid_step) return ax__fs_write_range(fd, p, len, job);
    int err = ax__fs_write_range(fd, p, len / 2, job);
    if (err) return err;
    ax__fs_test_step("mid-write");
    return ax__fs_write_range(fd, p + len / 2, len - len / 2, job);
}

int ax__fs_sync_fd(int fd, ax_fs_sync how) {
    int rc = 0;
    if (how == AX_FS_SYNC_DATA)
        rc = ax__fdatasync(fd);
    else if (how == AX_FS_SYNC_ALL)
        rc = fsync(fd);
    return rc < 0 ? ax_translate_sys_error(errno) : 0;
}

/* Step 1: temporary files of name whose writer is gone. */
static void ax__fs_tmp_sweep(int dirfd, const char *name) {
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    char prefix[AX__FS_PATH_MAX];
    int plen = snprintf(prefix, sizeof prefix, ".%s.axtmp.", name);
    if (plen <= 0 || (size_t)plen >= sizeof prefix) {
        closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, (size_t)plen) != 0) continue;
        char *end;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (pid <= 0 || *end != '.') continue;
        if (pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
            unlinkat(dirfd, e->d_name, 0);
    }
    closedir(d);
}

int ax__fs_tmp_create(int dirfd, const char *name, mode_t mode, char *tmp, size_t cap) {
    ax__fs_tmp_sweep(dirfd, name);
    for (int attempt = 0; attempt < 16; attempt++) {
        uint64_t r = 0;
        if (ax__random_bytes(&r, sizeof r) != (ssize_t)sizeof r)
            r = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)tmp << 7) ^ (uint64_t)attempt;
        int n = snprintf(tmp, cap, ".%s.axtmp.%ld.%016llx", name, (long)getpid(),
                         (unsigned long long)r);
        if (n <= 0 || (size_t)n >= cap) return AX_ENAMETOOLONG;
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0) return fd;
        if (errno != EEXIST && errno != EINTR) return ax_translate_sys_error(errno);
    }
    return AX_EEXIST;
}

int ax__fs_tmp_commit(int fd, int dirfd, const char *tmp, const char *name) {
    ax__fs_test_step("after-write");
    int err = fsync(fd) < 0 ? ax_translate_sys_error(errno) : 0;
    if (err) goto fail;
    ax__fs_test_step("after-fsync");
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        err = ax_translate_sys_error(errno);
        goto fail;
    }
    ax__fs_test_step("after-rename");
    if (fsync(dirfd) < 0 && errno != EINVAL) return ax_translate_sys_error(errno);
    return 0;
fail:
    unlinkat(dirfd, tmp, 0);
    return err;
}
