/* libFuzzer target for the chunked decoder (http/chunked.c): the first
 * byte picks how the input is split into feeds and how much payload one
 * call may hand out; the payload must be the same whatever the split. Build
 * and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "axon/error.h"
#include "axon/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes with feeds of `step` bytes; returns the result (consumed, or
 * AX_E*) and the payload in out. */
static ssize_t run(const char *in, size_t len, size_t step, size_t max_data, char *out,
                   size_t *olen) {
    ax_http_chunked d;
    ax_http_chunked_init(&d, 1 << 20);
    size_t pos = 0, avail = 0;
    *olen = 0;
    while (!ax_http_chunked_done(&d)) {
        if (pos == avail) {
            if (avail == len) return 0;
            avail = avail + step > len ? len : avail + step;
        }
        const char *p;
        size_t dl;
        int st = 0;
        ssize_t n = ax_http_chunked_decode(&d, in + pos, avail - pos, max_data, &p, &dl, &st);
        if (n < 0) {
            if (st != 400 && st != 413 && st != 431) __builtin_trap();
            return n;
        }
        if ((size_t)n > avail - pos || dl > (size_t)n || (max_data && dl > max_data))
            __builtin_trap();
        if (dl && (p < in + pos || p + dl > in + pos + n)) __builtin_trap();
        memcpy(out + *olen, p, dl);
        *olen += dl;
        pos += (size_t)n;
    }
    return (ssize_t)pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 65536) return 0;
    static char a[65536], b[65536];
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t step = 1 + (data[0] & 15), max_data = data[0] >> 4;
    size_t la, lb;
    ssize_t ra = run(in, len, len ? len : 1, 0, a, &la);
    ssize_t rb = run(in, len, step, max_data, b, &lb);
    if (ra != rb) __builtin_trap();
    if (ra > 0 && (la != lb || memcmp(a, b, la) != 0)) __builtin_trap();
    return 0;
}
