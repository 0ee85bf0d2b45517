/* libFuzzer target for the response head parser (http/parse.c). Build
 * and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>

#include "axon/error.h"
#include "axon/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    ax_http_header h[32];
    ax_http_response_head r;
    ssize_t n = ax_http_parse_response(buf, size, &r, h, 32, NULL);
    if (n == AX_EPROTO || n == 0) return 0;
    if (n < 0 || (size_t)n > size) __builtin_trap();
    if (r.status < 100 || r.status > 999 || r.nheaders > 32) __builtin_trap();
    if (r.reason.len && (r.reason.ptr < buf || r.reason.ptr + r.reason.len > buf + size))
        __builtin_trap();
    for (size_t i = 0; i < r.nheaders; i++)
        if (h[i].value.ptr + h[i].value.len > buf + n) __builtin_trap();
    if (r.chunked && r.content_length >= 0) __builtin_trap();
    return 0;
}
