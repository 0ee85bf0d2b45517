/* http/client_internal.h - private to the HTTP client's files: the client
 * record and the state of one exchange (request written, response head
 * read, body open). */
#ifndef AX_HTTP_CLIENT_INTERNAL_H
#define AX_HTTP_CLIENT_INTERNAL_H

#include <pthread.h>

#include "axon.h"
#include "axon/http_client.h"

#pragma GCC visibility push(hidden)

#define AX__HC_MAX_HEADERS 64
#define AX__HC_BODY_ROOM   16384 /* read space after the largest head */

typedef struct ax__hc_header {
    char *name, *value; /* NUL-terminated, malloc'd */
} ax__hc_header;

struct ax_http_client {
    ax_http_client_opts o; /* strings point at the copies below */
    char *ca_file, *ca_dir, *user_agent;
    ax_pool *pool;
    ax__hc_header *defaults;
    size_t ndefaults;
    /* The TLS client configuration, made at the first https connect. */
    pthread_mutex_t tls_mu;
    void *tls_cfg; /* ax_tls_config * in builds with TLS */
    int tls_err;
};

enum { AX__HB_NONE, AX__HB_LENGTH, AX__HB_CHUNKED, AX__HB_CLOSE };

/* One exchange and then its open body. Allocated with its buffer behind
 * it: buf[0, head_len) holds the response head the response's slices
 * point into, body bytes are read into buf[head_len, cap). */
struct ax__http_body {
    ax_http_client *cl;   /* only until the head is read (the client may go first) */
    ax_pool *pool;        /* outlives ax_pool_free while a lease is out */
    ax_pool_lease *lease; /* NULL once given back */
    ax_stream *s;
    char *url; /* the URL that answered; malloc'd */
    ax_instant deadline;
    uint64_t remaining; /* AX__HB_LENGTH: bytes left */
    uint64_t total, max_body;
    ax_http_chunked dec;
    const char *cur; /* decoded body bytes handed out but not consumed */
    size_t cur_len;
    size_t head_len, pos, end, cap;
    size_t rpos; /* reads of a collected body (ax_http_client_do) */
    int err;     /* sticky */
    uint8_t mode;
    bool done, keep_alive, reused;
    bool no_response; /* the exchange failed before any response byte */
    bool sent;        /* the whole request was written */
    ax_http_header hdrs[AX__HC_MAX_HEADERS];
    char buf[];
};

/* Bodies -------------------------------------------------------------------- */

/* Makes the state of an exchange with a buffer of cap bytes. */
ax__http_body *ax__hc_body_new(ax_http_client *cl, size_t cap);
/* Gives the connection back (reusable when the body ended cleanly) and
 * frees b. */
void ax__hc_body_free(ax__http_body *b);
/* Gives the connection back now: reusable or closed. */
void ax__hc_release(ax__http_body *b, bool reusable);
/* Reads the response head into b (skipping 1xx) and sets the body's
 * framing; fills r's head fields. head_request: the request was HEAD. */
int ax__hc_read_head(ax__http_body *b, bool head_request, ax_http_response *r);
/* Makes b->cur hold decoded body bytes: returns 1, 0 at the body's end
 * (the connection then went back to the pool), or AX_E*. */
int ax__hc_next(ax__http_body *b);

/* Requests ------------------------------------------------------------------- */

/* What one attempt sends. */
typedef struct ax__hc_req {
    const char *method;
    const ax_http_url *url;
    const ax_http_kv *headers;
    size_t nheaders;
    const void *body;
    size_t body_len;
    ax_http_body_fn body_fn;
    void *body_ctx;
    bool has_body;     /* send Content-Length (maybe 0) or chunked */
    bool drop_auth;    /* leave Authorization and Cookie out (cross-host redirect) */
    bool dropped_body; /* a redirect turned it into GET: no Content-Type either */
} ax__hc_req;

/* Checks a header name (a token) and value (no CR, LF, NUL, control). */
bool ax__hc_header_ok(const char *name, const char *value);
/* Connects (through the pool), writes the request and reads the head:
 * on 0, b holds the open body and r the head. */
int ax__hc_exchange(ax_http_client *cl, const ax__hc_req *q, ax_instant deadline, ax__http_body *b,
                    ax_http_response *r);

/* The earlier of two deadlines (AX_NO_DEADLINE: none). */
static inline ax_instant ax__hc_min_deadline(ax_instant a, ax_instant b) {
    if (a == AX_NO_DEADLINE) return b;
    if (b == AX_NO_DEADLINE) return a;
    return a < b ? a : b;
}

/* The pool's connector: TCP, plus TLS for https. */
int ax__hc_connect(void *ctx, const char *host, uint16_t port, bool secure, ax_instant deadline,
                   ax_stream **out);

#pragma GCC visibility pop

#endif
