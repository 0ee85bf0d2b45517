/* axon/http_parse.h - the HTTP/1.1 message parsers: request head, response
 * head and the chunked body decoder.
 *
 * Zero-copy and allocation-free: every string a parser returns (method,
 * target, header names and values) is a slice of the caller's buffer, valid
 * while that buffer is. Header slots come from an array the caller passes.
 *
 * Incremental: a head parser is called again with the same buffer grown by
 * the bytes that arrived since; it returns 0 ("need more") until the blank
 * line that ends the head is in the buffer, and the limits are enforced on
 * the partial head too, so an endless request line or header block is
 * refused as soon as it passes its limit rather than when it ends.
 *
 * Strict (RFC 9110 / 9112, read for request smuggling): a bare CR or LF, an
 * obsolete line fold, a space before a header's colon, an invalid byte in a
 * name or value, a duplicate or malformed Content-Length, Content-Length
 * together with Transfer-Encoding, a transfer coding other than a single
 * "chunked", Transfer-Encoding in an HTTP/1.0 request, and a missing or
 * repeated Host in HTTP/1.1 are all errors. On an error the parser returns
 * AX_EPROTO and sets the status an HTTP server answers with (400, 413, 414,
 * 417, 431, 501, 505); after it the connection must be closed, because
 * where the next message starts is unknown.
 *
 * Thread-safety: the functions keep no state outside their arguments; any
 * thread.
 */
#ifndef AXON_HTTP_PARSE_H
#define AXON_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed byte range (not NUL-terminated). */
typedef struct ax_http_str {
    const char *ptr;
    size_t len;
} ax_http_str;

typedef struct ax_http_header {
    ax_http_str name;  /* as sent (compare case-insensitively) */
    ax_http_str value; /* leading and trailing spaces and tabs removed */
} ax_http_header;

/* Methods the parser recognises (anything else that is a valid token is
 * AX_HTTP_OTHER, with the text in method). */
typedef enum ax_http_method {
    AX_HTTP_OTHER = 0,
    AX_HTTP_GET,
    AX_HTTP_HEAD,
    AX_HTTP_POST,
    AX_HTTP_PUT,
    AX_HTTP_DELETE,
    AX_HTTP_PATCH,
    AX_HTTP_OPTIONS,
    AX_HTTP_CONNECT,
    AX_HTTP_TRACE,
    AX_HTTP_METHOD_COUNT
} ax_http_method;

/* Limits; zero fields take the defaults shown. */
typedef struct ax_http_limits {
    size_t max_request_line; /* 8 KiB: longer is 414 */
    size_t max_head;         /* 12 KiB for the whole head: longer is 431 */
    size_t max_headers;      /* 64 header lines: more is 431 (also capped by the array) */
    uint64_t max_body;       /* 8 MiB: a longer Content-Length is 413 */
} ax_http_limits;

/* Fills l with the defaults. */
void ax_http_limits_init(ax_http_limits *l);

/* What the request parser found. headers points into the caller's array. */
typedef struct ax_http_request_head {
    ax_http_method method_id;
    ax_http_str method;
    ax_http_str target; /* as sent: origin-form path?query, or *, or absolute */
    ax_http_str path;   /* target up to '?' */
    ax_http_str query;  /* after '?' (empty when none) */
    int minor_version;  /* 0 or 1 */
    ax_http_header *headers;
    size_t nheaders;
    /* Framing and connection facts, derived from the headers. */
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool keep_alive;        /* HTTP/1.1 without "close", or 1.0 with "keep-alive" */
    bool expect_continue;   /* Expect: 100-continue */
    bool upgrade;           /* Connection: upgrade with an Upgrade header */
    ax_http_str host;
    int status; /* on AX_EPROTO: the status to answer with */
} ax_http_request_head;

/* Parses a request head from buf[0, len). headers/max_headers: the slots
 * for header lines. Returns the head's length in bytes (> 0, including the
 * final CRLF CRLF; the body or the next request starts there), 0 when the
 * head is incomplete and within the limits, or AX_EPROTO with out->status
 * set. lim NULL: defaults. Leading empty lines before a request line are
 * skipped, as RFC 9112 section 2.2 allows (at most one CRLF). */
ssize_t ax_http_parse_request(const char *buf, size_t len, ax_http_request_head *out,
                              ax_http_header *headers, size_t max_headers,
                              const ax_http_limits *lim);

typedef struct ax_http_response_head {
    int minor_version;
    int status; /* 100..999 */
    ax_http_str reason;
    ax_http_header *headers;
    size_t nheaders;
    int64_t content_length; /* -1 when absent */
    bool chunked;
    bool keep_alive;
} ax_http_response_head;

/* Parses a response head; returns as ax_http_parse_request (AX_EPROTO for
 * any malformed head; the status field is then 0). */
ssize_t ax_http_parse_response(const char *buf, size_t len, ax_http_response_head *out,
                               ax_http_header *headers, size_t max_headers,
                               const ax_http_limits *lim);

/* The chunked transfer-coding decoder: a small state machine fed with
 * whatever bytes arrived; it hands back the payload as slices of the input
 * and skips sizes, extensions, CRLFs and trailers. Initialise with
 * ax_http_chunked_init. Strict: a size that is not 1..16 hex digits (or
 * that overflows, or passes max_body in total), a malformed extension, a
 * missing CRLF after the data, a bare LF and an invalid trailer line are
 * errors. */
typedef struct ax_http_chunked {
    uint64_t remaining; /* payload bytes left in the current chunk */
    uint64_t total;     /* payload bytes so far */
    uint64_t max_body;  /* 0: no limit */
    uint32_t line;      /* bytes of the current size or trailer line */
    uint8_t state;
    uint8_t digits;
    uint8_t flags;
} ax_http_chunked;

void ax_http_chunked_init(ax_http_chunked *d, uint64_t max_body);

/* Feeds buf[0, len). Consumes bytes until it has a payload slice to hand
 * out (at most max_data bytes; 0: no limit), the message ends, or
 * the input runs out. Returns the bytes consumed (>= 0) and sets *data /
 * *data_len to the payload found in them (a slice of buf; *data_len 0 when
 * none), or AX_EPROTO (malformed; *status 400 or 431 for oversized
 * trailers) or AX_EMSGSIZE (body passed max_body; *status 413). status may
 * be NULL. */
ssize_t ax_http_chunked_decode(ax_http_chunked *d, const char *buf, size_t len, size_t max_data,
                               const char **data, size_t *data_len, int *status);

/* True once the terminating chunk and trailers were consumed. */
bool ax_http_chunked_done(const ax_http_chunked *d);

/* --- small helpers ---------------------------------------------------------- */

/* Case-insensitive comparison of s with the NUL-terminated lit. */
bool ax_http_str_eq(ax_http_str s, const char *lit);
/* The first header named name (case-insensitive), or NULL. */
const ax_http_header *ax_http_find_header(const ax_http_header *h, size_t n, const char *name);
/* The standard reason phrase for status ("OK"), or "Unknown". Static. */
const char *ax_http_reason(int status);
/* The method's name ("GET"), or NULL for AX_HTTP_OTHER. Static. */
const char *ax_http_method_name(ax_http_method m);

#ifdef __cplusplus
}
#endif
#endif
