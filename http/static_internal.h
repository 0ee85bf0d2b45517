/* http/static_internal.h - private to the static file server
 * (http/static*.c): validators, dates, ranges, types and the body
 * transfer. */
#ifndef AX_HTTP_STATIC_INTERNAL_H
#define AX_HTTP_STATIC_INTERNAL_H

#include "axon/fs.h"
#include "http/internal.h"

#pragma GCC visibility push(hidden)

/* Bodies up to this size are read and queued; larger ones are sent. */
#define AX__STATIC_SMALL (64u * 1024)

/* The strong ETag of a file: "<mtime_ns hex>-<size hex>", quoted,
 * NUL-terminated. Returns its length. */
size_t ax__static_etag(char out[48], int64_t mtime_ns, uint64_t size);

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", 29 characters) for
 * unix seconds, NUL-terminated. */
void ax__static_fmt_date(char out[48], int64_t unix_s);
/* Parses an IMF-fixdate (the only form HTTP/1.1 senders generate); false
 * for anything else. */
bool ax__static_parse_date(ax_http_str s, int64_t *unix_s);

/* If-None-Match: whether the list (or "*") names etag, weak comparison. */
bool ax__static_etag_listed(ax_http_str list, const char *etag);

enum {
    AX__RANGE_NONE,  /* absent, malformed or several ranges: the whole file */
    AX__RANGE_OK,    /* one satisfiable range: [*start, *start + *len) */
    AX__RANGE_UNSAT, /* 416 */
};
/* Parses a Range value against a file of size bytes. */
int ax__static_parse_range(ax_http_str v, uint64_t size, uint64_t *start, uint64_t *len);

/* The Content-Type for a file name (by extension, case-insensitive). */
const char *ax__static_mime(const char *name);

/* Writes len bytes of f from off as the body after a head queued with
 * ax__http_res_head_only (see axon/http_static.h, "Transfer"); file reads
 * use the deadline dl. On a
 * failure or a short file the connection is marked broken. Returns 0 or
 * AX_E*. */
int ax__static_send_body(ax__http_io *io, ax_file *f, uint64_t off, uint64_t len, ax_instant dl);

#pragma GCC visibility pop

#endif
