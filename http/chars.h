/* http/chars.h - private: byte classes of RFC 9110 for the parsers, as
 * lookup tables (one load per byte on the hot path). */
#ifndef AX_HTTP_CHARS_H
#define AX_HTTP_CHARS_H

#include <stdbool.h>
#include <stddef.h>

/* Bit 1: tchar (ALPHA / DIGIT / "!#$%&'*+-.^_`|~"). Bit 2: a byte allowed
 * in a field value (VCHAR, SP, HTAB, obs-text). Bit 4: a byte of a request
 * target (visible ASCII). */
extern const unsigned char ax__http_class[256];

enum { AX__C_TOKEN = 1, AX__C_VALUE = 2, AX__C_TARGET = 4 };

static inline bool ax__http_is_token(unsigned char c) {
    return ax__http_class[c] & AX__C_TOKEN;
}
static inline bool ax__http_is_value(unsigned char c) {
    return ax__http_class[c] & AX__C_VALUE;
}
static inline bool ax__http_is_target(unsigned char c) {
    return ax__http_class[c] & AX__C_TARGET;
}

static inline unsigned char ax__http_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* p[0, n) equals the lower-case lit[0, n), ignoring case. */
static inline bool ax__http_ieq(const char *p, const char *lit, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ax__http_lower((unsigned char)p[i]) != (unsigned char)lit[i]) return false;
    return true;
}

static inline int ax__http_hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = ax__http_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

#endif
