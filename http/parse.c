/* http/parse.c - request and response head parsers (axon/http_parse.h).
 *
 * One pass over the bytes: each line is validated as it is scanned, so a
 * head is refused at its first bad byte. The scan restarts from the first
 * byte on every call (a head is small, and a restart keeps the parser
 * stateless, so nothing can go stale between calls).
 */
#include "axon/http_parse.h"

#include <string.h>

#include "axon/error.h"
#include "http/chars.h"

void ax_http_limits_init(ax_http_limits *l) {
    l->max_request_line = 8192;
    l->max_head = 12288;
    l->max_headers = 64;
    l->max_body = 8u << 20;
}

/* The limits to use: in itself when complete (the server's are), else l
 * filled with in's fields over the defaults. */
static const ax_http_limits *ax__limits_fill(ax_http_limits *l, const ax_http_limits *in) {
    if (in && in->max_request_line && in->max_head && in->max_headers && in->max_body) return in;
    ax_http_limits_init(l);
    if (!in) return l;
    if (in->max_request_line) l->max_request_line = in->max_request_line;
    if (in->max_head) l->max_head = in->max_head;
    if (in->max_headers) l->max_headers = in->max_headers;
    if (in->max_body) l->max_body = in->max_body;
    return l;
}

bool ax_http_str_eq(ax_http_str s, const char *lit) {
    size_t n = strlen(lit);
    if (s.len != n) return false;
    for (size_t i = 0; i < n; i++)
        if (ax__http_lower((unsigned char)s.ptr[i]) != ax__http_lower((unsigned char)lit[i]))
            return false;
    return true;
}

const ax_http_header *ax_http_find_header(const ax_http_header *h, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (ax_http_str_eq(h[i].name, name)) return &h[i];
    return NULL;
}

/* Scans one CRLF-terminated line from p. Returns the index of its CR (the
 * line is [p, cr)), -1 when the input ends first, -2 for a bare CR or LF.
 * The bytes inside are not checked here. */
static ssize_t ax__find_crlf(const char *buf, size_t p, size_t len) {
    const char *s = buf + p;
    size_t n = len - p;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\r') {
            if (i + 1 == n) return -1;
            return s[i + 1] == '\n' ? (ssize_t)(p + i) : -2;
        }
        if (c == '\n') return -2;
    }
    return -1;
}

/* Parses header lines from *pos until the empty line. Returns 1 with *pos
 * after the final CRLF, 0 when incomplete, or -status. */
static int ax__parse_headers(const char *buf, size_t len, size_t *pos, ax_http_header *hdrs,
                             size_t max_hdrs, size_t *nhdrs, size_t head_limit) {
    size_t p = *pos, n = 0;
    for (;;) {
        if (p >= len) goto incomplete;
        unsigned char c = (unsigned char)buf[p];
        if (c == '\r') {
            if (p + 1 >= len) goto incomplete;
            if (buf[p + 1] != '\n') return -400;
            *pos = p + 2;
            *nhdrs = n;
            if (*pos > head_limit) return -431;
            return 1;
        }
        if (c == ' ' || c == '\t') return -400; /* obs-fold (or a space before a name) */
        /* name */
        size_t ns = p;
        while (p < len && ax__http_is_token((unsigned char)buf[p])) p++;
        if (p >= len) goto incomplete;
        if (buf[p] != ':' || p == ns) return -400;
        size_t ne = p++;
        while (p < len && (buf[p] == ' ' || buf[p] == '\t')) p++;
        size_t vs = p;
        /* Eight bytes at a time while none is a control byte or DEL
         * (a false alarm only sends the rest to the byte loop). */
        while (len - p >= 8) {
            uint64_t x;
            memcpy(&x, buf + p, 8);
            uint64_t ctl = (x - 0x2020202020202020ull) & ~x & 0x8080808080808080ull;
            uint64_t y = x ^ 0x7f7f7f7f7f7f7f7full;
            uint64_t del = (y - 0x0101010101010101ull) & ~y & 0x8080808080808080ull;
            if (ctl | del) break;
            p += 8;
        }
        while (p < len && ax__http_is_value((unsigned char)buf[p])) p++;
        if (p >= len) goto incomplete;
        if (buf[p] != '\r') return -400; /* a bare LF, a control byte */
        if (p + 1 >= len) goto incomplete;
        if (buf[p + 1] != '\n') return -400;
        size_t ve = p;
        while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t')) ve--;
        if (n >= max_hdrs) return -431;
        hdrs[n].name.ptr = buf + ns;
        hdrs[n].name.len = ne - ns;
        hdrs[n].value.ptr = buf + vs;
        hdrs[n].value.len = ve - vs;
        n++;
        p += 2;
        if (p > head_limit) return -431;
    }
incomplete:
    if (len > head_limit) return -431;
    return 0;
}

/* Parses a decimal Content-Length; -1 when malformed or too large. */
static int64_t ax__parse_length(ax_http_str v) {
    if (v.len == 0 || v.len > 18) return -1;
    int64_t x = 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.ptr[i];
        if (c < '0' || c > '9') return -1;
        x = x * 10 + (c - '0');
    }
    return x;
}

/* Walks a comma-separated token list, calling back per token. */
typedef void (*ax__token_fn)(ax_http_str tok, void *arg);
static void ax__each_token(ax_http_str v, ax__token_fn fn, void *arg) {
    size_t i = 0;
    while (i < v.len) {
        while (i < v.len && (v.ptr[i] == ' ' || v.ptr[i] == '\t' || v.ptr[i] == ',')) i++;
        size_t s = i;
        while (i < v.len && v.ptr[i] != ',') i++;
        size_t e = i;
        while (e > s && (v.ptr[e - 1] == ' ' || v.ptr[e - 1] == '\t')) e--;
        if (e > s) fn((ax_http_str){v.ptr + s, e - s}, arg);
    }
}

enum { AX__CONN_CLOSE = 1, AX__CONN_KEEP = 2, AX__CONN_UPGRADE = 4 };
static void ax__conn_token(ax_http_str t, void *arg) {
    int *f = arg;
    if (ax_http_str_eq(t, "close"))
        *f |= AX__CONN_CLOSE;
    else if (ax_http_str_eq(t, "keep-alive"))
        *f |= AX__CONN_KEEP;
    else if (ax_http_str_eq(t, "upgrade"))
        *f |= AX__CONN_UPGRADE;
}

/* The framing headers common to requests and responses. Returns 0 or
 * -status. */
typedef struct ax__framing {
    int64_t content_length;
    bool chunked, te_seen, has_upgrade;
    int conn, host_count, expect; /* expect: 0 none, 1 100-continue, -1 other */
    ax_http_str host;
} ax__framing;

static int ax__framing_scan(const ax_http_header *h, size_t n, ax__framing *f) {
    memset(f, 0, sizeof *f);
    f->content_length = -1;
    for (size_t i = 0; i < n; i++) {
        ax_http_str name = h[i].name, v = h[i].value;
        switch (name.len) {
        case 4:
            if (ax__http_ieq(name.ptr, "host", 4)) {
                f->host_count++;
                f->host = v;
            }
            break;
        case 6:
            if (ax__http_ieq(name.ptr, "expect", 6))
                f->expect = ax_http_str_eq(v, "100-continue") ? 1 : -1;
            break;
        case 7:
            if (ax__http_ieq(name.ptr, "upgrade", 7)) f->has_upgrade = true;
            break;
        case 10:
            if (ax__http_ieq(name.ptr, "connection", 10))
                ax__each_token(v, ax__conn_token, &f->conn);
            break;
        case 14:
            if (ax__http_ieq(name.ptr, "content-length", 14)) {
                if (f->content_length >= 0) return -400; /* duplicate, even if equal */
                f->content_length = ax__parse_length(v);
                if (f->content_length < 0) return -400;
            }
            break;
        case 17:
            if (ax__http_ieq(name.ptr, "transfer-encoding", 17)) {
                if (f->te_seen) return -400; /* split codings are a smuggling vector */
                f->te_seen = true;
                if (v.len == 0) return -400;
                if (!ax_http_str_eq(v, "chunked")) return -501;
                f->chunked = true;
            }
            break;
        default:
            break;
        }
    }
    if (f->te_seen && f->content_length >= 0) return -400;
    return 0;
}

static const struct {
    const char *name;
    ax_http_method id;
} ax__methods[] = {
    {"GET", AX_HTTP_GET},         {"HEAD", AX_HTTP_HEAD},       {"POST", AX_HTTP_POST},
    {"PUT", AX_HTTP_PUT},         {"DELETE", AX_HTTP_DELETE},   {"PATCH", AX_HTTP_PATCH},
    {"OPTIONS", AX_HTTP_OPTIONS}, {"CONNECT", AX_HTTP_CONNECT}, {"TRACE", AX_HTTP_TRACE},
};

const char *ax_http_method_name(ax_http_method m) {
    for (size_t i = 0; i < sizeof ax__methods / sizeof ax__methods[0]; i++)
        if (ax__methods[i].id == m) return ax__methods[i].name;
    return NULL;
}

static ax_http_method ax__method_id(const char *p, size_t n) {
    /* Methods are case-sensitive. GET first: it is most of the traffic. */
    if (n == 3 && p[0] == 'G' && p[1] == 'E' && p[2] == 'T') return AX_HTTP_GET;
    for (size_t i = 1; i < sizeof ax__methods / sizeof ax__methods[0]; i++)
        if (strlen(ax__methods[i].name) == n && memcmp(ax__methods[i].name, p, n) == 0)
            return ax__methods[i].id;
    return AX_HTTP_OTHER;
}

/* "HTTP/1.x" at p (8 bytes available). Returns the minor version, -400 for
 * garbage, -505 for a well-formed other version. */
static int ax__parse_version(const char *p) {
    uint64_t v, v11, v10;
    memcpy(&v, p, 8);
    memcpy(&v11, "HTTP/1.1", 8);
    memcpy(&v10, "HTTP/1.0", 8);
    if (v == v11) return 1;
    if (v == v10) return 0;
    if (memcmp(p, "HTTP/", 5) != 0 || p[6] != '.') return -400;
    if (p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9') return -400;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) return -505;
    return p[7] - '0';
}

static ssize_t ax__req_fail(ax_http_request_head *out, int status) {
    out->status = status;
    return AX_EPROTO;
}

ssize_t ax_http_parse_request(const char *buf, size_t len, ax_http_request_head *out,
                              ax_http_header *headers, size_t max_headers,
                              const ax_http_limits *lim) {
    ax_http_limits lbuf;
    const ax_http_limits *lm = ax__limits_fill(&lbuf, lim);
    if (max_headers > lm->max_headers) max_headers = lm->max_headers;
    out->status = 0;
    out->nheaders = 0;
    out->headers = headers;
    size_t p = 0;
    if (len >= 1 && buf[0] == '\r') { /* one empty line before a request is allowed */
        if (len < 2) return 0;
        if (buf[1] != '\n') return ax__req_fail(out, 400);
        p = 2;
    }
    /* method SP target SP HTTP/1.x CRLF, validated in one pass; running
     * out of bytes anywhere is "incomplete" unless past the limit. */
    size_t ls = p, ms = p;
    while (p < len && ax__http_is_token((unsigned char)buf[p])) p++;
    if (p >= len) goto line_incomplete;
    if (p == ms || buf[p] != ' ') return ax__req_fail(out, 400);
    out->method.ptr = buf + ms;
    out->method.len = p - ms;
    size_t ts = ++p, q = 0;
    while (p < len && ax__http_is_target((unsigned char)buf[p])) {
        if (buf[p] == '?' && !q) q = p;
        p++;
    }
    if (p >= len) goto line_incomplete;
    if (p == ts || buf[p] != ' ') return ax__req_fail(out, 400);
    out->target.ptr = buf + ts;
    out->target.len = p - ts;
    p++;
    if (len - p < 10) {
        /* a CR or LF anywhere but at the end of "HTTP/1.x" is bare */
        for (size_t i = p; i < len; i++)
            if ((buf[i] == '\r' && i - p != 8) || (buf[i] == '\n' && i - p != 9))
                return ax__req_fail(out, 400);
        goto line_incomplete;
    }
    int minor = ax__parse_version(buf + p);
    if (minor < 0) return ax__req_fail(out, -minor);
    if (buf[p + 8] != '\r' || buf[p + 9] != '\n') return ax__req_fail(out, 400);
    size_t e = p + 8;
    if (e - ls > lm->max_request_line) return ax__req_fail(out, 414);
    out->method_id = ax__method_id(out->method.ptr, out->method.len);
    out->minor_version = minor;
    out->path.ptr = out->target.ptr;
    out->path.len = q ? q - ts : out->target.len;
    out->query.ptr = q ? buf + q + 1 : out->target.ptr + out->target.len;
    out->query.len = q ? out->target.len - out->path.len - 1 : 0;

    size_t pos = e + 2;
    int r = ax__parse_headers(buf, len, &pos, headers, max_headers, &out->nheaders, lm->max_head);
    if (r < 0) return ax__req_fail(out, -r);
    if (r == 0) return 0;

    ax__framing f;
    int st = ax__framing_scan(headers, out->nheaders, &f);
    if (st < 0) return ax__req_fail(out, -st);
    if (f.te_seen && minor == 0) return ax__req_fail(out, 400);
    if (minor == 1 && f.host_count != 1) return ax__req_fail(out, 400);
    if (f.host_count > 1) return ax__req_fail(out, 400);
    if (f.expect < 0) return ax__req_fail(out, 417);
    if (f.content_length > 0 && (uint64_t)f.content_length > lm->max_body)
        return ax__req_fail(out, 413);
    out->content_length = f.content_length;
    out->chunked = f.chunked;
    out->expect_continue = f.expect == 1;
    out->upgrade = (f.conn & AX__CONN_UPGRADE) && f.has_upgrade;
    out->host = f.host;
    if (f.conn & AX__CONN_CLOSE)
        out->keep_alive = false;
    else
        out->keep_alive = minor == 1 || (f.conn & AX__CONN_KEEP);
    return (ssize_t)pos;
line_incomplete:
    if (len - ls > lm->max_request_line) return ax__req_fail(out, 414);
    return 0;
}

ssize_t ax_http_parse_response(const char *buf, size_t len, ax_http_response_head *out,
                               ax_http_header *headers, size_t max_headers,
                               const ax_http_limits *lim) {
    ax_http_limits l;
    l = *ax__limits_fill(&l, lim);
    if (max_headers > l.max_headers) max_headers = l.max_headers;
    out->headers = headers;
    out->nheaders = 0;
    ssize_t cr = ax__find_crlf(buf, 0, len);
    if (cr == -2) return AX_EPROTO;
    if (cr == -1) return len > l.max_request_line ? AX_EPROTO : 0;
    size_t e = (size_t)cr;
    if (e > l.max_request_line || e < 12) return AX_EPROTO;
    int minor = ax__parse_version(buf);
    if (minor < 0 || buf[8] != ' ') return AX_EPROTO;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (buf[i] < '0' || buf[i] > '9') return AX_EPROTO;
        status = status * 10 + (buf[i] - '0');
    }
    if (status < 100) return AX_EPROTO;
    size_t p = 12;
    if (p < e) {
        if (buf[p] != ' ') return AX_EPROTO;
        p++;
        for (size_t i = p; i < e; i++)
            if (!ax__http_is_value((unsigned char)buf[i])) return AX_EPROTO;
    }
    out->minor_version = minor;
    out->status = status;
    out->reason.ptr = buf + p;
    out->reason.len = e - p;
    size_t pos = e + 2;
    int r = ax__parse_headers(buf, len, &pos, headers, max_headers, &out->nheaders, l.max_head);
    if (r < 0) return AX_EPROTO;
    if (r == 0) return 0;
    ax__framing f;
    if (ax__framing_scan(headers, out->nheaders, &f) < 0) return AX_EPROTO;
    out->content_length = f.content_length;
    out->chunked = f.chunked;
    if (f.conn & AX__CONN_CLOSE)
        out->keep_alive = false;
    else
        out->keep_alive = minor == 1 || (f.conn & AX__CONN_KEEP);
    return (ssize_t)pos;
}

const char *ax_http_reason(int status) {
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}
