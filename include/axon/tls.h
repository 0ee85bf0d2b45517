/* axon/tls.h - TLS client and server streams over BoringSSL.
 *
 * A TLS connection is a stream (axon/stream.h): ax_tls_stream() gives the
 * same poll-shaped interface a TCP connection has, so buffered readers,
 * pools and HTTP run over TLS without knowing it. The connection owns the
 * stream it runs over (usually ax_tcp_stream of a connection) and closes it
 * when it is closed.
 *
 * Records travel through Axon's own BIO over that stream: no blocking call,
 * no SIGPIPE, and the handshake is driven by the reactor like any other
 * I/O. An idle connection holds no task and no buffer: BoringSSL releases
 * its record buffers when they are empty, and the ciphertext waiting to go
 * out is kept in a pooled buffer (axon/buf.h) only while it waits.
 *
 * Defaults, as a Go crypto/tls or rustls user would expect: TLS 1.3
 * preferred, TLS 1.2 accepted (min_version raises the floor), ECDHE key
 * exchange with AEAD suites only (no static RSA, no CBC); the client
 * verifies the server's chain against /etc/ssl/certs and its name (DNS
 * name or IP address SAN) unless told otherwise with an option whose name
 * says it is insecure; session resumption through tickets on both sides
 * (the server's ticket keys rotate daily, see ticket_lifetime_s).
 *
 * Errors. Besides the stream's own (AX_ETIMEDOUT, AX_ECANCELED,
 * AX_ECONNRESET, AX_EPIPE...), a failed handshake or record returns one of
 * AX_ETLS (malformed or unexpected records: not TLS at all, a bad MAC),
 * AX_ETLSALERT (the peer sent a fatal alert), AX_ETLSVERSION,
 * AX_ETLSCIPHER, AX_ETLSALPN (nothing in common), AX_ETLSTRUNC (the stream
 * ended without close_notify), or for certificate verification
 * AX_ECERTUNTRUSTED, AX_ECERTEXPIRED, AX_ECERTNAME, AX_ECERTSELF,
 * AX_ECERTREQUIRED, AX_ECERT (other reasons). ax_tls_error_text() says
 * exactly why: the alert's name, the verifier's reason and the subject of
 * the certificate it concerns.
 *
 * Thread-safety. A config may be shared by any number of connections and
 * threads; its setters (ax_tls_config_set_cert) may be called while
 * connections use it. A connection is used like a TCP one: one reader and
 * one writer at a time (an internal lock orders their calls into
 * BoringSSL); either may run the handshake (ax_tls_handshake, or the first
 * read, write or readiness wait, which run it), the other waits for it.
 * The ax_tls_version/cipher/alpn/... getters belong to the reader's side.
 * BoringSSL's error queue is per thread; Axon reads and clears it inside
 * each poll, before returning, so nothing of it survives a suspension.
 *
 * Availability: builds with BoringSSL (native x86-64 Linux). The aarch64
 * cross build leaves tls/ out; this header then declares functions that
 * are not in the library.
 */
#ifndef AXON_TLS_H
#define AXON_TLS_H

#include <stdbool.h>
#include <stdint.h>
#include "future.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_tls_config ax_tls_config;
typedef struct ax_tls ax_tls;

enum { AX_TLS_1_2 = 0x0303, AX_TLS_1_3 = 0x0304 };

/* Client certificates a server asks for. */
enum {
    AX_TLS_CLIENT_CERT_NONE = 0,     /* do not ask (the default) */
    AX_TLS_CLIENT_CERT_OPTIONAL = 1, /* ask; verify one if sent */
    AX_TLS_CLIENT_CERT_REQUIRE = 2,  /* ask; refuse a client without one */
};

typedef struct ax_tls_opts {
    /* Lowest version accepted: AX_TLS_1_2 (0: the default) or AX_TLS_1_3. */
    uint16_t min_version;
    /* ALPN protocols in preference order, comma-separated ("h2,http/1.1");
     * NULL: no ALPN. A server that was offered protocols and shares none
     * refuses the handshake (AX_ETLSALPN), as Go and rustls do. */
    const char *alpn;
    /* Trust anchors for verifying the peer: a PEM file and/or a hashed
     * directory (c_rehash). Both NULL: the system store, /etc/ssl/certs.
     * A server verifies client certificates against them. */
    const char *ca_file;
    const char *ca_dir;
    /* Client: skip all verification of the server's certificate (chain,
     * dates and name). For tests against throw-away certificates only. */
    bool insecure_skip_verify;
    /* Server: AX_TLS_CLIENT_CERT_*. */
    int client_auth;
    /* The certificate chain (PEM, leaf first) and its private key. A
     * server needs one (or ax_tls_config_set_cert per name); a client
     * presents it when the server asks (mTLS). NULL: none. */
    const char *cert_file;
    const char *key_file;
    /* Client: how many sessions to keep for resumption, by server name
     * (0: 256; -1: none, every handshake is full). */
    int session_cache;
    /* Server: seconds a session-ticket key mints tickets before the next
     * replaces it (0: 24 hours). The key before it still opens tickets
     * (renewing them), so a ticket resumes for one to two lifetimes. */
    unsigned ticket_lifetime_s;
} ax_tls_opts;

/* Fills o with the defaults (all zero). */
void ax_tls_opts_init(ax_tls_opts *o);

/* Makes a client or server configuration. Files are read now. Returns 0
 * with *out set (the caller holds one reference: ax_tls_config_free), or
 * AX_EINVAL (a bad option, a server without cert_file), AX_ENOENT /
 * AX_EACCES (a file), AX_ECERT (a file that is not a usable PEM
 * certificate or key, or a key that does not match its certificate),
 * AX_ENOMEM. Any thread. */
int ax_tls_client_config_new(const ax_tls_opts *o, ax_tls_config **out);
int ax_tls_server_config_new(const ax_tls_opts *o, ax_tls_config **out);

/* Server: sets the certificate chain and key presented to clients that ask
 * for server_name through SNI (NULL: the default, presented when the name
 * is absent or unknown). Calling it again replaces the pair: the way to
 * reload renewed files without a restart. Handshakes that already picked
 * a certificate keep it; the next ones get the new one. Returns 0,
 * AX_EINVAL (a client config), or the file errors of config_new. Any
 * thread, concurrently with handshakes. */
int ax_tls_config_set_cert(ax_tls_config *cfg, const char *server_name, const char *cert_file,
                           const char *key_file);

/* Server: makes a new session-ticket key at once. Tickets from the key
 * it replaces still resume (and are renewed); older ones get a full
 * handshake. For a schedule of one's own, or after a suspected key leak
 * (call it twice). Returns 0 or AX_EINVAL (a client config). Any thread. */
int ax_tls_config_rotate_ticket_key(ax_tls_config *cfg);

/* Drops the caller's reference; connections made from cfg keep theirs.
 * NULL is a no-op. Any thread. */
void ax_tls_config_free(ax_tls_config *cfg);

/* Wraps transport, which the connection owns from here on (even when this
 * fails: then it is closed). server_name (client): the name sent in SNI and
 * verified against the certificate; a literal IP address is verified
 * against the IP SANs and not sent. It must not be NULL unless
 * insecure_skip_verify. No I/O happens yet: the handshake runs in
 * ax_tls_handshake or in the first read or write. Returns 0 with *out set
 * (ax_tls_close frees it), AX_EINVAL or AX_ENOMEM. Any thread. */
int ax_tls_client(ax_tls_config *cfg, ax_stream *transport, const char *server_name, ax_tls **out);
int ax_tls_server(ax_tls_config *cfg, ax_stream *transport, ax_tls **out);

/* Runs the handshake to its end. Returns 0, a TLS error above, or
 * AX_ETIMEDOUT / AX_ECANCELED (the connection is then unusable: close it).
 * Calling it after the handshake finished returns the same result at once.
 * Task only. */
int ax_tls_handshake(ax_tls *t, ax_instant deadline);
/* The poll form for engines: AX_READY with *res as above. */
ax_poll ax_tls_poll_handshake(ax_tls *t, ax_context *cx, int *res);

/* Convenience for task code: ax_tcp_connect_host, then a client over it
 * for host (the server name), then the handshake, all within deadline.
 * Returns 0 with *out set, or the error of the step that failed. When the
 * handshake failed, *out is still set, so that ax_tls_error_text can say
 * why; the caller closes it either way (*out is NULL when no connection
 * was made). A server does the steps itself: accept, spawn a task,
 * ax_tls_server and ax_tls_handshake in it, so a slow client never holds
 * up the accept loop. Task only. */
int ax_tls_connect(ax_tls_config *cfg, const char *host, uint16_t port, ax_instant deadline,
                   ax_tls **out);

/* The connection as a stream (valid until ax_tls_close). Its shutdown sends
 * close_notify, flushes and ends the transport's write side; a read returns
 * 0 only after the peer's close_notify (AX_ETLSTRUNC for a bare end of
 * stream). */
ax_stream *ax_tls_stream(ax_tls *t);

/* Closes the connection and its transport. If the handshake finished and
 * close_notify was not sent yet, it is sent first when the socket takes it
 * at once (never waiting). Does not suspend; no task may be inside a call
 * on t. NULL is a no-op. */
void ax_tls_close(ax_tls *t);

/* --- what was negotiated (after the handshake; NULL / false before) ---------
 * Strings live as long as the connection. Same thread rules as reads. */

/* "TLSv1.3", "TLSv1.2". */
const char *ax_tls_version(const ax_tls *t);
/* The standard (IANA) suite name: "TLS_AES_128_GCM_SHA256". */
const char *ax_tls_cipher(const ax_tls *t);
/* The application protocol agreed by ALPN, or NULL. */
const char *ax_tls_alpn(const ax_tls *t);
/* Client: the name it asked for; server: the SNI name the client sent
 * (NULL: none). */
const char *ax_tls_server_name(const ax_tls *t);
/* True when the handshake resumed an earlier session (abbreviated). */
bool ax_tls_session_reused(const ax_tls *t);
/* The subject of the peer's certificate, one line ("/CN=localhost"), into
 * buf (cap bytes, NUL-terminated). Returns the length, or AX_ENOENT when
 * the peer sent none. */
int ax_tls_peer_subject(const ax_tls *t, char *buf, size_t cap);
/* Why the last TLS failure happened, in words: "peer sent alert
 * handshake_failure", "certificate verify failed: certificate has expired
 * (depth 0, subject /CN=localhost)". "" when nothing failed. */
const char *ax_tls_error_text(const ax_tls *t);

#ifdef __cplusplus
}
#endif
#endif
