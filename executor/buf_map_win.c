/* executor/buf_map_win.c - memory-mapped file buffers are not offered on
 * Windows yet (the file layer, fs/, is not part of the Windows build):
 * both calls return AX_ENOTSUP after checking their arguments. */
#include "executor/internal.h"

int ax_buf_map_file(ax_buf **out, int fd, uint64_t offset, size_t len) {
    (void)fd;
    (void)offset;
    (void)len;
    if (!out) return AX_EINVAL;
    *out = NULL;
    return AX_ENOTSUP;
}

int ax_buf_map_path(ax_buf **out, const char *path) {
    if (!out || !path) return AX_EINVAL;
    *out = NULL;
    return AX_ENOTSUP;
}
