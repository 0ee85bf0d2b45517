/* fs/logger.c - a line-buffered append-only log writer: whole lines go out
 * in one write(2) on an O_APPEND descriptor, so they never interleave with
 * another writer's. */
#include <stdlib.h>
#include <string.h>

#include "axon/task.h"
#include "fs/file_jobs.h"

struct ax_fs_logger {
    ax_file *file;
    char *buf;
    size_t len, cap;
};

int ax_fs_logger_open(const char *path, ax_fs_logger **out, ax_instant deadline) {
    ax_fs_logger *lg = calloc(1, sizeof(*lg));
    if (!lg) return AX_ENOMEM;
    int err = ax_file_open(path, AX_FILE_APPEND | AX_FILE_CREATE, 0, &lg->file, deadline);
    if (err) {
        free(lg);
        return err;
    }
    *out = lg;
    return 0;
}

/* Appends the first n buffered bytes in one job and drops them. */
static int ax__logger_emit(ax_fs_logger *lg, size_t n, ax_instant deadline) {
    ax__fsjob *j = ax__fsjob_new(&ax__kind_write_at, NULL, NULL);
    if (j && !(j->data = malloc(n))) {
        ax__fsjob_unref(j);
        j = NULL;
    }
    if (j) {
        memcpy(j->data, lg->buf, n);
        j->fd = ax__fsfd_ref(lg->file->fd);
        j->len = n;
        j->flags = AX_FILE_APPEND;
    }
    ax_fs_future f;
    ax__fs_future_init(&f, j);
    intptr_t r = ax__fs_await(&f, deadline);
    if (r < 0) return (int)r;
    memmove(lg->buf, lg->buf + n, lg->len - n);
    lg->len -= n;
    return 0;
}

int ax_fs_logger_write(ax_fs_logger *lg, const void *data, size_t len, ax_instant deadline) {
    if (lg->len + len > lg->cap) {
        size_t cap = lg->cap ? lg->cap : 4096;
        while (cap < lg->len + len) cap *= 2;
        char *nb = realloc(lg->buf, cap);
        if (!nb) return AX_ENOMEM;
        lg->buf = nb;
        lg->cap = cap;
    }
    memcpy(lg->buf + lg->len, data, len);
    lg->len += len;
    const char *nl = NULL;
    for (size_t i = lg->len; i > lg->len - len; i--)
        if (lg->buf[i - 1] == '\n') {
            nl = lg->buf + i - 1;
            break;
        }
    if (!nl) return 0;
    return ax__logger_emit(lg, (size_t)(nl - lg->buf) + 1, deadline);
}

int ax_fs_logger_flush(ax_fs_logger *lg, ax_instant deadline) {
    return lg->len ? ax__logger_emit(lg, lg->len, deadline) : 0;
}

int ax_fs_logger_close(ax_fs_logger *lg, ax_instant deadline) {
    if (!lg) return 0;
    int err = ax_is_cancelled() ? 0 : ax_fs_logger_flush(lg, deadline);
    int e2 = ax_file_close(lg->file, deadline);
    free(lg->buf);
    free(lg);
    return err ? err : e2;
}
