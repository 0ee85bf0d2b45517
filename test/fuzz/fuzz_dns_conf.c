/* libFuzzer target for the resolver's text parsers (net/dns_conf.c):
 * resolv.conf and hosts files, which a program may be pointed at by an
 * untrusted configuration. The first byte picks the parser. Build and run
 * with `make fuzz`. */
#include <stddef.h>
#include <stdint.h>

#include "net/dns_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        ax_resolver_config cfg;
        ax_resolver_config_init(&cfg);
        ax__dns_conf_parse(&cfg, text, len);
        if (cfg.n_nameservers > AX_RESOLVER_MAX_NAMESERVERS) __builtin_trap();
        if (cfg.n_search > AX_RESOLVER_MAX_SEARCH) __builtin_trap();
    } else {
        ax__dns_hosts h = {0}; /* the parser appends to what h holds */
        ax__dns_hosts_parse(&h, text, len);
        ax__dns_hosts_free(&h);
    }
    return 0;
}
