/* http/chars.h - private: byte classes of RFC 9110 for the parsers. */
#ifndef AX_HTTP_CHARS_H
#define AX_HTTP_CHARS_H

#include <stdbool.h>

/* tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~" */
static inline bool ax__http_is_token(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return true;
    default:
        return false;
    }
}

/* field-vchar / SP / HTAB, obs-text included; no other control byte. */
static inline bool ax__http_is_value(unsigned char c) {
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Bytes of a request target: visible ASCII only. */
static inline bool ax__http_is_target(unsigned char c) {
    return c > 0x20 && c < 0x7f;
}

static inline unsigned char ax__http_lower(unsigned char c) {
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static inline int ax__http_hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = ax__http_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

#endif
