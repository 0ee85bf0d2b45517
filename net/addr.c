/* net/addr.c - parsing, formatting, comparing and classifying addresses.
 *
 * IPv4 is parsed by hand because inet_pton's acceptance of leading zeros
 * differs between libcs (and "010" reads as octal to some tools, decimal to
 * others); IPv6 is strict enough in inet_pton everywhere, so only the scope
 * suffix is split off here.
 */
#include "axon/addr.h"
#include "axon/error.h"

#include <string.h>

#ifndef _WIN32
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#endif

static const uint8_t ax__v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

ax_ip ax_ip_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    ax_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.family = AX_INET;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

ax_ip ax_ip_v6(const uint8_t bytes[16], uint32_t scope_id) {
    ax_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.family = AX_INET6;
    ip.scope_id = scope_id;
    memcpy(ip.bytes, bytes, 16);
    return ip;
}

ax_addr ax_addr_make(ax_ip ip, uint16_t port) {
    ax_addr a;
    memset(&a, 0, sizeof a);
    a.ip = ip;
    a.port = port;
    return a;
}

ax_addr ax_addr_any(ax_family family, uint16_t port) {
    static const uint8_t zero[16];
    return ax_addr_make(family == AX_INET6 ? ax_ip_v6(zero, 0) : ax_ip_v4(0, 0, 0, 0), port);
}

ax_addr ax_addr_loopback(ax_family family, uint16_t port) {
    static const uint8_t one[16] = {[15] = 1};
    return ax_addr_make(family == AX_INET6 ? ax_ip_v6(one, 0) : ax_ip_v4(127, 0, 0, 1), port);
}

/* Exactly four decimal parts 0..255 without leading zeros. */
static int ax__parse_v4(const char *s, size_t n, uint8_t out[4]) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.') return AX_EINVAL;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        size_t digits = i - start;
        if (digits == 0 || v > 255 || (digits > 1 && s[start] == '0')) return AX_EINVAL;
        if (i < n && s[i] >= '0' && s[i] <= '9') return AX_EINVAL;
        out[part] = (uint8_t)v;
    }
    return i == n ? 0 : AX_EINVAL;
}

static int ax__parse_scope(const char *s, size_t n, uint32_t *out) {
    char name[64];
    if (n == 0 || n >= sizeof name) return AX_EINVAL;
    memcpy(name, s, n);
    name[n] = 0;
    bool numeric = true;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (name[i] < '0' || name[i] > '9') {
            numeric = false;
            break;
        }
        v = v * 10 + (uint64_t)(name[i] - '0');
        if (v > UINT32_MAX) return AX_EINVAL;
    }
    if (numeric) {
        *out = (uint32_t)v;
        return 0;
    }
#ifdef _WIN32
    return AX_EINVAL;
#else
    unsigned idx = if_nametoindex(name);
    if (idx == 0) return AX_EINVAL;
    *out = idx;
    return 0;
#endif
}

/* Parses s[0..n) as an IP address. */
static int ax__parse_ip(const char *s, size_t n, ax_ip *out) {
    ax_ip ip;
    memset(&ip, 0, sizeof ip);
    if (n > 0 && memchr(s, ':', n) == NULL) {
        if (ax__parse_v4(s, n, ip.bytes)) return AX_EINVAL;
        ip.family = AX_INET;
        *out = ip;
        return 0;
    }
    const char *pct = memchr(s, '%', n);
    size_t addr_len = pct ? (size_t)(pct - s) : n;
    char text[INET6_ADDRSTRLEN];
    if (addr_len == 0 || addr_len >= sizeof text) return AX_EINVAL;
    memcpy(text, s, addr_len);
    text[addr_len] = 0;
    if (inet_pton(AF_INET6, text, ip.bytes) != 1) return AX_EINVAL;
    ip.family = AX_INET6;
    if (pct && ax__parse_scope(pct + 1, n - addr_len - 1, &ip.scope_id)) return AX_EINVAL;
    *out = ip;
    return 0;
}

int ax_ip_parse(const char *s, ax_ip *out) {
    if (!s || !out) return AX_EINVAL;
    return ax__parse_ip(s, strlen(s), out);
}

int ax_addr_parse(const char *s, ax_addr *out) {
    if (!s || !out) return AX_EINVAL;
    size_t n = strlen(s);
    const char *ip_start = s, *colon;
    size_t ip_len;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || close[1] != ':') return AX_EINVAL;
        ip_start = s + 1;
        ip_len = (size_t)(close - ip_start);
        colon = close + 1;
        if (ip_len == 0 || memchr(ip_start, ':', ip_len) == NULL) return AX_EINVAL;
    } else {
        colon = memchr(s, ':', n);
        if (!colon || memchr(colon + 1, ':', n - (size_t)(colon + 1 - s))) return AX_EINVAL;
        ip_len = (size_t)(colon - s);
    }
    const char *p = colon + 1;
    size_t plen = n - (size_t)(p - s);
    if (plen == 0 || plen > 5) return AX_EINVAL;
    unsigned port = 0;
    for (size_t i = 0; i < plen; i++) {
        if (p[i] < '0' || p[i] > '9') return AX_EINVAL;
        port = port * 10 + (unsigned)(p[i] - '0');
    }
    if (port > 65535) return AX_EINVAL;
    ax_ip ip;
    if (ax__parse_ip(ip_start, ip_len, &ip)) return AX_EINVAL;
    *out = ax_addr_make(ip, (uint16_t)port);
    return 0;
}

/* Appends src to buf at *pos; false when it does not fit. */
static bool ax__append(char *buf, size_t cap, size_t *pos, const char *src) {
    size_t n = strlen(src);
    if (*pos + n + 1 > cap) return false;
    memcpy(buf + *pos, src, n + 1);
    *pos += n;
    return true;
}

int ax_ip_format(const ax_ip *ip, char *buf, size_t cap) {
    if (!ip || !buf) return AX_EINVAL;
    char text[INET6_ADDRSTRLEN + 1 + 32];
    if (ip->family == AX_INET) {
        if (!inet_ntop(AF_INET, ip->bytes, text, sizeof text)) return AX_EINVAL;
    } else if (ip->family == AX_INET6) {
        if (!inet_ntop(AF_INET6, ip->bytes, text, INET6_ADDRSTRLEN)) return AX_EINVAL;
        if (ip->scope_id) {
            size_t len = strlen(text);
            text[len++] = '%';
#ifndef _WIN32
            char name[IF_NAMESIZE];
            if (if_indextoname(ip->scope_id, name)) {
                memcpy(text + len, name, strlen(name) + 1);
            } else
#endif
            {
                char digits[12];
                int d = 0;
                uint32_t v = ip->scope_id;
                do digits[d++] = (char)('0' + v % 10);
                while ((v /= 10) != 0);
                while (d > 0) text[len++] = digits[--d];
                text[len] = 0;
            }
        }
    } else {
        return AX_EINVAL;
    }
    size_t pos = 0;
    if (cap == 0) return AX_ENOSPC;
    buf[0] = 0;
    if (!ax__append(buf, cap, &pos, text)) return AX_ENOSPC;
    return (int)pos;
}

int ax_addr_format(const ax_addr *addr, char *buf, size_t cap) {
    if (!addr || !buf) return AX_EINVAL;
    char ip[AX_IP_STRLEN];
    int r = ax_ip_format(&addr->ip, ip, sizeof ip);
    if (r < 0) return r;
    char port[8];
    int d = 0;
    char digits[6];
    unsigned v = addr->port;
    do digits[d++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    port[0] = ':';
    int p = 1;
    while (d > 0) port[p++] = digits[--d];
    port[p] = 0;
    size_t pos = 0;
    if (cap == 0) return AX_ENOSPC;
    buf[0] = 0;
    bool v6 = addr->ip.family == AX_INET6;
    if ((v6 && !ax__append(buf, cap, &pos, "[")) || !ax__append(buf, cap, &pos, ip) ||
        (v6 && !ax__append(buf, cap, &pos, "]")) || !ax__append(buf, cap, &pos, port))
        return AX_ENOSPC;
    return (int)pos;
}

static size_t ax__ip_len(const ax_ip *ip) {
    return ip->family == AX_INET ? 4 : 16;
}

int ax_ip_compare(const ax_ip *a, const ax_ip *b) {
    if (a->family != b->family) return a->family < b->family ? -1 : 1;
    int c = memcmp(a->bytes, b->bytes, ax__ip_len(a));
    if (c) return c < 0 ? -1 : 1;
    if (a->scope_id != b->scope_id) return a->scope_id < b->scope_id ? -1 : 1;
    return 0;
}

int ax_addr_compare(const ax_addr *a, const ax_addr *b) {
    int c = ax_ip_compare(&a->ip, &b->ip);
    if (c) return c;
    return a->port == b->port ? 0 : (a->port < b->port ? -1 : 1);
}

bool ax_ip_equal(const ax_ip *a, const ax_ip *b) {
    return ax_ip_compare(a, b) == 0;
}

bool ax_addr_equal(const ax_addr *a, const ax_addr *b) {
    return ax_addr_compare(a, b) == 0;
}

bool ax_ip_is_v4_mapped(const ax_ip *ip) {
    return ip->family == AX_INET6 && memcmp(ip->bytes, ax__v4_mapped_prefix, 12) == 0;
}

ax_ip ax_ip_unmap(const ax_ip *ip) {
    if (!ax_ip_is_v4_mapped(ip)) return *ip;
    return ax_ip_v4(ip->bytes[12], ip->bytes[13], ip->bytes[14], ip->bytes[15]);
}

bool ax_ip_is_loopback(const ax_ip *in) {
    ax_ip ip = ax_ip_unmap(in);
    if (ip.family == AX_INET) return ip.bytes[0] == 127;
    static const uint8_t one[16] = {[15] = 1};
    return memcmp(ip.bytes, one, 16) == 0;
}

bool ax_ip_is_private(const ax_ip *in) {
    ax_ip ip = ax_ip_unmap(in);
    const uint8_t *b = ip.bytes;
    if (ip.family == AX_INET)
        return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168);
    return (b[0] & 0xfe) == 0xfc;
}

bool ax_ip_is_multicast(const ax_ip *in) {
    ax_ip ip = ax_ip_unmap(in);
    if (ip.family == AX_INET) return (ip.bytes[0] & 0xf0) == 224;
    return ip.bytes[0] == 0xff;
}

bool ax_ip_is_link_local(const ax_ip *in) {
    ax_ip ip = ax_ip_unmap(in);
    if (ip.family == AX_INET) return ip.bytes[0] == 169 && ip.bytes[1] == 254;
    return ip.bytes[0] == 0xfe && (ip.bytes[1] & 0xc0) == 0x80;
}

bool ax_ip_is_unspecified(const ax_ip *ip) {
    static const uint8_t zero[16];
    return memcmp(ip->bytes, zero, ax__ip_len(ip)) == 0 && ip->scope_id == 0;
}

int ax_addr_to_sockaddr(const ax_addr *addr, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    if (addr->ip.family == AX_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(addr->port);
        memcpy(&in->sin_addr, addr->ip.bytes, 4);
        *len = sizeof *in;
        return 0;
    }
    if (addr->ip.family == AX_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(addr->port);
        memcpy(&in6->sin6_addr, addr->ip.bytes, 16);
        in6->sin6_scope_id = addr->ip.scope_id;
        *len = sizeof *in6;
        return 0;
    }
    return AX_EINVAL;
}

int ax_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, ax_addr *out) {
    if (!sa || !out) return AX_EINVAL;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        const uint8_t *b = (const uint8_t *)&in->sin_addr;
        *out = ax_addr_make(ax_ip_v4(b[0], b[1], b[2], b[3]), ntohs(in->sin_port));
        return 0;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        *out = ax_addr_make(ax_ip_v6((const uint8_t *)&in6->sin6_addr, in6->sin6_scope_id),
                            ntohs(in6->sin6_port));
        return 0;
    }
    return AX_EINVAL;
}
