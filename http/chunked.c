/* http/chunked.c - the chunked transfer-coding decoder (axon/http_parse.h).
 *
 * A byte-at-a-time state machine for the framing (sizes, extensions,
 * CRLFs, trailers); payload bytes are handed out as one slice per call
 * without being looked at.
 */
#include "axon/http_parse.h"

#include <stdint.h>

#include "axon/error.h"
#include "http/chars.h"

enum {
    S_SIZE,    /* hex digits of a chunk size */
    S_SIZE_WS, /* spaces after the digits, before ';' or CR */
    S_EXT,     /* a chunk extension, up to CR */
    S_SIZE_LF, /* CR seen after the size line */
    S_DATA,    /* payload */
    S_DATA_CR, /* CR after the payload */
    S_DATA_LF, /* LF after the payload */
    S_TRAILER, /* start of a trailer line, or the final CRLF */
    S_TRAILER_NAME,
    S_TRAILER_VALUE,
    S_TRAILER_LF,
    S_FINAL_LF,
    S_DONE,
};

#define AX__CHUNK_LINE_MAX    4096 /* one size line with its extensions */
#define AX__CHUNK_TRAILER_MAX 8192 /* all trailer lines together */

void ax_http_chunked_init(ax_http_chunked *d, uint64_t max_body) {
    d->remaining = 0;
    d->total = 0;
    d->max_body = max_body;
    d->line = 0;
    d->state = S_SIZE;
    d->digits = 0;
    d->flags = 0;
}

bool ax_http_chunked_done(const ax_http_chunked *d) {
    return d->state == S_DONE;
}

static ssize_t ax__chunk_err(int *status, int st) {
    if (status) *status = st;
    return st == 413 ? AX_EMSGSIZE : AX_EPROTO;
}

ssize_t ax_http_chunked_decode(ax_http_chunked *d, const char *buf, size_t len, size_t max_data,
                               const char **data, size_t *data_len, int *status) {
    *data = buf;
    *data_len = 0;
    if (max_data == 0) max_data = SIZE_MAX;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)buf[i];
        switch (d->state) {
        case S_SIZE: {
            int h = ax__http_hex(c);
            if (h >= 0) {
                if (d->digits == 16) return ax__chunk_err(status, 400);
                d->remaining = (d->remaining << 4) | (uint64_t)h;
                d->digits++;
                break;
            }
            if (d->digits == 0) return ax__chunk_err(status, 400);
            if (c == ' ' || c == '\t')
                d->state = S_SIZE_WS;
            else if (c == ';')
                d->state = S_EXT;
            else if (c == '\r')
                d->state = S_SIZE_LF;
            else
                return ax__chunk_err(status, 400);
            break;
        }
        case S_SIZE_WS:
            if (c == ';')
                d->state = S_EXT;
            else if (c == '\r')
                d->state = S_SIZE_LF;
            else if (c != ' ' && c != '\t')
                return ax__chunk_err(status, 400);
            break;
        case S_EXT:
            if (c == '\r')
                d->state = S_SIZE_LF;
            else if (!ax__http_is_value(c))
                return ax__chunk_err(status, 400);
            break;
        case S_SIZE_LF:
            if (c != '\n') return ax__chunk_err(status, 400);
            d->line = 0;
            d->digits = 0;
            if (d->remaining == 0) {
                d->state = S_TRAILER;
            } else {
                if (d->max_body && (d->remaining > d->max_body - d->total))
                    return ax__chunk_err(status, 413);
                d->total += d->remaining;
                d->state = S_DATA;
            }
            i++;
            continue;
        case S_DATA: {
            size_t n = len - i;
            if (n > d->remaining) n = (size_t)d->remaining;
            if (n > max_data) n = max_data;
            *data = buf + i;
            *data_len = n;
            d->remaining -= n;
            i += n;
            if (d->remaining == 0) d->state = S_DATA_CR;
            return (ssize_t)i;
        }
        case S_DATA_CR:
            if (c != '\r') return ax__chunk_err(status, 400);
            d->state = S_DATA_LF;
            break;
        case S_DATA_LF:
            if (c != '\n') return ax__chunk_err(status, 400);
            d->state = S_SIZE;
            i++;
            continue;
        case S_TRAILER:
            if (c == '\r') {
                d->state = S_FINAL_LF;
            } else if (ax__http_is_token(c)) {
                d->state = S_TRAILER_NAME;
            } else {
                return ax__chunk_err(status, 400); /* obs-fold, bare LF, junk */
            }
            break;
        case S_TRAILER_NAME:
            if (c == ':')
                d->state = S_TRAILER_VALUE;
            else if (!ax__http_is_token(c))
                return ax__chunk_err(status, 400);
            break;
        case S_TRAILER_VALUE:
            if (c == '\r')
                d->state = S_TRAILER_LF;
            else if (!ax__http_is_value(c))
                return ax__chunk_err(status, 400);
            break;
        case S_TRAILER_LF:
            if (c != '\n') return ax__chunk_err(status, 400);
            d->state = S_TRAILER;
            break;
        case S_FINAL_LF:
            if (c != '\n') return ax__chunk_err(status, 400);
            d->state = S_DONE;
            return (ssize_t)(i + 1);
        case S_DONE:
            return (ssize_t)i;
        default:
            return ax__chunk_err(status, 400);
        }
        /* bytes of a size line or of the trailers count against their limit */
        if (++d->line > (d->state >= S_TRAILER ? AX__CHUNK_TRAILER_MAX : AX__CHUNK_LINE_MAX))
            return ax__chunk_err(status, d->state >= S_TRAILER ? 431 : 400);
        i++;
    }
    return (ssize_t)i;
}
