/* executor/policy_net.c - connect and bind rules: host names, address
 * literals, CIDR ranges and port ranges (see axon/policy.h for the rules'
 * syntax and meaning). Nothing here resolves a name or touches a socket. */
#include "executor/policy_internal.h"
#include "executor/policy_impl.h"

#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#endif
#include <stdlib.h>
#include <string.h>

#define AX__NAME_MAX 253

/* A checked host, classified. */
typedef struct ax__host {
    uint8_t kind; /* AX__R_NAME, AX__R_V4, AX__R_V6, or AX__R_ANY: matches no specific rule */
    uint8_t addr[16];
    size_t len;
    char name[AX__NAME_MAX + 1];
} ax__host;

/* Parses an address literal ("10.1.2.3", "::1", "[::1]", "fe80::1%eth0")
 * and, with allow_prefix, a "/len" after it. Returns 1 for an address
 * (kind, addr with host bits cleared, *prefix), 0 when s is not an
 * address, AX_EINVAL for an address with a bad prefix. An IPv4-mapped IPv6
 * address becomes the IPv4 address. */
static int ax__parse_addr(const char *s, bool allow_prefix, uint8_t *kind, uint8_t addr[16],
                          int *prefix) {
    char buf[72];
    size_t n = strlen(s);
    if (n >= sizeof buf) return 0;
    memcpy(buf, s, n + 1);
    char *a = buf, *pfx = NULL;
    if (a[0] == '[') {
        char *close = strchr(a, ']');
        if (!close) return 0;
        *close = '\0';
        a++;
        if (close[1] == '/')
            pfx = close + 2;
        else if (close[1])
            return 0;
    } else {
        char *slash = strchr(a, '/');
        if (slash) {
            *slash = '\0';
            pfx = slash + 1;
        }
    }
    char *zone = strchr(a, '%');
    if (zone) *zone = '\0'; /* the scope of a link-local address does not matter here */
    int max;
    memset(addr, 0, 16);
    if (!zone && inet_pton(AF_INET, a, addr) == 1) {
        *kind = AX__R_V4;
        max = 32;
    } else if (inet_pton(AF_INET6, a, addr) == 1) {
        *kind = AX__R_V6;
        max = 128;
    } else {
        return 0;
    }
    int len = max;
    if (pfx) {
        if (!allow_prefix || !*pfx || strlen(pfx) > 3) return AX_EINVAL;
        len = 0;
        for (const char *d = pfx; *d; d++) {
            if (*d < '0' || *d > '9') return AX_EINVAL;
            len = len * 10 + (*d - '0');
        }
        if (len > max) return AX_EINVAL;
    }
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (*kind == AX__R_V6 && len >= 96 && memcmp(addr, mapped, 12) == 0) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *kind = AX__R_V4;
        len -= 96;
    }
    for (int bit = len; bit < 128; bit++) addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    *prefix = len;
    return 1;
}

/* Lower-cases a host name into out and checks it: labels of letters,
 * digits, '-' and '_', 1..63 bytes each, 253 in all, one trailing dot
 * ignored. A name whose last label is all digits ("10.0.0", "127.1") is
 * refused: it is a mangled address, not a name. Returns the length or
 * AX_EINVAL. */
static int ax__name_norm(const char *s, char out[AX__NAME_MAX + 1]) {
    size_t n = strlen(s);
    if (n && s[n - 1] == '.') n--;
    if (n == 0 || n > AX__NAME_MAX) return AX_EINVAL;
    size_t label = 0;
    bool digits = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0) return AX_EINVAL;
            label = 0;
            digits = true;
            out[i] = c;
            continue;
        }
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        bool digit = c >= '0' && c <= '9';
        if (!digit && !(c >= 'a' && c <= 'z') && c != '-' && c != '_') return AX_EINVAL;
        digits = digits && digit;
        if (++label > 63) return AX_EINVAL;
        out[i] = c;
    }
    if (label == 0 || digits) return AX_EINVAL;
    out[n] = '\0';
    return (int)n;
}

static int ax__allow_net(ax_policy *p, int which, const char *host, unsigned lo, unsigned hi) {
    if (!p || !host || !*host || lo > hi || hi > 65535) return AX_EINVAL;
    if (atomic_load_explicit(&p->frozen, memory_order_relaxed)) return AX_EBUSY;
    ax__net_rule r;
    memset(&r, 0, sizeof r);
    r.lo = (uint16_t)lo;
    r.hi = (uint16_t)hi;
    if (strcmp(host, "*") == 0) {
        r.kind = AX__R_ANY;
    } else {
        int prefix = 0;
        int a = ax__parse_addr(host, true, &r.kind, r.addr, &prefix);
        if (a < 0) return a;
        if (a) {
            r.prefix = (uint8_t)prefix;
        } else {
            bool suffix = host[0] == '*' && host[1] == '.';
            char name[AX__NAME_MAX + 2];
            int n = ax__name_norm(host + (suffix ? 2 : 0), name + 1);
            if (n < 0) return n;
            name[0] = '.';
            r.kind = suffix ? AX__R_SUFFIX : AX__R_NAME;
            r.name_len = (size_t)n + suffix;
            r.name = malloc(r.name_len + 1);
            if (!r.name) return AX_ENOMEM;
            memcpy(r.name, suffix ? name : name + 1, r.name_len + 1);
        }
    }
    int err = ax__grow((void **)&p->rules[which], &p->caprules[which], p->nrules[which],
                       sizeof(ax__net_rule));
    if (err) {
        free(r.name);
        return err;
    }
    p->rules[which][p->nrules[which]++] = r;
    return 0;
}

int ax_policy_allow_connect(ax_policy *p, const char *host, unsigned port_lo, unsigned port_hi) {
    return ax__allow_net(p, AX__RULES_CONNECT, host, port_lo, port_hi);
}

int ax_policy_allow_bind(ax_policy *p, const char *addr, unsigned port_lo, unsigned port_hi) {
    return ax__allow_net(p, AX__RULES_BIND, addr, port_lo, port_hi);
}

static bool ax__prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits) {
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0) return false;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == b[full];
}

static bool ax__rule_matches(const ax__net_rule *r, const ax__host *h, unsigned port) {
    if (port < r->lo || port > r->hi) return false;
    switch (r->kind) {
    case AX__R_ANY:
        return true;
    case AX__R_NAME:
        return h->kind == AX__R_NAME && h->len == r->name_len &&
               memcmp(h->name, r->name, h->len) == 0;
    case AX__R_SUFFIX:
        return h->kind == AX__R_NAME && h->len > r->name_len &&
               memcmp(h->name + h->len - r->name_len, r->name, r->name_len) == 0;
    case AX__R_V4:
    case AX__R_V6:
        return h->kind == r->kind && ax__prefix_eq(h->addr, r->addr, r->prefix);
    default:
        return false;
    }
}

static int ax__check_net(const ax_policy *p, int which, const char *host, unsigned port, char *why,
                         size_t cap) {
    const char *verb = which == AX__RULES_CONNECT ? "connect to" : "bind to";
    ax__why(why, cap, "%s", "");
    if (!host || !*host || port > 65535) {
        ax__why(why, cap, "%s %s:%u: invalid host or port", verb, host ? host : "(null)", port);
        return AX_EINVAL;
    }
    if (!p) return 0;
    ax__host h;
    int prefix;
    int a = ax__parse_addr(host, false, &h.kind, h.addr, &prefix);
    if (a <= 0) {
        int n = ax__name_norm(host, h.name);
        h.kind = n < 0 ? AX__R_ANY : AX__R_NAME; /* not a valid name: only "*" allows it */
        h.len = n < 0 ? 0 : (size_t)n;
    }
    for (size_t i = 0; i < p->nrules[which]; i++)
        if (ax__rule_matches(&p->rules[which][i], &h, port)) return 0;
    bool brackets = host[0] != '[' && strchr(host, ':');
    ax__why(why, cap, "%s %s%s%s:%u denied: no %s rule matches", verb, brackets ? "[" : "", host,
            brackets ? "]" : "", port, which == AX__RULES_CONNECT ? "allow_connect" : "allow_bind");
    return AX_EPOLICY;
}

int ax_policy_check_connect(const ax_policy *p, const char *host, unsigned port, char *why,
                            size_t cap) {
    return ax__check_net(p, AX__RULES_CONNECT, host, port, why, cap);
}

int ax_policy_check_bind(const ax_policy *p, const char *addr, unsigned port, char *why,
                         size_t cap) {
    return ax__check_net(p, AX__RULES_BIND, addr, port, why, cap);
}
