/* libFuzzer target for the address parsers (net/addr.c): anything that
 * parses must format, and what it formats must parse back to the same
 * value. Build and run with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "axon/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char text[128];
    if (size >= sizeof text) size = sizeof text - 1;
    memcpy(text, data, size);
    text[size] = 0;
    ax_ip ip, ip2;
    if (ax_ip_parse(text, &ip) == 0) {
        char out[AX_IP_STRLEN];
        if (ax_ip_format(&ip, out, sizeof out) < 0) __builtin_trap();
        if (ax_ip_parse(out, &ip2) != 0 || !ax_ip_equal(&ip, &ip2)) __builtin_trap();
        (void)ax_ip_is_private(&ip);
        (void)ax_ip_is_loopback(&ip);
    }
    ax_addr a, a2;
    if (ax_addr_parse(text, &a) == 0) {
        char out[AX_ADDR_STRLEN];
        if (ax_addr_format(&a, out, sizeof out) < 0) __builtin_trap();
        if (ax_addr_parse(out, &a2) != 0 || !ax_addr_equal(&a, &a2)) __builtin_trap();
    }
    return 0;
}
