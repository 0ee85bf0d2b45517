/* libFuzzer target for the request head parser (http/parse.c): whatever
 * the bytes, the parser must stay inside them, agree with itself when fed
 * the same bytes in two steps, and give a status with every refusal.
 * Build and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "axon/error.h"
#include "axon/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *buf, size_t len, ax_http_str s) {
    if (s.len && (s.ptr < buf || s.ptr + s.len > buf + len)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *buf = (const char *)data;
    ax_http_header h[32];
    ax_http_request_head r;
    ax_http_limits l;
    ax_http_limits_init(&l);
    l.max_request_line = 512;
    l.max_head = 2048;
    ssize_t n = ax_http_parse_request(buf, size, &r, h, 32, &l);
    if (n == AX_EPROTO) {
        int st = r.status;
        if (st != 400 && st != 413 && st != 414 && st != 417 && st != 431 && st != 501 && st != 505)
            __builtin_trap();
        return 0;
    }
    if (n < 0 || (size_t)n > size) __builtin_trap();
    if (n == 0) return 0;
    if (r.nheaders > 32) __builtin_trap();
    inside(buf, size, r.method);
    inside(buf, size, r.target);
    inside(buf, size, r.path);
    inside(buf, size, r.query);
    for (size_t i = 0; i < r.nheaders; i++) {
        inside(buf, size, h[i].name);
        inside(buf, size, h[i].value);
        if (h[i].name.len == 0) __builtin_trap();
        for (size_t k = 0; k < h[i].value.len; k++)
            if (h[i].value.ptr[k] == '\r' || h[i].value.ptr[k] == '\n') __builtin_trap();
    }
    if (r.chunked && r.content_length >= 0) __builtin_trap(); /* never both */
    /* Every strict prefix of a complete head is incomplete or an error,
     * never a different complete head. */
    for (size_t cut = 0; cut < (size_t)n; cut += 1 + cut / 8) {
        ax_http_request_head r2;
        ssize_t m = ax_http_parse_request(buf, cut, &r2, h, 32, &l);
        if (m > 0) __builtin_trap();
    }
    return 0;
}
