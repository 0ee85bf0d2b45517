/* libFuzzer target for the router (http/router.c): patterns from the
 * input are added (bad ones refused), then paths from the input are looked
 * up; bound parameters must be slices of the path. Input: lines; those
 * starting with '+' are patterns, the rest paths. Build and run with
 * `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int dummy(ax_http_req *req, ax_http_res *res, void *u) {
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ax_http_router *r;
    if (ax_http_router_new(&r)) return 0;
    static const char *const methods[] = {"GET", "POST", "*", "HEAD"};
    char line[512];
    size_t i = 0, k = 0;
    static ax_http_req req;
    while (i < size) {
        size_t s = i;
        while (i < size && data[i] != '\n') i++;
        size_t n = i - s < sizeof line - 1 ? i - s : sizeof line - 1;
        memcpy(line, data + s, n);
        line[n] = 0;
        i++;
        if (n > 0 && line[0] == '+') {
            if (memchr(line, 0, n)) continue;
            ax_http_router_add(r, methods[k++ % 4], line + 1, dummy, NULL);
            continue;
        }
        ax_http_str path = {line, n};
        ax_http_str m = {methods[k % 2], strlen(methods[k % 2])};
        ax_http_handler h;
        void *u;
        memset(&req, 0, sizeof req);
        int st = ax__http_router_find(r, m, k & 1, path, &req, &h, &u);
        if (st != 200 && st != 404 && st != 405) __builtin_trap();
        if (st == 200) {
            if (h != dummy || req.nparams > AX__HTTP_MAX_PARAMS) __builtin_trap();
            for (size_t p = 0; p < req.nparams; p++) {
                ax_http_str v = req.params[p].value;
                if (v.len && (v.ptr < line || v.ptr + v.len > line + n)) __builtin_trap();
            }
        }
        char allow[64];
        if (ax__http_router_allow(r, path, allow, sizeof allow) >= sizeof allow) __builtin_trap();
        k++;
    }
    ax_http_router_free(r);
    return 0;
}
