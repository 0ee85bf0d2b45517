/* tls/tls_internal.h - private to tls/: the config and connection objects
 * and the seams between config.c, session.c, bio.c, conn.c and errors.c.
 */
#ifndef AX_TLS_INTERNAL_H
#define AX_TLS_INTERNAL_H

#include <openssl/is_boringssl.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "axon/buf.h"
#include "axon/error.h"
#include "axon/tls.h"

/* Debian installs OpenSSL 3's headers too; compiling against them must
 * fail here rather than link something else. */
#ifndef OPENSSL_IS_BORINGSSL
#error "tls/ needs BoringSSL's headers (-I/usr/include/android)"
#endif

#pragma GCC visibility push(hidden)

/* A certificate chain and its key, shared by reference: a handshake that
 * picked it keeps it while a reload installs the next one. */
typedef struct ax__tls_keypair {
    atomic_int refs;
    size_t n;
    CRYPTO_BUFFER **certs; /* leaf first */
    EVP_PKEY *key;
} ax__tls_keypair;

typedef struct ax__tls_named {
    char *name; /* NULL: the default */
    ax__tls_keypair *kp;
} ax__tls_named;

typedef struct ax__tls_sess {
    char *name;
    SSL_SESSION *sess;
    uint64_t used; /* LRU clock */
} ax__tls_sess;

typedef struct ax__tls_ticket_key {
    bool valid;
    uint8_t name[16];
    uint8_t aes[16];
    uint8_t hmac[32];
} ax__tls_ticket_key;

struct ax_tls_config {
    atomic_int refs;
    bool server;
    bool insecure;
    SSL_CTX *ctx;
    uint8_t *alpn; /* wire format: length-prefixed names */
    size_t alpn_len;
    char *alpn_names;     /* the same names NUL-terminated: alpn[i] names at alpn_names + i */
    pthread_mutex_t lock; /* certs and sessions; held for a few lookups only */
    ax__tls_named *certs;
    size_t ncerts;
    ax__tls_sess *sess;
    int sess_cap;
    uint64_t sess_clock;
    /* Server: [0] mints tickets, [1] still opens them (tickets.c). */
    ax__tls_ticket_key tickets[2];
    uint64_t ticket_minted_at; /* ax_now() when [0] was made */
    uint64_t ticket_lifetime_ns;
};

/* What the connection's current SSL call is doing, for the BIO. */
struct ax_tls {
    ax_stream stream; /* first: the connection is its own ax_stream */
    ax_stream *transport;
    ax_tls_config *cfg;
    SSL *ssl;
    pthread_mutex_t lock; /* orders the reader's and the writer's calls into ssl */
    ax_context *cx;       /* the poll in progress (under lock), for the BIO */
    /* Ciphertext the BIO took and the transport has not yet: a pooled
     * buffer, held only while bytes wait. */
    ax_buf *out;
    size_t out_off, out_len;
    ax_waker reader; /* a parked reader's waker, to flush output for it */
    ax_waker writer; /* a parked writer's waker (set: a writer waits to flush) */
    int io_err;      /* the transport's error seen by the BIO (AX_E*) */
    int fatal;       /* sticky failure: every later call returns it */
    bool read_pending;
    bool write_through; /* set by poll_write around SSL_write: see bio.c */
    bool eof;
    bool hs_done;
    bool shut_sent;
    bool server;
    char *server_name;
    /* The first verification failure, from the verify callback. */
    int verify_err;
    int verify_depth;
    char verify_subject[192];
    char err_text[384];
};

/* config.c */
void ax__tls_config_ref(ax_tls_config *cfg);
/* Loads a PEM chain and key. Returns 0 or AX_ENOENT/AX_EACCES/AX_ECERT. */
int ax__tls_keypair_load(const char *cert_file, const char *key_file, ax__tls_keypair **out);
void ax__tls_keypair_unref(ax__tls_keypair *kp);

/* The NUL-terminated ALPN name whose length byte is at cfg->alpn[i]. */
static inline const char *ax__tls_alpn_name(const ax_tls_config *cfg, size_t i) {
    return cfg->alpn_names + i;
}

/* session.c (client): the cache by server name. */
int ax__tls_sessions_init(ax_tls_config *cfg, int cap);
void ax__tls_sessions_free(ax_tls_config *cfg);
/* Puts a session for t's server name into SSL (if one is kept). */
void ax__tls_session_apply(ax_tls *t);
/* SSL_CTX_sess_set_new_cb's callback. */
int ax__tls_session_new_cb(SSL *ssl, SSL_SESSION *sess);

/* tickets.c (server): installs the ticket key callback. */
void ax__tls_tickets_init(ax_tls_config *cfg, unsigned lifetime_s);

/* bio.c: the BIO over t->transport. */
BIO *ax__tls_bio_new(ax_tls *t);
/* Writes the waiting ciphertext to the transport with cx. AX_READY with
 * *res 0 (nothing waits; the buffer is given back) or AX_E*; AX_PENDING
 * when the transport stored cx's waker. */
ax_poll ax__tls_flush_out(ax_tls *t, ax_context *cx, int *res);

/* errors.c */
/* The verify callback installed on every SSL. */
int ax__tls_verify_cb(int ok, X509_STORE_CTX *store);
/* Classifies a failed SSL call (ret <= 0): AX_PENDING for a wait on the
 * transport, else AX_READY with *err the AX_E* (or 0 for a clean end of
 * stream, SSL_ERROR_ZERO_RETURN), err_text filled. Reads and clears the
 * thread's error queue. */
ax_poll ax__tls_classify(ax_tls *t, int ret, ax_context *cx, int *err);

#pragma GCC visibility pop

#endif
