/* http/static_meta.c - what the static file server says about a file:
 * its ETag and dates, the conditional and Range headers it is asked with,
 * and its Content-Type. Pure functions over strings. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/static_internal.h"

size_t ax__static_etag(char out[48], int64_t mtime_ns, uint64_t size) {
    int n =
        snprintf(out, 48, "\"%llx-%llx\"", (unsigned long long)mtime_ns, (unsigned long long)size);
    return n < 0 ? 0 : (size_t)n;
}

static const char ax__wday[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
static const char ax__mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), and back. */
static int64_t ax__days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3u : 9u)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void ax__civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void ax__static_fmt_date(char out[48], int64_t t) {
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int64_t y;
    unsigned m, d;
    ax__civil_from_days(days, &y, &m, &d);
    if (y < 0) y = 0;
    if (y > 9999) y = 9999;
    int64_t wd = days % 7;
    if (wd < 0) wd += 7;
    snprintf(out, 48, "%s, %02u %s %04lld %02d:%02d:%02d GMT", ax__wday[wd], d, ax__mon[m - 1],
             (long long)y, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
}

static bool ax__digits(const char *p, int n, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

bool ax__static_parse_date(ax_http_str s, int64_t *out) {
    /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (s.len != 29) return false;
    const char *p = s.ptr;
    if (p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' || p[19] != ':' ||
        p[22] != ':' || memcmp(p + 25, " GMT", 4) != 0)
        return false;
    unsigned d, y, hh, mm, ss, m = 0;
    if (!ax__digits(p + 5, 2, &d) || !ax__digits(p + 12, 4, &y) || !ax__digits(p + 17, 2, &hh) ||
        !ax__digits(p + 20, 2, &mm) || !ax__digits(p + 23, 2, &ss))
        return false;
    while (m < 12 && memcmp(p + 8, ax__mon[m], 3) != 0) m++;
    if (m == 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return false;
    *out = ax__days_from_civil(y, m + 1, d) * 86400 + hh * 3600 + mm * 60 + ss;
    return true;
}

/* The opaque part of an entity tag (without W/). */
static ax_http_str ax__opaque(ax_http_str t) {
    if (t.len >= 2 && t.ptr[0] == 'W' && t.ptr[1] == '/') {
        t.ptr += 2;
        t.len -= 2;
    }
    return t;
}

bool ax__static_etag_listed(ax_http_str list, const char *etag) {
    ax_http_str mine = ax__opaque((ax_http_str){etag, strlen(etag)});
    const char *p = list.ptr, *end = list.ptr + list.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) p++;
        if (p == end) break;
        if (*p == '*') return true;
        const char *q = p;
        if (end - q >= 2 && q[0] == 'W' && q[1] == '/') q += 2;
        if (q == end || *q != '"') return false; /* malformed: no match */
        const char *close = memchr(q + 1, '"', (size_t)(end - q - 1));
        if (!close) return false;
        ax_http_str t = ax__opaque((ax_http_str){p, (size_t)(close + 1 - p)});
        if (t.len == mine.len && memcmp(t.ptr, mine.ptr, t.len) == 0) return true;
        p = close + 1;
    }
    return false;
}

/* A decimal uint64 (digits only); false when empty or on overflow. */
static bool ax__u64(const char *p, const char *e, uint64_t *out) {
    if (p == e) return false;
    uint64_t v = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

int ax__static_parse_range(ax_http_str v, uint64_t size, uint64_t *start, uint64_t *len) {
    const char *p = v.ptr, *e = v.ptr + v.len;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if ((size_t)(e - p) < 6 || strncasecmp(p, "bytes=", 6) != 0) return AX__RANGE_NONE;
    p += 6;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (memchr(p, ',', (size_t)(e - p))) return AX__RANGE_NONE; /* several: the whole file */
    const char *dash = memchr(p, '-', (size_t)(e - p));
    if (!dash) return AX__RANGE_NONE;
    uint64_t a, b;
    if (dash == p) { /* -n: the last n bytes */
        if (!ax__u64(dash + 1, e, &b)) return AX__RANGE_NONE;
        if (b == 0 || size == 0) return AX__RANGE_UNSAT;
        if (b > size) b = size;
        *start = size - b;
        *len = b;
        return AX__RANGE_OK;
    }
    if (!ax__u64(p, dash, &a)) return AX__RANGE_NONE;
    if (dash + 1 == e) {
        b = UINT64_MAX; /* a-: to the end */
    } else {
        if (!ax__u64(dash + 1, e, &b)) return AX__RANGE_NONE;
        if (b < a) return AX__RANGE_NONE; /* invalid: ignored */
    }
    if (a >= size) return AX__RANGE_UNSAT;
    if (b >= size) b = size - 1;
    *start = a;
    *len = b - a + 1;
    return AX__RANGE_OK;
}

static const struct {
    const char *ext, *type;
} ax__types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
};

const char *ax__static_mime(const char *name) {
    const char *slash = strrchr(name, '/');
    const char *dot = strrchr(slash ? slash : name, '.');
    if (dot && dot[1])
        for (size_t i = 0; i < sizeof ax__types / sizeof ax__types[0]; i++)
            if (strcasecmp(dot + 1, ax__types[i].ext) == 0) return ax__types[i].type;
    return "application/octet-stream";
}
