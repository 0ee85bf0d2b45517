/* executor/buf_map.c - read-only memory-mapped file buffers.
 *
 * The mapping starts at the page that holds `offset`; data points `offset
 * % page` bytes into it, and munmap at the last unref (buf.c) takes the
 * whole mapping. An empty range maps nothing.
 */
#include "executor/internal.h"
#include "executor/buf_pool.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int ax_buf_map_file(ax_buf **out, int fd, uint64_t offset, size_t len) {
    if (!out) return AX_EINVAL;
    *out = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) return ax_translate_sys_error(errno);
    if (!S_ISREG(st.st_mode)) return AX_EINVAL;
    uint64_t size = (uint64_t)st.st_size;
    if (offset > size) return AX_ERANGE;
    if (len == AX_BUF_MAP_TO_END) {
        if (size - offset > SIZE_MAX - 1) return AX_ENOMEM;
        len = (size_t)(size - offset);
    } else if ((uint64_t)len > size - offset) {
        return AX_ERANGE;
    }
    ax_buf *b = malloc(sizeof(*b));
    if (!b) return AX_ENOMEM;
    atomic_init(&b->refs, 1);
    b->kind = AX__BUF_MAP;
    b->cls = 0;
    b->len = b->cap = len;
    b->data = NULL;
    b->u.map.base = NULL;
    b->u.map.size = 0;
    if (len) {
        uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
        uint64_t start = offset - offset % page;
        size_t lead = (size_t)(offset - start);
        if (len > SIZE_MAX - lead) {
            free(b);
            return AX_ENOMEM;
        }
        void *base = mmap(NULL, lead + len, PROT_READ, MAP_PRIVATE, fd, (off_t)start);
        if (base == MAP_FAILED) {
            int err = ax_translate_sys_error(errno);
            free(b);
            return err;
        }
        /* Large transfers read front to back: ask for read-ahead. */
        (void)madvise(base, lead + len, MADV_SEQUENTIAL);
        b->u.map.base = base;
        b->u.map.size = lead + len;
        b->data = (uint8_t *)base + lead;
    }
    *out = b;
    return 0;
}

int ax_buf_map_path(ax_buf **out, const char *path) {
    if (!out || !path) return AX_EINVAL;
    *out = NULL;
    ax__worker *w = ax__worker_current();
    if (w) {
        ax_policy *p = ax_runtime_policy(w->rt);
        if (p) {
            int err = ax_policy_check_read(p, path, NULL, 0);
            ax_policy_free(p);
            if (err) return err;
        }
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ax_translate_sys_error(errno);
    int err = ax_buf_map_file(out, fd, 0, AX_BUF_MAP_TO_END);
    close(fd);
    return err;
}
