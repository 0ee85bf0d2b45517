/* libFuzzer target for the HTTP client's URLs (http/client_url.c): the
 * input is split at its first NUL into a base URL and a reference; the
 * base is parsed, and the reference resolved against it into buffers of
 * several sizes. A parsed URL's slices must lie inside the input and its
 * host must not be empty; a resolved URL must itself parse and fit the
 * length returned; a result that fits a larger buffer must be the same.
 * Build and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "axon/error.h"
#include "axon/http_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_slice(ax_http_str s, const char *in, size_t len) {
    if (s.len && (s.ptr < in || s.ptr + s.len > in + len)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *in = malloc(size + 1);
    if (!in) return 0;
    memcpy(in, data, size);
    in[size] = 0;
    size_t blen = strlen(in);
    ax_http_url u;
    if (ax_http_url_parse(in, blen, &u) == 0) {
        if (u.host.len == 0 || u.port == 0 || u.target.len == 0) abort();
        check_slice(u.host, in, blen);
        if (u.target.ptr[0] != '/' && u.target.ptr[0] != '?') abort();
        if (u.target.len != 1 || u.target.ptr[0] != '/') check_slice(u.target, in, blen);
    }
    if (blen < size) {
        const char *ref = in + blen + 1;
        size_t rlen = size - blen - 1;
        char small[32], big[4096];
        ssize_t n = ax_http_url_resolve(in, ref, rlen, big, sizeof big);
        if (n >= 0) {
            if ((size_t)n != strlen(big)) abort();
            ax_http_url r;
            if (ax_http_url_parse(big, (size_t)n, &r) != 0) abort();
            ssize_t m = ax_http_url_resolve(in, ref, rlen, small, sizeof small);
            if (m >= 0 && (m != n || strcmp(small, big) != 0)) abort();
            if (m < 0 && (size_t)n < sizeof small) abort();
        }
    }
    free(in);
    return 0;
}
